import pandas as pd

from analysis import config, registry


def test_each_trial_has_one_comparator_and_known_colours():
    arms = registry.load_arm_registry()
    for trial, sub in arms.groupby("trial"):
        assert sub["comparator"].sum() == 1, trial
        assert sub["colour"].str.fullmatch(r"#[0-9A-Fa-f]{6}").all()
    assert registry.comparator("resource_groups") == "fact"
    assert registry.comparator("consumer_providers") == "standard"
    assert registry.trial_arms("consumer_providers")[-1] == "standard"


def test_outcome_registry_is_complete_and_consistent():
    reg = registry.load_outcome_registry()
    assert set(reg["trial"]) == set(config.TRIALS)
    assert set(registry.trial_outcomes("resource_groups")) >= {
        "empowerment",
        "quality_of_life",
        "personal_recovery",
        "disability",
        "symptoms",
    }
    assert set(registry.trial_outcomes("consumer_providers")) == {
        "symptoms",
        "quality_of_life",
        "satisfaction",
        "social_network",
    }
    assert registry.trial_outcomes("resource_groups")[0] == "empowerment"
    assert (reg["scale_min"] < reg["scale_max"]).all()
    assert reg["visits"].map(lambda v: v[0] == 0 and list(v) == sorted(v)).all()
    assert reg["source"].str.len().gt(20).all()
    assert (reg["mcid"].dropna() > 0).all()
    # the resource-group visits are the published ones
    assert registry.trial_visits("resource_groups") == [0, 9, 18]


def test_get_outcome_direction_and_unknown():
    assert registry.get_outcome("resource_groups", "empowerment").direction == 1
    assert registry.get_outcome("resource_groups", "disability").direction == -1
    try:
        registry.get_outcome("resource_groups", "nope")
    except KeyError as exc:
        assert "nope" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("unknown outcome accepted")


def test_every_outcome_file_row_is_unique():
    reg = pd.read_csv(config.OUTCOMES_FILE)
    assert not reg.duplicated(["trial", "outcome"]).any()


def test_the_synthesis_notebook_defaults_are_the_network_settings():
    """The bridge prior has one home (data/registry/network.yaml); the notebook's parameter
    defaults repeat it for interactive use and must agree."""
    import ast

    import nbformat

    nb = nbformat.read(config.NOTEBOOKS / "03-synthesis.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    defaults = {
        n.target.id: ast.literal_eval(n.value)
        for n in ast.parse(cell.source).body
        if isinstance(n, ast.AnnAssign)
    }
    net = registry.network()
    assert defaults["bridge_mean"] == net["bridge"]["mean"]
    assert defaults["bridge_sd"] == net["bridge"]["sd"]
    for key in ("mean", "sd", "weight"):
        assert defaults[f"map_{key}"] == net["map_prior"][key]


def test_trial_parts_follow_the_arm_registry():
    parts = registry.trial_parts()
    assert {"fact_rg", "fact"} in parts and {"cacm", "ncacm", "standard"} in parts
    from analysis.synthesis import nma

    assert nma.depends_on_bridge("fact_rg", "cacm")
    assert not nma.depends_on_bridge("cacm", "standard")
    # a trial sharing an arm joins that part
    assert not nma.depends_on_bridge("x", "standard", [{"x", "standard", "cacm"}, {"fact"}])
