"""What an executed notebook must not carry into ``reports/``: a user's data path and the
folders and warnings of the machine that built it."""

from __future__ import annotations

import json
from pathlib import Path

from analysis import config


def redact_data_path(notebook: Path, data_path: str) -> None:
    """Replace a user's data path in an executed notebook by its file name.

    Papermill writes the parameters into the notebook (its injected cell and metadata); the
    location of a participant data file stays out of ``reports/`` like the data themselves.
    """
    if not data_path:
        return
    text = notebook.read_text(encoding="utf-8")
    name = Path(data_path).name
    for form in {data_path, json.dumps(data_path)[1:-1]}:
        text = text.replace(form, f"<withheld>/{name}")
    notebook.write_text(text, encoding="utf-8")


def strip_machine_details(notebook: Path, build_dir: Path) -> None:
    """Keep the machine that built the report out of an executed notebook.

    Folders of this machine (the build folder, the project, the home directory) become
    ``reports`` or ``.``, and warning streams (stderr: library warnings naming installed
    files) are dropped; ``logs/`` in the build folder keeps the full record.
    """
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        if "outputs" in cell:
            cell["outputs"] = [
                o
                for o in cell["outputs"]
                if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
            ]
    text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    for folder, shown in (
        (str(build_dir), "reports"),
        (str(config.ROOT), "."),
        (str(Path.home()), "~"),
    ):
        text = text.replace(folder, shown)
    notebook.write_text(text, encoding="utf-8")
