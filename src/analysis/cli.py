"""Command line: ``python -m analysis {simulate,validate,report,fit,synthesize,design,sbc,recovery,bench}``.

Exit codes: 0 success; 1 a run failed (the previous report is untouched); 2 bad input or bad
arguments (nothing was run, nothing in ``reports/`` was touched); 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from analysis import config

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def _err(msg: str) -> None:
    print(f"error: {msg}", file=sys.stderr)


def _or_bad_input(func, *args, **kwargs):
    """``func(*args, **kwargs)``; a ValueError is reported and exits with code 2."""
    try:
        return func(*args, **kwargs)
    except ValueError as exc:
        _err(str(exc))
        raise SystemExit(EXIT_BAD_INPUT) from None


def _validate_or_exit(path: str | None):
    """Validate a data file; return (resolved path, frame) or raise SystemExit(2)."""
    from analysis import registry
    from analysis.contract.reading import DataFileError
    from analysis.contract.validate import ValidationError, validate_file

    p = config.resolve(path)
    try:
        registry.check_registry()
        return p, validate_file(p)
    except (DataFileError, ValidationError, registry.RegistryError) as exc:
        _err(str(exc))
        raise SystemExit(EXIT_BAD_INPUT) from None


def _registry_trials() -> list[str]:
    """The trials of the trial registry (choices of ``--trial``)."""
    from analysis import registry

    return registry.trials()


def cmd_simulate(args) -> int:
    """Write simulated data of both trials in the data contract."""
    from analysis.contract.simulate import simulate_all

    out = config.resolve(args.out, config.DEFAULT_DATA)
    df = simulate_all(args.seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".parquet":
        df.to_parquet(out, index=False)
    else:
        df.to_csv(out, index=False, lineterminator="\n", float_format="%.6g")
    n = df.groupby("trial")["patient_id"].nunique().to_dict()
    print(f"wrote {out} ({len(df)} rows; patients {n}; seed {args.seed})")
    return EXIT_OK


def cmd_validate(args) -> int:
    """Validate a data file against the contract."""
    from analysis.contract.validate import attendance_summary

    p, df = _validate_or_exit(args.file)
    n = df["patient_id"].nunique()
    print(f"{p.name}: valid. {len(df)} rows, {n} patients in {df['trial'].nunique()} trial(s).")
    print(attendance_summary(df).to_string(index=False))
    return EXIT_OK


def cmd_import(args) -> int:
    """Convert a trial team's file (wide or long, CSV/Excel/SPSS/Stata) to the contract."""
    from analysis.contract import importing
    from analysis.contract.reading import DataFileError
    from analysis.contract.validate import ValidationError, attendance_summary

    src = config.resolve(args.file)
    try:
        if args.init:
            text = importing.init_map(src, sheet=args.sheet)
            target = Path(args.map) if args.map else src.with_name(src.stem + ".map.yaml")
            if target.exists() and not args.force:
                _err(f"{target} exists; pass --force to overwrite it")
                return EXIT_BAD_INPUT
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target}: check the lines marked CHECK, then run")
            print(f"  python -m analysis import {args.file} --map {target} --out LONG.csv")
            return EXIT_OK
        if not args.map or not args.out:
            _err("import needs --map MAP.yaml and --out LONG.csv (or --init to write a map)")
            return EXIT_BAD_INPUT
        out, df = importing.import_file(src, args.map, config.resolve(args.out))
    except (importing.MapError, DataFileError, ValidationError) as exc:
        _err(str(exc))
        _err("nothing was written")
        return EXIT_BAD_INPUT
    print(f"wrote {out}: {len(df)} rows, {df['patient_id'].nunique()} patients; valid.")
    print(attendance_summary(df).to_string(index=False))
    return EXIT_OK


def cmd_report(args) -> int:
    """Run the notebooks and install the report."""
    from analysis.report.pipeline import BadParameters, StepFailed, load_profile, run_report

    try:
        load_profile(args.profile)
    except ValueError as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    data, trials = None, None
    if args.data:
        data, df = _validate_or_exit(args.data)
        trials = set(df["trial"])  # the trial notebooks run only for trials in the data
    default_out = config.REPORTS if args.profile == "full" else config.SMOKE_REPORTS
    out = config.resolve(args.out, default_out)
    t0 = time.perf_counter()
    try:
        html = run_report(data, args.profile, out, seed=args.seed, trials=trials)
    except BadParameters as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    except StepFailed as exc:
        _err(f"step '{exc.step}' failed: {type(exc.cause).__name__}: {exc.cause}")
        _err(f"partial notebook: {exc.notebook}")
        _err(f"the previous report in {out} is untouched")
        return EXIT_INTERRUPTED if isinstance(exc.cause, KeyboardInterrupt) else EXIT_FAILED
    except KeyboardInterrupt:
        _err(f"interrupted; the previous report in {out} is untouched")
        return EXIT_INTERRUPTED
    print(f"report ready in {time.perf_counter() - t0:.0f} s: {html}")
    return EXIT_OK


