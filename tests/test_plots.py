"""Every plot function of every stage: returns a figure, honours ``ax``, labels its axes.

Inputs are result tables of a smoke run (``tests/data/tables/``), checked against the
catalogue so the fixtures cannot drift from what the pipeline writes.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from analysis import catalogue, figures  # noqa: E402
from analysis.contract import plots as data_plots  # noqa: E402
from analysis.studies import plots as study_plots  # noqa: E402
from analysis.synthesis import plots as synthesis_plots  # noqa: E402
from analysis.trialmodel import plots as trial_plots  # noqa: E402

TABLES = Path(__file__).parent / "data" / "tables"
figures.set_theme()  # as the notebooks draw them


def _t(name):
    df = pd.read_csv(TABLES / f"{name}.csv")
    catalogue.table(name).check(df)
    return df


def _cases():
    """(id, function of ax -> figure, number of panels)."""
    effects, pooled = _t("trial_effects"), _t("pooled_effects")
    rg = "resource_groups"
    means, modelled = _t("observed_means"), _t("modelled_means")
    rng = np.random.default_rng(1)
    y = rng.normal(40, 8, (30, 3))
    y[rng.random((30, 3)) < 0.2] = np.nan
    y[:, 0] = rng.normal(40, 8, 30)
    rep = rng.normal(40, 8, (20, 30, 3))
    n_contrasts_rg = len(
        set(
            zip(
                effects.query("trial == @rg")["arm"],
                effects.query("trial == @rg")["comparator"],
                strict=True,
            )
        )
    )
    ranks = _t("synthesis_ranks")
    sbc = _t("sbc_ranks").drop(columns=["rep", "divergences", "trial", "outcome"], errors="ignore")
    sens = _t("sensitivity")
    sens_rg = sens[sens["trial"] == rg]
    tip = _t("tipping_point")
    tip_rg = tip[(tip["trial"] == rg) & (tip["outcome"] == "empowerment")]
    from analysis.report import narrative
    from analysis.report import plots as report_plots

    summary = narrative.summary_table(TABLES.parent)
    return [
        (
            "summary_forest",
            lambda ax: report_plots.plot_summary_forest(summary, ax=ax),
            1,
        ),
        (
            "trajectories",
            lambda ax: data_plots.plot_trajectories(means, rg, modelled=modelled, ax=ax),
            means.query("trial == @rg")["outcome"].nunique(),
        ),
        ("missingness", lambda ax: data_plots.plot_missingness(_t("missingness"), rg, ax=ax), 1),
        ("flow", lambda ax: data_plots.plot_flow(_t("participant_flow"), ax=ax), 1),
        (
            "consort",
            lambda ax: data_plots.plot_consort(_t("participant_flow"), "resource_groups", ax=ax),
            1,
        ),
        ("forest", lambda ax: trial_plots.plot_forest(effects, rg, pooled, ax=ax), n_contrasts_rg),
        (
            "team_effects",
            lambda ax: trial_plots.plot_team_effects(_t("team_effects"), "empowerment", 18, ax=ax),
            1,
        ),
        (
            "predictive",
            lambda ax: trial_plots.plot_predictive(y, rep, [0, 9, 18], "NEL", "posterior", ax=ax),
            3,
        ),
        (
            "sensitivity",
            lambda ax: trial_plots.plot_sensitivity(sens_rg, 18, ax=ax),
            len(set(zip(sens_rg["arm"], sens_rg["comparator"], strict=True))),
        ),
        (
            "network",
            lambda ax: synthesis_plots.plot_network(
                _t("synthesis_evidence"), "empowerment", {}, ax=ax
            ),
            1,
        ),
        (
            "nma_forest",
            lambda ax: synthesis_plots.plot_nma_forest(_t("synthesis_effects"), ax=ax),
            1,
        ),
        (
            "rankogram",
            lambda ax: synthesis_plots.plot_rankogram(ranks, ax=ax),
            ranks["outcome"].nunique(),
        ),
        (
            "bridge_sensitivity",
            lambda ax: synthesis_plots.plot_bridge_sensitivity(_t("bridge_sensitivity"), ax=ax),
            2,
        ),
        ("assurance", lambda ax: study_plots.plot_assurance(_t("assurance"), ax=ax), 1),
        (  # a second design prior at one team count only, as the report runs it
            "assurance_two_priors",
            lambda ax: study_plots.plot_assurance(
                pd.concat(
                    [
                        _t("assurance"),
                        _t("assurance")
                        .query("n_sites == n_sites.min()")
                        .assign(design_prior="sceptical, N(0.00, 0.30²)", assurance=0.2),
                    ]
                ),
                ax=ax,
            ),
            1,
        ),
        ("sbc_ranks", lambda ax: study_plots.plot_sbc_ranks(sbc, 99, ax=ax), sbc.shape[1]),
        (
            "tipping_point",
            lambda ax: study_plots.plot_tipping_point(tip_rg, 0.975, ax=ax),
            1,
        ),
    ]


CASES = _cases()


@pytest.mark.parametrize("name, draw, panels", CASES, ids=[c[0] for c in CASES])
def test_returns_a_labelled_figure(name, draw, panels):
    fig = draw(None)
    assert isinstance(fig, matplotlib.figure.Figure)
    visible = [a for a in fig.axes if a.get_visible() and a.has_data()]
    assert visible, name
    for a in visible:
        if name in ("network", "consort"):  # diagrams: no data axes
            assert a.get_title() or fig._suptitle is not None
            continue
        assert a.get_xlabel() or a.get_ylabel() or a.get_yticklabels(), (name, a)
    assert any(a.get_title() for a in fig.axes) or fig._suptitle is not None, name
    plt.close(fig)


@pytest.mark.parametrize("name, draw, panels", CASES, ids=[c[0] for c in CASES])
def test_honours_the_axes_given(name, draw, panels):
    fig, axes = plt.subplots(1, panels, squeeze=False)
    given = list(axes[0])
    out = draw(given if panels > 1 else given[0])
    assert out is fig, name  # drawn into the caller's figure, not a new one
    assert all(a.has_data() or a.patches or a.collections or a.lines for a in given), name
    plt.close(fig)
    if panels > 1:  # too few axes is an error that says how many are needed
        fig, one = plt.subplots()
        with pytest.raises(ValueError, match=f"{panels} panels"):
            draw(one)
        plt.close(fig)


@pytest.mark.parametrize("name, draw, panels", CASES, ids=[c[0] for c in CASES])
def test_readable_at_print_size(name, draw, panels):
    """Scaled to the printed page, no text (ticks, legends, labels) is below the journal
    minimum (figures.MIN_PRINT_PT)."""
    from analysis import figures

    fig = draw(None)
    small = [(t, round(s, 1)) for t, s in figures.print_font_sizes(fig)]
    small = [(t, s) for t, s in small if s < figures.MIN_PRINT_PT]
    plt.close(fig)
    assert not small, f"{name}: text below {figures.MIN_PRINT_PT} pt when printed: {small[:5]}"


@pytest.mark.parametrize("name, draw, panels", CASES, ids=[c[0] for c in CASES])
def test_no_text_overlaps_other_text(name, draw, panels):
    """No two texts (tick labels, axis labels, titles, legend entries, annotations) overlap:
    an axis label running into another is a clipped, unreadable label."""
    import matplotlib.text

    fig = draw(None)
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    ticks, drawn = set(), []
    for a in fig.axes:
        for axis in (a.xaxis, a.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                ticks.update({id(tick.label1), id(tick.label2)})
                if a.get_visible() and lo - 1e-9 <= tick.get_loc() <= hi + 1e-9:
                    drawn += [tick.label1, tick.label2]
    texts = [t for t in fig.findobj(matplotlib.text.Text) if id(t) not in ticks] + drawn
    boxes = [
        (t.get_window_extent(r).shrunk(0.97, 0.9), t.get_text())
        for t in texts
        if t.get_visible() and t.get_text().strip()
    ]
    clashes = [
        (ta, tb) for k, (a, ta) in enumerate(boxes) for b, tb in boxes[k + 1 :] if a.overlaps(b)
    ]
    plt.close(fig)
    assert not clashes, f"{name}: overlapping texts {clashes[:5]}"


def test_predictive_curves_are_seaborns_kernel_density_estimates():
    """The predictive check's curves (all replicates at once) are the estimates seaborn's
    ``kdeplot`` would draw one by one (same bandwidth, grid and density), and scipy's
    ``gaussian_kde`` on that grid; a constant or too-short sample draws nothing."""
    from scipy import stats
    from seaborn._statistics import KDE

    rng = np.random.default_rng(4)
    samples = rng.normal(3.0, 0.5, (5, 90))
    samples[2, :10] = np.nan  # masked like a visit with missing patients
    curves = trial_plots.kde_curves(samples)
    assert len(curves) == 5
    for row, curve in zip(samples, curves, strict=True):
        x = row[~np.isnan(row)]
        density, support = KDE(bw_method="scott", cut=3, gridsize=200)(x)
        np.testing.assert_allclose(curve[:, 0], support, rtol=1e-12)
        np.testing.assert_allclose(curve[:, 1], density, rtol=1e-9)
        np.testing.assert_allclose(curve[:, 1], stats.gaussian_kde(x)(support), rtol=1e-9)
    flat = np.vstack([np.full(90, 2.0), np.r_[1.0, np.full(89, np.nan)]])
    assert trial_plots.kde_curves(flat) == []


def test_the_summary_forests_group_headings_are_not_crossed_by_lines():
    """The comparison headings sit inside the plot: a white box above the zero line and the
    grid keeps the lines from running through the words."""
    from analysis.report import narrative
    from analysis.report import plots as report_plots

    fig = report_plots.plot_summary_forest(narrative.summary_table(TABLES.parent))
    ax = fig.axes[0]
    headings = [t for t in ax.texts if t.get_fontweight() == "bold"]
    assert headings
    top_line = max(line.get_zorder() for line in ax.lines)
    for text in headings:
        box = text.get_bbox_patch()
        assert box is not None and box.get_facecolor()[:3] == (1.0, 1.0, 1.0)
        assert text.get_zorder() > top_line
    plt.close(fig)
