"""The live explorer behind ``notebooks/06-explore.ipynb``: move a prior, the bridge or the
design and see the answer change.

Three questions, each a class that computes and a panel that wires it to ipywidgets:

- :class:`CrossTrial`: the network meta-analysis of one outcome under the controls (bridge,
  heterogeneity prior, effect prior, MAP prior, evidence rows on or off). The synthesis is exact,
  so an answer takes a fraction of a second.
- :class:`TrialRefit`: one trial outcome refitted with another effect prior, covariance
  structure, likelihood or covariate adjustment. Every structure runs on the native log density
  (compiled once per machine, loaded from disk), so each refit takes a second or two.
- :class:`ReplicationDesign`: the assurance of a replication trial (patients, teams, design
  prior, decision rule) from simulated trials analysed by the fast exact-marginal (Laplace)
  analysis.

The panels update synchronously when a control changes (no debounce: what is shown is what was
computed for the controls shown). Every answer records how long it took, and the tests drive every
control programmatically (``tests/test_explore.py``). Nothing here writes to ``reports/``.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import catalogue, config, figures, registry, rules

#: Exact posterior draws per answer of the cross-trial panel (the report uses 20,000).
EXPLORE_DRAWS = 4000
#: Bridge SDs offered by the slider (SMD): from nearly fixed to nearly uninformative.
BRIDGE_SD_CHOICES = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _html(df: pd.DataFrame, title: str, note: str = "") -> str:
    return figures.report_table(df, title, note).to_html()


# --------------------------------------------------------------------------- cross-trial


@dataclass(frozen=True)
class CrossTrialControls:
    """What the cross-trial panel's controls set (defaults: the report's settings)."""

    outcome: str = "empowerment"
    bridge_mean: float = registry.network()["bridge"]["mean"]
    bridge_sd: float = registry.network()["bridge"]["sd"]
    tau_prior: str = "half-normal"
    tau_scale: float = rules.HETEROGENEITY_SCALE
    effect_prior_sd: float = 1.0
    map_prior: bool = False
    map_weight: float = registry.network()["map_prior"]["weight"]
    dropped: tuple[int, ...] = ()  # evidence rows switched off (their ``row`` numbers)


@dataclass
class CrossTrialAnswer:
    """The synthesis under one setting of the controls."""

    controls: CrossTrialControls
    league: pd.DataFrame
    ranks: pd.DataFrame
    seconds: float
    left_out: list[str] = field(default_factory=list)


class CrossTrial:
    """The cross-trial comparison, recomputed on demand.

    Parameters
    ----------
    out_dir : path, optional
        A report folder whose ``synthesis_evidence`` table is used (the evidence of the last
        report, trial-model posteriors included); without one, the published trial results and
        the external evidence are assembled.
    draws : int
        Exact posterior draws per answer.
    seed : int
    """

    def __init__(self, out_dir=None, draws: int = EXPLORE_DRAWS, seed: int = config.DEFAULT_SEED):
        from analysis.synthesis import evidence as ev

        table = catalogue.read_table(out_dir, catalogue.SYNTHESIS_EVIDENCE) if out_dir else None
        if table is not None and not table.empty:
            self.evidence, self.source = table, "the last report's evidence"
        else:
            self.evidence, _ = ev.assemble_evidence(None, "published", external=True)
            self.source = "published trial results and external evidence (no report found)"
        self.evidence = self.evidence.reset_index(drop=True).assign(
            row=lambda d: np.arange(1, len(d) + 1)
        )
        self.draws, self.seed = draws, seed
        try:  # derive the MAP prior now, so that switching it on answers as fast as the rest
            from analysis.synthesis import pipeline as sp

            sp.derived_map(sp.SynthesisSettings())
        except ValueError:  # no historical trial: the MAP control then says why
            pass

    @property
    def outcomes(self) -> list[str]:
        """Outcomes with evidence."""
        return list(dict.fromkeys(self.evidence["outcome"]))

    def rows(self, outcome: str) -> pd.DataFrame:
        """The outcome's evidence rows (``row`` numbers identify them for ``dropped``)."""
        return self.evidence[self.evidence["outcome"] == outcome]

    def row_label(self, row: int) -> str:
        """A reader's name for an evidence row: study, contrast and estimate."""
        r = self.evidence.set_index("row").loc[row]
        lab = registry.arm_label
        return (
            f"{registry.study_label(r['study'])}: {lab(r['treatment'])} vs {lab(r['comparator'])} "
            f"(SMD {r['estimate']:.2f}, SE {r['se']:.2f})"
        )

    def answer(self, controls: CrossTrialControls) -> CrossTrialAnswer:
        """The league table and rank probabilities of ``controls.outcome``."""
        from analysis.synthesis import nma
        from analysis.synthesis.pipeline import SynthesisSettings

        t0 = time.perf_counter()
        settings = SynthesisSettings(
            effect_prior_sd=controls.effect_prior_sd,
            tau_prior_scale=controls.tau_scale,
            bridge_mean=controls.bridge_mean,
            bridge_sd=controls.bridge_sd,
            map_prior=controls.map_prior,
            map_weight=controls.map_weight,
            tau_prior=controls.tau_prior,
        )
        priors = settings.priors()
        ev = self.evidence[~self.evidence["row"].isin(controls.dropped)].drop(columns="row")
        if ev[ev["outcome"] == controls.outcome].empty:
            raise ValueError(f"no evidence left for {controls.outcome!r}: switch a row back on")
        _, _, left_out = nma.network_treatments(ev, controls.outcome, priors)
        res = nma.fit_nma(ev, controls.outcome, priors, n_draws=self.draws, seed=self.seed)
        league = nma.league_table(res)
        ranks = nma.rank_table(res)
        return CrossTrialAnswer(controls, league, ranks, time.perf_counter() - t0, left_out)

    def show(self, answer: CrossTrialAnswer) -> tuple[str, bytes, bytes]:
        """The answer as an HTML table (each treatment against the reference and the key
        contrasts) and two PNGs: the forest plot and the rankogram."""
        from analysis.synthesis import nma
        from analysis.synthesis import plots as synthesis_plots

        lg = answer.league
        ref = nma.REFERENCE if nma.REFERENCE in set(lg["reference"]) else lg["reference"].iloc[0]
        key = {tuple(c) for c in registry.network()["cross_trial"]}
        pairs = zip(lg["treatment"], lg["reference"], strict=True)
        is_key = np.array([(t, r) in key for t, r in pairs], dtype=bool)
        shown = lg[(lg["reference"] == ref).to_numpy() | is_key]
        cols = ["treatment", "reference", "mean", "lower", "upper", "prob_better"]
        html = _html(
            shown[cols],
            f"Cross-trial comparison, {answer.controls.outcome.replace('_', ' ')}",
            f"SMD, positive favours the first-named treatment; 95% CrI. Computed in "
            f"{answer.seconds:.2f} s."
            + (
                f" Not connected to the network: {', '.join(map(registry.arm_label, answer.left_out))}."
                if answer.left_out
                else ""
            ),
        )
        forest = _png(synthesis_plots.plot_nma_forest(lg, reference=ref))
        ranks = _png(synthesis_plots.plot_rankogram(answer.ranks))
        return html, forest, ranks


