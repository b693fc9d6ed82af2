r"""Partial pooling of standardised effects across a trial's secondary outcomes.

Testing many secondary outcomes invites a spurious "win". A normal-normal hierarchical model
shrinks each outcome's effect towards their common mean by as much as the outcomes disagree:

.. math::

    \hat\theta_k \sim N(\theta_k, s_k^2),\quad \theta_k \sim N(\mu, \tau^2),\quad
    \mu \sim N(0, \sigma_\mu^2),\quad \tau \sim HN(\sigma_\tau)

with :math:`\hat\theta_k, s_k` the posterior mean and SD of outcome :math:`k`'s benefit-oriented
SMD from its own model (a two-stage normal approximation of those posteriors). The posterior
is computed exactly: :math:`\tau` on a fine grid (its marginal likelihood is closed form), then
:math:`\mu \mid \tau` and :math:`\theta_k \mid \mu, \tau` are conjugate normals, so draws need no
MCMC.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from analysis import catalogue


def pool_effects(
    est,
    se,
    *,
    mu_sd: float = 1.0,
    tau_scale: float = 0.3,
    n_draws: int = 20000,
    seed: int = 0,
    grid_size: int = 2000,
):
    """Exact posterior draws of the normal-normal hierarchical model.

    Parameters
    ----------
    est, se : array-like
        Estimates and their standard errors (same length, se > 0).
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
    rng = np.random.default_rng(seed)
    upper = max(6 * tau_scale, 3 * np.ptp(est) + 3 * se.max())
    grid = np.linspace(0, upper, grid_size + 1)[1:]
    k = len(est)
    logw = np.empty_like(grid)
    for i, tau in enumerate(grid):
        cov = np.diag(se**2 + tau**2) + mu_sd**2 * np.ones((k, k))
        logw[i] = stats.multivariate_normal.logpdf(est, np.zeros(k), cov)
    logw += stats.halfnorm.logpdf(grid, scale=tau_scale)
    w = np.exp(logw - logw.max())
    w /= w.sum()
    step = grid[1] - grid[0]
    tau = rng.choice(grid, size=n_draws, p=w) + rng.uniform(-step / 2, step / 2, n_draws)
    tau = np.abs(tau)
    v = se[None, :] ** 2 + tau[:, None] ** 2
    prec = 1 / mu_sd**2 + (1 / v).sum(axis=1)
    mu = rng.normal((est[None, :] / v).sum(axis=1) / prec, 1 / np.sqrt(prec))
    prec_t = 1 / se[None, :] ** 2 + 1 / tau[:, None] ** 2
    mean_t = (est[None, :] / se[None, :] ** 2 + mu[:, None] / tau[:, None] ** 2) / prec_t
    theta = rng.normal(mean_t, 1 / np.sqrt(prec_t))
    return {"theta": theta, "mu": mu, "tau": tau}


#: The columns of the ``pooled_effects`` table (declared in the catalogue).
POOLED_COLUMNS = list(catalogue.POOLED_EFFECTS.columns)


def pool_secondary_effects(
    effects: pd.DataFrame,
    draws: dict,
    primary: set[str],
    *,
    mu_sd: float = 1.0,
    tau_scale: float = 0.3,
    seed: int = 0,
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
        res = pool_effects(est, se, mu_sd=mu_sd, tau_scale=tau_scale, seed=seed)
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
                    "smd_unpooled": est[k],
                    "smd_unpooled_lower": np.quantile(d[k], 0.025),
                    "smd_unpooled_upper": np.quantile(d[k], 0.975),
                    "smd_pooled": th.mean(),
                    "smd_pooled_lower": np.quantile(th, 0.025),
                    "smd_pooled_upper": np.quantile(th, 0.975),
                    "prob_benefit_unpooled": (d[k] > 0).mean(),
                    "prob_benefit_pooled": (th > 0).mean(),
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
                    "smd_pooled_lower": np.quantile(x, 0.025),
                    "smd_pooled_upper": np.quantile(x, 0.975),
                    "prob_benefit_pooled": (x > 0).mean() if label.startswith("mean") else np.nan,
                }
            )
    return pd.DataFrame(rows, columns=POOLED_COLUMNS)
