"""trialbayes: Bayesian analysis of psychosocial interventions for serious mental illness.

The package is laid out by pipeline stage. Each stage is a subpackage that imports only
earlier stages and the ground floor, has one orchestrator (``run_*`` in its ``pipeline``
module, called by both its notebook and the CLI) returning results that save themselves, and
draws its own figures (``plots``).

Stages, in order
----------------
contract    reading, validating, simulating and describing data in the data contract
trialmodel  the Bayesian model of one trial: fit, diagnostics, summaries, pooling, sensitivity
synthesis   the cross-trial network meta-analysis
studies     simulation studies: assurance, SBC, the missing-data tipping point (Dask)
report      the notebook pipeline, the report's text and its HTML

Ground floor
------------
config      every path and the one seed
registry    outcome and arm registries (the data contract's vocabularies)
catalogue   every result table: name, columns, writer, readers
profiles    execution profiles (``params/*.yaml``)
rules       decision rule, interval level and reporting thresholds
modelspec   the one specification of the trial model (variants, coding, priors, parameters)
commandline exit codes and helpers shared by every stage's commands
output      writing tables, figures and timings
figures     shared figure helpers
memo        results kept on disk, keyed by everything they depend on

Tools
-----
cli         ``python -m analysis``: gathers each stage's ``commands``
bench       ``python -m analysis bench`` (outside the report path)
"""

__version__ = "0.1.0"
