"""Figures. Every function takes tidy tables, returns the figure, and labels units and intervals.

One seaborn theme (:func:`set_theme`) and one colour per arm everywhere
(:func:`analysis.registry.arm_palette`, Okabe-Ito, colour-blind safe).
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


def _axes_grid(n: int, ncols: int = 3, size=(4.2, 3.2)):
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False
    )
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat


def _unit_label(trial: str, outcome: str) -> str:
    reg = registry.get_outcome(trial, outcome)
    arrow = "higher is better" if reg.higher_is_better else "lower is better"
    return f"{reg.unit} ({reg.scale_min:g} to {reg.scale_max:g})\n{arrow}"


def plot_trajectories(means: pd.DataFrame, trial: str, title: str | None = None, modelled=None):
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

    Returns
    -------
    matplotlib.figure.Figure
    """
    sub = means[means["trial"] == trial]
    outcomes = [o for o in registry.trial_outcomes(trial) if o in set(sub["outcome"])]
    pal = registry.arm_palette()
    arms = [a for a in registry.trial_arms(trial) if a in set(sub["arm"])]
    fig, axes = _axes_grid(len(outcomes))
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
        ax.set_title(outcome.replace("_", " "))
        ax.set_xlabel("months since randomisation")
        ax.set_ylabel(_unit_label(trial, outcome), fontsize=8)
        ax.set_xticks(sorted(sub["month"].unique()))
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="lower center",
        ncol=min(len(labels), 3),
        frameon=False,
        bbox_to_anchor=(0.5, -0.02),
    )
    interval = "observed means with 95% t-intervals"
    if modelled is not None:
        interval += "; lines and bands: posterior means with 95% credible intervals"
    fig.suptitle(title or f"{trial.replace('_', ' ')}: {interval}", fontsize=10)
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
    ax.set_xlabel("months since randomisation")
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
    ax.set_xlabel("months since randomisation")
    ax.set_ylabel("assessed (% of randomised)")
    ax.set_title(
        "Participant flow: retention by arm (solid: resource groups; dashed: consumer providers)",
        fontsize=9,
    )
    ax.legend(fontsize=7, frameon=False)
    return fig


def _contrast_label(arm: str, comp: str) -> str:
    return f"{registry.arm_label(arm)}\nvs {registry.arm_label(comp)}"


def _contrast_panels(table: pd.DataFrame, ax, width: float, height: float):
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
        axes = [ax]
    pal = registry.arm_palette()
    for a, (arm, comp) in zip(axes, groups, strict=False):
        rows = table[(table["arm"] == arm) & (table["comparator"] == comp)].reset_index(drop=True)
        y = np.arange(len(rows))[::-1]
        a.axvline(0, color="0.3", lw=0.8)
        a.set_title(_contrast_label(arm, comp), fontsize=9)
        yield a, pal[arm], rows, y


def _interval(a, mean, lower, upper, y, **kwargs):
    """Horizontal point estimate with its interval."""
    a.errorbar(mean, y, xerr=[mean - lower, upper - mean], capsize=2, **kwargs)


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
    sub["row"] = sub["outcome"].str.replace("_", " ") + ", " + sub["month"].astype(str) + " mo"
    n_groups = len(set(zip(sub["arm"], sub["comparator"], strict=True)))
    height = 0.42 * len(sub) / n_groups + 1.6
    axes = []
    for a, colour, d, y in _contrast_panels(sub, ax, 4.6, height):
        axes.append(a)
        _interval(
            a, d["b"], d["b_lo"], d["b_hi"], y, fmt="o", color=colour, label="own model (unpooled)"
        )
        if pooled is not None and not pooled.empty:
            arm, comp = d["arm"].iloc[0], d["comparator"].iloc[0]
            p = pooled[(pooled["arm"] == arm) & (pooled["comparator"] == comp)]
            p = d[["outcome", "month"]].merge(p, on=["outcome", "month"], how="left")
            ok = p["smd_pooled"].notna().to_numpy()
            _interval(
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
        a.set_xlabel("standardised mean difference\n(change from baseline; > 0 favours first arm)")
    fig = axes[0].figure
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        fontsize=8,
        frameon=False,
        loc="lower center",
        ncol=2,
        bbox_to_anchor=(0.5, -0.04),
    )
    fig.suptitle(
        f"{trial.replace('_', ' ')}: posterior means with 95% credible intervals", fontsize=10
    )
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


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
        y, [f"{s} (n={n})" for s, n in zip(d["site"], d["n_patients"], strict=True)], fontsize=7
    )
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_xlabel("team-specific effect (SMD, arm minus comparator)")
    ax.set_title(
        f"{outcome.replace('_', ' ')} at {month} months: team effects, posterior means "
        "with 95% CrI"
        + (f"\n({hidden} team(s) with fewer than 5 patients not shown)" if hidden else ""),
        fontsize=9,
    )
    return fig


