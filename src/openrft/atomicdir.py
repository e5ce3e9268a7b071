"""Folders that appear whole or not at all: checkpoints, fine-tuned models, exports, converted models.

A process killed while writing a model folder must never leave one that looks usable. `atomic_directory`
hands out a temporary sibling of the target (same file system, so the final rename is atomic), renames
it into place when the block succeeds (after removing an old target when `replace`), fsyncs the parent
so the rename survives a power cut, and removes the temporary folder if anything fails.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_directory(target: Path, *, replace: bool = True) -> Iterator[Path]:
    """Yield an empty temporary folder; on success it becomes `target`.

    With `replace`, an existing `target` (e.g. left by an attempt that crashed before registering it)
    is removed first; without, an existing non-empty `target` is a FileExistsError and an empty one is
    replaced.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".tmp-{target.name}-"))
    try:
        yield tmp
        if target.exists():
            if not replace and any(target.iterdir()):
                raise FileExistsError(f"{target} exists and is not empty")
            shutil.rmtree(target)
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
