"""Continuous batching of concurrent sequences on one model, with a shared KV cache.

One scheduler thread per loaded base model. Each turn of its loop it (1) admits waiting sequences:
prefills them together (left-padded), samples their first token, and concatenates their KV cache onto
the running batch's (both left-padded to the longer length); (2) runs one decoding step for every
running sequence; (3) retires finished or cancelled sequences by selecting the surviving batch rows.
So a request joins at the next step instead of waiting for the batch to drain, and aggregate
throughput grows with the number of concurrent requests.

Rows carry an attention mask (0 on left padding) and explicit position ids (count of real tokens so
far), so each sequence computes what it would alone. Sampling is per row (`sampling.choose_token`).
Every tensor is made on the model's device (the engine's choice, openrft.hardware).
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from openrft.inference.adapters import BASE, AdapterSet
from openrft.inference.engine import Delta, EventSink, Finished, SamplingParams, SequenceHandle
from openrft.inference.sampling import TextTracker, choose_token, token_logprob

log = logging.getLogger(__name__)


@dataclass
class Sequence:
    prompt_ids: list[int]
    params: SamplingParams
    adapter_path: Path | None
    sink: EventSink
    handle: SequenceHandle
    tracker: TextTracker
    generator: torch.Generator
    enforcer: Any = None  # lm-format-enforcer TokenEnforcer in JSON mode
    adapter: str = BASE
    next_token: int = -1
    finished: bool = False
    completion_tokens: int = 0  # sampled so far, the end token included


class BatchScheduler:
    """Runs every sequence of one base model (and its adapters) in one continuously refilled batch."""

    def __init__(self, model: Any, tokenizer: Any, *, context_length: int, max_batch: int = 32, max_adapters: int = 8):
        self.adapters = AdapterSet(model, max_loaded=max_adapters)
        self.device: torch.device = model.device
        self.tokenizer = tokenizer
        self.context_length = context_length
        self.max_batch = max_batch
        self.eos_ids = _eos_ids(model, tokenizer)
        self.inbox: queue.Queue[Sequence | tuple[str, Path] | None] = queue.Queue()  # None: stop
        self.active: list[Sequence] = []
        self.admitting: list[Sequence] = []  # taken from the inbox, not yet in the batch (prefill running)
        self.cache: DynamicCache | None = None
        self.mask: torch.Tensor | None = None  # [B, T] 1 on real tokens, 0 on left padding
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="openrft-batch", daemon=True)
        self._thread.start()

    def submit(self, seq: Sequence) -> None:
        self.inbox.put(seq)

    def forget(self, adapter_path: Path) -> None:
        self.inbox.put(("forget", adapter_path))

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the thread after its current step (running sequences end as cancelled)."""
        self.inbox.put(None)
        self._thread.join(timeout=timeout_s)

    # -- the loop --------------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._closed:
            try:
                self._turn()
            except Exception as exc:  # a bug must not kill serving: fail the running and the admitted sequences
                log.exception("batch step failed")
                for seq in [*self.active, *self.admitting]:
                    self._finish(seq, "error", error=str(exc))
                self.active, self.admitting, self.cache, self.mask = [], [], None, None
        for seq in self.active:
            self._finish(seq, "cancelled")

    def _turn(self) -> None:
        incoming = self._admit(block=not self.active)
        if self._closed:
            return
        self._retire()  # cancelled sequences leave before they cost a step
        with torch.inference_mode():
            if incoming:
                self.admitting = incoming  # a failing prefill must still end them (_loop)
                self._prefill(incoming)
                self.admitting = []
                self._retire()
            if self.active:
                self._decode()
                self._retire()

    def _admit(self, *, block: bool) -> list[Sequence]:
        admitted: list[Sequence] = []
        while len(self.active) + len(admitted) < self.max_batch:
            try:
                item = self.inbox.get(block=block and not admitted, timeout=None)
            except queue.Empty:
                break
            if item is None:
                self._closed = True
                break
            if isinstance(item, tuple):
                self.adapters.forget(item[1], {s.adapter for s in self.active})
                continue
            if item.handle.cancelled.is_set():
                self._finish(item, "cancelled")
                continue
            try:
                in_use = {s.adapter for s in self.active + admitted}
                item.adapter = self.adapters.acquire(item.adapter_path, in_use)
            except Exception as exc:
                log.exception("loading adapter %s failed", item.adapter_path)
                self._finish(item, "error", error=f"could not load adapter: {exc}")
                continue
            admitted.append(item)
        return admitted

    def _forward(
        self, input_ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor, cache: Any, names: list[str]
    ) -> tuple[torch.Tensor, DynamicCache]:
        out = self.adapters.model(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=positions,
            cache=cache,
            use_cache=True,
            logits_to_keep=1,  # only the last position's logits: skips the vocab projection of the prompt
            **self.adapters.forward_kwargs(names),
        )
        return out.logits[:, -1, :], out.cache  # [B, V]

    def _prefill(self, seqs: list[Sequence]) -> None:
        width = max(len(s.prompt_ids) for s in seqs)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        rows = [[pad] * (width - len(s.prompt_ids)) + s.prompt_ids for s in seqs]
        flags = [[0] * (width - len(s.prompt_ids)) + [1] * len(s.prompt_ids) for s in seqs]
        ids = torch.tensor(rows, device=self.device)  # [N, L]
        mask = torch.tensor(flags, device=self.device)  # [N, L]
        positions = (mask.cumsum(-1) - 1).clamp(min=0)  # [N, L]
        logits, cache = self._forward(ids, mask, positions, new_cache(), [s.adapter for s in seqs])
        self._merge(cache, mask, seqs)
        self._sample(logits, seqs)

    def _decode(self) -> None:
        assert self.mask is not None
        ids = torch.tensor([[s.next_token] for s in self.active], device=self.device)  # [B, 1]
        ones = torch.ones(len(self.active), 1, dtype=self.mask.dtype, device=self.device)
        self.mask = torch.cat([self.mask, ones], dim=1)
        positions = self.mask.sum(-1, keepdim=True) - 1  # [B, 1]
        logits, self.cache = self._forward(ids, self.mask, positions, self.cache, [s.adapter for s in self.active])
        self._sample(logits, self.active)

    def _merge(self, cache: DynamicCache, mask: torch.Tensor, seqs: list[Sequence]) -> None:
        """Append new rows (cache [N, H, L, D], mask [N, L]) to the running batch, left-padding the shorter."""
        if self.cache is None or self.mask is None or not self.active:
            self.cache, self.mask, self.active = cache, mask, list(seqs)
            return
        width = max(self.mask.shape[1], mask.shape[1])
        for old, new in zip(_layers(self.cache), _layers(cache), strict=True):
            (old_k, old_v), (new_k, new_v) = _kv(old), _kv(new)  # [B, H, T, D], [N, H, L, D]
            old.keys = torch.cat([_left_pad(old_k, width, 2), _left_pad(new_k, width, 2)], dim=0)
            old.values = torch.cat([_left_pad(old_v, width, 2), _left_pad(new_v, width, 2)], dim=0)
        self.mask = torch.cat([_left_pad(self.mask, width, 1), _left_pad(mask, width, 1)], dim=0)
        self.active = self.active + list(seqs)

    def _sample(self, logits: torch.Tensor, seqs: list[Sequence]) -> None:
        """logits: [B, V], one row per sequence in `seqs` order."""
        for row, seq in zip(logits, seqs, strict=True):
            if seq.finished or seq.handle.cancelled.is_set():
                continue
            allowed = None
            if seq.enforcer is not None:
                allowed = list(seq.enforcer.get_allowed_tokens(seq.prompt_ids + seq.tracker.token_ids).allowed_tokens)
            token, logprobs = choose_token(row, seq.params, seq.generator, allowed)
            seq.completion_tokens += 1
            if token in self.eos_ids:
                self._emit(seq, seq.tracker.flush())
                self._finish(seq, "stop")
                continue
            lp = None
            if seq.params.logprobs:
                lp = token_logprob(self.tokenizer, token, logprobs, seq.params.top_logprobs)
            delta, stopped = seq.tracker.push(token, lp)
            self._emit(seq, delta)
            total = len(seq.prompt_ids) + len(seq.tracker.token_ids)
            if stopped:
                self._finish(seq, "stop")
            elif len(seq.tracker.token_ids) >= seq.params.max_tokens or total >= self.context_length:
                self._emit(seq, seq.tracker.flush())
                self._finish(seq, "length")
            else:
                seq.next_token = token

    def _retire(self) -> None:
        for seq in self.active:
            if not seq.finished and seq.handle.cancelled.is_set():
                self._finish(seq, "cancelled")
        keep = [i for i, s in enumerate(self.active) if not s.finished]
        if len(keep) == len(self.active):
            return
        if not keep:
            self.active, self.cache, self.mask = [], None, None
            return
        index = torch.tensor(keep, device=self.device)
        assert self.cache is not None and self.mask is not None
        self.cache.batch_select_indices(index)
        self.mask = self.mask[index]
        self.active = [self.active[i] for i in keep]
        lead = int((self.mask.sum(0) == 0).long().cumprod(0).sum())  # columns that are padding in every row
        if lead:
            self.mask = self.mask[:, lead:]
            for layer in _layers(self.cache):
                keys, values = _kv(layer)
                layer.keys, layer.values = keys[:, :, lead:], values[:, :, lead:]

    def _emit(self, seq: Sequence, delta: Delta | None) -> None:
        if delta is not None and (delta.text or delta.logprobs):
            seq.sink(delta)

    def _finish(self, seq: Sequence, reason: str, *, error: str | None = None) -> None:
        if seq.finished:
            return
        seq.finished = True
        seq.sink(Finished(reason, len(seq.prompt_ids), seq.completion_tokens, error))


