# Reference for tests/renderers/test_tables.py: ratio tables (exponentiate = true) computed by R itself.
# Run from the repository root:  Rscript tests/reference/tables/make_ratio_reference.R > tests/reference/tables/make_ratio_reference.Rout
# Writes tests/reference/tables/ratios.json.
#   hr / lower / upper : summary(fit)$conf.int columns "exp(coef)", "lower .95", "upper .95" (exp of the Wald limits;
#                        with cluster(), R uses the robust variance)
#   hr_se              : exp(coef) * se(coef), the delta-method SE of the ratio (Stata's eform SE)
#   logit              : glm(binomial) odds ratios with exp(confint.default()) (Wald limits)
suppressPackageStartupMessages(library(survival))
options(digits = 15)
lung <- read.csv("tests/reference/data/lung.csv")
mid <- read.csv("tests/reference/data/mid.csv")

ratios <- function(est, se, ci) {
  out <- list()
  for (term in names(est)) {
    out[[term]] <- list(ratio = unname(exp(est[term])), ratio_se = unname(exp(est[term]) * se[term]),
                        lower = unname(ci[term, 1]), upper = unname(ci[term, 2]))
  }
  out
}

efron <- coxph(Surv(time, event) ~ age + sex + ph_ecog, data = lung, ties = "efron")
clust <- coxph(Surv(time, event) ~ age + sex + ph_ecog, data = lung, ties = "efron", cluster = inst)
logit <- glm(conflict ~ major + contig + power + maxdem + mindem + years, data = mid, family = binomial(),
             control = glm.control(epsilon = 1e-14, maxit = 100))

ci_of <- function(fit) summary(fit)$conf.int[, c("lower .95", "upper .95"), drop = FALSE]
print(summary(efron)$conf.int)
print(summary(clust)$conf.int)
print(exp(cbind(coef(logit), confint.default(logit))))

result <- list(
  R = R.version.string, survival = as.character(packageVersion("survival")),
  cox_efron = ratios(coef(efron), sqrt(diag(vcov(efron))), ci_of(efron)),
  cox_cluster_inst = ratios(coef(clust), sqrt(diag(vcov(clust))), ci_of(clust)),
  logit_mid = ratios(coef(logit), sqrt(diag(vcov(logit))), exp(confint.default(logit)))
)

to_json <- function(x, indent = "") {
  inner <- paste0(indent, "  ")
  if (is.list(x)) {
    keys <- names(x)
    body <- vapply(keys, function(k) paste0(inner, '"', k, '": ', to_json(x[[k]], inner)), "")
    return(paste0("{\n", paste(body, collapse = ",\n"), "\n", indent, "}"))
  }
  if (is.character(x)) return(paste0('"', x, '"'))
  sprintf("%.17g", x)
}
writeLines(to_json(result), "tests/reference/tables/ratios.json")
