"""Blobs are written atomically: a reader sees nothing or the whole blob, a failure leaves no temp file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from openrft.store.blobs import BlobStore


def test_put_get_exists_delete(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    path = blobs.put("files/file-1", [b"a", b"b"])
    assert path == tmp_path / "blobs" / "files" / "file-1"
    assert blobs.get("files/file-1") == b"ab" and blobs.exists("files/file-1")
    blobs.put("files/file-1", b"new")  # replace in one step
    assert blobs.get("files/file-1") == b"new"
    blobs.delete("files/file-1")
    blobs.delete("files/file-1")  # idempotent
    assert not blobs.exists("files/file-1")


def test_failed_put_leaves_nothing(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    blobs.put("k/old", b"previous")

    def failing() -> Iterator[bytes]:
        yield b"partial"
        raise RuntimeError("client went away")

    with pytest.raises(RuntimeError):
        blobs.put("k/new", failing())
    with pytest.raises(RuntimeError):
        blobs.put("k/old", failing())
    assert sorted(p.name for p in (tmp_path / "k").iterdir()) == ["old"]
    assert blobs.get("k/old") == b"previous"


@pytest.mark.parametrize("key", ["", "/etc/passwd", "../outside", "a/../../b", "files/../.."])
def test_rejects_keys_outside_the_root(tmp_path: Path, key: str) -> None:
    blobs = BlobStore(tmp_path / "root")
    with pytest.raises(ValueError, match="invalid blob key"):
        blobs.put(key, b"x")
    assert not (tmp_path / "outside").exists()
