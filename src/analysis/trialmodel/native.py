r"""The trial model's log density and gradient as native code, cached on disk: no compile wait.

PyMC builds the model of :mod:`analysis.trialmodel.model` as a graph that nutpie compiles with
numba in every process (~20 s; the generated function cannot be cached). This module writes the
same posterior density by hand, once, as two numba C callbacks compiled with ``cache=True``: the
log density with its gradient, and the expansion of an unconstrained point into the model's named
variables. nutpie's Rust sampler calls them directly (no Python, no GIL, chains in parallel). The
first process on a machine compiles them (a few seconds); every later one loads them from
numba's cache. One pair of callbacks serves every model variant: the structure (covariance,
likelihood, site effects, slopes, covariates) and the data travel in one ``float64`` block.

**Sufficient statistics.** Under the normal likelihood the patients who share an attendance
pattern, a site and an arm have the same mean up to their covariate term, so the density of the
group needs only its count and the sums :math:`\sum z`, :math:`\sum z z^\top`, :math:`\sum x`,
:math:`\sum x x^\top`, :math:`\sum z x^\top`; a gradient costs one pass over the groups, not the
patients. The Student-t likelihood weights each patient by its own Mahalanobis distance, so each
patient is its own group. PSIS-LOO's per-patient terms are computed once after sampling
(:func:`analysis.trialmodel.fit.add_log_likelihood`).

**Derivation.** For a group with attended visits :math:`O` (:math:`k` of them), count :math:`n`,
common mean :math:`m` and patient shifts :math:`w_i = \Gamma^\top x_i` (a covariate
coefficient per visit), residuals :math:`r_i = z_{i,O} - m - w_i`, :math:`P = \Sigma_{OO}^{-1}`, :math:`R = \sum_i r_i`,
:math:`C = \sum_i r_i r_i^\top` and :math:`q = \operatorname{tr}(PC)`:

.. math::

    \ell &= -\tfrac{nk}{2}\log 2\pi - \tfrac{n}{2}\log|\Sigma_{OO}| - \tfrac12 q
    \quad\text{(normal)},\qquad
    s = \partial\ell/\partial q \\
    \partial\ell/\partial\Sigma_{OO} &= -\tfrac{n}{2}P - s\,PCP,\qquad
    \partial\ell/\partial m = -2s\,PR,\qquad
    \partial\ell/\partial\Gamma = -2s\,E P,\quad E = \textstyle\sum_i x_i r_i^\top

and the Student-t density (:math:`n = 1`) has
:math:`s = -(\nu + k) / (2(\nu + q))`. The priors, PyMC's transforms (log for scales, log-odds
for the AR(1) correlation, zero-sum for fixed site effects, the packed Cholesky factor with log
diagonal for the LKJ covariance) and their Jacobians are those of the PyMC model, constants
included, so both give the same log density: ``tests/test_native.py`` checks the value and the
gradient against PyMC's graph to 1e-6 for every variant, and the posteriors against each other.
"""

from __future__ import annotations

import math
import zlib

import numba
import numpy as np
import pandas as pd

from analysis.modelspec import (
    COVARIANCES,
    FIXED_SITE_SD,
    PARAMETERS,
    PRIOR_FIELDS,
    SITE_MODES,
    SLOPE_CODE,
    STUDENT_NU_PRIOR,
    Layout,
    ModelSpec,
    Priors,
    ar1_lags,
    lkj_log_norm,
    parameter_layout,
)
from analysis.trialmodel.model import TrialData, all_patterns, model_data

_LOG_2PI = math.log(2.0 * math.pi)

# ----------------------------------------------------------------------------------------------
# The data block's header: named fields derived from the specification
# ----------------------------------------------------------------------------------------------
#: Header fields: the structure, the specification's prior scales (``prior_<field>``), the
#: constants of the density, and the offset of every free parameter (``o_<parameter>``, -1 when
#: the variant does not have it). The kernels read them by name from a record.
HEADER_FIELDS = (
    ("size", "layout", "t", "a", "c", "j", "site_mode", "slopes", "cov_mode", "student")
    + ("n_groups", "n_patterns", "n_dim", "n_expanded", "record_size")
    + ("slope_treated", "slope_comparator", "lkj_log_norm", "nu_shape", "nu_rate", "fixed_sd")
    + ("first_effect",)
    + tuple(f"prior_{name}" for name in PRIOR_FIELDS)
    + tuple(f"o_{name}" for name in PARAMETERS)
)
HEADER_DTYPE = np.dtype([(name, np.float64) for name in HEADER_FIELDS])
N_HEADER = len(HEADER_FIELDS)
#: Fingerprint of the header's fields: a block built by another layout is refused.
LAYOUT = float(zlib.crc32(",".join(HEADER_FIELDS).encode()))


def layout(spec: ModelSpec) -> Layout:
    """The parameter layout of ``spec`` (:func:`analysis.modelspec.parameter_layout`)."""
    return parameter_layout(spec)


def header(block: np.ndarray):
    """The header record of a data block (fields :data:`HEADER_FIELDS`)."""
    return block[:N_HEADER].view(HEADER_DTYPE).view(np.recarray)[0]


