"""The ArviZ-free sampling path gives nutpie's draws and ArviZ's file, and the fit command's
process pays for neither ArviZ nor PyMC."""

import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from analysis.trialmodel import draws, native
from analysis.trialmodel.model import PRIOR_SETS, model_spec, prepare_trial_data


@pytest.fixture(scope="module")
def native_model(default_data):
    data = prepare_trial_data(default_data, "resource_groups", "empowerment")
    priors = PRIOR_SETS["default"]
    spec = model_spec(data, "unstructured", "normal", None, priors, False)
    return native.compile_native(data, spec, priors)


def _through_nutpie(m, n_draws, tune, chains, seed):
    """The same density through ``nutpie.sample`` (ArviZ conversion included)."""
    import nutpie
    from nutpie.compile_pymc import CompiledPyMCModel

    compiled = CompiledPyMCModel(
        dims=m.dims,
        compiled_logp_func=m.logp_cfunc,
        compiled_expand_func=m.expand_cfunc,
        initial_point_func=m.initial_point,
        shared_data={},
        user_data=m.block,
        n_expanded=m.n_expanded,
        shape_info=(m.names, None, m.shapes),
        logp_func=None,
        expand_func=None,
        _n_dim=m.n_dim,
        _shapes=dict(zip(m.names, m.shapes, strict=True)),
        _coords=m.coords,
    )
    return nutpie.sample(
        compiled, draws=n_draws, tune=tune, chains=chains, cores=2, seed=seed, progress_bar=False
    )


def test_draws_equal_nutpie_sample_with_the_same_seed(native_model):
    mine = draws.sample(native_model, 30, 60, 2, 2, seed=11)
    ref = _through_nutpie(native_model, 30, 60, 2, seed=11)
    for group in ("posterior", "sample_stats"):
        a, b = ref[group], mine[group]
        assert list(a.data_vars) == list(b.data_vars)
        xr.testing.assert_identical(a.drop_attrs(), b.drop_attrs())
        for v in a.variables:
            assert a[v].dtype == b[v].dtype, v
        assert set(a.attrs) == set(b.attrs)
    other = draws.sample(native_model, 30, 60, 2, 2, seed=12)
    assert not np.array_equal(other.posterior["beta"], mine.posterior["beta"])


def test_file_is_the_one_arviz_writes(native_model, tmp_path):
    az = draws.import_arviz()
    fit = draws.sample(native_model, 20, 40, 2, 2, seed=3)
    fit.attrs.update({"trial": "resource_groups", "m0": 3.2, "seed": 3})
    mine = fit.to_netcdf(tmp_path / "mine.nc")
    theirs = fit.to_arviz().to_netcdf(str(tmp_path / "theirs.nc"))
    a, b = az.from_netcdf(theirs), az.from_netcdf(mine)
    assert a.groups() == b.groups() == ["posterior", "sample_stats"]
    assert dict(a.attrs) == dict(b.attrs)
    for g in a.groups():
        xr.testing.assert_identical(a[g], b[g])
        for v in a[g].variables:
            assert a[g][v].encoding.get("zlib") == b[g][v].encoding.get("zlib"), v


def test_a_fit_file_reads_back_as_arviz_reads_it(native_model, tmp_path):
    az = draws.import_arviz()
    fit = draws.sample(native_model, 20, 40, 2, 2, seed=5)
    fit.attrs.update({"trial": "resource_groups", "m0": 3.2, "seed": 5, "covariates": ""})
    extra = np.arange(2 * 20 * 3, dtype=float).reshape(2, 20, 3)
    fit.add_groups(  # a dimension without coordinates, variable and group attributes
        log_likelihood=xr.Dataset(
            {"y": (("chain", "draw", "patient_dim"), extra, {"units": "nats"})},
            coords={"chain": [0, 1], "draw": np.arange(20)},
            attrs={"note": "per patient"},
        )
    )
    assert fit.posterior["beta"].dims[2] == "treatment"  # a string coordinate
    for path in (
        fit.to_netcdf(tmp_path / "mine.nc"),
        fit.to_arviz().to_netcdf(str(tmp_path / "az.nc")),
    ):
        theirs, mine = az.from_netcdf(path), draws.Draws.from_netcdf(path)
        assert sorted(theirs.groups()) == sorted(mine.groups()) and len(mine.groups()) == 3
        assert dict(theirs.attrs) == mine.attrs
        assert {k: type(v) for k, v in theirs.attrs.items()} == {
            k: type(v) for k, v in mine.attrs.items()
        }
        for g in theirs.groups():
            xr.testing.assert_identical(theirs[g], mine[g])
            for v in theirs[g].variables:
                assert theirs[g][v].dtype == mine[g][v].dtype, (g, v)
        assert mine.sample_stats["diverging"].dtype == bool
        only = draws.Draws.from_netcdf(path, ["posterior"])
        assert only.groups() == ["posterior"]
        xr.testing.assert_identical(only.posterior, theirs.posterior)
    with pytest.raises(KeyError, match="no group prior"):
        draws.Draws.from_netcdf(path, ["posterior", "prior"])


