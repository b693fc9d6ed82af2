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

import nbformat
import pandas as pd

from analysis import catalogue, figures, output, profiles
from analysis.report import narrative
from analysis.report.markup import markdown_to_html
from analysis.report.narrative import section_of
from analysis.trialmodel import diagnostics

SKIP_TAGS = {"parameters", "injected-parameters", "report-skip"}
#: Cells tagged so go to the report's appendix (checks, supporting tables), not its main text.
APPENDIX_TAG = "appendix"

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
.appendix h2 { border-bottom-style: double; }
@media print {
  html { font-size: 10pt; }
  body { max-width: none; padding: 0; } nav { break-after: page; }
  h2 { break-before: page; } h3, h4, caption { break-after: avoid; }
  .stamped { padding-top: 0; } .stamp { display: none; }
  .wide { overflow: visible; }
  table { width: 100%; font-size: 7.5pt; break-inside: auto; }
  thead { display: table-header-group; } tr { break-inside: avoid; }
  th, td { padding: 1.5pt 3pt; overflow-wrap: break-word; }
  details::details-content { content-visibility: visible; display: contents; }
  details > summary { display: none; }
  figure img { max-height: 24cm; } figcaption { font-size: 8pt; }
  section.run-on > h2 { break-before: auto; }
  a { color: inherit; text-decoration: none; }
  .wide.landscape { page: landscape; }
}
"""

#: Paper sizes the PDF can be printed on (``report --paper``); A4 is the default.
PAPERS = {"a4": "A4", "letter": "letter"}


def page_css(paper: str, head: str, notice: str = "") -> str:
    """The printed page: size, margins, running heads (the report's short title left, the
    simulated-data notice right), "Page n of N" at the foot; a landscape page for tables too
    wide for portrait."""
    if paper not in PAPERS:
        raise ValueError(f"unknown paper {paper!r}: use one of {', '.join(PAPERS)}")

    def quoted(text: str) -> str:
        return '"' + text.replace("\\", "").replace('"', "'") + '"'

    box = "font: 7.5pt system-ui, sans-serif; color: #5a5a5a;"
    alert = "font: bold 7.5pt system-ui, sans-serif; color: #b00020;"
    return (
        f"@page {{ size: {PAPERS[paper]}; margin: 18mm 16mm 16mm;"
        f" @top-left {{ content: {quoted(head)}; width: 45%; {box} }}"
        + (f" @top-right {{ content: {quoted(notice)}; width: 55%; {alert} }}" if notice else "")
        + f" @bottom-center {{ content: 'Page ' counter(page) ' of ' counter(pages); {box} }}"
        + " }\n"
        f"@page landscape {{ size: {PAPERS[paper]} landscape; }}\n"
    )


def table_html(df: pd.DataFrame, title: str, note: str | None = None, tables=None) -> str:
    """A DataFrame as a titled HTML table (no index), numbered by ``tables`` (a
    :class:`_Tables`, shared across the document) and scrollable when wide."""
    body = df.to_html(index=False, border=0, na_rep="–", escape=True, classes="tidy")
    caption = f"Table: {title.rstrip('.')}." + (f" {note.strip()}" if note else "")
    body = body.replace(
        "<thead>", f"<caption>{html.escape(caption, quote=False)}</caption>\n  <thead>", 1
    )
    return (tables or _Tables())(body)


def png_inches(png: str) -> tuple[float, float] | None:
    """Width and height (inches) at which a base64 PNG was drawn, from its header and its
    resolution chunk (matplotlib writes it; 100 dpi without one). Figures print at this size
    (never enlarged to the text width), so their fonts print at the size they were drawn with;
    None if the data is not a PNG."""
    import base64
    import struct

    raw = base64.b64decode(png[:200_000] if len(png) > 200_000 else png, validate=False)
    try:
        width, height = output.png_size(raw)
    except ValueError:
        return None
    at = raw.find(b"pHYs")
    per_metre = struct.unpack(">I", raw[at + 4 : at + 8])[0] if at > 0 else 0
    dpi = per_metre / 39.3701 if per_metre else 100.0
    return width / dpi, height / dpi


class _Figures:
    """Numbers figures across the whole document."""

    def __init__(self, placeholders: bool = False):
        self.n = 0
        self.placeholders = placeholders

    def __call__(self, png: str, where: str, caption: str = "") -> str:
        self.n += 1
        n = f"@@F{self.n}@@" if self.placeholders else str(self.n)
        text = f"<b>Figure {n}.</b>" + (
            " " + re.sub(r"^<p>|</p>$", "", markdown_to_html(caption).strip()) if caption else ""
        )
        alt = f"Figure {n}" + (f": {caption}" if caption else f" ({where})")
        size = png_inches(png)
        style = f" style='width:{size[0]:.2f}in'" if size else ""
        return (
            f"<figure id='figure-{n}'><img src='data:image/png;base64,{png.strip()}'{style} "
            f"alt='{html.escape(alt, quote=True)}'>"
            f"<figcaption>{text}</figcaption></figure>"
        )


#: Tables with more rows than this are folded (``<details>``) on screen; print opens them.
FOLD_ROWS = 15
#: Tables with more columns than this print on a landscape page.
LANDSCAPE_COLUMNS = 10
_CAPTION = re.compile(r"<caption>Table: (.*?)</caption>", re.S)


class _Tables:
    """Numbers the titled tables (:func:`analysis.figures.report_table`) across the document
    and folds long ones, their title visible."""

    def __init__(self, placeholders: bool = False):
        self.n = 0
        self.placeholders = placeholders

    def label(self, n: int) -> str:
        """The table's number, or a placeholder numbered later in document order."""
        return f"@@T{n}@@" if self.placeholders else str(n)

    def __call__(self, table: str) -> str:
        m = _CAPTION.search(table)
        if not m:
            return f"<div class='wide'>{table}</div>"
        self.n += 1
        caption = f"Table {self.label(self.n)}. {m.group(1)}"
        table = _CAPTION.sub(f"<caption>{caption}</caption>", table, count=1)
        rows = len(re.findall(r"<tr\b", table)) - 1
        head = re.search(r"<tr\b.*?</tr>", table, re.S)
        columns = len(re.findall(r"<th\b", head.group(0))) if head else 0
        box = "wide landscape" if columns > LANDSCAPE_COLUMNS else "wide"
        if rows > FOLD_ROWS:  # folded on screen; printed open (print styles)
            return (
                f"<details><summary>{caption} ({rows} rows; click to show)</summary>"
                f"<div class='{box}'>{table}</div></details>"
            )
        return f"<div class='{box}'>{table}</div>"


