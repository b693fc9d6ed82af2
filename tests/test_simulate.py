"""The simulator: contract, determinism and calibration to the scenario within sampling error."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from analysis import config, registry
from analysis.contract.scenario import load_scenario
from analysis.contract.simulate import allocate_within_sites, simulate_all, simulate_trial
from analysis.contract.validate import validate_frame


def test_simulated_data_pass_the_contract_and_published_sizes():
    df = simulate_all(7)
    raw = df.astype(str)
    raw["_row"] = range(2, len(df) + 2)
    typed = validate_frame(raw)
    n = typed.groupby(["trial", "arm"])["patient_id"].nunique()
    assert n[("resource_groups", "fact_rg")] == 80 and n[("resource_groups", "fact")] == 78
    assert n["consumer_providers"].sum() == 203
    assert typed[typed["trial"] == "resource_groups"]["site"].nunique() == 20


def test_same_seed_same_data_other_seed_other_data():
    a, b, c = simulate_all(11), simulate_all(11), simulate_all(12)
    pd.testing.assert_frame_equal(a, b)
    assert not a["value"].equals(c["value"])


def test_embedded_default_data_is_the_seeded_simulation(tmp_path):
    from analysis.cli import main

    out = tmp_path / "trials.csv"
    assert main(["simulate", "--seed", str(config.DEFAULT_SEED), "--out", str(out)]) == 0
    assert out.read_bytes() == config.DEFAULT_DATA.read_bytes()


@pytest.mark.parametrize(
    "sizes,arms",
    [
        ([2, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 12, 14, 18], {"a": 80, "b": 78}),
        ([52, 51, 50, 50], {"a": 68, "b": 68, "c": 67}),
        ([3, 3, 3, 2], {"a": 4, "b": 4, "c": 3}),
    ],
)
def test_allocation_is_balanced_within_sites_with_exact_totals(sizes, arms):
    alloc = allocate_within_sites(sizes, arms, np.random.default_rng(1))
    assert [len(s) for s in alloc] == sizes
    flat = pd.Series([a for s in alloc for a in s]).value_counts().to_dict()
    assert flat == arms
    for site in alloc:  # within a site no arm gets more than one extra
        counts = pd.Series(site).value_counts()
        assert counts.max() - (counts.min() if len(counts) == len(arms) else 0) <= 1


@pytest.fixture(scope="module")
def big_rg():
    """A resource-group trial 25 times larger with 500 teams, no dropout: moments are precise."""
    sc = load_scenario("resource_groups")
    sc = dataclasses.replace(
        sc, arms={"fact_rg": 2000, "fact": 2000}, site_sizes=[8] * 500, dropout={}
    )
    return sc, simulate_trial(sc, seed=3)


def _wide(df, outcome):
    return (
        df[df["outcome"] == outcome]
        .pivot_table(index=["patient_id", "site", "arm"], columns="month", values="value")
        .reset_index()
    )


def test_baseline_means_and_sds_match_the_scenario(big_rg):
    sc, df = big_rg
    n_sites = len(sc.site_sizes)
    for name, o in sc.outcomes.items():
        base = df[(df["outcome"] == name) & (df["month"] == 0)]["value"]
        # SE of a clustered mean: site and individual variance components
        se = o.baseline_sd * np.sqrt(sc.site_share / n_sites + (1 - sc.site_share) / len(base))
        assert abs(base.mean() - o.baseline_mean) < 4 * se + 0.02 * o.baseline_sd, name
        # SD: sampling error ~ sd / sqrt(2n) plus discretisation/clipping, within 5%
        assert base.std() == pytest.approx(o.baseline_sd, rel=0.05), name


def test_effects_in_change_from_baseline_match_the_scenario(big_rg):
    sc, df = big_rg
    for name, o in sc.outcomes.items():
        reg = registry.get_outcome(sc.trial, name)
        w = _wide(df, name)
        for month in (9, 18):
            change = (w[month] - w[0]) * reg.direction / o.baseline_sd
            diff = change[w["arm"] == "fact_rg"].mean() - change[w["arm"] == "fact"].mean()
            # change variance per patient: residual share times (r_t^2 + 1 - 2 r_t phi^(m/12))
            # (+ team slope variance, small)
            r_t = sc.visit_sd_ratio.get(month, 1.0)
            phi = sc.residual_correlation_per_year ** (month / 12)
            resid = 1 - sc.site_share - sc.patient_share
            var = resid * (r_t**2 + 1 - 2 * r_t * phi) + sc.site_effect_sd**2 * 8
            se = np.sqrt(var * (1 / 2000 + 1 / 2000))
            truth = o.effect["fact_rg"][month]
            assert abs(diff - truth) < 4 * se, (name, month, diff, truth)


def test_intraclass_and_visit_correlations_match_the_scenario(big_rg):
    sc, df = big_rg
    w = _wide(df, "empowerment")
    # one-way ANOVA estimator of the team ICC at baseline
    k = 8
    g = w.groupby("site")[0]
    msb = k * ((g.mean() - w[0].mean()) ** 2).sum() / (g.ngroups - 1)
    msw = ((w[0] - g.transform("mean")) ** 2).sum() / (len(w) - g.ngroups)
    icc = (msb - msw) / (msb + (k - 1) * msw)
    assert icc == pytest.approx(sc.site_share, abs=0.03)
    comp = w[w["arm"] == "fact"]
    r = np.corrcoef(comp[0], comp[18])[0, 1]
    shared = sc.site_share + sc.patient_share
    resid = 1 - shared
    r18 = sc.visit_sd_ratio.get(18, 1.0)
    cov = shared + resid * r18 * sc.residual_correlation_per_year**1.5
    assert r == pytest.approx(cov / np.sqrt(shared + resid * r18**2), abs=0.05)


def test_dropout_is_monotone_and_near_the_scenario_rate():
    sc = load_scenario("resource_groups")
    sc = dataclasses.replace(
        sc, arms={"fact_rg": 2000, "fact": 2000}, site_sizes=[8] * 500, dropout_slope=0.0
    )
    df = simulate_trial(sc, seed=5)
    seen = (
        df[df["outcome"] == "empowerment"]
        .pivot_table(index="patient_id", columns="month", values="value")
        .notna()
    )
    assert not (seen[18] & ~seen[9]).any()  # monotone
    p9 = 1 - seen[9].mean()
    p18 = 1 - seen[18].sum() / seen[9].sum()
    assert p9 == pytest.approx(sc.dropout[9], abs=0.03)
    assert p18 == pytest.approx(sc.dropout[18], abs=0.03)


def test_values_respect_the_instrument_range_and_resolution(default_data):
    for (trial, outcome), d in default_data.groupby(["trial", "outcome"]):
        reg = registry.get_outcome(trial, outcome)
        assert d["value"].between(reg.scale_min, reg.scale_max).all()
        steps = (d["value"] - reg.scale_min) / reg.resolution
        assert np.allclose(steps, np.round(steps), atol=1e-3), outcome


def _wide_all(sc, seed, arm="fact"):
    df = simulate_trial(sc, seed)
    return df[df["arm"] == arm].pivot_table(
        index="patient_id", columns=["outcome", "month"], values="value"
    )


def test_within_patient_covariance_is_not_compound_symmetric():
    """Correlation decays with time apart and the spread grows over visits, as the scenario
    says: data a compound-symmetry model cannot describe."""
    from analysis.contract.simulate import scaled_scenario

    sc = dataclasses.replace(
        scaled_scenario("resource_groups", 6000, 60), dropout={9: 0.0, 18: 0.0}
    )
    e = _wide_all(sc, 3)["empowerment"]
    r = e.corr().to_numpy()
    assert r[0, 1] > r[0, 2] + 0.08 and r[1, 2] > r[0, 2] + 0.08
    sd = e.std().to_numpy()
    assert sd[2] > 1.08 * sd[0]
    # a patient's outcomes are correlated with one another (outcome_correlation 0.4)
    w = _wide_all(sc, 3)
    rho = np.corrcoef(w[("empowerment", 18)], w[("personal_recovery", 18)])[0, 1]
    assert 0.25 < rho < 0.5


def test_old_scenarios_without_the_new_numbers_stay_compound_symmetric():
    from analysis.contract.simulate import scaled_scenario

    sc = dataclasses.replace(
        scaled_scenario("resource_groups", 6000, 60),
        dropout={9: 0.0, 18: 0.0},
        visit_sd_ratio={},
        residual_correlation_per_year=0.0,
        outcome_correlation=0.0,
    )
    w = _wide_all(sc, 4)
    r = w["empowerment"].corr().to_numpy()
    assert abs(r[0, 1] - r[0, 2]) < 0.05 and abs(r[1, 2] - r[0, 2]) < 0.05
    assert abs(np.corrcoef(w[("empowerment", 18)], w[("personal_recovery", 18)])[0, 1]) < 0.05


def test_missing_not_at_random_drops_the_worse_off_at_the_visit_they_miss():
    """With dropout depending on the unobserved current value, the patients still observed
    at 18 months are better off than under MAR with the same seed."""
    base = load_scenario("resource_groups")
    mar = simulate_trial(base, 5)
    mnar = simulate_trial(dataclasses.replace(base, dropout_mnar_slope=-2.0), 5)

    def final_mean(df):
        sel = (df["outcome"] == "empowerment") & (df["month"] == 18)
        return df.loc[sel, "value"].mean(), sel.sum()

    (m_mar, _), (m_mnar, _) = final_mean(mar), final_mean(mnar)
    assert m_mnar > m_mar + 0.05


def test_true_effects_follow_the_scenario_and_the_instrument_direction():
    from analysis.contract.scenario import true_effects

    sc = load_scenario("resource_groups")
    t = true_effects(sc).set_index(["outcome", "month", "arm"])
    emp = sc.outcomes["empowerment"]
    assert t.loc[("empowerment", 18, "fact_rg"), "true_smd"] == emp.effect["fact_rg"][18]
    assert t.loc[("empowerment", 18, "fact_rg"), "true_estimate"] == pytest.approx(
        emp.effect["fact_rg"][18] * emp.baseline_sd
    )
    # disability: lower is better, so a benefit is a negative difference on its scale
    assert t.loc[("disability", 18, "fact_rg"), "true_smd"] < 0
    cp = true_effects(load_scenario("consumer_providers"))
    assert set(zip(cp["arm"], cp["comparator"], strict=True)) == {
        ("cacm", "standard"),
        ("ncacm", "standard"),
        ("cacm", "ncacm"),
    }
