"""The fast analysis of simulated trials (:mod:`analysis.studies.marginal`) checked against full
MCMC on the same data, at every design of a study."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.studies.marginal import MarginalModel
from analysis.trialmodel import fit, model

_MCMC = None  # nutpie model cache, one per process


def mcmc_cache():
    """The process's compiled-model cache for MCMC fits."""
    global _MCMC
    if _MCMC is None:
        _MCMC = fit.ModelCache()
    return _MCMC


def fast_effect(data: model.TrialData, month: int, arm: str | None = None, cut: float = 0.0):
    """Mean, SD and P(effect > cut) of one effect (benefit-positive SMD) by the fast analysis,
    and whether its optimisation converged."""
    mm = MarginalModel(data)
    fitted = mm.fit()
    return (*mm.effect(fitted, month, arm, cut), fitted["converged"])


def check_replicate(spec, design, rep: int, seed: int, settings: fit.SamplerSettings) -> dict:
    """One simulated trial of ``design`` analysed both ways: the design analysis and MCMC of the
    same model (the report's primary), on the scenario of ``spec`` (an ``AssuranceSpec``)."""
    from analysis.contract import simulate

    sc = simulate.scaled_scenario(
        spec.scenario or spec.trial, design.n_patients, design.n_sites, [spec.outcome]
    )
    data = model.prepare_trial_data(simulate.simulate_trial(sc, seed), spec.trial, spec.outcome)
    row = compare(data, settings, spec.arm)
    return {"patients": design.n_patients, "teams": design.n_sites, "rep": rep, **row}


def compare(data: model.TrialData, settings: fit.SamplerSettings, arm: str | None = None) -> dict:
    """The last-visit effect (benefit-positive SMD) of ``arm`` (default the first active arm)
    by the design analysis and by MCMC of the same model: means, SDs and P(benefit)."""
    from analysis.trialmodel.summarise import contrast_draws

    arm = arm or data.treatments[0]
    month = max(data.visits)
    lm, ls, lp, _ = fast_effect(data, month, arm)
    idata, _ = fit.fit_trial_model(data, settings, cache=mcmc_cache())
    sign = 1.0 if data.meta["higher_is_better"] else -1.0
    d = sign * contrast_draws(idata, data, arm, data.comparator, month).ravel()
    return {
        "laplace_mean": lm,
        "mcmc_mean": float(d.mean()),
        "laplace_sd": ls,
        "mcmc_sd": float(d.std()),
        "laplace_prob": lp,
        "mcmc_prob": float((d > 0).mean()),
    }


def check_tasks(spec, designs: list, n: int, seed: int, settings: fit.SamplerSettings) -> list:
    """One task per design and data set (key, function, arguments) for the study runner."""
    from analysis.studies.runner import replicate_seed

    return [
        (
            f"n{design.n_patients}-k{design.n_sites}-r{i}",
            check_replicate,
            (spec, design, i, replicate_seed(seed, 9, d, i), settings),
        )
        for d, design in enumerate(designs)
        for i in range(n)
    ]


def laplace_check(per: pd.DataFrame) -> pd.DataFrame:
    """The design analysis against MCMC, one row per design, from :func:`check_replicate` rows.

    Returns
    -------
    pandas.DataFrame
        Columns of :data:`analysis.catalogue.LAPLACE_CHECK` (without ``trial``/``outcome``):
        means over the design's data sets; ``model`` names the analysis both methods ran;
        ``sd_ratio`` = design-analysis SD / MCMC SD of the effect; ``mean_diff_in_mcmc_sd`` the
        mean difference of the posterior means in MCMC posterior SDs, with its Monte Carlo
        standard error over the data sets (``mean_diff_mcse``): a bias shows as a mean
        difference several standard errors from zero.
    """
    per = per.copy()
    per["sd_ratio"] = per["laplace_sd"] / per["mcmc_sd"]
    per["mean_diff_in_mcmc_sd"] = (per["laplace_mean"] - per["mcmc_mean"]) / per["mcmc_sd"]
    out = (
        per.groupby(["patients", "teams"], sort=False)
        .agg(
            datasets=("sd_ratio", "size"),
            laplace_mean=("laplace_mean", "mean"),
            mcmc_mean=("mcmc_mean", "mean"),
            laplace_sd=("laplace_sd", "mean"),
            mcmc_sd=("mcmc_sd", "mean"),
            sd_ratio=("sd_ratio", "mean"),
            mean_diff_in_mcmc_sd=("mean_diff_in_mcmc_sd", "mean"),
            mean_diff_mcse=("mean_diff_in_mcmc_sd", lambda x: x.std(ddof=1) / np.sqrt(len(x))),
            laplace_prob=("laplace_prob", "mean"),
            mcmc_prob=("mcmc_prob", "mean"),
        )
        .reset_index()
    )
    out.insert(0, "model", model_label())
    return out


def model_label() -> str:
    """The analysis of each simulated trial, in words (the primary model's specification)."""
    from analysis import modelspec as spec

    code = spec.SLOPE_CODE
    return (
        f"{spec.COVARIANCE_LABELS[spec.DEFAULT_COVARIANCE]} covariance, team intercepts and "
        f"team x treatment slopes coded {code['comparator']:+g}/{code['treated']:+g}"
    )


#: The range the Laplace/MCMC SD ratio must stay in at every design.
SD_RATIO_RANGE = (0.9, 1.1)
#: The largest mean difference of the posterior means (in MCMC posterior SDs) at any design.
MAX_MEAN_DIFF = 0.1


def check_markdown(table: pd.DataFrame) -> str:
    """The check's verdict in one paragraph."""
    lo, hi = SD_RATIO_RANGE
    inside = table["sd_ratio"].between(lo, hi)
    verdict = (
        f"within {lo}-{hi} at every design"
        if inside.all()
        else f"OUTSIDE {lo}-{hi} at {int((~inside).sum())} of {len(table)} designs"
    )
    worst = np.abs(table["mean_diff_in_mcmc_sd"]).max()
    bias = "within" if worst <= MAX_MEAN_DIFF else "OUTSIDE"
    return (
        f"On {int(table['datasets'].min())} to {int(table['datasets'].max())} simulated trials "
        f"per design: design-analysis/MCMC ratio of the effect's posterior SD "
        f"{table['sd_ratio'].min():.2f} to {table['sd_ratio'].max():.2f}, {verdict}; largest "
        f"mean difference of the posterior means {worst:.3f} MCMC posterior SDs ({bias} "
        f"{MAX_MEAN_DIFF}); largest difference in P(benefit) "
        f"{np.abs(table['laplace_prob'] - table['mcmc_prob']).max():.3f}."
    )
