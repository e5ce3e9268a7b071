"""The one chat renderer: training rollouts, model graders and serving turn a conversation into tokens here.

A fine-tuned model must be served exactly the prompt format it was trained on, so there is one way to
render messages (+ tools) into token ids:

- `developer` messages are rendered as `system` (OpenAI's newer name for the same role; chat
  templates of open models know only `system`);
- content given as parts is flattened to its text parts, concatenated (text models read text; an
  image or audio part is an `UnsupportedContent` naming the message);
- a template that renders tools itself (its source mentions `tools`) gets `tools`, and `name`,
  `tool_calls` (arguments decoded from OpenAI's JSON string to the object templates expect) and
  `tool_call_id` as they are: the family's own format;
- a template that ignores tools (the bundled SmolLM2's plain ChatML), or no template, gets them in
  SmolLM2's documented function-calling format (inference.toolcalls): the tools prompt as the system
  message (before the conversation's own system text, when it has one), an assistant's calls as
  `<tool_call>[...]</tool_call>` after its text, a tool result as a user turn in `<tool_response>`.
  So the text a supervised row's tool calls train on is the text the server parses back into calls;
- the model's chat template renders the conversation with the assistant turn opened; a tokenizer
  without one gets a plain `role: content` transcript ending in `assistant: `.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from openrft.inference import toolcalls

TEXT_PART_TYPES = ("text", "input_text")
PASSED_THROUGH = ("name", "tool_calls", "tool_call_id")


class UnsupportedContent(ValueError):
    """A message part a text model cannot read; `index` is the message's position."""

    def __init__(self, index: int, part_type: object):
        super().__init__(f"messages[{index}].content: only text parts are supported, not {part_type!r}")
        self.index = index


def _text(content: Any, index: int) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    parts = []
    for part in content:
        if not isinstance(part, Mapping) or part.get("type") not in TEXT_PART_TYPES:
            raise UnsupportedContent(index, part.get("type") if isinstance(part, Mapping) else type(part).__name__)
        parts.append(str(part.get("text", "")))
    return "".join(parts)


def template_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Messages as the chat template receives them (roles and content normalized as the docstring says)."""
    out = []
    for i, message in enumerate(messages):
        role = message.get("role")
        rendered: dict[str, Any] = {"role": "system" if role == "developer" else role}
        rendered["content"] = _text(message.get("content"), i)
        rendered.update({key: message[key] for key in PASSED_THROUGH if message.get(key) is not None})
        if "tool_calls" in rendered:
            rendered["tool_calls"] = toolcalls.template_calls(rendered["tool_calls"])
        out.append(rendered)
    return out


def renders_tools(tokenizer: Any) -> bool:
    """Whether the tokenizer's chat template renders `tools` itself (else the family format is used)."""
    template = tokenizer.chat_template
    return isinstance(template, str) and "tools" in template


def family_messages(messages: Sequence[Mapping[str, Any]], tools: list[Any] | None) -> list[dict[str, Any]]:
    """Messages for a template that ignores tools: tools, calls and results written in as text (docstring)."""
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        role = message.get("role")
        rendered: dict[str, Any] = {"role": "system" if role == "developer" else role}
        text = _text(message.get("content"), i)
        if role == "tool":
            rendered["role"], text = "user", toolcalls.response_text(text)
        elif role == "assistant" and message.get("tool_calls"):
            calls = toolcalls.calls_text(message["tool_calls"])
            text = f"{text}\n{calls}" if text else calls
        if message.get("name") is not None and role != "tool":
            rendered["name"] = message["name"]
        rendered["content"] = text
        out.append(rendered)
    if tools:
        offer = toolcalls.tools_prompt(tools)
        if out and out[0]["role"] == "system":
            out[0]["content"] = f"{offer}\n\n{out[0]['content']}" if out[0]["content"] else offer
        else:
            out.insert(0, {"role": "system", "content": offer})
    return out


def render_chat(
    tokenizer: Any,
    messages: Sequence[Mapping[str, Any]],
    tools: list[Any] | None = None,
    *,
    add_generation_prompt: bool = True,
) -> list[int]:
    """Token ids of the conversation, ending with the assistant turn's opening (or, with
    `add_generation_prompt=False`, with the last message's end: how a supervised example is rendered)."""
    native = renders_tools(tokenizer)
    rendered = template_messages(messages) if native else family_messages(messages, tools)
    if tokenizer.chat_template is None:
        text = "".join(f"{m['role']}: {m['content']}\n" for m in rendered) + (
            "assistant: " if add_generation_prompt else ""
        )
        return list(tokenizer.encode(text))
    out = tokenizer.apply_chat_template(
        rendered, tools=(tools or None) if native else None, add_generation_prompt=add_generation_prompt, tokenize=False
    )
    return list(tokenizer.encode(str(out), add_special_tokens=False))


# -- supervised examples (training/sft.py): which tokens of a rendered conversation the model learns ------


class SupervisedRenderError(ValueError):
    """The chat template renders a conversation's prefix differently from the whole conversation (it
    rewrites earlier turns), so the assistant tokens can't be located; `index` is the message's position."""

    def __init__(self, index: int, detail: str):
        super().__init__(f"messages[{index}]: {detail}")
        self.index = index


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def render_supervised(
    tokenizer: Any, messages: Sequence[Mapping[str, Any]], tools: list[Any] | None = None
) -> tuple[list[int], list[int]]:
    """(ids, mask) of a finished conversation: `render_chat(..., add_generation_prompt=False)` and a 0/1
    mask that is 1 on the tokens of every assistant message whose `weight` is not 0: its content, its
    tool calls as rendered, and its end-of-turn token (the tokenizer's eos; the template's text after it,
    ChatML's newline, is not something the model generates, so it is not learned).

    Located with the one renderer: an assistant message i spans from the end of the rendering of
    messages[:i] with the assistant turn opened to the end of the rendering of messages[:i+1], each a
    prefix of the whole rendering. One token straddling a boundary (a BPE merge across it, e.g. the
    transcript fallback's "assistant: " before a word) counts as the assistant's; a prefix that differs by
    more is a SupervisedRenderError naming the message.
    """
    ids = render_chat(tokenizer, messages, tools, add_generation_prompt=False)
    mask = [0] * len(ids)
    eos = getattr(tokenizer, "eos_token_id", None)
    for i, message in enumerate(messages):
        if message.get("role") != "assistant" or message.get("weight", 1) == 0:
            continue
        opened = render_chat(tokenizer, messages[:i], tools, add_generation_prompt=True) if i else []
        closed = render_chat(tokenizer, messages[: i + 1], tools, add_generation_prompt=False)
        start, end = _common_prefix(opened, ids), _common_prefix(closed, ids)
        if start < len(opened) - 1 or end < len(closed) - 1 or end <= start:
            raise SupervisedRenderError(
                i, "the chat template renders the conversation up to this message differently from the whole"
            )
        span = ids[start:end]
        if eos is not None and eos in span:
            end = start + len(span) - span[::-1].index(eos)  # through the last end-of-turn token
        mask[start:end] = [1] * (end - start)
    return ids, mask
