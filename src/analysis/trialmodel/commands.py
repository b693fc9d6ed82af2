"""The trial model's command: ``fit``."""

from __future__ import annotations

import time

from analysis import config
from analysis.commandline import (
    EXIT_FAILED,
    EXIT_OK,
    err,
    or_bad_input,
    registry_trials,
)
from analysis.contract.commands import validate_or_exit


def cmd_fit(args) -> int:
    """Fit the trial model to every (or the chosen) outcome and write the tables and fits."""
    from analysis import catalogue, output
    from analysis.contract.scenario import embedded_truth
    from analysis.trialmodel import diagnostics
    from analysis.trialmodel import pipeline as trial

    settings = or_bad_input(
        trial.settings_for, args.profile, args.draws, args.tune, args.chains, args.seed
    )
    _, df = validate_or_exit(args.data or str(config.DEFAULT_DATA))
    outcomes = or_bad_input(trial.resolve_outcomes, df, args.trial, args.outcome)
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
    verdict = diagnostics.gate_verdict(results.all_diagnostics(), args.profile)
    print(verdict.headline())
    if not verdict.ok:
        print(verdict.table.round({"rhat_max": 3}).to_string(index=False))
        print(verdict.gate.describe())
    if verdict.exit_status:
        err("the convergence gate failed; these fits are not results")
        return EXIT_FAILED
    return EXIT_OK


def register(sub) -> None:
    """Add this stage's subcommands to the top-level parser."""
    f = sub.add_parser("fit", help="fit the Bayesian trial model and write its tables")
    f.add_argument("--trial", required=True, choices=registry_trials())
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
