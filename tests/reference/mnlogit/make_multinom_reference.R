## Multinomial logit with a text outcome (none / formal / informal, base "none"):
## reference values from nnet::multinom.
## Run from tests/reference/:  Rscript mnlogit/make_multinom_reference.R > mnlogit/make_multinom_reference.Rout 2>&1
## Writes mnlogit/alliance_form.csv (seeded simulation) and mnlogit/multinom.json. R 4.2.2, nnet 7.3-18.
suppressPackageStartupMessages({ library(nnet); library(jsonlite) })
options(digits = 15)
set.seed(20240614)
n <- 800
d <- data.frame(threat = round(rnorm(n), 6), democracy = rbinom(n, 1, 0.45), distance = round(runif(n, 0, 3), 6))
eta_formal <- -0.3 + 0.9 * d$threat + 0.6 * d$democracy - 0.5 * d$distance
eta_informal <- -0.8 + 0.4 * d$threat - 0.3 * d$democracy + 0.2 * d$distance
p <- cbind(1, exp(eta_formal), exp(eta_informal))
p <- p / rowSums(p)
u <- runif(n)
d$form <- ifelse(u < p[, 1], "none", ifelse(u < p[, 1] + p[, 2], "formal", "informal"))
d$dyad <- sample(1:120, n, replace = TRUE)
write.csv(d, "mnlogit/alliance_form.csv", row.names = FALSE)
d <- read.csv("mnlogit/alliance_form.csv")
print(table(d$form))
d$form <- factor(d$form, levels = c("none", "formal", "informal"))  # base: the first level
f <- multinom(form ~ threat + democracy + distance, data = d, Hess = TRUE, maxit = 10000,
              reltol = 1e-16, abstol = 1e-300, trace = TRUE)
s <- summary(f)
print(s, digits = 15)
cf <- coef(f); sev <- s$standard.errors
out <- list(meta = list(R = R.version.string, nnet = as.character(packageVersion("nnet")),
                        base = "none", terms = colnames(cf), categories = rownames(cf),
                        note = "multinom(Hess = TRUE, maxit = 10000, reltol = 1e-16); BFGS optimum"),
            coef = lapply(setNames(rownames(cf), rownames(cf)), function(k) unname(cf[k, ])),
            se = lapply(setNames(rownames(sev), rownames(sev)), function(k) unname(sev[k, ])),
            loglik = as.numeric(logLik(f)), n = nrow(d), deviance = f$deviance, convergence = f$convergence)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "mnlogit/multinom.json")
sessionInfo()
