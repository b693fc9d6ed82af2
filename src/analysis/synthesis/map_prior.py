r"""A meta-analytic-predictive (MAP) prior derived from historical trials, as RBesT's ``gMAP``
derives one for a normal endpoint with known standard errors (Neuenschwander et al. 2010;
Schmidli et al. 2014; Weber et al. 2021).

The model for historical estimates :math:`y_h` with standard errors :math:`s_h`:

.. math::

    y_h \sim N(\theta_h, s_h^2),\quad \theta_h \sim N(\mu, \tau^2),\quad
    \mu \sim N(m_0, s_0^2),\quad \tau \sim HN(\tau_0),

and the MAP prior is the predictive distribution of a new trial's :math:`\theta_\star`. Given
:math:`\tau` everything is normal, so the posterior of :math:`\tau` is computed exactly on a grid
and the MAP prior is a mixture of normals over that grid (no MCMC). As in RBesT it is then
approximated by a mixture of at most four normals (EM, number of components by AIC,
:func:`fit_mixture`), robustified with a vague unit-information component
(:func:`Mixture.robustify`), and described by its effective sample size (:func:`ess`), its
conflict with new data (:func:`conflict_p`) and the decision rule's operating characteristics
(:func:`operating_characteristics`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats


@dataclass(frozen=True)
class Mixture:
    """A mixture of normals: ``weights``, ``means``, ``sds`` (arrays of one length)."""

    weights: np.ndarray
    means: np.ndarray
    sds: np.ndarray

    def __post_init__(self):
        w = np.asarray(self.weights, float)
        object.__setattr__(self, "weights", w / w.sum())
        object.__setattr__(self, "means", np.asarray(self.means, float))
        object.__setattr__(self, "sds", np.asarray(self.sds, float))

    @property
    def mean(self) -> float:
        return float(self.weights @ self.means)

    @property
    def sd(self) -> float:
        second = self.weights @ (self.sds**2 + self.means**2)
        return float(np.sqrt(second - self.mean**2))

    def pdf(self, x) -> np.ndarray:
        x = np.asarray(x, float)[..., None]
        return (self.weights * stats.norm.pdf(x, self.means, self.sds)).sum(axis=-1)

    def cdf(self, x) -> np.ndarray:
        x = np.asarray(x, float)[..., None]
        return (self.weights * stats.norm.cdf(x, self.means, self.sds)).sum(axis=-1)

    def ppf(self, q: float) -> float:
        lo, hi = self.means.min() - 10 * self.sds.max(), self.means.max() + 10 * self.sds.max()
        return float(optimize.brentq(lambda x: self.cdf(x) - q, lo, hi))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        k = rng.choice(len(self.weights), size=n, p=self.weights)
        return rng.normal(self.means[k], self.sds[k])

    def posterior(self, y: float, se: float) -> Mixture:
        """The conjugate update by an estimate ``y`` with standard error ``se``."""
        prec = 1 / self.sds**2 + 1 / se**2
        means = (self.means / self.sds**2 + y / se**2) / prec
        marginal = stats.norm.logpdf(y, self.means, np.sqrt(self.sds**2 + se**2))
        logw = np.log(self.weights) + marginal
        return Mixture(np.exp(logw - logw.max()), means, 1 / np.sqrt(prec))

    def robustify(self, weight: float, mean: float, sd: float) -> Mixture:
        """The mixture with a vague component ``N(mean, sd^2)`` of weight ``weight`` added."""
        if not 0 <= weight < 1:
            raise ValueError(f"robust weight must be in [0, 1), got {weight}")
        return Mixture(
            np.r_[(1 - weight) * self.weights, weight],
            np.r_[self.means, mean],
            np.r_[self.sds, sd],
        )

    def table(self) -> pd.DataFrame:
        """One row per component."""
        return pd.DataFrame(
            {
                "component": np.arange(1, len(self.weights) + 1),
                "weight": self.weights,
                "mean": self.means,
                "sd": self.sds,
            }
        )


@dataclass
class MAPResult:
    """The exact MAP prior (a normal per grid value of tau) and the posterior of tau."""

    exact: Mixture
    tau: np.ndarray
    tau_weights: np.ndarray
    mu_mean: float
    mu_sd: float

    def tau_quantile(self, q: float) -> float:
        c = np.cumsum(self.tau_weights)
        return float(np.interp(q, c / c[-1], self.tau))


def gmap(
    y,
    se,
    tau_prior_sd: float,
    mu_prior: tuple[float, float],
    grid: int = 800,
) -> MAPResult:
    """The MAP prior of a new trial's effect from historical estimates ``y`` with standard
    errors ``se`` (the model of the module docstring), exactly given tau on a grid.

    Parameters
    ----------
    y, se : array_like
        Historical estimates and their standard errors.
    tau_prior_sd : float
        Scale of the half-normal prior of the between-trial SD.
    mu_prior : (float, float)
        Mean and SD of the normal prior of the mean effect.
    grid : int
        Grid points for tau (up to the prior's 99.99% quantile).
    """
    y, se = np.atleast_1d(np.asarray(y, float)), np.atleast_1d(np.asarray(se, float))
    if len(y) != len(se) or len(y) == 0 or np.any(se <= 0):
        raise ValueError("need one positive standard error per historical estimate")
    m0, s0 = mu_prior
    upper = stats.halfnorm.ppf(0.9999, scale=tau_prior_sd)
    tau = np.linspace(upper / grid, upper, grid)
    v = se[None, :] ** 2 + tau[:, None] ** 2  # grid x trial
    # y | tau ~ N(m0 1, diag(v) + s0^2 1 1'): Sherman-Morrison for its inverse and determinant
    r = y[None, :] - m0
    a = np.sum(1 / v, axis=1)
    quad = np.sum(r**2 / v, axis=1) - s0**2 * np.sum(r / v, axis=1) ** 2 / (1 + s0**2 * a)
    logdet = np.sum(np.log(v), axis=1) + np.log1p(s0**2 * a)
    loglik = -0.5 * (quad + logdet + len(y) * np.log(2 * np.pi))
    logw = stats.halfnorm.logpdf(tau, scale=tau_prior_sd) + loglik
    prec = 1 / s0**2 + a
    post_mean = (m0 / s0**2 + np.sum(y[None, :] / v, axis=1)) / prec
    post_var = 1 / prec
    w = np.exp(logw - logw.max())
    w /= w.sum()
    exact = Mixture(w, post_mean, np.sqrt(post_var + tau**2))
    mu_mean = float(w @ post_mean)
    mu_sd = float(np.sqrt(w @ (post_var + post_mean**2) - mu_mean**2))
    return MAPResult(exact, tau, w, mu_mean, mu_sd)


def fit_mixture(draws: np.ndarray, max_components: int = 4, seed: int = 0) -> Mixture:
    """A mixture of at most ``max_components`` normals fitted to ``draws`` by EM, the number of
    components chosen by AIC (as RBesT's ``automixfit``)."""
    x = np.asarray(draws, float)
    best, best_aic = None, np.inf
    for k in range(1, max_components + 1):
        mix, loglik = _em(x, k, seed)
        aic = -2 * loglik + 2 * (3 * k - 1)
        if aic < best_aic - 1e-9:
            best, best_aic = mix, aic
    return best


def _em(x: np.ndarray, k: int, seed: int, iterations: int = 300) -> tuple[Mixture, float]:
    q = np.quantile(x, (np.arange(k) + 0.5) / k)
    w, m, s = np.full(k, 1 / k), q, np.full(k, x.std() / np.sqrt(k))
    old = -np.inf
    for _ in range(iterations):
        z = (x[:, None] - m) / s
        logp = np.log(w) - 0.5 * z * z - np.log(s) - 0.5 * np.log(2 * np.pi)
        top = logp.max(axis=1, keepdims=True)
        loglik = float(np.sum(top[:, 0] + np.log(np.exp(logp - top).sum(axis=1))))
        r = np.exp(logp - top)
        r /= r.sum(axis=1, keepdims=True)
        nk = r.sum(axis=0) + 1e-12
        w = nk / len(x)
        m = (r * x[:, None]).sum(axis=0) / nk
        s = np.sqrt(np.maximum((r * (x[:, None] - m) ** 2).sum(axis=0) / nk, 1e-12))
        if loglik - old < 1e-7 * abs(loglik):
            break
        old = loglik
    return Mixture(w, m, s), loglik


def ess(mix: Mixture, sigma: float, method: str = "elir") -> float:
    """Effective sample size of a prior for an endpoint with per-patient SD ``sigma``:
    ``elir`` (expected local-information ratio, Neuenschwander et al. 2020; RBesT's default)
    or ``moment`` (sigma^2 / prior variance)."""
    if method == "moment":
        return float(sigma**2 / mix.sd**2)
    if method != "elir":
        raise ValueError(f"method must be 'elir' or 'moment', got {method!r}")
    # E_prior[ i(theta) ] with i = -d^2/dtheta^2 log prior, in units of one patient's 1/sigma^2
    lo, hi = mix.ppf(1e-6), mix.ppf(1 - 1e-6)
    x = np.linspace(lo, hi, 20001)
    d = mix.pdf(x)
    logd = np.log(np.maximum(d, 1e-300))
    h = x[1] - x[0]
    info = -np.gradient(np.gradient(logd, h), h)
    return float(sigma**2 * np.sum(d * info) * h)


def conflict_p(mix: Mixture, y: float, se: float) -> float:
    """Box's prior-predictive p-value of a new estimate ``y`` (standard error ``se``): the
    predictive probability of an estimate less likely than ``y`` (small: prior-data conflict)."""
    pred = Mixture(mix.weights, mix.means, np.sqrt(mix.sds**2 + se**2))
    lo, hi = pred.ppf(1e-7), pred.ppf(1 - 1e-7)
    x = np.linspace(lo, hi, 40001)
    d = pred.pdf(x)
    at = pred.pdf(y)
    return float(np.sum(d[d <= at]) * (x[1] - x[0]))


def decision_boundary(mix: Mixture, se: float, threshold: float) -> float:
    """The smallest estimate whose posterior P(effect > 0) exceeds ``threshold``."""

    def gap(yhat):
        return 1 - mix.posterior(yhat, se).cdf(0.0) - threshold

    lo, hi = -20 * (se + mix.sd), 20 * (se + mix.sd)
    return float(optimize.brentq(gap, lo, hi, xtol=1e-10))


def operating_characteristics(mix: Mixture, se: float, threshold: float, effects) -> pd.DataFrame:
    """P(success) of the decision rule "posterior P(effect > 0) > threshold" under the prior
    ``mix``, for a new trial whose estimate has standard error ``se``, at each true effect: at
    zero the type I error, elsewhere the power."""
    b = decision_boundary(mix, se, threshold)
    effects = np.atleast_1d(np.asarray(effects, float))
    return pd.DataFrame(
        {
            "true_effect": effects,
            "prob_success": stats.norm.sf(b, effects, se),
            "boundary": b,
        }
    )


#: The SD of one patient's contribution to an SMD between two arms (one patient per arm): the
#: unit of the effective sample size and the size of the robust component.
UNIT_SD = 2.0


def derived_map(
    historical: pd.DataFrame,
    treatment: str,
    base: str,
    tau_prior_sd: float,
    mu_prior_sd: float,
    weight: float,
    seed: int = 0,
) -> tuple[Mixture, Mixture, MAPResult]:
    """The robust MAP prior of ``treatment`` vs ``base`` from the historical trials' rows
    (``study, treatment, comparator, estimate, se``; rows of the opposite direction are turned).

    Returns
    -------
    (Mixture, Mixture, MAPResult)
        The robust prior (the mixture approximation with weight ``weight`` and a vague
        unit-information component N(0, UNIT_SD^2) with the rest), the mixture approximation
        alone, and the exact result.

    Raises
    ------
    ValueError
        Naming the file's columns when no historical row compares the two treatments.
    """
    h = historical
    same = (h["treatment"] == treatment) & (h["comparator"] == base)
    turned = (h["treatment"] == base) & (h["comparator"] == treatment)
    if not (same | turned).any():
        raise ValueError(
            f"no historical trial compares {treatment} with {base} "
            f"(rows: {list(zip(h['treatment'], h['comparator'], strict=True))})"
        )
    y = np.r_[h.loc[same, "estimate"].to_numpy(float), -h.loc[turned, "estimate"].to_numpy(float)]
    se = np.r_[h.loc[same, "se"].to_numpy(float), h.loc[turned, "se"].to_numpy(float)]
    res = gmap(y, se, tau_prior_sd, (0.0, mu_prior_sd))
    approx = fit_mixture(res.exact.sample(8000, np.random.default_rng(seed)), seed=seed)
    return approx.robustify(1 - weight, 0.0, UNIT_SD), approx, res
