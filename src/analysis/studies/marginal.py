r"""The fast analysis of a simulated trial with everything linear integrated out exactly.

For the project's primary trial model (normal likelihood, patient random intercept, team random
intercepts and, where teams deliver the intervention, team x treatment slopes) the data are
linear-Gaussian given the variance parameters
:math:`\phi = (\log\sigma, \log\sigma_{patient}, \log\sigma_{site}, \log\sigma_{site\,effect})`:

.. math::

    z = X\gamma + Z b + \epsilon, \qquad \gamma = (\alpha, \beta) \sim N(0, P),\quad
    b_j = (u_j, v_j) \sim N(0, G),\quad \epsilon_i \sim N(0, \sigma^2 I + \sigma_{patient}^2 J)

so :math:`p(y \mid \phi)` and :math:`p(\gamma \mid y, \phi)` are closed form. Each patient's
covariance inverts by Sherman-Morrison and each team's random effects by a Woodbury update,
from per-patient sufficient statistics computed once per data set. The Laplace approximation
acts only on :math:`\phi` (four log-SDs): the effect's posterior is the mixture of its exact
conditional normals over a Gauss-Hermite rule on that approximation, re-weighted by the exact
:math:`p(\phi \mid y)` (an importance-weighted rule). Taking the joint mode over the team
offsets instead (the earlier approach) inflates the team SDs and the effect's SD; this does not.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy import optimize, special, stats

from analysis.trialmodel import model

#: Gauss-Hermite points per variance parameter.
GH_POINTS = 3


def _design(data: model.TrialData, slopes: bool):
    """Per patient: W_i = [X_i, Z_i, z_i] on the attended visits (rows), with its size."""
    t_dim = len(data.visits)
    n_treat = len(data.treatments)
    p = t_dim + n_treat * (t_dim - 1)
    q = 2 if slopes else 1
    arms = np.array(data.arms)[data.arm_idx]
    treat = np.array([data.treatments.index(a) if a in data.treatments else -1 for a in arms])
    z = data.z
    mask = data.mask
    n = len(z)
    w = np.zeros((n, t_dim, p + q + 1))
    for t in range(t_dim):
        w[:, t, t] = 1.0  # alpha_t
        if t > 0:
            for k in range(n_treat):
                w[treat == k, t, t_dim + k * (t_dim - 1) + (t - 1)] = 1.0  # beta_kt
        w[:, t, p] = 1.0  # team intercept
        if slopes and t > 0:
            w[:, t, p + 1] = (treat >= 0).astype(float)  # team x treatment slope
        w[:, t, -1] = np.where(mask[:, t], z[:, t], 0.0)
    w *= mask[:, :, None]
    beta_index = {
        (data.treatments[k], data.visits[t]): t_dim + k * (t_dim - 1) + (t - 1)
        for k in range(n_treat)
        for t in range(1, t_dim)
    }
    return w, mask.sum(axis=1), p, q, beta_index


class MarginalModel:
    """The exact marginal posterior of the primary trial model given the variance parameters.

    Parameters
    ----------
    data : TrialData
        One outcome of a trial with random team effects (8 or more teams).
    priors : Priors, optional
        Prior scales (default set).
    """

    def __init__(self, data: model.TrialData, priors: model.Priors | None = None):
        spec = model.model_spec(data)
        if spec.site_effects != "random":
            raise ValueError(
                f"{data.trial}: the exact marginal analysis needs random team effects "
                f"({model.MIN_RANDOM_SITES}+ teams), got {len(data.sites)} teams"
            )
        self.priors = priors or model.PRIOR_SETS["default"]
        self.data = data
        w, n_i, p, q, beta_index = _design(data, spec.site_slopes)
        self.p, self.q, self.beta_index = p, q, beta_index
        # Sufficient statistics: per team and number of attended visits m, the sums of W_i'W_i
        # and of (1'W_i)'(1'W_i) over its patients; Sigma_i^-1 depends on i only through m.
        ww = np.einsum("ntk,ntl->nkl", w, w)
        sw = w.sum(axis=1)
        sws = np.einsum("nk,nl->nkl", sw, sw)
        self.n_sites = len(data.sites)
        self.counts = np.arange(1, len(data.visits) + 1)
        onehot = np.zeros((self.n_sites * len(self.counts), len(w)))
        onehot[data.site_idx * len(self.counts) + (n_i - 1), np.arange(len(w))] = 1.0
        shape = (self.n_sites, len(self.counts), *ww.shape[1:])
        self.team_ww = (onehot @ ww.reshape(len(w), -1)).reshape(shape)
        self.team_sws = (onehot @ sws.reshape(len(w), -1)).reshape(shape)
        self.patients_by_count = np.bincount(n_i - 1, minlength=len(self.counts)).astype(float)
        self.n_obs = float(n_i.sum())
        pr = self.priors
        t_dim = len(data.visits)
        self.prior_var = np.r_[np.full(t_dim, pr.visit_sd**2), np.full(p - t_dim, pr.effect_sd**2)]
        self.scales = np.array(
            [pr.residual_sd, pr.residual_sd, pr.site_sd, pr.site_effect_sd][: 2 + q]
        )

    # ------------------------------------------------------------------ exact pieces
    def _team_terms(self, phi: np.ndarray):
        """Per-team M_j = sum_i W_i' Sigma_i^-1 W_i and the log-determinants of Sigma."""
        s2, sp2 = np.exp(2 * phi[0]), np.exp(2 * phi[1])
        c = sp2 / (s2 + self.counts * sp2)  # Sherman-Morrison, by number of visits attended
        team = (self.team_ww - c[None, :, None, None] * self.team_sws).sum(axis=1) / s2
        logdet = float(
            (
                self.patients_by_count
                * ((self.counts - 1) * np.log(s2) + np.log(s2 + self.counts * sp2))
            ).sum()
        )
        return team, logdet

    def conditional(self, phi: np.ndarray):
        """log p(y | phi) and the exact normal p(gamma | y, phi): (loglik, mean, cov)."""
        p, q = self.p, self.q
        team, logdet_sigma = self._team_terms(phi)
        g_inv = np.exp(-2 * phi[2 : 2 + q])
        zz = team[:, p : p + q, p : p + q] + np.diag(g_inv)[None]
        zr = team[:, p : p + q, :]  # Z' Sigma^-1 [X, Z, y]
        k_inv = np.linalg.inv(zz)
        chol = np.linalg.cholesky(zz)
        logdet_k = 2 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum()
        corr = (zr.transpose(0, 2, 1) @ (k_inv @ zr)).sum(axis=0)
        omega = team.sum(axis=0) - corr  # [X, Z, y]' Omega^-1 [X, Z, y]
        xx = omega[:p, :p]
        xy = omega[:p, -1]
        yy = omega[-1, -1]
        logdet_omega = logdet_sigma + self.n_sites * (2 * phi[2 : 2 + q]).sum() + logdet_k
        prec = np.diag(1 / self.prior_var) + xx
        cov = np.linalg.inv(prec)
        cov = 0.5 * (cov + cov.T)
        mean = cov @ xy
        sign, logdet_prec = np.linalg.slogdet(prec)
        loglik = -0.5 * (
            yy
            - mean @ prec @ mean
            + logdet_omega
            + np.log(self.prior_var).sum()
            + logdet_prec
            + self.n_obs * np.log(2 * np.pi)
        )
        return float(loglik), mean, cov

    def log_posterior(self, phi: np.ndarray) -> float:
        """log p(phi | y) up to a constant (half-normal priors on the SDs, log-scale Jacobian)."""
        return self.conditional(phi)[0] + self._log_prior(phi)

    def _log_prior(self, phi: np.ndarray) -> float:
        """Half-normal priors on the SDs exp(phi), with the log-scale Jacobian."""
        sd = np.exp(phi)
        return float(
            (0.5 * np.log(2 / np.pi) - np.log(self.scales) - 0.5 * (sd / self.scales) ** 2).sum()
            + phi.sum()
        )

    # ------------------------------------------------------------------ the approximation
    def fit(self) -> dict:
        """Laplace on phi, then the effect posterior as an importance-weighted normal mixture.

        Returns
        -------
        dict
            ``mode`` and ``cov`` of phi, the Gauss-Hermite ``nodes`` with their normalised
            ``weights`` and conditional ``means``/``covs`` of gamma, and ``converged``.
        """
        x0 = np.log(self.scales * 0.5)

        def neg(x):
            value = self.log_posterior(x)
            return -value if np.isfinite(value) else 1e300

        res = optimize.minimize(neg, x0, method="BFGS", options={"maxiter": 500, "gtol": 1e-6})
        mode = res.x
        hess = _hessian(neg, mode)
        ok = bool(res.success or res.status == 2) and bool(np.all(np.linalg.eigvalsh(hess) > 0))
        cov = np.linalg.inv(hess) if ok else np.diag(np.full(len(mode), 0.25))
        cov = 0.5 * (cov + cov.T)
        chol = np.linalg.cholesky(cov)
        x, w = special.roots_hermitenorm(GH_POINTS)
        w = w / w.sum()
        nodes, logw, means, covs = [], [], [], []
        log_q_norm = stats.multivariate_normal(mode, cov)
        for idx in itertools.product(range(GH_POINTS), repeat=len(mode)):
            u = x[list(idx)]
            phi = mode + chol @ u
            loglik, m, c = self.conditional(phi)
            lp = loglik + self._log_prior(phi)
            logw.append(np.log(np.prod(w[list(idx)])) + lp - log_q_norm.logpdf(phi))
            nodes.append(phi)
            means.append(m)
            covs.append(c)
        logw = np.array(logw)
        weights = np.exp(logw - logw.max())
        weights /= weights.sum()
        return {
            "mode": mode,
            "cov": cov,
            "nodes": np.array(nodes),
            "weights": weights,
            "means": np.array(means),
            "covs": np.array(covs),
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
        """Posterior means of the SDs (sigma, sigma_patient, sigma_site[, sigma_site_effect])."""
        names = ["sigma", "sigma_patient", "sigma_site", "sigma_site_effect"][: len(self.scales)]
        sd = np.exp(fitted["nodes"])
        return {n: float(fitted["weights"] @ sd[:, i]) for i, n in enumerate(names)}


def _hessian(f, x: np.ndarray, h: float = 1e-3) -> np.ndarray:
    """Central finite-difference Hessian of a scalar function."""
    n = len(x)
    out = np.empty((n, n))
    f0 = f(x)
    for i in range(n):
        ei = np.zeros(n)
        ei[i] = h
        out[i, i] = (f(x + ei) - 2 * f0 + f(x - ei)) / h**2
        for j in range(i + 1, n):
            ej = np.zeros(n)
            ej[j] = h
            out[i, j] = out[j, i] = (
                f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)
            ) / (4 * h**2)
    return out
