"""Intercurrent events as data: validation, the estimand's strategies applied to the data, the
reference-based row that follows the estimand, and the estimand's wording (ICH E9(R1))."""

import numpy as np
import pytest
from conftest import default_as_trial, registry_with, using_registry

from analysis import registry
from analysis.contract import intercurrent, validate
from analysis.trialmodel import statement

TRIAL = "ice_trial"
STRATEGIES = (
    "switched to usual care: J2R; rescue medication: hypothetical; stopped: treatment policy"
)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A trial declaring three event types, and its data: 40% of the active arm switch to usual
    care at month 6 (J2R), 10% of all patients take rescue medication at month 6
    (hypothetical), 10% stop the intervention at month 6 (treatment policy)."""
    reg = registry_with(
        tmp_path_factory.mktemp("ice"),
        {
            "trial": TRIAL,
            "label": "The ICE trial",
            "source": "assumed",
            "citation": "Doe J. Intercurrent events. 2033",
            "intercurrent_strategies": STRATEGIES,
        },
        [("active", "Active", "false"), ("usual", "Usual care", "true")],
        "0;6;12",
    )
    d = default_as_trial(TRIAL, {"fact_rg": "active", "fact": "usual"}, {0: 0, 9: 6, 18: 12})
    rng = np.random.default_rng(4)
    pts = d.drop_duplicates("patient_id")[["patient_id", "arm"]]
    u = rng.random(len(pts))
    event = np.where(
        (pts["arm"] == "active").to_numpy() & (u < 0.4),
        "switched to usual care",
        np.where(u > 0.9, "rescue medication", np.where(u > 0.8, "stopped", "")),
    )
    ev = dict(zip(pts["patient_id"], event, strict=True))
    d["ice"] = d["patient_id"].map(ev)
    d["ice_time"] = np.where(d["ice"] != "", "6", "")
    with using_registry(reg):
        yield d


def _frame(d):
    raw = d.astype(str).replace({"nan": ""}).reset_index(drop=True)
    return raw.assign(_row=np.arange(2, len(raw) + 2))


def test_events_validate_and_type(project):
    out = validate.validate_frame(_frame(project), "ice.csv")
    assert set(out["ice"]) == {"", "switched to usual care", "rescue medication", "stopped"}
    assert out.loc[out["ice"] != "", "ice_time"].eq(6).all()


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.assign(ice=d["ice"].replace("stopped", "moved away")), "no strategy"),
        (lambda d: d.assign(ice_time=""), "an event without a time"),
        (lambda d: d.drop(columns="ice_time"), "'ice' needs 'ice_time'"),
    ],
)
def test_bad_events_are_named(project, change, message):
    with pytest.raises(validate.ValidationError, match=message) as exc:
        validate.validate_frame(_frame(change(project)), "ice.csv")
    assert "ice" in str(exc.value)


def test_strategies_set_aside_what_follows_the_event(project):
    """Hypothetical and reference-based events lose their post-event rows; treatment policy
    keeps them; every patient stays in the analysis."""
    from analysis.trialmodel.model import prepare_trial_data

    kept, own = intercurrent.apply_strategies(project, TRIAL)
    gone = project.loc[project.index.difference(kept.index)]
    assert set(gone["ice"]) == {"switched to usual care", "rescue medication"}
    assert (gone["month"] > 6).all()
    assert set(own.values()) == {"J2R", "hypothetical"}
    data = prepare_trial_data(project, TRIAL, "recovery")
    assert len(data.patients) == project["patient_id"].nunique()
    switched = [i for i, p in enumerate(data.patients) if own.get(p) == "J2R"]
    assert not data.mask[switched, -1].any()
    table = intercurrent.events_table(project)
    row = table.set_index("event").loc["stopped"]
    assert row["strategy"] == "treatment_policy" and row["rows_set_aside"] == 0


@pytest.mark.slow
def test_the_estimand_row_imputes_each_patient_by_their_event(project):
    """With 40% of the active arm switching to usual care (J2R), the estimand's row pulls the
    effect toward no effect from MAR's, and sits between MAR and J2R for everyone."""
    from analysis.trialmodel import fit, missing
    from analysis.trialmodel.model import prepare_trial_data

    data = prepare_trial_data(project, TRIAL, "recovery")
    idata, _ = fit.fit_trial_model(data, fit.SamplerSettings(400, 400, 2, 8))
    rb = missing.reference_based_table(idata, data)
    ia = rb[rb["inference"] == "information_anchored"].set_index("strategy")["estimate"]
    assert (
        "estimand" in ia.index
        and "J2R" in rb.loc[rb["strategy"] == "estimand", "strategy_label"].iloc[0]
    )
    assert ia["estimand"] < ia["MAR"]
    assert ia["J2R"] <= ia["estimand"] + 0.02


def test_the_estimand_says_what_the_data_record(project):
    table = intercurrent.events_table(project)
    text = statement.estimand_markdown(TRIAL, table)
    assert "switched to usual care: jump to reference" in text
    assert "Intercurrent events in the data" in text and "set aside" in text
    assert "missing data, not an intercurrent event" in text
    none = intercurrent.events_table(project.drop(columns=["ice", "ice_time"]))
    text = statement.estimand_markdown(TRIAL, none)
    assert "dropout is taken as the event" in text
    assert registry.ice_strategies(TRIAL)["rescue medication"] == "hypothetical"
