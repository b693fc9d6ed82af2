"""The data stage's commands: ``simulate``, ``validate``, ``import``."""

from __future__ import annotations

from pathlib import Path

from analysis import config
from analysis.commandline import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    err,
)


def validate_or_exit(path: str | None):
    """Validate a data file; return (resolved path, frame) or raise SystemExit(2)."""
    from analysis import registry
    from analysis.contract.reading import DataFileError
    from analysis.contract.validate import ValidationError, validate_file

    p = config.resolve(path)
    try:
        registry.check_registry()
        return p, validate_file(p)
    except (DataFileError, ValidationError, registry.RegistryError) as exc:
        err(str(exc))
        raise SystemExit(EXIT_BAD_INPUT) from None


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

    p, df = validate_or_exit(args.file)
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
                err(f"{target} exists; pass --force to overwrite it")
                return EXIT_BAD_INPUT
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target}: check the lines marked CHECK, then run")
            print(f"  python -m analysis import {args.file} --map {target} --out LONG.csv")
            return EXIT_OK
        if not args.map or not args.out:
            err("import needs --map MAP.yaml and --out LONG.csv (or --init to write a map)")
            return EXIT_BAD_INPUT
        out, df = importing.import_file(src, args.map, config.resolve(args.out))
    except (importing.MapError, DataFileError, ValidationError) as exc:
        err(str(exc))
        err("nothing was written")
        return EXIT_BAD_INPUT
    print(f"wrote {out}: {len(df)} rows, {df['patient_id'].nunique()} patients; valid.")
    print(attendance_summary(df).to_string(index=False))
    return EXIT_OK


def register(sub) -> None:
    """Add this stage's subcommands to the top-level parser."""
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
    m.add_argument(
        "file",
        help="CSV, Excel (.xlsx), SPSS (.sav), Stata (.dta), SAS (.sas7bdat, .xpt) or Parquet file",
    )
    m.add_argument("--map", default=None, help="the import map (YAML; see --init)")
    m.add_argument("--out", default=None, help="the long CSV to write (e.g. data/raw/trial.csv)")
    m.add_argument(
        "--init", action="store_true", help="write a template map pre-filled from FILE's columns"
    )
    m.add_argument("--sheet", default=None, help="Excel sheet for --init (default: the first)")
    m.add_argument("--force", action="store_true", help="with --init: overwrite an existing map")
    m.set_defaults(func=cmd_import)
