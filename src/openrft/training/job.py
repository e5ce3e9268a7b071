"""What a training run needs from its job row, read and checked once before any model is loaded.

`prepare()` loads the training/validation rows, resolves the hyperparameters ("auto" -> numbers) and
pins them into the job's `method.reinforcement.hyperparameters`, resolves the base model, names the
fine-tuned model, and reads the testing criteria of the job's linked eval (its grader named "reward", then
its guard graders) and the penalty_metrics the monitor reads. Every problem it finds is a `JobFailed` with
the job error's code and param.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from openrft.errors import NotFound
from openrft.jobstate import JobHandle, fine_tuned_model_id
from openrft.settings import Settings
from openrft.store import schema
from openrft.store.blobs import BlobStore
from openrft.store.db import Store
from openrft.training import data, hparams


class JobFailed(Exception):
    """Stop the job with status failed and this {code, message, param}."""

    def __init__(self, code: str, message: str, param: str | None = None):
        super().__init__(message)
        self.error = {"code": code, "message": message, "param": param}


@dataclass
class Job:
    """What the loop needs from the job row, resolved once."""

    id: str
    project_id: str
    base_model: str
    base_path: Path
    grader: dict[str, Any]
    train_rows: list[Any]
    valid_rows: list[Any]
    hp: hparams.HParams
    fine_tuned_model: str
    eval_id: str | None = None  # the linked eval; None for a job created before linked evals
    criteria: list[dict[str, Any]] = field(default_factory=list)  # its testing criteria: "reward", then the guards
    penalty_metrics: list[str] | None = None  # method.reinforcement.penalty_metrics (None: the Metric-type ones)
    identity: dict[str, Any] | None = None  # who its grader calls act as (openrft.auth.identity); None: before m005

    @property
    def guards(self) -> list[dict[str, Any]]:
        """The guard graders, as criteria of the linked eval (never part of the reward)."""
        return self.criteria[1:]


def prepare(handle: JobHandle, settings: Settings, store: Store) -> Job:
    """Read the job row, its files and base model; resolve and pin the hyperparameters."""
    from openrft.inference import registry

    row = handle.row()
    blobs = BlobStore(settings.blobs_dir)
    train_rows = data.load_rows(blobs, row["training_file"], param="training_file")
    valid_rows = data.load_rows(blobs, row.get("validation_file"), param="validation_file")
    method = dict(row["method"] or {})
    reinforcement = dict(method.get("reinforcement") or {})
    grader = reinforcement.get("grader")
    if not isinstance(grader, dict):
        raise JobFailed("invalid_grader", "The job has no grader.", "method.reinforcement.grader")
    try:
        pinned = {k: v for k, v in (reinforcement.get("hyperparameters") or {}).items() if k not in hparams.RETIRED}
        hp = hparams.resolve(pinned, len(train_rows), len(valid_rows), seed=int(row["seed"]))
    except hparams.HParamsError as exc:
        raise JobFailed(
            "invalid_hyperparameters", str(exc), f"method.reinforcement.hyperparameters.{exc.param}"
        ) from exc
    try:
        resolved = registry.resolve(store, settings, None, row["model"])
    except NotFound as exc:
        raise JobFailed("model_not_found", str(exc), "model") from exc
    if resolved.kind != "base":
        raise JobFailed("invalid_model", f"{row['model']} is not a base model.", "model")
    handle.update(method={**method, "reinforcement": {**reinforcement, "hyperparameters": hp.public()}})
    criteria: list[dict[str, Any]] = []
    if row.get("eval_id"):
        with store.begin() as conn:
            found = conn.execute(sa.select(schema.evals.c.testing_criteria).where(schema.evals.c.id == row["eval_id"]))
            criteria = list(found.scalar() or [])
    return Job(
        id=row["id"],
        project_id=row["project_id"],
        base_model=row["model"],
        base_path=resolved.base_path,
        grader=grader,
        train_rows=train_rows,
        valid_rows=valid_rows,
        hp=hp,
        fine_tuned_model=fine_tuned_model_id(row["model"], row["project_id"], row.get("suffix"), row["id"]),
        eval_id=row.get("eval_id") if criteria else None,
        criteria=criteria,
        penalty_metrics=reinforcement.get("penalty_metrics"),
        identity=row.get("identity"),
    )
