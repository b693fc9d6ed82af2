"""Reader-facing tables: labels not codes, integers as integers, no index, numbered captions."""

import numpy as np
import pandas as pd

from analysis import figures, registry
from analysis.report import render


def _effects():
    return pd.DataFrame(
        {
            "trial": ["resource_groups", "consumer_providers"],
            "outcome": ["quality_of_life", "symptoms"],
            "month": [18.0, 12.0],
            "arm": ["fact_rg", "cacm"],
            "comparator": ["fact", "ncacm"],
            "estimate": [0.3141, -0.05],
            "prob_benefit": [0.97512, 0.5],
            "true_smd": [np.nan, 0.0],
            "informed": [True, False],
        }
    )


def test_readable_uses_labels_words_and_integers():
    out = figures.readable(_effects())
    assert list(out["Arm"]) == [registry.arm_label("fact_rg"), registry.arm_label("cacm")]
    assert list(out["Comparator"]) == ["FACT as usual", "Non-consumer-assisted case management"]
    assert list(out["Trial"]) == [
        registry.trial_label("resource_groups"),
        registry.trial_label("consumer_providers"),
    ]
    assert list(out["Outcome"]) == ["quality of life", "symptoms"]
    assert list(out["Month"]) == ["18", "12"]  # counts and visits as integers, never 18.0
    assert list(out["Estimate"]) == ["0.31", "−0.05"]  # a true minus sign
    assert list(out["P(benefit)"]) == ["0.975", "0.500"]
    assert list(out["True SMD"]) == ["–", "0"]
    assert list(out["Informed"]) == ["yes", "no"]
    # no raw code survives anywhere in the table
    text = out.to_string()
    for code in ("fact_rg", "cacm", "quality_of_life", "resource_groups"):
        assert code not in text


def test_report_table_has_no_index_and_a_caption():
    html = figures.report_table(_effects(), "Treatment effects", "Units as recorded.").to_html()
    assert "<caption>Table: Treatment effects. Units as recorded.</caption>" in html
    assert "row_heading" not in html  # the index is hidden


def test_renderer_numbers_tables_in_order_and_folds_long_ones():
    tables = render._Tables()
    short = figures.report_table(_effects(), "First").to_html()
    long = figures.report_table(
        pd.DataFrame({"month": range(render.FOLD_ROWS + 5)}), "Second"
    ).to_html()
    a, b = tables(short), tables(long)
    assert "<caption>Table 1. First.</caption>" in a and "<details>" not in a
    assert "Table 2. Second." in b and b.startswith("<details><summary>Table 2.")
    assert f"({render.FOLD_ROWS + 5} rows" in b
    untitled = tables(pd.DataFrame({"x": [1]}).to_html())
    assert "Table 3" not in untitled and tables.n == 2


def test_study_ids_read_as_author_year_in_lists_too():
    from analysis import figures

    df = pd.DataFrame({"study": ["tjaden2021", "lloyd_evans2014"], "includes": ["rivera2007", ""]})
    shown = figures.readable(df)
    assert shown["Study"].tolist() == ["Tjaden et al. 2021", "Lloyd-Evans 2014"]
    assert shown["Includes"].tolist()[0] == "Rivera et al. 2007"
