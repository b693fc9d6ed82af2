"""Report text from result tables: the summary's numbers are the tables' numbers."""

import io
import textwrap

import numpy as np
import pandas as pd
import pytest

from analysis import catalogue, output
from analysis.report import narrative
from analysis.trialmodel import summarise


def _table(text: str) -> pd.DataFrame:
    """A small literal table written as CSV (one row per line)."""
    return pd.read_csv(io.StringIO(textwrap.dedent(text).strip()))


#: Trial-effect rows; the columns not given are 0 (diagnostics are not what is tested here).
EFFECTS = """
    trial,outcome,month,arm,comparator,estimate,lower,upper,smd,prob_benefit,prob_mcid
    resource_groups,empowerment,9,fact_rg,fact,0.05,0,0,0,0,0
    resource_groups,empowerment,18,fact_rg,fact,0.1234,-0.0111,0.2555,0.3012,0.9612,0.0811
    resource_groups,symptoms,18,fact_rg,fact,-0.2,-0.3,-0.1,-0.4,0.998,0.2
    consumer_providers,symptoms,12,cacm,standard,-0.07,0,0,0,0.7,0
    consumer_providers,symptoms,12,cacm,ncacm,-0.1,0,0,0,0.9,0
"""
LEAGUE = """
    outcome,treatment,reference,mean,sd,lower,upper,prob_better
    empowerment,fact_rg,cacm,0.21,0.4,-0.6,1.0,0.7
    empowerment,cacm,standard,0.25,0.1,0.05,0.45,0.99
"""


@pytest.fixture
def tables(tmp_path):
    effects = _table(EFFECTS).reindex(columns=summarise.EFFECT_COLUMNS, fill_value=0.0)
    (tmp_path / "tables").mkdir()
    effects.to_csv(catalogue.TRIAL_EFFECTS.path(tmp_path), index=False)
    _table(LEAGUE).to_csv(catalogue.SYNTHESIS_EFFECTS.path(tmp_path), index=False)
    return tmp_path


def test_summary_rows_copy_the_result_tables(tables):
    summary = narrative.summary_table(tables)
    effects = pd.read_csv(catalogue.TRIAL_EFFECTS.path(tables))
    rg = summary[summary["source"] == "resource_groups"]
    # last visit only, primary first
    assert rg["outcome"].tolist() == ["empowerment", "symptoms"] and rg["month"].eq(18).all()
    assert rg.iloc[0]["primary"] and not rg.iloc[1]["primary"]
    src = effects[(effects["outcome"] == "empowerment") & (effects["month"] == 18)].iloc[0]
    for col in ("estimate", "lower", "upper", "smd", "prob_benefit", "prob_mcid"):
        assert rg.iloc[0][col] == src[col]
    assert rg.iloc[0]["mcid"] == 0.25  # from the outcome registry
    cp = summary[summary["source"] == "consumer_providers"]
    # every contrast: against the comparator and the treatment arms against each other
    assert cp["reference"].tolist() == ["ncacm", "standard"]
    assert "Consumer-assisted case management vs Non-consumer-assisted" in cp["comparison"].iloc[0]
    syn = summary[summary["source"] == "synthesis"]
    assert len(syn) == 1 and syn.iloc[0]["estimate"] == 0.21 and syn.iloc[0]["rests_on_bridge"]
    assert np.isnan(syn.iloc[0]["prob_mcid"])


def test_summary_text_states_the_tables_numbers(tables):
    summary = narrative.summary_table(tables)
    text = narrative.summary_markdown(summary, "full", gate_ok=True)
    assert "difference 0.12 NEL mean item score (95% CrI −0.01 to 0.26; SMD 0.30)" in text
    assert "probability of benefit 96.1%" in text and "MCID (0.25) 8.1%" in text
    assert "symptoms (P 99.8%)" in text  # a secondary outcome with a clear direction
    assert "the comparison rests on the bridging prior" in text
    assert "not for interpretation" in narrative.summary_markdown(summary, "smoke", None)
    assert "failed the convergence gate" in narrative.summary_markdown(summary, "full", False)


def test_simulated_data_are_named_first_and_never_as_the_publication(tables):
    summary = narrative.summary_table(tables)
    simulated = narrative.summary_markdown(summary, "full", True, simulated=True)
    assert simulated.startswith("> **Simulated data: not the trials' results.**")
    assert "simulated data calibrated to Tjaden et al. 2021" in simulated
    real = narrative.summary_markdown(summary, "full", True, simulated=False)
    assert "simulated" not in real.lower() and "(Tjaden et al. 2021)" in real


def test_formatting_helpers():
    assert narrative.fmt(-0.004) == "0.00" and narrative.fmt(-1.5) == "−1.50"
    assert narrative.fmt(float("nan")) == "–"
    assert narrative.pct(0.9999) == ">99.9%" and narrative.pct(0.0005) == "<0.1%"
    assert narrative.pct(0.5) == "50.0%" and narrative.pct(float("nan")) == "–"
    # as fine as the decision rule: 0.974 and 0.977 fall either side of 97.5%, and say so
    assert narrative.pct(0.974) == "97.4%" and narrative.pct(0.977) == "97.7%"


