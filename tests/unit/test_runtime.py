"""Atomic outputs: a job's folder output appears whole or not at all."""

import pytest

from defectlab.runtime import atomic_directory


def test_a_finished_block_replaces_the_folder(tmp_path):
    out = tmp_path / "dataset"
    (out / "old").mkdir(parents=True)
    with atomic_directory(out) as tmp:
        assert not tmp.exists() and tmp.parent == tmp_path
        (tmp / "images").mkdir(parents=True)
        (tmp / "images" / "a.png").write_bytes(b"png")
    assert sorted(p.name for p in out.iterdir()) == ["images"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]


def test_a_failed_block_leaves_no_folder_and_no_temporary(tmp_path):
    out = tmp_path / "dataset"
    with pytest.raises(RuntimeError, match="killed"), atomic_directory(out) as tmp:
        tmp.mkdir()
        (tmp / "half.png").write_bytes(b"png")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
