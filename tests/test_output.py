"""Writing results: folders, figures without timestamps, timings kept apart."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

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


def test_a_captioned_figure_shows_the_saved_file_at_screen_size(tmp_path, monkeypatch):
    import IPython.display

    from analysis import figures

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: shown.extend(objs))
    fig, ax = plt.subplots(figsize=(4, 3), dpi=figures.SCREEN_DPI)
    ax.plot([1, 2, 3], [3, 1, 2])
    path = output.save_figure(fig, tmp_path, "f", caption="Title. What to see.")
    image, caption = shown
    assert image.data == path.read_bytes()  # drawn once: the file is what is shown
    width_px, _ = output.png_size(image.data)
    assert 3.5 * figures.SAVE_DPI < width_px <= 4 * figures.SAVE_DPI  # tight box, saved dpi
    assert image.width == round(width_px * figures.SCREEN_DPI / figures.SAVE_DPI)
    assert caption.data == "Figure: Title. What to see."
    assert not plt.fignum_exists(fig.number)  # closed, so not shown a second time


def test_a_saved_figure_is_the_drawn_figure_in_256_colours_at_print_resolution(tmp_path):
    import io

    import numpy as np
    from PIL import Image

    from analysis import figures

    fig, ax = plt.subplots(figsize=(4, 3))
    x = np.linspace(0, 1, 200)
    for k in range(12):  # many blended colours: more than a palette holds
        ax.fill_between(x, x * k / 12, x * k / 12 + 0.2, alpha=0.3)
        ax.plot(x, np.sin(x * k), lw=1)
    full = io.BytesIO()
    fig.savefig(full, format="png", dpi=figures.SAVE_DPI, bbox_inches="tight")
    path = output.save_figure(fig, tmp_path, "f")
    saved = Image.open(path)
    assert saved.mode == "P" and saved.info["dpi"] == pytest.approx(
        (figures.SAVE_DPI,) * 2, abs=0.02
    )
    drawn = np.asarray(Image.open(full).convert("RGB"), dtype=float)
    assert len(np.unique(drawn.reshape(-1, 3), axis=0)) > 256  # the palette had to choose
    error = np.abs(np.asarray(saved.convert("RGB"), dtype=float) - drawn)
    assert error.shape == drawn.shape  # the same crop
    # on 0..255: a stress case of 24 blended layers; the report's figures differ far less
    assert error.mean() < 1.0 and np.percentile(error, 99) <= 16
    assert path.stat().st_size < 0.6 * full.getbuffer().nbytes
