"""Shared figure helpers: the theme, axes grids, labels and interval panels.

Each stage draws its own figures (``<stage>/plots.py``) with these helpers. Every plot function
takes tidy tables, accepts ``ax=None`` where it draws one panel, and returns the figure.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from analysis import registry

#: Printable width of an A4 page with 2 cm margins (inches): the report scales every wider
#: figure down to it, and its fonts with it.
PRINT_WIDTH_IN = 6.7
#: Tallest a printed figure may be (inches): the report's print styles cap figures at 24 cm.
PRINT_HEIGHT_IN = 9.4
#: Resolution of the saved figures, which the report prints (dots per inch).
SAVE_DPI = 150
#: Resolution at which figures are drawn on screen (dots per inch).
SCREEN_DPI = 100
#: Smallest font a journal accepts in a printed figure (points, after scaling to the page).
MIN_PRINT_PT = 8.0


def print_font_sizes(fig) -> list[tuple[str, float]]:
    """Every visible text of a figure with its size in points once printed: the report prints
    figures at the size they were drawn (:func:`analysis.report.render.png_inches`), scaled
    down only to :data:`PRINT_WIDTH_IN` wide or :data:`PRINT_HEIGHT_IN` tall.

    The figure is measured as it is saved (tight bounding box), so the scale is the one the
    report and the PDF apply.
    """
    import io

    import matplotlib.text

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=50, bbox_inches="tight")
    buf.seek(0)
    import matplotlib.pyplot as plt

    height_px, width_px = plt.imread(buf).shape[:2]
    scale = min(1.0, PRINT_WIDTH_IN / (width_px / 50), PRINT_HEIGHT_IN / (height_px / 50))
    return [
        (t.get_text(), t.get_fontsize() * scale)
        for t in fig.findobj(matplotlib.text.Text)
        if t.get_visible() and t.get_text().strip()
    ]


def set_theme() -> None:
    """Apply the project's figure theme."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", font_scale=0.9)
    plt.rcParams.update(
        {"figure.dpi": SCREEN_DPI, "savefig.dpi": SAVE_DPI, "savefig.bbox": "tight"}
    )


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
    import matplotlib.pyplot as plt

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
    """One axis per (arm, comparator) of ``table`` (stacked), each with that contrast's rows.

    Yields ``(axis, colour, rows, y)``: the arm's colour, the contrast's rows in order and
    their y positions top to bottom. Each axis has a zero line and the contrast as title.
    """
    groups = list(dict.fromkeys(zip(table["arm"], table["comparator"], strict=True)))
    if ax is None:  # stacked, one contrast per row, so the figure keeps its print width
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(
            len(groups), 1, figsize=(width, height * len(groups)), sharex=True, squeeze=False
        )
        axes = axes[:, 0]
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


# ----------------------------------------------------------------------------- tables
#: Column headers for readers (columns not listed: underscores to spaces, first letter capital).
HEADERS = {
    "trial": "Trial",
    "outcome": "Outcome",
    "month": "Month",
    "arm": "Arm",
    "treatment": "Treatment",
    "reference": "Reference",
    "comparator": "Comparator",
    "estimate": "Estimate",
    "lower": "95% CrI lower",
    "upper": "95% CrI upper",
    "mc_lower": "95% Monte Carlo lower",
    "mc_upper": "95% Monte Carlo upper",
    "mcse": "MCSE",
    "false_positive_rate": "False-positive rate",
    "design_prior": "Design prior",
    "mean": "Mean",
    "sd": "SD",
    "smd": "SMD",
    "smd_lower": "SMD lower",
    "smd_upper": "SMD upper",
    "prob_benefit": "P(benefit)",
    "prob_mcid": "P(> MCID)",
    "prob_better": "P(better)",
    "true_estimate": "True value",
    "true_smd": "True SMD",
    "rhat_max": "Max R-hat",
    "ess_bulk_min": "Min bulk ESS",
    "ess_tail_min": "Min tail ESS",
    "divergences": "Divergences",
    "n": "n",
    "n_patients": "Patients",
    "n_sites": "Teams",
    "elpd_loo": "ELPD (LOO)",
    "elpd_diff": "ELPD difference",
    "dse": "SE of difference",
    "se": "SE",
    "p_loo": "Effective parameters",
    "pareto_k_max": "Max Pareto k",
    "model": "Model",
    "parameter": "Parameter",
    "characteristic": "Characteristic",
    "study": "Study",
}
#: Columns whose values are arm codes, and those whose values are outcome or trial codes.
_ARM_COLUMNS = ("arm", "treatment", "reference", "comparator", "favours")


