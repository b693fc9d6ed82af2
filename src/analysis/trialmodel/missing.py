r"""Reference-based imputation of missing final-visit outcomes (Carpenter, Roger and Kenward 2013).

The primary analysis assumes the visits a patient missed are missing at random (MAR) given the
visits attended and the arm. Reference-based strategies instead let a patient who left an active
arm continue, after their last attended visit, like the reference (comparator) arm:

- **J2R, jump to reference**: the mean after leaving is the reference arm's mean;
- **CR, copy reference**: the patient's whole mean profile is the reference arm's, so the
  visits attended are also read as deviations from the reference mean;
- **CIR, copy increments in reference**: from the arm's own mean at the last visit attended,
  the mean changes as the reference arm's does.

Patients of the reference arm stay MAR. With the fitted model's covariance :math:`\Sigma` (common
to the arms), a missing final value :math:`y_K` of a patient who attended visits :math:`O` (last
:math:`l`) has conditional mean :math:`\mu^*_K + c^\top (y_O - \mu^*_O)`,
:math:`c = \Sigma_{OO}^{-1}\Sigma_{OK}`, where :math:`\mu^*` is the strategy's mean profile. Its
difference from the MAR conditional mean does not depend on :math:`y_O`:

.. math::

    d^{J2R} = \Delta_K, \qquad d^{CR} = \Delta_K - c^\top \Delta_O, \qquad
    d^{CIR} = \Delta_K - \Delta_l,

with :math:`\Delta_t` the patient's arm-minus-reference mean difference at visit :math:`t` (the
population effect :math:`\beta_{at}` plus the team's deviation where the model has one). The
difference in arm means at the final visit, with every missing value imputed by its conditional
mean, is therefore, for each posterior draw, the MAR effect :math:`\beta_{aK}` minus the average
of :math:`d` over the arm's patients (zero for those observed at :math:`K`). Imputing by the
conditional mean instead of by random draws gives the same expected difference without Monte
Carlo noise (the "conditional mean imputation" of Wolbers et al. 2022); carrying it through
every posterior draw carries the imputation model's uncertainty. J2R has the closed form
:math:`\beta_{aK}(1 - p_a)` for a two-arm trial without team deviations, :math:`p_a` the share of
arm :math:`a` missing at the final visit, which the tests check.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import catalogue, rules
from analysis.trialmodel.model import TrialData

#: Strategy code -> reader-facing name; MAR is the primary analysis.
STRATEGIES = {
    "MAR": "missing at random (primary)",
    "J2R": "jump to reference",
    "CR": "copy reference",
    "CIR": "copy increments in reference",
}


def _draws(idata, name: str) -> np.ndarray:
    """Posterior draws of ``name`` with chain and draw stacked first."""
    v = np.asarray(idata.posterior[name])
    return v.reshape(-1, *v.shape[2:])


def covariance_draws(idata, n_visits: int) -> np.ndarray:
    """Within-patient covariance across visits per posterior draw (draw x visit x visit).

    Works for every covariance structure of the trial model: unstructured (``visit_sd``,
    ``visit_corr``), compound symmetry (``sigma``, ``sigma_patient``) and AR(1) (``sigma``,
    ``rho``).
    """
    post = idata.posterior
    if "visit_sd" in post:
        sd = _draws(idata, "visit_sd")
        return sd[:, :, None] * _draws(idata, "visit_corr") * sd[:, None, :]
    sigma = _draws(idata, "sigma")
    if "rho" in post:
        lag = np.abs(np.subtract.outer(np.arange(n_visits), np.arange(n_visits)))
        return sigma[:, None, None] ** 2 * _draws(idata, "rho")[:, None, None] ** lag
    sp = _draws(idata, "sigma_patient")
    return sp[:, None, None] ** 2 + sigma[:, None, None] ** 2 * np.eye(n_visits)


def arm_difference_draws(idata, data: TrialData, arm: str) -> np.ndarray:
    """Arm-minus-reference mean difference of each patient of ``arm`` (draw x patient x visit).

    The population effect ``beta`` at each follow-up visit (zero at baseline) plus the team's
    deviation of the effect where the model has team slopes.
    """
    beta = idata.posterior["beta"].sel(treatment=arm).transpose("chain", "draw", "followup")
    beta = np.asarray(beta).reshape(-1, len(data.visits) - 1)
    rows = np.flatnonzero(np.array(data.arms)[data.arm_idx] == arm)
    delta = np.concatenate([np.zeros((beta.shape[0], 1)), beta], axis=1)[:, None, :]
    delta = np.repeat(delta, len(rows), axis=1)
    if "sigma_site_effect" in idata.posterior:
        v = _draws(idata, "sigma_site_effect")[:, None] * _draws(idata, "site_effect_offset")
        delta[:, :, 1:] += v[:, data.site_idx[rows]][:, :, None]
    return delta


def reference_based_draws(idata, data: TrialData, arm: str, strategy: str) -> np.ndarray:
    """Posterior draws of the final-visit SMD of ``arm`` against the reference arm.

    Parameters
    ----------
    idata : arviz.InferenceData
        A fit of the trial model to ``data``.
    data : TrialData
    arm : str
        An active arm (the reference is ``data.comparator``).
    strategy : {"MAR", "J2R", "CR", "CIR"}

    Returns
    -------
    numpy.ndarray
        One value per posterior draw (chains stacked), in baseline-SD units on the model's
        scale (not yet oriented to benefit).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {list(STRATEGIES)}, got {strategy!r}")
    last = data.visits[-1]
    beta = idata.posterior["beta"].sel(treatment=arm, followup=last)
    effect = np.asarray(beta).ravel()
    if strategy == "MAR":
        return effect
    rows = np.flatnonzero(np.array(data.arms)[data.arm_idx] == arm)
    mask = data.mask[rows]
    delta = arm_difference_draws(idata, data, arm)  # draw x patient x visit
    k = len(data.visits) - 1
    d = np.zeros((len(effect), len(rows)))
    missing = np.flatnonzero(~mask[:, k])
    if strategy == "J2R":
        d[:, missing] = delta[:, missing, k]
    elif strategy == "CIR":
        lastobs = np.array([np.flatnonzero(mask[i])[-1] for i in missing], dtype=int)
        d[:, missing] = delta[:, missing, k] - delta[:, missing, lastobs]
    else:  # CR: needs the covariance, one small solve per attendance pattern and draw
        cov = covariance_draws(idata, len(data.visits))
        patterns = {}
        for i in missing:
            patterns.setdefault(tuple(np.flatnonzero(mask[i])), []).append(i)
        for obs, members in patterns.items():
            o = list(obs)
            c = np.linalg.solve(cov[:, o][:, :, o], cov[:, o, k][:, :, None])[:, :, 0]
            adj = np.einsum("sk,spk->sp", c, delta[:, members][:, :, o])
            d[:, members] = delta[:, members, k] - adj
    return effect - d.sum(axis=1) / len(rows)


