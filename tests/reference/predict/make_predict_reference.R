# Reference values for c2stats.predict and c2stats.figures (Kaplan-Meier, Cox/Weibull predicted
# survival, predicted probabilities, marginal effects, stateful formula transforms on new data).
# Run from tests/reference/:
#   Rscript predict/make_predict_reference.R > predict/make_predict_reference.Rout
# Writes predict/predict_reference.json (full precision). Data: data/lung.csv, data/mid.csv,
# data/mexico.csv (the CSVs c2stats reads, re-read here so both sides see identical input).
suppressPackageStartupMessages({library(survival); library(splines); library(nnet); library(jsonlite)})
options(digits = 15)
cat(R.version.string, "\n")
cat("survival", as.character(packageVersion("survival")), " nnet", as.character(packageVersion("nnet")), "\n")
out <- list(meta = list(R = R.version.string, survival = as.character(packageVersion("survival")),
                        nnet = as.character(packageVersion("nnet"))))
lung <- read.csv("data/lung.csv")
mid <- read.csv("data/mid.csv")
mexico <- read.csv("data/mexico.csv")

# --- Kaplan-Meier by sex (survfit defaults: log CI, Greenwood variance) -------------------------
km_case <- function(fit) {
  strata <- if (is.null(fit$strata)) rep("all", length(fit$time)) else rep(names(fit$strata), fit$strata)
  list(strata = strata, time = fit$time, n_risk = fit$n.risk, n_event = fit$n.event, n_censor = fit$n.censor,
       surv = fit$surv, std_err = fit$std.err, lower = fit$lower, upper = fit$upper)
}
km <- survfit(Surv(time, event) ~ sex, data = lung)
print(km)
out$km_sex_log <- km_case(km)
out$km_sex_loglog <- km_case(survfit(Surv(time, event) ~ sex, data = lung, conf.type = "log-log"))
out$km_sex_plain <- km_case(survfit(Surv(time, event) ~ sex, data = lung, conf.type = "plain"))
out$km_all_90 <- km_case(survfit(Surv(time, event) ~ 1, data = lung, conf.int = 0.9))
risk_times <- c(0, 250, 500, 750, 1000)
s <- summary(km, times = risk_times, extend = TRUE)
print(s)
out$km_sex_risk <- list(times = risk_times, strata = as.character(s$strata), time = s$time, n_risk = s$n.risk)

# --- Cox predicted survival (survfit.coxph, newdata; Efron; log CI) -----------------------------
cox <- coxph(Surv(time, event) ~ age + sex + ph_ecog, data = lung)
nd <- data.frame(age = mean(lung$age), sex = c(1, 2), ph_ecog = mean(lung$ph_ecog))
sf <- survfit(cox, newdata = nd)
print(summary(sf, times = c(100, 300, 500)))
out$cox_curves <- list(newdata = nd, time = sf$time, n_risk = sf$n.risk, surv = unname(sf$surv),
                       std_err = unname(sf$std.err), lower = unname(sf$lower), upper = unname(sf$upper))
coxcl <- coxph(Surv(time, event) ~ age + sex + ph_ecog, data = lung, cluster = inst)
sfc <- survfit(coxcl, newdata = nd)
out$cox_curves_cluster <- list(newdata = nd, time = sfc$time, surv = unname(sfc$surv),
                               std_err = unname(sfc$std.err), lower = unname(sfc$lower), upper = unname(sfc$upper))
coxst <- coxph(Surv(time, event) ~ age + ph_ecog + strata(sex), data = lung)
ndst <- data.frame(age = c(60, 60), ph_ecog = c(1, 1), sex = c(1, 2))
sfs <- survfit(coxst, newdata = ndst)  # one curve per row, in that row's stratum
sfs_strata <- rep(names(sfs$strata), sfs$strata)
out$cox_curves_strata <- list(newdata = ndst, strata = sfs_strata, time = sfs$time, surv = unname(sfs$surv),
                              std_err = unname(sfs$std.err), lower = unname(sfs$lower), upper = unname(sfs$upper))