def _trial_labels() -> dict[str, str]:
    reg = registry.load_trial_registry()
    return dict(zip(reg["trial"], reg["label"], strict=True))


def _time_header(df: pd.DataFrame, trial: str | None) -> str:
    """The time column's header in the unit of the table's trials (``Week``, ``Month``)."""
    if trial is not None:
        return registry.time_header([trial])
    if "trial" in df and df["trial"].notna().any():
        known = set(registry.trials())
        trials = [t for t in df["trial"].dropna().unique() if t in known]
        if trials:
            return registry.time_header(trials)
    return registry.time_header(registry.trials())


def _row_trial(df: pd.DataFrame, k: int, trial: str | None) -> str | None:
    if "trial" in df:
        return df["trial"].iloc[k]
    if "model" in df and isinstance(df["model"].iloc[k], str):
        return df["model"].iloc[k].split("/")[0]
    return trial


#: Short reader's names of the population-level variables (figure panels, check tables).
SHORT_NAMES = {
    "alpha": "visit mean",
    "beta": "effect",
    "sigma_site": "team SD",
    "sigma_site_effect": "team-effect SD",
    "sigma": "residual SD",
    "rho": "visit-to-visit correlation",
    "sigma_patient": "patient SD",
    "visit_sd": "SD",
    "visit_corr": "correlation",
    "nu": "Student-t degrees of freedom",
}


def parameter_label(name: str, when=None) -> str:
    """A model parameter's name as a reader reads it.

    Coordinates are labels (``alpha[12]``: the visit at time 12; ``beta[fact_rg, 18]``;
    ``visit_corr[0, 12]``), shown through ``when`` (time -> text, e.g. "month 12"; default
    "visit 12") and the arm registry. Unknown names are returned unchanged.
    """
    m = re.fullmatch(r"([a-z_]+)(?:\[(.+)\])?", name.strip())
    if not m or m.group(1) not in SHORT_NAMES and m.group(1) != "gamma":
        return name
    var, inside = m.group(1), m.group(2)
    base = SHORT_NAMES.get(var, "covariate effect")
    if inside is None:
        return base
    parts = [p.strip() for p in inside.split(",")]

    def at(t: str) -> str:
        if when is not None and t.lstrip("-").isdigit():
            return when(int(t))
        return f"visit {t}"

    if var == "beta" and len(parts) == 2:
        return f"effect of {registry.arm_label(parts[0])}, {at(parts[1])}"
    if var == "gamma" and len(parts) == 2:
        return f"{parts[0]} effect, {at(parts[1])}"
    if var == "visit_corr" and len(parts) == 2:
        return f"{base}, {at(parts[0])} and {at(parts[1])}"
    if len(parts) == 1:
        return f"{base}, {at(parts[0])}"
    return f"{base} [{', '.join(parts)}]"


def quantity_text(quantity: str) -> str:
    """A scenario file's dotted key in words: ``outcomes.quality_of_life.baseline_mean`` is
    "quality of life, baseline mean"."""
    parts = [p for p in quantity.split(".") if p not in ("outcomes", "arms")]
    return ", ".join(p.replace("_", " ") for p in parts)


def parameter_text(name: str, trial: str | None) -> str:
    """A model variable in words (:func:`parameter_label`), its
    times in ``trial``'s unit when the trial is in the registry."""
    known = trial in registry.trials() if trial else False
    return parameter_label(name, when=(lambda t: registry.time_at(trial, t)) if known else None)


def model_text(model: str) -> str:
    """``resource_groups/empowerment/sceptical`` as "resource-group trial, empowerment
    (sceptical)"."""
    parts = model.split("/")
    labels = _trial_labels()
    head = labels.get(parts[0], parts[0])
    rest = [p.replace("_", " ") for p in parts[1:]]
    if not rest:
        return head
    return f"{head}, {rest[0]}" + (f" ({', '.join(rest[1:])})" if rest[1:] else "")


