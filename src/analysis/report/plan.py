"""A report run's plan: the notebook steps of a profile, and their parameters checked first."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from analysis import config
from analysis.profiles import load_profile


@dataclass
class Step:
    """One notebook execution; steps of the same ``group`` may run in parallel."""

    name: str
    notebook: Path
    parameters: dict
    group: int = 0
    seconds: float | None = None
    status: str = "pending"


@dataclass
class RunPlan:
    """Everything one report run does."""

    profile: str
    seed: int
    data_path: Path | None
    steps: list[Step] = field(default_factory=list)
    #: Seconds each step took in the last successful run of the same profile (for estimates).
    expected: dict[str, float] = field(default_factory=dict)


#: A step's ``runs`` value meaning one run per analysed trial.
PER_TRIAL = "per_trial"


def analysed_trials(trials: set[str] | None) -> list[str]:
    """The trials a run analyses, in trial-registry order: those in the data, or those of the
    embedded simulated data (``config.TRIALS``) when no data file is given."""
    from analysis import registry

    wanted = set(config.TRIALS) if trials is None else set(trials)
    return [t for t in registry.trials() if t in wanted]


def plan_run(
    profile: str,
    data_path: Path | None,
    build_dir: Path,
    seed: int | None = None,
    trials: set[str] | None = None,
) -> RunPlan:
    """Expand a profile into the list of notebook runs with their parameters.

    A step whose ``runs`` is ``per_trial`` runs once per trial of :func:`analysed_trials`.
    Runs with a ``trial`` parameter are kept only for the ``trials`` present in the data (all
    when ``trials`` is None). A step with ``with_previous: true`` runs beside the step before it
    (the same group): for notebooks that do not read each other's results.
    """
    spec = load_profile(profile)
    seed = int(config.DEFAULT_SEED if seed is None else seed)
    plan = RunPlan(profile=profile, seed=seed, data_path=data_path)
    common = {
        "data_path": str(data_path) if data_path else "",
        "seed": seed,
        "profile": profile,
        "output_dir": str(build_dir),
    }
    group = -1
    for entry in spec["steps"]:
        group += 0 if entry.get("with_previous") and group >= 0 else 1
        nb = config.NOTEBOOKS / f"{entry['notebook']}.ipynb"
        runs = entry.get("runs") or [{}]
        if runs == PER_TRIAL:
            runs = [{"trial": t} for t in analysed_trials(trials)]
        runs = [r for r in runs if trials is None or r.get("trial", next(iter(trials))) in trials]
        for run in runs:
            suffix = "-".join(str(v) for v in run.values())
            name = entry["notebook"] + (f"-{suffix}" if suffix else "")
            params = {**common, **(entry.get("parameters") or {}), **run}
            plan.steps.append(Step(name=name, notebook=nb, parameters=params, group=group))
    return plan


class BadParameters(ValueError):
    """A profile passes parameters that a notebook does not declare or cannot use."""


_TYPES = {
    "int": (int,),
    "float": (int, float),
    "str": (str,),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
}
#: Parameters that count something and must be at least 1.
POSITIVE_INTS = {
    "draws",
    "tune",
    "chains",
    "replicates",
    "null_replicates",
    "validate_n",
    "validate_draws",
    "sbc_replicates",
    "sbc_draws",
    "sbc_thin",
    "workers",
}


def check_parameters(plan: RunPlan) -> None:
    """Check every step's parameters against its notebook's ``parameters`` cell.

    Unknown names, wrong types, counts below 1, standard deviations that are not positive,
    probabilities outside (0, 1) and evidence files that cannot be read are all reported at
    once, before any notebook runs.

    Raises
    ------
    BadParameters
    """
    import math

    import papermill

    problems = []
    declared_by_nb: dict[Path, dict] = {}
    for step in plan.steps:
        if not step.notebook.exists():
            problems.append(f"{step.name}: notebook {step.notebook} does not exist")
            continue
        if step.notebook not in declared_by_nb:
            declared_by_nb[step.notebook] = papermill.inspect_notebook(str(step.notebook))
        declared = declared_by_nb[step.notebook]
        for name, value in step.parameters.items():
            where = f"{step.name}: parameter '{name}'"
            if name not in declared:
                problems.append(
                    f"{where} is not a parameter of {step.notebook.name} "
                    f"(known: {', '.join(sorted(declared))})"
                )
                continue
            kind = declared[name]["inferred_type_name"]
            ok_types = _TYPES.get(kind)
            if ok_types and (
                not isinstance(value, ok_types) or (kind != "bool" and isinstance(value, bool))
            ):
                problems.append(f"{where} must be {kind}, got {value!r}")
                continue
            if name in POSITIVE_INTS and value < 1:
                problems.append(f"{where} must be at least 1, got {value!r}")
            elif name.endswith("_sd") and not (math.isfinite(value) and value > 0):
                problems.append(f"{where} must be a positive number, got {value!r}")
            elif name in {"threshold", "map_weight"} and not 0 < value < 1:
                problems.append(f"{where} must be between 0 and 1, got {value!r}")
            elif name == "evidence_file" and value:
                from analysis.synthesis import evidence

                try:
                    evidence.load_evidence(config.resolve(value))
                except Exception as exc:  # noqa: BLE001 - any reason it cannot be used
                    problems.append(f"{where}: cannot use the evidence file: {exc}")
    if problems:
        raise BadParameters(
            f"profile '{plan.profile}': {len(problems)} bad parameter(s):\n  - "
            + "\n  - ".join(problems)
        )
