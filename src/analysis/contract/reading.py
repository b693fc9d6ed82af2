"""Reading trial data files (CSV or Parquet) and the default embedded data."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pandas as pd

#: Largest data file accepted (MB); ``TRIALBAYES_MAX_DATA_MB`` overrides it. A trial of
#: 10,000 patients is ~30 MB of CSV: anything far larger is a wrong file, not a trial.
MAX_DATA_MB = 512


def max_data_bytes() -> int:
    """The size limit in bytes."""
    return int(float(os.environ.get("TRIALBAYES_MAX_DATA_MB", MAX_DATA_MB)) * 1024 * 1024)


class DataFileError(ValueError):
    """A data file that cannot be read at all (missing, a directory, wrong format, encoding)."""


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (for provenance)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_raw(path: str | Path) -> pd.DataFrame:
    """Read a data file with every column as text, so that validation can see bad types.

    Parameters
    ----------
    path : str or Path
        ``.csv`` (UTF-8, comma-separated) or ``.parquet``.

    Returns
    -------
    pandas.DataFrame
        All columns as ``object`` strings, plus ``_row``: the row's line number in a CSV file
        (the header is line 1) or its 1-based row number in a Parquet file.

    Raises
    ------
    DataFileError
        If the file is missing, is a directory, has another extension, is not UTF-8 or is empty.
    """
    p = Path(path)
    if not p.exists():
        raise DataFileError(f"{p}: no such file")
    if p.is_dir():
        raise DataFileError(f"{p}: is a directory, not a data file")
    size = p.stat().st_size
    if size > max_data_bytes():
        raise DataFileError(
            f"{p}: {size / 2**20:.0f} MB is larger than the {max_data_bytes() / 2**20:.0f} MB "
            "limit for a trial data file (set TRIALBAYES_MAX_DATA_MB to raise it)"
        )
    suffix = p.suffix.lower()
    if suffix == ".parquet":
        try:
            df = pd.read_parquet(p)
        except Exception as exc:  # pyarrow raises several types
            raise DataFileError(f"{p}: not a readable Parquet file ({exc})") from exc
        df = df.astype(object).where(df.notna(), "")
        df = df.map(
            lambda x: x if isinstance(x, str) else repr(x) if isinstance(x, float) else str(x)
        )
        df["_row"] = range(1, len(df) + 1)
        return df
    if suffix != ".csv":
        raise DataFileError(f"{p}: unsupported file type {suffix!r}; use .csv or .parquet")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataFileError(
            f"{p}: not UTF-8 text (byte {exc.start}); save the file as UTF-8 CSV"
        ) from exc
    if not text.strip():
        raise DataFileError(f"{p}: the file is empty")
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.ParserError as exc:
        raise DataFileError(f"{p}: not a well-formed CSV file ({exc})") from exc
    if len(df.columns) == 1:
        header = df.columns[0]
        for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "vertical bars")):
            if sep in header:
                raise DataFileError(
                    f"{p}: the header is separated by {name}, not commas (column 'trial' and "
                    f"the others not found in {header[:60]!r}); save the file as comma-separated CSV"
                )
    df["_row"] = range(2, len(df) + 2)
    return df
