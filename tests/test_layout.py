"""The package's layout: stages import only earlier stages and the ground floor; the README's
layout and the seed, profile and gate facts agree with the code."""

import ast
import re

import nbformat
import papermill
import pytest

from analysis import catalogue, config, profiles, rules

SRC = config.ROOT / "src" / "analysis"
#: Ground modules (any stage may import them) and tools on top (may import anything).
GROUND = {
    "config",
    "registry",
    "catalogue",
    "profiles",
    "rules",
    "output",
    "figures",
    "commandline",
    "modelspec",
    "memo",
}
TOOLS = {"cli", "bench", "__main__", "__init__"}


def _module(path):
    rel = path.relative_to(SRC).with_suffix("")
    return ".".join(rel.parts)


def _imports(path):
    """Every ``analysis.*`` module a file imports, at any depth (function-level included)."""
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("analysis"):
            base = node.module.split(".")[1:]
            for alias in node.names:
                out.add(".".join([*base, alias.name]) if len(base) < 2 else ".".join(base))
        elif isinstance(node, ast.Import):
            out |= {a.name[9:] for a in node.names if a.name.startswith("analysis.")}
    return out


def _unit(module):
    """The stage (or ground/tool name) a module belongs to."""
    head = module.split(".")[0]
    return head if head in catalogue.STAGES else "ground" if head in GROUND else "tool"


def _graph():
    return {_module(p): _imports(p) for p in SRC.rglob("*.py")}


def test_stages_import_only_earlier_stages_and_the_ground_floor():
    order = {s: i for i, s in enumerate(catalogue.STAGES)}
    bad = []
    for mod, deps in _graph().items():
        unit = _unit(mod)
        for dep in deps:
            target = _unit(dep)
            if unit == "tool" or target == "ground" or target == unit:
                if unit == "ground" and target != "ground":
                    bad.append(f"{mod} -> {dep}")
                continue
            if unit == "ground" or target == "tool" or order[target] > order[unit]:
                bad.append(f"{mod} -> {dep}")
    assert not bad, bad


def test_no_import_cycle():
    graph = {m: {d for d in deps if d in _graph_keys()} for m, deps in _graph().items()}
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in graph.get(node, ()):
            if state.get(nxt) == "open":
                pytest.fail("import cycle: " + " -> ".join([*stack, node, nxt]))
            if nxt not in state:
                visit(nxt, [*stack, node])
        state[node] = "done"

    for node in graph:
        if node not in state:
            visit(node, [])


def _graph_keys():
    return {_module(p) for p in SRC.rglob("*.py")}


def test_readme_layout_tree_lists_every_module():
    readme = (config.ROOT / "README.md").read_text()
    tree = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    block = tree.split("src/analysis/", 1)[1].split("tests/", 1)[0]
    listed, folder = set(), ""
    for line in block.splitlines():
        m = re.match(r"^[│├└─\s]*?([\w.]+)(/?)\s", line + " ")
        if not m:
            continue
        name, is_dir = m.group(1), m.group(2)
        depth = len(line) - len(line.lstrip("│├└─ "))
        if is_dir:
            folder = name
        elif name.endswith(".py"):
            listed.add(f"{folder}/{name}" if depth > 8 and folder else name)
    actual = {
        p.relative_to(SRC).as_posix()
        for p in SRC.rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    }
    assert listed == actual, (sorted(listed - actual), sorted(actual - listed))


def test_package_docstring_names_every_subpackage_and_ground_module():
    import analysis

    doc = analysis.__doc__
    for name in [*catalogue.STAGES, *GROUND, "cli", "bench"]:
        assert re.search(rf"^{name}\b", doc, flags=re.M), name


# ----------------------------------------------------------------------------- facts, once


def _parameters(nb):
    return papermill.inspect_notebook(str(config.NOTEBOOKS / f"{nb}.ipynb"))


def _default(param):
    return ast.literal_eval(param["default"])


