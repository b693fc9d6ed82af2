"""The project's MCMC diagnostics agree with ArviZ's (the independent reference) on chains built
to exercise every branch: converged, autocorrelated, one chain stuck elsewhere, odd and short
lengths, ties, heavy tails, constant draws and too few draws."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from analysis.trialmodel import chains
from analysis.trialmodel.draws import import_arviz

az = import_arviz()


def _ar1(rng, n_chain, n_draw, phi):
    x = np.zeros((n_chain, n_draw))
    e = rng.normal(size=(n_chain, n_draw))
    for t in range(1, n_draw):
        x[:, t] = phi * x[:, t - 1] + e[:, t]
    return x


def _cases():
    rng = np.random.default_rng(42)
    stuck = rng.normal(size=(4, 400))
    stuck[2] += 3.0
    return {
        "converged": rng.normal(size=(4, 500)),
        "autocorrelated": _ar1(rng, 4, 600, 0.9),
        "anticorrelated": _ar1(rng, 2, 300, -0.6),
        "stuck chain": stuck,
        "odd length": rng.normal(size=(3, 251)),
        "short": rng.normal(size=(2, 7)),
        "heavy tails": rng.standard_t(1.5, size=(4, 300)),
        "ties": rng.integers(0, 4, size=(4, 200)).astype(float),
        "one chain": rng.normal(size=(1, 300)),
        "flat vector": rng.normal(size=300),
    }


CASES = _cases()


@pytest.mark.parametrize("name", list(CASES))
def test_rhat_ess_and_mcse_equal_arviz(name):
    x = CASES[name]
    ref_in = x if x.ndim == 2 else x[None, :]
    rhat_ref = float(az.rhat(ref_in)) if ref_in.shape[0] > 1 else np.nan
    np.testing.assert_allclose(chains.rhat(x), rhat_ref, rtol=1e-10, equal_nan=True)
    np.testing.assert_allclose(chains.ess_bulk(x), float(az.ess(ref_in, method="bulk")), rtol=1e-9)
    np.testing.assert_allclose(chains.ess_tail(x), float(az.ess(ref_in, method="tail")), rtol=1e-9)
    np.testing.assert_allclose(
        chains.mcse_mean(x), float(az.mcse(ref_in, method="mean")), rtol=1e-9
    )
    for p in (0.025, 0.5, 0.975):
        np.testing.assert_allclose(
            chains.mcse_quantile(x, p),
            float(az.mcse(ref_in, method="quantile", prob=p)),
            rtol=1e-9,
        )


def test_a_stuck_chain_is_caught_and_a_converged_run_is_not():
    """The diagnostic can change its answer: the same draws with one chain moved fail R-hat."""
    assert chains.rhat(CASES["converged"]) < 1.01
    assert chains.rhat(CASES["stuck chain"]) > 1.2
    assert chains.ess_bulk(CASES["autocorrelated"]) < 0.1 * CASES["autocorrelated"].size


def test_too_few_draws_or_chains_give_nan_as_arviz_does():
    tiny = np.arange(6.0).reshape(2, 3)
    assert np.isnan(chains.rhat(tiny)) and np.isnan(chains.ess_bulk(tiny))
    assert np.isnan(chains.rhat(np.ones((1, 50))))  # R-hat needs two chains
    constant = np.ones((4, 100))
    assert chains.ess_raw(constant) == constant.size  # as ArviZ: no autocorrelation to speak of


def test_summary_equals_arviz_summary_with_its_rounding_and_labels():
    rng = np.random.default_rng(7)
    post = xr.Dataset(
        {
            "alpha": (("chain", "draw", "visit"), _ar1(rng, 4, 400, 0.5)[..., None] + np.arange(3)),
            "sigma": (("chain", "draw"), np.exp(rng.normal(size=(4, 400)))),
            "visit_corr": (
                ("chain", "draw", "visit", "visit_bis"),
                np.broadcast_to(np.eye(3), (4, 400, 3, 3)).copy(),
            ),
        },
        coords={
            "chain": range(4),
            "draw": range(400),
            "visit": [0, 9, 18],
            "visit_bis": [0, 9, 18],
        },
    )
    post["visit_corr"][..., 0, 1] = post["visit_corr"][..., 1, 0] = rng.uniform(0.2, 0.6, (4, 400))
    names = ["alpha", "sigma", "visit_corr"]
    with np.errstate(all="ignore"):
        mine = chains.summary(post, names)
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = az.summary(az.InferenceData(posterior=post), var_names=names, kind="diagnostics")
    assert list(mine.index) == list(ref.index)
    assert "alpha[9]" in mine.index and "visit_corr[0, 9]" in mine.index
    pd.testing.assert_frame_equal(mine, ref[mine.columns], check_exact=False, rtol=1e-9)


def test_fft_length_is_scipys_next_fast_len():
    """The autocovariance's FFT length, computed without importing ``scipy.fft``, is scipy's
    for every length up to 20,000 (so the diagnostics are unchanged to the last bit)."""
    from scipy.fft import next_fast_len

    assert [chains._fast_len(n) for n in range(1, 20_001)] == [
        next_fast_len(n) for n in range(1, 20_001)
    ]
