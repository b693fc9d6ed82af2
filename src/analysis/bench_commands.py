"""The benchmark's command: ``bench``."""

from __future__ import annotations

from analysis import config
from analysis.commandline import (
    err,
)


def cmd_bench(args) -> int:
    from analysis import bench
    from analysis.trialmodel import fit

    sizes = []
    for item in args.sizes.split(","):
        n, _, k = item.partition("/")
        if not (n.isdigit() and k.isdigit()):
            return err(f"--sizes: expected PATIENTS/TEAMS items, got {item!r}") or 2
        sizes.append((int(n), int(k)))
    settings = fit.SamplerSettings(args.draws, args.tune, args.chains, args.seed)
    out = config.resolve(args.out, bench.default_out())
    bench.run_bench(out, sizes, settings, with_report=not args.no_report)
    return 0


def register(sub) -> None:
    """Add this stage's subcommands to the top-level parser."""
    b = sub.add_parser("bench", help="benchmark: naive vs project model, scale sweep, report time")
    b.add_argument("--sizes", default="158/20,1000/60,10000/200", help="PATIENTS/TEAMS,...")
    b.add_argument("--draws", type=int, default=1000, help="posterior draws per chain")
    b.add_argument("--tune", type=int, default=1000, help="tuning steps per chain")
    b.add_argument("--chains", type=int, default=4, help="number of chains")
    b.add_argument("--seed", type=int, default=config.DEFAULT_SEED, help="random seed")
    b.add_argument("--no-report", action="store_true", help="skip the two make report runs")
    b.add_argument("--out", default=None, help="output folder (default reports/bench)")
    b.set_defaults(func=cmd_bench)
