"""Slow checks of the fitted model: parameter recovery and agreement with REML (MixedLM).

One simulated trial, large enough that a 0.1-SD tolerance is about two standard errors:
1,200 patients in 60 teams, effects 0.30 (9 months) and 0.54 (18 months) baseline SDs,
team-varying effects (SD 0.1) and missing-at-random dropout.
"""

import dataclasses

import numpy as np
import pandas as pd
import pytensor.tensor as pt
import pytest
from pytensor.compile.mode import Mode

from analysis.contract.scenario import load_scenario
from analysis.contract.simulate import simulate_trial
from analysis.trialmodel.fit import ModelCache, SamplerSettings, fit_trial_model
from analysis.trialmodel.model import Priors, prepare_trial_data

pytestmark = pytest.mark.slow
TRUTH = {9: 0.30, 18: 0.54}


@pytest.fixture(scope="session")
def big_trial():
    sc = load_scenario("resource_groups")
    sc = dataclasses.replace(
        sc,
        arms={"fact_rg": 600, "fact": 600},
        site_sizes=[20] * 60,
        outcomes={"empowerment": sc.outcomes["empowerment"]},
    )
    assert sc.outcomes["empowerment"].effect["fact_rg"] == TRUTH
    df = simulate_trial(sc, seed=2024)
    return prepare_trial_data(df, "resource_groups", "empowerment")


@pytest.fixture(scope="session")
def cache():
    return ModelCache()


SETTINGS = SamplerSettings(draws=500, tune=500, chains=2, seed=11)


def test_recovers_known_effects(big_trial, cache):
    idata, _ = fit_trial_model(big_trial, SETTINGS, cache=cache)
    beta = idata.posterior["beta"].sel(treatment="fact_rg")
    for month, truth in TRUTH.items():
        draws = beta.sel(followup=month).values.ravel()
        lo, hi = np.quantile(draws, [0.025, 0.975])
        assert lo < truth < hi, (month, lo, hi)
        assert abs(draws.mean() - truth) < 0.1, (month, draws.mean())
    # team-varying effects exist (true SD 0.1) and the between-team SD is recovered loosely
    assert 0.0 < idata.posterior["sigma_site_effect"].mean() < 0.3


def test_agrees_with_statsmodels_mixedlm_reml(big_trial, cache):
    import statsmodels.formula.api as smf

    idata, _ = fit_trial_model(big_trial, SETTINGS, site_slopes=False, cache=cache)
    d = big_trial
    long = pd.DataFrame(
        {
            "z": d.z.ravel(),
            "month": np.tile(d.visits, d.n_patients),
            "patient": np.repeat(d.patients, len(d.visits)),
            "site": np.repeat(np.array(d.sites)[d.site_idx], len(d.visits)),
            "treated": np.repeat(np.array(d.arms)[d.arm_idx] == "fact_rg", len(d.visits)),
        }
    ).dropna()
    for m in d.visits[1:]:
        long[f"trt_{m}"] = (long["treated"] & (long["month"] == m)).astype(float)
    fit = smf.mixedlm(
        "z ~ C(month) + trt_9 + trt_18",
        long,
        groups="site",
        re_formula="1",
        vc_formula={"patient": "0 + C(patient)"},
    ).fit(reml=True)
    for m in d.visits[1:]:
        bayes = float(idata.posterior["beta"].sel(treatment="fact_rg", followup=m).mean())
        assert abs(bayes - fit.params[f"trt_{m}"]) < 0.05, (m, bayes, fit.params[f"trt_{m}"])


