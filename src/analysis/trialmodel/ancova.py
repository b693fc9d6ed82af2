r"""The analysis trial statisticians report: a mixed model for repeated measures (MMRM) of the
change from baseline with the baseline as a covariate (ANCOVA at every visit).

For patient :math:`i` with baseline :math:`y_{i0}` at post-baseline visit :math:`t \ge 1`:

.. math::

    y_{it} - y_{i0} = \alpha_t + \beta_{at}[a \ne c] + \lambda_t (y_{i0} - \bar y_0)
        + x_i^\top\gamma_t + u_j + \epsilon_{it},\qquad
    \epsilon_i \sim \mathrm{MVN}(0, \Sigma)\ \text{(unstructured over the post-baseline visits)}

(baseline x visit, covariates x visit, team intercepts and slopes where the primary model has
them), as SAS PROC MIXED, the mmrm package and rbmi fit it. It is the trial model of
:mod:`analysis.trialmodel.model` on the post-baseline visits with the baseline as a covariate
and no constraint at the first visit (``baseline_constrained=False`` in the specification), so
the same native density fits it. Patients without a baseline value, or without any
post-baseline visit, contribute nothing and are left out (:func:`left_out` counts them); the
SMD keeps the primary analysis' denominator, the pooled within-arm baseline SD.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from analysis.trialmodel.model import TrialData

#: The label of this analysis in the ``sensitivity`` table.
LABEL = "baseline as covariate (ANCOVA)"
#: Reader-facing names of the analyses a trial may declare primary
#: (:data:`analysis.registry.ANALYSES`).
ANALYSIS_LABELS = {
    "constrained": "constrained longitudinal (baseline as outcome)",
    "ancova": LABEL,
}
#: The baseline covariate's term name.
BASELINE_TERM = "baseline (per baseline SD)"


def ancova_data(data: TrialData, covariates: bool = False) -> TrialData:
    """The baseline-as-covariate form of a trial outcome.

    Parameters
    ----------
    data : TrialData
        The outcome as the primary analysis holds it (baseline first).
    covariates : bool
        Also adjust for the data's other baseline covariates (each by visit).

    Returns
    -------
    TrialData
        Post-baseline visits only; ``y`` the change from baseline (``m0 = 0``, the same
        ``s0``); ``x`` the centred baseline in baseline-SD units, then the other covariates;
        ``baseline_constrained`` False.
    """
    keep = ~np.isnan(data.y[:, 0]) & (~np.isnan(data.y[:, 1:])).any(axis=1)
    base = data.y[keep, 0]
    change = data.y[keep, 1:] - base[:, None]
    x = ((base - base.mean()) / data.s0)[:, None]
    terms = [BASELINE_TERM]
    if covariates and data.x is not None and data.x.shape[1]:
        other = data.x[keep] - data.x[keep].mean(axis=0)
        x = np.column_stack([x, other])
        terms += list(data.covariate_terms)
    sites_kept = sorted(set(np.asarray(data.sites)[data.site_idx[keep]]))
    site_map = {s: i for i, s in enumerate(sites_kept)}
    return dataclasses.replace(
        data,
        patients=[p for p, k in zip(data.patients, keep, strict=True) if k],
        visits=list(data.visits[1:]),
        sites=sites_kept,
        y=change,
        arm_idx=data.arm_idx[keep],
        site_idx=np.array([site_map[data.sites[s]] for s in data.site_idx[keep]]),
        m0=0.0,
        s0=data.s0,
        x=x,
        covariate_terms=terms,
        baseline_constrained=False,
        meta={
            **data.meta,
            "analysis": LABEL,
            "baseline_mean": float(base.mean()),
            "baseline_time": data.visits[0],
        },
    )


def analysis_data(
    df, trial: str, outcome: str, analysis: str | None = None, covariates: bool = False
) -> TrialData:
    """One outcome's data as an analysis holds it: the constrained model's (baseline first) or
    this module's (:func:`ancova_data`, with the other covariates if ``covariates``);
    ``analysis`` defaults to the trial's primary analysis
    (:func:`analysis.registry.primary_analysis`)."""
    from analysis import registry
    from analysis.trialmodel.model import prepare_trial_data

    analysis = analysis or registry.primary_analysis(trial)
    data = prepare_trial_data(df, trial, outcome)
    return ancova_data(data, covariates) if analysis == "ancova" else data


def left_out(data: TrialData) -> dict[str, int]:
    """Patients the baseline-as-covariate analysis leaves out, by reason."""
    no_base = np.isnan(data.y[:, 0])
    no_follow = ~no_base & np.isnan(data.y[:, 1:]).all(axis=1)
    return {"no baseline value": int(no_base.sum()), "no post-baseline visit": int(no_follow.sum())}
