"""Convergence as a gate: R-hat, bulk and tail ESS and divergences, checked in code.

Thresholds follow Vehtari et al. (2021): R-hat <= 1.01, bulk and tail ESS >= 400, no
divergent transitions. Under the full profile a failure raises :class:`ConvergenceError`
naming the model and parameter; under smoke it warns.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import arviz as az
import numpy as np
import pandas as pd
from arviz.utils import Numba

# ArviZ's numba kernels compile in every process (~1.3 s) to save milliseconds on our draws
Numba.disable_numba()

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
        summ = az.summary(idata, var_names=names, kind="diagnostics")
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


def enforce_gate(table: pd.DataFrame, profile: str, gate: Gate = Gate()) -> list[str]:
    """Raise under ``full``, warn otherwise; return the failures."""
    fails = gate_failures(table, gate)
    if fails:
        msg = "convergence gate failed:\n  " + "\n  ".join(fails)
        if profile == "full":
            raise ConvergenceError(msg)
        warnings.warn(f"{msg}\n(profile {profile!r}: warning only)", stacklevel=2)
    return fails


def gate_overview(table: pd.DataFrame) -> pd.DataFrame:
    """One row per model: worst R-hat, smallest bulk and tail ESS, divergences.

    Returns
    -------
    pandas.DataFrame
        Columns ``model, rhat_max, ess_bulk_min, ess_tail_min, divergences``.
    """
    return (
        table.groupby("model", sort=False)
        .agg(
            rhat_max=("rhat", "max"),
            ess_bulk_min=("ess_bulk", "min"),
            ess_tail_min=("ess_tail", "min"),
            divergences=("divergences", "max"),
        )
        .reset_index()
    )


def gate_markdown(table: pd.DataFrame, profile: str, gate: Gate = Gate()) -> str:
    """The gate's verdict over a diagnostics table, in one paragraph."""
    fails = gate_failures(table, gate)
    verdict = "PASSED" if not fails else "FAILED"
    why = (
        " Expected with the smoke profile's short chains, which are never results."
        if fails and profile != "full"
        else ""
    )
    return (
        f"{gate.describe()} **{verdict}** ({len(table)} parameters in "
        f"{table['model'].nunique()} models; max R-hat {table['rhat'].max():.3f}, min bulk ESS "
        f"{table['ess_bulk'].min():.0f}, min tail ESS {table['ess_tail'].min():.0f}, divergences "
        f"{int(table['divergences'].sum())}).{why}"
    )