def readable(df: pd.DataFrame, digits: int = 2, trial: str | None = None) -> pd.DataFrame:
    """A result table as readers see it: labels instead of codes, headers in words, whole
    numbers as integers, other numbers rounded (probabilities to 3 decimals), no index.

    The values are formatted as text, so this is for display only; the saved tables keep the
    full precision.
    """
    out = df.reset_index(drop=True).copy()
    headers = {**HEADERS, "month": _time_header(df, trial)}
    trials = _trial_labels()
    for col in out.columns:
        s = out[col]
        text = s.dtype == object or pd.api.types.is_string_dtype(s)
        if col in _ARM_COLUMNS and text:
            out[col] = [registry.arm_label(v) if isinstance(v, str) else v for v in s]
        elif col == "outcome" and text:
            out[col] = [v.replace("_", " ") if isinstance(v, str) else v for v in s]
        elif col in ("study", "includes") and text:  # study ids (``;``-separated lists)
            out[col] = [
                "; ".join(registry.study_label(x.strip()) for x in v.split(";") if x.strip())
                if isinstance(v, str)
                else v
                for v in s
            ]
        elif col == "trial" and text:
            out[col] = [trials.get(v, v) if isinstance(v, str) else v for v in s]
        elif col == "parameter" and text:  # model variables as words, times in the trial's unit
            out[col] = [
                parameter_text(v, _row_trial(df, k, trial)) if isinstance(v, str) else v
                for k, v in enumerate(s)
            ]
        elif col == "quantity" and text:  # scenario keys (outcomes.symptoms.baseline_sd)
            out[col] = [quantity_text(v) if isinstance(v, str) else v for v in s]
        elif col == "model" and text:  # fits named "trial/outcome[/variant]"
            out[col] = [model_text(v) if isinstance(v, str) else v for v in s]
        elif pd.api.types.is_bool_dtype(s):
            out[col] = np.where(s, "yes", "no")
        elif pd.api.types.is_numeric_dtype(s):
            finite = s.dropna()
            if finite.empty:
                out[col] = "–"
            elif np.allclose(finite, np.round(finite)) and finite.abs().max() < 1e12:
                out[col] = ["–" if pd.isna(v) else f"{int(round(v)):d}" for v in s]
            elif col.startswith("prob") and not col.endswith("mcse"):
                out[col] = [probability_text(v) for v in s]
            else:
                d = 3 if col.startswith("prob") or col in ("rhat", "rhat_max") else digits
                out[col] = ["–" if pd.isna(v) else f"{v:.{d}f}".replace("-", "−") for v in s]
        else:
            out[col] = s.where(s.notna(), "–")
    out.columns = [headers.get(c, str(c).replace("_", " ").capitalize()) for c in out.columns]
    return out


def report_table(
    df: pd.DataFrame, title: str, note: str = "", digits: int = 2, trial: str | None = None
):
    """A titled table for notebooks and the report: :func:`readable` values, no index column.

    The caption reads ``Table: <title>. <note>``; the report numbers the tables in order
    (``Table N.``) and folds long ones.

    Returns
    -------
    pandas.io.formats.style.Styler
    """
    caption = f"Table: {title.rstrip('.')}." + (f" {note.strip()}" if note else "")
    return readable(df, digits, trial).style.hide(axis="index").set_caption(caption)


def probability_text(p: float, percent: bool = False) -> str:
    """A probability for a table (three decimals) or, with ``percent``, for prose (a
    percentage to one decimal, as fine as the decision rule's 97.5% needs); capped within
    :data:`analysis.rules.PROBABILITY_RESOLUTION` of 0 and 1 (">0.999", "<0.1%"), as Monte
    Carlo draws cannot resolve further; '–' when undefined."""
    from analysis import rules

    if p is None or not np.isfinite(p):
        return "–"

    def show(q: float) -> str:
        return f"{100 * q:.1f}%" if percent else f"{q:.3f}"

    low, high = rules.PROBABILITY_RESOLUTION, 1 - rules.PROBABILITY_RESOLUTION
    if p > high:
        return ">" + show(high)
    if p < low:
        return "<" + show(low)
    return show(p)


def pct(p: float) -> str:
    """A probability as a percentage for prose (:func:`probability_text` with ``percent``)."""
    return probability_text(p, percent=True)
