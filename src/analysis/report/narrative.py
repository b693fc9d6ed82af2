r"""Report text generated from the result tables: summary, diagnostics, methods, limitations.

Nothing here is typed by hand about the results: every number in the summary comes from
the ``trial_effects`` table and the ``synthesis_effects`` table of the same run (the summary table is also
written as the ``summary`` table), every gate from the diagnostics tables, every assumption from the
scenario, registry and evidence files.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import catalogue, config, figures, profiles, registry, rules
from analysis.contract import scenario
from analysis.figures import pct  # noqa: F401 - re-exported: the report's probabilities
from analysis.studies.laplace import SD_RATIO_RANGE
from analysis.synthesis import nma
from analysis.synthesis.pipeline import SynthesisSettings, statement_markdown
from analysis.trialmodel import diagnostics, statement

#: Report sections for known notebook runs (step name prefix -> (anchor, title)).
SECTIONS = {
    "01-data": ("data", "Data"),
    "03-synthesis": ("cross-trial", "Cross-trial comparison"),
    "04-replication-design": ("replication-design", "Designing a replication trial"),
    "05-calibration": ("calibration", "Model calibration and missing data"),
}
#: Step-name prefix of the per-trial notebook runs (``02-trial-model-<trial>``).
TRIAL_STEP = "02-trial-model-"


def section_of(step: str) -> tuple[str, str]:
    """Anchor and title of a notebook run's report section."""
    if step in SECTIONS:
        return SECTIONS[step]
    if step.startswith(TRIAL_STEP):  # one section per trial, named by the trial registry
        from analysis import registry

        trial = step[len(TRIAL_STEP) :]
        return trial.replace("_", "-"), registry.trial_label(trial)
    anchor = re.sub(r"[^a-z0-9]+", "-", step.lower()).strip("-")
    return anchor, step


SUMMARY_COLUMNS = list(catalogue.SUMMARY.columns)

#: Cross-trial contrasts of the summary (``cross_trial`` in data/registry/network.yaml).
CROSS_TRIAL = tuple(tuple(c) for c in registry.network()["cross_trial"])


def summary_table(out_dir: Path) -> pd.DataFrame:
    """One row per headline comparison × outcome (tidy), from the run's result tables.

    Trial rows: the last follow-up visit, every contrast of the trial (each treatment arm
    against the comparator, and the treatment arms against each other, e.g. consumer-assisted vs
    non-consumer-assisted case management), every outcome (primary first); values copied unchanged from the ``trial_effects`` table
    (``estimate`` on the instrument's scale). Cross-trial rows: :data:`CROSS_TRIAL` contrasts of
    the ``synthesis_effects`` table (``estimate`` is an SMD; P(> MCID) is undefined on that scale).
    """
    reg = registry.load_outcome_registry().set_index(["trial", "outcome"])
    rows = []
    effects = catalogue.read_table(out_dir, catalogue.TRIAL_EFFECTS)
    for trial, eff in effects.groupby("trial", sort=False) if not effects.empty else []:
        last = eff[eff["month"] == eff["month"].max()]
        for _, r in last.iterrows():
            info = reg.loc[(trial, r["outcome"])]
            comp = r["comparator"]
            rows.append(
                {
                    "comparison": f"{registry.arm_label(r['arm'])} vs {registry.arm_label(comp)}",
                    "source": trial,
                    "outcome": r["outcome"],
                    "primary": bool(info["primary"]),
                    "month": int(r["month"]),
                    "treatment": r["arm"],
                    "reference": comp,
                    "scale": info["unit"],
                    "estimate": r["estimate"],
                    "lower": r["lower"],
                    "upper": r["upper"],
                    "smd": r["smd"],
                    "prob_benefit": r["prob_benefit"],
                    "prob_mcid": r["prob_mcid"],
                    "mcid": info["mcid"],
                    "rests_on_bridge": False,
                    "true_estimate": r.get("true_estimate", np.nan),
                    "lower_mcse": r.get("lower_mcse", np.nan),
                    "upper_mcse": r.get("upper_mcse", np.nan),
                    "prob_benefit_mcse": r.get("prob_benefit_mcse", np.nan),
                    "prob_mcid_mcse": r.get("prob_mcid_mcse", np.nan),
                    **_oriented(
                        1.0 if info["higher_is_better"] else -1.0,
                        r["smd"],
                        r.get("smd_lower", np.nan),
                        r.get("smd_upper", np.nan),
                        r.get("true_smd", np.nan),
                    ),
                    "direction": (
                        "higher is better" if info["higher_is_better"] else "lower is better"
                    ),
                    "favours": registry.arm_label(r["arm"] if r["prob_benefit"] >= 0.5 else comp),
                    "fragile": fragility(out_dir, trial, r["outcome"], r["arm"], comp),
                }
            )
    league = catalogue.read_table(out_dir, catalogue.SYNTHESIS_EFFECTS)
    for treatment, reference in CROSS_TRIAL:
        if league.empty:
            break
        sel = league[(league["treatment"] == treatment) & (league["reference"] == reference)]
        for _, r in sel.iterrows():
            rows.append(
                {
                    "comparison": (
                        f"{registry.arm_label(treatment)} vs {registry.arm_label(reference)}"
                    ),
                    "source": "synthesis",
                    "outcome": r["outcome"],
                    "primary": False,
                    "month": np.nan,
                    "treatment": treatment,
                    "reference": reference,
                    "scale": "SMD",
                    "estimate": r["mean"],
                    "lower": r["lower"],
                    "upper": r["upper"],
                    "smd": r["mean"],
                    "prob_benefit": r["prob_better"],
                    "prob_mcid": np.nan,
                    "mcid": np.nan,
                    "rests_on_bridge": nma.depends_on_bridge(treatment, reference),
                    "true_estimate": np.nan,
                    "lower_mcse": r.get("lower_mcse", np.nan),
                    "upper_mcse": r.get("upper_mcse", np.nan),
                    "prob_benefit_mcse": r.get("prob_better_mcse", np.nan),
                    "prob_mcid_mcse": np.nan,
                    **_oriented(1.0, r["mean"], r["lower"], r["upper"], np.nan),
                    "direction": "positive favours the first-named arm",
                    "favours": registry.arm_label(
                        treatment if r["prob_better"] >= 0.5 else reference
                    ),
                    "fragile": bridge_fragility(out_dir, r["outcome"], r["prob_better"]),
                }
            )
    out = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    if out.empty:
        return out
    order = {t: k for k, t in enumerate(registry.trials())}
    out["_o"] = out["source"].map(order).fillna(len(order))
    out = out.sort_values(
        ["_o", "comparison", "primary"], ascending=[True, True, False], kind="stable"
    )
    return out.drop(columns="_o").reset_index(drop=True)


