"""A trial the code has never heard of, declared only by registry rows (kept outside the
repository through ``TRIALBAYES_REGISTRY``), is validated, fitted and planned into the report
with its own section."""

import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest
from conftest import registry_with, using_registry

from analysis import config, registry

TRIAL = "peer_support"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A registry with a third trial (peer support vs usual care) and a data file of it."""
    root = tmp_path_factory.mktemp("newtrial")
    reg = registry_with(
        root,
        {
            "trial": TRIAL,
            "label": "The peer-support trial",
            "source": "assumed",
            "citation": "Doe J, Roe R. Peer support for serious mental illness. 2030",
        },
        [("peer", "Peer support", "false"), ("usual", "Usual care", "true")],
        "0;6;12",
    )
    df = pd.read_csv(config.DEFAULT_DATA)
    d = df[(df["trial"] == "resource_groups") & (df["outcome"] == "empowerment")].copy()
    d["trial"], d["outcome"] = TRIAL, "recovery"
    d["arm"] = d["arm"].map({"fact_rg": "peer", "fact": "usual"})
    d["month"] = d["month"].map({0: 0, 9: 6, 18: 12})
    d["site"] = d["site"].str.replace("team", "site")
    data = root / "peer.csv"
    d.to_csv(data, index=False)
    env = {**os.environ, "TRIALBAYES_REGISTRY": str(reg)}
    return root, reg, data, env


def _cli(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "analysis", *args], capture_output=True, text=True, env=env
    )


def test_validate_knows_the_new_trial(project):
    _, _, data, env = project
    res = _cli(env, "validate", str(data))
    assert res.returncode == 0, res.stderr
    assert "The peer-support trial" in res.stdout and "Usual care" in res.stdout
    assert "Month 12" in res.stdout


def test_an_inconsistent_registry_is_named(project, tmp_path):
    _, reg, data, env = project
    bad = tmp_path / "registry"
    shutil.copytree(reg, bad)
    with open(bad / "arms.csv", "a") as fh:
        fh.write("ghost_trial,x,X,true,,assumed\n")
    res = _cli({**env, "TRIALBAYES_REGISTRY": str(bad)}, "validate", str(data))
    assert res.returncode == 2
    assert "trial 'ghost_trial' is not declared in trials.csv" in res.stderr


def test_the_report_plans_a_section_for_it(project):
    _, reg, data, _ = project
    with using_registry(reg):
        from analysis.report import pipeline, render

        plan = pipeline.plan_run("smoke", data, project[0] / "build", trials={TRIAL})
        names = [s.name for s in plan.steps]
        assert f"02-trial-model-{TRIAL}" in names
        assert not any("resource_groups" in n or "consumer_providers" in n for n in names)
        assert render.section_of(f"02-trial-model-{TRIAL}") == (
            "peer-support",
            "The peer-support trial",
        )
        assert registry.site_slopes(TRIAL) is False  # an empty default, stated in the registry


@pytest.mark.slow
def test_fit_runs_on_the_new_trial(project):
    root, _, data, env = project
    out = root / "fit"
    res = _cli(
        env, "fit", "--trial", TRIAL, "--data", str(data), "--profile", "smoke", "--out", str(out)
    )
    assert res.returncode == 0, res.stderr[-2000:]
    effects = pd.read_csv(out / "tables" / "trial_effects.csv")
    assert set(effects["trial"]) == {TRIAL}
    assert set(zip(effects["arm"], effects["comparator"], strict=True)) == {("peer", "usual")}
    assert sorted(effects["month"].unique()) == [6, 12]


@pytest.fixture(scope="module")
def weeks_project(tmp_path_factory):
    """A trial whose visits are weeks (0, 2 and 6), declared only by registry rows."""
    root = tmp_path_factory.mktemp("weekstrial")
    reg = registry_with(
        root,
        {
            "trial": "brief_therapy",
            "label": "The brief-therapy trial",
            "source": "assumed",
            "citation": "Doe J. Brief therapy for serious mental illness. 2031",
            "time_unit": "weeks",
        },
        [("brief", "Brief therapy", "false"), ("waitlist", "Waiting list", "true")],
        "0;2;6",
    )
    df = pd.read_csv(config.DEFAULT_DATA)
    d = df[(df["trial"] == "resource_groups") & (df["outcome"] == "empowerment")].copy()
    d["trial"], d["outcome"] = "brief_therapy", "recovery"
    d["arm"] = d["arm"].map({"fact_rg": "brief", "fact": "waitlist"})
    d["time"] = d.pop("month").map({0: 0, 9: 2, 18: 6})  # the neutral name of the time column
    data = root / "weeks.csv"
    d.to_csv(data, index=False)
    return root, data, {**os.environ, "TRIALBAYES_REGISTRY": str(reg)}


@pytest.mark.slow
def test_a_weeks_trial_speaks_weeks(weeks_project):
    """Declared with time_unit weeks: validation, the fitted tables and the summary's sentences
    speak of weeks, never of months."""
    root, data, env = weeks_project
    res = _cli(env, "validate", str(data))
    assert res.returncode == 0, res.stderr
    assert "Week 6" in res.stdout and "Month" not in res.stdout
    out = root / "fit"
    res = _cli(
        env,
        "fit",
        "--trial",
        "brief_therapy",
        "--data",
        str(data),
        "--profile",
        "smoke",
        "--out",
        str(out),
    )
    assert res.returncode == 0, res.stderr[-2000:]
    code = (
        "from analysis.report import narrative; import sys; "
        f"s = narrative.summary_table(r'{out}'); "
        "print(narrative.summary_markdown(s, 'smoke', True))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "at week 6" in res.stdout and "month" not in res.stdout.lower(), res.stdout
