"""Shared fixtures: small, session-scoped, deterministic."""

from __future__ import annotations

import contextlib
import os
import shutil

import pandas as pd
import pytensor
import pytest

from analysis.commandline import skip_unused_optional_modules

os.environ.setdefault("MPLBACKEND", "Agg")
skip_unused_optional_modules()  # as ``python -m analysis`` does

# The tests evaluate PyMC's graphs only as references, at a few points each: PyTensor's Python
# implementations give the same numbers. With a compiler configured, PyTensor compiles C for
# some nodes even under the Python linker (the core of each ``Blockwise``, the inner graph of
# each ``Scan``): about 50 modules and 25 s of g++, under one lock, on a fresh clone. (The
# project's own paths never compile C: the native density, numba, and ``FAST_COMPILE``.)
pytensor.config.cxx = ""


#: The longest test files (about 50-95 s each on CI's 2 cores), longest first. ``make test``
#: hands files to its two workers in collection order (``--dist loadfile
#: --no-loadscope-reorder``): these go first, so that the short files fill both workers to
#: the end instead of one worker finishing a long file alone. (A hint for scheduling only: a
#: stale list costs time, never a result.)
LONGEST_FIRST = (
    "test_fit.py",
    "test_native.py",
    "test_marginal.py",
    "test_faults.py",
    "test_privacy.py",
    "test_new_trial.py",
    "test_report.py",
    "test_studies.py",
    "test_explore.py",
    "test_audit.py",
    "test_synthesis.py",
)


def pytest_collection_modifyitems(config, items):
    """Collect the files of :data:`LONGEST_FIRST` first, in its order (the rest keep theirs)."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def registry_with(root, trial: dict, arms: list[tuple[str, str, str]], visits: str):
    """A copy of the project's registry under ``root`` with one more trial: its trials.csv row,
    its arms (code, label, comparator flag) and a recovery-scale primary outcome at ``visits``
    (``"0;6;12"``)."""
    from analysis import config

    reg = root / "registry"
    shutil.copytree(config.DATA / "registry", reg)
    trials = pd.read_csv(reg / "trials.csv", dtype=str, keep_default_na=False)
    pd.concat([trials, pd.DataFrame([trial])]).fillna("").to_csv(reg / "trials.csv", index=False)
    code = trial["trial"]
    with open(reg / "arms.csv", "a") as fh:
        for arm, label, comparator in arms:
            fh.write(f"{code},{arm},{label},{comparator},,assumed\n")
    with open(reg / "outcomes.csv", "a") as fh:
        fh.write(
            f"{code},recovery,Recovery scale mean item score,RS mean item score,1,5,0.01,"
            f"true,0.25,{visits},true,assumed\n"
        )
    return reg


def default_as_trial(trial: str, arms: dict, times: dict, time_column: str = "month"):
    """The embedded resource-group empowerment data recast as another trial's: outcome
    ``recovery``, arms renamed by ``arms`` (``{"fact_rg": ..., "fact": ...}``), visit times by
    ``times`` (``{0: ..., 9: ..., 18: ...}``) in the column ``time_column``."""
    from analysis import config

    df = pd.read_csv(config.DEFAULT_DATA)
    d = df[(df["trial"] == "resource_groups") & (df["outcome"] == "empowerment")].copy()
    d["trial"], d["outcome"] = trial, "recovery"
    d["arm"] = d["arm"].map(arms)
    d[time_column] = d.pop("month").map(times)
    return d


@contextlib.contextmanager
def using_registry(reg):
    """Point this process's registry at the folder ``reg`` (as ``TRIALBAYES_REGISTRY`` does for
    a new process) and restore the project's on exit."""
    from analysis import config, registry

    def clear():
        registry.load_arm_registry.cache_clear()
        registry.load_outcome_registry.cache_clear()
        registry._network.cache_clear()

    with pytest.MonkeyPatch.context() as mp:
        for name, file in (
            ("TRIALS_FILE", "trials.csv"),
            ("ARMS_FILE", "arms.csv"),
            ("OUTCOMES_FILE", "outcomes.csv"),
        ):
            mp.setattr(config, name, reg / file)
        clear()
        try:
            yield reg
        finally:
            clear()
    clear()


@pytest.fixture(scope="session")
def default_data():
    """The embedded simulated data, validated and typed."""
    from analysis.contract.validate import load_trial_data

    return load_trial_data()


