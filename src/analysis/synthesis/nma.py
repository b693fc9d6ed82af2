"""Cross-trial synthesis: Bayesian random-effects network meta-analysis on the contrast scale.

Evidence rows are standardised mean differences :math:`y` of ``treatment`` vs ``comparator``
(positive favours ``treatment``) with standard errors. With basic effects :math:`d_k` of each
treatment against the reference (``standard``; :math:`d_{ref} = 0`):

.. math::

    y_s \\sim \\mathrm{MVN}\big(X_s d,\\ V_s + \tau^2 R_s\big), \\qquad
    d = L\theta,\\quad \theta_j \\sim \textstyle\\sum_c w_{jc} N(m_{jc}, s_{jc}^2), \\qquad
    \tau \\sim HN(\\sigma_\tau)

- :math:`X_s` maps basic effects to study :math:`s`'s contrasts (:math:`d_t - d_c`);
- :math:`V_s`: sampling covariance; contrasts of a multi-arm study share their comparator arm,
  whose variance is taken from the arm sizes when given, else as half the smaller variance
  (equal arms);
- :math:`\tau^2 R_s`: random effects, :math:`R_s` with 1 on the diagonal and 1/2 between
  contrasts of the same study (consistency of multi-arm random effects); a **pooled** row (a
  meta-analysis' mean effect, ``kind = pooled``) already estimates a mean effect and enters with
  its own SE only (:math:`R_s = 0`);
- :math:`\theta`: parameters with independent (mixture-of-)normal priors; by default
  :math:`\theta = d` with :math:`d_k \\sim N(0, \\sigma_d^2)`. The **bridge** replaces the prior of
  :math:`d_{fact}` (FACT as usual vs standard care, which no trial compared) by
  :math:`N(\\mu_b, \\sigma_b^2)`; a **meta-analytic-predictive prior** re-parameterises
  :math:`d_{fact\\_rg} = d_{fact} + \\delta` with a robust two-component mixture prior on
  :math:`\\delta` (as RBesT does).

Given :math:`\tau` and the mixture component, the model is linear-Gaussian: the posterior of
:math:`\theta` and the marginal likelihood are closed form. :math:`\tau` is integrated on a fine
grid, so posterior draws are exact (no MCMC, no convergence to check).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from analysis import catalogue, registry, rules
from analysis.rules import INFORMED_IQR_RATIO

#: Treatments in display order: the arms of the trial registry, trial by trial.
TREATMENTS = tuple(dict.fromkeys(registry.load_arm_registry()["arm"]))
#: The default reference treatment (``reference`` in ``data/registry/network.yaml``).
REFERENCE = registry.network()["reference"]


#: Informative priors for tau in meta-analyses of standardised mean differences: Rhodes et al.
#: (2015, J Clin Epidemiol 68:52-60, Table 3), tau^2 ~ log-Student-t(location, scale, 5 d.f.), as
#: tabulated in the bayesmeta R package (RhodesEtAlPrior). ``general``: any outcome and
#: comparison; the others: non-pharmacological comparisons of ``mental-health`` outcomes,
#: ``quality-of-life`` (general physical health, adverse events, pain and quality of life /
#: functioning) and other ``subjective`` outcomes (various subjectively measured outcomes).
#: ``rhodes-by-outcome`` takes each outcome's category from the outcome registry
#: (``heterogeneity``).
#: (Turner et al. 2015 give the corresponding priors for log odds ratios of binary outcomes, not
#: for SMDs, so they are not offered here.)
TAU_PRIORS = {
    "half-normal": None,
    "rhodes-general": (-3.44, 2.59),
    "rhodes-mental-health": (-3.85, 1.93),
    "rhodes-quality-of-life": (-3.02, 2.27),
    "rhodes-subjective": (-2.62, 2.41),
}
#: The tau prior chosen per outcome from the registry's ``heterogeneity`` category.
BY_OUTCOME = "rhodes-by-outcome"
TAU_LOG_T_DF = 5


class TauPrior:
    """The prior of the between-study SD tau: half-normal(scale) or a Rhodes log-t on tau^2."""

    def __init__(self, name: str = "half-normal", scale: float = rules.HETEROGENEITY_SCALE):
        if name not in TAU_PRIORS:
            raise ValueError(f"unknown tau prior {name!r}; choose from {list(TAU_PRIORS)}")
        self.name, self.scale = name, scale
        self.log_t = TAU_PRIORS[name]

    def logpdf(self, tau: np.ndarray) -> np.ndarray:
        """Log density of tau."""
        if self.log_t is None:
            return stats.halfnorm.logpdf(tau, scale=self.scale)
        loc, sc = self.log_t
        # tau^2 = exp(x), x ~ t5(loc, sc): p(tau) = t5((2 log tau - loc)/sc)/sc * 2/tau
        return stats.t.logpdf((2 * np.log(tau) - loc) / sc, TAU_LOG_T_DF) - np.log(sc / 2 * tau)

    def ppf(self, q):
        """Quantiles of tau."""
        if self.log_t is None:
            return stats.halfnorm.ppf(q, scale=self.scale)
        loc, sc = self.log_t
        return np.exp((loc + sc * stats.t.ppf(q, TAU_LOG_T_DF)) / 2)

    def grid(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Quadrature nodes for tau and the log of their spacing."""
        if self.log_t is None:
            grid = np.linspace(0, max(6 * self.scale, 1e-3), size + 1)[1:]
            return grid, np.zeros(size)
        upper = min(float(self.ppf(0.999)), 10.0)
        grid = np.geomspace(1e-4, upper, size)
        return grid, np.log(grid)  # log spacing: d tau proportional to tau

    def describe(self) -> str:
        """The prior in maths (LaTeX)."""
        if self.log_t is None:
            return f"\\tau \\sim HN({self.scale:g})"
        loc, sc = self.log_t
        return (
            f"\\tau^2 \\sim \\text{{log-}}t_{{{TAU_LOG_T_DF}}}({loc:g}, {sc:g})"
            f" \\text{{ (Rhodes et al. 2015, {self.name.split('-', 1)[1]})}}"
        )


