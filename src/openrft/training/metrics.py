"""The per-step metrics event: OpenAI's shape, plus Bedrock's verl-style keys, plus a human message.

RFT's is `step_event`; supervised and dpo jobs' is `supervised_event` (OpenAI's flat train_loss,
train_mean_token_accuracy, valid_loss, ..., full_valid_mean_token_accuracy; training/supervised.py).

OpenAI (api-spec 4.9): step, total_steps, scores{train_reward_mean, valid_reward_mean, graders[]},
usage, errors, timing, and the flat legacy keys train_mean_reward / full_valid_mean_reward.
Bedrock (api-spec 2.5): critic_rewards_mean, actor_pg_loss, actor_entropy, actor_grad_norm,
critic_advantages_mean, response_length_mean. Ours: frac_reward_zero_std (share of groups whose
rewards are all equal: no learning signal), actor_kl, learning_rate. (No actor_clip_frac: one on-policy
update per rollout has nothing to clip, see training/losses.py.)
Ours, for the reward-hacking monitor (training/watch.py, docs/monitoring.md): `reward_hacking` {detector:
value or null} on every step; `signals`, the step's StepRecord (rollout signals, components, penalties, and
on evaluation steps valid_reward, guards, kl_eval); on evaluation steps `scores.guards` [{name,
valid_score_mean, valid_pass_rate}] (the guard graders), `kl_eval` (nats per token, KL to the base model on the
validation completions) and `eval_run_id` (the linked eval's run of this step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class StepStats:
    """What one optimizer step measured (all floats are batch means unless named otherwise)."""

    reward_mean: float
    advantage_mean: float
    pg_loss: float
    kl: float
    entropy: float
    grad_norm: float
    response_length_mean: float
    frac_reward_zero_std: float
    learning_rate: float


def merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge metrics fragments; lists of per-grader dicts are merged by their `name`."""
    out = dict(a)
    for key, value in b.items():
        if isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = merge(out[key], value)
        elif isinstance(out.get(key), list) and isinstance(value, list):
            by_name = {item.get("name"): dict(item) for item in out[key] if isinstance(item, dict)}
            for item in value:
                if isinstance(item, dict) and item.get("name") in by_name:
                    by_name[item["name"]] = merge(by_name[item["name"]], item)
                elif isinstance(item, dict):
                    by_name[item.get("name")] = dict(item)
            out[key] = list(by_name.values())
        else:
            out[key] = value
    return out


def step_event(
    *,
    step: int,
    total_steps: int,
    stats: StepStats,
    train_fragments: dict[str, Any],
    valid_fragments: dict[str, Any] | None,
    valid_reward_mean: float | None,
    timing_s: dict[str, float],
    extra: dict[str, float],
    reward_hacking: dict[str, float | None] | None = None,
    signals: dict[str, Any] | None = None,
    guards: dict[str, float] | None = None,
    guard_pass_rates: dict[str, float] | None = None,
    kl_eval: float | None = None,
    eval_run_id: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """(message, data) of the metrics event of one step."""
    data = merge(train_fragments, valid_fragments or {})
    data = merge(data, {"timing": {"step": {k: round(v, 4) for k, v in timing_s.items()}}})
    data["step"] = step
    data["total_steps"] = total_steps
    scores = data.setdefault("scores", {})
    scores["train_reward_mean"] = stats.reward_mean
    data["train_mean_reward"] = stats.reward_mean
    data["completion_tokens_mean"] = stats.response_length_mean
    if valid_reward_mean is not None:
        scores["valid_reward_mean"] = valid_reward_mean
        data["full_valid_mean_reward"] = valid_reward_mean
    data.update(
        critic_rewards_mean=stats.reward_mean,
        critic_advantages_mean=stats.advantage_mean,
        actor_pg_loss=stats.pg_loss,
        actor_entropy=stats.entropy,
        actor_grad_norm=stats.grad_norm,
        actor_kl=stats.kl,
        response_length_mean=stats.response_length_mean,
        frac_reward_zero_std=stats.frac_reward_zero_std,
        learning_rate=stats.learning_rate,
    )
    data.update(extra)
    data["reward_hacking"] = dict(reward_hacking or {})
    data["signals"] = dict(signals or {})
    if guards:
        rates = guard_pass_rates or {}
        scores["guards"] = [
            {"name": name, "valid_score_mean": value, "valid_pass_rate": rates.get(name)}
            for name, value in guards.items()
        ]
    if kl_eval is not None:
        data["kl_eval"] = kl_eval
    if eval_run_id is not None:
        data["eval_run_id"] = eval_run_id
    message = f"Step {step}/{total_steps}, train mean reward={stats.reward_mean:.2f}"
    if valid_reward_mean is not None:
        message += f", full validation mean reward={valid_reward_mean:.2f}"
    for name, value in (guards or {}).items():
        message += f", guard {name}={value:.2f}"
    message += f", response length={stats.response_length_mean:.1f}, {timing_s.get('full_iteration', 0.0):.1f}s"
    return message, data


def supervised_event(
    *,
    step: int,
    total_steps: int,
    keys: tuple[str, ...],
    train: dict[str, Any],
    valid: dict[str, Any] | None,
    full_valid: dict[str, Any] | None,
    extra: dict[str, Any],
) -> tuple[str, dict[str, Any]]:
    """(message, data) of a supervised or dpo step: OpenAI's flat keys `<split>_<key>` (train_loss,
    train_mean_token_accuracy, valid_loss, full_valid_loss, ...: supervised.py names them), step, total_steps,
    then ours (`extra`). Keys starting with "_" are the loop's bookkeeping, not metrics."""
    data: dict[str, Any] = {"step": step}
    for split, values in (("train", train), ("valid", valid), ("full_valid", full_valid)):
        if values is not None:
            data.update({f"{split}_{key}": float(values[key]) for key in keys})
    data["total_steps"] = total_steps
    data.update(extra)
    message = f"Step {step}/{total_steps}: training loss={train['loss']:.4f}"
    if valid is not None:
        message += f", validation loss={valid['loss']:.4f}"
    if full_valid is not None:
        message += f", full validation loss={full_valid['loss']:.4f}"
    second = keys[1]
    message += f", {second.replace('_', ' ')}={train[second]:.3f}"
    return message, data
