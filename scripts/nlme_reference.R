# Independent REML MMRM for the trial model's agreement test (tests/test_recovery.py).
#
# Reads tests/data/mmrm_reference/data.csv (simulated by scripts/mmrm_reference_data.py: one
# outcome, one site, three visits, a non-exchangeable covariance and dropout missing at random)
# and fits the constrained longitudinal model with an unstructured covariance by REML:
# nlme::gls with corSymm (a correlation per pair of visits) and varIdent (a variance per visit).
# Then the baseline-as-covariate MMRM (ANCOVA at every visit) on the same data.
# Writes tests/data/mmrm_reference/nlme.csv.
#
# Then reads tests/data/mmrm_reference/weeks.csv (a trial in weeks 0, 1, 4, 12: unequal spacing,
# 16 teams, dropout at random, some patients without a baseline) and fits, by REML:
#   - the constrained model without team effects (gls, corSymm + varIdent);
#   - the constrained model with team intercepts (lme, random = ~1 | site, the same unstructured
#     within-patient covariance);
#   - the baseline-as-covariate MMRM (gls, corSymm + varIdent on the post-baseline visits);
#   - the constrained model with AR(1) correlation in continuous time (corCAR1 on the week: the
#     correlation decays with the weeks between visits) and one variance.
# Writes tests/data/mmrm_reference/nlme_weeks.csv. Run by hand after changing the data:
#
#   apt-get install r-base-core r-cran-nlme
#   python scripts/mmrm_reference_data.py && Rscript scripts/nlme_reference.R
suppressPackageStartupMessages(library(nlme))
dir <- "tests/data/mmrm_reference"
# The baseline-as-covariate data: post-baseline rows with the change from baseline (chg), the
# baseline centred over the patients kept (base_c), the visit factor and its index (v).
ancova_rows <- function(d, time) {
  base <- d[d[[time]] == 0, c("patient_id", "value")]
  names(base)[2] <- "base"
  a <- merge(d[d[[time]] > 0, ], base, by = "patient_id")
  a <- a[order(a$patient_id, a[[time]]), ]
  a$chg <- a$value - a$base
  a$base_c <- a$base - mean(base$base[base$patient_id %in% a$patient_id])
  a$visit <- factor(a[[time]])
  a$v <- as.integer(a$visit)
  a
}
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
a <- ancova_rows(d, "month")
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

# ---- the weeks trial ----
w <- read.csv(file.path(dir, "weeks.csv"))
w <- w[order(w$site, w$patient_id, w$time), ]
w$visit <- factor(w$time)
w$v <- as.integer(w$visit)
follow <- sort(unique(w$time))[-1]
trt <- paste0("trt", follow)
for (k in seq_along(follow)) w[[trt[k]]] <- as.numeric(w$arm == "active" & w$time == follow[k])
f <- as.formula(paste("value ~ visit +", paste(trt, collapse = " + ")))
rows <- function(model, coefs, analysis) {
  data.frame(analysis = analysis, time = follow, estimate = unname(coefs[trt]),
             se = unname(summary(model)$tTable[trt, "Std.Error"]))
}
un <- gls(f, data = w, correlation = corSymm(form = ~ v | patient_id),
          weights = varIdent(form = ~ 1 | visit), method = "REML")
team <- lme(f, data = w, random = ~ 1 | site,
            correlation = corSymm(form = ~ v | site / patient_id),
            weights = varIdent(form = ~ 1 | visit), method = "REML",
            control = lmeControl(maxIter = 200, msMaxIter = 200))
car <- gls(f, data = w, correlation = corCAR1(form = ~ time | patient_id), method = "REML")
a <- ancova_rows(w, "time")
fa <- as.formula(paste("chg ~ visit +", paste(trt, collapse = " + "), "+ visit:base_c"))
anc <- gls(fa, data = a, correlation = corSymm(form = ~ v | patient_id),
           weights = varIdent(form = ~ 1 | visit), method = "REML")
ow <- rbind(
  rows(un, coef(un), "constrained, unstructured"),
  rows(team, fixef(team), "constrained, unstructured, team intercepts"),
  rows(car, coef(car), "constrained, AR(1) in time"),
  rows(anc, coef(anc), "baseline as covariate (ANCOVA), unstructured")
)
ow <- rbind(ow, data.frame(analysis = "team SD", time = NA,
                           estimate = as.numeric(VarCorr(team)["(Intercept)", "StdDev"]), se = NA),
            data.frame(analysis = "AR(1) correlation per week", time = NA,
                       estimate = unname(coef(car$modelStruct$corStruct, unconstrained = FALSE)),
                       se = NA))
ow$software <- paste("R", getRversion(), "nlme", packageVersion("nlme"))
write.csv(ow, file.path(dir, "nlme_weeks.csv"), row.names = FALSE)
print(ow)