@dataclass
class NMAPriors:
    """Priors of the synthesis (SMD units).

    ``bridge`` maps a treatment to ``(mean, sd)`` of its basic effect against the reference;
    ``relative`` maps a treatment to the base it is parameterised against
    (``d_t = d_base + delta_t``, ``delta_t ~ N(0, effect_sd)``): with a bridge on ``fact``,
    ``{"fact_rg": "fact"}`` makes the bridge the only link of the resource-group part, so that
    a wide bridge leaves the cross-trial contrasts as uncertain as the bridge; ``map_prior`` is
    ``(treatment, base, components)``: a mixture prior ``[(weight, mean, sd), ...]`` on the
    effect of ``treatment`` vs ``base`` (the robust MAP prior,
    :func:`analysis.synthesis.pipeline.SynthesisSettings.map_components`).
    """

    effect_sd: float = 1.0
    tau_scale: float = rules.HETEROGENEITY_SCALE
    bridge: dict = field(default_factory=dict)
    map_prior: tuple | None = None
    relative: dict = field(default_factory=dict)
    tau_prior: str = "half-normal"

    @property
    def tau(self) -> TauPrior:
        """The prior of tau (``tau_prior``, with ``tau_scale`` for the half-normal)."""
        if self.tau_prior == BY_OUTCOME:
            raise ValueError("the tau prior depends on the outcome: use tau_for(outcome)")
        return TauPrior(self.tau_prior, self.tau_scale)

    def tau_for(self, outcome: str) -> TauPrior:
        """The prior of tau for ``outcome``: ``tau_prior``, or with :data:`BY_OUTCOME` the
        Rhodes et al. prior of the outcome's category in the outcome registry."""
        if self.tau_prior == BY_OUTCOME:
            return TauPrior(f"rhodes-{registry.heterogeneity_category(outcome)}", self.tau_scale)
        return self.tau

    def __post_init__(self):
        if not (self.effect_sd > 0 and np.isfinite(self.effect_sd)):
            raise ValueError(f"effect_sd must be positive, got {self.effect_sd!r}")
        if not (self.tau_scale > 0 and np.isfinite(self.tau_scale)):
            raise ValueError(f"tau_scale must be positive, got {self.tau_scale!r}")
        for t, (m, s) in self.bridge.items():
            if not (np.isfinite(m) and s > 0 and np.isfinite(s)):
                raise ValueError(
                    f"bridge for {t!r} needs a finite mean and a positive SD, got ({m}, {s})"
                )
        if self.map_prior is not None:
            _, _, comps = self.map_prior
            w = np.array([c[0] for c in comps])
            ok = all(c[2] > 0 and np.isfinite(c[1]) for c in comps) and np.all(w > 0)
            if not (ok and np.isclose(w.sum(), 1.0)):
                raise ValueError(
                    f"map_prior needs components (weight > 0, finite mean, sd > 0) whose "
                    f"weights sum to 1, got {self.map_prior}"
                )


