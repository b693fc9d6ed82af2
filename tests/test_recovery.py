"""The trial model against an independent REML MMRM, and parameter recovery over seeds."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.studies import recovery
from analysis.trialmodel import fit
from analysis.trialmodel.model import prepare_trial_data
from analysis.trialmodel.summarise import contrast_draws

REFERENCE = Path(__file__).parent / "data" / "mmrm_reference"
CACHE = fit.ModelCache()  # one compiled model per structure for this module's fits


@pytest.fixture(scope="module")
def nlme_fit():
    df = pd.read_csv(REFERENCE / "data.csv")
    data = prepare_trial_data(df, "resource_groups", "empowerment")
    idata, _ = fit.fit_trial_model(data, fit.SamplerSettings(1000, 1000, 2, 7), cache=CACHE)
    ref = pd.read_csv(REFERENCE / "nlme.csv")
    return data, idata, ref


@pytest.mark.slow
def test_effects_agree_with_nlme_gls_unstructured_reml(nlme_fit):
    """R's nlme::gls with corSymm + varIdent (scripts/nlme_reference.R): the same cLDA mean
    and an unstructured covariance, by REML. Posterior means within 0.05 baseline SDs of the
    REML estimates and posterior SDs within 15% of the standard errors."""
    data, idata, ref = nlme_fit
    effects = ref[ref["quantity"] == "effect"].set_index("month")
    for month in (9, 18):
        post = contrast_draws(idata, data, "fact_rg", "fact", month).ravel() * data.s0
        est, se = effects.loc[month, "estimate"], effects.loc[month, "se"]
        assert abs(post.mean() - est) < 0.05 * data.s0, (month, post.mean(), est)
        assert post.std() == pytest.approx(se, rel=0.15), (month, post.std(), se)


@pytest.mark.slow
def test_covariance_agrees_with_nlme(nlme_fit):
    data, idata, ref = nlme_fit
    sd = ref[ref["quantity"] == "sd"].set_index("month")["estimate"]
    post_sd = idata.posterior["visit_sd"].mean(("chain", "draw")).to_numpy() * data.s0
    np.testing.assert_allclose(post_sd, sd.loc[[0, 9, 18]].to_numpy(), rtol=0.08)
    corr = idata.posterior["visit_corr"].mean(("chain", "draw")).to_numpy()
    got = {"corr_0_9": corr[0, 1], "corr_0_18": corr[0, 2], "corr_9_18": corr[1, 2]}
    for name, value in got.items():
        want = ref.loc[ref["quantity"] == name, "estimate"].iloc[0]
        assert value == pytest.approx(want, abs=0.05), name


def test_recovery_scenario_is_not_compound_symmetric_and_drops_out_at_random():
    sc = recovery.recovery_scenario(200)
    assert sc.residual_correlation_per_year > 0 and max(sc.visit_sd_ratio.values()) > 1
    assert sc.dropout_mnar_slope == 0 and sc.dropout_slope < 0
    assert recovery.coverage_band(20) == (17, 20)


@pytest.mark.slow
def test_unstructured_model_recovers_the_effect_over_twenty_seeds():
    """20 simulated trials with a non-exchangeable covariance and MAR dropout: the unstructured
    model's 95% intervals cover the truth at a rate inside the binomial band and its mean error
    is within 3 Monte Carlo SEs of zero. Compound symmetry is fitted beside it and reported
    (its bias shows at larger samples: see the README)."""
    runs = recovery.recovery_study(
        300, list(range(1, 21)), fit.SamplerSettings(300, 300, 2), cache=CACHE, log=lambda *_: None
    )
    summary = recovery.recovery_summary(runs).set_index("covariance")
    us = summary.loc["unstructured"]
    assert us["datasets"] == 20 and us["coverage_ok"], summary
    assert abs(us["bias"]) < 3 * us["bias_se"], summary
    assert "intercept" in summary.index  # shown beside it


@pytest.mark.slow
def test_baseline_as_covariate_agrees_with_nlme_ancova_mmrm():
    """The baseline-as-covariate analysis (change on visit, treatment x visit and baseline x
    visit, unstructured covariance) against nlme::gls by REML on the same data: with a vague
    effect prior, posterior means within 0.1 standard errors of the REML estimates and
    posterior SDs within 15% of the standard errors."""
    from analysis.trialmodel import ancova

    df = pd.read_csv(REFERENCE / "data.csv")
    data = ancova.ancova_data(prepare_trial_data(df, "resource_groups", "empowerment"))
    idata, _ = fit.fit_trial_model(
        data, fit.SamplerSettings(2000, 1000, 4, 11), priors="vague", covariates=True, cache=CACHE
    )
    ref = pd.read_csv(REFERENCE / "nlme.csv")
    effects = ref[ref["quantity"] == "ancova_effect"].set_index("month")
    for month in (9, 18):
        post = idata.posterior["beta"].sel(treatment="fact_rg", followup=month).values.ravel()
        post = post * data.s0
        est, se = effects.loc[month, "estimate"], effects.loc[month, "se"]
        assert abs(post.mean() - est) < 0.1 * se, (month, post.mean(), est, se)
        assert post.std() == pytest.approx(se, rel=0.15), (month, post.std(), se)


# ---- unequal visit spacing (weeks 0, 1, 4, 12), team intercepts, dropout, missing baselines ----

WEEKS_TRIAL = {
    "trial": "reference_weeks",
    "label": "The reference weeks trial",
    "source": "assumed",
    "citation": "Simulated by scripts/mmrm_reference_data.py",
    "time_unit": "weeks",
}


@pytest.fixture(scope="module")
def weeks(tmp_path_factory):
    """The weeks trial of ``scripts/mmrm_reference_data.py`` (registry declared here), its
    REML references from ``scripts/nlme_reference.R`` and a fitter with a vague effect prior."""
    from conftest import registry_with, using_registry

    reg = registry_with(
        tmp_path_factory.mktemp("weeksref"),
        WEEKS_TRIAL,
        [("active", "Active", "false"), ("control", "Control", "true")],
        "0;1;4;12",
    )
    df = pd.read_csv(REFERENCE / "weeks.csv").rename(columns={"time": "month"})
    ref = pd.read_csv(REFERENCE / "nlme_weeks.csv")
    with using_registry(reg):
        yield df, ref


def _agrees(idata, data, ref, analysis, within_se=0.1, sd_rel=0.15):
    """Posterior mean of each follow-up effect within ``within_se`` REML standard errors of the
    REML estimate, and its posterior SD within ``sd_rel`` of the standard error."""
    rows = ref[ref["analysis"] == analysis].set_index("time")
    assert len(rows) == 3, analysis
    for week, row in rows.iterrows():
        post = idata.posterior["beta"].sel(treatment="active", followup=int(week)).values.ravel()
        post = post * data.s0
        gap = abs(post.mean() - row["estimate"]) / row["se"]
        assert gap < within_se, (analysis, week, post.mean(), row["estimate"], row["se"])
        assert post.std() == pytest.approx(row["se"], rel=sd_rel), (analysis, week, post.std())


VAGUE = fit.SamplerSettings(2000, 1000, 4, 13)


@pytest.mark.slow
@pytest.mark.parametrize(
    "analysis, covariance, teams",
    [
        ("constrained, unstructured", "unstructured", False),
        ("constrained, unstructured, team intercepts", "unstructured", True),
        ("constrained, AR(1) in time", "ar1", False),
    ],
)
def test_constrained_model_agrees_with_nlme_on_unequal_weeks(weeks, analysis, covariance, teams):
    """nlme by REML on a weeks trial with unequal spacing, dropout at random and patients
    without a baseline (all analysed): gls for one site, lme with team intercepts, gls with
    corCAR1 for AR(1) in time. With a vague effect prior the posterior means are within 0.1
    REML standard errors."""
    df, ref = weeks
    d = df if teams else df.assign(site="all")
    data = prepare_trial_data(d, "reference_weeks", "recovery")
    assert np.isnan(data.y[:, 0]).sum() > 10  # patients without a baseline are in the analysis
    assert bool(data.site_idx.max() > 0) == teams
    idata, _ = fit.fit_trial_model(
        data, VAGUE, covariance=covariance, site_slopes=False, priors="vague", cache=CACHE
    )
    _agrees(idata, data, ref, analysis)
    if covariance == "ar1":  # the correlation per week, REML's corCAR1 parameter
        want = ref.loc[ref["analysis"] == "AR(1) correlation per week", "estimate"].iloc[0]
        assert float(idata.posterior["rho"].mean()) == pytest.approx(want, abs=0.02)


@pytest.mark.slow
def test_baseline_as_covariate_agrees_with_nlme_on_unequal_weeks(weeks):
    """The ANCOVA MMRM (change on visit, treatment x visit, baseline x visit, unstructured) on
    the weeks trial, leaving out the patients without a baseline as nlme does."""
    from analysis.trialmodel import ancova

    df, ref = weeks
    full = prepare_trial_data(df.assign(site="all"), "reference_weeks", "recovery")
    data = ancova.ancova_data(full)
    gone = ancova.left_out(full)
    assert gone["no baseline value"] > 10 and gone["no post-baseline visit"] > 10
    assert sum(gone.values()) == len(full.patients) - len(data.patients)
    idata, _ = fit.fit_trial_model(data, VAGUE, priors="vague", covariates=True, cache=CACHE)
    _agrees(idata, data, ref, "baseline as covariate (ANCOVA), unstructured")