def test_the_seed_has_one_home():
    for path in sorted(config.NOTEBOOKS.glob("*.ipynb")):
        params = _parameters(path.stem)
        assert _default(params["seed"]) == config.DEFAULT_SEED, path.name
    literal = str(config.DEFAULT_SEED)
    for path in [*SRC.rglob("*.py"), *config.PARAMS.glob("*.yaml")]:
        if path.name != "config.py":
            assert literal not in path.read_text(), path


def test_notebook_defaults_are_the_smoke_profile():
    for step in profiles.load_profile("smoke")["steps"]:
        params = _parameters(step["notebook"])
        for name, value in (step.get("parameters") or {}).items():
            if name == "draws" and step["notebook"] == "03-synthesis":
                continue  # smoke passes fewer exact draws than the notebook's interactive default
            assert _default(params[name]) == value, (step["notebook"], name)


def test_sampler_settings_of_a_profile_come_from_its_yaml():
    from analysis.trialmodel.pipeline import settings_for

    for name in profiles.available():
        step = profiles.step_parameters(name, profiles.TRIAL_NOTEBOOK)
        s = settings_for(name)
        assert (s.draws, s.tune, s.chains) == (step["draws"], step["tune"], step["chains"])
        assert s.seed == config.DEFAULT_SEED


def test_notebook_02_shows_the_model_statement_the_report_uses():
    nb = nbformat.read(config.NOTEBOOKS / "02-trial-model.ipynb", as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "statement.model_markdown()" in code
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert r"\mu_{it}" not in text  # the maths is not typed a second time


def test_gate_thresholds_are_stated_from_the_gate():
    from analysis.trialmodel.diagnostics import Gate

    text = Gate(rhat_max=1.05, ess_min=123).describe()
    assert "1.05" in text and "123" in text
    src = (SRC / "report" / "render.py").read_text() + (SRC / "report" / "narrative.py").read_text()
    assert "1.01" not in src and "≥ 400" not in src


def test_the_contract_columns_have_one_home():
    import pandas as pd

    from analysis.contract import schema, validate

    assert validate.REQUIRED is schema.REQUIRED and validate.OPTIONAL is schema.OPTIONAL
    simulated = pd.read_csv(config.DEFAULT_DATA, nrows=1).columns.tolist()
    assert simulated == [c for c in schema.REQUIRED + schema.OPTIONAL if c in simulated]
    readme = (config.ROOT / "README.md").read_text()
    section = readme.split("## The data contract", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `(\w+)` \| (\w+) \|", section, flags=re.M)
    assert [c for c, _ in listed] == schema.REQUIRED
    assert [t for _, t in listed] == [t for t, _ in schema.REQUIRED_COLUMNS.values()]


def test_notebooks_default_to_the_projects_rules():
    """Parameters that are project rules default to None (use the rule), never to a copy."""
    for nb, names in (
        ("03-synthesis", ["tau_prior_scale"]),
        ("04-replication-design", ["threshold", "sceptical_sd"]),
        ("05-calibration", ["threshold"]),
    ):
        for name in names:
            assert _default(_parameters(nb)[name]) is None, (nb, name)


def test_rules_are_written_out_only_in_their_home():
    """The decision threshold, the interval quantiles and the interpreted profile's name appear
    as literals only in ``rules.py`` and ``profiles.py``: everything else reads them."""
    literals = {
        repr(rules.DECISION_THRESHOLD),
        repr(rules.LOWER),
        repr(rules.UPPER),
        f"{rules.Z_INTERVAL:.2f}",
    }
    homes = {SRC / "rules.py", SRC / "profiles.py"}
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        if path in homes:
            continue
        text = path.read_text()
        for lit in literals:
            if re.search(rf"(?<![\w.]){re.escape(lit)}(?![\w])", text):
                offenders.append(f"{path.name}: {lit}")
        if re.search(r"""profile\s*[!=]=\s*["']""", text):
            offenders.append(f"{path.name}: tests a profile's name")
    for path in sorted(config.NOTEBOOKS.glob("*.ipynb")):
        text = path.read_text()
        for lit in literals:
            if re.search(rf"(?<![\w.]){re.escape(lit)}(?![\w])", text):
                offenders.append(f"{path.name}: {lit}")
    assert not offenders, offenders
