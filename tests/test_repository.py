"""What git holds: notebooks without outputs, no participant data, the pre-commit hooks."""

import json
import subprocess

import pytest

from analysis import config


def _git(*args):
    proc = subprocess.run(["git", *args], cwd=config.ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"not a git checkout: {proc.stderr.strip()}")
    return proc.stdout.splitlines()


def test_tracked_notebooks_have_no_outputs():
    notebooks = [p for p in _git("ls-files", "*.ipynb")]
    assert len(notebooks) >= 5
    for name in notebooks:
        nb = json.loads((config.ROOT / name).read_text())
        for i, cell in enumerate(nb["cells"]):
            if cell["cell_type"] != "code":
                continue
            assert cell.get("outputs") == [], f"{name}: cell {i} has outputs"
            assert cell.get("execution_count") is None, f"{name}: cell {i} has an execution count"


def test_no_participant_data_or_reports_tracked():
    tracked = _git("ls-files")
    assert [f for f in tracked if f.startswith("data/raw/")] == ["data/raw/README.md"]
    assert [f for f in tracked if f.startswith("reports/")] == ["reports/README.md"]
    ignored = _git(
        "check-ignore",
        "data/raw/site_export.csv",
        "reports/report.html",
        "reports/_smoke/tables/x.csv",
    )
    assert len(ignored) == 3
