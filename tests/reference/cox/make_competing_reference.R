## Cause-specific Cox models for competing risks: reference values from survival::coxph.
## Run from tests/reference/:  Rscript cox/make_competing_reference.R > cox/make_competing_reference.Rout 2>&1
## Writes cox/mgus2_competing.csv and cox/competing.json. R 4.2.2, survival 3.5-3.
##
## survival::mgus2 (1384 subjects with MGUS): the first of progression to a plasma cell
## malignancy (PCM) or death. Cause-specific hazard of cause k = coxph on Surv(etime, status == k):
## the other cause is censored at its time.
suppressPackageStartupMessages({ library(survival); library(jsonlite) })
options(digits = 15)
se <- function(v) unname(sqrt(diag(v)))
vl <- function(v) unname(lapply(seq_len(nrow(v)), function(i) unname(v[i, ])))
ctl <- coxph.control(eps = 1e-12, iter.max = 100)

m <- mgus2
d <- data.frame(id = m$id, age = m$age, male = as.integer(m$sex == "M"), hgb = m$hgb, creat = m$creat,
                mspike = m$mspike, dxyr = m$dxyr,
                etime = ifelse(m$pstat == 0, m$futime, m$ptime),
                status_code = ifelse(m$pstat == 0, 2L * m$death, 1L))
d$status <- c("censored", "progression", "death")[d$status_code + 1]
write.csv(d, "cox/mgus2_competing.csv", row.names = FALSE)
d <- read.csv("cox/mgus2_competing.csv")
print(table(d$status))

summ <- function(f) {
  list(coef = unname(coef(f)), se = se(f$var), se_model = se(if (is.null(f$naive.var)) f$var else f$naive.var),
       vcov = vl(f$var), loglik = f$loglik[2], loglik_null = f$loglik[1], n = f$n, nevent = f$nevent)
}
out <- list(meta = list(R = R.version.string, survival = as.character(packageVersion("survival")),
                        terms = c("age", "male", "hgb", "mspike")))
for (cause in c("progression", "death")) {
  for (ties in c("efron", "breslow")) {
    f <- coxph(Surv(etime, status == cause) ~ age + male + hgb + mspike, data = d, ties = ties,
               cluster = dxyr, control = ctl)
    out[[cause]][[paste0(ties, "_cluster_dxyr")]] <- summ(f)
    print(summary(f))
  }
  f <- coxph(Surv(etime, status == cause) ~ age + male + hgb + mspike, data = d, robust = TRUE, control = ctl)
  out[[cause]]$efron_robust <- summ(f)
  f <- coxph(Surv(etime, status == cause) ~ age + hgb + mspike + strata(male), data = d, control = ctl)
  out[[cause]]$efron_strata_male <- summ(f)
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "cox/competing.json")
sessionInfo()