def _controls(initial, specs: dict, live: bool) -> dict:
    """The widgets of a panel, one per field of its controls dataclass ``initial``.

    ``specs`` maps a field to ``(label, choices)``: ``(min, max, step)`` makes a slider (integer
    when the field's value is), a list of ``(text, value)`` a drop-down, a list of numbers a
    slider over those values, ``None`` a tick box. ``live``: sliders answer while they move
    (for answers in well under a second), else when released.
    """
    import math

    import ipywidgets as w

    out = {}
    for name, (label, choices) in specs.items():
        value = getattr(initial, name)
        common = {"description": label, "style": {"description_width": "170px"}}
        common["layout"] = w.Layout(width="460px")
        if choices is None:
            widget = w.Checkbox(value=value, **common)
        elif isinstance(choices, tuple):
            lo, hi, step = choices
            kind = w.IntSlider if isinstance(value, int) else w.FloatSlider
            extra = (
                {}
                if kind is w.IntSlider
                else {"readout_format": f".{max(0, -math.floor(math.log10(step)))}f"}
            )
            widget = kind(
                value=value, min=lo, max=hi, step=step, continuous_update=live, **extra, **common
            )
        elif all(isinstance(c, tuple) for c in choices):
            known = value in [v for _, v in choices]
            widget = w.Dropdown(options=choices, value=value if known else None, **common)
        else:
            options = sorted({*choices, value})
            widget = w.SelectionSlider(
                options=options, value=value, continuous_update=live, **common
            )
        out[name] = widget
    return out


