# Independent reference for the MAP prior (tests/test_map_prior.py): RBesT's normal-endpoint
# example (the crohn data of its "RBesT for a Normal Endpoint" vignette: placebo CDAI change in
# six historical trials, sigma = 88, se = 88 / sqrt(n)) with gMAP's model and priors
# (intercept N(0, 88), between-trial SD half-normal(0, 44)), fitted by brms/Stan: RBesT is not
# installable here (no CRAN access), and brms runs the same hierarchical model on the same Stan
# sampler. The MAP prior is the predictive distribution of a new trial's mean,
# b_Intercept + N(0, sd_study^2) per draw. Writes tests/data/map_reference/brms.csv.
#
#   apt-get install r-cran-brms
#   Rscript scripts/map_reference.R
suppressPackageStartupMessages(library(brms))
dir <- "tests/data/map_reference"
crohn <- data.frame(
  study = c("Gastr06", "AIMed07", "NEJM07", "Gastr01a", "APhTh04", "Gastr01b"),
  n = c(74, 166, 328, 20, 25, 58),
  y = c(-51, -49, -36, -47, -90, -54)
)
crohn$y.se <- 88 / sqrt(crohn$n)
write.csv(crohn, file.path(dir, "crohn.csv"), row.names = FALSE)
set.seed(689654)
fit <- brm(y | se(y.se) ~ 1 + (1 | study), data = crohn,
           prior = c(prior(normal(0, 88), class = Intercept),
                     prior(normal(0, 44), class = sd)),
           chains = 4, iter = 12000, warmup = 2000, seed = 689654, refresh = 0,
           control = list(adapt_delta = 0.99))
d <- as_draws_df(fit)
theta <- d$b_Intercept + rnorm(nrow(d), 0, d$sd_study__Intercept)
q <- quantile(theta, c(0.025, 0.5, 0.975))
out <- data.frame(
  quantity = c("map_mean", "map_sd", "map_q025", "map_q50", "map_q975", "mu_mean", "mu_sd",
               "tau_median", "draws"),
  value = c(mean(theta), sd(theta), q[1], q[2], q[3], mean(d$b_Intercept), sd(d$b_Intercept),
            median(d$sd_study__Intercept), length(theta))
)
out$software <- paste("R", getRversion(), "brms", packageVersion("brms"))
write.csv(out, file.path(dir, "brms.csv"), row.names = FALSE)
print(out)
