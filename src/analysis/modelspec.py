r"""The one specification of the trial model: its variants, coding, priors and parameters.

Everything that describes the model lives here and every implementation derives from it:

- the PyMC model (:mod:`analysis.trialmodel.model`, the reference);
- the native density (:mod:`analysis.trialmodel.native`): its data block's named header and its
  parameter offsets come from :data:`PARAMETERS` and :class:`Priors`;
- the replication design's exact marginal analysis (:mod:`analysis.studies.marginal`): its
  design matrices come from :func:`mean_design` (the same visit means, effects, covariates and
  the same :data:`SLOPE_CODE` of the team x treatment slopes).

Adding a covariance structure is one entry in :data:`COVARIANCES` (with its free parameters in
:func:`parameter_layout`) plus its density's mathematics in each implementation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from analysis import rules

#: Within-patient covariance structures, name -> reader-facing label; the first is the primary
#: analysis (MMRM style), the others are sensitivity analyses compared with it by PSIS-LOO.
COVARIANCE_LABELS = {
    "unstructured": "unstructured",
    "intercept": "compound symmetry",
    "ar1": "AR(1)",
}
COVARIANCES = tuple(COVARIANCE_LABELS)
DEFAULT_COVARIANCE = COVARIANCES[0]
LIKELIHOODS = ("normal", "student")
FORMULATIONS = ("marginal", "latent")
#: Gamma(shape, rate) prior on the Student-t degrees of freedom.
STUDENT_NU_PRIOR = (2.0, 0.1)
#: Baseline characteristics of the contract that can adjust the model.
COVARIATE_COLUMNS = ("age", "sex", "diagnosis")
#: Fewer sites than this get fixed (sum-to-zero) site effects: a between-site SD cannot be
#: learnt from a handful of sites, and large sites make the random-effect funnel hard to sample.
MIN_RANDOM_SITES = 8
#: Standard deviation of the fixed (zero-sum) site effects' prior.
FIXED_SITE_SD = 0.5
#: How site effects enter (``none`` for one site).
SITE_MODES = ("none", "random", "fixed")
#: Coding of the team x treatment slope at follow-up visits: the team's deviation moves the two
#: arms apart symmetrically, so neither arm's variance is forced to exceed the other's.
SLOPE_CODE = {"treated": 0.5, "comparator": -0.5}


def slope_code(is_treated):
    """The slope's covariate for treated (1) and comparator (0) patients (:data:`SLOPE_CODE`)."""
    low, high = SLOPE_CODE["comparator"], SLOPE_CODE["treated"]
    if isinstance(is_treated, np.ndarray | list | tuple | bool | int | float):
        is_treated = np.asarray(is_treated, dtype=float)
    return low + is_treated * (high - low)  # numpy arrays and PyTensor variables alike


@dataclass(frozen=True)
class Priors:
    """Prior scales in baseline-SD units.

    ``visit_sd``: N(0, .) on the visit means; ``effect_sd``: N(0, .) on the effects and the
    covariate coefficients; ``site_sd``/``site_effect_sd``: half-normal on the team SDs;
    ``residual_sd``: half-normal on the within-patient SDs; ``lkj_eta``: LKJ shape of the
    unstructured correlation.
    """

    visit_sd: float = 1.0
    effect_sd: float = 1.0
    site_sd: float = 0.3
    site_effect_sd: float = 0.2
    residual_sd: float = 1.0
    lkj_eta: float = 2.0

    def __post_init__(self):
        for name, value in self.__dict__.items():
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"prior scale {name} must be a positive number, got {value!r}")


PRIOR_FIELDS = tuple(f.name for f in fields(Priors))
PRIOR_SETS = {
    "default": Priors(),
    "sceptical": Priors(effect_sd=rules.SCEPTICAL_SD),
    "vague": Priors(effect_sd=5.0),
}


@dataclass(frozen=True)
class ModelSpec:
    """The structure of a model: data sets with equal specs share one compiled model."""

    visits: tuple[int, ...]
    treatments: tuple[str, ...]
    sites: tuple[str, ...]
    site_effects: str
    site_slopes: bool
    covariance: str
    likelihood: str
    lkj_eta: float
    covariates: tuple[str, ...] = ()
    #: True: the arms share the first visit's mean (baseline, randomisation: constrained
    #: longitudinal analysis); False: an effect at every modelled visit (the post-baseline
    #: visits of the baseline-as-covariate analysis, :mod:`analysis.trialmodel.ancova`).
    baseline_constrained: bool = True

    @property
    def first_effect(self) -> int:
        """Index of the first visit with a treatment effect (and a team slope)."""
        return 1 if self.baseline_constrained else 0

    def __post_init__(self):
        if self.covariance not in COVARIANCES:
            raise ValueError(f"covariance must be one of {COVARIANCES}, got {self.covariance!r}")
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")
        if self.site_effects not in SITE_MODES:
            raise ValueError(f"site_effects must be one of {SITE_MODES}, got {self.site_effects!r}")


