r"""The cross-trial synthesis stage: one orchestrator for notebook 03 and ``analysis synthesize``.

:class:`SynthesisSettings` is the one home of the synthesis' priors and their wiring (the bridge,
the MAP prior, the resource-group arm placed relative to FACT as usual); :func:`run_synthesis`
fits every outcome and returns a :class:`SynthesisResults` that saves its tables.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from analysis import catalogue, config, profiles, registry, rules
from analysis.figures import pct
from analysis.synthesis import nma

#: The bridge SDs of the bridge-sensitivity analysis.
BRIDGE_SDS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
#: The network's settings (data/registry/network.yaml): the defaults below come from there.
_NET = registry.network()


@dataclass(frozen=True)
class SynthesisSettings:
    """Priors of the synthesis (SMD units) as a user sets them.

    Attributes
    ----------
    effect_prior_sd : float
        SD of each basic effect against the reference.
    tau_prior_scale : float
        Half-normal scale of the between-study SD.
    tau_prior : str
        ``half-normal`` (with ``tau_prior_scale``) or an informative prior of Rhodes et al.
        (2015) for SMDs (:data:`analysis.synthesis.nma.TAU_PRIORS`).
    bridge_mean, bridge_sd : float or None
        Prior of the bridged treatment's effect against the reference; None: no bridge.
    bridge_treatment : str
        The treatment the bridge places (FACT as usual against standard care).
    relative : dict
        Treatments parameterised against another (``{"fact_rg": "fact"}``: the resource-group
        arm is placed relative to FACT as usual, so the bridge is its only link).
    map_prior : bool
        Robust meta-analytic-predictive prior on ``map_treatment`` vs ``map_base``.
    map_source : str
        ``derived``: the MAP prior of the historical trials (``data/published/historical.csv``,
        :func:`analysis.synthesis.map_prior.derived_map`); ``manual``: ``N(map_mean, map_sd^2)``.
    map_mean, map_sd : float
        The manual informative component.
    map_weight : float
        The MAP part's weight; the rest is a vague unit-information component.
    """

    effect_prior_sd: float = 1.0
    tau_prior_scale: float = rules.HETEROGENEITY_SCALE
    bridge_mean: float | None = _NET["bridge"]["mean"]
    bridge_sd: float | None = _NET["bridge"]["sd"]
    bridge_treatment: str = _NET["bridge"]["treatment"]
    relative: dict = field(default_factory=lambda: dict(_NET["bridge"].get("relative") or {}))
    map_prior: bool = False
    map_treatment: str = _NET["map_prior"]["treatment"]
    map_base: str = _NET["map_prior"]["base"]
    map_mean: float = _NET["map_prior"]["mean"]
    map_sd: float = _NET["map_prior"]["sd"]
    map_weight: float = _NET["map_prior"]["weight"]
    map_source: str = _NET["map_prior"].get("source", "derived")
    tau_prior: str = "half-normal"

    def __post_init__(self):
        """Every prior checked once, here (the notebook, the CLI and the explorer build these)."""
        import math

        problems = []
        for name in ("tau_prior_scale", "effect_prior_sd", "bridge_sd", "map_sd"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                problems.append(
                    f"{name.replace('_', '-')} must be a positive number, got {value:g}"
                )
        if self.bridge_mean is not None and not math.isfinite(self.bridge_mean):
            problems.append(f"bridge-mean must be a finite number, got {self.bridge_mean:g}")
        if (self.bridge_mean is None) != (self.bridge_sd is None):
            problems.append("give both bridge-mean and bridge-sd, or neither")
        if not 0 < self.map_weight < 1:
            problems.append(f"map-weight must be between 0 and 1, got {self.map_weight:g}")
        if self.map_source not in ("derived", "manual"):
            problems.append(f"map-source must be derived or manual, got {self.map_source!r}")
        if self.tau_prior not in (*nma.TAU_PRIORS, nma.BY_OUTCOME):
            problems.append(f"tau-prior must be one of {[*nma.TAU_PRIORS, nma.BY_OUTCOME]}")
        if problems:
            raise ValueError("; ".join(problems))

    def map_components(self) -> list[tuple[float, float, float]]:
        """The robust MAP prior as mixture components ``[(weight, mean, sd), ...]``."""
        return _map_components(self)

    def priors(self) -> nma.NMAPriors:
        """The :class:`analysis.synthesis.nma.NMAPriors` these settings mean."""
        bridged = self.bridge_sd is not None
        bridge = {self.bridge_treatment: (self.bridge_mean, self.bridge_sd)} if bridged else {}
        map_spec = (
            (self.map_treatment, self.map_base, self.map_components()) if self.map_prior else None
        )
        return nma.NMAPriors(
            self.effect_prior_sd,
            self.tau_prior_scale,
            bridge,
            map_spec,
            dict(self.relative) if bridged else {},
            self.tau_prior,
        )


def _map_components(settings: SynthesisSettings) -> list[tuple[float, float, float]]:
    """The robust MAP prior's components ``[(weight, mean, sd), ...]`` (see
    :meth:`SynthesisSettings.map_components`)."""
    from analysis.synthesis import map_prior as mp

    if settings.map_source == "manual":
        robust = mp.Mixture([1.0], [settings.map_mean], [settings.map_sd]).robustify(
            1 - settings.map_weight, 0.0, mp.UNIT_SD
        )
    else:
        robust = derived_map(settings)[0]
    return list(zip(robust.weights, robust.means, robust.sds, strict=True))


def derived_map(settings: SynthesisSettings):
    """The derived MAP prior of the settings (:func:`analysis.synthesis.map_prior.derived_map`
    on the network's historical trials): ``(robust, approximation, exact)``. The derivation is
    computed once per process and contrast; only the robustification depends on the weight."""
    from analysis.synthesis import map_prior as mp

    approx, res = _derived_map(settings.map_treatment, settings.map_base)
    return approx.robustify(1 - settings.map_weight, 0.0, mp.UNIT_SD), approx, res


@functools.lru_cache(maxsize=8)
def _derived_map(treatment: str, base: str):
    from analysis.synthesis import map_prior as mp

    net = registry.network()["map_prior"]
    historical = pd.read_csv(config.PUBLISHED / net.get("historical", "historical.csv"))
    _, approx, res = mp.derived_map(
        historical, treatment, base, float(net["tau_prior_sd"]), float(net["mu_prior_sd"]), 0.5
    )
    return approx, res


def map_tables(
    settings: SynthesisSettings, evidence: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``map_prior`` table (the robust MAP prior's components, with where each comes from)
    and the ``map_oc`` table (the decision rule's success probability for a replication trial
    of each size in the network file, at no effect and at the MAP mean, under the robust MAP
    prior and under the vague effect prior)."""
    from analysis.synthesis import map_prior as mp

    comps = _map_components(settings)
    w, m, s = (np.array(x) for x in zip(*comps, strict=True))
    robust = mp.Mixture(w, m, s)
    kind = ["MAP"] * (len(w) - 1) + ["robust (unit information)"]
    prior = pd.DataFrame(
        {
            "treatment": settings.map_treatment,
            "base": settings.map_base,
            "source": settings.map_source,
            "component": np.arange(1, len(w) + 1),
            "kind": kind,
            "weight": w,
            "mean": m,
            "sd": s,
        }
    )
    vague = mp.Mixture([1.0], [0.0], [settings.effect_prior_sd])
    sizes = registry.network()["map_prior"].get("oc_patients", [80, 160, 320])
    effects = [0.0, float(robust.mean)]
    rows = []
    for n in sizes:
        se = mp.UNIT_SD / np.sqrt(n)
        for label, mix in (("robust MAP", robust), ("vague", vague)):
            oc = mp.operating_characteristics(mix, se, rules.DECISION_THRESHOLD, effects)
            for r in oc.itertuples():
                rows.append(
                    {
                        "prior": label,
                        "patients": int(n),
                        "true_effect": r.true_effect,
                        "prob_success": r.prob_success,
                        "kind": "type I error" if r.true_effect == 0 else "power",
                    }
                )
    return prior, pd.DataFrame(rows)


def statement_markdown(settings: SynthesisSettings | None = None) -> str:
    """The synthesis model in maths with these settings' priors (notebook 03 and Methods)."""
    s = settings or SynthesisSettings()
    bridge = (
        f"The two trials share no arm, so FACT as usual is linked to standard care by a bridging "
        f"prior $d_{{fact}} \\sim N({s.bridge_mean:g}, {s.bridge_sd:g}^2)$ (an assumption, not "
        "evidence), and FACT plus resource group is parameterised relative to FACT as usual."
        if s.bridge_sd is not None
        else "No bridging prior."
    )
    return (
        "Contrast-level random-effects network meta-analysis on the SMD scale (Dias et al. "
        "2013): study contrasts "
        "$y_s \\sim \\mathrm{MVN}(X_s d,\\ V_s + \\tau^2 R_s)$ with the sampling covariance "
        "$V_s$ (multi-arm correlation included) and between-study SD "
        + (
            "set per outcome by the outcome registry's category (Rhodes et al. 2015: "
            + "; ".join(
                f"{o.replace('_', ' ')}: ${s.priors().tau_for(o).describe()}$"
                for o in dict.fromkeys(registry.load_outcome_registry()["outcome"])
            )
            + ")"
            if s.tau_prior == nma.BY_OUTCOME
            else f"${s.priors().tau.describe()}$"
        )
        + "; basic effects "
        f"$d_k \\sim N(0, {s.effect_prior_sd:g}^2)$ against standard care. {bridge} Given "
        "$\\tau$ the model is linear-Gaussian, so the posterior is computed exactly on a grid "
        "over $\\tau$ (no MCMC). Informative heterogeneity priors are those of Rhodes et al. "
        "2015 for SMDs; a prior's weight is its effective sample size (ELIR, Neuenschwander et "
        "al. 2020) and its conflict with the data Box's prior-predictive p-value (Box 1980); "
        "meta-analytic-predictive (MAP) priors follow Schmidli et al. 2014."
    )


@dataclass
class SynthesisResults:
    """What :func:`run_synthesis` computes.

    Attributes
    ----------
    evidence : pandas.DataFrame
        The evidence used.
    outcomes : list of str
        Outcomes with evidence, in the order asked.
    fits : dict
        ``{outcome: NMAResult}``.
    tables : dict
        ``{catalogue.Table: DataFrame}``.
    """

    evidence: pd.DataFrame
    outcomes: list
    fits: dict
    tables: dict

    def table(self, t: catalogue.Table) -> pd.DataFrame:
        """One of the tables (empty if not made)."""
        return self.tables.get(t, pd.DataFrame(columns=list(t.columns)))

    def save(self, out_dir) -> list:
        """Write every table under ``out_dir/tables``."""
        from analysis import output

        return [output.save_table(df, out_dir, t) for t, df in self.tables.items()]


def run_synthesis(
    evidence: pd.DataFrame,
    settings: SynthesisSettings,
    outcomes: list[str] | None = None,
    draws: int = 20000,
    seed: int = 0,
    bridge_sds: tuple | None = BRIDGE_SDS,
    reference: str | None = None,
    swapped_evidence: pd.DataFrame | None = None,
) -> SynthesisResults:
    """Fit the network meta-analysis to every outcome with evidence.

    Parameters
    ----------
    evidence : pandas.DataFrame
        Checked evidence (:func:`analysis.synthesis.evidence.check_evidence`).
    settings : SynthesisSettings
        The priors.
    outcomes : list of str, optional
        Outcomes to synthesise (default: every outcome in the evidence); those without evidence
        are skipped.
    draws : int
        Exact posterior draws per outcome.
    seed : int
        Random seed.
    bridge_sds : tuple of float, optional
        Bridge SDs of the bridge-sensitivity analysis; None to skip it.
    reference : str, optional
        The reference treatment of every outcome's network (default: see
        :func:`analysis.synthesis.nma.network_treatments`).
    swapped_evidence : pandas.DataFrame, optional
        The evidence with the other side of every overlap kept (pooled rows instead of the
        studies they include): the ``evidence_sensitivity`` table compares the two.

    Returns
    -------
    SynthesisResults
    """
    priors = settings.priors()
    asked = list(outcomes) if outcomes else list(dict.fromkeys(evidence["outcome"]))
    present = [o for o in asked if o in set(evidence["outcome"])]
    fits = {
        o: nma.fit_nma(evidence, o, priors, reference=reference, n_draws=draws, seed=seed)
        for o in present
    }
    c = catalogue
    tables = {c.SYNTHESIS_EVIDENCE: evidence}
    if fits:
        tables[c.SYNTHESIS_EFFECTS] = pd.concat(
            [nma.league_table(r) for r in fits.values()], ignore_index=True
        )
        tables[c.SYNTHESIS_RANKS] = pd.concat(
            [nma.rank_table(r) for r in fits.values()], ignore_index=True
        )
        tables[c.HETEROGENEITY] = pd.concat(
            [nma.heterogeneity_table(r, priors) for r in fits.values()], ignore_index=True
        )
    if bridge_sds and settings.bridge_sd is not None and fits:
        tables[c.BRIDGE_SENSITIVITY] = _concat(
            [
                nma.bridge_sensitivity(
                    evidence, o, priors, list(bridge_sds), n_draws=draws, seed=seed
                )
                for o in present
            ],
            c.BRIDGE_SENSITIVITY,
        )
    results_so_far = SynthesisResults(evidence, present, fits, tables)
    tables[c.PRIOR_WEIGHT] = prior_weight_table(results_so_far, settings)
    try:  # the MAP prior the historical trials give, used or not
        tables[c.MAP_PRIOR], tables[c.MAP_OC] = map_tables(settings, evidence)
    except ValueError:  # no historical trial of the MAP contrast
        pass
    tables[c.TRANSITIVITY] = transitivity_table(evidence)
    if swapped_evidence is not None and fits:
        tables[c.EVIDENCE_SENSITIVITY] = evidence_sensitivity(
            fits, swapped_evidence, priors, draws, seed, reference
        )
    return SynthesisResults(evidence, present, fits, tables)


#: Contrasts compared between the default evidence and the swapped overlaps.
KEY_CONTRASTS = tuple(
    dict.fromkeys(
        [tuple(c) for c in _NET["cross_trial"]]
        + [
            pair
            for t in registry.trials()
            for pair in itertools.combinations(registry.trial_arms(t), 2)
        ]
    )
)


def evidence_sensitivity(
    fits: dict, swapped: pd.DataFrame, priors: nma.NMAPriors, draws: int, seed: int, reference=None
) -> pd.DataFrame:
    """The key contrasts under the default evidence and with every overlap swapped.

    Returns
    -------
    pandas.DataFrame
        Columns of :data:`analysis.catalogue.EVIDENCE_SENSITIVITY`.
    """
    rows = []
    for o, res in fits.items():
        alt = (
            nma.fit_nma(swapped, o, priors, reference=reference, n_draws=draws, seed=seed)
            if o in set(swapped["outcome"])
            else None
        )
        for label, r in (("default: studies' own rows", res), ("swapped: pooled rows", alt)):
            if r is None:
                continue
            for t, v in KEY_CONTRASTS:
                if t in r.treatments and v in r.treatments:
                    diff = r.d[:, r.treatments.index(t)] - r.d[:, r.treatments.index(v)]
                    rows.append(
                        {
                            "outcome": o,
                            "evidence": label,
                            "treatment": t,
                            "reference": v,
                            **nma.describe_draws(diff),
                        }
                    )
    return pd.DataFrame(rows, columns=list(catalogue.EVIDENCE_SENSITIVITY.columns))


def _concat(frames: list, t: catalogue.Table) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(t.columns))


