"""Markdown and maths to HTML: MathML instead of a MathJax download, importable on its own."""

import subprocess
import sys

from analysis.report import markup


def test_maths_becomes_mathml_and_prose_is_kept():
    out = markup.maths_to_mathml("Effect $\\delta$ and\n\n$$y_{ij} = \\mu + b_i$$\n\nend")
    assert out.count("<math") == 2 and "$" not in out
    assert 'display="block"' in out and "Effect " in out and "end" in out


def test_maths_that_cannot_be_parsed_is_shown_as_source():
    assert markup.latex_to_mathml("\\frac{1}{", display=False).startswith("<code>")


def test_markdown_headings_are_demoted_and_dollars_escaped_stay():
    out = markup.markdown_to_html("# Title\n\nCosts \\$5 and $x^2$.", demote=2)
    assert "<h3>Title</h3>" in out and "Costs $5 and <math" in out
    assert markup.markdown_to_html("# Title").startswith("<h1>")


def test_strip_remote_scripts():
    page = "<head><script src='https://cdn.example/x.js'></script><script>var a=1;</script></head>"
    out = markup.strip_remote_scripts(page)
    assert "cdn.example" not in out and "var a=1" in out


def test_importing_it_does_not_import_the_analysis_stack():
    # exporting the notebooks runs in its own process, which should not pay for these imports
    code = (
        "import sys; import analysis.report.markup\n"
        "heavy = {'numpy', 'pandas', 'scipy', 'numba', 'analysis.report.narrative'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
