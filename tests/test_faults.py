"""Faults: a report killed during any step leaves the previous report byte-identical and the
next run succeeds; a non-converged model fails the run with the model, parameter and diagnostic
named; another seed changes the estimates only within MCSE."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import write_notebook

from analysis import config
from analysis.report import pipeline as report

STEPS = ("first", "second", "third")


def _notebook(path, body):
    write_notebook(path, body, "\npause: float = 0.0  # seconds to wait", ("# Step",))


@pytest.fixture
def project(tmp_path):
    """A project root (TRIALBAYES_ROOT) with three slow steps writing tables and figures."""
    root = tmp_path / "project"
    shutil.copytree(config.DATA, root / "data", ignore=shutil.ignore_patterns("raw"))
    (root / "notebooks").mkdir()
    (root / "params").mkdir()
    for name in STEPS:
        _notebook(
            root / "notebooks" / f"{name}.ipynb",
            "import os, pathlib, time\nimport pandas as pd\nimport matplotlib.pyplot as plt\n"
            f"pathlib.Path(os.environ['FAULT_MARKERS'], '{name}').touch()\n"
            "from analysis import output\nout = output.output_dir(output_dir)\n"
            f"pd.DataFrame({{'step': ['{name}'], 'seed': [seed]}}).to_csv(out / 'tables' / "
            f"'{name}.csv', index=False)\nfig = plt.figure(); plt.plot([1, 2]); output.save_figure(fig, out, "
            f"'{name}')\ntime.sleep(pause)",
        )
    for profile, pause in (("slow", 1.0), ("quick", 0.0)):  # quick: runs not killed
        steps = "".join(f"  - notebook: {n}\n    parameters: {{pause: {pause}}}\n" for n in STEPS)
        (root / "params" / f"{profile}.yaml").write_text(f"steps:\n{steps}")
    return root


def _cmd(root, profile="slow"):
    return [
        sys.executable,
        "-m",
        "analysis",
        "report",
        "--profile",
        profile,
        "--out",
        str(root / "reports"),
    ]


def _markers(root):
    """The folder where each step's notebook marks that it is running (before its pause)."""
    folder = root / "markers"
    folder.mkdir(exist_ok=True)
    return folder


def _env(root):
    return {
        **os.environ,
        "TRIALBAYES_ROOT": str(root),
        "PYTHONUNBUFFERED": "1",
        "FAULT_MARKERS": str(_markers(root)),
    }


def _snapshot(folder):
    return {
        p.relative_to(folder): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.relative_to(folder).parts[0] in report.PRODUCTS
    }


def _kill_during(root, step, sig, timeout=120):
    """Start a report, send ``sig`` once ``step``'s notebook is running (its kernel has marked
    it, and sleeps for its pause); fail if that takes > ``timeout`` s.

    Lines are read on a thread, so a child that goes silent cannot hang the test: the deadline
    is checked every second whether or not a line arrives.
    """
    import queue
    import threading

    marker = _markers(root) / step
    marker.unlink(missing_ok=True)
    proc = subprocess.Popen(
        _cmd(root),
        env=_env(root),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"step {step} did not start within {timeout} s:\n" + "".join(seen))
        try:
            seen.append(lines.get(timeout=0.05))
        except queue.Empty:
            if proc.poll() is not None and lines.empty():
                pytest.fail(f"the run ended before step {step}:\n" + "".join(seen))
        if marker.exists():  # the kernel is running the step's notebook
            os.kill(proc.pid, sig)
            break
    proc.wait(timeout=120)
    time.sleep(0.2)  # let the reader thread drain the pipe
    while not lines.empty():
        seen.append(lines.get())
    return proc.returncode, "".join(seen)


def test_report_killed_during_each_step_leaves_previous_report(project):
    """SIGTERM (as from Ctrl-C or a scheduler) during each step, then SIGKILL of the main
    process: the installed report stays byte-identical each time; the next run succeeds."""
    out = project / "reports"
    ok = subprocess.run(_cmd(project, "quick"), env=_env(project), capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    before = _snapshot(out)
    assert Path("tables/first.csv") in before and Path("report.html") in before
    for step in STEPS:
        code, log = _kill_during(project, step, signal.SIGTERM)
        assert code == 130, log
        assert f"the previous report in {out} is untouched" in log
        assert _snapshot(out) == before, step
    code, log = _kill_during(project, "second", signal.SIGKILL)
    assert code == -signal.SIGKILL, log
    time.sleep(2.5)  # orphaned kernels finish into the abandoned build folder, never the products
    assert _snapshot(out) == before
    again = subprocess.run(
        _cmd(project, "quick"), env=_env(project), capture_output=True, text=True
    )
    assert again.returncode == 0, again.stdout + again.stderr


def test_unconverged_model_fails_the_run_and_keeps_the_report(project):
    """A full-profile gate failure stops the run naming model, parameter and diagnostic."""
    _notebook(
        project / "notebooks" / "second.ipynb",
        "import pandas as pd\nfrom analysis.trialmodel import diagnostics\n"
        "table = pd.DataFrame([dict(model='resource_groups/empowerment', parameter='beta[fact_rg, 18]',"
        " rhat=1.2, ess_bulk=35.0, ess_tail=20.0, mcse_mean=0.1, divergences=3)])\n"
        "diagnostics.enforce_gate(table, 'full')",
    )
    out = project / "reports"
    first_only = "steps:\n  - notebook: first\n    parameters: {}\n"
    (project / "params" / "one.yaml").write_text(first_only)
    cmd = [sys.executable, "-m", "analysis", "report", "--profile", "one", "--out", str(out)]
    assert subprocess.run(cmd, env=_env(project), capture_output=True).returncode == 0
    before = _snapshot(out)
    run = subprocess.run(_cmd(project), env=_env(project), capture_output=True, text=True)
    assert run.returncode == 1
    for text in (
        "step 'second' failed",
        "ConvergenceError",
        "resource_groups/empowerment",
        "beta[fact_rg, 18]",
        "R-hat 1.200",
        "ess_bulk 35",
        "3 divergent transitions",
    ):
        assert text in run.stderr, run.stderr
    assert _snapshot(out) == before


@pytest.mark.slow
def test_another_seed_changes_estimates_only_within_mcse(default_data):
    """(Same seed, same bytes: tests/test_privacy.py runs the pipeline twice.)"""
    from analysis.trialmodel import pipeline as trial
    from analysis.trialmodel.fit import ModelCache

    cache = ModelCache()

    def effects(seed):
        settings = trial.settings_for("smoke", seed=seed)
        fits = trial.fit_outcomes(
            default_data, "consumer_providers", ["symptoms"], settings, cache, log=lambda *_: None
        )
        return trial.effects_table(fits)

    ea, ec = effects(5), effects(6)
    assert not ea["estimate"].equals(ec["estimate"])  # the seed matters ...
    gap = (ea["estimate"] - ec["estimate"]).abs()
    mcse = (ea["mcse"] ** 2 + ec["mcse"] ** 2) ** 0.5
    assert (gap <= 4 * mcse).all(), pd.concat([gap, mcse], axis=1)  # ... within MCSE
