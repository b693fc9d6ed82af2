"""The fast analysis of a simulated trial: the Laplace approximation of the marginal model,
and its check against full MCMC."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import optimize, stats

from analysis.trialmodel import fit, model


class LaplaceFitter:
    """Posterior mode and Gaussian approximation of the marginal trial model.

    One compiled log density per model structure (:class:`analysis.model.ModelSpec`), reused
    for every data set of that structure by swapping the model's data.
    """

    def __init__(self):
        self._compiled: dict = {}

    def _get(self, data: model.TrialData):
        import pymc as pm
        from pymc.blocking import DictToArrayBijection

        spec = model.model_spec(data)
        if spec not in self._compiled:
            m = model.build_trial_model(data)
            fn = m.logp_dlogp_function(ravel_inputs=True, mode="FAST_RUN")
            fn.set_extra_values({})
            point = m.initial_point()
            names = [v.name for v in m.value_vars]
            x0 = DictToArrayBijection.map({n: point[n] for n in names})
            self._compiled[spec] = (m, fn, x0)
        m, fn, x0 = self._compiled[spec]
        pm.set_data(model.model_data(data), model=m, coords={"patient": data.patients})
        return m, fn, x0

    def fit(self, data: model.TrialData) -> dict:
        """Mode and covariance of the unconstrained parameters.

        Returns
        -------
        dict
            ``mean`` (vector), ``cov`` (matrix), ``slices`` (value-variable name -> slice of the
            vector, shape), ``converged`` (bool), ``evaluations`` (gradient evaluations).
        """
        m, fn, x0 = self._get(data)
        n_eval = 0

        def neg(x):
            nonlocal n_eval
            n_eval += 1
            value, grad = fn(x)
            return -float(value), -np.asarray(grad, dtype=float)

        res = optimize.minimize(
            neg, x0.data, jac=True, method="L-BFGS-B", options={"maxiter": 2000, "gtol": 1e-7}
        )
        hess = _hessian(lambda x: neg(x)[1], res.x)
        n_eval += 2 * len(res.x)
        cov = np.linalg.inv(hess)
        cov = 0.5 * (cov + cov.T)
        ok = bool(res.success) and bool(np.all(np.linalg.eigvalsh(hess) > 0))
        slices, start = {}, 0
        for name, shape, _, _ in x0.point_map_info:
            size = int(np.prod(shape))
            slices[name] = (slice(start, start + size), shape)
            start += size
        return {"mean": res.x, "cov": cov, "slices": slices, "converged": ok, "evaluations": n_eval}


def _hessian(grad: Callable, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Central finite differences of an analytic gradient, symmetrised."""
    n = len(x)
    out = np.empty((n, n))
    for i in range(n):
        e = np.zeros(n)
        e[i] = h
        out[i] = (grad(x + e) - grad(x - e)) / (2 * h)
    return 0.5 * (out + out.T)


def effect_posterior(fitted: dict, data: model.TrialData, month: int, arm: str | None = None):
    """Mean and SD (SMD, benefit-positive) of one treatment effect from a Laplace fit."""
    sl, shape = fitted["slices"]["beta"]
    treat = data.treatments.index(arm or data.treatments[0])
    follow = list(data.visits[1:]).index(month)
    idx = sl.start + np.ravel_multi_index((treat, follow), shape)
    sign = 1.0 if data.meta["higher_is_better"] else -1.0
    return sign * fitted["mean"][idx], float(np.sqrt(fitted["cov"][idx, idx]))


LAPLACE = LaplaceFitter()  # one per worker process


_MCMC = None  # nutpie model cache, one per worker process


def mcmc_cache():
    global _MCMC
    if _MCMC is None:
        _MCMC = fit.ModelCache()
    return _MCMC


def laplace_vs_mcmc(
    datasets: list[model.TrialData], settings: fit.SamplerSettings, month: int
) -> pd.DataFrame:
    """The Laplace approximation against full MCMC on the same data sets (one row each)."""
    from analysis.trialmodel.summarise import contrast_draws

    rows = []
    for i, data in enumerate(datasets):
        fitted = LAPLACE.fit(data)
        lm, ls = effect_posterior(fitted, data, month)
        idata, _ = fit.fit_trial_model(data, settings, cache=mcmc_cache())
        sign = 1.0 if data.meta["higher_is_better"] else -1.0
        d = sign * contrast_draws(idata, data, data.treatments[0], data.comparator, month).ravel()
        rows.append(
            {
                "dataset": i,
                "laplace_mean": lm,
                "mcmc_mean": d.mean(),
                "laplace_sd": ls,
                "mcmc_sd": d.std(),
                "laplace_prob": float(stats.norm.sf(0, lm, ls)),
                "mcmc_prob": float((d > 0).mean()),
            }
        )
    out = pd.DataFrame(rows)
    out["mean_gap_in_sd"] = (out["laplace_mean"] - out["mcmc_mean"]).abs() / out["mcmc_sd"]
    out["sd_ratio"] = out["laplace_sd"] / out["mcmc_sd"]
    return out
