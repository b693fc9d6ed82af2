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
    if "heterogeneity" not in df:
        df["heterogeneity"] = ""
    df["heterogeneity"] = df["heterogeneity"].fillna("").astype(str).str.strip()
    df["heterogeneity"] = df["heterogeneity"].replace("", HETEROGENEITY_DEFAULT)
    return df


#: Outcome categories of the Rhodes et al. (2015) heterogeneity priors an outcome may declare
#: (``heterogeneity`` in the outcome registry), and the one an empty cell stands for.
HETEROGENEITY_CATEGORIES = ("mental-health", "quality-of-life", "subjective")
HETEROGENEITY_DEFAULT = "mental-health"


def heterogeneity_category(outcome: str) -> str:
    """The heterogeneity category of an outcome (the first registry row naming it)."""
    reg = load_outcome_registry()
    rows = reg[reg["outcome"] == outcome]
    return str(rows["heterogeneity"].iloc[0]) if len(rows) else HETEROGENEITY_DEFAULT


@lru_cache(maxsize=8)
def load_arm_registry(path: Path | None = None) -> pd.DataFrame:
    """Read the arm registry.

    Returns
    -------
    pandas.DataFrame
        Columns ``trial, arm, label, comparator, colour, source``.
    """
    df = pd.read_csv(path or config.ARMS_FILE, dtype=str, keep_default_na=False)
    df["comparator"] = df["comparator"].map(_bool)
    if "colour" not in df:
        df["colour"] = ""
    spare = iter(c for c in SPARE_COLOURS if c not in set(df["colour"]))
    df["colour"] = [c.strip() or next(spare, "#777777") for c in df["colour"]]
    return df


#: Colours given to arms whose registry row leaves ``colour`` empty (Okabe-Ito, then Tol).
SPARE_COLOURS = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#332288",
    "#88CCEE",
    "#44AA99",
    "#117733",
    "#999933",
    "#AA4499",
)


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
        "discontinuing the intervention: treatment policy (outcomes used as observed)"
    ),
    "summary_measure": (
        "difference in mean change from baseline between the arms at the final visit, on the "
        "instrument's scale and as an SMD divided by the pooled within-arm baseline SD"
    ),
}


#: Columns of the trial registry a row must fill; the others get :data:`TRIAL_DEFAULTS`.
TRIAL_REQUIRED = ("trial", "label", "citation", "source")
#: Optional trial-registry columns and the value an empty cell stands for.
TRIAL_DEFAULTS = {
    "short_citation": "",  # "Author et al. Year", shown beside the label in the summary
    "study": "",  # the trial code
    "site_slopes": "false",  # team-specific treatment effects (random slopes) in the model
    "time_unit": "months",  # the unit of the visits (the contract's time column): days, weeks, months
    "primary_analysis": "constrained",  # the primary analysis: constrained or ancova
    "intercurrent_strategies": "",  # "event: strategy; event: strategy" (ICE_STRATEGIES)
}
#: Strategies for an intercurrent event (ICH E9(R1)) a trial's ``intercurrent_strategies``
#: may name, with what they do to the outcomes after the event
#: (:mod:`analysis.contract.intercurrent`).
ICE_STRATEGIES = {
    "treatment_policy": "treatment policy (outcomes after the event used as observed)",
    "hypothetical": (
        "hypothetical (outcomes after the event set aside: missing at random given the visits "
        "before it)"
    ),
    "J2R": "jump to reference (outcomes after the event set aside and imputed as the reference arm's)",
    "CR": "copy reference (outcomes after the event set aside and imputed from the reference arm)",
    "CIR": (
        "copy increments in reference (outcomes after the event set aside and imputed with the "
        "reference arm's increments)"
    ),
}
_STRATEGY_NAMES = {
    **{k.lower(): k for k in ICE_STRATEGIES},
    "treatment policy": "treatment_policy",
    "jump to reference": "J2R",
    "copy reference": "CR",
    "copy increments in reference": "CIR",
}
#: The primary analyses a trial's analysis plan may name (``primary_analysis`` of the trial
#: registry): the constrained longitudinal model (the baseline an outcome, the arms sharing its
#: mean) or the MMRM of the change from baseline with the baseline as a covariate.
ANALYSES = ("constrained", "ancova")
#: Units a trial's visit times may be in (``time_unit`` of the trial registry).
TIME_UNITS = ("days", "weeks", "months")


class RegistryError(ValueError):
    """The registry files contradict each other or miss a required value."""


def trials() -> list[str]:
    """The trials the project knows: the trial registry's codes, in file order."""
    return load_trial_registry()["trial"].tolist()


def trial_labels() -> dict[str, str]:
    """Reader-facing name of every trial."""
    reg = load_trial_registry()
    return dict(zip(reg["trial"], reg["label"], strict=True))


def site_slopes(trial: str) -> bool:
    """Whether the trial's model has team-specific treatment effects (registry
    ``site_slopes``)."""
    reg = load_trial_registry().set_index("trial")
    return trial in reg.index and _bool(reg.loc[trial, "site_slopes"])


