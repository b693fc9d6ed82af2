"""One self-contained HTML document from executed notebooks and the run's tables.

No code cells, no external resources: figures are embedded as data URIs, maths is converted to
MathML (rendered natively by browsers, no MathJax download), the style sheet is inline. A run
that is not the full profile is stamped "not for interpretation" on every page (a fixed banner,
repeated by browsers on every printed page).
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import mistune
import nbformat
import pandas as pd

from analysis import catalogue, figures, profiles
from analysis.report import narrative
from analysis.trialmodel import diagnostics

#: Report sections for known notebook runs (step name prefix -> (anchor, title)).
SECTIONS = {
    "01-data": ("data", "Data"),
    "03-synthesis": ("cross-trial", "Cross-trial comparison"),
    "04-replication-design": ("replication-design", "Designing a replication trial"),
    "05-calibration": ("calibration", "Model calibration and missing data"),
}
#: Step-name prefix of the per-trial notebook runs (``02-trial-model-<trial>``).
TRIAL_STEP = "02-trial-model-"
SKIP_TAGS = {"parameters", "injected-parameters", "report-skip"}

_MD = mistune.create_markdown(escape=False, plugins=["table", "strikethrough"])
_DISPLAY = re.compile(r"\$\$(.+?)\$\$", re.S)
_INLINE = re.compile(r"(?<![\\$])\$(?!\$)(.+?)(?<![\\$])\$", re.S)

CSS = """
:root { --ink:#1b1b1b; --muted:#5a5a5a; --rule:#d0d0d0; --accent:#0072B2; }
html { font-family: "Source Serif 4", Georgia, "Times New Roman", serif; color: var(--ink); }
body { max-width: 62rem; margin: 0 auto; padding: 1rem 2rem 4rem; line-height: 1.5; }
h1 { font-size: 1.9rem; margin-bottom: .2rem; }
h2 { font-size: 1.5rem; border-bottom: 2px solid var(--ink); padding-bottom: .2rem;
     margin-top: 2.5rem; }
h3 { font-size: 1.2rem; margin-top: 1.8rem; } h4 { font-size: 1.05rem; }
nav ol { columns: 2; } nav a, a { color: var(--accent); }
table { border-collapse: collapse; margin: .8rem 0; font-size: .85rem;
        font-family: system-ui, sans-serif; }
table, th, td { border: 0; }
th, td { border-bottom: 1px solid var(--rule); padding: .25rem .6rem; text-align: right;
         vertical-align: top; }
thead th { border-bottom: 2px solid var(--ink); }
td:first-child, th:first-child, table.tidy td, table.tidy th { text-align: left; }
.wide { overflow-x: auto; max-width: 100%; }
figure { margin: 1rem 0; text-align: center; page-break-inside: avoid; }
figure img { max-width: 100%; height: auto; }
figcaption { font-size: .85rem; color: var(--muted); }
pre { background: #f6f6f6; padding: .5rem; font-size: .8rem; overflow-x: auto; }
.meta { color: var(--muted); font-size: .9rem; }
.source { color: var(--muted); font-size: .85rem; border-top: 1px dashed var(--rule);
          padding-top: .3rem; }
.fail { color: #b00020; font-weight: bold; }
.stamp { position: fixed; top: 0; left: 0; right: 0; z-index: 10; background: #b00020;
         color: #fff; text-align: center; font: bold .95rem system-ui, sans-serif;
         padding: .3rem; }
.stamped { padding-top: 2.5rem; }
math[display="block"] { margin: .6rem 0; }
@media print {
  body { max-width: none; padding: 0; } nav { page-break-after: always; }
  h2 { page-break-before: always; } .stamped { padding-top: 0; }
  .stamp { position: fixed; top: 0; }
}
"""


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


def table_html(df: pd.DataFrame, title: str, note: str | None = None, tables=None) -> str:
    """A DataFrame as a titled HTML table (no index), numbered by ``tables`` (a
    :class:`_Tables`, shared across the document) and scrollable when wide."""
    body = df.to_html(index=False, border=0, na_rep="–", escape=True, classes="tidy")
    caption = f"Table: {title.rstrip('.')}." + (f" {note.strip()}" if note else "")
    body = body.replace(
        "<thead>", f"<caption>{html.escape(caption, quote=False)}</caption>\n  <thead>", 1
    )
    return (tables or _Tables())(body)


class _Figures:
    """Numbers figures across the whole document."""

    def __init__(self):
        self.n = 0

    def __call__(self, png: str, where: str, caption: str = "") -> str:
        self.n += 1
        text = f"<b>Figure {self.n}.</b>" + (
            " " + re.sub(r"^<p>|</p>$", "", markdown_to_html(caption).strip()) if caption else ""
        )
        alt = f"Figure {self.n}" + (f": {caption}" if caption else f" ({where})")
        return (
            f"<figure id='figure-{self.n}'><img src='data:image/png;base64,{png.strip()}' "
            f"alt='{html.escape(alt, quote=True)}'>"
            f"<figcaption>{text}</figcaption></figure>"
        )


#: Tables with more rows than this are folded (``<details>``) in the report.
FOLD_ROWS = 15
_CAPTION = re.compile(r"<caption>Table: (.*?)</caption>", re.S)


class _Tables:
    """Numbers the titled tables (:func:`analysis.figures.report_table`) across the document
    and folds long ones, their title visible."""

    def __init__(self):
        self.n = 0

    def __call__(self, table: str) -> str:
        m = _CAPTION.search(table)
        if not m:
            return f"<div class='wide'>{table}</div>"
        self.n += 1
        caption = f"Table {self.n}. {m.group(1)}"
        table = _CAPTION.sub(f"<caption>{caption}</caption>", table, count=1)
        rows = len(re.findall(r"<tr\b", table)) - 1
        if rows > FOLD_ROWS:
            return (
                f"<details><summary>{caption} ({rows} rows; click to show; the full table is in "
                f"tables/)</summary><div class='wide'>{table}</div></details>"
            )
        return f"<div class='wide'>{table}</div>"


def _output_html(output: dict, figure: _Figures, where: str, tables=None) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        if output.get("name") == "stderr":
            return ""
        return f"<pre>{html.escape(output.get('text', ''))}</pre>"
    if kind in {"display_data", "execute_result"}:
        data = output.get("data", {})
        if "image/png" in data:
            return figure(data["image/png"], where)
        if "text/html" in data:
            return (tables or _Tables())(data["text/html"])
        if "text/markdown" in data:
            return markdown_to_html(data["text/markdown"], demote=2)
        if "text/plain" in data:
            return f"<pre>{html.escape(data['text/plain'])}</pre>"
    if kind == "error":
        return f"<pre class='fail'>{html.escape(output.get('ename', ''))}</pre>"
    return ""


def _merge_streams(cell) -> list[dict]:
    """A cell's outputs with its stdout merged into one block (progress never reaches a
    notebook: :func:`analysis.output.progress` sends it to the terminal running the report)."""
    outputs, text = [], []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream" and o.get("name") == "stdout":
            text.append(o.get("text", ""))
        else:
            outputs.append(o)
    if text:
        lines = "".join(text).splitlines()
        keep = [line for line in lines if line.strip()]
        outputs.insert(0, {"output_type": "stream", "name": "stdout", "text": "\n".join(keep)})
    return outputs


def _figure_caption(output: dict) -> str:
    """The caption text of a ``Figure: ...`` Markdown output (see ``output.save_figure``)."""
    text = output.get("data", {}).get("text/markdown", "")
    return text[len("Figure: ") :].strip() if text.startswith("Figure: ") else ""


def notebook_html(path: Path, figure: _Figures, tables: _Tables | None = None) -> str:
    """The narrative and outputs of one executed notebook (no code, no parameter cells)."""
    nb = nbformat.read(path, as_version=4)
    parts = []
    for cell in nb.cells:
        if set(cell.get("metadata", {}).get("tags", [])) & SKIP_TAGS:
            continue
        if cell.cell_type == "markdown":
            parts.append(markdown_to_html(cell.source, demote=2))
        elif cell.cell_type == "code":
            outputs = _merge_streams(cell)
            for k, o in enumerate(outputs):
                caption = _figure_caption(outputs[k + 1]) if k + 1 < len(outputs) else ""
                if caption and "image/png" in o.get("data", {}):
                    parts.append(figure(o["data"]["image/png"], path.stem, caption))
                elif not (
                    k > 0 and _figure_caption(o) and "image/png" in outputs[k - 1].get("data", {})
                ):
                    parts.append(_output_html(o, figure, path.stem, tables))
    return "\n".join(p for p in parts if p)


def section_of(step: str) -> tuple[str, str]:
    """Anchor and title of a notebook run's report section."""
    if step in SECTIONS:
        return SECTIONS[step]
    if step.startswith(TRIAL_STEP):  # one section per trial, named by the trial registry
        from analysis import registry

        trial = step[len(TRIAL_STEP) :]
        return trial.replace("_", "-"), registry.trial_label(trial)
    anchor = re.sub(r"[^a-z0-9]+", "-", step.lower()).strip("-")
    return anchor, step


def build_document(notebooks: list[Path], manifest: dict, out_dir: Path) -> str:
    """The whole report as one HTML string.

    Parameters
    ----------
    notebooks : list of Path
        Executed notebooks in report order; each becomes a section (see :data:`SECTIONS`).
    manifest : dict
        The run's provenance (:func:`analysis.report.build_manifest`).
    out_dir : Path
        The run's output folder; its ``summary`` and ``gate`` tables (written by
        :func:`analysis.report.narrative.save_report_tables`) and synthesis evidence are read.
    """
    profile = manifest["profile"]
    smoke = not profiles.for_interpretation(profile)
    figure = _Figures()
    tables = _Tables()
    summary = catalogue.read_table(out_dir, catalogue.SUMMARY)
    gates = catalogue.read_table(out_dir, catalogue.GATE)
    gate_ok = None if gates.empty else bool((gates["gate"] == "pass").all())
    evidence = catalogue.read_table(out_dir, catalogue.SYNTHESIS_EVIDENCE)

    sections: list[tuple[str, str, str]] = []
    simulated = manifest["data"]["source"] == "embedded simulated data"
    summary_body = markdown_to_html(
        narrative.summary_markdown(summary, profile, gate_ok, simulated=simulated)
    )
    if not summary.empty:
        summary_body += table_html(
            narrative.summary_display(summary),
            "Summary of every comparison",
            "Last follow-up visit. Estimate: difference in change from baseline (first-named arm "
            "minus reference) on the outcome's scale, or SMD for the cross-trial rows. Sign: trial "
            "rows keep each instrument's own direction (for lower-is-better outcomes such as "
            "disability and symptoms a benefit is negative), while cross-trial rows and the "
            "synthesis evidence are oriented so that positive favours the first-named arm; "
            "P(benefit) always respects the direction. 95% CrI: "
            "equal-tailed credible interval; P(benefit): posterior probability that the effect "
            "favours the first-named arm; P(> MCID): that it does so by more than the minimal "
            "clinically important difference (undefined on the SMD scale). Source: "
            f"{catalogue.SUMMARY.file_name()}.",
            tables,
        )
    sections.append(("summary", "Summary", summary_body))
    for path in notebooks:
        anchor, title = section_of(path.stem)
        body = notebook_html(path, figure, tables)
        body += (
            f"<p class='source'>Executed notebook with code: "
            f"<a href='notebooks/{path.stem}.html'>notebooks/{path.stem}.html</a></p>"
        )
        sections.append((anchor, title, body))
    if gates.empty:
        diag_body = "<p>No MCMC fits in this run.</p>"
    else:
        n_fail = int((gates["gate"] != "pass").sum())
        verdict = (
            "<p><strong>Every fit passed the convergence gate.</strong></p>"
            if not n_fail
            else f"<p class='fail'>{n_fail} of {len(gates)} fits FAILED the convergence gate"
            + (" (expected with the smoke profile's short chains)." if smoke else ".")
            + "</p>"
        )
        shown = gates.assign(
            rhat_max=gates["rhat_max"].map(lambda x: f"{x:.3f}"),
            ess_bulk_min=gates["ess_bulk_min"].map(lambda x: f"{x:.0f}"),
            ess_tail_min=gates["ess_tail_min"].map(lambda x: f"{x:.0f}"),
        )
        diag_body = (
            f"<p>{html.escape(diagnostics.Gate().describe())} One row per fit: the worst "
            "parameter. The cross-trial synthesis is computed exactly, without MCMC.</p>"
            + verdict
            + table_html(
                figures.readable(shown),
                "Convergence gate, one row per fit (its worst parameter)",
                f"Source: {catalogue.GATE.file_name()}; per parameter: "
                f"{catalogue.DIAGNOSTICS.file_name()} and "
                f"{catalogue.SENSITIVITY_DIAGNOSTICS.file_name()}.",
                tables,
            )
        )
    sections.append(("diagnostics", "Diagnostics", diag_body))
    events = catalogue.read_table(out_dir, catalogue.INTERCURRENT_EVENTS)
    methods = narrative.methods_markdown(manifest, None if events.empty else events)
    sections.append(("methods", "Methods", markdown_to_html(methods)))
    ran = narrative.run_trials(manifest)
    lim = narrative.limitations_table(evidence, ran)
    stand_in = (
        "The consumer-provider trial's instruments were not available to us and are modelled on "
        "stated stand-in scales. "
        if "consumer_providers" in ran
        else ""
    )
    lim_body = (
        "<p>The analyses assume data missing at random given the observed visits, normally "
        "distributed outcomes on bounded scales (Student-t as a sensitivity analysis), and, for "
        "the cross-trial comparison, the bridging prior linking FACT as usual to standard care: "
        "no trial compared them, so every cross-trial contrast rests on that assumption. "
        + stand_in
        + "Every input number that is an assumption rather than a published fact:</p>"
        + table_html(lim, "Assumptions that are not published facts", tables=tables)
    )
    if simulated:
        lim_body = (
            "<p><strong>The data are simulated.</strong> Every trial result in this report comes "
            "from data simulated from scenarios calibrated to the trials' publications, to show "
            "what the analysis does; none is a result of the trials, and the true values of the "
            "simulation are shown beside the estimates. The published results enter only the "
            "cross-trial synthesis, as published evidence.</p>" + lim_body
        )
    else:
        lim_body += (
            "<p>This run analysed a user's data file: the scenario assumptions above describe "
            "only the embedded simulated data; the registry and evidence assumptions apply.</p>"
        )
    sections.append(("limitations", "Limitations", lim_body))
    sections.append(("glossary", "Glossary", markdown_to_html(narrative.glossary_markdown())))
    sections.append(("references", "References", markdown_to_html(narrative.references_markdown())))
    run, steps, versions = narrative.provenance_tables(manifest)
    sections.append(
        (
            "provenance",
            "Provenance",
            "<p>From <code>manifest.json</code> beside this file.</p>"
            + table_html(run, "The run", tables=tables)
            + "<h3>Steps</h3>"
            + table_html(
                steps,
                "Notebook steps",
                "Every parameter passed to every notebook; seconds: wall time.",
                tables,
            )
            + "<h3>Package versions</h3>"
            + table_html(versions, "Package versions", tables=tables),
        )
    )
    return _page(sections, manifest)


def _page(sections: list[tuple[str, str, str]], manifest: dict) -> str:
    profile = manifest["profile"]
    smoke = not profiles.for_interpretation(profile)
    simulated = manifest["data"]["source"] == "embedded simulated data"
    title = "Bayesian analysis of psychosocial interventions for serious mental illness" + (
        " (simulated data)" if simulated else ""
    )
    notices = ([narrative.SIMULATED_NOTICE] if simulated else []) + (
        [f"{profile} run: not for interpretation"] if smoke else []
    )
    stamp = (
        f"<div class='stamp' role='alert'>{html.escape(' · '.join(notices))}</div>"
        if notices
        else ""
    )
    git = manifest.get("git", {})
    meta = (
        f"Profile <strong>{html.escape(profile)}</strong> · seed {manifest.get('seed')} · "
        f"data: {html.escape(manifest['data']['source'])} "
        f"<code>{html.escape(manifest['data']['name'])}</code> · commit "
        f"<code>{html.escape((git.get('commit') or 'unknown')[:12])}</code>"
        + (" (uncommitted changes)" if git.get("dirty") else "")
        + f" · run {html.escape(manifest.get('started', ''))} UTC"
    )
    toc = "".join(f"<li><a href='#{a}'>{html.escape(t)}</a></li>" for a, t, _ in sections)
    body = "\n".join(
        f"<section id='{a}'><h2>{k}. {html.escape(t)}</h2>\n{b}\n</section>"
        for k, (a, t, b) in enumerate(sections, start=1)
    )
    page_title = "trialbayes report" + (f" ({'; '.join(notices)})" if notices else "")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(page_title)}</title>
<style>{CSS}</style>
</head>
<body class="{"stamped" if notices else ""}">
{stamp}
<header>
<h1>{title}</h1>
<p class="meta">trialbayes · {meta}</p>
</header>
<nav><h2 style="page-break-before:avoid">Contents</h2><ol>{toc}</ol></nav>
{body}
</body>
</html>
"""


def strip_remote_scripts(page: str) -> str:
    """Remove ``<script src="http...">`` tags (MathJax, require.js) from an nbconvert page."""
    return re.sub(
        r"""<script[^>]*\bsrc=(["'])https?://[^"']*\1[^>]*>\s*</script>""", "", page, flags=re.I
    )


#: Where the headless browser for the PDF is looked for (``TRIALBAYES_CHROMIUM`` overrides).
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    """The headless browser that prints the PDF, or None."""
    import os
    import shutil

    given = os.environ.get("TRIALBAYES_CHROMIUM")
    if given:
        return given if shutil.which(given) else None
    return next((p for n in CHROMIUM_NAMES if (p := shutil.which(n))), None)


def print_pdf(html_path: Path, pdf_path: Path, timeout: float = 120) -> Path | None:
    """Print the report to PDF with headless Chromium (sections start on new pages, figures are
    not split: the document's print styles). Returns the PDF, or None without a browser.

    Raises
    ------
    RuntimeError
        If the browser runs but writes no PDF (its error output is included).
    """
    import subprocess
    import tempfile

    exe = find_chromium()
    if exe is None:
        return None
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        done = subprocess.run(
            [
                exe,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--no-pdf-header-footer",
                f"--user-data-dir={profile}",
                f"--print-to-pdf={pdf_path}",
                html_path.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    if not pdf_path.exists() or pdf_path.stat().st_size == 0:
        raise RuntimeError(f"Chromium wrote no PDF ({exe}): {done.stderr.strip()[-500:]}")
    return pdf_path