def test_marginal_model_matches_latent_formulation(default_data):
    """Patient effects integrated out analytically give the latent model: at random points of
    the population parameters, the native (marginal) log density equals PyMC's latent model's
    log density with the patient offsets integrated out. The latent density is Gaussian in the
    offsets, with offsets independent a posteriori given theta, so its gradient in them is
    g(o) = g(0) - H o with H diagonal (checked at a random o), its mode is o* = g(0) / diag H,
    and Laplace's formula is exact: log p(y, theta) = log p(y, theta, o*) + n/2 log(2 pi)
    - 1/2 log det H, with the gradient from PyMC's graph. The same points with the patient SD
    changed, or without the determinant, miss by far more than the tolerance."""
    from analysis.trialmodel import native
    from analysis.trialmodel.model import build_trial_model, model_spec

    data = prepare_trial_data(default_data, "resource_groups", "empowerment")
    priors = Priors()
    spec = model_spec(data, "intercept", "normal", None, priors, False)
    block = native.data_block(data, spec, priors)
    marginal = build_trial_model(data, "intercept")
    latent = build_trial_model(data, "intercept", formulation="latent")
    offset = latent.rvs_to_values[latent["patient_offset"]].name
    assert [v.name for v in latent.value_vars] == [v.name for v in marginal.value_vars] + [offset]
    logp = latent.compile_logp(mode=UNOPTIMISED)
    grad = latent.compile_dlogp(vars=[latent["patient_offset"]], mode=UNOPTIMISED)
    start = marginal.initial_point()
    sd_slot = sum(np.size(start[v.name]) for v in marginal.value_vars[:-1])  # sigma_patient
    rng = np.random.default_rng(5)
    for _ in range(4):
        x = rng.normal(0.0, 0.5, native.layout(spec).n_dim)
        point, pos = {}, 0
        for v in marginal.value_vars:
            size = np.size(start[v.name])
            point[v.name] = x[pos : pos + size].reshape(np.shape(start[v.name]))
            pos += size
        g0 = grad({**point, offset: np.zeros(data.n_patients)})
        h = g0 - grad({**point, offset: np.ones(data.n_patients)})  # diag H, if H is diagonal
        o = rng.normal(0.0, 1.0, data.n_patients)
        # linear in the offsets (Gaussian) with a diagonal H (independent): exact to rounding
        np.testing.assert_allclose(grad({**point, offset: o}), g0 - h * o, atol=1e-9)
        mode = {**point, offset: g0 / h}
        assert np.abs(grad(mode)).max() < 1e-8
        log_det = np.log(h).sum()
        integral = float(logp(mode)) + 0.5 * data.n_patients * np.log(2 * np.pi) - 0.5 * log_det
        value, _ = native.log_density(block, x)
        assert value == pytest.approx(integral, abs=1e-8)
        assert abs(value - (integral + 0.5 * log_det)) > 1.0  # the determinant matters
        wrong = x.copy()
        wrong[sd_slot] += 0.3
        # the patient SD matters: a miss 10,000 times the tolerance
        assert abs(native.log_density(block, wrong)[0] - integral) > 1e-4


RG, CP = ("resource_groups", "empowerment"), ("consumer_providers", "symptoms")
#: Prior scales away from the defaults, so that the priors' code paths are exercised too.
PRIORS = Priors(effect_sd=0.7, site_sd=0.4, site_effect_sd=0.25, residual_sd=1.3)


def _trial_data(df, which, sites="as is"):
    return prepare_trial_data(df.assign(site="only") if sites == "one" else df, *which)


#: Each branch of the native density at least once: covariance, likelihood, site effects
#: (random with slopes, fixed, none), covariates. (``tests/test_native.py`` checks the density
#: and gradient of every combination against PyMC's graph at random points.)
REFERENCE_VARIANTS = [
    (RG, "as is", "unstructured", "normal", False),  # the primary model
    (RG, "as is", "unstructured", "student", True),
    (CP, "as is", "intercept", "normal", True),
    (RG, "one", "ar1", "student", False),
]


def _variant_id(v):
    return f"{v[0][0]}-{v[1]}-{v[2]}-{v[3]}-{'x' if v[4] else 'nox'}"


