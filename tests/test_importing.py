"""``analysis import``: a trial team's wide or differently labelled file (CSV, Excel, SPSS,
Stata) becomes the data contract through a map, and the round trip loses nothing."""

import subprocess
import sys

import pandas as pd
import pytest

from analysis import cli, config
from analysis.contract import importing
from analysis.contract.reading import DataFileError
from analysis.contract.validate import ValidationError, attendance_summary

ARMS = {"fact_rg": "FACT+RG", "fact": "FACT"}
STEMS = {"empowerment": "nel", "quality_of_life": "mansa"}


@pytest.fixture(scope="module")
def long_reference():
    df = pd.read_csv(config.DEFAULT_DATA)
    return df[(df["trial"] == "resource_groups") & df["outcome"].isin(list(STEMS))]


@pytest.fixture(scope="module")
def wide(long_reference):
    """The reference data as a trial team keeps them: one row per patient, a column per
    outcome and visit, arms as labels, -99 for a missed visit."""
    w = long_reference.pivot_table(
        index=["patient_id", "site", "arm"], columns=["outcome", "month"], values="value"
    )
    w.columns = [f"{STEMS[o]}_t{m}" for o, m in w.columns]
    w = w.reset_index().rename(columns={"patient_id": "id", "site": "team", "arm": "group"})
    w["group"] = w["group"].map(ARMS)
    return w.fillna(-99)


def _write(wide, path):
    if path.suffix == ".csv":
        wide.to_csv(path, index=False)
    elif path.suffix == ".xlsx":
        wide.to_excel(path, index=False, sheet_name="trial data")
    elif path.suffix == ".sav":
        import pyreadstat

        coded = wide.assign(group=wide["group"].map({"FACT+RG": 1, "FACT": 2}))
        pyreadstat.write_sav(
            coded, str(path), variable_value_labels={"group": {1: "FACT+RG", 2: "FACT"}}
        )
    elif path.suffix == ".dta":
        wide.to_stata(path, write_index=False)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".sav", ".dta"])
def test_wide_file_round_trips_through_an_initialised_map(suffix, wide, long_reference, tmp_path):
    src = tmp_path / f"team_file{suffix}"
    _write(wide, src)
    assert cli.main(["import", str(src), "--init"]) == 0
    map_path = tmp_path / "team_file.map.yaml"
    spec = importing.load_map(map_path)
    # the template's guesses are right for this file: nothing to edit
    assert spec["trial"] == "resource_groups" and spec["missing"] == [-99]
    assert spec["arm"]["labels"] == {"FACT+RG": "fact_rg", "FACT": "fact"}
    assert {e["outcome"] for e in spec["wide"]} == set(STEMS)
    out = tmp_path / "long.csv"
    assert cli.main(["import", str(src), "--map", str(map_path), "--out", str(out)]) == 0
    got = pd.read_csv(out)
    key = ["patient_id", "month", "outcome"]
    merged = long_reference.merge(got, on=key, suffixes=("", "_imported"), how="outer")
    assert len(merged) == len(long_reference) == len(got)  # no row lost, none invented
    assert (merged["arm"] == merged["arm_imported"]).all()
    assert (merged["site"] == merged["site_imported"]).all()
    assert (merged["value"] - merged["value_imported"]).abs().max() < 1e-5


def test_long_file_with_labels_and_decimal_commas(long_reference, tmp_path):
    src = tmp_path / "long_dutch.csv"
    d = long_reference.assign(
        arm=long_reference["arm"].map({"fact_rg": "FACT+herstelgroep", "fact": "FACT"}),
        month="T" + long_reference["month"].astype(str),
        value=long_reference["value"].map(lambda v: f"{v:.6f}".replace(".", ",")),
    ).drop(columns="trial")
    d.to_csv(src, index=False, sep=",")
    spec = tmp_path / "map.yaml"
    spec.write_text(
        "decimal: ','\ntrial: resource_groups\npatient_id: {column: patient_id}\n"
        "site: {column: site}\narm: {column: arm, labels: {FACT+herstelgroep: fact_rg, FACT: fact}}\n"
        "outcome: {column: outcome}\nmonth: {column: month, labels: {T0: 0, T9: 9, T18: 18}}\n"
        "value: {column: value}\n"
    )
    out, typed = importing.import_file(src, spec, tmp_path / "out.csv")
    assert len(typed) == len(long_reference)
    assert abs(typed["value"].sum() - long_reference["value"].sum()) < 1e-3


