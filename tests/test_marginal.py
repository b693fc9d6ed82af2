"""The design analysis: the report's primary model, exact against dense linear algebra built
here from first principles, equal to the PyMC model's likelihood, calibrated against MCMC."""

import numpy as np
import pandas as pd
import pytest
from pytensor.compile.mode import Mode
from scipy import stats

from analysis.contract import simulate
from analysis.studies import laplace
from analysis.studies.marginal import MarginalModel
from analysis.trialmodel import model


def _data(n, k, seed, trial="resource_groups", intermittent=False):
    sc = simulate.scaled_scenario(trial, n, k, ["empowerment"])
    df = simulate.simulate_trial(sc, seed)
    if intermittent:  # every fourth patient misses the middle visit, attends the last
        ids = sorted(df["patient_id"].unique())[::4]
        df = df[~(df["patient_id"].isin(ids) & (df["month"] == 9))]
    return model.prepare_trial_data(df, trial, "empowerment")


def _by_hand(data, theta):
    """Observed rows with X (alpha_t, then beta at 9 and 18), Z (team intercept, slope coded
    -1/2 comparator, +1/2 resource group, at follow-up) and the unstructured covariance from
    its packed log-Cholesky parameters: written here, not taken from the package."""
    t_dim = len(data.visits)
    treated = np.array(data.arms)[data.arm_idx] != data.comparator
    rows = [(i, t) for i in range(len(data.z)) for t in range(t_dim) if data.mask[i, t]]
    x = np.zeros((len(rows), 2 * t_dim - 1))
    z = np.zeros((len(rows), 2))
    for r, (i, t) in enumerate(rows):
        x[r, t] = 1.0
        if t > 0 and treated[i]:
            x[r, t_dim + t - 1] = 1.0
        z[r, 0] = 1.0
        z[r, 1] = (0.5 if treated[i] else -0.5) if t > 0 else 0.0
    chol = np.zeros((t_dim, t_dim))
    k = 0
    for i in range(t_dim):
        for j in range(i + 1):
            chol[i, j] = np.exp(theta[k]) if i == j else theta[k]
            k += 1
    return rows, x, z, chol @ chol.T


@pytest.mark.parametrize("intermittent", [False, True])
@pytest.mark.parametrize("team_sd", [(0.3, 0.15), (0.6, 0.01)])
def test_conditional_posterior_equals_dense_linear_algebra(intermittent, team_sd):
    """log p(y | phi) and p(gamma | y, phi) against the dense N x N multivariate normal with
    every random effect and the fixed effects integrated out by brute force."""
    data = _data(60, 10, 5, intermittent=intermittent)
    mm = MarginalModel(data)
    theta = np.array([-0.2, 0.3, -0.1, 0.2, 0.1, -0.3])
    phi = np.r_[theta, np.log(team_sd)]
    loglik, mean, cov = mm.conditional(phi)
    rows, x, z, sigma_t = _by_hand(data, theta)
    y = np.array([data.z[i, t] for i, t in rows])
    pid = np.array([i for i, _ in rows])
    vis = np.array([t for _, t in rows])
    site = data.site_idx[pid]
    sigma = np.where(pid[:, None] == pid[None, :], sigma_t[vis][:, vis], 0.0)
    sigma += (site[:, None] == site[None, :]) * (z @ np.diag(np.square(team_sd)) @ z.T)
    prior = np.eye(x.shape[1])  # default priors: visit and effect SDs 1
    assert loglik == pytest.approx(
        stats.multivariate_normal.logpdf(y, np.zeros(len(y)), sigma + x @ prior @ x.T), abs=1e-8
    )
    inv = np.linalg.inv(sigma)
    post_cov = np.linalg.inv(np.linalg.inv(prior) + x.T @ inv @ x)
    np.testing.assert_allclose(cov, post_cov, atol=1e-10)
    np.testing.assert_allclose(mean, post_cov @ x.T @ inv @ y, atol=1e-10)


