"""Fitting trial models with nutpie's NUTS, with no compile wait.

Three backends (``TRIALBAYES_BACKEND``; ``python -m analysis bench`` measures them side by side):

- ``native`` (default): the model's log density and gradient written by hand as numba C
  callbacks (:mod:`analysis.trialmodel.native`), compiled once per machine and loaded from
  numba's disk cache by every later process; nutpie's Rust sampler calls them without Python.
  A 158-patient outcome samples in about a second from a cold process.
- ``numba``: nutpie compiles PyMC's graph with numba in every process (~20-40 s per structure;
  the generated function cannot be cached). The reference formulation for the tests.
- ``c``: PyTensor's C backend (compiled modules cached on disk), each gradient a Python call.

In memory, for ``numba``/``c``, :class:`ModelCache` keeps one PyMC model and its compiled model
per :class:`analysis.trialmodel.model.ModelSpec` and swaps in new data and prior scales for
every further outcome or prior of the same structure. The native path builds no PyMC graph
and imports neither PyMC nor ArviZ: its fits are :class:`analysis.trialmodel.draws.Draws`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from analysis import config
from analysis.trialmodel import native
from analysis.trialmodel.draws import Draws, as_arviz, sample
from analysis.trialmodel.model import (
    DEFAULT_COVARIANCE,
    PRIOR_SETS,
    ModelSpec,
    Priors,
    TrialData,
    build_trial_model,
    model_data,
    model_spec,
)

if TYPE_CHECKING:  # PyMC is imported where a graph is built, not on the native fit path
    import pymc as pm


@dataclass
class SamplerSettings:
    """MCMC settings; ``seed`` is the run's single random seed."""

    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    seed: int = config.DEFAULT_SEED

    def __post_init__(self):
        for name in ("draws", "tune", "chains"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")


BACKENDS = ("native", "numba", "c")
DEFAULT_BACKEND = os.environ.get("TRIALBAYES_BACKEND", "native")


def compile_model(model: pm.Model, backend: str = DEFAULT_BACKEND):
    """Compile a PyMC model for nutpie's sampler.

    Parameters
    ----------
    model : pymc.Model
    backend : {"numba", "c"}
        ``c``: PyTensor's C backend (compiled code cached on disk across processes; the model's
        ``pm.Data`` containers are read at every evaluation, so ``pm.set_data`` on ``model``
        changes the data of the compiled model). ``numba``: nutpie's default (compiled in
        every process; new data through ``with_data``).

    Returns
    -------
    nutpie.CompiledModel
    """

    import nutpie

    if backend == "numba":
        return nutpie.compile_pymc_model(model)
    if backend != "c":
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    return _compile_c(model)


#: nutpie's private names the C backend relies on (no public interface takes a PyMC model's
#: compiled C functions). A nutpie release may rename them; :func:`check_nutpie` then fails
#: loudly, naming what moved. The native path's names are :data:`draws.LIB_NAMES`.
NUTPIE_PRIVATE = {
    "nutpie.compile_pymc": ("_make_functions", "_prepare_dims_and_coords"),
    "nutpie.compiled_pyfunc": ("from_pyfunc",),
}


def check_nutpie() -> None:
    """Raise ImportError naming every private nutpie name the C backend needs that is missing."""
    import importlib
    from importlib import metadata

    missing = []
    for module, names in NUTPIE_PRIVATE.items():
        mod = importlib.import_module(module)
        missing += [f"{module}.{n}" for n in names if not hasattr(mod, n)]
    if missing:
        raise ImportError(
            f"nutpie {metadata.version('nutpie')} lacks the private names this project uses: "
            f"{', '.join(missing)}; install the version in requirements.lock"
        )


def _compile_c(model: pm.Model):
    """nutpie's Rust NUTS driving PyTensor C functions (one copy of each per chain)."""
    import threading

    check_nutpie()
    from nutpie.compile_pymc import _make_functions, _prepare_dims_and_coords
    from nutpie.compiled_pyfunc import from_pyfunc
    from pymc.initial_point import make_initial_point_fn

    point_fn = make_initial_point_fn(
        model=model,
        default_strategy="support_point",
        jitter_rvs=set(model.free_RVs),
        return_transformed=True,
    )
    n_dim, _, logp_fn, expand_fn, init_fn, shape_info = _make_functions(
        model,
        mode="FAST_RUN",
        compute_grad=True,
        join_expanded=False,
        pymc_initial_point_fn=point_fn,
        var_names=None,
    )
    names, _, shapes = shape_info
    lock = threading.Lock()

    def make_logp():
        fn = logp_fn.copy()  # own intermediate storage; data containers stay shared

        def logp(x, **_):
            value, grad = fn(x)
            return float(value), np.asarray(grad, dtype="float64", order="C")

        return logp

    def make_expand(seed1, seed2, chain):
        fn = expand_fn.copy()

        def expand(x, **_):
            return {
                name: np.asarray(v, dtype="float64", order="C").reshape(shape)
                for name, v, shape in zip(names, fn(x), shapes, strict=True)
            }

        return expand

    def initial_point(seed):
        with lock:
            return init_fn(seed)

    dims, coords = _prepare_dims_and_coords(model, shape_info)
    return from_pyfunc(
        ndim=n_dim,
        make_logp_fn=make_logp,
        make_expand_fn=make_expand,
        make_initial_point_fn=initial_point,
        expanded_dtypes=[np.dtype("float64")] * len(names),
        expanded_shapes=shapes,
        expanded_names=names,
        dims=dims,
        coords=coords,
    )


@dataclass
class ModelCache:
    """Models by structure, reused across data sets and priors.

    With the ``native`` backend (default) nothing is compiled per structure: the PyMC model is
    kept for predictive checks and PSIS-LOO, and sampling runs the disk-cached native density
    (:mod:`analysis.trialmodel.native`). The other backends compile each structure once.
    ``log`` receives a line whenever something is compiled, saying what and why.
    """

    backend: str = DEFAULT_BACKEND
    entries: dict = field(default_factory=dict)
    compiles: int = 0
    log: object = None
    _native_noted: bool = False

    def _say(self, message: str) -> None:
        if callable(self.log):
            self.log(message)

    def describe(self) -> str:
        """What was compiled for this cache's fits, in a sentence for the notebook."""
        if self.backend == "native":
            where = (
                "compiled in this run (the machine's first, or the code changed) and cached on "
                "disk for later runs"
                if native.compiled_here()
                else "loaded from the machine's compile cache: nothing was compiled"
            )
            return (
                f"{len(self.entries)} model structure(s) evaluated by the native log density, "
                f"{where}."
            )
        return f"{self.compiles} model structure(s) compiled by PyTensor ({self.backend})."

    def get(self, data: TrialData, spec: ModelSpec, priors: Priors):
        """Return ``(pymc_model, compiled_model)`` for ``spec`` with ``data`` and ``priors`` set
        (``pymc_model`` is None on the native path, which needs no graph)."""
        if self.backend == "native":  # nothing to compile: the callbacks are cached on disk
            self.entries[spec] = None
            if not self._native_noted and native.compiled_here():
                self._say(
                    "compiled the native log density: the first run on this machine or the "
                    "code changed (cached on disk; later runs load it)"
                )
            self._native_noted = True
            return None, native.compile_native(data, spec, priors)
        values = model_data(data, priors, covariates=bool(spec.covariates))
        fresh = spec not in self.entries
        if fresh:
            model = build_trial_model(
                data,
                spec.covariance,
                spec.likelihood,
                spec.site_slopes,
                priors,
                covariates=bool(spec.covariates),
            )
            self._say(
                f"compiling the {spec.covariance}/{spec.likelihood} model with PyTensor "
                f"({self.backend}): a structure new to this process"
            )
            self.entries[spec] = (model, compile_model(model, self.backend))
            self.compiles += 1
        model, compiled = self.entries[spec]
        if not fresh:  # a model just built holds these data already
            import pymc as pm

            pm.set_data(values, model=model, coords={"patient": data.patients})
        shared = getattr(compiled, "shared_data", None)
        if shared:  # numba: the compiled model holds copies of the data
            compiled = compiled.with_data(**{k: v for k, v in values.items() if k in shared})
        return model, compiled


_DEFAULT_CACHE = ModelCache()
_DATA_DIMS = {
    "z": ["patient", "visit"],
    "mask": ["patient", "visit"],
    "site_idx": ["patient"],
    "treat_idx": ["patient"],
    "is_treated": ["patient"],
    "x": ["patient", "covariate"],
}


def fit_trial_model(
    data: TrialData,
    settings: SamplerSettings | None = None,
    covariance: str = DEFAULT_COVARIANCE,
    likelihood: str = "normal",
    site_slopes: bool | None = None,
    priors: Priors | str = "default",
    cache: ModelCache | None = None,
    covariates: bool = False,
):
    """Fit one trial outcome.

    Parameters
    ----------
    data : TrialData
        From :func:`analysis.model.prepare_trial_data`.
    settings : SamplerSettings, optional
        Draws, tuning steps, chains and seed.
    covariance, likelihood, site_slopes, covariates
        See :func:`analysis.model.build_trial_model`.
    priors : Priors or str
        Prior scales or the name of a set in :data:`analysis.model.PRIOR_SETS`.
    cache : ModelCache, optional
        Compiled-model cache (default: one per process).

    Returns
    -------
    (analysis.trialmodel.draws.Draws, pymc.Model or None)
        ``idata`` with ``posterior`` and ``sample_stats``; its ``attrs`` record the trial,
        outcome, model options and standardisation (``m0``, ``s0``). The PyMC model holds
        ``data`` (None on the native path: build it with
        :func:`analysis.trialmodel.model.build_trial_model` for predictive checks).
    """
    settings = settings or SamplerSettings()
    prior_name = priors if isinstance(priors, str) else "custom"
    if isinstance(priors, str):
        if priors not in PRIOR_SETS:
            raise ValueError(f"unknown prior set {priors!r}; choose from {sorted(PRIOR_SETS)}")
        priors = PRIOR_SETS[priors]
    spec = model_spec(data, covariance, likelihood, site_slopes, priors, covariates)
    cache = cache if cache is not None else _DEFAULT_CACHE
    model, compiled = cache.get(data, spec, priors)
    cores = sampler_cores(settings.chains)
    if model is None:  # native: nutpie's sampler on the C callbacks, no ArviZ
        idata = sample(
            compiled, settings.draws, settings.tune, settings.chains, cores, settings.seed
        )
    else:
        import nutpie

        idata = Draws.from_arviz(
            nutpie.sample(
                compiled,
                draws=settings.draws,
                tune=settings.tune,
                chains=settings.chains,
                cores=cores,
                seed=settings.seed,
                progress_bar=False,
            )
        )
    idata.attrs.update(
        {
            "trial": data.trial,
            "outcome": data.outcome,
            "covariance": covariance,
            "likelihood": likelihood,
            "site_slopes": int(spec.site_slopes),
            "covariates": ", ".join(spec.covariates),
            "priors": prior_name,
            "m0": data.m0,
            "s0": data.s0,
            "seed": settings.seed,
        }
    )
    return idata, model


#: A file holding this notebook's share of the cores, which the report rewrites as its parallel
#: notebooks start and finish (a notebook left running alone gets every core for its next fit).
CORES_FILE_ENV = "TRIALBAYES_SAMPLER_CORES_FILE"


def sampler_cores(chains: int) -> int:
    """Chains sampled in parallel: the cores, or the report's share of them when it runs several
    notebooks at once (oversubscribed sampler threads slow everything down): the number in the
    file ``TRIALBAYES_SAMPLER_CORES_FILE`` names, else ``TRIALBAYES_SAMPLER_CORES``."""
    limit = 0
    share = os.environ.get(CORES_FILE_ENV)
    if share:
        try:
            limit = int(open(share).read().strip() or 0)
        except (OSError, ValueError):
            limit = 0
    limit = limit or int(os.environ.get("TRIALBAYES_SAMPLER_CORES", 0)) or (os.cpu_count() or 1)
    return max(1, min(chains, limit))


#: Up to this many draws, PyMC's evaluations run PyTensor's Python implementations instead of
#: compiling C for them (compiling takes longer than evaluating so few draws).
FEW_DRAWS = 400


def add_log_likelihood(idata, model, data: TrialData | None = None):
    """Add the per-patient marginal log-likelihood (for LOO) to ``idata`` in place.

    With ``data`` (the fit's :class:`TrialData`) the native density computes it (milliseconds);
    otherwise PyMC evaluates the model's log density: for a few hundred draws with PyTensor's
    Python implementations (no C compiled for them, as :func:`predictive_draws`), for more
    compiled (about a second per structure once compiled code is cached).
    """
    if data is None:
        import pymc as pm

        post = idata.posterior
        few = post.sizes["chain"] * post.sizes["draw"] <= FEW_DRAWS
        ll = pm.compute_log_likelihood(
            as_arviz(idata),
            model=model,
            extend_inferencedata=False,
            progressbar=False,
            compile_kwargs={"mode": "FAST_COMPILE"} if few else None,
        )
        idata.add_groups(log_likelihood=ll)
        return idata
    a = idata.attrs
    spec = model_spec(
        data, a["covariance"], a["likelihood"], bool(a["site_slopes"]), None, bool(a["covariates"])
    )
    values = native.pointwise_log_likelihood(idata, data, spec)
    post = idata.posterior
    ll = xr.Dataset(
        {"y": (("chain", "draw", "patient"), values)},
        coords={"chain": post["chain"], "draw": post["draw"], "patient": list(data.patients)},
    )
    idata.add_groups(log_likelihood=ll)
    return idata


_PREDICTIVE_MODEL: dict = {}


def predictive_model(data: TrialData):
    """The primary PyMC model of ``data`` for :func:`predictive_draws`, built once for the same
    data (a notebook's prior and posterior checks of one outcome share it; building it takes
    most of a second). Only the last data's model is kept."""
    import joblib

    key = joblib.hash(data)
    if key not in _PREDICTIVE_MODEL:
        _PREDICTIVE_MODEL.clear()
        _PREDICTIVE_MODEL[key] = build_trial_model(data)
    return _PREDICTIVE_MODEL[key]


def replicated_outcomes(
    data: TrialData, n_draws: int, seed: int, idata=None, cache_dir=None
) -> np.ndarray:
    """The predictive checks' replicated standardised outcomes (draw x patient x visit) of the
    primary model of ``data``: from the prior, or from the posterior of ``idata``.

    Drawn by :func:`predictive_draws` and kept on disk (:func:`analysis.memo.remember`, in
    ``cache_dir``) under a key of the data, the posterior's values, ``n_draws``, ``seed``, the
    code and PyMC's version: a run that has drawn them once does not import PyMC or build its
    model again (2-3 s per trial notebook).
    """
    from analysis import memo

    posterior = (
        None
        if idata is None
        else {v: np.asarray(idata.posterior[v].values) for v in sorted(idata.posterior.data_vars)}
    )
    key = (data, posterior, n_draws, seed, memo.versions("pymc", "pytensor", "numpy"))
    return memo.remember(
        "prior-predictive" if idata is None else "posterior-predictive",
        key,
        lambda: predictive_draws(idata, predictive_model(data), n_draws, seed, prior=idata is None),
        cache_dir,
    )


def predictive_draws(idata, model, n_draws: int, seed: int, prior: bool = False) -> np.ndarray:
    """Replicated standardised outcomes (draw x patient x visit) from the prior or posterior.

    Parameters
    ----------
    n_draws : int
        Number of draws (thinned evenly from the posterior).
    prior : bool
        Sample the prior predictive instead.
    """
    import pymc as pm

    # tens of draws: PyTensor's Python implementations, not C compiled for them (the same
    # draws to rounding; 2.6 s instead of 14 s on a machine's first run, 0.8 s instead of 1 s)
    fast = {"mode": "FAST_COMPILE"}
    with model:
        if prior:
            pp = pm.sample_prior_predictive(
                draws=n_draws, random_seed=seed, var_names=["y"], compile_kwargs=fast
            )
            y = pp.prior_predictive["y"]
        else:
            post = idata.posterior.stack(sample=("chain", "draw"))
            keep = np.linspace(0, post.sizes["sample"] - 1, n_draws).astype(int)
            post = (
                post.isel(sample=keep)
                .reset_index("sample", drop=True)
                .rename({"sample": "draw"})
                .assign_coords(draw=np.arange(n_draws))
                .expand_dims(chain=[0])
                .transpose("chain", "draw", ...)
            )
            # coords and constant_data tell PyMC that dims and data are those of the fit,
            # so that only y is resampled
            const = xr.Dataset(
                {
                    v.name: (
                        _DATA_DIMS.get(v.name, [f"{v.name}_dim_{i}" for i in range(v.ndim)]),
                        v.get_value(),
                    )
                    for v in model.data_vars
                },
                coords={
                    "patient": list(model.coords["patient"]),
                    "visit": list(model.coords["visit"]),
                },
            )
            thin = Draws({"posterior": post, "constant_data": const}).to_arviz()
            pp = pm.sample_posterior_predictive(
                thin, var_names=["y"], random_seed=seed, progressbar=False, compile_kwargs=fast
            )
            y = pp.posterior_predictive["y"]
    return np.asarray(y).reshape(-1, *y.shape[-2:])
