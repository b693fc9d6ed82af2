"""Network meta-analysis: exactness against quadrature, recovery, the bridge, evidence checks."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import catalogue, config
from analysis.synthesis import evidence, nma


def _ev(rows):
    df = pd.DataFrame(
        rows, columns=["study", "outcome", "treatment", "comparator", "estimate", "se"]
    )
    return evidence.check_evidence(df)


PAIRWISE = _ev(
    [
        (f"s{i}", "qol", "a", "standard", e, s)
        for i, (e, s) in enumerate(
            [(0.30, 0.12), (0.05, 0.15), (0.45, 0.20), (0.20, 0.10), (-0.10, 0.25)]
        )
    ]
)


def test_pairwise_meta_analysis_matches_2d_quadrature():
    priors = nma.NMAPriors(effect_sd=1.0, tau_scale=0.3)
    res = nma.fit_nma(PAIRWISE, "qol", priors, n_draws=200_000, seed=1, grid_size=1000)
    d = res.d[:, res.treatments.index("a")]
    # brute-force posterior on a (d, tau) grid
    dg = np.linspace(-1.5, 2.0, 1401)
    tg = np.linspace(1e-4, 2.0, 1400)
    D, T = np.meshgrid(dg, tg, indexing="ij")
    logp = stats.norm.logpdf(D, 0, 1) + stats.halfnorm.logpdf(T, scale=0.3)
    for y, s in zip(PAIRWISE["estimate"], PAIRWISE["se"], strict=True):
        logp += stats.norm.logpdf(y, D, np.sqrt(s**2 + T**2))
    w = np.exp(logp - logp.max())
    w /= w.sum()
    mean_d = (w * D).sum()
    sd_d = np.sqrt((w * (D - mean_d) ** 2).sum())
    mean_tau = (w * T).sum()
    n = len(d)
    assert abs(d.mean() - mean_d) < 5 * d.std() / np.sqrt(n)
    assert d.std() == pytest.approx(sd_d, rel=0.01)
    assert abs(res.tau.mean() - mean_tau) < 5 * res.tau.std() / np.sqrt(n) + 0.003


def test_consistent_network_recovers_basic_effects():
    truth = {"a": 0.5, "b": 0.2, "c": -0.3, "standard": 0.0}
    rng = np.random.default_rng(7)
    rows = []
    pairs = [("a", "standard"), ("b", "standard"), ("c", "standard"), ("a", "b"), ("b", "c")]
    for k in range(150):
        t, c = pairs[k % len(pairs)]
        delta = truth[t] - truth[c] + rng.normal(0, 0.1)
        rows.append((f"s{k}", "x", t, c, delta + rng.normal(0, 0.08), 0.08))
    # a three-arm study: two contrasts against a common comparator
    rows += [
        ("tri", "x", "a", "c", 0.8 + rng.normal(0, 0.05), 0.08),
        ("tri", "x", "b", "c", 0.5 + rng.normal(0, 0.05), 0.08),
    ]
    res = nma.fit_nma(_ev(rows), "x", nma.NMAPriors(), n_draws=20000, seed=2)
    for t in ("a", "b", "c"):
        d = res.d[:, res.treatments.index(t)]
        # within 3 posterior SDs (a 99.7% interval) and 0.05 of the truth
        assert abs(d.mean() - truth[t]) < min(3 * d.std(), 0.05), (t, d.mean(), d.std())
    assert 0.02 < res.tau.mean() < 0.25


def test_wide_bridge_makes_cross_trial_contrast_as_uncertain_as_the_bridge():
    ev, _ = evidence.assemble_evidence(None, "published", True)
    priors = nma.NMAPriors(bridge={"fact": (0.0, 0.25)}, relative={"fact_rg": "fact"})
    sens = nma.bridge_sensitivity(ev, "empowerment", priors, [0.1, 10.0], n_draws=20000)
    narrow, wide = sens.iloc[0], sens.iloc[1]
    assert wide["sd"] == pytest.approx(10.0, rel=0.05)
    assert narrow["sd"] < 1.0
    assert abs(wide["prob_better"] - 0.5) < 0.05  # the data say nothing across the trials


def test_within_trial_contrast_does_not_depend_on_the_bridge():
    ev, _ = evidence.assemble_evidence(None, "published", True)
    out = []
    for sd in (0.1, 5.0):
        pri = nma.NMAPriors(bridge={"fact": (0.0, sd)}, relative={"fact_rg": "fact"})
        res = nma.fit_nma(ev, "empowerment", pri, list(nma.TREATMENTS), n_draws=50000, seed=3)
        league = nma.league_table(res).set_index(["treatment", "reference"])
        out.append(league.loc[("fact_rg", "fact"), ["mean", "sd"]].to_numpy())
    np.testing.assert_allclose(out[0], out[1], atol=0.01)
    assert nma.depends_on_bridge("fact_rg", "cacm") and not nma.depends_on_bridge(
        "cacm", "standard"
    )


def test_league_ranks_and_sucra_are_consistent():
    res = nma.fit_nma(PAIRWISE, "qol", nma.NMAPriors(), n_draws=5000, seed=4)
    league = nma.league_table(res)
    assert len(league) == 2
    ranks = nma.rank_table(res)
    assert ranks.groupby("treatment")["probability"].sum().round(6).eq(1).all()
    sucra = ranks.drop_duplicates("treatment").set_index("treatment")["sucra"]
    assert sucra["a"] > sucra["standard"]


@pytest.mark.parametrize(
    "change,needle",
    [
        (lambda d: d.drop(columns="se"), "missing column"),
        (
            lambda d: d.assign(se=["-1"] + list(d["se"][1:])),
            "column 'se': not a positive number (lines [2])",
        ),
        (lambda d: d.assign(estimate=["abc"] + list(d["estimate"][1:])), "column 'estimate'"),
        (lambda d: d.assign(comparator=["a"] + list(d["comparator"][1:])), "equals treatment"),
    ],
)
def test_bad_evidence_is_rejected_naming_column_and_line(tmp_path, change, needle):
    path = tmp_path / "ev.csv"
    change(PAIRWISE.astype(str)[evidence.REQUIRED]).to_csv(path, index=False)
    with pytest.raises(
        evidence.EvidenceError,
        match=needle.replace("(", r"\(")
        .replace(")", r"\)")
        .replace("[", r"\[")
        .replace("]", r"\]"),
    ):
        evidence.load_evidence(path)


def test_multi_arm_study_needs_a_common_comparator():
    with pytest.raises(evidence.EvidenceError, match="several comparators"):
        _ev([("s", "x", "a", "standard", 0.1, 0.1), ("s", "x", "b", "a", 0.1, 0.1)])


def test_patients_counted_once_per_study_arm():
    ev = evidence.check_evidence(
        pd.DataFrame(
            {
                "study": ["t", "t", "u"],
                "outcome": ["x", "x", "x"],
                "treatment": ["a", "b", "a"],
                "comparator": ["c", "c", "c"],
                "estimate": [0.1, 0.2, 0.3],
                "se": [0.1, 0.1, 0.1],
                "n_treatment": [10, 12, 5],
                "n_comparator": [20, 20, 6],
            }
        )
    )
    assert evidence.patients_per_treatment(ev) == {"a": 15, "b": 12, "c": 26}


def test_map_prior_is_a_robust_mixture():
    """An informative component pulls the estimate towards it; data far away override it."""
    base = dict(bridge={"fact": (0.0, 0.25)}, relative={"fact_rg": "fact"})
    near = _ev([("t", "e", "fact_rg", "fact", 0.5, 0.2)])
    far = _ev([("t", "e", "fact_rg", "fact", -1.5, 0.1)])

    def effect(ev, map_prior):
        res = nma.fit_nma(
            ev,
            "e",
            nma.NMAPriors(**base, map_prior=map_prior),
            list(nma.TREATMENTS),
            n_draws=40000,
            seed=5,
        )
        league = nma.league_table(res).set_index(["treatment", "reference"])
        return league.loc[("fact_rg", "fact"), "mean"]

    spec = ("fact_rg", "fact", [(0.5, 0.8, 0.1), (0.5, 0.0, 1.0)])
    assert effect(near, spec) > effect(near, None) + 0.05  # pulled towards 0.8
    # conflicting data: the vague component takes over and the prior is mostly discarded
    assert effect(far, spec) < -1.0


# ----------------------------------------------------------------------------- issue: no double
# counting, no prior-only answers, pooled rows without tau, foreign networks


def test_a_pooled_row_enters_with_its_own_se_only():
    """One pooled row against the reference: the posterior is the conjugate normal-normal
    update of N(0, 1) by N(y, se^2) whatever tau's prior (closed form); a study row with the
    same numbers is widened by tau."""
    y, se = 0.3, 0.1
    rows = pd.DataFrame(
        {
            "study": ["m"],
            "outcome": ["o"],
            "treatment": ["a"],
            "comparator": ["standard"],
            "estimate": [y],
            "se": [se],
            "kind": ["pooled"],
            "includes": ["s1;s2"],
        }
    )
    pooled = evidence.check_evidence(rows)
    res = nma.fit_nma(pooled, "o", nma.NMAPriors(tau_scale=1.0), n_draws=200_000, seed=2)
    d = res.d[:, res.treatments.index("a")]
    post_var = 1 / (1 / 1.0**2 + 1 / se**2)
    assert d.mean() == pytest.approx(post_var * y / se**2, abs=0.002)
    assert d.std() == pytest.approx(np.sqrt(post_var), rel=0.01)
    study = evidence.check_evidence(rows.drop(columns=["kind", "includes"]))
    res_s = nma.fit_nma(study, "o", nma.NMAPriors(tau_scale=1.0), n_draws=50_000, seed=2)
    assert res_s.d[:, res_s.treatments.index("a")].std() > 2 * d.std()


def _overlap_rows():
    return pd.DataFrame(
        {
            "study": ["rivera2007", "rivera2007", "pitt2013"],
            "outcome": ["symptoms", "symptoms", "symptoms"],
            "treatment": ["cacm", "ncacm", "cacm"],
            "comparator": ["standard", "standard", "ncacm"],
            "estimate": [0.1, 0.05, 0.24],
            "se": [0.2, 0.2, 0.15],
            "kind": ["study", "study", "pooled"],
            "includes": ["", "", "rivera2007;other2010"],
        }
    )


def test_a_study_entering_twice_is_refused_naming_both_rows():
    with pytest.raises(evidence.EvidenceError) as err:
        evidence.check_evidence(_overlap_rows(), "ev.csv")
    msg = str(err.value)
    assert "'rivera2007' enters twice for 'symptoms'" in msg
    assert "(line 2)" in msg and "line 4" in msg  # its own row and the pooled row


def test_overlaps_resolve_either_way_and_say_so():
    ev = evidence.check_evidence(_overlap_rows(), overlap="allow")
    kept, notes = evidence.resolve_overlaps(ev, "prefer_study")
    assert kept["study"].tolist() == ["rivera2007", "rivera2007"]
    assert notes == ["pitt2013 (symptoms) left out: it includes rivera2007"]
    kept, notes = evidence.resolve_overlaps(ev, "prefer_pooled")
    assert kept["study"].tolist() == ["pitt2013"] and "rivera2007's own symptoms" in notes[0]


def test_default_network_counts_no_study_twice(tmp_path):
    from analysis import registry

    _model_rows(tmp_path, study=registry.trial_study("consumer_providers"))
    ev, notes = evidence.assemble_evidence(tmp_path, "model", True)
    assert not evidence.overlaps(ev)
    assert "pitt2013" not in set(ev.loc[ev["outcome"] == "symptoms", "study"])
    assert any("pitt2013 (symptoms) left out" in n for n in notes)
    # every pooled row of the shipped evidence says what it includes
    ext = evidence.load_evidence(config.PUBLISHED_EXTERNAL, overlap="allow")
    pooled = ext[ext["kind"] == "pooled"]
    assert len(pooled) == len(ext) and (pooled["includes"] != "").all()
    assert pooled["source"].str.contains("includes rivera2007: assumed").all()


def test_networks_hold_only_treatments_connected_to_data():
    ev, _ = evidence.assemble_evidence(None, "published", True)
    priors = nma.NMAPriors(bridge={"fact": (0.0, 0.25)}, relative={"fact_rg": "fact"})
    emp = nma.fit_nma(ev, "empowerment", priors, n_draws=2000)
    # Tjaden (fact_rg vs fact) and Lloyd-Evans (cacm vs standard), joined by the bridge
    assert emp.treatments == ["fact_rg", "fact", "cacm", "standard"]
    assert "ncacm" not in set(nma.rank_table(emp)["treatment"])
    sat = nma.fit_nma(ev, "satisfaction", priors, n_draws=2000)
    # Pitt 2013 alone: the comparator is the reference
    assert sat.treatments == ["cacm", "ncacm"] and sat.reference == "ncacm"
    league = nma.league_table(sat)
    assert not (league["treatment"].isin(["fact_rg", "fact"]).any())
    assert nma.bridge_sensitivity(ev, "satisfaction", priors, [0.25]).empty


def test_disconnected_parts_are_left_out_not_ranked():
    ev = _ev(
        [
            ("s1", "o", "a", "b", 0.2, 0.1),
            ("s2", "o", "c", "d", 0.1, 0.1),
            ("s3", "o", "c", "e", 0.1, 0.1),
        ]
    )
    res = nma.fit_nma(ev, "o", nma.NMAPriors(), n_draws=1000)
    # no 'standard': the most connected treatment is the reference, its part is kept
    assert res.reference == "c" and res.treatments == ["c", "d", "e"]
    assert res.left_out == ["a", "b"]
    res_a = nma.fit_nma(ev, "o", nma.NMAPriors(), reference="a", n_draws=1000)
    assert res_a.treatments == ["a", "b"] and res_a.left_out == ["c", "d", "e"]
    with pytest.raises(ValueError, match="reference 'zz' has no evidence"):
        nma.fit_nma(ev, "o", nma.NMAPriors(), reference="zz")


def test_all_pairwise_contrasts_of_a_multi_arm_study_are_named_as_such():
    with pytest.raises(
        evidence.EvidenceError, match="gives all 3 pairwise contrasts of its 3 arms"
    ):
        _ev(
            [
                ("s", "x", "a", "b", 0.1, 0.1),
                ("s", "x", "a", "c", 0.1, 0.1),
                ("s", "x", "b", "c", 0.1, 0.1),
            ]
        )


def test_heterogeneity_says_whether_data_inform_tau():
    one = nma.fit_nma(PAIRWISE.iloc[:1], "qol", nma.NMAPriors(tau_scale=0.3), n_draws=20000)
    many = _ev(
        [
            (f"s{i}", "qol", "a", "standard", e, 0.05)
            for i, e in enumerate([-0.4, 0.5, 0.1, 0.9, -0.2, 0.6, 0.0, 0.8])
        ]
    )
    het_one = nma.heterogeneity_table(one, nma.NMAPriors(tau_scale=0.3)).iloc[0]
    assert not het_one["informed"]
    assert het_one["prior_median"] == pytest.approx(stats.halfnorm.ppf(0.5, scale=0.3))
    res_many = nma.fit_nma(many, "qol", nma.NMAPriors(tau_scale=0.3), n_draws=20000)
    assert nma.heterogeneity_table(res_many, nma.NMAPriors(tau_scale=0.3)).iloc[0]["informed"]


@pytest.mark.parametrize("name", ["rhodes-general", "rhodes-mental-health"])
def test_rhodes_priors_are_log_t_on_tau_squared(name):
    """The density integrates to 1 and matches draws of tau^2 = exp(location + scale * t5)."""
    prior = nma.TauPrior(name)
    loc, sc = nma.TAU_PRIORS[name]
    x = np.geomspace(1e-8, 1e4, 400_001)
    assert np.trapezoid(np.exp(prior.logpdf(x)), x) == pytest.approx(1.0, abs=2e-3)
    draws = np.sqrt(np.exp(loc + sc * stats.t.rvs(5, size=400_000, random_state=1)))
    for q in (0.1, 0.5, 0.9):
        assert prior.ppf(q) == pytest.approx(np.quantile(draws, q), rel=0.02)


def test_an_informative_tau_prior_changes_only_what_tau_touches():
    ev, _ = evidence.assemble_evidence(None, "published", True)
    base = nma.NMAPriors(bridge={"fact": (0.0, 0.25)}, relative={"fact_rg": "fact"})
    rhodes = nma.NMAPriors(
        bridge={"fact": (0.0, 0.25)}, relative={"fact_rg": "fact"}, tau_prior="rhodes-mental-health"
    )
    a = nma.heterogeneity_table(nma.fit_nma(ev, "empowerment", base, n_draws=20000), base)
    b = nma.heterogeneity_table(nma.fit_nma(ev, "empowerment", rhodes, n_draws=20000), rhodes)
    assert b.iloc[0]["prior"] == "rhodes-mental-health" and a.iloc[0]["prior"] == "half-normal(0.3)"
    assert b.iloc[0]["prior_median"] == pytest.approx(np.exp(-3.85 / 2), rel=1e-6)
    # the posterior of tau follows its prior (one study row): the heavier tail shows
    assert b.iloc[0]["upper"] > 1.5 * a.iloc[0]["upper"]  # heavier tail than HN(0.3)


def test_prior_weight_and_conflict_have_closed_forms():
    from analysis import catalogue
    from analysis.synthesis import pipeline as sp

    ev, _ = evidence.assemble_evidence(None, "published", True)
    settings = sp.SynthesisSettings(
        map_prior=True, map_source="manual", map_mean=0.8, map_sd=0.3, map_weight=0.5
    )
    res = sp.run_synthesis(ev, settings, ["empowerment"], draws=2000, bridge_sds=None)
    table = res.table(catalogue.PRIOR_WEIGHT).set_index("prior")
    bridge = table.loc["bridge"]
    assert bridge["ess_patients"] == pytest.approx(4 / 0.25**2)  # a normal prior: 4 / sd^2
    assert np.isnan(bridge["conflict_p"])  # no trial compared FACT with standard care
    map_row = table.loc["MAP (robust mixture)"]
    y, se = 0.54, 0.1658  # Tjaden 2021, the direct evidence on fact_rg vs fact
    assert map_row["data_estimate"] == pytest.approx(y) and map_row["data_se"] == pytest.approx(se)
    # the robust component is the unit-information N(0, 2^2) (one patient per arm)
    lower = 0.5 * stats.norm.cdf(y, 0.8, np.hypot(0.3, se)) + 0.5 * stats.norm.cdf(
        y, 0.0, np.hypot(2.0, se)
    )
    assert map_row["conflict_p"] == pytest.approx(2 * min(lower, 1 - lower))
    # a robust mixture is worth less than its informative component alone
    assert 4 / 2.0**2 < map_row["ess_patients"] < 4 / 0.3**2
    trans = res.table(catalogue.TRANSITIVITY)
    assert trans["study"].tolist() == list(dict.fromkeys(res.evidence["study"]))
    assert (trans.loc[trans["study"] == "tjaden2021", "country"] == "Netherlands").all()


def _model_rows(tmp_path, trial="consumer_providers", study="rivera2007"):
    rows = pd.DataFrame(
        {
            "study": [study] * 2,
            "outcome": ["symptoms"] * 2,
            "treatment": ["cacm", "ncacm"],
            "comparator": ["standard"] * 2,
            "estimate": [0.1, 0.0],
            "se": [0.2, 0.2],
            "n_treatment": [68, 67],
            "n_comparator": [68, 68],
            "source": "model",
            "kind": "study",
            "includes": "",
        }
    )
    (tmp_path / "tables").mkdir(exist_ok=True)
    rows.to_csv(catalogue.TRIAL_CONTRASTS.path(tmp_path, trial), index=False)


def test_simulated_trials_are_never_evidence(tmp_path):
    """With the embedded simulated data, the synthesis holds published evidence only: both
    trials' published rows and the external reviews, no row of a simulated trial's model."""
    _model_rows(tmp_path)
    ev, notes = evidence.assemble_evidence(tmp_path, "model", True, simulated=True)
    assert not ev["source"].eq("model").any()
    published = pd.read_csv(config.PUBLISHED_TRIALS)
    assert set(published["study"]) <= set(ev["study"])  # both trials' published rows
    assert any("simulated" in n for n in notes)


def test_a_users_trial_replaces_its_published_summary_only(tmp_path):
    """With a user's own data of one trial, that trial's rows replace its published summary;
    the other trial keeps its published rows."""
    _model_rows(tmp_path)
    ev, _ = evidence.assemble_evidence(tmp_path, "model", True, simulated=False)
    rivera = ev[(ev["study"] == "rivera2007") & (ev["kind"] == "study")]
    assert rivera["source"].eq("model").all() and len(rivera) == 2
    others = set(pd.read_csv(config.PUBLISHED_TRIALS)["study"]) - {"rivera2007"}
    assert others and others <= set(ev["study"])


def test_league_table_predictive_interval_adds_the_between_study_sd():
    """A new study's effect: the contrast plus N(0, tau^2). With tau about 0.3 the predictive
    interval is wider than the credible interval by about what tau adds; with tau near zero
    they agree. Probabilities and SUCRA carry their Monte Carlo standard errors."""
    rng = np.random.default_rng(3)
    n = 40_000
    d = np.column_stack([np.zeros(n), rng.normal(0.4, 0.1, n), rng.normal(0.2, 0.1, n)])
    widths = {}
    for tau_value in (0.3, 1e-6):
        res = nma.NMAResult("o", ["a", "b", "c"], "a", d, np.full(n, tau_value), None, [])
        row = nma.league_table(res, seed=1).set_index(["treatment", "reference"]).loc[("b", "a")]
        cri = row["upper"] - row["lower"]
        widths[tau_value] = (row["predictive_upper"] - row["predictive_lower"]) / cri
        assert row["prob_better_mcse"] == pytest.approx(
            np.sqrt(row["prob_better"] * (1 - row["prob_better"]) / n)
        )
    assert widths[0.3] == pytest.approx(np.sqrt(0.1**2 + 0.3**2) / 0.1, rel=0.05)
    assert widths[1e-6] == pytest.approx(1.0, abs=0.02)
    ranks = nma.rank_table(res)
    assert (ranks["probability_mcse"] >= 0).all() and (ranks["sucra_mcse"] > 0).all()


def test_a_multi_arm_trial_enters_with_its_own_covariance():
    """A three-arm trial's rows carry the covariance of its contrasts (``cov_shared``, from the
    trial model's joint posterior): the network uses it instead of the arm-size approximation,
    and the contrast between the two active arms is as precise as that covariance says."""
    base = pd.DataFrame(
        {
            "study": ["tri", "tri"],
            "outcome": ["x", "x"],
            "treatment": ["a", "b"],
            "comparator": ["c", "c"],
            "estimate": [0.5, 0.3],
            "se": [0.1, 0.1],
            "n_treatment": [50, 50],
            "n_comparator": [50, 50],
        }
    )
    approx = evidence.check_evidence(base)
    joint = evidence.check_evidence(base.assign(cov_shared=0.009))
    _, _, v_approx, _, _ = nma._design(approx, ["a", "b", "c"], "c")
    _, _, v_joint, _, _ = nma._design(joint, ["a", "b", "c"], "c")
    assert v_approx[0, 1] == pytest.approx(0.01 * 50 / 100)  # from the arm sizes
    assert v_joint[0, 1] == pytest.approx(0.009)
    priors = nma.NMAPriors(tau_scale=0.01)
    sd = {}
    for name, ev in (("approx", approx), ("joint", joint)):
        res = nma.fit_nma(ev, "x", priors, n_draws=20000, seed=3)
        ab = res.d[:, res.treatments.index("a")] - res.d[:, res.treatments.index("b")]
        sd[name] = ab.std()
    # var(a - b) = 0.01 + 0.01 - 2 cov: 0.01 (approx) against 0.002 (joint)
    assert sd["approx"] == pytest.approx(0.1, rel=0.1)
    assert sd["joint"] == pytest.approx(np.sqrt(0.002), rel=0.15)


def test_ranks_say_which_rest_on_the_bridge():
    """In the default network no trial links FACT (as usual or with resource groups) to
    standard care: their ranks are the bridge's, the others' are the data's, and the sentence
    says so."""
    ev, _ = evidence.assemble_evidence(None, "published", True)
    priors = nma.NMAPriors(bridge={"fact": (0.0, 0.25)}, relative={"fact_rg": "fact"})
    res = nma.fit_nma(ev, "empowerment", priors, n_draws=4000, seed=1)
    ranks = nma.rank_table(res)
    on = ranks.groupby("treatment")["rests_on_bridge"].first()
    assert on["fact"] and on["fact_rg"]
    assert not on[[t for t in on.index if t not in ("fact", "fact_rg")]].any()
    text = nma.ranks_markdown(ranks)
    assert "FACT as usual" in text and "rest on the bridge" in text
    assert nma.ranks_markdown(ranks.assign(rests_on_bridge=False)) == ""


def test_heterogeneity_prior_follows_the_outcome_category():
    """With rhodes-by-outcome, quality of life gets Rhodes et al.'s prior for quality of life /
    functioning (log-t(-3.02, 2.27), bayesmeta's RhodesEtAlPrior table, non-pharmacological) and
    empowerment the mental-health one (log-t(-3.85, 1.93)), as the outcome registry declares."""
    from analysis import registry

    assert registry.heterogeneity_category("quality_of_life") == "quality-of-life"
    assert registry.heterogeneity_category("empowerment") == "mental-health"
    priors = nma.NMAPriors(tau_prior=nma.BY_OUTCOME)
    qol, emp = priors.tau_for("quality_of_life"), priors.tau_for("empowerment")
    assert qol.log_t == (-3.02, 2.27) and emp.log_t == (-3.85, 1.93)
    # the prior median of tau is exp(location / 2)
    assert float(qol.ppf(0.5)) == pytest.approx(np.exp(-3.02 / 2))
    with pytest.raises(ValueError, match="tau_for"):
        _ = priors.tau
