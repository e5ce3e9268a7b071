"""Grader definitions: a pydantic discriminated union on `type`, field for field as openai-python's
`types/graders/` (plus our `lambda` grader and the marked `openrft` extras block of model graders).

These models only describe shapes; `validate.py` adds the checks pydantic cannot express (templates,
formulas, python source, label subsets) and turns every failure into a GraderValidationError.

Judge extension (score_model, label_model): by default `model` is a model openrft serves (a base model
or an `ft:` id). To grade with any OpenAI-compatible endpoint instead, add an `openrft` block:

    {"type": "score_model", "name": "judge", "model": "gpt-4.1-mini", "input": [...],
     "openrft": {"api_base": "https://api.example.com/v1", "api_key_env": "JUDGE_API_KEY"}}

`api_key_env` names a secret the operator allows for that URL in `OPENRFT_OUTBOUND_SECRETS` (an
environment variable of the server; never an `OPENRFT_*` one); `api_key` carries the key inline. The
URL itself must be allowed by the operator's egress policy (openrft.egress: public addresses by
default, loopback and private ranges only when listed in `OPENRFT_OUTBOUND_ALLOW`). `timeout_s`,
`max_retries` and `structured_output` (send OpenAI's json_schema response_format, default true) tune
the calls.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --- content parts of model-grader input messages (responses API input items) ---
class InputText(_Strict):
    type: Literal["input_text"]
    text: str


class OutputText(_Strict):
    type: Literal["output_text"]
    text: str


class InputImage(_Strict):
    type: Literal["input_image"]
    image_url: str
    detail: str | None = None


class InputAudioData(_Strict):
    data: str
    format: Literal["mp3", "wav"]


class InputAudio(_Strict):
    type: Literal["input_audio"]
    input_audio: InputAudioData


ContentPart = Annotated[InputText | OutputText | InputImage | InputAudio, Field(discriminator="type")]
InputContent = str | ContentPart | list[str | ContentPart]


class InputMessage(_Strict):
    content: InputContent
    role: Literal["user", "assistant", "system", "developer"]
    type: Literal["message"] | None = None


class SamplingParams(_Strict):
    max_completions_tokens: int | None = Field(default=None, gt=0)
    reasoning_effort: str | None = None
    seed: int | None = None
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, gt=0, le=1)


class JudgeExtras(_Strict):
    """The `openrft` block of a model grader: where the judge lives when it is not served here."""

    api_base: str | None = None
    api_key: str | None = None
    api_key_env: str | None = None
    timeout_s: float = Field(default=60.0, gt=0, le=600)  # deadline of one judge call, retries included
    max_retries: int = Field(default=3, ge=0, le=10)
    structured_output: bool = True


# --- the graders ---
class StringCheckGrader(_Strict):
    input: str
    name: str
    operation: Literal["eq", "ne", "like", "ilike"]
    reference: str
    type: Literal["string_check"]


EvaluationMetric = Literal[
    "cosine", "fuzzy_match", "bleu", "gleu", "meteor",
    "rouge_1", "rouge_2", "rouge_3", "rouge_4", "rouge_5", "rouge_l",
]  # fmt: skip


class TextSimilarityGrader(_Strict):
    evaluation_metric: EvaluationMetric
    input: str
    name: str
    reference: str
    type: Literal["text_similarity"]
    pass_threshold: float | None = None  # an evals concept: accepted and echoed, not used for the reward


class PythonGrader(_Strict):
    name: str
    source: str
    type: Literal["python"]
    image_tag: str | None = None


class ScoreModelGrader(_Strict):
    input: list[InputMessage]
    model: str = Field(min_length=1)
    name: str
    type: Literal["score_model"]
    range: list[float] | None = None
    sampling_params: SamplingParams | None = None
    openrft: JudgeExtras | None = None


class LabelModelGrader(_Strict):
    input: list[InputMessage]
    labels: list[str]
    model: str = Field(min_length=1)
    name: str
    passing_labels: list[str]
    type: Literal["label_model"]
    sampling_params: SamplingParams | None = None
    openrft: JudgeExtras | None = None


class LambdaTarget(_Strict):
    function: str = Field(min_length=1)  # NAME | NAME:VERSION | NAME:ALIAS | arn:aws:lambda:... | https://...


class LambdaGrader(_Strict):
    """openrft's own grader: a Bedrock-contract reward function (see openrft.functions.reward)."""

    type: Literal["lambda"]
    lambda_: LambdaTarget = Field(alias="lambda")
    name: str = "lambda"


SubGrader = Annotated[
    StringCheckGrader | TextSimilarityGrader | PythonGrader | ScoreModelGrader | LabelModelGrader | LambdaGrader,
    Field(discriminator="type"),
]


class MultiGrader(_Strict):
    calculate_output: str
    graders: dict[str, SubGrader]
    name: str
    type: Literal["multi"]

    @field_validator("graders", mode="before")
    @classmethod
    def _key_by_name(cls, value: Any) -> Any:
        """OpenAI's other documented forms: a list keyed by each grader's name, or one grader object."""
        if isinstance(value, dict) and isinstance(value.get("type"), str):
            value = [value]
        if isinstance(value, list):
            return {
                str(g.get("name", f"grader_{i}")) if isinstance(g, dict) else str(i): g for i, g in enumerate(value)
            }
        return value


Grader = Annotated[
    StringCheckGrader | TextSimilarityGrader | PythonGrader | ScoreModelGrader | MultiGrader | LambdaGrader,
    Field(discriminator="type"),
]
AnyGrader = (
    StringCheckGrader
    | TextSimilarityGrader
    | PythonGrader
    | ScoreModelGrader
    | LabelModelGrader
    | MultiGrader
    | LambdaGrader
)
MODEL_BY_TYPE: dict[str, type[BaseModel]] = {
    "string_check": StringCheckGrader,
    "text_similarity": TextSimilarityGrader,
    "python": PythonGrader,
    "score_model": ScoreModelGrader,
    "label_model": LabelModelGrader,
    "multi": MultiGrader,
    "lambda": LambdaGrader,
}
TOP_LEVEL_TYPES = ("string_check", "text_similarity", "python", "score_model", "multi", "lambda")
