"""Validation: every rule names the column and rows; valid data pass."""

import pandas as pd
import pytest

from analysis.contract.reading import DataFileError
from analysis.contract.validate import ValidationError, validate_file, validate_frame


@pytest.fixture(scope="module")
def good():
    from analysis import config

    return pd.read_csv(config.DEFAULT_DATA, dtype=str, keep_default_na=False)


def problems_of(path):
    with pytest.raises(ValidationError) as info:
        validate_file(path)
    return info.value


def test_valid_file_passes_and_is_typed(good, csv_of):
    df = validate_file(csv_of(good))
    assert df["month"].dtype.kind == "i" and df["value"].dtype.kind == "f"
    assert len(df) == len(good)


def test_valid_parquet_passes(good, tmp_path):
    path = tmp_path / "d.parquet"
    typed = good.assign(month=good["month"].astype(int), value=good["value"].astype(float))
    typed.to_parquet(path)
    assert len(validate_file(path)) == len(good)


def test_missing_column_is_named(good, csv_of):
    err = problems_of(csv_of(good.drop(columns="site")))
    assert "column 'site': required column(s) missing" in str(err)


def test_unknown_arm_names_column_value_and_line(good, csv_of):
    bad = good.copy()
    bad.loc[4, "arm"] = "placebo"
    msg = str(problems_of(csv_of(bad)))
    assert "column 'arm': unknown arm" in msg and "'placebo'" in msg and "line: 6" in msg


def test_out_of_range_value(good, csv_of):
    bad = good.copy()
    row = bad.index[(bad["outcome"] == "empowerment")][0]
    bad.loc[row, "value"] = "7.5"
    msg = str(problems_of(csv_of(bad)))
    assert (
        "column 'value': outside the range of empowerment (1 to 5)" in msg
        and f"line: {row + 2}" in msg
    )


def test_bad_types_and_non_finite(good, csv_of):
    bad = good.copy()
    bad.loc[0, "month"] = "nine"
    bad.loc[1, "value"] = "inf"
    bad.loc[2, "value"] = "NaN"
    msg = str(problems_of(csv_of(bad)))
    assert (
        "column 'month': not a whole number (the visit time in the trial's unit): got 'nine' (1 line: 2)"
        in msg
    )
    assert "column 'value': not a finite number" in msg and "(2 lines: 3, 4)" in msg


def test_duplicate_rows(good, csv_of):
    bad = pd.concat([good, good.iloc[[10]]])
    msg = str(problems_of(csv_of(bad)))
    assert "duplicate patient x month x outcome" in msg and "12" in msg


def test_patient_in_two_arms_and_two_sites(good, csv_of):
    bad = good.copy()
    pid = bad.loc[0, "patient_id"]
    first = bad.index[bad["patient_id"] == pid][0]
    bad.loc[first, "arm"] = "fact_rg" if bad.loc[first, "arm"] == "fact" else "fact"
    bad.loc[first, "site"] = "team-99"
    err = problems_of(csv_of(bad))
    rules = {(p.column, p.rule) for p in err.problems}
    assert ("arm", "patient recorded in more than one arm") in rules
    assert ("site", "patient recorded in more than one site") in rules


def test_unknown_visit_is_reported_and_a_missing_baseline_is_not(good, csv_of):
    bad = good.copy()
    base = bad.index[(bad["month"] == "0")][0]
    bad.loc[base, "month"] = "6"
    err = problems_of(csv_of(bad))
    rules = {(p.column, p.rule) for p in err.problems}
    assert ("month", "visit not in the registry for this trial and outcome") in rules
    assert not any("baseline" in rule for _, rule in rules)  # the randomised set stays


def test_every_problem_reported_at_once(good, csv_of):
    bad = good.copy()
    bad.loc[3, "trial"] = "other_trial"
    bad.loc[5, "outcome"] = "happiness"
    bad["extra"] = "x"
    err = problems_of(csv_of(bad))
    cols = {p.column for p in err.problems}
    assert {"trial", "outcome", "extra"} <= cols


def test_one_arm_trial_and_single_patient_arm(good, csv_of):
    cp = good[good["trial"] == "consumer_providers"]
    one_arm = cp[cp["arm"] == "cacm"]
    err = problems_of(csv_of(one_arm))
    assert any("has only one arm" in p.rule for p in err.problems)
    keep = cp[cp["arm"] != "cacm"]
    lone = cp[cp["patient_id"] == cp[cp["arm"] == "cacm"]["patient_id"].iloc[0]]
    err = problems_of(csv_of(pd.concat([keep, lone])))
    assert any("'cacm'" in p.rule and "only 1 patient" in p.rule for p in err.problems)


@pytest.mark.parametrize(
    "content,needle",
    [
        ("", "the file is empty"),
        ("trial,site,patient_id,arm,month,outcome,value\n", "header but no data rows"),
        (b"trial,site,patient_id,arm,month,outcome,value\nresource_groups,t\xe9am\n", "not UTF-8"),
    ],
)
def test_unreadable_files(csv_of, content, needle):
    with pytest.raises((DataFileError, ValidationError), match=needle):
        validate_file(csv_of(content))


def test_semicolon_delimited_file_is_rejected_naming_the_delimiter(good, tmp_path):
    path = tmp_path / "semi.csv"
    good.head(20).to_csv(path, index=False, sep=";")
    with pytest.raises(DataFileError, match="separated by semicolons, not commas"):
        validate_file(path)


def test_missing_path_directory_and_extension(tmp_path):
    with pytest.raises(DataFileError, match="no such file"):
        validate_file(tmp_path / "nope.csv")
    with pytest.raises(DataFileError, match="is a directory"):
        validate_file(tmp_path)
    (tmp_path / "d.odt").write_text("x")
    with pytest.raises(DataFileError, match="unsupported file type"):
        validate_file(tmp_path / "d.odt")


def test_a_patient_without_baseline_stays_in_the_randomised_set(default_data):
    """No baseline value is not an error: the patient validates, is counted as randomised in
    the flow and enters the constrained model with the visits attended."""
    from analysis.contract.describe import participant_flow
    from analysis.trialmodel.model import model_data, prepare_trial_data

    df = default_data[default_data["trial"] == "resource_groups"]
    pid = df["patient_id"].iloc[0]
    without = df[~((df["patient_id"] == pid) & (df["month"] == 0))]
    typed = validate_frame(without.astype(str).assign(_row=range(2, len(without) + 2)), "test")
    flow = participant_flow(typed)
    arm = df.loc[df["patient_id"] == pid, "arm"].iloc[0]
    row = flow[(flow["arm"] == arm) & (flow["month"] == 0)].iloc[0]
    assert row["randomised"] == row["assessed"] + 1
    data = prepare_trial_data(typed, "resource_groups", "empowerment")
    assert pid in data.patients and not data.mask[data.patients.index(pid), 0]
    values = model_data(data)
    assert (
        sum(
            pid_row in values[k]
            for k in values
            if k.startswith("rows_")
            for pid_row in [data.patients.index(pid)]
        )
        == 1
    )
