"""The report's own figure: every comparison at a glance (first page)."""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis import registry, rules

#: File name (under figures/) of the report's first-page figure.
GLANCE_FIGURE = "summary_forest"


def plot_summary_forest(summary: pd.DataFrame, ax=None):
    """Every comparison of the summary on one axis: the SMD oriented so that positive favours
    the first-named arm, with its credible interval; the zero line is the decision threshold
    (an equal-tailed interval wholly right of it meets P(benefit) > the rule's threshold), the
    true values of a simulation are marked, and rows that rest on the bridging prior are grey
    and hatched.

    Parameters
    ----------
    summary : pandas.DataFrame
        The ``summary`` table (:data:`analysis.catalogue.SUMMARY`).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    d = summary.reset_index(drop=True)
    if d.empty:
        raise ValueError("the summary has no comparison to plot")
    groups = list(dict.fromkeys(d["comparison"]))
    rows, labels, heads = [], [], []
    y = 0.0
    for g in groups:  # a heading per comparison (wrapped to the axis), its outcomes below
        head = textwrap.fill(g, 52)
        heads.append((y - 0.3 * head.count("\n"), head))
        y -= 1 + 0.6 * head.count("\n")
        for k in d.index[d["comparison"] == g]:
            rows.append((y, k))
            r = d.loc[k]
            when = (
                f", {registry.time_at(r['source'], r['month'])}"
                if pd.notna(r["month"]) and r["source"] in registry.trials()
                else ""
            )
            labels.append(
                f"{r['outcome'].replace('_', ' ')}{' (primary)' if r['primary'] else ''}{when}"
            )
            y -= 1
        y -= 0.4
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.0, 0.15 * (len(rows) + 1.6 * len(heads)) + 1.2))
    else:
        fig = ax.figure
    pal = registry.arm_palette()
    ax.axvline(0, color="0.2", lw=1)
    true_shown = bridge_shown = False
    for (yi, k), _ in zip(rows, labels, strict=True):
        r = d.loc[k]
        prior = bool(r["rests_on_bridge"])
        colour = "0.55" if prior else pal.get(r["treatment"], "0.3")
        lo, hi, m = r["benefit_smd_lower"], r["benefit_smd_upper"], r["benefit_smd"]
        if prior:
            ax.add_patch(
                plt.Rectangle(
                    (lo, yi - 0.28), hi - lo, 0.56, fill=False, hatch="////", ec="0.6", lw=0.5
                )
            )
            bridge_shown = True
        ax.plot([lo, hi], [yi, yi], color=colour, lw=1.6)
        met = r["prob_benefit"] > rules.DECISION_THRESHOLD
        ax.plot(m, yi, "o", color=colour, mfc=colour if met else "white", ms=5, mew=1.3)
        if pd.notna(r.get("true_benefit_smd", np.nan)):
            ax.plot(r["true_benefit_smd"], yi, "x", color="black", ms=5, mew=1.2)
            true_shown = True
    ax.set_yticks([yi for yi, _ in rows], labels, fontsize=8)
    for yi, g in heads:
        ax.text(
            0.01,
            yi,
            g,
            transform=ax.get_yaxis_transform(),
            ha="left",
            va="center",
            fontsize=8,
            fontweight="bold",
            # over the zero line and the grid, which would otherwise run through the words
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.0},
            zorder=5,
        )
    ax.set_ylim(min(yi for yi, _ in rows) - 0.8, 0.9)
    ax.tick_params(axis="y", length=0)
    ax.set_xlabel(
        "standardised mean difference, 95% CrI (> 0 favours the first-named arm)", fontsize=8.5
    )
    ax.grid(axis="y", visible=False)
    handles = [
        plt.Line2D([], [], marker="o", color="0.3", ls="-", mfc="0.3", label="meets the rule"),
        plt.Line2D([], [], marker="o", color="0.3", ls="-", mfc="white", label="does not"),
    ]
    if true_shown:
        handles.append(plt.Line2D([], [], marker="x", color="black", ls="", label="true value"))
    if bridge_shown:
        handles.append(
            plt.Rectangle((0, 0), 1, 1, fill=False, hatch="////", ec="0.6", label="bridging prior")
        )
    ax.legend(
        handles=handles,
        fontsize=8,
        frameon=False,
        ncol=2,
        loc="upper center",
        bbox_to_anchor=(0.4, -0.06 - 1.0 / max(len(rows), 6)),
    )
    ax.set_title("Every comparison at the last visit", fontsize=9.5)
    fig.tight_layout()
    return fig