def check_registry() -> None:
    """Check that the three registry files agree: every trial declared in ``trials.csv``
    with its required columns filled, at least two arms with exactly one comparator, and
    outcomes with at most one primary.

    Raises
    ------
    RegistryError
        Listing every problem with its file and line.
    """
    problems = []
    reg = load_trial_registry()
    for col in TRIAL_REQUIRED:
        if col not in reg:
            problems.append(f"{config.TRIALS_FILE}: column '{col}' missing")
            continue
        for k, v in enumerate(reg[col], start=2):
            if not str(v).strip():
                problems.append(f"{config.TRIALS_FILE}, line {k}: '{col}' is empty")
    for k, (t, a, u) in enumerate(
        zip(reg["trial"], reg["primary_analysis"], reg["time_unit"], strict=True), start=2
    ):
        if a.strip().lower() not in ANALYSES:
            problems.append(
                f"{config.TRIALS_FILE}, line {k}: trial '{t}': primary_analysis '{a}' is not "
                f"one of {', '.join(ANALYSES)}"
            )
        if u.strip().lower() not in TIME_UNITS:
            problems.append(
                f"{config.TRIALS_FILE}, line {k}: trial '{t}': time_unit '{u}' is not one of "
                f"{', '.join(TIME_UNITS)}"
            )
    for t in reg["trial"]:
        try:
            ice_strategies(t)
        except RegistryError as exc:
            problems.append(str(exc))
    declared = set(reg["trial"])
    arms, outcomes = load_arm_registry(), load_outcome_registry()
    for df, file in ((arms, config.ARMS_FILE), (outcomes, config.OUTCOMES_FILE)):
        for k, t in enumerate(df["trial"], start=2):
            if t not in declared:
                problems.append(
                    f"{file}, line {k}: trial '{t}' is not declared in {config.TRIALS_FILE.name}"
                )
    for t in reg["trial"]:
        a = arms[arms["trial"] == t]
        if len(a) < 2:
            problems.append(f"{config.ARMS_FILE}: trial '{t}' needs at least two arms")
        if int(a["comparator"].sum()) != 1:
            problems.append(
                f"{config.ARMS_FILE}: trial '{t}' needs exactly one comparator arm "
                f"(comparator=true), has {int(a['comparator'].sum())}"
            )
        o = outcomes[outcomes["trial"] == t]
        for k in o.index[~o["heterogeneity"].isin(HETEROGENEITY_CATEGORIES)]:
            problems.append(
                f"{config.OUTCOMES_FILE}, line {k + 2}: heterogeneity "
                f"'{o.loc[k, 'heterogeneity']}' is not one of {', '.join(HETEROGENEITY_CATEGORIES)}"
            )
        if o.empty:
            problems.append(f"{config.OUTCOMES_FILE}: trial '{t}' has no outcome")
        elif int(o["primary"].sum()) > 1:
            problems.append(
                f"{config.OUTCOMES_FILE}: trial '{t}' has {int(o['primary'].sum())} primary "
                "outcomes (primary=true); at most one"
            )
    net = network()
    known = set(arms["arm"])
    named = {net["reference"], net["bridge"]["treatment"], *net["bridge"].get("relative", {})}
    named |= {x for pair in net["cross_trial"] for x in pair}
    for x in sorted(named - known):
        problems.append(f"{config.NETWORK_FILE.name}: treatment '{x}' is not an arm of arms.csv")
    if problems:
        raise RegistryError("the trial registry is inconsistent:\n  - " + "\n  - ".join(problems))


def load_trial_registry(path: Path | None = None) -> pd.DataFrame:
    """The trial registry (``data/registry/trials.csv``): one row per trial.

    Returns
    -------
    pandas.DataFrame
        Columns ``trial, label, citation, study, source`` and the estimand attributes of
        :data:`ESTIMAND_ATTRIBUTES` (defaults where empty or absent); ``study`` is the trial's
        study id in evidence files (the id that pooled evidence rows list in ``includes``).
    """
    path = Path(path or config.TRIALS_FILE)
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        stamp = None  # read_csv names the missing file
    return _read_trial_registry(path, stamp).copy()


@lru_cache(maxsize=8)
def _read_trial_registry(path: Path, stamp: int | None) -> pd.DataFrame:
    """The trial registry as read at modification time ``stamp`` (read once per version:
    most questions about a trial read it)."""
    reg = pd.read_csv(path, dtype=str, keep_default_na=False)
    for col, default in {**TRIAL_DEFAULTS, **ESTIMAND_ATTRIBUTES}.items():
        if col not in reg:
            reg[col] = ""
        reg[col] = reg[col].where(reg[col].str.strip() != "", default)
    return reg


