# Hand look-ups in the raw rDMC wide file (Gannon 2023, ISQ 67(4)) for tests/datasets/test_datasets.py.
# Source: ../shared/data/raw/gannon_dodl/rDMC_wide_v1.rds (the shared folder beside the repository) = jandresgannon/DoDL @ 8f347cd4,
# data/rDMC_wide_v1.rds. Run from the repository root:
#   Rscript tests/reference/rdmc/rdmc_lookup.R > tests/reference/rdmc/rdmc_lookup.txt
# Rule checked (docs/data.md): a missing class count takes the state's last counted value in that
# class (0 before its first count); n = sum of the 10 classes; netech = log(1 + n); uav = 1 if the
# recon-surveillance or combat UAV count is positive. Written independently of c2stats (base R).
x <- readRDS(file.path(Sys.getenv("C2STATS_SHARED", "../shared"), "data/raw/gannon_dodl/rDMC_wide_v1.rds"))  # run from the repository root
k <- c("aircraft_aew", "aircraft_ew", "aircraft_recon-surveil", "helicopters_ew",
       "unmanned aerial vehicles_recon-surveil", "unmanned aerial vehicles_combat",
       "radars_air defense/early warning", "radars_ISR/battlefield surveil", "radars_communications",
       "logistics and support_surveillance and intelligence")
carried <- function(cc, yr, col) {
  s <- x[x$ccode == cc & x$year <= yr & !is.na(x[[col]]), c("year", col)]
  if (nrow(s) == 0) return(0)
  s[[col]][which.max(s$year)]
}
picks <- data.frame(ccode = c(2, 200, 2, 365, 2, 200, 666, 339, 2, 200, 666, 365, 666),
                    year = c(2010, 2010, 1995, 1995, 1970, 1995, 2005, 1970, 2014, 2014, 1995, 2010, 2010))
for (i in seq_len(nrow(picks))) {
  cc <- picks$ccode[i]; yr <- picks$year[i]
  r <- x[x$ccode == cc & x$year == yr, ]
  cat(sprintf("== %s (ccode %d) %d: rows %d\n", r$stateabb, cc, yr, nrow(r)))
  filled <- sapply(k, function(col) carried(cc, yr, col))
  for (col in k) cat(sprintf("  %-53s raw %6s  filled %6s\n", col, format(r[[col]]), format(filled[[col]])))
  n <- sum(filled)
  cat(sprintf("  n = %d; netech = log1p(n) = %.6f; uav = %d\n", as.integer(n), log1p(n),
              as.integer(sum(filled[5:6]) > 0)))
}
cat(sprintf("rows for Bhutan (760) in 2000: %d\n", sum(x$ccode == 760 & x$year == 2000)))
cat(sprintf("years %d-%d; rows %d; ccode-year duplicates %d\n", min(x$year), max(x$year), nrow(x),
            sum(duplicated(x[c("ccode", "year")]))))