def _output_html(output: dict, figure: _Figures, where: str, tables=None) -> str:
    kind = output.get("output_type")
    if kind == "stream":  # run logs are for the analyst at the notebook, not the reader
        return ""
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


def notebook_parts(path: Path, figure: _Figures, tables: _Tables | None = None) -> tuple[str, str]:
    """The narrative and outputs of one executed notebook (no code, no parameter cells, no run
    logs, not the notebook's own title): the main text, and the cells tagged ``appendix``
    (checks and supporting tables) for the report's appendix."""
    nb = nbformat.read(path, as_version=4)
    main: list[str] = []
    appendix: list[str] = []
    titled = False
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & SKIP_TAGS:
            continue
        parts = appendix if APPENDIX_TAG in tags else main
        if cell.cell_type == "markdown":
            source = cell.source
            if not titled and source.lstrip().startswith("# "):  # the section title says it
                source = source.lstrip().split("\n", 1)[1] if "\n" in source.lstrip() else ""
                titled = True
            parts.append(markdown_to_html(source, demote=2))
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
    return "\n".join(p for p in main if p), "\n".join(p for p in appendix if p)


def notebook_html(path: Path, figure: _Figures, tables: _Tables | None = None) -> str:
    """One executed notebook's report text, its appendix cells included (in place)."""
    main, appendix = notebook_parts(path, figure, tables)
    return "\n".join(p for p in (main, appendix) if p)


