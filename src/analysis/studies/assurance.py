"""Assurance of a replication trial: design prior, simulated trials, decision rule."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis import registry, rules
from analysis.contract import simulate
from analysis.contract.scenario import OutcomeScenario, Scenario, scenario_path
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
    #: The simulation scenario (default: the trial's scenario file, :func:`design_scenario`).
    scenario: Scenario | None = None
    #: The design prior in words (the tables' ``design_prior`` column).
    prior_label: str = "design prior"

    def __post_init__(self):
        if self.rule not in ("benefit", "mcid"):
            raise ValueError(f"rule must be 'benefit' or 'mcid', got {self.rule!r}")
        if not 0 < self.threshold < 1:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold}")
        if self.prior_sd < 0:
            raise ValueError(f"prior_sd must be >= 0, got {self.prior_sd}")


def simulate_replicate(
    spec: AssuranceSpec, design: Design, seed: int, effect_seed: int | None = None
):
    """The true effect drawn from the design prior and one simulated trial of ``design``.

    With ``effect_seed`` the true effect is drawn from its own stream, so replicate ``r`` of
    every design shares it (common random numbers: designs are compared on the same true
    effects, and their paired differences have a far smaller Monte Carlo error).

    Returns
    -------
    (float, TrialData)
    """
    import dataclasses

    rng = np.random.default_rng(seed)
    draw = rng.standard_normal()
    if effect_seed is not None:
        draw = np.random.default_rng(effect_seed).standard_normal()
    effect = float(spec.prior_mean + spec.prior_sd * draw)
    sc = simulate.scaled_scenario(
        spec.scenario or spec.trial, design.n_patients, design.n_sites, [spec.outcome]
    )
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


def assurance_replicate(
    spec: AssuranceSpec, design: Design, rep: int, seed: int, effect_seed: int | None = None
) -> dict:
    """Simulate one replication trial of ``design`` and analyse it as planned (the fast exact
    marginal analysis, :mod:`analysis.studies.marginal`)."""
    effect, data = simulate_replicate(spec, design, seed, effect_seed)
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
    """One task per design x replicate (key, function, arguments); replicate ``rep`` of every
    design shares its true effect (common random numbers, :func:`simulate_replicate`)."""
    tasks = []
    for design in designs:  # a design's streams follow the design, not its place in the list
        for rep in range(n_rep):
            tasks.append(
                (
                    f"n{design.n_patients}-k{design.n_sites}-r{rep}",
                    assurance_replicate,
                    (
                        spec,
                        design,
                        rep,
                        replicate_seed(seed, 1, design.n_patients, design.n_sites, rep),
                        replicate_seed(seed, 5, rep),
                    ),
                )
            )
    return tasks


def design_ranking(results: pd.DataFrame) -> pd.DataFrame:
    """Each design against the design of highest assurance, paired over the replicates that
    share their true effect: the difference in assurance with its Monte Carlo SE and interval,
    and whether the replicates can tell the two apart (the interval excludes zero).

    Parameters
    ----------
    results : pandas.DataFrame
        One row per replicate (``n_patients``, ``n_sites``, ``rep``, ``success``).
    """
    wide = results.pivot_table(
        index="rep", columns=["n_patients", "n_sites"], values="success", aggfunc="first"
    ).astype(float)
    means = wide.mean()
    best = means.idxmax()
    rows = []
    for design in wide.columns:
        diff = (wide[design] - wide[best]).dropna()
        n = len(diff)
        se = float(diff.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan
        mean = float(diff.mean())
        lo, hi = mean - rules.Z_INTERVAL * se, mean + rules.Z_INTERVAL * se
        rows.append(
            {
                "n_patients": design[0],
                "n_sites": design[1],
                "best_patients": best[0],
                "best_sites": best[1],
                "difference": mean,
                "mcse": se,
                "lower": lo,
                "upper": hi,
                "distinguishable": bool(design != best and (hi < 0 or lo > 0)),
            }
        )
    return pd.DataFrame(rows)


def assurance_table(results: pd.DataFrame) -> pd.DataFrame:
    """Assurance per design with its Monte Carlo standard error and 95% band."""
    if results.empty:
        raise RuntimeError("no simulated trial was analysed: every replicate failed")
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
            float(r["smd_upper"] - r["smd_lower"]) / (2 * rules.Z_INTERVAL),
            "posterior of this run's analysis",
        )
    pub = pd.read_csv(config.PUBLISHED_TRIALS)
    hit = pub[(pub["outcome"] == outcome) & (pub["treatment"] == arm)]
    if "study" in pub:
        hit = hit[hit["study"] == registry.trial_study(trial)]
    if hit.empty:
        raise ValueError(
            f"no design prior for {trial}/{outcome}: this run has no analysis of it and "
            f"{config.PUBLISHED_TRIALS.name} has no published result; use the sceptical prior"
        )
    r = hit.iloc[0]
    return float(r["estimate"]), float(r["se"]), f"published result ({r['study']})"


def smallest_designs_markdown(smallest: pd.DataFrame) -> str:
    """The smallest simulated designs reaching each assurance level, in one sentence per
    design prior."""
    groups = (
        smallest.groupby("design_prior", sort=False)
        if "design_prior" in smallest
        else [("design prior", smallest)]
    )
    lines = []
    for prior, grp in groups:
        best = grp.dropna(subset=["n_patients"])
        text = "; ".join(
            f"{r.level:.0%} with {int(r.n_patients)} patients in {int(r.n_sites)} teams"
            for r in best.itertuples()
        )
        lines.append(
            f"Under the {prior} design prior, "
            + (
                "smallest designs reaching each assurance level among those simulated: "
                + text
                + "."
                if text
                else "no simulated design reached 80% assurance: larger designs are needed."
            )
        )
    return " ".join(lines)


def design_ranking_markdown(ranking: pd.DataFrame) -> str:
    """Which designs the simulated trials can tell apart from the best one, in words."""
    if ranking.empty:
        return ""
    best = ranking.iloc[0]
    apart = ranking[ranking["distinguishable"]]
    close = ranking[
        ~ranking["distinguishable"]
        & ~(
            (ranking["n_patients"] == ranking["best_patients"])
            & (ranking["n_sites"] == ranking["best_sites"])
        )
    ]

    def names(rows):
        return ", ".join(
            f"{int(r.n_patients)} patients in {int(r.n_sites)} teams "
            f"({r.difference:+.2f}, MCSE {r.mcse:.3f})"
            for r in rows.itertuples()
        )

    text = (
        f"Paired over simulated trials that share their true effect, each design is compared "
        f"with the one of highest assurance ({int(best.best_patients)} patients in "
        f"{int(best.best_sites)} teams): the difference in assurance with its Monte Carlo SE. "
    )
    text += (
        f"Clearly below it: {names(apart)}. "
        if not apart.empty
        else "No design is clearly below it. "
    )
    text += (
        f"Within Monte Carlo error of it (not ranked by this study): {names(close)}."
        if not close.empty
        else ""
    )
    return text


def design_scenario(data: model.TrialData, idata=None) -> tuple[Scenario, str]:
    """The simulation scenario of a replication of ``data``'s trial.

    The trial's scenario file (``data/scenarios/``) when it has one; otherwise a scenario
    derived from the trial's own fit (``idata``, the constrained model of ``data``):

    - arms, teams and visits as in the data; baseline mean and SD as the data's;
    - the time trend and the effects as the posterior means of the visit means and effects
      (benefit-positive, in baseline SDs);
    - the team SD, team-by-treatment SD, and the within-patient covariance split into a
      constant patient share (the mean of the covariances between visits) and a residual whose
      SD by visit and correlation between the first and the last visit reproduce the posterior
      mean covariance;
    - dropout by visit as the data's (monotone; the share of the previous visit's patients not
      seen), missing at random given the last visit with a slope of zero (not estimated).

    Returns
    -------
    (Scenario, str)
        The scenario and where it comes from, in words.
    """
    from analysis.trialmodel import missing

    if scenario_path(data.trial).exists():
        return simulate.load_scenario(data.trial), "the trial's simulation scenario"
    if idata is None:
        raise ValueError(f"{data.trial}: no scenario file and no fit to derive a scenario from")
    post = idata.posterior
    mean = lambda name: np.asarray(post[name].mean(("chain", "draw")))  # noqa: E731
    direction = 1.0 if data.meta["higher_is_better"] else -1.0
    visits = list(data.visits)
    alpha = mean("alpha")
    trend = {int(t): float(direction * (alpha[k] - alpha[0])) for k, t in enumerate(visits)}
    beta = post["beta"].mean(("chain", "draw"))
    effect = {
        a: {int(t): float(direction * beta.sel(treatment=a, followup=t)) for t in visits[1:]}
        for a in data.treatments
    }
    cov = missing.covariance_draws(idata, visits).mean(axis=0)
    off = cov[~np.eye(len(visits), dtype=bool)]
    site_share = float(mean("sigma_site") ** 2) if "sigma_site" in post else 0.0
    patient = float(np.clip(off.mean() if off.size else 0.5 * cov[0, 0], 0.0, 0.95 * cov.min()))
    resid = np.diag(cov) - patient
    total = site_share + cov[0, 0]
    ratio = {int(t): float(np.sqrt(resid[k] / resid[0])) for k, t in enumerate(visits) if k}
    span = (visits[-1] - visits[0]) / 12  # the simulator's correlation decays per 12 time units
    r_last = (cov[0, -1] - patient) / np.sqrt(resid[0] * resid[-1]) if len(visits) > 1 else 0.0
    rho_year = float(np.clip(r_last, 0.0, 0.99) ** (1 / span)) if span > 0 else 0.0
    mask = data.mask
    dropout = {
        int(t): float(1 - (mask[:, k] & mask[:, k - 1]).sum() / max(mask[:, k - 1].sum(), 1))
        for k, t in enumerate(visits)
        if k
    }
    arm_of = np.array(data.arms)[data.arm_idx]
    sc = Scenario(
        trial=data.trial,
        arms={a: int((arm_of == a).sum()) for a in data.arms},
        comparator=data.comparator,
        site_sizes=np.bincount(data.site_idx, minlength=len(data.sites)).tolist(),
        visits=[int(t) for t in visits],
        site_share=site_share / total,
        patient_share=patient / total,
        site_effect_sd=float(mean("sigma_site_effect")) if "sigma_site_effect" in post else 0.0,
        dropout=dropout,
        dropout_slope=0.0,
        outcomes={
            data.outcome: OutcomeScenario(
                baseline_mean=data.m0,
                baseline_sd=data.s0,
                time_trend={t: v for t, v in trend.items() if t != visits[0]},
                effect=effect,
            )
        },
        visit_sd_ratio=ratio,
        residual_correlation_per_year=rho_year,
    )
    return sc, "a scenario derived from this run's fit of the trial (no scenario file)"
