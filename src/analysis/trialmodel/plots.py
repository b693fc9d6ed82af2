"""Figures of the trial models: forest plots, team effects, predictive checks, sensitivity."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection

from analysis import registry, rules
from analysis.figures import axes_grid, contrast_panels, interval


def plot_forest(effects: pd.DataFrame, trial: str, pooled: pd.DataFrame | None = None, ax=None):
    """Forest plot of every effect of a trial as a benefit-oriented SMD with 95% CrI.

    Parameters
    ----------
    effects : pandas.DataFrame
        ``trial_effects`` rows.
    pooled : pandas.DataFrame, optional
        :func:`analysis.pooling.pool_secondary_effects` output, drawn beside the unpooled
        estimates of the secondary outcomes.

    Returns
    -------
    matplotlib.figure.Figure
    """
    sub = effects[effects["trial"] == trial].copy()
    sign = sub.apply(lambda r: registry.get_outcome(trial, r["outcome"]).direction, axis=1)
    sub["b"], sub["b_lo"], sub["b_hi"] = (
        sub["smd"] * sign,
        np.where(sign > 0, sub["smd_lower"], -sub["smd_upper"]),
        np.where(sign > 0, sub["smd_upper"], -sub["smd_lower"]),
    )
    sub["row"] = [
        f"{o.replace('_', ' ')}, {registry.time_at(trial, m)}"
        for o, m in zip(sub["outcome"], sub["month"], strict=True)
    ]
    n_groups = len(set(zip(sub["arm"], sub["comparator"], strict=True)))
    height = 0.3 * len(sub) / n_groups + 1.0
    axes = []
    for a, colour, d, y in contrast_panels(sub, ax, 5.6, height):
        axes.append(a)
        interval(
            a, d["b"], d["b_lo"], d["b_hi"], y, fmt="o", color=colour, label="own model (unpooled)"
        )
        if pooled is not None and not pooled.empty:
            arm, comp = d["arm"].iloc[0], d["comparator"].iloc[0]
            p = pooled[(pooled["arm"] == arm) & (pooled["comparator"] == comp)]
            p = d[["outcome", "month"]].merge(p, on=["outcome", "month"], how="left")
            ok = p["smd_pooled"].notna().to_numpy()
            interval(
                a,
                p["smd_pooled"][ok],
                p["smd_pooled_lower"][ok],
                p["smd_pooled_upper"][ok],
                y[ok] - 0.25,
                fmt="s",
                color="0.4",
                ms=4,
                label="partially pooled (secondary)",
            )
        a.set_yticks(y, d["row"])
    axes[-1].set_xlabel(
        "standardised mean difference (change from baseline; > 0 favours the first arm)"
    )
    fig = axes[0].figure
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        fontsize=8.5,
        frameon=False,
        loc="lower center",
        ncol=2,
        bbox_to_anchor=(0.5, -0.04),
    )
    fig.suptitle(
        f"{registry.trial_label(trial)}: posterior means with 95% credible intervals", fontsize=10
    )
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def _when(table: pd.DataFrame, month) -> str:
    """A visit in words in the unit of the table's trial (``month 18``, ``week 6``)."""
    if "trial" in table and table["trial"].nunique() == 1:
        return registry.time_at(table["trial"].iloc[0], month)
    return f"visit {month}"


def plot_team_effects(teams: pd.DataFrame, outcome: str, month: int, ax=None):
    """Team-specific treatment effects (SMD) with 95% CrI, sorted, with the population effect.

    Returns
    -------
    matplotlib.figure.Figure
    """
    d = teams[(teams["outcome"] == outcome) & (teams["month"] == month)]
    hidden = int(d["suppressed"].sum()) if "suppressed" in d else 0
    d = d[~d["suppressed"]] if "suppressed" in d else d
    d = d.sort_values("smd")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 0.25 * len(d) + 1.5))
    else:
        fig = ax.figure
    y = np.arange(len(d))
    arm = d["arm"].iloc[0]
    ax.errorbar(
        d["smd"],
        y,
        xerr=[d["smd"] - d["smd_lower"], d["smd_upper"] - d["smd"]],
        fmt="o",
        color=registry.arm_palette()[arm],
        capsize=2,
    )
    ax.set_yticks(
        y, [f"{s} (n={n})" for s, n in zip(d["site"], d["n_patients"], strict=True)], fontsize=8
    )
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_xlabel("team-specific effect (SMD, arm minus comparator)")
    ax.set_title(
        f"{outcome.replace('_', ' ')} at {_when(teams, month)}: team effects, posterior means "
        "with 95% CrI"
        + (
            f"\n({hidden} team(s) with fewer than {rules.MIN_CELL} patients not shown)"
            if hidden
            else ""
        ),
        fontsize=9,
    )
    return fig


