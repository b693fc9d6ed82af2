"""Contrast-level evidence for the network meta-analysis: reading, checking, assembling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

REQUIRED = ["study", "outcome", "treatment", "comparator", "estimate", "se"]


OPTIONAL = ["n_treatment", "n_comparator", "source"]


class EvidenceError(ValueError):
    """An evidence file that breaks the format; the message names file, column and lines."""


def load_evidence(path: str | Path) -> pd.DataFrame:
    """Read and check a contrast-level evidence file (format in the module docstring).

    Returns
    -------
    pandas.DataFrame
        Columns ``study, outcome, treatment, comparator, estimate, se, n_treatment,
        n_comparator, source``.

    Raises
    ------
    EvidenceError
        Naming the file, the column and the lines of every problem.
    """
    p = Path(path)
    if not p.is_file():
        raise EvidenceError(f"{p}: no such evidence file")
    try:
        raw = pd.read_csv(p, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise EvidenceError(f"{p}: not a readable CSV file ({exc})") from exc
    return check_evidence(raw, str(p))


def check_evidence(raw: pd.DataFrame, name: str = "<evidence>") -> pd.DataFrame:
    """Check an evidence table given as text or typed columns; see :func:`load_evidence`."""
    problems = []
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise EvidenceError(f"{name}: missing column(s) {missing}; required {REQUIRED}")
    if raw.empty:
        raise EvidenceError(f"{name}: no evidence rows")
    df = raw.copy()
    for c in OPTIONAL:
        if c not in df:
            df[c] = ""
    lines = np.arange(2, len(df) + 2).tolist()
    lines = np.array(lines, dtype=object)
    for c in ("study", "outcome", "treatment", "comparator"):
        bad = df[c].astype(str).str.strip() == ""
        if bad.any():
            problems.append(f"column '{c}': empty (lines {list(lines[bad.to_numpy()][:5])})")
    for c in ("estimate", "se"):
        num = pd.to_numeric(df[c], errors="coerce")
        bad = ~np.isfinite(num) | ((num <= 0) if c == "se" else False)
        if bad.any():
            rule = "not a finite number" if c == "estimate" else "not a positive number"
            problems.append(f"column '{c}': {rule} (lines {list(lines[np.asarray(bad)][:5])})")
        df[c] = num
    same = df["treatment"] == df["comparator"]
    if same.any():
        problems.append(
            f"column 'comparator': equals treatment (lines {list(lines[same.to_numpy()][:5])})"
        )
    for (study, outcome), g in df.groupby(["study", "outcome"]):
        if g["comparator"].nunique() > 1:
            problems.append(
                f"column 'comparator': study {study!r}, outcome {outcome!r} has several "
                f"comparators; give every contrast of a multi-arm study against one "
                f"common comparator (lines {list(lines[g.index][:5])})"
            )
        if g["treatment"].duplicated().any():
            problems.append(
                f"column 'treatment': study {study!r}, outcome {outcome!r} repeats a "
                f"contrast (lines {list(lines[g.index][:5])})"
            )
    if problems:
        raise EvidenceError(f"{name}: {len(problems)} problem(s):\n  - " + "\n  - ".join(problems))
    for c in ("n_treatment", "n_comparator"):
        df[c] = pd.to_numeric(df[c], errors="coerce")
    return df[REQUIRED + OPTIONAL].reset_index(drop=True)


def assemble_evidence(
    out_dir: str | Path | None, trial_evidence: str = "model", external: bool = True
) -> tuple[pd.DataFrame, list[str]]:
    """Evidence for the project's synthesis and notes on what was used.

    Parameters
    ----------
    out_dir : path or None
        The run's output folder, with the trial stage's ``trial_contrasts`` parts.
    trial_evidence : {"model", "published"}
        The anchor trials' evidence: posteriors of this project's trial models (the report's
        data), or the trials' published results (``data/published/trials.csv``). Never both:
        they are the same trials.
    external : bool
        Add the external meta-analytic evidence (``data/published/external.csv``).

    Returns
    -------
    (pandas.DataFrame, list of str)
        Checked evidence rows and plain-language notes.
    """
    from analysis import catalogue, config

    if trial_evidence not in ("model", "published"):
        raise ValueError(f"trial_evidence must be 'model' or 'published', got {trial_evidence!r}")
    parts, notes = [], []
    if trial_evidence == "model":
        files = catalogue.parts(out_dir, catalogue.TRIAL_CONTRASTS) if out_dir else {}
        if files:
            parts += [load_evidence(f) for f in files.values()]
            notes.append(
                "anchor trials: posteriors of this project's trial models ("
                + ", ".join(files)
                + ")"
            )
        else:
            trial_evidence = "published"
            notes.append("no trial-model results found; using the trials' published results")
    if trial_evidence == "published":
        parts.append(load_evidence(config.PUBLISHED_TRIALS))
        notes.append("anchor trials: published results (data/published/trials.csv)")
    if external:
        parts.append(load_evidence(config.PUBLISHED_EXTERNAL))
        notes.append("external meta-analytic evidence (data/published/external.csv)")
    ev = pd.concat(parts, ignore_index=True)
    return check_evidence(ev, "assembled evidence"), notes


def patients_per_treatment(evidence: pd.DataFrame) -> dict[str, int]:
    """Patients per treatment summed over studies (each study's arm counted once).

    Returns
    -------
    dict
        Treatment -> patients, for treatments whose studies report arm sizes.
    """
    out: dict[str, int] = {}
    for col, ncol in (("treatment", "n_treatment"), ("comparator", "n_comparator")):
        sizes = evidence.groupby(["study", col])[ncol].max().dropna()
        for (_, treatment), n in sizes.items():
            out[treatment] = out.get(treatment, 0) + int(n)
    return out
