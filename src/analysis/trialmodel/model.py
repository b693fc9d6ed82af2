r"""Bayesian hierarchical longitudinal model of one trial outcome (constrained longitudinal analysis).

For patient :math:`i` in team/site :math:`j` with arm :math:`a` at visit :math:`t`
(:math:`t = 0` baseline), outcomes standardised by the pooled baseline mean :math:`m_0` and SD
:math:`s_0`, :math:`z_{it} = (y_{it} - m_0) / s_0`:

.. math::

    \mu_{it} &= \alpha_t + \beta_{a t}\,[a \ne c] + u_j + v_j\,([a \ne c] - 1/2)[t > 0]
        + x_i^\top\gamma \\
    z_i &\sim \mathrm{MVN}_{O_i}(\mu_{i, O_i}, \Sigma_{O_i O_i})
    \quad\text{or}\quad \mathrm{MVT}_{O_i}(\nu, \mu_{i, O_i}, \Sigma_{O_i O_i})

- :math:`\alpha_t`: visit means shared by all arms, baseline included (randomisation makes the
  arms equal at baseline: constrained longitudinal data analysis, cLDA);
- :math:`\beta_{at}`: effect of arm :math:`a` against the comparator :math:`c` at follow-up visit
  :math:`t`, i.e. the difference in change from baseline in baseline-SD units (an SMD);
  :math:`\beta_{a0} = 0`;
- :math:`u_j \sim N(0, \sigma_{site}^2)` team/site intercepts (with fewer than
  :data:`MIN_RANDOM_SITES` sites, fixed sum-to-zero site effects with a N(0, 0.5) prior); :math:`v_j \sim N(0,
  \sigma_{site\,effect}^2)` team x treatment random slopes (resource groups), coded +/- 1/2;
  :math:`x_i`: centred baseline covariates (optional);
- :math:`\Sigma`: within-patient covariance across visits: ``unstructured`` (primary,
  :math:`\mathrm{diag}(\sigma_t) R\, \mathrm{diag}(\sigma_t)`, MMRM style), ``intercept``
  (compound symmetry, :math:`\sigma_{patient}^2 J + \sigma^2 I`, a patient random intercept
  integrated out) or ``ar1`` (:math:`\sigma^2\rho^{|t - t'|/\delta}`, decaying with the time
  between visits in steps :math:`\delta` that divide every gap, :func:`~analysis.modelspec.ar1_lags`);
- :math:`O_i`: the visits patient :math:`i` attended. The patient effects are integrated out
  analytically and each patient contributes the exact marginal density of the visits observed:
  missing visits are handled by the likelihood under missing at random.

The priors are the fields of :class:`Priors`; :mod:`analysis.trialmodel.statement` states the
model in maths for the notebook and the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis import registry
from analysis.modelspec import (  # noqa: F401  (the model's names, re-exported)
    COVARIANCE_LABELS,
    COVARIANCES,
    COVARIATE_COLUMNS,
    DEFAULT_COVARIANCE,
    FIXED_SITE_SD,
    FORMULATIONS,
    LIKELIHOODS,
    MIN_RANDOM_SITES,
    PRIOR_FIELDS,
    PRIOR_SETS,
    STUDENT_NU_PRIOR,
    ModelSpec,
    Priors,
    ar1_lags,
    site_mode,
    slope_code,
)

if TYPE_CHECKING:  # PyMC is imported where a graph is built, not on the native fit path
    import pymc as pm


@dataclass
class TrialData:
    """One trial outcome in the arrays the model needs.

    ``y`` is patients x visits on the instrument scale (NaN = missing); ``z`` the same,
    standardised by the baseline mean ``m0`` and the pooled within-arm baseline SD ``s0`` (the
    denominator of Tjaden et al.'s Cohen's d). ``x`` holds the baseline covariates present in
    the data, centred over the patients, so that the arm means are marginal (standardised)
    means over the trial's own covariate distribution.
    """

    trial: str
    outcome: str
    patients: list[str]
    visits: list[int]
    arms: list[str]
    comparator: str
    sites: list[str]
    y: np.ndarray
    arm_idx: np.ndarray
    site_idx: np.ndarray
    m0: float
    s0: float
    meta: dict = field(default_factory=dict)
    #: Centred baseline covariates (patient x term) and the names of their terms.
    x: np.ndarray | None = None
    covariate_terms: list[str] = field(default_factory=list)
    #: False for the baseline-as-covariate analysis: ``visits`` are the post-baseline visits
    #: and every one has an effect (:mod:`analysis.trialmodel.ancova`).
    baseline_constrained: bool = True

    @property
    def z(self) -> np.ndarray:
        """Standardised outcome (NaN = missing)."""
        return (self.y - self.m0) / self.s0

    @property
    def mask(self) -> np.ndarray:
        """Observed indicator, patients x visits."""
        return ~np.isnan(self.y)

    @property
    def treatments(self) -> list[str]:
        """Arms other than the comparator."""
        return [a for a in self.arms if a != self.comparator]

    @property
    def n_patients(self) -> int:
        """Number of patients."""
        return len(self.patients)


def prepare_trial_data(df: pd.DataFrame, trial: str, outcome: str) -> TrialData:
    """Reshape validated long data of one trial and outcome for the model.

    Parameters
    ----------
    df : pandas.DataFrame
        Validated data (the contract).
    trial, outcome : str
        Which trial and outcome.

    Returns
    -------
    TrialData
    """
    from analysis.contract import intercurrent

    sub = df[(df["trial"] == trial) & (df["outcome"] == outcome)]
    if sub.empty:
        raise ValueError(f"no data for trial {trial!r}, outcome {outcome!r}")
    # the estimand's strategies: outcomes after an event handled hypothetically or by a
    # reference-based strategy are set aside (missing for the model)
    sub, ice_strategy = intercurrent.apply_strategies(sub, trial)
    reg = registry.get_outcome(trial, outcome)
    visits = [m for m in reg.visits if m in set(sub["month"])]
    if not visits or visits[0] != reg.visits[0]:
        raise ValueError(
            f"trial {trial!r}, outcome {outcome!r}: no patient has a baseline value "
            f"(visit {reg.visits[0]}); the model measures change from baseline"
        )
    arms = [a for a in registry.trial_arms(trial) if a in set(sub["arm"])]
    comparator = registry.comparator(trial)
    if comparator not in arms:
        raise ValueError(
            f"trial {trial!r}, outcome {outcome!r}: no patients in comparator arm {comparator!r}"
        )
    wide = sub.pivot(index="patient_id", columns="month", values="value").reindex(columns=visits)
    pts = sub.drop_duplicates("patient_id").set_index("patient_id").loc[wide.index]
    sites = sorted(pts["site"].unique())
    y = wide.to_numpy(dtype=float)
    base = y[:, 0]
    arm_of = pts["arm"].to_numpy()
    s0 = pooled_within_arm_sd(base, arm_of)
    x, terms = covariate_matrix(pts)
    if not np.isfinite(s0) or s0 <= 0:
        raise ValueError(f"trial {trial!r}, outcome {outcome!r}: baseline SD is zero or undefined")
    return TrialData(
        trial=trial,
        outcome=outcome,
        patients=list(wide.index),
        visits=visits,
        arms=arms,
        comparator=comparator,
        sites=sites,
        y=y,
        arm_idx=pts["arm"].map({a: i for i, a in enumerate(arms)}).to_numpy(),
        site_idx=pts["site"].map({s: i for i, s in enumerate(sites)}).to_numpy(),
        m0=float(np.nanmean(base)),
        s0=s0,
        x=x,
        covariate_terms=terms,
        meta={
            "instrument": reg.instrument,
            "higher_is_better": reg.higher_is_better,
            "mcid": reg.mcid,
            "unit": reg.unit,
            # {patient: strategy} of the patients whose post-event outcomes are set aside
            "ice_strategy": {p: ice_strategy[p] for p in wide.index if p in ice_strategy},
        },
    )


def pooled_within_arm_sd(values: np.ndarray, arms: np.ndarray) -> float:
    """Pooled within-arm SD, :math:`\\sqrt{\\sum_a (n_a - 1) s_a^2 / \\sum_a (n_a - 1)}`.

    Missing values are ignored; the SMD of every table divides by this SD of the baseline values.
    """
    num = den = 0.0
    for a in pd.unique(arms):
        v = values[(arms == a) & ~np.isnan(values)]
        if len(v) > 1:
            num += (len(v) - 1) * float(np.var(v, ddof=1))
            den += len(v) - 1
    return float(np.sqrt(num / den)) if den > 0 else float("nan")


def covariate_matrix(patients: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Centred design matrix of the baseline covariates present (one row per patient).

    Age enters per 10 years; sex and diagnosis as indicators of every level but the most common.
    Columns that are absent, or constant over the patients, are left out. A missing covariate
    value is set to the mean (0 after centring), the usual handling of baseline covariates in
    randomised trials (White and Thompson 2005).

    Returns
    -------
    (numpy.ndarray, list of str)
        Patient x term matrix and the term names (e.g. ``age (per 10 years)``, ``sex: male``).
    """
    cols, names = [], []
    if "age" in patients and patients["age"].notna().any():
        age = pd.to_numeric(patients["age"], errors="coerce").to_numpy(dtype=float) / 10
        if np.nanstd(age) > 0:
            cols.append(age)
            names.append("age (per 10 years)")
    for col in ("sex", "diagnosis"):
        if col not in patients or patients[col].notna().sum() == 0:
            continue
        v = patients[col]
        levels = v.value_counts().index.tolist()
        for level in levels[1:]:
            ind = np.where(v.isna(), np.nan, (v == level).astype(float))
            cols.append(ind)
            names.append(f"{col}: {level}")
    if not cols:
        return np.zeros((len(patients), 0)), []
    x = np.column_stack(cols)
    x = x - np.nanmean(x, axis=0)
    return np.nan_to_num(x, nan=0.0), names


