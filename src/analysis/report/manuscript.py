"""The summary table for manuscripts: LaTeX (booktabs) and a Word document.

Both files hold the same rows and formatted numbers as the report's Summary table
(:func:`analysis.report.narrative.summary_display`). The Word document is written with the
standard library (a ``.docx`` is a zip of XML parts), so no extra dependency is needed; it opens
in Word and LibreOffice with one real table that can be restyled with the journal's template.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import pandas as pd

#: File names of the exports, beside the report (under ``tables/``).
LATEX_NAME, WORD_NAME = "summary.tex", "summary.docx"

CAPTION = (
    "Summary of the treatment comparisons: posterior mean difference at the final visit with "
    "its 95% credible interval (CrI), standardised mean difference (SMD) and posterior "
    "probabilities of benefit and of a benefit larger than the minimal clinically important "
    "difference (MCID)."
)


def _latex_escape(text: str) -> str:
    for a, b in (
        ("\\", r"\textbackslash{}"),
        ("&", r"\&"),
        ("%", r"\%"),
        ("$", r"\$"),
        ("#", r"\#"),
        ("_", r"\_"),
        ("{", r"\{"),
        ("}", r"\}"),
        ("−", "$-$"),
        ("–", "--"),
        ("~", r"\textasciitilde{}"),
        ("^", r"\textasciicircum{}"),
    ):
        text = text.replace(a, b)
    return text


def summary_latex(display: pd.DataFrame, caption: str = CAPTION) -> str:
    """A booktabs ``table`` environment (``\\toprule``, ``\\midrule``, ``\\bottomrule``)."""
    cols = list(display.columns)
    spec = "l" * len(cols)
    lines = [
        r"% needs \usepackage{booktabs}",
        r"\begin{table}[htbp]",
        r"\centering\small",
        rf"\caption{{{_latex_escape(caption)}}}",
        r"\label{tab:summary}",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(_latex_escape(str(c)) for c in cols) + r" \\",
        r"\midrule",
    ]
    for row in display.itertuples(index=False):
        lines.append(" & ".join(_latex_escape(str(v)) for v in row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)


_CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>
</Types>"""
_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>
</Relationships>"""
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _paragraph(text: str, bold: bool = False, size_half_points: int = 18) -> str:
    props = f"<w:rPr>{'<w:b/>' if bold else ''}<w:sz w:val='{size_half_points}'/></w:rPr>"
    return f"<w:p><w:r>{props}<w:t xml:space='preserve'>{escape(text)}</w:t></w:r></w:p>"


def summary_docx_xml(display: pd.DataFrame, caption: str = CAPTION) -> str:
    """The ``word/document.xml`` part: the caption, then the table with a bold header row and
    top, header and bottom rules (the booktabs look)."""
    rule = "<w:top w:val='single' w:sz='8'/><w:bottom w:val='single' w:sz='8'/>"

    def row(values, header=False):
        cells = "".join(
            f"<w:tc><w:tcPr>{'<w:tcBorders>' + rule + '</w:tcBorders>' if header else ''}"
            f"</w:tcPr>{_paragraph(str(v), bold=header)}</w:tc>"
            for v in values
        )
        head = "<w:trPr><w:tblHeader/></w:trPr>" if header else ""
        return f"<w:tr>{head}{cells}</w:tr>"

    grid = "".join("<w:gridCol/>" for _ in display.columns)
    table = (
        "<w:tbl><w:tblPr><w:tblW w:w='0' w:type='auto'/>"
        "<w:tblBorders><w:bottom w:val='single' w:sz='8'/></w:tblBorders></w:tblPr>"
        f"<w:tblGrid>{grid}</w:tblGrid>"
        + row(display.columns, header=True)
        + "".join(row(r) for r in display.itertuples(index=False))
        + "</w:tbl>"
    )
    landscape = (
        "<w:sectPr><w:pgSz w:w='16838' w:h='11906' w:orient='landscape'/>"
        "<w:pgMar w:top='1000' w:right='1000' w:bottom='1000' w:left='1000'/></w:sectPr>"
    )
    return (
        "<?xml version='1.0' encoding='UTF-8' standalone='yes'?>"
        f"<w:document xmlns:w='{_W}'><w:body>"
        + _paragraph("Table. " + caption, bold=False, size_half_points=20)
        + table
        + landscape
        + "</w:body></w:document>"
    )


def write_summary_exports(display: pd.DataFrame, folder: Path) -> list[Path]:
    """Write ``summary.tex`` and ``summary.docx`` into ``folder``; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    tex = folder / LATEX_NAME
    tex.write_text(summary_latex(display), encoding="utf-8")
    docx = folder / WORD_NAME
    with zipfile.ZipFile(docx, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("word/document.xml", summary_docx_xml(display))
    return [tex, docx]
