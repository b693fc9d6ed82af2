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

That inference (``conditional_mean``) is not information-anchored: its interval shrinks with
the estimate, so P(benefit) barely moves and a reference-based analysis can hardly change a
decision. The ``information_anchored`` inference is the one regulators, the SAS "five macros"
and rbmi's Bayesian multiple imputation report (Cro, Carpenter and Kenward 2019): for each of
:data:`IMPUTATIONS` posterior draws, every missing final value is *drawn* from its conditional
distribution under the strategy (mean as above, variance
:math:`\Sigma_{KK} - \Sigma_{KO}\Sigma_{OO}^{-1}\Sigma_{OK}`); each completed data set is
analysed by the usual ANCOVA of the final value on arm and baseline, and the estimates are
combined by Rubin's rules (Barnard-Rubin degrees of freedom). Its variance stays near MAR's,
so P(benefit) falls when the estimate does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import catalogue, rules
from analysis.modelspec import ar1_lags, slope_code
from analysis.trialmodel.model import TrialData

#: Posterior draws (imputations) of the information-anchored inference.
IMPUTATIONS = 100
#: The two inferences of the ``reference_based`` table; the report's statement uses the first.
INFERENCES = {
    "information_anchored": "multiple imputation, Rubin's rules (information-anchored)",
    "conditional_mean": "conditional mean imputation in every posterior draw",
}

#: Strategy code -> reader-facing name; MAR is the primary analysis.
STRATEGIES = {
    "MAR": "missing at random (primary)",
    "J2R": "jump to reference",
    "CR": "copy reference",
    "CIR": "copy increments in reference",
}


def _draws(idata, name: str, pick: np.ndarray | None = None) -> np.ndarray:
    """Posterior draws of ``name`` with chain and draw stacked first (only the stacked draws
    ``pick`` when given)."""
    v = np.asarray(idata.posterior[name])
    v = v.reshape(-1, *v.shape[2:])
    return v if pick is None else v[pick]


def covariance_draws(idata, visits) -> np.ndarray:
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
        lag = ar1_lags(visits)
        return sigma[:, None, None] ** 2 * _draws(idata, "rho")[:, None, None] ** lag
    sp = _draws(idata, "sigma_patient")
    return sp[:, None, None] ** 2 + sigma[:, None, None] ** 2 * np.eye(len(visits))


def arm_difference_draws(
    idata, data: TrialData, arm: str, pick: np.ndarray | None = None
) -> np.ndarray:
    """Arm-minus-reference mean difference of each patient of ``arm`` (draw x patient x visit;
    only the stacked draws ``pick`` when given).

    The population effect ``beta`` at each follow-up visit (zero at baseline) plus the team's
    deviation of the effect where the model has team slopes.
    """
    first = _first_effect(data)
    beta = idata.posterior["beta"].sel(treatment=arm).transpose("chain", "draw", "followup")
    beta = np.asarray(beta).reshape(-1, len(data.visits) - first)
    beta = beta if pick is None else beta[pick]
    rows = np.flatnonzero(np.array(data.arms)[data.arm_idx] == arm)
    delta = np.concatenate([np.zeros((beta.shape[0], first)), beta], axis=1)[:, None, :]
    delta = np.repeat(delta, len(rows), axis=1)
    if "sigma_site_effect" in idata.posterior:
        v = _draws(idata, "sigma_site_effect", pick)[:, None] * _draws(
            idata, "site_effect_offset", pick
        )
        delta[:, :, first:] += v[:, data.site_idx[rows]][:, :, None]
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
        cov = covariance_draws(idata, data.visits)
        patterns = {}
        for i in missing:
            patterns.setdefault(tuple(np.flatnonzero(mask[i])), []).append(i)
        for obs, members in patterns.items():
            o = list(obs)
            c = np.linalg.solve(cov[:, o][:, :, o], cov[:, o, k][:, :, None])[:, :, 0]
            adj = np.einsum("sk,spk->sp", c, delta[:, members][:, :, o])
            d[:, members] = delta[:, members, k] - adj
    return effect - d.sum(axis=1) / len(rows)