class _GrowingLayer(DynamicLayer):
    """A DynamicLayer that appends into spare capacity instead of `torch.cat`-ing the whole cache each step.

    `keys`/`values` stay views [B, H, T, D] of larger buffers; when the scheduler replaces them (merge,
    retire) the next update notices and copies them into a fresh buffer.
    """

    _buffers: tuple[torch.Tensor, torch.Tensor] | None = None
    _views: tuple[torch.Tensor, torch.Tensor] | None = None

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        keys, values = _kv(self)
        length, new = (keys.shape[-2] if keys.numel() else 0), key_states.shape[-2]
        views_current = self._views is not None and self._views[0] is keys and self._views[1] is values
        if self._buffers is None or not views_current or length + new > self._buffers[0].shape[-2]:
            batch, heads, _, dim = key_states.shape
            capacity = length + new + max(64, length)
            kbuf = key_states.new_empty(batch, heads, capacity, dim)
            vbuf = value_states.new_empty(batch, value_states.shape[1], capacity, value_states.shape[-1])
            if length:
                kbuf[:, :, :length], vbuf[:, :, :length] = keys, values
            self._buffers = (kbuf, vbuf)
        kbuf, vbuf = self._buffers
        kbuf[:, :, length : length + new], vbuf[:, :, length : length + new] = key_states, value_states
        self.keys, self.values = kbuf[:, :, : length + new], vbuf[:, :, : length + new]
        self._views = (self.keys, self.values)
        return self.keys, self.values


def new_cache() -> DynamicCache:
    cache = DynamicCache()
    cache.layer_class_to_replicate = _GrowingLayer  # layers are created on first update
    return cache


def _layers(cache: DynamicCache) -> list[DynamicLayer]:
    """The per-layer K/V holders ([B, H, T, D] tensors) of a full-attention model's dynamic cache."""
    return [cast(DynamicLayer, layer) for layer in cache.layers]


def _kv(layer: DynamicLayer) -> tuple[torch.Tensor, torch.Tensor]:
    assert layer.keys is not None and layer.values is not None
    return layer.keys, layer.values


def _left_pad(t: torch.Tensor, width: int, dim: int) -> torch.Tensor:
    missing = width - t.shape[dim]
    if missing <= 0:
        return t
    shape = list(t.shape)
    shape[dim] = missing
    return torch.cat([torch.zeros(shape, dtype=t.dtype, device=t.device), t], dim=dim)


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    ids: set[int] = set()
    gen = getattr(model, "generation_config", None)
    for value in (getattr(gen, "eos_token_id", None), tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list):
            ids.update(int(v) for v in value)
    return ids
