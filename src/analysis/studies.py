r"""Simulation studies: replication-trial assurance, simulation-based calibration, tipping points.

Every replicate is a pure function of its inputs and its own seed, derived from the study seed
and the replicate's key (:func:`replicate_seed`), so results are identical however the
replicates are scheduled. Replicates run on Dask (:func:`run_study`): a local cluster by default,
or an existing scheduler by address. Finished chunks are cached on disk, so an interrupted study
resumes where it stopped.

Analyses per replicate
----------------------
- **Laplace** (:class:`LaplaceFitter`): the project's marginal model (patient effects integrated
  out) at its posterior mode in the unconstrained space, with the inverse Hessian as covariance.
  Milliseconds per replicate once compiled (PyTensor C backend; compiled code cached on disk);
  used for assurance, where thousands of trials are analysed. Validated against full MCMC on a
  subset (:func:`laplace_vs_mcmc`).
- **MCMC** (nutpie, compiled once per worker process): used for simulation-based calibration,
  which must test the model as it is fitted in the report.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, stats

from analysis import fit, model, registry, simulate

# --------------------------------------------------------------------------- seeds and designs


def replicate_seed(study_seed: int, *key: int) -> int:
    """A 32-bit seed for one replicate, from the study seed and the replicate's integer key."""
    return int(np.random.SeedSequence([int(study_seed), *map(int, key)]).generate_state(1)[0])


@dataclass(frozen=True)
class Design:
    """A replication trial: patients randomised in teams."""

    n_patients: int
    n_sites: int


# --------------------------------------------------------------------------- Laplace analysis


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


_LAPLACE = LaplaceFitter()  # one per worker process
_MCMC = None  # nutpie model cache, one per worker process


def _mcmc_cache():
    global _MCMC
    if _MCMC is None:
        _MCMC = fit.ModelCache()
    return _MCMC


# --------------------------------------------------------------------------- assurance


@dataclass(frozen=True)
class AssuranceSpec:
    """The replication study: scenario, outcome, design prior and decision rule.

    ``prior_mean``/``prior_sd``: normal design prior of the SMD at the last visit (benefit
    positive); earlier visits keep the scenario's ratio to it. ``rule``: ``benefit`` (success
    when P(SMD > 0) > ``threshold``) or ``mcid`` (P(effect > MCID) > ``threshold``).
    """

    prior_mean: float
    prior_sd: float
    threshold: float = 0.975
    rule: str = "benefit"
    trial: str = "resource_groups"
    outcome: str = "empowerment"
    arm: str = "fact_rg"

    def __post_init__(self):
        if self.rule not in ("benefit", "mcid"):
            raise ValueError(f"rule must be 'benefit' or 'mcid', got {self.rule!r}")
        if not 0 < self.threshold < 1:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold}")
        if self.prior_sd < 0:
            raise ValueError(f"prior_sd must be >= 0, got {self.prior_sd}")


def assurance_replicate(spec: AssuranceSpec, design: Design, rep: int, seed: int) -> dict:
    """Simulate one replication trial of ``design`` and analyse it as planned (Laplace)."""
    import dataclasses

    rng = np.random.default_rng(seed)
    effect = float(spec.prior_mean + spec.prior_sd * rng.standard_normal())
    sc = simulate.scaled_scenario(spec.trial, design.n_patients, design.n_sites, [spec.outcome])
    base = sc.outcomes[spec.outcome]
    last = max(sc.visits)
    old = base.effect[spec.arm]
    ratio = {m: (v / old[last] if old[last] else float(m == last)) for m, v in old.items()}
    new = dataclasses.replace(
        base, effect={**base.effect, spec.arm: {m: effect * r for m, r in ratio.items()}}
    )
    sc = dataclasses.replace(sc, outcomes={spec.outcome: new})
    df = simulate.simulate_trial(sc, int(rng.integers(2**31)))
    data = model.prepare_trial_data(df, spec.trial, spec.outcome)
    fitted = _LAPLACE.fit(data)
    mean, sd = effect_posterior(fitted, data, last, spec.arm)
    cut = (
        0.0
        if spec.rule == "benefit"
        else registry.get_outcome(spec.trial, spec.outcome).mcid / data.s0
    )
    prob = float(stats.norm.sf(cut, mean, sd))
    return {
        "n_patients": design.n_patients,
        "n_sites": design.n_sites,
        "rep": rep,
        "true_effect": effect,
        "post_mean": mean,
        "post_sd": sd,
        "prob": prob,
        "success": bool(prob > spec.threshold and fitted["converged"]),
        "converged": fitted["converged"],
    }