def cmd_audit(args) -> int:
    """Check a rendered report as a reader would (see :mod:`analysis.report.audit`)."""
    from analysis.report import audit

    path = Path(args.report)
    if not path.is_file():
        print(f"error: {path}: no such report", file=sys.stderr)
        return 2
    problems = audit.audit_html(path)
    if not args.no_browser:
        problems += audit.audit_in_browser(path)
    for p in problems:
        print(p)
    print(f"{path.name}: {len(problems)} problem(s)" if problems else f"{path.name}: no problems")
    return 1 if problems else 0


def cmd_fit(args) -> int:
    """Fit the trial model to every (or the chosen) outcome and write the tables and fits."""
    from analysis import catalogue, output
    from analysis.contract.scenario import embedded_truth
    from analysis.trialmodel import diagnostics
    from analysis.trialmodel import pipeline as trial

    settings = _or_bad_input(
        trial.settings_for, args.profile, args.draws, args.tune, args.chains, args.seed
    )
    _, df = _validate_or_exit(args.data or str(config.DEFAULT_DATA))
    outcomes = _or_bad_input(trial.resolve_outcomes, df, args.trial, args.outcome)
    out = output.output_dir(args.out)
    t0 = time.perf_counter()
    results = trial.run_trial(
        df,
        args.trial,
        settings,
        args.profile,
        outcomes,
        sensitivity=args.sensitivity,
        source="embedded simulated data" if not args.data else "user data",
        log=lambda m: print(f"  [{time.perf_counter() - t0:6.1f}s] {m}"),
        truth=None if args.data else embedded_truth(args.trial),
        covariates=args.covariates,
    )
    results.save(out)
    catalogue.combine_parts(out)  # <name>.csv stacks every trial fitted into this folder
    print(f"wrote tables and fits for {len(results.fits)} outcome(s) to {out}")
    diag = results.all_diagnostics()
    overview = diagnostics.gate_overview(diag)
    failed = [m for m, g in diag.groupby("model", sort=False) if diagnostics.gate_failures(g)]
    overview["gate"] = ["FAIL" if m in failed else "pass" for m in overview["model"]]
    if failed:
        why = (
            " (expected with the smoke profile's short chains: never results)"
            if args.profile != "full"
            else ""
        )
        print(f"convergence gate FAILED for {len(failed)} of {len(overview)} fit(s){why}:")
        print(
            overview.round({"rhat_max": 3, "ess_bulk_min": 0, "ess_tail_min": 0}).to_string(
                index=False
            )
        )
        print(diagnostics.Gate().describe())
        if args.profile == "full":
            _err("the full profile's convergence gate failed; these fits are not results")
            return EXIT_FAILED
    else:
        print(f"convergence gate passed for all {len(overview)} fit(s)")
    return EXIT_OK


