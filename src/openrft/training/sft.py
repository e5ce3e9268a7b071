"""Supervised examples: tokens, assistant-only masks, length-bucketed batches, the SFT loss and token accuracy.

An example is a conversation rendered by the one renderer (`prompts.render_supervised`): its ids and a
0/1 mask that is 1 on the assistant tokens the model learns (content, tool calls, end-of-turn; `weight`
0 messages excluded). Token t is learned when mask[t] is 1, predicted from positions < t. Examples
longer than `max_length` are cut to their first `max_length` tokens (the job's start event counts them).

Batches are length-bucketed, so padding does not dominate a step: each epoch's seeded permutation is
cut into windows of BUCKET_BATCHES batches, each window sorted by length and cut into batches, and
the batches of the epoch shuffled (Hugging Face's `group_by_length`, made a pure function of (seed,
epoch) as training/data.py's order is: a resumed run visits the same batches). Inside a step the
micro-batches are the batch's examples sorted by length, right-padded to their own longest.

The loss of a step is OpenAI's train_loss: the mean cross-entropy over every learned token of the
batch (a sum over micro-batches divided by the batch's learned-token count, so micro-batching does not
change it). train_mean_token_accuracy: the share of learned tokens that are the argmax prediction.
The lm_head runs only on the positions that predict learned tokens (a [tokens, vocab] matrix instead of
[n, L, vocab]), and a prefix all of a micro-batch's examples share (a dataset's common system prompt) is
run once for them (`shared_prefix_len`).
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from peft import PeftModel

from openrft.hardware import HOST
from openrft.inference import prompts
from openrft.training.rollout import position_ids_for, shared_prefix_hidden

BUCKET_BATCHES = 16  # batches per length-sorted window (HF group_by_length's mega-batch: 50)


@dataclass(frozen=True)
class Example:
    """One tokenized training sequence and the tokens it learns."""

    ids: list[int]
    mask: list[int]  # 1 on learned tokens

    @property
    def n_learned(self) -> int:
        return sum(self.mask)


def truncate(ids: list[int], mask: list[int], max_length: int) -> tuple[Example, bool]:
    """The first max_length tokens; True when that cut something."""
    return Example(ids[:max_length], mask[:max_length]), len(ids) > max_length


def encode_conversations(tokenizer: Any, rows: Sequence[Any], max_length: int) -> tuple[list[Example], int]:
    """Examples of supervised rows (DatasetRow: messages ending with an assistant turn) and how many were cut."""
    examples, cut = [], 0
    for row in rows:
        ids, mask = prompts.render_supervised(tokenizer, row.messages, row.tools)
        example, was_cut = truncate(ids, mask, max_length)
        examples.append(example)
        cut += was_cut
    return examples, cut


# -- batches --------------------------------------------------------------------------------------------


def bucketed_batches(lengths: Sequence[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """The batches of one epoch: a seeded permutation, length-sorted windows of BUCKET_BATCHES batches,
    the batches shuffled. ceil(n / batch_size) batches, every index once."""
    order = list(range(len(lengths)))
    rng = random.Random(f"{seed}:{epoch}")
    rng.shuffle(order)
    window = batch_size * BUCKET_BATCHES
    batches: list[list[int]] = []
    for start in range(0, len(order), window):
        part = sorted(order[start : start + window], key=lambda i: (-lengths[i], i))
        batches += [part[k : k + batch_size] for k in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


def batch_at(step: int, lengths: Sequence[int], batch_size: int, seed: int) -> list[int]:
    """Example indices of optimizer step `step` (0-based)."""
    per_epoch = math.ceil(len(lengths) / batch_size)
    epoch, position = divmod(step, per_epoch)
    return bucketed_batches(lengths, batch_size, seed, epoch)[position]


def micro_batches(lengths: Sequence[int], indices: Sequence[int], size: int) -> list[list[int]]:
    """`indices` sorted by length (longest first), in chunks of `size`."""
    ordered = sorted(indices, key=lambda i: (-lengths[i], i))
    return [ordered[k : k + size] for k in range(0, len(ordered), size)]


def padding_fraction(lengths: Sequence[int], chunks: Sequence[Sequence[int]]) -> float:
    """Share of the padded token slots of `chunks` (each right-padded to its longest) that are padding."""
    slots = sum(len(c) * max(lengths[i] for i in c) for c in chunks if c)
    real = sum(lengths[i] for c in chunks for i in c)
    return 1.0 - real / slots if slots else 0.0


def pad(examples: Sequence[Example], pad_id: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    """Right-padded (input_ids, attention_mask, loss_mask), each [n, L]."""
    width = max(len(e.ids) for e in examples)
    host = torch.device(HOST)  # filled row by row on the host, moved once
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long, device=host)
    attention = torch.zeros((len(examples), width), dtype=torch.long, device=host)
    learn = torch.zeros((len(examples), width), dtype=torch.bool, device=host)
    for row, e in enumerate(examples):
        ids[row, : len(e.ids)] = torch.tensor(e.ids, device=host)
        attention[row, : len(e.ids)] = 1
        learn[row, : len(e.mask)] = torch.tensor(e.mask, dtype=torch.bool, device=host)
    return ids.to(device), attention.to(device), learn.to(device)


# -- the loss -------------------------------------------------------------------------------------------


def shared_prefix_len(input_ids: torch.Tensor, attention_mask: torch.Tensor, loss_mask: torch.Tensor) -> int:
    """Tokens every row starts with (no padding, nothing learned in them but the last one's prediction):
    the part of a micro-batch `learned_token_logps` runs once. 0 when under 2 (or one row)."""
    if input_ids.shape[0] < 2:
        return 0
    same = ((input_ids == input_ids[:1]).all(dim=0) & attention_mask.bool().all(dim=0)).long()  # [L]
    prefix = int(same.cumprod(dim=0).sum())
    learned_at = loss_mask[:, 1:].any(dim=0).nonzero()  # token t = index + 1 is learned in some row
    if len(learned_at):
        prefix = min(prefix, int(learned_at[0]) + 1)  # token t is predicted from position t - 1 >= prefix - 1
    return prefix if prefix >= 2 else 0


def learned_token_logps(
    model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, loss_mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(log-prob [k], argmax-correct [k] bool, row [k]) of each of the k learned tokens (loss_mask[:, 1:]).

    A prefix every row shares (a common system prompt: `shared_prefix_len`) runs once, its KV cache
    shared by the rows (rollout.shared_prefix_hidden; gradients flow back through it, so the result and
    its gradient are those of the rows run whole).
    """
    inner: Any = model.get_base_model() if isinstance(model, PeftModel) else model
    positions = position_ids_for(attention_mask)
    cfg = inner.config
    if getattr(cfg, "final_logit_softcapping", None) or getattr(cfg, "logit_scale", None):  # the head does more
        start = 1
        logits = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=positions).logits[:, :-1]
        learn = loss_mask[:, 1:]
        logits = logits[learn]  # [k, V]
    else:
        shared = shared_prefix_len(input_ids, attention_mask, loss_mask)
        start = shared or 1  # the first token predicted; hidden states from position start - 1 on
        if shared:
            rows_prompt = torch.zeros(input_ids.shape[0], dtype=torch.long, device=input_ids.device)
            hidden = shared_prefix_hidden(inner.get_decoder(), input_ids, attention_mask, shared, rows_prompt)
        else:
            hidden = inner.get_decoder()(
                input_ids=input_ids, attention_mask=attention_mask, position_ids=positions, use_cache=False
            ).last_hidden_state  # [n, L, H]
        learn = loss_mask[:, start:]  # [n, L-start] position t-1 predicts token t
        logits = inner.get_output_embeddings()(hidden[:, :-1][learn])  # [k, V]
    logits = logits.float()
    wanted = input_ids[:, start:][learn]  # [k]
    logp = F.log_softmax(logits, dim=-1).gather(-1, wanted.unsqueeze(-1)).squeeze(-1)  # [k]
    correct = logits.detach().argmax(dim=-1) == wanted  # [k]
    rows = learn.nonzero()[:, 0]  # [k]
    return logp, correct, rows


