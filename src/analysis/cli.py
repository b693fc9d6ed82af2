"""Command line: ``python -m analysis COMMAND``. Each stage owns its commands (a ``commands``
module with ``register``); this module only gathers them.

Exit codes: 0 success; 1 a run failed (the previous report is untouched); 2 bad input or bad
arguments (nothing was run, nothing in ``reports/`` was touched); 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib

from analysis.commandline import EXIT_INTERRUPTED, Help, err

#: The modules whose ``register`` adds subcommands, in the order ``--help`` lists them.
COMMAND_MODULES = (
    "analysis.contract.commands",
    "analysis.report.commands",
    "analysis.trialmodel.commands",
    "analysis.bench_commands",
    "analysis.studies.commands",
    "analysis.synthesis.commands",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every stage's subcommands."""
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
        kwargs.setdefault("formatter_class", Help)
        kwargs.setdefault("description", kwargs.get("help"))
        return _add_parser(name, **kwargs)

    sub.add_parser = add_parser
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
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
        err("interrupted")
        return EXIT_INTERRUPTED
