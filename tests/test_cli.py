"""The command line: exit codes and messages; bad input touches nothing in reports/."""

import subprocess
import sys

import pandas as pd

from analysis import config


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "analysis", *args],
        capture_output=True,
        text=True,
        cwd=cwd or config.ROOT,
        check=False,
    )


def test_validate_accepts_default_data():
    res = run("validate", str(config.DEFAULT_DATA))
    assert res.returncode == 0, res.stderr
    assert "valid" in res.stdout


def test_validate_rejects_bad_file_with_exit_2_and_no_traceback(tmp_path):
    df = pd.read_csv(config.DEFAULT_DATA, dtype=str).drop(columns="arm")
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    res = run("validate", str(path))
    assert res.returncode == 2
    assert "column 'arm': required column is missing" in res.stderr
    assert str(path) in res.stderr and "Traceback" not in res.stderr


def test_report_with_bad_data_or_profile_exits_2_before_touching_reports(tmp_path):
    out = tmp_path / "out"
    res = run("report", "--data", str(tmp_path / "missing.csv"), "--out", str(out))
    assert res.returncode == 2 and "no such file" in res.stderr
    res = run("report", "--profile", "medium", "--out", str(out))
    assert res.returncode == 2 and "unknown profile 'medium'" in res.stderr
    assert not out.exists()
    assert not list(tmp_path.glob(".build-*"))


def test_unknown_subcommand_exits_2():
    assert run("frobnicate").returncode == 2
