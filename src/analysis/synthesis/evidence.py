"""Contrast-level evidence for the network meta-analysis: reading, checking, assembling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

REQUIRED = ["study", "outcome", "treatment", "comparator", "estimate", "se"]


OPTIONAL = ["n_treatment", "n_comparator", "source", "kind", "includes", "cov_shared"]
#: ``cov_shared``: in a multi-arm study, the covariance of a row's contrast with the study's
#: other contrasts (they share the comparator's patients); empty: approximated from the arm
#: sizes (:func:`analysis.synthesis.nma.fit_nma`).
#: ``kind``: a ``study`` (one trial's contrast) or a ``pooled`` estimate (a meta-analysis), whose
#: ``includes`` lists the study ids it pools (``;``-separated).
KINDS = ("study", "pooled")
#: How an overlap (a study entering directly and inside a pooled row) is handled.
OVERLAP_POLICIES = ("refuse", "prefer_study", "prefer_pooled")


class EvidenceError(ValueError):
    """An evidence file that breaks the format; the message names file, column and lines."""


def load_evidence(path: str | Path, overlap: str = "refuse") -> pd.DataFrame:
    """Read and check a contrast-level evidence file (format in the module docstring).

    Returns
    -------
    pandas.DataFrame
        Columns ``study, outcome, treatment, comparator, estimate, se, n_treatment,
        n_comparator, source, kind, includes``.

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
    return check_evidence(raw, str(p), overlap)


def check_evidence(
    raw: pd.DataFrame, name: str = "<evidence>", overlap: str = "refuse"
) -> pd.DataFrame:
    """Check an evidence table given as text or typed columns; see :func:`load_evidence`.

    ``overlap="refuse"`` (default) rejects a study that enters twice for one outcome (directly
    and inside a pooled row, :func:`overlaps`), naming both rows; ``"allow"`` leaves that to
    :func:`resolve_overlaps`.
    """
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
    df["kind"] = df["kind"].astype(str).str.strip().replace("", "study")
    df["includes"] = df["includes"].astype(str).str.strip()
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
    bad_kind = ~df["kind"].isin(KINDS)
    if bad_kind.any():
        problems.append(
            f"column 'kind': not one of {list(KINDS)} (lines {list(lines[bad_kind.to_numpy()][:5])})"
        )
    stray = (df["kind"] == "study") & (df["includes"] != "")
    if stray.any():
        problems.append(
            "column 'includes': only pooled rows (kind = pooled) list the studies they include "
            f"(lines {list(lines[stray.to_numpy()][:5])})"
        )
    for (study, outcome), g in df.groupby(["study", "outcome"]):
        if g["comparator"].nunique() > 1:
            arms = set(g["treatment"]) | set(g["comparator"])
            k = len(arms)
            pairs = {frozenset(p) for p in zip(g["treatment"], g["comparator"], strict=True)}
            if k >= 3 and len(pairs) == k * (k - 1) // 2:
                problems.append(
                    f"column 'comparator': study {study!r}, outcome {outcome!r} gives all "
                    f"{len(pairs)} pairwise contrasts of its {k} arms; a multi-arm study enters "
                    f"with each arm against one common comparator only ({k - 1} rows), e.g. "
                    f"keep the rows against {sorted(arms)[0]!r} "
                    f"(lines {list(lines[g.index][:5])})"
                )
            else:
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
    if overlap == "refuse":
        for pooled_line, direct_line, study, outcome in overlaps(df, lines):
            problems.append(
                f"column 'includes': study {study!r} enters twice for {outcome!r}: directly "
                f"(line {direct_line}) and inside the pooled row on line {pooled_line}; leave "
                "one of them out (the project's default network leaves the pooled row out)"
            )
    if problems:
        raise EvidenceError(f"{name}: {len(problems)} problem(s):\n  - " + "\n  - ".join(problems))
    for c in ("n_treatment", "n_comparator", "cov_shared"):
        df[c] = pd.to_numeric(df[c], errors="coerce")
    return df[REQUIRED + OPTIONAL].reset_index(drop=True)


def included_studies(row) -> set[str]:
    """The study ids a pooled row includes."""
    return {s.strip() for s in str(row["includes"]).split(";") if s.strip()}