def cross_trial_panel(explorer: CrossTrial, initial: CrossTrialControls | None = None):
    """ipywidgets controls wired to :meth:`CrossTrial.answer`.

    Returns
    -------
    Panel
        ``panel.widget`` to display; ``panel.controls`` by name; ``panel.answer`` the latest.
    """
    import ipywidgets as w

    c0 = initial or CrossTrialControls(outcome=explorer.outcomes[0])
    tau_priors = [
        ("half-normal (scale below)", "half-normal"),
        ("Rhodes 2015, general", "rhodes-general"),
        ("Rhodes 2015, mental health", "rhodes-mental-health"),
        ("Rhodes 2015, by outcome category", "rhodes-by-outcome"),
    ]
    specs = {
        "outcome": ("Outcome", [(o.replace("_", " "), o) for o in explorer.outcomes]),
        "bridge_mean": ("Bridge mean (SMD)", (-1.0, 1.0, 0.05)),
        "bridge_sd": ("Bridge SD (SMD)", list(BRIDGE_SD_CHOICES)),
        "tau_prior": ("Heterogeneity prior", tau_priors),
        "tau_scale": ("Half-normal scale", (0.05, 1.0, 0.05)),
        "effect_prior_sd": ("Effect prior SD", (0.1, 3.0, 0.1)),
        "map_prior": ("MAP prior (Norden 2012)", None),
        "map_weight": ("MAP weight", (0.05, 0.95, 0.05)),
    }
    controls = _controls(c0, specs, live=True)
    rows_box = w.VBox()
    status, table = w.HTML(), w.HTML()
    image = (w.Image(format="png"), w.Image(format="png"))
    panel = Panel(w.VBox(), controls, status, table, image)

    def row_boxes(outcome):
        boxes = [
            w.Checkbox(
                value=True,
                description=explorer.row_label(r),
                indent=False,
                layout=w.Layout(width="640px"),
            )
            for r in explorer.rows(outcome)["row"]
        ]
        for b, r in zip(boxes, explorer.rows(outcome)["row"], strict=True):
            b.row = int(r)
            b.observe(update, names="value")
        rows_box.children = [w.HTML("<b>Evidence rows</b> (untick to leave one out)"), *boxes]

    def current() -> CrossTrialControls:
        dropped = tuple(b.row for b in rows_box.children[1:] if not b.value)
        return CrossTrialControls(**{k: c.value for k, c in controls.items()}, dropped=dropped)

    def update(_=None):
        controls["tau_scale"].disabled = controls["tau_prior"].value != "half-normal"
        controls["map_weight"].disabled = not controls["map_prior"].value
        try:
            panel.answer = explorer.answer(current())
        except ValueError as exc:
            status.value = f"<span style='color:#b00'>{exc}</span>"
            return
        table.value, image[0].value, image[1].value = explorer.show(panel.answer)
        status.value = f"Evidence: {explorer.source}."

    def outcome_changed(_):
        row_boxes(controls["outcome"].value)
        update()

    for name, c in controls.items():
        c.observe(outcome_changed if name == "outcome" else update, names="value")
    row_boxes(c0.outcome)
    panel.widget.children = [
        w.HBox([w.VBox(list(controls.values())), rows_box]),
        status,
        table,
        w.HBox(list(image)),
    ]
    update()
    return panel


@dataclass
class Panel:
    """A displayed explorer: its widget, its controls by name and the outputs it writes."""

    widget: object
    controls: dict
    status: object
    table: object
    image: object
    answer: object = None


# --------------------------------------------------------------------------- one trial


@dataclass(frozen=True)
class TrialControls:
    """What the trial panel's controls set (defaults: the report's primary analysis)."""

    trial: str = "resource_groups"
    outcome: str = "empowerment"
    effect_prior_sd: float = 1.0
    covariance: str = "unstructured"
    likelihood: str = "normal"
    covariates: bool = False


@dataclass
class TrialAnswer:
    controls: TrialControls
    effects: pd.DataFrame
    seconds: float
    compiled: bool
    converged: bool


