"""Converting a trial team's own file into the data contract (``python -m analysis import``).

A map (YAML) says how the file's columns become the contract's long format: which column
holds the patient, team and arm (with label maps from the file's labels to registry codes),
which trial the file belongs to, and either the wide columns (one per outcome and visit,
matched by regular expressions with a ``month`` group) or the long file's outcome, month and
value columns. Missing-value codes and decimal commas are handled; CSV, Excel, SPSS, Stata and
Parquet files are read (:func:`analysis.contract.reading.read_raw`).

``import FILE --init`` writes a template map pre-filled from the file's columns, with the
closest registry codes as guesses to check. Nothing is written unless the converted data pass
validation; errors name the file, the map entry or column, and the rows.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import yaml

from analysis import registry
from analysis.contract.reading import DataFileError, read_raw, row_word
from analysis.contract.schema import OPTIONAL, REQUIRED
from analysis.contract.validate import (
    MISSING_CODES,
    _codes_and_labels,
    closest_code,
    validate_frame,
    wide_columns,
)

#: Map keys and what each may hold.
MAP_KEYS = {
    "sheet": "Excel sheet name (default: the first sheet)",
    "decimal": "'.' or ',' (numbers written 3,55)",
    "missing": "cell values meaning 'no value' (e.g. [-99, -9]); their rows are dropped",
    "trial": "the trial's code (data/registry/trials.csv), or {column: NAME, labels: {...}}",
    "patient_id": "{column: NAME}: the patient's pseudonymous code",
    "site": "{column: NAME, labels: {...}}: the team or clinic, or {value: NAME} for one site",
    "arm": "{column: NAME, labels: {FILE LABEL: ARM CODE}}",
    "wide": "list of {pattern: REGEX with (?P<month>...), outcome: CODE, months: {LABEL: N}}",
    "outcome": "long files: {column: NAME, labels: {...}}",
    "time": "long files: {column: NAME, labels: {T9: 9, ...}}: the visit in the trial's time unit",
    "month": "the same as 'time' (the older name)",
    "value": "long files: {column: NAME}",
    "baseline": "long files: {column: NAME}: the baseline value beside each post-baseline row "
    "(as CDISC ADaM's BASE beside AVAL); it becomes the time-0 rows",
    "covariates": "{age: NAME, sex: NAME, diagnosis: NAME} (optional baseline columns)",
    "ice": "{column: NAME, labels: {FILE LABEL: EVENT}}: the patient's intercurrent event "
    "(empty cells: none; the event types the trial registry's intercurrent_strategies names)",
    "ice_time": "{column: NAME}: when the event happened, in the trial's time unit",
}


class MapError(ValueError):
    """An import map that cannot be applied to its file (names the map and the entry)."""


def _field(spec, key: str, constant_ok: bool = False) -> dict:
    if spec is None:
        return {}
    if isinstance(spec, str | int | float):
        return {"value": str(spec)} if constant_ok else {"column": str(spec)}
    if isinstance(spec, dict) and ("column" in spec or "value" in spec):
        return spec
    raise MapError(f"'{key}': expected a column name or {{column: NAME}}, got {spec!r}")


def load_map(path: str | Path) -> dict:
    """Read and check an import map (MapError naming the file and the entry)."""
    p = Path(path)
    if not p.is_file():
        raise MapError(f"{p}: no such map file (write one with `analysis import FILE --init`)")
    try:
        spec = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise MapError(f"{p}: not valid YAML ({exc})") from exc
    if not isinstance(spec, dict):
        raise MapError(f"{p}: expected a mapping of {list(MAP_KEYS)}")
    unknown = [k for k in spec if k not in MAP_KEYS]
    if unknown:
        raise MapError(f"{p}: unknown map entries {unknown}; allowed: {list(MAP_KEYS)}")
    for k in ("trial", "patient_id", "site", "arm"):
        if k not in spec:
            raise MapError(f"{p}: '{k}' is missing ({MAP_KEYS[k]})")
    if "time" in spec and "month" in spec:
        raise MapError(f"{p}: give 'time' or 'month' (the same entry), not both")
    if "month" in spec:
        spec["time"] = spec.pop("month")
    if "wide" not in spec and not all(k in spec for k in ("outcome", "time", "value")):
        raise MapError(f"{p}: give either 'wide' or all of 'outcome', 'time', 'value'")
    if "baseline" in spec and "wide" in spec:
        raise MapError(f"{p}: 'baseline' is for long files; a wide file names its time-0 columns")
    if spec.get("decimal", ".") not in (".", ","):
        raise MapError(f"{p}: 'decimal' must be '.' or ','")
    return spec


def _column(df: pd.DataFrame, spec: dict, key: str, map_path) -> pd.Series:
    if "value" in spec:
        return pd.Series(str(spec["value"]), index=df.index)
    col = str(spec["column"])
    if col not in df.columns:
        raise MapError(
            f"{map_path}: '{key}' names column {col!r}, which the file does not have; "
            f"its columns: {[c for c in df.columns if c != '_row']}"
        )
    s = df[col].astype(str).str.strip()
    labels = {_label_key(k): str(v) for k, v in (spec.get("labels") or {}).items()}
    return s.map(lambda v: labels.get(_label_key(v), v)) if labels else s


def _label_key(value) -> str:
    """How a map's label and a cell are compared: numbers by value (a label ``4`` matches a
    cell read as ``4.0``), text as written."""
    text = str(value).strip()
    return f"{float(text):g}" if _is_number(text) else text


def _number(s: pd.Series, decimal: str) -> pd.Series:
    s = s.astype(str).str.strip()
    return s.str.replace(",", ".", regex=False) if decimal == "," else s


def convert(path: str | Path, spec: dict, map_path: str | Path = "<map>") -> pd.DataFrame:
    """Apply a map to a file; return the long data as text (with ``_row`` pointing back at
    the source file's rows), ready for :func:`analysis.contract.validate.validate_frame`."""
    raw = read_raw(path, sheet=spec.get("sheet"))
    decimal = spec.get("decimal", ".")
    missing = {str(m).strip() for m in spec.get("missing", [])} | {""}
    missing |= {f"{float(m):g}" for m in spec.get("missing", []) if _is_number(m)}
    base = pd.DataFrame({"_row": raw["_row"]})
    base["trial"] = _column(
        raw, _field(spec["trial"], "trial", constant_ok=True), "trial", map_path
    )
    for key in ("site", "patient_id", "arm"):
        base[key] = _column(raw, _field(spec[key], key), key, map_path)
    for key in ("ice", "ice_time"):
        if key in spec:
            base[key] = _column(raw, _field(spec[key], key), key, map_path)
    for cov, col in (spec.get("covariates") or {}).items():
        if cov not in OPTIONAL:
            raise MapError(f"{map_path}: covariate {cov!r} is not one of {OPTIONAL}")
        base[cov] = _column(raw, {"column": col}, f"covariates.{cov}", map_path)
    if "wide" in spec:
        parts = []
        for k, entry in enumerate(spec["wide"]):
            if not isinstance(entry, dict) or "pattern" not in entry or "outcome" not in entry:
                raise MapError(f"{map_path}: wide[{k}] needs 'pattern' and 'outcome'")
            try:
                rx = re.compile(str(entry["pattern"]))
            except re.error as exc:
                raise MapError(f"{map_path}: wide[{k}] pattern is not a regex ({exc})") from exc
            if "month" not in rx.groupindex:
                raise MapError(f"{map_path}: wide[{k}] pattern needs a (?P<month>...) group")
            months = {str(a): str(b) for a, b in (entry.get("months") or {}).items()}
            hits = [(c, m) for c in raw.columns if (m := rx.fullmatch(str(c)))]
            if not hits:
                raise MapError(
                    f"{map_path}: wide[{k}] pattern {entry['pattern']!r} matches no column; "
                    f"the file's columns: {[c for c in raw.columns if c != '_row']}"
                )
            for col, m in hits:
                label = m.group("month")
                part = base.copy()
                part["outcome"] = str(entry["outcome"])
                part["month"] = months.get(label, label)
                part["value"] = _number(raw[col], decimal)
                parts.append(part)
        long = pd.concat(parts, ignore_index=True)
    else:
        long = base.copy()
        long["outcome"] = _column(raw, _field(spec["outcome"], "outcome"), "outcome", map_path)
        long["month"] = _column(raw, _field(spec["time"], "time"), "time", map_path)
        long["value"] = _number(
            _column(raw, _field(spec["value"], "value"), "value", map_path), decimal
        )
        if "baseline" in spec:
            long = _with_baseline_rows(raw, long, spec, decimal, map_path)
    numeric = pd.to_numeric(long["value"], errors="coerce").map(
        lambda v: f"{v:g}" if pd.notna(v) else ""
    )
    drop = long["value"].isin(missing) | numeric.isin(missing - {""})
    long = long[~drop]
    cols = REQUIRED + [c for c in OPTIONAL if c in long.columns]
    return long[cols + ["_row"]].reset_index(drop=True)


def _with_baseline_rows(raw, long, spec, decimal, map_path) -> pd.DataFrame:
    """Add a time-0 row per patient and outcome from the baseline column (ADaM's BASE).

    Rows already at time 0 are kept as they are (a file with both keeps its own baseline
    rows); a patient whose baseline differs between rows is refused, naming the rows.
    """
    field = _field(spec["baseline"], "baseline")
    base_values = _number(_column(raw, field, "baseline", map_path), decimal)
    numeric = pd.to_numeric(long["month"], errors="coerce")
    with_base = long.assign(_base=base_values.to_numpy(), _num=numeric)
    rows = []
    for (pid, outcome), grp in with_base.groupby(["patient_id", "outcome"], sort=False):
        if (grp["_num"] == 0).any():
            continue
        given = grp["_base"][grp["_base"].str.len() > 0]
        if given.empty:
            continue
        numbers = pd.to_numeric(given, errors="coerce")
        if numbers.nunique(dropna=False) > 1:
            where = ", ".join(str(r) for r in grp.loc[given.index, "_row"].head(5))
            raise MapError(
                f"{map_path}: 'baseline' column {field.get('column')!r} differs "
                f"between the rows of patient {pid!r}, outcome {outcome!r} (rows {where})"
            )
        first = grp.loc[given.index[0]]
        row = first.drop(["_base", "_num"]).copy()
        row["month"], row["value"] = "0", given.iloc[0]
        rows.append(row)
    if not rows:
        return long
    return pd.concat([pd.DataFrame(rows), long], ignore_index=True)


def _is_number(x) -> bool:
    try:
        float(x)
        return True
    except (TypeError, ValueError):
        return False


def import_file(path, map_path, out) -> tuple[Path, pd.DataFrame]:
    """Convert ``path`` with the map, validate, and write the long CSV to ``out`` atomically.

    Returns
    -------
    (Path, pandas.DataFrame)
        The written file and the validated data.

    Raises
    ------
    MapError, DataFileError, analysis.contract.validate.ValidationError
        Nothing is written in any of these cases.
    """
    import os
    import tempfile

    spec = load_map(map_path)
    long = convert(path, spec, map_path)
    typed = validate_frame(long, f"{path} (converted with {Path(map_path).name})", row_word(path))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".import-", suffix=".csv", dir=out.parent)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        typed.to_csv(fh, index=False, lineterminator="\n", float_format="%.10g")
    os.replace(tmp, out)
    return out, typed


