"""Intercurrent events as data (ICH E9(R1)): which patient had which event when, and what the
trial's estimand does with the outcomes after it.

The contract's optional per-patient columns ``ice`` (the event; empty for none) and ``ice_time``
(when, in the trial's time unit) record the events; the trial registry's
``intercurrent_strategies`` names a strategy per event type
(:data:`analysis.registry.ICE_STRATEGIES`):

- ``treatment_policy``: the outcomes after the event are used as observed;
- ``hypothetical``: they are set aside, and the model treats them as missing at random given
  the visits before the event (what would have been seen had the event not occurred);
- ``J2R``, ``CR``, ``CIR``: they are set aside and imputed under the reference-based strategy
  (the ``reference_based`` table's ``estimand`` row).

Leaving the study is not an intercurrent event but missing data (ICH E9(R1)): visits not
attended are missing at random given those attended (primary), with reference-based and delta
sensitivity analyses. Without event data, dropout is all the data show of discontinuation, and
the report says that it is taken as the event.
"""

from __future__ import annotations

import pandas as pd

from analysis import registry

#: Strategies whose post-event outcomes are set aside before the model sees them.
SET_ASIDE = ("hypothetical", "J2R", "CR", "CIR")
#: Strategies imputed by reference-based imputation.
REFERENCE_BASED = ("J2R", "CR", "CIR")


def has_events(df: pd.DataFrame) -> bool:
    """Whether the data record any intercurrent event."""
    return "ice" in df and bool((df["ice"].fillna("").astype(str).str.strip() != "").any())


def apply_strategies(sub: pd.DataFrame, trial: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """The rows of one trial that its estimand analyses, and each patient's strategy.

    Parameters
    ----------
    sub : pandas.DataFrame
        Validated rows of ``trial`` (with ``ice``/``ice_time`` if the data record events).
    trial : str

    Returns
    -------
    (pandas.DataFrame, dict)
        The rows kept (those after an event whose strategy sets them aside are dropped), and
        ``{patient_id: strategy}`` for the patients with a set-aside event.
    """
    if not has_events(sub):
        return sub, {}
    strategies = registry.ice_strategies(trial)
    event = sub["ice"].fillna("").astype(str).str.strip()
    strategy = event.map(strategies).fillna("treatment_policy")
    after = pd.to_numeric(sub["ice_time"], errors="coerce") < sub["month"]
    drop = strategy.isin(SET_ASIDE) & after & (event != "")
    who = sub.loc[strategy.isin(SET_ASIDE) & (event != ""), ["patient_id"]].assign(
        strategy=strategy
    )
    per_patient = dict(zip(who["patient_id"], who["strategy"], strict=True))
    return sub[~drop], per_patient


def events_table(df: pd.DataFrame) -> pd.DataFrame:
    """The ``intercurrent_events`` table: one row per trial and event type.

    Columns ``trial, event, strategy, strategy_label, patients, rows_set_aside``; a trial
    whose data record no event has one row with event ``(none recorded)``: dropout is taken as
    the event (hypothetical: missing at random).
    """
    rows = []
    for trial in [t for t in registry.trials() if t in set(df["trial"])]:
        sub = df[df["trial"] == trial]
        if not has_events(sub):
            rows.append(
                {
                    "trial": trial,
                    "event": "(none recorded)",
                    "strategy": "hypothetical",
                    "strategy_label": "dropout taken as the event: "
                    + registry.ICE_STRATEGIES["hypothetical"],
                    "patients": 0,
                    "rows_set_aside": 0,
                }
            )
            continue
        kept, _ = apply_strategies(sub, trial)
        gone = sub.loc[sub.index.difference(kept.index)]
        strategies = registry.ice_strategies(trial)
        event = sub["ice"].fillna("").astype(str).str.strip()
        for name in sorted(set(event) - {""}):
            s = strategies.get(name, "treatment_policy")
            rows.append(
                {
                    "trial": trial,
                    "event": name,
                    "strategy": s,
                    "strategy_label": registry.ICE_STRATEGIES[s],
                    "patients": int(sub.loc[event == name, "patient_id"].nunique()),
                    "rows_set_aside": int((gone["ice"].astype(str).str.strip() == name).sum()),
                }
            )
    cols = ["trial", "event", "strategy", "strategy_label", "patients", "rows_set_aside"]
    return pd.DataFrame(rows, columns=cols)


def events_markdown(table: pd.DataFrame, trial: str) -> str:
    """What the data say of a trial's intercurrent events, in one sentence (ICH E9(R1))."""
    t = table[table["trial"] == trial]
    if t.empty or (t["event"] == "(none recorded)").all():
        return (
            "The data record no intercurrent events: discontinuing the intervention cannot be "
            "told apart from leaving the study, so dropout is taken as the event, under the "
            "hypothetical strategy (missing at random given the visits attended)."
        )
    parts = [
        f"{r.event}: {r.patients} patients, {registry.ICE_STRATEGIES[r.strategy].split(' (')[0]}"
        + (f" ({r.rows_set_aside} rows after the event set aside)" if r.rows_set_aside else "")
        for r in t.itertuples()
    ]
    return "Intercurrent events in the data: " + "; ".join(parts) + "."
