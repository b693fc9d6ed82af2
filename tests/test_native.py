"""The native density: the same log density, gradient and draws as the PyMC model, for every
variant the report fits, and the same posterior."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

import numpy as np
import pytensor
import pytest
from pytensor.compile.mode import Mode

from analysis.trialmodel import fit, model, native

RG, CP = ("resource_groups", "empowerment"), ("consumer_providers", "symptoms")
#: PyMC's graph evaluated as written (no rewrites, Python linker): a few points need no compiler.
UNOPTIMISED = Mode(linker="py", optimizer=None)
PRIORS = model.Priors(effect_sd=0.7, site_sd=0.4, site_effect_sd=0.25, residual_sd=1.3)


def _data(df, which, sites="as is"):
    trial, outcome = which
    if sites == "one":
        df = df.assign(site="only")
    return model.prepare_trial_data(df, trial, outcome)


def _variants():
    """Every covariance x likelihood with random sites and slopes (resource groups), with fixed
    site effects and three arms (consumer providers), and with a single site; covariates on and
    off."""
    out = []
    for which, sites in ((RG, "as is"), (CP, "as is"), (RG, "one")):
        for cov, lik, cv in itertools.product(model.COVARIANCES, model.LIKELIHOODS, (False, True)):
            out.append(
                pytest.param(
                    which,
                    sites,
                    cov,
                    lik,
                    cv,
                    id=f"{which[0]}-{sites}-{cov}-{lik}-{'x' if cv else 'nox'}",
                )
            )
    return out


def _pymc_reference(m):
    """PyMC's own log density of ``m`` and its gradient by PyTensor's autodiff, over the raveled
    value variables (the native vector's layout), and the model's initial point (found once:
    each search compiles a function)."""
    start = m.initial_point()
    cost = m.logp()
    fn = pytensor.function(
        m.value_vars, [cost, *pytensor.grad(cost, m.value_vars)], mode=UNOPTIMISED
    )

    def reference(x):
        value, *grads = fn(*_pymc_point(m, x, start).values())
        return value, np.concatenate([np.ravel(g) for g in grads])

    return reference, start


def _pymc_point(m, x, start):
    """The PyMC model's value variables (transformed) from the native unconstrained vector
    (``start``: an initial point of ``m``, for the shapes)."""
    point, pos = {}, 0
    for v in m.value_vars:
        shape = start[v.name].shape
        size = int(np.prod(shape))
        point[v.name] = x[pos : pos + size].reshape(shape)
        pos += size
    assert pos == len(x)
    return point


def _assert_native_equals_pymc(data, covariance, likelihood, priors, covariates, seed, n=3, sd=0.6):
    """The native density and gradient equal PyMC's graph at ``n`` random points; returns the
    last point and its native value."""
    spec = model.model_spec(data, covariance, likelihood, None, priors, covariates)
    m = model.build_trial_model(data, covariance, likelihood, None, priors, covariates=covariates)
    reference, _ = _pymc_reference(m)
    block = native.data_block(data, spec, priors)
    rng = np.random.default_rng(seed)
    for _ in range(n):
        x = rng.normal(0.0, sd, native.layout(spec).n_dim)
        want, want_grad = reference(x)
        value, grad = native.log_density(block, x)
        assert value == pytest.approx(float(want), abs=1e-6)
        np.testing.assert_allclose(grad, want_grad, atol=1e-6, rtol=0)
    return x, value


@pytest.mark.parametrize("which, sites, cov, lik, cv", _variants())
def test_density_and_gradient_match_the_pymc_graph(default_data, which, sites, cov, lik, cv):
    data = _data(default_data, which, sites)
    spec = model.model_spec(data, cov, lik, None, PRIORS, cv)
    assert bool(spec.covariates) == cv
    expected_sites = {"as is": "random" if which == RG else "fixed", "one": "none"}[sites]
    assert spec.site_effects == expected_sites
    m = model.build_trial_model(data, cov, lik, None, PRIORS, covariates=cv)
    lay = native.layout(spec)
    assert [v.name.split("_log__")[0].split("_interval__")[0] for v in m.value_vars][0] == "alpha"
    reference, start = _pymc_reference(m)
    block = native.data_block(data, spec, PRIORS)
    rng = np.random.default_rng(7)
    for _ in range(3):
        x = rng.normal(0.0, 0.6, lay.n_dim)
        _pymc_point(m, x, start)  # the layouts agree
        want, want_grad = reference(x)
        value, grad = native.log_density(block, x)
        assert value == pytest.approx(float(want), abs=1e-6)
        np.testing.assert_allclose(grad, want_grad, atol=1e-6, rtol=0)


@pytest.mark.parametrize("cov", model.COVARIANCES)
@pytest.mark.parametrize("lik", model.LIKELIHOODS)
def test_expansion_matches_pymc_transforms_and_deterministics(default_data, cov, lik):
    for which, sites in ((RG, "as is"), (CP, "as is"), (RG, "one")):
        data = _data(default_data, which, sites)
        spec = model.model_spec(data, cov, lik, None, PRIORS, True)
        m = model.build_trial_model(data, cov, lik, None, PRIORS, covariates=True)
        lay = native.layout(spec)
        names = [name for name, _, _ in lay.variables]
        outs = m.replace_rvs_by_values([m[name] for name in names])
        fn = m.compile_fn(
            outs,
            inputs=m.value_vars,
            mode=UNOPTIMISED,
            point_fn=False,
            on_unused_input="ignore",
        )
        x = np.random.default_rng(3).normal(0.0, 0.5, lay.n_dim)
        point = _pymc_point(m, x, m.initial_point())
        want = fn(*[point[v.name] for v in m.value_vars])
        got = native.expanded(native.data_block(data, spec, PRIORS), x)
        pos = 0
        for (name, shape, _), ref in zip(lay.variables, want, strict=True):
            size = int(np.prod(shape))
            np.testing.assert_allclose(
                got[pos : pos + size].reshape(shape), ref, atol=1e-10, err_msg=name
            )
            pos += size


@pytest.mark.parametrize("cov", model.COVARIANCES)
def test_sufficient_statistics_give_the_per_patient_density(default_data, cov):
    data = _data(default_data, RG)
    spec = model.model_spec(data, cov, "normal", None, PRIORS, True)
    grouped = native.data_block(data, spec, PRIORS)
    per_patient = native.data_block(data, spec, PRIORS, aggregate=False)
    assert grouped[10] < per_patient[10] == data.n_patients  # fewer groups than patients
    x = np.random.default_rng(5).normal(0.0, 0.5, native.layout(spec).n_dim)
    a, ga = native.log_density(grouped, x)
    b, gb = native.log_density(per_patient, x)
    assert a == pytest.approx(b, abs=1e-8)
    np.testing.assert_allclose(ga, gb, atol=1e-8)


def test_a_new_process_loads_the_compiled_callbacks_from_disk():
    """After one process has compiled them, the next one reads numba's cache (no compile)."""
    code = "from analysis.trialmodel import native; print(int(native.compiled_here()))"
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=env)
    again = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=env)
    assert again.stdout.decode().strip() == "0"


