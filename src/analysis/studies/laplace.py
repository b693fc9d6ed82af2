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


def laplace_check(
    datasets: list[tuple[int, int, model.TrialData]], settings: fit.SamplerSettings, month: int
) -> pd.DataFrame:
    """The fast analysis against full MCMC, one row per design (data sets pooled).

    Parameters
    ----------
    datasets : list of (patients, teams, TrialData)
        Simulated trials, one or more per design.
    settings : SamplerSettings
        For the MCMC fits.
    month : int
        The visit of the effect.

    Returns
    -------
    pandas.DataFrame
        Columns ``model, patients, teams, datasets, laplace_mean, mcmc_mean, laplace_sd, mcmc_sd,
        sd_ratio, mean_diff_in_mcmc_sd, laplace_prob, mcmc_prob``: means over the design's data
        sets; ``model`` names the analysis both methods ran; ``sd_ratio`` = Laplace SD / MCMC SD of the effect; ``mean_diff_in_mcmc_sd`` the
        mean difference of the posterior means in MCMC posterior SDs.
    """
    from analysis.trialmodel.summarise import contrast_draws

    rows = []
    for n, k, data in datasets:
        lm, ls, lp, _ = fast_effect(data, month)
        # the same model, the report's primary analysis, by MCMC
        idata, _ = fit.fit_trial_model(data, settings, cache=mcmc_cache())
        sign = 1.0 if data.meta["higher_is_better"] else -1.0
        d = sign * contrast_draws(idata, data, data.treatments[0], data.comparator, month).ravel()
        rows.append(
            {
                "patients": n,
                "teams": k,
                "laplace_mean": lm,
                "mcmc_mean": d.mean(),
                "laplace_sd": ls,
                "mcmc_sd": d.std(),
                "laplace_prob": lp,
                "mcmc_prob": float((d > 0).mean()),
            }
        )
    per = pd.DataFrame(rows)
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


def check_markdown(table: pd.DataFrame) -> str:
    """The check's verdict in one paragraph."""
    lo, hi = SD_RATIO_RANGE
    inside = table["sd_ratio"].between(lo, hi)
    verdict = (
        f"within {lo}-{hi} at every design"
        if inside.all()
        else f"OUTSIDE {lo}-{hi} at {int((~inside).sum())} of {len(table)} designs"
    )
    return (
        f"Laplace/MCMC ratio of the effect's posterior SD: {table['sd_ratio'].min():.2f} to "
        f"{table['sd_ratio'].max():.2f}, {verdict}; largest difference of the posterior means "
        f"{np.abs(table['mean_diff_in_mcmc_sd']).max():.2f} MCMC posterior SDs; largest "
        f"difference in P(benefit) {np.abs(table['laplace_prob'] - table['mcmc_prob']).max():.3f}."
    )