@pytest.fixture
def csv_of(tmp_path):
    """Write a frame (or raw text) to a CSV file in a temporary folder and return its path."""

    def write(df_or_text, name="data.csv"):
        path = tmp_path / name
        if isinstance(df_or_text, str | bytes):
            mode = "wb" if isinstance(df_or_text, bytes) else "w"
            with open(path, mode) as fh:
                fh.write(df_or_text)
        else:
            df_or_text.to_csv(path, index=False)
        return path

    return write


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by Playwright (skipped when Chromium is absent).

    ``.ci/run`` installs Chromium and sets ``TRIALBAYES_REQUIRE_BROWSER=1``, which turns the
    skip into a failure, so CI cannot pass without the browser tests.
    """
    if not os.path.exists(CHROMIUM):
        if os.environ.get("TRIALBAYES_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} not found but TRIALBAYES_REQUIRE_BROWSER=1")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def open_page(browser):
    """Open a file in the browser; return the page and every console error, page error and
    failed request seen while it loaded."""
    pages = []

    def load(path):
        page = browser.new_page()
        problems = []
        page.on(
            "console",
            lambda m: (
                problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
        page.goto(path.resolve().as_uri())
        page.wait_for_load_state("load")
        pages.append(page)
        return page, problems

    yield load
    for page in pages:
        page.close()


#: The parameters every report notebook declares (papermill injects them).
REPORT_PARAMETERS = (
    'data_path: str = ""  # data\nseed: int = 1  # seed\nprofile: str = "smoke"  # profile\n'
    'output_dir: str = ""  # output folder'
)


def write_notebook(path, body: str, extra_parameters: str = "", markdown=("# Tiny",)):
    """A small notebook for pipeline tests: markdown cells, a tagged parameters cell, ``body``."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(REPORT_PARAMETERS + extra_parameters)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell(markdown[0]), params]
    nb.cells += [nbformat.v4.new_markdown_cell(m) for m in markdown[1:]]
    nb.cells.append(nbformat.v4.new_code_cell(body))
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


def toy_empowerment(n, attended, site=lambda i: f"team-{i:02d}", seed=0):
    """A small resource-group empowerment data set in the contract (long format).

    Patient ``i`` is in ``fact_rg`` if odd, else ``fact``, in team ``site(i)``, and has a value
    (3 + N(0, 0.5), two decimals) at each month of ``attended(i)`` (a subset of 0, 9, 18 that
    includes 0): the caller chooses the missing-visit patterns.
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    rows = [
        dict(
            trial="resource_groups",
            site=site(i),
            patient_id=f"p{i:03d}",
            arm="fact_rg" if i % 2 else "fact",
            month=month,
            outcome="empowerment",
            value=round(3 + rng.normal(0, 0.5), 2),
        )
        for i in range(n)
        for month in attended(i)
    ]
    return pd.DataFrame(rows)


def run_tables(folder, rhat: float, ess: float, divergences: int):
    """A run's result tables for rendering tests: the smoke run's effects and evidence
    (``tests/data/tables``), one diagnostics row with the given worst values, and the report
    tables computed from them (``narrative.save_report_tables``)."""
    import shutil
    from pathlib import Path

    import pandas as pd

    from analysis import catalogue
    from analysis.report import narrative

    tables = Path(__file__).parent / "data" / "tables"
    (Path(folder) / "tables").mkdir(exist_ok=True)
    for name in ("trial_effects", "synthesis_effects", "synthesis_evidence"):
        shutil.copy(tables / f"{name}.csv", Path(folder) / "tables")
    row = dict(
        model="resource_groups/empowerment",
        parameter="beta[fact_rg, 18]",
        rhat=rhat,
        ess_bulk=ess,
        ess_tail=ess * 2 / 3,
        mcse_mean=0.1 if rhat > 1.01 else 0.01,
        divergences=divergences,
    )
    pd.DataFrame([row]).to_csv(
        Path(folder) / "tables" / catalogue.DIAGNOSTICS.file_name(), index=False
    )
    narrative.save_report_tables(folder)


def run_manifest(notebook, profile: str) -> dict:
    """A minimal run manifest with one executed notebook (for rendering tests)."""
    from pathlib import Path

    nb = Path(notebook)
    step = {"name": nb.stem, "notebook": nb.name, "status": "ok", "seconds": 1.0}
    return {
        "profile": profile,
        "seed": 7,
        "data": {"source": "embedded simulated data", "name": "data.csv", "sha256": "abc"},
        "steps": [{**step, "parameters": {"draws": 10}}],
        "versions": {"pymc": "5.28.5"},
    }