@dataclass
class NMAResult:
    """Posterior draws of one outcome's network."""

    outcome: str
    treatments: list[str]
    reference: str
    d: np.ndarray  # draws x treatments (reference column = 0)
    tau: np.ndarray
    evidence: pd.DataFrame
    left_out: list = field(default_factory=list)  # treatments with evidence outside the network


def _design(ev: pd.DataFrame, treatments: list[str], reference: str):
    """Contrast design (rows x basic effects), estimates and the block covariance pieces."""
    basic = [t for t in treatments if t != reference]
    col = {t: i for i, t in enumerate(basic)}
    x = np.zeros((len(ev), len(basic)))
    for i, (t, c) in enumerate(zip(ev["treatment"], ev["comparator"], strict=True)):
        if t in col:
            x[i, col[t]] += 1
        if c in col:
            x[i, col[c]] -= 1
    se2 = ev["se"].to_numpy() ** 2
    v = np.diag(se2)
    # a pooled estimate (a meta-analysis' mean effect) enters with its own SE: no tau^2 on top
    pooled = (ev["kind"] == "pooled").to_numpy() if "kind" in ev else np.zeros(len(ev), bool)
    r = np.diag((~pooled).astype(float))
    for _, g in ev.groupby(["study", "outcome"]):
        idx = g.index.to_numpy()
        if len(idx) < 2:
            continue
        nt, nc = g["n_treatment"].to_numpy(), g["n_comparator"].to_numpy()
        given = g["cov_shared"].to_numpy(dtype=float) if "cov_shared" in g else np.array([np.nan])
        if np.all(np.isfinite(given)):  # from the trial's joint posterior
            var_c = float(np.mean(given))
        elif np.all(np.isfinite(nt)) and np.all(np.isfinite(nc)):
            var_c = float(np.mean(se2[idx] * nt / (nt + nc)))
        else:
            var_c = 0.5 * float(se2[idx].min())
        for a, b in itertools.combinations(idx, 2):
            v[a, b] = v[b, a] = var_c
            r[a, b] = r[b, a] = 0.5
    return x, ev["estimate"].to_numpy(), v, r, basic


def _parameterisation(basic: list[str], priors: NMAPriors):
    """Map ``d = L theta`` and the mixture components of each theta's prior."""
    k = len(basic)
    lmap = np.eye(k)
    comps = [[(1.0, 0.0, priors.effect_sd)] for _ in range(k)]
    for t, (m, s) in priors.bridge.items():
        if t in basic:
            comps[basic.index(t)] = [(1.0, m, s)]
    for t, base in priors.relative.items():
        if t in basic and base in basic:
            lmap[basic.index(t), basic.index(base)] = 1.0  # d_t = d_base + delta_t
    if priors.map_prior is not None:
        t, base, components = priors.map_prior
        if t in basic:
            j = basic.index(t)
            if base in basic:
                lmap[j, basic.index(base)] = 1.0  # d_t = d_base + delta
            comps[j] = [tuple(c) for c in components]
    return lmap, comps


