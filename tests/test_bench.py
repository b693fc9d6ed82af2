"""The benchmark's verdicts against the targets (the timings themselves are measured by
`make bench`, never asserted in tests)."""

import pandas as pd

from analysis import bench
from analysis.trialmodel import fit


def _results():
    default = fit.DEFAULT_BACKEND
    form = pd.DataFrame(
        {
            "method": [
                "naive",
                f"project: marginal, nutpie ({default})",
                f"project: marginal, nutpie ({default}), reused",
            ],
            "ess_per_second": [10.0, 50.0, 500.0],
        }
    )
    form["ratio_to_naive"] = form["ess_per_second"] / 10.0
    scale = pd.DataFrame(
        {
            "patients": [158, 10000],
            "teams": [20, 200],
            "seconds": [5.0, 70.0],
            "compiled": [True, False],
        }
    )
    report = pd.DataFrame({"run": ["cold", "warm"], "seconds": [250.0, 130.0]})
    return {"formulation": form, "scale": scale, "report": report}


def test_summary_lines_compare_each_target():
    lines = bench.summary_lines(_results())
    assert lines[0].startswith("ESS/s vs naive (default backend, compiled model reused): 50.0x")
    assert lines[0].endswith("MET")
    assert "incl. compile): 5.0x (target >= 20x) MISSED" in lines[1]
    assert "10000-patient fit: 70.0 s (target <= 60 s) MISSED" in lines[2]
    assert lines[3].endswith("MISSED") and "warm" in lines[3]
    assert lines[4].endswith("MET") and "cold" in lines[4]


def test_bench_figure_has_a_panel_per_part():
    fig = bench.plot_bench(_results(), bench.TARGETS)
    assert len(fig.axes) == 3 and fig.axes[1].get_xlabel() == "patients (log scale)"
