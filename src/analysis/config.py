"""All project paths, resolved from one place (cookiecutter-data-science style).

Paths given by users (data files, output folders) are resolved against the current
directory when absolute or existing, else against the project root, so notebooks run from
``notebooks/`` and commands run from the root agree.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(os.environ.get("TRIALBAYES_ROOT", Path(__file__).resolve().parents[2]))
DATA = ROOT / "data"
RAW = DATA / "raw"
#: The registry of trials, arms and outcomes; ``TRIALBAYES_REGISTRY`` points at another folder
#: (your own trials, kept outside the repository) with the same three files.
REGISTRY = Path(os.environ.get("TRIALBAYES_REGISTRY") or DATA / "registry")
OUTCOMES_FILE = REGISTRY / "outcomes.csv"
ARMS_FILE = REGISTRY / "arms.csv"
TRIALS_FILE = REGISTRY / "trials.csv"
NETWORK_FILE = REGISTRY / "network.yaml"
REFERENCES = DATA / "references.csv"
#: Abbreviations the report uses and what they mean (its Glossary).
GLOSSARY = DATA / "glossary.csv"
SCENARIOS = DATA / "scenarios"
SIMULATED = DATA / "simulated"
DEFAULT_DATA = SIMULATED / "trials.csv"
PUBLISHED = DATA / "published"
PUBLISHED_TRIALS = PUBLISHED / "trials.csv"
PUBLISHED_EXTERNAL = PUBLISHED / "external.csv"
PUBLISHED_STUDIES = PUBLISHED / "studies.csv"
NOTEBOOKS = ROOT / "notebooks"
PARAMS = ROOT / "params"
REPORTS = ROOT / "reports"
SMOKE_REPORTS = REPORTS / "_smoke"
#: Study chunks and compiled code (``TRIALBAYES_CACHE`` moves it, e.g. for a cold benchmark).
CACHE = Path(os.environ.get("TRIALBAYES_CACHE") or ROOT / ".cache")

#: The trials of the embedded simulated data (each has a scenario in data/scenarios/); the
#: trials a run analyses are those of the trial registry (:func:`analysis.registry.trials`).
TRIALS = ("resource_groups", "consumer_providers")
DEFAULT_SEED = 20211309


def resolve(path: str | os.PathLike | None, default: Path | None = None) -> Path | None:
    """Resolve a user-supplied path.

    Parameters
    ----------
    path : str, path-like or None
        Absolute, relative to the working directory, or relative to the project root.
        Empty or None selects ``default``.
    default : Path, optional
        Returned when ``path`` is empty.

    Returns
    -------
    Path or None
    """
    if path is None or str(path) == "":
        return default
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    if (Path.cwd() / p).exists():
        return (Path.cwd() / p).resolve()
    return (ROOT / p).resolve()
