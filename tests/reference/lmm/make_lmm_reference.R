## Reference values for the mixed family and its engine (c2stats/families/_lmm_engine.py):
## lme4::lmer random-intercept models, REML and ML, with performance::r2_nakagawa and icc.
## Run from tests/reference/:  Rscript lmm/make_lmm_reference.R > lmm/make_lmm_reference.Rout 2>&1
## Writes lmm/<dataset>.csv (each fit reads its data back from the CSV) and lmm/lmm.json.
suppressPackageStartupMessages({ library(lme4); library(performance); library(jsonlite) })
options(digits = 15)
data(Orthodont, package = "nlme")
data(oats, package = "MASS")

## lmer's default optimiser (nloptwrap BOBYQA, ftol_abs = xtol_abs = 1e-8) stops ~1e-8 short in
## the deviance; "tight" runs the same optimiser to rounding so the reference is the optimum itself.
## Both are recorded: the tests compare to "tight" at 1e-6 and show "default" is within its own tolerance.
tight <- lmerControl(optimizer = "nloptwrap",
                     optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-15, xtol_rel = 0, ftol_rel = 0, maxeval = 1e5))
vl <- function(v) unname(lapply(seq_len(nrow(v)), function(i) unname(v[i, ])))

summ <- function(f) {
  vc <- as.data.frame(VarCorr(f))
  ## singular fits: performance warns "Can't compute random effect variances" (values NA)
  r2 <- suppressWarnings(r2_nakagawa(f))
  ic <- suppressWarnings(icc(f))
  out <- list(
    theta = as.list(getME(f, "theta")),
    coef = as.list(fixef(f)), se = as.list(sqrt(diag(as.matrix(vcov(f))))), vcov = vl(as.matrix(vcov(f))),
    sigma2_resid = sigma(f)^2,
    sigma2_groups = as.list(setNames(vc$vcov[vc$grp != "Residual"], vc$grp[vc$grp != "Residual"])),
    loglik = as.numeric(logLik(f)), df = attr(logLik(f), "df"), aic = AIC(f), bic = BIC(f),
    nobs = nobs(f), n_groups = as.list(ngrps(f)), singular = isSingular(f),
    r2_marginal = unname(r2$R2_marginal), r2_conditional = unname(r2$R2_conditional),
    icc = if (is.null(ic) || all(is.na(ic))) NA else unname(ic$ICC_adjusted),
    feval = f@optinfo$feval, optimizer = f@optinfo$optimizer)
  if (isREML(f)) out$reml_criterion <- unname(REMLcrit(f)) else out$deviance <- deviance(f)
  out
}

## each case: data frame, formula, grouping columns (the engine's groups), a few θ for devfun checks
cases <- list()
grun <- read.csv("data/grunfeld.csv")
cases$mixed_r_legacy <- list(data = grun, file = NULL, formula = inv ~ value + capital + (1 | firm),
                             groups = "firm", thetas = list(0, 0.5, 2))
ss <- sleepstudy
ss$Subject <- as.integer(as.character(ss$Subject))
cases$sleepstudy <- list(data = ss, formula = Reaction ~ Days + (1 | Subject), groups = "Subject",
                         thetas = list(0, 0.5, 2))
cases$dyestuff <- list(data = as.data.frame(Dyestuff), formula = Yield ~ 1 + (1 | Batch), groups = "Batch",
                       thetas = list(0, 0.5, 2))
## Dyestuff2: simulated so that the batch variance is estimated as zero (lmer: boundary fit)
cases$dyestuff2 <- list(data = as.data.frame(Dyestuff2), formula = Yield ~ 1 + (1 | Batch), groups = "Batch",
                        thetas = list(0, 0.5, 2))
ort <- as.data.frame(Orthodont)[, c("distance", "age", "Subject", "Sex")]
ort$Subject <- as.character(ort$Subject); ort$Sex <- as.character(ort$Sex)
## the same with a seeded covariate: a singular fit with a non-zero marginal R² (performance drops
## the random variances: conditional R² and ICC NA, marginal var_f / (var_f + sigma²))
set.seed(20240613)
d2x <- as.data.frame(Dyestuff2)
d2x$x <- round(rnorm(nrow(d2x)), 6)
cases$dyestuff2_x <- list(data = d2x, formula = Yield ~ x + (1 | Batch), groups = "Batch", thetas = list(0, 0.5, 2))
## simulated (seeded), 12 groups of 6, true sigma_group/sigma = 0.3: statsmodels MixedLM (BFGS,
## default or gtol = 1e-10) stops at a log-likelihood 0.33 (REML) / 0.13 (ML) below lmer's optimum
set.seed(16)
g <- rep(1:12, each = 6)
x <- round(rnorm(72), 6)
sim <- data.frame(y = round(1 + 0.5 * x + 0.3 * rnorm(12)[g] + rnorm(72), 6), x = x, g = g)
cases$sim_stall <- list(data = sim, formula = y ~ x + (1 | g), groups = "g", thetas = list(0, 0.5, 2))
cases$orthodont <- list(data = ort, formula = distance ~ age + Sex + (1 | Subject), groups = "Subject",
                        thetas = list(0, 0.5, 2))
## crossed: 24 plates x 6 samples
cases$penicillin <- list(data = as.data.frame(Penicillin), formula = diameter ~ 1 + (1 | plate) + (1 | sample),
                         groups = c("plate", "sample"), thetas = list(c(0.5, 0.5), c(1, 2)))
