"""Validation of trial data against the data contract.

Every rule is checked and every problem is reported at once: the file, the column, the rule
and the first offending rows (line numbers for CSV, where the header is line 1; row numbers
for Parquet). Nothing is written anywhere.

Rules: required columns and no unknown columns; at least one data row; no empty cells in
required columns; ``month`` an integer and ``value`` a finite number; known ``trial``, ``arm``
(for that trial), ``outcome`` (for that trial) and ``month`` (a registry visit of that
outcome); ``value`` inside the instrument's range; no duplicate patient x month x outcome;
each patient in exactly one trial, arm and site; at least two arms per trial and two patients
per arm. A patient without a baseline value is valid: the randomised set is analysed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import registry
from analysis.contract.reading import read_raw, row_word
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


#: Numbers that statistical packages and trial teams use for a missed visit.
MISSING_CODES = (-99, -98, -97, -9, -8, -7, -1, 99, 98, 999, 9999, -999, -9999)
#: A visit written as a label ("T9", "t18", "M9", "9m", "month 9", "baseline", "FU1").
VISIT_LABEL = r"(?i)\s*(?:[tm]\s*\d+|\d+\s*m(?:onths?)?|months?\s*\d+|baseline|bl|fu\s*\d+|w(?:ee)?k\s*\d+)\s*"
_WIDE = __import__("re").compile(r"(?i)^(.+?)[_.\s-]*(?:t|m|month|visit|fu|wk)?[_.\s-]*(\d+)$")


def wide_columns(columns: list[str]) -> list[str]:
    """Columns that look like one outcome measured at several visits (``nel_t0, nel_t9``):
    at least two columns sharing a stem and ending in a number."""
    stems: dict[str, list[str]] = {}
    for c in columns:
        m = _WIDE.match(str(c))
        if m:
            stems.setdefault(m.group(1).lower(), []).append(c)
    return [c for cs in stems.values() if len(cs) >= 2 for c in cs]


def _closest_pairs(given: list[str], allowed: list[str]) -> str:
    import difflib

    pairs = []
    for g in given:
        m = difflib.get_close_matches(g.lower(), [a.lower() for a in allowed], n=1, cutoff=0.6)
        if m:
            pairs.append(f"{g!r} -> {allowed[[a.lower() for a in allowed].index(m[0])]!r}")
    return ", ".join(pairs)


def _codes_and_labels(codes: dict[str, str]) -> dict[str, str]:
    """Every spelling a user might mean (code or label, any case), mapped to its code."""
    out = {}
    for code, label in codes.items():
        out[code.lower()] = code
        out[str(label).lower()] = code
    return out


def closest_code(value: str, spellings: dict[str, str]) -> str | None:
    """The registry code a user most likely meant by ``value`` (by code or label), or None."""
    import difflib
    import re

    v = value.strip().lower()
    if v in spellings:
        return spellings[v]
    norm = {re.sub(r"[^a-z0-9]+", "", k): c for k, c in spellings.items()}
    key = re.sub(r"[^a-z0-9]+", "", v.replace("+", "plus"))
    if key in norm:
        return norm[key]
    m = difflib.get_close_matches(v, list(spellings), n=1, cutoff=0.5)
    return spellings[m[0]] if m else None


def _add_unknown(problems, df, column, mask, spellings: dict[str, str], rule: str) -> None:
    """An unknown-code problem that lists the allowed codes and, per value, the closest one."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return
    allowed = sorted(set(spellings.values()))
    values = pd.unique(df.loc[mask, column].astype(str))[:5]
    guesses = [f"{v!r} -> {g!r}" for v in values if (g := closest_code(v, spellings))]
    rows, n = _rows(df, mask)
    detail = (
        "got "
        + ", ".join(repr(v) for v in values)
        + f"; allowed: {allowed}"
        + (f"; closest: {', '.join(guesses)}" if guesses else "")
        + " (`analysis import` maps labels with `labels: {...}`)"
    )
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
    if "time" in df.columns and "month" not in df.columns:
        # the time column's neutral name: visit times in the trial's unit (registry time_unit)
        df = df.rename(columns={"time": "month"})
    cols = [c for c in df.columns if c != "_row"]
    missing = [c for c in REQUIRED if c not in cols]
    unknown = [c for c in cols if c not in REQUIRED + OPTIONAL]
    wide = wide_columns(cols)
    if missing:
        hint = (
            f"this looks like a wide file (one row per patient, a column per visit: "
            f"{', '.join(wide[:4])}{'...' if len(wide) > 4 else ''}); convert it to the long "
            f"format with `python -m analysis import {Path(path).name} --init` and then "
            "`import ... --map MAP.yaml`"
            if wide
            else f"columns found: {cols}"
        )
        problems.append(Problem(", ".join(missing), "required column(s) missing", detail=hint))
    if unknown and not (missing and wide):
        problems.append(
            Problem(
                ", ".join(unknown),
                "unknown column(s)",
                detail=f"allowed: {REQUIRED + OPTIONAL}"
                + (
                    f"; did you mean {_closest_pairs(unknown, REQUIRED + OPTIONAL)}?"
                    if _closest_pairs(unknown, REQUIRED + OPTIONAL)
                    else ""
                ),
            )
        )
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
    labelled = bad_month & df["month"].str.fullmatch(VISIT_LABEL)
    _add(
        problems,
        df,
        "month",
        "a visit label, not a number (write the time since randomisation in the trial's unit: "
        "T9 -> 9, baseline -> 0; `analysis import` maps labels with `time: {labels: ...}`)",
        labelled,
        df["month"],
    )
    _add(
        problems,
        df,
        "month",
        "not a whole number (the visit time in the trial's unit)",
        bad_month & ~labelled,
        df["month"],
    )
    value = pd.to_numeric(df["value"], errors="coerce")
    bad_value = df["value"].ne("") & ~np.isfinite(value.fillna(np.nan).astype(float))
    comma = bad_value & df["value"].str.fullmatch(r"[-+]?\d*,\d+")
    _add(
        problems,
        df,
        "value",
        "a decimal comma (write 3.55, not 3,55; `analysis import` converts with `decimal: ','`)",
        comma,
        df["value"],
    )
    _add(problems, df, "value", "not a finite number", bad_value & ~comma, df["value"])

    reg = registry.load_outcome_registry()
    arms = registry.load_arm_registry()
    known_trials = set(reg["trial"])
    bad_trial = ~df["trial"].isin(known_trials) & df["trial"].ne("")
    _add_unknown(
        problems,
        df,
        "trial",
        bad_trial,
        _codes_and_labels(registry.trial_labels()),
        "unknown trial (declare a new one in data/registry/trials.csv)",
    )
    declared = set(zip(arms["trial"], arms["arm"], strict=True))
    arm_ok = pd.Series(
        [(t, a) in declared for t, a in zip(df["trial"], df["arm"], strict=True)],
        index=df.index,
    )
    bad_arm = ~arm_ok & df["trial"].isin(known_trials) & df["arm"].ne("")
    for t in sorted(set(df.loc[bad_arm, "trial"])):
        allowed = {a: registry.arm_label(a) for a in registry.trial_arms(t)}
        _add_unknown(
            problems,
            df,
            "arm",
            bad_arm & (df["trial"] == t),
            _codes_and_labels(allowed),
            f"unknown arm for trial {t!r} (data/registry/arms.csv)",
        )
    reg_idx = reg.set_index(["trial", "outcome"])
    out_ok = pd.Series(
        [(t, o) in reg_idx.index for t, o in zip(df["trial"], df["outcome"], strict=True)],
        index=df.index,
    )
    bad_outcome = ~out_ok & df["trial"].isin(known_trials) & df["outcome"].ne("")
    for t in sorted(set(df.loc[bad_outcome, "trial"])):
        allowed = {o: o.replace("_", " ") for o in registry.trial_outcomes(t)}
        allowed.update({o: registry.get_outcome(t, o).unit.split(" ")[0] for o in allowed})
        _add_unknown(
            problems,
            df,
            "outcome",
            bad_outcome & (df["trial"] == t),
            _codes_and_labels(allowed),
            f"unknown outcome for trial {t!r} (data/registry/outcomes.csv)",
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
    for (t, o), idx in df[range_bad].groupby(["trial", "outcome"]).groups.items():
        r = reg_idx.loc[(t, o)]
        mask = df.index.isin(idx)
        codes = value[mask].isin(MISSING_CODES).all()
        _add(
            problems,
            df,
            "value",
            f"outside the range of {o} ({r['scale_min']:g} to {r['scale_max']:g})"
            + (
                "; these look like missing-value codes: omit the row for a missed visit "
                "(`analysis import` drops them with `missing: [-99]`)"
                if codes
                else ""
            ),
            mask,
            df["value"],
        )

    key = ["trial", "patient_id", "month", "outcome"]
    dup = df.duplicated(key, keep=False) & typed
    _add(problems, df, "patient_id", "duplicate patient x month x outcome", dup)

    for col in ("trial", "arm", "site"):
        scope = ["patient_id"] if col == "trial" else ["trial", "patient_id"]
        n = df.groupby(scope)[col].transform("nunique")
        _add(problems, df, col, f"patient recorded in more than one {col}", n > 1, df["patient_id"])

    if "ice" in df or "ice_time" in df:
        _check_events(problems, df, known_trials)

    # a patient without a baseline value stays in the randomised set: the constrained
    # longitudinal model uses their later visits under MAR (the flow counts them)

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
    if "ice" in out:
        out["ice"] = out["ice"].fillna("").astype(str).str.strip()
    if "ice_time" in out:
        out["ice_time"] = pd.to_numeric(out["ice_time"], errors="coerce")
    return out.reset_index(drop=True)


def _check_events(problems: list, df: pd.DataFrame, known_trials: set) -> None:
    """Intercurrent events (``ice``, ``ice_time``): both columns, one event per patient, a time
    for every event, and an event type the trial registry gives a strategy."""
    if ("ice" in df) != ("ice_time" in df):
        have, lack = ("ice", "ice_time") if "ice" in df else ("ice_time", "ice")
        problems.append(Problem(lack, f"column missing: {have!r} needs {lack!r} beside it"))
        return
    event = df["ice"].fillna("").astype(str).str.strip()
    when = pd.to_numeric(df["ice_time"], errors="coerce")
    for col, values in (("ice", event), ("ice_time", df["ice_time"].fillna("").astype(str))):
        n = values.groupby([df["trial"], df["patient_id"]]).transform("nunique")
        _add(problems, df, col, "patient recorded with more than one event", n > 1, values)
    _add(
        problems,
        df,
        "ice_time",
        "an event without a time (the time since randomisation in the trial's unit)",
        (event != "") & (when.isna() | (when < 0)),
        df["ice_time"],
    )
    for t in sorted(set(df["trial"]) & known_trials):
        declared = registry.ice_strategies(t)
        bad = (df["trial"] == t) & (event != "") & ~event.isin(list(declared))
        _add(
            problems,
            df,
            "ice",
            f"an event with no strategy for trial {t!r} (declare it in the trial registry's "
            f"intercurrent_strategies; declared: {sorted(declared) or 'none'})",
            bad,
            event,
        )


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
    return validate_frame(raw, p, row_word(p))


def attendance_summary(df: pd.DataFrame) -> pd.DataFrame:
    """What a valid file holds, for a person to read: one row per trial and arm with its
    patients and teams, and for each visit the patients seen (any outcome) and the share of
    the arm missing.

    Returns
    -------
    pandas.DataFrame
        Columns ``Trial, Arm, Patients, Teams`` and one ``Month m`` (``Week m``, ``Day m``:
        the trials' time unit; ``Visit m`` when they differ) column per visit
        (``"n (missing %)"``; ``–`` where the trial has no such visit).
    """
    months = sorted(df["month"].unique())
    units = {registry.time_unit(t) for t in df["trial"].unique()}
    word = units.pop()[:-1].capitalize() if len(units) == 1 else "Visit"
    rows = []
    for (t, a), g in df.groupby(["trial", "arm"], sort=False):
        n = g["patient_id"].nunique()
        row = {
            "Trial": registry.trial_label(t),
            "Arm": registry.arm_label(a),
            "Patients": n,
            "Teams": g["site"].nunique(),
        }
        visits = set(registry.trial_visits(t))
        for m in months:
            seen = g.loc[g["month"] == m, "patient_id"].nunique()
            row[f"{word} {m}"] = (
                f"{seen} ({100 * (1 - seen / n):.0f}% missing)" if m in visits else "–"
            )
        rows.append(row)
    return pd.DataFrame(rows)


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