@pytest.mark.slow
def test_primary_posterior_agrees_with_pymc_sampled_by_nutpie(default_data):
    """The primary model fitted on the native path vs PyMC's graph compiled by nutpie (numba)
    and sampled through nutpie's own Python interface: means within 0.1 posterior SD, SDs
    within 10%, for every scalar of every population-level parameter. (Compiling PyMC's graph
    takes 40-60 s, so the other variants are checked exactly, draw by draw, below.)"""
    which, sites, cov, lik, cv = REFERENCE_VARIANTS[0]
    data = _trial_data(default_data, which, sites)
    settings = SamplerSettings(draws=1000, tune=1000, chains=4, seed=11)
    fits = {
        backend: fit_trial_model(
            data,
            settings,
            cov,
            lik,
            priors=PRIORS,
            covariates=cv,
            cache=ModelCache(backend=backend),
        )[0]
        for backend in ("native", "numba")
    }
    names = [n for n in fits["native"].posterior.data_vars if not n.endswith("__")]
    assert set(names) <= set(fits["numba"].posterior.data_vars)
    checked = 0
    for name in names:
        a = fits["native"].posterior[name].values.reshape(4000, -1)
        b = fits["numba"].posterior[name].values.reshape(4000, -1)
        keep = b.std(axis=0) > 1e-9  # the unit diagonal of visit_corr
        a, b = a[:, keep], b[:, keep]
        sd = b.std(axis=0)
        np.testing.assert_array_less(
            np.abs(a.mean(axis=0) - b.mean(axis=0)), 0.1 * sd, err_msg=name
        )
        np.testing.assert_array_less(np.abs(a.std(axis=0) / sd - 1), 0.10, err_msg=name)
        checked += a.shape[1]
    assert checked >= 5


#: PyMC's graph evaluated as written (no rewrites, Python linker): needs no compiler.
UNOPTIMISED = Mode(linker="py", optimizer=None)


@pytest.mark.parametrize(
    "which, sites, cov, lik, cv",
    [pytest.param(*v, id=_variant_id(v)) for v in REFERENCE_VARIANTS],
)
def test_every_stored_draw_is_a_point_of_the_pymc_model(default_data, which, sites, cov, lik, cv):
    """A native fit's stored draws, chain by chain, are points of PyMC's model: each free
    variable's stored value, mapped by PyMC's own transform to the unconstrained scale, gives
    PyMC's log density equal to the ``logp`` the sampler recorded for that draw, and PyMC's
    deterministics equal the stored ones. Names, shapes, element order, the chain and draw
    alignment of draws and statistics, and the transforms are all checked exactly (a
    transposed matrix, a swapped chain or a missing Jacobian term would each fail)."""
    from analysis.trialmodel.model import build_trial_model

    data = _trial_data(default_data, which, sites)
    settings = SamplerSettings(draws=200, tune=300, chains=2, seed=11)
    idata, _ = fit_trial_model(data, settings, cov, lik, priors=PRIORS, covariates=cv)
    m = build_trial_model(data, cov, lik, None, PRIORS, covariates=cv)
    reference = m.logp_dlogp_function(ravel_inputs=True, mode=UNOPTIMISED)
    reference.set_extra_values({})
    post, stats = idata.posterior, idata.sample_stats
    picks = [(c, d) for c in range(settings.chains) for d in (0, 57, 123, 199)]
    # each free variable's stored draws -> PyMC's value variable (vectorised over the picks)
    unconstrained = []
    for rv in m.free_RVs:
        stored = np.stack([post[rv.name].values[c, d] for c, d in picks])
        transform = m.rvs_to_transforms.get(rv)
        if transform is not None:
            stored = transform.forward(pt.as_tensor(stored), *rv.owner.inputs).eval(
                mode=UNOPTIMISED
            )
        unconstrained.append(stored.reshape(len(picks), -1))
    x = np.concatenate(unconstrained, axis=1)
    for row, (c, d) in zip(x, picks, strict=True):
        want, _ = reference(row)
        assert float(stats["logp"].values[c, d]) == pytest.approx(float(want), abs=1e-6)
    # the deterministics, from the same unconstrained points
    names = [dv.name for dv in m.deterministics if dv.name in post]
    fn = m.compile_fn(
        m.replace_rvs_by_values([m[n] for n in names]),
        inputs=m.value_vars,
        mode=UNOPTIMISED,
        point_fn=False,
        on_unused_input="ignore",
    )
    sizes = np.cumsum([0] + [u.shape[1] for u in unconstrained])
    start = m.initial_point()
    for row, (c, d) in zip(x, picks, strict=True):
        values = [
            row[a:b].reshape(np.shape(start[v.name]))
            for v, a, b in zip(m.value_vars, sizes[:-1], sizes[1:], strict=True)
        ]
        for name, want in zip(names, fn(*values), strict=True):
            np.testing.assert_allclose(post[name].values[c, d], want, atol=1e-9, err_msg=name)
    assert len(picks) * len(m.free_RVs) >= 8


