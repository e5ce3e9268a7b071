"""Preference examples for DPO: a prompt and two outputs, tokenized, and their sequence log-probs.

A row (datasets.PreferenceRow: input.messages ending with a user turn, preferred_output and
non_preferred_output, lists of assistant messages) becomes two `sft.Example`s rendered by the one
renderer: prompt + preferred and prompt + non-preferred, each learning only its output's tokens
(`prompts.render_supervised`, with the prompt's own assistant turns, if any, masked out). Each is cut to
`max_length` tokens as supervised examples are.

The reference log-probs (losses.dpo_loss) are those of the starting model - the base with the new
adapter at its zero init, the parent adapter of a chained job, or the starting weights when training
every weight - so the loop computes them once, before any step and before a resume loads the trained
weights (`reference_logps`), instead of keeping a second model: the same numbers at a fraction of the
cost (TRL's `precompute_ref_log_probs`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from openrft.hardware import HOST
from openrft.inference import prompts
from openrft.training import sft


@dataclass(frozen=True)
class Pair:
    chosen: sft.Example
    rejected: sft.Example


def encode_pairs(tokenizer: Any, rows: Sequence[Any], max_length: int) -> tuple[list[Pair], int]:
    """Pairs of preference rows and how many of their sequences were cut to max_length."""
    pairs, cut = [], 0
    for row in rows:
        start = len(prompts.render_chat(tokenizer, row.messages, row.tools))
        two = []
        for output in (row.preferred, row.non_preferred):
            ids, mask = prompts.render_supervised(tokenizer, [*row.messages, *output], row.tools)
            mask = [0] * min(start, len(mask)) + mask[start:]  # only the output is learned
            example, was_cut = sft.truncate(ids, mask, max_length)
            two.append(example)
            cut += was_cut
        pairs.append(Pair(*two))
    return pairs, cut


def sequence_logps(
    model: Any, examples: Sequence[sft.Example], pad_id: int, context: Callable[[], Any] | None = None
) -> torch.Tensor:
    """Summed log-probs of each example's learned tokens under `model`. [n] (gradient flows when enabled)"""
    device = next(model.parameters()).device
    ids, attention, learn = sft.pad(examples, pad_id, device)
    with context() if context else contextlib.nullcontext():
        logp, _, rows = sft.learned_token_logps(model, ids, attention, learn)
    return torch.zeros(len(examples), device=device, dtype=logp.dtype).index_add(0, rows, logp)


@torch.no_grad()
def reference_logps(
    model: Any, pairs: Sequence[Pair], pad_id: int, micro_batch_size: int, context: Callable[[], Any] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(chosen [P], rejected [P]) summed log-probs of every pair under `model` as it is now (the reference)."""
    model.eval()
    chosen, rejected = [], []
    for start in range(0, len(pairs), micro_batch_size):
        part = pairs[start : start + micro_batch_size]
        chosen.append(sequence_logps(model, [p.chosen for p in part], pad_id, context).float().cpu())
        rejected.append(sequence_logps(model, [p.rejected for p in part], pad_id, context).float().cpu())
    if not pairs:
        return torch.zeros(0, device=HOST), torch.zeros(0, device=HOST)
    return torch.cat(chosen), torch.cat(rejected)


def pair_lengths(pairs: Sequence[Pair]) -> list[int]:
    """A pair's length for bucketing: its longer sequence."""
    return [max(len(p.chosen.ids), len(p.rejected.ids)) for p in pairs]
