"""What every stage's commands share: exit codes, error messages, input checks, help format."""

from __future__ import annotations

import argparse
import sys

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


#: Commands whose process never runs Dask (nutpie samples in its own threads, files are written
#: by h5netcdf). xarray probes for Dask whenever it builds a Dataset or writes a file, importing
#: dask and distributed (about 0.7 s of a 3 s fit) because they are installed for the studies.
NO_DASK_COMMANDS = frozenset({"fit", "validate", "import"})


def skip_dask_probe(argv: list[str]) -> None:
    """In a ``python -m analysis`` process running one of :data:`NO_DASK_COMMANDS`, mark Dask
    absent before anything imports xarray, so that xarray's probe finds no Dask. The process
    is the command's own: nothing else in it could want Dask."""
    if argv and argv[0] in NO_DASK_COMMANDS:
        for name in ("dask", "distributed"):
            sys.modules.setdefault(name, None)


#: Optional modules that only slow a ``python -m analysis`` process down: jsonschema's IRI
#: format checker (``rfc3987_syntax``, installed for Jupyter's event schemas) builds a parser
#: grammar at import, 1.4 s in every process that imports nbformat. This project's processes
#: validate notebooks against nbformat's schema, which has no IRI formats.
#: Likewise numba imports ``coverage`` (a test tool installed by the lock) to report the lines
#: of compiled functions to a running coverage measurement: 50 ms of every fit. Under
#: ``coverage run`` the module is already imported and is left alone.
UNUSED_OPTIONAL_MODULES = ("rfc3987_syntax", "coverage")


def skip_unused_optional_modules() -> None:
    """Mark :data:`UNUSED_OPTIONAL_MODULES` absent (their importers fall back, as when they are
    not installed). Called first by ``python -m analysis``, and by the test suite."""
    for name in UNUSED_OPTIONAL_MODULES:
        sys.modules.setdefault(name, None)


def err(msg: str) -> None:
    print(f"error: {msg}", file=sys.stderr)


def or_bad_input(func, *args, **kwargs):
    """``func(*args, **kwargs)``; a ValueError is reported and exits with code 2."""
    try:
        return func(*args, **kwargs)
    except ValueError as exc:
        err(str(exc))
        raise SystemExit(EXIT_BAD_INPUT) from None


def registry_trials() -> list[str]:
    """The trials of the trial registry (choices of ``--trial``)."""
    from analysis import registry

    return registry.trials()


def int_list(text: str, name: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise ValueError(
            f"--{name}: expected positive whole numbers separated by commas, got {text!r}"
        )
    return values


class Help(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, unless its help already states it or it has none."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or action.default in (None, False) or action.required:
            return text
        return super()._get_help_string(action)