def patient_means(idata, data: TrialData, pick: np.ndarray | None = None) -> np.ndarray:
    """Each patient's mean profile under the fitted model, MAR (draw x patient x visit, the
    model's standardised scale; only the stacked draws ``pick`` when given): visit means, the
    arm's effects, covariates and team effects."""
    post = idata.posterior
    t = len(data.visits)
    first = _first_effect(data)
    alpha = _draws(idata, "alpha", pick)
    beta = _draws(idata, "beta", pick).reshape(len(alpha), len(data.treatments), t - first)
    arm_of = np.array(data.arms)[data.arm_idx]
    mu = np.repeat(alpha[:, None, :], len(arm_of), axis=1)
    for k, a in enumerate(data.treatments):
        rows = arm_of == a
        mu[:, rows, first:] += beta[:, k][:, None, :]
    if "gamma" in post and data.x is not None and data.x.shape[1]:
        mu += np.einsum("pq,sqt->spt", data.x, _draws(idata, "gamma", pick))
    if "site_offset" in post:
        u = _draws(idata, "sigma_site", pick)[:, None] * _draws(idata, "site_offset", pick)
        mu += u[:, data.site_idx][:, :, None]
    elif "site_fixed" in post:
        mu += _draws(idata, "site_fixed", pick)[:, data.site_idx][:, :, None]
    if "sigma_site_effect" in post:
        v = _draws(idata, "sigma_site_effect", pick)[:, None] * _draws(
            idata, "site_effect_offset", pick
        )
        code = slope_code(arm_of != data.comparator)
        mu[:, :, first:] += (v[:, data.site_idx] * code)[:, :, None]
    return mu


#: The ``strategy`` of the reference-based row that follows the estimand: each patient with a
#: set-aside intercurrent event by the event's strategy, everyone else missing at random.
ESTIMAND = "estimand"


def patient_strategies(data: TrialData, strategy: str) -> np.ndarray:
    """Each patient's imputation strategy: ``strategy`` for all, or for :data:`ESTIMAND` the
    strategy of their intercurrent event (``hypothetical`` events impute under MAR)."""
    if strategy != ESTIMAND:
        return np.full(len(data.patients), strategy, dtype=object)
    own = data.meta.get("ice_strategy", {})
    mapped = [own.get(p, "MAR") for p in data.patients]
    return np.array(["MAR" if s == "hypothetical" else s for s in mapped], dtype=object)


def _first_effect(data: TrialData) -> int:
    """Index of the first visit with an effect: 1 for the constrained analysis (baseline shared),
    0 for the baseline-as-covariate analysis (post-baseline visits only)."""
    return 1 if data.baseline_constrained else 0


def _strategy_shift(delta, cov, mask, strategy):
    """Per draw and patient of one arm, how far the strategy moves the conditional mean of the
    final value below MAR's, ``d`` of the module docstring (draw x patient; zero for patients
    seen at the final visit)."""
    k = mask.shape[1] - 1
    d = np.zeros(delta.shape[:2])
    missing = np.flatnonzero(~mask[:, k])
    if strategy == "MAR" or not len(missing):
        return d
    if strategy == "J2R":
        d[:, missing] = delta[:, missing, k]
    elif strategy == "CIR":
        lastobs = np.array([np.flatnonzero(mask[i])[-1] for i in missing], dtype=int)
        d[:, missing] = delta[:, missing, k] - delta[:, missing, lastobs]
    else:  # CR
        for obs, members in _patterns(mask, missing).items():
            o = list(obs)
            c = np.linalg.solve(cov[:, o][:, :, o], cov[:, o, k][:, :, None])[:, :, 0]
            d[:, members] = delta[:, members, k] - np.einsum(
                "sk,spk->sp", c, delta[:, members][:, :, o]
            )
    return d


def _patterns(mask, rows) -> dict:
    out: dict[tuple, list] = {}
    for i in rows:
        out.setdefault(tuple(np.flatnonzero(mask[i])), []).append(i)
    return out