# ----------------------------------------------------------------------------------------------
# The data block
# ----------------------------------------------------------------------------------------------
def group_statistics(
    data: TrialData, spec: ModelSpec, aggregate: bool = True
) -> dict[str, np.ndarray]:
    """Sufficient statistics of the groups the density sums over.

    Normal likelihood: patients sharing attendance pattern, site and arm form one group (with
    ``aggregate=False``, one group per patient: the same density, for checks).
    Student-t: one group per patient. Returns arrays ``pattern, site, treat, n`` (group) and
    ``sz`` (group x visit), ``szz`` (group x visit x visit), ``sx``, ``sxx``, ``szx``; unattended
    visits hold zeros.
    """
    values = model_data(data, covariates=bool(spec.covariates))
    z, mask = values["z"], values["mask"].astype(bool)
    t = len(spec.visits)
    x = values["x"] if spec.covariates else np.zeros((len(z), 0))
    pattern_of = np.zeros(len(z), dtype=np.int64)
    for p in range(len(all_patterns(t))):
        pattern_of[values[f"rows_{p}"]] = p
    site = values["site_idx"] if spec.site_effects != "none" else np.zeros(len(z), dtype=np.int64)
    treat = values["treat_idx"]
    if spec.likelihood == "normal" and aggregate:
        keys = np.stack([pattern_of, site, treat], axis=1)
        uniq, group = np.unique(keys, axis=0, return_inverse=True)
        group = group.ravel()
    else:
        uniq = np.stack([pattern_of, site, treat], axis=1)
        group = np.arange(len(z))
    g = len(uniq)
    zm = np.where(mask, z, 0.0)

    def total(a):
        out = np.zeros((g, *a.shape[1:]))
        np.add.at(out, group, a)
        return out

    return {
        "pattern": uniq[:, 0],
        "site": uniq[:, 1],
        "treat": uniq[:, 2],
        "n": np.bincount(group, minlength=g).astype(float),
        "sz": total(zm),
        "szz": total(zm[:, :, None] * zm[:, None, :]),
        "sx": total(x),
        "sxx": total(x[:, :, None] * x[:, None, :]),
        "szx": total(zm[:, :, None] * x[:, None, :]),
    }


def data_block(
    data: TrialData, spec: ModelSpec, priors: Priors, aggregate: bool = True
) -> np.ndarray:
    """Everything the native density needs, in one C-contiguous ``float64`` array.

    Header (the named fields of :data:`HEADER_FIELDS`), then the AR(1) exponents (visit x
    visit, :func:`analysis.modelspec.ar1_lags`), then the pattern table (pattern x visit indicators), then one
    record per group: pattern, site, treatment, count, then the statistics of
    :func:`group_statistics` flattened.
    """
    lay = layout(spec)
    t, a, c, j = len(spec.visits), len(spec.treatments), len(spec.covariates), len(spec.sites)
    stats = group_statistics(data, spec, aggregate)
    patterns = all_patterns(t)
    table = np.zeros((len(patterns), t))
    for p, obs in enumerate(patterns):
        table[p, obs] = 1.0
    n_groups = len(stats["n"])
    records = np.column_stack(
        [
            stats["pattern"],
            stats["site"],
            stats["treat"],
            stats["n"],
            stats["sz"].reshape(n_groups, -1),
            stats["szz"].reshape(n_groups, -1),
            stats["sx"].reshape(n_groups, -1),
            stats["sxx"].reshape(n_groups, -1),
            stats["szx"].reshape(n_groups, -1),
        ]
    )
    head = np.zeros(1, dtype=HEADER_DTYPE)
    values = {
        "layout": LAYOUT,
        "t": t,
        "a": a,
        "c": c,
        "j": j,
        "site_mode": SITE_MODES.index(spec.site_effects),
        "slopes": float(spec.site_slopes),
        "cov_mode": COVARIANCES.index(spec.covariance),
        "student": float(spec.likelihood == "student"),
        "n_groups": n_groups,
        "n_patterns": len(patterns),
        "n_dim": lay.n_dim,
        "n_expanded": lay.n_expanded,
        "record_size": records.shape[1],
        "slope_treated": SLOPE_CODE["treated"],
        "slope_comparator": SLOPE_CODE["comparator"],
        "lkj_log_norm": (
            lkj_log_norm(spec.lkj_eta, t) if spec.covariance == "unstructured" else 0.0
        ),
        "nu_shape": STUDENT_NU_PRIOR[0],
        "nu_rate": STUDENT_NU_PRIOR[1],
        "fixed_sd": FIXED_SITE_SD,
        "first_effect": spec.first_effect,
        **{f"prior_{name}": getattr(priors, name) for name in PRIOR_FIELDS},
        **{f"o_{name}": lay.offset(name) for name in PARAMETERS},
    }
    values["prior_lkj_eta"] = spec.lkj_eta
    for name, value in values.items():
        head[name] = value
    lags = ar1_lags(spec.visits).astype(float)  # the AR(1) exponents: time between visits
    block = np.concatenate([head.view(np.float64), lags.ravel(), table.ravel(), records.ravel()])
    block[HEADER_FIELDS.index("size")] = len(block)
    return np.ascontiguousarray(block)