def all_patterns(n_visits: int) -> list[np.ndarray]:
    """Every non-empty set of attended visits, as index arrays (fixed order): those with the
    baseline first, then those without (patients randomised but not assessed at baseline)."""
    out = []
    for with_baseline in (True, False):
        for bits in range(2 ** (n_visits - 1)):
            follow = [t for t in range(1, n_visits) if bits >> (t - 1) & 1]
            if with_baseline or follow:
                out.append(np.array(([0] if with_baseline else []) + follow))
    return out


def _marginal_logp(likelihood: str, covariance: str, pattern_rows: list, n_visits: int):
    """Exact log density of each patient's observed visits (patients x visits, 0 = missing).

    ``intercept`` covariance (:math:`\\sigma_p^2 J + \\sigma^2 I`): closed form for every
    patient at once. With :math:`k_i` visits observed, residual sum :math:`S_1` and sum of squares
    :math:`S_2`, the Sherman-Morrison identity gives the quadratic form
    :math:`q_i = (S_2 - c_i S_1^2)/\\sigma^2`, :math:`c_i = \\sigma_p^2 / (\\sigma^2 + k_i\\sigma_p^2)`,
    and :math:`\\log|\\Sigma_{O_i}| = k_i \\log\\sigma^2 + \\log(1 + k_i \\sigma_p^2/\\sigma^2)`:
    no matrix algebra, a few element-wise operations per patient.

    ``unstructured`` covariance: patients are grouped by the visits they attended
    (``pattern_rows[p]`` holds the patients of pattern ``p`` of :func:`all_patterns`, as data), so
    each group needs one small Cholesky factor of the observed block of the covariance, and the
    graph does not depend on the data.
    """
    import pytensor.tensor as pt

    patterns = all_patterns(n_visits)

    def density(k, half_logdet, q, nu):
        if likelihood == "normal":
            return -0.5 * k * np.log(2 * np.pi) - half_logdet - 0.5 * q
        return (
            pt.gammaln((nu + k) / 2)
            - pt.gammaln(nu / 2)
            - 0.5 * k * pt.log(nu * np.pi)
            - half_logdet
            - 0.5 * (nu + k) * pt.log1p(q / nu)
        )

    def logp(value, mu, cov, nu, mask):
        # PyMC may broadcast the shared covariance and nu over patients: take one copy
        while cov.ndim > 2:
            cov = cov[0]
        while nu.ndim > 0:
            nu = nu[0]
        if covariance == "intercept":
            r = (value - mu) * mask
            k = pt.sum(mask, axis=-1)
            p2 = cov[0, 1]
            e2 = cov[0, 0] - p2
            s1, s2 = pt.sum(r, axis=-1), pt.sum(r**2, axis=-1)
            q = (s2 - p2 / (e2 + k * p2) * s1**2) / e2
            half_logdet = 0.5 * (k * pt.log(e2) + pt.log1p(k * p2 / e2))
            return density(k, half_logdet, q, nu)
        out = pt.zeros(value.shape[0])
        for rows, obs in zip(pattern_rows, patterns, strict=True):
            k = len(obs)
            r = (value[rows][:, obs] - mu[rows][:, obs]).T  # k x n_p
            chol = pt.linalg.cholesky(cov[obs][:, obs])
            x = pt.linalg.solve_triangular(chol, r, lower=True)
            q = pt.sum(x**2, axis=0)
            half_logdet = pt.sum(pt.log(chol[np.arange(k), np.arange(k)]))
            out = pt.set_subtensor(out[rows], density(k, half_logdet, q, nu))
        return out

    return logp


