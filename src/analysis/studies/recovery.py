"""Parameter recovery: does the trial model find the truth on data it could have come from?

Data are simulated from a scenario whose within-patient covariance is *not* compound symmetric
(the variance grows over the visits and the correlation decays with time apart) and whose
dropout is missing at random, strongly dependent on the last visit attended. Under MAR the
likelihood-based estimate is unbiased only if the covariance model is right, so the unstructured
covariance (the primary analysis) should recover the final-visit effect and cover it at the
nominal rate, and compound symmetry need not. ``python -m analysis recovery`` runs the study;
``tests/test_recovery.py`` runs a small version of it and the README states the last full result.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from scipy import stats

from analysis import rules
from analysis.contract.scenario import Scenario, true_effects
from analysis.contract.simulate import scaled_scenario, simulate_trial
from analysis.trialmodel import fit
from analysis.trialmodel.model import prepare_trial_data
from analysis.trialmodel.summarise import contrast_draws

#: The outcome simulated (a 1-7 scale with room either side of its mean, so nothing is clipped).
OUTCOME = "quality_of_life"
#: Nominal coverage of the 95% credible intervals.
NOMINAL = 0.95


def recovery_scenario(n_patients: int) -> Scenario:
    """The recovery scenario (every number assumed, chosen to tell covariance models apart).

    One team (no team effects, so only the within-patient covariance matters), two arms, visits
    at 0, 9 and 18 months; residual SD 1.5x and 2.2x baseline at 9 and 18 months, residual
    correlation 0.9 per year (patient-effect share 0.1), dropout 30% before 9 and 40% before 18
    months among those still in, with log-odds -2 per baseline SD of a better last visit (MAR);
    true SMDs 0.3 at 9 and 0.5 at 18 months.
    """
    sc = scaled_scenario("resource_groups", n_patients, 1, outcomes=[OUTCOME])
    outcome = dataclasses.replace(
        sc.outcomes[OUTCOME],
        baseline_mean=4.0,
        baseline_sd=0.4,
        effect={"fact_rg": {9: 0.3, 18: 0.5}},
    )
    return dataclasses.replace(
        sc,
        outcomes={OUTCOME: outcome},
        site_share=0.0,
        patient_share=0.1,
        site_effect_sd=0.0,
        visit_sd_ratio={9: 1.5, 18: 2.2},
        residual_correlation_per_year=0.9,
        dropout={9: 0.3, 18: 0.4},
        dropout_slope=-2.0,
        dropout_mnar_slope=0.0,
    )


def recovery_study(
    n_patients: int,
    seeds: list[int],
    settings: fit.SamplerSettings,
    covariances: tuple[str, ...] = ("unstructured", "intercept"),
    cache: fit.ModelCache | None = None,
    log=print,
) -> pd.DataFrame:
    """Fit every covariance model to data simulated with each seed.

    Returns
    -------
    pandas.DataFrame
        One row per seed x covariance: ``seed, covariance, estimate, lower, upper, sd, truth,
        covered`` (final-visit SMD; truth = the scenario's effect on the instrument's scale
        divided by the data set's pooled within-arm baseline SD, as the model standardises).
    """
    sc = recovery_scenario(n_patients)
    true_raw = true_effects(sc).query("month == 18")["true_estimate"].iloc[0]
    cache = cache if cache is not None else fit.ModelCache()
    rows = []
    for seed in seeds:
        data = prepare_trial_data(simulate_trial(sc, seed), sc.trial, OUTCOME)
        truth = true_raw / data.s0
        for cov in covariances:
            s = dataclasses.replace(settings, seed=seed)
            idata, _ = fit.fit_trial_model(data, s, covariance=cov, cache=cache)
            x = contrast_draws(idata, data, "fact_rg", "fact", 18).ravel()
            lo, hi = np.quantile(x, [rules.LOWER, rules.UPPER])
            rows.append(
                {
                    "seed": seed,
                    "covariance": cov,
                    "estimate": x.mean(),
                    "lower": lo,
                    "upper": hi,
                    "sd": x.std(),
                    "truth": truth,
                    "covered": bool(lo < truth < hi),
                }
            )
        log(f"recovery: seed {seed} done")
    return pd.DataFrame(rows)


def coverage_band(n: int, level: float = 0.95) -> tuple[int, int]:
    """Central ``level`` range of the number of intervals covering the truth out of ``n``,
    if each covers with probability :data:`NOMINAL` (binomial)."""
    lo = int(stats.binom.ppf((1 - level) / 2, n, NOMINAL))
    hi = int(stats.binom.ppf(1 - (1 - level) / 2, n, NOMINAL))
    return lo, hi


def recovery_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Bias (with its Monte Carlo SE), coverage and the binomial band, per covariance model.

    Returns
    -------
    pandas.DataFrame
        ``covariance, datasets, bias, bias_se, bias_in_posterior_sd, coverage, covered,
        band_low, band_high, coverage_ok``.
    """
    rows = []
    for cov, g in runs.groupby("covariance", sort=False):
        err = g["estimate"] - g["truth"]
        lo, hi = coverage_band(len(g))
        covered = int(g["covered"].sum())
        rows.append(
            {
                "covariance": cov,
                "datasets": len(g),
                "bias": err.mean(),
                "bias_se": err.std(ddof=1) / np.sqrt(len(g)),
                "bias_in_posterior_sd": err.mean() / g["sd"].mean(),
                "coverage": covered / len(g),
                "covered": covered,
                "band_low": lo,
                "band_high": hi,
                "coverage_ok": lo <= covered <= hi,
            }
        )
    return pd.DataFrame(rows)
