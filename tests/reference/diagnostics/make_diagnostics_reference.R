## R reference values for c2stats.diagnostics (issue: declared hypotheses and diagnostics):
## scaled Schoenfeld residuals of cox.zph (survival >= 3), the smooth of plot.cox.zph, car::vif.
## Run from tests/reference/:
##   Rscript diagnostics/make_diagnostics_reference.R > diagnostics/make_diagnostics_reference.Rout 2>&1
## Writes diagnostics/diagnostics.json. R 4.2.2, survival 3.5-3, car 3.1-1, splines (base R).
suppressPackageStartupMessages({ library(survival); library(car); library(splines); library(jsonlite) })
out <- list(meta = list(R = R.version.string,
  packages = lapply(c(survival = "survival", car = "car", jsonlite = "jsonlite"),
                    function(p) as.character(packageVersion(p)))))
ctl <- coxph.control(eps = 1e-11, iter.max = 100)
mat <- function(m) unname(lapply(seq_len(nrow(m)), function(i) unname(m[i, ])))

zph_case <- function(fit, transform = "km") {
  z <- cox.zph(fit, transform = transform)
  list(terms = colnames(z$y), x = unname(z$x), time = unname(z$time), y = mat(z$y), var = mat(z$var),
       strata = if (is.null(z$strata)) NULL else as.character(z$strata),
       table = list(chisq = unname(z$table[, "chisq"]), df = unname(z$table[, "df"]), p = unname(z$table[, "p"]),
                    rows = rownames(z$table)))
}

lung <- read.csv("data/lung.csv")
veteran <- read.csv("data/veteran.csv")
heart <- read.csv("data/heart.csv")
cgd <- read.csv("data/cgd.csv")

f_lung <- coxph(Surv(time, event) ~ age + sex + ph_ecog, data = lung, control = ctl)
out$zph$lung_km <- zph_case(f_lung)
out$zph$lung_identity <- zph_case(f_lung, "identity")
f_lung_b <- coxph(Surv(time, event) ~ age + sex + ph_ecog, data = lung, ties = "breslow", control = ctl)
out$zph$lung_breslow_rank <- zph_case(f_lung_b, "rank")
## a multi-column (factor) term: ph_ecog as a factor with levels 0..3
f_lung_f <- coxph(Surv(time, event) ~ age + factor(ph_ecog), data = lung, control = ctl)
out$zph$lung_factor_km <- zph_case(f_lung_f)
f_vet <- coxph(Surv(time, status) ~ trt + karno + diagtime + age + prior + strata(celltype), data = veteran,
               control = ctl)
out$zph$veteran_strata_km <- zph_case(f_vet)
f_heart <- coxph(Surv(start, stop, event) ~ age + year + surgery + transplant, data = heart, control = ctl)
out$zph$heart_km <- zph_case(f_heart)
f_cgd <- coxph(Surv(tstart, tstop, status) ~ treat + age + inherit + steroids + strata(hos_cat), data = cgd,
               control = ctl)
out$zph$cgd_strata_km <- zph_case(f_cgd)

## the smooth drawn by plot.cox.zph (survival 3.5-3 code, df = 4, nsmo = 40) for lung, term 'age'
z <- cox.zph(f_lung)
xx <- z$x; df <- 4; nsmo <- 40
pred.x <- seq(from = min(xx), to = max(xx), length = nsmo)
lmat <- ns(c(pred.x, xx), df = df, intercept = TRUE)
pmat <- lmat[1:nsmo, ]; xmat <- lmat[-(1:nsmo), ]
smooth <- list()
for (i in 1:3) {
  y <- z$y[, i]
  qmat <- qr(xmat)
  yhat <- pmat %*% qr.coef(qmat, y)
  bk <- backsolve(qmat$qr[1:df, 1:df], diag(df))
  xtx <- bk %*% t(bk)
  seval <- ((pmat %*% xtx) * pmat) %*% rep(1, df)
  temp <- 2 * sqrt(z$var[i, i] * seval)
  smooth[[colnames(z$y)[i]]] <- list(yhat = c(yhat), upper = c(yhat + temp), lower = c(yhat - temp))
}
out$smooth_lung <- list(pred_x = pred.x, terms = smooth)

## car::vif on lm (the VIF depends on the right-hand side only; the response is immaterial)
mid <- read.csv("data/mid.csv")
v <- vif(lm(conflict ~ major + contig + power + maxdem + mindem + years, data = mid))
out$vif$mid <- list(terms = names(v), gvif = unname(v))
v <- vif(lm(time ~ age + sex + factor(ph_ecog), data = lung))
out$vif$lung_factor <- list(terms = rownames(v), gvif = unname(v[, "GVIF"]), df = unname(v[, "Df"]),
                            gvif_adj = unname(v[, "GVIF^(1/(2*Df))"]))
v <- vif(lm(conflict ~ major + contig * power + years, data = mid))
out$vif$mid_interaction <- list(terms = names(v), gvif = unname(v))

## rank deficiency: R's lm and coxph give NA for the later of two collinear columns
lung$age2 <- 2 * lung$age + 1
m <- lm(time ~ age + sex + age2 + ph_ecog, data = lung)
out$collinear$lm_lung <- list(na_terms = names(coef(m))[is.na(coef(m))], coef = as.list(coef(m)[!is.na(coef(m))]))

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, null = "null"), "diagnostics/diagnostics.json")
print(sessionInfo())
