"""Calibrated simulator of both trials, in the data contract.

For patient ``i`` in site ``j`` with arm ``a`` at visit ``t`` the latent, benefit-oriented
outcome in baseline-SD units is

.. math::

    z_{ijt} = \\gamma_t + \\delta_{a t} + u_j + v_j [a \\ne c][t > 0] + b_i + e_{it},
    \\quad u_j \\sim N(0, \\rho_s),\\ b_i \\sim N(0, \\rho_p),\\ v_j \\sim N(0, \\sigma_v^2),

    \\mathrm{cov}(e_{it}, e_{it'}) = (1 - \\rho_s - \\rho_p)\\, r_t r_{t'}\\, \\phi^{|m_t - m_{t'}|/12}

with ``gamma_0 = 0`` (time trend), ``delta`` the treatment effect (zero for the comparator and at
baseline), ``rho_s`` and ``rho_p`` the site and patient variance shares, ``r_t`` the residual
SD ratio of visit ``t`` to baseline and ``phi`` the residual correlation one year apart: with
``phi > 0`` or unequal ``r_t`` the within-patient covariance is not compound symmetric (the
correlation decays with time apart, the variance changes over visits). A patient's outcomes are
correlated through their patient effects and residuals (``outcome_correlation``). The observed value is
``mean + sd * direction * z``, rounded to the instrument's resolution and clipped to its range.
Patients drop out monotonically; the probability of leaving before visit ``t`` depends on the
primary outcome at the last attended visit (missing at random) and, with
``dropout_mnar_slope``, on the unobserved outcome at ``t`` itself (missing not at random, to test
the sensitivity analyses). Allocation is 1:1(:1) within
sites with the scenario's arm totals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import registry
from analysis.contract.scenario import Scenario, load_scenario
from analysis.contract.schema import OPTIONAL, REQUIRED
from analysis.modelspec import slope_code


def allocate_within_sites(
    site_sizes: list[int], arms: dict[str, int], rng: np.random.Generator
) -> list[list[str]]:
    """Randomise patients to arms in blocks within each site with fixed arm totals.

    Each site gets ``n // k`` patients per arm; the remainders are assigned so that the arm
    totals equal ``arms``.

    Returns
    -------
    list of list of str
        Arm of each patient, per site (shuffled within site).
    """
    names = list(arms)
    k = len(names)
    base = [n // k for n in site_sizes]
    need = {a: arms[a] - sum(base) for a in names}
    if min(need.values()) < 0:
        raise ValueError(f"arm totals {arms} cannot be met with site sizes {site_sizes}")
    # Sites with most left-over places first, each taking the arms still most needed
    # (ties broken at random): this greedy order always meets feasible totals.
    extras: dict[int, list[str]] = {}
    order = sorted(range(len(site_sizes)), key=lambda j: (-(site_sizes[j] % k), rng.random()))
    for j in order:
        cand = sorted(names, key=lambda a: (-need[a], rng.random()))[: site_sizes[j] % k]
        if any(need[a] <= 0 for a in cand):
            raise ValueError(f"arm totals {arms} cannot be met with site sizes {site_sizes}")
        for a in cand:
            need[a] -= 1
        extras[j] = cand
    out = []
    for j, b in enumerate(base):
        site_arms = [a for a in names for _ in range(b)] + extras[j]
        rng.shuffle(site_arms)
        out.append(site_arms)
    if any(need.values()):
        raise ValueError(f"arm totals {arms} cannot be met with site sizes {site_sizes}")
    return out


def _discretise(y: np.ndarray, lo: float, hi: float, res: float) -> np.ndarray:
    y = lo + np.round((y - lo) / res) * res
    return np.clip(np.round(y, 6), lo, hi)


def simulate_trial(
    scenario: Scenario | str, seed: int, *, site_prefix: str | None = None
) -> pd.DataFrame:
    """Simulate one trial from its scenario.

    Parameters
    ----------
    scenario : Scenario or str
        A loaded scenario, a trial code or a scenario path.
    seed : int
        Seed of the trial's random generator; the same seed gives identical data.
    site_prefix : str, optional
        Prefix of site codes (default: ``team`` for resource groups, ``clinic`` otherwise).

    Returns
    -------
    pandas.DataFrame
        The data contract: ``trial, site, patient_id, arm, month, outcome, value, age, sex``,
        one row per attended patient x visit x outcome.
    """
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    rng = np.random.default_rng(seed)
    prefix = site_prefix or ("team" if sc.trial == "resource_groups" else "clinic")
    short = "rg" if sc.trial == "resource_groups" else "cp"
    alloc = allocate_within_sites(sc.site_sizes, sc.arms, rng)
    site_idx = np.concatenate([[j] * len(a) for j, a in enumerate(alloc)]).astype(int)
    arm = np.array([a for site in alloc for a in site])
    n, n_site = len(arm), len(sc.site_sizes)
    visits = sorted(sc.visits)
    treated = arm != sc.comparator
    resid_var = 1.0 - sc.site_share - sc.patient_share

    outcomes = list(sc.outcomes)
    months = np.array(visits, dtype=float)
    ratio = np.array([sc.visit_sd_ratio.get(m, 1.0) if m > 0 else 1.0 for m in visits])
    corr = sc.residual_correlation_per_year ** (np.abs(np.subtract.outer(months, months)) / 12)
    chol = np.linalg.cholesky(resid_var * ratio[:, None] * corr * ratio[None, :])
    # shared and own parts of the patient effects and residuals make outcomes correlated
    w = np.sqrt(sc.outcome_correlation)
    shared_b = rng.standard_normal(n)
    shared_e = rng.standard_normal((n, len(visits)))
    latent = {}
    for name in outcomes:
        o = sc.outcomes[name]
        u = rng.normal(0, np.sqrt(sc.site_share), n_site)
        v = rng.normal(0, sc.site_effect_sd, n_site) if sc.site_effect_sd > 0 else np.zeros(n_site)
        own_b = rng.standard_normal(n)
        own_e = rng.standard_normal((n, len(visits)))
        b = np.sqrt(sc.patient_share) * (w * shared_b + np.sqrt(1 - w**2) * own_b)
        e = (w * shared_e + np.sqrt(1 - w**2) * own_e) @ chol.T
        z = np.empty((n, len(visits)))
        for t, month in enumerate(visits):
            trend = o.time_trend.get(month, 0.0) if month > 0 else 0.0
            eff = np.array([o.effect.get(a, {}).get(month, 0.0) if month > 0 else 0.0 for a in arm])
            slope = v[site_idx] * slope_code(treated) * (month > 0)  # as the model codes it
            z[:, t] = trend + eff + u[site_idx] + slope + b + e[:, t]
        latent[name] = z

    # Monotone dropout, missing at random given the primary outcome at the last visit.
    primary = latent[outcomes[0]]
    in_study = np.ones((n, len(visits)), dtype=bool)
    for t in range(1, len(visits)):
        p = sc.dropout.get(visits[t], 0.0)
        if p <= 0:
            in_study[:, t] = in_study[:, t - 1]
            continue
        logit = (
            np.log(p / (1 - p))
            + sc.dropout_slope * primary[:, t - 1]
            + sc.dropout_mnar_slope * primary[:, t]
        )
        leave = rng.random(n) < 1 / (1 + np.exp(-logit))
        in_study[:, t] = in_study[:, t - 1] & ~leave

    pid = np.array([f"{short}-{i + 1:04d}" for i in range(n)])
    site = np.array([f"{prefix}-{j + 1:02d}" for j in site_idx])
    age = np.clip(np.round(rng.normal(38, 13 * 1.4826, n)), 18, 65).astype(int)
    sex = np.where(rng.random(n) < 0.589, "male", "female")
    frames = []
    for name in outcomes:
        o, reg = sc.outcomes[name], registry.get_outcome(sc.trial, name)
        y = o.baseline_mean + o.baseline_sd * reg.direction * latent[name]
        y = _discretise(y, reg.scale_min, reg.scale_max, reg.resolution)
        for t, month in enumerate(visits):
            keep = in_study[:, t]
            frames.append(
                pd.DataFrame(
                    {
                        "trial": sc.trial,
                        "site": site[keep],
                        "patient_id": pid[keep],
                        "arm": arm[keep],
                        "month": month,
                        "outcome": name,
                        "value": y[keep, t],
                        "age": age[keep],
                        "sex": sex[keep],
                    }
                )
            )
    df = pd.concat(frames, ignore_index=True)
    df = df[[c for c in REQUIRED + OPTIONAL if c in df.columns]]  # the contract's order
    return df.sort_values(["patient_id", "outcome", "month"], kind="stable").reset_index(drop=True)


def simulate_all(seed: int) -> pd.DataFrame:
    """Simulate both trials from their default scenarios (seeds ``seed`` and ``seed + 1``).

    Returns
    -------
    pandas.DataFrame
        Both trials stacked in the data contract.
    """
    parts = [
        simulate_trial(load_scenario(trial), seed + k)
        for k, trial in enumerate(("resource_groups", "consumer_providers"))
    ]
    return pd.concat(parts, ignore_index=True)


def scaled_scenario(
    scenario: Scenario | str,
    n_patients: int,
    n_sites: int,
    outcomes: list[str] | None = None,
) -> Scenario:
    """The same scenario with ``n_patients`` in ``n_sites`` equal-ish sites.

    Arms keep their published proportions as closely as randomisation in blocks within sites
    allows (each site's left-over places go one per arm); sites differ by at most one patient. Variance components, effects and dropout are unchanged. ``outcomes`` keeps only
    those outcomes (all by default).
    """
    import dataclasses

    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if n_sites < 1 or n_patients < 2 * n_sites:
        raise ValueError(f"need at least 2 patients per site, got {n_patients} in {n_sites}")
    sizes = [n_patients // n_sites + (j < n_patients % n_sites) for j in range(n_sites)]
    counts = _feasible_arm_totals(list(sc.arms.values()), sizes)
    keep = sc.outcomes if outcomes is None else {o: sc.outcomes[o] for o in outcomes}
    return dataclasses.replace(
        sc,
        arms=dict(zip(sc.arms, counts.tolist(), strict=True)),
        site_sizes=sizes,
        outcomes=keep,
    )


def _feasible_arm_totals(weights: list[float], sizes: list[int]) -> np.ndarray:
    """Arm totals closest to ``weights`` that within-site block randomisation can produce."""
    k = len(weights)
    share = np.asarray(weights, dtype=float) / sum(weights)
    base = sum(n // k for n in sizes)
    extra = sum(n % k for n in sizes)
    cap = sum(1 for n in sizes if n % k)  # each such site gives an arm at most one extra place
    target = share * sum(sizes) - base
    e = np.clip(np.round(target), 0, cap).astype(int)
    while e.sum() < extra:
        gap = np.where(e < cap, target - e, -np.inf)
        e[int(np.argmax(gap))] += 1
    while e.sum() > extra:
        gap = np.where(e > 0, e - target, -np.inf)
        e[int(np.argmax(gap))] -= 1
    return base + e
