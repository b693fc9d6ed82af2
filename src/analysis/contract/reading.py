"""Reading trial data files (CSV, Parquet, Excel, SPSS, Stata, SAS) and the embedded data.

Every reader returns text cells and a ``_row`` column giving each row's position as the user
sees it: the line in a CSV file or the row in a spreadsheet (header = 1), the case number in
an SPSS or Stata file, the observation number in a SAS data set (``.sas7bdat``, or the
transport file ``.xpt`` that regulators receive), the row number in a Parquet file.
"""

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


#: File types read, by extension, with the word for a row's position in messages.
READERS = {
    ".csv": "line",
    ".parquet": "row",
    ".xlsx": "row",
    ".xlsm": "row",
    ".sav": "case",
    ".dta": "case",
    ".sas7bdat": "observation",
    ".xpt": "observation",
}
#: Statistical packages' files and their names in messages.
STATISTICAL = {".sav": "SPSS", ".dta": "Stata", ".sas7bdat": "SAS", ".xpt": "SAS transport (XPORT)"}


def row_word(path: str | Path) -> str:
    """How messages name a row's position in this file ('line', 'row' or 'case')."""
    return READERS.get(Path(path).suffix.lower(), "line")


def _as_text(df: pd.DataFrame) -> pd.DataFrame:
    """Typed cells as the text a user would have typed (``3.0`` stays ``3.0``; empty for
    missing)."""
    df = df.astype(object).where(df.notna(), "")
    return df.map(
        lambda x: x if isinstance(x, str) else repr(x) if isinstance(x, float) else str(x)
    )


def _read_excel(p: Path, sheet: str | int | None) -> pd.DataFrame:
    import zipfile

    try:
        book = pd.ExcelFile(p, engine="openpyxl")
    except (zipfile.BadZipFile, OSError, ValueError, KeyError) as exc:
        raise DataFileError(f"{p}: not a readable Excel workbook ({exc})") from exc
    sheets = book.sheet_names
    if sheet is None:
        sheet = sheets[0]
    elif sheet not in sheets and not (isinstance(sheet, int) and 0 <= sheet < len(sheets)):
        raise DataFileError(f"{p}: no sheet {sheet!r}; the workbook has {sheets}")
    df = pd.read_excel(book, sheet_name=sheet, dtype=object, keep_default_na=False)
    df.columns = [str(c).strip() for c in df.columns]
    df = df.loc[:, [not c.startswith("Unnamed:") for c in df.columns]]
    return _as_text(df.replace("", None))


def _read_statistical(p: Path) -> pd.DataFrame:
    """SPSS (.sav), Stata (.dta) and SAS (.sas7bdat, .xpt) files, value labels applied (a coded
    arm 1/2 with labels 'FACT+RG'/'FACT' reads as its labels, which an import map then
    translates). A SAS data set's formats live in a catalogue beside it (``NAME.sas7bcat`` or
    ``formats.sas7bcat``): when one is there, its formats are applied."""
    import pyreadstat

    suffix = p.suffix.lower()
    try:
        if suffix == ".sav":
            df, _ = pyreadstat.read_sav(str(p), apply_value_formats=True)
        elif suffix == ".dta":
            df = pd.read_stata(p, convert_categoricals=True)
        elif suffix == ".xpt":
            df, _ = pyreadstat.read_xport(str(p))
        else:
            catalog = next(
                (
                    c
                    for c in (p.with_suffix(".sas7bcat"), p.with_name("formats.sas7bcat"))
                    if c.exists()
                ),
                None,
            )
            df, _ = pyreadstat.read_sas7bdat(
                str(p),
                catalog_file=str(catalog) if catalog else None,
                formats_as_category=bool(catalog),
            )
    except Exception as exc:  # the readers raise several types for a damaged file
        raise DataFileError(f"{p}: not a readable {STATISTICAL[suffix]} file ({exc})") from exc
    for c in df.columns:
        if isinstance(df[c].dtype, pd.CategoricalDtype):
            df[c] = df[c].astype(object)
        if pd.api.types.is_float_dtype(df[c]) and df[c].dropna().eq(df[c].dropna().round()).all():
            df[c] = df[c].astype("Int64")
    return _as_text(df)


def read_raw(path: str | Path, sheet: str | int | None = None) -> pd.DataFrame:
    """Read a data file with every column as text, so that validation can see bad types.

    Parameters
    ----------
    path : str or Path
        ``.csv`` (UTF-8, comma-separated), ``.parquet``, Excel ``.xlsx``, SPSS ``.sav``, Stata
        ``.dta``, SAS ``.sas7bdat`` or SAS transport ``.xpt``.
    sheet : str or int, optional
        Excel only: the sheet (default: the first).

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
        df = _as_text(df)
        df["_row"] = range(1, len(df) + 1)
        return df
    if suffix in (".xlsx", ".xlsm"):
        df = _read_excel(p, sheet)
        df["_row"] = range(2, len(df) + 2)
        return df
    if suffix in STATISTICAL:
        df = _read_statistical(p)
        df["_row"] = range(1, len(df) + 1)
        return df
    if suffix == ".xls":
        raise DataFileError(f"{p}: old Excel format (.xls); save it as .xlsx or .csv")
    if suffix != ".csv":
        raise DataFileError(
            f"{p}: unsupported file type {suffix!r}; use one of {', '.join(READERS)}"
        )
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
