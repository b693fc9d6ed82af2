"""Regenerate the bad-input corpus from the embedded simulated data.

Run from the project root: ``.venv/bin/python tests/data/bad/make_corpus.py``. Each file breaks
the data contract in one way; ``cases.csv`` gives the column and the message that the validator
must report for it (tests/test_bad_inputs.py). The huge file and the missing path are made by
the test itself (a huge file does not belong in git).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent
ROOT = HERE.parents[2]


def base() -> pd.DataFrame:
    """A small valid file: 3 patients per arm of the consumer-provider trial."""
    df = pd.read_csv(ROOT / "data" / "simulated" / "trials.csv", dtype=str, keep_default_na=False)
    df = df[df["trial"] == "consumer_providers"]
    first = df.drop_duplicates("patient_id").drop_duplicates(["arm", "site"])  # spread over sites
    keep = first.groupby("arm").head(3)["patient_id"]
    return df[df["patient_id"].isin(keep)].reset_index(drop=True)


def write(name: str, df: pd.DataFrame, **kwargs) -> None:
    df.to_csv(HERE / name, index=False, lineterminator="\n", **kwargs)


def main() -> None:
    b = base()
    write("valid_reference.csv", b)  # the corpus's valid starting point (the test checks it)
    (HERE / "empty.csv").write_text("")
    (HERE / "blank_lines.csv").write_text("\n\n  \n")
    (HERE / "header_only.csv").write_text(",".join(b.columns) + "\n")
    write("semicolon_delimiter.csv", b, sep=";")
    write("tab_delimiter.csv", b, sep="\t")
    write("missing_column.csv", b.drop(columns=["value"]))
    write("extra_column.csv", b.assign(favourite_colour="blue"))
    write("month_text.csv", b.assign(month=b["month"].where(b.index != 3, "baseline")))
    write("month_fraction.csv", b.assign(month=b["month"].where(b.index != 4, "6.5")))
    write("value_text.csv", b.assign(value=b["value"].where(b.index != 5, "n/a")))
    write("value_nan.csv", b.assign(value=b["value"].where(b.index != 6, "NaN")))
    write("value_infinity.csv", b.assign(value=b["value"].where(b.index != 7, "inf")))
    write("unknown_trial.csv", b.assign(trial=b["trial"].where(b.index != 2, "trial_x")))
    write(
        "unknown_arm.csv",
        b.assign(arm=b["arm"].where(b["patient_id"] != b["patient_id"][0], "placebo")),
    )
    write("unknown_outcome.csv", b.assign(outcome=b["outcome"].where(b.index != 8, "happiness")))
    write("unknown_visit.csv", b.assign(month=b["month"].where(b.index != 9, "7")))
    qol = b.index[b["outcome"] == "quality_of_life"][0]
    write("value_out_of_range.csv", b.assign(value=b["value"].where(b.index != qol, "99")))
    write("duplicate_rows.csv", pd.concat([b, b.iloc[[10, 11]]]))
    p0 = b["patient_id"][0]
    other_arm = next(a for a in b["arm"].unique() if a != b["arm"][0])
    rows = b.index[b["patient_id"] == p0]
    write("patient_in_two_arms.csv", b.assign(arm=b["arm"].where(b.index != rows[-1], other_arm)))
    other_site = next(s for s in b["site"].unique() if s != b["site"][0])
    write(
        "patient_in_two_sites.csv", b.assign(site=b["site"].where(b.index != rows[-1], other_site))
    )
    one_arm = b["arm"].unique()[0]
    write("one_arm_trial.csv", b[b["arm"] == one_arm])
    lone = b.drop_duplicates("patient_id").groupby("arm")["patient_id"].first()
    keep = b["arm"].ne(one_arm) | b["patient_id"].eq(lone[one_arm])
    write("arm_with_one_patient.csv", b[keep])
    write("empty_cell.csv", b.assign(site=b["site"].where(b.index != 12, "")))
    text = (HERE / "valid_reference.csv").read_text()
    (HERE / "not_utf8.csv").write_bytes(text.replace("clinic", "clínic", 1).encode("latin-1"))
    (HERE / "wrong_extension.txt").write_text(text)
    (HERE / "unbalanced_quote.csv").write_text(text.replace("\n", '\n"', 3))
    (HERE / "not_parquet.parquet").write_bytes(b"PAR1 this is not parquet at all")
    typed = b.copy()
    typed["month"] = typed["month"].where(typed.index != 1, "zero")
    typed["value"] = pd.to_numeric(typed["value"]).astype("float32")
    typed.loc[2, "value"] = float("nan")
    typed.to_parquet(HERE / "wrong_dtypes.parquet", index=False)
    # files the way trial teams keep them (issue 16): each gets a message saying how to fix it
    wide = b.pivot_table(
        index=["patient_id", "site", "arm"],
        columns=["outcome", "month"],
        values="value",
        aggfunc="first",
    )
    wide.columns = [f"{o}_t{m}" for o, m in wide.columns]
    write("wide_file.csv", wide.reset_index().rename(columns={"patient_id": "id", "site": "team"}))
    labels = {"cacm": "Consumer-assisted", "ncacm": "Non-consumer-assisted", "standard": "Usual"}
    write("arm_labels.csv", b.assign(arm=b["arm"].map(labels)))
    write("decimal_comma.csv", b.assign(value=b["value"].where(b.index != 5, "3,55")))
    write("missing_code.csv", b.assign(value=b["value"].where(b.index != 6, "-99")))
    write("visit_labels.csv", b.assign(month="T" + b["month"]))
    (HERE / "corrupt.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    (HERE / "corrupt.sav").write_bytes(b"$FL2 not really an SPSS file")
    (HERE / "corrupt.dta").write_bytes(b"<stata_dta> not really a Stata file")
    (HERE / "corrupt.sas7bdat").write_bytes(b"\x00" * 32 + b" not really a SAS data set")
    (HERE / "corrupt.xpt").write_bytes(b"HEADER RECORD*******LIBRARY not really a transport file")
    (HERE / "old_excel.xls").write_bytes(b"\xd0\xcf\x11\xe0 old excel")
    (HERE / "a_directory.csv").mkdir(exist_ok=True)
    (HERE / "a_directory.csv" / ".gitkeep").write_text("")


if __name__ == "__main__":
    main()
