r"""Report text generated from the result tables: summary, diagnostics, methods, limitations.

Nothing here is typed by hand about the results: every number in the summary comes from
``trial_effects.csv`` and ``synthesis_effects.csv`` of the same run (the summary table is also
written as ``summary.csv``), every gate from the diagnostics tables, every assumption from the
scenario, registry and evidence files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import config, diagnostics, model, registry, scenario, synthesis

SUMMARY_COLUMNS = [
    "comparison",
    "source",
    "outcome",
    "primary",
    "month",
    "treatment",
    "reference",
    "scale",
    "estimate",
    "lower",
    "upper",
    "smd",
    "prob_benefit",
    "prob_mcid",
    "mcid",
    "rests_on_bridge",
]

#: Cross-trial contrasts summarised: the project's question (resource groups vs consumer-assisted
#: case management).
CROSS_TRIAL = (("fact_rg", "cacm"),)


def _read(tables: Path, name: str) -> pd.DataFrame:
    path = tables / f"{name}.csv"
    return pd.read_csv(path) if path.exists() else pd.DataFrame()


def summary_table(tables: Path) -> pd.DataFrame:
    """One row per headline comparison × outcome (tidy), from the run's result tables.

    Trial rows: the last follow-up visit, each treatment arm against the trial's comparator,
    every outcome (primary first); values copied unchanged from ``trial_effects.csv``
    (``estimate`` on the instrument's scale). Cross-trial rows: :data:`CROSS_TRIAL` contrasts of
    ``synthesis_effects.csv`` (``estimate`` is an SMD; P(> MCID) is undefined on that scale).
    """
    reg = registry.load_outcome_registry().set_index(["trial", "outcome"])
    rows = []
    effects = _read(tables, "trial_effects")
    for trial, eff in effects.groupby("trial", sort=False) if not effects.empty else []:
        comp = registry.comparator(trial)
        last = eff[(eff["month"] == eff["month"].max()) & (eff["comparator"] == comp)]
        for _, r in last.iterrows():
            info = reg.loc[(trial, r["outcome"])]
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
                }
            )
    league = _read(tables, "synthesis_effects")
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
                    "rests_on_bridge": synthesis.depends_on_bridge(treatment, reference),
                }
            )
    out = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    if out.empty:
        return out
    order = {"resource_groups": 0, "consumer_providers": 1, "synthesis": 2}
    out["_o"] = out["source"].map(order).fillna(3)
    out = out.sort_values(
        ["_o", "comparison", "primary"], ascending=[True, True, False], kind="stable"
    )
    return out.drop(columns="_o").reset_index(drop=True)


def fmt(x: float, digits: int = 2) -> str:
    """A number for prose and tables: fixed decimals, a true minus sign, '–' for missing."""
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "–"
    s = f"{x:.{digits}f}"
    if s.startswith("-") and float(s) == 0:
        s = s[1:]
    return s.replace("-", "−")


def pct(p: float) -> str:
    """A probability as a percentage ('–' when undefined)."""
    if p is None or not np.isfinite(p):
        return "–"
    return f"{100 * p:.0f}%" if 0.005 <= p <= 0.995 else ("<1%" if p < 0.005 else ">99%")


def _strength(p: float) -> str:
    if p >= 0.975:
        return "very probably favours"
    if p >= 0.9:
        return "probably favours"
    if p <= 0.025:
        return "very probably does not favour"
    if p <= 0.1:
        return "probably does not favour"
    return "is uncertain about"


def _sentence(r: pd.Series) -> str:
    what = registry.arm_label(r["treatment"])
    month = "" if pd.isna(r["month"]) else f" at {int(r['month'])} months"
    unit = "SMD" if r["scale"] == "SMD" else r["scale"]
    s = (
        f"**{r['outcome'].replace('_', ' ')}**{month}: difference {fmt(r['estimate'])} {unit} "
        f"(95% CrI {fmt(r['lower'])} to {fmt(r['upper'])}"
        + ("" if r["scale"] == "SMD" else f"; SMD {fmt(r['smd'])}")
        + f"); probability of benefit {pct(r['prob_benefit'])}"
    )
    if np.isfinite(r["prob_mcid"]):
        s += f", of a benefit larger than the MCID ({r['mcid']:g}) {pct(r['prob_mcid'])}"
    s += f". The evidence {_strength(r['prob_benefit'])} {what}."
    if r["rests_on_bridge"]:
        s += " This cross-trial comparison rests on the bridging assumption (see below)."
    return s


def summary_markdown(summary: pd.DataFrame, profile: str, gate_ok: bool | None) -> str:
    """Plain-words summary: per comparison, the primary outcome (or every outcome) in full."""
    if summary.empty:
        return "No treatment effects were estimated in this run."
    lines = []
    if profile != "full":
        lines.append(
            f"> **{profile} run: the numbers below come from short chains and small sizes and are "
            "not for interpretation.**\n"
        )
    names = {
        "resource_groups": "Resource-group trial (Tjaden et al. 2021)",
        "consumer_providers": "Consumer-provider trial (Rivera et al. 2007)",
        "synthesis": "Cross-trial comparison (network meta-analysis with a bridging prior)",
    }
    for (source, comparison), grp in summary.groupby(["source", "comparison"], sort=False):
        lines.append(f"**{names.get(source, source)}: {comparison}.**\n")
        key = grp[grp["primary"]] if grp["primary"].any() else grp
        for _, r in key.iterrows():
            lines.append(f"- {'Primary outcome, ' if r['primary'] else ''}{_sentence(r)}")
        rest = grp.drop(key.index)
        if not rest.empty:
            clear = rest[(rest["prob_benefit"] >= 0.95) | (rest["prob_benefit"] <= 0.05)]
            lines.append(
                f"- Secondary outcomes: {len(rest)} analysed; "
                + (
                    "a clear direction (P(benefit) ≥ 95% or ≤ 5%) for "
                    + ", ".join(
                        f"{o.replace('_', ' ')} (P {pct(p)})"
                        for o, p in zip(clear["outcome"], clear["prob_benefit"], strict=True)
                    )
                    if not clear.empty
                    else "none has a clear direction (P(benefit) ≥ 95% or ≤ 5%)"
                )
                + "; see the table."
            )
        lines.append("")
    if gate_ok is False:
        lines.append(
            "**Warning: at least one model failed the convergence gate (see Diagnostics); its "
            "numbers are not reliable.**"
        )
    elif gate_ok:
        lines.append("Every MCMC fit passed the convergence gate (see Diagnostics).")
    return "\n".join(lines)


def summary_display(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary table formatted for the report (same numbers, fixed decimals)."""
    return pd.DataFrame(
        {
            "Comparison": summary["comparison"],
            "Outcome": summary["outcome"].str.replace("_", " ")
            + np.where(summary["primary"], " (primary)", ""),
            "Month": [("–" if pd.isna(m) else str(int(m))) for m in summary["month"]],
            "Scale": summary["scale"],
            "Estimate (95% CrI)": [
                f"{fmt(e)} ({fmt(lo)} to {fmt(hi)})"
                for e, lo, hi in zip(
                    summary["estimate"], summary["lower"], summary["upper"], strict=True
                )
            ],
            "SMD": [fmt(x) for x in summary["smd"]],
            "P(benefit)": [pct(p) for p in summary["prob_benefit"]],
            "P(> MCID)": [pct(p) for p in summary["prob_mcid"]],
            "Rests on bridge": np.where(summary["rests_on_bridge"], "yes", "no"),
        }
    )


def gate_table(tables: Path, gate: diagnostics.Gate | None = None) -> pd.DataFrame:
    """One row per fitted model: worst R-hat, smallest ESS, divergences, pass or fail."""
    gate = gate or diagnostics.Gate()
    parts = [_read(tables, n) for n in ("diagnostics", "sensitivity_diagnostics")]
    diag = (
        pd.concat([p for p in parts if not p.empty], ignore_index=True)
        if any(not p.empty for p in parts)
        else pd.DataFrame()
    )
    if diag.empty:
        return pd.DataFrame(
            columns=[
                "model",
                "parameters",
                "rhat_max",
                "ess_bulk_min",
                "ess_tail_min",
                "divergences",
                "gate",
            ]
        )
    rows = []
    for name, grp in diag.groupby("model", sort=False):
        fails = diagnostics.gate_failures(grp, gate)
        rows.append(
            {
                "model": name,
                "parameters": len(grp),
                "rhat_max": grp["rhat"].max(),
                "ess_bulk_min": grp["ess_bulk"].min(),
                "ess_tail_min": grp["ess_tail"].min(),
                "divergences": int(grp["divergences"].max()),
                "gate": "pass" if not fails else "FAIL",
            }
        )
    return pd.DataFrame(rows)


def limitations_table(evidence: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every input number that is an assumption rather than a published fact.

    From the scenario files (status ``assumed``), the outcome registry (sources naming an
    assumption) and the evidence used by the synthesis (sources naming an assumed mapping).
    """
    rows = []
    for trial in config.TRIALS:
        prov = scenario.scenario_provenance(trial)
        for _, r in prov[prov["status"] == "assumed"].iterrows():
            rows.append(
                {
                    "file": f"data/scenarios/{trial}.yaml",
                    "item": r["quantity"],
                    "value": r["value"],
                    "why": r["note"],
                }
            )
    reg = registry.load_outcome_registry()
    for _, r in reg[reg["source"].str.contains("assum", case=False)].iterrows():
        rows.append(
            {
                "file": "data/registry/outcomes.csv",
                "item": f"{r['trial']}/{r['outcome']}",
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
                    "item": f"{r['study']}: {r['treatment']} vs {r['comparator']} ({r['outcome']})",
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


def methods_markdown(manifest: dict) -> str:
    """The models in maths, their priors, and the software (versions from the manifest)."""
    p = model.Priors()
    sets = ", ".join(f"{k} {v.effect_sd:g}" for k, v in model.PRIOR_SETS.items())
    syn = _step_parameters(manifest, "03-synthesis")
    trial = _step_parameters(manifest, "02-trial-model")
    sampler = (
        f"nutpie (NUTS), {trial.get('chains', '?')} chains of {trial.get('draws', '?')} draws "
        f"after {trial.get('tune', '?')} tuning steps"
        if trial
        else "nutpie (NUTS)"
    )
    versions = manifest.get("versions", {})
    software = ", ".join(f"{k} {v}" for k, v in versions.items() if v)
    return f"""
**Trial model.** For patient $i$ in team (site) $j$ of arm $a$ at visit $t$ ($t=0$ is
baseline), each outcome is standardised by the pooled baseline mean and SD,
$z_{{it}} = (y_{{it}} - m_0)/s_0$, and

$$\\mu_{{it}} = \\alpha_t + \\beta_{{at}}[a \\neq c] + u_j + v_j [a \\neq c][t > 0]$$

$$z_{{i,O_i}} \\sim \\mathrm{{MVN}}(\\mu_{{i,O_i}}, \\Sigma_{{O_i O_i}})$$

with visit means $\\alpha_t$ shared by the arms at baseline (constrained longitudinal data
analysis), treatment effects $\\beta_{{at}}$ against the comparator $c$ in baseline-SD units
(SMDs; the tables also give them on the instrument's scale, $s_0 \\beta_{{at}}$), team intercepts
$u_j \\sim N(0, \\sigma_{{site}}^2)$ (fixed sum-to-zero effects with fewer than
{model.MIN_RANDOM_SITES} sites), team × treatment slopes $v_j \\sim N(0, \\sigma_{{slope}}^2)$
where teams deliver the intervention, and the visits $O_i$ that patient $i$ attended. The
within-patient covariance $\\Sigma = \\sigma_{{patient}}^2 J + \\sigma^2 I$ (a patient random
intercept) is integrated out analytically, so each patient contributes the exact marginal density
of the visits observed (missing at random given the observed visits). Sensitivity analyses use an
unstructured covariance $\\Sigma = \\mathrm{{diag}}(\\sigma_t) R \\,\\mathrm{{diag}}(\\sigma_t)$ and a
multivariate Student-t likelihood.

**Priors** (baseline-SD units): $\\alpha_t \\sim N(0, {p.visit_sd:g}^2)$,
$\\beta_{{at}} \\sim N(0, {p.effect_sd:g}^2)$ (sensitivity sets: {sets}),
$\\sigma_{{site}} \\sim HN({p.site_sd:g})$, $\\sigma_{{slope}} \\sim HN({p.site_effect_sd:g})$,
$\\sigma, \\sigma_{{patient}}, \\sigma_t \\sim HN({p.residual_sd:g})$,
$R \\sim \\mathrm{{LKJ}}({p.lkj_eta:g})$, $\\nu \\sim \\mathrm{{Gamma}}(2, 0.1)$.
Sampler: {sampler}. Probability of benefit is the posterior probability that the effect favours
the first-named arm; P(> MCID) that it does so by more than the minimal clinically important
difference of the outcome registry. Intervals are 95% equal-tailed credible intervals (CrI).

**Cross-trial synthesis.** Contrast-level random-effects network meta-analysis on the SMD
scale: study contrasts $y_s \\sim \\mathrm{{MVN}}(X_s d, V_s + \\tau^2 R_s)$ with the sampling
covariance $V_s$ (multi-arm correlation included) and between-study SD
$\\tau \\sim HN({syn.get("tau_prior_scale", 0.3)})$; basic effects
$d_k \\sim N(0, {syn.get("effect_prior_sd", 1.0)}^2)$ against standard care. The two trials share
no arm, so FACT as usual is linked to standard care by a bridging prior
$d_{{fact}} \\sim N({syn.get("bridge_mean", 0.0)}, {syn.get("bridge_sd", 0.25)}^2)$, and FACT plus
resource group is parameterised relative to FACT as usual. Given $\\tau$ the model is
linear-Gaussian, so the posterior is computed exactly on a grid over $\\tau$ (no MCMC).

**Simulation studies.** Replication-trial assurance analyses each simulated trial with the
Laplace approximation of the same marginal model (posterior mode in the unconstrained space,
inverse Hessian as covariance), checked against MCMC in the report; simulation-based calibration
fits each simulated trial by MCMC as above. Replicates run on Dask, each with its own seed derived
from the run's seed. The missing-data tipping point shifts the missing last-visit values of each
arm by $\\delta$ baseline SDs (pattern-mixture delta adjustment of the MAR posterior).

**Software.** {software}.
"""


def provenance_tables(manifest: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The manifest as three tidy tables: the run, its steps, and package versions."""
    git = manifest.get("git", {})
    data = manifest.get("data", {})
    run = pd.DataFrame(
        [
            ("git commit", git.get("commit") or "unknown"),
            ("uncommitted changes", str(git.get("dirty"))),
            ("data source", data.get("source", "")),
            ("data file", data.get("name", "")),
            ("data SHA-256", data.get("sha256", "")),
            ("profile", manifest.get("profile", "")),
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
                "step": s["name"],
                "notebook": s["notebook"],
                "status": s["status"],
                "seconds": s["seconds"],
                "parameters": json.dumps(s["parameters"], sort_keys=True),
            }
            for s in manifest.get("steps", [])
        ]
    )
    versions = pd.DataFrame(
        sorted(manifest.get("versions", {}).items()), columns=["package", "version"]
    )
    return run, steps, versions
