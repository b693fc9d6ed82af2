"""Reading data files: every column as text with its line number; files that cannot be read."""

import hashlib

import pandas as pd
import pytest

from analysis.contract.reading import DataFileError, file_sha256, read_raw

HEADER = "trial,site,patient_id,arm,month,outcome,value\n"
ROW = "consumer_providers,c1,p1,cacm,0,symptoms,1.5\n"


def test_csv_is_read_as_text_with_line_numbers(csv_of):
    df = read_raw(csv_of(HEADER + ROW + ROW.replace("p1", "p2").replace("1.5", "02")))
    assert df["value"].tolist() == ["1.5", "02"]  # not parsed: validation sees the text
    assert df["_row"].tolist() == [2, 3]  # the header is line 1


def test_utf8_bom_is_accepted(csv_of):
    assert read_raw(csv_of(("\ufeff" + HEADER + ROW).encode("utf-8")))["trial"].iloc[0] == (
        "consumer_providers"
    )


def test_parquet_rows_are_numbered_from_one(tmp_path):
    path = tmp_path / "d.parquet"
    pd.DataFrame({"trial": ["a", "b"], "value": [1.5, float("nan")]}).to_parquet(path)
    df = read_raw(path)
    assert df["_row"].tolist() == [1, 2] and df["value"].tolist() == ["1.5", ""]


@pytest.mark.parametrize(
    "content, name, message",
    [
        (None, "missing.csv", "no such file"),
        (HEADER + ROW, "data.txt", "unsupported file type '.txt'"),
        (b"\xff\xfe\x00bad", "data.csv", "not UTF-8"),
        ("  \n", "data.csv", "the file is empty"),
        (HEADER.replace(",", ";") + ROW.replace(",", ";"), "data.csv", "separated by semicolons"),
    ],
)
def test_unreadable_files_are_named_with_the_reason(csv_of, tmp_path, content, name, message):
    path = tmp_path / name if content is None else csv_of(content, name)
    with pytest.raises(DataFileError, match=message) as err:
        read_raw(path)
    assert name in str(err.value)


def test_a_folder_and_an_oversized_file_are_refused(tmp_path, csv_of, monkeypatch):
    with pytest.raises(DataFileError, match="is a directory"):
        read_raw(tmp_path)
    monkeypatch.setenv("TRIALBAYES_MAX_DATA_MB", "0.0001")
    with pytest.raises(DataFileError, match="TRIALBAYES_MAX_DATA_MB"):
        read_raw(csv_of(HEADER + ROW * 50))


def test_sha256_is_of_the_bytes(csv_of):
    path = csv_of(HEADER + ROW)
    assert file_sha256(path) == hashlib.sha256((HEADER + ROW).encode()).hexdigest()
