"""Partial pooling: exact sampler against 2-d quadrature and its limiting cases."""

import numpy as np
import pytest
from scipy import stats

from analysis.trialmodel.pooling import pool_effects

EST = np.array([0.35, 0.05, 0.20])
SE = np.array([0.12, 0.15, 0.10])


def _quadrature(est, se, mu_sd, tau_scale):
    """Posterior means of theta_1, mu and tau by brute-force integration over (mu, tau)."""
    mu = np.linspace(-2, 2, 801)
    tau = np.linspace(1e-4, 2.5, 1200)
    M, T = np.meshgrid(mu, tau, indexing="ij")
    logp = stats.norm.logpdf(M, 0, mu_sd) + stats.halfnorm.logpdf(T, scale=tau_scale)
    for e, s in zip(est, se, strict=True):
        logp += stats.norm.logpdf(e, M, np.sqrt(s**2 + T**2))
    w = np.exp(logp - logp.max())
    w /= w.sum()
    prec = 1 / se[0] ** 2 + 1 / T**2
    theta1 = (est[0] / se[0] ** 2 + M / T**2) / prec
    return (w * theta1).sum(), (w * M).sum(), (w * T).sum()


@pytest.mark.parametrize("tau_scale", [0.1, 0.3, 1.0])
def test_exact_sampler_matches_quadrature(tau_scale):
    res = pool_effects(EST, SE, mu_sd=1.0, tau_scale=tau_scale, n_draws=200_000, seed=1)
    t1, mu, tau = _quadrature(EST, SE, 1.0, tau_scale)
    n = len(res["mu"])
    for draws, target in ((res["theta"][:, 0], t1), (res["mu"], mu), (res["tau"], tau)):
        mcse = draws.std() / np.sqrt(n)
        assert abs(draws.mean() - target) < 5 * mcse + 2e-3


def test_no_heterogeneity_pools_to_the_precision_weighted_mean():
    res = pool_effects(EST, SE, mu_sd=10.0, tau_scale=1e-4, n_draws=100_000, seed=2)
    w = 1 / SE**2
    fixed = (w * EST).sum() / w.sum()
    assert res["theta"].mean(axis=0) == pytest.approx(np.full(3, fixed), abs=3e-3)
    assert res["mu"].std() == pytest.approx(np.sqrt(1 / w.sum()), rel=0.03)


def test_large_heterogeneity_leaves_estimates_nearly_unpooled():
    est = np.array([1.5, -1.5, 0.0])
    res = pool_effects(est, np.full(3, 0.05), tau_scale=5.0, n_draws=50_000, seed=3)
    assert res["theta"].mean(axis=0) == pytest.approx(est, abs=0.02)


def test_pooling_shrinks_towards_the_common_mean():
    res = pool_effects(EST, SE, tau_scale=0.3, n_draws=50_000, seed=4)
    pooled = res["theta"].mean(axis=0)
    assert np.ptp(pooled) < np.ptp(EST)
    assert np.all(res["theta"].std(axis=0) < SE)


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="same non-zero length"):
        pool_effects([0.1, 0.2], [0.1])
    with pytest.raises(ValueError, match="must be positive"):
        pool_effects([0.1], [0.0])