def test_gate_table_one_row_per_fit(tmp_path):
    _table(
        """
        model,parameter,rhat,ess_bulk,ess_tail,mcse_mean,divergences
        a,x,1.0,900,800,0,0
        a,y,1.0,500,450,0,0
        b,x,1.05,90,80,0,3
        """
    ).to_csv(output.output_dir(tmp_path) / "tables" / "diagnostics.csv", index=False)
    gates = narrative.gate_table(tmp_path).set_index("model")
    assert gates.loc["a", "gate"] == "pass" and gates.loc["a", "ess_bulk_min"] == 500
    assert gates.loc["b", "gate"] == "FAIL" and gates.loc["b", "divergences"] == 3


def test_limitations_list_every_assumed_number():
    evidence = _table(
        """
        study,outcome,treatment,comparator,estimate,se,source
        s,o,cacm,standard,0.2,0.1,published: x; assumed mapping: y
        """
    )
    lim = narrative.limitations_table(evidence)
    from analysis.contract import scenario

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
            "steps": [
                {"name": "03-synthesis", "parameters": {"bridge_sd": 0.4, "tau_prior_scale": 0.7}}
            ],
        }
    )
    assert "pymc 5.28.5" in text and "N(0, 0.4^2)" in text
    # the tau prior is the synthesis step's, not a default and not the site prior's HN(0.3)
    assert r"\tau \sim HN(0.7)" in text
    assert r"\sigma_{site} \sim HN(0.3)" in text  # the trial model's prior, from Priors


def test_every_work_cited_in_methods_is_in_the_reference_list_with_a_doi_or_url():
    from analysis.report import narrative

    refs = narrative.load_references()
    assert refs["key"].is_unique
    assert ((refs["doi"] != "") | refs["url"].str.startswith("https://")).all()
    text = narrative.methods_markdown({})
    mentioned = {f"{a} {y}" for a, y in narrative.CITATION.findall(text)}
    assert mentioned <= set(refs["key"]), mentioned - set(refs["key"])
    # and every listed work is cited: the trials, the reviews and the methods
    assert narrative.cited_keys(text) == set(refs["key"])
    md = narrative.references_markdown()
    assert md.count("https://doi.org/10.") == (refs["doi"] != "").sum()


def test_the_glossary_defines_the_abbreviations_the_report_uses():
    """Every abbreviation the issue found undefined is in the glossary, once, with a meaning;
    and the glossary is what the report prints."""
    import pandas as pd

    from analysis import config

    terms = pd.read_csv(config.GLOSSARY, dtype=str, keep_default_na=False)
    assert terms["term"].is_unique and (terms["meaning"].str.len() > 10).all()
    for abbreviation in ("FACT", "CSQ-8", "SUCRA", "MCID", "SMD", "CrI", "MCSE", "MAP", "J2R"):
        assert abbreviation in set(terms["term"]), abbreviation
    text = narrative.glossary_markdown()
    assert text.count("\n- **") == len(terms) - 1 and "**SUCRA**: surface under" in text


def test_a_lower_is_better_difference_says_so(tables):
    """The consumer-provider symptoms difference is on a lower-is-better scale: the sentence
    says so beside the unit, so that a positive difference is not read as benefit."""
    summary = narrative.summary_table(tables)
    text = narrative.summary_markdown(summary, "full", gate_ok=True)
    assert "(lower is better; 95% CrI" in text
    line = next(x for x in text.splitlines() if "lower is better" in x)
    assert "symptoms" in line


def test_only_a_concluded_benefit_that_a_sensitivity_analysis_overturns_is_fragile(tables):
    """The flag can change its answer: the same benefit is fragile when reference-based
    imputation overturns it and not when every analysis agrees; a result that does not meet
    the rule is never called fragile."""
    effects = pd.read_csv(catalogue.TRIAL_EFFECTS.path(tables))
    rows = effects[(effects["trial"] == "resource_groups") & (effects["month"] == 18)]
    met = rows[rows["prob_benefit"] > 0.975].iloc[0]
    unmet = rows[rows["prob_benefit"] <= 0.975].iloc[0]
    key = ("trial", "outcome", "month", "arm", "comparator")

    def fragile_with(p_j2r, row):
        rbi = pd.DataFrame(
            [
                {
                    **{c: row[c] for c in key},
                    "strategy": s,
                    "strategy_label": s,
                    "inference": "information_anchored",
                    "missing_share": 0.2,
                    "estimate": 0.1,
                    "lower": 0.0,
                    "upper": 0.2,
                    "smd": 0.2,
                    "prob_benefit": p,
                    "conclusion_holds": p > 0.975,
                    "lower_mcse": 0.0,
                    "upper_mcse": 0.0,
                    "prob_benefit_mcse": 0.0,
                }
                for s, p in (("MAR", row["prob_benefit"]), ("J2R", p_j2r))
            ]
        )
        rbi.to_csv(catalogue.REFERENCE_BASED.path(tables), index=False)
        return narrative.fragility(
            tables, row["trial"], row["outcome"], row["arm"], row["comparator"]
        )

    assert fragile_with(0.90, met) == "decision changes under J2R imputation"
    assert fragile_with(0.99, met) == ""
    assert fragile_with(0.999, unmet) == ""  # not concluded: nothing to overturn
    fragile_with(0.90, met)
    summary = narrative.summary_table(tables)
    flagged = summary[summary["fragile"].fillna("") != ""]
    assert flagged["outcome"].tolist() == [met["outcome"]]
    assert "Fragile:" in narrative.summary_markdown(summary, "full", True)
    glance = narrative.glance_display(summary)
    # the first page's rows (primary or first outcomes) carry no flag: a missing flag is not
    # read as one
    assert not glance["Decision"].str.contains("fragile").any()
