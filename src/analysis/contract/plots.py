"""Figures of the data: participant flow, observed trajectories, missingness."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from analysis import registry
from analysis.figures import axes_grid, unit_label


def plot_trajectories(
    means: pd.DataFrame, trial: str, title: str | None = None, modelled=None, ax=None
):
    """Observed mean trajectories per arm with 95% confidence intervals, one panel per outcome.

    Parameters
    ----------
    means : pandas.DataFrame
        :func:`analysis.describe.observed_means` output.
    trial : str
        Trial to plot.
    title : str, optional
        Figure title.
    modelled : pandas.DataFrame, optional
        Columns ``outcome, arm, month, mean, lower, upper`` drawn as lines with credible bands.
    ax : sequence of matplotlib Axes, optional
        One per outcome panel (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
    """
    sub = means[means["trial"] == trial]
    outcomes = [o for o in registry.trial_outcomes(trial) if o in set(sub["outcome"])]
    pal = registry.arm_palette()
    arms = [a for a in registry.trial_arms(trial) if a in set(sub["arm"])]
    fig, axes = axes_grid(len(outcomes), ncols=2, size=(3.4, 2.8), ax=ax)
    offsets = dict(zip(arms, np.linspace(-0.3, 0.3, len(arms)), strict=True))
    for ax, outcome in zip(axes, outcomes, strict=False):
        for arm in arms:
            d = sub[(sub["outcome"] == outcome) & (sub["arm"] == arm)].sort_values("month")
            x = d["month"] + offsets[arm]
            yerr = np.vstack([d["mean"] - d["lower"], d["upper"] - d["mean"]])
            kw = dict(
                fmt="o", color=pal[arm], capsize=3, label=f"{registry.arm_label(arm)} (observed)"
            )
            if modelled is None:
                kw.update(fmt="o-")
            ax.errorbar(x, d["mean"], yerr=yerr, **kw)
            if modelled is not None:
                m = modelled[(modelled["outcome"] == outcome) & (modelled["arm"] == arm)]
                m = m.sort_values("month")
                ax.plot(
                    m["month"],
                    m["mean"],
                    color=pal[arm],
                    label=f"{registry.arm_label(arm)} (model)",
                )
                ax.fill_between(m["month"], m["lower"], m["upper"], color=pal[arm], alpha=0.2)
        ax.set_title(outcome.replace("_", " "), fontsize=9)
        ax.set_xlabel(registry.time_axis(trial), fontsize=8)
        ax.set_ylabel(unit_label(trial, outcome), fontsize=8)
        ax.set_xticks(sorted(sub["month"].unique()))
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="lower center",
        ncol=2,
        fontsize=8,
        frameon=False,
        bbox_to_anchor=(0.5, -0.02),
    )
    interval = "observed means with 95% t-intervals"
    if modelled is not None:
        interval += "; lines and bands: posterior means with 95% credible intervals"
    fig.suptitle(title or f"{registry.trial_label(trial)}:\n{interval}", fontsize=9)
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    return fig


def plot_missingness(miss: pd.DataFrame, trial: str, ax=None):
    """Percentage of randomised patients missing each outcome, per arm and visit.

    Returns
    -------
    matplotlib.figure.Figure
    """
    sub = miss[(miss["trial"] == trial) & (miss["month"] > 0)]
    sub = sub.groupby(["arm", "month"], as_index=False)["missing_pct"].mean()
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 3.2))
    else:
        fig = ax.figure
    pal = registry.arm_palette()
    arms = [a for a in registry.trial_arms(trial) if a in set(sub["arm"])]
    sns.barplot(data=sub, x="month", y="missing_pct", hue="arm", hue_order=arms, palette=pal, ax=ax)
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles, [registry.arm_label(a) for a in arms], fontsize=8, frameon=False)
    ax.set_xlabel(registry.time_axis(trial))
    ax.set_ylabel("patients missing (% of randomised)")
    ax.set_title(f"{trial.replace('_', ' ')}: missing follow-up (mean over outcomes)", fontsize=10)
    return fig


def plot_flow(flow: pd.DataFrame, ax=None):
    """Patients assessed per arm and visit as a share of those randomised (both trials).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.2))
    else:
        fig = ax.figure
    pal = registry.arm_palette()
    for (trial, arm), d in flow.groupby(["trial", "arm"]):
        ls = "-" if trial == "resource_groups" else "--"
        ax.plot(
            d["month"],
            d["retained_pct"],
            ls,
            marker="o",
            color=pal[arm],
            label=f"{registry.arm_label(arm)} (n={int(d['randomised'].iloc[0])})",
        )
    ax.set_ylim(0, 105)
    ax.set_xticks(sorted(int(m) for m in flow["month"].unique()))  # ticks at the visits
    trials = list(flow["trial"].unique())
    units = {registry.time_unit(t) for t in trials}
    ax.set_xlabel(registry.time_axis(trials[0]) if len(units) == 1 else "time since randomisation")
    ax.set_ylabel("assessed (% of randomised)")
    ax.set_title(
        "Participant flow: retention by arm (solid: resource groups; dashed: consumer providers)",
        fontsize=9,
    )
    ax.legend(fontsize=8, frameon=False)
    return fig


