# Independent REML MMRM for the trial model's agreement test (tests/test_recovery.py).
#
# Reads tests/data/mmrm_reference/data.csv (simulated by scripts/mmrm_reference_data.py: one
# outcome, one site, three visits, a non-exchangeable covariance and dropout missing at random)
# and fits the constrained longitudinal model with an unstructured covariance by REML:
# nlme::gls with corSymm (a correlation per pair of visits) and varIdent (a variance per visit).
# Then the baseline-as-covariate MMRM (ANCOVA at every visit) on the same data.
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
# Baseline as covariate (ANCOVA MMRM): change from baseline at the post-baseline visits on
# visit, treatment by visit and centred baseline by visit, unstructured covariance by REML
base <- d[d$month == 0, c("patient_id", "value")]
names(base)[2] <- "base"
a <- merge(d[d$month > 0, ], base, by = "patient_id")
a <- a[order(a$patient_id, a$month), ]
a$chg <- a$value - a$base
a$base_c <- a$base - mean(base$base[base$patient_id %in% a$patient_id])
a$visit <- factor(a$month)
a$v <- as.integer(a$visit)
a$trt9 <- as.numeric(a$arm == "fact_rg" & a$month == 9)
a$trt18 <- as.numeric(a$arm == "fact_rg" & a$month == 18)
anc <- gls(chg ~ visit + trt9 + trt18 + visit:base_c, data = a,
           correlation = corSymm(form = ~ v | patient_id),
           weights = varIdent(form = ~ 1 | visit), method = "REML")
ca <- summary(anc)$tTable
out <- rbind(out,
  data.frame(quantity = "ancova_effect", month = 9, estimate = ca["trt9", "Value"], se = ca["trt9", "Std.Error"]),
  data.frame(quantity = "ancova_effect", month = 18, estimate = ca["trt18", "Value"], se = ca["trt18", "Std.Error"])
)
out$software <- paste("R", getRversion(), "nlme", packageVersion("nlme"))
write.csv(out, file.path(dir, "nlme.csv"), row.names = FALSE)
print(out)
