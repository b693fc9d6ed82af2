"""The reader's check of a rendered report: a clean document passes, each defect a reader
would stumble on is named with where it is."""

import base64
import io
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from conftest import run_manifest, run_tables  # noqa: E402
from IPython.core.formatters import HTMLFormatter  # noqa: E402

from analysis import figures  # noqa: E402
from analysis.report import audit, narrative, render  # noqa: E402

TABLES = Path(__file__).parent / "data" / "tables"


def _png() -> str:
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 9, 18], [3.1, 3.3, 3.5])
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=60)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


PNG = _png()
EFFECTS = pd.DataFrame(
    {
        "trial": ["resource_groups"],
        "arm": ["fact_rg"],
        "comparator": ["fact"],
        "outcome": ["quality_of_life"],
        "n_patients": [158.0],
        "estimate": [0.123456],
    }
)
GOOD_TABLE = HTMLFormatter()(figures.report_table(EFFECTS, "Effects", "Units: scale points."))
CAPTION = "Figure: Mean empowerment by visit. The arms separate after month 9."


def _display(data: dict):
    return nbformat.v4.new_output("display_data", data=data)


def _build(tmp_path, outputs, manifest_extra=None) -> Path:
    """Render a report whose trial section shows ``outputs``; return the HTML file."""
    run_tables(tmp_path, 1.001, 900.0, 0)
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("x")
    code.outputs = outputs
    nb.cells = [nbformat.v4.new_markdown_cell("## Results"), code]
    path = tmp_path / "02-trial-model-resource_groups.ipynb"
    nbformat.write(nb, path)
    manifest = {**run_manifest(path, "full"), **(manifest_extra or {})}
    out = tmp_path / "report.html"
    out.write_text(render.build_document([path], manifest, tmp_path), encoding="utf-8")
    return out


def _good_outputs():
    return [
        _display({"text/html": GOOD_TABLE, "text/plain": "table"}),
        _display({"image/png": PNG, "text/plain": "<Figure>"}),
        _display({"text/markdown": CAPTION, "text/plain": CAPTION}),
    ]


def _problems(path) -> list[str]:
    return [str(p) for p in audit.audit_html(path)]


def test_a_clean_report_passes(tmp_path):
    assert _problems(_build(tmp_path, _good_outputs())) == []


DEFECTS = {
    "index column": (
        _display({"text/html": EFFECTS.to_html(), "text/plain": "t"}),
        ["index column", "no numbered caption"],
    ),
    "missing marker": (
        _display(
            {
                "text/html": figures.readable(EFFECTS)
                .assign(SD="NaN")
                .style.hide(axis="index")
                .set_caption("Table: X. Note.")
                .to_html(),
                "text/plain": "t",
            }
        ),
        ["column 'SD' shows ['NaN']"],
    ),
    "raw code": (
        _display(
            {
                "text/html": EFFECTS.assign(n_patients="68")
                .style.hide(axis="index")
                .set_caption("Table: X. Note.")
                .to_html(),
                "text/plain": "t",
            }
        ),
        [
            "shows codes ['fact_rg']",
            "shows codes ['resource_groups']",
            "header 'n_patients' is a code",
        ],
    ),
    "float counts": (
        _display(
            {
                "text/html": pd.DataFrame({"Patients": ["68.0", "70.0"]})
                .style.hide(axis="index")
                .set_caption("Table: X. Note.")
                .to_html(),
                "text/plain": "t",
            }
        ),
        ["column 'Patients' prints whole numbers as '.0'"],
    ),
    "machine path": (
        nbformat.v4.new_output(  # run logs (stdout) never reach the report; results do
            "execute_result", data={"text/plain": "saved to /home/ana/trial/out"}, execution_count=1
        ),
        ["a machine path: '/home/'"],
    ),
    "posix path": (
        nbformat.v4.new_output(
            "execute_result", data={"text/plain": "PosixPath('x')"}, execution_count=1
        ),
        ["a machine path: 'PosixPath'"],
    ),
    "truncated table": (
        nbformat.v4.new_output(
            "execute_result", data={"text/plain": "[80 rows x 9 columns]"}, execution_count=1
        ),
        ["a truncated table"],
    ),
    "uncaptioned figure": (
        _display({"image/png": PNG, "text/plain": "<Figure>"}),
        ["caption lacks a title and a sentence"],
    ),
    "watermark": (
        nbformat.v4.new_output(
            "execute_result",
            data={"text/plain": "Last updated: 2026\nPython implementation: CPython"},
            execution_count=1,
        ),
        ["versions blocks; expected one"],
    ),
}


