"""prompts.render_supervised: the assistant-only mask, worked by hand on the word-level tiny tokenizer."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from openrft.inference.prompts import SupervisedRenderError, render_chat, render_supervised
from openrft.settings import Settings


@pytest.fixture(scope="module")
def words(tiny_model_dir: Path) -> PreTrainedTokenizerFast:
    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_mask_by_hand(words: PreTrainedTokenizerFast) -> None:
    # Template: "<|role|> content <eos> " per message, whitespace-split into one token per word:
    #   <|user|> say yes <eos> <|assistant|> yes please <eos> <|user|> no <eos> <|assistant|> maybe <eos>
    #   0        1   2   3     4             5   6      7     8        9  10    11            12    13
    # The assistant tokens are its content and its <eos>: 5, 6, 7 and 12, 13; the role tags are the prompt.
    messages = [
        {"role": "user", "content": "say yes"},
        {"role": "assistant", "content": "yes please"},
        {"role": "user", "content": "no"},
        {"role": "assistant", "content": "maybe"},
    ]
    ids, mask = render_supervised(words, messages)
    assert ids == render_chat(words, messages, add_generation_prompt=False)
    assert words.convert_ids_to_tokens(ids) == [
        "<|user|>", "say", "yes", "<eos>", "<|assistant|>", "yes", "please", "<eos>",
        "<|user|>", "no", "<eos>", "<|assistant|>", "maybe", "<eos>",
    ]  # fmt: skip
    assert mask == [0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1]
    # weight 0 on the first assistant message: only the last one is learned.
    weighted = [messages[0], {**messages[1], "weight": 0}, messages[2], {**messages[3], "weight": 1}]
    assert render_supervised(words, weighted)[1] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]


def test_system_prompt_is_never_learned(words: PreTrainedTokenizerFast) -> None:
    messages = [{"role": "system", "content": "the"}, {"role": "user", "content": "cat"}]
    _, mask = render_supervised(words, [*messages, {"role": "assistant", "content": "dog"}])
    # <|system|> the <eos> <|user|> cat <eos> <|assistant|> dog <eos>
    assert mask == [0, 0, 0, 0, 0, 0, 0, 1, 1]


def test_chatml_newline_after_end_of_turn_is_not_learned(tmp_path: Path) -> None:
    from tests.inference.tiny import build_tiny_model

    tok = AutoTokenizer.from_pretrained(build_tiny_model(tmp_path / "bpe"))
    messages = [{"role": "user", "content": "hello world"}, {"role": "assistant", "content": "one two three"}]
    ids, mask = render_supervised(tok, messages)
    learned = [i for i, m in zip(ids, mask, strict=True) if m]
    assert tok.decode(learned) == "one two three<|im_end|>"  # its content and end token, not "\n"
    assert tok.decode(ids[: mask.index(1)]).endswith("<|im_start|>assistant\n")
    assert ids[-1] != tok.eos_token_id and mask[-1] == 0  # the trailing "\n"


def test_template_that_rewrites_earlier_turns_is_refused(words: PreTrainedTokenizerFast) -> None:
    # A template that shows only the last message: a prefix is not a prefix of the whole.
    words = AutoTokenizer.from_pretrained(words.name_or_path)
    words.chat_template = "{% set m = messages[-1] %}<|{{ m['role'] }}|> {{ m['content'] }} <eos> "
    messages = [
        {"role": "user", "content": "say yes"},
        {"role": "assistant", "content": "yes"},
        {"role": "user", "content": "no"},
        {"role": "assistant", "content": "no"},
    ]
    with pytest.raises(SupervisedRenderError, match=r"messages\[1\]"):
        render_supervised(words, messages)


@pytest.mark.slow
def test_bundled_smollm2_learns_its_tool_calls_as_served(settings: Settings) -> None:
    """SmolLM2's ChatML template ignores tools; the renderer writes them in SmolLM2's documented format
    (inference/toolcalls.py), and the mask covers the assistant's <tool_call> text and its <|im_end|>."""
    from openrft.inference.registry import ensure_base_model

    tok = AutoTokenizer.from_pretrained(ensure_base_model(settings))
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            },
        }
    ]
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    messages = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "assistant", "content": "It is sunny."},
    ]
    ids, mask = render_supervised(tok, messages, tools)
    spans, current = [], []
    for token, learned in zip(ids, mask, strict=True):
        if learned:
            current.append(token)
        elif current:
            spans.append(tok.decode(current))
            current = []
    assert spans == [
        '<tool_call>[\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n]</tool_call><|im_end|>',
        "It is sunny.<|im_end|>",
    ]