# ----------------------------------------------------------------------------------------------
# Native kernels
# ----------------------------------------------------------------------------------------------
_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}


@numba.njit(**_JIT)
def _digamma(x):
    """psi(x) for x > 0: recurrence to x >= 6, then the asymptotic series (error < 1e-13)."""
    out = 0.0
    while x < 6.0:
        out -= 1.0 / x
        x += 1.0
    f = 1.0 / (x * x)
    return (
        out
        + math.log(x)
        - 0.5 / x
        - f
        * (
            1.0 / 12
            - f
            * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f * (1.0 / 132 - f * 691.0 / 32760))))
        )
    )


@numba.njit(**_JIT)
def _softplus(x):
    return x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))


@numba.njit(**_JIT)
def _half_normal(value, scale):
    """log HalfNormal(value | scale) and its derivative in value."""
    lp = 0.5 * math.log(2.0 / math.pi) - math.log(scale) - 0.5 * (value / scale) ** 2
    return lp, -value / scale**2


@numba.njit(**_JIT)
def _scale_prior(x, o, scale, grad):
    """The scale exp(x[o]) and its log HalfNormal(scale) prior plus log Jacobian; the prior's
    gradient is added to ``grad``."""
    value = math.exp(x[o])
    hn, dhn = _half_normal(value, scale)
    grad[o] += dhn * value + 1.0
    return value, hn + x[o]


@numba.njit(**_JIT)
def _noncentred(x, o_sigma, o_offset, j, scale, grad, out):
    """Non-centred effects ``out = sigma * offset`` (offsets N(0, 1)); returns sigma and the
    log prior (gradients of the priors added to ``grad``)."""
    sigma, lp = _scale_prior(x, o_sigma, scale, grad)
    lp += _normal_prior(x, o_offset, j, 1.0, grad)
    for s in range(j):
        out[s] = sigma * x[o_offset + s]
    return sigma, lp


@numba.njit(**_JIT)
def _noncentred_grad(x, o_sigma, o_offset, j, sigma, d_effect, grad):
    """Chain rule from the gradient of the effects to their log scale and offsets."""
    d_sigma = 0.0
    for s in range(j):
        grad[o_offset + s] += d_effect[s] * sigma
        d_sigma += d_effect[s] * x[o_offset + s]
    grad[o_sigma] += d_sigma * sigma


@numba.njit(**_JIT)
def _normal_prior(x, off, size, scale, grad):
    """Sum of log N(x | 0, scale) over ``x[off:off+size]``, gradient added to ``grad``."""
    lp = 0.0
    for i in range(off, off + size):
        lp += -0.5 * _LOG_2PI - math.log(scale) - 0.5 * (x[i] / scale) ** 2
        grad[i] += -x[i] / scale**2
    return lp


@numba.njit(**_JIT)
def _covariance(x, h, t, cov_mode, sigma_cov, lags):
    """The visit covariance (t x t) and its parameters from the unconstrained vector."""
    out = np.zeros((t, t))
    chol = np.zeros((t, t))
    if cov_mode == 1:  # compound symmetry
        s = math.exp(x[int(h.o_sigma)])
        sp = math.exp(x[int(h.o_sigma_patient)])
        sigma_cov[0], sigma_cov[1] = s, sp
        for i in range(t):
            for k in range(t):
                out[i, k] = sp * sp + (s * s if i == k else 0.0)
    elif cov_mode == 2:  # AR(1)
        s = math.exp(x[int(h.o_sigma)])
        u = x[int(h.o_rho)]
        rho = -1.0 + 2.0 / (1.0 + math.exp(-u))
        sigma_cov[0], sigma_cov[1] = s, rho
        for i in range(t):
            for k in range(t):
                out[i, k] = s * s * rho ** int(lags[i, k])
    else:  # unstructured: packed Cholesky factor, row by row, log diagonal
        off = int(h.o_visit_cov)
        pos = 0
        for i in range(t):
            for k in range(i + 1):
                v = x[off + pos]
                chol[i, k] = math.exp(v) if k == i else v
                pos += 1
        for i in range(t):
            for k in range(t):
                acc = 0.0
                for m in range(min(i, k) + 1):
                    acc += chol[i, m] * chol[k, m]
                out[i, k] = acc
    return out, chol


@numba.njit(**_JIT)
def _pattern_inverses(cov, table, n_pat, t):
    """Inverse of the observed block of ``cov`` (zeros elsewhere) and its log determinant,
    for each attendance pattern; ``ok`` is False if a block is not positive definite."""
    inv = np.zeros((n_pat, t, t))
    logdet = np.zeros(n_pat)
    idx = np.zeros(t, dtype=np.int64)
    for p in range(n_pat):
        k = 0
        for i in range(t):
            if table[p, i] > 0:
                idx[k] = i
                k += 1
        low = np.zeros((k, k))
        for i in range(k):
            for m in range(i + 1):
                acc = cov[idx[i], idx[m]]
                for r in range(m):
                    acc -= low[i, r] * low[m, r]
                if i == m:
                    if not acc > 0:
                        return inv, logdet, False
                    low[i, i] = math.sqrt(acc)
                else:
                    low[i, m] = acc / low[m, m]
        # inverse of the factor, then P = L^-T L^-1
        linv = np.zeros((k, k))
        for i in range(k):
            linv[i, i] = 1.0 / low[i, i]
            for m in range(i):
                acc = 0.0
                for r in range(m, i):
                    acc -= low[i, r] * linv[r, m]
                linv[i, m] = acc / low[i, i]
        for i in range(k):
            logdet[p] += 2.0 * math.log(low[i, i])
            for m in range(k):
                acc = 0.0
                for r in range(max(i, m), k):
                    acc += linv[r, i] * linv[r, m]
                inv[p, idx[i], idx[m]] = acc
    return inv, logdet, True


