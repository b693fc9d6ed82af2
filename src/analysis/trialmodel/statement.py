r"""The trial model stated in maths: the one text that notebook 02 and the report's Methods show.

:data:`SYMBOLS` ties each symbol of the statement to the PyMC variable that
:func:`analysis.trialmodel.model.build_trial_model` creates, and the priors are rendered from
:class:`analysis.trialmodel.model.Priors`, so the statement cannot drift from the code (a test
builds every model variant and checks both directions).
"""

from __future__ import annotations

import pandas as pd

from analysis import registry
from analysis.trialmodel.model import MIN_RANDOM_SITES, PRIOR_SETS, STUDENT_NU_PRIOR, Priors

#: PyMC variable -> (LaTeX symbol, meaning). Every free or deterministic population-level
#: variable of every model variant appears here.
SYMBOLS = {
    "alpha": (r"\alpha_t", "visit mean (shared by the arms at baseline)"),
    "beta": (
        r"\beta_{at}",
        "effect of arm $a$ against the comparator at follow-up visit $t$ (SMD)",
    ),
    "sigma_site": (r"\sigma_{site}", "SD of the team (site) intercepts $u_j$"),
    "site_offset": (r"u_j / \sigma_{site}", "standardised team intercepts"),
    "site_fixed": (r"u_j", f"fixed sum-to-zero team effects (fewer than {MIN_RANDOM_SITES} teams)"),
    "sigma_site_effect": (
        r"\sigma_{site\,effect}",
        "SD of the team-specific treatment effects $v_j$",
    ),
    "site_effect_offset": (r"v_j / \sigma_{site\,effect}", "standardised team treatment effects"),
    "sigma": (r"\sigma", "within-patient residual SD (compound symmetry, AR(1))"),
    "rho": (r"\rho", "correlation of successive visits (AR(1))"),
    "gamma": (
        r"\gamma",
        "effects of the centred baseline covariates at each visit (adjusted analysis)",
    ),
    "sigma_patient": (r"\sigma_{patient}", "SD of the patient intercepts (integrated out)"),
    "visit_cov": (r"\Sigma", "unstructured within-patient covariance (Cholesky factor)"),
    "visit_sd": (r"\sigma_t", "visit-specific SDs of the unstructured covariance"),
    "visit_corr": (r"R", "between-visit correlations of the unstructured covariance"),
    "nu": (r"\nu", "degrees of freedom of the multivariate Student-t likelihood"),
}


