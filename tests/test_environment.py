"""The lock, pyproject and environment.yml agree."""

import re
import sys
import tomllib

import yaml
from packaging.requirements import Requirement

from analysis import config


def _lock():
    pins = {}
    for line in (config.ROOT / "requirements.lock").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if m:
            pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


def _direct():
    py = tomllib.loads((config.ROOT / "pyproject.toml").read_text())
    deps = py["project"]["dependencies"] + py["project"]["optional-dependencies"]["dev"]
    return [Requirement(d) for d in deps]


def test_every_direct_dependency_is_locked_within_its_range():
    lock = _lock()
    for req in _direct():
        name = req.name.lower().replace("_", "-")
        assert name in lock, f"{name} missing from requirements.lock"
        assert req.specifier.contains(lock[name]), f"{name}=={lock[name]} outside {req.specifier}"


def test_pymc_and_arviz_on_the_python_311_line():
    lock = _lock()
    assert lock["pymc"].startswith("5.28.") and lock["arviz"].startswith("0.23.")


def test_environment_yml_pins_the_locked_versions():
    env = yaml.safe_load((config.ROOT / "environment.yml").read_text())
    assert "conda-forge" in env["channels"]
    lock = _lock()
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    assert "python=3.11" in conda
    pinned = dict(d.split("==") for d in conda if "==" in d)
    for req in _direct():
        name = req.name.lower()
        assert pinned.get(name) == lock[name.replace("_", "-")], name
    pip = next(d for d in env["dependencies"] if isinstance(d, dict))["pip"]
    assert pip == ["-e ."]


def test_running_interpreter_matches_the_lock_python():
    """The lock is resolved for one minor version; the environment must run exactly it."""
    header = (config.ROOT / "requirements.lock").read_text().splitlines()[0]
    locked = re.search(r"python (3\.\d+)", header).group(1)
    assert f"{sys.version_info[0]}.{sys.version_info[1]}" == locked, header
    assert "python=" + locked in (config.ROOT / "environment.yml").read_text()


def test_every_runtime_dependency_is_imported_by_the_library_or_notebooks():
    """A dependency nothing imports is dead weight (pandera was one); test-only packages belong
    in the dev extra."""
    import_names = {
        "dask": "distributed",  # dask[distributed]: the scheduler and workers
        "ipykernel": None,
        "jupyterlab": None,
        "watermark": None,
        "pyarrow": None,  # pandas' Parquet engine
        "openpyxl": None,  # pandas' Excel engine (read_excel engine="openpyxl")
        "pyyaml": "yaml",
        "scikit_learn": "sklearn",
        "nbconvert": "nbconvert",
        "latex2mathml": "latex2mathml",
        "beautifulsoup4": "bs4",
        "ipython": "IPython",
        "python_docx": "docx",
        "pillow": "PIL",
    }
    code = "\n".join(p.read_text() for p in (config.ROOT / "src").rglob("*.py"))
    code += "\n".join(p.read_text() for p in config.NOTEBOOKS.glob("*.ipynb"))
    runtime = tomllib.loads((config.ROOT / "pyproject.toml").read_text())["project"]
    for req in [Requirement(d) for d in runtime["dependencies"]]:
        name = req.name.lower().replace("-", "_")
        module = import_names.get(name, name)
        if module is None:  # used as a program or a notebook magic, not imported
            continue
        assert re.search(rf"\b(import|from) {module}\b|import_module\(.{module}", code), req.name


def _imported_top_level(paths) -> set[str]:
    """Top-level modules imported by Python files and notebooks' code cells."""
    import ast
    import json

    names = set()
    for path in paths:
        if path.suffix == ".ipynb":
            cells = json.loads(path.read_text())["cells"]
            lines = [
                line
                for c in cells
                if c["cell_type"] == "code"
                for line in "".join(c["source"]).splitlines()
                if not line.lstrip().startswith(("%", "!"))
            ]
            text = "\n".join(lines)
        else:
            text = path.read_text()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_every_imported_third_party_package_is_declared():
    """The converse: a package the code imports is a declared dependency (runtime for the
    library and notebooks, runtime or dev for the tests and scripts), not a lucky transitive."""
    from importlib.metadata import packages_distributions

    py = tomllib.loads((config.ROOT / "pyproject.toml").read_text())["project"]
    runtime = {Requirement(d).name.lower().replace("_", "-") for d in py["dependencies"]}
    dev = {
        Requirement(d).name.lower().replace("_", "-") for d in py["optional-dependencies"]["dev"]
    }
    dists = packages_distributions()
    local = {"analysis", "conftest", "make_corpus"}
    groups = (
        (
            list((config.ROOT / "src").rglob("*.py")) + list(config.NOTEBOOKS.glob("*.ipynb")),
            runtime,
        ),
        (
            list((config.ROOT / "tests").rglob("*.py"))
            + list((config.ROOT / "scripts").glob("*.py")),
            runtime | dev,
        ),
    )
    for paths, allowed in groups:
        for module in sorted(_imported_top_level(paths) - local):
            if module in sys.stdlib_module_names or module not in dists:
                continue
            declared = {d.lower().replace("_", "-") for d in dists[module]}
            assert declared & allowed, (
                f"{module} is imported but {sorted(declared)} is not declared"
            )
