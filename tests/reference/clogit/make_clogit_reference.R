## Reference values for the clogit family: survival::clogit (exact, efron, breslow; robust and
## cluster variances where R offers them).
## Run from tests/reference/:  Rscript clogit/make_clogit_reference.R > clogit/make_clogit_reference.Rout
## Writes clogit/infert.csv, clogit/matched.csv (simulated, seeded) and clogit/clogit.json.
suppressPackageStartupMessages({ library(survival); library(jsonlite) })
options(digits = 15)
se <- function(v) unname(sqrt(diag(v)))
vl <- function(v) unname(lapply(seq_len(nrow(v)), function(i) unname(v[i, ])))
ctl <- coxph.control(eps = 1e-12, iter.max = 100)
summ <- function(f) {
  out <- list(coef = unname(coef(f)), se = se(f$var), vcov = vl(f$var), loglik = f$loglik[2],
              loglik_null = f$loglik[1], score_test = unname(f$score), iter = f$iter, n = f$n,
              nevent = f$nevent)
  if (!is.null(f$naive.var)) { out$se_model <- se(f$naive.var) }
  out
}
out <- list(meta = list(R = R.version.string, survival = as.character(packageVersion("survival"))))

## ---------------------------------------------------------------- infert: 1:m matched sets
## datasets::infert, one case per stratum (83 sets of 2 or 3 rows). With one case per set the
## exact, Efron and Breslow likelihoods coincide; robust/cluster variances exist for efron/breslow.
inf <- infert[, c("stratum", "pooled.stratum", "case", "spontaneous", "induced", "age", "parity")]
names(inf)[2] <- "pooled_stratum"
write.csv(inf, "clogit/infert.csv", row.names = FALSE)
inf <- read.csv("clogit/infert.csv")
fm <- case ~ spontaneous + induced + strata(stratum)
out$infert$terms <- c("spontaneous", "induced")
for (m in c("exact", "efron", "breslow")) {
  f <- clogit(fm, data = inf, method = m, control = ctl)
  out$infert[[m]] <- summ(f)
}
f <- clogit(case ~ spontaneous + induced + strata(stratum) + cluster(pooled_stratum), data = inf,
            method = "breslow", control = ctl)
out$infert$breslow_cluster_pooled <- summ(f)
f <- clogit(fm, data = inf, method = "efron", robust = TRUE, control = ctl)
out$infert$efron_robust <- summ(f)
print(summary(clogit(fm, data = inf, control = ctl)))
print(summary(f))

## ---------------------------------------------------------------- simulated: several cases per set
## 150 sets of 2-9 rows with 0..n cases (some sets all cases or no case: uninformative), one set of
## 40 rows with 15 cases (numerical range of the recursion), 12 regions nesting the sets, case weights.
set.seed(20240612)
rows <- list()
for (s in 1:151) {
  n <- if (s == 151) 40 else sample(2:9, 1)
  x1 <- rnorm(n); x2 <- rbinom(n, 1, 0.4); x3 <- runif(n, -1, 1)
  eta <- 0.8 * x1 - 0.6 * x2 + 0.4 * x3
  d <- if (s == 151) 15 else sample(0:n, 1, prob = c(0.05, rep(0.9 / (n - 1), n - 1), 0.05))
  case <- integer(n)
  if (d > 0) case[sample(n, d, prob = exp(eta))] <- 1L
  rows[[s]] <- data.frame(set = s, region = (s - 1) %% 12 + 1, case = case, x1 = round(x1, 6),
                          x2 = x2, x3 = round(x3, 6), w = sample(1:3, n, replace = TRUE))
}
sim <- do.call(rbind, rows)
write.csv(sim, "clogit/matched.csv", row.names = FALSE)
sim <- read.csv("clogit/matched.csv")
fs <- case ~ x1 + x2 + x3 + strata(set)
out$matched$terms <- c("x1", "x2", "x3")
out$matched$n_sets <- length(unique(sim$set))
out$matched$n_informative <- sum(tapply(sim$case, sim$set, function(z) any(z == 1) && any(z == 0)))
for (m in c("exact", "efron", "breslow")) {
  f <- clogit(fs, data = sim, method = m, control = ctl)
  out$matched[[m]] <- summ(f)
}
f <- clogit(case ~ x1 + x2 + x3 + strata(set) + cluster(region), data = sim, method = "efron", control = ctl)
out$matched$efron_cluster_region <- summ(f)
f <- clogit(fs, data = sim, method = "breslow", robust = TRUE, control = ctl)
out$matched$breslow_robust <- summ(f)
f <- clogit(fs, data = sim, method = "efron", weights = w, control = ctl)
out$matched$efron_weighted <- summ(f)
f <- clogit(case ~ x1 + x2 + x3 + strata(set) + cluster(region), data = sim, method = "breslow",
            weights = w, control = ctl)
out$matched$breslow_weighted_cluster_region <- summ(f)
print(summary(clogit(fs, data = sim, control = ctl)))
print(try(clogit(case ~ x1 + strata(set) + cluster(region), data = sim)))

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "clogit/clogit.json")
sessionInfo()
