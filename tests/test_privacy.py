"""Real-data mode: nothing row-level or locating reaches the report, and reruns agree.

A user's file outside the repository, with distinctive patient ids, goes through the real
notebooks (data, one trial model, synthesis) twice with the same seed; every file the runs
write is scanned for each patient id and for the file's location, and the two runs' tables
must be byte-identical.
"""

import json
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from analysis import config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def private_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("privacy")
    root = tmp / "project"
    shutil.copytree(config.DATA, root / "data", ignore=shutil.ignore_patterns("raw"))
    shutil.copytree(
        config.NOTEBOOKS, root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints")
    )
    (root / "params").mkdir()
    (root / "params" / "privacy.yaml").write_text(
        "steps:\n"
        "  - notebook: 01-data\n    parameters: {}\n"
        "  - notebook: 02-trial-model\n    runs: [{trial: consumer_providers}]\n"
        "    parameters: {outcomes: [symptoms], draws: 100, tune: 150, chains: 2,"
        " sensitivity: false}\n"
        "  - notebook: 03-synthesis\n    parameters: {draws: 2000}\n"
    )
    df = pd.read_csv(config.DEFAULT_DATA)
    df = df[df["trial"] == "consumer_providers"]
    ids = {p: f"ZQX{i:05d}PRIV" for i, p in enumerate(df["patient_id"].unique())}
    df["patient_id"] = df["patient_id"].map(ids)
    secret_dir = tmp / "hospital_export_Smith_J"
    secret_dir.mkdir()
    data = secret_dir / "participants.parquet"
    df.to_parquet(data, index=False)
    outs = [tmp / "reports", tmp / "rerun"]
    for out in outs:
        cmd = [sys.executable, "-m", "analysis", "report", "--profile", "privacy"]
        cmd += ["--data", str(data), "--out", str(out)]
        proc = subprocess.run(
            cmd, env={**os.environ, "TRIALBAYES_ROOT": str(root)}, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return outs[0], list(ids.values()), secret_dir, outs[1]


def test_no_patient_id_or_data_location_in_any_output(private_run):
    out, ids, secret_dir, _ = private_run
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.suffix == ".ipynb" for p in files) and (out / "report.html").exists()
    for path in files:
        blob = path.read_bytes()
        leaked = [i for i in ids if i.encode() in blob]
        assert not leaked, f"{path.relative_to(out)} contains patient ids {leaked[:3]}"
        assert secret_dir.name.encode() not in blob, f"{path} names the data folder"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["data"]["name"] == "participants.parquet"  # named, never copied
    # read as a reader would, on screen and printed: no codes, no build words (real-data mode
    # names the trials whose posteriors are evidence)
    assert manifest["report_check"] == [], manifest["report_check"]
    # the saved fits (compressed netCDF, so the byte scan above is not enough): nothing per patient
    import arviz as az

    fits = sorted((out / "idata").glob("*.nc"))
    assert fits
    for path in fits:
        idata = az.from_netcdf(str(path))
        for group in idata.groups():
            ds = idata[group]
            assert "patient" not in ds.dims and "patient" not in ds.coords, (path.name, group)
            values = {str(v) for c in ds.coords for v in ds[c].values.ravel()}
            assert not values & set(ids), path.name
    assert not list(out.rglob("*.parquet"))


def test_tables_hold_aggregates_with_small_cells_suppressed(private_run):
    out, ids, _, _ = private_run
    for path in (out / "tables").glob("*.csv"):
        if not path.read_text().strip():
            continue  # an empty table (nothing to pool with one outcome)
        table = pd.read_csv(path)
        assert "patient_id" not in table.columns, path.name
        assert len(table) < len(ids), f"{path.name} has a row per patient or more"
    baseline = pd.read_csv(out / "tables" / "baseline.csv")
    assert len(baseline) > 0


def test_same_seed_same_data_gives_byte_identical_tables(private_run):
    out, _, _, rerun = private_run
    first = {p.name: p.read_bytes() for p in (out / "tables").glob("*.csv")}
    second = {p.name: p.read_bytes() for p in (rerun / "tables").glob("*.csv")}
    assert len(first) >= 15 and first.keys() == second.keys()
    different = [name for name in first if first[name] != second[name]]
    assert not different, different