def _marginal_random(likelihood: str):
    """Draw complete replicate outcomes (all visits) for predictive checks."""

    def random(mu, cov, nu, mask, rng=None, size=None):
        mu = np.asarray(mu)
        shape = mu.shape if size is None else (*np.atleast_1d(size), mu.shape[-1])
        cov = np.asarray(cov)
        chol = np.linalg.cholesky(cov.reshape(-1, *cov.shape[-2:])[0])
        nu = float(np.ravel(nu)[0])
        draw = mu + rng.standard_normal(shape) @ chol.T
        if likelihood == "student":
            w = rng.chisquare(nu, size=shape[:-1]) / nu
            draw = mu + (draw - mu) / np.sqrt(w)[..., None]
        return draw

    return random


def model_spec(
    data: TrialData,
    covariance: str = DEFAULT_COVARIANCE,
    likelihood: str = "normal",
    site_slopes: bool | None = None,
    priors: Priors | None = None,
    covariates: bool = False,
) -> ModelSpec:
    """Validate the options and return the model structure for ``data``.

    ``covariates=True`` adjusts for every baseline covariate term of ``data`` (none if the data
    have none)."""
    priors = priors or PRIOR_SETS["default"]
    if covariance != "unstructured" and len(data.visits) < 2:
        raise ValueError(f"covariance {covariance!r} needs two or more visits; use unstructured")
    site_effects = site_mode(len(data.sites))
    if site_slopes is None:
        site_slopes = registry.site_slopes(data.trial)
    return ModelSpec(
        visits=tuple(data.visits),
        treatments=tuple(data.treatments),
        sites=tuple(data.sites),
        site_effects=site_effects,
        site_slopes=bool(site_slopes and site_effects == "random"),
        covariance=covariance,
        likelihood=likelihood,
        lkj_eta=priors.lkj_eta,
        covariates=tuple(data.covariate_terms) if covariates else (),
        baseline_constrained=data.baseline_constrained,
    )


