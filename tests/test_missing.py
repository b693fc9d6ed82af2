"""Reference-based imputation: closed forms and a patient-by-patient conditional-mean imputation."""

import arviz as az
import numpy as np
import pandas as pd
import pytest
from conftest import toy_empowerment

from analysis import catalogue
from analysis.trialmodel import missing
from analysis.trialmodel.model import prepare_trial_data


def _data(seed=0, n=40):
    """A two-arm, three-visit data set with monotone and intermittent missing visits."""
    rng = np.random.default_rng(seed)
    drop = rng.choice([3, 2, 1], size=n, p=[0.6, 0.25, 0.15])  # visits attended

    def attended(i):
        gap = i % 7 == 0 and drop[i] == 3  # an intermittent missing 9-month visit
        return [m for t, m in enumerate((0, 9, 18)) if t < drop[i] and not (gap and t == 1)]

    df = toy_empowerment(n, attended, site=lambda i: f"team-{i % 10:02d}", seed=seed)
    return prepare_trial_data(df, "resource_groups", "empowerment")


def _idata(beta, cov, n_sites=10, slopes=None):
    """A fake posterior: draws of beta (draw x followup) and an unstructured covariance."""
    s = beta.shape[0]
    sd = np.sqrt(np.einsum("sii->si", cov))
    post = {
        "alpha": np.zeros((1, s, 3)),
        "beta": beta[None, :, None, :],
        "visit_sd": sd[None],
        "visit_corr": (cov / (sd[:, :, None] * sd[:, None, :]))[None],
    }
    if slopes is not None:
        post["sigma_site_effect"] = np.ones((1, s))
        post["site_effect_offset"] = slopes[None]
    return az.from_dict(
        posterior=post,
        coords={
            "treatment": ["fact_rg"],
            "followup": [9, 18],
            "visit": [0, 9, 18],
            "visit_bis": [0, 9, 18],
            "site": list(range(n_sites)),
        },
        dims={
            "alpha": ["visit"],
            "beta": ["treatment", "followup"],
            "visit_sd": ["visit"],
            "visit_corr": ["visit", "visit_bis"],
            "site_effect_offset": ["site"],
        },
    )


def _random_cov(rng, s, t=3):
    a = rng.normal(size=(s, t, t))
    return a @ a.transpose(0, 2, 1) + 0.5 * np.eye(t)


def test_jump_to_reference_has_its_closed_form():
    """J2R without team deviations: beta_K times the share of the arm observed at the end."""
    data = _data()
    rng = np.random.default_rng(1)
    beta = rng.normal(0.4, 0.1, size=(50, 2))
    idata = _idata(beta, _random_cov(rng, 50))
    arm = np.array(data.arms)[data.arm_idx] == "fact_rg"
    p_missing = np.isnan(data.y[arm, -1]).mean()
    assert 0 < p_missing < 1
    got = missing.reference_based_draws(idata, data, "fact_rg", "J2R")
    np.testing.assert_allclose(got, beta[:, 1] * (1 - p_missing), rtol=1e-12)
    np.testing.assert_allclose(
        missing.reference_based_draws(idata, data, "fact_rg", "MAR"), beta[:, 1]
    )


def test_copy_reference_equals_jump_to_reference_without_correlation():
    data = _data()
    rng = np.random.default_rng(2)
    beta = rng.normal(0.4, 0.1, size=(20, 2))
    diag = np.stack([np.diag(rng.uniform(0.5, 2, 3)) for _ in range(20)])
    idata = _idata(beta, diag)
    np.testing.assert_allclose(
        missing.reference_based_draws(idata, data, "fact_rg", "CR"),
        missing.reference_based_draws(idata, data, "fact_rg", "J2R"),
        rtol=1e-12,
    )