def test_a_map_naming_an_absent_column_exits_2_and_writes_nothing(wide, tmp_path, capsys):
    src = tmp_path / "w.csv"
    _write(wide, src)
    spec = tmp_path / "map.yaml"
    spec.write_text(
        "trial: resource_groups\npatient_id: {column: patient}\nsite: {column: team}\n"
        "arm: {column: group}\nwide: [{pattern: 'nel_t(?P<month>\\d+)', outcome: empowerment}]\n"
    )
    out = tmp_path / "out.csv"
    assert cli.main(["import", str(src), "--map", str(spec), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "'patient_id' names column 'patient', which the file does not have" in err
    assert "nothing was written" in err and not out.exists()


def test_unmapped_labels_are_reported_against_the_source_file(wide, tmp_path):
    src = tmp_path / "w.csv"
    _write(wide, src)
    spec = tmp_path / "map.yaml"
    spec.write_text(
        "missing: [-99]\ntrial: resource_groups\npatient_id: {column: id}\nsite: {column: team}\n"
        "arm: {column: group}\nwide: [{pattern: 'nel_t(?P<month>\\d+)', outcome: empowerment}]\n"
    )
    with pytest.raises(ValidationError, match="'FACT\\+RG' -> 'fact_rg'"):
        importing.import_file(src, spec, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def test_excel_wrong_sheet_and_corrupt_workbook(wide, tmp_path):
    src = tmp_path / "w.xlsx"
    _write(wide, src)
    with pytest.raises(DataFileError, match=r"no sheet 'Blad1'; the workbook has \['trial data'\]"):
        importing.init_map(src, sheet="Blad1")
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataFileError, match="not a readable Excel workbook"):
        importing.init_map(bad)


def test_validate_and_report_accept_excel(long_reference, tmp_path):
    src = tmp_path / "contract.xlsx"
    long_reference.to_excel(src, index=False)
    res = subprocess.run(
        [sys.executable, "-m", "analysis", "validate", str(src)], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    assert "158 patients" in res.stdout and "FACT plus resource group" in res.stdout


def test_attendance_summary_counts_patients_per_visit(long_reference):
    table = attendance_summary(long_reference).set_index("Arm")
    for arm, g in long_reference.groupby("arm"):
        row = table.loc[{"fact_rg": "FACT plus resource group", "fact": "FACT as usual"}[arm]]
        n = g["patient_id"].nunique()
        assert row["Patients"] == n
        seen = g.loc[g["month"] == 18, "patient_id"].nunique()
        assert row["Month 18"] == f"{seen} ({100 * (1 - seen / n):.0f}% missing)"


def _adam(long_reference):
    """The reference data as a CDISC ADaM BDS data set: one row per post-baseline visit, the
    baseline value beside it (BASE), change (CHG), numeric treatment codes (TRT01PN), visit
    numbers (AVISITN) and parameter codes (PARAMCD)."""
    wide = long_reference.pivot_table(
        index=["patient_id", "site", "arm", "outcome"], columns="month", values="value"
    ).reset_index()
    rows = []
    for r in wide.itertuples(index=False):
        base = r._4  # month 0
        for month, col in ((9, "_5"), (18, "_6")):
            aval = getattr(r, col)
            if pd.isna(aval):
                continue
            rows.append(
                {
                    "USUBJID": r.patient_id,
                    "SITEID": r.site,
                    "TRT01PN": 1.0 if r.arm == "fact_rg" else 2.0,
                    "PARAMCD": STEMS[r.outcome].upper(),
                    "AVISITN": float(month),
                    "AVAL": aval,
                    "BASE": base,
                    "CHG": aval - base if pd.notna(base) else float("nan"),
                }
            )
    return pd.DataFrame(rows)


def test_adam_transport_file_round_trips_with_its_baseline_column(long_reference, tmp_path):
    """A SAS transport file (.xpt) in ADaM's layout: --init recognises the ADaM names, the
    map's baseline entry turns BASE into the time-0 rows, numeric codes match numeric labels,
    and the import equals the reference data (patients whose baseline was their only visit
    have no post-baseline row to carry it, and are left out)."""
    import pyreadstat

    src = tmp_path / "adeff.xpt"
    pyreadstat.write_xport(_adam(long_reference), str(src))
    text = importing.init_map(src)
    for line in ("patient_id: {column: USUBJID}", "site: {column: SITEID}", "column: TRT01PN"):
        assert line in text, text
    assert "column: AVISITN" in text and "value: {column: AVAL}" in text
    assert "baseline: {column: BASE}" in text and "outcome: {column: PARAMCD}" in text
    map_path = tmp_path / "adeff.map.yaml"
    map_path.write_text(
        "trial: resource_groups\n"
        "patient_id: {column: USUBJID}\nsite: {column: SITEID}\n"
        "arm: {column: TRT01PN, labels: {1: fact_rg, 2: fact}}\n"
        "outcome: {column: PARAMCD, labels: {NEL: empowerment, MANSA: quality_of_life}}\n"
        "time: {column: AVISITN}\nvalue: {column: AVAL}\nbaseline: {column: BASE}\n"
    )
    out, typed = importing.import_file(src, map_path, tmp_path / "long.csv")
    ref = long_reference
    followed = set(ref.loc[ref["month"] > 0, "patient_id"])
    expected = ref[ref["patient_id"].isin(followed)]
    key = ["patient_id", "outcome", "month"]
    got = typed.sort_values(key).reset_index(drop=True)
    want = expected.sort_values(key).reset_index(drop=True)
    assert len(got) == len(want)
    assert (
        got[key + ["arm", "site"]].astype(str).values
        == want[key + ["arm", "site"]].astype(str).values
    ).all()
    assert got["value"].to_numpy() == pytest.approx(want["value"].to_numpy())


def test_a_baseline_that_differs_between_rows_is_refused(long_reference, tmp_path):
    import pyreadstat

    adam = _adam(long_reference)
    first = adam.index[adam.duplicated(["USUBJID", "PARAMCD"], keep=False)][0]
    adam.loc[first, "BASE"] = adam.loc[first, "BASE"] + 1
    src = tmp_path / "adeff.xpt"
    pyreadstat.write_xport(adam, str(src))
    map_path = tmp_path / "m.yaml"
    map_path.write_text(
        "trial: resource_groups\npatient_id: USUBJID\nsite: SITEID\n"
        "arm: {column: TRT01PN, labels: {1: fact_rg, 2: fact}}\n"
        "outcome: {column: PARAMCD, labels: {NEL: empowerment, MANSA: quality_of_life}}\n"
        "month: AVISITN\nvalue: AVAL\nbaseline: BASE\n"
    )
    with pytest.raises(importing.MapError, match="'baseline' column 'BASE' differs"):
        importing.import_file(src, map_path, tmp_path / "long.csv")
    assert not (tmp_path / "long.csv").exists()


def test_sas7bdat_in_adam_layout_imports_with_init_and_its_baseline_column(tmp_path):
    """A SAS data set written by SAS's own format (haven, scripts/make_sas_fixture.R): the
    ADaM names are recognised, the labels in the map translate the treatment, BASE becomes the
    time-0 rows, and the import equals the data the fixture was written from."""
    src = config.ROOT / "tests" / "data" / "sas" / "adeff.sas7bdat"
    text = importing.init_map(src)
    assert "patient_id: {column: USUBJID}" in text and "baseline: {column: BASE}" in text
    assert "column: TRT01P" in text and "column: AVISITN" in text
    map_path = tmp_path / "adeff.map.yaml"
    map_path.write_text(
        "trial: resource_groups\npatient_id: USUBJID\nsite: SITEID\n"
        "arm: {column: TRT01P, labels: {FACT plus resource group: fact_rg, "
        "FACT as usual: fact}}\n"
        "outcome: {column: PARAMCD, labels: {NEL: empowerment}}\n"
        "time: AVISITN\nvalue: AVAL\nbaseline: BASE\n"
    )
    _, typed = importing.import_file(src, map_path, tmp_path / "long.csv")
    want = pd.read_csv(src.with_name("adeff_expected.csv"))
    key = ["patient_id", "month"]
    got = typed.sort_values(key).reset_index(drop=True)
    want = want.sort_values(key).reset_index(drop=True)
    assert list(got["patient_id"]) == list(want["patient_id"])
    assert list(got["month"]) == list(want["month"]) and list(got["arm"]) == list(want["arm"])
    assert got["value"].to_numpy() == pytest.approx(want["value"].to_numpy())
