"""The supervised (SFT) and preference (DPO) training loop, in plain torch: read `train()` top to bottom.

One job, one process (`openrft.training.run`), the same lifecycle as RFT (trainer.py): per step take a
length-bucketed batch of `batch_size` examples (training/sft.py), forward/backward in length-sorted
micro-batches, one AdamW step (gradient norm clipped), measure a validation batch (when there is a
validation file), write a metrics event. Every `eval_interval` steps and at the last one: the loss over
the whole validation file (full_valid_*) and a checkpoint, registered as `ft:...:ckpt-step-N`. `pause`
checkpoints and stops; `cancel` stops; a crashed run (kill -9) resumes from the newest checkpoint and
replays the same steps (data order, RNG and optimizer restored: trainer.resume, checkpoints.py).

What differs per method is a `Task` (TASKS): how rows become examples, what one step's loss is, and what
it measures. Metrics events (type "metrics", docs/hyperparameters.md), OpenAI's names:
- supervised: train_loss, train_mean_token_accuracy, valid_loss, valid_mean_token_accuracy,
  full_valid_loss, full_valid_mean_token_accuracy;
- dpo: train_loss, train_reward_accuracy, train_reward_margin, train_chosen_reward,
  train_rejected_reward, and the same with valid_ and full_valid_;
plus step, total_steps, and ours: learning_rate, grad_norm, padding_fraction (of the step's padded
micro-batches), tokens, timing.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from openrft.jobstate import JobHandle
from openrft.settings import Settings
from openrft.store.db import Store
from openrft.training import data, dpo, precision, sft, trainer
from openrft.training.checkpoints import TrainState
from openrft.training.job import Job
from openrft.training.losses import dpo_loss
from openrft.training.metrics import supervised_event

log = logging.getLogger(__name__)


# -- what differs between SFT and DPO ---------------------------------------------------------------------


@dataclass
class SftTask:
    """Conversations; loss = mean cross-entropy over the learned (assistant) tokens."""

    train: list[sft.Example]
    valid: list[sft.Example]
    pad_id: int
    micro_batch_size: int
    cut: int  # examples cut to max_length
    keys: tuple[str, ...] = ("loss", "mean_token_accuracy")

    @classmethod
    def build(cls, tokenizer: Any, job: Job, max_length: int) -> SftTask:
        train, cut = sft.encode_conversations(tokenizer, job.train_rows, max_length)
        valid, cut_valid = sft.encode_conversations(tokenizer, job.valid_rows, max_length)
        return cls(train, valid, _pad_id(tokenizer), job.hp.micro_batch_size, cut + cut_valid)

    def lengths(self, split: str) -> list[int]:
        return [len(e.ids) for e in (self.train if split == "train" else self.valid)]

    def setup(self, model: Any, context: Callable[[], Any]) -> None:
        """Nothing to precompute."""

    def run(self, model: Any, split: str, idx: Sequence[int], context: Callable[[], Any], backward: bool) -> dict:
        examples = self.train if split == "train" else self.valid
        stats = sft.sft_pass(
            model, [examples[i] for i in idx], self.pad_id, self.micro_batch_size, backward=backward, context=context
        )
        return {
            "loss": stats.loss,
            "mean_token_accuracy": stats.accuracy,
            "_pad": stats.padding_slots,
            "_real": stats.real_slots,
        }


@dataclass
class DpoTask:
    """Preference pairs; loss = sigmoid DPO against the starting model's log-probs (computed once)."""

    train: list[dpo.Pair]
    valid: list[dpo.Pair]
    pad_id: int
    micro_batch_size: int
    beta: float
    cut: int
    keys: tuple[str, ...] = ("loss", "reward_accuracy", "reward_margin", "chosen_reward", "rejected_reward")
    reference: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)

    @classmethod
    def build(cls, tokenizer: Any, job: Job, max_length: int) -> DpoTask:
        train, cut = dpo.encode_pairs(tokenizer, job.train_rows, max_length)
        valid, cut_valid = dpo.encode_pairs(tokenizer, job.valid_rows, max_length)
        return cls(train, valid, _pad_id(tokenizer), job.hp.micro_batch_size, job.hp.beta, cut + cut_valid)

    def lengths(self, split: str) -> list[int]:
        return dpo.pair_lengths(self.train if split == "train" else self.valid)

    def setup(self, model: Any, context: Callable[[], Any]) -> None:
        """The reference log-probs: the model as it starts (before a resume loads trained weights)."""
        for split, pairs in (("train", self.train), ("valid", self.valid)):
            self.reference[split] = dpo.reference_logps(model, pairs, self.pad_id, self.micro_batch_size, context)

    def run(self, model: Any, split: str, idx: Sequence[int], context: Callable[[], Any], backward: bool) -> dict:
        pairs = self.train if split == "train" else self.valid
        ref_chosen, ref_rejected = self.reference[split]
        per_chunk = max(1, self.micro_batch_size // 2)  # two sequences per pair
        lengths = self.lengths(split)
        order = sorted(idx, key=lambda i: (-lengths[i], i)) if len(idx) > per_chunk else list(idx)
        sums = dict.fromkeys(self.keys, 0.0)
        pad = real = 0
        for start in range(0, len(order), per_chunk):
            chunk = order[start : start + per_chunk]
            examples = [pairs[i].chosen for i in chunk] + [pairs[i].rejected for i in chunk]
            width = max(len(e.ids) for e in examples)
            pad += sum(width - len(e.ids) for e in examples)
            real += sum(len(e.ids) for e in examples)
            with torch.set_grad_enabled(backward):
                logps = dpo.sequence_logps(model, examples, self.pad_id, context)  # [2c]
                device = logps.device
                rows = torch.tensor(chunk, device=ref_chosen.device)  # the reference log-probs stay on the host
                out = dpo_loss(
                    logps[: len(chunk)].float(),
                    logps[len(chunk) :].float(),
                    ref_chosen[rows].to(device),
                    ref_rejected[rows].to(device),
                    self.beta,
                )
            share = len(chunk) / len(idx)
            if backward:
                (out.loss * share).backward()
            sums["loss"] += float(out.loss.detach()) * share
            sums["reward_accuracy"] += out.reward_accuracy * share
            sums["reward_margin"] += out.margin * share
            sums["chosen_reward"] += float(out.chosen_rewards.mean()) * share
            sums["rejected_reward"] += float(out.rejected_rewards.mean()) * share
        return {**sums, "_pad": pad, "_real": real}


Task = SftTask | DpoTask
TASKS: dict[str, type[SftTask] | type[DpoTask]] = {"supervised": SftTask, "dpo": DpoTask}


def _pad_id(tokenizer: Any) -> int:
    return int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id)


