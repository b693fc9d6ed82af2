"""A run's provenance: code, data, parameters, versions and timings (``manifest.json``)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from analysis import config
from analysis.contract.reading import file_sha256
from analysis.report.plan import RunPlan

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
