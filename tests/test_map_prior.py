"""The MAP prior: exact against closed forms and against an independent Stan fit (brms) of
RBesT's normal-endpoint example; its mixture approximation, ESS, conflict and operating
characteristics against what they must be."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.synthesis import map_prior as mp

REFERENCE = Path(__file__).parent / "data" / "map_reference"


def test_with_no_heterogeneity_the_map_prior_is_the_conjugate_posterior_of_the_mean():
    """A between-trial SD prior squeezed to zero: the MAP prior is the normal posterior of the
    common mean, written out here."""
    y, se = np.array([0.5, 0.9, 0.2]), np.array([0.2, 0.3, 0.25])
    res = mp.gmap(y, se, tau_prior_sd=1e-6, mu_prior=(0.0, 10.0))
    prec = 1 / 10.0**2 + np.sum(1 / se**2)
    mean = np.sum(y / se**2) / prec
    assert res.exact.mean == pytest.approx(mean, abs=1e-6)
    assert res.exact.sd == pytest.approx(1 / np.sqrt(prec), rel=1e-4)


def test_map_prior_agrees_with_an_independent_mcmc_fit_of_rbests_example():
    """RBesT's crohn example (gMAP with HN(44) on tau and N(0, 88) on the mean), fitted by
    NUTS with 40,000 draws (scripts/map_reference.py, independent of the grid computation): the
    exact MAP prior's mean, SD and quantiles agree within three Monte Carlo standard errors of
    the draws (and within 2%); its mean is the -50 RBesT's vignette robustifies around."""
    data = pd.read_csv(REFERENCE / "crohn.csv")
    ref = pd.read_csv(REFERENCE / "pymc.csv").set_index("quantity")["value"]
    assert ref["divergences"] == 0
    res = mp.gmap(data["y"], data["y.se"], tau_prior_sd=44.0, mu_prior=(0.0, 88.0))
    n = ref["draws"]
    mc = ref["map_sd"] / np.sqrt(n / 10)  # a conservative effective sample size: draws / 10
    assert res.exact.mean == pytest.approx(ref["map_mean"], abs=3 * mc)
    assert res.exact.sd == pytest.approx(ref["map_sd"], rel=0.02)
    for q, name in ((0.025, "map_q025"), (0.5, "map_q50"), (0.975, "map_q975")):
        assert res.exact.ppf(q) == pytest.approx(ref[name], abs=max(3 * mc, 0.02 * abs(ref[name])))
    assert res.mu_mean == pytest.approx(ref["mu_mean"], abs=0.5)
    assert res.exact.mean == pytest.approx(-50, abs=1.0)


def test_mixture_fit_recovers_a_known_mixture():
    rng = np.random.default_rng(1)
    truth = mp.Mixture([0.7, 0.3], [0.0, 3.0], [1.0, 0.5])
    fitted = mp.fit_mixture(truth.sample(10000, rng))
    assert len(fitted.weights) >= 2
    for q in (0.05, 0.25, 0.5, 0.75, 0.95):
        assert fitted.ppf(q) == pytest.approx(truth.ppf(q), abs=0.05)
    draws = rng.normal(1.0, 2.0, 10000)
    one = mp.fit_mixture(draws)
    assert one.sd == pytest.approx(draws.std(), rel=0.02)  # however many components AIC keeps
    for q in (0.025, 0.5, 0.975):
        assert one.ppf(q) == pytest.approx(np.quantile(draws, q), abs=0.06)


def test_ess_of_a_normal_prior_and_robustification():
    """N(m, s^2) for an endpoint with SD sigma carries sigma^2 / s^2 patients by both methods;
    adding a vague component lowers the ESS, and the more the heavier it is."""
    prior = mp.Mixture([1.0], [0.3], [0.2])
    assert mp.ess(prior, 1.0) == pytest.approx(25.0, rel=1e-3)
    assert mp.ess(prior, 1.0, "moment") == pytest.approx(25.0)
    light, heavy = prior.robustify(0.1, 0.0, 1.0), prior.robustify(0.5, 0.0, 1.0)
    assert mp.ess(heavy, 1.0) < mp.ess(light, 1.0) < 25.0


def test_conflict_p_flags_data_far_from_the_prior():
    prior = mp.Mixture([1.0], [0.0], [0.1])
    assert mp.conflict_p(prior, 0.0, 0.1) == pytest.approx(1.0, abs=1e-3)
    # two-sided normal tail at 3 predictive SDs
    z = 3.0
    y = z * np.sqrt(0.1**2 + 0.1**2)
    assert mp.conflict_p(prior, y, 0.1) == pytest.approx(2 * stats.norm.sf(z), abs=1e-3)


def test_operating_characteristics_can_change_with_the_prior():
    """A vague prior gives the rule's nominal type I error; an optimistic informative prior
    inflates it, and robustifying it brings it back toward nominal."""
    se = 0.15
    vague = mp.Mixture([1.0], [0.0], [100.0])
    oc = mp.operating_characteristics(vague, se, 0.975, [0.0, 0.5])
    assert oc.loc[0, "prob_success"] == pytest.approx(0.025, abs=1e-3)
    assert oc.loc[1, "prob_success"] == pytest.approx(
        stats.norm.sf(stats.norm.isf(0.025) - 0.5 / se), abs=2e-3
    )
    optimistic = mp.Mixture([1.0], [0.5], [0.15])
    t1 = mp.operating_characteristics(optimistic, se, 0.975, [0.0])["prob_success"].iloc[0]
    robust = optimistic.robustify(0.5, 0.0, 1.0)
    t1r = mp.operating_characteristics(robust, se, 0.975, [0.0])["prob_success"].iloc[0]
    assert t1 > 0.1 and 0.025 < t1r < t1