@numba.njit(**_JIT)
def logp_and_grad(x, grad, h, body, pointwise):
    """Log posterior density (unnormalised only by the data) at the unconstrained ``x``.

    Writes the gradient into ``grad`` and returns the log density (``-inf`` outside the support).
    If ``pointwise`` is not empty, each group's log likelihood is written into it (one entry per
    group: per patient with a per-patient block, for PSIS-LOO).
    """
    t, a, c, j = int(h.t), int(h.a), int(h.c), int(h.j)
    site_mode, slopes, cov_mode = int(h.site_mode), h.slopes > 0, int(h.cov_mode)
    student = h.student > 0
    n_groups, n_pat, n_dim, rec = (
        int(h.n_groups),
        int(h.n_patterns),
        int(h.n_dim),
        int(h.record_size),
    )
    visit_sd, effect_sd, site_sd = h.prior_visit_sd, h.prior_effect_sd, h.prior_site_sd
    site_effect_sd, residual_sd = h.prior_site_effect_sd, h.prior_residual_sd
    eta, lkj_norm, nu_shape, nu_rate, fixed_sd = (
        h.prior_lkj_eta,
        h.lkj_log_norm,
        h.nu_shape,
        h.nu_rate,
        h.fixed_sd,
    )
    code_t, code_c = h.slope_treated, h.slope_comparator
    o_alpha, o_beta, o_gamma = int(h.o_alpha), int(h.o_beta), int(h.o_gamma)
    o_ssite, o_soff, o_fixed = int(h.o_sigma_site), int(h.o_site_offset), int(h.o_site_fixed)
    o_sse, o_seoff, o_nu = int(h.o_sigma_site_effect), int(h.o_site_effect_offset), int(h.o_nu)
    o_sigma, o_second = int(h.o_sigma), int(h.o_sigma_patient) if cov_mode == 1 else int(h.o_rho)
    lags = body[: t * t].reshape((t, t))
    table = body[t * t : t * t + n_pat * t].reshape((n_pat, t))
    groups = body[t * t + n_pat * t : t * t + n_pat * t + n_groups * rec]
    for i in range(n_dim):
        grad[i] = 0.0

    # ---- priors and Jacobians ------------------------------------------------------------
    lp = _normal_prior(x, o_alpha, t, visit_sd, grad)
    f = int(h.first_effect)  # the first visit with an effect (1: baseline constrained)
    lp += _normal_prior(x, o_beta, a * (t - f), effect_sd, grad)
    if c > 0:
        lp += _normal_prior(x, o_gamma, c * t, effect_sd, grad)
    u = np.zeros(j)  # site intercepts
    sigma_site = 0.0
    if site_mode == 1:
        sigma_site, lp_site = _noncentred(x, o_ssite, o_soff, j, site_sd, grad, u)
        lp += lp_site
    elif site_mode == 2:
        total = 0.0
        for s in range(j - 1):
            total += x[o_fixed + s]
        sq = math.sqrt(j)
        norm = total / (sq + j)
        for s in range(j - 1):
            u[s] = x[o_fixed + s] - norm
        u[j - 1] = -total / sq
        for s in range(j):
            lp += (
                -0.5 * (u[s] / fixed_sd) ** 2 - (0.5 * _LOG_2PI + math.log(fixed_sd)) * (j - 1) / j
            )
    v = np.zeros(j)  # site x treatment slopes
    sigma_se = 0.0
    if slopes:
        sigma_se, lp_slope = _noncentred(x, o_sse, o_seoff, j, site_effect_sd, grad, v)
        lp += lp_slope
    sigma_cov = np.zeros(2)
    cov, chol = _covariance(x, h, t, cov_mode, sigma_cov, lags)
    if cov_mode == 1:
        lp += _scale_prior(x, o_sigma, residual_sd, grad)[1]
        lp += _scale_prior(x, o_second, residual_sd, grad)[1]
    elif cov_mode == 2:
        lp += _scale_prior(x, o_sigma, residual_sd, grad)[1]
        ur = x[o_second]
        lp += -2.0 * _softplus(-ur) - ur  # Uniform(-1, 1) density times the Jacobian
        grad[o_second] += 1.0 - 2.0 / (1.0 + math.exp(-ur))
    nu = 0.0
    if student:
        nu = math.exp(x[o_nu])
        lp += (
            nu_shape * math.log(nu_rate)
            - math.lgamma(nu_shape)
            + (nu_shape - 1.0) * math.log(nu)
            - nu_rate * nu
            + x[o_nu]
        )
        grad[o_nu] += (nu_shape - 1.0) - nu_rate * nu + 1.0
    gamma = np.zeros((c, t))  # covariate x visit
    for q1 in range(c):
        for i in range(t):
            gamma[q1, i] = x[o_gamma + q1 * t + i]

    # ---- likelihood over the groups -------------------------------------------------------
    inv, logdet, ok = _pattern_inverses(cov, table, n_pat, t)
    if not ok:
        return -np.inf
    du = np.zeros(j)
    dv = np.zeros(j)
    dgamma = np.zeros((c, t))
    sxg = np.zeros((c, t))  # Sxx Gamma
    gsx = np.zeros(t)  # Gamma' Sx
    amat = np.zeros((t, t))  # Szx Gamma
    bmat = np.zeros((t, t))  # Gamma' Sxx Gamma
    dnu = 0.0
    count = np.zeros(n_pat)
    acc = np.zeros((n_pat, t, t))  # sum over groups of -s C
    m = np.zeros(t)
    sz = np.zeros(t)
    big_r = np.zeros(t)
    cmat = np.zeros((t, t))
    pr = np.zeros(t)
    for g in range(n_groups):
        r0 = g * rec
        p, site, tr, n = int(groups[r0]), int(groups[r0 + 1]), int(groups[r0 + 2]), groups[r0 + 3]
        o_sz, o_szz = r0 + 4, r0 + 4 + t
        o_sx = o_szz + t * t
        o_sxx = o_sx + c
        o_szx = o_sxx + c * c
        k = 0.0
        code = code_t if tr < a else code_c  # the slope's coding (spec.SLOPE_CODE)
        for i in range(t):
            obs = table[p, i]
            k += obs
            mean = x[o_alpha + i] + u[site]
            if i >= f:
                if tr < a:
                    mean += x[o_beta + tr * (t - f) + i - f]
                if slopes:
                    mean += v[site] * code
            m[i] = mean * obs
            sz[i] = groups[o_sz + i]
        if c > 0:
            for i in range(t):
                tmp = 0.0
                for q1 in range(c):
                    tmp += groups[o_sx + q1] * gamma[q1, i]
                gsx[i] = tmp
                for q1 in range(c):
                    tmp = 0.0
                    for q2 in range(c):
                        tmp += groups[o_sxx + q1 * c + q2] * gamma[q2, i]
                    sxg[q1, i] = tmp
            for i in range(t):
                for k2 in range(t):
                    a_ik = 0.0
                    b_ik = 0.0
                    for q1 in range(c):
                        a_ik += groups[o_szx + i * c + q1] * gamma[q1, k2]
                        b_ik += gamma[q1, i] * sxg[q1, k2]
                    amat[i, k2] = a_ik
                    bmat[i, k2] = b_ik
        for i in range(t):
            big_r[i] = (sz[i] - n * m[i] - gsx[i]) * table[p, i]
        q = 0.0
        for i in range(t):
            for k2 in range(t):
                val = (
                    groups[o_szz + i * t + k2]
                    - sz[i] * m[k2]
                    - m[i] * sz[k2]
                    + n * m[i] * m[k2]
                    - amat[i, k2]
                    - amat[k2, i]
                    + m[i] * gsx[k2]
                    + gsx[i] * m[k2]
                    + bmat[i, k2]
                ) * (table[p, i] * table[p, k2])
                cmat[i, k2] = val
                q += inv[p, i, k2] * val
        if student:
            half = 0.5 * (nu + k)
            term = (
                math.lgamma(half)
                - math.lgamma(0.5 * nu)
                - 0.5 * k * math.log(nu * math.pi)
                - 0.5 * logdet[p]
                - half * math.log1p(q / nu)
            )
            s = -half / (nu + q)
            dnu += (
                0.5 * _digamma(half)
                - 0.5 * _digamma(0.5 * nu)
                - 0.5 * k / nu
                - 0.5 * math.log1p(q / nu)
                + half * q / (nu * (nu + q))
            )
        else:
            term = -0.5 * n * k * _LOG_2PI - 0.5 * n * logdet[p] - 0.5 * q
            s = -0.5
        lp += term
        if len(pointwise) > 0:
            pointwise[g] = term
        count[p] += n
        for i in range(t):
            for k2 in range(t):
                acc[p, i, k2] -= s * cmat[i, k2]
        # mean gradient -2s P R, scattered to the parameters
        tot = 0.0
        tot_follow = 0.0
        for i in range(t):
            val = 0.0
            for k2 in range(t):
                val += inv[p, i, k2] * big_r[k2]
            pr[i] = -2.0 * s * val
            grad[o_alpha + i] += pr[i]
            tot += pr[i]
            if i >= f:
                tot_follow += pr[i]
                if tr < a:
                    grad[o_beta + tr * (t - f) + i - f] += pr[i]
        du[site] += tot
        dv[site] += code * tot_follow
        if c > 0:
            # -2s E P with E = Szx^T - Sx m^T - Sxx Gamma over the attended visits
            for i in range(t):
                if table[p, i] == 0:
                    continue
                for q1 in range(c):
                    e = groups[o_szx + i * c + q1] - groups[o_sx + q1] * m[i] - sxg[q1, i]
                    for k2 in range(t):
                        dgamma[q1, k2] += -2.0 * s * e * inv[p, i, k2]

    # ---- chain rule back to the parameters ------------------------------------------------
    for q1 in range(c):
        for i in range(t):
            grad[o_gamma + q1 * t + i] += dgamma[q1, i]
    if site_mode == 1:
        _noncentred_grad(x, o_ssite, o_soff, j, sigma_site, du, grad)
    elif site_mode == 2:
        gu = np.zeros(j)
        for s2 in range(j):
            gu[s2] = du[s2] - u[s2] / fixed_sd**2
        head = 0.0
        for s2 in range(j - 1):
            head += gu[s2]
        sq = math.sqrt(j)
        for s2 in range(j - 1):
            grad[o_fixed + s2] += gu[s2] - head / (sq + j) - gu[j - 1] / sq
    if slopes:
        _noncentred_grad(x, o_sse, o_seoff, j, sigma_se, dv, grad)
    if student:
        grad[o_nu] += dnu * nu
    # dL/dSigma, summed over the patterns
    gmat = np.zeros((t, t))
    for p in range(n_pat):
        if count[p] == 0:
            continue
        for i in range(t):
            for k2 in range(t):
                val = -0.5 * count[p] * inv[p, i, k2]
                for r1 in range(t):
                    if inv[p, i, r1] == 0:
                        continue
                    for r2 in range(t):
                        val += inv[p, i, r1] * acc[p, r1, r2] * inv[p, r2, k2]
                gmat[i, k2] += val
    if cov_mode == 1:
        s_, sp = sigma_cov[0], sigma_cov[1]
        trace = 0.0
        total = 0.0
        for i in range(t):
            trace += gmat[i, i]
            for k2 in range(t):
                total += gmat[i, k2]
        grad[o_sigma] += 2.0 * s_ * trace * s_
        grad[o_second] += 2.0 * sp * total * sp
    elif cov_mode == 2:
        s_, rho = sigma_cov[0], sigma_cov[1]
        dsig = 0.0
        drho = 0.0
        for i in range(t):
            for k2 in range(t):
                lag = int(lags[i, k2])
                dsig += gmat[i, k2] * 2.0 * s_ * rho**lag
                if lag > 0:
                    drho += gmat[i, k2] * s_ * s_ * lag * rho ** (lag - 1)
        grad[o_sigma] += dsig * s_
        ur = x[o_second]
        sg = 1.0 / (1.0 + math.exp(-ur))
        grad[o_second] += drho * 2.0 * sg * (1.0 - sg)
    else:
        off = int(h.o_visit_cov)
        # LKJ prior on the correlation, HalfNormal on the SDs, the Jacobians (PyMC's logp)
        lp += lkj_norm
        pos = 0
        for i in range(t):
            var = 0.0
            for k2 in range(i + 1):
                var += chol[i, k2] ** 2
            sd = math.sqrt(var)
            ci = 2.0 * eta - 3.0 + t - i
            hn, _ = _half_normal(sd, residual_sd)
            lp += (ci + 1.0) * math.log(chol[i, i] / sd) - i * math.log(sd) + hn
            for k2 in range(i + 1):
                # d/dL_ik of the prior, plus the likelihood's (2 G L)_ik
                dl = -(ci + 1.0 + i) * chol[i, k2] / var - chol[i, k2] / residual_sd**2
                if k2 == i:
                    dl += (ci + 1.0) / chol[i, i]
                lik = 0.0
                for r1 in range(t):
                    lik += 2.0 * gmat[i, r1] * chol[r1, k2]
                dl += lik
                if k2 == i:
                    lp += x[off + pos]  # Jacobian of the log diagonal
                    grad[off + pos] += dl * chol[i, i] + 1.0
                else:
                    grad[off + pos] += dl
                pos += 1
    return lp


