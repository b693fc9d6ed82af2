"""Simulation-based calibration of the trial model (rank statistics, uniformity tests)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from analysis import memo
from analysis.studies.laplace import mcmc_cache
from analysis.studies.runner import replicate_seed
from analysis.trialmodel import fit, model
from analysis.trialmodel.diagnostics import POPULATION_VARS


@dataclass(frozen=True)
class SBCSpec:
    """Simulation-based calibration of the trial model on a real design (its mask and sites)."""

    trial: str = "resource_groups"
    outcome: str = "empowerment"
    draws: int = 250
    tune: int = 300
    chains: int = 2
    thin_to: int = 99  # posterior draws kept for the ranks (ranks 0..thin_to)
    parameters: tuple = POPULATION_VARS  # every population-level parameter the model has


#: Columns of ``sbc_ranks`` that are not parameters' ranks.
RANK_KEYS = ("trial", "outcome", "rep", "divergences")


def parameter_ranks(ranks: pd.DataFrame) -> pd.DataFrame:
    """The ranks of the parameters only (one column each) from an ``sbc_ranks`` table."""
    return ranks.drop(columns=[c for c in RANK_KEYS if c in ranks])


def sbc_prior_draws(data: model.TrialData, n: int, seed: int) -> list[dict]:
    """Parameters and complete replicate outcomes drawn from the model's prior."""
    import pymc as pm

    m = model.build_trial_model(data)
    with m:
        # a few hundred draws: PyTensor's Python implementations (the compiled C draws to rounding,
        # 1e-15, without compiling C on a machine's first run)
        prior = pm.sample_prior_predictive(
            draws=n, random_seed=seed, compile_kwargs={"mode": "FAST_COMPILE"}
        )
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
        keep_el = range(len(true))
        if name == "visit_corr":  # the distinct correlations only: no diagonal, no mirror image
            t_dim = int(np.sqrt(len(true)))
            keep_el = [a * t_dim + b for a in range(t_dim) for b in range(a + 1, t_dim)]
        var = post[name]
        dims = [dim for dim in var.dims if dim != "sample"]
        shape = [var.sizes[dim] for dim in dims]
        for j in keep_el:
            d, t = draws[j], true[j]
            if draws.shape[0] == 1:
                label = name
            else:  # coordinate labels, as the diagnostics tables name them (alpha[12])
                at = np.unravel_index(j, shape)
                coords = [str(var[dim].values[i]) for dim, i in zip(dims, at, strict=True)]
                label = f"{name}[{', '.join(coords)}]"
            row[label] = int((d < t).sum())
    from analysis.trialmodel import diagnostics

    row["divergences"] = diagnostics.divergences(idata)
    return row


def sbc_tasks(
    spec: SBCSpec, data: model.TrialData, n_rep: int, seed: int, cache_dir: Path | None = None
) -> list:
    """Prior draws (in the driver, one compiled prior function) and one task per replicate.

    With ``cache_dir``, the prior draws are kept there (``sbc-prior-<key>.joblib``, the key
    covering the data, ``n_rep``, the seed and the code's fingerprint): a study whose replicates
    are all cached then needs neither PyMC nor the prior's compilation (2-3 s)."""
    if cache_dir is None:
        truths = sbc_prior_draws(data, n_rep, replicate_seed(seed, 2))
    else:
        truths = memo.remember(
            "sbc-prior",
            (data, n_rep, seed, memo.versions("pymc", "pytensor", "numpy")),
            lambda: sbc_prior_draws(data, n_rep, replicate_seed(seed, 2)),
            cache_dir,
        )
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


def sbc_power(
    replicates: int,
    thin_to: int = 99,
    bins: int = 10,
    alpha: float = 0.05,
    power: float = 0.8,
    n_sim: int = 2000,
    seed: int = 0,
) -> dict:
    """What the uniformity test can detect with this many replicates (Monte Carlo).

    A posterior whose SD is ``k`` times the correct one gives rank quantiles ``Phi(z / k)``, one
    whose mean is off by ``d`` posterior SDs ``Phi(z - d)`` (``z`` standard normal). For each, the
    smallest departure the chi-square test at level ``alpha`` detects with probability
    ``power`` (grid search).

    Returns
    -------
    dict
        ``sd_too_narrow`` (k < 1), ``sd_too_wide`` (k > 1), ``bias`` (in posterior SDs); NaN
        where no value on the grid reaches the power.
    """
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n_sim, replicates))
    crit = stats.chi2.ppf(1 - alpha, bins - 1)

    def detected(u):
        ranks = np.floor(u * (thin_to + 1)).clip(0, thin_to)
        idx = np.minimum((ranks * bins / (thin_to + 1)).astype(int), bins - 1)
        counts = np.stack([(idx == b).sum(axis=1) for b in range(bins)], axis=1)
        e = replicates / bins
        return float((((counts - e) ** 2 / e).sum(axis=1) > crit).mean())

    def first(values, make):
        for v in values:
            if detected(make(v)) >= power:
                return float(v)
        return float("nan")

    return {
        "sd_too_narrow": first(np.arange(0.95, 0.2, -0.05), lambda k: stats.norm.cdf(z / k)),
        "sd_too_wide": first(np.arange(1.05, 3.0, 0.05), lambda k: stats.norm.cdf(z / k)),
        "bias": first(np.arange(0.05, 2.0, 0.05), lambda d: stats.norm.cdf(z - d)),
    }


def power_markdown(replicates: int, thin_to: int, bins: int = 10) -> str:
    """What this many SBC replicates can detect, in one sentence."""
    pw = sbc_power(replicates, thin_to, bins)

    parts = []
    if np.isfinite(pw["sd_too_narrow"]):
        parts.append(f"a posterior SD {pw['sd_too_narrow']:.2f} times the correct one")
    if np.isfinite(pw["sd_too_wide"]):
        parts.append(f"{pw['sd_too_wide']:.2f} times it")
    if np.isfinite(pw["bias"]):
        parts.append(f"a posterior mean off by {pw['bias']:.2f} posterior SDs")
    found = ", or ".join(parts) if parts else "no departure within the grid searched"
    return (
        f"With {replicates} replicates and {bins} bins, the chi-square test (5% level) detects "
        f"with 80% power, per parameter: {found}; smaller miscalibration can pass unseen."
    )
