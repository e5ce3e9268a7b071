"""Group advantages and policy losses of the GRPO family: pure tensor functions, one table.

Shapes: N = prompts x G completions (groups are contiguous: rows [g*G, (g+1)*G) share a prompt; G is
the job's `group_size`), T = completion tokens (right-padded; `mask` is 1 on real completion tokens).

A loss is a `LossSpec(advantages, objective)`:
- `advantages(rewards [N], group_size) -> [N]` runs once per step on the whole batch (groups need every reward);
- `objective(LossInputs, LossConfig) -> LossOutput` runs per micro-batch. Every aggregation here is a sum
  over sequences divided by a *whole-batch* constant (`n_seqs`, `n_tokens`), so micro-batch losses add up
  to the full-batch loss exactly (gradient accumulation without approximation).

On-policy, one update per rollout (the trainer's simplification, stated in trainer.py): the policy
being trained is the one that sampled, so PPO's ratio pi_theta / pi_old is 1 and its clip never acts.
The per-token surrogate is therefore -A x exp(logp - sg(logp)): -A in value, -A x d logp in gradient
(REINFORCE with the group baseline), and the losses differ only in their advantages and aggregation.
(Two variants are absent for that reason: PPO-style clipping, clip-higher included, and GSPO, whose
sequence-level ratio and clip make it equal to grpo when the ratio is 1. Several passes per rollout,
which would make them act, were measured on the quickstart task and did not pay: docs/hyperparameters.md.)

| loss    | advantage                  | aggregation                              |
|---------|----------------------------|------------------------------------------|
| grpo    | (r - mean) / (std + 1e-4)  | mean over seqs of token means            |
| dr_grpo | r - mean                   | sum / (N x completion_budget)            |
| dapo    | (r - mean) / (std + 1e-4)  | sum / active tokens in the batch         |
| rloo    | r - mean of the others     | sum / active tokens in the batch         |

std is the sample std (Bessel's correction), as in TRL. The optional KL to the reference policy uses
the k3 estimator exp(ref - logp) - (ref - logp) - 1 >= 0, added per token as kl_beta x KL before
aggregation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

STD_EPS = 1e-4


# -- advantages: rewards [N] -> advantages [N] -------------------------------------------------------


def _groups(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    if rewards.numel() % group_size:
        raise ValueError(f"{rewards.numel()} rewards do not split into groups of {group_size}")
    return rewards.view(-1, group_size)  # [N/G, G]


def group_std_advantages(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """GRPO: (r - group mean) / (group sample std + 1e-4)."""
    r = _groups(rewards, group_size)  # [N/G, G]
    adv = (r - r.mean(dim=1, keepdim=True)) / (r.std(dim=1, keepdim=True) + STD_EPS)
    return adv.reshape(-1)  # [N]


def group_mean_advantages(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """Dr. GRPO: r - group mean (no std scaling, which over-weights near-uniform groups)."""
    r = _groups(rewards, group_size)  # [N/G, G]
    return (r - r.mean(dim=1, keepdim=True)).reshape(-1)  # [N]


def leave_one_out_advantages(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """RLOO: r_i - mean of the other G-1 rewards of the group (= G/(G-1) x (r_i - group mean))."""
    r = _groups(rewards, group_size)  # [N/G, G]
    others_mean = (r.sum(dim=1, keepdim=True) - r) / (group_size - 1)  # [N/G, G]
    return (r - others_mean).reshape(-1)  # [N]


# -- objectives --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LossConfig:
    kl_beta: float = 0.0
    completion_budget: int = 64  # the job's longest completion, in tokens: dr_grpo's constant normalizer


@dataclass
class LossInputs:
    logprobs: torch.Tensor  # [n, T] log pi_theta(token), with grad
    advantages: torch.Tensor  # [n]
    mask: torch.Tensor  # [n, T] 1.0 on completion tokens
    n_seqs: int  # sequences in the whole step (N), for whole-batch normalization
    n_tokens: int  # active completion tokens in the whole step
    ref_logprobs: torch.Tensor | None = None  # [n, T] log pi_ref(token), needed when kl_beta > 0


@dataclass
class LossOutput:
    loss: torch.Tensor  # scalar, this micro-batch's share of the step loss (with KL)
    pg_loss: float  # this micro-batch's share of the policy-gradient part (no KL)
    kl: float  # this micro-batch's share of the mean KL (0 without a reference)


def k3_kl(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """Per-token k3 estimate of KL(pi_theta || pi_ref): exp(d) - d - 1 with d = ref - logp. [n, T]"""
    d = ref_logprobs - logprobs
    return torch.exp(d) - d - 1.0


def policy_gradient_surrogate(logprobs: torch.Tensor, advantages: torch.Tensor) -> torch.Tensor:
    """On-policy per-token loss -A x pi_theta / sg(pi_theta): value -A, gradient -A x d logp. [n, T]"""
    ratio = torch.exp(logprobs - logprobs.detach())  # [n, T], 1 in value
    return -ratio * advantages.unsqueeze(1)


def _token_terms(x: LossInputs) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token policy loss and KL, each [n, T]."""
    pg = policy_gradient_surrogate(x.logprobs, x.advantages)
    kl = k3_kl(x.logprobs, x.ref_logprobs) if x.ref_logprobs is not None else torch.zeros_like(pg)
    return pg, kl


