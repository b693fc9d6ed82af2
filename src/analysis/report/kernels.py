"""Running a plan's notebooks: one papermill process (and kernel) per step, in parallel where
the plan allows; progress lines streamed to the terminal; interruption stops every kernel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from analysis import config, output
from analysis.report.plan import RunPlan, Step
from analysis.report.redaction import redact_data_path, strip_machine_details

_RUNNING: set = set()  # papermill processes of this run, terminated on interruption

#: Thread-pool sizes set to 1 in every notebook kernel (unless the user set them).
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


class StepFailed(RuntimeError):
    """A notebook step failed; ``notebook`` is the partial executed notebook."""

    def __init__(self, step: str, notebook: Path, cause: BaseException):
        self.step, self.notebook, self.cause = step, notebook, cause
        super().__init__(f"step {step} failed: {cause}")


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
