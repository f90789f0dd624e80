# Reference numbers for c2stats.describe (tests/renderers/test_describe.py): summary statistics and crosstabs
# of the shipped lung example with ph_ecog set missing where age > 75 (so missing values are counted).
# Run from the repository root:
#   Rscript tests/reference/describe/make_describe_reference.R > tests/reference/describe/make_describe_reference.Rout 2>&1
library(jsonlite)
d <- read.csv("c2stats/examples/lung.csv")
d$ph_ecog[d$age > 75] <- NA
stat <- function(x) list(n = sum(!is.na(x)), mean = mean(x, na.rm = TRUE), sd = sd(x, na.rm = TRUE),
                         min = min(x, na.rm = TRUE), max = max(x, na.rm = TRUE), missing = sum(is.na(x)))
summ <- list()
for (v in c("age", "ph_ecog")) {
  summ[[v]] <- list(All = stat(d[[v]]))
  for (g in sort(unique(d$sex))) summ[[v]][[as.character(g)]] <- stat(d[[v]][d$sex == g])
}
tab_drop <- table(d$ph_ecog, d$sex)                    # rows with NA dropped
tab_na <- table(d$ph_ecog, d$sex, useNA = "ifany")     # NA its own category
long <- function(tab) {
  rs <- prop.table(tab, 1); cs <- prop.table(tab, 2)
  out <- list()
  for (r in rownames(tab)) for (c in colnames(tab)) {
    key <- paste(ifelse(is.na(r), "NA", r), c, sep = "|")
    out[[key]] <- list(n = tab[r, c], row_share = rs[r, c], col_share = cs[r, c])
  }
  out
}
dimnames(tab_na) <- lapply(dimnames(tab_na), function(x) ifelse(is.na(x), "NA", x))
oneway <- table(d$ph_ecog, useNA = "ifany")
names(oneway)[is.na(names(oneway))] <- "NA"
ref <- list(summary = summ, crosstab = long(tab_drop), crosstab_missing = long(tab_na),
            oneway_missing = as.list(oneway), oneway_missing_share = as.list(prop.table(oneway)),
            r_version = R.version.string)
print(tab_drop); print(tab_na); print(oneway)
writeLines(toJSON(ref, auto_unbox = TRUE, digits = 15, pretty = TRUE), "tests/reference/describe/describe_reference.json")
