# Reference for the Leeds & Anac (2005) Table 4 replication.
# The published coefficients are not available to us (the article is behind a paywall and no
# public copy of Table 4 was found); per the issue, R's estimates on the authors' replication data
# are the reference. Specification from the authors' do-file LeedsAnacIIrep.do
# ("**Results reported in Table 4 and 5 / logit honor3 milinst formal chcap2d dinstch2 origtar1"),
# full sample (N = 137), Stata's default (model-based) standard errors, identical to glm's.
# Data: LeedsAnacIIrep.dta (joshuaalley/treaty-depth@ce45295, data/leeds-anac-replication/),
# shipped as c2stats/examples/leeds_anac_2005.csv.
# Run: Rscript leeds_anac.R > leeds_anac.out
library(foreign)
x <- read.dta(Sys.getenv("LEEDS_ANAC_DTA", "LeedsAnacIIrep.dta"))
m <- glm(honor3 ~ milinst + formal + chcap2d + dinstch2 + origtar1, family = binomial, data = x)
cat(R.version.string, "\n")
print(summary(m)$coefficients, digits = 12)
cat("nobs", nobs(m), "\n")
print(logLik(m), digits = 12)