def bridge_markdown(results: SynthesisResults, settings: SynthesisSettings, profile: str) -> str:
    """What rests on the bridging assumption, outcome by outcome, in words (the cross-trial
    contrasts and the bridge of ``data/registry/network.yaml``)."""
    league = results.table(catalogue.SYNTHESIS_EFFECTS)
    bsens = results.table(catalogue.BRIDGE_SENSITIVITY)
    widest = max(bsens["bridge_sd"]) if not bsens.empty else None
    lab = registry.arm_label
    bridged, reference = settings.bridge_treatment, nma.REFERENCE
    lines = []
    for o in results.outcomes:
        sel = league[league["outcome"] == o]
        for t, v in _NET["cross_trial"]:
            base = settings.relative.get(t, bridged)
            row = sel[(sel["treatment"] == t) & (sel["reference"] == v)]
            within = sel[(sel["treatment"] == t) & (sel["reference"] == base)]
            if row.empty:
                missing = [x for x in (t, v) if x not in results.fits[o].treatments]
                lines.append(
                    f"- **{o.replace('_', ' ')}**: no evidence on "
                    + " or ".join(lab(x) for x in missing)
                    + f", so no comparison of {lab(t)} with {lab(v)} is made (it would rest on "
                    "priors alone)."
                )
                continue
            row = row.iloc[0]
            text = f"- **{o.replace('_', ' ')}**: "
            if not within.empty and base != t:
                w = within.iloc[0]
                text += (
                    f"{lab(t)} vs {lab(base)} (within one trial, independent of the bridge): SMD "
                    f"{w['mean']:.2f} ({w['lower']:.2f} to {w['upper']:.2f}). "
                )
            text += (
                f"{lab(t)} vs {lab(v)} (**rests on the bridge**): SMD {row['mean']:.2f} "
                f"({row['lower']:.2f} to {row['upper']:.2f}), P(better) {pct(row['prob_better'])}"
            )
            wide = bsens[(bsens["outcome"] == o) & (bsens["bridge_sd"] == widest)]
            if not wide.empty:
                text += (
                    f"; with a bridge SD of {widest:g} its SD grows to {wide.iloc[0]['sd']:.2f} "
                    f"and P(better) becomes {pct(wide.iloc[0]['prob_better'])}"
                )
            lines.append(text + ".")
    prior = (
        f"N({settings.bridge_mean:g}, {settings.bridge_sd:g}²) in SMD"
        if settings.bridge_sd is not None
        else "no bridge in this run"
    )
    return (
        "Comparisons **within** a trial do not depend on the bridge. Every comparison **across** "
        "parts of the network that no trial links rests on the assumption that "
        f"{lab(bridged)} does about as well as {lab(reference).lower()} ({prior}), not on data.\n\n"
        + "\n".join(lines)
        + (
            "\n\n*Short exploratory run: not for interpretation.*"
            if not profiles.for_interpretation(profile)
            else ""
        )
    )


