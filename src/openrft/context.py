"""The application context: the process's shared objects, built once, with no transport in them.

`build_context` opens the store (bootstrapping the admin key), the blob store and the key cipher; the
HTTP app keeps the result on `app.state.ctx`, and the worker, the CLI and tests take it directly.
"""

from __future__ import annotations

from dataclasses import dataclass

from openrft.auth import audit, sts
from openrft.auth.keys import KeyCipher, ensure_bootstrap
from openrft.settings import Settings
from openrft.store.blobs import BlobStore
from openrft.store.db import Store
from openrft.store.sweep import sweep_file_blobs


@dataclass
class AppContext:
    """Everything a service needs: settings, the database, the blob store, the cipher of key secrets."""

    settings: Settings
    store: Store
    blobs: BlobStore
    cipher: KeyCipher


def build_context(settings: Settings) -> AppContext:
    settings.home.mkdir(parents=True, exist_ok=True)
    store = Store.from_settings(settings)
    ensure_bootstrap(store, settings)
    blobs = BlobStore(settings.blobs_dir)
    sweep_file_blobs(store, blobs)  # bytes of crashed uploads and finished deletes
    sts.sweep_sessions(store)  # temporary credentials that ended a day ago or more
    if settings.audit_retention_days:  # the audit trail's oldest events, the chain kept verifiable
        audit.sweep(store, retention_s=settings.audit_retention_days * 86_400)
    return AppContext(
        settings=settings,
        store=store,
        blobs=blobs,
        cipher=KeyCipher(settings.master_key_path),
    )
