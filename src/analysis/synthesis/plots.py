"""Figures of the cross-trial synthesis: network, forest, rankograms, bridge sensitivity."""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis import registry
from analysis.figures import axes_grid
from analysis.synthesis import nma

_NETWORK_POS = {
    "fact_rg": (0.0, 1.0),
    "fact": (0.0, 0.0),
    "standard": (1.6, 0.0),
    "cacm": (2.6, 1.0),
    "ncacm": (2.6, -1.0),
}


def plot_network(
    evidence: pd.DataFrame,
    outcome: str,
    patients: dict[str, int] | None = None,
    bridge: tuple[str, str] | None = None,
    ax=None,
):
    """Evidence network of one outcome: nodes sized by patients, edges by number of contrasts.

    Parameters
    ----------
    patients : dict, optional
        Patients per treatment (node size); defaults to the sums in the evidence.
    bridge : tuple, optional
        The pair joined only by the bridging prior, drawn dashed (default: the bridge of
        ``data/registry/network.yaml``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if bridge is None:
        net = registry.network()["bridge"]
        bridge = (net["treatment"], net.get("versus", registry.network()["reference"]))
    ev = evidence[evidence["outcome"] == outcome]
    nodes = list(dict.fromkeys([*_NETWORK_POS, *ev["treatment"], *ev["comparator"]]))
    pos = dict(_NETWORK_POS)
    extra = [n for n in nodes if n not in pos]
    for k, n in enumerate(extra):
        ang = 2 * np.pi * k / max(len(extra), 1)
        pos[n] = (1.3 + 2.2 * np.cos(ang), -1.8 + 0.4 * np.sin(ang))
    if patients is None:
        patients = {}
        for col, ncol in (("treatment", "n_treatment"), ("comparator", "n_comparator")):
            for t, n in zip(ev[col], ev[ncol], strict=True):
                if pd.notna(n):
                    patients[t] = patients.get(t, 0) + int(n)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
    else:
        fig = ax.figure
    pal = registry.arm_palette()
    edges = ev.groupby(["treatment", "comparator"]).size()
    for (t, c), n in edges.items():
        (x1, y1), (x2, y2) = pos[t], pos[c]
        ax.plot([x1, x2], [y1, y2], color="0.35", lw=1.5 + 2 * n, zorder=1)
        ax.text(
            (x1 + x2) / 2,
            (y1 + y2) / 2,
            f"{n}",
            fontsize=8,
            ha="center",
            va="center",
            bbox=dict(boxstyle="round", fc="white", ec="0.6"),
        )
    if bridge is not None:
        (x1, y1), (x2, y2) = pos[bridge[0]], pos[bridge[1]]
        ax.plot(
            [x1, x2],
            [y1, y2],
            color="#D55E00",
            lw=2,
            ls="--",
            zorder=1,
            label="bridging assumption (prior, no data)",
        )
    for node in nodes:
        n = patients.get(node)
        size = 300 + 6 * (n or 0)
        ax.scatter(*pos[node], s=size, color=pal.get(node, "0.6"), zorder=2, edgecolor="k")
        ax.annotate(
            f"{registry.arm_label(node)}\n({n} patients)" if n else registry.arm_label(node),
            pos[node],
            xytext=(0, -22),
            textcoords="offset points",
            ha="center",
            va="top",
            fontsize=8,
        )
    ax.set_axis_off()
    ax.margins(0.25)
    ax.legend(loc="upper center", fontsize=8, frameon=False)
    ax.set_title(
        f"Evidence network: {outcome.replace('_', ' ')} (edge labels: number of contrasts)",
        fontsize=9,
    )
    return fig


def plot_nma_forest(league: pd.DataFrame, reference: str = "standard", ax=None):
    """Every treatment against ``reference``, per outcome: SMD with 95% CrI.

    Returns
    -------
    matplotlib.figure.Figure
    """
    d = league[league["reference"] == reference].reset_index(drop=True)
    if ax is None:
        fig, ax = plt.subplots(figsize=(3.6, 0.55 * len(d) + 1.4))
    else:
        fig = ax.figure
    pal = registry.arm_palette()
    bridge = registry.network()["bridge"]
    y = np.arange(len(d))[::-1]
    kinds = set()
    for yi, (_, r) in zip(y, d.iterrows(), strict=True):
        alone = r["treatment"] == bridge["treatment"] and r["reference"] == bridge["versus"]
        crosses = nma.depends_on_bridge(r["treatment"], r["reference"])
        if crosses:  # resting on the bridging prior: hatched, and grey when the prior alone
            kinds.add("alone" if alone else "crosses")
            ax.add_patch(
                plt.Rectangle(
                    (r["lower"], yi - 0.3),
                    r["upper"] - r["lower"],
                    0.6,
                    fill=False,
                    hatch="////" if alone else "..",
                    ec="0.6",
                    lw=0.5,
                )
            )
        ax.errorbar(
            r["mean"],
            yi,
            xerr=[[r["mean"] - r["lower"]], [r["upper"] - r["mean"]]],
            fmt="o",
            color="0.6" if alone else pal.get(r["treatment"], "0.4"),
            mfc="white" if alone else None,
            capsize=2,
        )
    handles = []
    if "alone" in kinds:
        handles.append(
            plt.Rectangle((0, 0), 1, 1, fill=False, hatch="////", ec="0.6", label="prior alone")
        )
    if "crosses" in kinds:
        handles.append(
            plt.Rectangle(
                (0, 0), 1, 1, fill=False, hatch="..", ec="0.6", label="rests on the bridge"
            )
        )
    if handles:
        ax.legend(
            handles=handles,
            fontsize=8,
            frameon=False,
            loc="upper center",
            bbox_to_anchor=(0.4, -0.5 / max(len(d), 2) - 0.12),
            ncol=2,
        )
    ax.set_yticks(
        y,
        [
            f"{r.outcome.replace('_', ' ')}:\n{registry.arm_label(r.treatment)}"
            for r in d.itertuples()
        ],
        fontsize=8,
    )
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_xlabel(f"SMD vs {registry.arm_label(reference)} (> 0 favours the treatment)")
    ax.set_title("Network meta-analysis:\nposterior means with 95% CrI", fontsize=9)
    return fig


def plot_rankogram(ranks: pd.DataFrame, ax=None):
    """Rank probabilities per treatment and outcome (rank 1 = best), SUCRA in the legend.

    Returns
    -------
    matplotlib.figure.Figure
    """
    outcomes = list(dict.fromkeys(ranks["outcome"]))
    fig, axes = axes_grid(len(outcomes), ncols=min(2, len(outcomes)), size=(2.9, 3.6), ax=ax)
    pal = registry.arm_palette()
    for a, outcome in zip(axes, outcomes, strict=False):
        d = ranks[ranks["outcome"] == outcome]
        for t, g in d.groupby("treatment", sort=False):
            a.plot(
                g["rank"],
                g["probability"],
                "o-",
                color=pal.get(t, "0.4"),
                label=textwrap.fill(f"{registry.arm_label(t)}: SUCRA {g['sucra'].iloc[0]:.2f}", 26),
            )
        a.set_xticks(sorted(d["rank"].unique()))
        a.set_xlabel("rank (1 = best)", fontsize=8)
        a.set_ylabel("posterior probability", fontsize=8)
        a.set_ylim(0, 1)
        a.set_title(outcome.replace("_", " "), fontsize=9)
        a.legend(
            fontsize=8,
            frameon=False,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.3),
            borderaxespad=0.0,
            handlelength=1.2,
        )
    fig.suptitle("Rank probabilities (rankograms) with SUCRA", fontsize=10)
    fig.tight_layout()
    return fig


def plot_bridge_sensitivity(
    sens: pd.DataFrame,
    label: str = "FACT plus resource group vs consumer-assisted case management",
    ax=None,
):
    """How the key cross-trial contrast depends on the SD of the bridging prior.

    Left: posterior SD of the contrast against the bridge SD, with the identity line (a contrast
    resting on the bridge cannot be more certain than the bridge allows once it is wide).
    Right: P(FACT plus resource group ranks first). ``ax``: two axes (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, (a1, a2) = axes_grid(2, ncols=2, size=(3.4, 3.0), ax=ax)
    for outcome, d in sens.groupby("outcome", sort=False):
        name = outcome.replace("_", " ")
        (line,) = a1.plot(d["bridge_sd"], d["sd"], "o-", label=name)
        a2.plot(d["bridge_sd"], d["prob_best"], "o-", color=line.get_color(), label=name)
    grid = np.sort(sens["bridge_sd"].unique())
    a1.plot(grid, grid, ls=":", color="0.3", label="posterior SD = bridge SD")
    a1.set_xscale("log")
    a1.set_yscale("log")
    a1.set_ylabel("posterior SD of the contrast (SMD)", fontsize=8)
    a1.set_title(label.replace(" vs ", "\nvs "), fontsize=8)
    a1.legend(fontsize=8, frameon=False)
    a2.set_xscale("log")
    a2.set_ylabel("P(FACT plus resource group ranks first)", fontsize=8)
    a2.set_ylim(0, 1)
    a2.set_title("probability of ranking first\namong the five treatments", fontsize=8)
    for a in (a1, a2):
        a.set_xlabel("bridge SD (prior SD of FACT as usual\nvs standard care, SMD)", fontsize=8)
    fig.tight_layout()
    return fig
