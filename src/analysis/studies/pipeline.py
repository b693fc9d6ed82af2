"""The simulation-studies stage: one orchestrator per study, for notebooks 04 and 05 and the CLI.

:func:`run_design` (assurance of replication designs, its null check and the Laplace check) and
:func:`run_calibration` (SBC and the missing-data tipping point) return results that save their
own tables. The tipping point reads the primary fit that the trial stage saved
(``idata/``), and fits only when the run has none (a notebook run on its own).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import catalogue, config, registry, rules
from analysis.studies import assurance as asr
from analysis.studies import laplace, runner, sbc, tipping
from analysis.trialmodel import ancova, fit, model
from analysis.trialmodel import pipeline as trial_pipeline

#: Where finished replicate chunks are cached between runs.
STUDY_CACHE = config.CACHE / "studies"


@dataclass
class StudyResults:
    """Tables of a study stage, text for the notebook, and the raw runs.

    Attributes
    ----------
    tables : dict
        ``{catalogue.Table: DataFrame}``.
    notes : dict
        Sentences for the notebook (``{topic: text}``).
    runs : dict
        ``{name: runner.StudyRun}``.
    """

    tables: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)
    runs: dict = field(default_factory=dict)

    def table(self, t: catalogue.Table) -> pd.DataFrame:
        """One of the tables (empty if not made)."""
        return self.tables.get(t, pd.DataFrame(columns=list(t.columns)))

    def shown(self, t: catalogue.Table) -> pd.DataFrame:
        """A table as the notebook shows it: without the trial and outcome columns, which its
        heading names; the intervals of simulation studies named as Monte Carlo intervals, and
        the null study's share as the false-positive rate it is."""
        df = self.table(t).drop(columns=["trial", "outcome"], errors="ignore")
        if t in MONTE_CARLO_TABLES:
            df = df.rename(columns={"lower": "mc_lower", "upper": "mc_upper"})
        if t is catalogue.ASSURANCE_NULL:
            df = df.rename(columns={"assurance": "false_positive_rate"})
        return df

    def label(self, trial: str, outcome: str) -> None:
        """Name the trial and outcome studied in every table (first columns)."""
        for t, df in self.tables.items():
            if "trial" not in df:
                df = df.copy()
                df.insert(0, "outcome", outcome)
                df.insert(0, "trial", trial)
            if set(df.columns) == set(t.columns):  # in the catalogue's order
                df = df[list(t.columns)]
            self.tables[t] = df

    def save(self, out_dir) -> list:
        """Write every table under ``out_dir/tables``."""
        from analysis import output

        return [output.save_table(df, out_dir, t) for t, df in self.tables.items()]


def _succeeded(run: runner.StudyRun) -> pd.DataFrame:
    """The replicates of a study that ran; if none did, an error quoting the first failure."""
    ok = run.results[run.results["status"] == "ok"]
    if ok.empty and len(run.results):
        first = run.results["error"].dropna().astype(str)
        raise RuntimeError(
            f"every replicate of the study failed; the first: {first.iloc[0] if len(first) else '?'}"
        )
    return ok


def study_target(df: pd.DataFrame | None, trial: str = "", outcome: str = "") -> tuple[str, str]:
    """The trial and outcome a study works on: those given, else the first trial of the
    registry that is in the data, and its primary outcome (else its first in the data).

    Raises
    ------
    ValueError
        A given trial or outcome that is not in the data, naming those that are.
    """
    from analysis.contract import validate
    from analysis.trialmodel.pipeline import key_outcome

    df = validate.load_trial_data(None) if df is None else df
    present = [t for t in registry.trials() if t in set(df["trial"])]
    trial = trial or present[0]
    if trial not in present:
        raise ValueError(f"trial {trial!r} is not in the data; the data have {present}")
    outcomes = [
        o
        for o in registry.trial_outcomes(trial)
        if o in set(df.loc[df["trial"] == trial, "outcome"])
    ]
    outcome = outcome or key_outcome(trial, outcomes)
    if outcome not in outcomes:
        raise ValueError(
            f"trial {trial!r} has no outcome {outcome!r} in the data; it has {outcomes}"
        )
    return trial, outcome


#: Study tables whose intervals are Monte Carlo intervals (over simulated trials), not
#: credible intervals.
MONTE_CARLO_TABLES = (catalogue.ASSURANCE, catalogue.ASSURANCE_NULL, catalogue.DESIGN_RANKING)