def plot_predictive(
    observed: np.ndarray,
    replicated: np.ndarray,
    visits: list[int],
    unit: str,
    kind: str = "posterior",
    scale_range: tuple[float, float] | None = None,
):
    """Predictive check: distribution of observed values per visit against replicated data sets.

    Parameters
    ----------
    observed : array (patient x visit)
        Observed outcomes on the instrument scale (NaN = missing).
    replicated : array (draw x patient x visit)
        Replicated outcomes on the instrument scale; masked like ``observed``.
    kind : {"prior", "posterior"}

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, axes = plt.subplots(1, len(visits), figsize=(3.6 * len(visits), 3), squeeze=False)
    mask = ~np.isnan(observed)
    for t, (ax, month) in enumerate(zip(axes[0], visits, strict=True)):
        obs = observed[mask[:, t], t]
        for r in replicated[:, mask[:, t], t][:50]:
            sns.kdeplot(r, ax=ax, color="C0", alpha=0.15, lw=0.7)
        sns.kdeplot(obs, ax=ax, color="k", lw=1.8)
        if scale_range is not None:
            ax.axvspan(*scale_range, color="0.9", zorder=-1)
        ax.set_xlabel(f"{unit} at month {month}")
        ax.set_ylabel("density" if t == 0 else "")
    fig.suptitle(
        f"{kind} predictive check: observed (black) vs 50 replicated data sets (blue)"
        + ("; grey band: instrument range" if scale_range is not None else ""),
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
    fig = None
    for a, colour, g, y in _contrast_panels(d, ax, 4.8, 2.6):
        fig = a.figure
        _interval(a, g["smd"], g["smd_lower"], g["smd_upper"], y, fmt="o", color=colour)
        a.set_yticks(y, g["analysis"], fontsize=8)
        a.set_xlabel("SMD (arm minus comparator), 95% CrI")
    fig.suptitle(
        f"{d['outcome'].iloc[0].replace('_', ' ')} at {month} months under alternative analyses",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


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
    bridge: tuple[str, str] | None = ("fact", "standard"),
    ax=None,
):
    """Evidence network of one outcome: nodes sized by patients, edges by number of contrasts.

    Parameters
    ----------
    patients : dict, optional
        Patients per treatment (node size); defaults to the sums in the evidence.
    bridge : tuple, optional
        The pair joined only by the bridging prior, drawn dashed.

    Returns
    -------
    matplotlib.figure.Figure
    """
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
            fontsize=7,
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
        fig, ax = plt.subplots(figsize=(6.5, 0.38 * len(d) + 1.4))
    else:
        fig = ax.figure
    pal = registry.arm_palette()
    y = np.arange(len(d))[::-1]
    for yi, (_, r) in zip(y, d.iterrows(), strict=True):
        ax.errorbar(
            r["mean"],
            yi,
            xerr=[[r["mean"] - r["lower"]], [r["upper"] - r["mean"]]],
            fmt="o",
            color=pal.get(r["treatment"], "0.4"),
            capsize=2,
        )
    ax.set_yticks(
        y,
        [
            f"{r.outcome.replace('_', ' ')}: {registry.arm_label(r.treatment)}"
            for r in d.itertuples()
        ],
        fontsize=8,
    )
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_xlabel(f"SMD vs {registry.arm_label(reference)} (> 0 favours the treatment)")
    ax.set_title("Network meta-analysis: posterior means with 95% credible intervals", fontsize=9)
    return fig


def plot_rankogram(ranks: pd.DataFrame, ax=None):
    """Rank probabilities per treatment and outcome (rank 1 = best), SUCRA in the legend.

    Returns
    -------
    matplotlib.figure.Figure
    """
    outcomes = list(dict.fromkeys(ranks["outcome"]))
    fig, axes = _axes_grid(len(outcomes), ncols=min(3, len(outcomes)), size=(4.0, 3.0))
    pal = registry.arm_palette()
    for a, outcome in zip(axes, outcomes, strict=False):
        d = ranks[ranks["outcome"] == outcome]
        for t, g in d.groupby("treatment", sort=False):
            a.plot(
                g["rank"],
                g["probability"],
                "o-",
                color=pal.get(t, "0.4"),
                label=f"{registry.arm_label(t)} (SUCRA {g['sucra'].iloc[0]:.2f})",
            )
        a.set_xticks(sorted(d["rank"].unique()))
        a.set_xlabel("rank (1 = best)")
        a.set_ylabel("posterior probability")
        a.set_ylim(0, 1)
        a.set_title(outcome.replace("_", " "), fontsize=9)
        a.legend(fontsize=6, frameon=False)
    fig.suptitle("Rank probabilities (rankograms) with SUCRA", fontsize=10)
    fig.tight_layout()
    return fig


def plot_bridge_sensitivity(
    sens: pd.DataFrame, label: str = "FACT plus resource group vs consumer-assisted case management"
):
    """How the key cross-trial contrast depends on the SD of the bridging prior.

    Left: posterior SD of the contrast against the bridge SD, with the identity line (a contrast
    resting on the bridge cannot be more certain than the bridge allows once it is wide).
    Right: P(FACT plus resource group ranks first).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
    for outcome, d in sens.groupby("outcome", sort=False):
        name = outcome.replace("_", " ")
        (line,) = a1.plot(d["bridge_sd"], d["sd"], "o-", label=name)
        a2.plot(d["bridge_sd"], d["prob_best"], "o-", color=line.get_color(), label=name)
    grid = np.sort(sens["bridge_sd"].unique())
    a1.plot(grid, grid, ls=":", color="0.3", label="posterior SD = bridge SD")
    a1.set_xscale("log")
    a1.set_yscale("log")
    a1.set_ylabel("posterior SD of the contrast (SMD)")
    a1.set_title(label, fontsize=8)
    a1.legend(fontsize=7, frameon=False)
    a2.set_xscale("log")
    a2.set_ylabel("P(FACT plus resource group ranks first)")
    a2.set_ylim(0, 1)
    a2.set_title("probability of ranking first among the five treatments", fontsize=8)
    for a in (a1, a2):
        a.set_xlabel("bridge SD (prior SD of FACT as usual vs standard care, SMD)", fontsize=8)
    fig.tight_layout()
    return fig


