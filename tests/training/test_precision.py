"""The bf16 sampler: refreshed from the policy it follows (LoRA merged, or every weight), close to it in output."""

from __future__ import annotations

from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

from openrft.training import precision
from openrft.training.decoder import LlamaDecoder


def _lora_policy(folder: Path) -> torch.nn.Module:
    base = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16)  # frozen base stored in bf16
    config = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM")
    policy = get_peft_model(base, config)
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in policy.named_parameters():
            if "lora_B" in name:  # B starts at 0 (delta 0): give the adapter a real delta
                p.normal_(std=0.5)
    return policy


def test_lora_sampler_holds_the_merged_weights(tiny_model_dir: Path) -> None:
    policy = _lora_policy(tiny_model_dir)
    assert {p.dtype for p in policy.parameters() if p.requires_grad} == {torch.float32}  # fp32 master weights
    sampler = precision.Sampler(policy, tiny_model_dir, "bf16")
    model = sampler.model()
    assert isinstance(model, LlamaDecoder) and model.dtype == torch.bfloat16
    merged = get_peft_model(  # reference: PEFT's own merge, in fp32
        AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32),
        LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM"),
    )
    merged.load_state_dict({k: v.float() for k, v in policy.state_dict().items()})
    expected = dict(merged.merge_and_unload().named_parameters())
    for name, weight in expected.items():
        torch.testing.assert_close(model.weight(name).float(), weight, rtol=1e-2, atol=1e-2, msg=name)
    q_proj = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.allclose(
        model.weight(q_proj).float(), AutoModelForCausalLM.from_pretrained(tiny_model_dir).state_dict()[q_proj]
    )

    # A training update shows in the next refresh; the bf16 decoder computes the policy's distribution.
    with torch.no_grad():
        for name, p in policy.named_parameters():
            if "lora_A" in name:
                p.mul_(2.0)
    ids = torch.tensor([[3, 9, 10, 4]])
    with torch.no_grad(), precision.autocast("bf16"):
        want = torch.log_softmax(policy(input_ids=ids).logits.float(), dim=-1)
    have = torch.log_softmax(sampler.model().logits(ids), dim=-1)
    torch.testing.assert_close(have, want, rtol=0, atol=0.1)


def test_full_fine_tuning_sampler_copies_every_weight(tiny_model_dir: Path) -> None:
    policy = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(0.25)
    model = precision.Sampler(policy, tiny_model_dir, "bf16").model()
    for name, weight in policy.named_parameters():
        torch.testing.assert_close(model.weight(name), weight.to(torch.bfloat16), rtol=0, atol=0, msg=name)


def test_architectures_the_fused_decoder_does_not_cover_sample_with_hf(tmp_path: Path) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=32,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        attention_bias=True,
    )
    LlamaForCausalLM(config).save_pretrained(tmp_path)
    policy = AutoModelForCausalLM.from_pretrained(tmp_path)
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(0.25)
    model = precision.Sampler(policy, tmp_path, "bf16").model()
    assert not isinstance(model, LlamaDecoder) and next(model.parameters()).dtype == torch.bfloat16
    for (name, a), (_, b) in zip(model.named_parameters(), policy.named_parameters(), strict=True):
        torch.testing.assert_close(a, b.to(torch.bfloat16), rtol=0, atol=0, msg=name)


def test_fp32_samples_from_the_policy_itself(tiny_model_dir: Path) -> None:
    policy = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert precision.Sampler(policy, tiny_model_dir, "fp32").model() is policy
    assert precision.resolve("fp32") == "fp32" and precision.resolve("auto") in ("bf16", "fp32")


def test_eager_attention_for_short_training_sequences_gives_the_same_logprobs(tiny_model_dir: Path) -> None:
    from openrft.training import rollout

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, attn_implementation="sdpa")
    ids = torch.tensor([[0, 0, 3, 9, 4, 6, 7, 1], [3, 9, 10, 4, 7, 8, 6, 6]])  # row 0 left-padded
    mask = (ids != 0).long()
    sdpa, _ = rollout.token_logprobs(model, ids, mask, 5, 1.0)
    assert precision.training_attention(ids.shape[1]) == "eager" and precision.training_attention(1000) == "sdpa"
    with precision.attention(model, "eager"):
        assert model.config._attn_implementation == "eager"
        eager, _ = rollout.token_logprobs(model, ids, mask, 5, 1.0)
    assert model.config._attn_implementation == "sdpa"  # restored
    torch.testing.assert_close(eager, sdpa, rtol=0, atol=1e-5)


def test_bf16_autocast_keeps_lora_inputs_in_bf16_with_the_same_result(tiny_model_dir: Path) -> None:
    policy = _lora_policy(tiny_model_dir)
    lora = policy.get_base_model().model.layers[0].self_attn.q_proj
    ids = torch.tensor([[3, 9, 10, 4]])
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        want = policy(input_ids=ids).logits  # PEFT casts each LoRA input to fp32 (autocast casts it back)
    with torch.no_grad(), precision.autocast("bf16", policy):
        assert lora.cast_input_dtype_enabled is False
        have = policy(input_ids=ids).logits
    assert lora.cast_input_dtype_enabled is True  # restored
    torch.testing.assert_close(have, want, rtol=0, atol=0)
