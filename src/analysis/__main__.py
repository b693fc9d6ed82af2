"""``python -m analysis``: see :mod:`analysis.cli`."""

import sys

from analysis.commandline import skip_dask_probe, skip_unused_optional_modules

skip_dask_probe(sys.argv[1:])  # before xarray is imported
skip_unused_optional_modules()  # before nbformat is imported

from analysis.cli import main  # noqa: E402

raise SystemExit(main())