def reference_based_table(idata, data: TrialData) -> pd.DataFrame:
    """The ``reference_based`` rows of one fitted outcome: every contrast under every strategy.

    Contrasts between two active arms take the difference of their draws against the reference.

    Returns
    -------
    pandas.DataFrame
        Columns of :data:`analysis.catalogue.REFERENCE_BASED`; ``conclusion_holds`` applies the
        report's decision rule (:data:`analysis.rules.DECISION_THRESHOLD`) to P(benefit).
    """
    from analysis.trialmodel.summarise import _mcse, contrasts

    shape = (idata.posterior.sizes["chain"], idata.posterior.sizes["draw"])
    direction = 1.0 if data.meta["higher_is_better"] else -1.0
    arm_of = np.array(data.arms)[data.arm_idx]
    last_missing = {a: float(np.isnan(data.y[arm_of == a, -1]).mean()) for a in data.arms}
    rows = []
    for strategy, name in STRATEGIES.items():
        draws = {a: reference_based_draws(idata, data, a, strategy) for a in data.treatments}
        for arm, comp in contrasts(data):
            smd = draws[arm] - (0.0 if comp == data.comparator else draws[comp])
            est = (smd * data.s0).reshape(shape)
            benefit = (direction * est > 0).astype(float)
            p = float(benefit.mean())
            rows.append(
                {
                    "trial": data.trial,
                    "outcome": data.outcome,
                    "month": data.visits[-1],
                    "arm": arm,
                    "comparator": comp,
                    "strategy": strategy,
                    "strategy_label": name,
                    "missing_share": last_missing[arm],
                    "estimate": est.mean(),
                    "lower": np.quantile(est, rules.LOWER),
                    "upper": np.quantile(est, rules.UPPER),
                    "smd": smd.mean(),
                    "prob_benefit": p,
                    "conclusion_holds": p > rules.DECISION_THRESHOLD,
                    "lower_mcse": _mcse(est, "quantile", rules.LOWER),
                    "upper_mcse": _mcse(est, "quantile", rules.UPPER),
                    "prob_benefit_mcse": _mcse(benefit, "mean"),
                }
            )
    return pd.DataFrame(rows, columns=list(catalogue.REFERENCE_BASED.columns))


def reference_based_markdown(table: pd.DataFrame) -> str:
    """One sentence per outcome: whether the decision holds under every missing-data strategy.

    Parameters
    ----------
    table : pandas.DataFrame
        The ``reference_based`` table of one trial.
    """
    from analysis import registry

    lines = []
    for (outcome, arm, comp), g in table.groupby(["outcome", "arm", "comparator"], sort=False):
        g = g.set_index("strategy")
        holds = g["conclusion_holds"].astype(bool)
        name = (
            f"{registry.arm_label(arm)} vs {registry.arm_label(comp)}, {outcome.replace('_', ' ')}"
        )
        share = f"{g['missing_share'].iloc[0]:.0%} of the first arm missing at the final visit"
        ranges = ", ".join(
            f"{s} {r.estimate:.2f} ({r.lower:.2f} to {r.upper:.2f}), P(benefit) {r.prob_benefit:.3f}"
            for s, r in g.iterrows()
        )
        if holds.all():
            verdict = f"the decision (P(benefit) > {rules.DECISION_THRESHOLD:g}) holds under every strategy"
        elif not holds.any():
            verdict = "no strategy reaches the decision threshold"
        else:
            flips = ", ".join(s for s in holds.index if holds[s] != holds["MAR"])
            verdict = f"the decision under MAR changes under {flips}"
        lines.append(f"- **{name}** ({share}): {ranges}; {verdict}.")
    return "\n".join(lines)
