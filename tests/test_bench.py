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
    report = pd.DataFrame({"run": ["cold", "warm", "smoke warm"], "seconds": [250.0, 80.0, 50.0]})
    cold = pd.DataFrame(
        {
            "method": ["native, first run", "native, warm", "numba", "brms (Stan), cold Rscript"],
            "seconds": [15.0, 6.0, 45.0, 51.0],
        }
    )
    explorer = pd.DataFrame({"covariance": ["unstructured", "ar1"], "seconds": [0.8, 2.5]})
    return {
        "cold_fit": cold,
        "formulation": form,
        "scale": scale,
        "explorer": explorer,
        "report": report,
    }


def test_summary_lines_compare_each_target():
    results = _results()
    results["scale_out"] = pd.DataFrame(
        {
            "study": ["sbc", "sbc", "sbc"],
            "where": ["local cluster", "local cluster", "scheduler address"],
            "workers": [1, 2, 2],
            "speed_up": [1.0, 1.35, 1.7],
            "machine_speed_up": [1.0, 1.45, float("nan")],
            "efficiency": [1.0, 1.35 / 1.45, float("nan")],
            "identical": [True, True, True],
        }
    )
    lines = bench.summary_lines(results)
    assert lines[0] == (
        "fit, cold process, machine has run it: 6.0 s (target <= 2.5 s; previous target <= 5 s) "
        "MISSED"
    )
    assert lines[1] == "fit, machine's first run: 15.0 s (target <= 20 s) MET"
    assert lines[2] == "previous formulation / native, cold process: 7.5x"
    assert lines[3] == (
        "brms / native, cold process: 8.5x (target >= 20x; previous target >= 10x) MISSED"
    )
    assert lines[4] == "slowest explorer refit: 2.5 s (target <= 2 s) MISSED"
    assert lines[5].startswith("ESS/s vs naive (default backend, compiled model reused): 50.0x")
    assert lines[5].endswith("MET")
    assert "incl. compile): 5.0x (target >= 20x) MISSED" in lines[6]
    assert "10000-patient fit: 70.0 s (target <= 30 s) MISSED" in lines[7]
    assert lines[8] == (
        "sbc on Dask, 2 local workers vs 1: x1.35, where the same workers gain x1.45 on pure CPU "
        "work (identical results: yes); share: 93.1% (target >= 90%) MET"
    )
    assert lines[9] == "make report warm: 80.0 s (target <= 60 s; previous target <= 90 s) MISSED"
    assert lines[10] == "make report cold: 250.0 s (target <= 180 s) MISSED"
    assert lines[11] == "make smoke warm: 50.0 s (target <= 30 s; previous target <= 60 s) MISSED"


def test_explorer_control_lines_name_each_panel_slowest_change():
    results = _results()
    results["explorer_controls"] = pd.DataFrame(
        {
            "panel": ["cross-trial", "cross-trial", "design", "design"],
            "control": ["bridge_mean", "outcome", "n_patients", "replicates"],
            "seconds": [0.2, 1.4, 3.0, 6.5],
        }
    )
    lines = bench.summary_lines(results)
    assert "slowest cross-trial control: 1.4 s (target <= 1 s) MISSED" in lines
    assert "slowest design control: 6.5 s (target <= 10 s) MET" in lines


def test_a_failed_brms_run_gives_no_ratio():
    results = _results()
    results["cold_fit"]["exit_code"] = [0, 0, 0, 1]
    lines = bench.summary_lines(results)
    assert "brms: failed (exit code 1), no ratio" in lines
    assert not any(line.startswith("brms / native") for line in lines)


def test_bench_figure_has_a_panel_per_part():
    fig = bench.plot_bench(_results(), bench.TARGETS)
    assert len(fig.axes) == 4 and fig.axes[2].get_xlabel() == "patients (log scale)"


def test_a_study_that_does_not_scale_misses_even_on_a_machine_that_does_not():
    results = _results()
    results["scale_out"] = pd.DataFrame(
        {
            "study": ["assurance", "assurance"],
            "where": ["local cluster", "local cluster"],
            "workers": [1, 2],
            "speed_up": [1.0, 1.2],
            "machine_speed_up": [1.0, 1.9],
            "efficiency": [1.0, 1.2 / 1.9],
            "identical": [True, False],
        }
    )
    line = next(x for x in bench.summary_lines(results) if x.startswith("assurance"))
    assert "(identical results: NO); share: 63.2% (target >= 90%) MISSED" in line


def test_the_cpu_probe_is_fixed_work():
    assert bench.cpu_probe(3, n=1000) == bench.cpu_probe(3, n=1000) != bench.cpu_probe(4, n=1000)
