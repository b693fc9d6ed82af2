"""Writing results: folders, figures without timestamps, timings kept apart."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from analysis import output  # noqa: E402


def test_output_dir_creates_tables_and_figures(tmp_path):
    out = output.output_dir(tmp_path / "run")
    assert (out / "tables").is_dir() and (out / "figures").is_dir()
    assert output.output_dir(str(tmp_path / "run")) == out  # idempotent, str accepted


def test_figures_are_byte_identical_between_saves(tmp_path):
    def draw():
        fig, ax = plt.subplots()
        ax.plot([1, 2, 3], [3, 1, 2])
        return fig

    a = output.save_figure(draw(), tmp_path / "a", "f")
    b = output.save_figure(draw(), tmp_path / "b", "f")
    assert a.name == "f.png" and a.parent.name == "figures"
    assert a.read_bytes() == b.read_bytes()  # no software/date metadata
    assert b"Matplotlib" not in a.read_bytes()


def test_timings_go_to_their_own_folder(tmp_path):
    path = output.save_timing(pd.DataFrame({"step": ["x"], "seconds": [1.23456]}), tmp_path, "t")
    assert path == tmp_path / "timings" / "t.csv"
    assert path.read_text() == "step,seconds\nx,1.235\n"
    assert not (tmp_path / "tables").exists()
