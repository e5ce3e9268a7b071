"""Rollout pieces: padding, EOS masks, and log-probs that agree between sampling and training."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from openrft.training import rollout


def test_left_pad_and_positions() -> None:
    ids, mask = rollout.left_pad([[5, 6, 7], [8]], pad_id=0, device=torch.device("cpu"))
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8]]
    assert mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    # positions skip the padding: the real token of row 1 is at position 0
    assert rollout.position_ids_for(mask).tolist() == [[0, 1, 2], [0, 0, 0]]


def test_mask_after_eos_keeps_the_eos_token() -> None:
    # EOS = 1: row 0 ends at index 1 (kept), row 1 has no EOS, row 2 starts with EOS then padding (also 1).
    ids = torch.tensor([[4, 1, 1, 1], [4, 5, 6, 7], [1, 1, 1, 1]])
    assert rollout.mask_after_eos(ids, [1]).tolist() == [[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]]


def test_sampling_logprobs_match_the_training_forward(tiny_model_dir: Path) -> None:
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    long = rollout.render_prompt(tok, [{"role": "user", "content": "say yes please"}], None)
    short = rollout.render_prompt(tok, [{"role": "user", "content": "yes"}], None)
    torch.manual_seed(0)
    out = rollout.generate(
        model, tok, [long, short], group_size=3, completion_budget=5, temperature=0.7, with_logprobs=True
    )
    assert out.input_ids.shape[0] == 6 and len(out.texts) == 6
    assert out.prompt_tokens == [len(long)] * 3 + [len(short)] * 3
    assert out.old_logprobs is not None
    # The left-padded training forward (with position ids that skip padding) sees the same distribution.
    logp, entropy = rollout.token_logprobs(
        model, out.input_ids, out.attention_mask, out.prompt_len, 0.7, with_entropy=True
    )
    torch.testing.assert_close(logp * out.completion_mask, out.old_logprobs, atol=1e-4, rtol=0)
    assert entropy is not None and float(entropy.min()) > 0
    greedy = rollout.generate(model, tok, [long], group_size=3, completion_budget=5, temperature=1.0, greedy=True)
    assert len(greedy.texts) == 1 and greedy.old_logprobs is None


def test_shared_prefix_cache_gives_the_same_samples(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Prefill once per prompt (cache repeated G times) vs once per sample: same tokens for the same seed.
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    prompts = [rollout.render_prompt(tok, [{"role": "user", "content": c}], None) for c in ("say yes please", "no")]

    def sample() -> torch.Tensor:
        torch.manual_seed(3)
        return rollout.generate(model, tok, prompts, group_size=4, completion_budget=6, temperature=1.0).input_ids

    shared = sample()
    monkeypatch.setattr(rollout, "shared_prefix_cache", lambda *a: None)
    assert torch.equal(shared, sample())


def test_inverse_cdf_sampling_draws_from_softmax_over_temperature() -> None:
    torch.manual_seed(0)
    probs = torch.tensor([0.5, 0.3, 0.2, 0.0])
    scores = (probs.log() * 2.0).expand(40_000, 4).clone()  # at temperature 2: softmax(scores / 2) = probs
    ids: Any = torch.zeros(40_000, 1, dtype=torch.long)
    out = rollout.InverseCdfSampling(temperature=2.0)(ids, scores)  # type: ignore[arg-type]
    assert torch.isfinite(out).sum(dim=1).eq(1).all()  # exactly one token left per row, for greedy to pick
    freq = torch.bincount(out.argmax(dim=1), minlength=4).float() / 40_000
    torch.testing.assert_close(freq, probs, rtol=0, atol=0.01)  # 0.0 stays 0.0: never a zero-probability token


@pytest.mark.parametrize("attention", ["eager", "sdpa"])
def test_shared_prompt_logprobs_and_gradients_equal_the_per_row_ones(tiny_model_dir: Path, attention: str) -> None:
    # Each distinct prompt run once, its cache shared by its rows: same log-probs and same LoRA gradients
    # as running every row whole. Two prompts of different lengths (left padding), a subset of the rows.
    from peft import LoraConfig, get_peft_model

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, attn_implementation=attention)
    torch.manual_seed(0)
    model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False))
    prompts = [rollout.render_prompt(tok, [{"role": "user", "content": c}], None) for c in ("say yes please", "no")]
    out = rollout.generate(model, tok, prompts, group_size=3, completion_budget=5, temperature=1.0)
    assert out.prompt_index.tolist() == [0, 0, 0, 1, 1, 1]
    rows = torch.tensor([0, 2, 3, 4, 5])
    args = (out.input_ids[rows], out.attention_mask[rows], out.prompt_len, 0.7)
    weights = [p for p in model.parameters() if p.requires_grad]

    def logprobs_and_grads(**kwargs: Any) -> tuple[torch.Tensor, list[torch.Tensor]]:
        model.zero_grad()
        logp, _ = rollout.token_logprobs(model, *args, **kwargs)
        (logp * out.completion_mask[rows]).sum().backward()
        return logp.detach(), [p.grad.clone() for p in weights]

    whole, whole_grads = logprobs_and_grads()
    shared, shared_grads = logprobs_and_grads(prompt_index=out.prompt_index[rows])
    mask = out.completion_mask[rows]
    torch.testing.assert_close(shared * mask, whole * mask, atol=1e-5, rtol=0)
    assert any(g.abs().sum() > 0 for g in whole_grads)
    for a, b in zip(shared_grads, whole_grads, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_a_step_of_equal_rewards_still_measures_the_policys_entropy(tiny_model_dir: Path) -> None:
    """No sequence trains when every group's rewards are equal; the step's entropy is measured anyway (not 0)."""
    from openrft.training import hparams, trainer
    from openrft.training.losses import LOSSES, LossConfig

    hp = hparams.resolve({"samples_per_prompt": 3, "batch_size": 1, "precision": "fp32"}, 4, 0)
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    prompt = rollout.render_prompt(tok, [{"role": "user", "content": "say yes please"}], None)
    torch.manual_seed(0)
    out = rollout.generate(model, tok, [prompt], group_size=3, completion_budget=5, temperature=1.0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    cfg = LossConfig(kl_beta=0.0, completion_budget=5)
    rewards = torch.ones(3)
    advantages = LOSSES[hp.loss].advantages(rewards, 3)  # all 0: every sequence is skipped
    stats = trainer.optimize(model, None, optimizer, out, rewards, advantages, hp, LOSSES[hp.loss], cfg)
    assert stats.frac_reward_zero_std == 1.0 and stats.entropy > 0.5
