"""The data contract's columns: the one declaration that validation, simulation and the README use.

Individual patient data in long format, one row per patient x visit x outcome.
"""

from __future__ import annotations

#: Required columns, in file order, with their type and meaning.
REQUIRED_COLUMNS = {
    "trial": ("text", "the trial (a code of the outcome registry)"),
    "site": ("text", "the team or clinic the patient is treated in"),
    "patient_id": ("text", "pseudonymous patient code, unique within the trial"),
    "arm": ("text", "the arm (a code of the arm registry)"),
    "month": ("integer", "months since randomisation; 0 is baseline"),
    "outcome": ("text", "the outcome domain (a code of the outcome registry)"),
    "value": ("number", "the score on the instrument's scale"),
}
#: Optional baseline characteristics.
OPTIONAL_COLUMNS = {
    "age": ("number", "age at baseline, years"),
    "sex": ("text", "sex"),
    "diagnosis": ("text", "primary diagnosis"),
    "ice": (
        "text",
        "the patient's intercurrent event (a type of the trial registry's "
        "intercurrent_strategies); empty: none",
    ),
    "ice_time": ("number", "when the event happened, in the trial's time unit"),
}
REQUIRED = list(REQUIRED_COLUMNS)
OPTIONAL = list(OPTIONAL_COLUMNS)