@pytest.mark.parametrize(
    "which, cov, lik, cv",
    [(RG, "unstructured", "student", True), (CP, "ar1", "normal", False)],
)
def test_pointwise_log_likelihood_matches_pymc(default_data, which, cov, lik, cv):
    """PSIS-LOO's per-patient terms, computed natively after sampling, equal PyMC's."""
    data = _data(default_data, which)
    settings = fit.SamplerSettings(draws=20, tune=20, chains=2, seed=5)
    idata, _ = fit.fit_trial_model(data, settings, cov, lik, covariates=cv)
    m = model.build_trial_model(data, cov, lik, covariates=cv)
    reference = fit.add_log_likelihood(idata.copy(), m).log_likelihood["y"]
    mine = fit.add_log_likelihood(idata.copy(), m, data).log_likelihood["y"]
    assert mine.dims == reference.dims == ("chain", "draw", "patient")
    assert list(mine["patient"].values) == list(reference["patient"].values)
    np.testing.assert_allclose(mine.values, reference.values, atol=1e-9)


def _intermittent(df, which):
    """The trial with every third patient missing the middle visits but attending the last:
    non-monotone attendance patterns (baseline and last visit only)."""
    trial, outcome = which
    sub = df[(df["trial"] == trial) & (df["outcome"] == outcome)]
    visits = sorted(sub["month"].unique())
    patients = sorted(sub["patient_id"].unique())
    drop = df["patient_id"].isin(patients[::3]) & df["month"].isin(visits[1:-1])
    # and every seventh patient randomised but not assessed at baseline
    drop |= df["patient_id"].isin(patients[1::7]) & (df["month"] == visits[0])
    return model.prepare_trial_data(df[~drop], trial, outcome)


