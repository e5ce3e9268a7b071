"""Request models of the fine-tuning jobs API, following OpenAI's `JobCreateParams`.

Field names and order mirror openai-python's `types/fine_tuning/`; `RFTHyperparameters` is generated from
the trainer's `HParams` (training/hparams.py), `SupervisedHyperparameters` and `DpoHyperparameters` from
`SupervisedHParams` and `DpoHParams` (training/hparams_supervised.py), OpenAI's fields first, then
openrft's. Numbers are checked strictly (no "3" for 3, no true for 1) so a typo in a job definition is a
400 naming the field, not a silently different run.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from openrft.jobstatus import Status
from openrft.training import hparams, hparams_supervised
from openrft.training.hparams import MAX_SEED

SUFFIX_PATTERN = r"^[a-zA-Z0-9_-]+$"
MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512


def _int_check(minimum: int, *, auto: bool, maximum: int | None = None) -> BeforeValidator:
    expected = f"an integer >= {minimum}" + (f" and <= {maximum}" if maximum is not None else "")
    expected += ' or "auto"' if auto else ""

    def check(value: Any) -> Any:
        if auto and value == "auto":
            return value
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"must be {expected}, got {value!r}")
        if maximum is not None and value > maximum:
            raise ValueError(f"must be {expected}, got {value!r}")
        return value

    return BeforeValidator(check)


# `method.reinforcement.hyperparameters`, generated from the trainer's HParams (fields, Literal types, help
# lines) and LIMITS: one definition, validated the same way here and when the trainer starts.
RFTHyperparameters = hparams.HParamsRequest
# `method.supervised.hyperparameters` and `method.dpo.hyperparameters`, generated the same way.
SupervisedHyperparameters = hparams_supervised.SupervisedRequest
DpoHyperparameters = hparams_supervised.DpoRequest


MAX_GUARD_GRADERS = 8
MAX_PENALTY_METRICS = 32
GUARDS_HELP = (
    "openrft's extension: graders that are never part of the reward, scored on the validation set at each "
    "evaluation (extra testing criteria of the job's linked eval); the reward-hacking monitor warns when the "
    "reward rises while one of them falls."
)
PENALTIES_HELP = (
    "openrft's extension: names of reward components (metrics_list entries, multi sub-graders) that measure "
    "harm, for the monitor's penalty_rising signal; absent: every metrics_list entry of type Metric."
)


class ReinforcementMethod(BaseModel):
    """`method.reinforcement`: the grader is checked by `openrft.graders.validate_grader`."""

    model_config = ConfigDict(extra="forbid")

    grader: dict[str, Any]
    hyperparameters: RFTHyperparameters = Field(default_factory=RFTHyperparameters)
    response_format: dict[str, Any] | None = None
    # -- openrft extras -----------------------------------------------------------------------------
    guard_graders: list[dict[str, Any]] | None = Field(
        default=None, max_length=MAX_GUARD_GRADERS, description=GUARDS_HELP
    )
    penalty_metrics: list[Annotated[str, StringConstraints(min_length=1, max_length=128)]] | None = Field(
        default=None, max_length=MAX_PENALTY_METRICS, description=PENALTIES_HELP
    )


class SupervisedMethod(BaseModel):
    """`method.supervised` (openai.types.fine_tuning.SupervisedMethod)."""

    model_config = ConfigDict(extra="forbid")

    hyperparameters: SupervisedHyperparameters = Field(default_factory=SupervisedHyperparameters)


class DpoMethod(BaseModel):
    """`method.dpo` (openai.types.fine_tuning.DpoMethod)."""

    model_config = ConfigDict(extra="forbid")

    hyperparameters: DpoHyperparameters = Field(default_factory=DpoHyperparameters)


METHOD_MODELS: dict[str, type[BaseModel]] = {
    "supervised": SupervisedMethod,
    "dpo": DpoMethod,
    "reinforcement": ReinforcementMethod,
}


class WandbIntegration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project: str
    entity: str | None = None
    name: str | None = None
    tags: list[str] | None = None


class Integration(BaseModel):
    """Accepted and stored as OpenAI has it; openrft reports to no external service."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["wandb"]
    wandb: WandbIntegration


class JobCreate(BaseModel):
    """`POST /v1/fine_tuning/jobs`; `method` is checked separately (`checks.check_method`)."""

    model_config = ConfigDict(extra="forbid")

    model: Annotated[str, StringConstraints(min_length=1)]
    training_file: Annotated[str, StringConstraints(min_length=1)]
    hyperparameters: dict[str, Any] | None = None  # deprecated top-level form: supervised only
    integrations: list[Integration] | None = None
    metadata: dict[str, str] | None = None
    method: dict[str, Any] | None = None
    seed: Annotated[int | None, _int_check(0, auto=False, maximum=MAX_SEED)] = None
    suffix: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=SUFFIX_PATTERN)] | None = None
    validation_file: str | None = None
    # -- openrft extras -----------------------------------------------------------------------------
    role_arn: str | None = Field(
        default=None,
        description="openrft's extension: the IAM role the job acts as (its grader calls: reward functions, judge "
        "models). Needs iam:PassRole on it; the role must trust bedrock.amazonaws.com. Default: the creating key. "
        "Reinforcement jobs only (supervised and dpo jobs call no graders).",
    )


