"""Model structure, exact marginal likelihood and finite gradients (no sampling)."""

import numpy as np
import pytest
from conftest import toy_empowerment
from scipy import stats

from analysis.trialmodel.model import (
    Priors,
    all_patterns,
    build_trial_model,
    model_data,
    model_spec,
    prepare_trial_data,
)

#: Graphs evaluated once: PyTensor's Python implementations (compiling C would take longer).
EVALUATE_ONCE = "FAST_COMPILE"


@pytest.fixture(scope="module")
def rg(default_data):
    return prepare_trial_data(default_data, "resource_groups", "empowerment")


@pytest.fixture(scope="module")
def cp(default_data):
    return prepare_trial_data(default_data, "consumer_providers", "symptoms")


def test_prepare_standardises_by_pooled_baseline(rg, default_data):
    base = default_data.query(
        "trial == 'resource_groups' and outcome == 'empowerment' and month == 0"
    )
    assert rg.m0 == pytest.approx(base["value"].mean())
    # pooled within-arm SD (Tjaden's d), computed here from the arms' own variances
    g = base.groupby("arm")["value"]
    pooled = np.sqrt(((g.count() - 1) * g.var()).sum() / (g.count() - 1).sum())
    assert rg.s0 == pytest.approx(pooled)
    assert rg.s0 != pytest.approx(base["value"].std())
    assert rg.y.shape == (158, 3) and rg.visits == [0, 9, 18]
    assert rg.mask[:, 0].all() and not rg.mask.all()  # baseline complete, dropout later
    assert rg.treatments == ["fact_rg"] and rg.comparator == "fact"


def test_every_patient_in_exactly_one_attendance_pattern(rg):
    values = model_data(rg)
    rows = np.concatenate([values[f"rows_{p}"] for p in range(len(all_patterns(3)))])
    assert sorted(rows) == list(range(rg.n_patients))


def test_structure_coords_and_team_slopes(rg, cp):
    m = build_trial_model(rg)
    names = {v.name for v in m.free_RVs}
    assert {
        "alpha",
        "beta",
        "sigma_site",
        "site_offset",
        "sigma_site_effect",
        "visit_cov",
    } <= names
    assert not {"sigma", "sigma_patient"} & names  # the primary covariance is unstructured
    cs = {v.name for v in build_trial_model(rg, covariance="intercept").free_RVs}
    assert {"sigma", "sigma_patient"} <= cs and "visit_cov" not in cs
    ar = {v.name for v in build_trial_model(rg, covariance="ar1").free_RVs}
    assert {"sigma", "rho"} <= ar
    assert m.named_vars_to_dims["beta"] == ("treatment", "followup")
    assert list(m.coords["treatment"]) == ["fact_rg"] and list(m.coords["followup"]) == [9, 18]
    m2 = build_trial_model(cp)
    names2 = {v.name for v in m2.free_RVs}
    assert "sigma_site_effect" not in names2
    # four clinics: fixed sum-to-zero clinic effects instead of a random-intercept SD
    assert "site_fixed" in names2 and "sigma_site" not in names2
    assert list(m2.coords["treatment"]) == ["cacm", "ncacm"]


def test_bad_options_are_rejected_with_the_value(rg):
    with pytest.raises(ValueError, match="'toeplitz'"):
        build_trial_model(rg, covariance="toeplitz")
    with pytest.raises(ValueError, match="'cauchy'"):
        build_trial_model(rg, likelihood="cauchy")
    with pytest.raises(ValueError, match="effect_sd must be a positive number, got -1"):
        Priors(effect_sd=-1)


def test_same_structure_same_spec_across_outcomes(default_data, rg):
    other = prepare_trial_data(default_data, "resource_groups", "symptoms")
    assert model_spec(rg) == model_spec(other)
    assert model_spec(rg) != model_spec(rg, covariance="intercept")
    assert model_spec(rg) != model_spec(rg, covariates=True)


@pytest.mark.parametrize(
    "covariance,likelihood,which",
    [
        ("intercept", "normal", "rg"),
        ("unstructured", "student", "rg"),
        ("intercept", "student", "cp"),
        ("unstructured", "normal", "cp"),
        ("ar1", "normal", "rg"),
        ("ar1", "student", "cp"),
    ],
)
def test_finite_logp_and_gradient_at_initial_point(rg, cp, covariance, likelihood, which):
    m = build_trial_model(rg if which == "rg" else cp, covariance, likelihood)
    ip = m.initial_point()
    logp_dlogp = m.logp_dlogp_function(ravel_inputs=True, mode=EVALUATE_ONCE, initial_point=ip)
    logp_dlogp.set_extra_values({})
    logp, grad = logp_dlogp(np.concatenate([np.ravel(ip[v.name]) for v in m.value_vars]))
    assert np.isfinite(logp)
    assert np.all(np.isfinite(grad)) and np.any(grad != 0)


def _toy(n_missing_18=2):
    """Eight patients, one per team; the first ``n_missing_18`` miss 18 months and patient 3
    misses 9 months (an intermittent gap)."""

    def attended(i):
        return [m for m in (0, 9, 18) if not (m == 18 and i < n_missing_18 or m == 9 and i == 3)]

    return toy_empowerment(8, attended, site=lambda i: f"t{i}")


