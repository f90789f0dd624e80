# Reference values for the c2stats finegray family (tests/families/test_finegray.py).
# Run from tests/reference/:
#   Rscript finegray/make_finegray_reference.R > finegray/make_finegray_reference.Rout 2>&1
# Fine-Gray subdistribution hazards as survival's vignette ("Multi-state models and competing
# risks"): finegray() expands the data, coxph(Surv(fgstart, fgstop, fgstatus) ~ x, weights = fgwt)
# fits it; cluster SEs are cluster(<column>) on the expanded data. cmprsk::crr on the same data
# for comparison.
suppressPackageStartupMessages({library(survival); library(MASS); library(cmprsk); library(jsonlite)})
sessionInfo()
ctl <- coxph.control(eps = 1e-12, iter.max = 100)

# --- data ----------------------------------------------------------------------------------------
mel <- MASS::Melanoma
mel$id <- seq_len(nrow(mel))
mel$cause <- c("melanoma", "alive", "other")[mel$status]  # 2 = alive = censored
write.csv(mel[, c("id", "time", "status", "cause", "sex", "age", "year", "thickness", "ulcer")],
          "finegray/melanoma.csv", row.names = FALSE)

pbc0 <- survival::pbc[, c("id", "time", "status", "age", "bili", "albumin", "edema", "sex")]
set.seed(20240917)
pbc0$w <- sample(1:3, nrow(pbc0), replace = TRUE)
write.csv(pbc0, "finegray/pbc.csv", row.names = FALSE)

out <- list()
record <- function(fit, fg, extra = list()) {
  c(list(coef = as.list(coef(fit)), se = as.list(sqrt(diag(vcov(fit)))),
         se_model = as.list(sqrt(diag(if (is.null(fit$naive.var)) fit$var else fit$naive.var))),
         vcov = unname(vcov(fit)), loglik = fit$loglik[2], loglik_null = fit$loglik[1],
         score_test = unname(fit$score), n_expanded = nrow(fg), n_events = fit$nevent,
         sum_fgwt = sum(fg$fgwt), iter = fit$iter), extra)
}

# --- Melanoma: death from melanoma (1), competing: other death (3), censored: alive (2) ---------
mel$st <- factor(mel$status, levels = c(2, 1, 3))
fg_mel <- finegray(Surv(time, st) ~ ., data = mel, etype = "1")
print(dim(fg_mel)); print(attr(fg_mel, "event"))
write.csv(fg_mel[, c("id", "fgstart", "fgstop", "fgstatus", "fgwt")], "finegray/melanoma_expanded.csv",
          row.names = FALSE)
f_mel <- Surv(fgstart, fgstop, fgstatus) ~ sex + age + log(thickness) + ulcer
# robust = FALSE: with fractional weights coxph defaults to robust = TRUE with every expanded row
# its own cluster, which splits subjects; the model variance is the inverse information
m1 <- coxph(f_mel, data = fg_mel, weights = fgwt, control = ctl, robust = FALSE)
m1_default <- coxph(f_mel, data = fg_mel, weights = fgwt, control = ctl)
print(summary(m1_default))  # shows both se(coef) (= m1's) and the row-wise 'robust se'
print(summary(m1))
out$melanoma_model <- record(m1, fg_mel)
m2 <- coxph(update(f_mel, . ~ . + cluster(id)), data = fg_mel, weights = fgwt, control = ctl)
print(summary(m2))
out$melanoma_cluster_id <- record(m2, fg_mel)
# predicted cumulative incidence, 1 - survfit(fit, newdata)$surv (the variance of the
# cumulative hazard uses vcov(fit): robust with cluster(id), the inverse information without)
nd <- data.frame(sex = c(0, 1), age = c(50, 65), thickness = c(1.5, 4), ulcer = c(0, 1))
pred_row <- function(fit) {
  sf <- survfit(fit, newdata = nd)
  list(time = sf$time, cif = 1 - sf$surv, std_err = sf$std.err, cif_low = 1 - sf$upper, cif_high = 1 - sf$lower)
}
out$melanoma_predicted_cluster_id <- pred_row(m2)
out$melanoma_predicted_model <- pred_row(m1)
print(summary(survfit(m2, newdata = nd), times = c(1000, 3000)))
m3 <- coxph(update(f_mel, . ~ . + cluster(year)), data = fg_mel, weights = fgwt, control = ctl)
out$melanoma_cluster_year <- record(m3, fg_mel, list(n_clusters = length(unique(fg_mel$year))))
m4 <- coxph(f_mel, data = fg_mel, weights = fgwt, control = ctl, ties = "breslow", robust = FALSE)
out$melanoma_breslow <- record(m4, fg_mel)
m5 <- coxph(update(f_mel, . ~ . + cluster(id)), data = fg_mel, weights = fgwt, control = ctl, ties = "breslow")
out$melanoma_breslow_cluster_id <- record(m5, fg_mel)
# the competing event as the cause of interest (censoring unchanged)
fg_mel3 <- finegray(Surv(time, st) ~ ., data = mel, etype = "3")
m6 <- coxph(update(f_mel, . ~ . + cluster(id)), data = fg_mel3, weights = fgwt, control = ctl)
out$melanoma_other_cluster_id <- record(m6, fg_mel3)

