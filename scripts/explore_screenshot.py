"""Screenshot of the live explorer in JupyterLab for the README (docs/explore.png).

Run from the project root after `make env` (and ideally a report, so the explorer opens from
saved results): ``.venv/bin/python scripts/explore_screenshot.py``. It starts JupyterLab on a
free port, opens notebooks/06-explore.ipynb in Debian's headless Chromium, runs every cell and
photographs the cross-trial panel once its figures have rendered.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "explore.png"


def main() -> int:
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(16)
    # a copy of the notebook: JupyterLab autosaves what it runs, and notebooks are committed
    # without outputs
    import shutil
    import tempfile

    work = Path(tempfile.mkdtemp(prefix="explore-"))
    shutil.copy(ROOT / "notebooks" / "06-explore.ipynb", work)
    lab = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "jupyter"),
            "lab",
            "--no-browser",
            "--allow-root",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            f"--notebook-dir={work}",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(6)
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = b.new_page(viewport={"width": 1500, "height": 1300})
            page.goto(f"http://127.0.0.1:{port}/lab/tree/06-explore.ipynb?token={token}")
            page.wait_for_selector(".jp-Notebook", timeout=60_000)
            time.sleep(3)
            page.click("text=Run", timeout=30_000)
            page.click("text=Run All Cells", timeout=30_000)
            try:
                # the cross-trial panel is drawn once its two figures are in
                page.wait_for_function(
                    "document.querySelectorAll('.jp-OutputArea-output img').length >= 2",
                    timeout=240_000,
                )
            finally:
                page.screenshot(path="/tmp/explore-page.png")  # for debugging a failed run
            time.sleep(4)
            panel = page.locator(".jp-OutputArea-output:has(.widget-dropdown)").first
            panel.scroll_into_view_if_needed()
            time.sleep(2)
            panel.screenshot(path=str(OUT))
            b.close()
    finally:
        lab.terminate()
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