def cmd_synthesize(args) -> int:
    """Network meta-analysis of an evidence file with exactly the priors given."""
    import math

    from analysis import output
    from analysis.synthesis import evidence, nma
    from analysis.synthesis import pipeline as synthesis

    problems = []
    for flag, value in (
        ("--tau-prior-scale", args.tau_prior_scale),
        ("--effect-prior-sd", args.effect_prior_sd),
        ("--bridge-sd", args.bridge_sd),
    ):
        if value is not None and not (math.isfinite(value) and value > 0):
            problems.append(f"{flag} must be a positive number, got {value:g}")
    if args.bridge_mean is not None and not math.isfinite(args.bridge_mean):
        problems.append(f"--bridge-mean must be a finite number, got {args.bridge_mean:g}")
    if (args.bridge_mean is None) != (args.bridge_sd is None):
        problems.append("give both --bridge-mean and --bridge-sd, or neither")
    if args.draws < 1:
        problems.append(f"--draws must be a positive integer, got {args.draws}")
    if problems:
        _err("; ".join(problems))
        return EXIT_BAD_INPUT
    try:
        overlap = "refuse" if args.overlap == "refuse" else "allow"
        ev = evidence.load_evidence(config.resolve(args.evidence), overlap=overlap)
    except evidence.EvidenceError as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    if overlap == "allow":
        ev, notes = evidence.resolve_overlaps(ev, args.overlap.replace("-", "_"))
        for note in notes:
            print(f"not counted twice: {note}")
    settings = synthesis.SynthesisSettings(
        args.effect_prior_sd,
        args.tau_prior_scale,
        args.bridge_mean,
        args.bridge_sd,
        tau_prior=args.tau_prior,
    )
    nodes = set(ev["treatment"]) | set(ev["comparator"])
    if args.bridge_sd is not None:
        if settings.bridge_treatment not in nodes:
            _err(
                f"--bridge-mean/--bridge-sd place {settings.bridge_treatment!r} against "
                f"{nma.REFERENCE!r}, but {args.evidence} has no {settings.bridge_treatment!r} "
                f"row (treatments: {sorted(nodes)}); drop the bridge flags for this network"
            )
            return EXIT_BAD_INPUT
    if args.reference is not None and args.reference not in nodes:
        _err(
            f"--reference {args.reference!r} is not a treatment of {args.evidence}: {sorted(nodes)}"
        )
        return EXIT_BAD_INPUT
    outcomes = args.outcome or list(dict.fromkeys(ev["outcome"]))
    missing = [o for o in outcomes if o not in set(ev["outcome"])]
    if missing:
        _err(f"{args.evidence}: no evidence for outcome(s) {missing}")
        return EXIT_BAD_INPUT
    out = output.output_dir(args.out)
    try:
        results = synthesis.run_synthesis(
            ev,
            settings,
            outcomes,
            draws=args.draws,
            seed=args.seed,
            bridge_sds=None,
            reference=args.reference,
        )
    except ValueError as exc:  # e.g. the reference has no evidence for one outcome
        _err(f"{args.evidence}: {exc} (set --reference or --outcome)")
        return EXIT_BAD_INPUT
    results.save(out)
    for o, r in results.fits.items():
        extra = f"; not connected, left out: {', '.join(r.left_out)}" if r.left_out else ""
        print(f"{o}: reference {r.reference}; treatments {', '.join(r.treatments)}{extra}")
    names = ", ".join(t.name for t in results.tables)
    print(f"wrote {names} for {len(outcomes)} outcome(s) to {out / 'tables'}")
    return EXIT_OK


