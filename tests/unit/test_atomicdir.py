"""atomic_directory: a folder appears whole or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from openrft.atomicdir import atomic_directory


def test_the_folder_appears_only_when_the_block_succeeds(tmp_path: Path) -> None:
    target = tmp_path / "models" / "m"
    with atomic_directory(target) as tmp:
        (tmp / "weights.bin").write_bytes(b"w")
        assert not target.exists()  # nothing usable while writing
    assert (target / "weights.bin").read_bytes() == b"w"
    assert [p.name for p in target.parent.iterdir()] == ["m"]  # no temporary sibling left


def test_a_failure_leaves_neither_the_target_nor_the_temporary_folder(tmp_path: Path) -> None:
    target = tmp_path / "m"
    with pytest.raises(RuntimeError), atomic_directory(target) as tmp:
        (tmp / "half.bin").write_bytes(b"h")
        raise RuntimeError("killed mid-write")
    assert list(tmp_path.iterdir()) == []


def test_replace_or_refuse_an_existing_target(tmp_path: Path) -> None:
    target = tmp_path / "m"
    target.mkdir()
    (target / "old.bin").write_bytes(b"o")
    with atomic_directory(target) as tmp:  # a previous attempt's leftover is replaced
        (tmp / "new.bin").write_bytes(b"n")
    assert [p.name for p in target.iterdir()] == ["new.bin"]
    with pytest.raises(FileExistsError), atomic_directory(target, replace=False) as tmp:
        (tmp / "other.bin").write_bytes(b"x")
    assert [p.name for p in target.iterdir()] == ["new.bin"]
    assert [p.name for p in tmp_path.iterdir()] == ["m"]