#: Caption of the first page's figure (the one home of what it shows).
GLANCE_CAPTION = (
    "Every comparison of this report at the last follow-up visit: posterior mean standardised "
    "mean difference (SMD) with its {level} equal-tailed credible interval (CrI), turned so that "
    "positive favours the first-named arm on every outcome. The zero line is the decision "
    "threshold: an interval wholly to its right meets the decision rule (P(benefit) > {rule}; "
    "filled points). {true}Grey, hatched rows rest on the bridging prior, not on a trial that "
    "compared the arms."
)


def glance_html(out_dir: Path, summary: pd.DataFrame, figure: _Figures, tables: _Tables) -> str:
    """The answer at a glance: the forest plot of every comparison (saved by
    :func:`analysis.report.narrative.save_report_tables`) and one row per comparison."""
    import base64

    from analysis import rules
    from analysis.report.plots import GLANCE_FIGURE

    png = Path(out_dir) / catalogue.FIGURES_DIR / f"{GLANCE_FIGURE}.png"
    simulated_truth = "true_benefit_smd" in summary and summary["true_benefit_smd"].notna().any()
    caption = GLANCE_CAPTION.format(
        level=rules.interval_text(),
        rule=rules.DECISION_THRESHOLD,
        true="Crosses: the true values of the simulation. " if simulated_truth else "",
    )
    out = ""
    if png.is_file():
        out += figure(base64.b64encode(png.read_bytes()).decode(), "summary", caption)
    out += table_html(
        narrative.glance_display(summary),
        "The answer at a glance: one row per comparison",
        "Primary outcome where the trial has one, otherwise its first outcome; every outcome "
        "is in the appendix.",
        tables,
    )
    return out


def _section_appendix_title(title: str) -> str:
    return f"{title}: supporting checks and tables"


