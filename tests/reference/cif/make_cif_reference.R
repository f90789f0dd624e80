# Reference values for c2stats' cumulative incidence engine (tests/families/test_cif.py).
# Run from tests/reference/:
#   Rscript cif/make_cif_reference.R > cif/make_cif_reference.Rout 2>&1
# Aalen-Johansen estimates from multi-state survfit(Surv(time, factor(status)) ~ group): the first
# factor level is censoring. pstate, std.err (infinitesimal jackknife, survfit's only multi-state
# variance), lower/upper (default conf.type = "log", applied to the probability: p exp(+-z se/p),
# upper capped at 1), n.risk of the initial state.
suppressPackageStartupMessages({library(survival); library(MASS); library(jsonlite)})
sessionInfo()

mel <- MASS::Melanoma
mel$cause <- c("melanoma", "alive", "other")[mel$status]
write.csv(mel[, c("time", "status", "cause", "sex", "ulcer")], "cif/melanoma.csv", row.names = FALSE)
pbc0 <- survival::pbc[, c("time", "status", "edema", "sex")]
set.seed(20240918)
pbc0$w <- round(runif(nrow(pbc0), 0.5, 2), 2)
write.csv(pbc0, "cif/pbc.csv", row.names = FALSE)

long <- function(fit, group_names) {
  # one row per (curve, cause, time); states other than the initial "(s0)"
  strata <- if (is.null(fit$strata)) c(All = length(fit$time)) else fit$strata
  grp <- rep(group_names, strata)
  states <- fit$states
  rows <- list()
  for (j in seq_along(states)[-1]) {  # states[1] is "(s0)" (event-free)
    rows[[length(rows) + 1]] <- data.frame(group = grp, cause = states[j], time = fit$time,
      estimate = fit$pstate[, j], std_error = fit$std.err[, j], conf_low = fit$lower[, j],
      conf_high = fit$upper[, j], n_risk = fit$n.risk[, 1])
  }
  do.call(rbind, rows)
}
out <- list()
st_mel <- factor(mel$status, levels = c(2, 1, 3))
f <- survfit(Surv(time, st_mel) ~ 1, data = mel)
print(f$states); print(summary(f, times = c(1000, 2000, 3000)))
out$melanoma_overall <- long(f, "All")
f <- survfit(Surv(time, st_mel) ~ ulcer, data = mel)
print(summary(f, times = c(1000, 3000)))
out$melanoma_ulcer <- long(f, c("0", "1"))
f <- survfit(Surv(time, st_mel) ~ ulcer, data = mel, conf.int = 0.9)
out$melanoma_ulcer_90 <- long(f, c("0", "1"))

st_pbc <- factor(pbc0$status, levels = 0:2, labels = c("censor", "transplant", "death"))
f <- survfit(Surv(time, st_pbc) ~ edema, data = pbc0)
print(f$states); print(summary(f, times = c(1000, 3000)))
out$pbc_edema <- long(f, c("0", "0.5", "1"))
f <- survfit(Surv(time, st_pbc) ~ sex, data = pbc0, weights = w)
print(summary(f, times = c(1000, 3000)))
out$pbc_sex_weighted <- long(f, c("m", "f"))
writeLines(toJSON(out, digits = NA, dataframe = "columns", pretty = FALSE, na = "null"), "cif/cif.json")
