"""Tables of a fitted trial model: treatment contrasts, modelled means, team effects.

Every function returns a tidy frame (one row per quantity). Effects are differences in change
from baseline between arms (arm minus comparator): on the instrument's scale
(``estimate``) and standardised by the pooled baseline SD (``smd``).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from analysis import catalogue, rules
from analysis.trialmodel import chains
from analysis.trialmodel.model import TrialData

EFFECT_COLUMNS = list(catalogue.TRIAL_EFFECTS.columns)


def _mcse(x: np.ndarray, method: str, prob: float | None = None) -> float:
    """Monte Carlo standard error of a posterior mean or quantile (chain x draw array)."""
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:  # independent draws: one chain
        x = x[None, :]
    if np.ptp(x) == 0:  # constant: no Monte Carlo error to estimate
        return 0.0
    if method == "quantile":
        return chains.mcse_quantile(x, prob)
    return chains.mcse_mean(x)


def interval_mcse(x: np.ndarray) -> tuple[float, float]:
    """Monte Carlo standard errors of the ends of the equal-tailed interval of ``x``."""
    return _mcse(x, "quantile", rules.LOWER), _mcse(x, "quantile", rules.UPPER)


def contrasts(data: TrialData) -> list[tuple[str, str]]:
    """Every contrast reported: each arm against the comparator, then each pair of arms."""
    out = [(a, data.comparator) for a in data.treatments]
    out += list(itertools.combinations(data.treatments, 2))
    return out


def contrast_draws(idata, data: TrialData, arm: str, comparator: str, month: int) -> np.ndarray:
    """Posterior draws (chain x draw) of the SMD of ``arm`` minus ``comparator`` at ``month``."""
    beta = idata.posterior["beta"]

    def one(a):
        if a == data.comparator:
            return 0.0
        return beta.sel(treatment=a, followup=month).values

    return np.asarray(one(arm) - one(comparator)) * np.ones(beta.shape[:2])


def summarise_effects(idata, data: TrialData, diagnostics: pd.DataFrame) -> pd.DataFrame:
    """The ``trial_effects`` rows of one fitted outcome.

    Parameters
    ----------
    idata : arviz.InferenceData
    data : TrialData
    diagnostics : pandas.DataFrame
        :func:`analysis.diagnostics.convergence_table` of the same fit.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`EFFECT_COLUMNS`. ``estimate``, ``lower``, ``upper``: posterior mean and
        95% equal-tailed interval of the difference in change from baseline on the instrument
        scale; ``smd*`` the same divided by the pooled baseline SD; ``prob_benefit``
        P(arm better), respecting the instrument's direction; ``prob_mcid`` P(benefit > MCID)
        (NaN without an MCID); ``mcse``, ``lower_mcse``, ``upper_mcse``, ``prob_benefit_mcse``,
        ``prob_mcid_mcse``: Monte Carlo standard errors of the estimate, the interval ends and the
        probabilities (instrument scale; probabilities as proportions); ``rhat_max``,
        ``ess_*_min`` over
        the contrast and every population-level parameter; ``divergences`` of the fit;
        ``true_estimate``, ``true_smd``: NaN here, the truth when the data were simulated (see
        :func:`attach_truth`).
    """
    direction = 1 if data.meta["higher_is_better"] else -1
    mcid = data.meta.get("mcid")
    rows = []
    first = 1 if data.baseline_constrained else 0  # the visits with an effect
    for month in data.visits[first:]:
        for arm, comp in contrasts(data):
            smd = contrast_draws(idata, data, arm, comp, month)
            est = smd * data.s0
            benefit = direction * est
            ess_b = chains.ess_bulk(smd)
            ess_t = chains.ess_tail(smd)
            rhat = chains.rhat(smd)
            rows.append(
                {
                    "trial": data.trial,
                    "outcome": data.outcome,
                    "month": month,
                    "arm": arm,
                    "comparator": comp,
                    "estimate": est.mean(),
                    "lower": np.quantile(est, rules.LOWER),
                    "upper": np.quantile(est, rules.UPPER),
                    "smd": smd.mean(),
                    "smd_lower": np.quantile(smd, rules.LOWER),
                    "smd_upper": np.quantile(smd, rules.UPPER),
                    "prob_benefit": (benefit > 0).mean(),
                    "prob_mcid": (benefit > mcid).mean() if mcid else np.nan,
                    "mcse": _mcse(est, "mean"),
                    "lower_mcse": _mcse(est, "quantile", rules.LOWER),
                    "upper_mcse": _mcse(est, "quantile", rules.UPPER),
                    "smd_lower_mcse": _mcse(smd, "quantile", rules.LOWER),
                    "smd_upper_mcse": _mcse(smd, "quantile", rules.UPPER),
                    "prob_benefit_mcse": _mcse((benefit > 0).astype(float), "mean"),
                    "prob_mcid_mcse": _mcse((benefit > mcid).astype(float), "mean")
                    if mcid
                    else np.nan,
                    "rhat_max": max(rhat, diagnostics["rhat"].max()),
                    "ess_bulk_min": min(ess_b, diagnostics["ess_bulk"].min()),
                    "ess_tail_min": min(ess_t, diagnostics["ess_tail"].min()),
                    "divergences": int(diagnostics["divergences"].max()),
                    "true_estimate": np.nan,
                    "true_smd": np.nan,
                }
            )
    return pd.DataFrame(rows, columns=EFFECT_COLUMNS)


TRUTH_KEYS = ["trial", "outcome", "month", "arm", "comparator"]


def attach_truth(effects: pd.DataFrame, truth: pd.DataFrame | None) -> pd.DataFrame:
    """Fill ``true_estimate`` and ``true_smd`` from a simulation scenario's true effects.

    Parameters
    ----------
    effects : pandas.DataFrame
        ``trial_effects`` rows (or a table with the same key columns and truth columns).
    truth : pandas.DataFrame or None
        :func:`analysis.contract.scenario.true_effects`; ``None`` for real data (left NaN).
    """
    if truth is None or truth.empty:
        return effects
    cols = ["true_estimate", "true_smd"]
    merged = effects.drop(columns=cols).merge(truth[TRUTH_KEYS + cols], on=TRUTH_KEYS, how="left")
    return merged[list(effects.columns)]


def summarise_means(idata, data: TrialData, observed: pd.DataFrame | None = None) -> pd.DataFrame:
    """Modelled mean and change from baseline per arm and visit, beside the observed means.

    Modelled means are population averages (team effects at zero) on the instrument scale. For
    the baseline-as-covariate analysis they are the modelled change at the mean baseline added
    to the mean baseline of the patients it analyses (baseline rows without uncertainty).

    Returns
    -------
    pandas.DataFrame
        Columns ``trial, outcome, arm, month, mean, lower, upper, change, change_lower,
        change_upper, observed_mean, observed_n`` (95% equal-tailed intervals).
    """
    alpha = idata.posterior["alpha"]
    rows = []
    constrained = data.baseline_constrained
    # the baseline-as-covariate analysis models the change at the mean baseline
    visits = data.visits if constrained else [data.meta["baseline_time"], *data.visits]
    for arm in data.arms:
        for month in visits:
            if not constrained:
                ch = np.zeros(alpha.shape[:2])
                if month != visits[0]:
                    ch = ch + alpha.sel(visit=month).values
                    if arm != data.comparator:
                        beta = idata.posterior["beta"].sel(treatment=arm, followup=month).values
                        ch = ch + beta
                ch = data.s0 * ch
                y = data.meta["baseline_mean"] + ch
            else:
                z = alpha.sel(visit=month).values
                if arm != data.comparator and month != visits[0]:
                    z = z + idata.posterior["beta"].sel(treatment=arm, followup=month).values
                y = data.m0 + data.s0 * z
                ch = y - (data.m0 + data.s0 * alpha.sel(visit=visits[0]).values)
            rows.append(
                {
                    "trial": data.trial,
                    "outcome": data.outcome,
                    "arm": arm,
                    "month": month,
                    "mean": y.mean(),
                    "lower": np.quantile(y, rules.LOWER),
                    "upper": np.quantile(y, rules.UPPER),
                    "change": ch.mean(),
                    "change_lower": np.quantile(ch, rules.LOWER),
                    "change_upper": np.quantile(ch, rules.UPPER),
                    **dict(zip(("lower_mcse", "upper_mcse"), interval_mcse(y), strict=True)),
                    **dict(
                        zip(
                            ("change_lower_mcse", "change_upper_mcse"),
                            interval_mcse(ch),
                            strict=True,
                        )
                    ),
                }
            )
    out = pd.DataFrame(rows)
    if observed is not None:
        obs = observed[(observed["trial"] == data.trial) & (observed["outcome"] == data.outcome)]
        obs = obs[["arm", "month", "mean", "n"]].rename(
            columns={"mean": "observed_mean", "n": "observed_n"}
        )
        out = out.merge(obs, on=["arm", "month"], how="left")
    return out


def summarise_team_effects(idata, data: TrialData) -> pd.DataFrame:
    """Team-specific treatment effects (SMD) at each follow-up visit, for team-slope models.

    Returns
    -------
    pandas.DataFrame
        Columns ``trial, outcome, site, n_patients, arm, month, smd, smd_lower, smd_upper,
        suppressed``; empty if the model had no team slopes. Teams with fewer than
        :data:`analysis.rules.MIN_CELL` patients are suppressed (no estimate, size shown as
        ``<5``): a team-level estimate of so few patients could describe individuals.
    """
    MIN_CELL = rules.MIN_CELL

    post = idata.posterior
    if "sigma_site_effect" not in post:
        return pd.DataFrame(columns=list(catalogue.TEAM_EFFECTS.columns))
    dev = post["sigma_site_effect"] * post["site_effect_offset"]
    counts = np.bincount(data.site_idx, minlength=len(data.sites))
    rows = []
    for arm in data.treatments:
        for month in data.visits[1:]:
            eff = post["beta"].sel(treatment=arm, followup=month) + dev
            for j, site in enumerate(data.sites):
                e = eff.sel(site=site).values
                small = counts[j] < MIN_CELL
                lo_mc, hi_mc = (np.nan, np.nan) if small else interval_mcse(e)
                rows.append(
                    {
                        "trial": data.trial,
                        "outcome": data.outcome,
                        "site": site,
                        "n_patients": f"<{MIN_CELL}" if small else str(int(counts[j])),
                        "arm": arm,
                        "month": month,
                        "smd": np.nan if small else e.mean(),
                        "smd_lower": np.nan if small else np.quantile(e, rules.LOWER),
                        "smd_upper": np.nan if small else np.quantile(e, rules.UPPER),
                        "smd_lower_mcse": lo_mc,
                        "smd_upper_mcse": hi_mc,
                        "suppressed": bool(small),
                    }
                )
    return pd.DataFrame(rows, columns=list(catalogue.TEAM_EFFECTS.columns))


def parameter_prior(name: str, priors, probs) -> tuple[np.ndarray, str]:
    """Quantiles ``probs`` of a variance parameter's prior (baseline-SD units) and its label:
    half-normal scales, a gamma on the Student-t degrees of freedom."""
    from scipy.special import gammaincinv, ndtri

    from analysis.trialmodel.model import STUDENT_NU_PRIOR

    probs = np.asarray(probs, dtype=float)
    scale = {
        "sigma": priors.residual_sd,
        "sigma_patient": priors.residual_sd,
        "visit_sd": priors.residual_sd,
        "sigma_site": priors.site_sd,
        "sigma_site_effect": priors.site_effect_sd,
    }
    if name in scale:
        return scale[name] * ndtri((1 + probs) / 2), f"half-normal({scale[name]:g})"
    shape, rate = STUDENT_NU_PRIOR
    return gammaincinv(shape, probs) / rate, f"gamma({shape:g}, {rate:g})"


def summarise_parameters(idata, data: TrialData) -> pd.DataFrame:
    """Variance components and other population parameters (baseline-SD units), each beside
    its prior.

    Returns
    -------
    pandas.DataFrame
        Columns ``trial, outcome, parameter, mean, lower, upper, prior, prior_median,
        prior_upper, informed, mean_mcse, lower_mcse, upper_mcse``: posterior mean and 95%
        interval (with their Monte Carlo standard errors); the prior's label, median and
        97.5% quantile; ``informed`` when the posterior's interquartile range is below
        :data:`analysis.rules.INFORMED_IQR_RATIO` times the prior's (else the data barely move it).
    """
    from analysis.trialmodel.model import PRIOR_SETS

    priors = PRIOR_SETS.get(idata.attrs.get("priors", "default"), PRIOR_SETS["default"])
    names = [
        v
        for v in ("sigma", "sigma_patient", "sigma_site", "sigma_site_effect", "visit_sd", "nu")
        if v in idata.posterior
    ]
    rows = []
    for label, draws in chains.summary_labels(idata.posterior, names):
        base = label.split("[")[0]
        v = draws.ravel()
        pq, prior_label = parameter_prior(base, priors, [0.25, 0.5, 0.75, rules.UPPER])
        iqr = np.quantile(v, 0.75) - np.quantile(v, 0.25)
        rows.append(
            {
                "trial": data.trial,
                "outcome": data.outcome,
                "parameter": label,
                "mean": v.mean(),
                "lower": np.quantile(v, rules.LOWER),
                "upper": np.quantile(v, rules.UPPER),
                "prior": prior_label,
                "prior_median": pq[1],
                "prior_upper": pq[3],
                "informed": bool(iqr < rules.INFORMED_IQR_RATIO * (pq[2] - pq[0])),
                "mean_mcse": _mcse(draws, "mean"),
                "lower_mcse": _mcse(draws, "quantile", rules.LOWER),
                "upper_mcse": _mcse(draws, "quantile", rules.UPPER),
            }
        )
    return pd.DataFrame(rows, columns=list(catalogue.VARIANCE_COMPONENTS.columns))