def plot_bench(results: dict, targets: dict):
    """The benchmark: ESS per second by method, fit time by trial size, report durations.

    Dashed red lines mark the targets (see :data:`analysis.bench.TARGETS`).
    """
    parts = [k for k in ("formulation", "scale", "report") if k in results]
    fig, axes = plt.subplots(1, len(parts), figsize=(5.2 * len(parts), 3.8), squeeze=False)
    axes = axes[0]
    for ax, part in zip(axes, parts, strict=True):
        tab = results[part]
        if part == "formulation":
            ax.barh(tab["method"], tab["ess_per_second"], color="#0072B2")
            ax.set_xscale("log")
            ax.set_xlabel("min bulk ESS per second of wall time (log scale)")
            ax.invert_yaxis()
            naive = tab["ess_per_second"].iloc[0]
            ax.axvline(
                naive * targets["ess_per_second_ratio"],
                color="#D55E00",
                ls="--",
                label=f"target: {targets['ess_per_second_ratio']:g}x naive",
            )
            ax.legend(fontsize=8, loc="lower right")
            ax.set_title("Same data, same sampler settings")
        elif part == "scale":
            ax.plot(tab["patients"], tab["seconds"], "o-", color="#009E73")
            for _, r in tab.iterrows():
                ax.annotate(
                    f"{int(r['teams'])} teams" + (" (+compile)" if r["compiled"] else ""),
                    (r["patients"], r["seconds"]),
                    textcoords="offset points",
                    xytext=(4, 4),
                    fontsize=8,
                )
            ax.set_xscale("log")
            ax.axhline(
                targets["scale_10000_seconds"],
                color="#D55E00",
                ls="--",
                label="target for 10,000 patients",
            )
            ax.set_xlabel("patients (log scale)")
            ax.set_ylabel("wall time of one fit (s)")
            ax.legend(fontsize=8)
            ax.set_title("Project model by trial size")
        else:
            ax.bar(tab["run"], tab["seconds"], color="#CC79A7")
            for x, key in enumerate(("report_cold_seconds", "report_warm_seconds")):
                if x < len(tab):
                    ax.hlines(targets[key], x - 0.4, x + 0.4, color="#D55E00", ls="--")
            ax.set_ylabel("wall time of make report, full profile (s)")
            ax.set_title("Whole report (dashes: targets)")
    fig.tight_layout()
    return fig


