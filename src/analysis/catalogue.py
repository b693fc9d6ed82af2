"""The results catalogue: every table the pipeline writes, its columns, who writes and who reads it.

This module is the only place where a table's file name is spelled. Stages write through
:func:`analysis.output.save_table` and read through :func:`read_table`, both of which take a
:class:`Table` from here, so an import shows every hand-over between stages. A table written
once per trial (``per_trial``) is saved as ``<name>__<trial>.csv`` and stacked into
``<name>.csv`` by :func:`combine_parts`.

Columns are checked on writing: a table whose columns differ from its declaration is a bug
(``TableError``). Tables whose trailing columns depend on the model (``open_columns``) check the
declared columns only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

#: The stages in pipeline order; a stage may read what an earlier stage wrote.
STAGES = ("contract", "trialmodel", "synthesis", "studies", "report")

#: Output folders of a run (see the README's Outputs section).
TABLES_DIR, FIGURES_DIR, TIMINGS_DIR, IDATA_DIR = "tables", "figures", "timings", "idata"


class TableError(ValueError):
    """A table that does not match its catalogue entry."""


@dataclass(frozen=True)
class Table:
    """One result table.

    Attributes
    ----------
    name : str
        File stem under ``tables/`` (or ``timings/``).
    meaning : str
        One line: what a row is and what the table is for.
    columns : tuple of str
        The columns, in order.
    writer : str
        The stage that writes it.
    readers : tuple of str
        Stages (or ``report`` for the document) that read it.
    per_trial : bool
        Written once per trial as ``<name>__<trial>.csv`` and combined into ``<name>.csv``.
    open_columns : bool
        Further columns besides the declared ones (one per model parameter).
    folder : str
        ``tables`` or ``timings``.
    """

    name: str
    meaning: str
    columns: tuple[str, ...]
    writer: str
    readers: tuple[str, ...] = ("report",)
    per_trial: bool = False
    open_columns: bool = False
    folder: str = TABLES_DIR

    def file_name(self, part: str | None = None) -> str:
        """``<name>.csv`` or, for one trial's part, ``<name>__<part>.csv``."""
        return f"{self.name}__{part}.csv" if part else f"{self.name}.csv"

    def path(self, out_dir: str | Path, part: str | None = None) -> Path:
        """Where the table lives under a run's output folder."""
        return Path(out_dir) / self.folder / self.file_name(part)

    def check(self, df: pd.DataFrame) -> None:
        """Raise :class:`TableError` unless ``df`` has the declared columns (in order)."""
        got = tuple(df.columns)
        want = self.columns
        ok = set(want) <= set(got) if self.open_columns else got == want
        if not ok:
            raise TableError(
                f"table {self.name!r}: columns {list(got)} differ from the catalogue's "
                f"{list(want)}{' (at least)' if self.open_columns else ''}"
            )


def _t(*args, **kwargs) -> Table:
    return Table(*args, **kwargs)


# ----------------------------------------------------------------------------- contract (data)
DATA_SUMMARY = _t(
    "data_summary",
    "One row per trial: sites, patients, rows and outcomes in the data.",
    ("trial", "sites", "patients", "rows", "outcomes"),
    "contract",
)
PARTICIPANT_FLOW = _t(
    "participant_flow",
    "One row per trial x arm x visit: patients randomised and assessed (any outcome).",
    ("trial", "arm", "month", "randomised", "assessed", "retained_pct"),
    "contract",
)
BASELINE = _t(
    "baseline",
    "One row per trial x arm x baseline characteristic: a summary string, small cells suppressed.",
    ("trial", "arm", "characteristic", "n", "mean", "sd", "summary"),
    "contract",
)
OBSERVED_MEANS = _t(
    "observed_means",
    "One row per trial x outcome x arm x visit: observed mean with a 95% t-interval.",
    ("trial", "outcome", "arm", "month", "n", "mean", "sd", "lower", "upper"),
    "contract",
)
MISSINGNESS = _t(
    "missingness",
    "One row per trial x outcome x arm x follow-up visit: patients missing and their share.",
    ("trial", "outcome", "arm", "month", "randomised", "observed", "missing", "missing_pct"),
    "contract",
)
SCENARIO_PROVENANCE = _t(
    "scenario_provenance",
    "One row per number of a simulation scenario: published (with source) or assumed (why).",
    ("trial", "quantity", "value", "status", "note"),
    "contract",
)
INTERCURRENT_EVENTS = _t(
    "intercurrent_events",
    "One row per trial and intercurrent event type: its strategy, patients and rows set aside.",
    ("trial", "event", "strategy", "strategy_label", "patients", "rows_set_aside"),
    "contract",
)

