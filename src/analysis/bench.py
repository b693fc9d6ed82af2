"""Benchmark: measured side by side in one run, printed as ratios, written to reports/bench/.

Three parts (``python -m analysis bench``, ``make bench``):

1. **Naive vs project** on the resource-group primary outcome: the latent formulation (one random
   intercept per patient) sampled with PyMC's default NUTS, against the project's marginal model
   sampled by nutpie; wall time including compilation, smallest bulk ESS over the
   population-level parameters, ESS per second and their ratio. The project's model is also timed
   with the other backend and with the compiled model reused (sampling only).
2. **Scale sweep** of the project's model over trial sizes (patients in teams), full-profile
   sampler settings, one compilation for all sizes (reported separately).
3. **Report durations**: ``python -m analysis report --profile full`` into a temporary folder,
   twice (cold: empty compile cache; warm: the cache of the first run).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pymc as pm

from analysis import config
from analysis.contract import simulate
from analysis.studies.runner import _client, _run_chunk
from analysis.trialmodel import diagnostics, fit, model

TARGETS = {
    "ess_per_second_ratio": 20.0,
    "scale_10000_seconds": 60.0,
    "report_warm_seconds": 120.0,
    "report_cold_seconds": 300.0,
}


def _min_ess(idata, name: str) -> float:
    return float(diagnostics.convergence_table(idata, name)["ess_bulk"].min())


def naive_vs_project(df: pd.DataFrame, settings: fit.SamplerSettings, log=print) -> pd.DataFrame:
    """Time the naive and the project's formulations on the same data (tidy rows)."""
    data = model.prepare_trial_data(df, "resource_groups", "empowerment")
    rows = []

    def record(method, seconds, idata, note=""):
        ess = _min_ess(idata, method)
        rows.append(
            {
                "method": method,
                "seconds": seconds,
                "min_ess_bulk": ess,
                "ess_per_second": ess / seconds,
                "note": note,
            }
        )
        log(f"  {method:<42} {seconds:7.1f} s  min bulk ESS {ess:7.0f}  ESS/s {ess / seconds:8.1f}")

    t0 = time.perf_counter()
    latent = model.build_trial_model(data, formulation="latent")
    with latent:
        idata = pm.sample(
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            random_seed=settings.seed,
            progressbar=False,
            compute_convergence_checks=False,
        )
    record("naive: latent patients, PyMC NUTS", time.perf_counter() - t0, idata, "incl. compile")
    for backend in fit.BACKENDS:
        cache = fit.ModelCache(backend=backend)
        # the first fit compiles; the second reuses the compiled model with the same data
        for suffix, note in (("", "incl. compile"), (", reused", "compiled model reused")):
            t0 = time.perf_counter()
            idata, _ = fit.fit_trial_model(data, settings, cache=cache)
            record(
                f"project: marginal, nutpie ({backend}){suffix}",
                time.perf_counter() - t0,
                idata,
                note,
            )
    out = pd.DataFrame(rows)
    out["ratio_to_naive"] = out["ess_per_second"] / out["ess_per_second"].iloc[0]
    return out


def scale_sweep(
    sizes: list[tuple[int, int]], settings: fit.SamplerSettings, seed: int, log=print
) -> pd.DataFrame:
    """Fit the project's model to simulated resource-group trials of each size."""
    rows = []
    cache = fit.ModelCache()
    for n, k in sizes:
        sc = simulate.scaled_scenario("resource_groups", n, k, outcomes=["empowerment"])
        df = simulate.simulate_trial(sc, seed)
        data = model.prepare_trial_data(df, "resource_groups", "empowerment")
        compiles = cache.compiles
        t0 = time.perf_counter()
        idata, _ = fit.fit_trial_model(data, settings, cache=cache)
        seconds = time.perf_counter() - t0
        ess = _min_ess(idata, f"n{n}")
        rows.append(
            {
                "patients": n,
                "teams": k,
                "seconds": seconds,
                "compiled": cache.compiles > compiles,
                "min_ess_bulk": ess,
                "ess_per_second": ess / seconds,
                "divergences": diagnostics.divergences(idata),
            }
        )
        log(
            f"  {n:6d} patients in {k:3d} teams {seconds:7.1f} s"
            + (" (incl. compile)" if rows[-1]["compiled"] else "")
            + f"  min bulk ESS {ess:6.0f}"
        )
    return pd.DataFrame(rows)