@pytest.mark.slow
def test_covariate_by_visit_recovers_a_covariate_that_acts_late(default_data):
    """Age moves only the final visit's outcome (by 0.6 baseline SD per 10 years): the
    covariate x visit coefficients find it there and not at baseline, which one coefficient
    shared by every visit could not."""
    from analysis.trialmodel.model import prepare_trial_data

    df = default_data[
        (default_data["trial"] == "resource_groups") & (default_data["outcome"] == "empowerment")
    ].copy()
    base = prepare_trial_data(df, "resource_groups", "empowerment")
    age = pd.to_numeric(df["age"])
    shift = 0.06 * (age - age.mean()) * base.s0  # 0.6 baseline SD per 10 years at month 18
    df["value"] = df["value"] + np.where(df["month"] == 18, shift, 0.0)
    data = prepare_trial_data(df, "resource_groups", "empowerment")
    idata, _ = fit_trial_model(data, SamplerSettings(500, 500, 2, 3), covariates=True)
    gamma = idata.posterior["gamma"].sel(covariate="age (per 10 years)").mean(("chain", "draw"))
    # the original data's own age effect is small; the added one is 0.6 / (s0 ratio ~ 1)
    added = gamma.sel(visit=18) - gamma.sel(visit=0)
    assert 0.4 < float(added) * data.s0 / base.s0 < 0.8, gamma.values


def test_predictive_model_is_built_once_per_data(default_data):
    """The prior and posterior predictive checks of one outcome share one PyMC model: equal
    data (another object with the same content) give the same model, other data a new one
    whose observed values are the new data's."""
    from analysis.trialmodel import fit

    data = prepare_trial_data(default_data, "resource_groups", "empowerment")
    first = fit.predictive_model(data)
    assert fit.predictive_model(prepare_trial_data(default_data, *RG)) is first
    other = dataclasses.replace(data, y=data.y + data.s0)  # one baseline SD higher
    second = fit.predictive_model(other)
    assert second is not first
    new, old = (m.rvs_to_values[m["y"]].eval() for m in (second, first))
    assert np.all(np.isfinite(new)) and new.shape == old.shape
    assert np.abs(new - old).max() > 0.5


def test_replicated_outcomes_are_drawn_once_and_kept_by_what_they_depend_on(
    default_data, tmp_path, monkeypatch
):
    """The predictive checks' draws are PyMC's (the same values as drawing them directly), kept
    on disk: the same data, posterior and seed are read back without building the model; another
    seed or another posterior is drawn again."""
    from analysis.trialmodel import fit

    data = prepare_trial_data(default_data, *CP)
    idata, _ = fit_trial_model(data, SamplerSettings(draws=20, tune=40, chains=1, seed=3))
    model = fit.predictive_model(data)
    prior = fit.replicated_outcomes(data, 10, 5, cache_dir=tmp_path)
    post = fit.replicated_outcomes(data, 10, 5, idata, cache_dir=tmp_path)
    np.testing.assert_array_equal(prior, fit.predictive_draws(None, model, 10, 5, prior=True))
    np.testing.assert_array_equal(post, fit.predictive_draws(idata, model, 10, 5))
    assert prior.shape == post.shape == (10, data.n_patients, len(data.visits))
    with monkeypatch.context() as m:
        m.setattr(fit, "predictive_model", lambda d: pytest.fail("the model was built again"))
        np.testing.assert_array_equal(
            fit.replicated_outcomes(data, 10, 5, cache_dir=tmp_path), prior
        )
        np.testing.assert_array_equal(
            fit.replicated_outcomes(data, 10, 5, idata, cache_dir=tmp_path), post
        )
    assert not np.array_equal(fit.replicated_outcomes(data, 10, 6, cache_dir=tmp_path), prior)
    shifted = idata.copy()  # every visit mean one baseline SD higher
    shifted.add_groups(posterior=idata.posterior.assign(alpha=idata.posterior["alpha"] + 1.0))
    moved = fit.replicated_outcomes(data, 10, 5, shifted, cache_dir=tmp_path)
    assert abs(moved.mean() - post.mean() - 1.0) < 0.05
    assert len(list(tmp_path.glob("*-predictive-*.joblib"))) == 4
