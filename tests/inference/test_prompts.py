"""One chat renderer: the same conversation gives the same token ids for serving, training and grading."""

from __future__ import annotations

import json

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from openrft import datasets
from openrft.errors import InvalidRequest
from openrft.inference import prompts
from openrft.inference.completions import render_chat as serving_render
from openrft.inference.schemas import ChatCompletionCreate
from openrft.training.rollout import render_prompt as training_render

# A template that shows everything a renderer could get wrong: the role as given, tools, tool calls.
TEMPLATE = (
    "{% if tools %}<tools>{{ tools | tojson }}</tools>\n{% endif %}"
    "{% for m in messages %}<{{ m['role'] }}{% if m.get('name') %} name={{ m['name'] }}{% endif %}>"
    "{{ m['content'] }}{% if m.get('tool_calls') %}{{ m['tool_calls'] | tojson }}{% endif %}</{{ m['role'] }}>\n"
    "{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}"
)
TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}]
CONVERSATION = [
    {"role": "developer", "content": [{"type": "text", "text": "Answer with "}, {"type": "text", "text": "one word."}]},
    {"role": "user", "content": "Where is my refund?", "name": "ada"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}],
    },
    {"role": "tool", "content": "refund sent", "tool_call_id": "c1"},
    {"role": "user", "content": [{"type": "input_text", "text": "So?"}]},
]


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([json.dumps(CONVERSATION), json.dumps(TOOLS)], trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok)
    tokenizer.chat_template = TEMPLATE
    return tokenizer


@pytest.mark.parametrize("lead", ["developer", "system"])
def test_serving_and_training_render_the_same_tokens(tokenizer: PreTrainedTokenizerFast, lead: str) -> None:
    conversation = [{**CONVERSATION[0], "role": lead}, *CONVERSATION[1:]]
    row = datasets.parse_line(json.dumps({"messages": conversation, "tools": TOOLS, "answer": "x"}).encode(), 1)
    assert row is not None
    trained = training_render(tokenizer, row.messages, row.tools)
    request = ChatCompletionCreate.model_validate({"model": "m", "messages": conversation, "tools": TOOLS})
    assert trained == serving_render(tokenizer, request)
    text = tokenizer.decode(trained)
    assert text.count("<system>Answer with one word.</system>") == 1  # developer is system, parts flattened
    assert "<user name=ada>Where is my refund?</user>" in text and '"name": "lookup"' in text
    assert text.startswith("<tools>") and text.endswith("<assistant>")


def test_a_part_a_text_model_cannot_read_is_refused_naming_the_message(tokenizer: PreTrainedTokenizerFast) -> None:
    image = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]
    with pytest.raises(prompts.UnsupportedContent) as info:
        prompts.render_chat(tokenizer, image)
    assert info.value.index == 0
    with pytest.raises(InvalidRequest) as served:
        serving_render(tokenizer, ChatCompletionCreate.model_validate({"model": "m", "messages": image}))
    assert served.value.param == "messages.[0].content" and "only text parts" in served.value.message


def test_without_a_chat_template_a_plain_transcript(tokenizer: PreTrainedTokenizerFast) -> None:
    plain = PreTrainedTokenizerFast(tokenizer_object=tokenizer.backend_tokenizer)
    ids = prompts.render_chat(plain, [{"role": "developer", "content": "be brief"}, {"role": "user", "content": "hi"}])
    assert plain.decode(ids) == "system: be brief\nuser: hi\nassistant: "
