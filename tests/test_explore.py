"""The live explorer: every control of every panel, driven programmatically, changes what is
shown. (How fast each answers is measured by ``make bench``, not asserted here: a timed unit
test measures the CI machine's load.)"""

import pytest

from analysis import explore


@pytest.fixture(scope="module")
def cross():
    return explore.cross_trial_panel(explore.CrossTrial(None))


def _change(panel, name, value):
    """Set one control; return whether the panel's output changed."""
    before = (panel.table.value, getattr(panel.image, "__len__", None) and panel.image[0].value)
    panel.controls[name].value = value
    after = (panel.table.value, getattr(panel.image, "__len__", None) and panel.image[0].value)
    return after != before


CROSS_CHANGES = [
    ("bridge_mean", 0.3),
    ("bridge_sd", 1.0),
    ("tau_prior", "rhodes-mental-health"),
    ("tau_prior", "half-normal"),
    ("tau_scale", 0.6),
    ("effect_prior_sd", 0.5),
    ("map_prior", True),
    ("map_weight", 0.5),
    ("outcome", "quality_of_life"),
]


def test_every_cross_trial_control_changes_the_answer(cross):
    for name, value in CROSS_CHANGES:
        changed = _change(cross, name, value)
        assert changed, f"{name} = {value!r} left the output unchanged"
        assert getattr(cross.answer.controls, name) == value


def test_the_bridge_moves_the_cross_trial_contrast_by_its_shift():
    """With the bridge as the only link, shifting its mean by 0.4 shifts FACT plus resource
    group vs consumer-assisted case management by 0.4 (same draws otherwise)."""
    ct = explore.CrossTrial(None)

    def contrast(mean):
        lg = ct.answer(explore.CrossTrialControls(outcome="empowerment", bridge_mean=mean)).league
        return lg[(lg["treatment"] == "fact_rg") & (lg["reference"] == "cacm")]["mean"].iloc[0]

    assert contrast(0.4) - contrast(0.0) == pytest.approx(0.4, abs=0.02)


def test_evidence_rows_switch_off_and_back_on(cross):
    cross.controls["outcome"].value = "empowerment"
    boxes = cross.widget.children[0].children[1].children[1:]
    assert len(boxes) >= 2, "no evidence rows shown"
    before = cross.table.value
    boxes[0].value = False
    assert cross.answer.controls.dropped == (boxes[0].row,) and cross.table.value != before
    for b in boxes:  # every row off: a message, not a crash
        b.value = False
    assert "no evidence left" in cross.status.value
    for b in boxes:
        b.value = True
    assert cross.answer.controls.dropped == ()


def test_design_controls_change_the_assurance():
    """Every control of the design panel, in the order ``make bench`` times them (few simulated
    trials until the last change sets their number: this checks the wiring, the next test and
    ``tests/test_studies.py`` the assurance itself)."""
    from analysis.bench import EXPLORER_CHANGES

    panel = explore.design_panel(
        explore.ReplicationDesign(None), explore.DesignControls(replicates=4)
    )
    names = {name for name, _ in EXPLORER_CHANGES["design"]}
    assert names == {"n_patients", "n_teams", "design_prior", "rule", "threshold", "replicates"}
    for name, value in EXPLORER_CHANGES["design"]:
        changed = _change(panel, name, value)
        assert changed and getattr(panel.answer.controls, name) == value, name


def test_a_larger_trial_has_higher_assurance():
    """Paired replicates (the same true effects and seeds at both sizes): about 0.35 against
    0.95 here, five Monte Carlo SEs apart with 20 simulated trials each."""
    d = explore.ReplicationDesign(None)
    small = d.answer(explore.DesignControls(n_patients=60, n_teams=8, replicates=20))
    large = d.answer(explore.DesignControls(n_patients=600, n_teams=40, replicates=20))
    assert large.assurance > small.assurance + 2 * max(small.mcse, large.mcse)


def test_every_trial_control_triggers_a_refit_with_its_value(monkeypatch):
    """The wiring: each control of the trial panel refits with its new value (the refit is
    recorded, not run; the real refits are the next test's)."""
    import pandas as pd

    calls = []

    def fake_answer(self, c):
        calls.append(c)
        effects = pd.DataFrame({"arm": ["a"], "estimate": [len(calls) * 0.1]})
        return explore.TrialAnswer(c, effects, 0.0, False, True)

    monkeypatch.setattr(explore.TrialRefit, "answer", fake_answer)
    panel = explore.trial_panel(explore.TrialRefit(None, None, "smoke"))
    for name, value in [
        ("effect_prior_sd", 0.3),
        ("covariance", "ar1"),
        ("likelihood", "student"),
        ("covariates", True),
        ("outcome", "quality_of_life"),
        ("trial", "consumer_providers"),
    ]:
        n = len(calls)
        changed = _change(panel, name, value)
        assert changed and len(calls) == n + 1, name
        assert getattr(calls[-1], name) == value
    assert calls[-1].outcome == "symptoms"  # a new trial starts at its own first outcome
    assert all(not c.disabled for c in panel.controls.values())  # released after each refit


@pytest.mark.slow
def test_every_refit_is_warm_and_compared_with_the_report():
    """Every control, structure changes included, refits without compiling (the native density
    is compiled once per machine, not per structure; ``make bench`` times the refits)."""
    from analysis import config

    report = config.ROOT / "tests" / "data"  # tests/data/tables: a smoke run's result tables
    panel = explore.trial_panel(explore.TrialRefit(None, report, "smoke"))
    assert "report_estimate" in panel.answer.effects
    default_prior = panel.answer.effects["estimate"].iloc[0]
    for name, value in [("effect_prior_sd", 0.2), ("outcome", "quality_of_life")]:
        changed = _change(panel, name, value)
        assert changed and not panel.answer.compiled, name
    panel.controls["outcome"].value = "empowerment"
    assert abs(panel.answer.effects["estimate"].iloc[0]) <= abs(default_prior) + 1e-9  # shrunk
    for name, value in [("covariance", "intercept"), ("likelihood", "student")]:
        changed = _change(panel, name, value)
        assert changed and not panel.answer.compiled, name
    assert "Refitted in" in panel.table.value
    eff = panel.answer.effects
    assert {"estimate", "lower", "upper", "prob_benefit", "prob_mcid", "change"} <= set(eff)
    assert (eff["lower"] <= eff["estimate"]).all() and (eff["estimate"] <= eff["upper"]).all()