def kde_curves(samples: np.ndarray, gridsize: int = 200, cut: float = 3.0) -> list[np.ndarray]:
    """Gaussian kernel density estimates, one per row of ``samples``, as seaborn's ``kdeplot``
    draws them: Scott's bandwidth (SD x n^(-1/5)), evaluated on ``gridsize`` points over the
    row's range widened by ``cut`` bandwidths each side. All rows at once, instead of one
    ``kdeplot`` call each (51 per panel of a predictive check, 2 s of a trial notebook).

    Parameters
    ----------
    samples : array (row x value)
        NaN values are ignored; a row with fewer than two distinct values gives no curve.

    Returns
    -------
    list of arrays (gridsize x 2)
        Each curve's points (value, density).
    """
    out = []
    for row in np.atleast_2d(samples):
        x = row[~np.isnan(row)]
        sd = x.std(ddof=1) if x.size > 1 else 0.0
        if not sd > 0:
            continue
        bw = sd * x.size ** (-1 / 5)
        grid = np.linspace(x.min() - cut * bw, x.max() + cut * bw, gridsize)
        z = (grid[:, None] - x[None, :]) / bw
        density = np.exp(-0.5 * z**2).sum(axis=1) / (x.size * bw * np.sqrt(2 * np.pi))
        out.append(np.column_stack([grid, density]))
    return out


def plot_predictive(
    observed: np.ndarray,
    replicated: np.ndarray,
    visits: list[int],
    unit: str,
    kind: str = "posterior",
    scale_range: tuple[float, float] | None = None,
    ax=None,
    trial: str | None = None,
):
    """Predictive check: distribution of observed values per visit against replicated data sets.

    Parameters
    ----------
    observed : array (patient x visit)
        Observed outcomes on the instrument scale (NaN = missing).
    replicated : array (draw x patient x visit)
        Replicated outcomes on the instrument scale; masked like ``observed``.
    kind : {"prior", "posterior"}
    ax : sequence of matplotlib Axes, optional
        One per visit (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, axes = axes_grid(len(visits), ncols=len(visits), size=(2.1, 2.2), ax=ax)
    mask = ~np.isnan(observed)
    for t, (ax, month) in enumerate(zip(axes, visits, strict=False)):
        obs = observed[mask[:, t], t]
        curves = kde_curves(replicated[:50, mask[:, t], t])
        ax.add_collection(LineCollection(curves, color="C0", alpha=0.15, lw=0.7))
        for line in kde_curves(obs[None, :]):
            ax.plot(*line.T, color="k", lw=1.8)
        ax.autoscale_view()
        ax.set_ylim(bottom=0)
        if scale_range is not None:
            ax.axvspan(*scale_range, color="0.9", zorder=-1)
        when = registry.time_at(trial, month) if trial else f"visit {month}"
        ax.set_xlabel(f"{unit} at {when}", fontsize=8)
        ax.set_ylabel("density" if t == 0 else "", fontsize=8)
    fig.suptitle(
        f"{kind.capitalize()} predictive check: observed (black) vs 50 replicated data sets "
        "(blue)" + ("\ngrey band: instrument range" if scale_range is not None else ""),
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def plot_sensitivity(sens: pd.DataFrame, month: int, ax=None):
    """The key outcome's effect (SMD, 95% CrI) under each analysis variant.

    Returns
    -------
    matplotlib.figure.Figure
    """
    d = sens[sens["month"] == month]
    trial, outcome = d["trial"].iloc[0], d["outcome"].iloc[0]
    sign = registry.get_outcome(trial, outcome).direction  # > 0 favours the first arm
    fig, last = None, None
    for a, colour, g, y in contrast_panels(d, ax, 5.0, 0.3 * d["analysis"].nunique() + 0.9):
        fig, last = a.figure, a
        lo, hi = sign * g["smd_lower"], sign * g["smd_upper"]
        interval(
            a, sign * g["smd"], np.minimum(lo, hi), np.maximum(lo, hi), y, fmt="o", color=colour
        )
        a.set_yticks(y, g["analysis"], fontsize=8.5)
    last.set_xlabel("SMD with 95% CrI (> 0 favours the first arm)")
    fig.suptitle(
        f"{d['outcome'].iloc[0].replace('_', ' ')} at {_when(d, month)} under alternative analyses",
        fontsize=10,
    )
    fig.tight_layout()
    return fig
