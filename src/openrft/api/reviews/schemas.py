"""Shapes of /v1/reviews (openrft's extension: OpenAI has no expert review): the request body of a rating
and the responses, for the OpenAPI document. The service parses the body itself (service.parse_rating)
so every bad field is a 400 naming it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field


class TrainingSampleTarget(BaseModel):
    """One of the G completions of a stored training sample group (GET /v1/fine_tuning/jobs/{id}/samples)."""

    job_id: str
    sample_id: str = Field(description="The group's id, ftsample-...")
    completion_index: int = Field(ge=0, description="Which of the group's completions (0-based).")


class EvalOutputItemTarget(BaseModel):
    """One output item of an eval run."""

    eval_id: str
    run_id: str
    output_item_id: str


class RatingCreate(BaseModel):
    """Create or replace the caller's rating of one completion."""

    target: TrainingSampleTarget | EvalOutputItemTarget
    rating: Literal["good", "bad"]
    comment: str | None = Field(default=None, max_length=4000)


class RatedSample(TrainingSampleTarget):
    type: Literal["training_sample"] = "training_sample"


class RatedOutputItem(EvalOutputItemTarget):
    type: Literal["eval_output_item"] = "eval_output_item"


class Rating(BaseModel):
    """`review.rating`: one expert's verdict on one completion (one per rater and target)."""

    id: str
    object: Literal["review.rating"] = "review.rating"
    created_at: int
    updated_at: int
    target: Annotated[RatedSample | RatedOutputItem, Field(discriminator="type")]
    rating: Literal["good", "bad"]
    comment: str | None = None
    rater: str = Field(description="The id of the API key that rated.")


class RatingList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Rating]
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool


class QueueCompletion(BaseModel):
    target: dict[str, Any] = Field(description="What to send as the rating's target.")
    text: str | None = None
    rating: dict[str, Any] | None = Field(default=None, description="The caller's rating so far: id, rating, comment.")


class QueueGroup(BaseModel):
    prompt: list[dict[str, Any]] | None = None
    completions: list[QueueCompletion]


class ReviewQueue(BaseModel):
    """`review.queue`: completions to rate, without their rewards."""

    object: Literal["review.queue"] = "review.queue"
    job_id: str | None = None
    step: int | None = Field(default=None, description="The step shown (default: the newest stored).")
    steps: list[int] | None = Field(default=None, description="Every step with stored samples.")
    eval_id: str | None = None
    run_id: str | None = None
    total_items: int | None = None
    groups: list[QueueGroup]


class Figures(BaseModel):
    n: int
    agreed: int
    agreement_rate: float | None = None
    cohen_kappa: float | None = Field(default=None, description="None when the expected agreement is 1 (0/0).")
    expected_agreement: float | None = None
    table: dict[str, int]


class ComponentFigures(Figures):
    name: str


class AgreementItem(BaseModel):
    rating: Rating
    prompt: Any = None
    completion: str | None = None
    reward: float | None = None
    reward_verdict: Literal["good", "bad"] | None = None
    components: list[dict[str, Any]]
    agrees: bool | None = None


class AgreementReport(BaseModel):
    """`review.agreement`: the reward's verdicts beside the experts', disagreements first."""

    object: Literal["review.agreement"] = "review.agreement"
    job_id: str | None = None
    step: int | None = None
    eval_id: str | None = None
    run_id: str | None = None
    threshold: float | None = None
    overall: Figures
    components: list[ComponentFigures]
    skipped_components: list[dict[str, str]]
    unscored: int
    disagreements: int
    items: list[AgreementItem]
