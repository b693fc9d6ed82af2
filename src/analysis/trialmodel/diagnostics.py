"""Convergence as a gate: R-hat, bulk and tail ESS and divergences, checked in code.

Thresholds follow Vehtari et al. (2021): R-hat <= 1.01, bulk and tail ESS >= 400, no
divergent transitions. Under the full profile a failure raises :class:`ConvergenceError`
naming the model and parameter; under smoke it warns.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis import catalogue, profiles
from analysis.trialmodel import chains

POPULATION_VARS = (
    "alpha",
    "beta",
    "sigma",
    "sigma_patient",
    "sigma_site",
    "sigma_site_effect",
    "visit_sd",
    "visit_corr",
    "rho",
    "gamma",
    "nu",
)


@dataclass(frozen=True)
class Gate:
    """Convergence thresholds."""

    rhat_max: float = 1.01
    ess_min: float = 400.0
    divergences_max: int = 0

    def describe(self) -> str:
        """The gate in one sentence (for the notebooks and the report)."""
        div = (
            "no divergent transitions"
            if self.divergences_max == 0
            else (f"at most {self.divergences_max} divergent transitions")
        )
        return (
            f"Convergence gate: R-hat ≤ {self.rhat_max:g}, bulk and tail effective sample size "
            f"≥ {self.ess_min:g} and {div}, for every population-level parameter of every fit."
        )


class ConvergenceError(RuntimeError):
    """A full-profile fit failed the convergence gate."""


def convergence_table(idata, model_name: str) -> pd.DataFrame:
    """Diagnostics of every population-level parameter of a fit.

    Returns
    -------
    pandas.DataFrame
        Columns ``model, parameter, rhat, ess_bulk, ess_tail, mcse_mean, divergences``, one row
        per scalar parameter (``visit_corr`` diagonal excluded).
    """
    names = [v for v in POPULATION_VARS if v in idata.posterior]
    with warnings.catch_warnings():
        # the constant diagonal of visit_corr has no R-hat or ESS (dropped below)
        warnings.simplefilter("ignore", RuntimeWarning)
        summ = chains.summary(idata.posterior, names)  # rounded as arviz.summary rounds
    summ = summ[~summ.index.str.match(r"visit_corr\[(\w+), \1\]")]
    div = divergences(idata)
    return pd.DataFrame(
        {
            "model": model_name,
            "parameter": summ.index,
            "rhat": summ["r_hat"].to_numpy(),
            "ess_bulk": summ["ess_bulk"].to_numpy(),
            "ess_tail": summ["ess_tail"].to_numpy(),
            "mcse_mean": summ["mcse_mean"].to_numpy(),
            "divergences": div,
        }
    )


def divergences(idata) -> int:
    """Number of divergent transitions after tuning."""
    stats = idata.sample_stats
    key = "diverging" if "diverging" in stats else None
    return int(np.asarray(stats[key]).sum()) if key else 0


def gate_failures(table: pd.DataFrame, gate: Gate = Gate()) -> list[str]:
    """Human-readable failures of the gate (empty list: passed)."""
    out = []
    for _, r in table.iterrows():
        if not np.isfinite(r["rhat"]) or r["rhat"] > gate.rhat_max:
            out.append(f"{r['model']}: {r['parameter']} R-hat {r['rhat']:.3f} > {gate.rhat_max}")
        for col in ("ess_bulk", "ess_tail"):
            if not np.isfinite(r[col]) or r[col] < gate.ess_min:
                out.append(
                    f"{r['model']}: {r['parameter']} {col} {r[col]:.0f} < {gate.ess_min:.0f}"
                )
    for model, div in table.groupby("model")["divergences"].max().items():
        if div > gate.divergences_max:
            out.append(f"{model}: {div} divergent transitions")
    return out


@dataclass(frozen=True)
class GateVerdict:
    """The convergence gate's verdict over a diagnostics table: the one source of its table,
    its message and the exit status, for the command line, the notebooks and the report."""

    table: pd.DataFrame
    failures: tuple[str, ...]
    profile: str
    gate: Gate
    n_parameters: int
    extremes: dict

    @property
    def ok(self) -> bool:
        """Whether every fit passed."""
        return not self.failures

    @property
    def binding(self) -> bool:
        """Whether a failure stops the run (the profile's numbers are for interpretation)."""
        return profiles.for_interpretation(self.profile)

    @property
    def exit_status(self) -> int:
        """1 when a failure is binding, else 0."""
        return int(not self.ok and self.binding)

    def headline(self) -> str:
        """One line: passed, or how many fits failed and why that matters."""
        failed = int((self.table["gate"] == "FAIL").sum())
        if self.ok:
            return f"convergence gate passed for all {len(self.table)} fit(s)"
        why = (
            ": these fits are not results"
            if self.binding
            else " (expected with the short chains of a quick run: never results)"
        )
        return f"convergence gate FAILED for {failed} of {len(self.table)} fit(s){why}"

    def markdown(self) -> str:
        """The verdict in one paragraph."""
        verdict = "PASSED" if self.ok else "FAILED"
        why = (
            " Expected of a quick run's short chains, which are never results."
            if not self.ok and not self.binding
            else ""
        )
        e = self.extremes
        return (
            f"{self.gate.describe()} **{verdict}** ({self.n_parameters} parameters in "
            f"{len(self.table)} models; max R-hat {e['rhat']:.3f}, min bulk ESS "
            f"{e['ess_bulk']:.0f}, min tail ESS {e['ess_tail']:.0f}, divergences "
            f"{e['divergences']}).{why}"
        )

    def enforce(self) -> list[str]:
        """Raise :class:`ConvergenceError` when binding, warn otherwise; the failures."""
        if self.failures:
            msg = "convergence gate failed:\n  " + "\n  ".join(self.failures)
            if self.binding:
                raise ConvergenceError(msg)
            warnings.warn(f"{msg}\n(profile {self.profile!r}: warning only)", stacklevel=3)
        return list(self.failures)


def gate_verdict(diagnostics_table: pd.DataFrame, profile: str, gate: Gate = Gate()) -> GateVerdict:
    """The gate's verdict over the diagnostics of one or more fits.

    Returns
    -------
    GateVerdict
        Its ``table`` has columns ``catalogue.GATE.columns``: per fit the number of parameters,
        worst R-hat, smallest bulk and tail ESS, divergences and ``pass``/``FAIL``.
    """
    d = diagnostics_table
    if d.empty:
        return GateVerdict(
            pd.DataFrame(columns=list(catalogue.GATE.columns)),
            (),
            profile,
            gate,
            0,
            {"rhat": np.nan, "ess_bulk": np.nan, "ess_tail": np.nan, "divergences": 0},
        )
    rows, failures = [], []
    for name, grp in d.groupby("model", sort=False):
        fails = gate_failures(grp, gate)
        failures += fails
        rows.append(
            {
                "model": name,
                "parameters": len(grp),
                "rhat_max": grp["rhat"].max(),
                "ess_bulk_min": grp["ess_bulk"].min(),
                "ess_tail_min": grp["ess_tail"].min(),
                "divergences": int(grp["divergences"].max()),
                "gate": "pass" if not fails else "FAIL",
            }
        )
    extremes = {
        "rhat": float(d["rhat"].max()),
        "ess_bulk": float(d["ess_bulk"].min()),
        "ess_tail": float(d["ess_tail"].min()),
        "divergences": int(d.groupby("model")["divergences"].max().sum()),
    }
    return GateVerdict(pd.DataFrame(rows), tuple(failures), profile, gate, len(d), extremes)


def enforce_gate(table: pd.DataFrame, profile: str, gate: Gate = Gate()) -> list[str]:
    """Raise under the interpreted profile, warn otherwise; return the failures."""
    return gate_verdict(table, profile, gate).enforce()


def gate_markdown(table: pd.DataFrame, profile: str, gate: Gate = Gate()) -> str:
    """The gate's verdict over a diagnostics table, in one paragraph."""
    return gate_verdict(table, profile, gate).markdown()
