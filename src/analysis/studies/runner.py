"""Running many independent replicates on Dask: seeds, chunks, an on-disk cache, progress.

Every replicate is a pure function of its inputs and its own seed, derived from the study seed
and the replicate's key (:func:`replicate_seed`), so results are identical however the
replicates are scheduled. Finished chunks are cached on disk, so an interrupted study resumes.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.memo import code_fingerprint


def replicate_seed(study_seed: int, *key: int) -> int:
    """A 32-bit seed for one replicate, from the study seed and the replicate's integer key."""
    return int(np.random.SeedSequence([int(study_seed), *map(int, key)]).generate_state(1)[0])


def chunk_key(code: bytes, chunk: list) -> str:
    """Hash of a chunk's tasks (keys, function names, arguments) and the code fingerprint.

    joblib's hashing sorts dict and set items and hashes arrays by content, so the key is the
    same in every process, whatever the hash seed."""
    import joblib

    return joblib.hash((code, [(k, f.__name__, a) for k, f, a in chunk]), hash_name="sha1")


def _run_chunk(chunk: list) -> list[dict]:
    """Run a chunk of tasks in a worker; a failing replicate is recorded, not raised."""
    os.environ.setdefault("TRIALBAYES_SAMPLER_CORES", "1")  # one core per worker process
    os.environ.pop("TRIALBAYES_SAMPLER_CORES_FILE", None)  # the report's share is the kernel's
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
    """Close every client and local cluster kept by :func:`_client`, the newest first: each
    client restores the Dask configuration it found (its default scheduler), so closing them
    in another order would leave a closed client's scheduler as Dask's default."""
    for client, cluster in reversed(list(_CLUSTERS.values())):
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
        digest = chunk_key(code, chunk)
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
        from tqdm import tqdm

        client, cluster = _client(scheduler, workers, reuse)
        bar = tqdm(
            total=len(tasks),
            initial=from_cache,
            desc=name,
            file=_Lines(report),
            ascii=True,
            ncols=90,
            mininterval=PROGRESS_INTERVAL,
            bar_format="{desc}: |{bar:20}| {n_fmt}/{total_fmt} replicates{postfix} "
            "[{elapsed} elapsed, {remaining} left]",
            postfix="failed 0",
        )
        try:
            n_workers = len(client.scheduler_info()["workers"])
            futures = {client.submit(_run_chunk, chunks[i], pure=False): i for i in todo}
            for fut in as_completed(futures):
                i = futures[fut]
                rows = fut.result()
                done[i] = rows
                ok = [r for r in rows if r["status"] == "ok"]
                if paths[i] is not None and len(ok) == len(rows):
                    tmp = paths[i].with_suffix(".tmp")
                    tmp.write_text(json.dumps(rows, default=_json_default))
                    os.replace(tmp, paths[i])  # atomic: a killed run leaves no half file
                n_failed += len(rows) - len(ok)
                bar.set_postfix_str(f"failed {n_failed}", refresh=False)
                bar.update(len(rows))
        finally:
            bar.close()
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


#: Seconds between two progress lines of a study (tqdm's ``mininterval``).
PROGRESS_INTERVAL = 2.0


class _Lines(io.TextIOBase):
    """A file for tqdm that hands each refreshed bar to ``emit`` as one line."""

    def __init__(self, emit):
        self.emit = emit
        self.last = None

    def write(self, text: str) -> int:
        for part in text.replace("\r", "\n").split("\n"):
            if part.strip() and part.strip() != self.last:
                self.last = part.strip()
                self.emit(self.last)
        return len(text)


def _json_default(x):
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"not JSON serialisable: {type(x)}")