def test_draws_behave_as_the_inference_data_the_project_reads(native_model):
    fit = draws.sample(native_model, 10, 20, 2, 2, seed=4)
    assert fit.groups() == ["posterior", "sample_stats"] and "posterior" in fit
    assert fit["posterior"] is fit.posterior
    copy = fit.copy()
    copy.add_groups(log_likelihood=xr.Dataset({"y": (("chain", "draw"), np.zeros((2, 10)))}))
    assert "log_likelihood" in copy and "log_likelihood" not in fit
    again = draws.Draws.from_arviz(copy.to_arviz())
    assert sorted(again.groups()) == sorted(copy.groups())  # ArviZ puts groups in its order
    with pytest.raises(AttributeError, match="no group or attribute 'prior'"):
        _ = fit.prior


def test_nutpie_package_still_imports_after_the_compiled_module_was_loaded_alone():
    code = (
        "from analysis.trialmodel import draws; lib = draws.nutpie_lib(); "
        "import sys; assert 'arviz' not in sys.modules; "
        "import nutpie; assert nutpie._lib is lib or sys.modules['nutpie._lib'] is lib; "
        "print(nutpie.sample.__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "sample"


def test_a_missing_compiled_name_is_named(monkeypatch):
    draws.check_lib()
    monkeypatch.setattr(draws, "LIB_NAMES", (*draws.LIB_NAMES, "GoneInARelease"))
    with pytest.raises(ImportError, match="GoneInARelease"):
        draws.check_lib()


def test_the_fit_command_imports_neither_arviz_nor_pymc_nor_dask(tmp_path):
    """What made a cold fit slow: ArviZ (via nutpie.sample), PyMC's graph and xarray's Dask
    probe. The command's own process now loads none of them, and still writes every file."""
    code = (
        "import runpy, sys; sys.argv = ['analysis', 'fit', '--trial', 'resource_groups', "
        f"'--outcome', 'empowerment', '--profile', 'smoke', '--out', {str(tmp_path)!r}]\n"
        "try:\n    runpy.run_module('analysis', run_name='__main__')\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        "heavy = sorted(m for m in ('arviz', 'pymc', 'pytensor', 'scipy.stats') if m in sys.modules)\n"
        "dask = [m for m in ('dask', 'distributed') if sys.modules.get(m) is not None]\n"
        "print('LOADED', heavy + dask)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "LOADED []" in out.stdout, out.stdout[-2000:]
    assert (tmp_path / "idata" / "resource_groups__empowerment.nc").is_file()
    assert (tmp_path / "tables" / "trial_effects__resource_groups.csv").is_file()


def test_a_group_the_writer_does_not_lay_out_goes_through_xarray(tmp_path):
    az = draws.import_arviz()
    ds = xr.Dataset(
        {"a": (("chain", "draw"), np.ones((1, 3)))},
        coords={"chain": [0], "draw": [0, 1, 2], "label": ("draw", ["x", "y", "z"])},
    )
    assert not draws._plain(ds) and draws._plain(ds.drop_vars("label"))
    path = draws.Draws({"posterior": ds}, {"seed": 1}).to_netcdf(tmp_path / "f.nc")
    back = az.from_netcdf(path)
    xr.testing.assert_identical(back.posterior, ds)
    assert back.attrs == {"seed": 1}


def test_attributes_h5py_cannot_store_as_given_go_through_xarray(tmp_path):
    az = draws.import_arviz()
    ds = xr.Dataset(
        {"a": (("chain", "draw"), np.ones((1, 3)))}, coords={"chain": [0], "draw": [0, 1, 2]}
    )
    attrs = {"terms": ["age", "sex"], "seed": 1}
    path = draws.Draws({"posterior": ds}, attrs).to_netcdf(tmp_path / "f.nc")
    theirs, mine = az.from_netcdf(path), draws.Draws.from_netcdf(path)
    assert dict(theirs.attrs) == mine.attrs == {"terms": ["age", "sex"], "seed": 1}
    xr.testing.assert_identical(theirs.posterior, mine.posterior)
