"""Simulation studies: seeds, the fast analysis, Dask runner (worker-independent, resumable),
assurance under a null effect, SBC ranks, tipping points.

The studies share the local clusters of a module (one per worker count), as a report's studies
do: starting a cluster costs more than most of these studies."""

import dataclasses
import os

import numpy as np
import pandas as pd
import pytest

from analysis import memo
from analysis.contract import simulate
from analysis.studies import assurance, laplace, runner, sbc, tipping
from analysis.trialmodel import model


@pytest.fixture(scope="module", autouse=True)
def shared_clusters():
    """The studies below share one local cluster per worker count (``reuse=True``; results
    never depend on the cluster), closed when the module is done."""
    yield
    runner.close_clusters()


@pytest.fixture(scope="module")
def trial_data():
    sc = simulate.scaled_scenario("resource_groups", 158, 20, ["empowerment"])
    df = simulate.simulate_trial(sc, 7)
    return model.prepare_trial_data(df, "resource_groups", "empowerment")


def test_replicate_seeds_are_stable_and_distinct():
    assert runner.replicate_seed(1, 2, 3) == runner.replicate_seed(1, 2, 3)
    seeds = {runner.replicate_seed(1, 0, r) for r in range(1000)}
    assert len(seeds) == 1000
    assert runner.replicate_seed(1, 0, 0) != runner.replicate_seed(2, 0, 0)


def test_scaled_scenario_keeps_proportions():
    sc = simulate.scaled_scenario("resource_groups", 1001, 40, ["empowerment"])
    assert sum(sc.arms.values()) == 1001 and abs(sc.arms["fact_rg"] - 1001 * 80 / 158) < 1
    assert sum(sc.site_sizes) == 1001 and max(sc.site_sizes) - min(sc.site_sizes) <= 1
    assert list(sc.outcomes) == ["empowerment"]
    with pytest.raises(ValueError, match="at least 2 patients per site"):
        simulate.scaled_scenario("resource_groups", 30, 20)


def test_laplace_effect_is_close_to_the_truth_on_a_large_trial():
    sc = simulate.scaled_scenario("resource_groups", 2000, 80, ["empowerment"])
    df = simulate.simulate_trial(sc, 3)
    data = model.prepare_trial_data(df, "resource_groups", "empowerment")
    mean, sd, _, converged = laplace.fast_effect(data, 18)
    truth = sc.outcomes["empowerment"].effect["fact_rg"][18]
    assert converged and abs(mean - truth) < 3 * sd and sd < 0.1


def _tiny_tasks(spec, seed, n=6):
    return assurance.assurance_tasks(spec, [assurance.Design(60, 10)], n, seed)


def test_dask_results_do_not_depend_on_workers_and_resume_from_cache(tmp_path):
    spec = assurance.AssuranceSpec(0.3, 0.1)
    tasks = _tiny_tasks(spec, 11)
    one = runner.run_study("t", tasks, None, workers=1, chunk_size=2, progress=None, reuse=True)
    two = runner.run_study("t", tasks, tmp_path, workers=2, chunk_size=2, progress=None, reuse=True)
    assert two.workers == 2 and one.workers == 1
    cols = ["key", "true_effect", "post_mean", "post_sd", "prob", "success"]
    pd.testing.assert_frame_equal(one.results[cols], two.results[cols])
    assert (two.results["status"] == "ok").all() and two.computed == 6
    # an interrupted study resumes: remove one chunk's file, run again
    files = sorted((tmp_path / "t").glob("chunk-*.json"))
    assert len(files) == 3
    files[0].unlink()
    again = runner.run_study(
        "t", tasks, tmp_path, workers=1, chunk_size=2, progress=None, reuse=True
    )
    assert again.from_cache == 4 and again.computed == 2
    pd.testing.assert_frame_equal(again.results[cols], two.results[cols])


def test_closing_shared_clusters_restores_dask_default_scheduler():
    """Two kept clusters (one and two workers), then closed: Dask's default scheduler is again
    what it was (closed oldest first, the first client would restore the second's, and a later
    ``to_netcdf`` would ask for a closed distributed client)."""
    import dask

    runner.close_clusters()
    before = dask.config.get("scheduler", None)
    tasks = _tiny_tasks(assurance.AssuranceSpec(0.3, 0.1), 5, 2)
    for workers in (1, 2):
        runner.run_study("s", tasks, None, workers=workers, progress=None, reuse=True)
    assert dask.config.get("scheduler", None) == "dask.distributed"
    runner.close_clusters()
    assert dask.config.get("scheduler", None) == before