# ----------------------------------------------------------------------------- trial models
TRIAL_EFFECTS = _t(
    "trial_effects",
    "One row per trial x outcome x follow-up visit x contrast: effect, SMD, probabilities, MCSE.",
    (
        "trial",
        "outcome",
        "month",
        "arm",
        "comparator",
        "estimate",
        "lower",
        "upper",
        "smd",
        "smd_lower",
        "smd_upper",
        "prob_benefit",
        "prob_mcid",
        "mcse",
        "lower_mcse",
        "upper_mcse",
        "smd_lower_mcse",
        "smd_upper_mcse",
        "prob_benefit_mcse",
        "prob_mcid_mcse",
        "rhat_max",
        "ess_bulk_min",
        "ess_tail_min",
        "divergences",
        "true_estimate",
        "true_smd",
    ),
    "trialmodel",
    ("studies", "report"),
    per_trial=True,
)
DIAGNOSTICS = _t(
    "diagnostics",
    "One row per scalar population parameter of every primary fit: R-hat, ESS, MCSE, divergences.",
    ("model", "parameter", "rhat", "ess_bulk", "ess_tail", "mcse_mean", "divergences"),
    "trialmodel",
    per_trial=True,
)
MODELLED_MEANS = _t(
    "modelled_means",
    "One row per trial x outcome x arm x visit: modelled mean and change, beside the observed mean.",
    (
        "trial",
        "outcome",
        "arm",
        "month",
        "mean",
        "lower",
        "upper",
        "change",
        "change_lower",
        "change_upper",
        "lower_mcse",
        "upper_mcse",
        "change_lower_mcse",
        "change_upper_mcse",
        "observed_mean",
        "observed_n",
    ),
    "trialmodel",
    per_trial=True,
)
POOLED_EFFECTS = _t(
    "pooled_effects",
    "One row per secondary outcome x visit x contrast: unpooled and partially pooled SMD.",
    (
        "trial",
        "outcome",
        "month",
        "arm",
        "comparator",
        "smd_unpooled",
        "smd_unpooled_lower",
        "smd_unpooled_upper",
        "smd_pooled",
        "smd_pooled_lower",
        "smd_pooled_upper",
        "prob_benefit_unpooled",
        "prob_benefit_pooled",
        "smd_pooled_mcse",
        "smd_pooled_lower_mcse",
        "smd_pooled_upper_mcse",
        "prob_benefit_pooled_mcse",
        "smd_unpooled_lower_mcse",
        "smd_unpooled_upper_mcse",
        "prob_benefit_unpooled_mcse",
    ),
    "trialmodel",
    per_trial=True,
)
VARIANCE_COMPONENTS = _t(
    "variance_components",
    "One row per fit x variance parameter: posterior beside prior (baseline-SD units), informed or not.",
    (
        "trial",
        "outcome",
        "parameter",
        "mean",
        "lower",
        "upper",
        "prior",
        "prior_median",
        "prior_upper",
        "informed",
        "mean_mcse",
        "lower_mcse",
        "upper_mcse",
    ),
    "trialmodel",
    per_trial=True,
)
TEAM_EFFECTS = _t(
    "team_effects",
    "One row per outcome x team x follow-up visit: the team-specific treatment effect.",
    (
        "trial",
        "outcome",
        "site",
        "n_patients",
        "arm",
        "month",
        "smd",
        "smd_lower",
        "smd_upper",
        "smd_lower_mcse",
        "smd_upper_mcse",
        "suppressed",
    ),
    "trialmodel",
    per_trial=True,
)
SENSITIVITY = _t(
    "sensitivity",
    "The key outcome's effects (trial_effects columns) under each sensitivity analysis.",
    (*TRIAL_EFFECTS.columns, "analysis"),
    "trialmodel",
    per_trial=True,
)
SENSITIVITY_DIAGNOSTICS = _t(
    "sensitivity_diagnostics",
    "Convergence diagnostics (diagnostics columns) of the sensitivity fits.",
    ("model", "parameter", "rhat", "ess_bulk", "ess_tail", "mcse_mean", "divergences"),
    "trialmodel",
    per_trial=True,
)
LOO = _t(
    "loo",
    "One row per covariance model of the key outcome: PSIS-LOO (leave one patient out).",
    (
        "model",
        "elpd_loo",
        "se",
        "elpd_diff",
        "dse",
        "p_loo",
        "pareto_k_max",
        "rank",
        "trial",
        "outcome",
    ),
    "trialmodel",
    per_trial=True,
)
REFERENCE_BASED = _t(
    "reference_based",
    "One row per outcome x contrast x strategy (MAR, J2R, CR, CIR) x inference: final-visit effect.",
    (
        "trial",
        "outcome",
        "month",
        "arm",
        "comparator",
        "strategy",
        "strategy_label",
        "inference",
        "missing_share",
        "estimate",
        "lower",
        "upper",
        "smd",
        "prob_benefit",
        "conclusion_holds",
        "lower_mcse",
        "upper_mcse",
        "prob_benefit_mcse",
    ),
    "trialmodel",
    per_trial=True,
)
TRIAL_CONTRASTS = _t(
    "trial_contrasts",
    "The trial's final-visit effects as synthesis evidence (positive favours the treatment).",
    (
        "study",
        "outcome",
        "treatment",
        "comparator",
        "estimate",
        "se",
        "n_treatment",
        "n_comparator",
        "source",
        "kind",
        "includes",
        "cov_shared",
    ),
    "trialmodel",
    ("synthesis",),
    per_trial=True,
)

