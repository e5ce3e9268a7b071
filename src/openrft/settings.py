"""Process settings, read once from the environment (`OPENRFT_*`).

Every path the service writes to is derived from `home`, so a test gets a whole private
installation by pointing `OPENRFT_HOME` at a temporary folder.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPENRFT_", extra="ignore")

    home: Path = Field(default=Path("~/.openrft"), description="Database, blobs, checkpoints, models.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite in home.")
    admin_key: str | None = Field(default=None, description="Bootstrap key with every right (key id 'admin').")

    host: str = "127.0.0.1"
    port: int = 8000

    max_file_bytes: int = Field(default=512 * 1024 * 1024, description="Largest accepted upload.")
    lease_s: float = Field(default=30.0, description="How long a claimed job stays owned without a heartbeat.")
    heartbeat_s: float = Field(default=5.0, description="How often a worker renews its lease.")
    poll_s: float = Field(default=1.0, description="How often an idle worker looks for queued jobs.")
    max_attempts: int = Field(default=5, description="Claims of one job before it fails for good.")
    embedded_worker: bool = Field(default=True, description="Run a worker inside `openrft serve`.")
    inference_dtype: Literal["auto", "float32", "bfloat16"] = Field(
        default="auto",
        description="Serving weights dtype: auto (bfloat16 on CPUs with native bf16, else float32), float32 "
        "(seeded outputs that don't depend on what else shares the batch), or bfloat16.",
    )
    sandbox_mode: str = Field(default="auto", description="User-code sandbox: auto|bubblewrap|rlimits|unavailable.")
    python_grader_timeout_s: float = Field(default=120.0, description="Wall time of one python-grader call.")

    def model_post_init(self, __context: object) -> None:
        self.home = self.home.expanduser().resolve()

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