def test_existing_scheduler_by_address(monkeypatch):
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    )
    try:
        monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.scheduler_address)
        run = runner.run_study(
            "addr", _tiny_tasks(assurance.AssuranceSpec(0.3, 0.1), 4, 2), None, progress=None
        )
        assert run.workers == 1 and (run.results["status"] == "ok").all()
    finally:
        cluster.close()


def test_null_effect_assurance_is_the_false_positive_rate(tmp_path):
    """With a true effect of zero, success is a false positive: about 1 - threshold."""
    spec = assurance.AssuranceSpec(0.0, 0.0, threshold=0.9)
    n = 200
    tasks = assurance.assurance_tasks(spec, [assurance.Design(80, 10)], n, 21)
    run = runner.run_study(
        "null", tasks, tmp_path, workers=2, chunk_size=25, progress=None, reuse=True
    )
    table = assurance.assurance_table(run.results)
    rate = table["assurance"].iloc[0]
    mc = np.sqrt(0.1 * 0.9 / n)
    assert abs(rate - 0.1) < 3 * mc, rate


def test_failed_replicates_are_counted_not_raised():
    def boom(*_):
        raise RuntimeError("bad replicate")

    rows = runner._run_chunk([("a", boom, ()), ("b", lambda: {"x": 1}, ())])
    assert [r["status"] for r in rows] == ["failed", "ok"]
    assert "bad replicate" in rows[0]["error"]


def test_sbc_uniformity_flags_non_uniform_ranks():
    rng = np.random.default_rng(0)
    ranks = pd.DataFrame({"good": rng.integers(0, 100, 500), "bad": rng.integers(0, 30, 500)})
    out = sbc.sbc_uniformity(ranks, 99).set_index("parameter")
    assert out.loc["good", "p_value"] > 0.001 and out.loc["bad", "p_value"] < 1e-10


def test_tipping_point_shifts_by_exposure():
    draws = np.random.default_rng(1).normal(0.3, 0.1, 4000)
    tab = tipping.tipping_point_table(draws, 0.2, 0.1, [-1.0, 0.0], 0.95).set_index(
        ["delta_treated", "delta_control"]
    )
    assert tab.loc[(0.0, 0.0), "mean"] == pytest.approx(draws.mean())
    assert tab.loc[(-1.0, 0.0), "mean"] == pytest.approx(draws.mean() - 0.2)
    assert tab.loc[(0.0, -1.0), "mean"] == pytest.approx(draws.mean() + 0.1)
    assert tab.loc[(0.0, 0.0), "conclusion_holds"] and not tab.loc[(-1.0, 0.0), "conclusion_holds"]
    assert (tab["prob_benefit_mcse"] >= 0).all() and tab["prob_benefit_mcse"].max() < 0.02


def test_tipping_point_table_is_each_shifted_posterior_summarised_afresh():
    """Every cell equals the summaries of its own shifted draws (mean, interval, their Monte
    Carlo errors, P(benefit) and its error), computed directly; autocorrelated chains."""
    from analysis import rules
    from analysis.trialmodel.summarise import _mcse

    rng = np.random.default_rng(4)
    noise = rng.normal(0, 0.1, (2, 600))
    draws = 0.2 + np.stack([np.convolve(c, np.ones(5) / 5, mode="same") for c in noise])
    deltas = [-1.0, -0.5, 0.0, 0.5]
    tab = tipping.tipping_point_table(draws, 0.3, 0.2, deltas, 0.9)
    assert len(tab) == 16 and tab["prob_benefit"].nunique() > 3  # the grid crosses zero
    for row in tab.itertuples():
        adj = draws + row.delta_treated * 0.3 - row.delta_control * 0.2
        benefit = (adj > 0).astype(float)
        expected = {
            "mean": adj.mean(),
            "lower": np.quantile(adj, rules.LOWER),
            "upper": np.quantile(adj, rules.UPPER),
            "lower_mcse": _mcse(adj, "quantile", rules.LOWER),
            "upper_mcse": _mcse(adj, "quantile", rules.UPPER),
            "prob_benefit": benefit.mean(),
            "prob_benefit_mcse": _mcse(benefit, "mean"),
        }
        for name, value in expected.items():
            assert getattr(row, name) == pytest.approx(value, rel=1e-9, abs=1e-12), name
        assert row.conclusion_holds == (benefit.mean() > 0.9)