def network_treatments(
    evidence: pd.DataFrame, outcome: str, priors: NMAPriors, reference: str | None = None
) -> tuple[list[str], str, list[str]]:
    """The treatments of one outcome's network: those connected to data, and the reference.

    A treatment belongs to the network when an evidence row of the outcome names it; a
    bridged treatment links the reference to the network (``priors.bridge``) only when the
    bridged treatment has data. Of several disconnected parts, the one holding the reference is
    kept: comparisons across parts would rest on priors alone.

    Parameters
    ----------
    reference : str, optional
        Default ``standard`` when connected, else the treatment with most contrasts (ties: the
        one most often the comparator, then the first in :data:`TREATMENTS` order, then
        alphabetical).

    Returns
    -------
    (treatments, reference, left_out)
        Treatments in display order; ``left_out``: treatments of the evidence outside the kept
        part.
    """
    ev = evidence[evidence["outcome"] == outcome]
    edges = list(zip(ev["treatment"], ev["comparator"], strict=True))
    nodes = set(ev["treatment"]) | set(ev["comparator"])
    for t in priors.bridge:
        if t in nodes:
            edges.append((t, REFERENCE))
            nodes.add(REFERENCE)
    order = {t: i for i, t in enumerate(TREATMENTS)}

    def key(t):
        return (order.get(t, len(order)), t)

    if reference is None:
        if REFERENCE in nodes:
            reference = REFERENCE
        else:
            counts = pd.Series([x for e in edges for x in e]).value_counts()
            as_comparator = pd.Series([c for _, c in edges]).value_counts()
            reference = sorted(
                nodes, key=lambda t: (-counts.get(t, 0), -as_comparator.get(t, 0), *key(t))
            )[0]
    elif reference not in nodes:
        raise ValueError(
            f"reference {reference!r} has no evidence for {outcome!r}; treatments with evidence: "
            f"{sorted(nodes, key=key)}"
        )
    part, frontier = {reference}, [reference]
    while frontier:
        t = frontier.pop()
        for a, b in edges:
            for x, y in ((a, b), (b, a)):
                if x == t and y not in part:
                    part.add(y)
                    frontier.append(y)
    return sorted(part, key=key), reference, sorted(nodes - part, key=key)


