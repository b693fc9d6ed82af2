import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest

from analysis.trialmodel import diagnostics


def _idata(shift=0.0, diverging=0, seed=0):
    rng = np.random.default_rng(seed)
    beta = rng.normal(0, 1, (2, 500, 1, 2))
    beta[1] += shift  # a stuck second chain when shift is large
    div = np.zeros((2, 500), dtype=bool)
    div[0, :diverging] = True
    return az.from_dict(
        posterior={"beta": beta, "sigma": np.abs(rng.normal(1, 0.1, (2, 500)))},
        sample_stats={"diverging": div},
        coords={"treatment": ["a"], "followup": [9, 18]},
        dims={"beta": ["treatment", "followup"]},
    )


def test_well_mixed_chains_pass_the_gate():
    table = diagnostics.convergence_table(_idata(), "m")
    assert set(table["parameter"]) == {"beta[a, 9]", "beta[a, 18]", "sigma"}
    assert diagnostics.gate_failures(table) == []


def test_disagreeing_chains_and_divergences_fail_naming_model_and_parameter():
    table = diagnostics.convergence_table(_idata(shift=3.0, diverging=4), "trial/outcome")
    fails = diagnostics.gate_failures(table)
    assert any(f.startswith("trial/outcome: beta[a, 9] R-hat") for f in fails)
    assert "trial/outcome: 4 divergent transitions" in fails


def test_full_profile_raises_and_smoke_warns():
    table = pd.DataFrame(
        {
            "model": ["m"],
            "parameter": ["beta"],
            "rhat": [1.2],
            "ess_bulk": [50.0],
            "ess_tail": [60.0],
            "mcse_mean": [0.1],
            "divergences": [0],
        }
    )
    with pytest.raises(diagnostics.ConvergenceError, match="m: beta R-hat 1.200"):
        diagnostics.enforce_gate(table, "full")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fails = diagnostics.enforce_gate(table, "smoke")
    assert len(fails) == 3 and any("warning only" in str(w.message) for w in caught)


def test_one_verdict_gives_the_table_message_and_exit_status():
    """The CLI, the notebooks and the report read the same verdict."""
    table = pd.concat(
        [
            diagnostics.convergence_table(_idata(), "good"),
            diagnostics.convergence_table(_idata(shift=3.0, diverging=2), "bad"),
        ],
        ignore_index=True,
    )
    full = diagnostics.gate_verdict(table, "full")
    smoke = diagnostics.gate_verdict(table, "smoke")
    assert list(full.table["model"]) == ["good", "bad"]
    assert list(full.table["gate"]) == ["pass", "FAIL"]
    assert full.table.loc[1, "divergences"] == 2 and full.table.loc[0, "parameters"] == 3
    assert not full.ok and full.exit_status == 1 and smoke.exit_status == 0
    assert "**FAILED**" in full.markdown() and "short chains" in smoke.markdown()
    assert "1 of 2 fit(s)" in full.headline() and "not results" in full.headline()
    passed = diagnostics.gate_verdict(table[table["model"] == "good"], "full")
    assert passed.ok and passed.exit_status == 0 and "**PASSED**" in passed.markdown()
