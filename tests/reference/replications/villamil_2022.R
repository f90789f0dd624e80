# R check of the vendored Villamil (2022) data against the printed table (tab_lm_roads):
# lm() with department and election dummies, classical SEs, 3 decimals as stargazer prints them.
# Run from the repository root: Rscript tests/reference/replications/villamil_2022.R
d <- read.csv("c2stats/examples/villamil_2022_guatemala.csv")
hv <- c("Alta Verapaz", "Baja Verapaz", "Peten", "Huehuetenango", "Quiche", "Chimaltenango")
f <- function(y) as.formula(paste(y, "~ govt_vi_l * roads_dirt_sh + lpop73 + ind73 + lit73 + elev_sd + forest + ldist_guate + larea + rebels_vi_pre78_l + factor(dpto) + factor(elec)"))
ms <- list(urng = lm(f("URNGcia"), d), frg = lm(f("FRG"), d),
           urng_hv = lm(f("URNGcia"), subset(d, dpto %in% hv)), frg_hv = lm(f("FRG"), subset(d, dpto %in% hv)))
keep <- c("(Intercept)", "govt_vi_l", "roads_dirt_sh", "govt_vi_l:roads_dirt_sh", "lpop73", "ind73", "lit73",
          "elev_sd", "forest", "ldist_guate", "larea", "rebels_vi_pre78_l")
for (n in names(ms)) {
  s <- summary(ms[[n]])
  cat("==", n, "N =", nobs(ms[[n]]), "R2 =", sprintf("%.3f", s$r.squared), "adjR2 =", sprintf("%.3f", s$adj.r.squared), "\n")
  print(noquote(formatC(coef(s)[keep, c(1, 2, 4)], format = "f", digits = 3)))
}
sessionInfo()$R.version$version.string