def fit_nma(
    evidence: pd.DataFrame,
    outcome: str,
    priors: NMAPriors,
    treatments: list[str] | None = None,
    reference: str | None = None,
    n_draws: int = 20000,
    seed: int = 0,
    grid_size: int = 400,
) -> NMAResult:
    """Exact posterior draws of the random-effects NMA of one outcome.

    Parameters
    ----------
    evidence : pandas.DataFrame
        Checked evidence (:func:`check_evidence`); rows of other outcomes are ignored.
    outcome : str
        Outcome domain.
    priors : NMAPriors
    treatments : list of str, optional
        Nodes of the network (default: :func:`network_treatments`, the treatments connected to
        data); nodes given without evidence keep their prior.
    reference : str, optional
        See :func:`network_treatments`.

    Returns
    -------
    NMAResult
    """
    ev = evidence[evidence["outcome"] == outcome].reset_index(drop=True)
    left_out: list[str] = []
    if treatments is None:
        treatments, reference, left_out = network_treatments(evidence, outcome, priors, reference)
        keep = ev["treatment"].isin(treatments) & ev["comparator"].isin(treatments)
        ev = ev[keep].reset_index(drop=True)
    reference = reference or (REFERENCE if REFERENCE in treatments else treatments[0])
    if reference not in treatments:
        treatments = [*treatments, reference]
    unknown = (set(ev["treatment"]) | set(ev["comparator"])) - set(treatments)
    if unknown:
        raise ValueError(
            f"evidence for {outcome!r} names treatments outside the network: {sorted(unknown)}"
        )
    x, y, v, r, basic = _design(ev, treatments, reference)
    lmap, comps = _parameterisation(basic, priors)
    a = x @ lmap
    tau_prior = priors.tau_for(outcome)
    grid, log_spacing = tau_prior.grid(grid_size)
    log_prior = tau_prior.logpdf(grid) + log_spacing
    rng = np.random.default_rng(seed)
    cells, logw = [], []
    for combo in itertools.product(*comps):
        w = np.array([c[0] for c in combo])
        m0 = np.array([c[1] for c in combo])
        s0 = np.array([c[2] for c in combo]) ** 2
        for tau, lp_tau in zip(grid, log_prior, strict=True):
            cov_e = v + tau**2 * r
            if len(y):
                cov_y = a @ np.diag(s0) @ a.T + cov_e
                ll = stats.multivariate_normal.logpdf(y, a @ m0, cov_y)
                inv_e = np.linalg.inv(cov_e)
                prec = np.diag(1 / s0) + a.T @ inv_e @ a
                cov_post = np.linalg.inv(prec)
                mean_post = cov_post @ (m0 / s0 + a.T @ inv_e @ y)
            else:
                ll, cov_post, mean_post = 0.0, np.diag(s0), m0
            logw.append(np.log(w).sum() + lp_tau + ll)
            cells.append((tau, mean_post, cov_post))
    logw = np.array(logw)
    p = np.exp(logw - logw.max())
    p /= p.sum()
    pick = rng.choice(len(cells), size=n_draws, p=p)
    theta = np.empty((n_draws, len(basic)))
    tau = np.empty(n_draws)
    for cell in np.unique(pick):
        idx = np.flatnonzero(pick == cell)
        t, mean, cov = cells[cell]
        theta[idx] = rng.multivariate_normal(mean, cov, size=len(idx), method="cholesky")
        tau[idx] = t
    d_basic = theta @ lmap.T
    d = np.zeros((n_draws, len(treatments)))
    for j, t in enumerate(basic):
        d[:, treatments.index(t)] = d_basic[:, j]
    return NMAResult(outcome, list(treatments), reference, d, tau, ev, left_out)


def describe_draws(diff: np.ndarray) -> dict:
    """Mean, SD, 95% equal-tailed interval and P(> 0) of contrast draws, with the Monte Carlo
    standard errors of the interval ends and the probability (the draws are independent)."""
    p = float((diff > 0).mean())
    return {
        "mean": diff.mean(),
        "sd": diff.std(ddof=1),
        "lower": np.quantile(diff, rules.LOWER),
        "upper": np.quantile(diff, rules.UPPER),
        "prob_better": p,
        "lower_mcse": quantile_mcse(diff, rules.LOWER),
        "upper_mcse": quantile_mcse(diff, rules.UPPER),
        "prob_better_mcse": float(np.sqrt(p * (1 - p) / len(diff))),
    }


def quantile_mcse(x: np.ndarray, q: float) -> float:
    """Monte Carlo standard error of the ``q`` quantile of independent draws: the draws at
    ranks n q -/+ sqrt(n q (1 - q)) (one binomial SD of the rank either side), half their
    distance."""
    x = np.sort(np.asarray(x, dtype=float))
    n = len(x)
    half = np.sqrt(n * q * (1 - q))
    lo = x[int(np.clip(np.floor(n * q - half), 0, n - 1))]
    hi = x[int(np.clip(np.ceil(n * q + half), 0, n - 1))]
    return float((hi - lo) / 2)


