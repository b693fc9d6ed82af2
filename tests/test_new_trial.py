"""A trial the code has never heard of, declared only by registry rows (kept outside the
repository through ``TRIALBAYES_REGISTRY``), is validated, fitted and planned into the report
with its own section."""

import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import default_as_trial, registry_with, using_registry

from analysis import config, registry, rules

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
    d = default_as_trial(TRIAL, {"fact_rg": "peer", "fact": "usual"}, {0: 0, 9: 6, 18: 12})
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
    d = default_as_trial(  # "time": the neutral name of the time column
        "brief_therapy", {"fact_rg": "brief", "fact": "waitlist"}, {0: 0, 9: 2, 18: 6}, "time"
    )
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


@pytest.fixture(scope="module")
def ancova_primary(tmp_path_factory):
    """The resource-group empowerment data as a weeks trial whose analysis plan makes the
    baseline-as-covariate MMRM primary (``primary_analysis`` ancova in its registry row)."""
    root = tmp_path_factory.mktemp("ancovatrial")
    reg = registry_with(
        root,
        {
            "trial": "plan_ancova",
            "label": "The ANCOVA-plan trial",
            "source": "assumed",
            "citation": "Doe J. A trial whose plan names an ANCOVA MMRM. 2032",
            "time_unit": "weeks",
            "primary_analysis": "ancova",
        },
        [("active", "Active", "false"), ("control", "Control", "true")],
        "0;2;6",
    )
    d = default_as_trial(
        "plan_ancova", {"fact_rg": "active", "fact": "control"}, {0: 0, 9: 2, 18: 6}
    )
    with using_registry(reg):
        from analysis.trialmodel import fit
        from analysis.trialmodel import pipeline as tp

        yield d, tp.run_trial(d, "plan_ancova", fit.SamplerSettings(400, 400, 2, 5), log=print)


@pytest.mark.slow
def test_a_trial_whose_plan_makes_the_ancova_primary(ancova_primary):
    """The registry's primary_analysis selects the analysis: every table comes from the
    baseline-as-covariate MMRM, the constrained model becomes a sensitivity row, and the
    modelled means start from the analysed patients' mean baseline."""
    from analysis import catalogue as c
    from analysis.trialmodel import ancova
    from analysis.trialmodel import pipeline as tp

    d, res = ancova_primary
    fit = res.fits["recovery"]
    assert not fit.data.baseline_constrained and fit.idata.attrs["analysis"] == ancova.LABEL
    sens = res.tables[c.SENSITIVITY]
    labels = list(dict.fromkeys(sens["analysis"]))
    assert labels[0] == tp.primary_label("plan_ancova") and ancova.LABEL in labels[0]
    assert ancova.ANALYSIS_LABELS["constrained"] in labels
    effects = res.tables[c.TRIAL_EFFECTS].set_index("month")
    primary = sens[sens["analysis"] == labels[0]].set_index("month")
    assert np.allclose(effects.loc[[2, 6], "estimate"], primary.loc[[2, 6], "estimate"])
    # the constrained analysis of the same data answers close to it (a different estimator)
    other = sens[sens["analysis"] == ancova.ANALYSIS_LABELS["constrained"]].set_index("month")
    gap = abs(other.loc[6, "estimate"] - effects.loc[6, "estimate"])
    assert gap < 0.5 * (effects.loc[6, "upper"] - effects.loc[6, "lower"]) / (2 * rules.Z_INTERVAL)
    means = res.tables[c.MODELLED_MEANS]
    base = means[means["month"] == 0]
    followed = set(d.loc[d["month"] > 0, "patient_id"])  # analysed: baseline and a later visit
    kept = d[(d["month"] == 0) & d["patient_id"].isin(followed)]
    assert np.allclose(base["mean"], kept["value"].mean()) and (base["change"] == 0).all()
    # the imputation-based MAR row reproduces the model's MAR estimate within Monte Carlo error
    rb = res.tables[c.REFERENCE_BASED]
    mar = rb[(rb["strategy"] == "MAR") & (rb["inference"] == "information_anchored")].iloc[0]
    mc = np.hypot(effects.loc[6, "mcse"], mar["lower_mcse"])
    assert abs(mar["estimate"] - effects.loc[6, "estimate"]) < 3 * mc
    assert set(rb["strategy"]) == {"MAR", "J2R", "CR", "CIR"}


def test_an_unknown_primary_analysis_is_named(project, tmp_path):
    _, reg, data, env = project
    bad = tmp_path / "registry"
    shutil.copytree(reg, bad)
    t = pd.read_csv(bad / "trials.csv", dtype=str, keep_default_na=False)
    t.loc[t["trial"] == TRIAL, "primary_analysis"] = "anova"
    t.to_csv(bad / "trials.csv", index=False)
    res = _cli({**env, "TRIALBAYES_REGISTRY": str(bad)}, "validate", str(data))
    assert res.returncode == 2
    assert "primary_analysis 'anova' is not one of constrained, ancova" in res.stderr