# ----------------------------------------------------------------------------- synthesis
SYNTHESIS_EVIDENCE = _t(
    "synthesis_evidence",
    "The contrast-level evidence the network meta-analysis used, one row per contrast.",
    TRIAL_CONTRASTS.columns,
    "synthesis",
)
SYNTHESIS_EFFECTS = _t(
    "synthesis_effects",
    "League table: one row per outcome x ordered pair of treatments (SMD, positive favours treatment).",
    (
        "outcome",
        "treatment",
        "reference",
        "mean",
        "sd",
        "lower",
        "upper",
        "prob_better",
        "prob_better_mcse",
        "predictive_lower",
        "predictive_upper",
        "lower_mcse",
        "upper_mcse",
        "predictive_lower_mcse",
        "predictive_upper_mcse",
    ),
    "synthesis",
)
SYNTHESIS_RANKS = _t(
    "synthesis_ranks",
    "One row per outcome x treatment: rank probabilities and SUCRA.",
    (
        "outcome",
        "treatment",
        "rank",
        "probability",
        "sucra",
        "probability_mcse",
        "sucra_mcse",
        "rests_on_bridge",
    ),
    "synthesis",
    open_columns=True,
)
HETEROGENEITY = _t(
    "heterogeneity",
    "One row per outcome: the between-study SD, posterior beside prior, and whether data inform it.",
    (
        "outcome",
        "reference",
        "mean",
        "sd",
        "lower",
        "upper",
        "prior",
        "prior_median",
        "prior_lower",
        "prior_upper",
        "informed",
        "n_studies",
        "n_contrasts",
    ),
    "synthesis",
)
EVIDENCE_SENSITIVITY = _t(
    "evidence_sensitivity",
    "One row per outcome x evidence set x key contrast: studies' own rows vs pooled rows kept.",
    (
        "outcome",
        "evidence",
        "treatment",
        "reference",
        "mean",
        "sd",
        "lower",
        "upper",
        "prob_better",
        "lower_mcse",
        "upper_mcse",
        "prob_better_mcse",
    ),
    "synthesis",
)
MAP_PRIOR = _t(
    "map_prior",
    "One row per component of the robust MAP prior derived from the historical trials.",
    ("treatment", "base", "source", "component", "kind", "weight", "mean", "sd"),
    "synthesis",
)
MAP_OC = _t(
    "map_oc",
    "One row per prior x replication size x true effect: the decision rule's success probability.",
    ("prior", "patients", "true_effect", "prob_success", "kind"),
    "synthesis",
)
PRIOR_WEIGHT = _t(
    "prior_weight",
    "One row per outcome x informative prior: its effective sample size and a prior-data conflict check.",
    (
        "outcome",
        "prior",
        "treatment",
        "reference",
        "prior_mean",
        "prior_sd",
        "ess_patients",
        "data_estimate",
        "data_se",
        "conflict_p",
    ),
    "synthesis",
)
TRANSITIVITY = _t(
    "transitivity",
    "One row per study of the network: design, population, setting and comparator side by side.",
    (
        "study",
        "design",
        "country",
        "years",
        "setting",
        "n",
        "age",
        "sex",
        "diagnoses",
        "instruments",
        "intervention",
        "comparator",
        "source",
    ),
    "synthesis",
)
BRIDGE_SENSITIVITY = _t(
    "bridge_sensitivity",
    "One row per outcome x bridge SD: the key cross-trial contrast as the bridge widens.",
    (
        "outcome",
        "bridge_sd",
        "mean",
        "sd",
        "lower",
        "upper",
        "prob_better",
        "prob_best",
        "lower_mcse",
        "upper_mcse",
        "prob_better_mcse",
        "prob_best_mcse",
    ),
    "synthesis",
)

