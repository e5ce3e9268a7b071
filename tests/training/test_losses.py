"""Advantages and policy losses against numbers worked by hand (the hand computation is in each comment)."""

from __future__ import annotations

import math

import pytest
import torch

from openrft.training.losses import (
    LOSSES,
    LossConfig,
    LossInputs,
    clipped_token_surrogate,
    frac_reward_zero_std,
    group_mean_advantages,
    group_std_advantages,
    k3_kl,
    leave_one_out_advantages,
)

LN2 = math.log(2.0)


def test_grpo_advantages_by_hand() -> None:
    # Group 1 = [1, 0, 0, 1]: mean 0.5, deviations +-0.5, sample variance (4 x 0.25) / 3 = 1/3,
    # std = 0.577350; advantage = +-0.5 / (0.577350 + 1e-4) = +-0.865876.
    # Group 2 = [0.5] x 4: std 0, deviations 0 -> advantage 0 (no learning signal, no division by zero).
    r = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.5, 0.5, 0.5, 0.5])
    adv = group_std_advantages(r, 4)
    a = 0.5 / (math.sqrt(1 / 3) + 1e-4)
    assert a == pytest.approx(0.865876, abs=1e-6)
    assert adv.tolist() == pytest.approx([a, -a, -a, a, 0, 0, 0, 0], abs=1e-6)


def test_dr_grpo_and_rloo_advantages_by_hand() -> None:
    r = torch.tensor([1.0, 0.0, 0.0, 1.0])
    # Dr. GRPO: r - mean(0.5) = [0.5, -0.5, -0.5, 0.5], no std scaling.
    assert group_mean_advantages(r, 4).tolist() == pytest.approx([0.5, -0.5, -0.5, 0.5])
    # RLOO: r_0 - mean(0, 0, 1) = 1 - 1/3 = 2/3; r_1 - mean(1, 0, 1) = 0 - 2/3 = -2/3 (= 4/3 x Dr. GRPO's).
    assert leave_one_out_advantages(r, 4).tolist() == pytest.approx([2 / 3, -2 / 3, -2 / 3, 2 / 3])
    with pytest.raises(ValueError):
        group_mean_advantages(torch.ones(5), 4)


def test_clipped_surrogate_by_hand() -> None:
    # ratio 1.5, A=+1: min(1.5, clip(1.5, 0.8, 1.2)=1.2) = 1.2 -> loss -1.2, clipped
    # ratio 1.5, A=-1: min(-1.5, -1.2) = -1.5 -> loss 1.5, not clipped (the pessimistic side)
    # ratio 0.5, A=+1: min(0.5, 0.8) = 0.5 -> loss -0.5, not clipped
    # ratio 0.5, A=-1: min(-0.5, -0.8) = -0.8 -> loss 0.8, clipped
    logp = torch.log(torch.tensor([[1.5], [1.5], [0.5], [0.5]]))
    old = torch.zeros(4, 1)
    adv = torch.tensor([1.0, -1.0, 1.0, -1.0])
    loss, clipped = clipped_token_surrogate(logp, old, adv, 0.2, 0.2)
    assert loss.squeeze(1).tolist() == pytest.approx([-1.2, 1.5, -0.5, 0.8], abs=1e-6)
    assert clipped.squeeze(1).tolist() == [1.0, 0.0, 0.0, 1.0]
    # clip-higher (DAPO, eps_high 0.28): ratio 1.5, A=+1 -> min(1.5, 1.28) -> -1.28
    loss, _ = clipped_token_surrogate(logp, old, adv, 0.2, 0.28)
    assert float(loss[0, 0]) == pytest.approx(-1.28, abs=1e-6)


def _batch(logp_shift: float = 0.0, ref: torch.Tensor | None = None) -> LossInputs:
    # Two sequences, T=3: seq 0 has 2 tokens, seq 1 has 3. ratio = 1 (logp == old) unless shifted.
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    old = torch.full((2, 3), -1.0)
    logp = (old + logp_shift).clone().requires_grad_(True)
    return LossInputs(logp, old, torch.tensor([1.0, -0.5]), mask, n_seqs=2, n_tokens=5, ref_logprobs=ref)