def time_unit(trial: str) -> str:
    """The unit of a trial's visit times (``months`` where the registry says nothing)."""
    reg = load_trial_registry().set_index("trial")
    unit = str(reg.loc[trial, "time_unit"]).strip().lower() if trial in reg.index else ""
    unit = unit or TRIAL_DEFAULTS["time_unit"]
    if unit not in TIME_UNITS:
        raise RegistryError(f"trial {trial!r}: time_unit {unit!r} is not one of {TIME_UNITS}")
    return unit


def primary_analysis(trial: str) -> str:
    """The trial's primary analysis (:data:`ANALYSES`; ``constrained`` where the registry says
    nothing): the other one is reported as a sensitivity analysis."""
    reg = load_trial_registry().set_index("trial")
    name = str(reg.loc[trial, "primary_analysis"]).strip().lower() if trial in reg.index else ""
    name = name or TRIAL_DEFAULTS["primary_analysis"]
    if name not in ANALYSES:
        raise RegistryError(
            f"{config.TRIALS_FILE}: trial {trial!r}: primary_analysis {name!r} is not one of "
            f"{ANALYSES}"
        )
    return name


def ice_strategies(trial: str) -> dict[str, str]:
    """The strategy of each intercurrent event type of a trial (registry
    ``intercurrent_strategies``, ``"event: strategy; event: strategy"``).

    Raises
    ------
    RegistryError
        A strategy that is not one of :data:`ICE_STRATEGIES`, naming the file and trial.
    """
    reg = load_trial_registry().set_index("trial")
    text = str(reg.loc[trial, "intercurrent_strategies"]) if trial in reg.index else ""
    out = {}
    for part in [p for p in text.split(";") if p.strip()]:
        event, _, strategy = part.rpartition(":")
        code = _STRATEGY_NAMES.get(strategy.strip().lower())
        if not event.strip() or code is None:
            raise RegistryError(
                f"{config.TRIALS_FILE}: trial {trial!r}: intercurrent_strategies entry "
                f"{part.strip()!r} is not 'event: strategy' with a strategy of "
                f"{', '.join(ICE_STRATEGIES)}"
            )
        out[event.strip()] = code
    return out


def time_at(trial: str, t) -> str:
    """A visit in words, in the trial's unit: ``week 6``, ``month 18``."""
    return f"{time_unit(trial)[:-1]} {int(t) if float(t).is_integer() else t}"


def time_axis(trial: str) -> str:
    """The time axis of a trial's figures: ``weeks since randomisation``."""
    return f"{time_unit(trial)} since randomisation"


def time_header(trials) -> str:
    """The header of a table's time column for its trials: the shared unit (``Week``), else
    ``Visit time``."""
    units = {time_unit(t) for t in trials}
    return units.pop()[:-1].capitalize() if len(units) == 1 else "Visit time"


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


@lru_cache(maxsize=4)
def _network(path: Path) -> dict:
    import yaml

    spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for key in ("reference", "bridge", "cross_trial", "map_prior"):
        if key not in spec:
            raise RegistryError(f"{path}: '{key}' is missing")
    if spec["bridge"].get("versus", spec["reference"]) != spec["reference"]:
        raise RegistryError(
            f"{path}: the bridge places its treatment against the reference "
            f"({spec['reference']!r}), not {spec['bridge']['versus']!r}"
        )
    return spec


def network() -> dict:
    """The cross-trial network's settings (``data/registry/network.yaml``): ``reference``,
    ``bridge`` (``treatment``, ``versus``, ``mean``, ``sd``, ``relative``), ``cross_trial``
    contrasts and the ``map_prior`` specification."""
    return _network(network_file())


def network_file() -> Path:
    """The network settings in use: the registry's ``network.yaml``, or the project's when a
    registry kept elsewhere (``TRIALBAYES_REGISTRY``) has none."""
    path = config.NETWORK_FILE
    return path if path.is_file() else config.DATA / "registry" / "network.yaml"


def trial_parts() -> list[set[str]]:
    """The treatments each trial links (its arms), merged where trials share an arm: the parts
    of the network that data connect. A contrast between parts rests on the bridge."""
    arms = load_arm_registry()
    parts: list[set[str]] = []
    for _, g in arms.groupby("trial", sort=False):
        part = set(g["arm"])
        for p in [p for p in parts if p & part]:
            part |= p
            parts.remove(p)
        parts.append(part)
    return parts


def study_label(study: str) -> str:
    """A reader's name for a study id of the evidence files: a registry trial's short citation
    (else its label), or the matching key of ``data/references.csv`` ("Lloyd-Evans 2014" for
    ``lloyd_evans2014``); the id itself when neither knows it."""
    import re

    reg = load_trial_registry()
    for t, st, short, label in zip(
        reg["trial"], reg["study"], reg["short_citation"], reg["label"], strict=True
    ):
        if study in (t, st):
            return short or label
    norm = re.sub(r"[^a-z0-9]", "", str(study).lower())
    keys = pd.read_csv(config.REFERENCES, dtype=str)["key"] if config.REFERENCES.is_file() else []
    for key in keys:
        if re.sub(r"[^a-z0-9]", "", key.lower()) == norm:
            return key
    return study