def heterogeneity_markdown(results: SynthesisResults) -> str:
    """Whether the data inform the between-study SD of each outcome, in words."""
    het = results.table(catalogue.HETEROGENEITY)
    out = []
    for r in het.itertuples():
        verdict = (
            "the data narrow it"
            if r.informed
            else "the data barely move it: its posterior is essentially the prior"
        )
        out.append(
            f"- **{r.outcome.replace('_', ' ')}** ({r.n_studies} studies, {r.n_contrasts} "
            f"contrasts): posterior mean {r.mean:.2f} (95% interval {r.lower:.2f} to {r.upper:.2f}) "
            f"against the {r.prior} prior's median {r.prior_median:.2f} (95% interval "
            f"{r.prior_lower:.2f} to {r.prior_upper:.2f}); {verdict}."
        )
    return (
        "Between-study SD $\\tau$ (SMD), posterior beside its prior. With about one "
        "study per comparison the data cannot estimate it; pooled rows enter with their own SE "
        "and are not widened by it.\n\n" + "\n".join(out)
    )


def network_markdown(results: SynthesisResults, map_prior: bool = False) -> str:
    """Which treatments each outcome's network holds (only those connected to data)."""
    lines = []
    for o, r in results.fits.items():
        names = ", ".join(registry.arm_label(t) for t in r.treatments)
        extra = (
            f"; left out (not connected to the rest): {', '.join(r.left_out)}" if r.left_out else ""
        )
        lines.append(f"- **{o.replace('_', ' ')}**: {names} (reference {r.reference}){extra}")
    return (
        "Each outcome's network holds only the treatments connected to data (a treatment with no "
        "evidence on an outcome gets no estimate, rank or summary line for it); MAP prior "
        f"{'on' if map_prior else 'off'}.\n\n" + "\n".join(lines)
    )


