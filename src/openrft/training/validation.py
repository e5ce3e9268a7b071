"""The evaluation step of a job: greedy validation completions, graded by the job's grader and its guard graders,
the KL to the base model on them, and the run of the job's linked eval that records every item.

- Grading: the job's grader once (its rewards give the validation reward, the metrics fragments and the linked
  eval's "reward" criterion: a lambda reward is not called twice), then every other criterion of the linked
  eval (the guard graders) through `criteria.grade_items`. A guard's validation score is the mean of its scores
  over the validation items (a grading error scores 0, as in training).
- The linked eval (openrft.evals.records): one completed run named "step N" per evaluation, its model the
  checkpoint of that step (`ft:...:ckpt-step-N`), one output item per validation row with every criterion's
  result; readable through client.evals.runs.output_items.
- KL to the base model, measured whatever kl_beta is: for each validation completion and each of its tokens,
  the exact KL(policy || base) of the two next-token distributions at that position (a sum over the
  vocabulary, at temperature 1: the models' own distributions), averaged over every completion token, in nats.
  Exact on the positions the greedy completions visit, so it has no sampling noise; it is not the KL of the
  sampled rollouts (those are the training metric actor_kl, with kl_beta > 0). The base is the policy with its
  LoRA adapter disabled, or for full fine-tuning the frozen reference (loaded for the measurement when kl_beta
  is 0 and none is kept).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from peft import PeftModel

from openrft.training import rollout
from openrft.training.reference import reference_mode

KL_LOGITS_BUDGET = 2**26  # floats of [rows, T, V] logits per forward of the KL measurement (256 MiB in fp32)


@dataclass
class Validation:
    """What one evaluation measured."""

    reward: float  # mean validation reward of the job's grader
    fragments: dict[str, Any]  # its metrics-event fragments (scores, errors, usage, timing)
    guards: dict[str, float] = field(default_factory=dict)  # guard grader name -> mean validation score
    guard_pass_rates: dict[str, float] = field(default_factory=dict)
    kl_eval: float | None = None  # nats per completion token
    run_id: str | None = None  # the linked eval's run of this step


def finish_reasons(out: rollout.Rollout, eos_ids: list[int]) -> list[str]:
    """ "stop" for a completion that ended with an EOS token, "length" for one cut at the budget."""
    completion = out.input_ids[:, out.prompt_len :].tolist()  # [N, T]
    reasons = []
    for ids, n in zip(completion, out.completion_tokens, strict=True):
        reasons.append("stop" if n > 0 and ids[n - 1] in eos_ids else "length")
    return reasons


def linked_results(
    criteria: list[dict[str, Any]], reward_outcomes: list[Any], others: list[tuple[list[dict[str, Any]], bool]]
) -> list[tuple[list[dict[str, Any]], bool]]:
    """Per item (results, passed) over every criterion of the linked eval: criteria[0] is the job's grader, graded
    already (`reward_outcomes`), the rest graded by `criteria.grade_items` (`others`, aligned with the items)."""
    from openrft.evals.criteria import result  # the one Result builder of grade_items, for an outcome we hold

    out = []
    for outcome, (results, _) in zip(reward_outcomes, others, strict=True):
        merged = [result(criteria[0], outcome), *results]
        out.append((merged, all(r["passed"] for r in merged)))
    return out


def guard_scores(
    guards: list[dict[str, Any]], results: list[tuple[list[dict[str, Any]], bool]]
) -> tuple[dict[str, float], dict[str, float]]:
    """({guard name: mean score}, {guard name: pass rate}) from `grade_items` results over the guard criteria."""
    n = max(1, len(results))
    means = {g["name"]: sum(r[k]["score"] for r, _ in results) / n for k, g in enumerate(guards)}
    passed = {g["name"]: sum(bool(r[k]["passed"]) for r, _ in results) / n for k, g in enumerate(guards)}
    return means, passed


@torch.no_grad()
def kl_to_base(model: Any, reference: Callable[[], Any] | None, out: rollout.Rollout) -> float:
    """Mean per-token KL(policy || base) over the completion tokens of `out` (module docstring), in nats.

    `reference()` gives the base model for full fine-tuning; a PEFT policy disables its adapter instead.
    """
    n, width = out.input_ids.shape
    T = width - out.prompt_len
    if T == 0 or out.n_tokens == 0:
        return 0.0
    vocab = int(model.get_output_embeddings().weight.shape[0])
    rows_per_pass = max(1, KL_LOGITS_BUDGET // (T * vocab))
    base = None if isinstance(model, PeftModel) else (reference() if reference is not None else None)
    if base is None and not isinstance(model, PeftModel):
        raise ValueError("kl_to_base needs a reference model when the policy has no adapter to disable")
    total = 0.0
    for start in range(0, n, rows_per_pass):
        rows = slice(start, start + rows_per_pass)
        logp = _completion_logp(model, out, rows)  # [r, T, V]
        if base is None:
            with reference_mode(model):
                logq = _completion_logp(model, out, rows)
        else:
            logq = _completion_logp(base, out, rows)
        kl = (logp.exp() * (logp - logq)).sum(dim=-1)  # [r, T]
        total += float((kl * out.completion_mask[rows]).sum())
    return total / out.n_tokens


def _completion_logp(model: Any, out: rollout.Rollout, rows: slice) -> torch.Tensor:
    """Log-softmax of the next-token logits at each completion position of `rows`. [r, T, V]"""
    ids, mask = out.input_ids[rows], out.attention_mask[rows]
    T = ids.shape[1] - out.prompt_len
    logits = model(
        input_ids=ids,
        attention_mask=mask,
        position_ids=rollout.position_ids_for(mask),
        logits_to_keep=T + 1,
        use_cache=False,
    ).logits[:, :-1]  # [r, T, V]: position t predicts completion token t
    return F.log_softmax(logits.float(), dim=-1)
