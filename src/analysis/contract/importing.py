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
    "month": "long files: {column: NAME, labels: {T9: 9, ...}}",
    "value": "long files: {column: NAME}",
    "covariates": "{age: NAME, sex: NAME, diagnosis: NAME} (optional baseline columns)",
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
    if "wide" not in spec and not all(k in spec for k in ("outcome", "month", "value")):
        raise MapError(f"{p}: give either 'wide' or all of 'outcome', 'month', 'value'")
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
    labels = {str(k).strip(): str(v) for k, v in (spec.get("labels") or {}).items()}
    return s.map(lambda v: labels.get(v, v)) if labels else s


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
        long["month"] = _column(raw, _field(spec["month"], "month"), "month", map_path)
        long["value"] = _number(
            _column(raw, _field(spec["value"], "value"), "value", map_path), decimal
        )
    numeric = pd.to_numeric(long["value"], errors="coerce").map(
        lambda v: f"{v:g}" if pd.notna(v) else ""
    )
    drop = long["value"].isin(missing) | numeric.isin(missing - {""})
    long = long[~drop]
    cols = REQUIRED + [c for c in OPTIONAL if c in long.columns]
    return long[cols + ["_row"]].reset_index(drop=True)


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


_ROLES = {
    "patient_id": r"(?i)^(patient|pat|subject|participant|person|client)?[_ ]?(id|nr|no|code|number)$|^(?i:pid|id)$",
    "site": r"(?i)^(site|team|clinic|centre|center|cluster|fact[_ ]?team|ward|location)([_ ]?(id|nr|code|name))?$",
    "arm": r"(?i)^(arm|group|groep|allocation|randomi[sz]ation|treatment|condition|conditie|behandeling|intervention)([_ ]?(code|label))?$",
    "trial": r"(?i)^(trial|study|studie)$",
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
    role = {
        k: next((c for c in cols if re.fullmatch(rx, str(c).strip())), None)
        for k, rx in _ROLES.items()
    }
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
    values = raw[[c for c in cols if c not in role.values()]]
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
    wide = wide_columns(cols)
    if wide:
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
