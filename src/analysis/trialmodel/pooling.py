r"""Partial pooling of standardised effects across a trial's secondary outcomes.

Testing many secondary outcomes invites a spurious "win". A normal-normal hierarchical model
shrinks each outcome's effect towards their common mean by as much as the outcomes disagree:

.. math::

    \hat\theta \sim \mathrm{MVN}(\theta, S),\quad S = D_s C D_s,\quad
    \theta_k \sim N(\mu, \tau^2),\quad \mu \sim N(0, \sigma_\mu^2),\quad \tau \sim HN(\sigma_\tau)

- :math:`\hat\theta_k, s_k`: each outcome's benefit-oriented SMD and its standard error **from
  the likelihood**, not the posterior: the outcome's model already has a :math:`N(0,
  \sigma_\beta^2)` effect prior, and pooling posteriors would count that prior once per outcome.
  With a normal approximation of the posterior (mean :math:`m`, SD :math:`v`), the likelihood's
  precision is :math:`1/v^2 - 1/\sigma_\beta^2` and its mean :math:`m/v^2` divided by it.
- :math:`C`: the correlation of the estimates. The outcomes are measured on the same patients,
  so their effect estimates are correlated about as strongly as the patients' outcomes are
  (for differences in means of the same patients the two correlations are equal); :math:`C` is
  estimated from the patient data as the within-arm correlation of the outcomes at the visit,
  each adjusted for its own baseline value (the residuals of a within-arm regression on
  baseline), over the patients observed on both. The residuals are **oriented as the effects
  are** (a lower-is-better outcome's residual changes sign), so that a quality-of-life gain
  that goes with less disability is a positive correlation of the two benefit-oriented
  effects. Treating them as independent (or with the raw residuals' sign) would make the pooled
  interval too narrow.

The posterior is computed exactly: :math:`\tau` on a fine grid (its marginal likelihood is
closed form), then :math:`\mu \mid \tau` and :math:`\theta \mid \mu, \tau` are conjugate
(multivariate) normals, so draws need no MCMC.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import catalogue, rules


def pool_effects(
    est,
    se,
    *,
    mu_sd: float = 1.0,
    tau_scale: float = rules.HETEROGENEITY_SCALE,
    n_draws: int = 20000,
    seed: int = 0,
    grid_size: int = 2000,
    corr=None,
):
    """Exact posterior draws of the normal-normal hierarchical model.

    Parameters
    ----------
    est, se : array-like
        Estimates and their standard errors (same length, se > 0).
    corr : array-like, optional
        Correlation matrix of the estimates (default: independent).
    mu_sd, tau_scale : float
        Prior SD of the common mean and half-normal scale of the between-outcome SD.
    n_draws, seed, grid_size : int
        Monte Carlo draws, their seed and the size of the grid over tau.

    Returns
    -------
    dict
        ``theta`` (n_draws x K), ``mu`` and ``tau`` (n_draws,).
    """
    est, se = np.asarray(est, float), np.asarray(se, float)
    if est.shape != se.shape or est.ndim != 1 or len(est) == 0:
        raise ValueError("est and se must be 1-d arrays of the same non-zero length")
    if not (np.all(se > 0) and np.all(np.isfinite(est)) and mu_sd > 0 and tau_scale > 0):
        raise ValueError("se, mu_sd and tau_scale must be positive and est finite")
    k = len(est)
    corr = np.eye(k) if corr is None else np.asarray(corr, float)
    if corr.shape != (k, k) or not np.allclose(corr, corr.T) or np.any(np.diag(corr) != 1):
        raise ValueError("corr must be a symmetric correlation matrix matching est")
    from scipy import stats

    s_cov = se[:, None] * corr * se[None, :]
    if np.linalg.eigvalsh(s_cov).min() <= 0:
        raise ValueError("the covariance of the estimates (se and corr) must be positive definite")
    rng = np.random.default_rng(seed)
    upper = max(6 * tau_scale, 3 * np.ptp(est) + 3 * se.max())
    grid = np.linspace(0, upper, grid_size + 1)[1:]
    # the marginal likelihood est ~ MVN(0, S + tau^2 I + mu_sd^2 11') at every tau at once
    chol_m = np.linalg.cholesky(
        s_cov[None] + grid[:, None, None] ** 2 * np.eye(k)[None] + mu_sd**2 * np.ones((k, k))[None]
    )
    z = np.linalg.solve(chol_m, np.broadcast_to(est, (grid.size, k))[..., None])[..., 0]
    log_det = 2 * np.log(np.diagonal(chol_m, axis1=1, axis2=2)).sum(axis=1)
    logw = -0.5 * ((z**2).sum(axis=1) + log_det + k * np.log(2 * np.pi))
    logw += stats.halfnorm.logpdf(grid, scale=tau_scale)
    w = np.exp(logw - logw.max())
    w /= w.sum()
    step = grid[1] - grid[0]
    tau = rng.choice(grid, size=n_draws, p=w) + rng.uniform(-step / 2, step / 2, n_draws)
    tau = np.abs(tau)
    # mu | tau: generalised least squares with V = S + tau^2 I
    v_inv = np.linalg.inv(s_cov[None] + tau[:, None, None] ** 2 * np.eye(k)[None])
    prec = 1 / mu_sd**2 + v_inv.sum(axis=(1, 2))
    mu = rng.normal(np.einsum("nij,j->n", v_inv, est) / prec, 1 / np.sqrt(prec))
    # theta | mu, tau: prior N(mu 1, tau^2 I), likelihood MVN(est; theta, S)
    s_inv = np.linalg.inv(s_cov)
    prec_t = s_inv[None] + np.eye(k)[None] / tau[:, None, None] ** 2
    cov_t = np.linalg.inv(prec_t)
    mean_t = np.einsum("nij,nj->ni", cov_t, (s_inv @ est)[None] + mu[:, None] / tau[:, None] ** 2)
    chol = np.linalg.cholesky(cov_t)
    theta = mean_t + np.einsum("nij,nj->ni", chol, rng.standard_normal((n_draws, k)))
    return {"theta": theta, "mu": mu, "tau": tau}


def likelihood_from_posterior(mean, sd, prior_sd: float) -> tuple[np.ndarray, np.ndarray]:
    """Normal likelihood (estimate, standard error) behind a normal posterior and prior.

    A posterior :math:`N(m, v^2)` from a :math:`N(0, \\sigma^2)` prior and a normal likelihood
    :math:`N(\\hat\\theta, s^2)` satisfies :math:`1/v^2 = 1/s^2 + 1/\\sigma^2` and
    :math:`m/v^2 = \\hat\\theta/s^2`; this solves for :math:`\\hat\\theta, s`.

    Raises
    ------
    ValueError
        If a posterior is not narrower than the prior (the data added nothing to remove).
    """
    mean, sd = np.asarray(mean, float), np.asarray(sd, float)
    prec = 1 / sd**2 - 1 / prior_sd**2
    if np.any(prec <= 0):
        raise ValueError(
            f"posterior SD {sd.max():.3g} is not below the prior SD {prior_sd:g}: "
            "no likelihood information to pool"
        )
    return mean / sd**2 / prec, 1 / np.sqrt(prec)


def joint_likelihood_from_posterior(
    mean: np.ndarray, cov: np.ndarray, prior_sd: float
) -> tuple[np.ndarray, np.ndarray]:
    r"""The multivariate form of :func:`likelihood_from_posterior`: the normal likelihood
    (estimates, covariance) behind a joint normal posterior :math:`N(m, V)` of several effects
    with independent :math:`N(0, \sigma^2)` priors: :math:`S^{-1} = V^{-1} - I/\sigma^2`,
    :math:`\hat\theta = S V^{-1} m` (a multi-arm trial's contrasts against one comparator,
    which share that comparator's patients).

    Raises
    ------
    ValueError
        If the data added no information in some direction (the precision left is not
        positive definite).
    """
    mean, cov = np.asarray(mean, float), np.asarray(cov, float)
    inv_post = np.linalg.inv(cov)
    prec = inv_post - np.eye(len(mean)) / prior_sd**2
    if np.any(np.linalg.eigvalsh(prec) <= 0):
        raise ValueError("the joint posterior is not narrower than the prior in every direction")
    lik_cov = np.linalg.inv(prec)
    return lik_cov @ inv_post @ mean, lik_cov


def outcome_correlation(fits_data: list, month: int, arms: tuple[str, str]) -> np.ndarray:
    """Correlation of the outcomes' benefit-oriented, baseline-adjusted values at ``month``
    within the two arms.

    Parameters
    ----------
    fits_data : list of TrialData
        One per outcome (same trial).
    month : int
        The visit.
    arms : (str, str)
        The contrast's two arms; each outcome is regressed on its own baseline within each arm.

    Returns
    -------
    numpy.ndarray
        Outcomes x outcomes correlation over the patients observed on both (pairwise), of the
        residuals oriented to benefit (the correlation of the benefit-oriented effects).
    """
    resid = {}
    for d in fits_data:
        orient = 1.0 if d.meta.get("higher_is_better", True) else -1.0
        t = d.visits.index(month)
        arm_of = np.array(d.arms)[d.arm_idx]
        r = pd.Series(np.nan, index=d.patients)
        for a in arms:
            sel = (arm_of == a) & d.mask[:, t] & d.mask[:, 0]
            if sel.sum() < 3:
                continue
            y0, yt = d.y[sel, 0], d.y[sel, t]
            slope, icpt = np.polyfit(y0, yt, 1)
            r[np.array(d.patients)[sel]] = orient * (yt - icpt - slope * y0) / d.s0
        resid[d.outcome] = r
    frame = pd.DataFrame(resid)
    c = frame.corr(min_periods=5).to_numpy()
    c = np.where(np.isfinite(c), c, 0.0)
    np.fill_diagonal(c, 1.0)
    return c


#: The columns of the ``pooled_effects`` table (declared in the catalogue).
POOLED_COLUMNS = list(catalogue.POOLED_EFFECTS.columns)


def _posterior_mcse(x: np.ndarray) -> dict:
    """Monte Carlo standard errors of the unpooled (MCMC) SMD's interval ends and P(benefit)."""
    from analysis.trialmodel.summarise import _mcse

    return {
        "smd_unpooled_lower_mcse": _mcse(x, "quantile", rules.LOWER),
        "smd_unpooled_upper_mcse": _mcse(x, "quantile", rules.UPPER),
        "prob_benefit_unpooled_mcse": _mcse((x > 0).astype(float), "mean"),
    }


def _exact_mcse(x: np.ndarray, with_prob: bool = True) -> dict:
    """Monte Carlo standard errors of the pooled summaries (independent exact draws)."""
    from analysis.trialmodel.summarise import _mcse

    one_chain = np.asarray(x, dtype=float)[None, :]
    p = float((x > 0).mean())
    return {
        "smd_pooled_mcse": float(np.std(x, ddof=1) / np.sqrt(len(x))),
        "smd_pooled_lower_mcse": _mcse(one_chain, "quantile", rules.LOWER),
        "smd_pooled_upper_mcse": _mcse(one_chain, "quantile", rules.UPPER),
        "prob_benefit_pooled_mcse": float(np.sqrt(p * (1 - p) / len(x))) if with_prob else np.nan,
    }


def pool_secondary_effects(
    effects: pd.DataFrame,
    draws: dict,
    primary: set[str],
    *,
    mu_sd: float = 1.0,
    tau_scale: float = rules.HETEROGENEITY_SCALE,
    seed: int = 0,
    prior_sd: float | None = None,
    correlations: dict | None = None,
) -> pd.DataFrame:
    """Pooled and unpooled benefit-oriented SMDs of the secondary outcomes.

    Parameters
    ----------
    effects : pandas.DataFrame
        ``trial_effects`` rows of one trial (all outcomes).
    draws : dict
        ``(outcome, month, arm, comparator) -> benefit-oriented SMD draws`` for the same rows.
    primary : set of str
        Outcomes left out of the pooling (the primary outcome).
    prior_sd : float, optional
        SD of the outcome models' effect prior: the posteriors are turned into likelihoods
        (:func:`likelihood_from_posterior`; a contrast of two active arms has the prior of a
        difference, SD times sqrt(2)). ``None`` pools the posteriors as they are.
    correlations : dict, optional
        ``(month, arm, comparator) -> (outcomes, correlation matrix)`` of the estimates
        (:func:`outcome_correlation`); independent where absent.

    A contrast whose posteriors are not narrower than the prior for some outcome (the data say
    nothing about it) is not pooled and has no rows.

    Returns
    -------
    pandas.DataFrame
        Columns ``trial, outcome, month, arm, comparator, smd_unpooled, smd_unpooled_lower,
        smd_unpooled_upper, smd_pooled, smd_pooled_lower, smd_pooled_upper,
        prob_benefit_unpooled, prob_benefit_pooled`` (SMDs positive = benefit), plus one row per
        contrast and month with outcome ``mean of secondary outcomes`` (mu) and
        ``between-outcome SD`` (tau).
    """
    rows = []
    sec = effects[~effects["outcome"].isin(primary)]
    for (month, arm, comp), grp in sec.groupby(["month", "arm", "comparator"], sort=False):
        outcomes = list(grp["outcome"])
        if len(outcomes) < 2:
            continue
        d = [np.ravel(draws[(o, month, arm, comp)]) for o in outcomes]
        est = np.array([x.mean() for x in d])
        se = np.array([x.std(ddof=1) for x in d])
        if prior_sd is not None:
            is_pair = comp in set(sec["arm"])  # two active arms: a difference of two effects
            try:
                est, se = likelihood_from_posterior(
                    est, se, prior_sd * (np.sqrt(2) if is_pair else 1.0)
                )
            except ValueError:
                continue  # an outcome the data say nothing about: nothing to pool

        corr = None
        if correlations and (month, arm, comp) in correlations:
            names, full = correlations[(month, arm, comp)]
            idx = [names.index(o) for o in outcomes]
            corr = full[np.ix_(idx, idx)]
        res = pool_effects(est, se, mu_sd=mu_sd, tau_scale=tau_scale, seed=seed, corr=corr)
        trial = grp["trial"].iloc[0]
        for k, o in enumerate(outcomes):
            th = res["theta"][:, k]
            rows.append(
                {
                    "trial": trial,
                    "outcome": o,
                    "month": month,
                    "arm": arm,
                    "comparator": comp,
                    "smd_unpooled": d[k].mean(),
                    "smd_unpooled_lower": np.quantile(d[k], rules.LOWER),
                    "smd_unpooled_upper": np.quantile(d[k], rules.UPPER),
                    "smd_pooled": th.mean(),
                    "smd_pooled_lower": np.quantile(th, rules.LOWER),
                    "smd_pooled_upper": np.quantile(th, rules.UPPER),
                    "prob_benefit_unpooled": (d[k] > 0).mean(),
                    "prob_benefit_pooled": (th > 0).mean(),
                    **_exact_mcse(th),
                    **_posterior_mcse(d[k]),
                }
            )
        for label, x in (
            ("mean of secondary outcomes", res["mu"]),
            ("between-outcome SD", res["tau"]),
        ):
            rows.append(
                {
                    "trial": trial,
                    "outcome": label,
                    "month": month,
                    "arm": arm,
                    "comparator": comp,
                    "smd_pooled": x.mean(),
                    "smd_pooled_lower": np.quantile(x, rules.LOWER),
                    "smd_pooled_upper": np.quantile(x, rules.UPPER),
                    "prob_benefit_pooled": (x > 0).mean() if label.startswith("mean") else np.nan,
                    **_exact_mcse(x, with_prob=label.startswith("mean")),
                }
            )
    return pd.DataFrame(rows, columns=POOLED_COLUMNS)
