## Reference values for shared-frailty Cox models: survival::coxph(... + frailty(g)) with R's
## defaults (gamma: method "em"; gaussian: method "reml"), coxph.control() defaults.
## Run from tests/reference/:  Rscript frailty/make_frailty_reference.R > frailty/make_frailty_reference.Rout 2>&1
## Writes frailty/rats.csv, frailty/kidney.csv, frailty/kidney_split.csv and frailty/frailty.json.
suppressPackageStartupMessages({ library(survival); library(jsonlite) })
options(digits = 15)
se <- function(v) unname(sqrt(diag(as.matrix(v))))
summ <- function(f) {
  h <- f$history[[1]]
  theta_used <- if (!is.null(h$history)) unname(h$history[nrow(h$history), 1]) else h$theta
  list(terms = names(coef(f)), coef = unname(coef(f)), se = se(f$var), se2 = se(f$var2),
       vcov = unname(lapply(seq_len(ncol(as.matrix(f$var))), function(i) unname(as.matrix(f$var)[i, ]))),
       loglik = f$loglik[2], loglik_null = f$loglik[1], theta = theta_used, theta_next = h$theta,
       c_loglik = if (is.null(h$c.loglik)) NA else h$c.loglik, df = unname(f$df),
       frail = unname(f$frail), fvar = unname(f$fvar), penalty = unname(f$penalty),
       iter = unname(f$iter), n = f$n, nevent = f$nevent, aic = AIC(f))
}
out <- list(meta = list(R = R.version.string, survival = as.character(packageVersion("survival"))))

## rats: 300 rats in 100 litters (3 per litter), rx = drug; a classic gamma-frailty example
rats_d <- survival::rats[, c("litter", "rx", "time", "status", "sex")]
rats_d$female <- as.integer(rats_d$sex == "f")
rats_d$sex <- NULL
write.csv(rats_d, "frailty/rats.csv", row.names = FALSE)
rats_d <- read.csv("frailty/rats.csv")
## kidney: 38 patients, 2 recurrence times each
kid <- survival::kidney[, c("id", "time", "status", "age", "sex", "disease")]
write.csv(kid, "frailty/kidney.csv", row.names = FALSE)
kid <- read.csv("frailty/kidney.csv")

cases <- list(
  rats_gamma = quote(coxph(Surv(time, status) ~ rx + female + frailty(litter), data = rats_d)),
  rats_gauss = quote(coxph(Surv(time, status) ~ rx + female + frailty(litter, distribution = "gaussian"), data = rats_d)),
  rats_gamma_breslow = quote(coxph(Surv(time, status) ~ rx + frailty(litter), data = rats_d, ties = "breslow")),
  kidney_gamma = quote(coxph(Surv(time, status) ~ age + sex + frailty(id), data = kid)),
  kidney_gauss = quote(coxph(Surv(time, status) ~ age + sex + frailty(id, distribution = "gaussian"), data = kid)),
  kidney_gamma_strata = quote(coxph(Surv(time, status) ~ age + frailty(id) + strata(sex), data = kid))
)
## case weights (integer, so coxph keeps the model variance) on rats
set.seed(20261206)
rats_d$w <- sample(1:2, nrow(rats_d), replace = TRUE)
write.csv(rats_d, "frailty/rats.csv", row.names = FALSE)
cases$rats_gamma_weights <- quote(coxph(Surv(time, status) ~ rx + female + frailty(litter), data = rats_d, weights = w))
cases$rats_gauss_weights <- quote(coxph(Surv(time, status) ~ rx + female + frailty(litter, distribution = "gaussian"), data = rats_d, weights = w))
kid$w <- sample(1:2, nrow(kid), replace = TRUE)
write.csv(kid, "frailty/kidney.csv", row.names = FALSE)
## (start, stop] version of kidney: each row split at time 50 (same model, counting-process code path)
ks <- survSplit(Surv(time, status) ~ ., data = kid, cut = 50, episode = "ep")
ks <- ks[, c("id", "tstart", "time", "status", "age", "sex", "w")]
write.csv(ks, "frailty/kidney_split.csv", row.names = FALSE)
ks <- read.csv("frailty/kidney_split.csv")
cases$kidney_split_gamma <- quote(coxph(Surv(tstart, time, status) ~ age + sex + frailty(id), data = ks))
cases$kidney_split_gauss <- quote(coxph(Surv(tstart, time, status) ~ age + sex + frailty(id, distribution = "gaussian"), data = ks))
## 4 disease groups: nclass <= 5, so R uses a non-sparse (dense) penalised factor
cases$kidney_gamma_dense <- quote(coxph(Surv(time, status) ~ age + sex + frailty(disease), data = kid))

for (nm in names(cases)) {
  warns <- character(0)
  f <- withCallingHandlers(eval(cases[[nm]]), warning = function(w) {
    warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") })
  cat("\n====", nm, "====\n"); print(cases[[nm]]); print(f)
  out[[nm]] <- summ(f)
  out[[nm]]$warnings <- warns
  if (length(warns)) cat("warnings:", warns, sep = "\n  ")
  out[[nm]]$call <- deparse(cases[[nm]], width.cutoff = 500L)
}
## what R refuses or ignores
cat("\n==== robust with frailty ====\n")
print(tryCatch(coxph(Surv(time, status) ~ rx + frailty(litter) + cluster(litter), data = rats_d),
               warning = function(w) paste("warning:", conditionMessage(w)), error = function(e) paste("error:", conditionMessage(e))))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"), "frailty/frailty.json")
