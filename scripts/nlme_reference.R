# Independent REML MMRM for the trial model's agreement test (tests/test_recovery.py).
#
# Reads tests/data/mmrm_reference/data.csv (simulated by scripts/mmrm_reference_data.py: one
# outcome, one site, three visits, a non-exchangeable covariance and dropout missing at random)
# and fits the constrained longitudinal model with an unstructured covariance by REML:
# nlme::gls with corSymm (a correlation per pair of visits) and varIdent (a variance per visit).
# Writes tests/data/mmrm_reference/nlme.csv. Run once, by hand, after changing the data:
#
#   apt-get install r-base-core r-cran-nlme
#   Rscript scripts/nlme_reference.R
suppressPackageStartupMessages(library(nlme))
dir <- "tests/data/mmrm_reference"
d <- read.csv(file.path(dir, "data.csv"))
d <- d[order(d$patient_id, d$month), ]
d$visit <- factor(d$month)
d$v <- as.integer(d$visit)
treated <- d$arm == "fact_rg"
# cLDA: visit means shared by the arms at baseline; the effects at the follow-up visits
d$trt9 <- as.numeric(treated & d$month == 9)
d$trt18 <- as.numeric(treated & d$month == 18)
fit <- gls(value ~ visit + trt9 + trt18, data = d,
           correlation = corSymm(form = ~ v | patient_id),
           weights = varIdent(form = ~ 1 | visit), method = "REML")
co <- summary(fit)$tTable
sds <- fit$sigma * c(1, coef(fit$modelStruct$varStruct, unconstrained = FALSE))
names(sds) <- c(levels(d$visit)[1], names(coef(fit$modelStruct$varStruct, unconstrained = FALSE)))
# correlations in the order (0, 9), (0, 18), (9, 18)
rho <- unname(coef(fit$modelStruct$corStruct, unconstrained = FALSE))
out <- rbind(
  data.frame(quantity = "effect", month = 9, estimate = co["trt9", "Value"], se = co["trt9", "Std.Error"]),
  data.frame(quantity = "effect", month = 18, estimate = co["trt18", "Value"], se = co["trt18", "Std.Error"]),
  data.frame(quantity = "sd", month = as.numeric(names(sds)), estimate = unname(sds), se = NA),
  data.frame(quantity = "corr_0_9", month = NA, estimate = rho[1], se = NA),
  data.frame(quantity = "corr_0_18", month = NA, estimate = rho[2], se = NA),
  data.frame(quantity = "corr_9_18", month = NA, estimate = rho[3], se = NA)
)
out$software <- paste("R", getRversion(), "nlme", packageVersion("nlme"))
write.csv(out, file.path(dir, "nlme.csv"), row.names = FALSE)
print(out)