def _oriented(sign: float, smd, lower, upper, true) -> dict:
    """The SMD and its interval turned so that positive favours the first-named arm."""
    ends = (
        sorted([sign * lower, sign * upper]) if np.isfinite([lower, upper]).all() else [np.nan] * 2
    )
    return {
        "benefit_smd": sign * smd,
        "benefit_smd_lower": ends[0],
        "benefit_smd_upper": ends[1],
        "true_benefit_smd": sign * true if pd.notna(true) else np.nan,
    }


def _decides(p: float) -> bool:
    return bool(p > rules.DECISION_THRESHOLD)


def fragility(out_dir: Path, trial: str, outcome: str, arm: str, comparator: str) -> str:
    """Why a concluded benefit is fragile ('' when nothing says so, or when the primary
    analysis concludes none): the sensitivity analyses (priors, likelihood), the reference-based imputations (information-anchored) and
    the missing-data tipping point of the same contrast that reach a different decision from
    the primary analysis, or a tipping shift within :data:`analysis.rules.SMALL_TIPPING_SHIFT`.
    """
    effects = catalogue.read_table(out_dir, catalogue.TRIAL_EFFECTS)
    same = (effects["trial"] == trial) & (effects["outcome"] == outcome)
    same &= (effects["arm"] == arm) & (effects["comparator"] == comparator)
    if not same.any():
        return ""
    last = effects[same].sort_values("month").iloc[-1]
    primary = _decides(last["prob_benefit"])
    if not primary:  # only a benefit the rule concludes can be fragile
        return ""
    reasons = []

    def at(table):
        if table.empty:
            return table
        keep = (table["trial"] == trial) & (table["outcome"] == outcome)
        keep &= (table["arm"] == arm) & (table["comparator"] == comparator)
        if "month" in table:
            keep &= table["month"] == last["month"]
        return table[keep]

    sens = at(catalogue.read_table(out_dir, catalogue.SENSITIVITY))
    if not sens.empty:
        for _, r in sens[~sens["analysis"].str.startswith("primary")].iterrows():
            if _decides(r["prob_benefit"]) != primary:
                reasons.append(f"decision changes under the {r['analysis']}")
    rbi = at(catalogue.read_table(out_dir, catalogue.REFERENCE_BASED))
    if not rbi.empty:
        if "inference" in rbi:
            rbi = rbi[rbi["inference"] == "information_anchored"]
        for _, r in rbi[rbi["strategy"] != "MAR"].iterrows():
            if _decides(r["prob_benefit"]) != primary:
                reasons.append(f"decision changes under {r['strategy']} imputation")
    tip = at(catalogue.read_table(out_dir, catalogue.TIPPING_POINT))
    if not tip.empty:
        flips = tip[(tip["delta_control"] == 0) & (tip["prob_benefit"].map(_decides) != primary)]
        if not flips.empty:
            shift = float(flips.loc[flips["delta_treated"].abs().idxmin(), "delta_treated"])
            if abs(shift) <= rules.SMALL_TIPPING_SHIFT:
                reasons.append(
                    f"decision tips when the first arm's missing values shift by "
                    f"{'+' if shift > 0 else ''}{fmt(shift)} "
                    "baseline SD per missing visit"
                )
    return "; ".join(reasons)


