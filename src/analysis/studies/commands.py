"""The studies' commands: ``design``, ``recovery``, ``sbc``."""

from __future__ import annotations

import time

from analysis import config, rules
from analysis.commandline import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_OK,
    err,
    int_list,
    or_bad_input,
    registry_trials,
)
from analysis.contract.commands import validate_or_exit


def cmd_design(args) -> int:
    """Assurance of replication-trial designs on Dask."""
    from analysis import catalogue, output
    from analysis.studies import assurance as asr
    from analysis.studies import pipeline as studies
    from analysis.studies import plots as study_plots

    try:
        patients = int_list(args.patients, "patients")
        teams = int_list(args.teams, "teams")
        if args.replicates < 1 or args.workers < 1:
            raise ValueError("--replicates and --workers must be at least 1")
        run_dir = config.resolve(args.tables or "reports")
        run_dir = run_dir.parent if run_dir.name == "tables" else run_dir
        _, df = validate_or_exit(args.data or str(config.DEFAULT_DATA))
        trial, outcome = studies.study_target(df, args.trial or "", args.outcome or "")
        spec, source, scenario_source = studies.design_spec(
            df,
            trial,
            outcome,
            args.prior,
            run_dir,
            args.threshold,
            args.rule,
            args.prior_mean,
            args.prior_sd,
        )
        mean, sd = spec.prior_mean, spec.prior_sd
        designs = [asr.Design(n, k) for k in teams for n in patients]
        for d in designs:
            if d.n_patients < 2 * d.n_sites:
                raise ValueError(
                    f"--patients/--teams: {d.n_patients} patients in {d.n_sites} "
                    "teams leaves fewer than 2 per team"
                )
    except ValueError as exc:
        err(str(exc))
        return EXIT_BAD_INPUT
    print(
        f"{trial}/{outcome}: design prior N({mean:.3f}, {sd:.3f}^2) from the {source}; "
        f"simulated from {scenario_source}"
    )
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
    from analysis import catalogue, output
    from analysis.studies import recovery
    from analysis.trialmodel import fit

    if args.seeds < 2 or args.patients < 20:
        err("--seeds must be at least 2 and --patients at least 20")
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
    output.save_table(runs, out, catalogue.RECOVERY_RUNS)
    output.save_table(summary, out, catalogue.RECOVERY_SUMMARY)
    print(summary.round(3).to_string(index=False))
    print(f"tables in {out / catalogue.TABLES_DIR}")
    return EXIT_OK


def cmd_sbc(args) -> int:
    """Simulation-based calibration of the trial model on Dask."""
    from analysis import catalogue, output
    from analysis.studies import pipeline as studies
    from analysis.studies import plots as study_plots
    from analysis.studies import sbc
    from analysis.trialmodel import model

    if args.replicates < 1 or args.draws < 1 or args.workers < 1:
        err("--replicates, --draws and --workers must be at least 1")
        return EXIT_BAD_INPUT
    _, df = validate_or_exit(args.data or str(config.DEFAULT_DATA))
    trial, outcome = or_bad_input(studies.study_target, df, args.trial, args.outcome)
    or_bad_input(model.prepare_trial_data, df, trial, outcome)
    results = studies.run_calibration(
        df,
        trial,
        outcome,
        args.seed,
        sbc_replicates=args.replicates,
        sbc_draws=args.draws,
        scheduler=args.scheduler,
        workers=args.workers,
    )
    out = output.output_dir(args.out)
    results.save(out)
    ranks = sbc.parameter_ranks(results.table(catalogue.SBC_RANKS))
    output.save_figure(study_plots.plot_sbc_ranks(ranks, 99), out, "sbc_ranks")
    print(results.table(catalogue.SBC_UNIFORMITY).round(3).to_string(index=False))
    return EXIT_OK if not results.runs["sbc"].failed else EXIT_FAILED


def register(sub) -> None:
    """Add this stage's subcommands to the top-level parser."""
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
        "--data", default=None, help="data file whose trial is replicated (default: embedded)"
    )
    g.add_argument("--trial", default="", help="the trial (default: the first in the data)")
    g.add_argument("--outcome", default="", help="its outcome (default: its primary)")
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
    g.add_argument(
        "--prior-sd", type=float, default=rules.SCEPTICAL_SD, help="sceptical design prior SD (SMD)"
    )
    g.add_argument(
        "--threshold",
        type=float,
        default=rules.DECISION_THRESHOLD,
        help="posterior probability for success",
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
    c.add_argument(
        "--trial",
        default="",
        choices=["", *registry_trials()],
        help="default: the first in the data",
    )
    c.add_argument("--outcome", default="", help="outcome whose design is used (default: primary)")
    c.add_argument("--data", default=None, help="data file giving the design (default: embedded)")
    c.add_argument("--replicates", type=int, default=200, help="simulated trials")
    c.add_argument("--draws", type=int, default=250, help="draws (and tuning steps) per chain")
    c.add_argument("--workers", type=int, default=2, help="local Dask worker processes")
    c.add_argument("--scheduler", default=None, help="existing Dask scheduler tcp://host:port")
    c.add_argument("--seed", type=int, default=config.DEFAULT_SEED, help="study seed")
    c.add_argument("--out", required=True, help="output folder (tables/ and figures/ inside)")
    c.set_defaults(func=cmd_sbc)