@numba.njit(**_JIT)
def expand(x, out, h, body):
    """Write the named (constrained) variables of the unconstrained point ``x`` into ``out``,
    in the order of :func:`layout`'s ``variables``."""
    t, a, c, j = int(h.t), int(h.a), int(h.c), int(h.j)
    site_mode, slopes, cov_mode = int(h.site_mode), h.slopes > 0, int(h.cov_mode)
    student = h.student > 0
    pos = 0
    for i in range(t + a * (t - int(h.first_effect)) + c * t):  # alpha, beta, gamma: as is
        out[pos] = x[i]
        pos += 1
    if site_mode == 1:
        out[pos] = math.exp(x[int(h.o_sigma_site)])
        pos += 1
        for s in range(j):
            out[pos] = x[int(h.o_site_offset) + s]
            pos += 1
    elif site_mode == 2:
        o = int(h.o_site_fixed)
        total = 0.0
        for s in range(j - 1):
            total += x[o + s]
        sq = math.sqrt(j)
        for s in range(j - 1):
            out[pos] = x[o + s] - total / (sq + j)
            pos += 1
        out[pos] = -total / sq
        pos += 1
    if slopes:
        out[pos] = math.exp(x[int(h.o_sigma_site_effect)])
        pos += 1
        for s in range(j):
            out[pos] = x[int(h.o_site_effect_offset) + s]
            pos += 1
    sigma_cov = np.zeros(2)
    cov, chol = _covariance(x, h, t, cov_mode, sigma_cov, body[: t * t].reshape((t, t)))
    if cov_mode == 1 or cov_mode == 2:
        out[pos] = sigma_cov[0]
        out[pos + 1] = sigma_cov[1]
        pos += 2
    else:
        for i in range(t):
            for k in range(i + 1):
                out[pos] = chol[i, k]
                pos += 1
        for i in range(t):
            out[pos + i] = math.sqrt(cov[i, i])
        pos += t
        for i in range(t):
            for k in range(t):
                out[pos] = cov[i, k] / math.sqrt(cov[i, i] * cov[k, k])
                pos += 1
    if student:
        out[pos] = math.exp(x[int(h.o_nu)])
        pos += 1
    return pos