# -- the loop -------------------------------------------------------------------------------------------


def train(handle: JobHandle, settings: Settings, store: Store, job: Job) -> str:
    """Run (or resume) a supervised or dpo job to its end; returns the status it finished with."""
    from openrft.inference import registry

    hp = job.hp
    torch.manual_seed(hp.seed)  # LoRA init
    model, tokenizer = trainer.load_policy(job.base_path, hp, job.parent_adapter)
    context_len = int(getattr(model.config, "max_position_embeddings", hp.max_length) or hp.max_length)
    max_length = min(hp.max_length, context_len)
    task: Task = TASKS[job.method].build(tokenizer, job, max_length)
    train_lengths, valid_lengths = task.lengths("train"), task.lengths("valid")
    forward = _forward_context(model, hp.precision, max(train_lengths + valid_lengths))
    task.setup(model, forward)  # before resume(): the reference is the starting model
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=hp.learning_rate, weight_decay=hp.weight_decay)
    state = trainer.resume(handle, model, optimizer) or TrainState()
    total_steps = hp.total_steps(len(task.train))
    ckpt_root = settings.checkpoints_dir / job.id
    start_message, start_data = _start_message(job, state.step, total_steps, task, max_length, train_lengths)
    handle.event(start_message, data=start_data)

    while state.step < total_steps:
        control = handle.control()
        if control == "cancel":
            handle.finish("cancelled")
            return "cancelled"
        if control == "pause":
            trainer.save_checkpoint(handle, registry, store, job, ckpt_root, model, tokenizer, optimizer, state, {})
            handle.finish("paused")
            return "paused"
        t0 = time.perf_counter()
        step = state.step + 1

        # 1. One optimizer step on a length-bucketed batch.
        idx = sft.batch_at(state.step, train_lengths, hp.batch_size, hp.seed)
        model.train()
        optimizer.zero_grad(set_to_none=True)
        train_m = task.run(model, "train", idx, forward, backward=True)
        grad_norm = torch.nn.utils.clip_grad_norm_(params, hp.max_grad_norm)
        optimizer.step()
        model.eval()
        state.step = step
        state.trained_tokens += sum(train_lengths[i] for i in idx)
        t_train = time.perf_counter() - t0

        # 2. A validation batch every step; the whole validation file (and a checkpoint) every eval_interval.
        t1 = time.perf_counter()
        valid_m = full_m = None
        if task.valid:
            with torch.no_grad():
                v_idx = data.batch_indices(step - 1, len(task.valid), hp.batch_size, hp.seed)
                valid_m = task.run(model, "valid", v_idx, forward, backward=False)
        evaluating = step % hp.eval_interval == 0 or step == total_steps
        if evaluating and task.valid:
            with torch.no_grad():
                full_m = task.run(model, "valid", range(len(task.valid)), forward, backward=False)
        t_eval = time.perf_counter() - t1
        message, event = supervised_event(
            step=step,
            total_steps=total_steps,
            keys=task.keys,
            train=train_m,
            valid=valid_m,
            full_valid=full_m,
            extra={
                "learning_rate": hp.learning_rate,
                "grad_norm": float(grad_norm),
                "padding_fraction": train_m["_pad"] / max(1, train_m["_pad"] + train_m["_real"]),
                "tokens": sum(train_lengths[i] for i in idx),
                "timing": {"step": {"training": round(t_train, 4), "eval": round(t_eval, 4)}},
            },
        )
        if evaluating:  # the checkpoint's metrics: OpenAI's, the step's
            names = ["step", *[f"{split}_{key}" for split in ("train", "valid", "full_valid") for key in task.keys]]
            ckpt = {name: event[name] for name in names if event.get(name) is not None}
            trainer.save_checkpoint(handle, registry, store, job, ckpt_root, model, tokenizer, optimizer, state, ckpt)
        handle.event(message, type="metrics", data=event)
        handle.update(estimated_finish=int(time.time() + (time.perf_counter() - t0) * (total_steps - step)))

    return trainer.finish_model(handle, settings, store, job, model, tokenizer, state)


