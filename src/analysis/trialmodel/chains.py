"""MCMC diagnostics of ``(chain, draw)`` arrays: split rank-normalised R-hat, bulk and tail ESS
and Monte Carlo standard errors (Vehtari, Gelman, Simpson, Carpenter and Bürkner 2021).

These are the estimators ArviZ 0.23 computes (``arviz.rhat``, ``arviz.ess``, ``arviz.mcse`` and
``arviz.summary(kind="diagnostics")``, with its rounding), written on numpy and
``scipy.special`` so that a fit's tables need neither ArviZ's import (about 1.5 s, most of it
plotting and a numba ufunc compiled at import) nor its per-variable overhead.
``tests/test_chains.py`` holds them to ArviZ's values on converged, stuck, short, constant and
heavy-tailed chains.

Conventions as in the paper: chains are split in half (the middle draw of an odd chain is
dropped); ranks are averaged over ties and back-transformed with Blom's offset 3/8; the
autocorrelation is summed by Geyer's initial monotone sequence; quantiles are R's type 7.
"""

from __future__ import annotations

import math

import numpy as np

#: ``arviz.summary``'s rounding of its diagnostics columns (decimals).
SUMMARY_DECIMALS = {"mcse_mean": 3, "mcse_sd": 3, "ess_bulk": 0, "ess_tail": 0, "r_hat": 2}
#: The tail ESS' quantiles (5% and 95%).
TAIL_PROBS = (0.05, 0.95)
_BLOM = 3 / 8
#: The quantile MCSE reads the draws at the ends of a central ±1 SD normal interval.
_PHI_1SD = (0.1586553, 0.8413447)


def _two_d(x) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    return x[None, :] if x.ndim == 1 else x


def _invalid(x: np.ndarray, min_chains: int = 1) -> bool:
    """NaN anywhere, fewer than 4 draws or fewer than ``min_chains`` chains: no estimate."""
    return bool(np.isnan(x).any()) or x.shape[1] < 4 or x.shape[0] < min_chains


def split_chains(x: np.ndarray) -> np.ndarray:
    """Each chain's first and last halves as two chains (the middle draw of an odd chain is
    left out)."""
    x = _two_d(x)
    half = x.shape[1] // 2
    return np.vstack((x[:, :half], x[:, x.shape[1] - half :]))