def _direct(evidence: pd.DataFrame, outcome: str, t: str, v: str) -> tuple[float, float]:
    """Inverse-variance pooled direct evidence on t vs v (NaN, NaN when there is none)."""
    ev = evidence[evidence["outcome"] == outcome]
    fwd = ev[(ev["treatment"] == t) & (ev["comparator"] == v)]
    rev = ev[(ev["treatment"] == v) & (ev["comparator"] == t)]
    y = np.r_[fwd["estimate"].to_numpy(), -rev["estimate"].to_numpy()]
    se = np.r_[fwd["se"].to_numpy(), rev["se"].to_numpy()]
    if not len(y):
        return float("nan"), float("nan")
    w = 1 / se**2
    return float((w * y).sum() / w.sum()), float(np.sqrt(1 / w.sum()))


def prior_weight_table(results: SynthesisResults, settings: SynthesisSettings) -> pd.DataFrame:
    """Effective sample size and prior-data conflict of the bridge and the MAP prior.

    The ESS is in patients of a two-arm trial with equal arms, whose SMD has sampling variance
    about 4/N (unit information 1/4 per patient), by the expected local-information ratio
    (ELIR, Neuenschwander et al. 2020; RBesT's default ``ess`` method):
    ``4 * E_prior[-d^2 log p(theta) / d theta^2]``, which for a normal prior is ``4 / sd^2``.
    The conflict check is Box's prior-predictive p-value of the direct evidence on the same
    contrast (two-sided); with no direct evidence (the bridge) there is nothing to check.

    Returns
    -------
    pandas.DataFrame
        Columns of :data:`analysis.catalogue.PRIOR_WEIGHT`.
    """
    rows = []
    for o, res in results.fits.items():
        specs = []
        if settings.bridge_sd is not None and settings.bridge_treatment in res.treatments:
            specs.append(
                (
                    "bridge",
                    settings.bridge_treatment,
                    nma.REFERENCE,
                    [(1.0, settings.bridge_mean, settings.bridge_sd)],
                )
            )
        if settings.map_prior and {settings.map_treatment, settings.map_base} <= set(
            res.treatments
        ):
            specs.append(
                (
                    "MAP (robust mixture)",
                    settings.map_treatment,
                    settings.map_base,
                    settings.map_components(),
                )
            )
        for name, t, v, comps in specs:
            w = np.array([c[0] for c in comps])
            m = np.array([c[1] for c in comps])
            s = np.array([c[2] for c in comps])
            mean = float(w @ m)
            var = float(w @ (s**2 + m**2) - mean**2)
            ess = 4 * _elir_information(w, m, s)
            y, se = _direct(results.evidence, o, t, v)
            if np.isfinite(y):
                lower = float(w @ stats.norm.cdf(y, m, np.sqrt(s**2 + se**2)))
                p = 2 * min(lower, 1 - lower)
            else:
                p = float("nan")
            rows.append(
                {
                    "outcome": o,
                    "prior": name,
                    "treatment": t,
                    "reference": v,
                    "prior_mean": mean,
                    "prior_sd": np.sqrt(var),
                    "ess_patients": ess,
                    "data_estimate": y,
                    "data_se": se,
                    "conflict_p": p,
                }
            )
    return pd.DataFrame(rows, columns=list(catalogue.PRIOR_WEIGHT.columns))