def test_design_model_is_the_pymc_model():
    """At random parameter values, the design model's mean (X gamma + Z b) and covariance give
    the PyMC model's log likelihood of every patient: the same coding, the same model."""
    data = _data(80, 10, 3, intermittent=True)
    mm = MarginalModel(data)
    m = model.build_trial_model(data)
    loglik = m.compile_logp(vars=[m["y"]], jacobian=False, mode=Mode(linker="py", optimizer=None))
    rng = np.random.default_rng(1)
    j = len(data.sites)
    start = m.initial_point()
    for _ in range(3):
        point = {v.name: rng.normal(0, 0.4, start[v.name].shape) for v in m.value_vars}
        alpha, beta = point["alpha"], point["beta"].ravel()
        u = np.exp(point["sigma_site_log__"]) * point["site_offset"]
        v = np.exp(point["sigma_site_effect_log__"]) * point["site_effect_offset"]
        assert u.shape == v.shape == (j,)
        packed = point["visit_cov_cholesky-cov-packed__"]
        sigma = mm.covariance(packed)
        rows, x, z, _ = _by_hand(data, packed)
        # the package's design, not the hand-written one, against PyMC
        from analysis import modelspec as spec

        values = model.model_data(data)
        big_x, big_z = spec.mean_design(mm.spec, values["treat_idx"])
        mean = big_x @ np.r_[alpha, beta] + np.einsum(
            "ntq,nq->nt", big_z, np.c_[u, v][data.site_idx]
        )
        total = 0.0
        for i in range(len(data.z)):
            obs = data.mask[i]
            total += stats.multivariate_normal.logpdf(
                data.z[i, obs], mean[i, obs], sigma[np.ix_(obs, obs)]
            )
        assert float(loglik(point)) == pytest.approx(total, abs=1e-6)
        # and the hand-written design agrees with the package's on the observed rows
        hand = x @ np.r_[alpha, beta] + (z * np.c_[u, v][data.site_idx[[i for i, _ in rows]]]).sum(
            1
        )
        np.testing.assert_allclose(hand, [mean[i, t] for i, t in rows], atol=1e-12)


def test_too_few_teams_for_random_effects_is_refused():
    with pytest.raises(ValueError, match="random team effects"):
        MarginalModel(_data(40, 4, 1))


def test_effect_mixture_moments_and_probability():
    data = _data(158, 20, 7)
    mm = MarginalModel(data)
    fitted = mm.fit()
    mean, sd, prob = mm.effect(fitted, 18)
    assert fitted["converged"] and fitted["weights"].sum() == pytest.approx(1.0)
    assert fitted["ess"] > 10  # the importance sample is not one point
    # P(effect > cut) decreases with the cut and is 1/2 near the mean
    probs = [mm.effect(fitted, 18, cut=c)[2] for c in (mean - sd, mean, mean + sd)]
    assert probs[0] > probs[1] > probs[2] and probs[1] == pytest.approx(0.5, abs=0.03)
    assert prob == pytest.approx(mm.effect(fitted, 18, cut=0.0)[2])


#: Two designs with a point design prior at which the rule's power is about 1/3 and 1/2.
POINT_PRIOR_DESIGNS = [((80, 10), 0.35), ((160, 20), 0.25)]


@pytest.fixture(
    scope="module", params=POINT_PRIOR_DESIGNS, ids=lambda p: f"{p[0][0]}-patients-{p[1]}"
)
def point_prior_trials(request):
    """40 simulated trials of a design whose true effect is fixed (a point design prior), each
    analysed by the planned assurance replicate (the fast design analysis and its decision) and
    by MCMC of the primary model (:func:`laplace.compare`): one set of fits for the two tests
    below."""
    from analysis.studies import assurance
    from analysis.trialmodel import fit

    (n, k), effect = request.param
    spec = assurance.AssuranceSpec(effect, 0.0, 0.975, "benefit")
    design = assurance.Design(n, k)
    settings = fit.SamplerSettings(1000, 500, 2, 3)
    rows = []
    for _, func, args in assurance.assurance_tasks(spec, [design], 40, seed=5):
        planned = func(*args)
        drawn, data = assurance.simulate_replicate(spec, design, args[3], args[4])
        assert drawn == effect
        rows.append({"patients": n, "teams": k, **planned, **laplace.compare(data, settings)})
    return spec, pd.DataFrame(rows)


@pytest.mark.slow
def test_posterior_agrees_with_mcmc_of_the_primary_model(point_prior_trials):
    """Over 40 simulated trials per design, the design analysis' posterior SD is within 10% of
    MCMC's and its mean within 0.1 posterior SD (on average), as the full report's check."""
    _, rows = point_prior_trials
    table = laplace.laplace_check(rows)
    row = table.iloc[0]
    assert row["datasets"] == 40 and "unstructured" in row["model"]
    assert 0.9 <= row["sd_ratio"] <= 1.1, row.to_dict()
    assert abs(row["mean_diff_in_mcmc_sd"]) < 0.1, row.to_dict()


@pytest.mark.slow
def test_point_prior_assurance_equals_the_rules_power_by_brute_force(point_prior_trials):
    """With a point design prior, assurance is the frequentist power of the decision rule. The
    same simulated trials analysed by full MCMC of the primary model (brute force), at two
    designs, must give the same power: paired, the decisions may differ only for trials whose
    P(benefit) sits at the threshold, and the two powers agree within Monte Carlo error."""
    spec, rows = point_prior_trials
    fast = rows["success"].to_numpy()
    brute = (rows["mcmc_prob"] > spec.threshold).to_numpy()
    assert np.allclose(rows["prob"], rows["laplace_prob"])  # the replicate is the analysis
    assert 0.1 < brute.mean() < 0.9  # a design where power is informative
    assert (fast != brute).sum() <= 3, (fast.mean(), brute.mean())
    assert abs(fast.mean() - brute.mean()) <= 2 * np.sqrt(0.25 / len(fast))