@pytest.mark.parametrize("defect", DEFECTS, ids=list(DEFECTS))
def test_each_defect_is_named(tmp_path, defect):
    output, expected = DEFECTS[defect]
    found = _problems(_build(tmp_path, _good_outputs() + [output]))
    for what in expected:
        assert any(what in p for p in found), (what, found)
    assert all(p.split(":")[0] for p in found)  # each says where


def test_missing_references_and_oversize_are_named(tmp_path, monkeypatch):
    monkeypatch.setattr(narrative, "references_markdown", lambda: "No references.")
    path = _build(tmp_path, _good_outputs())
    found = [str(p) for p in audit.audit_html(path, max_bytes=1000)]
    assert "document: no reference list" in found
    assert any("MB, over" in p for p in found)


def test_registry_codes_map_to_labels():
    codes = audit.registry_codes()
    assert codes["fact_rg"] == "FACT plus resource group"
    assert codes["quality_of_life"] == "quality of life"
    assert "empowerment" not in codes  # a code that reads as its own label is not flagged


def test_browser_check_passes_a_clean_report_and_names_broken_layout(tmp_path, browser):
    good = _build(tmp_path, _good_outputs())
    assert audit.audit_in_browser(good, browser) == []
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<html><body><img src='data:image/png;base64,AAAA'>"
        "<div style='width:3000px'>wide</div></body></html>"
    )
    found = [str(p) for p in audit.audit_in_browser(bad, browser)]
    assert any("image 1 did not load" in p for p in found), found
    assert any("px wide in a 1000px window" in p for p in found), found


# ----------------------------------------------------------------------------- in print
def _pdf(html: Path) -> Path:
    """The document printed by headless Chromium (skipped without one, failed under CI)."""
    import os

    if render.find_chromium() is None:
        if os.environ.get("TRIALBAYES_REQUIRE_BROWSER") == "1":
            pytest.fail("no Chromium but TRIALBAYES_REQUIRE_BROWSER=1")
        pytest.skip("no headless Chromium (apt-get install chromium)")
    return render.print_pdf(html, html.with_suffix(".pdf"))


def _long_wide_table() -> dict:
    """A table longer than the fold and wider than a portrait page's scroll box."""
    wide = pd.DataFrame(
        {
            f"Column {k} P(benefit)": [f"{k}.{r}" for r in range(render.FOLD_ROWS + 5)]
            for k in range(12)
        }
    )
    html = wide.style.hide(axis="index").set_caption("Table: Wide and long. Note.").to_html()
    return _display({"text/html": html, "text/plain": "t"})


#: The PDF text readers the checks must agree on: pypdf (None) and, where installed, poppler.
_READERS = [None] + ([audit.PDFTOTEXT] if audit.PDFTOTEXT else [])