## nested: casks within batches; 'sample' is batch:cask
cases$pastes <- list(data = as.data.frame(Pastes), formula = strength ~ 1 + (1 | batch) + (1 | sample),
                     groups = c("batch", "sample"), thetas = list(c(0.5, 0.5), c(2, 1)))
## split plot: varieties within blocks (B:V), nitrogen within varieties
oa <- as.data.frame(oats)[, c("B", "V", "N", "Y")]
oa$B <- as.character(oa$B); oa$V <- as.character(oa$V); oa$N <- as.character(oa$N)
oa$BV <- paste(oa$B, oa$V, sep = ":")
cases$oats <- list(data = oa, formula = Y ~ N + V + (1 | B) + (1 | BV), groups = c("B", "BV"),
                   thetas = list(c(0.5, 0.5), c(1, 2)))

out <- list(meta = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                        performance = as.character(packageVersion("performance")),
                        Matrix = as.character(packageVersion("Matrix")),
                        nloptr = as.character(packageVersion("nloptr"))))
for (name in names(cases)) {
  cs <- cases[[name]]
  if (name != "mixed_r_legacy") {
    write.csv(cs$data, sprintf("lmm/%s.csv", name), row.names = FALSE)
    d <- read.csv(sprintf("lmm/%s.csv", name))
    path <- sprintf("lmm/%s.csv", name)
  } else {
    d <- cs$data
    path <- "data/grunfeld.csv"
  }
  res <- list(data = path, formula = deparse(cs$formula), groups = I(cs$groups))
  for (reml in c(TRUE, FALSE)) {
    key <- if (reml) "reml" else "ml"
    f_default <- lmer(cs$formula, data = d, REML = reml)
    f_tight <- lmer(cs$formula, data = d, REML = reml, control = tight)
    cat("\n==========", name, key, "(tight)\n")
    print(summary(f_tight))
    mm <- model.matrix(f_tight)
    dev <- lmer(cs$formula, data = d, REML = reml, devFunOnly = TRUE)
    ## devfun's θ order is lmer's term order (terms sorted by decreasing number of levels)
    res[[key]] <- list(default = summ(f_default), tight = summ(f_tight),
                       devfun = lapply(cs$thetas, function(t) list(theta = t, deviance = dev(t))),
                       theta_order = I(names(getME(f_tight, "cnms"))))
  }
  res$terms <- I(colnames(mm))
  res$X <- vl(unname(mm))
  res$ranef_reml <- lapply(ranef(lmer(cs$formula, data = d, control = tight)),
                           function(r) setNames(as.list(r[, 1]), rownames(r)))
  out$cases[[name]] <- res
}
## ---------------------------------------------------------------- battery
## Random unbalanced designs (seeds 1-12 and 35 of a generator): n in 30..300, 3-30 levels of g1
## crossed with 2-8 levels of g2, true variances from zero (boundary) to large, residual SD 0.01-100.
## Fitted with (1 | g1) and (1 | g1) + (1 | g2), REML and ML, tight control; seed 35 (g2 with two
## levels, REML) is where an optimiser stopping at a projected theta = 0 misses by 0.007.
tight_quiet <- lmerControl(optimizer = "nloptwrap", check.conv.singular = "ignore",
                           optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-15, xtol_rel = 0, ftol_rel = 0, maxeval = 1e5))
battery <- list(); fits <- list()
for (s in c(1:12, 35)) {
  set.seed(s)
  n <- sample(30:300, 1); G1 <- sample(3:30, 1); G2 <- sample(2:8, 1)
  g1 <- sample(G1, n, replace = TRUE); g2 <- sample(G2, n, replace = TRUE)
  x <- rnorm(n); z <- rbinom(n, 1, 0.4)
  t1 <- sample(c(0, 0.05, 0.3, 1, 3), 1); t2 <- sample(c(0, 0.2, 1), 1)
  y <- 2 + x - z + t1 * rnorm(G1)[g1] + t2 * rnorm(G2)[g2] + rnorm(n) * sample(c(0.01, 1, 100), 1)
  battery[[length(battery) + 1]] <- data.frame(set = s, y = round(y, 8), x = round(x, 8), z, g1, g2)
}
battery <- do.call(rbind, battery)
write.csv(battery, "lmm/battery.csv", row.names = FALSE)
battery <- read.csv("lmm/battery.csv")
for (s in unique(battery$set)) {
  d <- battery[battery$set == s, ]
  for (reml in c(TRUE, FALSE)) {
    for (k in 1:2) {
      fm <- if (k == 1) y ~ x + z + (1 | g1) else y ~ x + z + (1 | g1) + (1 | g2)
      ## nloptr's "roundoff limited" stop at these tolerances is reported as a warning, not an error
      f <- suppressWarnings(lmer(fm, d, REML = reml, control = tight_quiet))
      fits[[length(fits) + 1]] <- list(set = s, reml = reml, groups = I(if (k == 1) "g1" else c("g1", "g2")),
                                       criterion = -2 * as.numeric(logLik(f)), coef = unname(fixef(f)),
                                       se = unname(sqrt(diag(as.matrix(vcov(f))))),
                                       theta = as.list(getME(f, "theta")))
    }
  }
}
out$battery <- list(data = "lmm/battery.csv", formula = "y ~ x + z", fits = fits)
cat("\nbattery:", length(fits), "fits\n")

print(warnings())
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "lmm/lmm.json")
sessionInfo()