def test_a_shift_at_each_missing_visit_weighs_early_dropout_more():
    """rbmi's delta template: the shift accumulates over the visits missed, so an arm whose
    patients left after baseline is exposed twice as much as one whose patients missed only
    the last visit, with the same share missing."""
    early = np.array([[1, 0, 0], [1, 1, 1], [1, 0, 0], [1, 1, 1]], dtype=bool)
    late = np.array([[1, 1, 0], [1, 1, 1], [1, 1, 0], [1, 1, 1]], dtype=bool)
    assert tipping.exposure(late) == pytest.approx(0.5)  # half missing the last visit
    assert tipping.exposure(early) == pytest.approx(1.0)  # the same half, two visits each


def test_assurance_spec_rejects_bad_rules():
    with pytest.raises(ValueError, match="rule"):
        assurance.AssuranceSpec(0.3, 0.1, rule="magic")
    with pytest.raises(ValueError, match="threshold"):
        assurance.AssuranceSpec(0.3, 0.1, threshold=1.5)


def test_sbc_on_dask_does_not_depend_on_workers(trial_data):
    """Two SBC replicates (short chains) on one and on two workers give the same ranks."""
    spec = sbc.SBCSpec(draws=60, tune=60, chains=1, thin_to=19)
    tasks = sbc.sbc_tasks(spec, trial_data, 2, seed=8)
    one = runner.run_study("sbc", tasks, None, workers=1, chunk_size=1, progress=None, reuse=True)
    two = runner.run_study("sbc", tasks, None, workers=2, chunk_size=1, progress=None, reuse=True)
    assert (one.results["status"] == "ok").all(), one.results["error"].tolist()
    pd.testing.assert_frame_equal(one.results, two.results)
    ranks = one.results.drop(columns=["key", "status", "error", "rep", "divergences"])
    # every population parameter of the primary (unstructured) model: alpha (3), beta (2),
    # sigma_site, sigma_site_effect, visit_sd (3) and the three distinct correlations (the
    # diagonal is constant and the lower triangle mirrors the upper)
    assert ranks.shape == (2, 13) and "sigma_site_effect" in ranks
    v0, v1, v2 = trial_data.visits  # named by their coordinates, as the diagnostics are
    assert {f"visit_corr[{v0}, {v1}]", f"visit_corr[{v0}, {v2}]", f"visit_corr[{v1}, {v2}]"} <= set(
        ranks
    )
    assert f"visit_corr[{v0}, {v0}]" not in ranks and f"visit_corr[{v1}, {v0}]" not in ranks
    assert {f"alpha[{v}]" for v in trial_data.visits} <= set(ranks)
    assert ranks.isin(range(20)).all().all()


def test_sbc_prior_draws_are_cached_by_data_seed_and_code(trial_data, tmp_path, monkeypatch):
    """With a cache folder the prior draws are made once: the next call with the same data,
    replicates and seed reads them (equal tasks, PyMC's prior never run); another seed, other
    data or changed code draws again."""
    spec = sbc.SBCSpec()
    first = sbc.sbc_tasks(spec, trial_data, 3, seed=8, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("sbc-prior-*.joblib"))) == 1
    calls = []
    real = sbc.sbc_prior_draws
    monkeypatch.setattr(sbc, "sbc_prior_draws", lambda *a: calls.append(a) or real(*a))
    again = sbc.sbc_tasks(spec, trial_data, 3, seed=8, cache_dir=tmp_path)
    assert calls == []
    assert runner.chunk_key(b"", again) == runner.chunk_key(b"", first)
    sbc.sbc_tasks(spec, trial_data, 3, seed=9, cache_dir=tmp_path)
    other = dataclasses.replace(trial_data, y=trial_data.y + 0.1)
    sbc.sbc_tasks(spec, other, 3, seed=8, cache_dir=tmp_path)
    monkeypatch.setattr(memo, "code_fingerprint", lambda: "changed")
    sbc.sbc_tasks(spec, trial_data, 3, seed=8, cache_dir=tmp_path)
    assert len(calls) == 3
    assert len(list(tmp_path.glob("sbc-prior-*.joblib"))) == 4


