# R reference for analyses/example.toml on the shipped arrangements unit.
# Run from the repository root:  Rscript tests/reference/example/arrangements.R > tests/reference/example/arrangements.out
library(survival); library(sandwich)
a <- read.csv(gzfile("c2stats/datasets/built/arrangements.csv.gz"), na.strings = "")
s <- subset(a, start_year >= 1980 & start_year <= 2010)
cat(R.version.string, "| survival", as.character(packageVersion("survival")), "| sandwich", as.character(packageVersion("sandwich")), "\n")
show <- function(tag, b, v) for (i in seq_along(b)) cat(sprintf("%s %s %.15g %.15g\n", tag, names(b)[i], b[i], sqrt(v[i, i])))
cs <- s[complete.cases(s[, c("duration", "ended", "informal", "c2_common", "log_cap_ratio", "joint_democracy")]), ]
m <- coxph(Surv(duration, ended) ~ informal + c2_common + log_cap_ratio + joint_democracy, data = cs, ties = "efron")
show("cox_model", coef(m), vcov(m))
mc <- coxph(Surv(duration, ended) ~ informal + c2_common + log_cap_ratio + joint_democracy, data = cs, ties = "efron", cluster = source_id)
show("cox_cluster", coef(mc), vcov(mc))
cat(sprintf("cox_n %d %d %.15g\n", m$n, m$nevent, m$loglik[2]))
ls <- s[complete.cases(s[, c("informal", "mids_prior5", "mps_log_rel_max", "joint_democracy")]), ]
g <- glm(informal ~ log1p(mids_prior5) + mps_log_rel_max + joint_democracy, family = binomial, data = ls)
show("logit_cluster_hc1", coef(g), vcovCL(g, cluster = ~source_id, type = "HC1"))
cat(sprintf("logit_n %d %.15g\n", nobs(g), as.numeric(logLik(g))))