def ar1_lags(visits) -> np.ndarray:
    """AR(1) exponents between visits: the time between them in steps of the largest time
    that divides every gap (weeks 0, 1, 2, 4, 6 -> steps of 1 week; months 0, 9, 18 -> steps
    of 9 months). The correlation decays with time, not with the visit index, and the
    exponents stay whole numbers, so a negative correlation stays defined."""
    times = np.asarray(visits, dtype=float)
    gaps = np.abs(np.diff(times))
    if len(gaps) == 0:
        return np.zeros((len(times), len(times)), dtype=np.int64)
    if not np.allclose(times, np.round(times)):
        raise ValueError(f"AR(1) needs whole-number visit times, got {list(visits)}")
    step = int(np.gcd.reduce(np.round(gaps).astype(np.int64)))
    return (np.abs(np.subtract.outer(times, times)) / step).round().astype(np.int64)


def site_mode(n_sites: int) -> str:
    """How ``n_sites`` sites enter the model (:data:`MIN_RANDOM_SITES`)."""
    return "random" if n_sites >= MIN_RANDOM_SITES else "fixed" if n_sites > 1 else "none"


# ----------------------------------------------------------------------------------------------
# Free parameters
# ----------------------------------------------------------------------------------------------
#: Every free variable a variant can have, in the order of the unconstrained vector.
PARAMETERS = (
    "alpha",
    "beta",
    "gamma",
    "sigma_site",
    "site_offset",
    "site_fixed",
    "sigma_site_effect",
    "site_effect_offset",
    "sigma",
    "sigma_patient",
    "rho",
    "visit_cov",
    "nu",
)
#: Free variables sampled on the log scale (positive scales).
LOG_SCALE = ("sigma_site", "sigma_site_effect", "sigma", "sigma_patient", "nu")


@dataclass(frozen=True)
class Layout:
    """Positions of a :class:`ModelSpec`'s parameters.

    ``blocks`` lists ``(name, start, size)`` of the unconstrained vector; ``variables`` lists
    ``(name, shape, dims)`` of the expanded (constrained) draw, in the order the expansion
    writes them. Names and dims are those of the PyMC model's posterior.
    """

    spec: ModelSpec
    blocks: tuple
    variables: tuple

    @property
    def n_dim(self) -> int:
        """Length of the unconstrained vector."""
        return sum(size for _, _, size in self.blocks)

    @property
    def n_expanded(self) -> int:
        """Length of one expanded draw."""
        return sum(int(np.prod(shape)) for _, shape, _ in self.variables)

    def offset(self, name: str) -> int:
        """Start of block ``name`` in the unconstrained vector (-1 if absent)."""
        for block, start, _ in self.blocks:
            if block == name:
                return start
        return -1


def parameter_layout(spec: ModelSpec) -> Layout:
    """The free parameters of ``spec`` (the PyMC model's, in :data:`PARAMETERS` order)."""
    t, a, c, j = len(spec.visits), len(spec.treatments), len(spec.covariates), len(spec.sites)
    f = spec.first_effect
    packed = t * (t + 1) // 2
    # name -> (unconstrained size, expanded variables)
    present = {
        "alpha": (t, [("alpha", (t,), ("visit",))]),
        "beta": (a * (t - f), [("beta", (a, t - f), ("treatment", "followup"))]),
    }
    if c:
        # covariate x visit: each covariate's coefficient at every visit (as mmrm, brms.mmrm)
        present["gamma"] = (c * t, [("gamma", (c, t), ("covariate", "visit"))])
    if spec.site_effects == "random":
        present["sigma_site"] = (1, [("sigma_site", (), ())])
        present["site_offset"] = (j, [("site_offset", (j,), ("site",))])
    elif spec.site_effects == "fixed":
        present["site_fixed"] = (j - 1, [("site_fixed", (j,), ("site",))])
    if spec.site_slopes:
        present["sigma_site_effect"] = (1, [("sigma_site_effect", (), ())])
        present["site_effect_offset"] = (j, [("site_effect_offset", (j,), ("site",))])
    if spec.covariance in ("intercept", "ar1"):
        second = "sigma_patient" if spec.covariance == "intercept" else "rho"
        present["sigma"] = (1, [("sigma", (), ())])
        present[second] = (1, [(second, (), ())])
    else:
        present["visit_cov"] = (
            packed,
            [
                ("visit_cov", (packed,), ("visit_cov_dim_0",)),
                ("visit_sd", (t,), ("visit",)),
                ("visit_corr", (t, t), ("visit", "visit_bis")),
            ],
        )
    if spec.likelihood == "student":
        present["nu"] = (1, [("nu", (), ())])
    blocks, variables, start = [], [], 0
    for name in PARAMETERS:
        if name in present:
            size, var = present[name]
            blocks.append((name, start, size))
            variables += var
            start += size
    return Layout(spec=spec, blocks=tuple(blocks), variables=tuple(variables))


