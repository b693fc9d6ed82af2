"""Independent reference for the MAP prior (tests/test_map_prior.py).

RBesT's normal-endpoint example: the crohn data of its vignette "RBesT for a Normal Endpoint"
(placebo CDAI change in six historical trials; sigma = 88, se = 88 / sqrt(n)) with gMAP's model
and priors (intercept N(0, 88), between-trial SD half-normal(44)). RBesT itself cannot be
installed here (no CRAN access; Debian's rstan lacks the Boost headers brms needs), so the same
hierarchical model is fitted by MCMC in PyMC with NUTS (nutpie), independently of the project's
exact grid computation. The MAP prior is the predictive distribution of a new trial's mean,
mu + N(0, tau^2) per draw. Writes tests/data/map_reference/crohn.csv and pymc.csv.

    python scripts/map_reference.py
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pymc as pm

DIR = Path(__file__).resolve().parents[1] / "tests" / "data" / "map_reference"

if __name__ == "__main__":
    DIR.mkdir(parents=True, exist_ok=True)
    crohn = pd.DataFrame(
        {
            "study": ["Gastr06", "AIMed07", "NEJM07", "Gastr01a", "APhTh04", "Gastr01b"],
            "n": [74, 166, 328, 20, 25, 58],
            "y": [-51, -49, -36, -47, -90, -54],
        }
    )
    crohn["y.se"] = 88 / np.sqrt(crohn["n"])
    crohn.to_csv(DIR / "crohn.csv", index=False)
    with pm.Model():
        mu = pm.Normal("mu", 0.0, 88.0)
        tau = pm.HalfNormal("tau", 44.0)
        z = pm.Normal("z", 0.0, 1.0, shape=len(crohn))  # non-centred, as RBesT's default
        pm.Normal("y", mu + tau * z, crohn["y.se"].to_numpy(), observed=crohn["y"].to_numpy())
        idata = pm.sample(
            10000,
            tune=2000,
            chains=4,
            target_accept=0.99,
            random_seed=689654,
            nuts_sampler="nutpie",
            progressbar=False,
        )
    post = idata.posterior
    mu_d = post["mu"].values.ravel()
    tau_d = post["tau"].values.ravel()
    rng = np.random.default_rng(689654)
    theta = mu_d + tau_d * rng.standard_normal(len(mu_d))
    q = np.quantile(theta, [0.025, 0.5, 0.975])
    out = pd.DataFrame(
        {
            "quantity": [
                "map_mean",
                "map_sd",
                "map_q025",
                "map_q50",
                "map_q975",
                "mu_mean",
                "mu_sd",
                "tau_median",
                "draws",
                "divergences",
            ],
            "value": [
                theta.mean(),
                theta.std(),
                *q,
                mu_d.mean(),
                mu_d.std(),
                np.median(tau_d),
                len(theta),
                int(idata.sample_stats["diverging"].sum()),
            ],
        }
    )
    out["software"] = f"PyMC {pm.__version__} (nutpie NUTS)"
    out.to_csv(DIR / "pymc.csv", index=False)
    print(out)