def _brute_force_arm_difference(data, beta, cov, slopes, strategy):
    """Treated minus reference mean at the final visit, each missing final value replaced by
    its conditional mean under the strategy's mean profile (Carpenter et al. 2013), observed
    values at their expectation under the patient's own arm."""
    arm = np.array(data.arms)[data.arm_idx]
    alpha = np.array([0.0, 0.1, 0.2])
    means = {}
    for a in ("fact", "fact_rg"):
        vals = []
        for i in np.flatnonzero(arm == a):
            v = slopes[data.site_idx[i]]
            ref = alpha + np.r_[0, -v / 2, -v / 2]
            own = ref if a == "fact" else alpha + np.r_[0, beta + v / 2]
            obs = np.flatnonzero(data.mask[i])
            if data.mask[i, 2]:
                vals.append(own[2])
                continue
            lo = obs[-1]
            if a == "fact" or strategy == "MAR":
                profile, m_obs = own, own[obs]
            elif strategy == "J2R":
                profile, m_obs = np.r_[own[: lo + 1], ref[lo + 1 :]], own[obs]
            elif strategy == "CIR":
                profile, m_obs = np.r_[own[: lo + 1], own[lo] + ref[lo + 1 :] - ref[lo]], own[obs]
            else:  # CR
                profile, m_obs = ref, ref[obs]
            c = np.linalg.solve(cov[np.ix_(obs, obs)], cov[obs, 2])
            vals.append(profile[2] + c @ (own[obs] - m_obs))
        means[a] = np.mean(vals)
    return means["fact_rg"] - means["fact"]


@pytest.mark.parametrize("strategy", ["J2R", "CR", "CIR"])
def test_matches_patient_by_patient_conditional_mean_imputation(strategy):
    """The module's shortcut moves the effect away from MAR exactly as imputing every missing
    final value patient by patient does, team deviations of the effect included."""
    data = _data(seed=4)
    rng = np.random.default_rng(5)
    s = 6
    beta = rng.normal(0.4, 0.2, size=(s, 2))
    cov = _random_cov(rng, s)
    slopes = rng.normal(0, 0.3, size=(s, 10))
    idata = _idata(beta, cov, slopes=slopes)
    got = missing.reference_based_draws(idata, data, "fact_rg", strategy)
    shifts = []
    for k in range(s):
        shift = _brute_force_arm_difference(
            data, beta[k], cov[k], slopes[k], strategy
        ) - _brute_force_arm_difference(data, beta[k], cov[k], slopes[k], "MAR")
        assert got[k] - beta[k, 1] == pytest.approx(shift, rel=1e-10, abs=1e-12)
        shifts.append(abs(shift))
    assert max(shifts) > 0.01  # the strategies do move the effect here


def test_table_has_every_strategy_and_the_catalogue_columns():
    data = _data()
    rng = np.random.default_rng(6)
    idata = _idata(rng.normal(0.4, 0.1, size=(40, 2)), _random_cov(rng, 40))
    table = missing.reference_based_table(idata, data)
    catalogue.REFERENCE_BASED.check(table)
    assert list(table["strategy"].unique()) == list(missing.STRATEGIES)
    assert set(table["inference"]) == set(missing.INFERENCES) and len(table) == 8
    for inference in missing.INFERENCES:
        smd = table[table["inference"] == inference].set_index("strategy")["smd"]
        # the treated arm's dropouts move towards the reference: every strategy shrinks it
        assert all(smd[s] < smd["MAR"] for s in ("J2R", "CR", "CIR")), inference


def test_unknown_strategy_is_refused():
    data = _data()
    rng = np.random.default_rng(7)
    idata = _idata(rng.normal(size=(4, 2)), _random_cov(rng, 4))
    with pytest.raises(ValueError, match="'LOCF'"):
        missing.reference_based_draws(idata, data, "fact_rg", "LOCF")


