## Reference values for time-varying coefficients: survival::coxph(... + tt(x), tt = function(x, t, ...) ...)
## Run from tests/reference/:  Rscript tt/make_tt_reference.R > tt/make_tt_reference.Rout 2>&1
## Writes tt/veteran.csv, tt/veteran_split.csv, tt/lung.csv and tt/tt.json.
suppressPackageStartupMessages({ library(survival); library(jsonlite) })
options(digits = 15)
se <- function(v) unname(sqrt(diag(as.matrix(v))))
summ <- function(f) {
  out <- list(terms = names(coef(f)), coef = unname(coef(f)), se = se(f$var), loglik = f$loglik[2],
              loglik_null = f$loglik[1], score = unname(f$score), iter = f$iter, n = f$n, nevent = f$nevent)
  if (!is.null(f$naive.var)) out$se_model <- se(f$naive.var)
  out
}
ctl <- coxph.control(eps = 1e-12, iter.max = 100)
out <- list(meta = list(R = R.version.string, survival = as.character(packageVersion("survival"))))

vet <- survival::veteran
vet$id <- seq_len(nrow(vet))
write.csv(vet, "tt/veteran.csv", row.names = FALSE)
vet <- read.csv("tt/veteran.csv")
vs <- survSplit(Surv(time, status) ~ ., data = vet, cut = c(60, 200), episode = "ep")
vs <- vs[, c("id", "tstart", "time", "status", "trt", "karno", "age", "celltype")]
write.csv(vs, "tt/veteran_split.csv", row.names = FALSE)
vs <- read.csv("tt/veteran_split.csv")
lg <- survival::lung[, c("inst", "time", "status", "age", "sex", "ph.ecog")]
lg <- lg[complete.cases(lg), ]
lg$event <- lg$status - 1
lg$status <- NULL
names(lg)[names(lg) == "ph.ecog"] <- "ph_ecog"
set.seed(20261206)
lg$w <- sample(1:3, nrow(lg), replace = TRUE)
write.csv(lg, "tt/lung.csv", row.names = FALSE)
lg <- read.csv("tt/lung.csv")

f_log <- function(x, t, ...) x * log(t)
f_id <- function(x, t, ...) x * t
f_step <- function(x, t, ...) cbind(x * (t > 30 & t <= 90), x * (t > 90))
cases <- list(
  vet_log = quote(coxph(Surv(time, status) ~ trt + karno + tt(karno), data = vet, tt = f_log, control = ctl)),
  vet_identity = quote(coxph(Surv(time, status) ~ trt + karno + tt(karno), data = vet, tt = f_id, control = ctl)),
  vet_step = quote(coxph(Surv(time, status) ~ trt + karno + tt(karno), data = vet, tt = f_step, control = ctl)),
  vet_log_breslow = quote(coxph(Surv(time, status) ~ trt + karno + tt(karno), data = vet, tt = f_log, ties = "breslow", control = ctl)),
  vet_log_two = quote(coxph(Surv(time, status) ~ trt + karno + age + tt(karno) + tt(age), data = vet, tt = list(f_log, f_id), control = ctl)),
  vet_split_log = quote(coxph(Surv(tstart, time, status) ~ trt + karno + tt(karno), data = vs, tt = f_log, control = ctl)),
  vet_split_log_cluster = quote(coxph(Surv(tstart, time, status) ~ trt + karno + tt(karno), data = vs, tt = f_log, cluster = id, control = ctl)),
  lung_log_strata_weights = quote(coxph(Surv(time, event) ~ age + ph_ecog + tt(ph_ecog) + strata(sex), data = lg, weights = w, tt = f_log, control = ctl)),
  lung_log_cluster = quote(coxph(Surv(time, event) ~ age + ph_ecog + tt(ph_ecog), data = lg, cluster = inst, tt = f_log, control = ctl))
)
for (nm in names(cases)) {
  f <- eval(cases[[nm]])
  cat("\n====", nm, "====\n"); print(cases[[nm]]); print(f)
  out[[nm]] <- summ(f)
  out[[nm]]$call <- deparse(cases[[nm]], width.cutoff = 500L)
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"), "tt/tt.json")