@pytest.mark.parametrize("eta", [1.0, 4.5])
@pytest.mark.parametrize("cov", model.COVARIANCES)
@pytest.mark.parametrize("lik", model.LIKELIHOODS)
def test_density_matches_pymc_with_intermittent_visits_and_other_lkj_shapes(
    default_data, eta, cov, lik
):
    data = _intermittent(default_data, RG)
    observed = data.mask
    assert (observed[:, 0] & ~observed[:, 1] & observed[:, -1]).sum() > 10  # patterns exist
    assert (~observed[:, 0]).sum() > 5  # and patients without a baseline value
    priors = model.Priors(effect_sd=0.7, residual_sd=1.3, lkj_eta=eta)
    _assert_native_equals_pymc(data, cov, lik, priors, True, seed=11)


def test_a_block_of_another_layout_is_refused(default_data):
    data = _data(default_data, RG)
    spec = model.model_spec(data)
    block = native.data_block(data, spec, PRIORS)
    assert native.header(block).layout == native.LAYOUT
    stale = block.copy()
    stale[native.HEADER_FIELDS.index("layout")] += 1.0
    x = np.zeros(native.layout(spec).n_dim)
    import ctypes

    fn = ctypes.CFUNCTYPE(
        ctypes.c_int64,
        ctypes.c_uint64,
        ctypes.POINTER(ctypes.c_double),
        ctypes.POINTER(ctypes.c_double),
        ctypes.POINTER(ctypes.c_double),
        ctypes.c_void_p,
    )(native._logp_cfunc.address)
    grad, out = np.zeros_like(x), np.zeros(1)

    def call(b):
        ptr = ctypes.POINTER(ctypes.c_double)
        return fn(
            len(x),
            x.ctypes.data_as(ptr),
            grad.ctypes.data_as(ptr),
            out.ctypes.data_as(ptr),
            b.ctypes.data,
        )

    assert call(block) == 0 and np.isfinite(out[0])
    assert call(stale) == -1


def test_nutpie_private_names_are_where_the_project_reaches_them(monkeypatch):
    """The private names the C backend uses exist in the installed nutpie; a release that
    renames one makes this (and every such fit) fail with a message naming it. The native
    path's names are checked in ``tests/test_draws.py``."""
    fit.check_nutpie()
    monkeypatch.setitem(fit.NUTPIE_PRIVATE, "nutpie.compile_pymc", ("_gone_in_a_release",))
    with pytest.raises(ImportError, match="_gone_in_a_release"):
        fit.check_nutpie()


def test_ar1_lags_are_time_between_visits():
    from analysis.modelspec import ar1_lags

    np.testing.assert_array_equal(ar1_lags([0, 9, 18]), [[0, 1, 2], [1, 0, 1], [2, 1, 0]])
    weeks = ar1_lags([0, 1, 2, 4, 6])
    assert weeks[0].tolist() == [0, 1, 2, 4, 6] and weeks[3, 4] == 2
    assert ar1_lags([0, 2, 6])[0].tolist() == [0, 1, 3]


@pytest.mark.parametrize("lik", model.LIKELIHOODS)
def test_ar1_in_time_matches_pymc_with_unequal_spacing(default_data, lik):
    """Visits at weeks 0, 2 and 6: the AR(1) correlation decays with time (rho, rho^3 and
    rho^2 between the pairs), in the native density as in PyMC's graph."""
    import dataclasses

    data = dataclasses.replace(_intermittent(default_data, RG), visits=[0, 2, 6])
    x, value = _assert_native_equals_pymc(data, "ar1", lik, PRIORS, False, seed=13)
    # and the lags matter: the same data with the visit index as time gives another density
    index = dataclasses.replace(data, visits=[0, 1, 2])
    other = native.data_block(index, model.model_spec(index, "ar1", lik, None, PRIORS), PRIORS)
    assert native.log_density(other, x)[0] != pytest.approx(value, abs=1e-3)


@pytest.mark.parametrize("which, sites", [(RG, "as is"), (CP, "as is")])
@pytest.mark.parametrize("cov", model.COVARIANCES)
def test_baseline_as_covariate_form_matches_pymc(default_data, which, sites, cov):
    """The ANCOVA form (post-baseline visits, an effect at each, baseline x visit, team slopes
    from the first modelled visit): the native density equals PyMC's."""
    from analysis.trialmodel import ancova

    data = ancova.ancova_data(_data(default_data, which, sites), covariates=True)
    assert not data.baseline_constrained and len(data.covariate_terms) >= 1
    if len(data.visits) < 2 and cov != "unstructured":
        with pytest.raises(ValueError, match="two or more visits"):
            model.model_spec(data, cov)
        return
    _assert_native_equals_pymc(data, cov, "normal", PRIORS, True, seed=17, n=2, sd=0.5)
