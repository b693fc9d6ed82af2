"""Running a plan's notebooks with papermill on a pool of warm kernels.

A report run starts one Jupyter kernel per core and keeps it: each kernel imports once what
the run's notebooks import (:func:`imported_modules`), then executes notebook after notebook,
each in a fresh namespace (back to the post-import names, figures closed, execution count
from 1) with its step's environment set. A run
so pays kernel starts and imports once per core instead of once per notebook, and papermill
still writes every executed notebook. Steps of a group run on whichever kernel is free; a
kernel whose notebook failed or was interrupted is discarded, never reused. Progress lines are
streamed to the terminal; interruption kills every kernel with its process group (Dask
workers included).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import threading
import time
from pathlib import Path

from analysis import config, output
from analysis.report.plan import RunPlan, Step
from analysis.report.redaction import redact_data_path, strip_machine_details

#: Thread-pool sizes set to 1 in every notebook kernel (unless the user set them).
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
#: What every kernel imports before its first notebook, whatever the notebooks import (the
#: namespace reset between notebooks closes figures with pyplot).
BASE_PRELOAD = ("IPython.display", "matplotlib.pyplot")
#: After the preload: the names a fresh namespace has (kept on the shell object).
BASELINE = "get_ipython()._baseline_names = set(get_ipython().user_ns)\n"
#: Between notebooks: the namespace back to the baseline (``%reset`` would also drop what
#: multiprocessing needs to start Dask's workers), output history and figures cleared.
RESET = (
    "def _reset(ip=get_ipython()):\n"
    "    for name in [n for n in ip.user_ns if n not in ip._baseline_names]:\n"
    "        del ip.user_ns[name]\n"
    "    ip.history_manager.output_hist.clear()\n"
    "    import matplotlib.pyplot as plt\n"
    "    plt.close('all')\n"
    "_reset()\n"
)
STEP_TIMEOUT_SECONDS = 6 * 3600


class StepFailed(RuntimeError):
    """A notebook step failed; ``notebook`` is the partial executed notebook."""

    def __init__(self, step: str, notebook: Path, cause: BaseException):
        self.step, self.notebook, self.cause = step, notebook, cause
        super().__init__(f"step {step} failed: {cause}")


class _Kernel:
    """One warm kernel, driven from one thread (its event loop is that thread's)."""

    def __init__(self, name: str, env: dict, logfile: Path):
        from jupyter_client.manager import AsyncKernelManager

        self.km = AsyncKernelManager(kernel_name=name)
        self.env = env
        self.logfile = logfile
        self.pid: int | None = None

    def start(self, ready: threading.Event | None = None, preload: str = "") -> None:
        """Start the kernel process; once ``ready`` is set, import the stack (``preload``).
        (The run sets it when the native density is compiled, so that kernels load it.)"""
        from jupyter_core.utils import run_sync

        self.logfile.parent.mkdir(parents=True, exist_ok=True)
        with open(self.logfile, "ab") as log:  # the kernel's own output (warnings, crashes)
            run_sync(self.km.start_kernel)(
                env=self.env, cwd=str(config.NOTEBOOKS), stdout=log, stderr=log
            )
        self.pid = getattr(getattr(self.km.provisioner, "process", None), "pid", None)
        if ready is not None:
            ready.wait()
        self.run((preload or preload_code(BASE_PRELOAD)) + BASELINE)

    def run(self, code: str, timeout: float = 300) -> None:
        """Execute ``code`` silently; raise RuntimeError with the kernel's error if it fails."""
        from jupyter_core.utils import run_sync

        async def go():
            kc = self.km.client()
            kc.start_channels()
            try:
                await kc.wait_for_ready(timeout=120)
                reply = await kc.execute_interactive(
                    code, store_history=False, timeout=timeout, output_hook=lambda msg: None
                )
            finally:
                kc.stop_channels()
            content = reply["content"]
            if content["status"] != "ok":
                raise RuntimeError(f"{content.get('ename')}: {content.get('evalue')}")

        run_sync(go)()

    def prepare(self, env: dict) -> None:
        """A fresh namespace, this step's environment variables and the notebooks' folder."""
        code = RESET + (
            "import os as _os\n"
            f"_os.environ.update({env!r})\n"
            f"_os.chdir({str(config.NOTEBOOKS)!r})\n"
            "del _os\n"
            "get_ipython().execution_count = 1\n"
        )
        self.run(code)

    def kill(self) -> None:
        """Kill the kernel and its process group (Dask workers included)."""
        if self.pid is None:
            return
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


_KERNELS: set = set()  # every kernel of this run, killed on interruption


def imported_modules(notebooks) -> list[str]:
    """The modules the notebooks' code cells import, in first-seen order: ``a.b`` for
    ``import a.b``; ``a`` and ``a.b`` for ``from a import b`` (``b`` may be a module).

    A kernel that imports these once serves every notebook without paying for them again;
    they are read from the notebooks themselves, so a run of small notebooks does not wait
    for the whole stack. Magics and shell lines are skipped; a cell that does not parse is
    left to fail in its notebook.
    """
    import ast

    seen: dict[str, None] = {}
    for path in notebooks:
        cells = json.loads(Path(path).read_text(encoding="utf-8")).get("cells", [])
        for cell in cells:
            if cell.get("cell_type") != "code":
                continue
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else source
            lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
            try:
                tree = ast.parse("\n".join(lines))
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    seen.update((a.name, None) for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    seen[node.module] = None
                    seen.update((f"{node.module}.{a.name}", None) for a in node.names)
    return list(seen)


def preload_code(modules) -> str:
    """Kernel code importing ``modules`` (and :data:`BASE_PRELOAD`) without binding a name;
    a name that is not a module, or fails to import, is skipped (a notebook that needs it
    fails in its own cell, where the error is shown)."""
    names = list(dict.fromkeys([*BASE_PRELOAD, *modules]))
    return (
        "def _preload(names):\n"
        "    import importlib\n"
        "    for name in names:\n"
        "        try:\n"
        "            importlib.import_module(name)\n"
        "        except Exception:\n"
        "            pass\n"
        f"_preload({names!r})\n"
        "del _preload\n"
    )


def _terminate_running() -> None:
    """Kill every kernel of this run together with its process group."""
    for k in list(_KERNELS):
        k.kill()


def _kernel_env() -> dict:
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # the kernel's inline backend puts figures in the notebook
    # nutpie and Dask parallelise themselves; an idle BLAS or OpenMP pool busy-waits (scipy's
    # OpenBLAS thread spun at 50% of a core beside every sampler, measured) and two notebooks
    # in parallel then fight over the cores
    for var in BLAS_THREAD_VARIABLES:
        env.setdefault(var, "1")
    return env


class KernelPool:
    """``size`` warm kernels for one run, started at once (their processes boot while the run
    prepares; they import the stack when ``ready`` is set). A kernel whose notebook failed is
    discarded and its slot starts another when next used."""

    def __init__(
        self,
        size: int,
        log_dir: Path,
        ready: threading.Event | None = None,
        preload: str = "",
    ):
        self.size, self.log_dir, self.ready = size, log_dir, ready
        self.preload = preload or preload_code(BASE_PRELOAD)
        self.idle: queue.Queue = queue.Queue()
        self._name, self._env = _kernel_name(), _kernel_env()
        self._lock = threading.Lock()
        self._count = 0
        for _ in range(size):
            threading.Thread(target=self._warm, daemon=True).start()

    def start_kernel(self) -> _Kernel:
        with self._lock:
            self._count += 1
            kernel = _Kernel(self._name, self._env, self.log_dir / f"kernel-{self._count}.log")
            _KERNELS.add(kernel)
        kernel.start(self.ready, self.preload)
        return kernel

    def _warm(self) -> None:  # a kernel is used as soon as it is ready
        try:
            self.idle.put(self.start_kernel())
        except BaseException:  # noqa: BLE001 - the slot starts a kernel again when used
            self.idle.put(None)

    def acquire(self) -> _Kernel:
        kernel = self.idle.get()
        return kernel if kernel is not None else self.start_kernel()

    def release(self, kernel: _Kernel | None, healthy: bool) -> None:
        if not healthy and kernel is not None:
            kernel.kill()
            with self._lock:
                _KERNELS.discard(kernel)
            kernel = None
        self.idle.put(kernel)

    def shutdown(self) -> None:
        """Kill every kernel of the pool (and their process groups)."""
        for k in list(_KERNELS):
            k.kill()
        _KERNELS.clear()


def plan_preload(plan: RunPlan) -> str:
    """The preload of a run's kernels: what its notebooks import."""
    return preload_code(imported_modules(dict.fromkeys(s.notebook for s in plan.steps)))


def pool_size(plan: RunPlan) -> int:
    """Kernels a plan needs: one per core, at most the largest group of parallel steps."""
    groups: dict[int, int] = {}
    for step in plan.steps:
        groups[step.group] = groups.get(step.group, 0) + 1
    return max(1, min(os.cpu_count() or 1, max(groups.values(), default=1)))


def run_steps(plan: RunPlan, build_dir: Path, log=print, pool: KernelPool | None = None) -> None:
    """Run the plan's steps group by group on a pool of warm kernels (one per core, at most
    the largest group); the steps of a group run in parallel, each on the next free kernel."""
    cores = max(1, os.cpu_count() or 1)
    groups: dict[int, list[Step]] = {}
    for step in plan.steps:
        groups.setdefault(step.group, []).append(step)
    pool = pool or KernelPool(pool_size(plan), build_dir / "logs", preload=plan_preload(plan))
    failures: list[BaseException] = []
    lock = threading.Lock()
    share = build_dir / "logs" / "sampler-cores"  # every running notebook's share of the cores
    running = [0]

    def count(change: int) -> int:
        with lock:
            running[0] += change
            each = max(1, cores // max(1, running[0]))
            tmp = share.with_suffix(".tmp")
            tmp.write_text(str(each))
            os.replace(tmp, share)
            return each

    def worker(step: Step, done: threading.Event):
        kernel, healthy, counted = None, False, False
        try:
            kernel = pool.acquire()
            cores_each = count(+1)
            counted = True
            run_step(step, build_dir, kernel, log, cores_each, plan.expected.get(step.name), share)
            healthy = True
        except BaseException as exc:  # noqa: BLE001 - reported by the group
            with lock:
                failures.append(exc)
        finally:
            if counted:
                count(-1)
            pool.release(kernel, healthy)
            done.set()

    try:
        for steps in groups.values():
            for step in steps:
                last = plan.expected.get(step.name)
                log(f"  [ start ] {step.name}" + (f" (last run {last:.0f} s)" if last else ""))
            events = []
            for step in steps:
                ev = threading.Event()
                threading.Thread(target=worker, args=(step, ev), daemon=True).start()
                events.append(ev)
            for ev in events:
                while not ev.wait(0.5):
                    pass
            if failures:
                raise failures[0]
    except BaseException:
        _terminate_running()
        raise
    finally:
        pool.shutdown()


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


def _papermill_engine() -> str:
    """Register and name the papermill engine of a report: nbclient's, but the executed notebook
    is written when its execution ends (papermill writes it at the end whatever the outcome:
    success, a failed cell, a dead kernel), not at every cell's start and end, which rewrote
    the whole notebook, figures included, twice per cell."""
    from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines

    class WrittenAtEnd(NotebookExecutionManager):
        def save(self, **kwargs):
            if self.end_time is not None:  # set by notebook_complete, just before it saves
                super().save(**kwargs)

    class Engine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
            nb_man.__class__ = WrittenAtEnd  # papermill built it; only its saves change
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    papermill_engines.register(PAPERMILL_ENGINE, Engine)
    return PAPERMILL_ENGINE


#: The name the report's papermill engine is registered under (:func:`_papermill_engine`).
PAPERMILL_ENGINE = "trialbayes"


def run_step(
    step: Step,
    build_dir: Path,
    kernel: _Kernel,
    log=print,
    cores: int | None = None,
    expected: float | None = None,
    cores_file: Path | None = None,
) -> None:
    """Execute one notebook with papermill on ``kernel`` into ``build_dir/notebooks``.

    A failure writes the kernel's error to ``build_dir/logs/<step>.log`` and raises
    :class:`StepFailed` with its end. Progress lines the notebook sends
    (:func:`analysis.output.progress`) are printed as they come, with the elapsed time and, from
    the last run's ``expected`` seconds, an estimate of what remains; they never enter the
    notebook or the report.
    """
    import papermill

    out = build_dir / "notebooks" / f"{step.name}.ipynb"
    logfile = build_dir / "logs" / f"{step.name}.log"
    out.parent.mkdir(parents=True, exist_ok=True)
    logfile.parent.mkdir(parents=True, exist_ok=True)
    progress_file = build_dir / "logs" / f"{step.name}.progress"
    progress_file.write_text("")
    env = {output.PROGRESS_ENV: str(progress_file)}
    if cores:  # parallel steps share the cores instead of oversubscribing them
        env["TRIALBAYES_SAMPLER_CORES"] = str(cores)
    if cores_file is not None:  # ... and a step left running alone takes them all
        env["TRIALBAYES_SAMPLER_CORES_FILE"] = str(cores_file)
    t0 = time.perf_counter()
    step.status = "running"
    outcome: dict = {}

    def execute():
        try:
            kernel.prepare(env)
            papermill.execute_notebook(
                str(step.notebook),
                str(out),
                parameters=step.parameters,
                kernel_name=kernel.km.kernel_name,
                engine_name=_papermill_engine(),
                km=kernel.km,
                progress_bar=False,
                log_output=False,
                execution_timeout=STEP_TIMEOUT_SECONDS,
            )
        except BaseException as exc:  # noqa: BLE001 - reported below
            outcome["error"] = exc

    runner = threading.Thread(target=execute, daemon=True)
    runner.start()
    seen = 0
    while runner.is_alive():
        runner.join(0.5)
        seen = _stream_progress(progress_file, seen, step, t0, expected, log)
    _stream_progress(progress_file, seen, step, t0, expected, log)
    step.seconds = time.perf_counter() - t0
    if out.exists():
        redact_data_path(out, step.parameters.get("data_path", ""))
        strip_machine_details(out, build_dir)
    error = outcome.get("error")
    if error is not None:
        step.status = "failed"
        logfile.write_text(f"{type(error).__name__}: {error}\n", encoding="utf-8")
        tail = logfile.read_text(errors="replace").strip().splitlines()[-12:]
        raise StepFailed(step.name, out, RuntimeError("\n".join(tail)))
    logfile.write_text("ok\n", encoding="utf-8")
    step.status = "ok"
    log(f"  [{step.seconds:6.1f}s] {step.name} done")
