## R reference values for c2stats.hypotheses: Wald tests (car::linearHypothesis), likelihood-ratio
## tests (anova / lmtest::lrtest) and p-value corrections (p.adjust) on the lung Cox model, the mid
## logit and the Grunfeld OLS.
## Run from tests/reference/:
##   Rscript hypotheses/make_hypotheses_reference.R > hypotheses/make_hypotheses_reference.Rout 2>&1
## Writes hypotheses/hypotheses.json. R 4.2.2, car 3.1-1, lmtest 0.9-40, sandwich 3.0-2, survival 3.5-3.
suppressPackageStartupMessages({
  library(survival); library(car); library(lmtest); library(sandwich); library(jsonlite)
})
out <- list(meta = list(R = R.version.string,
  packages = lapply(c(survival = "survival", car = "car", lmtest = "lmtest", sandwich = "sandwich"),
                    function(p) as.character(packageVersion(p)))))
ctl <- coxph.control(eps = 1e-11, iter.max = 100)
gctl <- glm.control(epsilon = 1e-14, maxit = 100)

## one linearHypothesis: value (R b - r), its variance, the statistic (Chisq or F), df and p
lh <- function(model, hyp, vc = NULL, test = NULL) {
  args <- list(model, hyp)
  if (!is.null(vc)) args$vcov. <- vc
  if (!is.null(test)) args$test <- test
  h <- do.call(linearHypothesis, args)
  stat_col <- if ("Chisq" %in% names(h)) "Chisq" else "F"
  p_col <- grep("^Pr\\(", names(h), value = TRUE)
  list(hypothesis = hyp, value = unname(c(attr(h, "value"))), vcov = unname(c(attr(h, "vcov"))),
       statistic_name = stat_col, statistic = unname(h[[stat_col]][2]), df = unname(h$Df[2]),
       p = unname(h[[p_col]][2]), res_df = if ("Res.Df" %in% names(h)) unname(h$Res.Df[2]) else NULL)
}
print(linearHypothesis)  # the version's code, for the record

## ------------------------------------------------------------------ lung Cox (Efron)
lung <- read.csv("data/lung.csv")
cox_full <- coxph(Surv(time, event) ~ age + sex + ph_ecog, data = lung, control = ctl)
cox_small <- coxph(Surv(time, event) ~ age, data = lung, control = ctl)
cox_cl <- coxph(Surv(time, event) ~ age + sex + ph_ecog, data = lung, cluster = inst, control = ctl)
cox_int <- coxph(Surv(time, event) ~ age + sex * ph_ecog, data = lung, control = ctl)
print(summary(cox_int))
a <- anova(cox_small, cox_full)
lr <- lrtest(cox_small, cox_full)
out$lung <- list(
  coef = as.list(coef(cox_full)),
  sex = lh(cox_full, "sex = 0"),
  sex_plus_ecog = lh(cox_full, "sex + ph_ecog = 0"),
  joint_age_ecog = lh(cox_full, c("age = 0", "ph_ecog = 0")),
  chain_sex_ecog = lh(cox_full, c("sex - ph_ecog = 0", "ph_ecog = 0")),
  cluster_sex = lh(cox_cl, "sex = 0"),
  cluster_joint = lh(cox_cl, c("age = 0", "sex = 0", "ph_ecog = 0")),
  interaction_coef = as.list(coef(cox_int)),
  marginal_ecog_at_sex1 = lh(cox_int, "ph_ecog + sex:ph_ecog = 0"),
  marginal_ecog_at_sex2 = lh(cox_int, "ph_ecog + 2*sex:ph_ecog = 0"),
  lr = list(chisq = a$Chisq[2], df = a$Df[2], p = a[["Pr(>|Chi|)"]][2],
            lrtest_chisq = lr$Chisq[2], lrtest_p = lr[["Pr(>Chisq)"]][2],
            loglik_small = as.numeric(logLik(cox_small)), loglik_full = as.numeric(logLik(cox_full))))

## ------------------------------------------------------------------ mid logit
mid <- read.csv("data/mid.csv")
f <- conflict ~ major + contig + power + maxdem + mindem + years
logit <- glm(f, binomial, data = mid, control = gctl)
logit_small <- glm(conflict ~ major + contig + power + years, binomial, data = mid, control = gctl)
logit_int <- glm(conflict ~ major + contig * power + maxdem + mindem + years, binomial, data = mid, control = gctl)
lr <- lrtest(logit_small, logit)
a <- anova(logit_small, logit, test = "LRT")
out$mid <- list(
  coef = as.list(coef(logit)),
  maxdem_eq_mindem = lh(logit, "maxdem = mindem"),
  joint_major_contig = lh(logit, c("major = 0", "contig = 0")),
  hc1_maxdem_eq_mindem = lh(logit, "maxdem = mindem", vc = vcovHC(logit, type = "HC1")),
  hc1_joint_dem = lh(logit, c("maxdem = 0", "mindem = 0"), vc = vcovHC(logit, type = "HC1")),
  marginal_power_at_contig1 = lh(logit_int, "power + contig:power = 0"),
  years_z = unname(coef(summary(logit))["years", "z value"]),
  lr = list(chisq = lr$Chisq[2], df = lr$Df[2], p = lr[["Pr(>Chisq)"]][2], anova_deviance = a$Deviance[2],
            anova_p = a[["Pr(>Chi)"]][2]))

## ------------------------------------------------------------------ Grunfeld OLS (t and F reference)
gr <- read.csv("data/grunfeld.csv")
ols <- lm(inv ~ value + capital, data = gr)
ols_small <- lm(inv ~ value, data = gr)
out$grunfeld <- list(
  coef = as.list(coef(ols)),
  df_residual = df.residual(ols),
  value_eq_capital = lh(ols, "value = capital"),
  joint_value_capital = lh(ols, c("value = 0", "capital = 0")),
  joint_value_capital_chisq = lh(ols, c("value = 0", "capital = 0"), test = "Chisq"),
  capital_t = unname(coef(summary(ols))["capital", "t value"]),
  capital_p_greater = unname(pt(coef(summary(ols))["capital", "t value"], df.residual(ols), lower.tail = FALSE)),
  lr = list(chisq = lrtest(ols_small, ols)$Chisq[2], p = lrtest(ols_small, ols)[["Pr(>Chisq)"]][2],
            df = lrtest(ols_small, ols)$Df[2]))

## ------------------------------------------------------------------ p.adjust
p <- c(0.001, 0.04, 0.03, 0.04, 0.2, 0.0125, NA, 0.9)
out$p_adjust <- list(p = p, holm = p.adjust(p, "holm"), bh = p.adjust(p, "BH"))

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, null = "null", na = "null"),
           "hypotheses/hypotheses.json")
print(sessionInfo())
