"""The summary table for manuscripts: LaTeX (booktabs) and a Word document.

Both files hold the same rows and formatted numbers as the report's Summary table
(:func:`analysis.report.narrative.summary_display`). The LaTeX table is pandas' booktabs writer
(``Styler.to_latex``); the Word document is written with python-docx: one real table, landscape,
that can be restyled with the journal's template.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis import rules

#: File names of the exports, beside the report (under ``tables/``).
LATEX_NAME, WORD_NAME = "summary.tex", "summary.docx"

CAPTION = (
    "Summary of the treatment comparisons: posterior mean difference at the final visit with "
    f"its {rules.interval_text()} credible interval (CrI), standardised mean difference (SMD) and "
    "posterior probabilities of benefit and of a benefit larger than the minimal clinically "
    "important difference (MCID)."
)


def summary_latex(display: pd.DataFrame, caption: str = CAPTION) -> str:
    """A booktabs ``table`` environment (``\\toprule``, ``\\midrule``, ``\\bottomrule``)."""
    shown = display.map(lambda v: str(v).replace("−", "-").replace("–", "--"))
    styler = shown.style.hide(axis="index").format(escape="latex")
    styler = styler.format_index(escape="latex", axis="columns")
    latex = styler.to_latex(
        caption=caption.replace("%", r"\%"),
        label="tab:summary",
        hrules=True,
        position="htbp",
        position_float="centering",
        column_format="l" * len(display.columns),
    )
    # negative numbers as a maths minus, as journals set them
    latex = latex.replace(" -", " $-$").replace("(-", "($-$").replace("{-", "{$-$")
    return "% needs \\usepackage{booktabs}\n" + latex


def write_summary_docx(display: pd.DataFrame, path: Path, caption: str = CAPTION) -> Path:
    """The caption and the table, landscape A4, header row bold and repeated on each page."""
    import docx
    from docx.enum.section import WD_ORIENT
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt

    document = docx.Document()
    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Mm(297), Mm(210)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Mm(18))
    document.add_paragraph("Table. " + caption)
    table = document.add_table(rows=1, cols=len(display.columns))
    for cell, name in zip(table.rows[0].cells, display.columns, strict=True):
        run = cell.paragraphs[0].add_run(str(name))
        run.bold = True
        run.font.size = Pt(9)
    header = table.rows[0]._tr.get_or_add_trPr()
    repeat = OxmlElement("w:tblHeader")
    repeat.set(qn("w:val"), "true")
    header.append(repeat)
    for values in display.itertuples(index=False):
        for cell, value in zip(table.add_row().cells, values, strict=True):
            cell.paragraphs[0].add_run(str(value)).font.size = Pt(9)
    document.save(path)
    return path


def write_summary_exports(display: pd.DataFrame, folder: Path) -> list[Path]:
    """Write ``summary.tex`` and ``summary.docx`` into ``folder``; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    tex = folder / LATEX_NAME
    tex.write_text(summary_latex(display), encoding="utf-8")
    return [tex, write_summary_docx(display, folder / WORD_NAME)]