def build_document(notebooks: list[Path], manifest: dict, out_dir: Path, paper: str = "a4") -> str:
    """The whole report as one HTML string.

    Parameters
    ----------
    notebooks : list of Path
        Executed notebooks in report order; each becomes a section (:func:`section_of`); their
        cells tagged ``appendix`` go to the appendix.
    manifest : dict
        The run's provenance (:func:`analysis.report.build_manifest`).
    out_dir : Path
        The run's output folder; its ``summary`` and ``gate`` tables (written by
        :func:`analysis.report.narrative.save_report_tables`) and synthesis evidence are read.
    paper : str
        ``a4`` (default) or ``letter``: the printed page (:data:`PAPERS`).
    """
    profile = manifest["profile"]
    smoke = not profiles.for_interpretation(profile)
    figure = _Figures(placeholders=True)  # numbered in document order once assembled
    tables = _Tables(placeholders=True)
    summary = catalogue.read_table(out_dir, catalogue.SUMMARY)
    gates = catalogue.read_table(out_dir, catalogue.GATE)
    gate_ok = None if gates.empty else bool((gates["gate"] == "pass").all())
    evidence = catalogue.read_table(out_dir, catalogue.SYNTHESIS_EVIDENCE)
    league = catalogue.read_table(out_dir, catalogue.SYNTHESIS_EFFECTS)
    simulated = manifest["data"]["source"] == "embedded simulated data"

    glance = glance_html(out_dir, summary, figure, tables) if not summary.empty else ""
    sections: list[tuple[str, str, str]] = []
    appendix: list[tuple[str, str, str]] = []
    summary_body = markdown_to_html(
        narrative.summary_markdown(
            summary, profile, gate_ok, simulated=simulated, league=None if league.empty else league
        )
    )
    every = ""
    if not summary.empty:
        summary_body += (
            "<p>Every outcome of every comparison, with its difference on the instrument's "
            "scale, is in the appendix (<a href='#every-comparison'>Every comparison and "
            "outcome</a>).</p>"
        )
        every = table_html(
            narrative.summary_display(summary),
            "Every comparison and outcome",
            "Last follow-up visit. Difference: first-named arm minus reference in change from "
            "baseline on the instrument's scale (its direction stated), or the SMD for the "
            "cross-trial rows. SMD: the same difference in baseline SDs, turned so that positive "
            "favours the first-named arm on every outcome. 95% CrI: equal-tailed credible "
            "interval; P(benefit): posterior probability that the effect favours the first-named "
            "arm; P(> MCID): that it does so by more than the minimal clinically important "
            "difference (undefined on the SMD scale). Decision: the rule of Methods; 'fragile' "
            "when a sensitivity analysis overturns it or it tips at a small shift of the missing "
            "values; 'bridging prior' when no trial compared the arms.",
            tables,
        )
    sections.append(("summary", "Summary", summary_body))
    events = catalogue.read_table(out_dir, catalogue.INTERCURRENT_EVENTS)
    methods = narrative.methods_markdown(manifest, None if events.empty else events)
    sections.append(("methods", "Methods", markdown_to_html(methods)))
    for path in notebooks:
        anchor, title = section_of(path.stem)
        main, extra = notebook_parts(path, figure, tables)
        sections.append((anchor, title, main))
        if extra:
            appendix.append((f"{anchor}-appendix", _section_appendix_title(title), extra))
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
        + "Every input number that is an assumption rather than a published fact is listed in "
        "the appendix.</p>"
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
            "<p>This run analysed a user's data file: the scenario assumptions describe only the "
            "embedded simulated data; the registry and evidence assumptions apply.</p>"
        )
    sections.append(("limitations", "Limitations", lim_body))
    sections.append(("glossary", "Glossary", markdown_to_html(narrative.glossary_markdown())))
    sections.append(("references", "References", markdown_to_html(narrative.references_markdown())))

    if gates.empty:
        diag_body = "<p>No MCMC fits in this run.</p>"
    else:
        n_fail = int((gates["gate"] != "pass").sum())
        verdict = (
            "<p><strong>Every fit passed the convergence gate.</strong></p>"
            if not n_fail
            else f"<p class='fail'>{n_fail} of {len(gates)} fits FAILED the convergence gate"
            + (" (expected of a short exploratory run's short chains)." if smoke else ".")
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
                f"Per parameter: {catalogue.DIAGNOSTICS.file_name()} and "
                f"{catalogue.SENSITIVITY_DIAGNOSTICS.file_name()}.",
                tables,
            )
        )
    appendix.insert(0, ("diagnostics", "Convergence diagnostics", diag_body))
    if every:
        appendix.insert(0, ("every-comparison", "Every comparison and outcome", every))
    appendix.append(
        (
            "assumptions",
            "Assumptions that are not published facts",
            table_html(lim, "Assumptions that are not published facts", tables=tables),
        )
    )
    run, steps, versions = narrative.provenance_tables(manifest)
    code_links = "".join(
        f"<li><a href='notebooks/{p.stem}.html'>{html.escape(section_of(p.stem)[1])}</a></li>"
        for p in notebooks
    )
    appendix.append(
        (
            "provenance",
            "Provenance",
            "<p>The run's record (manifest.json beside this file).</p>"
            + table_html(run, "The run", tables=tables)
            + table_html(
                steps,
                "Analysis steps",
                "Every setting passed to every step; seconds: wall time.",
                tables,
            )
            + "<h3>Package versions</h3>"
            + table_html(versions, "Package versions", tables=tables)
            + (
                f"<p>The code and outputs behind each section:</p><ul>{code_links}</ul>"
                if code_links
                else ""
            ),
        )
    )
    return number_in_order(_page(sections, manifest, appendix=appendix, glance=glance, paper=paper))


