# Extra reference values for c2stats' Cox engine (tests/families/test_cox_engine.py).
# Run from tests/reference:  Rscript r/cox_engine_extra.R > r/cox_engine_extra.json
# R 4.2.2, survival 3.5-3 (Debian). Data: the CSVs in data/ (same copies as golden.json).
suppressMessages({library(survival); library(jsonlite)})
ctl <- coxph.control(eps = 1e-11, iter.max = 100)
out <- list(meta = list(R = R.version.string, survival = as.character(packageVersion("survival")),
                        control = list(eps = 1e-11, iter.max = 100)))
fitinfo <- function(f) {
  r <- list(coef = unname(coef(f)), var = unname(f$var), loglik = f$loglik, iter = f$iter,
            score = f$score, wald_test = f$wald.test, means = unname(f$means), n = f$n, nevent = f$nevent,
            linear_predictors = unname(f$linear.predictors))
  if (!is.null(f$naive.var)) r$naive_var <- unname(f$naive.var)
  if (!is.null(f$rscore)) r$robust_score_test <- f$rscore
  r
}
bh <- function(f, centered) {
  b <- basehaz(f, centered = centered)
  r <- list(time = b$time, hazard = b$hazard)
  if (!is.null(b$strata)) r$strata <- as.character(b$strata)
  r
}

# heart: (start, stop], Efron, cluster(id): residuals, dfbeta, baseline hazard, robust score test
heart <- read.csv("data/heart.csv")
fh <- coxph(Surv(start, stop, event) ~ age + year + surgery + transplant, data = heart,
           cluster = id, ties = "efron", control = ctl)
out$heart_efron_cluster <- c(fitinfo(fh), list(
  score_resid = unname(residuals(fh, type = "score")),
  dfbeta_cluster = unname(residuals(fh, type = "dfbeta", collapse = heart$id)),
  cluster_order = sort(unique(heart$id)),
  basehaz_centered = bh(fh, TRUE), basehaz_uncentered = bh(fh, FALSE)))
fb <- coxph(Surv(start, stop, event) ~ age + year + surgery + transplant, data = heart,
            ties = "breslow", control = ctl)
out$heart_breslow <- c(fitinfo(fb), list(score_resid = unname(residuals(fb, type = "score")),
                                         basehaz_centered = bh(fb, TRUE)))

# lung: case weights with robust variance, Efron and Breslow; an offset
lung <- read.csv("data/lung.csv")
lung$w <- 1 + (seq_len(nrow(lung)) %% 3) / 2
for (ties in c("efron", "breslow")) {
  fw <- coxph(Surv(time, event) ~ age + sex + ph_ecog, data = lung, weights = w, robust = TRUE,
              ties = ties, control = ctl)
  out[[paste0("lung_weighted_robust_", ties)]] <- c(fitinfo(fw), list(basehaz_centered = bh(fw, TRUE)))
}
fo <- coxph(Surv(time, event) ~ age + sex + offset(0.3 * ph_ecog), data = lung, ties = "efron", control = ctl)
out$lung_offset_efron <- fitinfo(fo)

# veteran: stratified baseline hazard
vet <- read.csv("data/veteran.csv")
fv <- coxph(Surv(time, status) ~ trt + karno + diagtime + age + prior + strata(celltype), data = vet,
            ties = "efron", control = ctl)
out$veteran_strat_efron <- c(fitinfo(fv), list(basehaz_centered = bh(fv, TRUE)))

# monotone likelihood: z = 1 only on some censored rows, so its coefficient diverges to -Inf
lung$z <- as.numeric(lung$event == 0 & seq_len(nrow(lung)) %% 2 == 1)
msg <- character(0)
fm <- withCallingHandlers(
  coxph(Surv(time, event) ~ age + z, data = lung, ties = "efron", control = ctl),
  warning = function(w) { msg <<- c(msg, conditionMessage(w)); invokeRestart("muffleWarning") })
out$lung_monotone <- c(fitinfo(fm), list(warnings = msg))

# collinear column: R's coefficient is NA
lung$age2 <- 2 * lung$age
fc <- coxph(Surv(time, event) ~ age + sex + age2, data = lung, ties = "efron", control = ctl)
out$lung_collinear <- list(coef = unname(coef(fc)), var = unname(fc$var), loglik = fc$loglik, iter = fc$iter)

# bad starting values: Newton-Raphson needs step halving (coxfit6 / agfit4 rules)
halving <- list()
for (init in list(c(0.3, 3, -3), c(0.5, -5, 5), c(-0.2, 8, 0))) {
  f <- coxph(Surv(time, event) ~ age + sex + ph_ecog, data = lung, init = init, control = ctl)
  halving[[length(halving) + 1]] <- list(data = "lung", init = init, iter = f$iter, loglik = f$loglik,
                                         coef = unname(coef(f)), wald_test = f$wald.test, score = f$score)
}
for (init in list(c(0.3, 1, 5, -5), c(-0.3, -2, 8, 4))) {
  f <- coxph(Surv(start, stop, event) ~ age + year + surgery + transplant, data = heart, init = init,
             control = ctl)
  halving[[length(halving) + 1]] <- list(data = "heart", init = init, iter = f$iter, loglik = f$loglik,
                                         coef = unname(coef(f)), wald_test = f$wald.test, score = f$score,
                                         step_halvings = unname(f$info["step halving"]))
}
out$step_halving <- halving

# predicted survival curves (survfit.coxph with newdata): Efron + robust variance, Breslow, strata
curves <- function(fit, newdata) {
  s <- survfit(fit, newdata = newdata)
  r <- list(time = s$time, n_event = s$n.event, surv = unname(s$surv), std_err = unname(s$std.err),
            lower = unname(s$lower), upper = unname(s$upper), cumhaz = unname(s$cumhaz),
            conf_int = s$conf.int, conf_type = s$conf.type)
  if (!is.null(s$strata)) r$strata <- rep(names(s$strata), s$strata)
  r
}
hnew <- data.frame(age = c(-10, 5), year = c(1, 4), surgery = c(0, 1), transplant = c(0, 1))
out$survfit_heart_efron_cluster <- c(list(newdata = hnew), curves(fh, hnew))
lnew <- data.frame(age = 60, sex = 2, ph_ecog = 1)
fl <- coxph(Surv(time, event) ~ age + sex + ph_ecog, data = lung, ties = "breslow", control = ctl)
out$survfit_lung_breslow <- c(list(newdata = lnew), curves(fl, lnew))
fwr <- coxph(Surv(time, event) ~ age + sex + ph_ecog, data = lung, weights = w, robust = TRUE,
             ties = "efron", control = ctl)
out$survfit_lung_weighted_efron <- c(list(newdata = lnew), curves(fwr, lnew))
vnew <- data.frame(trt = 2, karno = 60, diagtime = 5, age = 60, prior = 0)
out$survfit_veteran_strat_efron <- c(list(newdata = vnew), curves(fv, vnew))

cat(toJSON(out, digits = I(17), auto_unbox = TRUE, na = "null", pretty = FALSE))