def _forward_context(model: Any, precision_name: str, longest: int) -> Callable[[], Any]:
    """What each training/eval forward runs under: the job's autocast and the attention kernel for its lengths."""
    resolved = precision.resolve(precision_name)
    kernel = precision.training_attention(longest)

    @contextlib.contextmanager
    def context() -> Iterator[None]:
        with precision.autocast(resolved, model), precision.attention(model, kernel):
            yield

    return context


def _start_message(
    job: Job, step: int, total_steps: int, task: Task, max_length: int, lengths: list[int]
) -> tuple[str, dict[str, Any]]:
    """The start (or resume) event: the shape of the run and the padding that length bucketing saves."""
    hp = job.hp
    bs, mb = hp.batch_size, hp.micro_batch_size if job.method == "supervised" else max(1, hp.micro_batch_size // 2)
    per_epoch = hp.steps_per_epoch(len(lengths))
    bucketed, plain = [], []  # one epoch's micro-batches, with and without length bucketing
    for s in range(per_epoch):
        bucketed += sft.micro_batches(lengths, sft.batch_at(s, lengths, bs, hp.seed), mb)
        batch = data.batch_indices(s, len(lengths), bs, hp.seed)
        plain += [batch[k : k + mb] for k in range(0, len(batch), mb)]
    pad_bucketed, pad_plain = sft.padding_fraction(lengths, bucketed), sft.padding_fraction(lengths, plain)
    origin = f"{job.base_model}" + (f" from {job.parent_model}" if job.parent_model else "")
    message = (
        f"{'Resuming' if step else 'Starting'} {job.method} training of {origin} at step {step}/{total_steps}: "
        f"{len(lengths)} examples of up to {max_length} tokens ({task.cut} cut to that length), {bs} per step, "
        f"{'LoRA rank ' + str(hp.lora_rank) if hp.lora_rank else 'full fine-tuning'}, lr {hp.learning_rate:g}; "
        f"padding {pad_bucketed:.1%} of the token slots with length bucketing ({pad_plain:.1%} without)"
    )
    return message, {
        "examples": len(lengths),
        "truncated_examples": task.cut,
        "max_length": max_length,
        "padding_fraction": pad_bucketed,
        "padding_fraction_unbucketed": pad_plain,
    }
