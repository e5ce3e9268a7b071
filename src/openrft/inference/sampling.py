"""Per-sequence token choice and text release, independent of how sequences are batched.

Each sequence samples from its own logits row with its own `torch.Generator`, so a seeded request gives
the same tokens whatever else shares its batch. `TextTracker` turns token ids into released text,
holding back anything that could still become a stop sequence or an incomplete UTF-8 character.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from openrft.inference.engine import Delta, SamplingParams, TokenLogprob


def choose_token(
    logits: torch.Tensor, params: SamplingParams, generator: torch.Generator, allowed: list[int] | None = None
) -> tuple[int, torch.Tensor]:
    """logits: [V] of one sequence -> (token id, log-probabilities [V] of the model's distribution)."""
    logits = logits.float()
    if allowed is not None:
        mask = torch.full_like(logits, float("-inf"))
        mask[allowed] = 0.0
        logits = logits + mask
    logprobs = torch.log_softmax(logits, dim=-1)  # [V]
    scaled = logits / params.temperature if params.temperature > 0.0 else logits  # [V]
    # A temperature so small that the scaled logits overflow float32 means the same as 0: greedy.
    if params.temperature <= 0.0 or torch.isinf(scaled[torch.isfinite(logits)]).any():
        return int(torch.argmax(logits).item()), logprobs
    probs = torch.softmax(scaled, dim=-1)  # [V]
    if params.top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)  # [V]
        before = torch.cumsum(sorted_probs, dim=-1) - sorted_probs  # mass strictly above each token
        keep = before < params.top_p
        keep[0] = True  # the most likely token always stays (a top_p that rounds to 0 in float32 keeps it alone)
        sorted_probs = torch.where(keep, sorted_probs, torch.zeros_like(sorted_probs))
        probs = torch.zeros_like(probs).scatter(0, order, sorted_probs)
    token = torch.multinomial(probs, 1, generator=generator)
    return int(token.item()), logprobs


def token_logprob(tokenizer: Any, token: int, logprobs: torch.Tensor, top_n: int) -> TokenLogprob:
    top: tuple[tuple[str, float], ...] = ()
    if top_n > 0:
        values, ids = torch.topk(logprobs, top_n)
        top = tuple((tokenizer.decode([int(i)]), float(v)) for v, i in zip(values, ids, strict=True))
    return TokenLogprob(tokenizer.decode([token]), float(logprobs[token]), top)


@dataclass
class TextTracker:
    """Decodes a growing list of token ids and releases text that can no longer change."""

    tokenizer: Any
    stop: tuple[str, ...]
    token_ids: list[int] = field(default_factory=list)
    released: int = 0  # characters of the decoded text already released
    pending_logprobs: list[TokenLogprob] = field(default_factory=list)

    def push(self, token: int, logprob: TokenLogprob | None) -> tuple[Delta | None, bool]:
        """Add a token -> (delta to release or None, whether a stop sequence ended the text)."""
        self.token_ids.append(token)
        if logprob is not None:
            self.pending_logprobs.append(logprob)
        text = self.tokenizer.decode(self.token_ids, skip_special_tokens=True)
        start = max(0, self.released - max((len(s) for s in self.stop), default=0))
        hits = [i for i in (text.find(s, start) for s in self.stop) if i >= 0]
        if hits:
            return self._release(text, min(hits)), True
        hold = max((len(s) - 1 for s in self.stop), default=0)
        end = len(text) - hold
        while end > self.released and text[end - 1] == "\ufffd":  # half of a multi-byte character
            end -= 1
        return self._release(text, end), False

    def flush(self) -> Delta | None:
        text = self.tokenizer.decode(self.token_ids, skip_special_tokens=True)
        return self._release(text, len(text))

    def _release(self, text: str, end: int) -> Delta | None:
        if end <= self.released and not self.pending_logprobs:
            return None
        piece = text[self.released : end] if end > self.released else ""
        self.released = max(self.released, end)
        delta = Delta(piece, tuple(self.pending_logprobs))
        self.pending_logprobs = []
        return delta
