"""Results kept on disk by what they depend on: computed once, read back, recomputed when the
key, the code or the file changes, and never a reason for a run to fail."""

import os

import pytest

from analysis import memo


def _counting():
    calls = []

    def compute(value):
        return lambda: calls.append(value) or {"value": value}

    return calls, compute


def test_computed_once_per_key_and_read_back(tmp_path):
    calls, compute = _counting()
    assert memo.remember("r", ("a", 1), compute(1), tmp_path) == {"value": 1}
    assert memo.remember("r", ("a", 1), compute(2), tmp_path) == {"value": 1}  # read back
    assert memo.remember("r", ("a", 2), compute(3), tmp_path) == {"value": 3}  # another key
    assert calls == [1, 3]
    assert len(list(tmp_path.glob("r-*.joblib"))) == 2
    assert not list(tmp_path.glob("*.tmp"))


def test_changed_code_is_computed_again(tmp_path, monkeypatch):
    calls, compute = _counting()
    memo.remember("r", "k", compute(1), tmp_path)
    monkeypatch.setattr(memo, "code_fingerprint", lambda: "changed")
    assert memo.remember("r", "k", compute(2), tmp_path) == {"value": 2}
    assert calls == [1, 2]


def test_a_damaged_file_is_computed_again_and_replaced(tmp_path):
    calls, compute = _counting()
    memo.remember("r", "k", compute(1), tmp_path)
    (path,) = tmp_path.glob("r-*.joblib")
    path.write_bytes(b"not a joblib file")
    assert memo.remember("r", "k", compute(2), tmp_path) == {"value": 2}
    assert memo.remember("r", "k", compute(3), tmp_path) == {"value": 2}
    assert calls == [1, 2]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_a_folder_that_cannot_be_written_only_loses_the_saving(tmp_path):
    tmp_path.chmod(0o500)
    try:
        calls, compute = _counting()
        assert memo.remember("r", "k", compute(1), tmp_path / "sub") == {"value": 1}
        assert memo.remember("r", "k", compute(2), tmp_path / "sub") == {"value": 2}
        assert calls == [1, 2]
    finally:
        tmp_path.chmod(0o700)


def test_a_cache_path_that_is_a_file_only_loses_the_saving(tmp_path):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the folder would go")
    calls, compute = _counting()
    assert memo.remember("r", "k", compute(1), blocker) == {"value": 1}
    assert calls == [1]


def test_versions_name_each_distribution():
    (numpy,) = memo.versions("numpy")
    assert numpy.startswith("numpy==") and len(numpy) > len("numpy==")