def sceptical_alternative(
    spec: asr.AssuranceSpec, mean: float = 0.0, sd: float = rules.SCEPTICAL_SD
) -> asr.AssuranceSpec:
    """The same replication study under the sceptical design prior N(mean, sd²), to show
    beside a posterior design prior."""
    import dataclasses

    return dataclasses.replace(
        spec, prior_mean=mean, prior_sd=sd, prior_label=f"sceptical, N({mean:.2f}, {sd:.2f}²)"
    )


def design_spec(
    df: pd.DataFrame | None,
    trial: str,
    outcome: str,
    prior: str,
    out_dir,
    threshold: float,
    rule: str,
    sceptical_mean: float = 0.0,
    sceptical_sd: float = rules.SCEPTICAL_SD,
    settings: fit.SamplerSettings | None = None,
) -> tuple[asr.AssuranceSpec, str, str]:
    """The replication study of a trial in the data: its first active arm against the
    comparator, its scenario (or one derived from this run's fit) and the design prior.

    Returns
    -------
    (AssuranceSpec, str, str)
        The study, where the design prior comes from, and where the scenario comes from.
    """
    from analysis.contract import validate

    df = validate.load_trial_data(None) if df is None else df
    arm = next(a for a in registry.trial_arms(trial) if a != registry.comparator(trial))
    data = model.prepare_trial_data(df, trial, outcome)
    idata = None
    if not simulate_scenario_exists(trial):
        idata = (
            trial_pipeline.load_idata(out_dir, trial, outcome, groups=["posterior"])
            if out_dir
            else None
        )
        if idata is None or registry.primary_analysis(trial) != "constrained":
            idata = trial_pipeline.fit_outcome(
                df, trial, outcome, settings or fit.SamplerSettings(seed=1), analysis="constrained"
            ).idata
    scenario, scenario_source = asr.design_scenario(data, idata)
    if prior == "posterior":
        mean, sd, source = asr.design_prior_from_run(out_dir, outcome, arm, trial)
    elif prior == "sceptical":
        mean, sd, source = sceptical_mean, sceptical_sd, "sceptical design prior"
    else:
        raise ValueError(f"design_prior must be 'posterior' or 'sceptical', got {prior!r}")
    label = f"{'posterior' if prior == 'posterior' else 'sceptical'}, N({mean:.2f}, {sd:.2f}²)"
    spec = asr.AssuranceSpec(mean, sd, threshold, rule, trial, outcome, arm, scenario, label)
    return spec, source, scenario_source


def simulate_scenario_exists(trial: str) -> bool:
    """Whether the trial has a simulation scenario file (``data/scenarios/``)."""
    from analysis.contract.scenario import scenario_path

    return scenario_path(trial).exists()


def design_prior(
    kind: str, out_dir, sceptical_mean: float = 0.0, sceptical_sd: float = rules.SCEPTICAL_SD
) -> tuple[float, float, str]:
    """The design prior: this run's resource-group posterior, or a sceptical prior."""
    if kind == "posterior":
        return asr.design_prior_from_run(out_dir)
    if kind == "sceptical":
        return sceptical_mean, sceptical_sd, "sceptical design prior"
    raise ValueError(f"design_prior must be 'posterior' or 'sceptical', got {kind!r}")