def test_cache_key_covers_the_code(tmp_path, monkeypatch):
    """Cached replicates are not reused once the analysis code (or a scenario) changes."""
    tasks = _tiny_tasks(assurance.AssuranceSpec(0.3, 0.1), 13, 2)
    first = runner.run_study(
        "c", tasks, tmp_path, workers=1, chunk_size=2, progress=None, reuse=True
    )
    assert first.computed == 2
    again = runner.run_study(
        "c", tasks, tmp_path, workers=1, chunk_size=2, progress=None, reuse=True
    )
    assert again.from_cache == 2
    monkeypatch.setattr(runner, "code_fingerprint", lambda: "changed code")
    changed = runner.run_study(
        "c", tasks, tmp_path, workers=1, chunk_size=2, progress=None, reuse=True
    )
    assert changed.from_cache == 0 and changed.computed == 2


def test_cache_key_is_the_same_in_every_process():
    """A chunk's key does not depend on the process's hash seed (dict and set order): a report
    run outside make (no PYTHONHASHSEED) still finds the replicates of the last run."""
    import subprocess
    import sys

    code = (
        "from analysis.contract import validate; from analysis.studies import sbc, runner; "
        "from analysis.trialmodel import model; "
        "d = model.prepare_trial_data(validate.load_trial_data(), 'resource_groups', 'empowerment'); "
        "print(runner.chunk_key(b'', sbc.sbc_tasks(sbc.SBCSpec(), d, 3, 1)))"
    )
    keys = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert len(keys) == 1 and len(keys.pop()) == 40  # joblib sha1


def test_sbc_covers_every_population_parameter_and_states_its_power():
    from analysis.trialmodel.diagnostics import POPULATION_VARS

    assert sbc.SBCSpec().parameters == POPULATION_VARS  # sigma_site_effect included
    few, many = sbc.sbc_power(60, n_sim=400), sbc.sbc_power(200, n_sim=400)
    # more replicates detect smaller miscalibration, in every direction
    assert many["bias"] < few["bias"] and many["sd_too_wide"] < few["sd_too_wide"]
    assert many["sd_too_narrow"] > few["sd_too_narrow"]
    assert "200 replicates" in sbc.power_markdown(200, 99)


def test_design_ranking_pairs_designs_on_shared_true_effects():
    """Paired over replicates that share their true effect, a design whose successes differ
    from the best's in a few replicates only is resolved (tiny MCSE), while the unpaired
    assurances' intervals would overlap; a design equal to the best is not 'distinguishable'."""
    rng = np.random.default_rng(3)
    base = rng.random(400) < 0.6  # the best design's successes
    worse = base.copy()
    worse[np.flatnonzero(base)[:24]] = False  # 24 fewer successes, on the same replicates
    same = base.copy()
    rows = [
        {"n_patients": n, "n_sites": 10, "rep": r, "success": bool(v)}
        for n, col in ((320, base), (160, worse), (240, same))
        for r, v in enumerate(col)
    ]
    ranking = assurance.design_ranking(pd.DataFrame(rows)).set_index("n_patients")
    assert ranking.loc[160, "difference"] == pytest.approx(-24 / 400)
    assert ranking.loc[160, "distinguishable"] and ranking.loc[160, "mcse"] < 0.015
    unpaired_se = np.sqrt(2 * 0.6 * 0.4 / 400)  # what two independent estimates would give
    assert 24 / 400 < 2 * unpaired_se  # unpaired, the two would not be told apart
    assert not ranking.loc[240, "distinguishable"] and ranking.loc[240, "difference"] == 0
    assert not ranking.loc[320, "distinguishable"]


def test_replicate_r_of_every_design_shares_its_true_effect():
    """Common random numbers: the true effect of replicate r is the same at every design (and
    differs between replicates), while each design's trial is simulated from its own stream."""
    spec = assurance.AssuranceSpec(0.5, 0.3)
    designs = [assurance.Design(60, 10), assurance.Design(120, 20)]
    tasks = assurance.assurance_tasks(spec, designs, 3, seed=4)
    effect = {}
    for _, _, args in tasks:
        drawn, _ = assurance.simulate_replicate(spec, args[1], args[3], args[4])
        effect.setdefault(args[2], set()).add(round(drawn, 12))
    assert all(len(v) == 1 for v in effect.values())
    assert len({next(iter(v)) for v in effect.values()}) == 3
    assert tasks[0][2][3] != tasks[3][2][3]  # own simulation streams
