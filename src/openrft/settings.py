"""Process settings, read once from the environment (`OPENRFT_*`).

Every path the service writes to is derived from `home`, so a test gets a whole private
installation by pointing `OPENRFT_HOME` at a temporary folder.
"""

from __future__ import annotations

from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from openrft.egress import EgressPolicy


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPENRFT_", extra="ignore")

    home: Path = Field(default=Path("~/.openrft"), description="Database, blobs, checkpoints, models.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite in home.")
    admin_key: str | None = Field(default=None, description="Bootstrap key with every right (key id 'admin').")

    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = Field(
        default=None,
        description="This server's API as reward functions reach it (their AWS_ENDPOINT_URL, OPENAI_BASE_URL); "
        "default http://<host>:<port>.",
    )

    max_file_bytes: int = Field(default=512 * 1024 * 1024, description="Largest accepted upload.")
    lease_s: float = Field(default=30.0, description="How long a claimed job stays owned without a heartbeat.")
    heartbeat_s: float = Field(default=5.0, description="How often a worker renews its lease.")
    poll_s: float = Field(default=1.0, description="How often an idle worker looks for queued jobs.")
    max_attempts: int = Field(default=5, description="Claims of one job before it fails for good.")
    embedded_worker: bool = Field(default=True, description="Run a worker inside `openrft serve`.")
    inference_dtype: Literal["auto", "float32", "bfloat16"] = Field(
        default="auto",
        description="Serving weights dtype: auto (bfloat16 where the device has native bf16, else float32), float32 "
        "(seeded outputs that don't depend on what else shares the batch), or bfloat16.",
    )
    sandbox_mode: str = Field(default="auto", description="User-code sandbox: auto|bubblewrap|rlimits|unavailable.")
    python_grader_timeout_s: float = Field(default=120.0, description="Wall time of one python-grader call.")
    # Training samples (openrft.training.samples, GET /v1/fine_tuning/jobs/{id}/samples).
    samples_groups_per_step: int = Field(
        default=8,
        ge=0,
        description="Groups (a prompt and its G completions) of each training step stored as samples; 0 stores none.",
    )
    samples_per_job: int = Field(
        default=20_000,
        ge=0,
        description="Sample groups kept per job: past it the oldest steps go, the first step (the base model's "
        "answers) last; 0 stores none.",
    )

    console_session_ttl_s: int = Field(
        default=12 * 3600, ge=60, description="How long a console sign-in lasts before the key must be entered again."
    )

    audit_retention_days: int = Field(
        default=90,
        ge=0,
        description="Days audit log events are kept (CloudTrail's event history keeps 90); older ones are deleted "
        "when the server or a worker starts, the chain staying verifiable. 0 keeps them forever.",
    )
    # Outbound calls made on a tenant's behalf (http lambda graders, judges' api_base): see openrft.egress.
    outbound_public: bool = Field(default=True, description="Tenants' outbound calls may reach public addresses.")
    outbound_allow: list[str] = Field(
        default_factory=list,
        description="JSON list of hostnames (*.suffix allowed), IPs or CIDRs, each with an optional :port, that "
        "outbound calls may reach beyond public addresses (loopback, private and link-local are refused otherwise).",
    )
    outbound_secrets: dict[str, list[str]] = Field(
        default_factory=dict,
        description='JSON object: environment variable -> URL prefixes it may be sent to, e.g. {"JUDGE_API_KEY": '
        '["https://api.openai.com/v1"]}; the only secrets a grader may name (never OPENRFT_*).',
    )
    outbound_aws_accounts: list[str] = Field(
        default_factory=list,
        description="AWS account ids whose Lambda functions graders may invoke with the server's AWS credentials.",
    )

    def model_post_init(self, __context: object) -> None:
        self.home = self.home.expanduser().resolve()

    @model_validator(mode="after")
    def _check_egress(self) -> Settings:
        self.egress  # noqa: B018 - a malformed OPENRFT_OUTBOUND_* setting fails at start-up, naming itself
        return self

    @cached_property
    def egress(self) -> EgressPolicy:
        """The outbound-call policy these settings describe."""
        return EgressPolicy.from_settings(self)

    @property
    def api_url(self) -> str:
        """Where this server's API listens, for callers inside the installation (sandboxed functions)."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'openrft.db'}"

    @property
    def blobs_dir(self) -> Path:
        return self.home / "blobs"

    @property
    def checkpoints_dir(self) -> Path:
        return self.home / "checkpoints"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def master_key_path(self) -> Path:
        """Symmetric key that encrypts SigV4 secrets at rest (created on first start, mode 0600)."""
        return self.home / "master.key"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