def assurance_tasks(spec: AssuranceSpec, designs: list[Design], n_rep: int, seed: int) -> list:
    """One task per design x replicate (key, function, arguments)."""
    tasks = []
    for d, design in enumerate(designs):
        for rep in range(n_rep):
            tasks.append(
                (
                    f"n{design.n_patients}-k{design.n_sites}-r{rep}",
                    assurance_replicate,
                    (spec, design, rep, replicate_seed(seed, 1, d, rep)),
                )
            )
    return tasks


def assurance_table(results: pd.DataFrame) -> pd.DataFrame:
    """Assurance per design with its Monte Carlo standard error and 95% band."""
    g = results.groupby(["n_patients", "n_sites"])
    out = g.agg(
        replicates=("success", "size"),
        assurance=("success", "mean"),
        converged=("converged", "mean"),
    ).reset_index()
    se = np.sqrt(out["assurance"] * (1 - out["assurance"]) / out["replicates"])
    out["mcse"] = se
    out["lower"] = (out["assurance"] - 1.96 * se).clip(0, 1)
    out["upper"] = (out["assurance"] + 1.96 * se).clip(0, 1)
    return out


def smallest_designs(table: pd.DataFrame, levels=(0.8, 0.9)) -> pd.DataFrame:
    """For each level and team count, the fewest patients whose assurance reaches it."""
    rows = []
    for level in levels:
        for k, grp in table.groupby("n_sites"):
            ok = grp[grp["assurance"] >= level].sort_values("n_patients")
            rows.append(
                {
                    "level": level,
                    "n_sites": k,
                    "n_patients": int(ok["n_patients"].iloc[0]) if not ok.empty else None,
                    "assurance": float(ok["assurance"].iloc[0]) if not ok.empty else None,
                }
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- SBC


@dataclass(frozen=True)
class SBCSpec:
    """Simulation-based calibration of the trial model on a real design (its mask and sites)."""

    trial: str = "resource_groups"
    outcome: str = "empowerment"
    draws: int = 250
    tune: int = 300
    chains: int = 2
    thin_to: int = 99  # posterior draws kept for the ranks (ranks 0..thin_to)
    parameters: tuple = ("alpha", "beta", "sigma", "sigma_patient", "sigma_site")


def sbc_prior_draws(data: model.TrialData, n: int, seed: int) -> list[dict]:
    """Parameters and complete replicate outcomes drawn from the model's prior."""
    import pymc as pm

    m = model.build_trial_model(data)
    with m:
        prior = pm.sample_prior_predictive(draws=n, random_seed=seed)
    out = []
    for i in range(n):
        draw = {v: np.asarray(prior.prior[v].isel(chain=0, draw=i)) for v in prior.prior.data_vars}
        draw["y"] = np.asarray(prior.prior_predictive["y"].isel(chain=0, draw=i))
        out.append(draw)
    return out


def sbc_replicate(spec: SBCSpec, data: model.TrialData, truth: dict, rep: int, seed: int) -> dict:
    """Fit the model to data simulated from ``truth`` (same design and missing visits); ranks."""
    import dataclasses

    y = np.where(data.mask, data.m0 + data.s0 * truth["y"], np.nan)
    sim = dataclasses.replace(data, y=y)
    settings = fit.SamplerSettings(spec.draws, spec.tune, spec.chains, seed)
    idata, _ = fit.fit_trial_model(sim, settings, cache=_mcmc_cache())
    post = idata.posterior.stack(sample=("chain", "draw"))
    keep = np.linspace(0, post.sizes["sample"] - 1, spec.thin_to).astype(int)
    row = {"rep": rep}
    for name in spec.parameters:
        if name not in post:
            continue
        draws = np.asarray(post[name].isel(sample=keep)).reshape(-1, spec.thin_to)
        true = np.asarray(truth[name]).reshape(-1)
        for j, (d, t) in enumerate(zip(draws, true, strict=True)):
            label = name if draws.shape[0] == 1 else f"{name}[{j}]"
            row[label] = int((d < t).sum())
    from analysis import diagnostics

    row["divergences"] = diagnostics.divergences(idata)
    return row


def sbc_tasks(spec: SBCSpec, data: model.TrialData, n_rep: int, seed: int) -> list:
    """Prior draws (in the driver, one compiled prior function) and one task per replicate."""
    truths = sbc_prior_draws(data, n_rep, replicate_seed(seed, 2))
    return [
        (f"r{rep}", sbc_replicate, (spec, data, truths[rep], rep, replicate_seed(seed, 3, rep)))
        for rep in range(n_rep)
    ]


def sbc_uniformity(ranks: pd.DataFrame, thin_to: int, bins: int = 10) -> pd.DataFrame:
    """Chi-square test of uniform ranks per parameter, with the expected count per bin."""
    rows = []
    for col in [c for c in ranks.columns if c not in ("rep", "divergences", "status", "error")]:
        r = ranks[col].dropna().to_numpy()
        counts, _ = np.histogram(r, bins=bins, range=(0, thin_to + 1))
        expected = len(r) / bins
        chi2, p = stats.chisquare(counts)
        rows.append(
            {
                "parameter": col,
                "replicates": len(r),
                "chi2": chi2,
                "p_value": p,
                "expected_per_bin": expected,
                "min_bin": counts.min(),
                "max_bin": counts.max(),
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- tipping point


def tipping_point_table(
    effect_draws: np.ndarray,
    missing_treated: float,
    missing_control: float,
    deltas: list[float],
    threshold: float,
) -> pd.DataFrame:
    r"""Delta-adjusted (pattern-mixture) sensitivity of an effect to missing not at random.

    Missing last-visit values are imputed from the fitted MAR model and then shifted by
    :math:`\delta_a` (baseline-SD units, benefit-positive) in arm :math:`a`. For a difference in
    arm means at the last visit, the completed-data estimate moves by the shift times the share
    of that arm imputed, so for every posterior draw :math:`\beta` the delta-adjusted effect is
    :math:`\beta + \delta_t p_t - \delta_c p_c` (:math:`p_a`: share of arm :math:`a` missing at
    the last visit): the Bayesian analogue of delta-adjusted multiple imputation with the
    imputation model's posterior carried through.

    Returns
    -------
    pandas.DataFrame
        One row per (delta_treated, delta_control): mean, 95% interval, P(benefit) and whether
        the conclusion (P(benefit) > ``threshold``) still holds.
    """
    draws = np.asarray(effect_draws, dtype=float).ravel()
    rows = []
    for dt in deltas:
        for dc in deltas:
            adj = draws + dt * missing_treated - dc * missing_control
            p = float((adj > 0).mean())
            rows.append(
                {
                    "delta_treated": dt,
                    "delta_control": dc,
                    "mean": adj.mean(),
                    "lower": np.quantile(adj, 0.025),
                    "upper": np.quantile(adj, 0.975),
                    "prob_benefit": p,
                    "conclusion_holds": p > threshold,
                }
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- Laplace vs MCMC


def laplace_vs_mcmc(
    datasets: list[model.TrialData], settings: fit.SamplerSettings, month: int
) -> pd.DataFrame:
    """The Laplace approximation against full MCMC on the same data sets (one row each)."""
    from analysis.summarise import contrast_draws

    rows = []
    for i, data in enumerate(datasets):
        fitted = _LAPLACE.fit(data)
        lm, ls = effect_posterior(fitted, data, month)
        idata, _ = fit.fit_trial_model(data, settings, cache=_mcmc_cache())
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


# --------------------------------------------------------------------------- Dask runner


def code_fingerprint() -> str:
    """SHA-256 of the code and scenario files a replicate depends on: part of every cache key,
    so cached replicates are never reused after the analysis or the scenarios change."""
    import hashlib

    from analysis import config

    h = hashlib.sha256()
    here = Path(__file__).parent
    files = sorted(here.glob("*.py")) + sorted(config.SCENARIOS.glob("*.yaml"))
    files += [config.OUTCOMES_FILE, config.ARMS_FILE]
    for path in files:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _run_chunk(chunk: list) -> list[dict]:
    """Run a chunk of tasks in a worker; a failing replicate is recorded, not raised."""
    os.environ.setdefault("TRIALBAYES_SAMPLER_CORES", "1")  # one core per worker process
    out = []
    for key, func, args in chunk:
        try:
            row = func(*args)
            row.update({"key": key, "status": "ok", "error": ""})
        except Exception as exc:  # noqa: BLE001 - one replicate's failure is data
            row = {"key": key, "status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        out.append(row)
    return out


@dataclass
class StudyRun:
    """What :func:`run_study` did."""

    results: pd.DataFrame
    seconds: float
    workers: int
    from_cache: int
    computed: int
    failed: int
    log: list = field(default_factory=list)


_CLUSTERS: dict = {}  # (address or None, workers) -> (client, cluster), reused in a process


def _client(scheduler: str | None, workers: int, reuse: bool = True):
    """A Dask client: an existing scheduler by address, else a local cluster of ``workers``
    single-threaded processes. Local clusters are kept for the next study of the process (its
    workers keep their compiled models) and closed at exit."""
    import atexit

    from distributed import Client, LocalCluster

    address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    key = (address, None if address else workers)
    if reuse and key in _CLUSTERS:
        client, cluster = _CLUSTERS[key]
        if client.status == "running":
            return client, cluster
    if address:
        client, cluster = Client(address), None
    else:
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=40,
        )
        client = Client(cluster)
    if reuse:
        if not _CLUSTERS:
            atexit.register(close_clusters)
        _CLUSTERS[key] = (client, cluster)
    return client, cluster


def close_clusters() -> None:
    """Close every client and local cluster kept by :func:`_client`."""
    for client, cluster in _CLUSTERS.values():
        client.close()
        if cluster is not None:
            cluster.close()
    _CLUSTERS.clear()


def run_study(
    name: str,
    tasks: list,
    cache_dir: Path | None,
    scheduler: str | None = None,
    workers: int = 2,
    chunk_size: int = 10,
    progress: Callable[[str], None] | None = print,
    reuse: bool = False,
) -> StudyRun:
    """Run tasks ``(key, function, args)`` on Dask, caching finished chunks under ``cache_dir``.

    Parameters
    ----------
    name : str
        Study name (the cache sub-folder).
    tasks : list
        From :func:`assurance_tasks` or :func:`sbc_tasks`; keys must be unique.
    cache_dir : Path or None
        Finished chunks are written as JSON files here and skipped when the study is run again
        (an interrupted study resumes). A chunk's key covers its tasks and
        :func:`code_fingerprint`, so changed code or scenarios never reuse old results. None
        disables the cache.
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:port``); default the
        ``DASK_SCHEDULER_ADDRESS`` variable, else a local cluster of ``workers`` processes.
    workers : int
        Local worker processes (one thread each).
    chunk_size : int
        Replicates per Dask task.
    progress : callable or None
        Receives a progress line (done, failed, remaining) as chunks finish.
    reuse : bool
        Keep the local cluster for the next study of this process (its workers keep their
        compiled models) instead of closing it (default).

    Returns
    -------
    StudyRun
        ``results`` sorted by task order, whatever the order of completion.
    """
    import hashlib
    import pickle

    from distributed import as_completed

    t0 = time.perf_counter()
    folder = None
    if cache_dir is not None:
        folder = Path(cache_dir) / name
        folder.mkdir(parents=True, exist_ok=True)
    chunks = [tasks[i : i + chunk_size] for i in range(0, len(tasks), chunk_size)]
    done: dict[int, list[dict]] = {}
    paths = {}
    code = code_fingerprint().encode() if folder else b""
    for i, chunk in enumerate(chunks):
        key = code + pickle.dumps([(k, f.__name__, a) for k, f, a in chunk])
        digest = hashlib.sha256(key).hexdigest()
        paths[i] = folder / f"chunk-{digest[:20]}.json" if folder else None
        if paths[i] is not None and paths[i].exists():
            done[i] = json.loads(paths[i].read_text())
    from_cache = sum(len(v) for v in done.values())
    todo = [i for i in range(len(chunks)) if i not in done]
    n_failed = sum(r["status"] != "ok" for v in done.values() for r in v)
    lines = []

    def report(msg):
        lines.append(msg)
        if progress:
            progress(msg)

    report(f"{name}: {len(tasks)} replicates, {from_cache} from cache, {len(todo)} chunk(s) to run")
    if todo:
        client, cluster = _client(scheduler, workers, reuse)
        try:
            n_workers = len(client.scheduler_info()["workers"])
            futures = {client.submit(_run_chunk, chunks[i], pure=False): i for i in todo}
            finished = from_cache
            last_step = int(10 * finished / max(len(tasks), 1))
            for fut in as_completed(futures):
                i = futures[fut]
                rows = fut.result()
                done[i] = rows
                ok = [r for r in rows if r["status"] == "ok"]
                if paths[i] is not None and len(ok) == len(rows):
                    tmp = paths[i].with_suffix(".tmp")
                    tmp.write_text(json.dumps(rows, default=_json_default))
                    os.replace(tmp, paths[i])  # atomic: a killed run leaves no half file
                finished += len(rows)
                n_failed += len(rows) - len(ok)
                step = int(10 * finished / max(len(tasks), 1))
                if step > last_step or finished == len(tasks):  # a line per 10%
                    last_step = step
                    report(_bar(finished, n_failed, len(tasks), time.perf_counter() - t0))
        finally:
            if not reuse:
                client.close()
                if cluster is not None:
                    cluster.close()
    else:
        n_workers = 0
    rows = [r for i in range(len(chunks)) for r in done[i]]
    return StudyRun(
        results=pd.DataFrame(rows),
        seconds=time.perf_counter() - t0,
        workers=n_workers,
        from_cache=from_cache,
        computed=len(tasks) - from_cache,
        failed=n_failed,
        log=lines,
    )


def _bar(done: int, failed: int, total: int, seconds: float, width: int = 30) -> str:
    filled = int(width * done / max(total, 1))
    return (
        f"[{'#' * filled}{'.' * (width - filled)}] done {done}/{total}, failed {failed}, "
        f"remaining {total - done} ({seconds:.0f} s)"
    )


def _json_default(x):
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"not JSON serialisable: {type(x)}")


def worker_scaling(
    name: str, tasks: list, worker_counts=(1, 2), scheduler=None, chunk_size: int = 10
) -> tuple[pd.DataFrame, bool]:
    """Replicates per second with each number of local workers, and whether every run gave
    identical results.

    Each cluster first runs one chunk per worker untimed (start-up and each worker's first
    compilation), then the tasks, uncached and timed: the steady-state throughput.
    """
    rows, frames = [], []
    for w in worker_counts:
        client, cluster = _client(scheduler, w, reuse=False)
        try:
            client.wait_for_workers(w)
            addresses = list(client.scheduler_info()["workers"])
            client.gather(
                [client.submit(_run_chunk, tasks[:1], pure=False, workers=[a]) for a in addresses]
            )
            t0 = time.perf_counter()
            futures = [
                client.submit(_run_chunk, tasks[i : i + chunk_size], pure=False)
                for i in range(0, len(tasks), chunk_size)
            ]
            results = [r for f in futures for r in f.result()]
            seconds = time.perf_counter() - t0
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
        rows.append(
            {
                "workers": w,
                "replicates": len(tasks),
                "seconds": seconds,
                "replicates_per_second": len(tasks) / seconds,
            }
        )
        frame = pd.DataFrame(results).drop(columns=["status", "error"]).sort_values("key")
        frames.append(frame.reset_index(drop=True))
    same = all(f.equals(frames[0]) for f in frames[1:])
    out = pd.DataFrame(rows)
    out["speed_up"] = out["replicates_per_second"] / out["replicates_per_second"].iloc[0]
    return out, same


def design_prior_from_run(
    tables: Path, outcome: str = "empowerment", arm: str = "fact_rg"
) -> tuple[float, float, str]:
    """Normal approximation (mean, SD) of the SMD at the last visit from this run's trial
    analysis (``trial_effects``), else from the published trial result.

    Returns
    -------
    (mean, sd, source)
    """
    for name in ("trial_effects__resource_groups.csv", "trial_effects.csv"):
        path = Path(tables) / name
        if path.exists():
            eff = pd.read_csv(path)
            sel = eff[(eff["outcome"] == outcome) & (eff["arm"] == arm)]
            if not sel.empty:
                r = sel[sel["month"] == sel["month"].max()].iloc[0]
                sign = (
                    1.0
                    if registry.get_outcome("resource_groups", outcome).higher_is_better
                    else -1.0
                )
                return (
                    sign * float(r["smd"]),
                    float(r["smd_upper"] - r["smd_lower"]) / 3.92,
                    f"posterior of this run's analysis ({name})",
                )
    from analysis import config

    pub = pd.read_csv(config.PUBLISHED / "trials.csv")
    r = pub[(pub["outcome"] == outcome) & (pub["treatment"] == arm)].iloc[0]
    return float(r["estimate"]), float(r["se"]), f"published result ({r['study']})"


@dataclass
class TippingPoint:
    """Result of :func:`tipping_point_analysis`."""

    table: pd.DataFrame
    missing: dict
    prob_mar: float
    text: str


def tipping_point_analysis(
    data: model.TrialData, idata, deltas: list[float], threshold: float
) -> TippingPoint:
    """Delta-adjusted sensitivity of the last-visit effect of the first treatment arm.

    The missing shares come from the data, the effect draws from the fitted model ``idata``;
    ``text`` states whether the conclusion P(benefit) > ``threshold`` holds under MAR and the
    smallest shift of the treated arm's missing values (control arm as MAR) that changes it.
    """
    from analysis.summarise import contrast_draws

    last = max(data.visits)
    treated = data.treatments[0]
    sign = 1.0 if data.meta["higher_is_better"] else -1.0
    effect = sign * contrast_draws(idata, data, treated, data.comparator, last).ravel()
    arm = np.array(data.arms)[data.arm_idx]
    missing = {a: float(np.isnan(data.y[arm == a, -1]).mean()) for a in data.arms}
    table = tipping_point_table(
        effect, missing[treated], missing[data.comparator], deltas, threshold
    )
    p_mar = float((effect > 0).mean())
    holds = p_mar > threshold
    flips = table[(table["delta_control"] == 0) & (table["conclusion_holds"] != holds)]
    where = (
        f"it changes once the treated arm's missing values are shifted by "
        f"{flips['delta_treated'].abs().min():g} baseline SD (control arm as MAR)"
        if not flips.empty
        else "no shift of the treated arm's missing values within the grid changes it "
        "(control arm as MAR)"
    )
    text = (
        f"Missing at {last} months: "
        + ", ".join(f"{a} {p:.0%}" for a, p in missing.items())
        + f". Under MAR P(benefit) = {p_mar:.3f}, so the conclusion P(benefit) > {threshold} "
        + ("holds" if holds else "does not hold")
        + f"; {where}."
    )
    return TippingPoint(table, missing, p_mar, text)