@dataclass
class SftStats:
    """Sums over a batch's learned tokens (divide by `tokens` for the means)."""

    nll_sum: float = 0.0
    correct: int = 0
    tokens: int = 0
    padding_slots: int = 0
    real_slots: int = 0

    @property
    def loss(self) -> float:
        return self.nll_sum / max(self.tokens, 1)

    @property
    def accuracy(self) -> float:
        return self.correct / max(self.tokens, 1)


def sft_pass(
    model: Any,
    examples: Sequence[Example],
    pad_id: int,
    micro_batch_size: int,
    *,
    backward: bool,
    context: Any = None,
) -> SftStats:
    """Cross-entropy over the learned tokens of `examples`, length-sorted micro-batches; with `backward`,
    each micro-batch's share of the batch mean is backpropagated (the accumulated gradient is that of the
    whole batch's mean loss). `context()` wraps each forward (autocast, attention kernel)."""
    lengths = [len(e.ids) for e in examples]
    total = max(1, sum(e.n_learned - (e.mask[0] if e.mask else 0) for e in examples))  # tokens with a predictor
    stats = SftStats()
    device = next(model.parameters()).device
    for chunk in micro_batches(lengths, range(len(examples)), micro_batch_size):
        ids, attention, learn = pad([examples[i] for i in chunk], pad_id, device)
        stats.padding_slots += int(attention.numel() - attention.sum())
        stats.real_slots += int(attention.sum())
        if not learn[:, 1:].any():
            continue
        with torch.set_grad_enabled(backward), context() if context else contextlib.nullcontext():
            logp, correct, _ = learned_token_logps(model, ids, attention, learn)
        if backward:
            (-logp.sum() / total).backward()
        stats.nll_sum += float(-logp.detach().sum())
        stats.correct += int(correct.sum())
        stats.tokens += int(logp.numel())
    return stats
