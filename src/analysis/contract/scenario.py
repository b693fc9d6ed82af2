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
    #: Residual SD at each follow-up visit relative to baseline (1 = constant variance).
    visit_sd_ratio: dict[int, float] = field(default_factory=dict)
    #: Correlation of a patient's residuals one year apart; it decays as rho**(months/12)
    #: (0 = a patient random intercept only: compound symmetry).
    residual_correlation_per_year: float = 0.0
    #: Correlation of a patient's outcomes with one another (patient effects and residuals).
    outcome_correlation: float = 0.0
    #: Log-odds change in dropout per baseline SD of the *unobserved* current primary outcome
    #: (missing not at random; 0 = missing at random given the last visit).
    dropout_mnar_slope: float = 0.0

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


def _optional(node: dict, key: str, default, where: str, path: Path):
    """An optional scenario number: its value if present (checked like any other), else default."""
    if key not in node:
        return default
    return _value(node[key], f"{where}.{key}" if where else key, path)


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
    import copy

    path = Path(path_or_trial)
    if not path.suffix:
        path = scenario_path(str(path_or_trial))
    # studies load the same scenario for every simulated trial: parse each file version once
    key = (str(path.resolve()), path.stat().st_mtime_ns)
    if key not in _LOADED:
        _LOADED[key] = _parse_scenario(path)
    return copy.deepcopy(_LOADED[key])


_LOADED: dict = {}


def _parse_scenario(path: Path) -> Scenario:
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
        visit_sd_ratio=_int_keys(_optional(var, "visit_sd_ratio", {}, "variance", path)),
        residual_correlation_per_year=float(
            _optional(var, "residual_correlation_per_year", 0.0, "variance", path)
        ),
        outcome_correlation=float(_optional(var, "outcome_correlation", 0.0, "variance", path)),
        dropout_mnar_slope=float(_optional(raw, "dropout_mnar_slope", 0.0, "", path)),
    )
    for name, v in (
        ("residual_correlation_per_year", sc.residual_correlation_per_year),
        ("outcome_correlation", sc.outcome_correlation),
    ):
        if not 0 <= v < 1:
            raise ScenarioError(f"{path}: variance.{name} must be in [0, 1), got {v}")
    if any(r <= 0 for r in sc.visit_sd_ratio.values()):
        raise ScenarioError(f"{path}: variance.visit_sd_ratio values must be positive")
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


def true_effects(sc: Scenario) -> pd.DataFrame:
    """The scenario's true effects, for the tables that show them beside the estimates.

    The effects are set on the latent scale in baseline-SD units, benefit-positive; on the
    instrument's scale they are ``direction * effect * baseline_sd`` (before rounding to the
    instrument's resolution and clipping to its range, which the simulator then applies).

    Returns
    -------
    pandas.DataFrame
        Columns ``trial, outcome, month, arm, comparator, true_estimate, true_smd`` with one row
        per outcome x follow-up visit x contrast (each arm against the comparator, then each
        pair of active arms), ``true_smd`` in the model's sign convention (instrument direction).
    """
    import itertools

    treated = [a for a in sc.arms if a != sc.comparator]
    pairs = [(a, sc.comparator) for a in treated] + list(itertools.combinations(treated, 2))
    rows = []
    for name, o in sc.outcomes.items():
        direction = registry.get_outcome(sc.trial, name).direction
        for month in [m for m in sorted(sc.visits) if m > 0]:
            for arm, comp in pairs:
                eff = o.effect.get(arm, {}).get(month, 0.0) - o.effect.get(comp, {}).get(month, 0.0)
                eff += 0.0  # no negative zero in the tables
                rows.append(
                    {
                        "trial": sc.trial,
                        "outcome": name,
                        "month": month,
                        "arm": arm,
                        "comparator": comp,
                        "true_estimate": direction * eff * o.baseline_sd + 0.0,
                        "true_smd": direction * eff + 0.0,
                    }
                )
    return pd.DataFrame(rows)


def embedded_truth(trial: str) -> pd.DataFrame:
    """True effects of the embedded simulated data (``data/simulated/trials.csv``, simulated
    from the default scenario of each trial); empty for a trial without a scenario."""
    if not scenario_path(trial).exists():
        return pd.DataFrame()
    return true_effects(load_scenario(trial))
