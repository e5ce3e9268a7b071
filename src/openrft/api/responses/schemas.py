"""Request and response bodies of POST /v1/responses, in OpenAI's names and order.

The request (`ResponseCreate`) lists the parameters this server implements; any other parameter of
OpenAI's `ResponseCreateParams` that a caller sets (previous_response_id, reasoning, background, ...) is a
400 naming it (responses.service), never accepted and ignored. Input items and tools stay plain dicts here
and are checked item by item by the service, so an error names the exact item (`input[2].call_id`).

The answer (`Response` and its output items) mirrors openai.types.responses.Response; the streamed events
(openai.types.responses.ResponseStreamEvent) go out as server-sent events and are checked by the tests
with the SDK.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ResponseCreate(BaseModel):
    """openai.types.responses.ResponseCreateParams: the implemented subset (module docstring)."""

    model_config = ConfigDict(extra="allow")  # the rest of OpenAI's parameters: refused by name, not dropped

    model: str
    input: str | list[Any] | None = None  # items checked one by one (responses.convert), naming input[i]
    instructions: str | None = None
    max_output_tokens: int | None = Field(default=None, ge=1)
    metadata: dict[str, str] | None = None
    parallel_tool_calls: bool | None = None
    store: bool | None = None  # only false (or unset): responses are not kept for later retrieval
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    text: dict[str, Any] | None = None  # {"format": {"type": "text" | "json_object" | "json_schema", ...}}
    tool_choice: str | dict[str, Any] | None = None
    tools: list[Any] | None = None  # likewise: tools[k]
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    truncation: Literal["auto", "disabled"] | None = None
    user: str | None = None


# -- the answer (field order as openai-python's types) -----------------------------------------------


class ResponseOutputText(BaseModel):
    annotations: list[dict[str, Any]] = Field(default_factory=list)
    text: str
    type: Literal["output_text"] = "output_text"
    logprobs: list[dict[str, Any]] | None = None


class ResponseOutputMessage(BaseModel):
    """openai.types.responses.ResponseOutputMessage."""

    id: str
    content: list[ResponseOutputText]
    role: Literal["assistant"] = "assistant"
    status: Literal["in_progress", "completed", "incomplete"]
    type: Literal["message"] = "message"


class ResponseFunctionToolCall(BaseModel):
    """openai.types.responses.ResponseFunctionToolCall."""

    arguments: str
    call_id: str
    name: str
    type: Literal["function_call"] = "function_call"
    id: str | None = None
    status: Literal["in_progress", "completed", "incomplete"] | None = None


class InputTokensDetails(BaseModel):
    cache_write_tokens: int = 0
    cached_tokens: int = 0


class OutputTokensDetails(BaseModel):
    reasoning_tokens: int = 0


class ResponseUsage(BaseModel):
    """openai.types.responses.ResponseUsage (no prompt cache, no reasoning tokens here: both 0)."""

    input_tokens: int
    input_tokens_details: InputTokensDetails
    output_tokens: int
    output_tokens_details: OutputTokensDetails
    total_tokens: int


class IncompleteDetails(BaseModel):
    reason: Literal["max_output_tokens", "content_filter"] | None = None


class ResponseError(BaseModel):
    code: str
    message: str


class Response(BaseModel):
    """openai.types.responses.Response (the non-streamed answer, and the `response` of stream events)."""

    id: str
    created_at: float
    error: ResponseError | None = None
    incomplete_details: IncompleteDetails | None = None
    instructions: str | None = None
    metadata: dict[str, str] | None = None
    model: str
    object: Literal["response"] = "response"
    output: list[ResponseOutputMessage | ResponseFunctionToolCall]
    parallel_tool_calls: bool
    temperature: float | None = None
    tool_choice: str | dict[str, Any]
    tools: list[dict[str, Any]]
    top_p: float | None = None
    completed_at: float | None = None
    max_output_tokens: int | None = None
    previous_response_id: None = None
    status: Literal["completed", "failed", "in_progress", "incomplete"]
    text: dict[str, Any] | None = None
    truncation: Literal["disabled"] = "disabled"
    usage: ResponseUsage | None = None
    user: str | None = None