def league_table(res: NMAResult, seed: int = 0) -> pd.DataFrame:
    """Every ordered pair of treatments.

    Returns
    -------
    pandas.DataFrame
        Columns of :data:`analysis.catalogue.SYNTHESIS_EFFECTS`: the SMD of ``treatment`` vs
        ``reference`` (positive favours ``treatment``), its 95% equal-tailed interval, P(treatment
        better) with its Monte Carlo standard error (the draws are independent), and the 95%
        predictive interval of the effect in a new study (the contrast plus a new study's
        deviation, N(0, tau^2) per draw): what a decision about another team or trial needs.
    """
    rng = np.random.default_rng(seed)
    new_study = rng.standard_normal(len(res.tau)) * res.tau
    rows = []
    for i, t in enumerate(res.treatments):
        for j, r in enumerate(res.treatments):
            if i == j:
                continue
            diff = res.d[:, i] - res.d[:, j]
            described = describe_draws(diff)
            predictive = diff + new_study
            rows.append(
                {
                    "outcome": res.outcome,
                    "treatment": t,
                    "reference": r,
                    **described,
                    "predictive_lower": np.quantile(predictive, rules.LOWER),
                    "predictive_upper": np.quantile(predictive, rules.UPPER),
                    "predictive_lower_mcse": quantile_mcse(predictive, rules.LOWER),
                    "predictive_upper_mcse": quantile_mcse(predictive, rules.UPPER),
                }
            )
    return pd.DataFrame(rows, columns=list(catalogue.SYNTHESIS_EFFECTS.columns))


def rank_table(res: NMAResult) -> pd.DataFrame:
    """Rank probabilities (rank 1 = best) and SUCRA of each treatment.

    Returns
    -------
    pandas.DataFrame
        Columns ``outcome, treatment, rank, probability, sucra, probability_mcse,
        sucra_mcse, rests_on_bridge`` (Monte Carlo standard errors over the independent draws).
        SUCRA, the surface under the cumulative ranking curve, is 1 for a treatment certainly
        best and 0 for one certainly worst. ``rests_on_bridge``: the treatment lies in the part
        of the network that no trial links to the reference, so its rank against the other
        part is set by the bridging prior, not by data (:func:`depends_on_bridge`).
    """
    k = len(res.treatments)
    ranks = (-res.d).argsort(axis=1).argsort(axis=1) + 1
    n = len(ranks)
    rows = []
    for i, t in enumerate(res.treatments):
        probs = np.bincount(ranks[:, i], minlength=k + 1)[1:] / n
        score = (k - ranks[:, i]) / (k - 1)
        sucra = score.mean()
        for rank, pr in enumerate(probs, start=1):
            rows.append(
                {
                    "outcome": res.outcome,
                    "treatment": t,
                    "rank": rank,
                    "probability": pr,
                    "sucra": sucra,
                    "probability_mcse": float(np.sqrt(pr * (1 - pr) / n)),
                    "sucra_mcse": float(score.std(ddof=1) / np.sqrt(n)),
                    "rests_on_bridge": depends_on_bridge(t, res.reference),
                }
            )
    return pd.DataFrame(rows)


def ranks_markdown(ranks: pd.DataFrame) -> str:
    """Which treatments' ranks rest on the bridge, in one sentence (empty when none do)."""
    from analysis import registry

    if ranks.empty or "rests_on_bridge" not in ranks:
        return ""
    on = [t for t in dict.fromkeys(ranks.loc[ranks["rests_on_bridge"].astype(bool), "treatment"])]
    if not on:
        return ""
    names = " and ".join(registry.arm_label(t) for t in on)
    return (
        f"The ranks of {names} rest on the bridge: no trial links "
        f"{'them' if len(on) > 1 else 'it'} to the other treatments, so where they rank among "
        "those is set by the bridging prior, not by data (see the bridge sensitivity below)."
    )


#: The posterior of tau counts as informed under the same rule as the trial models' variances.
TAU_INFORMED_RATIO = INFORMED_IQR_RATIO