def bridge_fragility(out_dir: Path, outcome: str, p: float) -> str:
    """How the cross-trial probability moves across the bridge sensitivity analysis ('' without
    one): the range of P(better) over the bridge SDs tried."""
    bridge = catalogue.read_table(out_dir, catalogue.BRIDGE_SENSITIVITY)
    if bridge.empty:
        return ""
    rows = bridge[bridge["outcome"] == outcome]
    if rows.empty:
        return ""
    lo, hi = rows["prob_better"].min(), rows["prob_better"].max()
    widest = rows.loc[rows["bridge_sd"].idxmax()]
    return (
        f"rests on the bridging prior: P(better) {pct(lo)} to {pct(hi)} across bridge SDs "
        f"{rows['bridge_sd'].min():g} to {rows['bridge_sd'].max():g} "
        f"({pct(widest['prob_better'])} at the widest)"
    )


def fmt(x: float, digits: int = 2) -> str:
    """A number for prose and tables: fixed decimals, a true minus sign, '–' for missing."""
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "–"
    s = f"{x:.{digits}f}"
    if s.startswith("-") and float(s) == 0:
        s = s[1:]
    return s.replace("-", "−")


def _strength(p: float) -> str:
    if p > rules.DECISION_THRESHOLD:
        return "very probably favours"
    if p >= 0.9:
        return "probably favours"
    if p < 1 - rules.DECISION_THRESHOLD:
        return "very probably does not favour"
    if p <= 0.1:
        return "probably does not favour"
    return "is uncertain about"


def _sentence(r: pd.Series) -> str:
    what = registry.arm_label(r["treatment"])
    if pd.isna(r["month"]):
        month = ""
    elif r["source"] in registry.trials():
        month = f" at {registry.time_at(r['source'], r['month'])}"
    else:
        month = f" at visit {int(r['month'])}"
    unit = "SMD" if r["scale"] == "SMD" else r["scale"]
    lower_better = (
        r["source"] in registry.trials()
        and r["scale"] != "SMD"
        and not registry.get_outcome(r["source"], r["outcome"]).higher_is_better
    )  # one direction in every sentence: say when a positive difference is harm
    s = (
        f"**{r['outcome'].replace('_', ' ')}**{month}: difference {fmt(r['estimate'])} {unit} "
        f"({'lower is better; ' if lower_better else ''}95% CrI {fmt(r['lower'])} to "
        f"{fmt(r['upper'])}"
        + ("" if r["scale"] == "SMD" else f"; SMD {fmt(r['smd'])}")
        + f"); probability of benefit {_p_mcse(r['prob_benefit'], r['prob_benefit_mcse'])}"
    )
    if np.isfinite(r["prob_mcid"]):
        s += (
            f", of a benefit larger than the MCID ({r['mcid']:g}) "
            f"{_p_mcse(r['prob_mcid'], r['prob_mcid_mcse'])}"
        )
    meets = "meets" if r["prob_benefit"] > rules.DECISION_THRESHOLD else "does not meet"
    s += f". The evidence {_strength(r['prob_benefit'])} {what} ({meets} the decision rule)."
    if r["rests_on_bridge"]:
        s += " No trial compared these arms: the comparison rests on the bridging prior."
    return s


#: What a report on the embedded simulated data says on every page, screen and summary.
SIMULATED_NOTICE = "simulated data: not the trials' results"


