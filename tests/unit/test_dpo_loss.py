"""losses.dpo_loss on numbers worked by hand."""

from __future__ import annotations

import math

import pytest
import torch

from openrft.training.losses import dpo_loss


def test_dpo_loss_by_hand() -> None:
    # Pair 0: policy chosen -1, rejected -3; reference chosen -2, rejected -2.
    #   chosen log-ratio = -1 - -2 = 1, rejected = -3 - -2 = -1; beta 0.5 -> rewards 0.5, -0.5; z = 1.0
    #   loss = -log sigmoid(1) = log(1 + e^-1) = 0.313262
    # Pair 1: policy chosen -4, rejected -2; reference chosen -3, rejected -3.
    #   log-ratios -1 and 1 -> rewards -0.5, 0.5; z = -1.0; loss = log(1 + e^1) = 1.313262
    pc = torch.tensor([-1.0, -4.0], requires_grad=True)
    pr = torch.tensor([-3.0, -2.0], requires_grad=True)
    out = dpo_loss(pc, pr, torch.tensor([-2.0, -3.0]), torch.tensor([-2.0, -3.0]), beta=0.5)
    assert out.loss.item() == pytest.approx((math.log(1 + math.exp(-1)) + math.log(1 + math.e)) / 2)  # 0.813262
    assert out.chosen_rewards.tolist() == [0.5, -0.5]
    assert out.rejected_rewards.tolist() == [-0.5, 0.5]
    assert out.reward_accuracy == 0.5  # pair 0 right, pair 1 wrong
    assert out.margin == pytest.approx(0.0)  # (1.0 + -1.0) / 2
    # d loss / d pc_i = -(beta / B) x sigmoid(-z_i): pair 0: -0.25 x sigmoid(-1) = -0.067235;
    # pair 1: -0.25 x sigmoid(1) = -0.182766. d/d pr is the opposite.
    out.loss.backward()
    assert pc.grad is not None and pr.grad is not None
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    assert pc.grad.tolist() == pytest.approx([-0.25 * sig(-1), -0.25 * sig(1)])
    assert pr.grad.tolist() == pytest.approx([0.25 * sig(-1), 0.25 * sig(1)])


def test_policy_equal_to_reference_is_log_2() -> None:
    # At the start of a DPO run (policy == reference) every pair's loss is -log sigmoid(0) = log 2.
    x = torch.tensor([-5.0, -7.0, -1.0])
    out = dpo_loss(x, x - 1, x, x - 1, beta=0.1)
    assert out.loss.item() == pytest.approx(math.log(2))
    assert out.reward_accuracy == 0.0 and out.margin == 0.0
