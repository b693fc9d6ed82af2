"""Write the data sets of the independent MMRM agreement tests (``tests/data/mmrm_reference/``).

``data.csv``: one outcome (empowerment) of a resource-group-like trial with 400 patients in one
site (no team effects, so R's ``nlme::gls`` fits the same model), three visits, the default
scenario's non-exchangeable within-patient covariance and its dropout (missing at random).

``weeks.csv``: a trial in weeks with unequally spaced visits (0, 1, 4 and 12), 480 patients in
16 teams with team intercepts, a heterogeneous non-exchangeable covariance, monotone dropout
missing at random (driven by the last observed value) and 5% of patients without a baseline.
It is generated here with numpy alone, independently of the project's simulator, as the trial
``reference_weeks`` (arms ``active`` and ``control``, outcome ``recovery``; the tests declare
it in a registry of their own).

Then run ``Rscript scripts/nlme_reference.R`` to refresh the reference numbers.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.contract.simulate import scaled_scenario, simulate_trial

DIR = Path(__file__).resolve().parents[1] / "tests" / "data" / "mmrm_reference"
SEED = 20261125
WEEKS = (0, 1, 4, 12)


def weeks_trial(seed: int = SEED, n_sites: int = 16, per_site: int = 30) -> pd.DataFrame:
    """The unequally spaced weeks trial (see the module docstring)."""
    rng = np.random.default_rng(seed)
    t = np.array(WEEKS, dtype=float)
    sd = np.array([0.40, 0.44, 0.50, 0.58])
    corr = 0.35 + 0.5 * np.exp(-np.abs(np.subtract.outer(t, t)) / 6.0)  # not AR(1), not CS
    np.fill_diagonal(corr, 1.0)
    cov = corr * np.outer(sd, sd)
    mean = np.array([3.0, 3.05, 3.12, 3.2])
    effect = np.array([0.0, 0.03, 0.10, 0.18])  # no effect at baseline (randomisation)
    rows = []
    for s in range(n_sites):
        team = rng.normal(0.0, 0.15)
        arms = np.array(["active"] * (per_site // 2) + ["control"] * (per_site - per_site // 2))
        rng.shuffle(arms)
        for k, arm in enumerate(arms):
            pid = f"P{s:02d}{k:02d}"
            y = mean + team + (arm == "active") * effect + rng.multivariate_normal(np.zeros(4), cov)
            seen = np.ones(4, dtype=bool)
            for v in range(1, 4):  # monotone dropout, MAR: worse last value, more dropout
                last = y[v - 1] if seen[v - 1] else y[0]
                p = 1.0 / (1.0 + np.exp(-(-2.6 - 2.0 * (last - 3.0))))
                if not seen[v - 1] or rng.random() < p:
                    seen[v:] = False
                    break
            if rng.random() < 0.05:
                seen[0] = False  # no baseline value: still randomised, still analysed
            for v in np.flatnonzero(seen):
                rows.append(
                    (
                        "reference_weeks",
                        f"team{s:02d}",
                        pid,
                        arm,
                        WEEKS[v],
                        "recovery",
                        round(float(y[v]), 4),
                    )
                )
    cols = ["trial", "site", "patient_id", "arm", "time", "outcome", "value"]
    return pd.DataFrame(rows, columns=cols)


if __name__ == "__main__":
    DIR.mkdir(parents=True, exist_ok=True)
    sc = scaled_scenario("resource_groups", 400, 1, outcomes=["empowerment"])
    df = simulate_trial(sc, SEED)
    df = df.drop(columns=[c for c in ("age", "sex") if c in df])
    df.to_csv(DIR / "data.csv", index=False)
    print(f"wrote {len(df)} rows to {DIR / 'data.csv'}")
    weeks = weeks_trial()
    weeks.to_csv(DIR / "weeks.csv", index=False)
    last = weeks[weeks["time"] == WEEKS[-1]]["patient_id"].nunique()
    print(
        f"wrote {len(weeks)} rows to {DIR / 'weeks.csv'}; "
        f"{weeks['patient_id'].nunique()} patients, {last} seen at week {WEEKS[-1]}"
    )
