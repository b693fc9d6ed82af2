"""Slow checks of the fitted model: parameter recovery and agreement with REML (MixedLM).

One simulated trial, large enough that a 0.1-SD tolerance is about two standard errors:
1,200 patients in 60 teams, effects 0.30 (9 months) and 0.54 (18 months) baseline SDs,
team-varying effects (SD 0.1) and missing-at-random dropout.
"""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from analysis.contract.scenario import load_scenario
from analysis.contract.simulate import simulate_trial
from analysis.trialmodel.fit import ModelCache, SamplerSettings, fit_trial_model
from analysis.trialmodel.model import prepare_trial_data

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
    """Patient effects integrated out analytically give the latent model's posterior."""
    import nutpie

    from analysis.trialmodel.diagnostics import POPULATION_VARS
    from analysis.trialmodel.model import build_trial_model

    data = prepare_trial_data(default_data, "resource_groups", "empowerment")
    settings = SamplerSettings(draws=2000, tune=1000, chains=4, seed=5)
    marginal, _ = fit_trial_model(data, settings, covariance="intercept", cache=ModelCache())
    latent = nutpie.sample(
        nutpie.compile_pymc_model(build_trial_model(data, "intercept", formulation="latent")),
        draws=2000,
        tune=1000,
        chains=4,
        seed=6,
        progress_bar=False,
    )
    compared = 0
    for name in POPULATION_VARS:
        if name not in marginal.posterior:
            continue
        a = marginal.posterior[name].values.reshape(8000, -1)
        b = latent.posterior[name].values.reshape(8000, -1)
        sd = b.std(axis=0)
        gap = np.abs(a.mean(axis=0) - b.mean(axis=0)) / sd
        assert (gap < 0.1).all(), (name, gap.round(3))
        assert np.allclose(a.std(axis=0), sd, rtol=0.1), name
        compared += a.shape[1]
    assert compared >= 9  # alpha (3), beta (2), sigma, sigma_patient, sigma_site, slope SD
