r"""The design analysis: the report's primary trial model with everything linear integrated out.

Each simulated replication trial is analysed by the model the report fits (one specification,
:mod:`analysis.modelspec`): unstructured within-patient covariance by default, team random
intercepts and team x treatment slopes coded as :data:`~analysis.modelspec.SLOPE_CODE`,
the same priors. Given the variance parameters :math:`\phi` (the covariance's parameters on
PyMC's unconstrained scale and the log team SDs) the data are linear-Gaussian:

.. math::

    z = X\gamma + Z b + \epsilon, \qquad \gamma = (\alpha, \beta) \sim N(0, P),\quad
    b_j = (u_j, v_j) \sim N(0, G),\quad \epsilon_i \sim N(0, \Sigma_{O_i O_i})

with :math:`X, Z` from :func:`analysis.modelspec.mean_design`, so :math:`p(y \mid \phi)`
and :math:`p(\gamma \mid y, \phi)` are closed form: each attendance pattern's block of
:math:`\Sigma` is inverted once, each team's random effects by a Woodbury update, from
sufficient statistics per team and pattern computed once per data set.

The integral over :math:`\phi` is a Laplace approximation refined by importance sampling: the
mode and the curvature of :math:`\log p(\phi \mid y)` (SciPy's optimiser and finite-difference
Hessian) define a multivariate t proposal; a fixed set of scrambled Sobol points drawn from it is
re-weighted by the exact :math:`p(\phi \mid y)`. The effect's posterior is the weighted mixture
of its exact conditional normals. :func:`analysis.studies.laplace.laplace_check` compares it with
MCMC of the same model on many simulated trials per design.
"""

from __future__ import annotations

import numpy as np
from scipy import differentiate, optimize, special, stats

from analysis import modelspec as spec
from analysis.trialmodel import model

#: Importance-sampling points over the variance parameters (scrambled Sobol, a power of 2).
IS_POINTS = 256
#: Step of the central differences of the log posterior's gradient (log-SD units).
GRADIENT_STEP = 1e-5
#: Degrees of freedom of the multivariate t proposal (heavier tails than the Laplace normal).
PROPOSAL_DF = 5


def _sobol_t(dim: int, n: int, df: float, seed: int = 20261129) -> np.ndarray:
    """``n`` quasi-random points of a standard multivariate t (scrambled Sobol, fixed seed)."""
    u = stats.qmc.Sobol(dim + 1, scramble=True, seed=seed).random(n)
    u = np.clip(u, 1e-12, 1 - 1e-12)
    normal = stats.norm.ppf(u[:, :dim])
    chi2 = stats.chi2.ppf(u[:, dim], df)
    return normal / np.sqrt(chi2 / df)[:, None]


