## Extra R reference values for the likelihood engines (issue 4), beyond golden.json:
## cluster-robust (one- and two-way) GLM covariances, cloglog, weighted/offset GLM,
## survreg robust/cluster variances, plm double clustering, white1, unbalanced panels.
## Run from tests/reference/:  Rscript engines/make_engines_reference.R > engines/make_engines_reference.Rout
## Writes engines/engines.json. R 4.2.2, survival 3.5-3, sandwich 3.0-2, plm 2.6-2.
suppressPackageStartupMessages({
  library(survival); library(sandwich); library(plm); library(jsonlite)
})
se <- function(v) as.list(sqrt(diag(v)))
vl <- function(v) unname(lapply(seq_len(nrow(v)), function(i) unname(v[i, ])))
out <- list(meta = list(R = R.version.string,
  packages = lapply(c(survival = "survival", sandwich = "sandwich", plm = "plm"),
                    function(p) as.character(packageVersion(p)))))

## ---------------------------------------------------------------- binary GLM
mid <- read.csv("data/mid.csv")
f <- conflict ~ major + contig + power + maxdem + mindem + years
ctl <- glm.control(epsilon = 1e-14, maxit = 100)
for (lk in c("logit", "probit", "cloglog")) {
  m <- glm(f, binomial(link = lk), data = mid, control = ctl)
  out$mid_glm[[lk]] <- list(
    coef = as.list(coef(m)), loglik = as.numeric(logLik(m)), iter = m$iter, n = nobs(m),
    se_model = se(vcov(m)),
    se_HC0 = se(vcovHC(m, type = "HC0")), se_HC1 = se(vcovHC(m, type = "HC1")),
    se_CL_years_HC0 = se(vcovCL(m, cluster = ~years, type = "HC0")),
    se_CL_years_HC1 = se(vcovCL(m, cluster = ~years, type = "HC1")),
    se_CL2_years_maxdem_HC0 = se(vcovCL(m, cluster = ~years + maxdem, type = "HC0")),
    se_CL2_years_maxdem_HC1 = se(vcovCL(m, cluster = ~years + maxdem, type = "HC1")))
}
mid$w <- 1 + (seq_len(nrow(mid)) %% 3)
mid$off <- 0.1 * mid$mindem
for (lk in c("logit", "cloglog")) {
  m <- glm(f, binomial(link = lk), data = mid, weights = w, offset = off, control = ctl)
  out$mid_glm_weighted[[lk]] <- list(
    note = "weights = 1 + (row %% 3), offset = 0.1 * mindem",
    coef = as.list(coef(m)), loglik = as.numeric(logLik(m)), n = nobs(m),
    se_model = se(vcov(m)), se_HC0 = se(vcovHC(m, type = "HC0")),
    se_CL_years_HC1 = se(vcovCL(m, cluster = ~years, type = "HC1")))
}

## ---------------------------------------------------------------- survreg
ov <- read.csv("data/ovarian.csv")
ov$grp <- ov$resid_ds * 10 + ov$rx
for (d in c("weibull", "exponential")) {
  sctl <- survreg.control(rel.tolerance = 1e-12)
  r <- survreg(Surv(futime, fustat) ~ age + ecog_ps, ov, dist = d, robust = TRUE, control = sctl)
  c <- survreg(Surv(futime, fustat) ~ age + ecog_ps, ov, dist = d, cluster = grp, control = sctl)
  out$ovarian_survreg[[d]] <- list(
    note = "cluster = resid_ds*10 + rx; survreg robust/cluster variance (dfbeta sums, no correction)",
    se_model = as.list(sqrt(diag(r$naive.var))), se_robust = as.list(sqrt(diag(r$var))),
    se_cluster = as.list(sqrt(diag(c$var))), vcov_cluster = vl(c$var), loglik = r$loglik[2])
}

## ---------------------------------------------------------------- plm
gr <- read.csv("data/grunfeld.csv")
pg <- pdata.frame(gr, index = c("firm", "year"))
fw <- plm(inv ~ value + capital, pg, model = "within", effect = "twoways")
fi <- plm(inv ~ value + capital, pg, model = "within", effect = "individual")
out$grunfeld_extra$within_twoways_double <- list(
  note = "plm::vcovDC (cluster firm and year, minus white)",
  se_DC_HC0 = se(vcovDC(fw, type = "HC0")), se_DC_HC1 = se(vcovDC(fw, type = "HC1")),
  se_DC_sss = se(vcovDC(fw, type = "sss")))
out$grunfeld_extra$within_individual_white1 <- list(
  se_white1_HC0 = se(vcovHC(fi, method = "white1", type = "HC0")),
  se_white1_HC1 = se(vcovHC(fi, method = "white1", type = "HC1")))
ub <- gr[!((gr$firm == 1 & gr$year < 1940) | (gr$firm == 5 & gr$year >= 1950) | (gr$firm == 8 & gr$year %% 4 == 0)), ]
pu <- pdata.frame(ub, index = c("firm", "year"))
ru <- plm(inv ~ value + capital, pu, model = "random")
wu <- plm(inv ~ value + capital, pu, model = "within")
ec <- ercomp(ru)
out$grunfeld_unbalanced <- list(
  note = "rows dropped: firm 1 years < 1940, firm 5 years >= 1950, firm 8 years divisible by 4",
  n = nrow(ub),
  random_swar = list(coef = as.list(coef(ru)), se_model = se(vcov(ru)),
    sigma2 = as.list(ec$sigma2), theta = as.list(setNames(as.numeric(tapply(ec$theta, index(pu)$firm, unique)), levels(index(pu)$firm))),
    se_CLgroup_HC0 = se(vcovHC(ru, method = "arellano", type = "HC0"))),
  within_individual = list(coef = as.list(coef(wu)), se_model = se(vcov(wu)),
    se_CLgroup_HC1 = se(vcovHC(wu, type = "HC1")), se_CLgroup_sss = se(vcovHC(wu, type = "sss"))))

writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "engines/engines.json")
str(out, max.level = 3)