def test_aggregations_by_hand() -> None:
    # With ratio 1 the per-token loss is -A: seq 0 tokens -1, -1; seq 1 tokens +0.5, +0.5, +0.5.
    cfg = LossConfig(completion_budget=4)
    # grpo: token means per sequence (-1, +0.5), mean over 2 sequences -> -0.25
    assert LOSSES["grpo"].objective(_batch(), cfg).loss.item() == pytest.approx(-0.25)
    # dapo: token sum (-2 + 1.5 = -0.5) / 5 active tokens -> -0.1
    assert LOSSES["dapo"].objective(_batch(), cfg).loss.item() == pytest.approx(-0.1)
    # rloo aggregates like dapo -> -0.1
    assert LOSSES["rloo"].objective(_batch(), cfg).loss.item() == pytest.approx(-0.1)
    # dr_grpo: token sum -0.5 / (2 sequences x 4 max tokens) -> -0.0625
    assert LOSSES["dr_grpo"].objective(_batch(), cfg).loss.item() == pytest.approx(-0.0625)
    # gspo: sequence ratio 1 -> per-sequence loss -A = (-1, 0.5), mean -> -0.25
    assert LOSSES["gspo"].objective(_batch(), cfg).loss.item() == pytest.approx(-0.25)


def test_dapo_gradient_by_hand() -> None:
    # d loss / d logp_t = -A x ratio / 5 (unclipped, ratio 1): seq 0 -> -0.2, seq 1 -> +0.1, padding -> 0.
    x = _batch()
    LOSSES["dapo"].objective(x, LossConfig()).loss.backward()
    assert x.logprobs.grad is not None
    assert x.logprobs.grad.tolist() == [pytest.approx(v) for v in ([-0.2, -0.2, 0.0], [0.1, 0.1, 0.1])]


def test_gspo_sequence_ratio_by_hand() -> None:
    # Sequence 0 = tokens with log-ratios (ln 2, 0): mean ln2/2, ratio sqrt(2) = 1.414 > 1 + 4e-4,
    # A = +1 -> min(1.414, 1.0004) = 1.0004 -> loss -1.0004 (clipped). One sequence -> mean = itself.
    logp = torch.tensor([[LN2 - 1.0, -1.0]], requires_grad=True)
    x = LossInputs(logp, torch.full((1, 2), -1.0), torch.tensor([1.0]), torch.ones(1, 2), n_seqs=1, n_tokens=2)
    out = LOSSES["gspo"].objective(x, LossConfig())
    assert out.loss.item() == pytest.approx(-1.0004, abs=1e-6)
    assert out.clip_frac == 1.0


def test_k3_kl_by_hand() -> None:
    # d = ref - logp = ln 2: exp(d) - d - 1 = 2 - 0.693147 - 1 = 0.306853; d = 0 -> 0.
    kl = k3_kl(torch.tensor([[0.0, 0.0]]), torch.tensor([[LN2, 0.0]]))
    assert kl.tolist()[0] == pytest.approx([0.306853, 0.0], abs=1e-6)
    # grpo with A = 0 and kl_beta 0.1: seq token mean of KL = 0.306853 / 2 = 0.153426 -> loss 0.0153426.
    logp = torch.zeros(1, 2, requires_grad=True)
    x = LossInputs(logp, torch.zeros(1, 2), torch.zeros(1), torch.ones(1, 2), 1, 2, torch.tensor([[LN2, 0.0]]))
    out = LOSSES["grpo"].objective(x, LossConfig(kl_beta=0.1))
    assert out.loss.item() == pytest.approx(0.0153426, abs=1e-6)
    assert out.kl == pytest.approx(0.153426, abs=1e-6)
    assert out.pg_loss == 0.0


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_micro_batches_add_up_to_the_whole_batch(name: str) -> None:
    # Each objective normalizes by whole-batch constants, so per-row shares sum to the full-batch loss.
    torch.manual_seed(0)
    logp = torch.randn(4, 3) * 0.1 - 1.0
    old = logp + torch.randn(4, 3) * 0.05
    mask = torch.tensor([[1.0, 1, 0], [1, 1, 1], [1, 0, 0], [1, 1, 1]])
    adv = LOSSES[name].advantages(torch.tensor([1.0, 0.0, 0.3, 0.9]), 2)
    cfg = LossConfig(completion_budget=3, kl_beta=0.05)
    ref = logp + 0.1
    n_tok = int(mask.sum())

    def part(rows: slice) -> float:
        x = LossInputs(logp[rows], old[rows], adv[rows], mask[rows], 4, n_tok, ref[rows])
        return LOSSES[name].objective(x, cfg).loss.item()

    assert part(slice(0, 1)) + part(slice(1, 4)) == pytest.approx(part(slice(0, 4)), abs=1e-6)


def test_frac_reward_zero_std() -> None:
    # Groups of 2: [1, 1] has no spread, [0, 1] has -> half the groups carry no signal.
    assert frac_reward_zero_std(torch.tensor([1.0, 1.0, 0.0, 1.0]), 2) == 0.5