# --- Weibull PH predicted survival, by hand from survreg's coefficients and vcov ---------------
wb <- survreg(Surv(time, event) ~ age + sex + ph_ecog, data = lung, dist = "weibull")
times <- c(50, 100, 200, 400, 800)
Xw <- cbind(1, nd$age, nd$sex, nd$ph_ecog)
V <- vcov(wb)  # (Intercept, age, sex, ph_ecog, Log(scale))
sigma <- wb$scale
z <- qnorm(0.975)
wcurves <- list()
for (i in 1:nrow(Xw)) {
  lp <- sum(Xw[i, ] * coef(wb))
  logH <- (log(times) - lp) / sigma
  G <- cbind(matrix(-Xw[i, ] / sigma, nrow = length(times), ncol = 4, byrow = TRUE), -logH)
  se <- sqrt(rowSums((G %*% V) * G))
  wcurves[[i]] <- list(time = times, surv = exp(-exp(logH)), se_logH = se,
                       lower = exp(-exp(logH + z * se)), upper = exp(-exp(logH - z * se)),
                       surv_psurvreg = 1 - psurvreg(times, lp, sigma, "weibull"))
}
out$weibull_curves <- list(newdata = nd, curves = wcurves)

# --- Predicted probabilities: logit and probit glm, power over a grid, others at means --------
grid <- seq(0, 1, length.out = 11)
means <- colMeans(mid)
pred_case <- function(link) {
  g <- glm(conflict ~ major + contig + power + maxdem + mindem + years, family = binomial(link), data = mid,
           control = glm.control(epsilon = 1e-14, maxit = 100))
  nd <- data.frame(major = means["major"], contig = means["contig"], power = grid, maxdem = means["maxdem"],
                   mindem = means["mindem"], years = means["years"], row.names = NULL)
  pl <- predict(g, nd, type = "link", se.fit = TRUE)
  pr <- predict(g, nd, type = "response", se.fit = TRUE)
  inv <- g$family$linkinv
  list(coef = unname(coef(g)), power = grid, eta = unname(pl$fit), se_eta = unname(pl$se.fit),
       prob = unname(pr$fit), se_prob = unname(pr$se.fit),
       lower_link = unname(inv(pl$fit - z * pl$se.fit)), upper_link = unname(inv(pl$fit + z * pl$se.fit)),
       lower_response = unname(pr$fit - z * pr$se.fit), upper_response = unname(pr$fit + z * pr$se.fit))
}
out$predicted_logit <- pred_case("logit")
out$predicted_probit <- pred_case("probit")

# --- Stateful transforms on new data: poly(), bs(), scale() through predict() -------------------
tr <- glm(conflict ~ poly(years, 2) + bs(power, df = 4) + scale(maxdem) + contig, family = binomial, data = mid,
          control = glm.control(epsilon = 1e-14, maxit = 100))
ndt <- data.frame(years = c(0, 5, 20, 46, 50), power = c(-0.05, 0.2, 0.5, 0.9, 1.05),
                  maxdem = c(-10, 0, 3, 10, 10), contig = c(0, 1, 0, 1, 0))
tt <- delete.response(terms(tr))
Xt <- model.matrix(tt, model.frame(tt, ndt))
pt <- suppressWarnings(predict(tr, ndt, type = "link", se.fit = TRUE))  # bs warns for power beyond the boundary
print(Xt)
out$transforms <- list(newdata = ndt, names = colnames(Xt), matrix = unname(Xt), coef = unname(coef(tr)),
                       eta = unname(pt$fit), se_eta = unname(pt$se.fit))

# --- Marginal effects from an interaction, by hand from coef and vcov ---------------------------
me <- glm(conflict ~ power * maxdem + contig + years, family = binomial, data = mid,
          control = glm.control(epsilon = 1e-14, maxit = 100))
