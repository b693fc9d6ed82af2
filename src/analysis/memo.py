"""Results kept on disk, keyed by everything they depend on.

A result that is a pure function of its inputs (prior draws for SBC, the predictive checks'
replicated outcomes) is computed once per machine and read back by later runs: its file name is
the hash of the inputs, the versions of the libraries that draw it and the code's fingerprint,
so changed data, seed, code or libraries never reuse an old result. Files are written
atomically (a killed run leaves no half file), a damaged one is computed again, and a cache
folder that cannot be written only loses the saving.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import joblib

from analysis import config

#: Where :func:`remember` keeps results unless told otherwise.
RESULTS = config.CACHE / "results"


def code_fingerprint() -> str:
    """SHA-256 of the code and scenario files a result depends on: part of every cache key,
    so cached results are never reused after the analysis or the scenarios change."""
    import hashlib

    from analysis import registry

    h = hashlib.sha256()
    here = Path(__file__).parent  # the whole package
    files = sorted(here.rglob("*.py")) + sorted(config.SCENARIOS.glob("*.yaml"))
    files += [config.OUTCOMES_FILE, config.ARMS_FILE, config.TRIALS_FILE, registry.network_file()]
    for path in files:
        # the registry may live outside the project (TRIALBAYES_REGISTRY): its name, not its place
        name = path.relative_to(config.ROOT) if path.is_relative_to(config.ROOT) else path.name
        h.update(Path(name).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def versions(*distributions: str) -> tuple[str, ...]:
    """The installed versions of ``distributions`` (for keys of results they draw)."""
    return tuple(f"{d}=={metadata.version(d)}" for d in distributions)


def remember(name: str, key, compute: Callable, cache_dir: str | Path | None = None):
    """``compute()``, kept in ``cache_dir/<name>-<hash>.joblib`` and read from there next time.

    Parameters
    ----------
    name : str
        What the result is (the file name's prefix).
    key
        Everything the result depends on besides the code (data, seeds, sizes, library
        versions); hashed by content with joblib.
    compute : callable
        Makes the result when it is not kept yet.
    cache_dir : str or Path, optional
        Default :data:`RESULTS`.
    """
    digest = joblib.hash((code_fingerprint(), key), hash_name="sha1")[:20]
    path = Path(RESULTS if cache_dir is None else cache_dir) / f"{name}-{digest}.joblib"
    if path.exists():
        try:
            return joblib.load(path)
        except Exception:  # noqa: BLE001 - a damaged file is computed again and replaced
            pass
    value = compute()
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(value, tmp)
        os.replace(tmp, path)
    except OSError:  # a cache that cannot be written (read-only, full) only loses the saving
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    return value
