"""The one tiny-model builder: a random 2-layer Llama (hidden 32) saved as a Hugging Face folder.

Tests build it with the tokenizer they need (tests/training: a word-level vocabulary the reward can
read; tests/inference: a byte-level BPE for text and JSON); the model itself is always made here, so a
change to what "tiny" means is one edit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast


def tiny_llama_config(tokenizer: PreTrainedTokenizerFast, *, context: int, **overrides: Any) -> LlamaConfig:
    """2 layers, hidden 32, 4 heads (2 KV heads): small enough that a test trains it in seconds."""
    values: dict[str, Any] = {
        "vocab_size": len(tokenizer),
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": context,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "bos_token_id": None,
    }
    return LlamaConfig(**(values | overrides))


def build_tiny_llama(
    tokenizer: PreTrainedTokenizerFast, *, context: int, seed: int = 0, **overrides: Any
) -> LlamaForCausalLM:
    """Seeded random weights for `tokenizer`'s vocabulary (adjust them, then `save_tiny_llama`)."""
    torch.manual_seed(seed)
    return LlamaForCausalLM(tiny_llama_config(tokenizer, context=context, **overrides))


def save_tiny_llama(folder: Path, model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
