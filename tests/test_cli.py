"""The command line: exit codes and messages; bad input touches nothing in reports/."""

import subprocess
import sys

import pandas as pd

from analysis import catalogue, config


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
    assert "column 'arm': required column(s) missing" in res.stderr
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


def test_synthesize_runs_on_any_evidence_file(tmp_path):
    ev = tmp_path / "ev.csv"
    ev.write_text(
        "study,outcome,treatment,comparator,estimate,se\n"
        "s1,qol,x,y,0.3,0.1\ns2,qol,x,y,0.1,0.15\ns3,qol,z,y,-0.2,0.2\n"
    )
    res = run("synthesize", "--evidence", str(ev), "--draws", "2000", "--out", str(tmp_path / "o"))
    assert res.returncode == 0, res.stderr
    league = pd.read_csv(tmp_path / "o" / "tables" / "synthesis_effects.csv")
    assert len(league) == 6 and set(league["treatment"]) == {"x", "y", "z"}
    assert list(league.columns) == list(catalogue.SYNTHESIS_EFFECTS.columns)
    assert (
        league["predictive_upper"] - league["predictive_lower"] >= league["upper"] - league["lower"]
    ).all()
    assert (tmp_path / "o" / "tables" / "heterogeneity.csv").exists()


def test_synthesize_rejects_bad_evidence_and_bad_priors(tmp_path):
    ev = tmp_path / "ev.csv"
    ev.write_text("study,outcome,treatment,comparator,estimate\ns1,qol,x,y,0.3\n")
    res = run("synthesize", "--evidence", str(ev), "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and "missing column(s) ['se']" in res.stderr
    res = run(
        "synthesize",
        "--evidence",
        str(config.PUBLISHED / "external.csv"),
        "--bridge-mean",
        "0",
        "--bridge-sd",
        "0",
        "--out",
        str(tmp_path / "o"),
    )
    assert res.returncode == 2 and "--bridge-sd must be a positive number" in res.stderr
    res = run("synthesize", "--evidence", str(tmp_path / "none.csv"), "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and "no such evidence file" in res.stderr


def test_synthesize_on_a_foreign_network(tmp_path):
    ev = tmp_path / "ev.csv"
    ev.write_text(
        "study,outcome,treatment,comparator,estimate,se\n"
        "s1,qol,drug,placebo,0.3,0.1\ns2,qol,drug,placebo,0.2,0.1\ns3,qol,aaa,drug,0.1,0.2\n"
    )
    res = run("synthesize", "--evidence", str(ev), "--out", str(tmp_path / "o"))
    assert res.returncode == 0, res.stderr
    assert "qol: reference drug" in res.stdout  # most connected, not alphabetical ('aaa')
    het = pd.read_csv(tmp_path / "o" / "tables" / "heterogeneity.csv")
    assert het["reference"].tolist() == ["drug"]
    res = run(
        "synthesize", "--evidence", str(ev), "--reference", "placebo", "--out", str(tmp_path / "p")
    )
    assert res.returncode == 0 and "qol: reference placebo" in res.stdout
    league = pd.read_csv(tmp_path / "p" / "tables" / "synthesis_effects.csv")
    assert set(league["treatment"]) == {"drug", "placebo", "aaa"}  # no fact, fact_rg nodes
    res = run(
        "synthesize",
        "--evidence",
        str(ev),
        "--bridge-mean",
        "0",
        "--bridge-sd",
        "0.25",
        "--out",
        str(tmp_path / "q"),
    )
    assert res.returncode == 2 and "drop the bridge flags" in res.stderr
    assert not (tmp_path / "q").exists()
    res = run(
        "synthesize", "--evidence", str(ev), "--tau-prior-scale", "-1", "--out", str(tmp_path / "r")
    )
    assert res.returncode == 2 and "--tau-prior-scale must be a positive number" in res.stderr
    assert "tau_scale" not in res.stderr


def test_synthesize_refuses_a_study_counted_twice_unless_told(tmp_path):
    ev = tmp_path / "ev.csv"
    ev.write_text(
        "study,outcome,treatment,comparator,estimate,se,kind,includes\n"
        "r,sym,cacm,standard,0.1,0.2,study,\nr,sym,ncacm,standard,0.0,0.2,study,\n"
        "p,sym,cacm,ncacm,0.24,0.15,pooled,r;q\n"
    )
    res = run("synthesize", "--evidence", str(ev), "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and "'r' enters twice" in res.stderr and "line 4" in res.stderr
    res = run(
        "synthesize",
        "--evidence",
        str(ev),
        "--overlap",
        "prefer-study",
        "--out",
        str(tmp_path / "o"),
    )
    assert res.returncode == 0 and "not counted twice: p (sym) left out" in res.stdout


def test_recovery_refuses_too_few_seeds(capsys):
    from analysis.cli import main

    assert main(["recovery", "--seeds", "1"]) == 2
    assert "--seeds must be at least 2" in capsys.readouterr().err