def _elir_information(w: np.ndarray, m: np.ndarray, s: np.ndarray) -> float:
    """E_prior[-(log p)''(theta)] of a normal mixture prior (quadrature on a fine grid)."""
    lo, hi = float((m - 12 * s).min()), float((m + 12 * s).max())
    x = np.linspace(lo, hi, 40001)
    comp = w[:, None] * stats.norm.pdf(x[None, :], m[:, None], s[:, None])
    p = comp.sum(axis=0)
    d1 = (comp * (-(x[None, :] - m[:, None]) / s[:, None] ** 2)).sum(axis=0)
    d2 = (comp * (((x[None, :] - m[:, None]) / s[:, None] ** 2) ** 2 - 1 / s[:, None] ** 2)).sum(
        axis=0
    )
    neg_hess = -(d2 / p - (d1 / p) ** 2)  # -(log p)'' = -(p''/p - (p'/p)^2)
    return float(np.trapezoid(p * neg_hess, x))


def transitivity_table(evidence: pd.DataFrame) -> pd.DataFrame:
    """The network's studies side by side (``data/published/studies.csv``), those in the evidence.

    Studies without a row there are listed with their id only, so a gap is visible.
    """
    from analysis import config

    known = pd.read_csv(config.PUBLISHED_STUDIES, dtype=str, keep_default_na=False)
    ids = list(dict.fromkeys(evidence["study"]))
    out = pd.DataFrame({"study": ids}).merge(known, on="study", how="left").fillna("not described")
    return out[list(catalogue.TRANSITIVITY.columns)]


def prior_weight_markdown(table: pd.DataFrame) -> str:
    """The prior weights and conflicts in words."""
    if table.empty:
        return "No informative prior on a contrast of these networks."
    lines = []
    for r in table.itertuples():
        conflict = (
            "no direct evidence on this contrast, so a conflict cannot be checked: the prior "
            "carries all the information"
            if not np.isfinite(r.conflict_p)
            else f"prior-data conflict p = {r.conflict_p:.2f} against the direct estimate "
            f"{r.data_estimate:.2f} (SE {r.data_se:.2f})"
            + (": the data disagree with the prior" if r.conflict_p < 0.05 else "")
        )
        lines.append(
            f"- **{r.outcome.replace('_', ' ')}**, {r.prior} on {r.treatment} vs {r.reference}: "
            f"worth about {r.ess_patients:.0f} patients; {conflict}."
        )
    return (
        "Prior effective sample size (patients of a two-arm trial; expected local-information "
        "ratio, as RBesT) and "
        "prior-data conflict (Box's prior-predictive p-value):\n\n" + "\n".join(lines)
    )