def test_rubins_rules_degrees_of_freedom():
    """Barnard-Rubin degrees of freedom against their formula worked by hand: m = 5,
    within 0.04, between 0.01, complete-data df 100."""
    m, w, b, nu = 5, 0.04, 0.01, 100
    lam = (1 + 1 / m) * b / (w + (1 + 1 / m) * b)  # 0.012 / 0.052
    old = (m - 1) / lam**2
    obs = (nu + 1) / (nu + 3) * nu * (1 - lam)
    assert missing._barnard_rubin(m, w, b, nu) == pytest.approx(1 / (1 / old + 1 / obs))
    assert missing._barnard_rubin(m, w, 0.0, nu) == nu


@pytest.mark.slow
def test_information_anchored_j2r_keeps_the_variance_and_can_change_a_decision():
    """Simulated trial with missing-not-at-random dropout (treated patients who do worse leave):
    information-anchored J2R intervals stay close to MAR's width while the estimate falls, so
    P(benefit) falls with it; the conditional-mean inference shrinks the interval with the
    estimate and leaves P(benefit) near MAR's."""
    import dataclasses

    from analysis.contract.simulate import scaled_scenario, simulate_trial
    from analysis.trialmodel import fit

    sc = scaled_scenario("resource_groups", 160, 20, ["empowerment"])
    base = sc.outcomes["empowerment"]
    sc = dataclasses.replace(
        sc,
        dropout={9: 0.25, 18: 0.45},
        dropout_mnar_slope=-1.0,
        outcomes={"empowerment": dataclasses.replace(base, effect={"fact_rg": {9: 0.2, 18: 0.35}})},
    )
    data = prepare_trial_data(simulate_trial(sc, 11), "resource_groups", "empowerment")
    idata, _ = fit.fit_trial_model(data, fit.SamplerSettings(1000, 1000, 2, 5))
    table = missing.reference_based_table(idata, data).set_index(["inference", "strategy"])
    ia, cm = table.loc["information_anchored"], table.loc["conditional_mean"]
    width = (ia["upper"] - ia["lower"]) / (ia.loc["MAR", "upper"] - ia.loc["MAR", "lower"])
    cm_width = (cm["upper"] - cm["lower"]) / (cm.loc["MAR", "upper"] - cm.loc["MAR", "lower"])
    assert 0.85 < width["J2R"] < 1.2, width.to_dict()
    assert cm_width["J2R"] < width["J2R"]  # the conditional mean shrinks the interval
    assert ia.loc["J2R", "smd"] < ia.loc["MAR", "smd"]
    drop_ia = ia.loc["MAR", "prob_benefit"] - ia.loc["J2R", "prob_benefit"]
    drop_cm = cm.loc["MAR", "prob_benefit"] - cm.loc["J2R", "prob_benefit"]
    assert drop_ia > 0.01 and drop_ia > drop_cm, (drop_ia, drop_cm)
    # the imputation under MAR agrees with the model's own MAR estimate
    assert ia.loc["MAR", "smd"] == pytest.approx(cm.loc["MAR", "smd"], abs=0.1)


def test_reference_based_verdict_names_the_decisions_that_change():
    """One sentence for the main text: none changes, or which contrast changes under which
    strategy (information-anchored rows; conditional-mean rows do not count)."""
    from analysis.trialmodel import missing as m

    def table(j2r_holds):
        return pd.DataFrame(
            {
                "outcome": ["symptoms"] * 3,
                "arm": ["fact_rg"] * 3,
                "comparator": ["fact"] * 3,
                "strategy": ["MAR", "J2R", "J2R"],
                "inference": ["information_anchored", "information_anchored", "conditional_mean"],
                "conclusion_holds": [True, j2r_holds, False],
            }
        )

    assert m.reference_based_verdict(table(True)).startswith("For all 1 outcome")
    changed = m.reference_based_verdict(table(False))
    assert "changes for 1 of 1" in changed and "symptoms (under J2R)" in changed
    assert "FACT plus resource group vs FACT as usual" in changed
