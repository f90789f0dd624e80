# R references of the building blocks of c2stats.simulate (tests/pipeline/test_simulate.py):
#  * Breslow's cumulative baseline hazard: basehaz() of a coxph fit with ties = "breslow",
#    centered = TRUE (risk scores exp((x - xbar) b), xbar the column means of the design).
#  * The follow-up (censoring) distribution: the reverse Kaplan-Meier estimate,
#    survfit(Surv(time, 1 - event) ~ 1), P(C <= t) = 1 - surv at the censoring times.
#  * Analytic power: power.t.test (two-sample t test = OLS on a balanced binary covariate) and
#    Schoenfeld's required events.
# Run from tests/reference/: Rscript simulate/make_simulate_reference.R > simulate/make_simulate_reference.Rout 2>&1
suppressPackageStartupMessages({library(survival); library(jsonlite)})
cat(R.version.string, "\n"); cat("survival", as.character(packageVersion("survival")), "\n")
lung <- read.csv("../../c2stats/examples/lung.csv")
lung <- lung[complete.cases(lung[, c("time", "event", "age", "sex", "ph_ecog")]), ]
fit <- coxph(Surv(time, event) ~ age + sex + ph_ecog, data = lung, ties = "breslow")
print(coef(fit))
bh <- basehaz(fit, centered = TRUE)
ev <- bh$time %in% lung$time[lung$event == 1]
bres <- bh[ev, ]
print(head(bres))
rk <- survfit(Surv(time, 1 - event) ~ 1, data = lung)
cens <- rk$n.event > 0
rev_km <- data.frame(time = rk$time[cens], cdf = 1 - rk$surv[cens])
print(head(rev_km))
# power.t.test: n per group, delta, sd = 1; the OLS t test of a balanced binary x with n = 2 * n_group rows
pt <- sapply(c(10, 20, 40), function(n) power.t.test(n = n, delta = 0.8, sd = 1, sig.level = 0.05, strict = TRUE)$power)
pt1 <- sapply(c(10, 20, 40), function(n) power.t.test(n = n, delta = 0.8, sd = 1, sig.level = 0.05,
                                                         alternative = "one.sided")$power)
print(pt); print(pt1)
# Schoenfeld: required events for 80% and 90% power, log HR = log(1.5), p = 0.5, alpha = 0.05 two-sided
d <- sapply(c(0.8, 0.9), function(pw) (qnorm(0.975) + qnorm(pw))^2 / (0.25 * log(1.5)^2))
print(d)
out <- list(
  r_version = R.version.string, survival = as.character(packageVersion("survival")),
  cox = list(formula = "~ age + sex + ph_ecog", ties = "breslow", coef = unname(coef(fit)),
             means = unname(fit$means), n = fit$n),
  breslow = list(time = bres$time, hazard = bres$hazard),
  reverse_km = list(time = rev_km$time, cdf = rev_km$cdf),
  power_t_test = list(n_per_group = c(10, 20, 40), delta = 0.8, sd = 1, alpha = 0.05, two_sided = pt,
                      one_sided = pt1),
  schoenfeld = list(power = c(0.8, 0.9), hr = 1.5, p = 0.5, alpha = 0.05, events = d)
)
writeLines(toJSON(out, digits = I(15), auto_unbox = TRUE, pretty = TRUE), "simulate/simulate.json")
