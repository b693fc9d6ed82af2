"""Analysis of one trial: every outcome fitted, summarised, checked and compared.

:func:`run_trial` is the stage's one orchestrator, called by ``notebooks/02-trial-model.ipynb``
and by ``python -m analysis fit``; it returns a :class:`TrialResults` that saves its tables
(named by :mod:`analysis.catalogue`) and its fits (InferenceData, aggregated only).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis import catalogue, profiles, registry
from analysis.figures import parameter_text, pct
from analysis.trialmodel import ancova, diagnostics, missing, summarise
from analysis.trialmodel.draws import Draws, as_arviz, import_arviz
from analysis.trialmodel.fit import SamplerSettings, add_log_likelihood, fit_trial_model
from analysis.trialmodel.model import (
    COVARIANCE_LABELS,
    DEFAULT_COVARIANCE,
    PRIOR_SETS,
    TrialData,
    prepare_trial_data,
)
from analysis.trialmodel.pooling import (
    joint_likelihood_from_posterior,
    likelihood_from_posterior,
    outcome_correlation,
    pool_secondary_effects,
)


@dataclass(eq=False)
class OutcomeFit:
    """One fitted outcome."""

    data: TrialData
    idata: Draws
    model: object
    diagnostics: pd.DataFrame

    @property
    def name(self) -> str:
        """``trial/outcome[/variant]``."""
        a = self.idata.attrs
        variant = []
        if a["covariance"] != DEFAULT_COVARIANCE:
            variant.append(COVARIANCE_LABELS[a["covariance"]])
        if a.get("covariates"):
            variant.append("adjusted")
        if a["likelihood"] != "normal":
            variant.append(a["likelihood"])
        if a["priors"] != "default":
            variant.append(f"{a['priors']} prior")
        if a.get("analysis"):  # the baseline is always one of its covariates
            extra = [t for t in str(a.get("covariates", "")).split(", ") if t]
            variant = [a["analysis"]] + (["adjusted"] if len(extra) > 1 else [])
        return f"{a['trial']}/{a['outcome']}" + (f" ({', '.join(variant)})" if variant else "")


def settings_for(
    profile: str,
    draws: int | None = None,
    tune: int | None = None,
    chains: int | None = None,
    seed: int | None = None,
) -> SamplerSettings:
    """Sampler settings of a profile (``params/<profile>.yaml``), with optional overrides."""
    base = SamplerSettings(**profiles.sampler_parameters(profile))
    return SamplerSettings(
        draws=base.draws if draws is None else draws,
        tune=base.tune if tune is None else tune,
        chains=base.chains if chains is None else chains,
        seed=base.seed if seed is None else seed,
    )


def resolve_outcomes(df: pd.DataFrame, trial: str, outcomes: list[str] | None) -> list[str]:
    """The outcomes to fit: those asked for (checked) or every outcome present, primary first."""
    present = [
        o
        for o in registry.trial_outcomes(trial)
        if o in set(df.loc[df["trial"] == trial, "outcome"])
    ]
    if not present:
        raise ValueError(f"no data for trial {trial!r}")
    if not outcomes:
        return present
    unknown = [o for o in outcomes if o not in present]
    if unknown:
        raise ValueError(
            f"trial {trial!r} has no data for outcome(s) {unknown}; present: {present}"
        )
    return [o for o in present if o in outcomes]


def fit_outcome(
    df, trial, outcome, settings, cache=None, analysis: str | None = None, **options
) -> OutcomeFit:
    """Fit one outcome by ``analysis`` (``constrained`` or ``ancova``; default the trial's
    primary analysis from the registry), options as for :func:`analysis.fit.fit_trial_model`."""
    analysis = analysis or registry.primary_analysis(trial)
    if analysis == "ancova":
        return fit_ancova(
            df,
            trial,
            outcome,
            settings,
            cache,
            covariates=options.pop("covariates", False),
            **options,
        )
    data = prepare_trial_data(df, trial, outcome)
    idata, model = fit_trial_model(data, settings, cache=cache, **options)
    fit = OutcomeFit(data, idata, model, None)
    fit.diagnostics = diagnostics.convergence_table(idata, fit.name)
    return fit


def fit_ancova(
    df, trial, outcome, settings, cache=None, covariates: bool = False, **options
) -> OutcomeFit:
    """Fit the baseline-as-covariate analysis (:mod:`analysis.trialmodel.ancova`) of one
    outcome: change from baseline, baseline x visit, unstructured covariance unless
    ``options`` (as for :func:`analysis.fit.fit_trial_model`) say otherwise."""
    data = ancova.analysis_data(df, trial, outcome, "ancova", covariates)
    idata, model = fit_trial_model(data, settings, cache=cache, covariates=True, **options)
    idata.attrs["analysis"] = ancova.LABEL
    fit = OutcomeFit(data, idata, model, None)
    fit.diagnostics = diagnostics.convergence_table(idata, fit.name)
    return fit


def fit_outcomes(
    df, trial, outcomes, settings, cache=None, log=print, covariates: bool = False
) -> dict[str, OutcomeFit]:
    """Fit the primary model (optionally covariate-adjusted) to every outcome of a trial."""
    fits = {}
    for outcome in outcomes:
        fits[outcome] = fit_outcome(df, trial, outcome, settings, cache, covariates=covariates)
        log(f"fitted {fits[outcome].name}")
    return fits


def effects_table(fits: dict[str, OutcomeFit]) -> pd.DataFrame:
    """``trial_effects`` of every fitted outcome (see :func:`summarise.summarise_effects`)."""
    return pd.concat(
        [summarise.summarise_effects(f.idata, f.data, f.diagnostics) for f in fits.values()],
        ignore_index=True,
    )


def means_table(fits, observed: pd.DataFrame) -> pd.DataFrame:
    """Modelled and observed means per arm and visit (see :func:`summarise.summarise_means`)."""
    return pd.concat(
        [summarise.summarise_means(f.idata, f.data, observed) for f in fits.values()],
        ignore_index=True,
    )


def diagnostics_table(fits) -> pd.DataFrame:
    """Convergence diagnostics of every fit, one row per parameter."""
    return pd.concat([f.diagnostics for f in fits.values()], ignore_index=True)


def team_table(fits) -> pd.DataFrame:
    """Team-level treatment effects of every fit with team slopes."""
    parts = [summarise.summarise_team_effects(f.idata, f.data) for f in fits.values()]
    parts = [p for p in parts if not p.empty]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def parameters_table(fits) -> pd.DataFrame:
    """Variance components of every fit."""
    return pd.concat(
        [summarise.summarise_parameters(f.idata, f.data) for f in fits.values()], ignore_index=True
    )


def pooled_table(fits, effects: pd.DataFrame, seed: int, tau_scale: float = 0.3) -> pd.DataFrame:
    """Pooled and unpooled SMDs of the secondary outcomes (primary outcomes left out)."""
    draws = {}
    for f in fits.values():
        direction = 1 if f.data.meta["higher_is_better"] else -1
        for month in f.data.visits[1:]:
            for arm, comp in summarise.contrasts(f.data):
                draws[(f.data.outcome, month, arm, comp)] = direction * summarise.contrast_draws(
                    f.idata, f.data, arm, comp, month
                )
    trial = effects["trial"].iloc[0]
    reg = registry.load_outcome_registry()
    primary = set(reg[(reg["trial"] == trial) & reg["primary"]]["outcome"])
    secondary = [f.data for f in fits.values() if f.data.outcome not in primary]
    correlations = {}
    for month, arm, comp in {k[1:] for k in draws}:
        present = [d for d in secondary if month in d.visits]
        if len(present) > 1:
            correlations[(month, arm, comp)] = (
                [d.outcome for d in present],
                outcome_correlation(present, month, (arm, comp)),
            )
    prior_sd = {f.idata.attrs.get("priors", "default") for f in fits.values()}
    return pool_secondary_effects(
        effects,
        draws,
        primary,
        tau_scale=tau_scale,
        seed=seed,
        prior_sd=PRIOR_SETS[prior_sd.pop()].effect_sd
        if len(prior_sd) == 1 and next(iter(prior_sd)) in PRIOR_SETS
        else None,
        correlations=correlations,
    )


def key_outcome(trial: str, outcomes: list[str]) -> str:
    """The outcome the sensitivity analyses are run on: the primary, else the first."""
    reg = registry.load_outcome_registry()
    primary = reg[(reg["trial"] == trial) & reg["primary"]]["outcome"].tolist()
    return next((o for o in primary if o in outcomes), outcomes[0])


#: Sensitivity analyses of the within-patient covariance (compared with the primary by LOO).
COVARIANCE_VARIANTS = {
    "intercept": "compound symmetry (patient random intercept)",
    "ar1": "AR(1) visit covariance",
}
PRIMARY_LABEL = "primary: unstructured covariance, Normal(0, 1) effect prior"


def primary_label(trial: str) -> str:
    """The primary analysis' row label in the ``sensitivity`` table (naming the analysis when
    the trial's plan makes the baseline-as-covariate MMRM primary)."""
    if registry.primary_analysis(trial) == "ancova":
        return PRIMARY_LABEL.replace("primary: ", f"primary: {ancova.LABEL}, ")
    return PRIMARY_LABEL


