"""Markdown and maths to HTML, without a MathJax download: the light part of rendering that
exporting the notebooks (:func:`analysis.report.pipeline.export_notebooks_html`) shares with
the report (:mod:`analysis.report.render`), importable without the analysis stack.
"""

from __future__ import annotations

import html
import re

import mistune

_MD = mistune.create_markdown(escape=False, plugins=["table", "strikethrough"])
_DISPLAY = re.compile(r"\$\$(.+?)\$\$", re.S)
_INLINE = re.compile(r"(?<![\\$])\$(?!\$)(.+?)(?<![\\$])\$", re.S)


def latex_to_mathml(tex: str, display: bool) -> str:
    """MathML for a LaTeX fragment; the escaped source in ``<code>`` if it cannot be parsed."""
    from latex2mathml.converter import convert

    try:
        return convert(tex.strip(), display="block" if display else "inline")
    except Exception:  # noqa: BLE001 - any parser failure falls back to readable source
        return f"<code>{html.escape(tex)}</code>"


def _protect_maths(text: str) -> tuple[str, list[str]]:
    """Replace ``$$...$$`` and ``$...$`` by placeholders; return the text and their MathML."""
    maths: list[str] = []

    def keep(m, display):
        maths.append(latex_to_mathml(m.group(1), display))
        return f"MATHPLACEHOLDER{len(maths) - 1}X"

    text = _DISPLAY.sub(lambda m: "\n\n" + keep(m, True) + "\n\n", text)
    return _INLINE.sub(lambda m: keep(m, False), text), maths


def _restore_maths(text: str, maths: list[str]) -> str:
    return re.sub(r"MATHPLACEHOLDER(\d+)X", lambda m: maths[int(m.group(1))], text)


def maths_to_mathml(text: str) -> str:
    """Markdown source with its maths replaced by inline MathML (for nbconvert's exporter)."""
    return _restore_maths(*_protect_maths(text))


def markdown_to_html(text: str, demote: int = 0) -> str:
    """Markdown (with ``$`` and ``$$`` maths) to HTML; headings shifted down ``demote`` levels."""
    text, maths = _protect_maths(text)
    out = _MD(text)
    if demote:
        out = re.sub(
            r"<(/?)h([1-6])([ >])",
            lambda m: f"<{m.group(1)}h{min(6, int(m.group(2)) + demote)}{m.group(3)}",
            out,
        )
    return _restore_maths(out, maths)


def strip_remote_scripts(page: str) -> str:
    """Remove ``<script src="http...">`` tags (MathJax, require.js) from an nbconvert page."""
    return re.sub(
        r"""<script[^>]*\bsrc=(["'])https?://[^"']*\1[^>]*>\s*</script>""", "", page, flags=re.I
    )