def run_design(
    spec: asr.AssuranceSpec,
    designs: list[asr.Design],
    replicates: int,
    seed: int,
    null_replicates: int = 0,
    validate_n: int = 0,
    validate_draws: int = 300,
    scheduler: str | None = None,
    workers: int = 2,
    cache_dir: Path | None = STUDY_CACHE,
    progress=print,
    alternative: asr.AssuranceSpec | None = None,
) -> StudyResults:
    """Assurance of each design, the rule's false-positive rate, and the Laplace check.

    Parameters
    ----------
    spec : AssuranceSpec
        Design prior and decision rule.
    designs : list of Design
        Replication designs.
    replicates : int
        Simulated trials per design.
    seed : int
        The run's seed; every replicate's seed derives from it.
    null_replicates : int
        Simulated trials with a true effect of zero at the largest design (0: skip).
    validate_n : int
        Data sets per design on which the fast analysis is checked against full MCMC (0: skip).
    validate_draws : int
        MCMC draws (and tuning steps) per chain for that check.
    scheduler, workers, cache_dir, progress
        See :func:`analysis.studies.runner.run_study`.
    alternative : AssuranceSpec, optional
        A second design prior (e.g. the sceptical one beside the posterior), run with the same
        replicate seeds at the designs of the middle team count (one line beside the first
        prior's): its rows join ``assurance`` and ``smallest_designs``.

    Returns
    -------
    StudyResults
        Tables ``laplace_check``, ``assurance``, ``smallest_designs``, ``design_ranking``
        (first prior) and ``assurance_null``.
    """
    c = catalogue
    out = StudyResults()
    if validate_n:
        settings = fit.SamplerSettings(validate_draws, validate_draws, 2, seed)
        check = runner.run_study(
            "laplace-check",
            laplace.check_tasks(spec, designs, validate_n, seed, settings),
            cache_dir,
            scheduler,
            workers,
            chunk_size=max(1, validate_n // 2),
            progress=progress,
            reuse=True,  # one local cluster for every study of the run (workers start once)
        )
        out.runs["laplace-check"] = check
        out.tables[c.LAPLACE_CHECK] = laplace.laplace_check(_succeeded(check))
    tables, smallest = [], []
    teams = sorted({d.n_sites for d in designs})
    middle = teams[len(teams) // 2]  # the second prior's line: one team count is enough
    for name, prior in (("assurance", spec), ("assurance-alternative", alternative)):
        if prior is None:
            continue
        grid = designs if prior is spec else [d for d in designs if d.n_sites == middle]
        run = runner.run_study(  # the same replicate seeds: the priors share their draws
            name,
            asr.assurance_tasks(prior, grid, replicates, seed),
            cache_dir,
            scheduler,
            workers,
            progress=progress,
            reuse=True,
        )
        out.runs[name] = run
        table = asr.assurance_table(_succeeded(run))
        tables.append(table.assign(design_prior=prior.prior_label))
        smallest.append(asr.smallest_designs(table).assign(design_prior=prior.prior_label))
        if prior is spec:
            ranking = asr.design_ranking(_succeeded(run)).assign(design_prior=prior.prior_label)
            out.tables[c.DESIGN_RANKING] = ranking
    out.tables[c.ASSURANCE] = pd.concat(tables, ignore_index=True)
    out.tables[c.SMALLEST_DESIGNS] = pd.concat(smallest, ignore_index=True)
    if null_replicates:
        null_spec = dataclasses.replace(spec, prior_mean=0.0, prior_sd=0.0, rule="benefit")
        biggest = [asr.Design(max(d.n_patients for d in designs), max(d.n_sites for d in designs))]
        null_run = runner.run_study(
            "assurance-null",
            asr.assurance_tasks(null_spec, biggest, null_replicates, seed + 1),
            cache_dir,
            scheduler,
            workers,
            progress=progress,
            reuse=True,
        )
        out.runs["assurance-null"] = null_run
        null = asr.assurance_table(_succeeded(null_run))
        null["nominal"] = 1 - spec.threshold
        band = 3 * np.sqrt(null["nominal"] * (1 - null["nominal"]) / null["replicates"])
        null["within_mc_error"] = (null["assurance"] - null["nominal"]).abs() <= band
        out.tables[c.ASSURANCE_NULL] = null
    out.label(spec.trial, spec.outcome)
    return out


def tipping_points(df, out_dir, deltas, threshold, settings, seed, primary=None):
    """The delta tipping point of every outcome of every trial in the data.

    Uses the fits the trial stage saved under ``out_dir/idata``; an outcome without a saved fit
    is fitted here only if it is ``primary`` (a notebook run on its own), else skipped.

    Returns
    -------
    (pandas.DataFrame, list of str, list of str)
        The table (``tipping_point`` columns), one sentence per outcome, and the fits made here.
    """

    frames, texts, refits = [], [], []
    if df is None:
        return pd.DataFrame(columns=list(catalogue.TIPPING_POINT.columns)), texts, refits
    for trial in [t for t in registry.load_trial_registry()["trial"] if t in set(df["trial"])]:
        present = set(df.loc[df["trial"] == trial, "outcome"])
        for outcome in [o for o in registry.trial_outcomes(trial) if o in present]:
            data = ancova.analysis_data(df, trial, outcome)  # as the trial stage fitted it
            idata = (
                trial_pipeline.load_idata(out_dir, trial, outcome, groups=["posterior"])
                if out_dir
                else None
            )
            if idata is None:
                if (trial, outcome) != primary:
                    continue
                settings = settings or fit.SamplerSettings(seed=seed)
                idata = trial_pipeline.fit_outcome(df, trial, outcome, settings).idata
                refits.append(f"{trial}/{outcome}")
            tip = tipping.tipping_point_analysis(data, idata, deltas, threshold)
            frames.append(tip.table.assign(trial=trial, outcome=outcome))
            texts.append(tip.text)
    table = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=list(catalogue.TIPPING_POINT.columns))
    )
    return table, texts, refits


