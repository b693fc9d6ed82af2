"""The outcome and arm registries: the data contract's vocabularies, kept as data files.

``data/registry/outcomes.csv`` has one row per trial x outcome: instrument, scale minimum
and maximum, resolution, whether higher is better, the minimal clinically important
difference (MCID, empty where none is known), the visits (months, ``;``-separated), whether
it is the primary outcome, and the source of each number. ``data/registry/arms.csv`` has one
row per trial x arm with its label, whether it is the trial's comparator, and its colour.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from analysis import config


@dataclass(frozen=True)
class Outcome:
    """One registry row."""

    trial: str
    outcome: str
    instrument: str
    unit: str
    scale_min: float
    scale_max: float
    resolution: float
    higher_is_better: bool
    mcid: float | None
    visits: tuple[int, ...]
    primary: bool
    source: str

    @property
    def direction(self) -> int:
        """+1 when higher values are better, -1 otherwise."""
        return 1 if self.higher_is_better else -1


def _bool(x) -> bool:
    return str(x).strip().lower() in {"true", "1", "yes"}


@lru_cache(maxsize=8)
def load_outcome_registry(path: Path | None = None) -> pd.DataFrame:
    """Read the outcome registry.

    Returns
    -------
    pandas.DataFrame
        Columns ``trial, outcome, instrument, unit, scale_min, scale_max, resolution,
        higher_is_better, mcid, visits, primary, source``; ``visits`` is a tuple of ints.
    """
    df = pd.read_csv(path or config.OUTCOMES_FILE, dtype={"visits": str})
    df["higher_is_better"] = df["higher_is_better"].map(_bool)
    df["primary"] = df["primary"].map(_bool)
    df["visits"] = df["visits"].map(lambda v: tuple(int(x) for x in str(v).split(";")))
    return df


@lru_cache(maxsize=8)
def load_arm_registry(path: Path | None = None) -> pd.DataFrame:
    """Read the arm registry.

    Returns
    -------
    pandas.DataFrame
        Columns ``trial, arm, label, comparator, colour, source``.
    """
    df = pd.read_csv(path or config.ARMS_FILE)
    df["comparator"] = df["comparator"].map(_bool)
    return df


def get_outcome(trial: str, outcome: str) -> Outcome:
    """Return the registry entry of one trial x outcome (KeyError naming both if absent)."""
    reg = load_outcome_registry()
    row = reg[(reg["trial"] == trial) & (reg["outcome"] == outcome)]
    if row.empty:
        raise KeyError(f"no registry entry for trial={trial!r}, outcome={outcome!r}")
    r = row.iloc[0]
    mcid = None if pd.isna(r["mcid"]) else float(r["mcid"])
    return Outcome(
        trial=r["trial"],
        outcome=r["outcome"],
        instrument=r["instrument"],
        unit=r["unit"],
        scale_min=float(r["scale_min"]),
        scale_max=float(r["scale_max"]),
        resolution=float(r["resolution"]),
        higher_is_better=bool(r["higher_is_better"]),
        mcid=mcid,
        visits=tuple(r["visits"]),
        primary=bool(r["primary"]),
        source=r["source"],
    )


def trial_outcomes(trial: str) -> list[str]:
    """Outcome codes of a trial in registry order (primary first)."""
    reg = load_outcome_registry()
    sub = reg[reg["trial"] == trial].sort_values("primary", ascending=False, kind="stable")
    return sub["outcome"].tolist()


def trial_arms(trial: str) -> list[str]:
    """Arm codes of a trial, comparator last."""
    arms = load_arm_registry()
    sub = arms[arms["trial"] == trial].sort_values("comparator", kind="stable")
    return sub["arm"].tolist()


def comparator(trial: str) -> str:
    """The trial's comparator arm (``fact`` or ``standard``)."""
    arms = load_arm_registry()
    return arms[(arms["trial"] == trial) & arms["comparator"]]["arm"].iloc[0]


def trial_visits(trial: str) -> list[int]:
    """All visits (months) any outcome of the trial is measured at, sorted."""
    reg = load_outcome_registry()
    months = set()
    for v in reg[reg["trial"] == trial]["visits"]:
        months.update(v)
    return sorted(months)


def arm_label(arm: str) -> str:
    """Human-readable arm label."""
    arms = load_arm_registry()
    return arms.set_index("arm")["label"].get(arm, arm)


def arm_palette() -> dict[str, str]:
    """Colour of every arm (colour-blind-safe Okabe-Ito), used in every figure."""
    arms = load_arm_registry()
    return dict(zip(arms["arm"], arms["colour"], strict=True))


#: The ICH E9(R1) estimand attributes of a trial (columns of the trial registry), each with the
#: text used where a trial's row leaves it empty.
ESTIMAND_ATTRIBUTES = {
    "population": "the patients randomised in the trial",
    "variable": "each outcome at the final visit, as change from baseline",
    "intercurrent_events": (
        "discontinuing the intervention: treatment policy (outcomes used as observed); leaving "
        "the study: hypothetical, missing at random given the visits attended (primary), with "
        "reference-based imputation and a delta tipping point as sensitivity analyses"
    ),
    "summary_measure": (
        "difference in mean change from baseline between the arms at the final visit, on the "
        "instrument's scale and as an SMD divided by the pooled within-arm baseline SD"
    ),
}


def load_trial_registry(path: Path | None = None) -> pd.DataFrame:
    """The trial registry (``data/registry/trials.csv``): one row per trial.

    Returns
    -------
    pandas.DataFrame
        Columns ``trial, label, citation, study, source`` and the estimand attributes of
        :data:`ESTIMAND_ATTRIBUTES` (defaults where empty or absent); ``study`` is the trial's
        study id in evidence files (the id that pooled evidence rows list in ``includes``).
    """
    reg = pd.read_csv(path or config.TRIALS_FILE, dtype=str, keep_default_na=False)
    for col, default in ESTIMAND_ATTRIBUTES.items():
        if col not in reg:
            reg[col] = ""
        reg[col] = reg[col].where(reg[col].str.strip() != "", default)
    return reg


def estimand(trial: str) -> dict[str, str]:
    """The estimand of a trial (ICH E9(R1) attributes) from the trial registry."""
    reg = load_trial_registry().set_index("trial")
    if trial not in reg.index:
        return dict(ESTIMAND_ATTRIBUTES)
    return {k: str(reg.loc[trial, k]) for k in ESTIMAND_ATTRIBUTES}


def trial_study(trial: str) -> str:
    """The study id under which a trial's results enter the synthesis (the trial code if the
    registry has none)."""
    reg = load_trial_registry().set_index("trial")
    if trial in reg.index and reg.loc[trial, "study"]:
        return str(reg.loc[trial, "study"])
    return trial


def trial_label(trial: str, in_sentence: bool = False) -> str:
    """The reader-facing name of a trial (the trial registry's ``label``; the code if absent);
    ``in_sentence`` lower-cases a leading article ("the resource-group trial")."""
    reg = load_trial_registry().set_index("trial")
    label = (
        str(reg.loc[trial, "label"]) if trial in reg.index and reg.loc[trial, "label"] else trial
    )
    if in_sentence and label.split(" ", 1)[0] in {"The", "A", "An"}:
        label = label[0].lower() + label[1:]
    return label