def model_data(
    data: TrialData, priors: Priors | None = None, covariates: bool = False
) -> dict[str, np.ndarray]:
    """The values of every ``pm.Data`` container of the model for ``data`` and ``priors``.

    Returns
    -------
    dict
        ``z`` (patient x visit, missing as 0), ``site_idx``, ``treat_idx`` (row of ``beta``, the
        comparator pointing past the last treatment), ``is_treated``, ``rows_<p>`` (patients of
        each attendance pattern), the prior scales ``prior_<name>`` and, with ``covariates``,
        the centred covariate matrix ``x`` (patient x covariate).
    """

    priors = priors or PRIOR_SETS["default"]
    mask = data.mask
    treatments = data.treatments
    treat_of_arm = np.array(
        [treatments.index(a) if a in treatments else len(treatments) for a in data.arms]
    )
    treat_idx = treat_of_arm[data.arm_idx]
    out = {
        "z": np.where(mask, data.z, 0.0),
        "mask": mask.astype(float),
        "site_idx": data.site_idx.astype("int64"),
        "treat_idx": treat_idx.astype("int64"),
        "is_treated": (treat_idx < len(treatments)).astype(float),
    }
    if not mask.any(axis=1).all():
        raise ValueError(f"{data.trial}/{data.outcome}: a patient has no value at any visit")
    for p, obs in enumerate(all_patterns(len(data.visits))):
        want = np.zeros(len(data.visits), dtype=bool)
        want[obs] = True
        out[f"rows_{p}"] = np.flatnonzero((mask == want).all(axis=1)).astype("int64")
    for name in PRIOR_FIELDS[:-1]:  # the scales (the LKJ shape is structural)
        out[f"prior_{name}"] = np.asarray(getattr(priors, name), dtype=float)
    if covariates:
        out["x"] = np.asarray(data.x, dtype=float)
    return out