b <- coef(me); Vm <- vcov(me)
mgrid <- c(-10, -5, 0, 5, 10)
lin <- sapply(mgrid, function(m) b["power"] + b["power:maxdem"] * m)
lin_se <- sapply(mgrid, function(m) {
  g <- c(0, 1, 0, 0, 0, m); names(g) <- names(b)  # (Intercept) power maxdem contig years power:maxdem
  sqrt(drop(t(g) %*% Vm %*% g))
})
prob <- prob_se <- numeric(length(mgrid))
for (k in seq_along(mgrid)) {
  x <- c(1, mean(mid$power), mgrid[k], mean(mid$contig), mean(mid$years), mean(mid$power) * mgrid[k])
  eta <- sum(x * b); s <- b["power"] + b["power:maxdem"] * mgrid[k]
  f <- dlogis(eta); fp <- f * (1 - 2 * plogis(eta))
  ds <- c(0, 1, 0, 0, 0, mgrid[k])
  grad <- fp * s * x + f * ds
  prob[k] <- f * s
  prob_se[k] <- sqrt(drop(t(grad) %*% Vm %*% grad))
}
out$marginal_logit <- list(names = names(b), coef = unname(b), moderator = mgrid, effect_link = unname(lin),
                           se_link = unname(lin_se), effect_prob = unname(prob), se_prob = unname(prob_se))
# binary moderator: the effect of power for contig = 0 / 1 in power * contig
mc <- glm(conflict ~ power * contig + maxdem + years, family = binomial, data = mid,
          control = glm.control(epsilon = 1e-14, maxit = 100))
bc <- coef(mc); Vc <- vcov(mc)
gc <- rbind(c(0, 1, 0, 0, 0, 0), c(0, 1, 0, 0, 0, 1))
out$marginal_binary <- list(names = names(bc), contig = c(0, 1), effect_link = drop(gc %*% bc),
                            se_link = sqrt(diag(gc %*% Vc %*% t(gc))))

# --- Multinomial logit: nnet::multinom probabilities over age, others at means; delta method --
mexico$vote88 <- factor(mexico$vote88)
mn <- multinom(vote88 ~ pristr + othcok + othsocok + female + age + school, data = mexico, reltol = 1e-14,
               maxit = 1000, trace = FALSE, Hess = TRUE)
ages <- c(20, 40, 60, 80)
mm <- colMeans(mexico[, c("pristr", "othcok", "othsocok", "female", "age", "school")])
ndm <- data.frame(pristr = mm["pristr"], othcok = mm["othcok"], othsocok = mm["othsocok"], female = mm["female"],
                  age = ages, school = mm["school"], row.names = NULL)
pm <- predict(mn, ndm, type = "probs")
B <- coef(mn)  # rows: categories 2, 3
Vmn <- vcov(mn)  # order: 2:(Intercept) ... 2:school, 3:(Intercept) ...
Xm <- cbind(1, as.matrix(ndm[, c("pristr", "othcok", "othsocok", "female", "age", "school")]))
se_mn <- matrix(NA, nrow(Xm), 3)
for (i in 1:nrow(Xm)) {
  eta <- drop(B %*% Xm[i, ]); ex <- exp(eta); p <- c(1, ex) / (1 + sum(ex))
  for (k in 1:3) {  # category k (1 = base); gradient wrt (beta_2, beta_3)
    g <- c(); for (j in 2:3) g <- c(g, p[k] * ((k == j) - p[j]) * Xm[i, ])
    se_mn[i, k] <- sqrt(drop(t(g) %*% Vmn %*% g))
  }
}
out$mnlogit <- list(age = ages, probs = unname(pm), se = se_mn, coef = unname(B))
print(pm)

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, matrix = "rowmajor"), "predict/predict_reference.json")
cat("written predict/predict_reference.json\n")
