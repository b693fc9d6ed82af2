"""The report pipeline: parameters, manifest, rendering and the atomic swap."""

import json
import os
import shutil

import pytest
from conftest import write_notebook

from analysis import config
from analysis.report import pipeline as report

MATHS = (
    "## Model\n\n$$\\mu_{it} = \\alpha_t + \\beta_{at}, \\quad \\sigma \\sim HN(1)$$\n\n"
    "with $z_{it} = (y_{it} - m_0)/s_0$."
)


def _notebook(path, body):
    write_notebook(path, body, markdown=("# Tiny", MATHS))


def _project(root):
    """A project with one good and one failing notebook, and profiles using them."""
    nbs, params = root / "notebooks", root / "params"
    nbs.mkdir()
    params.mkdir()
    _notebook(
        nbs / "good.ipynb",
        "from analysis import output\nimport pandas as pd\n"
        "out = output.output_dir(output_dir)\n"
        "pd.DataFrame({'seed': [seed]}).to_csv(out / 'tables' / 'seed.csv', index=False)\n"
        "print('hello')\nimport os\nprint('blas threads', os.environ.get('OPENBLAS_NUM_THREADS'))\n"
        "output.progress('fitted model one of two')\n"
        "import warnings\nwarnings.warn('library noise from ' + os.getcwd())\n"
        "print('writing to', output_dir)\n"
        "import matplotlib.pyplot as plt\nplt.plot([1, 2], [3, 4])\nplt.show()",
    )
    _notebook(nbs / "bad.ipynb", "raise RuntimeError('deliberate failure')")
    (params / "ok.yaml").write_text("steps:\n  - notebook: good\n    parameters: {}\n")
    (params / "broken.yaml").write_text(
        "steps:\n  - notebook: good\n    runs: [{}]\n  - notebook: bad\n"
    )
    return nbs, params


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A project of its own (see :func:`_project`) for a test that runs reports into it."""
    nbs, params = _project(tmp_path)
    monkeypatch.setattr(config, "NOTEBOOKS", nbs)
    monkeypatch.setattr(config, "PARAMS", params)
    return tmp_path


@pytest.fixture(scope="module")
def ok_run(tmp_path_factory):
    """One successful run of profile ``ok`` (seed 5) in a project of its own, with its log
    lines: read by the tests that only look at a finished report, and copied by those that
    need a previous report to protect or to learn from."""
    root = tmp_path_factory.mktemp("okrun")
    nbs, params = _project(root)
    lines = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(config, "NOTEBOOKS", nbs)
        mp.setattr(config, "PARAMS", params)
        html = report.run_report(None, "ok", root / "reports", seed=5, log=lines.append)
    return root, html, lines


def _previous_report(ok_run, sandbox):
    """The shared successful report, copied into ``sandbox``'s report folder."""
    out = sandbox / "reports"
    shutil.copytree(ok_run[0] / "reports", out)
    return out


def _snapshot(folder):
    """Every file of the installed report (the products; not the .failed/ folder)."""
    return {
        p.relative_to(folder): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.relative_to(folder).parts[0] in report.PRODUCTS
    }


def test_plan_expands_runs_and_common_parameters(tmp_path):
    plan = report.plan_run("full", None, tmp_path)
    assert plan.steps[0].name == "01-data"
    assert plan.steps[0].parameters["output_dir"] == str(tmp_path)
    assert plan.steps[0].parameters["profile"] == "full"
    only_cp = report.plan_run("full", None, tmp_path, trials={"consumer_providers"})
    names = [s.name for s in only_cp.steps]
    assert "02-trial-model-consumer_providers" in names
    assert "02-trial-model-resource_groups" not in names and "03-synthesis" in names
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        report.load_profile("fast")


def test_successful_run_installs_report_and_manifest(ok_run):
    root, html, _ = ok_run
    out = root / "reports"
    assert html.exists() and "hello" not in html.read_text()  # run logs stay in the notebook
    assert "hello" in (out / "notebooks" / "good.ipynb").read_text()
    # kernels get single-threaded BLAS pools (an idle OpenBLAS pool busy-waits beside nutpie)
    executed = (out / "notebooks" / "good.ipynb").read_text()
    assert "blas threads 1" in executed or os.environ.get("OPENBLAS_NUM_THREADS") not in (None, "1")
    assert "data:image/png;base64" in html.read_text()  # figures are embedded
    assert "not for interpretation" in html.read_text()  # profile 'ok' is not 'full'
    assert (out / "tables" / "seed.csv").read_text() == "seed\n5\n"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["profile"] == "ok" and manifest["seed"] == 5
    assert manifest["data"]["sha256"] == report.file_sha256(config.DEFAULT_DATA)
    assert manifest["steps"][0]["status"] == "ok" and manifest["steps"][0]["seconds"] > 0
    assert manifest["versions"]["pymc"].startswith("5.28")
    assert (out / "notebooks" / "good.html").exists()
    from analysis.report import render

    if render.find_chromium():  # printed by the headless browser where one is installed
        assert (out / "report.pdf").read_bytes()[:5] == b"%PDF-"
    assert not list(root.rglob(".build-*")) and not list(root.rglob(".old-*"))


