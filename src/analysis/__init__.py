"""trialbayes: Bayesian analysis of psychosocial interventions for serious mental illness.

Modules
-------
config     paths
registry   outcome and arm registries (the data contract's vocabularies)
scenario   simulation scenarios with published/assumed provenance
simulate   calibrated trial simulator
dataio     reading data files
validate   data-contract validation
describe   descriptive tables (flow, baseline, trajectories, missingness)
plots      figures
report     the notebook pipeline and the HTML report
cli        ``python -m analysis``
"""

__version__ = "0.1.0"