def sensitivity_table(
    df,
    trial,
    outcome,
    settings,
    cache=None,
    base: OutcomeFit | None = None,
    log=print,
    covariates: bool = False,
) -> tuple[pd.DataFrame, dict[str, OutcomeFit]]:
    """The key outcome's effects under alternative priors and the robust likelihood.

    Returns
    -------
    (pandas.DataFrame, dict)
        ``trial_effects`` columns plus ``analysis`` (which variant), and the variant fits.
    """
    primary = registry.primary_analysis(trial)
    other = next(a for a in registry.ANALYSES if a != primary)
    variants = {primary_label(trial): {}}
    for name, pri in PRIOR_SETS.items():
        if name != "default":
            variants[f"{name} (Normal(0, {pri.effect_sd:g}) effect prior)"] = {"priors": name}
    variants["robust Student-t likelihood"] = {"likelihood": "student"}
    n_visits = df.loc[(df["trial"] == trial) & (df["outcome"] == outcome), "month"].nunique()
    for cov, label in COVARIANCE_VARIANTS.items():
        if cov == "ar1" and n_visits < 3:  # with two visits AR(1) is compound symmetry
            continue
        variants[label] = {"covariance": cov}
    variants[ancova.ANALYSIS_LABELS[other]] = {"analysis": other}
    fits, parts = {}, []
    for label, opts in variants.items():
        if not opts and base is not None:
            fit = base
        elif opts.get("analysis") == "ancova":
            fit = fit_ancova(df, trial, outcome, settings, cache, covariates=covariates)
            left = ancova.left_out(prepare_trial_data(df, trial, outcome))
            log(f"fitted {fit.name} (left out: {left})")
        elif opts.get("analysis") == "constrained":
            fit = fit_outcome(df, trial, outcome, settings, cache, covariates=covariates, **opts)
            log(f"fitted {fit.name}")
        else:
            fit = fit_outcome(df, trial, outcome, settings, cache, covariates=covariates, **opts)
            log(f"fitted {fit.name}")
        fits[label] = fit
        parts.append(
            summarise.summarise_effects(fit.idata, fit.data, fit.diagnostics).assign(analysis=label)
        )
    return pd.concat(parts, ignore_index=True), fits