# ----------------------------------------------------------------------------- studies
LAPLACE_CHECK = _t(
    "laplace_check",
    "One row per replication design: the design analysis' effect against MCMC of the same model.",
    (
        "trial",
        "outcome",
        "model",
        "patients",
        "teams",
        "datasets",
        "laplace_mean",
        "mcmc_mean",
        "laplace_sd",
        "mcmc_sd",
        "sd_ratio",
        "mean_diff_in_mcmc_sd",
        "mean_diff_mcse",
        "laplace_prob",
        "mcmc_prob",
    ),
    "studies",
)
RECOVERY_RUNS = _t(
    "recovery_runs",
    "One row per simulated trial x covariance model: the final-visit SMD against the truth.",
    ("seed", "covariance", "estimate", "lower", "upper", "sd", "truth", "covered"),
    "studies",
    (),
)
RECOVERY_SUMMARY = _t(
    "recovery_summary",
    "One row per covariance model: bias and interval coverage over the simulated trials.",
    (
        "covariance",
        "datasets",
        "bias",
        "bias_se",
        "bias_in_posterior_sd",
        "coverage",
        "covered",
        "band_low",
        "band_high",
        "coverage_ok",
    ),
    "studies",
    (),
)
ASSURANCE = _t(
    "assurance",
    "One row per design prior x design: assurance with its 95% Monte Carlo interval.",
    (
        "trial",
        "outcome",
        "design_prior",
        "n_patients",
        "n_sites",
        "replicates",
        "assurance",
        "converged",
        "mcse",
        "lower",
        "upper",
    ),
    "studies",
)
DESIGN_RANKING = _t(
    "design_ranking",
    "One row per design: assurance minus the best design's, paired over shared true effects.",
    (
        "trial",
        "outcome",
        "design_prior",
        "n_patients",
        "n_sites",
        "best_patients",
        "best_sites",
        "difference",
        "mcse",
        "lower",
        "upper",
        "distinguishable",
    ),
    "studies",
)
SMALLEST_DESIGNS = _t(
    "smallest_designs",
    "One row per design prior x level x teams: the smallest simulated design reaching it.",
    ("trial", "outcome", "design_prior", "level", "n_sites", "n_patients", "assurance"),
    "studies",
)
ASSURANCE_NULL = _t(
    "assurance_null",
    "The decision rule's false-positive rate under a true effect of zero.",
    (
        "trial",
        "outcome",
        "n_patients",
        "n_sites",
        "replicates",
        "assurance",
        "converged",
        "mcse",
        "lower",
        "upper",
        "nominal",
        "within_mc_error",
    ),
    "studies",
)
SBC_RANKS = _t(
    "sbc_ranks",
    "One row per SBC replicate: the rank of each parameter's true value among its draws.",
    ("trial", "outcome", "rep", "divergences"),
    "studies",
    open_columns=True,
)
SBC_UNIFORMITY = _t(
    "sbc_uniformity",
    "One row per parameter: chi-square test of uniform SBC ranks.",
    (
        "trial",
        "outcome",
        "parameter",
        "replicates",
        "chi2",
        "p_value",
        "expected_per_bin",
        "min_bin",
        "max_bin",
    ),
    "studies",
)
TIPPING_POINT = _t(
    "tipping_point",
    "One row per active arm and pair of shifts per missing visit: the adjusted last-visit effect.",
    (
        "delta_treated",
        "delta_control",
        "mean",
        "lower",
        "upper",
        "lower_mcse",
        "upper_mcse",
        "prob_benefit",
        "prob_benefit_mcse",
        "conclusion_holds",
        "arm",
        "comparator",
        "trial",
        "outcome",
    ),
    "studies",
)

