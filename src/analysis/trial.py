"""Analysis of one trial: every outcome fitted, summarised, checked and compared.

The functions here are the steps of ``notebooks/02-trial-model.ipynb`` and of
``python -m analysis fit``; each returns tidy tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import arviz as az
import numpy as np
import pandas as pd

from analysis import diagnostics, registry, summarise
from analysis.fit import SamplerSettings, add_log_likelihood, fit_trial_model
from analysis.model import PRIOR_SETS, TrialData, prepare_trial_data
from analysis.pooling import pool_secondary_effects

PROFILES = {
    "smoke": SamplerSettings(draws=200, tune=300, chains=2),
    "full": SamplerSettings(draws=1000, tune=1000, chains=4),
}


@dataclass
class OutcomeFit:
    """One fitted outcome."""

    data: TrialData
    idata: az.InferenceData
    model: object
    diagnostics: pd.DataFrame

    @property
    def name(self) -> str:
        """``trial/outcome[/variant]``."""
        a = self.idata.attrs
        variant = []
        if a["covariance"] != "intercept":
            variant.append(a["covariance"])
        if a["likelihood"] != "normal":
            variant.append(a["likelihood"])
        if a["priors"] != "default":
            variant.append(f"{a['priors']} prior")
        return f"{a['trial']}/{a['outcome']}" + (f" ({', '.join(variant)})" if variant else "")


def settings_for(
    profile: str,
    draws: int | None = None,
    tune: int | None = None,
    chains: int | None = None,
    seed: int | None = None,
) -> SamplerSettings:
    """Sampler settings of a profile, with optional overrides."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose from {sorted(PROFILES)}")
    base = PROFILES[profile]
    return SamplerSettings(
        draws=base.draws if draws is None else draws,
        tune=base.tune if tune is None else tune,
        chains=base.chains if chains is None else chains,
        seed=base.seed if seed is None else seed,
    )


def resolve_outcomes(df: pd.DataFrame, trial: str, outcomes: list[str] | None) -> list[str]:
    """The outcomes to fit: those asked for (checked) or every outcome present, primary first."""
    present = [
        o
        for o in registry.trial_outcomes(trial)
        if o in set(df.loc[df["trial"] == trial, "outcome"])
    ]
    if not present:
        raise ValueError(f"no data for trial {trial!r}")
    if not outcomes:
        return present
    unknown = [o for o in outcomes if o not in present]
    if unknown:
        raise ValueError(
            f"trial {trial!r} has no data for outcome(s) {unknown}; present: {present}"
        )
    return [o for o in present if o in outcomes]


def fit_outcome(df, trial, outcome, settings, cache=None, **options) -> OutcomeFit:
    """Fit one outcome (options as for :func:`analysis.fit.fit_trial_model`)."""
    data = prepare_trial_data(df, trial, outcome)
    idata, model = fit_trial_model(data, settings, cache=cache, **options)
    fit = OutcomeFit(data, idata, model, None)
    fit.diagnostics = diagnostics.convergence_table(idata, fit.name)
    return fit


def fit_outcomes(df, trial, outcomes, settings, cache=None, log=print) -> dict[str, OutcomeFit]:
    """Fit the default model to every outcome of a trial."""
    fits = {}
    for outcome in outcomes:
        fits[outcome] = fit_outcome(df, trial, outcome, settings, cache)
        log(f"fitted {fits[outcome].name}")
    return fits


def effects_table(fits: dict[str, OutcomeFit]) -> pd.DataFrame:
    """``trial_effects`` of every fitted outcome (see :func:`summarise.summarise_effects`)."""
    return pd.concat(
        [summarise.summarise_effects(f.idata, f.data, f.diagnostics) for f in fits.values()],
        ignore_index=True,
    )


def means_table(fits, observed: pd.DataFrame) -> pd.DataFrame:
    """Modelled and observed means per arm and visit (see :func:`summarise.summarise_means`)."""
    return pd.concat(
        [summarise.summarise_means(f.idata, f.data, observed) for f in fits.values()],
        ignore_index=True,
    )


def diagnostics_table(fits) -> pd.DataFrame:
    """Convergence diagnostics of every fit, one row per parameter."""
    return pd.concat([f.diagnostics for f in fits.values()], ignore_index=True)


def team_table(fits) -> pd.DataFrame:
    """Team-level treatment effects of every fit with team slopes."""
    parts = [summarise.summarise_team_effects(f.idata, f.data) for f in fits.values()]
    parts = [p for p in parts if not p.empty]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def parameters_table(fits) -> pd.DataFrame:
    """Variance components of every fit."""
    return pd.concat(
        [summarise.summarise_parameters(f.idata, f.data) for f in fits.values()], ignore_index=True
    )


