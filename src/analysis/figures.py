"""Shared figure helpers: the theme, axes grids, labels and interval panels.

Each stage draws its own figures (``<stage>/plots.py``) with these helpers. Every plot function
takes tidy tables, accepts ``ax=None`` where it draws one panel, and returns the figure.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from analysis import registry


def set_theme() -> None:
    """Apply the project's figure theme."""
    sns.set_theme(context="notebook", style="whitegrid", font_scale=0.9)
    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 150, "savefig.bbox": "tight"})


def given_axes(ax, n: int) -> list:
    """The axes a caller passed for an ``n``-panel figure: one Axes (``n == 1``) or a sequence
    of at least ``n`` Axes (ValueError otherwise, naming how many panels are needed)."""
    axes = list(np.ravel(ax)) if isinstance(ax, list | tuple | np.ndarray) else [ax]
    if len(axes) < n:
        raise ValueError(f"this figure has {n} panels: pass {n} axes (got {len(axes)})")
    return axes


def axes_grid(n: int, ncols: int = 3, size=(4.2, 3.2), ax=None):
    """A figure of ``n`` panels in rows of ``ncols``, or the caller's axes (:func:`given_axes`).

    Returns
    -------
    (matplotlib.figure.Figure, sequence of Axes)
    """
    if ax is not None:
        axes = given_axes(ax, n)
        return axes[0].figure, axes
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False
    )
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat


def unit_label(trial: str, outcome: str) -> str:
    reg = registry.get_outcome(trial, outcome)
    arrow = "higher is better" if reg.higher_is_better else "lower is better"
    return f"{reg.unit} ({reg.scale_min:g} to {reg.scale_max:g})\n{arrow}"


def contrast_label(arm: str, comp: str) -> str:
    return f"{registry.arm_label(arm)}\nvs {registry.arm_label(comp)}"


def contrast_panels(table: pd.DataFrame, ax, width: float, height: float):
    """One axis per (arm, comparator) of ``table``, each with that contrast's rows.

    Yields ``(axis, colour, rows, y)``: the arm's colour, the contrast's rows in order and
    their y positions top to bottom. Each axis has a zero line and the contrast as title.
    """
    groups = list(dict.fromkeys(zip(table["arm"], table["comparator"], strict=True)))
    if ax is None:
        _, axes = plt.subplots(
            1, len(groups), figsize=(width * len(groups), height), sharey=True, squeeze=False
        )
        axes = axes[0]
    else:
        axes = given_axes(ax, len(groups))
    pal = registry.arm_palette()
    for a, (arm, comp) in zip(axes, groups, strict=False):
        rows = table[(table["arm"] == arm) & (table["comparator"] == comp)].reset_index(drop=True)
        y = np.arange(len(rows))[::-1]
        a.axvline(0, color="0.3", lw=0.8)
        a.set_title(contrast_label(arm, comp), fontsize=9)
        yield a, pal[arm], rows, y


def interval(a, mean, lower, upper, y, **kwargs):
    """Horizontal point estimate with its interval."""
    a.errorbar(mean, y, xerr=[mean - lower, upper - mean], capsize=2, **kwargs)
