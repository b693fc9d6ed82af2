"""The bad-input corpus (tests/data/bad/): every file is rejected with exit code 2, a message
naming the column (and rows), no traceback, and nothing written to the output folder."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from analysis import cli

BAD = Path(__file__).parent / "data" / "bad"
CASES = pd.read_csv(BAD / "cases.csv")


@pytest.fixture(scope="module")
def huge(tmp_path_factory):
    """A 2 MB file against a 1 MB limit (a huge file does not belong in git)."""
    path = tmp_path_factory.mktemp("huge") / "huge.csv"
    row = "consumer_providers,clinic1,cp-0001,cacm,0,symptoms,1.0\n"
    path.write_text("trial,site,patient_id,arm,month,outcome,value\n" + row * 40_000)
    return path


def _path(name, huge):
    return huge if name == "huge.csv" else BAD / name


def test_corpus_is_complete():
    assert len(CASES) >= 25 and CASES["file"].is_unique
    on_disk = {p.name for p in BAD.iterdir()} - {
        "cases.csv",
        "make_corpus.py",
        "valid_reference.csv",
    }
    listed = set(CASES["file"]) - {"does_not_exist.csv", "huge.csv"}
    assert on_disk == listed
    # the corpus is built from a valid file, so each file breaks exactly what it says
    assert cli.main(["validate", str(BAD / "valid_reference.csv")]) == 0


@pytest.mark.parametrize("case", CASES.to_dict("records"), ids=list(CASES["file"]))
def test_bad_file_is_rejected_with_column_and_rows(case, huge, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("TRIALBAYES_MAX_DATA_MB", "1")
    path = _path(case["file"], huge)
    assert cli.main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert case["message"] in err, err
    assert "Traceback" not in err
    if case["column"] != "(file)":
        assert f"column '{case['column']}'" in err
    assert str(path.name) in err  # the file is named
    # the report refuses it before touching the output folder
    out = tmp_path / "reports"
    assert cli.main(["report", "--profile", "smoke", "--data", str(path), "--out", str(out)]) == 2
    assert not out.exists()


def test_rejection_from_the_command_line_has_no_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "analysis", "validate", str(BAD / "value_nan.csv")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "column 'value'" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["fit", "--trial", "resource_groups", "--draws", "-5", "--out", "{out}"],
            "draws must be a positive integer",
        ),
        (
            ["fit", "--trial", "resource_groups", "--chains", "0", "--out", "{out}"],
            "chains must be a positive integer",
        ),
        (["report", "--profile", "turbo", "--out", "{out}"], "unknown profile 'turbo'"),
        (
            [
                "synthesize",
                "--evidence",
                "data/published/trials.csv",
                "--bridge-mean",
                "0",
                "--bridge-sd",
                "0",
                "--out",
                "{out}",
            ],
            "--bridge-sd must be a positive number",
        ),
        (["synthesize", "--evidence", "{missing}", "--out", "{out}"], "no such evidence file"),
        (
            ["synthesize", "--evidence", str(BAD / "not_utf8.csv"), "--out", "{out}"],
            "not a readable CSV",
        ),
        (["bench", "--sizes", "ten/2", "--out", "{out}"], "--sizes"),
        (["design", "--patients", "0", "--out", "{out}"], "patients"),
        (["sbc", "--replicates", "0", "--out", "{out}"], "replicates"),
    ],
)
def test_bad_parameters_are_rejected_before_any_work(argv, message, tmp_path, capsys):
    out = tmp_path / "out"
    argv = [a.format(out=out, missing=tmp_path / "missing.csv") for a in argv]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert not out.exists()


def test_bad_profile_parameters_are_rejected_before_any_notebook_runs(
    tmp_path, monkeypatch, capsys
):
    from analysis import config

    params = tmp_path / "params"
    params.mkdir()
    (params / "bad.yaml").write_text(
        "steps:\n"
        "  - notebook: 02-trial-model\n    parameters: {draws: -10, chians: 2}\n"
        "  - notebook: 03-synthesis\n    parameters: {bridge_sd: 0.0, evidence_file: nope.csv}\n"
    )
    monkeypatch.setattr(config, "PARAMS", params)
    out = tmp_path / "reports"
    assert cli.main(["report", "--profile", "bad", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    for text in (
        "'draws' must be at least 1",
        "'chians' is not a parameter",
        "'bridge_sd' must be a positive number",
        "cannot use the evidence file",
    ):
        assert text in err, err
    assert not out.exists(), sorted(out.rglob("*"))  # nothing created, not even the folder