def _output(pg_sum: torch.Tensor, kl_sum: torch.Tensor, norm: float, beta: float) -> LossOutput:
    return LossOutput(
        loss=(pg_sum + beta * kl_sum) / norm, pg_loss=float(pg_sum.detach()) / norm, kl=float(kl_sum.detach()) / norm
    )


def seq_mean_token_mean(x: LossInputs, cfg: LossConfig) -> LossOutput:
    """GRPO's aggregation: each sequence's token mean, averaged over sequences (length-biased)."""
    pg, kl = _token_terms(x)
    lengths = x.mask.sum(dim=1).clamp(min=1.0)  # [n]

    def per_seq(t: torch.Tensor) -> torch.Tensor:
        return ((t * x.mask).sum(dim=1) / lengths).sum()  # scalar: sum over sequences of token means

    return _output(per_seq(pg), per_seq(kl), x.n_seqs, cfg.kl_beta)


def token_sum_over(
    norm_of: Callable[[LossInputs, LossConfig], float],
) -> Callable[[LossInputs, LossConfig], LossOutput]:
    """Aggregation sum over all tokens / a whole-batch constant (DAPO: active tokens; Dr. GRPO: N x T_max)."""

    def objective(x: LossInputs, cfg: LossConfig) -> LossOutput:
        pg, kl = _token_terms(x)
        return _output((pg * x.mask).sum(), (kl * x.mask).sum(), norm_of(x, cfg), cfg.kl_beta)

    return objective


@dataclass(frozen=True)
class LossSpec:
    advantages: Callable[[torch.Tensor, int], torch.Tensor]
    objective: Callable[[LossInputs, LossConfig], LossOutput]


def _active_tokens(x: LossInputs, cfg: LossConfig) -> float:
    return float(max(x.n_tokens, 1))


def _max_tokens(x: LossInputs, cfg: LossConfig) -> float:
    return float(x.n_seqs * cfg.completion_budget)


LOSSES: dict[str, LossSpec] = {
    "grpo": LossSpec(group_std_advantages, seq_mean_token_mean),
    "dr_grpo": LossSpec(group_mean_advantages, token_sum_over(_max_tokens)),
    "dapo": LossSpec(group_std_advantages, token_sum_over(_active_tokens)),  # DAPO's token-level aggregation
    "rloo": LossSpec(leave_one_out_advantages, token_sum_over(_active_tokens)),
}


def frac_reward_zero_std(rewards: torch.Tensor, group_size: int) -> float:
    """Share of groups whose rewards are all equal: no advantage, no learning signal (DAPO's filter metric)."""
    r = _groups(rewards, group_size)
    return float((r.max(dim=1).values - r.min(dim=1).values).abs().le(1e-8).float().mean())


# -- DPO: sequence log-probs of preference pairs -> the sigmoid DPO loss ---------------------------------


@dataclass
class DpoResult:
    """The DPO loss of B pairs and what it measures (rewards are beta x the policy/reference log-ratio)."""

    loss: torch.Tensor  # [] mean over the pairs of -log sigmoid(chosen_reward - rejected_reward)
    chosen_rewards: torch.Tensor  # [B] beta x (logp_policy - logp_ref) of the preferred output (detached)
    rejected_rewards: torch.Tensor  # [B] the same for the non-preferred output (detached)
    reward_accuracy: float  # share of pairs whose chosen reward is above the rejected one
    margin: float  # mean of chosen_rewards - rejected_rewards


def dpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    beta: float,
) -> DpoResult:
    """Sigmoid DPO (Rafailov et al. 2023, eq. 7): -log sigmoid(beta x ((pc - rc) - (pr - rr))), mean over pairs.

    Inputs are summed log-probs of each output's tokens [B]; the reference ones carry no gradient.
    """
    chosen = policy_chosen_logps - ref_chosen_logps  # [B]
    rejected = policy_rejected_logps - ref_rejected_logps  # [B]
    losses = -torch.nn.functional.logsigmoid(beta * (chosen - rejected))  # [B]
    chosen_rewards, rejected_rewards = beta * chosen.detach(), beta * rejected.detach()
    return DpoResult(
        loss=losses.mean(),
        chosen_rewards=chosen_rewards,
        rejected_rewards=rejected_rewards,
        reward_accuracy=float((chosen_rewards > rejected_rewards).float().mean()),
        margin=float((chosen_rewards - rejected_rewards).mean()),
    )
