# Small R files for tests/pipeline/test_read_data.py (R 4.2.2). plain.rds: a data frame with an integer, a
# double with NA, a factor with NA, a character column with NA and a Date; listcol.rds: the same with a
# list column, which pyreadr (librdata) refuses and rdata reads; two.rda: two objects (one data frame).
# Run from tests/reference/read_data: Rscript make_r_files.R
df <- data.frame(id = 1:5, x = c(1.5, NA, 3, 4, 5), g = factor(c("a", "b", "a", NA, "b")), s = c("u", "v", NA, "w", "x"),
                 d = as.Date("2020-01-01") + 0:4, stringsAsFactors = FALSE)
saveRDS(df, "plain.rds")
df$l <- I(list(1, 2:3, "a", NULL, 5)); saveRDS(df, "listcol.rds")
df2 <- df[, 1:5]; other <- 1:3; save(df2, other, file = "two.rda")

# labelled.dta: a Stata file whose 'regime' column carries value labels (foreign::write.dta turns a
# factor into codes 1..k with labels), and the lm() fit that value_labels = true must reproduce.
set.seed(16)
n <- 60
lab <- data.frame(regime = factor(sample(c("Democracy", "Anocracy", "Autocracy"), n, replace = TRUE),
                                  levels = c("Anocracy", "Autocracy", "Democracy")),
                  x = round(rnorm(n), 3))
lab$y <- round(1 + 0.5 * lab$x + c(Anocracy = 0, Autocracy = -1, Democracy = 1)[as.character(lab$regime)] + rnorm(n), 3)
lab$regime[c(3, 7)] <- NA
foreign::write.dta(lab, "labelled.dta")
fit <- lm(y ~ x + regime, lab)
print(summary(fit)$coefficients, digits = 15)
print(table(lab$regime, useNA = "ifany"))