@numba.njit(cache=True)
def _compiled_layout():
    return LAYOUT


def _clear_stale_cache() -> None:
    """numba keys its cache on this file alone: if the specification changed the header since
    the cache was written, drop this module's cached kernels so that they compile afresh."""
    if _compiled_layout() == LAYOUT:
        return
    import pathlib

    folder = pathlib.Path(_compiled_layout._cache.cache_path)
    for path in folder.glob(f"{pathlib.Path(__file__).stem}.*.nb[ic]"):
        path.unlink(missing_ok=True)
    _compiled_layout.recompile()


_clear_stale_cache()  # before the callbacks below compile or load

_LOGP_SIG = numba.types.int64(
    numba.types.uint64,
    numba.types.CPointer(numba.types.double),
    numba.types.CPointer(numba.types.double),
    numba.types.CPointer(numba.types.double),
    numba.types.voidptr,
)
_EXPAND_SIG = numba.types.int64(
    numba.types.uint64,
    numba.types.uint64,
    numba.types.CPointer(numba.types.double),
    numba.types.CPointer(numba.types.double),
    numba.types.voidptr,
)


@numba.cfunc(_LOGP_SIG, cache=True, nogil=True, error_model="numpy")
def _logp_cfunc(dim, x_, grad_, logp_, block_):
    """nutpie's C log-density callback: 0 on success, 3/4 for a non-finite gradient/density,
    -1 for a block of another dimension or layout."""
    h = numba.carray(block_, (1,), HEADER_DTYPE)[0]
    if h.layout != LAYOUT or dim != int(h.n_dim):
        return -1
    block = numba.carray(block_, (int(h.size),), np.float64)
    n_dim = int(h.n_dim)
    x = numba.carray(x_, (n_dim,))
    grad = numba.carray(grad_, (n_dim,))
    out = numba.carray(logp_, (1,))
    value = logp_and_grad(x, grad, h, block[N_HEADER:], np.empty(0))
    out[0] = value
    for i in range(n_dim):
        if not np.isfinite(grad[i]):
            return 3
    if not np.isfinite(value):
        return 4
    return 0


