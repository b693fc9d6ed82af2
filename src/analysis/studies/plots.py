"""Figures of the simulation studies: assurance, SBC ranks, tipping point."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from analysis.figures import axes_grid


def plot_assurance(table: pd.DataFrame, levels=(0.8, 0.9), ax=None):
    """Assurance against trial size, one line per number of teams (and design prior: solid the
    first, dashed the second), with 95% Monte Carlo bands."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6.4, 4.2))
    teams = sorted(table["n_sites"].unique())
    colour_of = dict(zip(teams, sns.color_palette("colorblind", len(teams)), strict=True))
    priors = list(dict.fromkeys(table["design_prior"])) if "design_prior" in table else [None]
    styles = ["-", "--", ":"]
    for p, prior in enumerate(priors):
        rows = table if prior is None else table[table["design_prior"] == prior]
        for k, grp in rows.groupby("n_sites"):  # a team count keeps its colour across priors
            colour = colour_of[k]
            grp = grp.sort_values("n_patients")
            ax.plot(
                grp["n_patients"],
                grp["assurance"],
                marker="o" if p == 0 else "s",
                ls=styles[p % 3],
                color=colour,
                label=f"{k} teams" + (f", {prior} prior" if len(priors) > 1 else ""),
            )
            ax.fill_between(
                grp["n_patients"], grp["lower"], grp["upper"], color=colour, alpha=0.2 / (p + 1)
            )
    for level in levels:
        ax.axhline(level, color="grey", ls=":", lw=1)
        ax.annotate(
            f"{level:.0%}",
            (ax.get_xlim()[0], level),
            fontsize=8,
            color="grey",
            xytext=(2, 2),
            textcoords="offset points",
        )
    ax.set_ylim(0, 1)
    ax.set_xlabel("patients randomised in the replication trial")
    ax.set_ylabel("assurance (probability of success)")
    ax.set_title("Assurance by trial size (bands: 95% Monte Carlo interval)", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def plot_sbc_ranks(ranks: pd.DataFrame, thin_to: int, bins: int = 10, ax=None):
    """Rank histograms of simulation-based calibration with the 99% band of uniform ranks."""
    from scipy import stats

    from analysis.figures import parameter_text

    skip = ("rep", "divergences", "status", "error", "key", "trial", "outcome")
    cols = [c for c in ranks.columns if c not in skip]
    trial = ranks["trial"].iloc[0] if "trial" in ranks and len(ranks) else None
    fig, axes = axes_grid(len(cols), ncols=3, size=(2.2, 1.8), ax=ax)
    n = ranks[cols[0]].notna().sum() if cols else 0
    lo, hi = stats.binom.ppf([0.005, 0.995], n, 1 / bins)
    for a, col in zip(axes, cols, strict=False):
        a.hist(
            ranks[col].dropna(),
            bins=bins,
            range=(0, thin_to + 1),
            color="#56B4E9",
            edgecolor="white",
        )
        a.axhspan(lo, hi, color="grey", alpha=0.25, lw=0)
        a.axhline(n / bins, color="grey", lw=1)
        a.set_title(parameter_text(col, trial), fontsize=8.5)
        a.set_xlabel(f"rank (0-{thin_to})", fontsize=8.5)
        a.set_ylabel("replicates", fontsize=8.5)
        a.tick_params(labelsize=8.5)
    for a in axes[len(cols) :]:
        a.set_visible(False)
    fig.suptitle(
        "SBC rank histograms of the true values\n(grey band: 99% interval of each bin under "
        "uniform ranks)",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def plot_tipping_point(table: pd.DataFrame, threshold: float, ax=None, arm: str | None = None):
    """P(benefit) over shifts of the missing values in each arm; the line where it crosses the
    conclusion's threshold is the tipping point. With several active arms, ``arm`` (default:
    the first) against the comparator."""
    from analysis import registry

    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5.8, 4.6))
    title = "Missing-not-at-random tipping point (MAR at the origin)"
    if "arm" in table and table["arm"].notna().any():
        arm = arm or table["arm"].dropna().iloc[0]
        table = table[table["arm"] == arm]
        title += f"\n{registry.arm_label(arm)} vs {registry.arm_label(table['comparator'].iloc[0])}"
    grid = table.pivot(index="delta_control", columns="delta_treated", values="prob_benefit")
    x, y = grid.columns.to_numpy(), grid.index.to_numpy()
    mesh = ax.pcolormesh(x, y, grid.to_numpy(), cmap="cividis", vmin=0, vmax=1, shading="nearest")
    cs = ax.contour(x, y, grid.to_numpy(), levels=[threshold], colors="#D55E00", linewidths=2)
    ax.clabel(cs, fmt={threshold: f"P = {threshold:g}"}, fontsize=8)
    ax.axvline(0, color="white", lw=0.8, ls=":")
    ax.axhline(0, color="white", lw=0.8, ls=":")
    fig.colorbar(mesh, ax=ax).set_label("posterior P(benefit)", fontsize=9)
    ax.set_xlabel(
        "shift of missing values, treated arm\n(baseline SD per missing visit; + = better)",
        fontsize=9,
    )
    ax.set_ylabel(
        "shift of missing values, control arm\n(baseline SD per missing visit; + = better)",
        fontsize=9,
    )
    ax.set_title(title, fontsize=10)
    return fig