def _average_ranks(flat: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank."""
    order = np.argsort(flat, kind="mergesort")
    sorted_ = flat[order]
    new = np.r_[True, sorted_[1:] != sorted_[:-1]]
    group = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], flat.size]  # exclusive
    avg = (starts + 1 + ends) / 2.0  # mean of ranks starts+1 .. ends
    ranks = np.empty(flat.size)
    ranks[order] = avg[group]
    return ranks


def z_scale(x: np.ndarray) -> np.ndarray:
    """Rank-normalised draws: normal quantiles of the (Blom-offset) ranks over all chains."""
    from scipy.special import ndtri

    x = np.asarray(x, dtype=float)
    r = _average_ranks(x.ravel())
    return ndtri((r - _BLOM) / (r.size - 2 * _BLOM + 1)).reshape(x.shape)


def _autocov(x: np.ndarray) -> np.ndarray:
    """Autocovariance of every chain at every lag (FFT, biased: divided by n)."""
    n = x.shape[1]
    m = _fast_len(2 * n)
    centred = x - x.mean(axis=1, keepdims=True)
    f = np.fft.rfft(centred, n=m, axis=1)
    f *= np.conjugate(f)
    return np.fft.irfft(f, n=m, axis=1)[:, :n] / n


def _fast_len(target: int) -> int:
    """The smallest 2^a 3^b 5^c 7^d 11^e >= ``target``: the FFT length scipy's
    ``next_fast_len`` gives (without importing ``scipy.fft``, 17 ms of every cold fit)."""
    best = 1
    while best < target:
        best *= 2
    p2 = 1
    while p2 < best:
        p3 = p2
        while p3 < best:
            p5 = p3
            while p5 < best:
                p7 = p5
                while p7 < best:
                    p11 = p7
                    while p11 < target:
                        p11 *= 11
                    best = min(best, p11)
                    p7 *= 7
                p5 *= 5
            p3 *= 3
        p2 *= 2
    return best


def _sample_var(v: np.ndarray, axis=None) -> np.ndarray:
    return np.var(v, axis=axis, ddof=1)


def ess_raw(x: np.ndarray, relative: bool = False) -> float:
    """Effective sample size of ``x`` (chains as given, no splitting or ranking)."""
    x = _two_d(x)
    if np.isnan(x).any():
        return math.nan
    if np.max(x) - np.min(x) < np.finfo(float).resolution:
        return float(x.size)
    n_chain, n_draw = x.shape
    acov = _autocov(x)
    mean_var = np.mean(acov[:, 0]) * n_draw / (n_draw - 1.0)
    var_plus = mean_var * (n_draw - 1.0) / n_draw
    if n_chain > 1:
        var_plus += _sample_var(x.mean(axis=1))
    rho = np.zeros(n_draw)
    even, odd = 1.0, 1.0 - (mean_var - np.mean(acov[:, 1])) / var_plus
    rho[0], rho[1] = even, odd
    t = 1  # Geyer's initial positive sequence
    while t < n_draw - 3 and even + odd > 0.0:
        even = 1.0 - (mean_var - np.mean(acov[:, t + 1])) / var_plus
        odd = 1.0 - (mean_var - np.mean(acov[:, t + 2])) / var_plus
        if even + odd >= 0:
            rho[t + 1], rho[t + 2] = even, odd
        t += 2
    max_t = t - 2
    if even > 0:
        rho[max_t + 1] = even
    t = 1  # Geyer's initial monotone sequence
    while t <= max_t - 2:
        if rho[t + 1] + rho[t + 2] > rho[t - 1] + rho[t]:
            rho[t + 1] = rho[t + 2] = (rho[t - 1] + rho[t]) / 2.0
        t += 2
    total = n_chain * n_draw
    tau = -1.0 + 2.0 * np.sum(rho[: max_t + 1]) + np.sum(rho[max_t + 1 : max_t + 2])
    tau = max(tau, 1 / np.log10(total))
    if np.isnan(rho).any():
        return math.nan
    return float((1 if relative else total) / tau)


def _rhat_raw(x: np.ndarray) -> float:
    x = _two_d(x)
    if np.isnan(x).any():
        return math.nan
    n = x.shape[1]
    between = n * _sample_var(x.mean(axis=1))
    within = np.mean(_sample_var(x, axis=1))
    return float(np.sqrt((between / within + n - 1) / n))


def quantile(x: np.ndarray, probs) -> np.ndarray:
    """R's type-7 quantiles of all draws."""
    return np.quantile(np.asarray(x, dtype=float).ravel(), probs)


def rhat(x) -> float:
    """Split rank-normalised R-hat: the larger of the bulk and the folded (tail) R-hat."""
    x = _two_d(x)
    if _invalid(x, min_chains=2):
        return math.nan
    s = split_chains(x)
    bulk = _rhat_raw(z_scale(s))
    tail = _rhat_raw(z_scale(np.abs(s - np.median(s))))
    return max(bulk, tail)


def ess_bulk(x) -> float:
    """Bulk effective sample size (rank-normalised split chains)."""
    x = _two_d(x)
    if _invalid(x):
        return math.nan
    return ess_raw(z_scale(split_chains(x)))


def ess_quantile(x, prob: float) -> float:
    """Effective sample size of the indicator ``x <= quantile(prob)``."""
    x = _two_d(x)
    if _invalid(x):
        return math.nan
    (q,) = quantile(x, [prob])
    return ess_raw(split_chains(x <= q))


def ess_tail(x) -> float:
    """Tail effective sample size: the smaller of the 5% and 95% quantiles' ESS."""
    x = _two_d(x)
    if _invalid(x):
        return math.nan
    return min(ess_quantile(x, TAIL_PROBS[0]), ess_quantile(x, TAIL_PROBS[1]))


def ess_mean(x) -> float:
    """Effective sample size for the posterior mean (split chains, not ranked)."""
    x = _two_d(x)
    if _invalid(x):
        return math.nan
    return ess_raw(split_chains(x))


def mcse_mean(x) -> float:
    """Monte Carlo standard error of the posterior mean."""
    x = _two_d(x)
    if _invalid(x):
        return math.nan
    return float(np.std(x, ddof=1) / np.sqrt(ess_mean(x)))


def mcse_sd(x) -> float:
    """Monte Carlo standard error of the posterior standard deviation."""
    x = _two_d(x)
    if _invalid(x):
        return math.nan
    c2 = (x - x.mean()) ** 2
    evar = c2.mean()
    varvar = ((c2**2).mean() - evar**2) / ess_mean(c2)
    return float(np.sqrt(varvar / evar / 4))


def mcse_quantile(x, prob: float) -> float:
    """Monte Carlo standard error of the ``prob`` quantile: half the distance between the draws
    at the ends of its ±1 SD interval (from the quantile's ESS and a Beta posterior)."""
    from scipy.special import betaincinv

    x = _two_d(x)
    if _invalid(x):
        return math.nan
    ess = ess_quantile(x, prob)
    with np.errstate(invalid="ignore"):
        ppf = betaincinv(ess * prob + 1, ess * (1 - prob) + 1, np.asarray(_PHI_1SD))
    draws = np.sort(x.ravel())
    n = draws.size
    at = ppf * n - 1
    lo = draws[int(np.floor(np.nanmax((at[0], 0))))]
    hi = draws[int(np.ceil(np.nanmin((at[1], n - 1))))]
    return float((hi - lo) / 2)


def diagnostics(x) -> dict[str, float]:
    """``mcse_mean, mcse_sd, ess_bulk, ess_tail, r_hat`` of one scalar's draws, unrounded."""
    x = _two_d(x)
    if _invalid(x):
        return dict.fromkeys(SUMMARY_DECIMALS, math.nan)
    return {
        "mcse_mean": mcse_mean(x),
        "mcse_sd": mcse_sd(x),
        "ess_bulk": ess_bulk(x),
        "ess_tail": ess_tail(x),
        "r_hat": rhat(x),
    }


def _labels(name: str, da) -> list[tuple[str, np.ndarray]]:
    """``(label, chain x draw array)`` per element, labelled ``name[c1, c2]`` by coordinate
    values (as ``arviz.summary`` labels them)."""
    extra = [d for d in da.dims if d not in ("chain", "draw")]
    da = da.transpose("chain", "draw", *extra)
    values = np.asarray(da.values, dtype=float)
    if not extra:
        return [(name, values)]
    out = []
    for idx in np.ndindex(*values.shape[2:]):
        coords = [da[d].values[i] for d, i in zip(extra, idx, strict=True)]
        out.append((f"{name}[{', '.join(str(c) for c in coords)}]", values[(..., *idx)]))
    return out


def summary_labels(posterior, names) -> list[tuple[str, np.ndarray]]:
    """Every scalar of the variables ``names`` as ``(label, chain x draw array)``."""
    return [item for n in names for item in _labels(n, posterior[n])]


def summary(posterior, names, round_to_summary: bool = True):
    """The diagnostics of every scalar of ``names`` in ``posterior`` (an xarray Dataset), one
    row per scalar indexed by label, rounded as ``arviz.summary(kind="diagnostics")`` rounds.

    Returns
    -------
    pandas.DataFrame
        Columns ``mcse_mean, mcse_sd, ess_bulk, ess_tail, r_hat``.
    """
    import pandas as pd

    rows = summary_labels(posterior, names)
    with np.errstate(invalid="ignore", divide="ignore"):
        table = pd.DataFrame(
            [diagnostics(v) for _, v in rows],
            index=[label for label, _ in rows],
            columns=list(SUMMARY_DECIMALS),
        )
    return table.round(SUMMARY_DECIMALS) if round_to_summary else table