def _int_list(text: str, name: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise ValueError(
            f"--{name}: expected positive whole numbers separated by commas, got {text!r}"
        )
    return values


def cmd_design(args) -> int:
    """Assurance of replication-trial designs on Dask."""
    from analysis import catalogue, output
    from analysis.studies import assurance as asr
    from analysis.studies import pipeline as studies
    from analysis.studies import plots as study_plots

    try:
        patients = _int_list(args.patients, "patients")
        teams = _int_list(args.teams, "teams")
        if args.replicates < 1 or args.workers < 1:
            raise ValueError("--replicates and --workers must be at least 1")
        run_dir = config.resolve(args.tables or "reports")
        run_dir = run_dir.parent if run_dir.name == "tables" else run_dir
        mean, sd, source = studies.design_prior(args.prior, run_dir, args.prior_mean, args.prior_sd)
        spec = asr.AssuranceSpec(mean, sd, args.threshold, args.rule)
        designs = [asr.Design(n, k) for k in teams for n in patients]
        for d in designs:
            if d.n_patients < 2 * d.n_sites:
                raise ValueError(
                    f"--patients/--teams: {d.n_patients} patients in {d.n_sites} "
                    "teams leaves fewer than 2 per team"
                )
    except ValueError as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    print(f"design prior N({mean:.3f}, {sd:.3f}^2) from the {source}")
    results = studies.run_design(
        spec, designs, args.replicates, args.seed, scheduler=args.scheduler, workers=args.workers
    )
    out = output.output_dir(args.out)
    results.save(out)
    table = results.table(catalogue.ASSURANCE)
    output.save_figure(study_plots.plot_assurance(table), out, "assurance")
    run = results.runs["assurance"]
    print(table.round(3).to_string(index=False))
    print(
        f"{len(run.results)} replicates ({run.failed} failed) in {run.seconds:.0f} s "
        f"on {run.workers or 'cached'} worker(s); tables in {out / 'tables'}"
    )
    return EXIT_OK if not run.failed else EXIT_FAILED


def cmd_recovery(args) -> int:
    """Parameter recovery over seeds: unstructured vs compound-symmetry covariance."""
    from analysis import output
    from analysis.studies import recovery
    from analysis.trialmodel import fit

    if args.seeds < 2 or args.patients < 20:
        _err("--seeds must be at least 2 and --patients at least 20")
        return EXIT_BAD_INPUT
    settings = fit.SamplerSettings(args.draws, args.tune, args.chains, args.seed)
    seeds = [args.seed + k for k in range(args.seeds)]
    t0 = time.perf_counter()
    runs = recovery.recovery_study(
        args.patients,
        seeds,
        settings,
        log=lambda m: print(f"  [{time.perf_counter() - t0:6.1f}s] {m}"),
    )
    summary = recovery.recovery_summary(runs)
    out = output.output_dir(args.out)
    runs.to_csv(out / "recovery_runs.csv", index=False)
    summary.to_csv(out / "recovery_summary.csv", index=False)
    print(summary.round(3).to_string(index=False))
    return 0


def cmd_sbc(args) -> int:
    """Simulation-based calibration of the trial model on Dask."""
    from analysis import catalogue, output
    from analysis.studies import pipeline as studies
    from analysis.studies import plots as study_plots
    from analysis.trialmodel import model

    if args.replicates < 1 or args.draws < 1 or args.workers < 1:
        _err("--replicates, --draws and --workers must be at least 1")
        return EXIT_BAD_INPUT
    _, df = _validate_or_exit(args.data or str(config.DEFAULT_DATA))
    _or_bad_input(model.prepare_trial_data, df, args.trial, args.outcome)
    results = studies.run_calibration(
        df,
        args.trial,
        args.outcome,
        args.seed,
        sbc_replicates=args.replicates,
        sbc_draws=args.draws,
        scheduler=args.scheduler,
        workers=args.workers,
    )
    out = output.output_dir(args.out)
    results.save(out)
    ranks = results.table(catalogue.SBC_RANKS).drop(columns=["rep", "divergences"])
    output.save_figure(study_plots.plot_sbc_ranks(ranks, 99), out, "sbc_ranks")
    print(results.table(catalogue.SBC_UNIFORMITY).round(3).to_string(index=False))
    return EXIT_OK if not results.runs["sbc"].failed else EXIT_FAILED


def cmd_bench(args) -> int:
    from analysis import bench
    from analysis.trialmodel import fit

    sizes = []
    for item in args.sizes.split(","):
        n, _, k = item.partition("/")
        if not (n.isdigit() and k.isdigit()):
            return _err(f"--sizes: expected PATIENTS/TEAMS items, got {item!r}") or 2
        sizes.append((int(n), int(k)))
    settings = fit.SamplerSettings(args.draws, args.tune, args.chains, args.seed)
    out = config.resolve(args.out, bench.default_out())
    bench.run_bench(out, sizes, settings, with_report=not args.no_report)
    return 0


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, unless its help already states it or it has none."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or action.default in (None, False) or action.required:
            return text
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (subcommands ``simulate``, ``validate``, ``report``)."""
    from analysis import __version__

    p = argparse.ArgumentParser(
        prog="python -m analysis",
        description="trialbayes: Bayesian analysis of psychosocial interventions for people with "
        "serious mental illness, from trial data to a report.",
        epilog="Exit codes: 0 success; 1 a run failed (the previous report is untouched); 2 bad "
        "input or arguments (nothing was run); 130 interrupted. "
        "'python -m analysis COMMAND --help' shows a command's options and defaults.",
    )
    p.add_argument("--version", action="version", version=f"trialbayes {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_parser = sub.add_parser

    def add_parser(name, **kwargs):  # every subcommand shows its defaults
        kwargs.setdefault("formatter_class", _Help)
        kwargs.setdefault("description", kwargs.get("help"))
        return _add_parser(name, **kwargs)

    sub.add_parser = add_parser

    s = sub.add_parser("simulate", help="simulate both trials into the data contract")
    s.add_argument("--seed", type=int, default=config.DEFAULT_SEED, help="random seed")
    s.add_argument("--out", default=None, help=f"output file (default {config.DEFAULT_DATA})")
    s.set_defaults(func=cmd_simulate)

    v = sub.add_parser("validate", help="check a data file against the data contract")
    v.add_argument("file", help="CSV, Parquet or Excel (.xlsx, first sheet) file in the contract")
    v.set_defaults(func=cmd_validate)

    m = sub.add_parser(
        "import", help="convert a wide or differently labelled file to the data contract"
    )
    m.add_argument("file", help="CSV, Excel (.xlsx), SPSS (.sav), Stata (.dta) or Parquet file")
    m.add_argument("--map", default=None, help="the import map (YAML; see --init)")
    m.add_argument("--out", default=None, help="the long CSV to write (e.g. data/raw/trial.csv)")
    m.add_argument(
        "--init", action="store_true", help="write a template map pre-filled from FILE's columns"
    )
    m.add_argument("--sheet", default=None, help="Excel sheet for --init (default: the first)")
    m.add_argument("--force", action="store_true", help="with --init: overwrite an existing map")
    m.set_defaults(func=cmd_import)

    r = sub.add_parser("report", help="run the notebooks and render reports/report.html")
    r.add_argument("--data", default=None, help="data file (default: embedded simulated data)")
    r.add_argument("--profile", default="full", help="smoke or full (params/<profile>.yaml)")
    r.add_argument(
        "--out", default=None, help="output folder (default reports/ or reports/_smoke/)"
    )
    r.add_argument("--seed", type=int, default=None, help="override the profile's seed")
    r.set_defaults(func=cmd_report)
    a = sub.add_parser("audit", help="check a rendered report as a reader would")
    a.add_argument("report", nargs="?", default="reports/report.html", help="the report's HTML")
    a.add_argument(
        "--no-browser", action="store_true", help="skip the headless-browser layout checks"
    )
    a.set_defaults(func=cmd_audit)
    f = sub.add_parser("fit", help="fit the Bayesian trial model and write its tables")
    f.add_argument("--trial", required=True, choices=_registry_trials())
    f.add_argument(
        "--outcome",
        action="append",
        default=None,
        help="outcome code (repeat for several; default every outcome)",
    )
    f.add_argument("--data", default=None, help="data file (default: embedded simulated data)")
    f.add_argument("--profile", default="full", help="smoke or full: sampler settings and gate")
    f.add_argument("--draws", type=int, default=None, help="posterior draws per chain")
    f.add_argument("--tune", type=int, default=None, help="tuning steps per chain")
    f.add_argument("--chains", type=int, default=None, help="number of chains")
    f.add_argument("--seed", type=int, default=None, help="random seed")
    f.add_argument(
        "--sensitivity",
        action="store_true",
        help="also fit the key outcome's sensitivity analyses and compare them by LOO",
    )
    f.add_argument(
        "--covariates",
        action="store_true",
        help="adjust for the baseline covariates in the data (age, sex, diagnosis; marginal means)",
    )
    f.add_argument("--out", required=True, help="output folder (tables/ and idata/ inside)")
    f.set_defaults(func=cmd_fit)
    b = sub.add_parser("bench", help="benchmark: naive vs project model, scale sweep, report time")
    b.add_argument("--sizes", default="158/20,1000/60,10000/200", help="PATIENTS/TEAMS,...")
    b.add_argument("--draws", type=int, default=1000, help="posterior draws per chain")
    b.add_argument("--tune", type=int, default=1000, help="tuning steps per chain")
    b.add_argument("--chains", type=int, default=4, help="number of chains")
    b.add_argument("--seed", type=int, default=config.DEFAULT_SEED, help="random seed")
    b.add_argument("--no-report", action="store_true", help="skip the two make report runs")
    b.add_argument("--out", default=None, help="output folder (default reports/bench)")
    b.set_defaults(func=cmd_bench)

    r = sub.add_parser(
        "recovery",
        help="parameter recovery over seeds: unstructured vs compound-symmetry covariance",
    )
    r.add_argument("--patients", type=int, default=1000, help="patients per simulated trial")
    r.add_argument("--seeds", type=int, default=20, help="simulated trials")
    r.add_argument("--draws", type=int, default=500, help="posterior draws per chain")
    r.add_argument("--tune", type=int, default=500, help="tuning steps per chain")
    r.add_argument("--chains", type=int, default=2, help="number of chains")
    r.add_argument("--seed", type=int, default=1, help="first seed (one per trial from it)")
    r.add_argument("--out", default="reports/recovery", help="output folder")
    r.set_defaults(func=cmd_recovery)

    g = sub.add_parser("design", help="assurance of replication-trial designs (Dask)")
    g.add_argument(
        "--patients", default="80,160,240,320,480", help="patients per design, comma-separated"
    )
    g.add_argument("--teams", default="10,20,40", help="teams per design, comma-separated")
    g.add_argument("--replicates", type=int, default=200, help="simulated trials per design")
    g.add_argument(
        "--prior",
        choices=["posterior", "sceptical"],
        default="posterior",
        help="design prior: this project's posterior (from --tables) or --prior-mean/--prior-sd",
    )
    g.add_argument(
        "--tables", default=None, help="a report run's folder or its tables/ (default reports)"
    )
    g.add_argument(
        "--prior-mean", type=float, default=0.0, help="sceptical design prior mean (SMD)"
    )
    g.add_argument("--prior-sd", type=float, default=0.3, help="sceptical design prior SD (SMD)")
    g.add_argument(
        "--threshold", type=float, default=0.975, help="posterior probability for success"
    )
    g.add_argument("--rule", choices=["benefit", "mcid"], default="benefit", help="decision rule")
    g.add_argument("--workers", type=int, default=2, help="local Dask worker processes")
    g.add_argument(
        "--scheduler",
        default=None,
        help="existing Dask scheduler tcp://host:port "
        "(default: DASK_SCHEDULER_ADDRESS, else a local cluster)",
    )
    g.add_argument("--seed", type=int, default=config.DEFAULT_SEED, help="study seed")
    g.add_argument("--out", required=True, help="output folder (tables/ and figures/ inside)")
    g.set_defaults(func=cmd_design)

    c = sub.add_parser("sbc", help="simulation-based calibration of the trial model (Dask)")
    c.add_argument("--trial", default="resource_groups", choices=_registry_trials())
    c.add_argument("--outcome", default="empowerment", help="outcome whose design is used")
    c.add_argument("--data", default=None, help="data file giving the design (default: embedded)")
    c.add_argument("--replicates", type=int, default=200, help="simulated trials")
    c.add_argument("--draws", type=int, default=250, help="draws (and tuning steps) per chain")
    c.add_argument("--workers", type=int, default=2, help="local Dask worker processes")
    c.add_argument("--scheduler", default=None, help="existing Dask scheduler tcp://host:port")
    c.add_argument("--seed", type=int, default=config.DEFAULT_SEED, help="study seed")
    c.add_argument("--out", required=True, help="output folder (tables/ and figures/ inside)")
    c.set_defaults(func=cmd_sbc)

    y = sub.add_parser("synthesize", help="network meta-analysis of a contrast-level evidence file")
    y.add_argument(
        "--evidence", required=True, help="CSV: study,outcome,treatment,comparator,estimate,se"
    )
    y.add_argument("--outcome", action="append", default=None, help="outcome (repeatable)")
    y.add_argument(
        "--tau-prior",
        choices=["half-normal", "rhodes-general", "rhodes-mental-health"],
        default="half-normal",
        help="prior of the between-study SD: half-normal (scale --tau-prior-scale) or the "
        "empirical log-t priors of Rhodes et al. 2015 for SMDs (default: %(default)s)",
    )
    y.add_argument("--tau-prior-scale", type=float, default=0.3, help="half-normal scale of tau")
    y.add_argument(
        "--effect-prior-sd",
        type=float,
        default=1.0,
        help="SD of the normal prior of each basic effect vs the reference",
    )
    y.add_argument("--bridge-mean", type=float, default=None, help="prior mean of fact vs standard")
    y.add_argument("--bridge-sd", type=float, default=None, help="prior SD of fact vs standard")
    y.add_argument("--draws", type=int, default=20000, help="exact posterior draws")
    y.add_argument(
        "--reference",
        default=None,
        help="reference treatment of every network (default: standard if present, else the "
        "treatment with most contrasts, then most often the comparator; printed and written to "
        "the heterogeneity table)",
    )
    y.add_argument(
        "--overlap",
        choices=["refuse", "prefer-study", "prefer-pooled"],
        default="refuse",
        help="a study entering twice (its own rows and inside a pooled row): refuse the file "
        "(exit 2, naming both rows; default), leave the pooled row out, or the study's rows out",
    )
    y.add_argument("--seed", type=int, default=config.DEFAULT_SEED, help="random seed")
    y.add_argument("--out", required=True, help="output folder (tables/ is written inside)")
    y.set_defaults(func=cmd_synthesize)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad arguments, 0 on --help
        return int(exc.code or 0)
    try:
        return args.func(args)
    except SystemExit as exc:
        return int(exc.code)
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
