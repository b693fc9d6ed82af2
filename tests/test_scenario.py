import pytest
import yaml

from analysis import config
from analysis.contract.scenario import ScenarioError, load_scenario, scenario_provenance


def test_resource_group_scenario_reproduces_published_design():
    sc = load_scenario("resource_groups")
    assert sc.arms == {"fact_rg": 80, "fact": 78}
    assert len(sc.site_sizes) == 20 and min(sc.site_sizes) == 2 and max(sc.site_sizes) == 18
    assert sum(sc.site_sizes) == 158
    assert sc.visits == [0, 9, 18]
    assert sc.outcomes["empowerment"].effect["fact_rg"][18] == pytest.approx(0.54)
    assert sc.outcomes["symptoms"].effect["fact_rg"][18] == 0


def test_consumer_provider_scenario_is_null_with_203_clients():
    sc = load_scenario("consumer_providers")
    assert sc.n_patients == 203 and len(sc.arms) == 3
    for o in sc.outcomes.values():
        assert all(v == 0 for arm in o.effect.values() for v in arm.values())


@pytest.mark.parametrize("trial", config.TRIALS)
def test_every_number_is_published_with_source_or_assumed_with_reason(trial):
    prov = scenario_provenance(trial)
    assert set(prov["status"]) <= {"published", "assumed"}
    assert prov["note"].str.len().gt(5).all()
    assert (prov["status"] == "assumed").any()


def test_published_number_without_source_is_rejected(tmp_path):
    raw = yaml.safe_load((config.SCENARIOS / "resource_groups.yaml").read_text())
    del raw["arms"]["source"]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ScenarioError, match="arms is published but has no 'source'"):
        load_scenario(path)


def test_site_sizes_must_sum_to_arm_sizes(tmp_path):
    raw = yaml.safe_load((config.SCENARIOS / "resource_groups.yaml").read_text())
    raw["site_sizes"]["value"] = [10] * 20
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ScenarioError, match="sum to 200 but arms sum to 158"):
        load_scenario(path)
