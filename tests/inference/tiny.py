"""A tiny random Llama model and byte-level BPE tokenizer built offline, for fast inference tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

from openrft.auth.keys import DEFAULT_PROJECT_ID, KeyCipher, create_key
from openrft.ids import now_s
from openrft.settings import Settings
from openrft.store import schema
from openrft.store.db import Store
from tests.conftest import LiveServer
from tests.tiny import build_tiny_llama, save_tiny_llama

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "hello world, how are you today? I am fine, thank you.",
    '{"name": "openrft", "value": 42, "ok": true}',
    "one two three four five six seven eight nine ten",
] * 4


def build_tiny_model(folder: Path, *, context: int = 96, seed: int = 0) -> Path:
    """Save a 2-layer Llama (hidden 32) with a ~300-token tokenizer and chat template to `folder`."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320,
        special_tokens=["<pad>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(CORPUS, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<pad>")
    tokenizer.chat_template = CHAT_TEMPLATE
    model = build_tiny_llama(tokenizer, context=context, seed=seed, tie_word_embeddings=False)
    with torch.no_grad():
        model.lm_head.weight.mul_(20.0)  # peaked distributions: varied greedy text, rarely the end token
        model.lm_head.weight[tokenizer.eos_token_id] = 0.0
        for i in range(len(tokenizer)):  # readable output: tokens that aren't printable ASCII are never the best
            text = str(tokenizer.decode([i]))
            if not (text.isascii() and text.isprintable()):
                model.lm_head.weight[i] = 0.0
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return save_tiny_llama(folder, model, tokenizer)


def build_tiny_adapter(base: Path, folder: Path, *, seed: int = 1) -> Path:
    """A random (non-zero) LoRA adapter on the tiny model, saved in PEFT format."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    model = LlamaForCausalLM.from_pretrained(base)
    config = LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj", "o_proj"], init_lora_weights=False)
    peft_model = get_peft_model(model, config)
    peft_model.save_pretrained(str(folder))
    return folder


@dataclass
class TinyModels:
    base: str  # base model id
    fine_tuned: str  # adapter model id owned by the default project
    base_path: Path
    adapter_path: Path


@pytest.fixture(scope="session", name="tiny_dirs")
def tiny_dirs_fixture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("tiny")
    base = build_tiny_model(root / "base")
    return base, build_tiny_adapter(base, root / "adapter")


@pytest.fixture(name="tiny")
def tiny_fixture(live_server: LiveServer, tiny_dirs: tuple[Path, Path]) -> TinyModels:
    """The tiny base registered on the live server, plus a LoRA adapter as a fine-tuned model of proj_default."""
    from openrft.inference.registry import add_base_model, register_adapter

    base_path, adapter_path = tiny_dirs
    store = Store.from_settings(live_server.settings)
    add_base_model(store, live_server.settings, "tiny-llama", base_path)
    fine_tuned = "ft:tiny-llama:proj_default:demo:ftjob-tiny"
    with store.begin() as conn:
        register_adapter(
            conn,
            model_id=fine_tuned,
            project_id=DEFAULT_PROJECT_ID,
            kind="fine_tuned",
            base_model="tiny-llama",
            path=adapter_path,
            job_id="ftjob-tiny",
        )
    store.dispose()
    return TinyModels("tiny-llama", fine_tuned, base_path, adapter_path)


def other_project_key(settings: Settings) -> str:
    """A key of a second project, made directly in the store."""
    store = Store.from_settings(settings)
    with store.begin() as conn:
        conn.execute(schema.projects.insert().values(id="proj_other", name="other", created_at=now_s()))
        _row, secret = create_key(conn, KeyCipher(settings.master_key_path), project_id="proj_other", name="k")
    store.dispose()
    return secret
