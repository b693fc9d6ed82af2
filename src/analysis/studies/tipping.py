"""The missing-data tipping point: delta adjustment of the last-visit effect."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis import registry, rules
from analysis.trialmodel import model


def tipping_point_table(
    effect_draws: np.ndarray,
    exposure_treated: float,
    exposure_control: float,
    deltas: list[float],
    threshold: float,
) -> pd.DataFrame:
    r"""Delta-adjusted (pattern-mixture) sensitivity of an effect to missing not at random.

    Missing values are imputed from the fitted MAR model and then shifted by :math:`\delta_a`
    (baseline-SD units, benefit-positive) **at each missing visit**, cumulatively from the
    patient's first missing visit (rbmi's delta template with ``dlag = 1`` at every visit): a
    patient who left earlier moves further. For a difference in arm means at the last visit,
    the completed-data estimate moves by :math:`\delta_a E_a`, :math:`E_a` the arm's mean
    number of visits missed up to and including the last (its *exposure*; zero for patients
    seen there), so for every posterior draw :math:`\beta` the delta-adjusted effect is
    :math:`\beta + \delta_t E_t - \delta_c E_c`: the Bayesian analogue of delta-adjusted
    multiple imputation with the imputation model's posterior carried through.

    Parameters
    ----------
    effect_draws : numpy.ndarray
        Benefit-oriented draws of the effect (chain x draw, or flat).

    Returns
    -------
    pandas.DataFrame
        One row per (delta_treated, delta_control): mean, 95% interval, P(benefit) with its
        Monte Carlo standard error, and whether the conclusion (P(benefit) > ``threshold``)
        still holds.
    """
    from analysis.trialmodel.summarise import _mcse

    draws = np.asarray(effect_draws, dtype=float)
    draws = draws.reshape(1, -1) if draws.ndim == 1 else draws
    # a shift moves the mean and the quantiles by itself and leaves their Monte Carlo errors
    # as they are: computed once; P(benefit) and its error depend on the shift
    mean = draws.mean()
    lower, upper = np.quantile(draws, rules.LOWER), np.quantile(draws, rules.UPPER)
    lower_mcse = _mcse(draws, "quantile", rules.LOWER)
    upper_mcse = _mcse(draws, "quantile", rules.UPPER)
    benefit_at: dict[float, tuple[float, float]] = {}
    rows = []
    for dt in deltas:
        for dc in deltas:
            shift = dt * exposure_treated - dc * exposure_control
            if shift not in benefit_at:
                benefit = (draws + shift > 0).astype(float)
                benefit_at[shift] = (float(benefit.mean()), _mcse(benefit, "mean"))
            p, p_mcse = benefit_at[shift]
            rows.append(
                {
                    "delta_treated": dt,
                    "delta_control": dc,
                    "mean": mean + shift,
                    "lower": lower + shift,
                    "upper": upper + shift,
                    "lower_mcse": lower_mcse,
                    "upper_mcse": upper_mcse,
                    "prob_benefit": p,
                    "prob_benefit_mcse": p_mcse,
                    "conclusion_holds": p > threshold,
                }
            )
    return pd.DataFrame(rows)


def exposure(mask: np.ndarray) -> float:
    """Mean number of visits missed up to and including the last, counted from each patient's
    last attended visit (0 for patients seen at the last visit)."""
    last_seen = np.array([np.flatnonzero(m)[-1] if m.any() else -1 for m in mask])
    return float((mask.shape[1] - 1 - last_seen).mean()) if len(mask) else 0.0


@dataclass
class TippingPoint:
    """Result of :func:`tipping_point_analysis`."""

    table: pd.DataFrame
    missing: dict
    prob_mar: float
    text: str


def tipping_point_analysis(
    data: model.TrialData, idata, deltas: list[float], threshold: float
) -> TippingPoint:
    """Delta-adjusted sensitivity of the last-visit effect of every active arm.

    The missing shares and exposures come from the data, the effect draws from the fitted model
    ``idata``; ``text`` states, per arm, whether the conclusion P(benefit) > ``threshold``
    holds under MAR and the signed shift per missing visit of the arm's missing values (control
    arm as MAR), nearest to zero, that changes it: negative shifts make them worse.
    """
    from analysis.trialmodel.summarise import contrast_draws

    last = max(data.visits)
    sign = 1.0 if data.meta["higher_is_better"] else -1.0
    arm = np.array(data.arms)[data.arm_idx]
    missing = {a: float(np.isnan(data.y[arm == a, -1]).mean()) for a in data.arms}
    exposed = {a: exposure(data.mask[arm == a]) for a in data.arms}
    tables, sentences, p_first = [], [], None
    for treated in data.treatments:
        effect = sign * contrast_draws(idata, data, treated, data.comparator, last)
        table = tipping_point_table(
            effect, exposed[treated], exposed[data.comparator], deltas, threshold
        )
        tables.append(table.assign(arm=treated, comparator=data.comparator))
        p_mar = float((effect > 0).mean())
        p_first = p_mar if p_first is None else p_first
        holds = p_mar > threshold
        flips = table[(table["delta_control"] == 0) & (table["conclusion_holds"] != holds)]
        name = registry.arm_label(treated)
        if flips.empty:
            where = f"no shift of {name}'s missing values within the grid changes it"
        else:
            tip = float(flips.loc[flips["delta_treated"].abs().idxmin(), "delta_treated"])
            where = (
                f"it changes once {name}'s missing values are shifted by {tip:+g} baseline SD "
                f"at each missing visit ({'worse' if tip < 0 else 'better'} than MAR)"
            )
        sentences.append(
            f"{name} vs {registry.arm_label(data.comparator)}: under MAR P(benefit) = "
            f"{p_mar:.3f}, so the conclusion P(benefit) > {threshold:g} "
            + ("holds" if holds else "does not hold")
            + f"; {where}"
        )
    text = (
        f"{data.outcome.replace('_', ' ')}: missing at {registry.time_at(data.trial, last)} "
        + ", ".join(f"{registry.arm_label(a)} {p:.0%}" for a, p in missing.items())
        + " (control arm as MAR). "
        + "; ".join(sentences)
        + "."
    )
    return TippingPoint(pd.concat(tables, ignore_index=True), missing, p_first, text)
