import numpy as np
import pandas as pd
from scipy import stats

from analysis.contract import describe


def test_flow_counts_patients_per_arm_and_visit(default_data):
    flow = describe.participant_flow(default_data)
    rg = flow[flow["trial"] == "resource_groups"].set_index(["arm", "month"])
    assert rg.loc[("fact_rg", 0), "randomised"] == 80
    assert rg.loc[("fact_rg", 0), "assessed"] == 80
    manual = default_data.query("trial == 'resource_groups' and arm == 'fact' and month == 18")
    assert rg.loc[("fact", 18), "assessed"] == manual["patient_id"].nunique()


def test_observed_means_interval_matches_t_interval(default_data):
    means = describe.observed_means(default_data)
    row = means.query("outcome == 'empowerment' and arm == 'fact' and month == 9").iloc[0]
    v = default_data.query("outcome == 'empowerment' and arm == 'fact' and month == 9")["value"]
    lo, hi = stats.t.interval(0.95, len(v) - 1, loc=v.mean(), scale=stats.sem(v))
    assert np.isclose(row["lower"], lo) and np.isclose(row["upper"], hi)


def test_small_cells_are_suppressed():
    df = pd.DataFrame(
        {
            "trial": "resource_groups",
            "site": "t1",
            "patient_id": [f"p{i}" for i in range(4)],
            "arm": "fact",
            "month": 0,
            "outcome": "empowerment",
            "value": [3.0, 3.5, 2.5, 4.0],
        }
    )
    means = describe.observed_means(df)
    assert means["mean"].isna().all() and means["n"].iloc[0] == 4
    base = describe.baseline_table(df)
    assert (base.loc[base["characteristic"].str.startswith("empowerment"), "summary"] == "<5").all()


def test_missingness_counts_absent_visits(default_data):
    miss = describe.missingness(default_data)
    row = miss.query(
        "trial == 'resource_groups' and outcome == 'empowerment' and arm == 'fact' and month == 18"
    ).iloc[0]
    seen = default_data.query(
        "trial == 'resource_groups' and outcome == 'empowerment' and arm == 'fact' and month == 18"
    )["patient_id"].nunique()
    assert row["missing"] == 78 - seen
    assert (miss.query("month == 0")["missing"] == 0).all()