@numba.cfunc(_EXPAND_SIG, cache=True, nogil=True, error_model="numpy")
def _expand_cfunc(dim, n_expanded, x_, out_, block_):
    """nutpie's C expansion callback."""
    h = numba.carray(block_, (1,), HEADER_DTYPE)[0]
    if h.layout != LAYOUT or dim != int(h.n_dim) or n_expanded != int(h.n_expanded):
        return -1
    block = numba.carray(block_, (int(h.size),), np.float64)
    x = numba.carray(x_, (int(h.n_dim),))
    out = numba.carray(out_, (int(h.n_expanded),))
    expand(x, out, h, block[N_HEADER:])
    return 0


# ----------------------------------------------------------------------------------------------
# nutpie glue
# ----------------------------------------------------------------------------------------------
def initial_point(lay: Layout, priors: Priors, seed: int) -> np.ndarray:
    """A start for one chain: PyMC's (support points on the unconstrained scale, scales at their
    prior scale, nu at its prior mean) jittered by U(-1, 1), as ``pm.sample`` starts."""
    x = np.zeros(lay.n_dim)
    scale = {
        "sigma_site": priors.site_sd,
        "sigma_site_effect": priors.site_effect_sd,
        "sigma": priors.residual_sd,
        "sigma_patient": priors.residual_sd,
    }
    for name, start, _ in lay.blocks:
        if name in scale:
            x[start] = np.log(scale[name])
        elif name == "nu":
            x[start] = np.log(STUDENT_NU_PRIOR[0] / STUDENT_NU_PRIOR[1])
        elif name == "visit_cov":
            t = len(lay.spec.visits)
            diag = np.cumsum(np.arange(1, t + 1)) - 1
            x[start + diag] = np.log(priors.residual_sd)
    rng = np.random.default_rng(seed)
    return x + rng.uniform(-1.0, 1.0, size=lay.n_dim)


