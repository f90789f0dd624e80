# Absorbed fixed effects: lm with factor dummies + sandwich (R's conventions) on plm's Produc and Cigar.
# Run: Rscript make_fe_reference.R > make_fe_reference.Rout 2>&1   (writes fe.json and the data CSVs)
suppressPackageStartupMessages({library(sandwich); library(jsonlite); library(plm)})
data("Produc", package = "plm"); data("Cigar", package = "plm")
write.csv(Produc, "produc.csv", row.names = FALSE)
write.csv(Cigar, "cigar.csv", row.names = FALSE)
produc <- read.csv("produc.csv"); cigar <- read.csv("cigar.csv")
cases <- list()
record <- function(id, fit, slopes, cluster = NULL) {
  V_model <- vcov(fit)[slopes, slopes]
  V_hc1 <- vcovHC(fit, type = "HC1")[slopes, slopes]
  out <- list(coef = unname(coef(fit)[slopes]), terms = slopes,
              se_model = unname(sqrt(diag(V_model))), se_hc1 = unname(sqrt(diag(V_hc1))),
              r2 = summary(fit)$r.squared, adj_r2 = summary(fit)$adj.r.squared,
              sigma = summary(fit)$sigma, df_resid = fit$df.residual, rank = fit$rank,
              loglik = as.numeric(logLik(fit)), aic = AIC(fit), bic = BIC(fit), nobs = nobs(fit))
  if (!is.null(cluster)) {
    V_cl <- vcovCL(fit, cluster = cluster, type = "HC1")[slopes, slopes]
    out$se_cluster_hc1 <- unname(sqrt(diag(V_cl)))
    out$p_cluster_hc1 <- unname(2 * pt(-abs(coef(fit)[slopes] / sqrt(diag(V_cl))), fit$df.residual))
  }
  cases[[id]] <<- out
}
f1 <- lm(log(gsp) ~ log(pcap) + log(pc) + log(emp) + unemp + factor(state) + factor(year), data = produc)
record("produc_twoway", f1, c("log(pcap)", "log(pc)", "log(emp)", "unemp"), cluster = ~region)
f2 <- lm(log(gsp) ~ log(pcap) + log(pc) + log(emp) + unemp + factor(state), data = produc)
record("produc_state", f2, c("log(pcap)", "log(pc)", "log(emp)", "unemp"), cluster = ~state)
f3 <- lm(log(sales) ~ log(price) + log(ndi) + pop16 + factor(state) + factor(year), data = cigar)
record("cigar_twoway", f3, c("log(price)", "log(ndi)", "pop16"), cluster = ~state)
# A within R2 (fixest's wr2) from the demeaned regression (FWL)
wr2 <- function(fit, fe_formula, data, resp) {
  yd <- resid(lm(as.formula(paste(resp, fe_formula)), data = data))
  1 - sum(resid(fit)^2) / sum(yd^2)
}
cases$produc_twoway$r2_within <- wr2(f1, "~ factor(state) + factor(year)", transform(produc, ly = log(gsp)), "ly")
cases$produc_state$r2_within <- wr2(f2, "~ factor(state)", transform(produc, ly = log(gsp)), "ly")
cases$cigar_twoway$r2_within <- wr2(f3, "~ factor(state) + factor(year)", transform(cigar, ly = log(sales)), "ly")
cases$meta <- list(R = R.version.string, sandwich = as.character(packageVersion("sandwich")),
                   plm = as.character(packageVersion("plm")))
writeLines(toJSON(cases, digits = NA, auto_unbox = TRUE, pretty = TRUE), "fe.json")
print(str(cases$produc_twoway))