#: Column names recognised by ``--init``, most specific first: CDISC ADaM's (USUBJID, SITEID,
#: TRT01P, AVISITN, PARAMCD, AVAL, BASE) and the plain names trial teams use.
_ROLES = {
    "patient_id": r"(?i)^(usubjid|subjid|patient|subject|pat|participant|person|client)$|^(patient|pat|subject|participant|person|client)?[_ ]?(id|nr|no|code|number)$|^(?i:pid|id)$",
    "site": r"(?i)^(siteid|sitegr\d*|poolsite|pooled[_ ]?site|invid|investigator|site|team|clinic|centre|center|cluster|fact[_ ]?team|ward|location)([_ ]?(id|nr|code|name))?$",
    "arm": r"(?i)^(trt01p|trt01a|trt01pn|trt01an|trtp|trta|trtpn|trtan|armcd|armn|arm|therapy|treatment|trt|group|groep|allocation|randomi[sz]ation|condition|conditie|behandeling|intervention)([_ ]?(code|label))?$",
    "trial": r"(?i)^(trial|study|studie)$",
    "time": r"(?i)^(avisitn|avisit|visitnum|visit|week|weeks|wk|month|months|day|ady|time)$",
    "outcome": r"(?i)^(paramcd|param|outcome|measure|instrument|scale)$",
    "value": r"(?i)^(aval|value|score|result)$",
    "baseline": r"(?i)^(base|baseline|bl|bl[_ ]?value|baseline[_ ]?score)$",
    "age": r"(?i)^(age|leeftijd)$",
    "sex": r"(?i)^(sex|gender|geslacht)$",
    "diagnosis": r"(?i)^(diagnosis|dx|diagnose)$",
}


