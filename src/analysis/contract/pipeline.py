"""The data stage: one orchestrator for notebook 01 (descriptive tables of validated data)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analysis import catalogue, config, registry
from analysis.contract import describe, intercurrent, scenario


@dataclass
class DataResults:
    """The descriptive tables of a data set (``{catalogue.Table: DataFrame}``)."""

    tables: dict

    def table(self, t: catalogue.Table) -> pd.DataFrame:
        """One of the tables (empty if not made)."""
        return self.tables.get(t, pd.DataFrame(columns=list(t.columns)))

    def save(self, out_dir) -> list:
        """Write every table under ``out_dir/tables``."""
        from analysis import output

        return [output.save_table(df, out_dir, t) for t, df in self.tables.items()]


def run_data(df: pd.DataFrame, trials: list[str] | None = None) -> DataResults:
    """Flow, baseline, observed means, missingness and the scenario assumptions of the data.

    Parameters
    ----------
    df : pandas.DataFrame
        Validated data in the contract.
    trials : list of str, optional
        Trials whose simulation scenarios are listed (default: the trials in the data that
        have one in ``data/scenarios/``: the scenarios the data and the studies simulate from).

    Returns
    -------
    DataResults
    """
    c = catalogue
    trials = trials or [t for t in registry.trials() if t in set(df["trial"])]
    with_scenario = [t for t in trials if (config.SCENARIOS / f"{t}.yaml").is_file()]
    provenance = [scenario.scenario_provenance(t) for t in with_scenario]
    return DataResults(
        {
            c.DATA_SUMMARY: describe.data_summary(df),
            c.PARTICIPANT_FLOW: describe.participant_flow(df),
            c.BASELINE: describe.baseline_table(df),
            c.OBSERVED_MEANS: describe.observed_means(df),
            c.MISSINGNESS: describe.missingness(df),
            c.INTERCURRENT_EVENTS: intercurrent.events_table(df),
            c.SCENARIO_PROVENANCE: (
                pd.concat(provenance, ignore_index=True)
                if provenance
                else pd.DataFrame(columns=list(c.SCENARIO_PROVENANCE.columns))
            ),
        }
    )
