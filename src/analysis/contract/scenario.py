"""Simulation scenarios: one YAML file per trial under ``data/scenarios/``.

Every number is a mapping ``{value, status, source | reason}`` with ``status`` either
``published`` (and a ``source``) or ``assumed`` (and a ``reason``). :func:`load_scenario`
checks that and returns plain values; :func:`scenario_provenance` lists every number with
its status for the report's Limitations section.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from analysis import config, registry


@dataclass
class OutcomeScenario:
    """Scenario of one outcome; effects and trends are in baseline-SD units, benefit-positive."""

    baseline_mean: float
    baseline_sd: float
    time_trend: dict[int, float]
    effect: dict[str, dict[int, float]]


@dataclass
class Scenario:
    """A whole trial scenario with plain values."""

    trial: str
    arms: dict[str, int]
    comparator: str
    site_sizes: list[int]
    visits: list[int]
    site_share: float
    patient_share: float
    site_effect_sd: float
    dropout: dict[int, float]
    dropout_slope: float
    outcomes: dict[str, OutcomeScenario] = field(default_factory=dict)

    @property
    def n_patients(self) -> int:
        """Total number of patients."""
        return int(sum(self.arms.values()))


class ScenarioError(ValueError):
    """A scenario file that breaks the conventions."""


def _value(node, where: str, path: Path):
    if not isinstance(node, dict) or "value" not in node:
        raise ScenarioError(f"{path}: {where} must be a mapping with 'value' and 'status'")
    status = node.get("status")
    if status not in {"published", "assumed"}:
        raise ScenarioError(f"{path}: {where} has status {status!r}; use 'published' or 'assumed'")
    if status == "published" and not node.get("source"):
        raise ScenarioError(f"{path}: {where} is published but has no 'source'")
    if status == "assumed" and not node.get("reason"):
        raise ScenarioError(f"{path}: {where} is assumed but has no 'reason'")
    return node["value"]


def _int_keys(d: dict) -> dict[int, float]:
    return {int(k): float(v) for k, v in d.items()}


def scenario_path(trial: str) -> Path:
    """Path of the default scenario file of a trial."""
    return config.SCENARIOS / f"{trial}.yaml"


def load_scenario(path_or_trial: str | Path) -> Scenario:
    """Load and check a scenario.

    Parameters
    ----------
    path_or_trial : str or Path
        A trial code (``resource_groups``) or a path to a scenario YAML file.

    Returns
    -------
    Scenario
    """
    path = Path(path_or_trial)
    if not path.suffix:
        path = scenario_path(str(path_or_trial))
    raw = yaml.safe_load(path.read_text())
    trial = raw["trial"]
    arms = {str(k): int(v) for k, v in _value(raw["arms"], "arms", path).items()}
    site_sizes = [int(x) for x in _value(raw["site_sizes"], "site_sizes", path)]
    if sum(site_sizes) != sum(arms.values()):
        raise ScenarioError(
            f"{path}: site_sizes sum to {sum(site_sizes)} but arms sum to {sum(arms.values())}"
        )
    comparator = raw["comparator"]
    if comparator not in arms:
        raise ScenarioError(f"{path}: comparator {comparator!r} is not an arm")
    treated = [a for a in arms if a != comparator]
    var = raw["variance"]
    outcomes = {}
    for name, o in raw["outcomes"].items():
        where = f"outcomes.{name}"
        eff = _value(o["effect_sd_units"], f"{where}.effect_sd_units", path)
        if all(isinstance(k, int) for k in eff):  # one treated arm: months -> effect
            if len(treated) != 1:
                raise ScenarioError(f"{path}: {where}.effect_sd_units must be given per arm")
            eff = {treated[0]: eff}
        outcomes[name] = OutcomeScenario(
            baseline_mean=float(_value(o["baseline_mean"], f"{where}.baseline_mean", path)),
            baseline_sd=float(_value(o["baseline_sd"], f"{where}.baseline_sd", path)),
            time_trend=_int_keys(_value(o["time_trend_sd_units"], f"{where}.time_trend", path)),
            effect={arm: _int_keys(e) for arm, e in eff.items()},
        )
    sc = Scenario(
        trial=trial,
        arms=arms,
        comparator=comparator,
        site_sizes=site_sizes,
        visits=[int(v) for v in _value(raw["visits"], "visits", path)],
        site_share=float(_value(var["site_share"], "variance.site_share", path)),
        patient_share=float(_value(var["patient_share"], "variance.patient_share", path)),
        site_effect_sd=float(
            _value(var["site_effect_sd_sd_units"], "variance.site_effect_sd_sd_units", path)
        ),
        dropout=_int_keys(_value(raw["dropout"], "dropout", path)),
        dropout_slope=float(_value(raw["dropout_slope"], "dropout_slope", path)),
        outcomes=outcomes,
    )
    if sc.site_share + sc.patient_share >= 1:
        raise ScenarioError(f"{path}: site_share + patient_share must be below 1")
    for name in outcomes:
        registry.get_outcome(trial, name)  # KeyError if the registry lacks it
    return sc


def scenario_provenance(path_or_trial: str | Path) -> pd.DataFrame:
    """Every number of a scenario with its status.

    Returns
    -------
    pandas.DataFrame
        Columns ``trial, quantity, value, status, note`` (note = source or reason).
    """
    path = Path(path_or_trial)
    if not path.suffix:
        path = scenario_path(str(path_or_trial))
    raw = yaml.safe_load(path.read_text())
    rows = []

    def walk(node, prefix):
        if isinstance(node, dict) and "status" in node and "value" in node:
            rows.append(
                {
                    "trial": raw["trial"],
                    "quantity": prefix,
                    "value": str(node["value"]),
                    "status": node["status"],
                    "note": node.get("source") or node.get("reason", ""),
                }
            )
        elif isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{prefix}.{k}" if prefix else str(k))

    walk({k: v for k, v in raw.items() if k not in {"trial", "comparator"}}, "")
    return pd.DataFrame(rows, columns=["trial", "quantity", "value", "status", "note"])
