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
    assert sys.version_info[:2] >= (3, 11)