def model_markdown(priors: Priors | None = None) -> str:
    """The trial model and its priors in Markdown with LaTeX maths.

    Parameters
    ----------
    priors : Priors, optional
        The default prior set unless given.

    Returns
    -------
    str
        Equations, the meaning of each term, the priors and the sensitivity prior sets.
    """
    p = priors or PRIOR_SETS["default"]
    sets = ", ".join(
        f"{name} $N(0, {v.effect_sd:g}^2)$" for name, v in PRIOR_SETS.items() if name != "default"
    )
    nu_shape, nu_rate = STUDENT_NU_PRIOR
    return rf"""
For patient $i$ in team (site) $j$ of arm $a$ at visit $t$ ($t = 0$ is baseline), each outcome
is standardised by the baseline mean and the pooled within-arm baseline SD (the denominator of
Cohen's $d$ in Tjaden et al. 2021), $z_{{it}} = (y_{{it}} - m_0)/s_0$, and

$$\mu_{{it}} = \alpha_t + \beta_{{at}}\,[a \neq c] + u_j + v_j\,\left([a \neq c] - \tfrac{{1}}{{2}}\right)[t > 0] + x_i^\top {SYMBOLS["gamma"][0]}_t$$

$$z_{{i,O_i}} \sim \mathrm{{MVN}}\left(\mu_{{i,O_i}},\ \Sigma_{{O_i O_i}}\right)$$

- ${SYMBOLS["alpha"][0]}$: visit means shared by all arms including baseline (constrained
  longitudinal data analysis: randomisation makes the arms equal at baseline);
- ${SYMBOLS["beta"][0]}$ ($t > 0$): effect of arm $a$ against the comparator $c$ at visit $t$,
  the difference in change from baseline in baseline-SD units (an SMD; the tables also give it
  on the instrument's scale, $s_0 \beta_{{at}}$);
- $u_j \sim N(0, {SYMBOLS["sigma_site"][0]}^2)$: team intercepts (fixed sum-to-zero effects
  with fewer than {MIN_RANDOM_SITES} teams); $v_j \sim N(0, {SYMBOLS["sigma_site_effect"][0]}^2)$:
  team-specific deviations of the treatment effect, where teams deliver the intervention
  (resource-group trial), coded $\pm\frac{{1}}{{2}}$ so that the two arms' variances are treated
  alike (with 0/1 coding the treated arm's variance could only exceed the control arm's);
- $x_i$: the patient's baseline covariates (age per 10 years, sex, diagnosis), centred over the
  trial's patients, when the analysis is adjusted (an option); centring makes
  $\alpha_t + \beta_{{at}}$ the marginal (standardised) arm means over the trial's own covariate
  distribution;
- $\Sigma$: within-patient covariance across visits. **Primary: unstructured**,
  $\mathrm{{diag}}({SYMBOLS["visit_sd"][0]})\,{SYMBOLS["visit_corr"][0]}\,
  \mathrm{{diag}}({SYMBOLS["visit_sd"][0]})$, a variance per visit and a correlation per pair
  of visits, as in a mixed model for repeated measures (MMRM). Sensitivity analyses, compared by
  PSIS-LOO: compound symmetry ${SYMBOLS["sigma_patient"][0]}^2 J + {SYMBOLS["sigma"][0]}^2 I$ (a
  patient random intercept, integrated out analytically) and, with three or more visits, AR(1)
  ${SYMBOLS["sigma"][0]}^2 {SYMBOLS["rho"][0]}^{{|t - t'|/\delta}}$, decaying with the time
  between visits ($\delta$ the largest step dividing every gap); a
  multivariate Student-t likelihood with ${SYMBOLS["nu"][0]}$ degrees of freedom is the robust
  alternative;
- $O_i$: the visits patient $i$ attended. **Missing visits are handled by the likelihood**:
  each patient contributes the exact marginal density of what was observed, valid if visits are
  missing at random given the observed outcomes and arm. Reference-based imputation (jump to
  reference, copy reference, copy increments in reference; Carpenter et al. 2013) and a delta
  tipping point examine departures from it.

**Priors** (baseline-SD units): $\alpha_t \sim N(0, {p.visit_sd:g}^2)$;
$\beta_{{at}} \sim N(0, {p.effect_sd:g}^2)$ (sensitivity: {sets});
$\sigma_{{site}} \sim HN({p.site_sd:g})$; $\sigma_{{site\,effect}} \sim HN({p.site_effect_sd:g})$;
$\sigma, \sigma_{{patient}}, \sigma_t \sim HN({p.residual_sd:g})$; $\rho \sim U(-1, 1)$;
$\gamma \sim N(0, {p.effect_sd:g}^2)$;
$R \sim \mathrm{{LKJ}}({p.lkj_eta:g})$; $\nu \sim \mathrm{{Gamma}}({nu_shape:g}, {nu_rate:g})$.
""".strip()


#: Reader-facing names of the estimand attributes (ICH E9(R1)).
ESTIMAND_LABELS = {
    "population": "Population",
    "variable": "Variable",
    "intercurrent_events": "Intercurrent events and strategies",
    "summary_measure": "Population-level summary",
}


#: Missing data are not an intercurrent event (ICH E9(R1)): how the analysis handles them.
MISSING_DATA = (
    "visits not attended (including after leaving the study) are missing data, not an "
    "intercurrent event: missing at random given the visits attended (primary), with "
    "reference-based imputation (jump to reference, copy reference, copy increments in "
    "reference; information-anchored) and a delta tipping point as sensitivity analyses"
)


def estimand_markdown(trial: str, events: pd.DataFrame | None = None) -> str:
    """The trial's estimand (from the trial registry) as a Markdown list, with the strategy of
    each intercurrent event type declared, what the data record of them (``events``: the
    ``intercurrent_events`` table) and how missing data are handled (ICH E9(R1))."""
    from analysis.contract import intercurrent

    est = registry.estimand(trial)
    treatments = ", ".join(registry.arm_label(a) for a in registry.trial_arms(trial))
    lines = [
        f"- **Treatments**: {treatments} (reference: "
        f"{registry.arm_label(registry.comparator(trial))})"
    ]
    declared = registry.ice_strategies(trial)
    for k, v in est.items():
        if k == "intercurrent_events" and declared:
            v = "; ".join(f"{event}: {registry.ICE_STRATEGIES[s]}" for event, s in declared.items())
        lines.append(f"- **{ESTIMAND_LABELS[k]}**: {v}")
    if events is not None:
        lines.append(f"- **In the data**: {intercurrent.events_markdown(events, trial)}")
    lines.append(f"- **Missing data**: {MISSING_DATA}")
    return "\n".join(lines)