@pytest.mark.parametrize("likelihood", ["normal", "student"])
def test_marginal_likelihood_equals_scipy_on_observed_visits(likelihood):
    data = prepare_trial_data(_toy(), "resource_groups", "empowerment")
    m = build_trial_model(data, "intercept", likelihood, site_slopes=False)
    point = m.initial_point()
    point.update(
        {
            "alpha": np.array([0.1, 0.3, -0.2]),
            "beta": np.array([[0.4, 0.7]]),
            "sigma_log__": np.log(0.8),
            "sigma_patient_log__": np.log(0.6),
            "sigma_site_log__": np.log(0.3),
            "site_offset": np.array([0.5, -1, 0.2, 0.1, 0.0, 0.3, -0.4, 0.8]),
        }
    )
    if likelihood == "student":
        point["nu_log__"] = np.log(5.0)
    loglik = m.compile_fn(
        m.logp(vars=[m["y"]], sum=False)[0],
        inputs=m.value_vars,
        on_unused_input="ignore",
        mode=EVALUATE_ONCE,
    )(point)
    cov = 0.6**2 * np.ones((3, 3)) + 0.8**2 * np.eye(3)
    u = 0.3 * np.array([0.5, -1, 0.2, 0.1, 0.0, 0.3, -0.4, 0.8])
    expected = []
    for i in range(data.n_patients):
        obs = data.mask[i]
        mu = np.array([0.1, 0.3, -0.2]) + u[data.site_idx[i]]
        if data.arms[data.arm_idx[i]] == "fact_rg":
            mu = mu + np.array([0, 0.4, 0.7])
        z = data.z[i, obs]
        c = cov[np.ix_(obs, obs)]
        if likelihood == "normal":
            expected.append(stats.multivariate_normal(mu[obs], c).logpdf(z))
        else:
            expected.append(stats.multivariate_t(mu[obs], c, df=5.0).logpdf(z))
    np.testing.assert_allclose(loglik, expected, rtol=1e-8)


@pytest.mark.parametrize("covariance", ["unstructured", "ar1"])
def test_structured_likelihood_equals_scipy(covariance):
    """Unstructured and AR(1): the pattern-wise Cholesky density equals scipy's, with team
    slopes coded +/- 1/2 and covariates in the mean."""
    df = _toy()
    df["age"] = df["patient_id"].str[1:].astype(int) * 7 + 20
    data = prepare_trial_data(df, "resource_groups", "empowerment")
    m = build_trial_model(data, covariance, "normal", site_slopes=True, covariates=True)
    point = m.initial_point()
    rng = np.random.default_rng(3)
    for k, v in point.items():
        point[k] = v + rng.normal(0, 0.3, np.shape(v))

    def at_point(names):  # model variables evaluated at the point (random variables by value)
        outs = m.replace_rvs_by_values([m[n] for n in names])
        return m.compile_fn(
            outs, inputs=m.value_vars, on_unused_input="ignore", mode=EVALUATE_ONCE
        )(point)

    loglik = m.compile_fn(
        m.logp(vars=[m["y"]], sum=False)[0],
        inputs=m.value_vars,
        on_unused_input="ignore",
        mode=EVALUATE_ONCE,
    )(point)
    alpha, beta, gamma, s_site, off, s_eff, eff_off = at_point(
        ["alpha", "beta", "gamma", "sigma_site", "site_offset", "sigma_site_effect"]
        + ["site_effect_offset"]
    )
    if covariance == "unstructured":
        sd, corr = at_point(["visit_sd", "visit_corr"])
        cov = sd[:, None] * corr * sd[None, :]
    else:
        sigma, rho = at_point(["sigma", "rho"])
        lag = np.abs(np.subtract.outer(np.arange(3), np.arange(3)))
        cov = sigma**2 * rho**lag
    expected = []
    for i in range(data.n_patients):
        obs = data.mask[i]
        j = data.site_idx[i]
        treated = data.arms[data.arm_idx[i]] == "fact_rg"
        mu = alpha + s_site * off[j] + data.x[i] @ gamma
        mu = (
            mu
            + np.r_[0.0, beta[0]] * treated
            + s_eff * eff_off[j] * (treated - 0.5) * np.r_[0, 1, 1]
        )
        c = cov[np.ix_(obs, obs)]
        expected.append(stats.multivariate_normal(mu[obs], c).logpdf(data.z[i, obs]))
    np.testing.assert_allclose(loglik, expected, rtol=1e-8)


def test_covariates_are_centred_with_levels_named():
    df = _toy()
    df["sex"] = np.where(df["patient_id"].isin(["p000", "p001", "p002"]), "female", "male")
    df.loc[df["patient_id"] == "p007", "sex"] = None
    data = prepare_trial_data(df, "resource_groups", "empowerment")
    assert data.covariate_terms == ["sex: female"]
    np.testing.assert_allclose(data.x.mean(axis=0), 0.0, atol=1e-12)
    # the patient without a value sits at the mean
    assert data.x[data.patients.index("p007"), 0] == 0.0