def build_trial_model(
    data: TrialData,
    covariance: str = DEFAULT_COVARIANCE,
    likelihood: str = "normal",
    site_slopes: bool | None = None,
    priors: Priors | None = None,
    formulation: str = "marginal",
    covariates: bool = False,
) -> pm.Model:
    """Build the PyMC model of one trial outcome (see the module docstring).

    Parameters
    ----------
    data : TrialData
        From :func:`prepare_trial_data`.
    covariance : {"unstructured", "intercept", "ar1"}
        Within-patient covariance across visits: unstructured (primary), compound symmetry (a
        patient random intercept) or first-order autoregressive over the visit sequence.
    likelihood : {"normal", "student"}
        Multivariate normal, or multivariate Student-t (robust) for each patient's visits.
    site_slopes : bool, optional
        Team x treatment random slopes; default on for ``resource_groups``. Needs 3+ sites.
    priors : Priors, optional
        Prior scales (default :data:`PRIOR_SETS["default"]`).
    formulation : {"marginal", "latent"}
        ``marginal`` (default): patient effects integrated out analytically. ``latent``: one
        explicit random intercept per patient (``patient_offset``) and independent observations
        of the visits attended; the same posterior for the normal likelihood, at many times the
        cost. It is kept for likelihoods that do not marginalise (with ``student`` it means
        Student-t errors given the patient effect, a different model from the marginal
        multivariate t). Needs the ``intercept`` covariance.

    Returns
    -------
    pymc.Model
        Free variables ``alpha`` (visit), ``beta`` (treatment, followup), ``sigma_site``,
        ``site_offset`` (site), optionally ``sigma_site_effect``, ``site_effect_offset``
        (site); covariance parameters; ``nu`` for Student-t; observed ``y`` (patient, visit).
    """
    import pymc as pm
    import pytensor.tensor as pt

    spec = model_spec(data, covariance, likelihood, site_slopes, priors, covariates)
    if formulation not in FORMULATIONS:
        raise ValueError(f"formulation must be one of {FORMULATIONS}, got {formulation!r}")
    if formulation == "latent" and covariance != "intercept":
        raise ValueError("the latent formulation needs covariance='intercept'")
    values = model_data(data, priors, covariates=bool(spec.covariates))
    t_dim = len(spec.visits)
    n_treat = len(spec.treatments)
    coords = {
        "patient": data.patients,
        "visit": list(spec.visits),
        "visit_bis": list(spec.visits),
        "treatment": list(spec.treatments),
        "followup": list(spec.visits[spec.first_effect :]),
        "site": list(spec.sites),
    }
    if spec.covariates:
        coords["covariate"] = list(spec.covariates)
    followup_mask = np.r_[np.zeros(spec.first_effect), np.ones(t_dim - spec.first_effect)]

    with pm.Model(coords=coords) as model:
        d = {
            k: pm.Data(
                k,
                v,
                dims=("patient", "visit")
                if k in ("z", "mask")
                else ("patient", "covariate")
                if k == "x"
                else "patient"
                if k in ("site_idx", "treat_idx", "is_treated")
                else None,
            )
            for k, v in values.items()
        }
        alpha = pm.Normal("alpha", 0.0, d["prior_visit_sd"], dims="visit")
        beta = pm.Normal("beta", 0.0, d["prior_effect_sd"], dims=("treatment", "followup"))
        beta_full = pt.concatenate([pt.zeros((n_treat, spec.first_effect)), beta], axis=1)
        beta_full = pt.concatenate([beta_full, pt.zeros((1, t_dim))], axis=0)  # comparator row
        mu = alpha[None, :] + beta_full[d["treat_idx"]]
        if spec.covariates:
            # covariate x visit: a coefficient per covariate and visit
            gamma = pm.Normal("gamma", 0.0, d["prior_effect_sd"], dims=("covariate", "visit"))
            mu = mu + pt.dot(d["x"], gamma)
        if spec.site_effects == "random":
            sigma_site = pm.HalfNormal("sigma_site", d["prior_site_sd"])
            site_offset = pm.Normal("site_offset", 0.0, 1.0, dims="site")
            mu = mu + (sigma_site * site_offset)[d["site_idx"]][:, None]
        elif spec.site_effects == "fixed":
            site_fixed = pm.ZeroSumNormal("site_fixed", sigma=FIXED_SITE_SD, dims="site")
            mu = mu + site_fixed[d["site_idx"]][:, None]
        if spec.site_slopes:
            sigma_se = pm.HalfNormal("sigma_site_effect", d["prior_site_effect_sd"])
            se_offset = pm.Normal("site_effect_offset", 0.0, 1.0, dims="site")
            # coded as the specification says (spec.SLOPE_CODE)
            slope = (sigma_se * se_offset)[d["site_idx"]] * slope_code(d["is_treated"])
            mu = mu + slope[:, None] * followup_mask[None, :]
        if spec.covariance == "intercept":
            sigma = pm.HalfNormal("sigma", d["prior_residual_sd"])
            sigma_patient = pm.HalfNormal("sigma_patient", d["prior_residual_sd"])
            cov = sigma_patient**2 * pt.ones((t_dim, t_dim)) + sigma**2 * pt.eye(t_dim)
        elif spec.covariance == "ar1":
            sigma = pm.HalfNormal("sigma", d["prior_residual_sd"])
            rho = pm.Uniform("rho", -1.0, 1.0)
            lag = ar1_lags(spec.visits)  # time between visits, not the visit index
            # rho**k by repeated products over lags >= 1 (rho**0 would make the gradient
            # infinite at rho = 0)
            corr, power = pt.as_tensor_variable(np.eye(t_dim)), 1.0
            for k in range(1, int(lag.max()) + 1):
                power = power * rho
                corr = corr + power * (lag == k).astype(float)
            cov = sigma**2 * corr
        elif t_dim == 1:  # one visit (the ANCOVA of a two-visit trial): a variance only
            # the same density as LKJCholeskyCov with n = 1 (its correlation part is constant
            # zero), which PyMC cannot draw from
            chol = pm.HalfNormal("visit_cov", d["prior_residual_sd"], shape=1)[None, :]
            cov = chol @ chol.T
        else:
            chol, _, _ = pm.LKJCholeskyCov(
                "visit_cov",
                n=t_dim,
                eta=spec.lkj_eta,
                sd_dist=pm.HalfNormal.dist(d["prior_residual_sd"], shape=t_dim),
                compute_corr=True,
                store_in_trace=False,
            )
            cov = chol @ chol.T
            sd = pt.sqrt(pt.diag(cov))
            pm.Deterministic("visit_sd", sd, dims="visit")
            pm.Deterministic(
                "visit_corr", cov / (sd[:, None] * sd[None, :]), dims=("visit", "visit_bis")
            )
        nu = (
            pm.Gamma("nu", *STUDENT_NU_PRIOR)
            if spec.likelihood == "student" and formulation == "marginal"
            else pt.constant(1.0)
        )
        if formulation == "latent":
            _latent_likelihood(model, data, mu, sigma, sigma_patient, spec.likelihood)
            return model
        rows = [d[f"rows_{p}"] for p in range(len(all_patterns(t_dim)))]
        pm.CustomDist(
            "y",
            mu,
            cov,
            nu,
            d["mask"],
            logp=_marginal_logp(spec.likelihood, spec.covariance, rows, t_dim),
            random=_marginal_random(spec.likelihood),
            signature="(t),(t,t),(),(t)->(t)",
            observed=d["z"],
            dims=("patient", "visit"),
        )
    return model


def _latent_likelihood(model, data: TrialData, mu, sigma, sigma_patient, likelihood: str):
    """Explicit patient intercepts and one observation per attended visit (inside ``model``)."""
    import pymc as pm

    model.add_coord("observation", np.arange(int(data.mask.sum())))
    rows, cols = np.nonzero(data.mask)
    offset = pm.Normal("patient_offset", 0.0, 1.0, dims="patient")
    loc = (mu + (sigma_patient * offset)[:, None])[rows, cols]
    z_obs = pm.Data("z_observed", data.z[rows, cols], dims="observation")
    if likelihood == "normal":
        pm.Normal("y", loc, sigma, observed=z_obs, dims="observation")
    else:
        nu = pm.Gamma("nu", *STUDENT_NU_PRIOR)
        pm.StudentT("y", nu, loc, sigma, observed=z_obs, dims="observation")
