"""Export a model to plain Hugging Face folders: merged weights, plus the LoRA adapter alone.

`export_model` writes DIR as a full model folder that `AutoModelForCausalLM.from_pretrained(DIR)` loads
without openrft or PEFT (adapters merged with `merge_and_unload`), and for a LoRA model also
DIR/adapter in PEFT format (`PeftModel.from_pretrained(base, DIR/adapter)`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import sqlalchemy as sa

from openrft.atomicdir import atomic_directory
from openrft.errors import Conflict, NotFound
from openrft.inference.registry import ResolvedModel, resolve
from openrft.settings import Settings
from openrft.store.db import Store
from openrft.store.schema import models


def resolve_any_project(store: Store, settings: Settings, model_id: str) -> ResolvedModel:
    """Resolve a model whichever project owns it (local admin tools only)."""
    with store.begin() as conn:
        owner = conn.execute(
            sa.select(models.c.project_id).where(models.c.id == model_id, models.c.deleted_at.is_(None))
        ).first()
    return resolve(store, settings, owner[0] if owner else None, model_id)


def export_model(store: Store, settings: Settings, model_id: str, out_dir: Path) -> ResolvedModel:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = resolve_any_project(store, settings, model_id)
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise Conflict(f"{out_dir} exists and is not empty.", param="dir")
    if not model.base_path.is_dir():
        raise NotFound(f"The files of `{model_id}` are missing ({model.base_path}).", param="model")
    with atomic_directory(out_dir, replace=False) as tmp:
        weights = AutoModelForCausalLM.from_pretrained(model.base_path, dtype=torch.float32)
        if model.adapter_path is not None:
            from peft import PeftModel

            weights = PeftModel.from_pretrained(weights, model.adapter_path).merge_and_unload()
            shutil.copytree(model.adapter_path, tmp / "adapter")
        weights.save_pretrained(tmp)
        tokenizer_source = model.adapter_path if _has_tokenizer(model.adapter_path) else model.base_path
        AutoTokenizer.from_pretrained(tokenizer_source).save_pretrained(tmp)
    return model


def _has_tokenizer(folder: Path | None) -> bool:
    return folder is not None and (folder / "tokenizer_config.json").is_file()
