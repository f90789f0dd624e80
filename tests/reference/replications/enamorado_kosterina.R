# R check of the vendored Enamorado & Kosterina data against the Stata log and the printed Tables A4
# and A27: glm(binomial) with sandwich::vcovCL(type = "HC0") (G/(G-1), Stata's cluster and robust).
# Run from the repository root: Rscript tests/reference/replications/enamorado_kosterina.R
library(sandwich); library(lmtest)
ab <- read.csv("c2stats/examples/enamorado_kosterina_afrobarometer.csv")
pg <- read.csv("c2stats/examples/enamorado_kosterina_public_goods.csv")
show <- function(label, m, data, keep) {
  ct <- coeftest(m, vcov = vcovCL(m, cluster = ~fid0725, type = "HC0"))
  cat("==", label, "N =", nobs(m), "\n"); print(noquote(formatC(ct[keep, c(1, 2, 4)], format = "f", digits = 3)))
}
f4 <- vote_npp_pres ~ akan_30km_l_p * political_intimidation_af + eth_akan + eth_ewe + eth_dagomba + male + economy_oneyear + poverty + dev_factor2
k4 <- c("akan_30km_l_p", "political_intimidation_af", "akan_30km_l_p:political_intimidation_af", "(Intercept)")
show("A4 all", glm(update(f4, . ~ . + central + urb), binomial, ab), ab, k4)
rural <- subset(ab, urb == 0); urban <- subset(ab, urb == 1)
show("A4 rural", glm(update(f4, . ~ . + central), binomial, rural), rural, k4)
show("A4 urban", glm(f4, binomial, urban), urban, k4)
ctrl <- "eth_akan + eth_ewe + eth_dagomba + economy_oneyear + poverty + dev_factor2 + central"
school <- subset(pg, urb == 0)
for (r in c("30", "5")) {
  a <- paste0("akan_", r, "km_l_p"); k <- c("vote_npp_pres", a, "(Intercept)")
  show(paste("A27 road", r), glm(as.formula(paste("I(road_af != 0) ~ vote_npp_pres +", a, "+", ctrl, "+ urb")), binomial, pg), pg, k)
  show(paste("A27 school", r), glm(as.formula(paste("school_af ~ vote_npp_pres +", a, "+", ctrl)), binomial, school), school, k)
  show(paste("A27 clinic", r), glm(as.formula(paste("I(health_clinic_af != 0) ~ vote_npp_pres +", a, "+", ctrl, "+ urb")), binomial, pg), pg, k)
}
sessionInfo()$R.version$version.string
packageVersion("sandwich")