def plot_consort(flow: pd.DataFrame, trial: str, ax=None):
    """CONSORT-style participant flow of one trial (Hopewell et al. 2025): randomised, allocated
    per arm, assessed and lost at each follow-up visit, and analysed.

    Every randomised patient with a baseline value is analysed: the models use each visit
    attended (missing visits are handled by the likelihood), so nobody is excluded for missing
    follow-up.

    Parameters
    ----------
    flow : pandas.DataFrame
        The ``participant_flow`` table.
    trial : str
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    d = flow[flow["trial"] == trial]
    arms = [a for a in registry.trial_arms(trial) if a in set(d["arm"])]
    visits = sorted(int(m) for m in d["month"].unique() if m > 0)
    n_rows = 3 + len(visits)
    if ax is None:
        fig, ax = plt.subplots(figsize=(2.9 * len(arms) + 0.6, 1.05 * n_rows + 0.4))
    else:
        fig = ax.figure
    height = 0.72  # of a box, in rows
    xs = [(k + 0.5) * 2.9 for k in range(len(arms))]
    centre = sum(xs) / len(xs)
    top = n_rows - 0.5

    def box(x, y, text, bold=False):
        ax.text(
            x,
            y,
            text,
            ha="center",
            va="center",
            fontsize=8,
            fontweight="bold" if bold else "normal",
            bbox={"boxstyle": "square,pad=0.35", "fc": "white", "ec": "0.3", "lw": 0.8},
            wrap=True,
        )

    def arrow(x0, y0, x1, y1):  # a connector line (data, so the axes know they hold some)
        ax.plot([x0, x1], [y0 - height / 2, y1 + height / 2 + 0.04], color="0.3", lw=0.8)
        ax.plot([x1], [y1 + height / 2 + 0.04], marker="v", ms=4, color="0.3")

    total = int(d.drop_duplicates("arm")["randomised"].sum())
    box(centre, top, f"Randomised\nn = {total}", bold=True)
    for x, arm in zip(xs, arms, strict=True):
        a = d[d["arm"] == arm].set_index("month")
        n = int(a["randomised"].iloc[0])
        y = top - 1
        arrow(centre, top, x, y)
        box(x, y, f"Allocated to\n{registry.arm_label(arm)}\nn = {n}")
        for month in visits:
            y_next = y - 1
            assessed = int(a.loc[month, "assessed"]) if month in a.index else 0
            arrow(x, y, x, y_next)
            box(
                x,
                y_next,
                f"Assessed at {registry.time_at(trial, month)}: {assessed} ({assessed / n:.0%})\n"
                f"not assessed: {n - assessed}",
            )
            y = y_next
        arrow(x, y, x, y - 1)
        box(x, y - 1, f"Analysed: {n}\n(all randomised; every\nvisit attended is used)", bold=True)
    ax.set_xlim(0, xs[-1] + 1.45)
    ax.set_ylim(-0.1, n_rows)
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(f"Participant flow, {registry.trial_label(trial, in_sentence=True)}", fontsize=9)
    return fig
