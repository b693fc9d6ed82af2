"""The synthesis stage's command: ``synthesize``."""

from __future__ import annotations

import re

from analysis import config, rules
from analysis.commandline import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    err,
)


def cmd_synthesize(args) -> int:
    """Network meta-analysis of an evidence file with exactly the priors given."""

    from analysis import output
    from analysis.synthesis import evidence, nma
    from analysis.synthesis import pipeline as synthesis

    if args.draws < 1:
        err(f"--draws must be a positive integer, got {args.draws}")
        return EXIT_BAD_INPUT
    try:  # the priors are checked where they live (SynthesisSettings)
        settings = synthesis.SynthesisSettings(
            args.effect_prior_sd,
            args.tau_prior_scale,
            args.bridge_mean,
            args.bridge_sd,
            tau_prior=args.tau_prior,
        )
    except ValueError as exc:
        msg = str(exc)
        for flag in ("tau-prior-scale", "effect-prior-sd", "bridge-mean", "bridge-sd", "tau-prior"):
            msg = re.sub(rf"(?<![-\w]){flag}(?![-\w])", f"--{flag}", msg)
        err(msg)
        return EXIT_BAD_INPUT
    try:
        overlap = "refuse" if args.overlap == "refuse" else "allow"
        ev = evidence.load_evidence(config.resolve(args.evidence), overlap=overlap)
    except evidence.EvidenceError as exc:
        err(str(exc))
        return EXIT_BAD_INPUT
    if overlap == "allow":
        ev, notes = evidence.resolve_overlaps(ev, args.overlap.replace("-", "_"))
        for note in notes:
            print(f"not counted twice: {note}")
    nodes = set(ev["treatment"]) | set(ev["comparator"])
    if args.bridge_sd is not None:
        if settings.bridge_treatment not in nodes:
            err(
                f"--bridge-mean/--bridge-sd place {settings.bridge_treatment!r} against "
                f"{nma.REFERENCE!r}, but {args.evidence} has no {settings.bridge_treatment!r} "
                f"row (treatments: {sorted(nodes)}); drop the bridge flags for this network"
            )
            return EXIT_BAD_INPUT
    if args.reference is not None and args.reference not in nodes:
        err(
            f"--reference {args.reference!r} is not a treatment of {args.evidence}: {sorted(nodes)}"
        )
        return EXIT_BAD_INPUT
    outcomes = args.outcome or list(dict.fromkeys(ev["outcome"]))
    missing = [o for o in outcomes if o not in set(ev["outcome"])]
    if missing:
        err(f"{args.evidence}: no evidence for outcome(s) {missing}")
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
        err(f"{args.evidence}: {exc} (set --reference or --outcome)")
        return EXIT_BAD_INPUT
    results.save(out)
    for o, r in results.fits.items():
        extra = f"; not connected, left out: {', '.join(r.left_out)}" if r.left_out else ""
        print(f"{o}: reference {r.reference}; treatments {', '.join(r.treatments)}{extra}")
    names = ", ".join(t.name for t in results.tables)
    print(f"wrote {names} for {len(outcomes)} outcome(s) to {out / 'tables'}")
    return EXIT_OK


def register(sub) -> None:
    """Add this stage's subcommands to the top-level parser."""
    y = sub.add_parser("synthesize", help="network meta-analysis of a contrast-level evidence file")
    y.add_argument(
        "--evidence", required=True, help="CSV: study,outcome,treatment,comparator,estimate,se"
    )
    y.add_argument("--outcome", action="append", default=None, help="outcome (repeatable)")
    y.add_argument(
        "--tau-prior",
        default="half-normal",
        help="prior of the between-study SD: half-normal (scale --tau-prior-scale), the "
        "empirical log-t priors of Rhodes et al. 2015 for SMDs (rhodes-general, "
        "rhodes-mental-health, rhodes-quality-of-life, rhodes-subjective), or "
        "rhodes-by-outcome (each outcome's category in the outcome registry) "
        "(default: %(default)s)",
    )
    y.add_argument(
        "--tau-prior-scale",
        type=float,
        default=rules.HETEROGENEITY_SCALE,
        help="half-normal scale of tau",
    )
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
