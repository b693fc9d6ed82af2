"""The project's decision rules and reporting thresholds: the one home of each number.

Notebook parameters that default to one of these are literals (papermill needs them); a test
checks that they agree.
"""

from __future__ import annotations

from statistics import NormalDist

#: Benefit is concluded when the posterior probability of benefit exceeds this (the summary,
#: the replication design and the missing-data tipping points all use it).
DECISION_THRESHOLD = 0.975

#: A posterior counts as informed by the data when its interquartile range is below this share
#: of its prior's; otherwise the report says the data barely move it (trial-model variance
#: components, the synthesis' between-study SD).
INFORMED_IQR_RATIO = 0.8

#: Credible (and Monte Carlo) intervals are equal-tailed at this level; ``LOWER``/``UPPER`` are
#: their quantiles and ``Z_INTERVAL`` the matching normal quantile.
INTERVAL_LEVEL = 0.95
LOWER = round((1 - INTERVAL_LEVEL) / 2, 12)
UPPER = round(1 - LOWER, 12)
Z_INTERVAL = NormalDist().inv_cdf(UPPER)

#: SD of the sceptical priors (SMD): the trial model's sceptical effect prior and the
#: replication design's sceptical design prior.
SCEPTICAL_SD = 0.3

#: Half-normal scale of the between-study SD in the network meta-analysis (SMD), where an
#: outcome's category declares none.
HETEROGENEITY_SCALE = 0.3

#: A missing-data tipping point this close to MAR (baseline SD per missing visit, the size of a
#: "medium" standardised difference) is a small shift: the summary flags the result as fragile.
SMALL_TIPPING_SHIFT = 0.5

#: Probabilities closer than this to 0 or 1 are shown capped (">99.9%", "<0.001"): Monte Carlo
#: draws cannot resolve them, and their MCSE is then not shown.
PROBABILITY_RESOLUTION = 0.001

#: Descriptive cells with fewer patients than this are suppressed (no table identifies anyone).
MIN_CELL = 5


def interval_text() -> str:
    """The interval level in words, e.g. ``95%``."""
    return f"{INTERVAL_LEVEL:.0%}"
