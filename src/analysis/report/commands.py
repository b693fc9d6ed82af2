"""The report stage's commands: ``report`` and ``audit``."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from analysis import config, profiles
from analysis.commandline import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    err,
)
from analysis.contract.commands import validate_or_exit


def cmd_report(args) -> int:
    """Run the notebooks and install the report."""
    from analysis.report.pipeline import BadParameters, StepFailed, load_profile, run_report

    try:
        load_profile(args.profile)
    except ValueError as exc:
        err(str(exc))
        return EXIT_BAD_INPUT
    data, trials = None, None
    if args.data:
        data, df = validate_or_exit(args.data)
        trials = set(df["trial"])  # the trial notebooks run only for trials in the data
    default_out = (
        config.REPORTS if profiles.for_interpretation(args.profile) else config.SMOKE_REPORTS
    )
    out = config.resolve(args.out, default_out)
    t0 = time.perf_counter()
    try:
        html = run_report(data, args.profile, out, seed=args.seed, trials=trials, paper=args.paper)
    except BadParameters as exc:
        err(str(exc))
        return EXIT_BAD_INPUT
    except StepFailed as exc:
        err(f"step '{exc.step}' failed: {type(exc.cause).__name__}: {exc.cause}")
        err(f"partial notebook: {exc.notebook}")
        err(f"the previous report in {out} is untouched")
        return EXIT_INTERRUPTED if isinstance(exc.cause, KeyboardInterrupt) else EXIT_FAILED
    except KeyboardInterrupt:
        err(f"interrupted; the previous report in {out} is untouched")
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


def register(sub) -> None:
    """Add this stage's subcommands to the top-level parser."""
    r = sub.add_parser("report", help="run the notebooks and render reports/report.html")
    r.add_argument("--data", default=None, help="data file (default: embedded simulated data)")
    r.add_argument("--profile", default="full", help="smoke or full (params/<profile>.yaml)")
    r.add_argument(
        "--out", default=None, help="output folder (default reports/ or reports/_smoke/)"
    )
    r.add_argument("--seed", type=int, default=None, help="override the profile's seed")
    r.add_argument(
        "--paper",
        choices=("a4", "letter"),
        default="a4",
        help="paper of the printed report.pdf (default a4)",
    )
    r.set_defaults(func=cmd_report)
    a = sub.add_parser("audit", help="check a rendered report as a reader would")
    a.add_argument("report", nargs="?", default="reports/report.html", help="the report's HTML")
    a.add_argument(
        "--no-browser", action="store_true", help="skip the headless-browser layout checks"
    )
    a.set_defaults(func=cmd_audit)
