"""Shared fixtures: small, session-scoped, deterministic."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def default_data():
    """The embedded simulated data, validated and typed."""
    from analysis.validate import load_trial_data

    return load_trial_data()


@pytest.fixture
def csv_of(tmp_path):
    """Write a frame (or raw text) to a CSV file in a temporary folder and return its path."""

    def write(df_or_text, name="data.csv"):
        path = tmp_path / name
        if isinstance(df_or_text, str | bytes):
            mode = "wb" if isinstance(df_or_text, bytes) else "w"
            with open(path, mode) as fh:
                fh.write(df_or_text)
        else:
            df_or_text.to_csv(path, index=False)
        return path

    return write