def init_map(path: str | Path, sheet=None) -> str:
    """A template map for ``path``, pre-filled from its columns (YAML text with comments).

    Guesses are marked ``# CHECK``: the closest registry codes for the file's arm labels and
    wide column stems, the trial whose arms match best, missing-value codes and decimal
    commas seen in the file.
    """
    raw = read_raw(path, sheet=sheet)
    cols = [c for c in raw.columns if c != "_row"]
    role = {}
    for k, rx in _ROLES.items():  # the first alternative of a pattern wins over later ones
        taken = set(role.values())
        hits = [c for c in cols if c not in taken and re.fullmatch(rx, str(c).strip())]
        order = [a.lower() for a in re.findall(r"\w+", rx.removeprefix("(?i)").split(")")[0])]
        hits.sort(key=lambda c: order.index(c.lower()) if c.lower() in order else len(order))
        role[k] = hits[0] if hits else None
    trial_guess, arm_labels = _guess_trial(raw, role["arm"])
    lines = [
        f"# Import map for {Path(path).name}: how its columns become the data contract.",
        "# Check every line marked CHECK, then run:",
        f"#   python -m analysis import {Path(path).name} --map THIS.yaml --out data/raw/LONG.csv",
    ]
    if sheet is not None or Path(path).suffix.lower() in (".xlsx", ".xlsm"):
        lines.append(
            f"sheet: {sheet!r}  # Excel sheet (None: the first)"
            if sheet
            else "sheet: null  # Excel sheet (null: the first)"
        )
    # where the outcome values are (a long file's value column, else every other column)
    values = (
        raw[[role["value"]]] if role["value"] else raw[[c for c in cols if c not in role.values()]]
    )
    flat = pd.Series(values.to_numpy().ravel()).astype(str).str.strip()
    comma = flat.str.fullmatch(r"[-+]?\d+,\d+").mean() > 0.05 if len(flat) else False
    lines.append(f"decimal: '{',' if comma else '.'}'  # CHECK: ',' when numbers read 3,55")
    codes = sorted({int(float(v)) for v in flat if _is_number(v) and float(v) in MISSING_CODES})
    lines.append(f"missing: {codes or []}  # CHECK: values meaning a missed visit (rows dropped)")
    if role["trial"]:
        lines.append(f"trial: {{column: {role['trial']}}}")
    else:
        lines.append(
            f"trial: {trial_guess or 'TODO'}  # CHECK: a code of data/registry/trials.csv "
            f"({', '.join(registry.trials())})"
        )
    lines.append(f"patient_id: {{column: {role['patient_id'] or 'TODO'}}}")
    lines.append(f"site: {{column: {role['site'] or 'TODO'}}}  # or {{value: ONE_SITE}}")
    if role["arm"]:
        lines.append(f"arm:\n  column: {role['arm']}\n  labels:  # CHECK: file label -> arm code")
        for label, code in arm_labels.items():
            lines.append(
                f"    {yaml.safe_dump(label).strip().removesuffix('...').strip()}: {code or 'TODO'}"
            )
    else:
        lines.append("arm: {column: TODO, labels: {}}")
    long_file = role["value"] is not None and role["time"] is not None
    wide = [] if long_file else wide_columns(cols)
    if long_file:
        times = [v for v in pd.unique(raw[role["time"]].astype(str).str.strip()) if v][:12]
        lines.append(
            f"outcome: {{column: {role['outcome']}}}  # CHECK: labels map the file's codes"
            if role["outcome"]
            else "outcome: {value: TODO}  # CHECK: the outcome code (one outcome per file)"
        )
        lines.append(f"time:\n  column: {role['time']}\n  labels:  # CHECK: visit -> time")
        for t in times:
            guess = _time_guess(t)
            lines.append(f"    {yaml.safe_dump(t).strip().removesuffix('...').strip()}: {guess}")
        lines.append(f"value: {{column: {role['value']}}}")
        if role["baseline"]:
            lines.append(
                f"baseline: {{column: {role['baseline']}}}  # the baseline beside each row "
                "becomes the time-0 rows"
            )
    elif wide:
        lines.append("wide:  # one entry per outcome; (?P<month>...) captures the visit")
        stems: dict[str, list[str]] = {}
        for c in wide:
            m = re.match(r"(?i)^(.+?)[_.\s-]*(?:t|m|month|visit|fu|wk)?[_.\s-]*(\d+)$", c)
            stems.setdefault(m.group(1), []).append(c)
        for stem, members in stems.items():
            sep = re.match(rf"(?i)^{re.escape(stem)}(.*?)\d+$", members[0]).group(1)
            outcome = _guess_outcome(stem, trial_guess)
            lines.append(
                f"  - pattern: '{re.escape(stem)}{re.escape(sep)}(?P<month>\\d+)'  # {', '.join(members)}"
            )
            lines.append(f"    outcome: {outcome or 'TODO'}  # CHECK")
    else:
        lines += [
            "outcome: {column: TODO, labels: {}}  # long files",
            "month: {column: TODO, labels: {}}  # e.g. {T0: 0, T9: 9}",
            "value: {column: TODO}",
        ]
    cov = {k: role[k] for k in ("age", "sex", "diagnosis") if role[k]}
    if cov:
        lines.append("covariates: {" + ", ".join(f"{k}: {v}" for k, v in cov.items()) + "}")
    return "\n".join(lines) + "\n"


