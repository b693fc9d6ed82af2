"""Report text from result tables: the summary's numbers are the tables' numbers."""

import numpy as np
import pandas as pd
import pytest

from analysis import narrative, summarise


def _effects(trial, rows):
    cols = summarise.EFFECT_COLUMNS
    base = dict.fromkeys(cols, 0.0)
    out = []
    for r in rows:
        out.append({**base, "trial": trial, **r})
    return pd.DataFrame(out, columns=cols)


@pytest.fixture
def tables(tmp_path):
    rg = _effects(
        "resource_groups",
        [
            dict(outcome="empowerment", month=9, arm="fact_rg", comparator="fact", estimate=0.05),
            dict(
                outcome="empowerment",
                month=18,
                arm="fact_rg",
                comparator="fact",
                estimate=0.1234,
                lower=-0.0111,
                upper=0.2555,
                smd=0.3012,
                prob_benefit=0.9612,
                prob_mcid=0.0811,
            ),
            dict(
                outcome="symptoms",
                month=18,
                arm="fact_rg",
                comparator="fact",
                estimate=-0.2,
                lower=-0.3,
                upper=-0.1,
                smd=-0.4,
                prob_benefit=0.998,
                prob_mcid=0.2,
            ),
        ],
    )
    cp = _effects(
        "consumer_providers",
        [
            dict(
                outcome="symptoms",
                month=12,
                arm="cacm",
                comparator="standard",
                estimate=-0.07,
                prob_benefit=0.7,
            ),
            dict(
                outcome="symptoms",
                month=12,
                arm="cacm",
                comparator="ncacm",
                estimate=-0.1,
                prob_benefit=0.9,
            ),
        ],
    )
    pd.concat([rg, cp]).to_csv(tmp_path / "trial_effects.csv", index=False)
    pd.DataFrame(
        [
            dict(
                outcome="empowerment",
                treatment="fact_rg",
                reference="cacm",
                mean=0.21,
                sd=0.4,
                lower=-0.6,
                upper=1.0,
                prob_better=0.7,
            ),
            dict(
                outcome="empowerment",
                treatment="cacm",
                reference="standard",
                mean=0.25,
                sd=0.1,
                lower=0.05,
                upper=0.45,
                prob_better=0.99,
            ),
        ]
    ).to_csv(tmp_path / "synthesis_effects.csv", index=False)
    return tmp_path


def test_summary_rows_copy_the_result_tables(tables):
    summary = narrative.summary_table(tables)
    effects = pd.read_csv(tables / "trial_effects.csv")
    rg = summary[summary["source"] == "resource_groups"]
    # last visit only, primary first
    assert rg["outcome"].tolist() == ["empowerment", "symptoms"] and rg["month"].eq(18).all()
    assert rg.iloc[0]["primary"] and not rg.iloc[1]["primary"]
    src = effects[(effects["outcome"] == "empowerment") & (effects["month"] == 18)].iloc[0]
    for col in ("estimate", "lower", "upper", "smd", "prob_benefit", "prob_mcid"):
        assert rg.iloc[0][col] == src[col]
    assert rg.iloc[0]["mcid"] == 0.25  # from the outcome registry
    cp = summary[summary["source"] == "consumer_providers"]
    assert cp["reference"].tolist() == ["standard"]  # only arms against the comparator
    syn = summary[summary["source"] == "synthesis"]
    assert len(syn) == 1 and syn.iloc[0]["estimate"] == 0.21 and syn.iloc[0]["rests_on_bridge"]
    assert np.isnan(syn.iloc[0]["prob_mcid"])


def test_summary_text_states_the_tables_numbers(tables):
    summary = narrative.summary_table(tables)
    text = narrative.summary_markdown(summary, "full", gate_ok=True)
    assert "difference 0.12 NEL mean item score (95% CrI −0.01 to 0.26; SMD 0.30)" in text
    assert "probability of benefit 96%" in text and "MCID (0.25) 8%" in text
    assert "symptoms (P >99%)" in text  # a secondary outcome with a clear direction
    assert "rests on the bridging assumption" in text
    assert "not for interpretation" in narrative.summary_markdown(summary, "smoke", None)
    assert "failed the convergence gate" in narrative.summary_markdown(summary, "full", False)


def test_formatting_helpers():
    assert narrative.fmt(-0.004) == "0.00" and narrative.fmt(-1.5) == "−1.50"
    assert narrative.fmt(float("nan")) == "–"
    assert narrative.pct(0.9999) == ">99%" and narrative.pct(0.001) == "<1%"
    assert narrative.pct(0.5) == "50%" and narrative.pct(float("nan")) == "–"


def test_gate_table_one_row_per_fit(tmp_path):
    pd.DataFrame(
        [
            dict(
                model="a",
                parameter="x",
                rhat=1.0,
                ess_bulk=900,
                ess_tail=800,
                mcse_mean=0,
                divergences=0,
            ),
            dict(
                model="a",
                parameter="y",
                rhat=1.0,
                ess_bulk=500,
                ess_tail=450,
                mcse_mean=0,
                divergences=0,
            ),
            dict(
                model="b",
                parameter="x",
                rhat=1.05,
                ess_bulk=90,
                ess_tail=80,
                mcse_mean=0,
                divergences=3,
            ),
        ]
    ).to_csv(tmp_path / "diagnostics.csv", index=False)
    gates = narrative.gate_table(tmp_path).set_index("model")
    assert gates.loc["a", "gate"] == "pass" and gates.loc["a", "ess_bulk_min"] == 500
    assert gates.loc["b", "gate"] == "FAIL" and gates.loc["b", "divergences"] == 3


def test_limitations_list_every_assumed_number():
    lim = narrative.limitations_table(
        pd.DataFrame(
            [
                dict(
                    study="s",
                    outcome="o",
                    treatment="cacm",
                    comparator="standard",
                    estimate=0.2,
                    se=0.1,
                    source="published: x; assumed mapping: y",
                )
            ]
        )
    )
    from analysis import scenario

    n_assumed = sum(
        (scenario.scenario_provenance(t)["status"] == "assumed").sum()
        for t in ("resource_groups", "consumer_providers")
    )
    assert (lim["file"].str.startswith("data/scenarios")).sum() == n_assumed
    assert (lim["file"] == "synthesis evidence").sum() == 1


def test_methods_state_priors_and_versions():
    text = narrative.methods_markdown(
        {
            "versions": {"pymc": "5.28.5"},
            "steps": [{"name": "03-synthesis", "parameters": {"bridge_sd": 0.4}}],
        }
    )
    assert "pymc 5.28.5" in text and "0.4^2" in text and "HN(0.3)" in text
