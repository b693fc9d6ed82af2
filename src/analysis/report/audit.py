"""Checks a rendered report the way a journal's reader would look at it.

:func:`audit_html` reads the document: every table titled and numbered, without a pandas index
column, missing-value markers, raw codes or whole numbers printed as ``68.0``; every figure
with a numbered caption that says what to see; a reference list with links; one versions
block; no machine path, progress bar or truncated table; the page under its size limit.
:func:`audit_in_browser` loads it in headless Chromium: every image decodes and nothing runs
off the page. ``python -m analysis audit REPORT.html`` runs both; the report pipeline runs the
document checks on every report it builds.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from analysis import registry

#: The full report's size limit (bytes), figures embedded.
MAX_BYTES = 3_000_000
#: Text that only a machine (not a reader) would put in a report.
MACHINE_PATH = re.compile(
    r"(?:/home/|/root/|/tmp/|/work/|/Users/|/var/folders/|PosixPath|WindowsPath|\b[A-Z]:\\\\)"
)
PROGRESS_BAR = re.compile(r"\[[#.]{3,}\]|\bdone \d+/\d+\b|\d+%\|")
TRUNCATED = re.compile(r"\b\d+ rows\s*[×x]\s*\d+ columns\b")
MISSING_MARKERS = {"NaN", "nan", "None", "<NA>", "NaT", "null"}
FILE_NAME = re.compile(r"\b[\w.-]+\.(?:csv|json|nc|png|html|ipynb|yaml|tex|docx|pdf)\b")
SNAKE_CODE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
#: Words of a build or an analyst's session, not of a paper (checked on every printed page).
BUILD_WORDS = re.compile(
    r"\b(?:notebooks?|smoke|profile|compile cache|output_dir|"
    r"[a-z_]+ = (?:True|False))\b",
    re.I,
)
#: A model variable with its index (``alpha[0]``, ``visit_corr[5]``): a code, not a label.
INDEXED_CODE = re.compile(r"\b[a-z][a-z_]*\[\d+\]")


@dataclass(frozen=True)
class Problem:
    """One thing a reader would stumble on: where it is and what it is."""

    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def registry_codes() -> dict[str, str]:
    """Codes of the registry (trials, arms, outcomes) that differ from their label, mapped to
    the label a reader should see instead."""
    codes = {}
    trials = registry.load_trial_registry()
    codes.update(
        {t: lab for t, lab in zip(trials["trial"], trials["label"], strict=True) if t != lab}
    )
    arms = registry.load_arm_registry()
    codes.update({a: registry.arm_label(a) for a in arms["arm"] if registry.arm_label(a) != a})
    outcomes = registry.load_outcome_registry()
    codes.update({o: o.replace("_", " ") for o in outcomes["outcome"] if "_" in o})
    import pandas as pd

    from analysis import config

    studies = set(trials["study"]) | set(trials["trial"])
    for f in (config.PUBLISHED_TRIALS, config.PUBLISHED_EXTERNAL):
        if f.is_file():
            studies |= set(pd.read_csv(f, dtype=str)["study"])
    codes.update({s: registry.study_label(s) for s in studies if registry.study_label(s) != s})
    return codes


def _section_of(node) -> str:
    sec = node.find_parent("section")
    return f"section '{sec.get('id')}'" if sec is not None and sec.get("id") else "header"


def _table_name(table, k: int) -> str:
    cap = table.find("caption")
    label = cap.get_text(" ", strip=True)[:40] if cap else f"untitled table {k}"
    return f"{_section_of(table)}, {label}"


def _strip_file_names(text: str) -> str:
    return FILE_NAME.sub("", text)


def audit_tables(soup, codes: dict[str, str]) -> list[Problem]:
    """Titles, numbering and cell contents of every table."""
    problems, expected = [], 1
    for k, table in enumerate(soup.find_all("table"), start=1):
        where = _table_name(table, k)
        cap = table.find("caption")
        m = re.match(r"Table (\d+)\. \S", cap.get_text(" ", strip=True)) if cap else None
        if m is None:
            problems.append(Problem(where, "no numbered caption ('Table N. Title.')"))
        else:
            if int(m.group(1)) != expected:
                problems.append(Problem(where, f"numbered {m.group(1)}, expected {expected}"))
            expected = int(m.group(1)) + 1
        body_rows = table.find("tbody").find_all("tr") if table.find("tbody") else []
        if any(
            r.find(["th", "td"]) is not None and r.find(["th", "td"]).name == "th"
            for r in body_rows
        ):
            problems.append(Problem(where, "an index column (row headers in the body)"))
        head = table.find("thead")
        headers = [c.get_text(" ", strip=True) for c in head.find_all("th")] if head else []
        if headers and headers[0] == "" and len(headers) > 1:
            problems.append(Problem(where, "an unnamed first column (a pandas index)"))
        columns: dict[int, list[str]] = {}
        for r in body_rows:
            for j, cell in enumerate(r.find_all(["td", "th"])):
                columns.setdefault(j, []).append(cell.get_text(" ", strip=True))
        for j, values in columns.items():
            name = headers[j] if j < len(headers) else f"column {j + 1}"
            shown = [v for v in values if v not in ("", "–")]
            bad = sorted({v for v in values if v in MISSING_MARKERS})
            if bad:
                problems.append(Problem(where, f"column '{name}' shows {bad} for missing values"))
            raw = sorted({x for v in values for x in re.split(r"\s*;\s*", v) if x in codes})
            if raw:
                problems.append(
                    Problem(
                        where,
                        f"column '{name}' shows codes {raw} (labels: {[codes[v] for v in raw]})",
                    )
                )
            if len(shown) >= 2 and all(re.fullmatch(r"[−-]?\d+\.0", v) for v in shown):
                problems.append(Problem(where, f"column '{name}' prints whole numbers as '.0'"))
        for h in headers:
            if SNAKE_CODE.fullmatch(h):
                problems.append(Problem(where, f"column header '{h}' is a code, not words"))
    return problems


def audit_figures(soup) -> list[Problem]:
    """Every image is a numbered figure whose caption has a title and a sentence."""
    problems, expected = [], 1
    for img in soup.find_all("img"):
        fig = img.find_parent("figure")
        if fig is None:
            problems.append(Problem(_section_of(img), "an image outside a captioned figure"))
            continue
        cap = fig.find("figcaption")
        text = cap.get_text(" ", strip=True) if cap else ""
        m = re.match(r"Figure (\d+)\.\s*(.*)", text, re.S)
        where = f"{_section_of(fig)}, figure {m.group(1) if m else '?'}"
        if m is None:
            problems.append(Problem(where, "no numbered caption"))
            continue
        if int(m.group(1)) != expected:
            problems.append(Problem(where, f"numbered {m.group(1)}, expected {expected}"))
        expected = int(m.group(1)) + 1
        if not re.search(r"\.\s+\S", m.group(2)) or len(m.group(2)) < 30:
            problems.append(Problem(where, "caption lacks a title and a sentence on what to see"))
        raw = [c for c in SNAKE_CODE.findall(_strip_file_names(text))]
        if raw:
            problems.append(Problem(where, f"caption shows codes {sorted(set(raw))}"))
    return problems


def audit_document(soup, text: str) -> list[Problem]:
    """Sections, references, versions and what must never appear anywhere."""
    problems = []
    visible = soup.get_text(" ")
    for pattern, what in (
        (MACHINE_PATH, "a machine path"),
        (PROGRESS_BAR, "a progress bar"),
        (TRUNCATED, "a truncated table ('N rows × M columns')"),
    ):
        m = pattern.search(re.sub(r"data:image/[a-z]+;base64,[A-Za-z0-9+/=]+", "", text))
        if m:
            problems.append(Problem("document", f"{what}: {m.group(0)!r}"))
    refs = soup.find("section", id="references")
    items = refs.find_all("li") if refs else []
    if not items:
        problems.append(Problem("document", "no reference list"))
    for li in items:
        if not li.find("a", href=re.compile(r"^https?://")):
            problems.append(
                Problem("section 'references'", f"no link: {li.get_text(' ', strip=True)[:60]}")
            )
    blocks = [h for h in soup.find_all(["h2", "h3", "h4"]) if "versions" in h.get_text().lower()]
    if len(blocks) != 1 or re.search(r"Python implementation|Last updated:", visible):
        problems.append(
            Problem("document", f"{len(blocks)} versions blocks; expected one, in Provenance")
        )
    if re.search(r"\bWatermark\b", visible):
        problems.append(Problem("document", "a watermark block (versions belong in Provenance)"))
    return problems


def audit_html(path: Path, max_bytes: int = MAX_BYTES) -> list[Problem]:
    """Every problem a reader would see in a rendered report (empty when there is none).

    Parameters
    ----------
    path : Path
        The report's HTML file.
    max_bytes : int
        Size limit of the file, figures embedded.
    """
    from bs4 import BeautifulSoup

    text = Path(path).read_text(encoding="utf-8")
    soup = BeautifulSoup(text, "html.parser")
    problems = audit_tables(soup, registry_codes()) + audit_figures(soup)
    problems += audit_document(soup, text)
    size = Path(path).stat().st_size
    if size > max_bytes:
        problems.append(Problem("document", f"{size / 1e6:.1f} MB, over {max_bytes / 1e6:g} MB"))
    return problems


#: JavaScript run in the loaded page: images that did not decode, and elements that run off
#: the page's right edge (wide tables scroll inside their own box and are allowed).
_LAYOUT_JS = """() => {
  const out = [];
  document.querySelectorAll('img').forEach((im, k) => {
    if (!im.complete || im.naturalWidth === 0) out.push(`image ${k + 1} did not load`);
  });
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > width + 1)
    out.push(`the page is ${document.documentElement.scrollWidth}px wide in a ${width}px window`);
  document.querySelectorAll('figure img').forEach((im, k) => {
    const r = im.getBoundingClientRect();
    if (r.width < 200) out.push(`figure ${k + 1} shown only ${Math.round(r.width)}px wide`);
  });
  return out;
}"""


def audit_in_browser(path: Path, browser=None) -> list[Problem]:
    """Load the report in headless Chromium (Playwright) at a 1000 px window: every image
    decodes, no element runs off the page, no console error.

    Parameters
    ----------
    browser : playwright Browser, optional
        An open browser (the tests share one); default: launch Debian's Chromium.
    """
    from playwright.sync_api import sync_playwright

    from analysis.report.render import find_chromium

    def check(b):
        page = b.new_page(viewport={"width": 1000, "height": 800})
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(Path(path).resolve().as_uri(), wait_until="load")
        found = page.evaluate(_LAYOUT_JS)
        page.close()
        return [Problem("browser", f) for f in found] + [
            Problem("browser console", e) for e in errors
        ]

    if browser is not None:
        return check(browser)
    exe = find_chromium()
    if exe is None:
        raise RuntimeError("no headless browser found (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
        try:
            return check(b)
        finally:
            b.close()


#: poppler's ``pdftotext`` (poppler-utils) reads a report's text in a tenth of a second; pypdf,
#: the fallback where it is not installed, takes seconds. The checks read the same words from
#: either (``tests/test_audit.py`` runs them through both).
PDFTOTEXT = shutil.which("pdftotext")


def pdf_text(pdf: Path) -> list[str]:
    """The text of each page of a PDF (poppler's ``pdftotext`` when installed, else pypdf),
    ligatures resolved (NFKC), whitespace collapsed."""
    import unicodedata

    if PDFTOTEXT:
        done = subprocess.run(
            [PDFTOTEXT, "-raw", "-enc", "UTF-8", str(pdf), "-"],
            capture_output=True,
            check=True,
            timeout=120,
        )
        raw = done.stdout.decode("utf-8", errors="replace").split("\f")
        if raw and not raw[-1].strip():  # the text ends with a form feed after the last page
            raw = raw[:-1]
    else:
        from pypdf import PdfReader

        raw = [page.extract_text() or "" for page in PdfReader(pdf).pages]
    return [re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)) for text in raw]


def pdf_pages(pdf: Path) -> int:
    """Number of pages of a PDF."""
    from pypdf import PdfReader

    return len(PdfReader(pdf).pages)


def pdf_outline(pdf: Path) -> list[str]:
    """Titles of a PDF's bookmarks (outline), depth first."""
    from pypdf import PdfReader

    titles: list[str] = []

    def walk(items):
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                titles.append(item.title)

    walk(PdfReader(pdf).outline)
    return titles


def audit_pdf(pdf: Path, html_path: Path) -> list[Problem]:
    """The printed report read back page by page (empty when there is no problem).

    Every page numbered ("Page n of N") under the running head; with simulated data, every
    page names them; no page with build words (:data:`BUILD_WORDS`), indexed model variables
    or registry codes; every table of the HTML with each word of its headers on the page its
    caption is printed on or the next (a collapsed or clipped table loses them); bookmarks
    for the sections.
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(Path(html_path).read_text(encoding="utf-8"), "html.parser")
    pages = pdf_text(pdf)
    n = len(pages)
    problems = []
    meta = soup.find("meta", attrs={"name": "running-head"})
    head = meta["content"] if meta else soup.find("h1").get_text(" ", strip=True)
    simulated = "simulated data" in (soup.title.get_text() if soup.title else "")
    codes = [c for c in registry_codes() if "_" in c]
    for k, text in enumerate(pages, start=1):
        where = f"page {k}"
        if f"Page {k} of {n}" not in text:
            problems.append(Problem(where, "no page number 'Page n of N'"))
        if head[:40] not in text:
            problems.append(Problem(where, "no running head"))
        if simulated and "simulated data" not in text.lower():
            problems.append(Problem(where, "does not say the data are simulated"))
        plain = _strip_file_names(text)
        for pattern, what in ((BUILD_WORDS, "a build word"), (INDEXED_CODE, "a model code")):
            m = pattern.search(plain)
            if m:
                problems.append(Problem(where, f"{what}: {m.group(0)!r}"))
        hit = next((c for c in codes if re.search(rf"\b{re.escape(c)}\b", plain)), None)
        if hit:
            problems.append(Problem(where, f"a raw code: {hit!r}"))
    for table in soup.find_all("table"):
        cap = table.find("caption")
        m = re.match(r"(Table \d+)\.", cap.get_text(" ", strip=True)) if cap else None
        if not m:
            continue
        at = next((i for i, t in enumerate(pages) if re.search(rf"{m.group(1)}\.(?!\d)", t)), None)
        if at is None:
            problems.append(Problem(m.group(1), "not printed"))
            continue
        text = re.sub(r"\s", "", " ".join(pages[at : at + 2]))  # words wrap inside cells
        words = {w for th in table.find_all("th") for w in th.get_text(" ", strip=True).split()}
        lost = sorted(w for w in words if w not in text)
        if lost:
            problems.append(Problem(m.group(1), f"header words not printed: {lost[:6]}"))
    outline = pdf_outline(pdf)
    for h2 in soup.find_all("h2"):
        title = h2.get_text(" ", strip=True)
        if title != "Contents" and not any(title[:30] in o for o in outline):
            problems.append(Problem("bookmarks", f"no bookmark for {title!r}"))
    return problems