def overlaps(df: pd.DataFrame, lines=None) -> list[tuple]:
    """Studies that enter twice for one outcome: directly and inside a pooled row.

    Returns
    -------
    list of (pooled_line, direct_line, study, outcome)
        Line numbers as in the file (header = line 1) unless ``lines`` is given.
    """
    lines = np.arange(2, len(df) + 2) if lines is None else lines
    out = []
    for i, row in df[df["kind"] == "pooled"].iterrows():
        inc = included_studies(row)
        direct = df[(df["outcome"] == row["outcome"]) & (df["kind"] == "study")]
        for j, d in direct[direct["study"].isin(inc)].iterrows():
            out.append((int(lines[i]), int(lines[j]), d["study"], row["outcome"]))
    return out


def resolve_overlaps(df: pd.DataFrame, prefer: str = "prefer_study") -> tuple[pd.DataFrame, list]:
    """Drop one side of every overlap: the pooled row (``prefer_study``, the default network) or
    the study's direct rows (``prefer_pooled``, the sensitivity analysis).

    Returns
    -------
    (pandas.DataFrame, list of str)
        The evidence without overlaps, and one note per dropped row.
    """
    if prefer not in OVERLAP_POLICIES[1:]:
        raise ValueError(f"prefer must be one of {OVERLAP_POLICIES[1:]}, got {prefer!r}")
    found = overlaps(df)
    drop, notes = set(), []
    for pooled_line, direct_line, study, outcome in found:
        pooled, direct = pooled_line - 2, direct_line - 2
        if prefer == "prefer_study":
            drop.add(pooled)
            what = f"{df.loc[pooled, 'study']} ({outcome}) left out: it includes {study}"
        else:
            drop.add(direct)
            what = f"{study}'s own {outcome} row left out: {df.loc[pooled, 'study']} includes it"
        if what not in notes:
            notes.append(what)
    return df.drop(index=sorted(drop)).reset_index(drop=True), notes


def assemble_evidence(
    out_dir: str | Path | None,
    trial_evidence: str = "model",
    external: bool = True,
    overlap: str = "prefer_study",
    simulated: bool = False,
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
    overlap : {"prefer_study", "prefer_pooled"}
        A study that would enter twice (its own rows and inside a pooled row): keep its own
        rows and leave the pooled row out (default), or the reverse (sensitivity analysis).
    simulated : bool
        The trial data are simulated (the embedded default data): their posteriors are not
        evidence, so the trials enter by their published results whatever ``trial_evidence``.
        With a user's own data, the trials in the data replace their published summaries and
        the other trials keep theirs.

    Returns
    -------
    (pandas.DataFrame, list of str)
        Checked evidence rows and plain-language notes.
    """
    from analysis import catalogue, config, registry

    if trial_evidence not in ("model", "published"):
        raise ValueError(f"trial_evidence must be 'model' or 'published', got {trial_evidence!r}")
    parts, notes = [], []
    published = load_evidence(config.PUBLISHED_TRIALS, overlap="allow")
    if trial_evidence == "model" and simulated:
        trial_evidence = "published"
        notes.append(
            "the trial data are simulated, so their posteriors are not evidence: the trials "
            "enter by their published results"
        )
    if trial_evidence == "model":
        files = catalogue.parts(out_dir, catalogue.TRIAL_CONTRASTS) if out_dir else {}
        if files:
            model_rows = [load_evidence(f, overlap="allow") for f in files.values()]
            parts += model_rows
            covered = set(pd.concat(model_rows)["study"])
            kept = published[~published["study"].isin(covered)]
            notes.append(
                "anchor trials: likelihoods of this project's trial models ("
                + ", ".join(registry.trial_label(t) for t in files)
                + ")"
                + (
                    f"; published results for {', '.join(sorted(set(kept['study'])))}"
                    if not kept.empty
                    else ""
                )
            )
            if not kept.empty:
                parts.append(kept)
        else:
            trial_evidence = "published"
            notes.append("no trial-model results found; using the trials' published results")
    if trial_evidence == "published":
        parts.append(published)
        notes.append("anchor trials: published results (data/published/trials.csv)")
    if external:
        parts.append(load_evidence(config.PUBLISHED_EXTERNAL, overlap="allow"))
        notes.append("external meta-analytic evidence (data/published/external.csv)")
    ev = check_evidence(pd.concat(parts, ignore_index=True), "assembled evidence", "allow")
    ev, dropped = resolve_overlaps(ev, overlap)
    notes += [f"not counted twice: {d}" for d in dropped]
    return ev, notes


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