def report_durations(log=print) -> pd.DataFrame:
    """Wall time of two full-profile report runs: empty compile cache, then warm."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="trialbayes-bench-") as tmp:
        env = dict(os.environ)
        env["PYTENSOR_FLAGS"] = f"compiledir={Path(tmp) / 'compiledir'}"
        for label in ("cold", "warm"):
            t0 = time.perf_counter()
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "analysis",
                    "report",
                    "--profile",
                    "full",
                    "--out",
                    str(Path(tmp) / "reports"),
                ],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            seconds = time.perf_counter() - t0
            rows.append({"run": label, "seconds": seconds, "exit_code": proc.returncode})
            log(f"  make report ({label}): {seconds:6.1f} s, exit code {proc.returncode}")
            if proc.returncode != 0:
                log(proc.stdout[-2000:] + proc.stderr[-2000:])
    return pd.DataFrame(rows)


def run_bench(
    out_dir: Path,
    sizes: list[tuple[int, int]] | None = None,
    settings: fit.SamplerSettings | None = None,
    with_report: bool = True,
    log=print,
) -> dict[str, pd.DataFrame]:
    """Run every part, print the comparison, write ``bench_*.csv`` and ``bench.png``."""
    from analysis.contract import validate

    settings = settings or fit.SamplerSettings()
    sizes = sizes or [(158, 20), (1000, 60), (10000, 200)]
    out_dir.mkdir(parents=True, exist_ok=True)
    log(
        f"trialbayes bench: {os.cpu_count()} cores; {settings.chains} chains x "
        f"{settings.draws} draws after {settings.tune} tuning steps"
    )
    log("1. naive vs project (resource groups, empowerment)")
    results = {"formulation": naive_vs_project(validate.load_trial_data(), settings, log)}
    log("2. scale sweep (project model, simulated resource-group trials)")
    results["scale"] = scale_sweep(sizes, settings, settings.seed, log)
    if with_report:
        log("3. make report, full profile (cold, then warm)")
        results["report"] = report_durations(log)
    for name, table in results.items():
        table.to_csv(out_dir / f"bench_{name}.csv", index=False, float_format="%.4g")
    fig = plot_bench(results, TARGETS)
    fig.savefig(out_dir / "bench.png", dpi=120, bbox_inches="tight")
    log("summary against the targets:")
    for line in summary_lines(results):
        log("  " + line)
    log(f"wrote {out_dir}")
    return results


def summary_lines(results: dict[str, pd.DataFrame]) -> list[str]:
    """Each target: measured value, target, met or missed."""
    out = []
    form = results["formulation"]
    best = form.iloc[1:]["ratio_to_naive"].max()
    default = form[form["method"] == f"project: marginal, nutpie ({fit.DEFAULT_BACKEND})"]
    ratio = float(default["ratio_to_naive"].iloc[0]) if not default.empty else best
    reused = form[form["method"] == f"project: marginal, nutpie ({fit.DEFAULT_BACKEND}), reused"]
    if not reused.empty:
        out.append(
            _target(
                "ESS/s vs naive (default backend, compiled model reused)",
                float(reused["ratio_to_naive"].iloc[0]),
                TARGETS["ess_per_second_ratio"],
                higher=True,
                unit="x",
            )
        )
    out.append(
        _target(
            "ESS/s vs naive (default backend, incl. compile)",
            ratio,
            TARGETS["ess_per_second_ratio"],
            higher=True,
            unit="x",
        )
    )
    scale = results["scale"]
    big = scale[scale["patients"] == scale["patients"].max()].iloc[0]
    out.append(
        _target(
            f"{int(big['patients'])}-patient fit",
            big["seconds"],
            TARGETS["scale_10000_seconds"],
            higher=False,
            unit=" s",
        )
    )
    if "report" in results:
        rep = results["report"].set_index("run")["seconds"]
        out.append(
            _target(
                "make report warm",
                rep["warm"],
                TARGETS["report_warm_seconds"],
                higher=False,
                unit=" s",
            )
        )
        out.append(
            _target(
                "make report cold",
                rep["cold"],
                TARGETS["report_cold_seconds"],
                higher=False,
                unit=" s",
            )
        )
    return out


def _target(name, value, target, higher, unit):
    ok = value >= target if higher else value <= target
    sign = ">=" if higher else "<="
    return f"{name}: {value:.1f}{unit} (target {sign} {target:g}{unit}) {'MET' if ok else 'MISSED'}"


def default_out() -> Path:
    """``reports/bench`` of the project."""
    return config.REPORTS / "bench"


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


def plot_bench(results: dict, targets: dict):
    """The benchmark: ESS per second by method, fit time by trial size, report durations.

    Dashed red lines mark the targets (see :data:`analysis.bench.TARGETS`).
    """
    parts = [k for k in ("formulation", "scale", "report") if k in results]
    fig, axes = plt.subplots(1, len(parts), figsize=(5.2 * len(parts), 3.8), squeeze=False)
    axes = axes[0]
    for ax, part in zip(axes, parts, strict=True):
        tab = results[part]
        if part == "formulation":
            ax.barh(tab["method"], tab["ess_per_second"], color="#0072B2")
            ax.set_xscale("log")
            ax.set_xlabel("min bulk ESS per second of wall time (log scale)")
            ax.invert_yaxis()
            naive = tab["ess_per_second"].iloc[0]
            ax.axvline(
                naive * targets["ess_per_second_ratio"],
                color="#D55E00",
                ls="--",
                label=f"target: {targets['ess_per_second_ratio']:g}x naive",
            )
            ax.legend(fontsize=8, loc="lower right")
            ax.set_title("Same data, same sampler settings")
        elif part == "scale":
            ax.plot(tab["patients"], tab["seconds"], "o-", color="#009E73")
            for _, r in tab.iterrows():
                ax.annotate(
                    f"{int(r['teams'])} teams" + (" (+compile)" if r["compiled"] else ""),
                    (r["patients"], r["seconds"]),
                    textcoords="offset points",
                    xytext=(4, 4),
                    fontsize=8,
                )
            ax.set_xscale("log")
            ax.axhline(
                targets["scale_10000_seconds"],
                color="#D55E00",
                ls="--",
                label="target for 10,000 patients",
            )
            ax.set_xlabel("patients (log scale)")
            ax.set_ylabel("wall time of one fit (s)")
            ax.legend(fontsize=8)
            ax.set_title("Project model by trial size")
        else:
            ax.bar(tab["run"], tab["seconds"], color="#CC79A7")
            for x, key in enumerate(("report_cold_seconds", "report_warm_seconds")):
                if x < len(tab):
                    ax.hlines(targets[key], x - 0.4, x + 0.4, color="#D55E00", ls="--")
            ax.set_ylabel("wall time of make report, full profile (s)")
            ax.set_title("Whole report (dashes: targets)")
    fig.tight_layout()
    return fig