def loo_table(fits: dict[str, OutcomeFit]) -> pd.DataFrame:
    """LOO comparison (leave one patient out) of fits of the same outcome and data.

    Returns
    -------
    pandas.DataFrame
        Columns ``model, elpd_loo, se, elpd_diff, dse, p_loo, pareto_k_max, rank``.
    """
    az = import_arviz()
    loos = {}
    for label, fit in fits.items():
        if "log_likelihood" not in fit.idata:
            add_log_likelihood(fit.idata, fit.model, fit.data)
        loos[label] = as_arviz(fit.idata)
    cmp = az.compare(loos, ic="loo")
    kmax = {label: float(np.max(az.loo(i, pointwise=True).pareto_k)) for label, i in loos.items()}
    out = cmp.reset_index().rename(columns={"index": "model", "elpd_loo": "elpd_loo"})
    out["pareto_k_max"] = out["model"].map(kmax)
    return out[["model", "elpd_loo", "se", "elpd_diff", "dse", "p_loo", "pareto_k_max", "rank"]]


def evidence_rows(fits: dict[str, OutcomeFit], source: str) -> pd.DataFrame:
    """The trial's final-visit effects in the synthesis evidence format.

    Each arm against the comparator (the multi-arm convention), as the benefit-oriented SMD's
    **likelihood** (positive favours the arm): the normal approximation of the posterior with
    the effect prior divided out (:func:`pooling.likelihood_from_posterior`), so that the
    synthesis, which has its own effect prior, does not count the trial model's prior again.

    Returns
    -------
    pandas.DataFrame
        Columns ``study, outcome, treatment, comparator, estimate, se, n_treatment,
        n_comparator, source, kind, includes, cov_shared`` (``cov_shared``: the contrasts'
        covariance in a multi-arm trial, from the joint posterior with the prior divided out).
    """
    rows = []
    for f in fits.values():
        d = f.data
        direction = 1 if d.meta["higher_is_better"] else -1
        month = d.visits[-1]
        counts = np.bincount(d.arm_idx, minlength=len(d.arms))
        prior = PRIOR_SETS.get(f.idata.attrs.get("priors", "default"), PRIOR_SETS["default"])
        draws = np.column_stack(
            [
                direction * summarise.contrast_draws(f.idata, d, arm, d.comparator, month).ravel()
                for arm in d.treatments
            ]
        )
        arms = list(d.treatments)
        shared = np.full(len(arms), np.nan)
        try:  # the contrasts' joint likelihood: they share the comparator's patients
            est, cov = joint_likelihood_from_posterior(
                draws.mean(axis=0), np.atleast_2d(np.cov(draws, rowvar=False)), prior.effect_sd
            )
            se = np.sqrt(np.diag(cov))
            if len(arms) > 1:
                off = cov - np.diag(np.diag(cov))
                shared = off.sum(axis=1) / (len(arms) - 1)
        except ValueError:  # some contrast without information: each on its own, if it has any
            est, se = np.full(len(arms), np.nan), np.full(len(arms), np.nan)
            for k in range(len(arms)):
                try:
                    est[k], se[k] = likelihood_from_posterior(
                        draws[:, k].mean(), draws[:, k].std(ddof=1), prior.effect_sd
                    )
                except ValueError:
                    continue
        for k, arm in enumerate(arms):
            if not np.isfinite(se[k]):
                continue  # the data say nothing: no likelihood to pass on
            rows.append(
                {
                    "study": registry.trial_study(d.trial),
                    "outcome": d.outcome,
                    "treatment": arm,
                    "comparator": d.comparator,
                    "estimate": float(est[k]),
                    "se": float(se[k]),
                    "n_treatment": int(counts[d.arms.index(arm)]),
                    "n_comparator": int(counts[d.arms.index(d.comparator)]),
                    "source": f"{source}: likelihood of this project's {d.trial} model, "
                    f"{registry.time_at(d.trial, month)}",
                    "kind": "study",
                    "includes": "",
                    "cov_shared": float(shared[k]),
                }
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- the orchestrator

#: What the saved InferenceData keeps: population-level posteriors and sampler statistics. Groups
#: indexed by patient (log-likelihood, observed and constant data) never leave the process.
IDATA_GROUPS = ("posterior", "sample_stats")


def aggregate_idata(idata: Draws) -> Draws:
    """A copy of a fit without anything indexed by patient (for ``reports/idata/``)."""
    groups = {}
    for g in IDATA_GROUPS:
        if g not in idata.groups():
            continue
        ds = idata[g]
        drop = [v for v in ds.data_vars if "patient" in ds[v].dims]
        ds = ds.drop_vars(drop)
        if "patient" in ds.coords:
            ds = ds.drop_vars("patient")
        groups[g] = ds
    return Draws(groups, dict(idata.attrs))


def save_idata(fit: OutcomeFit, out_dir, variant: str = ""):
    """Write one fit's aggregated InferenceData to ``idata/<trial>__<outcome>[__variant].nc``."""
    path = catalogue.idata_path(out_dir, fit.data.trial, fit.data.outcome, variant)
    path.parent.mkdir(parents=True, exist_ok=True)
    aggregate_idata(fit.idata).to_netcdf(str(path))
    return path


def load_idata(out_dir, trial: str, outcome: str, variant: str = "", groups=None):
    """A saved fit (:class:`~analysis.trialmodel.draws.Draws`, as ArviZ would read it; only
    the named ``groups`` if given), or None when the run has not saved it."""
    path = catalogue.idata_path(out_dir, trial, outcome, variant)
    return Draws.from_netcdf(path, groups) if path.exists() else None


@dataclass
class TrialResults:
    """Everything :func:`run_trial` computes for one trial.

    Attributes
    ----------
    trial, profile, key : str
        The trial, the execution profile and the key outcome (the sensitivity analyses').
    fits : dict
        ``{outcome: OutcomeFit}`` of the primary model.
    sensitivity_fits : dict
        ``{analysis label: OutcomeFit}`` of the key outcome (empty when switched off).
    tables : dict
        ``{catalogue.Table: DataFrame}``, the tables this stage writes.
    """

    trial: str
    profile: str
    key: str
    fits: dict
    sensitivity_fits: dict
    tables: dict

    def table(self, t: catalogue.Table) -> pd.DataFrame:
        """One of the tables (an empty frame if this run did not make it)."""
        return self.tables.get(t, pd.DataFrame(columns=list(t.columns)))

    def all_diagnostics(self) -> pd.DataFrame:
        """Diagnostics of every fit (primary and sensitivity)."""
        parts = [self.table(catalogue.DIAGNOSTICS), self.table(catalogue.SENSITIVITY_DIAGNOSTICS)]
        return pd.concat([p for p in parts if not p.empty], ignore_index=True)

    def gate_failures(self) -> list[str]:
        """Convergence-gate failures over every fit (primary and sensitivity)."""
        return diagnostics.gate_failures(self.all_diagnostics())

    def save(self, out_dir) -> list:
        """Write every table (``<name>__<trial>.csv``) and every fit (``idata/*.nc``)."""
        from analysis import output

        paths = [
            output.save_table(df, out_dir, t, part=self.trial)
            for t, df in self.tables.items()
            if not (df.empty and t is catalogue.TEAM_EFFECTS)
        ]
        paths += [save_idata(f, out_dir) for f in self.fits.values()]
        for label, f in self.sensitivity_fits.items():
            if not any(f is g for g in self.fits.values()):
                paths.append(save_idata(f, out_dir, variant_slug(label)))
        return paths


def variant_slug(label: str) -> str:
    """A file-name form of a sensitivity analysis label (its first words)."""
    words = "".join(c if c.isalnum() else " " for c in label.lower()).split()
    return "-".join(words[:2])


def run_trial(
    df: pd.DataFrame,
    trial: str,
    settings: SamplerSettings,
    profile: str = "smoke",
    outcomes: list[str] | None = None,
    sensitivity: bool = True,
    source: str = "embedded simulated data",
    cache=None,
    log=print,
    truth: pd.DataFrame | None = None,
    covariates: bool = False,
) -> TrialResults:
    """Fit, summarise, check and compare every outcome of one trial.

    Parameters
    ----------
    df : pandas.DataFrame
        Validated data in the contract.
    trial : str
        The trial to analyse.
    settings : SamplerSettings
        Draws, tuning steps, chains and seed.
    profile : str
        ``smoke`` or ``full`` (recorded; the gate is enforced by the caller).
    outcomes : list of str, optional
        Outcomes to fit (default: every outcome present, primary first).
    sensitivity : bool
        Run the key outcome's sensitivity analyses and the LOO comparison.
    source : str
        Where the data come from (recorded in the synthesis evidence rows).
    cache : analysis.trialmodel.fit.ModelCache, optional
        Models to reuse (its ``log`` defaults to ``log``).
    log : callable
        Progress messages (one line per fit).
    truth : pandas.DataFrame, optional
        True effects when the data were simulated from a scenario
        (:func:`analysis.contract.scenario.true_effects`): shown beside the estimates.
    covariates : bool
        Adjust every fit for the baseline covariates in the data (age, sex, diagnosis; centred,
        so the effects are marginal over the trial's patients).

    Returns
    -------
    TrialResults
    """
    from analysis.contract import describe
    from analysis.trialmodel.fit import ModelCache

    cache = cache if cache is not None else ModelCache()
    if cache.log is None:
        cache.log = log  # say when something is compiled, and why
    fitted = resolve_outcomes(df, trial, outcomes)
    key = key_outcome(trial, fitted)
    fits = fit_outcomes(df, trial, fitted, settings, cache, log=log, covariates=covariates)
    effects = summarise.attach_truth(effects_table(fits), truth)
    c = catalogue
    tables = {
        c.TRIAL_EFFECTS: effects,
        c.DIAGNOSTICS: diagnostics_table(fits),
        c.MODELLED_MEANS: means_table(fits, describe.observed_means(df)),
        c.POOLED_EFFECTS: pooled_table(fits, effects, settings.seed),
        c.VARIANCE_COMPONENTS: parameters_table(fits),
        c.TEAM_EFFECTS: team_table(fits),
        c.TRIAL_CONTRASTS: evidence_rows(fits, source),
        c.REFERENCE_BASED: pd.concat(
            [missing.reference_based_table(f.idata, f.data) for f in fits.values()],
            ignore_index=True,
        ),
    }
    sens_fits = {}
    if sensitivity:
        sens, sens_fits = sensitivity_table(
            df, trial, key, settings, cache, base=fits[key], log=log, covariates=covariates
        )
        tables[c.SENSITIVITY] = summarise.attach_truth(sens, truth)
        tables[c.SENSITIVITY_DIAGNOSTICS] = diagnostics_table(
            {k: v for k, v in sens_fits.items() if v is not fits[key]}
        )
        loo = loo_table(
            {
                COVARIANCE_LABELS[DEFAULT_COVARIANCE]: fits[key],
                **{
                    COVARIANCE_LABELS[cov]: sens_fits[label]
                    for cov, label in COVARIANCE_VARIANTS.items()
                    if label in sens_fits
                },
            }
        )
        tables[c.LOO] = loo.assign(trial=trial, outcome=key)
    return TrialResults(trial, profile, key, fits, sens_fits, tables)


def design_markdown(trial: str, outcomes: list[str], key: str, profile: str, settings) -> str:
    """One paragraph on what this trial analysis fits, in a reader's words."""
    arms = ", ".join(registry.arm_label(a) for a in registry.trial_arms(trial))
    return (
        f"{registry.trial_label(trial)}: arms {arms}; each compared with "
        f"{registry.arm_label(registry.comparator(trial))}. Outcomes analysed: "
        f"{', '.join(o.replace('_', ' ') for o in outcomes)}; key outcome for the sensitivity "
        f"analyses: **{key.replace('_', ' ')}**. Posterior from {settings.chains} chains of "
        f"{settings.draws} draws after {settings.tune} tuning steps"
        + ("" if profiles.for_interpretation(profile) else " (a short exploratory run)")
        + "."
    )


def key_result_markdown(results: TrialResults, fails: list[str]) -> str:
    """The key outcome's last-visit result in one sentence, with the gate's verdict."""
    effects = results.table(catalogue.TRIAL_EFFECTS)
    key = results.key
    last = max(results.fits[key].data.visits)
    row = effects[(effects["outcome"] == key) & (effects["month"] == last)].iloc[0]
    reg = registry.get_outcome(results.trial, key)
    mcid = (
        ""
        if pd.isna(row["prob_mcid"])
        else f", P(benefit > MCID {reg.mcid:g}) = {pct(row['prob_mcid'])}"
    )
    stamp = (
        "short exploratory run: not for interpretation"
        if not profiles.for_interpretation(results.profile)
        else "full analysis"
    )
    gate = (
        "passed"
        if not fails
        else f"FAILED ({len(fails)} check(s); the appendix's convergence table names them)"
    )
    return (
        f"**Key result** ({stamp}): {key.replace('_', ' ')} at "
        f"{registry.time_at(results.trial, row['month'])}, "
        f"{registry.arm_label(row['arm'])} minus {registry.arm_label(row['comparator'])}: "
        f"{row['estimate']:.3f} {reg.unit} (95% CrI {row['lower']:.3f} to {row['upper']:.3f}), "
        f"SMD {row['smd']:.2f} ({row['smd_lower']:.2f} to {row['smd_upper']:.2f}); "
        f"P(benefit) = {pct(row['prob_benefit'])}{mcid}. Convergence gate {gate}."
    )


def variance_markdown(results: TrialResults) -> str:
    """Which variance components the data inform and which stay at their prior, in words."""
    vc = results.table(catalogue.VARIANCE_COMPONENTS)
    if vc.empty:
        return ""
    lines = []
    for (outcome, informed), g in vc.groupby(["outcome", "informed"], sort=False):
        names = ", ".join(parameter_text(p, results.trial) for p in g["parameter"])
        verb = (
            "informed by the data" if informed else "barely moved by the data (posterior ~ prior)"
        )
        lines.append(f"- {outcome.replace('_', ' ')}: {names} {verb}")
    return (
        "Each variance component beside its prior (table); a posterior whose interquartile "
        "range is not clearly narrower than the prior's is the prior speaking, not the data:\n\n"
        + "\n".join(lines)
    )