def plot_assurance(table: pd.DataFrame, levels=(0.8, 0.9), ax=None):
    """Assurance against trial size, one line per number of teams, with 95% Monte Carlo bands."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6.4, 4.2))
    palette = sns.color_palette("colorblind", table["n_sites"].nunique())
    for colour, (k, grp) in zip(palette, table.groupby("n_sites"), strict=True):
        grp = grp.sort_values("n_patients")
        ax.plot(grp["n_patients"], grp["assurance"], "o-", color=colour, label=f"{k} teams")
        ax.fill_between(grp["n_patients"], grp["lower"], grp["upper"], color=colour, alpha=0.2)
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
    ax.legend(title="teams", fontsize=8)
    return fig


def plot_sbc_ranks(ranks: pd.DataFrame, thin_to: int, bins: int = 10, ax=None):
    """Rank histograms of simulation-based calibration with the 99% band of uniform ranks."""
    from scipy import stats

    cols = [c for c in ranks.columns if c not in ("rep", "divergences", "status", "error", "key")]
    fig, axes = _axes_grid(len(cols), ncols=4, size=(3.0, 2.4))
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
        a.set_title(col, fontsize=9)
        a.set_xlabel(f"rank of the true value (0-{thin_to})", fontsize=8)
        a.set_ylabel("replicates", fontsize=8)
    for a in axes[len(cols) :]:
        a.set_visible(False)
    fig.suptitle(
        "SBC rank histograms (grey band: 99% interval of each bin under uniform ranks)", fontsize=10
    )
    fig.tight_layout()
    return fig


def plot_tipping_point(table: pd.DataFrame, threshold: float, ax=None):
    """P(benefit) over shifts of the missing values in each arm; the line where it crosses the
    conclusion's threshold is the tipping point."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5.8, 4.6))
    grid = table.pivot(index="delta_control", columns="delta_treated", values="prob_benefit")
    x, y = grid.columns.to_numpy(), grid.index.to_numpy()
    mesh = ax.pcolormesh(x, y, grid.to_numpy(), cmap="cividis", vmin=0, vmax=1, shading="nearest")
    cs = ax.contour(x, y, grid.to_numpy(), levels=[threshold], colors="#D55E00", linewidths=2)
    ax.clabel(cs, fmt={threshold: f"P = {threshold:g}"}, fontsize=8)
    ax.axvline(0, color="white", lw=0.8, ls=":")
    ax.axhline(0, color="white", lw=0.8, ls=":")
    fig.colorbar(mesh, ax=ax, label="posterior P(benefit)")
    ax.set_xlabel("shift of missing values, treated arm (baseline SD, + = better)")
    ax.set_ylabel("shift of missing values, control arm (baseline SD, + = better)")
    ax.set_title("Missing-not-at-random tipping point (MAR at the origin)", fontsize=10)
    return fig