class TrialRefit:
    """One trial outcome refitted under the controls, against the report's fit.

    Parameters
    ----------
    data_path : path, optional
        Data in the contract (default: the embedded simulated data).
    out_dir : path, optional
        The report whose ``trial_effects`` the refit is compared with.
    profile : str
        Sampler settings (``smoke`` by default: a refit in seconds).
    """

    def __init__(self, data_path=None, out_dir=None, profile: str = "smoke"):
        from analysis.contract.validate import load_trial_data
        from analysis.trialmodel import fit, pipeline

        self.df = load_trial_data(data_path)
        self.settings = pipeline.settings_for(profile)
        self.cache = fit.ModelCache()
        eff = catalogue.read_table(out_dir, catalogue.TRIAL_EFFECTS) if out_dir else None
        self.report = eff if eff is not None and not eff.empty else None

    @property
    def trials(self) -> list[str]:
        return [t for t in registry.trials() if t in set(self.df["trial"])]

    def outcomes(self, trial: str) -> list[str]:
        from analysis.trialmodel import pipeline

        return pipeline.resolve_outcomes(self.df, trial, None)

    def answer(self, c: TrialControls) -> TrialAnswer:
        """Fit and summarise the final visit's contrasts (with the report's estimate beside)."""
        from analysis.trialmodel import diagnostics, native, pipeline, summarise
        from analysis.trialmodel.model import PRIOR_SETS

        t0 = time.perf_counter()
        before = self.cache.compiles, native.compiled_here() and not self.cache.entries
        priors = replace(PRIOR_SETS["default"], effect_sd=c.effect_prior_sd)
        fit = pipeline.fit_outcome(
            self.df,
            c.trial,
            c.outcome,
            self.settings,
            self.cache,
            covariance=c.covariance,
            likelihood=c.likelihood,
            priors=priors,
            covariates=c.covariates,
        )
        eff = summarise.summarise_effects(fit.idata, fit.data, fit.diagnostics)
        eff = eff[eff["month"] == eff["month"].max()]
        cols = ["arm", "comparator", "estimate", "lower", "upper", "prob_benefit", "prob_mcid"]
        out = eff[cols].copy()
        if self.report is not None:
            rep = self.report[
                (self.report["trial"] == c.trial) & (self.report["outcome"] == c.outcome)
            ]
            rep = rep.set_index(["arm", "comparator", "month"])["estimate"]
            keys = zip(eff["arm"], eff["comparator"], eff["month"], strict=True)
            out["report_estimate"] = [rep.get(k, np.nan) for k in keys]
            out["change"] = out["estimate"] - out["report_estimate"]
        ok = not diagnostics.gate_failures(fit.diagnostics)
        compiled = self.cache.compiles > before[0] or before[1]
        return TrialAnswer(c, out, time.perf_counter() - t0, compiled, ok)

    def show(self, answer: TrialAnswer) -> str:
        c = answer.controls
        unit = registry.get_outcome(c.trial, c.outcome).unit
        note = (
            f"Final visit; difference in change from baseline ({unit}); 95% CrI. "
            f"{'Compiled and fitted' if answer.compiled else 'Refitted'} in {answer.seconds:.1f} s"
            + ("." if answer.converged else "; the convergence gate FAILED (short chains).")
        )
        return _html(
            answer.effects, f"{registry.trial_label(c.trial)}, {c.outcome.replace('_', ' ')}", note
        )


def trial_panel(explorer: TrialRefit, initial: TrialControls | None = None):
    """ipywidgets controls wired to :meth:`TrialRefit.answer`; a refit runs when a control
    changes, with a busy indicator while it works."""
    import ipywidgets as w

    from analysis.trialmodel.model import COVARIANCE_LABELS, COVARIANCES

    c0 = initial or TrialControls(trial=explorer.trials[0])
    specs = {
        "trial": ("Trial", [(registry.trial_label(t), t) for t in explorer.trials]),
        "outcome": ("Outcome", [(o.replace("_", " "), o) for o in explorer.outcomes(c0.trial)]),
        "effect_prior_sd": ("Effect prior SD (SMD)", (0.1, 5.0, 0.1)),
        "covariance": ("Covariance", [(COVARIANCE_LABELS[k], k) for k in COVARIANCES]),
        "likelihood": ("Likelihood", [("normal", "normal"), ("Student-t", "student")]),
        "covariates": ("Adjust for covariates", None),
    }
    controls = _controls(c0, specs, live=False)
    status, table = w.HTML(), w.HTML()
    busy = w.IntProgress(value=0, min=0, max=1, description="", layout=w.Layout(width="200px"))
    panel = Panel(w.VBox(), controls, status, table, None)

    def update(_=None):
        if controls["outcome"].value is None:
            return
        busy.bar_style, busy.value = "info", 0
        status.value = "Fitting…"
        for c in controls.values():
            c.disabled = True
        try:
            kw = {k: c.value for k, c in controls.items()}
            panel.answer = explorer.answer(TrialControls(**kw))
            table.value = explorer.show(panel.answer)
            status.value = ""
        finally:
            for c in controls.values():
                c.disabled = False
            busy.value, busy.bar_style = 1, "success"

    def trial_changed(_):
        outs = explorer.outcomes(controls["trial"].value)
        controls["outcome"].unobserve(update, names="value")
        controls["outcome"].options = [(o.replace("_", " "), o) for o in outs]
        controls["outcome"].value = outs[0]
        controls["outcome"].observe(update, names="value")
        update()

    for name, c in controls.items():
        c.observe(trial_changed if name == "trial" else update, names="value")
    panel.widget.children = [w.VBox(list(controls.values())), w.HBox([busy, status]), table]
    update()
    return panel


