"""The report pipeline: plan, run the notebooks, render one report, swap it into place.

Everything is built in a temporary folder beside the output folder and moved into place only
when every step succeeded: a failed or interrupted run leaves the previous report untouched,
keeps the partial notebooks for inspection, names the failed step and exits non-zero. The jobs
live in their own modules: :mod:`~analysis.report.plan` (steps and parameters),
:mod:`~analysis.report.kernels` (running them), :mod:`~analysis.report.manifest` (provenance)
and :mod:`~analysis.report.redaction` (what stays out of ``reports/``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from analysis import catalogue, config
from analysis.contract.reading import file_sha256  # noqa: F401  (re-exported for tests)
from analysis.profiles import load_profile  # noqa: F401  (re-exported for the CLI)
from analysis.report.kernels import (
    KernelPool,
    StepFailed,
    plan_preload,
    pool_size,
    previous_step_seconds,
    run_steps,
)
from analysis.report.manifest import build_manifest
from analysis.report.plan import BadParameters, check_parameters, plan_run  # noqa: F401

PRODUCTS = (
    "report.html",
    "report.pdf",
    "manifest.json",
    "figures",
    "tables",
    "timings",
    "idata",
    "notebooks",
)


def render_report(
    notebooks: list[Path], manifest: dict, out_html: Path, log=print, paper: str = "a4"
) -> Path:
    """Write the report document (see :mod:`analysis.report.render`) from the executed notebooks,
    and ``report.pdf`` beside it when a headless Chromium is installed.

    The summary is computed from the run's tables (``out_html.parent / "tables"``) and written
    beside them as the ``summary`` table.
    """
    from analysis.report import narrative, render

    narrative.save_report_tables(out_html.parent)
    out_html.write_text(
        render.build_document(notebooks, manifest, out_html.parent, paper=paper),
        encoding="utf-8",
    )
    from analysis.report import audit

    # Chromium prints while this process reads the HTML as a reader would
    printed_pdf: dict = {}

    def print_it():
        printed_pdf["pdf"] = render.print_pdf(out_html, out_html.with_suffix(".pdf"))

    printing = _in_background(print_it)
    problems = audit.audit_html(out_html)
    manifest["report_check"] = [str(p) for p in problems]
    if problems:
        log(f"[ check ] REPORT CHECK: {len(problems)} problem(s) a reader would see:")
        for p in problems:
            log(f"[ check ]   {p}")
    else:
        log("[ check ] report read as a reader would: no problems found")
    printing()
    pdf = printed_pdf.get("pdf")
    if pdf is None:
        log("[ pdf   ] skipped: no headless Chromium (apt-get install chromium)")
    else:
        printed = audit.audit_pdf(pdf, out_html)
        manifest["report_check"] += [str(p) for p in printed]
        pages = audit.pdf_pages(pdf)
        log(
            f"[ pdf   ] {pdf.name}: {pages} {paper.upper() if paper == 'a4' else paper} pages; "
            + (
                f"PRINT CHECK: {len(printed)} problem(s): " + "; ".join(map(str, printed[:5]))
                if printed
                else "read back: every page numbered and headed, every table header present"
            )
        )
    return out_html


def _swap_into_place(build_dir: Path, out_dir: Path) -> None:
    """Move finished products from ``build_dir`` into ``out_dir``, replacing old ones."""
    out_dir.mkdir(parents=True, exist_ok=True)
    trash = Path(tempfile.mkdtemp(prefix=".old-", dir=out_dir))
    try:
        for name in PRODUCTS:
            new, old = build_dir / name, out_dir / name
            if not new.exists():
                continue
            if old.exists():
                os.replace(old, trash / name)
            os.replace(new, old)
    finally:
        shutil.rmtree(trash, ignore_errors=True)


def run_report(
    data_path: Path | None,
    profile: str,
    out_dir: Path,
    seed: int | None = None,
    log=print,
    trials: set[str] | None = None,
    paper: str = "a4",
) -> Path:
    """Run every notebook of a profile and install the report in ``out_dir`` on success.

    Parameters
    ----------
    data_path : Path or None
        Validated data file, or None for the embedded simulated data.
    profile : str
        ``smoke`` or ``full`` (a file in ``params/``).
    out_dir : Path
        Where ``report.html``, ``manifest.json``, ``figures/``, ``tables/`` and ``notebooks/`` go.
    seed : int, optional
        Overrides the profile's seed.
    paper : str
        The printed report's paper, ``a4`` (default) or ``letter``.

    Returns
    -------
    Path
        The installed ``report.html``.

    Raises
    ------
    StepFailed
        With the partial notebook kept under ``out_dir/.failed/``; the products in ``out_dir``
        (:data:`PRODUCTS`) untouched.
    """
    import signal

    def _on_term(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, _on_term) if _main_thread() else None
    try:
        return _run_report(data_path, profile, out_dir, seed, log, trials, paper)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def warm_native_cache(log=print) -> None:
    """Load (or, on a machine's first run, compile) the native model density once, before the
    notebooks and study workers start, so that they all load it from the disk cache instead of
    compiling it side by side."""
    t0 = time.perf_counter()
    from analysis.trialmodel import native

    if native.compiled_here():
        log(
            f"  [ compile ] the native model density, {time.perf_counter() - t0:.0f} s: the "
            "first run on this machine or the code changed (cached on disk for every later run)"
        )


def _run_report(data_path, profile, out_dir, seed, log, trials=None, paper="a4") -> Path:
    started = time.time()
    # every parameter is checked before anything is created or run
    check_parameters(plan_run(profile, data_path, out_dir / ".build-check", seed, trials))
    os.environ.setdefault("PYTENSOR_FLAGS", f"compiledir={config.CACHE / 'pytensor'}")
    out_dir.mkdir(parents=True, exist_ok=True)
    build_dir = Path(tempfile.mkdtemp(prefix=".build-", dir=out_dir))
    plan = plan_run(profile, data_path, build_dir, seed, trials)
    plan.expected = previous_step_seconds(out_dir, profile)
    log(f"trialbayes report: profile {profile}, {len(plan.steps)} step(s), building in {build_dir}")
    # the kernels boot while the native density is loaded (or compiled, once per machine);
    # they import it only then, so that they load it instead of compiling it side by side
    native_ready = threading.Event()
    pool = KernelPool(
        pool_size(plan), build_dir / "logs", ready=native_ready, preload=plan_preload(plan)
    )
    try:
        warm_native_cache(log)
    finally:
        native_ready.set()
    # while the kernels work, this process (otherwise waiting) imports what rendering needs
    threading.Thread(target=_import_renderers, daemon=True).start()
    try:
        run_steps(plan, build_dir, log, pool)
        catalogue.combine_parts(build_dir)
        manifest = build_manifest(plan, started, time.time())
        t0 = time.perf_counter()
        exported = _export_in_subprocess(build_dir / "notebooks")
        render_report(
            [build_dir / "notebooks" / f"{s.name}.ipynb" for s in plan.steps],
            manifest,
            build_dir / "report.html",
            log,
            paper,
        )
        exported()
        manifest["render_seconds"] = round(time.perf_counter() - t0, 2)
        manifest["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        (build_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    except BaseException as exc:
        failed = out_dir / ".failed"
        shutil.rmtree(failed, ignore_errors=True)
        os.replace(build_dir, failed)
        if isinstance(exc, StepFailed):
            exc.notebook = failed / "notebooks" / exc.notebook.name
        raise
    _swap_into_place(build_dir, out_dir)
    shutil.rmtree(build_dir, ignore_errors=True)
    return out_dir / "report.html"


def _import_renderers() -> None:
    """Import the rendering modules (a second of imports paid while the notebooks run)."""
    import bs4  # noqa: F401
    import matplotlib.pyplot  # noqa: F401
    import pypdf  # noqa: F401
    import seaborn  # noqa: F401

    from analysis.report import audit, manuscript, narrative, plots, render  # noqa: F401


def _export_in_subprocess(nb_dir: Path):
    """Export the notebooks' HTML (:func:`export_notebooks_html`) in a child process, on
    another core than this one's rendering (a thread would share this process's lock on the
    interpreter); return a function that waits for it and raises, with its error output, if
    it failed."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from analysis.commandline import skip_unused_optional_modules\n"
        "skip_unused_optional_modules()\n"
        "from analysis.report.pipeline import export_notebooks_html\n"
        "export_notebooks_html(sys.argv[1])\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(nb_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )

    def wait():
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"exporting the notebooks to HTML failed:\n{err[-3000:]}")

    return wait


def _in_background(func, *args):
    """Run ``func(*args)`` in a thread; return a function that waits for it and re-raises its
    error (the notebooks' HTML is exported while Chromium prints the report)."""
    box: dict = {}

    def run():
        try:
            func(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised by the waiter
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def wait():
        thread.join()
        if "error" in box:
            raise box["error"]

    return wait


def export_notebooks_html(nb_dir: Path | str) -> None:
    """Export each executed notebook (with code) to HTML beside it."""
    import nbformat
    from nbconvert import HTMLExporter

    from analysis.report import markup

    exporter = HTMLExporter(template_name="lab")
    for path in sorted(Path(nb_dir).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"cell-{i}"  # papermill's injected cell can repeat an id
            if cell.cell_type == "markdown":  # MathML instead of MathJax from a CDN
                cell.source = markup.maths_to_mathml(cell.source)
        body, _ = exporter.from_notebook_node(nb)
        path.with_suffix(".html").write_text(markup.strip_remote_scripts(body), encoding="utf-8")
