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


CORR = np.array([[1.0, 0.5, 0.3], [0.5, 1.0, 0.4], [0.3, 0.4, 1.0]])


def _quadrature_correlated(est, se, corr, mu_sd, tau_scale):
    """Posterior means of theta_1, mu and tau by brute force with correlated estimates."""
    s_cov = se[:, None] * corr * se[None, :]
    mu = np.linspace(-2, 2, 401)
    tau = np.linspace(1e-4, 2.0, 500)
    k = len(est)
    logp = np.empty((len(mu), len(tau)))
    theta1 = np.empty_like(logp)
    for j, t in enumerate(tau):
        v = s_cov + t**2 * np.eye(k)
        r = est[None, :] - mu[:, None]
        logp[:, j] = (
            stats.multivariate_normal(np.zeros(k), v).logpdf(r)
            + stats.norm.logpdf(mu, 0, mu_sd)
            + stats.halfnorm.logpdf(t, scale=tau_scale)
        )
        # E[theta | est, mu, tau] = mu + tau^2 V^-1 (est - mu)
        theta1[:, j] = mu + t**2 * (np.linalg.solve(v, r.T).T)[:, 0]
    w = np.exp(logp - logp.max())
    w /= w.sum()
    return (w * theta1).sum(), (w * mu[:, None]).sum(), (w * tau[None, :]).sum()


def test_correlated_estimates_match_quadrature():
    res = pool_effects(EST, SE, mu_sd=1.0, tau_scale=0.3, n_draws=200_000, seed=5, corr=CORR)
    t1, mu, tau = _quadrature_correlated(EST, SE, CORR, 1.0, 0.3)
    n = len(res["mu"])
    for draws, target in ((res["theta"][:, 0], t1), (res["mu"], mu), (res["tau"], tau)):
        assert abs(draws.mean() - target) < 5 * draws.std() / np.sqrt(n) + 2e-3


def test_positively_correlated_outcomes_carry_less_information_than_independent_ones():
    """Without heterogeneity the common mean is the GLS estimate: its SD with correlated
    estimates is sqrt(1 / (1' S^-1 1 + 1/mu_sd^2)), larger than with independent ones."""
    s_cov = SE[:, None] * CORR * SE[None, :]
    one = np.ones(3)
    prec = one @ np.linalg.solve(s_cov, one) + 1 / 100
    gls = (one @ np.linalg.solve(s_cov, EST)) / prec
    res = pool_effects(EST, SE, mu_sd=10.0, tau_scale=1e-4, n_draws=100_000, seed=6, corr=CORR)
    assert res["mu"].mean() == pytest.approx(gls, abs=3e-3)
    assert res["mu"].std() == pytest.approx(1 / np.sqrt(prec), rel=0.02)
    ind = pool_effects(EST, SE, mu_sd=10.0, tau_scale=1e-4, n_draws=100_000, seed=6)
    assert res["mu"].std() > 1.15 * ind["mu"].std()


def test_likelihood_recovered_from_a_conjugate_posterior():
    from analysis.trialmodel.pooling import likelihood_from_posterior

    est, se, prior = np.array([0.3, -0.1]), np.array([0.2, 0.5]), 1.0
    post_prec = 1 / se**2 + 1 / prior**2
    m, v = est / se**2 / post_prec, 1 / np.sqrt(post_prec)
    got_est, got_se = likelihood_from_posterior(m, v, prior)
    np.testing.assert_allclose(got_est, est, rtol=1e-12)
    np.testing.assert_allclose(got_se, se, rtol=1e-12)
    with pytest.raises(ValueError, match="not below the prior SD"):
        likelihood_from_posterior(m, np.array([1.2, 0.3]), prior)


