"""The project's decision rules and reporting thresholds: the one home of each number.

Notebook parameters that default to one of these are literals (papermill needs them); a test
checks that they agree.
"""

from __future__ import annotations

#: Benefit is concluded when the posterior probability of benefit exceeds this (the summary,
#: the replication design and the missing-data tipping points all use it).
DECISION_THRESHOLD = 0.975

#: A posterior counts as informed by the data when its interquartile range is below this share
#: of its prior's; otherwise the report says the data barely move it (trial-model variance
#: components, the synthesis' between-study SD).
INFORMED_IQR_RATIO = 0.8
