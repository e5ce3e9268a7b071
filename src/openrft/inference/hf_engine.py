"""The HF engine: Hugging Face transformers models, one shared copy per base, continuous batching.

Each base folder is loaded once, on the device `hardware.device()` picks (the GPU when torch sees one,
else the CPU; the scheduler, adapters and per-request generators follow it), in eval mode, in
`OPENRFT_INFERENCE_DTYPE`: by default bf16 where the device has native bf16 matmuls (a CUDA GPU of
compute capability 8.0+; a CPU with AMX or AVX512-BF16, whose batched decoding is ~1.5x faster than fp32
there), else fp32, with its own `BatchScheduler`. In bf16 a seeded request's text can depend on what
shares its batch (a different matmul blocking rounds differently; 1 of 4 seeded 48-token requests changed
in a batch of 16 on SmolLM2); fp32 keeps it the same (4 of 4), for users who need that. Fine-tuned LoRA
adapters ride on their base's scheduler. JSON mode uses lm-format-enforcer to mask the logits so the
output is always one valid JSON value (constrained decoding, not validate-and-retry).
"""

from __future__ import annotations

import atexit
import logging
import secrets
import threading
from pathlib import Path
from typing import Any

import torch

from openrft import hardware
from openrft.inference.batching import BatchScheduler, Sequence
from openrft.inference.engine import EventSink, SamplingParams, SequenceHandle
from openrft.inference.registry import ResolvedModel
from openrft.inference.sampling import TextTracker

log = logging.getLogger(__name__)


DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


class _Loaded:
    def __init__(self, path: Path, dtype: torch.dtype, device: torch.device):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(path)
        model: Any = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
        model = model.to(device).eval()
        config = model.config
        self.context_length = int(getattr(config, "max_position_embeddings", None) or 2048)
        self.scheduler = BatchScheduler(model, self.tokenizer, context_length=self.context_length)
        self._json_data: Any = None
        self._json_lock = threading.Lock()

    def json_tokenizer_data(self) -> Any:
        from openrft.inference.constrained import build_tokenizer_data

        with self._json_lock:
            if self._json_data is None:
                self._json_data = build_tokenizer_data(self.tokenizer)
            return self._json_data


def resolve_dtype(dtype: str) -> str:
    """ "auto" -> "bfloat16" where the device has native bf16 matmuls (`hardware.fast_bf16`), else "float32"."""
    if dtype == "auto":
        return "bfloat16" if hardware.fast_bf16() else "float32"
    if dtype not in DTYPES:
        raise ValueError(f"inference dtype must be auto or one of {sorted(DTYPES)}, not {dtype!r}")
    return dtype


class HFEngine:
    """`Engine` on transformers: a model is loaded on its first request and stays in memory."""

    def __init__(self, dtype: str = "auto") -> None:
        self.device = hardware.device()
        self.dtype = DTYPES[resolve_dtype(dtype)]
        self._loaded: dict[str, _Loaded] = {}
        self._lock = threading.Lock()
        atexit.register(self.close)  # stop the scheduler threads before the interpreter tears torch down

    def close(self) -> None:
        for loaded in self._loaded.values():
            loaded.scheduler.close()

    def _get(self, path: Path) -> _Loaded:
        key = str(path)
        with self._lock:
            if key not in self._loaded:
                log.info("loading base model from %s", path)
                self._loaded[key] = _Loaded(path, self.dtype, self.device)
            return self._loaded[key]

    def tokenizer(self, model: ResolvedModel) -> Any:
        return self._get(model.base_path).tokenizer

    def context_length(self, model: ResolvedModel) -> int:
        return self._get(model.base_path).context_length

    def prepare(self, model: ResolvedModel, params: SamplingParams) -> None:
        loaded = self._get(model.base_path)
        if params.json_mode:
            loaded.json_tokenizer_data()  # the first JSON request per model builds the table (seconds)

    def submit(
        self,
        model: ResolvedModel,
        prompt_ids: list[int],
        params: SamplingParams,
        sink: EventSink,
        *,
        json_schema: dict[str, Any] | None = None,
    ) -> SequenceHandle:
        loaded = self._get(model.base_path)
        generator = torch.Generator(device=self.device)  # torch.multinomial draws on the logits' device
        generator.manual_seed(params.seed if params.seed is not None else secrets.randbits(63))
        enforcer = None
        if params.json_mode:
            from openrft.inference.constrained import json_enforcer

            data = loaded.json_tokenizer_data()
            enforcer = json_enforcer(data, json_schema, params.json_prefix, params.json_suffix)
        handle = SequenceHandle()
        loaded.scheduler.submit(
            Sequence(
                prompt_ids=list(prompt_ids),
                params=params,
                adapter_path=model.adapter_path,
                sink=sink,
                handle=handle,
                tracker=TextTracker(loaded.tokenizer, params.stop),
                generator=generator,
                enforcer=enforcer,
            )
        )
        return handle

    def forget(self, model: ResolvedModel) -> None:
        loaded = self._loaded.get(str(model.base_path))
        if loaded is not None and model.adapter_path is not None:
            loaded.scheduler.forget(model.adapter_path)
