"""Advantages and policy losses against numbers worked by hand (the hand computation is in each comment)."""

from __future__ import annotations

import math

import pytest
import torch

from openrft.training.losses import (
    LOSSES,
    LossConfig,
    LossInputs,
    frac_reward_zero_std,
    group_mean_advantages,
    group_std_advantages,
    k3_kl,
    leave_one_out_advantages,
    policy_gradient_surrogate,
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


def test_policy_gradient_surrogate_by_hand() -> None:
    # On-policy the ratio is pi / sg(pi) = 1: the per-token loss is -A in value and its gradient is -A
    # (d loss / d logp = -A x ratio), whatever logp is: logp -0.5 and -2.0, A = +1 and -0.5.
    logp = torch.tensor([[-0.5], [-2.0]], requires_grad=True)
    loss = policy_gradient_surrogate(logp, torch.tensor([1.0, -0.5]))
    assert loss.squeeze(1).tolist() == pytest.approx([-1.0, 0.5])
    loss.sum().backward()
    assert logp.grad is not None and logp.grad.squeeze(1).tolist() == pytest.approx([-1.0, 0.5])


def _batch(ref: torch.Tensor | None = None) -> LossInputs:
    # Two sequences, T=3: seq 0 has 2 tokens, seq 1 has 3.
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    logp = torch.full((2, 3), -1.0, requires_grad=True)
    return LossInputs(logp, torch.tensor([1.0, -0.5]), mask, n_seqs=2, n_tokens=5, ref_logprobs=ref)


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


def test_dapo_gradient_by_hand() -> None:
    # d loss / d logp_t = -A x ratio / 5 (ratio 1): seq 0 -> -0.2, seq 1 -> +0.1, padding -> 0.
    x = _batch()
    LOSSES["dapo"].objective(x, LossConfig()).loss.backward()
    assert x.logprobs.grad is not None
    assert x.logprobs.grad.tolist() == [pytest.approx(v) for v in ([-0.2, -0.2, 0.0], [0.1, 0.1, 0.1])]


def test_k3_kl_by_hand() -> None:
    # d = ref - logp = ln 2: exp(d) - d - 1 = 2 - 0.693147 - 1 = 0.306853; d = 0 -> 0.
    kl = k3_kl(torch.tensor([[0.0, 0.0]]), torch.tensor([[LN2, 0.0]]))
    assert kl.tolist()[0] == pytest.approx([0.306853, 0.0], abs=1e-6)
    # grpo with A = 0 and kl_beta 0.1: seq token mean of KL = 0.306853 / 2 = 0.153426 -> loss 0.0153426.
    logp = torch.zeros(1, 2, requires_grad=True)
    x = LossInputs(logp, torch.zeros(1), torch.ones(1, 2), 1, 2, torch.tensor([[LN2, 0.0]]))
    out = LOSSES["grpo"].objective(x, LossConfig(kl_beta=0.1))
    assert out.loss.item() == pytest.approx(0.0153426, abs=1e-6)
    assert out.kl == pytest.approx(0.153426, abs=1e-6)
    assert out.pg_loss == 0.0


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_micro_batches_add_up_to_the_whole_batch(name: str) -> None:
    # Each objective normalizes by whole-batch constants, so per-row shares sum to the full-batch loss,
    # and their gradients to its gradient.
    torch.manual_seed(0)
    logp = torch.randn(4, 3) * 0.1 - 1.0
    mask = torch.tensor([[1.0, 1, 0], [1, 1, 1], [1, 0, 0], [1, 1, 1]])
    adv = LOSSES[name].advantages(torch.tensor([1.0, 0.0, 0.3, 0.9]), 2)
    cfg = LossConfig(completion_budget=3, kl_beta=0.05)
    ref = logp + 0.1
    n_tok = int(mask.sum())

    def part(rows: slice) -> tuple[float, torch.Tensor]:
        leaf = logp[rows].clone().requires_grad_(True)
        out = LOSSES[name].objective(LossInputs(leaf, adv[rows], mask[rows], 4, n_tok, ref[rows]), cfg)
        out.loss.backward()
        assert leaf.grad is not None
        return out.loss.item(), leaf.grad

    (head, head_grad), (tail, tail_grad), (whole, whole_grad) = part(slice(0, 1)), part(slice(1, 4)), part(slice(0, 4))
    assert head + tail == pytest.approx(whole, abs=1e-6)
    torch.testing.assert_close(torch.cat([head_grad, tail_grad]), whole_grad)


def test_frac_reward_zero_std() -> None:
    # Groups of 2: [1, 1] has no spread, [0, 1] has -> half the groups carry no signal.
    assert frac_reward_zero_std(torch.tensor([1.0, 1.0, 0.0, 1.0]), 2) == 0.5