# -- the documented request body and the response objects --------------------------------------------


class JobCreateMethod(BaseModel):
    """`method` as the API takes it, OpenAI's union (job_create_params.Method): `type` names the method and
    only that method's object may be set (`checks.check_method` refuses the others, naming them).
    `supervised` and `dpo` may be omitted (every hyperparameter "auto"); `reinforcement` needs its grader."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["supervised", "dpo", "reinforcement"]
    dpo: DpoMethod | None = None
    reinforcement: ReinforcementMethod | None = None
    supervised: SupervisedMethod | None = None


class JobCreateParams(JobCreate):
    """The documented body of `POST /v1/fine_tuning/jobs`: `JobCreate` with its `method` spelled out.

    The route reads the body as a dict and `service.create_job` validates it with `JobCreate` and
    `checks.check_method`, whose 400s name the field at fault; this model describes the same contract.
    No `method` is a supervised job, whose hyperparameters may then be the top-level (deprecated) ones.
    """

    method: JobCreateMethod | None = None  # type: ignore[assignment]


class JobError(BaseModel):
    """`error` of a failed job (openai.types.fine_tuning.fine_tuning_job.Error)."""

    code: str
    message: str
    param: str | None = None


class JobHyperparameters(BaseModel):
    """The top-level `hyperparameters` (OpenAI reports them this way): "auto" until the trainer resolves them."""

    batch_size: int | Literal["auto"] | None = None
    learning_rate_multiplier: float | Literal["auto"] | None = None
    n_epochs: int | Literal["auto"] | None = None


class JobReinforcementMethod(BaseModel):
    grader: dict[str, Any]
    hyperparameters: dict[str, Any] = Field(
        description="As requested; once training starts, every hyperparameter the trainer runs with."
    )
    response_format: dict[str, Any] | None = None
    guard_graders: list[dict[str, Any]] | None = Field(default=None, description=GUARDS_HELP)
    penalty_metrics: list[str] | None = Field(default=None, description=PENALTIES_HELP)


class JobSupervisedMethod(BaseModel):
    hyperparameters: dict[str, Any] = Field(
        description="As requested; once training starts, every hyperparameter the trainer runs with."
    )


class JobDpoMethod(BaseModel):
    hyperparameters: dict[str, Any] = Field(
        description="As requested; once training starts, every hyperparameter the trainer runs with."
    )


class JobMethod(BaseModel):
    """openai.types.fine_tuning.FineTuningJob.Method: `type` and that method's object."""

    type: Literal["supervised", "dpo", "reinforcement"]
    dpo: JobDpoMethod | None = None
    reinforcement: JobReinforcementMethod | None = None
    supervised: JobSupervisedMethod | None = None


class JobIdentity(BaseModel):
    """openrft's extension on a job: the principal its grader calls are authorized as."""

    type: Literal["key", "role"]
    key_id: str | None = None
    arn: str | None = None
    role_arn: str | None = None
    session_name: str | None = None


class FineTuningJob(BaseModel):
    """openai.types.fine_tuning.FineTuningJob, plus status "paused"."""

    id: str
    created_at: int
    error: JobError | None = None
    fine_tuned_model: str | None = None
    finished_at: int | None = None
    hyperparameters: JobHyperparameters
    model: str
    object: Literal["fine_tuning.job"] = "fine_tuning.job"
    organization_id: str
    result_files: list[str]
    seed: int
    status: Status
    trained_tokens: int | None = None
    training_file: str
    validation_file: str | None = None
    estimated_finish: int | None = None
    integrations: list[Integration] | None = None
    metadata: dict[str, str] | None = None
    method: JobMethod | None = None
    # -- openrft extras -----------------------------------------------------------------------------
    eval_id: str | None = Field(
        default=None,
        description="openrft's extension: the job's linked eval (client.evals): its grader and guard graders as "
        "testing criteria, one run per evaluation step on the validation samples.",
    )
    identity: JobIdentity | None = Field(
        default=None, description="openrft's extension: who the job's grader calls act as (a key, or a role)."
    )
    parent_model: str | None = Field(
        default=None,
        description="openrft's extension: the fine-tuned model or checkpoint the job starts from (its `model`, "
        "when that is not a base model); null for a job that starts from a base model.",
    )
    parent_job: str | None = Field(
        default=None, description="openrft's extension: the job that trained `parent_model`; null for a base start."
    )