def test_joint_likelihood_recovered_from_a_conjugate_posterior():
    """Two contrasts sharing a comparator (covariance 0.02): the conjugate posterior under
    independent N(0, 1) priors, written out here, gives back the likelihood's estimates and its
    covariance, off-diagonal included; a posterior as wide as the prior is refused."""
    from analysis.trialmodel.pooling import joint_likelihood_from_posterior

    est = np.array([0.3, -0.1])
    lik = np.array([[0.04, 0.02], [0.02, 0.09]])
    prior = 1.0
    post_cov = np.linalg.inv(np.linalg.inv(lik) + np.eye(2) / prior**2)
    post_mean = post_cov @ np.linalg.inv(lik) @ est
    got_est, got_cov = joint_likelihood_from_posterior(post_mean, post_cov, prior)
    np.testing.assert_allclose(got_est, est, rtol=1e-10)
    np.testing.assert_allclose(got_cov, lik, rtol=1e-10)
    with pytest.raises(ValueError, match="not narrower"):
        joint_likelihood_from_posterior(post_mean, np.diag([1.0, 0.05]), prior)


def test_outcome_correlation_estimated_from_patient_data():
    """Simulated outcomes correlated within patients: the baseline-adjusted correlation of the
    estimates matches the simulator's residual correlation (outcome_correlation times the
    residual share of the change, up to sampling error)."""
    import dataclasses

    from analysis.contract.simulate import scaled_scenario, simulate_trial
    from analysis.trialmodel.model import prepare_trial_data
    from analysis.trialmodel.pooling import outcome_correlation

    sc = dataclasses.replace(
        scaled_scenario("resource_groups", 3000, 60), dropout={9: 0.0, 18: 0.0}, site_share=0.0
    )
    df = simulate_trial(sc, 8)
    data = [prepare_trial_data(df, "resource_groups", o) for o in ("quality_of_life", "disability")]
    c = outcome_correlation(data, 18, ("fact_rg", "fact"))
    assert c.shape == (2, 2) and c[0, 0] == 1.0
    # both outcomes share the patient effects and residuals with weight 0.4 each, so the
    # baseline-adjusted values correlate about 0.4 in magnitude; disability runs the other way
    # on its scale, so the benefit-oriented correlation is positive
    assert 0.3 < c[0, 1] < 0.5
    indep = simulate_trial(dataclasses.replace(sc, outcome_correlation=0.0), 8)
    data = [
        prepare_trial_data(indep, "resource_groups", o) for o in ("quality_of_life", "disability")
    ]
    assert abs(outcome_correlation(data, 18, ("fact_rg", "fact"))[0, 1]) < 0.06


def _correlated_trial(correlation: float, seed: int = 3):
    """A resource-group trial whose secondary outcomes share within-patient noise (quality of
    life higher-is-better, disability lower-is-better) with weight ``correlation``."""
    import dataclasses

    from analysis.contract.simulate import scaled_scenario, simulate_trial
    from analysis.trialmodel.model import prepare_trial_data

    sc = dataclasses.replace(
        scaled_scenario("resource_groups", 2000, 40),
        dropout={9: 0.0, 18: 0.0},
        outcome_correlation=correlation,
    )
    df = simulate_trial(sc, seed)
    return [prepare_trial_data(df, "resource_groups", o) for o in ("quality_of_life", "disability")]


def test_pooling_borrows_less_when_outcomes_share_noise():
    """Correlated secondary outcomes (one lower-is-better) carry less independent information:
    the pooled intervals stay wider than for the same trial with independent outcomes. With
    the raw residuals' sign (the old code) the correlation is negative and the pooled interval
    is narrower than independence: this test fails on that sign."""
    from analysis.trialmodel.pooling import outcome_correlation

    shared = outcome_correlation(_correlated_trial(0.6), 18, ("fact_rg", "fact"))
    indep = outcome_correlation(_correlated_trial(0.0), 18, ("fact_rg", "fact"))
    assert shared[0, 1] > 0.3 and abs(indep[0, 1]) < 0.08
    est, se = np.array([0.30, 0.20]), np.array([0.08, 0.08])

    def width(corr):
        # near-complete pooling: the common mean is what the outcomes share
        res = pool_effects(est, se, mu_sd=10.0, tau_scale=0.01, n_draws=40_000, seed=2, corr=corr)
        theta = res["theta"][:, 0]
        return np.quantile(theta, 0.975) - np.quantile(theta, 0.025)

    wide, narrow = width(shared), width(indep)
    assert wide > 1.1 * narrow, (wide, narrow)
    flipped = shared.copy()
    flipped[0, 1] = flipped[1, 0] = -shared[0, 1]  # the old sign
    assert width(flipped) < narrow
