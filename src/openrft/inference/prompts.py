"""The one chat renderer: training rollouts, model graders and serving turn a conversation into tokens here.

A fine-tuned model must be served exactly the prompt format it was trained on, so there is one way to
render messages (+ tools) into token ids:

- `developer` messages are rendered as `system` (OpenAI's newer name for the same role; chat
  templates of open models know only `system`);
- content given as parts is flattened to its text parts, concatenated (text models read text; an
  image or audio part is an `UnsupportedContent` naming the message);
- `name`, `tool_calls` and `tool_call_id` are passed to the template as they are, and so are `tools`;
- the model's chat template renders the conversation with the assistant turn opened; a tokenizer
  without one gets a plain `role: content` transcript ending in `assistant: `.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

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
        out.append(rendered)
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
    rendered = template_messages(messages)
    if tokenizer.chat_template is None:
        text = "".join(f"{m['role']}: {m['content']}\n" for m in rendered) + (
            "assistant: " if add_generation_prompt else ""
        )
        return list(tokenizer.encode(text))
    out = tokenizer.apply_chat_template(
        rendered, tools=tools or None, add_generation_prompt=add_generation_prompt, tokenize=False
    )
    return list(tokenizer.encode(str(out), add_special_tokens=False))
