"""Validation of trial data against the data contract.

Every rule is checked and every problem is reported at once: the file, the column, the rule
and the first offending rows (line numbers for CSV, where the header is line 1; row numbers
for Parquet). Nothing is written anywhere.

Rules: required columns and no unknown columns; at least one data row; no empty cells in
required columns; ``month`` an integer and ``value`` a finite number; known ``trial``, ``arm``
(for that trial), ``outcome`` (for that trial) and ``month`` (a registry visit of that
outcome); ``value`` inside the instrument's range; no duplicate patient x month x outcome;
each patient in exactly one trial, arm and site; a baseline (month 0) for every patient x
outcome; at least two arms per trial and two patients per arm.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import registry
from analysis.contract.reading import read_raw
from analysis.contract.schema import OPTIONAL, REQUIRED

MAX_ROWS_SHOWN = 5


@dataclass
class Problem:
    """One broken rule."""

    column: str
    rule: str
    rows: list[int] = field(default_factory=list)
    n_rows: int = 0
    detail: str = ""

    def format(self, row_word: str) -> str:
        """One line for the user."""
        where = ""
        if self.n_rows:
            shown = ", ".join(str(r) for r in self.rows[:MAX_ROWS_SHOWN])
            more = (
                f" and {self.n_rows - MAX_ROWS_SHOWN} more" if self.n_rows > MAX_ROWS_SHOWN else ""
            )
            where = f" ({self.n_rows} {row_word}{'s' if self.n_rows != 1 else ''}: {shown}{more})"
        detail = f": {self.detail}" if self.detail else ""
        return f"column '{self.column}': {self.rule}{detail}{where}"


class ValidationError(ValueError):
    """The data break the contract; ``problems`` lists every broken rule."""

    def __init__(self, path: Path | str, problems: list[Problem], row_word: str = "line"):
        self.path = Path(path)
        self.problems = problems
        self.row_word = row_word
        lines = [f"{self.path}: {len(problems)} problem(s) with the data contract:"]
        lines += [f"  - {p.format(row_word)}" for p in problems]
        super().__init__("\n".join(lines))


def _rows(df: pd.DataFrame, mask) -> tuple[list[int], int]:
    rows = df.loc[mask, "_row"].astype(int).tolist()
    return rows[:MAX_ROWS_SHOWN], len(rows)


def _add(problems, df, column, rule, mask, detail_values=None):
    mask = np.asarray(mask, dtype=bool)
    if mask.any():
        rows, n = _rows(df, mask)
        detail = ""
        if detail_values is not None:
            vals = pd.unique(pd.Series(np.asarray(detail_values)[mask]).astype(str))[:5]
            detail = "got " + ", ".join(repr(v) for v in vals)
        problems.append(Problem(column, rule, rows, n, detail))


def validate_frame(df: pd.DataFrame, path: str | Path = "<data>", row_word: str = "line"):
    """Validate a raw (all-text) frame with a ``_row`` column; return it typed.

    Returns
    -------
    pandas.DataFrame
        Columns ``trial, site, patient_id, arm, month (int), outcome, value (float)`` plus any
        optional columns present, without ``_row``.

    Raises
    ------
    ValidationError
        Listing every problem found.
    """
    problems: list[Problem] = []
    cols = [c for c in df.columns if c != "_row"]
    missing = [c for c in REQUIRED if c not in cols]
    unknown = [c for c in cols if c not in REQUIRED + OPTIONAL]
    for c in missing:
        problems.append(Problem(c, "required column is missing", detail=f"columns found: {cols}"))
    for c in unknown:
        problems.append(Problem(c, "unknown column", detail=f"allowed: {REQUIRED + OPTIONAL}"))
    if missing:
        raise ValidationError(path, problems, row_word)
    if len(df) == 0:
        problems.append(Problem("(all)", "the file has a header but no data rows"))
        raise ValidationError(path, problems, row_word)

    df = df.copy()
    for c in REQUIRED:
        df[c] = df[c].astype(str).str.strip()
        _add(problems, df, c, "empty cell (omit the row for a missed visit)", df[c] == "")

    month = pd.to_numeric(df["month"], errors="coerce")
    bad_month = df["month"].ne("") & (month.isna() | (month != np.round(month)))
    _add(problems, df, "month", "not a whole number of months", bad_month, df["month"])
    value = pd.to_numeric(df["value"], errors="coerce")
    bad_value = df["value"].ne("") & ~np.isfinite(value.fillna(np.nan).astype(float))
    _add(problems, df, "value", "not a finite number", bad_value, df["value"])

    reg = registry.load_outcome_registry()
    arms = registry.load_arm_registry()
    known_trials = set(reg["trial"])
    _add(
        problems,
        df,
        "trial",
        f"unknown trial (allowed: {sorted(known_trials)})",
        ~df["trial"].isin(known_trials) & df["trial"].ne(""),
        df["trial"],
    )
    arm_ok = pd.Series(
        [
            (t, a) in set(zip(arms["trial"], arms["arm"], strict=True))
            for t, a in zip(df["trial"], df["arm"], strict=True)
        ],
        index=df.index,
    )
    _add(
        problems,
        df,
        "arm",
        "unknown arm for this trial (see data/registry/arms.csv)",
        ~arm_ok & df["trial"].isin(known_trials) & df["arm"].ne(""),
        df["arm"],
    )
    reg_idx = reg.set_index(["trial", "outcome"])
    out_ok = pd.Series(
        [(t, o) in reg_idx.index for t, o in zip(df["trial"], df["outcome"], strict=True)],
        index=df.index,
    )
    _add(
        problems,
        df,
        "outcome",
        "unknown outcome for this trial (see data/registry/outcomes.csv)",
        ~out_ok & df["trial"].isin(known_trials) & df["outcome"].ne(""),
        df["outcome"],
    )

    typed = out_ok & ~bad_month & ~bad_value & df["month"].ne("") & df["value"].ne("")
    visit_bad = np.zeros(len(df), dtype=bool)
    range_bad = np.zeros(len(df), dtype=bool)
    for (t, o), idx in df[typed].groupby(["trial", "outcome"]).groups.items():
        r = reg_idx.loc[(t, o)]
        pos = df.index.get_indexer(idx)
        visit_bad[pos] = ~month.loc[idx].isin(r["visits"]).to_numpy()
        v = value.loc[idx]
        range_bad[pos] = ((v < r["scale_min"]) | (v > r["scale_max"])).to_numpy()
    _add(
        problems,
        df,
        "month",
        "visit not in the registry for this trial and outcome",
        visit_bad,
        df["month"],
    )
    _add(
        problems,
        df,
        "value",
        "outside the instrument's range (data/registry/outcomes.csv)",
        range_bad,
        df["value"],
    )

    key = ["trial", "patient_id", "month", "outcome"]
    dup = df.duplicated(key, keep=False) & typed
    _add(problems, df, "patient_id", "duplicate patient x month x outcome", dup)

    for col in ("trial", "arm", "site"):
        scope = ["patient_id"] if col == "trial" else ["trial", "patient_id"]
        n = df.groupby(scope)[col].transform("nunique")
        _add(problems, df, col, f"patient recorded in more than one {col}", n > 1, df["patient_id"])

    has_base = (month == 0) & typed
    base = df[has_base].groupby(["trial", "patient_id", "outcome"]).size()
    keyidx = pd.MultiIndex.from_frame(df[["trial", "patient_id", "outcome"]])
    no_base = ~keyidx.isin(base.index) & typed.to_numpy()
    _add(
        problems,
        df,
        "month",
        "no baseline (month 0) for this patient and outcome",
        no_base,
        df["patient_id"],
    )

    for t, sub in df[df["trial"].isin(known_trials) & arm_ok].groupby("trial"):
        per_arm = sub.groupby("arm")["patient_id"].nunique()
        if len(per_arm) < 2:
            problems.append(
                Problem("arm", f"trial {t!r} has only one arm", detail=str(list(per_arm.index)))
            )
        for a, n in per_arm.items():
            if n < 2:
                mask = (df["trial"] == t) & (df["arm"] == a)
                rows, k = _rows(df, mask)
                problems.append(
                    Problem("arm", f"arm {a!r} of trial {t!r} has only {n} patient", rows, k)
                )

    if problems:
        raise ValidationError(path, problems, row_word)
    out = df.drop(columns="_row")
    out["month"] = month.astype(int)
    out["value"] = value.astype(float)
    if "age" in out:
        out["age"] = pd.to_numeric(out["age"], errors="coerce")
    return out.reset_index(drop=True)


def validate_file(path: str | Path) -> pd.DataFrame:
    """Read and validate a data file.

    Parameters
    ----------
    path : str or Path
        CSV or Parquet file in the data contract.

    Returns
    -------
    pandas.DataFrame
        The typed data (see :func:`validate_frame`).

    Raises
    ------
    analysis.contract.reading.DataFileError
        If the file cannot be read.
    ValidationError
        If it breaks the contract.
    """
    p = Path(path)
    raw = read_raw(p)
    return validate_frame(raw, p, "row" if p.suffix.lower() == ".parquet" else "line")


def load_trial_data(path: str | Path | None = None) -> pd.DataFrame:
    """Load validated trial data: ``path`` if given, else the embedded simulated data.

    Returns
    -------
    pandas.DataFrame
        See :func:`validate_frame`.
    """
    from analysis import config

    p = config.resolve(path, config.DEFAULT_DATA)
    return validate_file(p)
