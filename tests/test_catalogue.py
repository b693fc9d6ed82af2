"""The results catalogue: the one owner of table names and columns."""

import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from analysis import catalogue, config, output

SRC = config.ROOT / "src" / "analysis"
NOTEBOOKS = sorted(config.NOTEBOOKS.glob("*.ipynb"))


def _sources():
    for path in sorted(SRC.rglob("*.py")):
        if path.name != "catalogue.py":
            yield path, path.read_text()
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        yield path, "\n".join(c.source for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("name", sorted(catalogue.TABLES))
def test_no_table_file_name_is_spelled_outside_the_catalogue(name):
    # a file name (name.csv, name__part, a glob of parts); a bare name cannot reach a file:
    # save_table and read_table take catalogue entries only (tested below)
    pattern = re.compile(rf"""\b{name}(\.csv|__|\*)|["']{name}\{{""")
    offenders = [
        f"{path.relative_to(config.ROOT)}: {m.group(0)}"
        for path, text in _sources()
        for m in pattern.finditer(text)
    ]
    assert not offenders, offenders


def test_every_table_declares_columns_writer_and_a_meaning():
    for t in catalogue.TABLES.values():
        assert t.columns and len(set(t.columns)) == len(t.columns), t.name
        assert t.writer in catalogue.STAGES, t.name
        assert set(t.readers) <= set(catalogue.STAGES), t.name
        # a stage only reads what it or an earlier stage wrote
        order = catalogue.STAGES.index
        assert all(order(r) >= order(t.writer) for r in t.readers), t.name
        assert t.meaning.endswith(".") and len(t.meaning) < 110, t.name


def test_save_table_checks_the_columns(tmp_path):
    df = pd.DataFrame({c: [1] for c in catalogue.GATE.columns})
    path = output.save_table(df, tmp_path, catalogue.GATE)
    assert path == tmp_path / "tables" / "gate.csv"
    assert pd.read_csv(path).columns.tolist() == list(catalogue.GATE.columns)
    with pytest.raises(catalogue.TableError, match="differ from the catalogue"):
        output.save_table(df.drop(columns="gate"), tmp_path, catalogue.GATE)
    with pytest.raises(catalogue.TableError, match="per trial"):
        output.save_table(df, tmp_path, catalogue.DIAGNOSTICS)
    with pytest.raises(TypeError, match="catalogue.Table"):
        output.save_table(df, tmp_path, "gate")


def test_open_columns_need_the_declared_ones_only(tmp_path):
    ranks = pd.DataFrame(
        {"trial": ["t"], "outcome": ["o"], "rep": [0], "alpha[0]": [3], "divergences": [0]}
    )
    output.save_table(ranks, tmp_path, catalogue.SBC_RANKS)
    with pytest.raises(catalogue.TableError):
        output.save_table(ranks.drop(columns="rep"), tmp_path, catalogue.SBC_RANKS)


def test_parts_are_combined_and_read_back(tmp_path):
    t = catalogue.DIAGNOSTICS
    row = {c: [0] for c in t.columns}
    output.save_table(pd.DataFrame(row).assign(model="a"), tmp_path, t, part="trial_a")
    output.save_table(pd.DataFrame(row).assign(model="b"), tmp_path, t, part="trial_b")
    assert list(catalogue.parts(tmp_path, t)) == ["trial_a", "trial_b"]
    written = catalogue.combine_parts(tmp_path)
    assert written == [t.path(tmp_path)]
    assert catalogue.read_table(tmp_path, t)["model"].tolist() == ["a", "b"]
    assert catalogue.read_table(tmp_path, catalogue.GATE).empty  # not written: empty frame


def test_readme_outputs_section_lists_exactly_the_catalogue():
    readme = (config.ROOT / "README.md").read_text()
    section = readme.split("## Outputs", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `(\w+?)(?:__<trial>)?` \|", section, flags=re.M))
    assert listed == set(catalogue.TABLES), listed ^ set(catalogue.TABLES)
    assert catalogue.markdown_table() in section  # generated, not retyped


def test_idata_path_is_under_the_run():
    p = catalogue.idata_path(Path("/r"), "resource_groups", "empowerment", "vague-normal")
    assert p == Path("/r/idata/resource_groups__empowerment__vague-normal.nc")
