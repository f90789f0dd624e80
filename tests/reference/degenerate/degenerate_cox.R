library(survival)
cat("R", R.version.string, "survival", as.character(packageVersion("survival")), "\n")
# the battery's cox-ph-test-singular rows
d <- data.frame(duration=c(5.639, 6.292, 22.784, 48.712), ended=c(0, 1, 0, 1),
                c2_index=c(0.4116, 1.0425, -0.1285, 1.3665), n_members=c(2, 4, 4, 4))
f <- coxph(Surv(duration, ended) ~ c2_index + n_members, data=d)
cat("ph4 coef", format(coef(f), digits=15), "\n")
cat("ph4 loglik", format(f$loglik, digits=15), "\n")
z <- tryCatch(cox.zph(f), error=function(e) paste("ERROR:", conditionMessage(e)))
print(z)
# two rows, both events, one covariate: monotone likelihood
d2 <- data.frame(t=c(1, 2), e=c(1, 1), x=c(0, 1))
f2 <- withCallingHandlers(coxph(Surv(t, e) ~ x, data=d2),
                          warning=function(w) {cat("two-rows warning:", conditionMessage(w), "\n"); invokeRestart("muffleWarning")})
cat("two-rows coef", format(coef(f2), digits=15), "loglik", format(f2$loglik, digits=15), "\n")
# every risk set holds one row: (start, stop] intervals that do not overlap
d3 <- data.frame(start=c(0, 1, 2), stop=c(1, 2, 3), e=c(1, 1, 1), x=c(0.5, -1, 2))
f3 <- tryCatch(coxph(Surv(start, stop, e) ~ x, data=d3), error=function(e) paste("ERROR:", conditionMessage(e)))
if (is.character(f3)) cat("alone", f3, "\n") else cat("alone coef", format(coef(f3), digits=15), "loglik", format(f3$loglik, digits=15), "\n")