def _p_mcse(p: float, mcse: float) -> str:
    """A probability with its Monte Carlo SE in points (none when capped or undefined)."""
    text = pct(p)
    shown = rules.PROBABILITY_RESOLUTION <= p <= 1 - rules.PROBABILITY_RESOLUTION  # not capped
    if np.isfinite(mcse) and mcse > 0 and shown:
        text += f" (MCSE {100 * mcse:.1f}%)"
    return text


def _network_note(summary: pd.DataFrame, league: pd.DataFrame | None) -> str:
    """Why the network's estimate of a within-trial contrast differs from the trial analysis."""
    if league is None or league.empty:
        return ""
    trial_rows = summary[summary["source"].isin(registry.trials())]
    for _, r in trial_rows.iterrows():
        same = league[
            (league["treatment"] == r["treatment"])
            & (league["reference"] == r["reference"])
            & (league["outcome"] == r["outcome"])
        ]
        if same.empty:
            continue
        n = same.iloc[0]
        return (
            f"The network's own estimate of {r['comparison']} on {r['outcome'].replace('_', ' ')} "
            f"is SMD {fmt(n['mean'])} ({fmt(n['lower'])} to {fmt(n['upper'])}), against "
            f"{fmt(r['benefit_smd'])} ({fmt(r['benefit_smd_lower'])} to "
            f"{fmt(r['benefit_smd_upper'])}) from the trial analysis above: the network combines "
            "the published summary results of every study (not this report's patient data), "
            "allows for heterogeneity between studies, and carries the bridging prior's "
            "uncertainty, so its interval is wider."
        )
    return ""


def summary_markdown(
    summary: pd.DataFrame,
    profile: str,
    gate_ok: bool | None,
    simulated: bool = False,
    league: pd.DataFrame | None = None,
) -> str:
    """Plain-words summary: one short paragraph per question (comparison).

    The primary outcome in full (estimate, interval, SMD, probabilities with their Monte Carlo
    SE); secondary outcomes as descriptive, with those meeting the decision rule named; every
    concluded benefit that a sensitivity analysis overturns or that tips at a small shift
    flagged (:func:`fragility`); the cross-trial comparison with its bridge sensitivity and
    why it differs from the trial analysis (``league``: the ``synthesis_effects`` table).
    With ``simulated`` (the embedded default data), the summary says so first and names each
    trial as simulated data calibrated to its publication, never as the publication's finding.
    """
    if summary.empty:
        return "No treatment effects were estimated in this run."
    lines = []
    if simulated:
        lines.append(
            f"> **{SIMULATED_NOTICE.capitalize()}.** Every trial result below comes from data "
            "simulated from scenarios calibrated to the trials' publications, to show what the "
            "analysis does; the true values of the simulation are shown beside the estimates.\n"
        )
    if not profiles.for_interpretation(profile):
        lines.append(
            "> **Short exploratory run: the numbers below come from short chains and small "
            "sizes and are not for interpretation.**\n"
        )
    reg = registry.load_trial_registry()
    names = {
        t: (lab[4:].capitalize() if lab.startswith("The ") else lab)
        + (
            f" (simulated data calibrated to {c})"
            if simulated and c
            else " (simulated data)"
            if simulated
            else f" ({c})"
            if c
            else ""
        )
        for t, lab, c in zip(reg["trial"], reg["label"], reg["short_citation"], strict=True)
    }
    names["synthesis"] = "Cross-trial comparison (network meta-analysis with a bridging prior)"
    rule = rules.DECISION_THRESHOLD
    for (source, comparison), grp in summary.groupby(["source", "comparison"], sort=False):
        text = [f"**{names.get(source, source)}: {comparison}.**"]
        key = grp[grp["primary"]]
        for _, r in key.iterrows():
            text.append(f"Primary outcome, {_sentence(r)}")
        rest = grp.drop(key.index)
        if not rest.empty:
            met = rest[rest["prob_benefit"] > rule]
            label = "Secondary outcomes" if not key.empty else "Outcomes"
            descriptive = " (descriptive, not adjusted for multiplicity)" if not key.empty else ""
            if len(rest) == 1 and key.empty:
                one = _sentence(rest.iloc[0])
                text.append(one[:1].upper() + one[1:])
            else:
                lo, hi = rest["prob_benefit"].idxmin(), rest["prob_benefit"].idxmax()
                text.append(
                    f"{label}{descriptive}: {len(rest)} analysed; "
                    + (
                        "the decision rule is met for "
                        + ", ".join(
                            f"{o.replace('_', ' ')} (P {pct(p)})"
                            for o, p in zip(met["outcome"], met["prob_benefit"], strict=True)
                        )
                        if not met.empty
                        else "none meets the decision rule"
                    )
                    + f"; P(benefit) ranges from {pct(rest.loc[lo, 'prob_benefit'])} "
                    f"({rest.loc[lo, 'outcome'].replace('_', ' ')}) to "
                    f"{pct(rest.loc[hi, 'prob_benefit'])} "
                    f"({rest.loc[hi, 'outcome'].replace('_', ' ')})."
                )
        for _, r in grp[grp["fragile"].map(lambda v: isinstance(v, str) and v != "")].iterrows():
            if r["rests_on_bridge"]:
                text.append(f"This comparison {r['fragile']}.")
            else:
                text.append(f"**Fragile:** {r['outcome'].replace('_', ' ')}: {r['fragile']}.")
        if source == "synthesis":
            note = _network_note(summary, league)
            if note:
                text.append(note)
        lines.append(" ".join(text) + "\n")
    if gate_ok is False:
        lines.append(
            "**Warning: at least one model failed the convergence gate (see the appendix); its "
            "numbers are not reliable.**"
        )
    elif gate_ok:
        lines.append("Every MCMC fit passed the convergence gate (appendix).")
    return "\n".join(lines)