class FineTuningJobEvent(BaseModel):
    """openai.types.fine_tuning.FineTuningJobEvent."""

    id: str
    created_at: int
    level: Literal["info", "warn", "error"]
    message: str
    object: Literal["fine_tuning.job.event"] = "fine_tuning.job.event"
    data: Any = None
    type: Literal["message", "metrics"] | None = None


class CheckpointMetrics(BaseModel):
    """openai.types.fine_tuning.jobs.fine_tuning_job_checkpoint.Metrics; the trainer adds its own (reward, ...)."""

    model_config = ConfigDict(extra="allow")

    full_valid_loss: float | None = None
    full_valid_mean_token_accuracy: float | None = None
    step: float | None = None
    train_loss: float | None = None
    train_mean_token_accuracy: float | None = None
    valid_loss: float | None = None
    valid_mean_token_accuracy: float | None = None


class FineTuningJobCheckpoint(BaseModel):
    """openai.types.fine_tuning.jobs.FineTuningJobCheckpoint."""

    id: str
    created_at: int
    fine_tuned_model_checkpoint: str
    fine_tuning_job_id: str
    metrics: CheckpointMetrics
    object: Literal["fine_tuning.job.checkpoint"] = "fine_tuning.job.checkpoint"
    step_number: int


class FineTuningJobList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FineTuningJob]
    has_more: bool


class FineTuningJobEventList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FineTuningJobEvent]
    has_more: bool


class FineTuningJobCheckpointList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FineTuningJobCheckpoint]
    has_more: bool


# -- training samples (openrft's extension: GET /v1/fine_tuning/jobs/{id}/samples) ---------------------

SampleOrder = Literal["step", "-step", "reward", "-reward"]


class SampleError(BaseModel):
    code: str
    message: str


class SampleCompletion(BaseModel):
    """One of a group's G completions as the step graded and trained on it."""

    text: str
    reward: float
    components: dict[str, float] = Field(
        description="What the reward is made of: a lambda grader's metrics_list values, a multi grader's "
        "sub-grader scores; empty for a single built-in grader."
    )
    advantage: float
    completion_tokens: int
    error: SampleError | None = None


class FineTuningJobSample(BaseModel):
    """openrft's `fine_tuning.job.sample`: one prompt of a training step and its G completions."""

    id: str
    object: Literal["fine_tuning.job.sample"] = "fine_tuning.job.sample"
    created_at: int
    fine_tuning_job_id: str
    step: int
    group_index: int = Field(description="The prompt's place in its step's batch.")
    prompt: list[dict[str, Any]] = Field(description="The prompt's messages.")
    completions: list[SampleCompletion]
    reward_mean: float
    reward_std: float = Field(description="The sample standard deviation of the group's rewards (GRPO's).")


class FineTuningJobSampleList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FineTuningJobSample]
    has_more: bool
    first_id: str | None = None
    last_id: str | None = None


# -- metrics as columns (openrft's extension: GET /v1/fine_tuning/jobs/{id}/metrics) ----------------------


class MetricsWarning(BaseModel):
    """A reward-hacking warning: the monitor's warn event of that step (training/watch.py report)."""

    step: int
    signal: str
    message: str
    event_id: str
    data: dict[str, Any] = Field(description="The event's data: signal, step, values, fix, sample_ids.")


class AuditFunction(BaseModel):
    function_name: str | None = None
    version: str | None = None
    code_sha256: str | None = None


class AuditGrader(BaseModel):
    type: str | None = None
    name: str | None = None


class MetricsAuditEntry(BaseModel):
    """The reward grader as the trainer recorded it: on the first graded step of a run and at each change."""

    step: int | None = Field(description="The first step it graded; null while that step is still running.")
    event_id: str
    created_at: int
    grader: AuditGrader
    functions: list[AuditFunction] = Field(description="Each lambda function called, with version and CodeSha256.")
    message: str


class FineTuningJobMetrics(BaseModel):
    """openrft's `fine_tuning.job.metrics`: every number of the job's metrics events, one column per series."""

    object: Literal["fine_tuning.job.metrics"] = "fine_tuning.job.metrics"
    fine_tuning_job_id: str
    status: Status
    total_steps: int | None = None
    last_step: int | None = Field(description="The last step returned (after_step when none is new).")
    steps: list[int]
    series: dict[str, list[float | None]] = Field(
        description="Series name -> one value per entry of `steps` (null: not measured at that step)."
    )
    warnings: list[MetricsWarning]
    audit: list[MetricsAuditEntry]
    sample_steps: list[int] = Field(description="The steps with stored samples (GET .../samples?step=N), oldest first.")