def test_failed_run_leaves_previous_report_byte_identical(ok_run, sandbox):
    out = _previous_report(ok_run, sandbox)
    before = _snapshot(out)
    with pytest.raises(report.StepFailed) as info:
        report.run_report(None, "broken", out, log=lambda *_: None)
    assert info.value.step == "bad"
    assert info.value.notebook.exists()  # the partial notebook is kept for inspection
    assert "deliberate failure" in info.value.notebook.read_text()
    assert _snapshot(out) == before
    assert not list(sandbox.rglob(".build-*")) and not list(sandbox.rglob(".old-*"))


def test_interrupted_run_leaves_previous_report(ok_run, sandbox, monkeypatch):
    out = _previous_report(ok_run, sandbox)
    before = _snapshot(out)

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "render_report", interrupt)
    with pytest.raises(KeyboardInterrupt):
        report.run_report(None, "ok", out, log=lambda *_: None)
    assert _snapshot(out) == before


def test_report_renders_in_a_headless_browser(ok_run, open_page):
    root, html, _ = ok_run
    out = root / "reports"
    page, problems = open_page(html)
    assert problems == []  # no console errors, page errors or failed (remote) requests
    images = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
    assert images and all(done and width > 0 for done, width in images)
    assert page.locator("math").count() >= 2  # maths as MathML, no MathJax download
    stamp = page.locator(".stamp").inner_text()
    assert stamp == (
        "simulated data: not the trials' results · short exploratory run: not for interpretation"
    )
    assert page.locator(".stamp").evaluate("e => getComputedStyle(e).position") == "fixed"
    for anchor in ("summary", "diagnostics", "methods", "limitations", "provenance"):
        assert page.locator(f"section#{anchor} h2").count() == 1
    link = page.locator("a[href='notebooks/good.html']")
    assert link.count() == 1
    page2, problems2 = open_page(out / "notebooks" / "good.html")
    assert problems2 == [] and page2.locator("math").count() >= 2


def test_progress_streams_to_the_terminal_not_into_the_report(ok_run, sandbox):
    streamed = [m for m in ok_run[2] if "good: fitted model one of two" in m]
    assert len(streamed) == 1 and "s]" in streamed[0]  # with the elapsed time
    assert "left" not in streamed[0]  # no previous run to estimate from
    out = _previous_report(ok_run, sandbox)
    lines = []
    report.run_report(None, "ok", out, log=lines.append)  # the same profile again
    assert any("(last run" in m for m in lines if "[ start ] good" in m)
    assert any("s left" in m for m in lines if "good: fitted model one of two" in m)
    assert "fitted model one of two" not in (out / "report.html").read_text()
    executed = json.loads((out / "notebooks" / "good.ipynb").read_text())
    outputs = json.dumps([c.get("outputs", []) for c in executed["cells"]])
    assert "hello" in outputs and "fitted model one of two" not in outputs


def test_pdf_is_skipped_with_a_clear_line_without_a_browser(sandbox, monkeypatch):
    from analysis.report import render

    monkeypatch.setenv("TRIALBAYES_CHROMIUM", "no-such-browser")
    lines = []
    out = sandbox / "reports"
    report.run_report(None, "ok", out, log=lines.append)
    assert not (out / "report.pdf").exists() and render.find_chromium() is None
    assert any("pdf" in m and "skipped: no headless Chromium" in m for m in lines)


def test_no_machine_path_in_the_report_or_exported_notebooks(ok_run):
    """Nothing a reader sees names a folder of the machine that built it."""
    root, _, _ = ok_run
    out = root / "reports"
    pages = [out / "report.html", *sorted((out / "notebooks").glob("*.html"))]
    for page in pages:
        text = page.read_text()
        for marker in (str(root), str(config.ROOT), "PosixPath(", "/tmp/", "/home/", "/root/"):
            assert marker not in text, (page.name, marker)


def test_full_profile_report_has_no_stamp(sandbox, monkeypatch):
    (sandbox / "params" / "full.yaml").write_text(
        "steps:\n  - notebook: good\n    parameters: {}\n"
    )
    out = sandbox / "reports"
    text = report.run_report(None, "full", out, seed=5, log=lambda *_: None).read_text()
    assert "not for interpretation" not in text  # the profile is for interpretation
    # the embedded data are simulated: that banner stays on every page, in the title too
    assert (
        "<div class='stamp' role='alert'>simulated data: not the trials&#x27; results</div>" in text
    )
    assert "(simulated data)</h1>" in text
    assert "seed 5" in text and "Provenance" in text
