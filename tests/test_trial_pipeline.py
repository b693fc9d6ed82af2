"""The trial stage's orchestrator with sampling mocked (prior draws stand in for the posterior,
as bambi's structural tests do): what it fits, what it returns and what it saves."""

import arviz as az
import numpy as np
import pymc as pm
import pytest

from analysis import catalogue
from analysis.trialmodel import diagnostics, fit
from analysis.trialmodel import pipeline as tp

CALLS = []


def _fake_compile(model, backend=None):
    return model  # no numba compilation in a structural test


def _fake_sample(compiled, draws, tune, chains, cores, seed, progress_bar):
    CALLS.append(dict(draws=draws, tune=tune, chains=chains, seed=seed))
    prior = pm.sample_prior_predictive(
        draws=draws * chains,
        model=compiled,
        random_seed=seed,
        compile_kwargs={"mode": "FAST_COMPILE"},  # no C compiled for a structural test
    )
    post = prior.prior.drop_vars(
        [v for v in prior.prior.data_vars if "patient" in prior.prior[v].dims]
    )
    post = post.squeeze("chain", drop=True).rename({"draw": "sample"})
    post = post.assign_coords(sample=np.arange(draws * chains))
    post = post.coarsen(sample=draws).construct(sample=("chain", "draw"))
    post = post.assign_coords(chain=np.arange(chains), draw=np.arange(draws))
    stats = az.dict_to_dataset({"diverging": np.zeros((chains, draws), dtype=bool)})
    return az.InferenceData(posterior=post, sample_stats=stats)


@pytest.fixture(scope="module")
def results(default_data):
    import nutpie

    mp = pytest.MonkeyPatch()
    mp.setattr(fit, "compile_model", _fake_compile)
    mp.setattr(nutpie, "sample", _fake_sample)
    logged = []
    try:
        res = tp.run_trial(
            default_data,
            "consumer_providers",
            fit.SamplerSettings(draws=20, tune=5, chains=2, seed=11),
            profile="smoke",
            outcomes=["symptoms", "satisfaction"],
            sensitivity=False,
            log=logged.append,
            cache=fit.ModelCache(backend="numba"),  # the PyMC model, via _fake_compile
        )
    finally:
        mp.undo()
    return res, logged


def test_fits_the_outcomes_asked_with_the_settings_given(results):
    res, logged = results
    assert list(res.fits) == ["symptoms", "satisfaction"]  # registry order
    assert res.key == "symptoms" and res.trial == "consumer_providers"
    fitted = [m for m in logged if m.startswith("fitted")]
    assert len(fitted) == 2 and all("consumer_providers/" in m for m in fitted)
    # the one compile is announced, with what and why
    assert [m for m in logged if m not in fitted] == [
        "compiling the unstructured/normal model with PyTensor (numba): a structure new to "
        "this process"
    ]
    assert CALLS and all(c == dict(draws=20, tune=5, chains=2, seed=11) for c in CALLS)


def test_returns_every_table_of_the_stage_with_catalogue_columns(results):
    res, _ = results
    c = catalogue
    expected = {
        c.TRIAL_EFFECTS,
        c.DIAGNOSTICS,
        c.MODELLED_MEANS,
        c.POOLED_EFFECTS,
        c.VARIANCE_COMPONENTS,
        c.TEAM_EFFECTS,
        c.TRIAL_CONTRASTS,
        c.REFERENCE_BASED,
    }
    assert set(res.tables) == expected  # no sensitivity tables when switched off
    for t, df in res.tables.items():
        if not df.empty:
            t.check(df)
    eff = res.table(c.TRIAL_EFFECTS)
    # 2 outcomes x 1 follow-up visit x 3 contrasts (two arms vs standard, cacm vs ncacm)
    assert len(eff) == 6 and set(eff["month"]) == {12}
    contrasts = res.table(c.TRIAL_CONTRASTS)
    # likelihoods (the effect prior divided out): a contrast whose fake "posterior" (prior
    # draws here) is not narrower than the prior carries no likelihood and is left out
    assert set(contrasts["comparator"]) == {"standard"} and len(contrasts) <= 4
    assert (contrasts["se"] > 0).all() and contrasts["source"].str.contains("likelihood").all()
    rbi = res.table(c.REFERENCE_BASED)
    # every outcome and contrast under MAR and the three reference-based strategies, by both
    # inferences
    assert len(rbi) == 2 * 3 * 4 * 2
    cm = rbi[rbi["inference"] == "conditional_mean"]
    mar = cm[cm["strategy"] == "MAR"].reset_index(drop=True)
    final = eff[eff["month"] == 12].reset_index(drop=True)
    np.testing.assert_allclose(mar["estimate"], final["estimate"], rtol=1e-9)


def test_save_writes_parts_and_aggregated_fits_without_patient_ids(results, tmp_path, default_data):
    res, _ = results
    paths = res.save(tmp_path)
    tables = {p.name for p in paths if p.suffix == ".csv"}
    assert "trial_effects__consumer_providers.csv" in tables
    assert "team_effects__consumer_providers.csv" not in tables  # empty: not written
    nc = sorted(p.name for p in paths if p.suffix == ".nc")
    assert nc == ["consumer_providers__satisfaction.nc", "consumer_providers__symptoms.nc"]
    ids = set(default_data.loc[default_data["trial"] == "consumer_providers", "patient_id"])
    for name in nc:
        idata = tp.load_idata(tmp_path, "consumer_providers", name.split("__")[1][:-3])
        assert set(idata.groups()) <= set(tp.IDATA_GROUPS)
        for g in idata.groups():
            ds = idata[g]
            assert "patient" not in ds.dims and "patient" not in ds.coords
        raw = (tmp_path / "idata" / name).read_bytes()
        assert not any(i.encode() in raw for i in list(ids)[:50])
    assert tp.load_idata(tmp_path, "consumer_providers", "quality_of_life") is None


def test_gate_over_every_fit(results):
    res, _ = results
    diag = res.all_diagnostics()
    assert diag["model"].nunique() == 2
    verdict = diagnostics.gate_verdict(diag, "smoke")
    assert list(verdict.table["model"]) == list(dict.fromkeys(diag["model"]))
    assert list(res.gate_failures()) == list(verdict.failures)


def test_unknown_outcome_is_refused(default_data):
    with pytest.raises(ValueError, match="no data for outcome"):
        tp.run_trial(default_data, "consumer_providers", fit.SamplerSettings(), outcomes=["nope"])


def test_covariate_adjustment_reaches_every_fit(default_data):
    """``covariates=True`` adjusts the primary fits and the sensitivity fits alike."""
    import nutpie

    mp = pytest.MonkeyPatch()
    mp.setattr(fit, "compile_model", _fake_compile)
    mp.setattr(nutpie, "sample", _fake_sample)
    try:
        res = tp.run_trial(
            default_data,
            "consumer_providers",
            fit.SamplerSettings(draws=20, tune=5, chains=2, seed=3),
            outcomes=["symptoms"],
            sensitivity=True,
            log=lambda *_: None,
            covariates=True,
            cache=fit.ModelCache(backend="numba"),  # the PyMC model, via _fake_compile
        )
    finally:
        mp.undo()
    names = [f.name for f in [*res.fits.values(), *res.sensitivity_fits.values()]]
    assert names and all("adjusted" in n for n in names), names
    post = res.fits["symptoms"].idata.posterior
    terms = set(post["gamma"].coords["covariate"].values)
    assert {"age (per 10 years)", "sex: female"} <= terms  # the simulated data's covariates
    assert res.fits["symptoms"].idata.attrs["covariates"]