def _time_header(summary: pd.DataFrame) -> str:
    """The summary's time column header in its trials' unit (``Week``; ``Visit time`` when they
    differ)."""
    arms = registry.load_arm_registry()
    timed = summary[summary["month"].notna()]
    trials = sorted(set(arms.loc[arms["arm"].isin(timed["treatment"]), "trial"]))
    return registry.time_header(trials) if trials else "Visit time"


def summary_display(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary table formatted for the report (same numbers, fixed decimals): the
    difference on the instrument's scale with its direction, the SMD turned so that positive
    favours the first-named arm, and the decision; with simulated data the scenario's true
    SMD beside it."""
    shown = pd.DataFrame(
        {
            "Comparison": summary["comparison"],
            "Outcome": summary["outcome"].str.replace("_", " ")
            + np.where(summary["primary"], " (primary)", ""),
            _time_header(summary): [("–" if pd.isna(m) else str(int(m))) for m in summary["month"]],
            "Difference (95% CrI), scale": [
                f"{fmt(e)} ({fmt(lo)} to {fmt(hi)}) " + ("SMD" if sc == "SMD" else f"{sc}, {d}")
                for e, lo, hi, sc, d in zip(
                    summary["estimate"],
                    summary["lower"],
                    summary["upper"],
                    summary["scale"],
                    summary["direction"],
                    strict=True,
                )
            ],
            "SMD (95% CrI), > 0 favours the first arm": [
                f"{fmt(e)} ({fmt(lo)} to {fmt(hi)})"
                for e, lo, hi in zip(
                    summary["benefit_smd"],
                    summary["benefit_smd_lower"],
                    summary["benefit_smd_upper"],
                    strict=True,
                )
            ],
            "P(benefit)": [pct(p) for p in summary["prob_benefit"]],
            "P(> MCID)": [pct(p) for p in summary["prob_mcid"]],
            "Decision": [_decision(r) for _, r in summary.iterrows()],
        }
    )
    if "true_benefit_smd" in summary and summary["true_benefit_smd"].notna().any():
        shown.insert(5, "True SMD (simulation)", [fmt(x) for x in summary["true_benefit_smd"]])
    return shown


def _decision(r: pd.Series) -> str:
    meets = r["prob_benefit"] > rules.DECISION_THRESHOLD
    text = "meets the rule" if meets else "does not meet it"
    if r["rests_on_bridge"]:
        text += "; bridging prior"
    elif meets and isinstance(r.get("fragile"), str) and r["fragile"]:
        text += "; fragile"
    return text


def glance_display(summary: pd.DataFrame) -> pd.DataFrame:
    """The first page's table: one row per comparison, its primary outcome (or first outcome),
    the SMD turned so that positive favours the first-named arm, P(benefit) and the decision;
    with simulated data the true SMD beside it."""
    rows = []
    for comparison, grp in summary.groupby("comparison", sort=False):
        r = grp[grp["primary"]].iloc[0] if grp["primary"].any() else grp.iloc[0]
        met = int((grp["prob_benefit"] > rules.DECISION_THRESHOLD).sum())
        rows.append(
            {
                "Comparison": comparison,
                "Outcome": r["outcome"].replace("_", " ") + (" (primary)" if r["primary"] else ""),
                "SMD (95% CrI), > 0 favours the first arm": (
                    f"{fmt(r['benefit_smd'])} ({fmt(r['benefit_smd_lower'])} to "
                    f"{fmt(r['benefit_smd_upper'])})"
                ),
                "True SMD": fmt(r.get("true_benefit_smd", np.nan)),
                "P(benefit)": pct(r["prob_benefit"]),
                "Decision": _decision(r),
                "Outcomes meeting the rule": f"{met} of {len(grp)}",
            }
        )
    out = pd.DataFrame(rows)
    if "true_benefit_smd" not in summary or summary["true_benefit_smd"].isna().all():
        out = out.drop(columns="True SMD")
    return out


def gate_table(out_dir: Path, gate: diagnostics.Gate | None = None) -> pd.DataFrame:
    """One row per fitted model: the gate's table (:func:`diagnostics.gate_verdict`)."""
    parts = [
        catalogue.read_table(out_dir, t)
        for t in (catalogue.DIAGNOSTICS, catalogue.SENSITIVITY_DIAGNOSTICS)
    ]
    parts = [p for p in parts if not p.empty]
    diag = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    verdict = diagnostics.gate_verdict(
        diag, profiles.INTERPRETED_PROFILE, gate or diagnostics.Gate()
    )
    return verdict.table


def save_report_tables(out_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Compute the summary and gate tables of a run and write them (when not empty)."""
    from analysis import output
    from analysis.report import manuscript

    summary, gates = summary_table(out_dir), gate_table(out_dir)
    if not summary.empty:
        output.save_table(summary, out_dir, catalogue.SUMMARY)
        import matplotlib.pyplot as plt

        from analysis.report import plots

        figures.set_theme()
        fig = plots.plot_summary_forest(summary)
        output.save_figure(fig, out_dir, plots.GLANCE_FIGURE)
        plt.close(fig)
        manuscript.write_summary_exports(
            summary_display(summary), Path(out_dir) / catalogue.TABLES_DIR
        )
    if not gates.empty:
        output.save_table(gates, out_dir, catalogue.GATE)
    return summary, gates


def run_trials(manifest: dict | None) -> list[str]:
    """The trials a run analysed (one trial-model step each), in registry order; every trial of
    the registry when the manifest does not say."""
    steps = (manifest or {}).get("steps", [])
    named = {s["name"].removeprefix("02-trial-model-") for s in steps}
    ran = [t for t in registry.trials() if t in named]
    return ran or list(registry.trials())


def limitations_table(
    evidence: pd.DataFrame | None = None, trials: list[str] | None = None
) -> pd.DataFrame:
    """Every input number that is an assumption rather than a published fact.

    From the scenario files of ``trials`` (status ``assumed``; default every trial), the outcome
    registry's rows of those trials (sources naming an assumption) and the evidence used by the
    synthesis (sources naming an assumed mapping).
    """
    rows = []
    trials = list(config.TRIALS) if trials is None else trials
    for trial in trials:
        if not scenario.scenario_path(trial).exists():
            continue
        prov = scenario.scenario_provenance(trial)
        for _, r in prov[prov["status"] == "assumed"].iterrows():
            rows.append(
                {
                    "file": f"data/scenarios/{trial}.yaml",
                    "item": f"{registry.trial_label(trial)}: {figures.quantity_text(r['quantity'])}",
                    "value": r["value"],
                    "why": r["note"],
                }
            )
    reg = registry.load_outcome_registry()
    reg = reg[reg["trial"].isin(trials)]
    for _, r in reg[reg["source"].str.contains("assum", case=False)].iterrows():
        rows.append(
            {
                "file": "data/registry/outcomes.csv",
                "item": f"{registry.trial_label(r['trial'])}: {r['outcome'].replace('_', ' ')}",
                "value": f"MCID {r['mcid']:g}; range {r['scale_min']:g}-{r['scale_max']:g}",
                "why": r["source"],
            }
        )
    if evidence is not None and not evidence.empty and "source" in evidence:
        sel = evidence[evidence["source"].fillna("").str.contains("assum", case=False)]
        for _, r in sel.iterrows():
            rows.append(
                {
                    "file": "synthesis evidence",
                    "item": (
                        f"{registry.study_label(r['study'])}: {registry.arm_label(r['treatment'])} "
                        f"vs {registry.arm_label(r['comparator'])} "
                        f"({r['outcome'].replace('_', ' ')})"
                    ),
                    "value": f"SMD {r['estimate']:g} (se {r['se']:g})",
                    "why": r["source"],
                }
            )
    return pd.DataFrame(rows, columns=["file", "item", "value", "why"])


def _step_parameters(manifest: dict, prefix: str) -> dict:
    for step in manifest.get("steps", []):
        if step["name"].startswith(prefix):
            return step.get("parameters", {})
    return {}


def decision_rule_markdown() -> str:
    """The decision rule and how probabilities are reported, for Methods (from
    :mod:`analysis.rules`)."""
    t = rules.DECISION_THRESHOLD
    return (
        f"A comparison favours an arm when the posterior probability of benefit exceeds "
        f"{t:.1%} (and favours the other arm below {1 - t:.1%}); in between the evidence is "
        "called uncertain. The rule is applied to the primary outcome of each trial at its final "
        "visit; secondary outcomes, other visits and the cross-trial contrasts are described "
        "with the same threshold but are not decisions: no adjustment for multiplicity is made, "
        "and the partially pooled secondary effects are shown beside the unpooled ones. "
        "Probabilities are computed from posterior draws and given to one decimal, capped at "
        ">99.9% and <0.1% (what the draws can resolve); their Monte Carlo standard errors are in "
        "the tables (columns ending in _mcse). A conclusion is examined under reference-based "
        "imputation (information-anchored) and a delta tipping point before it is stated as "
        "robust (see Model calibration and missing data)."
    )


def _citation(trial: str) -> str:
    """A trial's short citation (its code where the registry has none)."""
    reg = registry.load_trial_registry().set_index("trial")
    return str(reg.loc[trial, "short_citation"]) or trial


def methods_markdown(manifest: dict, events: pd.DataFrame | None = None) -> str:
    """The models in maths, their priors, and the software (versions from the manifest).

    The trial model's statement is :func:`analysis.trialmodel.statement.model_markdown` (the one
    notebook 02 shows), the synthesis' :func:`analysis.synthesis.pipeline.statement_markdown` with
    this run's synthesis parameters, the gate :class:`analysis.trialmodel.diagnostics.Gate`.
    """
    syn = _step_parameters(manifest, "03-synthesis")
    trial = _step_parameters(manifest, "02-trial-model")
    sampler = (
        f"nutpie (NUTS), {trial.get('chains', '?')} chains of {trial.get('draws', '?')} draws "
        f"after {trial.get('tune', '?')} tuning steps"
        if trial
        else "nutpie (NUTS)"
    )
    fields = {f.name for f in dataclasses.fields(SynthesisSettings)}
    settings = SynthesisSettings(**{k: v for k, v in syn.items() if k in fields})
    lo, hi = SD_RATIO_RANGE
    versions = manifest.get("versions", {})
    software = ", ".join(f"{k} {v}" for k, v in versions.items() if v)
    trials = run_trials(manifest)
    estimands = "\n\n".join(
        f"*{registry.trial_label(t)}*\n\n{statement.estimand_markdown(t, events)}" for t in trials
    )
    named = "; ".join(
        f"{registry.trial_label(t, in_sentence=True)} ({_citation(t)})" for t in trials
    )
    return f"""
**Sources.** The trials analysed: {named}. The default external evidence comes from the
reviews of Pitt et al. 2013 and Lloyd-Evans et al. 2014. With the embedded data the patient-level
values are simulated from scenarios calibrated to the trials' reports.

**Estimands** (ICH E9(R1), ICH 2019).

{estimands}

**Trial model.** {statement.model_markdown()}

Sampler: {sampler}. {diagnostics.Gate().describe()} R-hat and ESS are the rank-normalised
versions of Vehtari et al. 2021; models are compared by PSIS-LOO (Vehtari et al. 2017). Participant flow follows the CONSORT statement (Hopewell et al. 2025); where the registry's MCID is
assumed it is half the baseline SD (Norman et al. 2003). Baseline covariates with missing values
are set to their mean (White and Thompson 2005). Probability of benefit is the posterior
probability that the effect favours the first-named arm; P(> MCID) that it does so by more than
the minimal clinically important difference of the outcome registry. Intervals are 95%
equal-tailed credible intervals (CrI).

**Decision rule.** {decision_rule_markdown()}

**Cross-trial synthesis.** {statement_markdown(settings)}

**Simulation studies.** Replication-trial assurance analyses each simulated trial with the same
model, its team, patient, visit and treatment effects integrated out exactly given the four
variance parameters (Sherman-Morrison per patient, Woodbury per team); only those are
approximated (Laplace on the log-SD scale, re-weighted by their exact posterior on a
Gauss-Hermite rule). The approximation is checked against MCMC at every design of the grid
(posterior SD ratio within {lo:g}-{hi:g}). Simulation-based calibration (Talts et al. 2018)
fits each simulated
trial by MCMC as above. Replicates run on Dask, each with its own seed derived from the run's
seed. The missing-data tipping point shifts the missing last-visit values of each arm by
$\\delta$ baseline SDs (pattern-mixture delta adjustment of the MAR posterior).
Reference-based imputation (jump to reference, copy reference, copy increments in reference;
Carpenter, Roger and Kenward 2013) imputes each missing final value of an active arm by its
conditional mean under the strategy, for every posterior draw of the primary model, so the
imputation model's uncertainty is carried through (conditional mean imputation, Wolbers et al.
2022).

**Software.** {software}.
"""


#: Step settings the provenance leaves out: where files go, and the run type (stated above).
_PLUMBING = {"output_dir", "data_path", "profile"}


def _settings_text(parameters: dict) -> str:
    """A step's settings in words: ``draws 1000; outcomes quality of life, symptoms``."""

    def value(v):
        if isinstance(v, list):
            return ", ".join(str(value(x)) for x in v)
        if isinstance(v, str):
            if v in registry.trials():
                return registry.trial_label(v)
            return v.replace("_", " ") if v else "–"
        return json.dumps(v)

    return "; ".join(
        f"{k.replace('_', ' ')} {value(v)}"
        for k, v in sorted(parameters.items())
        if k not in _PLUMBING
    )


def provenance_tables(manifest: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The manifest as three tidy tables: the run, its steps, and package versions."""
    git = manifest.get("git", {})
    data = manifest.get("data", {})
    run = pd.DataFrame(
        [
            ("git commit", git.get("commit") or "unknown"),
            ("uncommitted changes", {True: "yes", False: "no"}.get(git.get("dirty"), "unknown")),
            ("data source", data.get("source", "")),
            ("data file", data.get("name", "")),
            ("data SHA-256", data.get("sha256", "")),
            (
                "run",
                "full analysis"
                if profiles.for_interpretation(manifest.get("profile", ""))
                else "short exploratory run (not for interpretation)",
            ),
            ("seed", str(manifest.get("seed", ""))),
            ("started (UTC)", manifest.get("started", "")),
            ("finished (UTC)", manifest.get("finished", "")),
            ("duration (s)", str(manifest.get("seconds", ""))),
        ],
        columns=["item", "value"],
    )
    steps = pd.DataFrame(
        [
            {
                "section": section_of(s["name"])[1],
                "status": s["status"],
                "seconds": s["seconds"],
                "settings": _settings_text(s["parameters"]),
            }
            for s in manifest.get("steps", [])
        ]
    )
    versions = pd.DataFrame(
        sorted(manifest.get("versions", {}).items()), columns=["package", "version"]
    )
    return run, steps, versions


#: "Author Year", "Author et al. Year" and "Author and Author Year" citations in the text.
CITATION = re.compile(
    r"\b([A-Z][A-Za-z'\-]+)(?:\s+et\s+al\.?|\s+and\s+[A-Z][A-Za-z'\-]+"
    r"|,\s+[A-Z][A-Za-z'\-]+\s+and\s+[A-Z][A-Za-z'\-]+)?\s+\(?(\d{4})\b"
)


def load_references() -> pd.DataFrame:
    """The works cited (``data/references.csv``): ``key`` ("Author Year"), citation, DOI or URL."""
    return pd.read_csv(config.REFERENCES, dtype=str, keep_default_na=False)


def cited_keys(text: str) -> set[str]:
    """The "Author Year" keys of the references cited in ``text`` (only keys the list knows)."""
    known = set(load_references()["key"])
    return {f"{a} {y}" for a, y in CITATION.findall(text)} & known


def glossary_markdown() -> str:
    """The report's abbreviations and what they mean (``data/glossary.csv``), alphabetically."""
    terms = pd.read_csv(config.GLOSSARY, dtype=str, keep_default_na=False)
    terms = terms.sort_values("term", key=lambda t: t.str.lower())
    return "\n".join(f"- **{r.term}**: {r.meaning}." for r in terms.itertuples())


def references_markdown() -> str:
    """The reference list, each work with its DOI (or URL) as a link."""
    lines = []
    for k, r in enumerate(load_references().itertuples(), start=1):
        link = f"https://doi.org/{r.doi}" if r.doi else r.url
        shown = f"doi:{r.doi}" if r.doi else r.url
        lines.append(f"{k}. **{r.key}.** {r.citation} [{shown}]({link})")
    return "\n".join(lines)
