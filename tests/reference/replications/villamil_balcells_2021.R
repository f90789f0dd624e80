# R check of the vendored Villamil & Balcells (2021) data against the printed tables (tab_main_did,
# tab_models_se): lm() with CCAA dummies; classical, HC0 and municipality-clustered (vcovCL HC1) SEs.
# Run from the repository root: Rscript tests/reference/replications/villamil_balcells_2021.R
library(sandwich); library(lmtest)
d <- read.csv("c2stats/examples/villamil_balcells_2021_vox.csv")
m0 <- lm(VOX_share ~ fs_rm_2016s2_2018s2_bin * factor(election) + factor(ccaa), d)
m1 <- lm(VOX_share ~ fs_rm_2016s2_2018s2_bin * factor(election) + major_2015_izq + lpop2011 + l_fs_2016_06 +
           unemp_2016 + part2016_06 + factor(ccaa), d)
keep <- c("(Intercept)", "fs_rm_2016s2_2018s2_bin", "factor(election)2019_04", "fs_rm_2016s2_2018s2_bin:factor(election)2019_04")
show <- function(label, ct) { cat("==", label, "\n"); print(noquote(formatC(ct[keep, c(1, 2, 4)], format = "f", digits = 3))) }
for (m in list(m0, m1)) cat("N =", nobs(m), "R2 =", sprintf("%.3f", summary(m)$r.squared), "adjR2 =", sprintf("%.3f", summary(m)$adj.r.squared), "\n")
show("no controls, classical", coef(summary(m0)))
show("controls, classical", coef(summary(m1)))
show("controls, HC0", coeftest(m1, vcov = vcovHC(m1, type = "HC0")))
show("controls, clustered by municipality (vcovCL HC1)", coeftest(m1, vcov = vcovCL(m1, cluster = ~muni_code, type = "HC1")))
sessionInfo()$R.version$version.string
packageVersion("sandwich")
