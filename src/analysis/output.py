"""Writing results: tidy CSV tables, PNG figures, run-time measurements and fitted models.

Tables are named only by their :mod:`analysis.catalogue` entry; the catalogue says where each
lives and checks its columns.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis import catalogue, config, figures
from analysis.catalogue import Table


def output_dir(path: str | Path | None) -> Path:
    """Resolve an output folder (relative paths against the project root) and create it."""
    out = config.resolve(path, config.SMOKE_REPORTS)
    (out / catalogue.TABLES_DIR).mkdir(parents=True, exist_ok=True)
    (out / catalogue.FIGURES_DIR).mkdir(parents=True, exist_ok=True)
    return out


def save_table(
    df: pd.DataFrame, out_dir: str | Path, table: Table, part: str | None = None
) -> Path:
    """Write a catalogued table (stable float format, no index) and return its path.

    Parameters
    ----------
    df : pandas.DataFrame
        The table; its columns must match the catalogue entry.
    out_dir : str or Path
        The run's output folder.
    table : analysis.catalogue.Table
        Which table this is.
    part : str, optional
        The trial, for tables written once per trial.

    Raises
    ------
    analysis.catalogue.TableError
        If the columns differ from the catalogue's, or a per-trial table is written without its
        part (or the reverse).
    """
    if not isinstance(table, Table):
        raise TypeError(f"save_table takes a catalogue.Table, got {table!r}")
    if table.per_trial != (part is not None):
        raise catalogue.TableError(
            f"table {table.name!r} is {'per trial: give part=' if table.per_trial else 'not per trial: no part'}"
        )
    table.check(df)
    path = table.path(out_dir, part)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, float_format="%.6g", lineterminator="\n")
    return path


def save_figure(fig, out_dir: str | Path, name: str, caption: str | None = None) -> Path:
    """Save a figure to ``out_dir/figures/<name>.png`` (:func:`figure_png`) and return it.

    With a ``caption`` ("Title. What to see."), the saved file itself is shown here (at the
    size the figure has on screen) followed by the line ``Figure: <caption>``, which the report
    turns into the figure's numbered caption: the figure is drawn once, and the report prints
    exactly the file in ``figures/``, at its resolution.
    """
    path = Path(out_dir) / catalogue.FIGURES_DIR / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    png = figure_png(fig)
    path.write_bytes(png)
    if caption:
        import matplotlib.pyplot as plt
        from IPython.display import Image, Markdown, display

        display(Image(data=png, width=round(png_size(png)[0] * fig.dpi / figures.SAVE_DPI)))
        plt.close(fig)  # shown once, above its caption
        display(Markdown(f"Figure: {caption.strip()}"))
    return path


def figure_png(fig) -> bytes:
    """A figure as PNG for print: :data:`analysis.figures.SAVE_DPI` dots per inch, cropped to
    its tight bounding box, on white, in 256 colours (median cut: a third of the bytes of full
    colour, the same picture to the eye) and without timestamp or software metadata, so that
    equal figures give equal bytes."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(
        buf,
        format="png",
        dpi=figures.SAVE_DPI,
        bbox_inches="tight",
        metadata={"Software": None},
        pil_kwargs={"compress_level": 0},
    )
    drawn = Image.open(buf).convert("RGBA")
    flat = Image.alpha_composite(Image.new("RGBA", drawn.size, "white"), drawn).convert("RGB")
    out = io.BytesIO()
    flat.quantize(256, method=Image.Quantize.MEDIANCUT).save(
        out, format="png", dpi=(figures.SAVE_DPI, figures.SAVE_DPI)
    )
    return out.getvalue()


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height in pixels of PNG data (from its header)."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not PNG data")
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def save_timing(df: pd.DataFrame, out_dir: str | Path, name: str) -> Path:
    """Write a table of wall-clock measurements to ``out_dir/timings/<name>.csv``.

    Timings differ between runs by nature, so they are kept apart from ``tables/``, whose
    files are byte-identical for the same data and seed.
    """
    path = Path(out_dir) / catalogue.TIMINGS_DIR / f"{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, float_format="%.4g", lineterminator="\n")
    return path


#: Environment variable naming the file a notebook's progress lines go to (set by the report
#: for each kernel; absent in an interactive session, where progress goes nowhere).
PROGRESS_ENV = "TRIALBAYES_PROGRESS"


def progress(message: str) -> None:
    """Send one progress line to the terminal running the report, never into the notebook.

    ``make report`` reads the file named by :data:`PROGRESS_ENV` while the notebook runs and
    prints each line with the elapsed time and an estimate of what remains; without it (an
    interactive session, nbval) the line is dropped.
    """
    import os
    import time

    target = os.environ.get(PROGRESS_ENV)
    if not target:
        return
    with open(target, "a", encoding="utf-8") as fh:
        fh.write(f"{time.time():.3f}\t{' '.join(str(message).split())}\n")
