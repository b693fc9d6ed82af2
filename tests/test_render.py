"""The HTML renderer on its own: an executed notebook and a run's tables in, one document out."""

import base64
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from conftest import run_manifest, run_tables

from analysis import catalogue
from analysis.report import narrative, render

TABLES = Path(__file__).parent / "data" / "tables"
PNG = base64.b64encode(
    # a 1x1 PNG
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()


def _executed_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("secret_parameter = 1")
    params.metadata["tags"] = ["parameters"]
    md = nbformat.v4.new_markdown_cell("## A section\n\nText with maths $x^2$.")
    code = nbformat.v4.new_code_cell("x")
    code.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="ok\n"),
        nbformat.v4.new_output("stream", name="stderr", text="a warning nobody should read\n"),
        nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
        nbformat.v4.new_output("execute_result", data={"text/plain": "42"}, execution_count=1),
    ]
    nb.cells = [params, md, code]
    nbformat.write(nb, path)
    return path


@pytest.fixture
def run(tmp_path):
    run_tables(tmp_path, 1.2, 30.0, 2)
    nb = _executed_notebook(tmp_path / "02-trial-model-resource_groups.ipynb")
    manifest = run_manifest(nb, "smoke")
    return tmp_path, render.build_document([nb], manifest, tmp_path)


def test_sections_in_order_with_the_notebook_as_its_trial_section(run):
    _, page = run
    anchors = re.findall(r"<section id='([\w-]+)'", page) or re.findall(
        r'<section id="([\w-]+)"', page
    )
    assert anchors[:3] == ["at-a-glance", "summary", "methods"] and "resource-groups" in anchors
    for later in ("limitations", "diagnostics", "provenance"):  # the appendix comes last
        assert anchors.index(later) > anchors.index("resource-groups")
    assert anchors.index("diagnostics") > anchors.index("references")


def test_outputs_are_rendered_and_filtered(run):
    _, page = run
    assert f"data:image/png;base64,{PNG}" in page and "Figure 1" in page
    assert "a warning nobody should read" not in page  # stderr stays out
    assert "secret_parameter" not in page  # parameter cells stay out
    assert "<math" in page  # maths as MathML, not left for a script
    assert "<script" not in page.lower()


def test_summary_numbers_are_the_tables_numbers(run):
    out, page = run
    summary = catalogue.read_table(out, catalogue.SUMMARY)
    effects = catalogue.read_table(out, catalogue.TRIAL_EFFECTS)
    row = summary[(summary["outcome"] == "empowerment") & (summary["source"] == "resource_groups")]
    want = effects[(effects["outcome"] == "empowerment") & (effects["month"] == 18)]
    assert row["estimate"].iloc[0] == pytest.approx(want["estimate"].iloc[0])
    assert narrative.fmt(row["estimate"].iloc[0]) in page


def test_a_failed_gate_is_flagged_with_the_reason_for_smoke(run):
    out, page = run
    gates = catalogue.read_table(out, catalogue.GATE)
    assert gates["gate"].tolist() == ["FAIL"]
    assert "1 of 1 fits FAILED" in page and "short exploratory run" in page
    assert "R-hat ≤ 1.01" in page  # the gate stated from diagnostics.Gate


def test_stamp_only_when_not_full(tmp_path):
    nb = _executed_notebook(tmp_path / "x.ipynb")
    manifest = {
        "profile": "full",
        "seed": 1,
        "steps": [],
        "versions": {},
        "data": {"source": "user file", "name": "x.csv", "sha256": "0"},
    }
    page = render.build_document([nb], manifest, tmp_path)
    assert "class='stamp'" not in page and "user's data file" in page
    assert "not for interpretation" in render.build_document(
        [nb], {**manifest, "profile": "smoke"}, tmp_path
    )


def test_summary_exports_for_manuscripts(tmp_path):
    """The summary as booktabs LaTeX and as a Word document with the same cells."""
    import zipfile
    from xml.etree import ElementTree

    from analysis.report import manuscript

    display = pd.DataFrame(
        {
            "Comparison": ["FACT plus resource group vs FACT as usual"],
            "Outcome": ["empowerment"],
            "Estimate (95% CrI)": ["0.33 (0.17 to 0.47)"],
            "SMD": ["−0.49"],
            "P(benefit)": ["99.9%"],
        }
    )
    tex, docx = manuscript.write_summary_exports(display, tmp_path)
    latex = tex.read_text()
    for cmd in (r"\toprule", r"\midrule", r"\bottomrule", r"\caption{", r"99.9\%", "$-$0.49"):
        assert cmd in latex
    with zipfile.ZipFile(docx) as z:
        assert {"[Content_Types].xml", "_rels/.rels", "word/document.xml"} <= set(z.namelist())
        root = ElementTree.fromstring(z.read("word/document.xml"))  # well-formed XML
    ns = {"w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main"}
    rows = root.findall(".//w:tbl/w:tr", ns)
    cells = [
        ["".join(t.text for t in c.iter(f"{{{ns['w']}}}t")) for c in r.findall("w:tc", ns)]
        for r in rows
    ]
    assert cells[0] == list(display.columns) and cells[1] == list(display.iloc[0])
