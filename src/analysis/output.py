"""Writing results: tidy CSV tables under ``tables/``, PNG figures under ``figures/`` and run-time measurements under ``timings/``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis import config


def output_dir(path: str | Path | None) -> Path:
    """Resolve an output folder (relative paths against the project root) and create it."""
    out = config.resolve(path, config.SMOKE_REPORTS)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    return out


def save_table(df: pd.DataFrame, out_dir: str | Path, name: str) -> Path:
    """Write a tidy table to ``out_dir/tables/<name>.csv`` (stable float format) and return it."""
    path = Path(out_dir) / "tables" / f"{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, float_format="%.6g", lineterminator="\n")
    return path


def save_figure(fig, out_dir: str | Path, name: str) -> Path:
    """Save a figure to ``out_dir/figures/<name>.png`` and return its path."""
    path = Path(out_dir) / "figures" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150, bbox_inches="tight", metadata={"Software": None})
    return path


def save_timing(df: pd.DataFrame, out_dir: str | Path, name: str) -> Path:
    """Write a table of wall-clock measurements to ``out_dir/timings/<name>.csv``.

    Timings differ between runs by nature, so they are kept apart from ``tables/``, whose
    files are byte-identical for the same data and seed.
    """
    path = Path(out_dir) / "timings" / f"{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, float_format="%.4g", lineterminator="\n")
    return path
