"""The fused Llama decoder computes what HF's LlamaForCausalLM computes, and samples what `generate` samples."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig

from openrft.training import rollout
from openrft.training.decoder import LlamaDecoder


def _untied_model(folder: Path) -> torch.nn.Module:
    """The tiny model with a separate lm_head and non-trivial norms (random init leaves them at 1)."""
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, tie_word_embeddings=False)
    torch.manual_seed(1)
    with torch.no_grad():
        model.lm_head.weight.copy_(torch.randn_like(model.lm_head.weight) * 0.5)
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1 + 0.3 * torch.randn_like(p))
            if "q_proj" in name or "k_proj" in name:
                p.mul_(20.0)  # peaked attention: positions and masks change the logits visibly
    return model.eval()


@pytest.mark.parametrize("tied", [True, False])
def test_logits_equal_hf(tiny_model_dir: Path, tied: bool) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval() if tied else _untied_model(tiny_model_dir)
    ids = torch.tensor([[3, 9, 10, 4, 7, 8], [5, 5, 6, 11, 3, 2]])
    with torch.no_grad():
        want = model(input_ids=ids).logits
    torch.testing.assert_close(LlamaDecoder(model).logits(ids), want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("greedy", [False, True])
def test_samples_equal_hf_generate_for_the_same_seed(tiny_model_dir: Path, greedy: bool) -> None:
    # Two prompts of different lengths (left padding), 4 samples each: the same tokens, EOS and padding.
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = _untied_model(tiny_model_dir)
    prompts = [rollout.render_prompt(tok, [{"role": "user", "content": c}], None) for c in ("say yes please", "no")]
    assert len(prompts[0]) != len(prompts[1])

    def sample(engine: object) -> rollout.Rollout:
        torch.manual_seed(7)
        return rollout.generate(
            engine, tok, prompts, group_size=4, completion_budget=12, temperature=1.3, greedy=greedy
        )

    want, have = sample(model), sample(LlamaDecoder(model))
    assert torch.equal(have.input_ids, want.input_ids)
    assert torch.equal(have.completion_mask, want.completion_mask)
    assert have.texts == want.texts
    if not greedy:
        assert len(set(have.texts)) > 1  # real sampling, not one repeated answer
        assert 0 < int(have.completion_mask.sum()) < have.completion_mask.numel()  # some rows ended early


def test_decoding_logits_equal_hf_teacher_forced_on_the_samples(tiny_model_dir: Path) -> None:
    # Every decoding step's logits (cached keys, positions after left padding, masks) against HF's forward
    # over the finished sequences.
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = _untied_model(tiny_model_dir)
    prompts = [rollout.render_prompt(tok, [{"role": "user", "content": c}], None) for c in ("say yes please", "no")]
    ids, mask = rollout.left_pad(prompts, pad_id=0, device=model.device)
    seen: list[torch.Tensor] = []

    def draw(logits: torch.Tensor) -> torch.Tensor:
        seen.append(logits.clone())
        return torch.multinomial(torch.softmax(logits, dim=-1), 1).squeeze(1)

    torch.manual_seed(0)
    completion = LlamaDecoder(model).sample(
        ids, mask, rollout.position_ids_for(mask), repeats=2, max_new_tokens=8, draw=draw, eos_ids=[], pad_id=0
    )  # [4, 8]: no EOS, so every row runs all 8 steps
    sequences = torch.cat([ids.repeat_interleave(2, 0), completion], dim=1)
    full_mask = torch.cat([mask.repeat_interleave(2, 0), torch.ones_like(completion)], dim=1)
    with torch.no_grad():
        want = model(
            input_ids=sequences, attention_mask=full_mask, position_ids=rollout.position_ids_for(full_mask)
        ).logits[:, ids.shape[1] - 1 : -1]  # [4, 8, V]: the logits that chose each new token
    torch.testing.assert_close(torch.stack(seen, dim=1), want, atol=1e-4, rtol=1e-4)


def test_weights_are_read_and_written_by_hf_name(tiny_model_dir: Path) -> None:
    model = _untied_model(tiny_model_dir)
    decoder = LlamaDecoder(model)
    for name, weight in model.named_parameters():
        torch.testing.assert_close(decoder.weight(name), weight.detach(), rtol=0, atol=0, msg=name)
    k_proj = "model.layers.1.self_attn.k_proj.weight"
    decoder.set_weight(k_proj, torch.zeros_like(model.state_dict()[k_proj]))
    assert decoder.weight(k_proj).abs().sum() == 0
    assert decoder.weight("model.layers.1.self_attn.q_proj.weight").abs().sum() > 0  # neighbours untouched
    with pytest.raises(KeyError):
        decoder.weight("model.layers.0.self_attn.rotary.weight")


def test_supports_only_what_it_computes() -> None:
    base = dict(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2)
    assert LlamaDecoder.supports(LlamaConfig(**base))
    assert LlamaDecoder.supports(LlamaConfig(**base, rope_parameters={"rope_type": "linear", "factor": 2.0}))
    assert not LlamaDecoder.supports(LlamaConfig(**base, attention_bias=True))
    assert not LlamaDecoder.supports(LlamaConfig(**base, mlp_bias=True))
    assert not LlamaDecoder.supports(LlamaConfig(**base, hidden_act="gelu"))
    assert not LlamaDecoder.supports(LlamaConfig(**base, rope_parameters={"rope_type": "dynamic", "factor": 2.0}))


def test_sampling_logprobs_need_an_hf_model(tiny_model_dir: Path) -> None:
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    decoder = LlamaDecoder(AutoModelForCausalLM.from_pretrained(tiny_model_dir))
    prompt = rollout.render_prompt(tok, [{"role": "user", "content": "no"}], None)
    with pytest.raises(ValueError, match="with_logprobs needs an HF model"):
        rollout.generate(decoder, tok, [prompt], group_size=2, completion_budget=3, temperature=1.0, with_logprobs=True)
