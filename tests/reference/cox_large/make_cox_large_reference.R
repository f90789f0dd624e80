# Reference fits on 100,000 (start, stop] rows for tests/families/test_cox_large.py: enough rows for the
# engine's linear-time paths (hashing + radix sort of times, merged round-off ties, streamed
# cox.zph), data built by integer arithmetic so Python rebuilds exactly the same doubles.
# Run from tests/reference/: Rscript cox_large/make_cox_large_reference.R > cox_large/make_cox_large_reference.Rout 2>&1
suppressMessages({library(survival); library(jsonlite)})
n <- 100000
i <- 0:(n - 1)
subj <- i %/% 10
x1 <- ((subj * 7919) %% 1000) / 1000 - 0.5
x2 <- ((i * 104729) %% 2003) / 2003 * 2 - 1
x3 <- subj %% 2
g <- subj %% 3
gap <- 1 + ((i * 7907) %% 365)
e0 <- (subj * 37) %% 3650
cum <- ave(gap, subj, FUN = cumsum)
# the same day reached through different (e0, cum) splits differs by round-off: aeqSurv merges it
stop <- e0 / 365.25 + cum / 365.25
start <- e0 / 365.25 + (cum - gap) / 365.25
event <- as.integer(((i * 2654435761) %% 1000) < 40 + 30 * x3 + ((subj * 7919) %% 1000) %/% 25)
d <- data.frame(subj, start, stop, event, x1, x2, x3, g)
cat("rows", n, "events", sum(event), "distinct stop", length(unique(stop)),
    "distinct after aeqSurv", length(unique(aeqSurv(Surv(start, stop, event))[, 2])), "\n")
ctl <- coxph.control(eps = 1e-11, iter.max = 100)
out <- list()
fit_one <- function(f) {
  z <- cox.zph(f)
  print(f); print(z)
  list(coef = unname(coef(f)), se = unname(sqrt(diag(f$var))),
       se_model = unname(sqrt(diag(if (is.null(f$naive.var)) f$var else f$naive.var))),
       loglik = f$loglik, iter = f$iter, nevent = f$nevent,
       zph_chisq = unname(z$table[, "chisq"]), zph_df = unname(z$table[, "df"]))
}
out$cluster <- fit_one(coxph(Surv(start, stop, event) ~ x1 + x2 + x3, data = d, ties = "efron",
                             cluster = subj, control = ctl))
out$strata <- fit_one(coxph(Surv(start, stop, event) ~ x1 + x2 + x3 + strata(g), data = d,
                            ties = "efron", control = ctl))
out$breslow_right <- fit_one(coxph(Surv(stop, event) ~ x1 + x2 + x3, data = d, ties = "breslow",
                                   control = ctl))
out$versions <- list(R = R.version.string, survival = as.character(packageVersion("survival")))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "cox_large/cox_large.json")
