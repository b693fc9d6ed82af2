"""The report's warm kernels: a notebook never sees what the one before it left in the
namespace, gets its own environment, and a kernel whose notebook failed is not reused."""

import json
import os

import nbformat
import pytest

from analysis.report import kernels
from analysis.report.plan import Step
from analysis.trialmodel import fit


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "py"}
    nbformat.write(nb, path)
    return path


def _outputs(path):
    nb = json.loads(path.read_text())
    texts = [o["text"] for c in nb["cells"] for o in c.get("outputs", []) if "text" in o]
    return "".join("".join(t) if isinstance(t, list) else t for t in texts)


def test_notebooks_share_a_kernel_but_not_a_namespace(tmp_path):
    first = _notebook(tmp_path / "a.ipynb", "leak = 41\nimport os\nprint('pid', os.getpid())")
    second = _notebook(
        tmp_path / "b.ipynb",
        "import os\nprint('pid', os.getpid())\nprint('leak' in globals())\n"
        "print(os.environ['TRIALBAYES_SAMPLER_CORES'])",
    )
    failing = _notebook(tmp_path / "c.ipynb", "raise ValueError('broken on purpose')")
    preloaded = _notebook(tmp_path / "d.ipynb", "import sys\nprint('tabnanny' in sys.modules)")
    build = tmp_path / "build"
    pool = kernels.KernelPool(1, build / "logs", preload=kernels.preload_code(["tabnanny"]))
    try:
        k = pool.acquire()
        kernels.run_step(Step("d", preloaded, {}), build, k, log=lambda m: None)
        assert "True" in _outputs(build / "notebooks" / "d.ipynb")  # imported before the step
        kernels.run_step(Step("a", first, {}), build, k, log=lambda m: None, cores=1)
        kernels.run_step(Step("b", second, {}), build, k, log=lambda m: None, cores=2)
        a, b = _outputs(build / "notebooks" / "a.ipynb"), _outputs(build / "notebooks" / "b.ipynb")
        pid = a.split()[1]
        assert f"pid {pid}" in b  # the same kernel ...
        assert "False" in b and "\n2\n" in b  # ... a fresh namespace, this step's environment
        with pytest.raises(kernels.StepFailed, match="broken on purpose"):
            kernels.run_step(Step("c", failing, {}), build, k, log=lambda m: None)
        pool.release(k, healthy=False)  # as run_steps does after a failure
        fresh = pool.acquire()
        kernels.run_step(Step("a2", first, {}), build, fresh, log=lambda m: None)
        assert _outputs(build / "notebooks" / "a2.ipynb").split()[1] != pid
        pool.release(fresh, healthy=True)
    finally:
        pool.shutdown()


def test_the_preload_is_what_the_notebooks_import(tmp_path):
    a = _notebook(
        tmp_path / "a.ipynb",
        "%matplotlib inline\nimport json, email.mime\nfrom analysis import registry",
        "def f():\n    from xml.dom import minidom as m\n    return m",
        "this cell does not parse (",
    )
    b = _notebook(tmp_path / "b.ipynb", "import json\nfrom . import nothing\n!ls")
    assert kernels.imported_modules([a, b]) == [
        "json",
        "email.mime",
        "analysis",
        "analysis.registry",
        "xml.dom",
        "xml.dom.minidom",
    ]
    # the code imports each (a name that is not a module is skipped) and binds no name
    names: dict = {}
    exec(kernels.preload_code(["json", "analysis.registry.trial_label", "no_such_module"]), names)
    assert set(names) == {"__builtins__"}


def test_a_notebook_left_running_alone_takes_every_core(tmp_path, monkeypatch):
    share = tmp_path / "sampler-cores"
    monkeypatch.setenv("TRIALBAYES_SAMPLER_CORES", "1")
    monkeypatch.setenv(fit.CORES_FILE_ENV, str(share))
    share.write_text("2")
    assert fit.sampler_cores(4) == 2
    share.write_text("1")
    assert fit.sampler_cores(4) == 1
    share.unlink()  # unreadable: the fixed share
    assert fit.sampler_cores(4) == 1
    monkeypatch.delenv(fit.CORES_FILE_ENV)
    monkeypatch.delenv("TRIALBAYES_SAMPLER_CORES")
    assert fit.sampler_cores(1) == 1 and fit.sampler_cores(64) == (os.cpu_count() or 1)


def test_the_executed_notebook_is_written_once_whatever_the_outcome(tmp_path, monkeypatch):
    import papermill.engines

    writes = []
    real = papermill.engines.write_ipynb
    monkeypatch.setattr(
        papermill.engines, "write_ipynb", lambda nb, path: (writes.append(path), real(nb, path))
    )
    cells = ("print('one')", "print('two')", "print('three')")
    ok = _notebook(tmp_path / "ok.ipynb", *cells)
    dies = _notebook(tmp_path / "dies.ipynb", "print('before')", "import os; os._exit(3)")
    failing = _notebook(tmp_path / "bad.ipynb", "print('first')", "raise ValueError('on purpose')")
    build = tmp_path / "build"
    pool = kernels.KernelPool(1, build / "logs")
    try:
        k = pool.acquire()
        kernels.run_step(Step("ok", ok, {}), build, k, log=lambda m: None)
        # once when execution starts (papermill's first save), once when it ends: not per cell
        assert (
            len(writes) == 2 and _outputs(build / "notebooks" / "ok.ipynb") == "one\ntwo\nthree\n"
        )
        with pytest.raises(kernels.StepFailed, match="on purpose"):
            kernels.run_step(Step("bad", failing, {}), build, k, log=lambda m: None)
        assert "first" in _outputs(build / "notebooks" / "bad.ipynb")  # the partial notebook
        pool.release(k, healthy=False)
        k = pool.acquire()
        with pytest.raises(kernels.StepFailed):
            kernels.run_step(Step("dies", dies, {}), build, k, log=lambda m: None)
        assert _outputs(build / "notebooks" / "dies.ipynb") == "before\n"  # kept as far as it ran
        pool.release(k, healthy=False)
    finally:
        pool.shutdown()