def lkj_log_norm(eta: float, n: int) -> float:
    """Log normalising constant of the LKJ(eta) density over n x n correlation matrices, as
    PyMC writes it (``pymc.distributions.multivariate._lkj_normalizing_constant``)."""
    lg = math.lgamma
    if eta == 1:
        out = sum(lg(2.0 * k) for k in range(1, int((n - 1) / 2) + 1))
        if n % 2 == 1:
            return (
                out
                + 0.25 * (n**2 - 1) * math.log(math.pi)
                - 0.25 * (n - 1) ** 2 * math.log(2.0)
                - (n - 1) * lg(int((n + 1) / 2))
            )
        return (
            out
            + 0.25 * n * (n - 2) * math.log(math.pi)
            + 0.25 * (3 * n**2 - 4 * n) * math.log(2.0)
            + n * lg(n / 2)
            - (n - 1) * lg(n)
        )
    out = -(n - 1) * lg(eta + 0.5 * (n - 1))
    return out + sum(0.5 * k * math.log(math.pi) + lg(eta + 0.5 * (n - 1 - k)) for k in range(1, n))


# ----------------------------------------------------------------------------------------------
# The linear part of the mean
# ----------------------------------------------------------------------------------------------
def fixed_effect_names(spec: ModelSpec) -> list[tuple]:
    """The fixed-effect coefficients in :func:`mean_design`'s column order:
    ``("alpha", visit)``, ``("beta", treatment, visit)`` for follow-up visits,
    ``("gamma", covariate, visit)``."""
    out = [("alpha", v) for v in spec.visits]
    out += [("beta", a, v) for a in spec.treatments for v in spec.visits[spec.first_effect :]]
    out += [("gamma", c, v) for c in spec.covariates for v in spec.visits]
    return out


def mean_design(
    spec: ModelSpec, treat_idx: np.ndarray, x: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    r"""Design of the mean, patient x visit x column: fixed effects and one team's random effects.

    :math:`\mu_{it} = X_{it}^\top(\alpha, \beta, \gamma) + Z_{it}^\top(u_j, v_j)` with
    :math:`X` as :func:`fixed_effect_names` orders the coefficients and :math:`Z` the team
    intercept and, with slopes, the team x treatment slope coded by :func:`slope_code` at
    follow-up visits.

    Parameters
    ----------
    spec : ModelSpec
    treat_idx : numpy.ndarray
        Per patient, the treatment's position in ``spec.treatments`` (``len(treatments)`` for
        the comparator).
    x : numpy.ndarray, optional
        Centred covariates (patient x covariate), needed when ``spec.covariates``.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``X`` (patient x visit x fixed effect) and ``Z`` (patient x visit x team effect; one
        column for intercepts, two with slopes, none without random team effects).
    """
    treat_idx = np.asarray(treat_idx)
    n, t, a = len(treat_idx), len(spec.visits), len(spec.treatments)
    c, f = len(spec.covariates), spec.first_effect
    big_x = np.zeros((n, t, t + a * (t - f) + c * t))
    for v in range(t):
        big_x[:, v, v] = 1.0
        if v >= f:
            for k in range(a):
                big_x[treat_idx == k, v, t + k * (t - f) + v - f] = 1.0
    if c:
        x = np.asarray(x, dtype=float)
        for q in range(c):
            for v in range(t):
                big_x[:, v, t + a * (t - f) + q * t + v] = x[:, q]
    q = (spec.site_effects == "random") + bool(spec.site_slopes)
    big_z = np.zeros((n, t, q))
    if q:
        big_z[:, :, 0] = 1.0
    if spec.site_slopes:
        big_z[:, f:, 1] = slope_code(treat_idx < a)[:, None]
    return big_x, big_z