@pytest.mark.slow
def test_a_trial_without_a_scenario_gets_one_derived_from_its_fit(weeks_project):
    """The replication design of a trial with no scenario file simulates from its own fit: a
    large trial simulated from the derived scenario reproduces the data's dropout by visit,
    the fitted effect at the last visit and the fitted baseline-to-last correlation."""
    from analysis.contract import simulate
    from analysis.studies import assurance as asr
    from analysis.trialmodel import fit, missing
    from analysis.trialmodel.model import prepare_trial_data

    root, data_file, env = weeks_project
    reg = root / "registry"
    with using_registry(reg):
        df = pd.read_csv(data_file).rename(columns={"time": "month"})
        data = prepare_trial_data(df, "brief_therapy", "recovery")
        idata, _ = fit.fit_trial_model(data, fit.SamplerSettings(500, 500, 2, 3))
        sc, source = asr.design_scenario(data, idata)
        assert "derived" in source and sc.visits == [0, 2, 6]
        big = simulate.simulate_trial(simulate.scaled_scenario(sc, 6000, 40), 11)
        sim = prepare_trial_data(big, "brief_therapy", "recovery")
    seen = lambda d: d.mask.mean(axis=0)  # noqa: E731
    np.testing.assert_allclose(seen(sim), seen(data), atol=0.03)
    arm_of = np.array(sim.arms)[sim.arm_idx]
    last = sim.y[:, -1]
    diff = np.nanmean(last[arm_of == "brief"]) - np.nanmean(last[arm_of == "waitlist"])
    fitted = float(idata.posterior["beta"].sel(treatment="brief", followup=6).mean())
    assert diff / data.s0 == pytest.approx(fitted, abs=0.08)
    cov = missing.covariance_draws(idata, data.visits).mean(axis=0)
    want = cov[0, -1] / np.sqrt(cov[0, 0] * cov[-1, -1])
    ok = ~np.isnan(sim.y[:, -1])
    got = np.corrcoef(sim.y[ok, 0], sim.y[ok, -1])[0, 1]
    assert got == pytest.approx(want, abs=0.06)


def test_the_design_command_replicates_a_trial_without_a_scenario(weeks_project, tmp_path):
    """``analysis design`` on a weeks trial: the tables name the trial and the outcome, and the
    output says the scenario was derived from the trial's fit."""
    root, data, env = weeks_project
    res = _cli(
        env,
        "design",
        "--data",
        str(data),
        "--patients",
        "60",
        "--teams",
        "10",
        "--replicates",
        "4",
        "--prior",
        "sceptical",
        "--workers",
        "1",
        "--out",
        str(tmp_path),
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "derived from this run's fit" in res.stdout
    table = pd.read_csv(tmp_path / "tables" / "assurance.csv")
    assert set(table["trial"]) == {"brief_therapy"} and set(table["outcome"]) == {"recovery"}


def _smoke_project_with_few_replicates(root):
    """A project root (``TRIALBAYES_ROOT``) with the project's notebooks and data and its smoke
    profile, the design's and calibration's simulated trials cut to a few: every section and
    sentence of the report is written, for a fraction of the simulations (which other tests
    check)."""
    shutil.copytree(config.DATA, root / "data", ignore=shutil.ignore_patterns("raw"))
    shutil.copytree(
        config.NOTEBOOKS, root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints")
    )
    smoke = yaml.safe_load((config.PARAMS / "smoke.yaml").read_text())
    few = {
        "04-replication-design": {"replicates": 4, "null_replicates": 8},
        "05-calibration": {"sbc_replicates": 4},
    }
    for step in smoke["steps"]:
        step["parameters"] = {**step.get("parameters", {}), **few.get(step["notebook"], {})}
    assert all(any(s["notebook"] == n for s in smoke["steps"]) for n in few)
    (root / "params").mkdir()
    (root / "params" / "smoke.yaml").write_text(yaml.safe_dump(smoke, sort_keys=False))
    return root


@pytest.mark.slow
def test_a_weeks_trial_report_never_says_month(weeks_project, tmp_path):
    """The whole smoke report of a weeks trial declared only in registry rows (few simulated
    trials in the design and calibration): it runs, no word of its text (tables, captions,
    sentences, Methods, Limitations) says "month", and printed it passes the print check with
    a main text of at most 25 pages."""
    from bs4 import BeautifulSoup

    root, data, env = weeks_project
    project = _smoke_project_with_few_replicates(tmp_path / "project")
    out = tmp_path / "report"
    res = _cli(
        {**env, "TRIALBAYES_ROOT": str(project)},
        *("report", "--data", str(data), "--profile", "smoke", "--out", str(out)),
    )
    assert res.returncode == 0, res.stderr[-3000:]
    text = BeautifulSoup((out / "report.html").read_text(), "html.parser").get_text(" ")
    assert "week 6" in text.lower()
    said = [text[max(0, m.start() - 80) : m.end() + 40] for m in re.finditer("(?i)month", text)]
    assert not said, said
    from analysis.report import audit, render

    if render.find_chromium():  # printed: read back page by page, main text at most 25 pages
        pdf = out / "report.pdf"
        assert audit.audit_pdf(pdf, out / "report.html") == []
        pages = audit.pdf_text(pdf)
        appendix = next(k for k, t in enumerate(pages) if "Appendix A." in t and k > 1)
        assert appendix <= 25, f"main text runs to page {appendix}"
        assert not any("month" in t.lower() for t in pages)