def number_in_order(page: str) -> str:
    """Replace the table and figure placeholders by numbers in the order they are read (the
    appendix moves content after the text that was rendered before it)."""
    for kind in ("T", "F"):
        order: dict[str, int] = {}
        for m in re.finditer(rf"@@{kind}(\d+)@@", page):
            order.setdefault(m.group(1), len(order) + 1)
        page = re.sub(rf"@@{kind}(\d+)@@", lambda m, o=order: str(o[m.group(1)]), page)
    return page


#: Sections printed straight after the one before (no page break of their own).
RUN_ON = {a: " class='run-on'" for a in ("limitations", "glossary", "references")}


def _page(
    sections: list[tuple[str, str, str]],
    manifest: dict,
    appendix: list[tuple[str, str, str]] = (),
    glance: str = "",
    paper: str = "a4",
) -> str:
    profile = manifest["profile"]
    smoke = not profiles.for_interpretation(profile)
    simulated = manifest["data"]["source"] == "embedded simulated data"
    title = "Bayesian analysis of psychosocial interventions for serious mental illness"
    short = "Psychosocial interventions for serious mental illness"
    title = title + (" (simulated data)" if simulated else "")
    notices = ([narrative.SIMULATED_NOTICE] if simulated else []) + (
        ["short exploratory run: not for interpretation"] if smoke else []
    )
    notice = " · ".join(notices)
    stamp = f"<div class='stamp' role='alert'>{html.escape(notice)}</div>" if notices else ""
    git = manifest.get("git", {})
    data = manifest["data"]
    meta = (
        (
            "Data: simulated, calibrated to the trials' publications"
            if simulated
            else f"Data: {html.escape(data['source'])}, {html.escape(data['name'])}"
        )
        + f" · analysis seed {manifest.get('seed')}"
        + (" · short exploratory run" if smoke else "")
        + f" · software trialbayes, commit {html.escape((git.get('commit') or 'unknown')[:12])}"
        + (" (uncommitted changes)" if git.get("dirty") else "")
        + f" · {html.escape(manifest.get('started', '')[:10])}"
    )
    toc = "".join(f"<li><a href='#{a}'>{html.escape(t)}</a></li>" for a, t, _ in sections)
    toc_app = "".join(
        f"<li><a href='#{a}'>{chr(65 + k)}. {html.escape(t)}</a></li>"
        for k, (a, t, _) in enumerate(appendix)
    )
    body = "\n".join(
        f"<section id='{a}'{RUN_ON.get(a, '')}><h2>{k}. {html.escape(t)}</h2>\n{b}\n</section>"
        for k, (a, t, b) in enumerate(sections, start=1)
    )
    body += "\n".join(
        f"<section id='{a}' class='appendix'><h2>Appendix {chr(65 + k)}. {html.escape(t)}</h2>"
        f"\n{b}\n</section>"
        for k, (a, t, b) in enumerate(appendix)
    )
    page_title = "trialbayes report" + (f" ({'; '.join(notices)})" if notices else "")
    css = CSS + page_css(paper, short, notice[:1].upper() + notice[1:] if notice else "")
    glance_block = f"<section id='at-a-glance' class='glance'>{glance}</section>" if glance else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="running-head" content="{html.escape(short, quote=True)}">
<title>{html.escape(page_title)}</title>
<style>{css}</style>
</head>
<body class="{"stamped" if notices else ""}">
{stamp}
<header>
<h1>{title}</h1>
<p class="meta">{meta}</p>
</header>
{glance_block}
<nav><h2 style="break-before:avoid">Contents</h2><ol>{toc}</ol>
{f"<p><strong>Appendix</strong></p><ul class='appendix-toc'>{toc_app}</ul>" if toc_app else ""}
</nav>
{body}
</body>
</html>
"""


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
                "--no-pdf-header-footer",  # the page's own running heads and numbers
                "--generate-pdf-document-outline",  # PDF bookmarks from the headings
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
