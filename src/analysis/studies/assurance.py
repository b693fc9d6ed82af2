"""Assurance of a replication trial: design prior, simulated trials, decision rule."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis import registry, rules
from analysis.contract import simulate
from analysis.studies.laplace import fast_effect
from analysis.studies.runner import replicate_seed
from analysis.trialmodel import model


@dataclass(frozen=True)
class Design:
    """A replication trial: patients randomised in teams."""

    n_patients: int
    n_sites: int


@dataclass(frozen=True)
class AssuranceSpec:
    """The replication study: scenario, outcome, design prior and decision rule.

    ``prior_mean``/``prior_sd``: normal design prior of the SMD at the last visit (benefit
    positive); earlier visits keep the scenario's ratio to it. ``rule``: ``benefit`` (success
    when P(SMD > 0) > ``threshold``) or ``mcid`` (P(effect > MCID) > ``threshold``).
    """

    prior_mean: float
    prior_sd: float
    threshold: float = rules.DECISION_THRESHOLD
    rule: str = "benefit"
    trial: str = "resource_groups"
    outcome: str = "empowerment"
    arm: str = "fact_rg"

    def __post_init__(self):
        if self.rule not in ("benefit", "mcid"):
            raise ValueError(f"rule must be 'benefit' or 'mcid', got {self.rule!r}")
        if not 0 < self.threshold < 1:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold}")
        if self.prior_sd < 0:
            raise ValueError(f"prior_sd must be >= 0, got {self.prior_sd}")


def simulate_replicate(spec: AssuranceSpec, design: Design, seed: int):
    """The true effect drawn from the design prior and one simulated trial of ``design``.

    Returns
    -------
    (float, TrialData)
    """
    import dataclasses

    rng = np.random.default_rng(seed)
    effect = float(spec.prior_mean + spec.prior_sd * rng.standard_normal())
    sc = simulate.scaled_scenario(spec.trial, design.n_patients, design.n_sites, [spec.outcome])
    base = sc.outcomes[spec.outcome]
    last = max(sc.visits)
    old = base.effect[spec.arm]
    ratio = {m: (v / old[last] if old[last] else float(m == last)) for m, v in old.items()}
    new = dataclasses.replace(
        base, effect={**base.effect, spec.arm: {m: effect * r for m, r in ratio.items()}}
    )
    sc = dataclasses.replace(sc, outcomes={spec.outcome: new})
    df = simulate.simulate_trial(sc, int(rng.integers(2**31)))
    return effect, model.prepare_trial_data(df, spec.trial, spec.outcome)


def assurance_replicate(spec: AssuranceSpec, design: Design, rep: int, seed: int) -> dict:
    """Simulate one replication trial of ``design`` and analyse it as planned (the fast exact
    marginal analysis, :mod:`analysis.studies.marginal`)."""
    effect, data = simulate_replicate(spec, design, seed)
    last = max(data.visits)
    cut = (
        0.0
        if spec.rule == "benefit"
        else registry.get_outcome(spec.trial, spec.outcome).mcid / data.s0
    )
    mean, sd, prob, converged = fast_effect(data, last, spec.arm, cut)
    return {
        "n_patients": design.n_patients,
        "n_sites": design.n_sites,
        "rep": rep,
        "true_effect": effect,
        "post_mean": mean,
        "post_sd": sd,
        "prob": prob,
        "success": bool(prob > spec.threshold and converged),
        "converged": converged,
    }


def assurance_tasks(spec: AssuranceSpec, designs: list[Design], n_rep: int, seed: int) -> list:
    """One task per design x replicate (key, function, arguments)."""
    tasks = []
    for d, design in enumerate(designs):
        for rep in range(n_rep):
            tasks.append(
                (
                    f"n{design.n_patients}-k{design.n_sites}-r{rep}",
                    assurance_replicate,
                    (spec, design, rep, replicate_seed(seed, 1, d, rep)),
                )
            )
    return tasks


def assurance_table(results: pd.DataFrame) -> pd.DataFrame:
    """Assurance per design with its Monte Carlo standard error and 95% band."""
    g = results.groupby(["n_patients", "n_sites"])
    out = g.agg(
        replicates=("success", "size"),
        assurance=("success", "mean"),
        converged=("converged", "mean"),
    ).reset_index()
    se = np.sqrt(out["assurance"] * (1 - out["assurance"]) / out["replicates"])
    out["mcse"] = se
    out["lower"] = (out["assurance"] - rules.Z_INTERVAL * se).clip(0, 1)
    out["upper"] = (out["assurance"] + rules.Z_INTERVAL * se).clip(0, 1)
    return out


def smallest_designs(table: pd.DataFrame, levels=(0.8, 0.9)) -> pd.DataFrame:
    """For each level and team count, the fewest patients whose assurance reaches it."""
    rows = []
    for level in levels:
        for k, grp in table.groupby("n_sites"):
            ok = grp[grp["assurance"] >= level].sort_values("n_patients")
            rows.append(
                {
                    "level": level,
                    "n_sites": k,
                    "n_patients": int(ok["n_patients"].iloc[0]) if not ok.empty else None,
                    "assurance": float(ok["assurance"].iloc[0]) if not ok.empty else None,
                }
            )
    return pd.DataFrame(rows, columns=["level", "n_sites", "n_patients", "assurance"])


def design_prior_from_run(
    out_dir, outcome: str = "empowerment", arm: str = "fact_rg", trial: str = "resource_groups"
) -> tuple[float, float, str]:
    """Normal approximation (mean, SD) of the SMD at the last visit from this run's trial
    analysis (``trial_effects``), else from the published trial result.

    Returns
    -------
    (mean, sd, source)
    """
    from analysis import catalogue, config

    eff = catalogue.read_table(out_dir, catalogue.TRIAL_EFFECTS, part=trial) if out_dir else None
    sel = (
        eff[(eff["outcome"] == outcome) & (eff["arm"] == arm)]
        if eff is not None and not eff.empty
        else None
    )
    if sel is not None and not sel.empty:
        r = sel[sel["month"] == sel["month"].max()].iloc[0]
        sign = 1.0 if registry.get_outcome(trial, outcome).higher_is_better else -1.0
        return (
            sign * float(r["smd"]),
            float(r["smd_upper"] - r["smd_lower"]) / 3.92,
            "posterior of this run's analysis",
        )
    pub = pd.read_csv(config.PUBLISHED_TRIALS)
    r = pub[(pub["outcome"] == outcome) & (pub["treatment"] == arm)].iloc[0]
    return float(r["estimate"]), float(r["se"]), f"published result ({r['study']})"


def smallest_designs_markdown(smallest: pd.DataFrame) -> str:
    """The smallest simulated designs reaching each assurance level, in one sentence."""
    best = smallest.dropna()
    text = "; ".join(
        f"{r.level:.0%} with {int(r.n_patients)} patients in {int(r.n_sites)} teams"
        for r in best.itertuples()
    )
    if not text:
        return "No simulated design reached 80% assurance: larger designs are needed."
    return "Smallest designs reaching the assurance level among those simulated: " + text + "."