def pooled_table(fits, effects: pd.DataFrame, seed: int, tau_scale: float = 0.3) -> pd.DataFrame:
    """Pooled and unpooled SMDs of the secondary outcomes (primary outcomes left out)."""
    draws = {}
    for f in fits.values():
        direction = 1 if f.data.meta["higher_is_better"] else -1
        for month in f.data.visits[1:]:
            for arm, comp in summarise.contrasts(f.data):
                draws[(f.data.outcome, month, arm, comp)] = direction * summarise.contrast_draws(
                    f.idata, f.data, arm, comp, month
                )
    trial = effects["trial"].iloc[0]
    reg = registry.load_outcome_registry()
    primary = set(reg[(reg["trial"] == trial) & reg["primary"]]["outcome"])
    return pool_secondary_effects(effects, draws, primary, tau_scale=tau_scale, seed=seed)


def key_outcome(trial: str, outcomes: list[str]) -> str:
    """The outcome the sensitivity analyses are run on: the primary, else the first."""
    reg = registry.load_outcome_registry()
    primary = reg[(reg["trial"] == trial) & reg["primary"]]["outcome"].tolist()
    return next((o for o in primary if o in outcomes), outcomes[0])


def sensitivity_table(
    df, trial, outcome, settings, cache=None, base: OutcomeFit | None = None, log=print
) -> tuple[pd.DataFrame, dict[str, OutcomeFit]]:
    """The key outcome's effects under alternative priors and the robust likelihood.

    Returns
    -------
    (pandas.DataFrame, dict)
        ``trial_effects`` columns plus ``analysis`` (which variant), and the variant fits.
    """
    variants = {"default (Normal(0, 1) effect prior)": {}}
    for name, pri in PRIOR_SETS.items():
        if name != "default":
            variants[f"{name} (Normal(0, {pri.effect_sd:g}) effect prior)"] = {"priors": name}
    variants["robust Student-t likelihood"] = {"likelihood": "student"}
    variants["unstructured visit covariance"] = {"covariance": "unstructured"}
    fits, parts = {}, []
    for label, opts in variants.items():
        if not opts and base is not None:
            fit = base
        else:
            fit = fit_outcome(df, trial, outcome, settings, cache, **opts)
            log(f"fitted {fit.name}")
        fits[label] = fit
        parts.append(
            summarise.summarise_effects(fit.idata, fit.data, fit.diagnostics).assign(analysis=label)
        )
    return pd.concat(parts, ignore_index=True), fits


def loo_table(fits: dict[str, OutcomeFit]) -> pd.DataFrame:
    """LOO comparison (leave one patient out) of fits of the same outcome and data.

    Returns
    -------
    pandas.DataFrame
        Columns ``model, elpd_loo, se, elpd_diff, dse, p_loo, pareto_k_max, rank``.
    """
    loos = {}
    for label, fit in fits.items():
        if "log_likelihood" not in fit.idata:
            add_log_likelihood(fit.idata, fit.model)
        loos[label] = fit.idata
    cmp = az.compare(loos, ic="loo")
    kmax = {label: float(np.max(az.loo(i, pointwise=True).pareto_k)) for label, i in loos.items()}
    out = cmp.reset_index().rename(columns={"index": "model", "elpd_loo": "elpd_loo"})
    out["pareto_k_max"] = out["model"].map(kmax)
    return out[["model", "elpd_loo", "se", "elpd_diff", "dse", "p_loo", "pareto_k_max", "rank"]]


def evidence_rows(fits: dict[str, OutcomeFit], source: str) -> pd.DataFrame:
    """The trial's final-visit effects in the synthesis evidence format.

    Each arm against the comparator (the multi-arm convention), as the posterior mean and SD of
    the benefit-oriented SMD (positive favours the arm).

    Returns
    -------
    pandas.DataFrame
        Columns ``study, outcome, treatment, comparator, estimate, se, n_treatment,
        n_comparator, source``.
    """
    rows = []
    for f in fits.values():
        d = f.data
        direction = 1 if d.meta["higher_is_better"] else -1
        month = d.visits[-1]
        counts = np.bincount(d.arm_idx, minlength=len(d.arms))
        for arm in d.treatments:
            x = direction * summarise.contrast_draws(f.idata, d, arm, d.comparator, month)
            rows.append(
                {
                    "study": d.trial,
                    "outcome": d.outcome,
                    "treatment": arm,
                    "comparator": d.comparator,
                    "estimate": x.mean(),
                    "se": x.std(ddof=1),
                    "n_treatment": int(counts[d.arms.index(arm)]),
                    "n_comparator": int(counts[d.arms.index(d.comparator)]),
                    "source": f"{source}: posterior of this project's {d.trial} model, "
                    f"month {month}",
                }
            )
    return pd.DataFrame(rows)
