"""Simulation-based calibration of the trial model (rank statistics, uniformity tests)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.studies.laplace import mcmc_cache
from analysis.studies.runner import replicate_seed
from analysis.trialmodel import fit, model


@dataclass(frozen=True)
class SBCSpec:
    """Simulation-based calibration of the trial model on a real design (its mask and sites)."""

    trial: str = "resource_groups"
    outcome: str = "empowerment"
    draws: int = 250
    tune: int = 300
    chains: int = 2
    thin_to: int = 99  # posterior draws kept for the ranks (ranks 0..thin_to)
    parameters: tuple = ("alpha", "beta", "sigma", "sigma_patient", "sigma_site")


def sbc_prior_draws(data: model.TrialData, n: int, seed: int) -> list[dict]:
    """Parameters and complete replicate outcomes drawn from the model's prior."""
    import pymc as pm

    m = model.build_trial_model(data)
    with m:
        prior = pm.sample_prior_predictive(draws=n, random_seed=seed)
    out = []
    for i in range(n):
        draw = {v: np.asarray(prior.prior[v].isel(chain=0, draw=i)) for v in prior.prior.data_vars}
        draw["y"] = np.asarray(prior.prior_predictive["y"].isel(chain=0, draw=i))
        out.append(draw)
    return out


def sbc_replicate(spec: SBCSpec, data: model.TrialData, truth: dict, rep: int, seed: int) -> dict:
    """Fit the model to data simulated from ``truth`` (same design and missing visits); ranks."""
    import dataclasses

    y = np.where(data.mask, data.m0 + data.s0 * truth["y"], np.nan)
    sim = dataclasses.replace(data, y=y)
    settings = fit.SamplerSettings(spec.draws, spec.tune, spec.chains, seed)
    idata, _ = fit.fit_trial_model(sim, settings, cache=mcmc_cache())
    post = idata.posterior.stack(sample=("chain", "draw"))
    keep = np.linspace(0, post.sizes["sample"] - 1, spec.thin_to).astype(int)
    row = {"rep": rep}
    for name in spec.parameters:
        if name not in post:
            continue
        draws = np.asarray(post[name].isel(sample=keep)).reshape(-1, spec.thin_to)
        true = np.asarray(truth[name]).reshape(-1)
        for j, (d, t) in enumerate(zip(draws, true, strict=True)):
            label = name if draws.shape[0] == 1 else f"{name}[{j}]"
            row[label] = int((d < t).sum())
    from analysis.trialmodel import diagnostics

    row["divergences"] = diagnostics.divergences(idata)
    return row


def sbc_tasks(spec: SBCSpec, data: model.TrialData, n_rep: int, seed: int) -> list:
    """Prior draws (in the driver, one compiled prior function) and one task per replicate."""
    truths = sbc_prior_draws(data, n_rep, replicate_seed(seed, 2))
    return [
        (f"r{rep}", sbc_replicate, (spec, data, truths[rep], rep, replicate_seed(seed, 3, rep)))
        for rep in range(n_rep)
    ]


def sbc_uniformity(ranks: pd.DataFrame, thin_to: int, bins: int = 10) -> pd.DataFrame:
    """Chi-square test of uniform ranks per parameter, with the expected count per bin."""
    rows = []
    for col in [c for c in ranks.columns if c not in ("rep", "divergences", "status", "error")]:
        r = ranks[col].dropna().to_numpy()
        counts, _ = np.histogram(r, bins=bins, range=(0, thin_to + 1))
        expected = len(r) / bins
        chi2, p = stats.chisquare(counts)
        rows.append(
            {
                "parameter": col,
                "replicates": len(r),
                "chi2": chi2,
                "p_value": p,
                "expected_per_bin": expected,
                "min_bin": counts.min(),
                "max_bin": counts.max(),
            }
        )
    return pd.DataFrame(rows)