def coords_and_dims(data: TrialData, lay: Layout) -> tuple[dict, dict]:
    """Coordinates and dims of the expanded variables (as the PyMC model names them)."""
    spec = lay.spec
    t = len(spec.visits)
    coords = {
        "visit": list(spec.visits),
        "visit_bis": list(spec.visits),
        "treatment": list(spec.treatments),
        "followup": list(spec.visits[spec.first_effect :]),
        "site": list(spec.sites),
        "covariate": list(spec.covariates),
        "visit_cov_dim_0": list(range(t * (t + 1) // 2)),
    }
    dims = {name: list(d) for name, _, d in lay.variables}
    used = {d for v in dims.values() for d in v}
    out = {k: pd.Index(v) for k, v in coords.items() if k in used}
    out["unconstrained_parameter"] = pd.Index(
        [f"{name}_{i}" if size > 1 else name for name, _, size in lay.blocks for i in range(size)]
    )
    return out, dims


def compile_native(data: TrialData, spec: ModelSpec, priors: Priors):
    """The native density of ``data`` under ``spec`` and ``priors`` as nutpie's sampler takes it.

    Nothing is compiled here after the first process on a machine (numba's on-disk cache); a
    new data set or prior costs one pass to build the data block. Neither PyMC nor ArviZ is
    imported: :func:`analysis.trialmodel.draws.sample` drives nutpie's compiled sampler.

    Returns
    -------
    analysis.trialmodel.draws.NativeModel
    """
    from functools import partial

    from analysis.trialmodel.draws import NativeModel

    lay = layout(spec)
    coords, dims = coords_and_dims(data, lay)
    return NativeModel(
        logp_cfunc=_logp_cfunc,
        expand_cfunc=_expand_cfunc,
        block=data_block(data, spec, priors),
        n_dim=lay.n_dim,
        n_expanded=lay.n_expanded,
        names=[name for name, _, _ in lay.variables],
        shapes=[tuple(shape) for _, shape, _ in lay.variables],
        dims=dims,
        coords=coords,
        initial_point=partial(initial_point, lay, priors),
    )


def compiled_here() -> bool:
    """Whether this process compiled the native callbacks (numba's on-disk cache missed: the
    first run on a machine, or after this module changed)."""
    return _logp_cfunc.cache_hits == 0 or _expand_cfunc.cache_hits == 0


def log_density(block: np.ndarray, x: np.ndarray) -> tuple[float, np.ndarray]:
    """The native log density and gradient at ``x`` (for tests and checks)."""
    h = header(block)
    grad = np.zeros(int(h.n_dim))
    value = logp_and_grad(np.asarray(x, dtype=float), grad, h, block[N_HEADER:], np.empty(0))
    return float(value), grad


@numba.njit(**_JIT)
def _pointwise(draws, h, body, out):
    grad = np.zeros(draws.shape[1])
    for s in range(draws.shape[0]):
        logp_and_grad(draws[s], grad, h, body, out[s])


def unconstrained_draws(posterior, lay: Layout) -> np.ndarray:
    """The unconstrained vectors (sample x ``lay.n_dim``) of posterior draws: PyMC's transforms
    inverted (log for scales, log-odds for the AR(1) correlation, zero-sum, packed Cholesky with
    log diagonal).

    Parameters
    ----------
    posterior : xarray.Dataset
        The ``posterior`` group of a fit of ``lay.spec`` (chain, draw, ...).
    """
    n = posterior.sizes["chain"] * posterior.sizes["draw"]
    out = np.empty((n, lay.n_dim))
    t = len(lay.spec.visits)
    for name, start, size in lay.blocks:
        v = np.asarray(posterior[name]).reshape(n, -1)
        if name in ("sigma_site", "sigma_site_effect", "sigma", "sigma_patient", "nu"):
            v = np.log(v)
        elif name == "rho":
            v = np.log1p(v) - np.log1p(-v)  # logit((rho + 1) / 2)
        elif name == "site_fixed":
            j = v.shape[1]
            v = v[:, :-1] - v[:, -1:] * np.sqrt(j) / (np.sqrt(j) + j)
        elif name == "visit_cov":
            v = v.copy()
            diag = np.cumsum(np.arange(1, t + 1)) - 1
            v[:, diag] = np.log(v[:, diag])
        out[:, start : start + size] = v
    return out


def pointwise_log_likelihood(idata, data: TrialData, spec: ModelSpec) -> np.ndarray:
    """Each patient's log likelihood at each posterior draw (chain x draw x patient), computed
    once after sampling by the native density with one group per patient."""
    lay = layout(spec)
    draws = unconstrained_draws(idata.posterior, lay)
    block = data_block(data, spec, PRIOR_PLACEHOLDER, aggregate=False)
    out = np.zeros((len(draws), data.n_patients))
    _pointwise(draws, header(block), block[N_HEADER:], out)
    shape = (idata.posterior.sizes["chain"], idata.posterior.sizes["draw"], data.n_patients)
    return out.reshape(shape)


#: The likelihood does not depend on the prior scales: any valid set fills the block.
PRIOR_PLACEHOLDER = Priors()


def expanded(block: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The expanded draw of ``x`` (for tests and checks)."""
    h = header(block)
    out = np.zeros(int(h.n_expanded))
    expand(np.asarray(x, dtype=float), out, h, block[N_HEADER:])
    return out
