"""Request and response bodies of /v1/chat/completions and /v1/completions, in OpenAI's names and order.

`inference/completions.py` builds the responses as dicts; the API's routes validate them against `ChatCompletion` and
`Completion` (openai.types.chat.ChatCompletion, openai.types.Completion). Streamed chunks
(`ChatCompletionChunk`, `Completion`) go out as server-sent events and are checked by the tests with
the SDK.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


class StreamOptions(BaseModel):
    include_usage: bool = False


class ResponseFormat(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Literal["text", "json_object", "json_schema"]
    json_schema: dict[str, Any] | None = None  # {"name", "schema", "strict"} when type is json_schema


class SamplingFields(BaseModel):
    """Fields both endpoints share."""

    model_config = ConfigDict(extra="ignore")

    model: str
    frequency_penalty: float = Field(default=0.0, ge=-2.0, le=2.0)  # only 0 is supported
    logit_bias: dict[str, int] | None = None  # not supported
    max_tokens: int | None = Field(default=None, ge=1)
    n: int = Field(default=1, ge=1, le=16)
    presence_penalty: float = Field(default=0.0, ge=-2.0, le=2.0)  # only 0 is supported
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float = Field(default=1.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    user: str | None = None


class ChatCompletionCreate(SamplingFields):
    messages: list[ChatMessage] = Field(min_length=1)
    logprobs: bool = False
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    response_format: ResponseFormat | None = None
    tools: list[dict[str, Any]] | None = None  # [{"type": "function", "function": {name, description, parameters}}]
    tool_choice: Literal["none", "auto", "required"] | dict[str, Any] | None = None  # or {"type": "function", ...}
    parallel_tool_calls: bool = True  # false: at most one call per reply


class CompletionCreate(SamplingFields):
    prompt: str | list[str]
    logprobs: int | None = Field(default=None, ge=0, le=5)  # legacy: number of top logprobs
    echo: bool = False
    max_tokens: int | None = Field(default=16, ge=1)  # the legacy endpoint's default


# -- responses (field order as openai-python's types) -----------------------------------------------

ChatFinishReason = Literal["stop", "length", "tool_calls", "content_filter", "function_call"]


class CompletionUsage(BaseModel):
    """openai.types.CompletionUsage."""

    completion_tokens: int
    prompt_tokens: int
    total_tokens: int


class TopLogprob(BaseModel):
    token: str
    bytes: list[int] | None = None
    logprob: float


class ChatCompletionTokenLogprob(BaseModel):
    """openai.types.chat.ChatCompletionTokenLogprob."""

    token: str
    bytes: list[int] | None = None
    logprob: float
    top_logprobs: list[TopLogprob]


class ChoiceLogprobs(BaseModel):
    content: list[ChatCompletionTokenLogprob] | None = None
    refusal: list[ChatCompletionTokenLogprob] | None = None


class Function(BaseModel):
    arguments: str  # JSON, as OpenAI sends it
    name: str


class ChatCompletionMessageToolCall(BaseModel):
    """openai.types.chat.ChatCompletionMessageFunctionToolCall."""

    id: str
    function: Function
    type: Literal["function"] = "function"


class ChatCompletionMessage(BaseModel):
    content: str | None = None
    refusal: str | None = None
    role: Literal["assistant"]
    tool_calls: list[ChatCompletionMessageToolCall] | None = None


class ChatChoice(BaseModel):
    finish_reason: ChatFinishReason
    index: int
    logprobs: ChoiceLogprobs | None = None
    message: ChatCompletionMessage


class ChatCompletion(BaseModel):
    """openai.types.chat.ChatCompletion (the non-streamed answer)."""

    id: str
    choices: list[ChatChoice]
    created: int
    model: str
    object: Literal["chat.completion"] = "chat.completion"
    system_fingerprint: str | None = None
    usage: CompletionUsage | None = None


class TextLogprobs(BaseModel):
    """openai.types.completion_choice.Logprobs."""

    text_offset: list[int] | None = None
    token_logprobs: list[float] | None = None
    tokens: list[str] | None = None
    top_logprobs: list[dict[str, float]] | None = None


class CompletionChoice(BaseModel):
    finish_reason: Literal["stop", "length", "content_filter"]
    index: int
    logprobs: TextLogprobs | None = None
    text: str


class Completion(BaseModel):
    """openai.types.Completion (the non-streamed answer)."""

    id: str
    choices: list[CompletionChoice]
    created: int
    model: str
    object: Literal["text_completion"] = "text_completion"
    system_fingerprint: str | None = None
    usage: CompletionUsage | None = None
