"""Descriptive tables of trial data: participant flow, baseline, observed trajectories, missingness.

All functions take typed data in the contract (see :func:`analysis.contract.validate.validate_frame`)
and return tidy frames (one row per quantity). Cells describing fewer than
``MIN_CELL`` patients are suppressed (``NaN``) and flagged, so no table identifies anyone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import stdtrit

from analysis import registry, rules

MIN_CELL = rules.MIN_CELL  # the small-cell rule (its home: analysis.rules)


def participant_flow(df: pd.DataFrame) -> pd.DataFrame:
    """CONSORT-style flow: patients randomised and assessed per arm and visit.

    Returns
    -------
    pandas.DataFrame
        Columns ``trial, arm, month, randomised, assessed, retained_pct``; ``assessed`` counts
        patients with at least one outcome at that visit.
    """
    rand = df.groupby(["trial", "arm"])["patient_id"].nunique().rename("randomised")
    seen = df.groupby(["trial", "arm", "month"])["patient_id"].nunique().rename("assessed")
    out = seen.reset_index().merge(rand.reset_index(), on=["trial", "arm"])
    out["retained_pct"] = (100 * out["assessed"] / out["randomised"]).round(1)
    out = out[["trial", "arm", "month", "randomised", "assessed", "retained_pct"]]
    return _order(out)


def _order(out: pd.DataFrame) -> pd.DataFrame:
    order = {a: i for i, a in enumerate(registry.load_arm_registry()["arm"])}
    keys = [c for c in ("trial", "outcome", "arm", "month") if c in out]
    return out.sort_values(keys, key=lambda s: s.map(order) if s.name == "arm" else s).reset_index(
        drop=True
    )


def baseline_table(df: pd.DataFrame) -> pd.DataFrame:
    """Baseline characteristics by arm: n, outcome means and SDs, age and sex where present.

    Returns
    -------
    pandas.DataFrame
        Columns ``trial, arm, characteristic, n, mean, sd, summary``; ``summary`` is the
        printable ``mean (SD)`` or ``n (%)``.
    """
    rows = []
    base = df[df["month"] == 0]
    for (trial, arm), sub in base.groupby(["trial", "arm"]):
        pts = sub.drop_duplicates("patient_id")
        rows.append(
            dict(
                trial=trial,
                arm=arm,
                characteristic="patients",
                n=len(pts),
                mean=np.nan,
                sd=np.nan,
                summary=str(len(pts)),
            )
        )
        if "age" in pts and pts["age"].notna().any():
            a = pd.to_numeric(pts["age"], errors="coerce").dropna()
            rows.append(
                dict(
                    trial=trial,
                    arm=arm,
                    characteristic="age (years)",
                    n=len(a),
                    mean=a.mean(),
                    sd=a.std(),
                    summary=f"{a.mean():.1f} ({a.std():.1f})",
                )
            )
        if "sex" in pts and pts["sex"].astype(str).ne("").any():
            k = int((pts["sex"] == "male").sum())
            rows.append(
                dict(
                    trial=trial,
                    arm=arm,
                    characteristic="men, n (%)",
                    n=k,
                    mean=100 * k / len(pts),
                    sd=np.nan,
                    summary=f"{k} ({100 * k / len(pts):.0f}%)",
                )
            )
        for outcome, o in sub.groupby("outcome", sort=False):
            reg = registry.get_outcome(trial, outcome)
            v = o["value"]
            rows.append(
                dict(
                    trial=trial,
                    arm=arm,
                    characteristic=f"{outcome.replace('_', ' ')} ({reg.instrument})",
                    n=len(v),
                    mean=v.mean(),
                    sd=v.std(),
                    summary=f"{v.mean():.2f} ({v.std():.2f})",
                )
            )
    out = pd.DataFrame(rows)
    small = out["n"] < MIN_CELL
    out.loc[small & out["characteristic"].ne("patients"), ["mean", "sd"]] = np.nan
    out.loc[small & out["characteristic"].ne("patients"), "summary"] = f"<{MIN_CELL}"
    return _order(out)


def observed_means(df: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Observed mean of each outcome per arm and visit with a t-based confidence interval.

    Returns
    -------
    pandas.DataFrame
        Columns ``trial, outcome, arm, month, n, mean, sd, lower, upper`` (interval at
        ``level``; cells with fewer than ``MIN_CELL`` patients suppressed).
    """
    g = df.groupby(["trial", "outcome", "arm", "month"])["value"]
    out = g.agg(n="count", mean="mean", sd="std").reset_index()
    se = out["sd"] / np.sqrt(out["n"])
    q = stdtrit(np.maximum(out["n"] - 1, 1), 0.5 + level / 2)  # Student-t quantile
    out["lower"] = out["mean"] - q * se
    out["upper"] = out["mean"] + q * se
    small = out["n"] < MIN_CELL
    out.loc[small, ["mean", "sd", "lower", "upper"]] = np.nan
    return _order(out)


def missingness(df: pd.DataFrame) -> pd.DataFrame:
    """Share of randomised patients without a value, per outcome, arm and registry visit.

    Returns
    -------
    pandas.DataFrame
        Columns ``trial, outcome, arm, month, randomised, observed, missing, missing_pct``.
    """
    rows = []
    for (trial, arm), sub in df.groupby(["trial", "arm"]):
        n = sub["patient_id"].nunique()
        for outcome in sub["outcome"].unique():
            for month in registry.get_outcome(trial, outcome).visits:
                k = sub[(sub["outcome"] == outcome) & (sub["month"] == month)][
                    "patient_id"
                ].nunique()
                rows.append(
                    dict(
                        trial=trial,
                        outcome=outcome,
                        arm=arm,
                        month=month,
                        randomised=n,
                        observed=k,
                        missing=n - k,
                        missing_pct=round(100 * (n - k) / n, 1),
                    )
                )
    return _order(pd.DataFrame(rows))


def data_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Counts that identify a data set (deterministic; used as a notebook check).

    Returns
    -------
    pandas.DataFrame
        Columns ``trial, sites, patients, rows, outcomes``.
    """
    return (
        df.groupby("trial")
        .agg(
            sites=("site", "nunique"),
            patients=("patient_id", "nunique"),
            rows=("value", "size"),
            outcomes=("outcome", "nunique"),
        )
        .reset_index()
    )
