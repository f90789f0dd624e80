# Reference values for tests/renderers/test_api.py: Result.conf_int at a level other than the model's and
# Result.predict (c2stats.predict_result) on new data, from R's confint / confint.default / predict.
# Run from the repository root:  Rscript tests/reference/api/make_api_reference.R > tests/reference/api/make_api_reference.Rout
library(jsonlite)
mid <- read.csv("tests/reference/data/mid.csv")
grunfeld <- read.csv("tests/reference/data/grunfeld.csv")
logit <- glm(conflict ~ major + contig + power + maxdem + mindem + years, family = binomial, data = mid,
             control = glm.control(epsilon = 1e-14, maxit = 100))
ols <- lm(inv ~ value + capital, data = grunfeld)
ci_logit <- confint.default(logit, level = 0.90)   # Wald, normal quantile
ci_ols <- confint(ols, level = 0.90)               # t(df.residual)
newdata <- data.frame(major = c(0, 1), contig = c(1, 0), power = c(0.2, 0.8), maxdem = c(5, -5),
                      mindem = c(-3, 2), years = c(1, 10))
link <- predict(logit, newdata, type = "link", se.fit = TRUE)
resp <- predict(logit, newdata, type = "response", se.fit = TRUE)
out <- list(
  logit_ci90 = list(term = rownames(ci_logit), low = unname(ci_logit[, 1]), high = unname(ci_logit[, 2])),
  ols_ci90 = list(term = rownames(ci_ols), low = unname(ci_ols[, 1]), high = unname(ci_ols[, 2])),
  logit_predict = list(link = unname(link$fit), link_se = unname(link$se.fit),
                       response = unname(resp$fit), response_se = unname(resp$se.fit)),
  versions = list(R = R.version.string)
)
print(out)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "tests/reference/api/api_reference.json")