def run_calibration(
    df: pd.DataFrame,
    trial: str,
    outcome: str,
    seed: int,
    out_dir=None,
    sbc_replicates: int = 12,
    sbc_draws: int = 150,
    sbc_thin: int = 99,
    deltas: tuple = (),
    threshold: float = rules.DECISION_THRESHOLD,
    settings: fit.SamplerSettings | None = None,
    scheduler: str | None = None,
    workers: int = 2,
    cache_dir: Path | None = STUDY_CACHE,
    progress=print,
) -> StudyResults:
    """Simulation-based calibration of the trial model and the missing-data tipping point.

    Parameters
    ----------
    df : pandas.DataFrame
        Validated data.
    trial, outcome : str
        The trial whose design SBC uses, and its outcome (empty: :func:`study_target`).
    seed : int
        The run's seed.
    out_dir : path, optional
        The run's output folder, whose ``idata/`` holds the primary fit from the trial stage.
    sbc_replicates, sbc_draws, sbc_thin : int
        SBC replicates, draws per chain in each fit, and ranks kept (0..``sbc_thin``).
    deltas : tuple of float
        Shifts of the missing last-visit values (baseline SDs); empty to skip the tipping points.
    threshold : float
        The conclusion P(benefit) > ``threshold`` (default: the project's decision rule).
    settings : SamplerSettings, optional
        For fitting the primary model when no saved fit exists.

    Returns
    -------
    StudyResults
        Tables ``sbc_ranks``, ``sbc_uniformity``, ``tipping_point`` (every outcome of every
        trial with a saved fit); notes ``data``, ``sbc``, ``tipping_point``, ``idata``.
    """
    c = catalogue
    out = StudyResults()
    trial, outcome = study_target(df, trial, outcome)
    data = model.prepare_trial_data(df, trial, outcome)
    out.notes["data"] = (
        f"Calibrated on the design of {registry.trial_label(trial, in_sentence=True)} "
        f"({registry.get_outcome(trial, outcome).instrument}): its teams, arms and the visits "
        "each patient attended."
    )
    spec = sbc.SBCSpec(trial, outcome, draws=sbc_draws, tune=sbc_draws, chains=2, thin_to=sbc_thin)
    run = runner.run_study(
        f"sbc-{trial}-{outcome}",
        sbc.sbc_tasks(spec, data, sbc_replicates, seed, cache_dir),
        cache_dir,
        scheduler,
        workers,
        chunk_size=4,
        progress=progress,
        reuse=True,
    )
    out.runs["sbc"] = run
    ranks = run.results[run.results["status"] == "ok"].drop(columns=["status", "error", "key"])
    out.tables[c.SBC_RANKS] = ranks
    out.tables[c.SBC_UNIFORMITY] = sbc.sbc_uniformity(sbc.parameter_ranks(ranks), sbc_thin)
    out.label(trial, outcome)
    out.notes["sbc"] = (
        f"{len(ranks)} SBC replicates ({run.computed} computed, {run.from_cache} from cache, "
        f"{run.failed} failed) in {run.seconds:.0f} s; "
        f"{int((ranks['divergences'] > 0).sum())} fits with divergent transitions. "
        + sbc.power_markdown(len(ranks), sbc_thin)
    )
    if deltas:
        out.tables[c.TIPPING_POINT], texts, refits = tipping_points(
            df,
            out_dir,
            list(deltas),
            threshold,
            settings,
            seed,
            primary=(trial, outcome),
        )
        if texts:
            out.notes["tipping_point"] = "\n".join(f"- {t}" for t in texts)
            out.notes["idata"] = (
                "Posterior draws from the trial analyses' fits (no refit)."
                if not refits
                else f"No saved fit for {', '.join(refits)} in this run: fitted here."
            )
    return out