# --------------------------------------------------------------------------- replication design


@dataclass(frozen=True)
class DesignControls:
    """What the design panel's controls set."""

    n_patients: int = 160
    n_teams: int = 20
    design_prior: str = "posterior"  # posterior (this analysis) or sceptical (centred on 0)
    rule: str = "benefit"  # benefit: P(SMD > 0) > threshold; mcid: P(effect > MCID) > threshold
    threshold: float = rules.DECISION_THRESHOLD
    replicates: int = 40


@dataclass
class DesignAnswer:
    controls: DesignControls
    assurance: float
    mcse: float
    prior_mean: float
    prior_sd: float
    prior_source: str
    seconds: float


class ReplicationDesign:
    """Assurance of a replication of the resource-group trial's primary outcome.

    The design prior is this run's posterior of the final-visit SMD (or, ``sceptical``, a
    normal centred on no effect with the same SD); each replicate draws a true effect from it,
    simulates a trial of the design and analyses it by the fast exact-marginal analysis.
    """

    def __init__(self, out_dir=None, seed: int = config.DEFAULT_SEED):
        from analysis.studies.assurance import design_prior_from_run

        self.mean, self.sd, self.source = design_prior_from_run(out_dir)
        self.seed = seed

    def answer(self, c: DesignControls) -> DesignAnswer:
        from analysis.studies.assurance import AssuranceSpec, Design, assurance_replicate
        from analysis.studies.runner import replicate_seed

        t0 = time.perf_counter()
        mean = self.mean if c.design_prior == "posterior" else 0.0
        spec = AssuranceSpec(mean, self.sd, threshold=c.threshold, rule=c.rule)
        design = Design(int(c.n_patients), int(c.n_teams))
        wins = [
            assurance_replicate(spec, design, r, replicate_seed(self.seed, 7, 0, r))["success"]
            for r in range(c.replicates)
        ]
        p = float(np.mean(wins))
        mcse = float(np.sqrt(p * (1 - p) / len(wins)))
        source = self.source if c.design_prior == "posterior" else "sceptical: centred on 0"
        return DesignAnswer(c, p, mcse, mean, self.sd, source, time.perf_counter() - t0)

    @staticmethod
    def show(a: DesignAnswer) -> str:
        c = a.controls
        rule = "P(SMD > 0)" if c.rule == "benefit" else "P(effect > MCID)"
        return (
            f"<p><b>Assurance {a.assurance:.2f}</b> (Monte Carlo SE {a.mcse:.2f}, "
            f"{c.replicates} simulated trials) for {c.n_patients} patients in {c.n_teams} teams: "
            f"the chance that the replication concludes {rule} &gt; {c.threshold:g}, averaged "
            f"over the design prior N({a.prior_mean:.2f}, {a.prior_sd:.2f}²) in SMD "
            f"({a.prior_source}). Computed in {a.seconds:.1f} s.</p>"
        )


def design_panel(explorer: ReplicationDesign, initial: DesignControls | None = None):
    """ipywidgets controls wired to :meth:`ReplicationDesign.answer`."""
    import ipywidgets as w

    from analysis.trialmodel.model import MIN_RANDOM_SITES

    c0 = initial or DesignControls()
    specs = {
        "n_patients": ("Patients", (40, 800, 20)),
        "n_teams": ("Teams", (MIN_RANDOM_SITES, 80, 2)),
        "design_prior": (
            "Design prior",
            [("this analysis' posterior", "posterior"), ("sceptical (centred on 0)", "sceptical")],
        ),
        "rule": (
            "Decision rule",
            [("benefit: P(SMD > 0)", "benefit"), ("clinically important: P(> MCID)", "mcid")],
        ),
        "threshold": ("Threshold", (0.8, 0.995, 0.005)),
        "replicates": ("Simulated trials", (10, 200, 10)),
    }
    controls = _controls(c0, specs, live=False)
    out = w.HTML()
    panel = Panel(w.VBox(), controls, None, out, None)

    def update(_=None):
        kw = {k: c.value for k, c in controls.items()}
        panel.answer = explorer.answer(DesignControls(**kw))
        out.value = explorer.show(panel.answer)

    for c in controls.values():
        c.observe(update, names="value")
    panel.widget.children = [w.VBox(list(controls.values())), out]
    update()
    return panel


def last_report() -> Path | None:
    """The folder of the last full report, else of the last smoke run, else None."""
    for d in (config.REPORTS, config.SMOKE_REPORTS):
        if (d / catalogue.TABLES_DIR / catalogue.SYNTHESIS_EVIDENCE.file_name()).is_file():
            return d
    return None