def heterogeneity_table(res: NMAResult, priors: NMAPriors) -> pd.DataFrame:
    """Posterior of the between-study SD tau beside its prior.

    Returns
    -------
    pandas.DataFrame
        Columns ``outcome, reference, mean, sd, lower, upper, prior, prior_median, prior_lower,
        prior_upper, informed, n_studies, n_contrasts``: posterior mean, SD and 95% interval;
        the prior's name, median and 95% interval; ``informed`` when the posterior's
        interquartile range is below :data:`TAU_INFORMED_RATIO` times the prior's.
    """
    t = res.tau
    prior = priors.tau_for(res.outcome)
    q = prior.ppf(np.array([rules.LOWER, 0.25, 0.5, 0.75, rules.UPPER]))
    iqr_post = np.quantile(t, 0.75) - np.quantile(t, 0.25)
    label = f"half-normal({priors.tau_scale:g})" if prior.log_t is None else prior.name
    return pd.DataFrame(
        [
            {
                "outcome": res.outcome,
                "reference": res.reference,
                "mean": t.mean(),
                "sd": t.std(ddof=1),
                "lower": np.quantile(t, rules.LOWER),
                "upper": np.quantile(t, rules.UPPER),
                "prior": label,
                "prior_median": q[2],
                "prior_lower": q[0],
                "prior_upper": q[4],
                "informed": bool(iqr_post < TAU_INFORMED_RATIO * (q[3] - q[1])),
                "n_studies": res.evidence["study"].nunique(),
                "n_contrasts": len(res.evidence),
            }
        ]
    )


def bridge_sensitivity(
    evidence,
    outcome,
    priors: NMAPriors,
    bridge_sds,
    *,
    treatment="fact_rg",
    versus="cacm",
    bridged="fact",
    n_draws=20000,
    seed=0,
) -> pd.DataFrame:
    """The key contrast and P(treatment best) as the bridge SD varies.

    Empty when the outcome's network (:func:`network_treatments`) lacks either treatment: the
    contrast would rest on priors alone.

    Returns
    -------
    pandas.DataFrame
        Columns of :data:`analysis.catalogue.BRIDGE_SENSITIVITY`.
    """
    mean = priors.bridge.get(bridged, (0.0, 1.0))[0]
    rows = []
    nodes = network_treatments(evidence, outcome, priors)[0]
    if treatment not in nodes or versus not in nodes:
        return pd.DataFrame(columns=list(catalogue.BRIDGE_SENSITIVITY.columns))
    for s in bridge_sds:
        pri = NMAPriors(
            priors.effect_sd,
            priors.tau_scale,
            {**priors.bridge, bridged: (mean, s)},
            priors.map_prior,
            priors.relative,
            priors.tau_prior,
        )
        res = fit_nma(evidence, outcome, pri, n_draws=n_draws, seed=seed)
        i, j = res.treatments.index(treatment), res.treatments.index(versus)
        diff = res.d[:, i] - res.d[:, j]
        best = float((res.d.argmax(axis=1) == i).mean())
        rows.append(
            {
                "outcome": outcome,
                "bridge_sd": s,
                **describe_draws(diff),
                "prob_best": best,
                "prob_best_mcse": float(np.sqrt(best * (1 - best) / len(diff))),
            }
        )
    return pd.DataFrame(rows, columns=list(catalogue.BRIDGE_SENSITIVITY.columns))


def depends_on_bridge(treatment: str, reference: str, components=None) -> bool:
    """Whether a contrast crosses the trials' disconnected parts (so rests on the bridge).

    ``components``: the parts (sets of treatments); default: those the trial registry's arms
    form (:func:`analysis.registry.trial_parts`)."""
    from analysis import registry

    components = registry.trial_parts() if components is None else components
    side = [
        next((k for k, c in enumerate(components) if t in c), None) for t in (treatment, reference)
    ]
    return side[0] != side[1]