def _time_guess(label: str) -> str:
    """The visit time a label names (``Week 6`` -> 6, ``6.0`` -> 6, ``Baseline`` -> 0)."""
    text = str(label).strip()
    if re.fullmatch(r"(?i)baseline|bl|screening|day\s*1", text):
        return "0"
    m = re.search(r"[-+]?\d+(?:\.\d+)?", text)
    return f"{float(m.group()):g}" if m else "TODO"


def _guess_trial(raw: pd.DataFrame, arm_col: str | None) -> tuple[str | None, dict]:
    """The registry trial whose arms best match the file's arm labels, and each label's
    closest arm code of that trial."""
    if arm_col is None:
        return None, {}
    labels = [v for v in pd.unique(raw[arm_col].astype(str).str.strip()) if v][:20]
    best, best_map, best_hits = None, {}, 0
    for t in registry.trials():
        spellings = _codes_and_labels({a: registry.arm_label(a) for a in registry.trial_arms(t)})
        guess = {v: closest_code(v, spellings) for v in labels}
        hits = sum(g is not None for g in guess.values())
        if hits > best_hits:
            best, best_map, best_hits = t, guess, hits
    return best, best_map or {v: None for v in labels}


def _guess_outcome(stem: str, trial: str | None) -> str | None:
    if trial is None:
        return None
    outcomes = registry.trial_outcomes(trial)
    spellings = {}
    for o in outcomes:
        r = registry.get_outcome(trial, o)
        spellings.update({o: o, o.replace("_", " "): o})
        for word in re.findall(r"\(([A-Za-z0-9.\- ]+)\)", r.instrument) + [r.unit.split(" ")[0]]:
            spellings[word.lower()] = o
    return closest_code(stem, spellings)


__all__ = [
    "MAP_KEYS",
    "MapError",
    "convert",
    "import_file",
    "init_map",
    "load_map",
    "DataFileError",
]