X <- model.matrix(~ sex + age + log(thickness) + ulcer, data = mel)[, -1]
c1 <- crr(mel$time, mel$status, X, failcode = 1, cencode = 2)
print(summary(c1))
out$melanoma_crr <- list(coef = as.list(setNames(c1$coef, colnames(X))),
                         se = as.list(setNames(sqrt(diag(c1$var)), colnames(X))))

# --- pbc: death (2), competing: transplant (1), censored (0) ------------------------------------
pbc0$st <- factor(pbc0$status, levels = 0:2, labels = c("censor", "transplant", "death"))
fg_pbc <- finegray(Surv(time, st) ~ ., data = pbc0, etype = "death")
print(dim(fg_pbc))
f_pbc <- Surv(fgstart, fgstop, fgstatus) ~ age + log(bili) + albumin + edema
p1 <- coxph(f_pbc, data = fg_pbc, weights = fgwt, control = ctl, robust = FALSE)
print(summary(p1))
out$pbc_model <- record(p1, fg_pbc)
p2 <- coxph(update(f_pbc, . ~ . + cluster(id)), data = fg_pbc, weights = fgwt, control = ctl)
print(summary(p2))
out$pbc_cluster_id <- record(p2, fg_pbc)
# case weights: finegray(weights = w) multiplies them into fgwt (the censoring curve is unweighted)
fg_pbcw <- finegray(Surv(time, st) ~ ., data = pbc0, etype = "death", weights = w)
p3 <- coxph(update(f_pbc, . ~ . + cluster(id)), data = fg_pbcw, weights = fgwt, control = ctl)
print(summary(p3))
out$pbc_weighted_cluster_id <- record(p3, fg_pbcw)
Xp <- model.matrix(~ age + log(bili) + albumin + edema, data = pbc0)[, -1]
c2 <- crr(pbc0$time, pbc0$status, Xp, failcode = 2, cencode = 0)
print(summary(c2))
out$pbc_crr <- list(coef = as.list(setNames(c2$coef, colnames(Xp))),
                    se = as.list(setNames(sqrt(diag(c2$var)), colnames(Xp))))

# --- censoring strata: strata() in the finegray formula, one censoring curve per stratum ---------
# (finegray drops the strata column from its output, so a copy is used)
mel$ulcer_s <- mel$ulcer
fg_mel_s <- finegray(Surv(time, st) ~ . + strata(ulcer_s), data = mel, etype = "1")
s1 <- coxph(update(f_mel, . ~ . + cluster(id)), data = fg_mel_s, weights = fgwt, control = ctl)
print(summary(s1))
out$melanoma_cstrata_ulcer_cluster_id <- record(s1, fg_mel_s)
write.csv(fg_mel_s[, c("id", "fgstart", "fgstop", "fgstatus", "fgwt")], "finegray/melanoma_cstrata_expanded.csv",
          row.names = FALSE)