def information_anchored(
    idata, data: TrialData, strategy: str, n_imputations: int = IMPUTATIONS, seed: int = 0
) -> dict:
    """Multiple imputation of the missing final values under ``strategy``, each completed data
    set analysed by ANCOVA (final value on arm and baseline), combined by Rubin's rules.

    Returns
    -------
    dict
        ``(arm, comparator) -> (estimate, variance, df, between)`` on the model's standardised
        scale (not oriented): the pooled difference, Rubin's total variance, the Barnard-Rubin
        degrees of freedom and the between-imputation variance.
    """
    if strategy not in STRATEGIES and strategy != ESTIMAND:
        raise ValueError(f"strategy must be one of {list(STRATEGIES)}, got {strategy!r}")
    from analysis.trialmodel.summarise import contrasts

    cov_all = covariance_draws(idata, data.visits)
    pick = np.unique(np.linspace(0, len(cov_all) - 1, min(n_imputations, len(cov_all))).astype(int))
    cov = cov_all[pick]
    mu = patient_means(idata, data, pick)
    arm_of = np.array(data.arms)[data.arm_idx]
    z, mask = data.z, data.mask
    k = len(data.visits) - 1
    shift = np.zeros((len(pick), len(z)))
    per_patient = patient_strategies(data, strategy)
    for a in data.treatments:
        rows = np.flatnonzero(arm_of == a)
        delta = arm_difference_draws(idata, data, a, pick)
        for s in sorted(set(per_patient[rows])):
            d = _strategy_shift(delta, cov, mask[rows], s)
            take = per_patient[rows] == s
            shift[:, rows[take]] = d[:, take]
    # MAR conditional mean and variance of every missing final value, per imputation
    cond_mean = np.zeros((len(pick), len(z)))
    cond_sd = np.zeros((len(pick), len(z)))
    for obs, members in _patterns(mask, np.flatnonzero(~mask[:, k])).items():
        o = list(obs)
        c = np.linalg.solve(cov[:, o][:, :, o], cov[:, o, k][:, :, None])[:, :, 0]
        resid = (
            np.where(np.isnan(z[members][:, o]), 0.0, z[members][:, o])[None]
            - mu[:, members][:, :, o]
        )
        cond_mean[:, members] = mu[:, members, k] + np.einsum("sk,spk->sp", c, resid)
        var = cov[:, k, k] - np.einsum("sk,sk->s", c, cov[:, o, k])
        cond_sd[:, members] = np.sqrt(np.maximum(var, 0.0))[:, None]
    rng = np.random.default_rng(seed)
    completed = np.where(
        mask[:, k][None],
        np.nan_to_num(z[:, k])[None],
        cond_mean - shift + cond_sd * rng.standard_normal(cond_mean.shape),  # strategy = MAR - d
    )
    # ANCOVA on the patients with a baseline: intercept, one column per active arm, baseline
    # (the baseline-as-covariate analysis holds the centred baseline as its first covariate and
    # the change as its outcome: the same arm coefficients)
    if data.baseline_constrained:
        keep = mask[:, 0]
        baseline = z[keep, 0] - z[keep, 0].mean()
    else:
        keep = np.ones(len(z), dtype=bool)
        baseline = data.x[:, 0]
    design = np.column_stack(
        [np.ones(keep.sum())]
        + [(arm_of[keep] == a).astype(float) for a in data.treatments]
        + [baseline]
    )
    xtx_inv = np.linalg.inv(design.T @ design)
    coef = completed[:, keep] @ design @ xtx_inv  # imputation x column
    resid = completed[:, keep] - coef @ design.T
    dof = keep.sum() - design.shape[1]
    sigma2 = (resid**2).sum(axis=1) / dof
    out = {}
    for arm, comp in contrasts(data):
        w = np.zeros(design.shape[1])
        w[1 + data.treatments.index(arm)] = 1.0
        if comp != data.comparator:
            w[1 + data.treatments.index(comp)] = -1.0
        theta = coef @ w
        within = sigma2 * (w @ xtx_inv @ w)
        m = len(theta)
        between = float(np.var(theta, ddof=1)) if m > 1 else 0.0
        total = float(within.mean()) + (1 + 1 / m) * between
        out[(arm, comp)] = (
            float(theta.mean()),
            total,
            _barnard_rubin(m, within.mean(), between, dof),
            between,
        )
    return out


def _barnard_rubin(m: int, within: float, between: float, dof_complete: int) -> float:
    """Degrees of freedom of Rubin's rules (Barnard and Rubin 1999)."""
    if between <= 0:
        return float(dof_complete)
    gamma = (1 + 1 / m) * between / (within + (1 + 1 / m) * between)
    old = (m - 1) / gamma**2
    observed = (dof_complete + 1) / (dof_complete + 3) * dof_complete * (1 - gamma)
    return float(1 / (1 / old + 1 / observed))


def _t_pdf(x: float, df: float) -> float:
    """Density of Student's t with ``df`` degrees of freedom at ``x``."""
    from scipy.special import gammaln

    log = gammaln((df + 1) / 2) - gammaln(df / 2) - 0.5 * np.log(df * np.pi)
    return float(np.exp(log - (df + 1) / 2 * np.log1p(x * x / df)))


