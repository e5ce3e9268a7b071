"""Startup sweep of file blobs nobody can reach any more.

An upload writes its blob before its row (so a row never points at missing bytes); a crash in between,
or a put interrupted before its rename, leaves bytes under `files/` that no row names. A deleted file
keeps its bytes while an unfinished job may still read them, and nothing comes back for them later.
The sweep, run when the server starts, removes such blobs once they are older than `min_age_s`, so an
upload in flight in another process (its bytes younger than that) is never touched.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import sqlalchemy as sa

from openrft.jobstatus import TERMINAL_STATUSES
from openrft.store import schema
from openrft.store.blobs import BlobStore
from openrft.store.db import Store

log = logging.getLogger(__name__)

ORPHAN_MIN_AGE_S = 3600.0
TEMP_PREFIX = ".tmp-"  # BlobStore.put's temporary files


def _unreachable(store: Store, candidates: list[str]) -> set[str]:
    """The file ids among `candidates` with no row, or deleted and used by no unfinished job."""
    files, jobs = schema.files.c, schema.jobs.c
    live: set[str] = set()
    with store.begin() as conn:
        for start in range(0, len(candidates), 500):  # bounded IN lists
            chunk = candidates[start : start + 500]
            live |= set(conn.scalars(sa.select(files.id).where(files.id.in_(chunk), files.deleted_at.is_(None))))
            used = sa.select(jobs.training_file, jobs.validation_file).where(
                jobs.status.not_in(TERMINAL_STATUSES),
                sa.or_(jobs.training_file.in_(chunk), jobs.validation_file.in_(chunk)),
            )
            for row in conn.execute(used):
                live |= {row.training_file, row.validation_file}
    return set(candidates) - live


def sweep_file_blobs(store: Store, blobs: BlobStore, *, min_age_s: float = ORPHAN_MIN_AGE_S) -> list[str]:
    """Remove unreachable blobs under `files/` older than `min_age_s`; returns the names removed."""
    folder = blobs.root / "files"
    if not folder.is_dir():
        return []
    cutoff = time.time() - min_age_s
    old: dict[str, Path] = {}
    for path in folder.iterdir():
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                old[path.name] = path
        except FileNotFoundError:  # removed meanwhile
            continue
    doomed = {name for name in old if name.startswith(TEMP_PREFIX)}
    doomed |= _unreachable(store, sorted(set(old) - doomed))
    for name in sorted(doomed):
        old[name].unlink(missing_ok=True)
    if doomed:
        log.info("removed %d unreachable file blob(s) from %s", len(doomed), folder)
    return sorted(doomed)