class MarginalModel:
    """The exact marginal posterior of the trial model given its variance parameters.

    Parameters
    ----------
    data : TrialData
        One outcome of a trial with random team effects (8 or more teams).
    priors : Priors, optional
        Prior scales (default set).
    covariance : str, optional
        Within-patient covariance (default: the primary analysis').
    """

    def __init__(
        self,
        data: model.TrialData,
        priors: model.Priors | None = None,
        covariance: str = spec.DEFAULT_COVARIANCE,
    ):
        self.priors = priors or model.PRIOR_SETS["default"]
        self.spec = model.model_spec(data, covariance=covariance, priors=self.priors)
        if self.spec.site_effects != "random":
            raise ValueError(
                f"{data.trial}: the exact marginal analysis needs random team effects "
                f"({model.MIN_RANDOM_SITES}+ teams), got {len(data.sites)} teams"
            )
        if self.spec.likelihood != "normal":
            raise ValueError("the exact marginal analysis needs the normal likelihood")
        self.data = data
        values = model.model_data(data, self.priors)
        big_x, big_z = spec.mean_design(self.spec, values["treat_idx"])
        mask = data.mask
        zt = np.where(mask, data.z, 0.0)
        w = np.concatenate([big_x, big_z, zt[:, :, None]], axis=2) * mask[:, :, None]
        self.p, self.q = big_x.shape[2], big_z.shape[2]
        names = spec.fixed_effect_names(self.spec)
        self.beta_index = {(n[1], n[2]): i for i, n in enumerate(names) if n[0] == "beta"}
        t = len(data.visits)
        self.t = t
        # attendance patterns and their patients
        patterns, pattern_of = np.unique(mask, axis=0, return_inverse=True)
        self.patterns = patterns.astype(bool)
        self.n_sites = len(data.sites)
        # S[j, p] = sum over team j's patients of pattern p of W_i (x) W_i (visit, visit, col, col)
        k = self.p + self.q + 1
        cell = data.site_idx * len(patterns) + pattern_of.ravel()
        outer = np.einsum("nsk,nul->nsukl", w, w).reshape(len(w), -1)
        onehot = np.zeros((self.n_sites * len(patterns), len(w)))
        onehot[cell, np.arange(len(w))] = 1.0
        stats_ = (onehot @ outer).reshape(self.n_sites, len(patterns), t, t, k, k)
        # (team, col x col, pattern x visit x visit): one product with the precisions per call
        self.stats = np.ascontiguousarray(
            stats_.transpose(0, 4, 5, 1, 2, 3).reshape(self.n_sites, k * k, -1)
        )
        self.patients_by_pattern = np.bincount(pattern_of.ravel(), minlength=len(patterns))
        self.n_obs = float(mask.sum())
        pr = self.priors
        self.prior_var = np.r_[np.full(t, pr.visit_sd**2), np.full(self.p - t, pr.effect_sd**2)]
        self.team_scales = np.array([pr.site_sd, pr.site_effect_sd][: self.q])
        self.n_cov = {"unstructured": t * (t + 1) // 2, "intercept": 2, "ar1": 2}[covariance]
        self.lkj_log_norm = spec.lkj_log_norm(self.spec.lkj_eta, t)

    # ------------------------------------------------------------------ the covariance
    def covariance(self, theta: np.ndarray) -> np.ndarray:
        """The visit covariance from its unconstrained parameters (PyMC's transforms); a batch
        of parameter vectors (``B x n``) gives ``B x t x t``."""
        theta = np.asarray(theta, dtype=float)
        single = theta.ndim == 1
        theta = np.atleast_2d(theta)
        t, b = self.t, len(theta)
        if self.spec.covariance == "intercept":
            s2, sp2 = np.exp(2 * theta[:, 0]), np.exp(2 * theta[:, 1])
            out = sp2[:, None, None] * np.ones((t, t)) + s2[:, None, None] * np.eye(t)
        elif self.spec.covariance == "ar1":
            rho = 2.0 * special.expit(theta[:, 1]) - 1.0
            lag = spec.ar1_lags(self.spec.visits)
            out = np.exp(2 * theta[:, 0])[:, None, None] * rho[:, None, None] ** lag
        else:
            chol = np.zeros((b, t, t))
            rows, cols = np.tril_indices(t)
            chol[:, rows, cols] = theta
            diag = np.arange(t)
            chol[:, diag, diag] = np.exp(chol[:, diag, diag])
            out = chol @ chol.transpose(0, 2, 1)
        return out[0] if single else out

    def _log_prior_covariance(self, theta: np.ndarray) -> np.ndarray:
        """The covariance parameters' prior with the Jacobian of PyMC's transforms (per row)."""
        scale = self.priors.residual_sd
        if self.spec.covariance == "intercept":
            return (_log_half_normal(np.exp(theta), scale) + theta).sum(axis=1)
        if self.spec.covariance == "ar1":
            sg = special.expit(theta[:, 1])
            rho_term = np.log(sg) + np.log1p(-sg)  # Uniform(-1, 1) through 2 expit(u) - 1
            return _log_half_normal(np.exp(theta[:, 0]), scale) + theta[:, 0] + rho_term
        t, eta = self.t, self.spec.lkj_eta
        chol = np.zeros((len(theta), t, t))
        rows, cols = np.tril_indices(t)
        chol[:, rows, cols] = theta
        i = np.arange(t)
        log_diag = chol[:, i, i].copy()
        chol[:, i, i] = np.exp(log_diag)
        sd = np.sqrt((chol**2).sum(axis=2))
        ci = 2.0 * eta - 3.0 + t - i
        return (
            self.lkj_log_norm
            + ((ci + 1.0) * (log_diag - np.log(sd)) - i * np.log(sd)).sum(axis=1)
            + _log_half_normal(sd, scale).sum(axis=1)
            + log_diag.sum(axis=1)
        )

    # ------------------------------------------------------------------ exact pieces
    def conditional_batch(self, phis: np.ndarray):
        """:meth:`conditional` for a batch of parameter vectors (``B x d``), vectorised.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray, numpy.ndarray)
            log p(y | phi) (``B``; -inf where a covariance is not positive definite), and the
            mean (``B x p``) and covariance (``B x p x p``) of p(gamma | y, phi).
        """
        phis = np.atleast_2d(np.asarray(phis, dtype=float))
        b, p, q, t = len(phis), self.p, self.q, self.t
        k = p + q + 1
        cov = self.covariance(phis[:, : self.n_cov])
        precisions = np.zeros((b, len(self.patterns), t, t))
        logdet = np.zeros(b)
        bad = np.zeros(b, dtype=bool)
        for j, obs in enumerate(self.patterns):
            idx = np.flatnonzero(obs)
            block = cov[:, idx[:, None], idx[None, :]]
            sign, ld = np.linalg.slogdet(block)
            bad |= ~(sign > 0)
            block[bad] = np.eye(len(idx))  # placeholder: the row is -inf anyway
            precisions[:, j, idx[:, None], idx[None, :]] = np.linalg.inv(block)
            logdet += self.patients_by_pattern[j] * np.where(bad, 0.0, ld)
        team = np.tensordot(precisions.reshape(b, -1), self.stats, axes=([1], [2]))
        team = team.reshape(b, self.n_sites, k, k)
        log_g = 2 * phis[:, self.n_cov :]
        zz = team[:, :, p : p + q, p : p + q] + (np.exp(-log_g)[:, :, None] * np.eye(q))[:, None]
        zr = team[:, :, p : p + q, :]  # Z' Sigma^-1 [X, Z, y]
        chol = np.linalg.cholesky(zz)
        logdet_k = 2 * np.log(np.diagonal(chol, axis1=2, axis2=3)).sum(axis=(1, 2))
        corr = (zr.transpose(0, 1, 3, 2) @ np.linalg.solve(zz, zr)).sum(axis=1)
        omega = team.sum(axis=1) - corr  # [X, Z, y]' Omega^-1 [X, Z, y]
        xx, xy, yy = omega[:, :p, :p], omega[:, :p, -1], omega[:, -1, -1]
        logdet_omega = logdet + self.n_sites * log_g.sum(axis=1) + logdet_k
        prec = np.diag(1 / self.prior_var)[None] + xx
        post_cov = np.linalg.inv(prec)
        post_cov = 0.5 * (post_cov + post_cov.transpose(0, 2, 1))
        mean = np.einsum("bij,bj->bi", post_cov, xy)
        _, logdet_prec = np.linalg.slogdet(prec)
        loglik = -0.5 * (
            yy
            - np.einsum("bi,bij,bj->b", mean, prec, mean)
            + logdet_omega
            + np.log(self.prior_var).sum()
            + logdet_prec
            + self.n_obs * np.log(2 * np.pi)
        )
        return np.where(bad, -np.inf, loglik), mean, post_cov

    def conditional(self, phi: np.ndarray):
        """log p(y | phi) and the exact normal p(gamma | y, phi): (loglik, mean, cov)."""
        loglik, mean, cov = self.conditional_batch(np.asarray(phi, dtype=float)[None])
        if not np.isfinite(loglik[0]):
            return -np.inf, None, None
        return float(loglik[0]), mean[0], cov[0]

    def log_posterior_batch(self, phis: np.ndarray) -> np.ndarray:
        """log p(phi | y) up to a constant for a batch (the model's priors, PyMC's Jacobians)."""
        phis = np.atleast_2d(phis)
        loglik = self.conditional_batch(phis)[0]
        with np.errstate(invalid="ignore"):
            return np.where(np.isfinite(loglik), loglik + self._log_prior(phis), -np.inf)

    def log_posterior(self, phi: np.ndarray) -> float:
        """log p(phi | y) up to a constant."""
        return float(self.log_posterior_batch(np.asarray(phi, dtype=float)[None])[0])

    def _log_prior(self, phis: np.ndarray) -> np.ndarray:
        team = phis[:, self.n_cov :]
        return self._log_prior_covariance(phis[:, : self.n_cov]) + (
            _log_half_normal(np.exp(team), self.team_scales) + team
        ).sum(axis=1)

    def start(self) -> np.ndarray:
        """Starting point: the covariance at the observed one, team SDs at half their prior."""
        obs = np.where(self.data.mask, self.data.z, np.nan)
        var = np.nanvar(obs, axis=0)
        t = self.t
        if self.spec.covariance == "unstructured":
            theta = np.zeros(t * (t + 1) // 2)
            theta[np.cumsum(np.arange(1, t + 1)) - 1] = 0.5 * np.log(var)
        else:
            theta = np.array([0.5 * np.log(var.mean() / 2), 0.5 * np.log(var.mean() / 2)])
            if self.spec.covariance == "ar1":
                theta[1] = 1.0
        return np.r_[theta, np.log(self.team_scales * 0.5)]

    # ------------------------------------------------------------------ the approximation
    def fit(self) -> dict:
        """Laplace on phi, refined by importance sampling; the effect as a normal mixture.

        Returns
        -------
        dict
            ``mode`` and ``cov`` of phi, the ``nodes`` with their normalised ``weights``, the
            conditional ``means``/``covs`` of gamma, ``ess`` (the importance sample's effective
            size) and ``converged``.
        """

        d = len(self.start())
        steps = GRADIENT_STEP * np.vstack([np.zeros(d), np.eye(d), -np.eye(d)])

        def neg_and_grad(x):
            values = self.log_posterior_batch(x + steps)
            if not np.all(np.isfinite(values)):
                return 1e300, np.zeros(d)
            grad = (values[1 : d + 1] - values[d + 1 :]) / (2 * GRADIENT_STEP)
            return -values[0], -grad

        res = optimize.minimize(
            neg_and_grad,
            self.start(),
            jac=True,
            method="BFGS",
            options={"maxiter": 1000, "gtol": 1e-4},
        )
        mode = res.x
        hess = _hessian(lambda xs: -self.log_posterior_batch(xs), mode)
        eig = np.linalg.eigvalsh(hess) if np.all(np.isfinite(hess)) else np.array([-1.0])
        ok = bool(res.success or res.status == 2) and bool(np.all(eig > 0))
        cov = np.linalg.inv(hess) if ok else np.eye(len(mode)) * 0.25
        cov = 0.5 * (cov + cov.T)
        chol = np.linalg.cholesky(cov)
        points = np.vstack([np.zeros(len(mode)), _sobol_t(len(mode), IS_POINTS, PROPOSAL_DF)])
        proposal = stats.multivariate_t(mode, cov, df=PROPOSAL_DF)
        nodes = mode + points @ chol.T
        loglik, means, covs = self.conditional_batch(nodes)
        keep = np.isfinite(loglik)
        nodes, means, covs = nodes[keep], means[keep], covs[keep]
        logw = loglik[keep] + self._log_prior(nodes) - proposal.logpdf(nodes)
        weights = np.exp(logw - logw.max())
        weights /= weights.sum()
        return {
            "mode": mode,
            "cov": cov,
            "nodes": np.array(nodes),
            "weights": weights,
            "means": np.array(means),
            "covs": np.array(covs),
            "ess": float(1.0 / (weights**2).sum()),
            "converged": ok,
        }

    def effect(self, fitted: dict, month: int, arm: str | None = None, cut: float = 0.0):
        """Posterior mean, SD and P(effect > cut) of one treatment effect (benefit-positive SMD).

        Returns
        -------
        (mean, sd, prob)
        """
        arm = arm or self.data.treatments[0]
        j = self.beta_index[(arm, month)]
        sign = 1.0 if self.data.meta["higher_is_better"] else -1.0
        m = sign * fitted["means"][:, j]
        v = fitted["covs"][:, j, j]
        w = fitted["weights"]
        mean = float(w @ m)
        var = float(w @ (v + m**2) - mean**2)
        prob = float(w @ stats.norm.sf(cut, m, np.sqrt(v)))
        return mean, float(np.sqrt(max(var, 0.0))), prob

    def variance_parameters(self, fitted: dict) -> dict:
        """Posterior means of the team SDs (``sigma_site`` and, with slopes,
        ``sigma_site_effect``)."""
        names = ["sigma_site", "sigma_site_effect"][: self.q]
        sd = np.exp(fitted["nodes"][:, self.n_cov :])
        return {n: float(fitted["weights"] @ sd[:, i]) for i, n in enumerate(names)}


def _log_half_normal(value, scale):
    return 0.5 * np.log(2 / np.pi) - np.log(scale) - 0.5 * (value / scale) ** 2


def _hessian(f_batch, x: np.ndarray) -> np.ndarray:
    """Hessian of a scalar function of a vector by SciPy's finite differences; ``f_batch``
    evaluates a batch of points (rows) at once."""

    def vectorised(xi):
        flat = xi.reshape(len(x), -1)
        return np.asarray(f_batch(flat.T)).reshape(xi.shape[1:])

    res = differentiate.hessian(vectorised, x, order=2, maxiter=1, initial_step=0.02)
    hess = res.ddf
    return 0.5 * (hess + hess.T)
