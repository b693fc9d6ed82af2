"""Write the data set of the independent MMRM agreement test (tests/data/mmrm_reference/data.csv).

One outcome (empowerment) of a resource-group-like trial with 400 patients in one site (no team
effects, so R's ``nlme::gls`` fits the same model), three visits, the default scenario's
non-exchangeable within-patient covariance and its dropout (missing at random). Then run
``Rscript scripts/nlme_reference.R`` to refresh the reference numbers.
"""

from pathlib import Path

from analysis.contract.simulate import scaled_scenario, simulate_trial

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "mmrm_reference" / "data.csv"
SEED = 20261125

if __name__ == "__main__":
    sc = scaled_scenario("resource_groups", 400, 1, outcomes=["empowerment"])
    df = simulate_trial(sc, SEED)
    df = df.drop(columns=[c for c in ("age", "sex") if c in df])
    OUT.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(OUT, index=False)
    print(f"wrote {len(df)} rows to {OUT}")