# strata with no event of interest (years 1962, 1964, 1974, 1977) are dropped by finegray
mel$year_s <- mel$year
fg_mel_y <- finegray(Surv(time, st) ~ . + strata(year_s), data = mel, etype = "1")
print(dim(fg_mel_y)); print(setdiff(mel$id, fg_mel_y$id))
s2 <- coxph(update(f_mel, . ~ . + cluster(id)), data = fg_mel_y, weights = fgwt, control = ctl)
out$melanoma_cstrata_year_cluster_id <- record(s2, fg_mel_y, list(dropped_ids = setdiff(mel$id, fg_mel_y$id)))
# censoring strata and Cox strata together
pbc0$sex_s <- pbc0$sex
fg_pbc_s <- finegray(Surv(time, st) ~ . + strata(sex_s), data = pbc0, etype = "death")
s3 <- coxph(update(f_pbc, . ~ . + strata(sex) + cluster(id)), data = fg_pbc_s, weights = fgwt, control = ctl)
print(summary(s3))
out$pbc_cstrata_sex_strata_sex_cluster_id <- record(s3, fg_pbc_s)

# --- (start, stop] data with time-varying covariates (pbcseq lab values), id = subject ------------
# survival's vignette construction: tmerge() of pbc (first 312) with pbcseq; endpt 0/1/2 on the
# last row (1 = transplant, 2 = death), 0 on earlier rows
tmp <- subset(pbc, id <= 312, select = c(id, time, status, age, edema))
pbc2 <- tmerge(tmp, tmp, id = id, endpt = event(time, status))
pbc2 <- tmerge(pbc2, pbcseq, id = id, bili = tdc(day, bili), albumin = tdc(day, albumin))
pbc2 <- as.data.frame(pbc2)[, c("id", "tstart", "tstop", "endpt", "age", "edema", "bili", "albumin")]
# delayed entry: drop the first row of a seeded 30% of the subjects who have more than one row
set.seed(20240919)
firsts <- which(!duplicated(pbc2$id))
several <- duplicated(pbc2$id, fromLast = TRUE)[firsts]
pbc2$delayed_sample <- TRUE
pbc2$delayed_sample[firsts[several & runif(length(firsts)) < 0.3]] <- FALSE
write.csv(pbc2, "finegray/pbcseq_counting.csv", row.names = FALSE)
pbc2$st <- factor(pbc2$endpt, 0:2, c("censor", "transplant", "death"))
f_cp <- Surv(fgstart, fgstop, fgstatus) ~ age + edema + log(bili) + log(albumin)
fg_cp <- finegray(Surv(tstart, tstop, st) ~ ., data = pbc2, id = id, etype = "death")
print(dim(fg_cp))
k1 <- coxph(update(f_cp, . ~ . + cluster(id)), data = fg_cp, weights = fgwt, control = ctl)
print(summary(k1))
out$pbcseq_counting_cluster_id <- record(k1, fg_cp)
k2 <- coxph(f_cp, data = fg_cp, weights = fgwt, control = ctl, robust = FALSE)
out$pbcseq_counting_model <- record(k2, fg_cp)
pbc3 <- pbc2[pbc2$delayed_sample, ]
fg_dl <- finegray(Surv(tstart, tstop, st) ~ ., data = pbc3, id = id, etype = "death")
print(dim(fg_dl))
write.csv(fg_dl[, c("id", "fgstart", "fgstop", "fgstatus", "fgwt")], "finegray/pbcseq_delayed_expanded.csv",
          row.names = FALSE)
k3 <- coxph(update(f_cp, . ~ . + cluster(id)), data = fg_dl, weights = fgwt, control = ctl)
print(summary(k3))
out$pbcseq_delayed_cluster_id <- record(k3, fg_dl)

# R refuses (start, stop] data without an id
print(try(finegray(Surv(time - 1, time, st) ~ ., data = pbc0, etype = "death")))

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "finegray/finegray.json")
