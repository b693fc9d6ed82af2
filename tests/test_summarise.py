"""Effect summaries from synthetic posteriors with known answers."""

import arviz as az
import numpy as np
import pandas as pd
import pytest

from analysis.trialmodel import summarise
from analysis.trialmodel.model import TrialData


def _data(higher_is_better=True, mcid=0.5):
    return TrialData(
        trial="consumer_providers",
        outcome="x",
        patients=["p1", "p2", "p3"],
        visits=[0, 12],
        arms=["cacm", "ncacm", "standard"],
        comparator="standard",
        sites=["s1"],
        y=np.zeros((3, 2)),
        arm_idx=np.array([0, 1, 2]),
        site_idx=np.zeros(3, int),
        m0=10.0,
        s0=2.0,
        meta={"higher_is_better": higher_is_better, "mcid": mcid},
    )


def _idata():
    rng = np.random.default_rng(0)
    beta = np.empty((4, 2000, 2, 1))
    beta[..., 0, 0] = rng.normal(0.5, 0.1, (4, 2000))  # cacm: SMD 0.5
    beta[..., 1, 0] = rng.normal(-0.2, 0.1, (4, 2000))  # ncacm: SMD -0.2
    alpha = rng.normal([0.0, 0.3], 0.05, (4, 2000, 2))
    return az.from_dict(
        posterior={"beta": beta, "alpha": alpha},
        coords={"treatment": ["cacm", "ncacm"], "followup": [12], "visit": [0, 12]},
        dims={"beta": ["treatment", "followup"], "alpha": ["visit"]},
    )


DIAG = pd.DataFrame(
    {"rhat": [1.001], "ess_bulk": [5000.0], "ess_tail": [4000.0], "divergences": [0]}
)


def test_three_contrasts_with_scale_direction_and_probabilities():
    eff = summarise.summarise_effects(_idata(), _data(), DIAG).set_index(["arm", "comparator"])
    assert list(eff.index) == [("cacm", "standard"), ("ncacm", "standard"), ("cacm", "ncacm")]
    assert eff.loc[("cacm", "standard"), "smd"] == pytest.approx(0.5, abs=0.01)
    assert eff.loc[("cacm", "standard"), "estimate"] == pytest.approx(1.0, abs=0.02)  # x s0 = 2
    assert eff.loc[("cacm", "ncacm"), "smd"] == pytest.approx(0.7, abs=0.01)
    # P(benefit > MCID 0.5 on the instrument scale): estimate ~ N(1.0, 0.2) -> ~0.994
    assert eff.loc[("cacm", "standard"), "prob_mcid"] == pytest.approx(0.994, abs=0.01)
    assert eff.loc[("ncacm", "standard"), "prob_benefit"] == pytest.approx(0.023, abs=0.01)
    # the diagnostics columns are copied from the fit's diagnostics table
    assert (eff["rhat_max"] == 1.001).all() and (eff["ess_bulk_min"] == 5000).all()
    assert (eff["ess_tail_min"] == 4000).all() and (eff["divergences"] == 0).all()


def test_lower_is_better_flips_benefit_and_missing_mcid_is_empty():
    eff = summarise.summarise_effects(_idata(), _data(higher_is_better=False, mcid=None), DIAG)
    row = eff[(eff["arm"] == "ncacm") & (eff["comparator"] == "standard")].iloc[0]
    assert row["prob_benefit"] == pytest.approx(0.977, abs=0.01)  # a decrease is a benefit
    assert eff["prob_mcid"].isna().all()


def test_modelled_means_share_baseline_and_add_effects():
    means = summarise.summarise_means(_idata(), _data()).set_index(["arm", "month"])
    assert means.loc[("cacm", 0), "mean"] == pytest.approx(means.loc[("standard", 0), "mean"])
    assert means.loc[("standard", 12), "change"] == pytest.approx(0.3 * 2, abs=0.01)
    assert means.loc[("cacm", 12), "change"] == pytest.approx((0.3 + 0.5) * 2, abs=0.01)
