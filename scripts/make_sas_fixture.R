# Writes tests/data/sas/adeff.sas7bdat: a small ADaM-style (BDS) efficacy data set in SAS's
# own format, for the import round-trip test, with the long data it must import to beside it
# (adeff_expected.csv). Run from the project root: Rscript scripts/make_sas_fixture.R
# Needs R with haven (Debian: apt-get install r-cran-haven).
suppressPackageStartupMessages(library(haven))
set.seed(20261129)
sites <- sprintf("team%02d", 1:4)
rows <- list(); expected <- list()
for (i in 1:24) {
  id <- sprintf("RG-%03d", i)
  site <- sites[(i - 1) %% 4 + 1]
  arm <- if (i %% 2 == 1) "fact_rg" else "fact"
  base <- round(rnorm(1, 3.2, 0.5), 3)
  expected[[length(expected) + 1]] <- data.frame(
    trial = "resource_groups", patient_id = id, site = site, arm = arm,
    outcome = "empowerment", month = 0, value = base)
  for (month in c(9, 18)) {
    if (i %% 5 == 0 && month == 18) next  # a fifth of the patients lost by the last visit
    aval <- round(base + rnorm(1, 0.1 * (arm == "fact_rg") * month / 9, 0.4), 3)
    rows[[length(rows) + 1]] <- data.frame(
      STUDYID = "RG2021", USUBJID = id, SITEID = site,
      TRT01P = if (arm == "fact_rg") "FACT plus resource group" else "FACT as usual",
      PARAMCD = "NEL", AVISIT = sprintf("Month %d", month), AVISITN = month,
      AVAL = aval, BASE = base, CHG = round(aval - base, 3))
    expected[[length(expected) + 1]] <- data.frame(
      trial = "resource_groups", patient_id = id, site = site, arm = arm,
      outcome = "empowerment", month = month, value = aval)
  }
}
adeff <- do.call(rbind, rows)
write_sas(adeff, "tests/data/sas/adeff.sas7bdat")
write.csv(do.call(rbind, expected), "tests/data/sas/adeff_expected.csv", row.names = FALSE)
cat("wrote tests/data/sas/adeff.sas7bdat:", nrow(adeff), "rows\n")