def test_a_clean_report_prints_as_a_paper(tmp_path):
    """A4 pages, each numbered "Page n of N" under the running head and naming the simulated
    data; the folded, wide table printed open with every header; bookmarks for the sections.
    Letter on request."""
    from pypdf import PdfReader

    html = _build(tmp_path, _good_outputs() + [_long_wide_table()])
    pdf = _pdf(html)
    for reader in _READERS:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(audit, "PDFTOTEXT", reader)
            assert audit.audit_pdf(pdf, html) == [], reader
    pages = audit.pdf_text(pdf)
    assert len(pages) >= 5 and all(f"Page {k} of {len(pages)}" in t for k, t in enumerate(pages, 1))
    assert all("simulated data" in t.lower() for t in pages)
    assert float(PdfReader(pdf).pages[0].mediabox.width) == pytest.approx(595, abs=2)  # A4
    outline = audit.pdf_outline(pdf)
    assert any(o.startswith("1. Summary") for o in outline)
    assert any(o.startswith("Appendix A.") for o in outline)
    manifest = run_manifest(tmp_path / "02-trial-model-resource_groups.ipynb", "full")
    letter = tmp_path / "letter.html"
    letter.write_text(
        render.build_document(
            [tmp_path / "02-trial-model-resource_groups.ipynb"], manifest, tmp_path, paper="letter"
        ),
        encoding="utf-8",
    )
    assert float(PdfReader(_pdf(letter)).pages[0].mediabox.width) == pytest.approx(612, abs=2)
    with pytest.raises(ValueError, match="unknown paper 'a5'"):
        render.page_css("a5", "head")


#: Defects of the page styles: each removes what another would need, so each is printed alone.
PRINT_DEFECTS = {
    "no page numbers": (lambda h: re.sub(r"@bottom-center \{[^}]*\}", "", h), [], "no page number"),
    "no running head": (lambda h: re.sub(r"@top-left \{[^}]*\}", "", h), [], "no running head"),
    "simulated not on every page": (
        lambda h: re.sub(r"@top-right \{[^}]*\}", "", h),
        [],
        "does not say the data are simulated",
    ),
}
#: Defects of the content, independent of each other and each named by its own words: printed
#: together, each must still be named.
CONTENT_DEFECTS = {
    "collapsed table": (
        lambda h: h.replace("details::details-content", "details::unknown-part"),
        [_long_wide_table()],
        "not printed",
    ),
    "notebook word": (
        lambda h: h,
        [_display({"text/markdown": "This notebook fits the model.", "text/plain": "x"})],
        "a build word: 'notebook'",
    ),
    "raw code": (
        lambda h: h,
        [_display({"text/markdown": "The arm fact_rg did well.", "text/plain": "x"})],
        "a raw code: 'fact_rg'",
    ),
    "indexed parameter": (
        lambda h: h,
        [_display({"text/markdown": "alpha[0] mixed slowly.", "text/plain": "x"})],
        "a model code: 'alpha[0]'",
    ),
}


@pytest.mark.parametrize("defect", PRINT_DEFECTS, ids=list(PRINT_DEFECTS))
def test_each_print_defect_is_named(tmp_path, defect):
    """Each way a printed report can fail its reader is caught from the PDF's own text."""
    spoil, extra, expected = PRINT_DEFECTS[defect]
    _assert_printed_defects_named(tmp_path, [spoil], extra, [expected])


def test_each_content_defect_is_named_in_one_print(tmp_path):
    """The content defects, printed in one report, are each named (the clean report above
    names none)."""
    spoils, extras, expected = zip(*CONTENT_DEFECTS.values(), strict=True)
    _assert_printed_defects_named(tmp_path, spoils, [x for e in extras for x in e], expected)


def _assert_printed_defects_named(tmp_path, spoils, extra, expected):
    html = _build(tmp_path, _good_outputs() + list(extra))
    text = html.read_text(encoding="utf-8")
    for spoil in spoils:
        text = spoil(text)
    html.write_text(text, encoding="utf-8")
    pdf = _pdf(html)
    for reader in _READERS:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(audit, "PDFTOTEXT", reader)
            found = [str(p) for p in audit.audit_pdf(pdf, html)]
        for want in expected:
            assert any(want in p for p in found), (reader, want, found)
