"""The report pipeline: papermill runs the notebooks, nbconvert renders one HTML report.

Everything is built in a temporary folder beside the output folder and moved into place only
when every step succeeded: a failed or interrupted run leaves the previous report untouched,
keeps the partial notebooks for inspection, names the failed step and exits non-zero.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import nbformat
import yaml

from analysis import catalogue, config, output
from analysis.contract.reading import file_sha256
from analysis.profiles import load_profile

_RUNNING: set = set()  # papermill processes of this run, terminated on interruption

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
KEY_PACKAGES = (
    "pymc",
    "pytensor",
    "arviz",
    "nutpie",
    "numpy",
    "pandas",
    "scipy",
    "seaborn",
    "matplotlib",
    "papermill",
    "nbconvert",
    "dask",
    "distributed",
)


#: Thread-pool sizes set to 1 in every notebook kernel (unless the user set them).
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


class StepFailed(RuntimeError):
    """A notebook step failed; ``notebook`` is the partial executed notebook."""

    def __init__(self, step: str, notebook: Path, cause: BaseException):
        self.step, self.notebook, self.cause = step, notebook, cause
        super().__init__(f"step {step} failed: {cause}")


@dataclass
class Step:
    """One notebook execution; steps of the same ``group`` may run in parallel."""

    name: str
    notebook: Path
    parameters: dict
    group: int = 0
    seconds: float | None = None
    status: str = "pending"


@dataclass
class RunPlan:
    """Everything one report run does."""

    profile: str
    seed: int
    data_path: Path | None
    steps: list[Step] = field(default_factory=list)
    #: Seconds each step took in the last successful run of the same profile (for estimates).
    expected: dict[str, float] = field(default_factory=dict)


#: A step's ``runs`` value meaning one run per analysed trial.
PER_TRIAL = "per_trial"


def analysed_trials(trials: set[str] | None) -> list[str]:
    """The trials a run analyses, in trial-registry order: those in the data, or those of the
    embedded simulated data (``config.TRIALS``) when no data file is given."""
    from analysis import registry

    wanted = set(config.TRIALS) if trials is None else set(trials)
    return [t for t in registry.trials() if t in wanted]


def plan_run(
    profile: str,
    data_path: Path | None,
    build_dir: Path,
    seed: int | None = None,
    trials: set[str] | None = None,
) -> RunPlan:
    """Expand a profile into the list of notebook runs with their parameters.

    A step whose ``runs`` is ``per_trial`` runs once per trial of :func:`analysed_trials`.
    Runs with a ``trial`` parameter are kept only for the ``trials`` present in the data (all
    when ``trials`` is None). A step with ``with_previous: true`` runs beside the step before it
    (the same group): for notebooks that do not read each other's results.
    """
    spec = load_profile(profile)
    seed = int(config.DEFAULT_SEED if seed is None else seed)
    plan = RunPlan(profile=profile, seed=seed, data_path=data_path)
    common = {
        "data_path": str(data_path) if data_path else "",
        "seed": seed,
        "profile": profile,
        "output_dir": str(build_dir),
    }
    group = -1
    for entry in spec["steps"]:
        group += 0 if entry.get("with_previous") and group >= 0 else 1
        nb = config.NOTEBOOKS / f"{entry['notebook']}.ipynb"
        runs = entry.get("runs") or [{}]
        if runs == PER_TRIAL:
            runs = [{"trial": t} for t in analysed_trials(trials)]
        runs = [r for r in runs if trials is None or r.get("trial", next(iter(trials))) in trials]
        for run in runs:
            suffix = "-".join(str(v) for v in run.values())
            name = entry["notebook"] + (f"-{suffix}" if suffix else "")
            params = {**common, **(entry.get("parameters") or {}), **run}
            plan.steps.append(Step(name=name, notebook=nb, parameters=params, group=group))
    return plan


class BadParameters(ValueError):
    """A profile passes parameters that a notebook does not declare or cannot use."""


_TYPES = {
    "int": (int,),
    "float": (int, float),
    "str": (str,),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
}
#: Parameters that count something and must be at least 1.
POSITIVE_INTS = {
    "draws",
    "tune",
    "chains",
    "replicates",
    "null_replicates",
    "validate_n",
    "validate_draws",
    "sbc_replicates",
    "sbc_draws",
    "sbc_thin",
    "workers",
}


def check_parameters(plan: RunPlan) -> None:
    """Check every step's parameters against its notebook's ``parameters`` cell.

    Unknown names, wrong types, counts below 1, standard deviations that are not positive,
    probabilities outside (0, 1) and evidence files that cannot be read are all reported at
    once, before any notebook runs.

    Raises
    ------
    BadParameters
    """
    import math

    import papermill

    problems = []
    declared_by_nb: dict[Path, dict] = {}
    for step in plan.steps:
        if not step.notebook.exists():
            problems.append(f"{step.name}: notebook {step.notebook} does not exist")
            continue
        if step.notebook not in declared_by_nb:
            declared_by_nb[step.notebook] = papermill.inspect_notebook(str(step.notebook))
        declared = declared_by_nb[step.notebook]
        for name, value in step.parameters.items():
            where = f"{step.name}: parameter '{name}'"
            if name not in declared:
                problems.append(
                    f"{where} is not a parameter of {step.notebook.name} "
                    f"(known: {', '.join(sorted(declared))})"
                )
                continue
            kind = declared[name]["inferred_type_name"]
            ok_types = _TYPES.get(kind)
            if ok_types and (
                not isinstance(value, ok_types) or (kind != "bool" and isinstance(value, bool))
            ):
                problems.append(f"{where} must be {kind}, got {value!r}")
                continue
            if name in POSITIVE_INTS and value < 1:
                problems.append(f"{where} must be at least 1, got {value!r}")
            elif name.endswith("_sd") and not (math.isfinite(value) and value > 0):
                problems.append(f"{where} must be a positive number, got {value!r}")
            elif name in {"threshold", "map_weight"} and not 0 < value < 1:
                problems.append(f"{where} must be between 0 and 1, got {value!r}")
            elif name == "evidence_file" and value:
                from analysis.synthesis import evidence

                try:
                    evidence.load_evidence(config.resolve(value))
                except Exception as exc:  # noqa: BLE001 - any reason it cannot be used
                    problems.append(f"{where}: cannot use the evidence file: {exc}")
    if problems:
        raise BadParameters(
            f"profile '{plan.profile}': {len(problems)} bad parameter(s):\n  - "
            + "\n  - ".join(problems)
        )


def _terminate_running() -> None:
    """Stop every papermill process of this run together with its kernel."""
    import signal

    for proc in list(_RUNNING):
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            continue
    for proc in list(_RUNNING):
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def run_steps(plan: RunPlan, build_dir: Path, log=print) -> None:
    """Run the plan's steps group by group; runs within a group in parallel up to the cores."""
    from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

    groups: dict[int, list[Step]] = {}
    for step in plan.steps:
        groups.setdefault(step.group, []).append(step)
    workers = max(1, os.cpu_count() or 1)
    for steps in groups.values():
        for step in steps:
            last = plan.expected.get(step.name)
            log(f"  [ start ] {step.name}" + (f" (last run {last:.0f} s)" if last else ""))
        if len(steps) == 1:
            run_step(steps[0], build_dir, log, expected=plan.expected.get(steps[0].name))
            continue
        n_parallel = min(workers, len(steps))
        pool = ThreadPoolExecutor(max_workers=n_parallel)
        try:
            futures = [
                pool.submit(
                    run_step,
                    s,
                    build_dir,
                    log,
                    max(1, workers // n_parallel),
                    plan.expected.get(s.name),
                )
                for s in steps
            ]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = [f.exception() for f in done if f.exception() is not None]
            if failed:
                raise failed[0]
        except BaseException:
            _terminate_running()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _kernel_name() -> str:
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        names = KernelSpecManager().find_kernel_specs()
    except Exception:  # pragma: no cover - jupyter_client always present with papermill
        names = {}
    return "trialbayes" if "trialbayes" in names else "python3"


def previous_step_seconds(out_dir: Path, profile: str) -> dict[str, float]:
    """Seconds per step of the last installed run of ``profile`` (empty if none)."""
    try:
        manifest = json.loads((Path(out_dir) / "manifest.json").read_text())
    except (OSError, ValueError):
        return {}
    if manifest.get("profile") != profile:
        return {}
    return {s["name"]: s["seconds"] for s in manifest.get("steps", []) if s.get("seconds")}


def _stream_progress(path: Path, seen: int, step: Step, t0: float, expected, log) -> int:
    """Print the progress lines a notebook added since ``seen``; return the new count."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return seen
    for line in lines[seen:]:
        message = line.split("\t", 1)[-1]
        elapsed = time.perf_counter() - t0
        left = f", about {max(0.0, expected - elapsed):.0f} s left" if expected else ""
        log(f"  [{elapsed:6.1f}s] {step.name}: {message}{left}")
    return len(lines)


def run_step(
    step: Step,
    build_dir: Path,
    log=print,
    cores: int | None = None,
    expected: float | None = None,
) -> None:
    """Execute one notebook with papermill (in its own process) into ``build_dir/notebooks``.

    The papermill log goes to ``build_dir/logs/<step>.log``; a failure raises
    :class:`StepFailed` with the end of that log. Progress lines the notebook sends
    (:func:`analysis.output.progress`) are printed as they come, with the elapsed time and, from
    the last run's ``expected`` seconds, an estimate of what remains; they never enter the
    notebook or the report.
    """
    out = build_dir / "notebooks" / f"{step.name}.ipynb"
    logfile = build_dir / "logs" / f"{step.name}.log"
    out.parent.mkdir(parents=True, exist_ok=True)
    logfile.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "papermill",
        str(step.notebook),
        str(out),
        "-k",
        _kernel_name(),
        "--cwd",
        str(config.NOTEBOOKS),
        "--no-progress-bar",
        "--log-level",
        "WARNING",
        "-y",
        yaml.safe_dump(step.parameters),
    ]
    t0 = time.perf_counter()
    step.status = "running"
    with open(logfile, "w") as fh:
        env = dict(os.environ)
        env.pop("MPLBACKEND", None)  # the kernel's inline backend puts figures in the notebook
        # nutpie and Dask parallelise themselves; an idle BLAS or OpenMP pool busy-waits (scipy's
        # OpenBLAS thread spun at 50% of a core beside every sampler, measured) and two notebooks
        # in parallel then fight over the cores
        for var in BLAS_THREAD_VARIABLES:
            env.setdefault(var, "1")
        if cores:  # parallel steps share the cores instead of oversubscribing them
            env["TRIALBAYES_SAMPLER_CORES"] = str(cores)
        progress_file = build_dir / "logs" / f"{step.name}.progress"
        progress_file.write_text("")
        env[output.PROGRESS_ENV] = str(progress_file)
        proc = subprocess.Popen(
            cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        _RUNNING.add(proc)
        seen = 0
        try:
            while proc.poll() is None:
                time.sleep(0.5)
                seen = _stream_progress(progress_file, seen, step, t0, expected, log)
            _stream_progress(progress_file, seen, step, t0, expected, log)
            code = proc.returncode
        except BaseException:
            _terminate_running()
            step.status = "interrupted"
            raise
        finally:
            _RUNNING.discard(proc)
    step.seconds = time.perf_counter() - t0
    if out.exists():
        redact_data_path(out, step.parameters.get("data_path", ""))
        strip_machine_details(out, build_dir)
    if code != 0:
        step.status = "failed"
        tail = logfile.read_text(errors="replace").strip().splitlines()[-12:]
        raise StepFailed(step.name, out, RuntimeError("\n".join(tail)))
    step.status = "ok"
    log(f"  [{step.seconds:6.1f}s] {step.name} done")


def redact_data_path(notebook: Path, data_path: str) -> None:
    """Replace a user's data path in an executed notebook by its file name.

    Papermill writes the parameters into the notebook (its injected cell and metadata); the
    location of a participant data file stays out of ``reports/`` like the data themselves.
    """
    if not data_path:
        return
    text = notebook.read_text(encoding="utf-8")
    name = Path(data_path).name
    for form in {data_path, json.dumps(data_path)[1:-1]}:
        text = text.replace(form, f"<withheld>/{name}")
    notebook.write_text(text, encoding="utf-8")


def strip_machine_details(notebook: Path, build_dir: Path) -> None:
    """Keep the machine that built the report out of an executed notebook.

    Folders of this machine (the build folder, the project, the home directory) become
    ``reports`` or ``.``, and warning streams (stderr: library warnings naming installed
    files) are dropped; ``logs/`` in the build folder keeps the full record.
    """
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        if "outputs" in cell:
            cell["outputs"] = [
                o
                for o in cell["outputs"]
                if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
            ]
    text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    for folder, shown in (
        (str(build_dir), "reports"),
        (str(config.ROOT), "."),
        (str(Path.home()), "~"),
    ):
        text = text.replace(folder, shown)
    notebook.write_text(text, encoding="utf-8")


def _git_state() -> dict:
    def git(*args):
        return subprocess.run(
            ["git", *args], cwd=config.ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    commit = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    return {"commit": commit or None, "dirty": dirty if commit else None}


def _versions() -> dict:
    out = {"python": sys.version.split()[0]}
    for name in KEY_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def build_manifest(plan: RunPlan, started: float, finished: float) -> dict:
    """Provenance of a run: code, data, parameters, versions and timings."""
    data = plan.data_path or config.DEFAULT_DATA
    is_default = plan.data_path is None
    return {
        "tool": "trialbayes",
        "git": _git_state(),
        "data": {
            "source": "embedded simulated data" if is_default else "user file",
            # a user's file is named, never copied; its location stays out of the report
            "name": str(data.relative_to(config.ROOT)) if is_default else data.name,
            "sha256": file_sha256(data),
        },
        "profile": plan.profile,
        "seed": plan.seed,
        "steps": [
            {
                "name": s.name,
                "notebook": s.notebook.name,
                "status": s.status,
                "seconds": None if s.seconds is None else round(s.seconds, 2),
                "parameters": {
                    k: (f"<withheld>/{Path(v).name}" if k == "data_path" and v else v)
                    for k, v in s.parameters.items()
                    if k != "output_dir"
                },
            }
            for s in plan.steps
        ],
        "versions": _versions(),
        "started": dt.datetime.fromtimestamp(started, dt.UTC).isoformat(timespec="seconds"),
        "finished": dt.datetime.fromtimestamp(finished, dt.UTC).isoformat(timespec="seconds"),
        "seconds": round(finished - started, 2),
    }


def render_report(notebooks: list[Path], manifest: dict, out_html: Path, log=print) -> Path:
    """Write the report document (see :mod:`analysis.report.render`) from the executed notebooks,
    and ``report.pdf`` beside it when a headless Chromium is installed.

    The summary is computed from the run's tables (``out_html.parent / "tables"``) and written
    beside them as the ``summary`` table.
    """
    from analysis.report import narrative, render

    narrative.save_report_tables(out_html.parent)
    out_html.write_text(
        render.build_document(notebooks, manifest, out_html.parent), encoding="utf-8"
    )
    from analysis.report import audit

    problems = audit.audit_html(out_html)
    manifest["report_check"] = [str(p) for p in problems]
    if problems:
        log(f"[ check ] REPORT CHECK: {len(problems)} problem(s) a reader would see:")
        for p in problems:
            log(f"[ check ]   {p}")
    else:
        log("[ check ] report read as a reader would: no problems found")
    pdf = render.print_pdf(out_html, out_html.with_suffix(".pdf"))
    log(
        f"[ pdf   ] {pdf.name}"
        if pdf
        else "[ pdf   ] skipped: no headless Chromium (apt-get install chromium)"
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
        return _run_report(data_path, profile, out_dir, seed, log, trials)
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


def _run_report(data_path, profile, out_dir, seed, log, trials=None) -> Path:
    started = time.time()
    # every parameter is checked before anything is created or run
    check_parameters(plan_run(profile, data_path, out_dir / ".build-check", seed, trials))
    os.environ.setdefault("PYTENSOR_FLAGS", f"compiledir={config.CACHE / 'pytensor'}")
    out_dir.mkdir(parents=True, exist_ok=True)
    build_dir = Path(tempfile.mkdtemp(prefix=".build-", dir=out_dir))
    plan = plan_run(profile, data_path, build_dir, seed, trials)
    plan.expected = previous_step_seconds(out_dir, profile)
    log(f"trialbayes report: profile {profile}, {len(plan.steps)} step(s), building in {build_dir}")
    warm_native_cache(log)
    try:
        run_steps(plan, build_dir, log)
        catalogue.combine_parts(build_dir)
        manifest = build_manifest(plan, started, time.time())
        t0 = time.perf_counter()
        render_report(
            [build_dir / "notebooks" / f"{s.name}.ipynb" for s in plan.steps],
            manifest,
            build_dir / "report.html",
            log,
        )
        manifest["render_seconds"] = round(time.perf_counter() - t0, 2)
        manifest["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        (build_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        _export_notebooks_html(build_dir / "notebooks")
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


def _export_notebooks_html(nb_dir: Path) -> None:
    """Export each executed notebook (with code) to HTML beside it."""
    from nbconvert import HTMLExporter

    from analysis.report import render

    exporter = HTMLExporter(template_name="lab")
    for path in sorted(nb_dir.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"cell-{i}"  # papermill's injected cell can repeat an id
            if cell.cell_type == "markdown":  # MathML instead of MathJax from a CDN
                cell.source = render.maths_to_mathml(cell.source)
        body, _ = exporter.from_notebook_node(nb)
        path.with_suffix(".html").write_text(render.strip_remote_scripts(body), encoding="utf-8")