# ----------------------------------------------------------------------------- report
SUMMARY = _t(
    "summary",
    "The report's headline table: one row per comparison x outcome.",
    (
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
        "true_estimate",
        "lower_mcse",
        "upper_mcse",
        "prob_benefit_mcse",
        "prob_mcid_mcse",
        "direction",
        "benefit_smd",
        "benefit_smd_lower",
        "benefit_smd_upper",
        "true_benefit_smd",
        "favours",
        "fragile",
    ),
    "report",
    (),
)
GATE = _t(
    "gate",
    "One row per fitted model: the convergence gate, pass or fail.",
    ("model", "parameters", "rhat_max", "ess_bulk_min", "ess_tail_min", "divergences", "gate"),
    "report",
    (),
)

TABLES: dict[str, Table] = {
    t.name: t for t in (v for v in list(globals().values()) if isinstance(v, Table))
}


def table(name: str) -> Table:
    """The catalogue entry of a table name (KeyError naming the known tables)."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"no table {name!r} in the catalogue; known: {sorted(TABLES)}") from None


def read_table(out_dir: str | Path, t: Table, part: str | None = None) -> pd.DataFrame:
    """Read a table of a run (empty frame when the run did not write it).

    A file is parsed once per version (its modification time and size): the report's summary
    asks the same tables about every comparison."""
    path = t.path(out_dir, part)
    try:
        st = path.stat()
    except OSError:
        return pd.DataFrame(columns=list(t.columns))
    try:
        return _read_csv(path.resolve(), st.st_mtime_ns, st.st_size).copy()
    except pd.errors.EmptyDataError:
        return pd.DataFrame(columns=list(t.columns))


@lru_cache(maxsize=64)
def _read_csv(path: Path, mtime_ns: int, size: int) -> pd.DataFrame:
    return pd.read_csv(path)


def parts(out_dir: str | Path, t: Table) -> dict[str, Path]:
    """The per-trial parts of a table written in a run: ``{trial: path}``."""
    folder = Path(out_dir) / t.folder
    return {p.stem.split("__", 1)[1]: p for p in sorted(folder.glob(f"{t.name}__*.csv"))}


def combine_parts(out_dir: str | Path) -> list[Path]:
    """Stack every per-trial table's parts into ``<name>.csv`` (e.g. both trials)."""
    out = []
    for t in TABLES.values():
        frames = []
        for path in parts(out_dir, t).values():
            try:
                frames.append(pd.read_csv(path))
            except pd.errors.EmptyDataError:  # a part with no rows and no columns
                continue
        frames = [f for f in frames if not f.empty]
        if not frames:
            continue
        target = t.path(out_dir)
        pd.concat(frames, ignore_index=True).to_csv(
            target, index=False, float_format="%.6g", lineterminator="\n"
        )
        out.append(target)
    return out


def idata_path(out_dir: str | Path, trial: str, outcome: str, variant: str = "") -> Path:
    """Where a trial-model fit is saved as InferenceData (netCDF)."""
    stem = f"{trial}__{outcome}" + (f"__{variant}" if variant else "")
    return Path(out_dir) / IDATA_DIR / f"{stem}.nc"


def markdown_table() -> str:
    """The catalogue as a Markdown table (name, written by, read by, meaning)."""
    lines = ["| table | written by | read by | meaning |", "| --- | --- | --- | --- |"]
    for t in TABLES.values():
        name = t.name + ("__<trial>" if t.per_trial else "")
        lines.append(f"| `{name}` | {t.writer} | {', '.join(t.readers) or '-'} | {t.meaning} |")
    return "\n".join(lines)