def reference_based_table(idata, data: TrialData) -> pd.DataFrame:
    """The ``reference_based`` rows of one fitted outcome: every contrast under every strategy,
    by both inferences (:data:`INFERENCES`).

    Contrasts between two active arms take the difference of their draws against the reference.

    Returns
    -------
    pandas.DataFrame
        Columns of :data:`analysis.catalogue.REFERENCE_BASED`; ``conclusion_holds`` applies the
        report's decision rule (:data:`analysis.rules.DECISION_THRESHOLD`) to P(benefit). The
        information-anchored rows' MCSEs are the Monte Carlo errors of the imputations.
    """
    from scipy.special import stdtr, stdtrit

    from analysis.trialmodel.summarise import _mcse, contrasts

    shape = (idata.posterior.sizes["chain"], idata.posterior.sizes["draw"])
    direction = 1.0 if data.meta["higher_is_better"] else -1.0
    arm_of = np.array(data.arms)[data.arm_idx]
    last_missing = {a: float(np.isnan(data.y[arm_of == a, -1]).mean()) for a in data.arms}
    rows = []
    strategies = dict(STRATEGIES)
    own = sorted(set(data.meta.get("ice_strategy", {}).values()) - {"hypothetical"})
    if own:  # reference-based intercurrent events in the data: the estimand's own row
        strategies[ESTIMAND] = "the estimand's strategies (" + ", ".join(own) + " after events)"
    for strategy, name in strategies.items():
        common = {
            "trial": data.trial,
            "outcome": data.outcome,
            "month": data.visits[-1],
            "strategy": strategy,
            "strategy_label": name,
        }
        pooled = information_anchored(idata, data, strategy)
        for arm, comp in contrasts(data):
            theta, total, df, between = pooled[(arm, comp)]
            sd = np.sqrt(total)
            q = stdtrit(df, rules.UPPER)  # Student-t quantile
            p = float(stdtr(df, direction * theta / sd))  # P(benefit) under t(df, theta, sd)
            mc = np.sqrt(between / IMPUTATIONS)  # Monte Carlo error of the pooled estimate
            rows.append(
                {
                    **common,
                    "inference": "information_anchored",
                    "arm": arm,
                    "comparator": comp,
                    "missing_share": last_missing[arm],
                    "estimate": theta * data.s0,
                    "lower": (theta - q * sd) * data.s0,
                    "upper": (theta + q * sd) * data.s0,
                    "smd": theta,
                    "prob_benefit": p,
                    "conclusion_holds": p > rules.DECISION_THRESHOLD,
                    "lower_mcse": mc * data.s0,
                    "upper_mcse": mc * data.s0,
                    "prob_benefit_mcse": float(_t_pdf(theta / sd, df) * mc / sd),
                }
            )
        if strategy == ESTIMAND:
            continue  # per-patient strategies: by imputation only
        draws = {a: reference_based_draws(idata, data, a, strategy) for a in data.treatments}
        for arm, comp in contrasts(data):
            smd = draws[arm] - (0.0 if comp == data.comparator else draws[comp])
            est = (smd * data.s0).reshape(shape)
            benefit = (direction * est > 0).astype(float)
            p = float(benefit.mean())
            rows.append(
                {
                    **common,
                    "inference": "conditional_mean",
                    "arm": arm,
                    "comparator": comp,
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


def reference_based_verdict(table: pd.DataFrame) -> str:
    """One sentence: which contrasts' decisions (information-anchored) change under a
    reference-based strategy, or that none does.

    Parameters
    ----------
    table : pandas.DataFrame
        The ``reference_based`` table of one trial.
    """
    from analysis import registry

    if table.empty:
        return ""
    if "inference" in table:
        table = table[table["inference"] == "information_anchored"]
    changed = []
    for (outcome, arm, comp), g in table.groupby(["outcome", "arm", "comparator"], sort=False):
        holds = g.set_index("strategy")["conclusion_holds"].astype(bool)
        flips = [s for s in holds.index if s != "MAR" and holds[s] != holds.get("MAR", holds[s])]
        if flips:
            changed.append(
                f"{registry.arm_label(arm)} vs {registry.arm_label(comp)}, "
                f"{outcome.replace('_', ' ')} (under {', '.join(flips)})"
            )
    n = table.groupby(["outcome", "arm", "comparator"]).ngroups
    if not changed:
        return (
            f"For all {n} outcome and contrast pairs the decision (P(benefit) > "
            f"{rules.DECISION_THRESHOLD:g}) is the same under every strategy as under MAR; "
            "every estimate is in the appendix."
        )
    return (
        f"The decision under MAR changes for {len(changed)} of {n} outcome and contrast pairs: "
        + "; ".join(changed)
        + ". Every estimate is in the appendix."
    )


def reference_based_markdown(table: pd.DataFrame) -> str:
    """One sentence per outcome: whether the decision holds under every missing-data strategy.

    Parameters
    ----------
    table : pandas.DataFrame
        The ``reference_based`` table of one trial.
    """
    from analysis import registry

    lines = []
    if "inference" in table:  # the statement rests on the information-anchored rows
        table = table[table["inference"] == "information_anchored"]
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
    if lines:
        lines.insert(
            0,
            "Missing final values imputed under each strategy and the completed data analysed "
            "by ANCOVA on the baseline (patients without a baseline value left out), combined by "
            "Rubin's rules (information-anchored, as the SAS five macros "
            "and rbmi report); the conditional-mean inference is in the table.",
        )
    return "\n".join(lines)
