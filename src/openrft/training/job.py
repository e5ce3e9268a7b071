"""What a training run needs from its job row, read and checked once before any model is loaded.

`prepare()` reads the method type (reinforcement, supervised or dpo; a row without one is supervised,
as OpenAI's API), loads the training/validation rows checked for that method, resolves the
hyperparameters ("auto" -> numbers) and pins them into the job's `method[type].hyperparameters`,
resolves the starting model, names the fine-tuned model, and (reinforcement) reads the testing criteria
of the job's linked eval (its grader named "reward", then its guard graders) and the penalty_metrics the
monitor reads. Every problem it finds is a `JobFailed` with the job error's code and param.

Chained start: `model` may be an ft: model or checkpoint of the job's project. The run then starts from
its weights: its LoRA adapter, loaded trainable (`parent_adapter`; the job's lora_rank/lora_alpha are
the parent's), or its full weights (`base_path`; lora_rank 0), with a fresh optimizer; the reference
(RFT's KL, DPO's log-ratios) is the parent. The fine-tuned model is named after, and registered on, the
ROOT base model, with `parent_model` = the job's model.
"""

from __future__ import annotations

import json
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
from openrft.training import data, hparams, hparams_supervised


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
    base_model: str  # the ROOT base model id (what ft: names and registrations say)
    base_path: Path  # the folder the weights load from: the root base, or a full fine-tuned parent
    grader: dict[str, Any]  # reinforcement's grader ({} for supervised and dpo)
    train_rows: list[Any]
    valid_rows: list[Any]
    hp: Any  # hparams.HParams (reinforcement) | hparams_supervised.SupervisedHParams | DpoHParams
    fine_tuned_model: str
    method: str = "reinforcement"  # reinforcement | supervised | dpo
    parent_model: str | None = None  # the ft:/checkpoint model the job starts from (None: a base model)
    parent_adapter: Path | None = None  # the parent's PEFT adapter folder (None: base or full weights)
    eval_id: str | None = None  # the linked eval; None for a job created before linked evals
    criteria: list[dict[str, Any]] = field(default_factory=list)  # its testing criteria: "reward", then the guards
    penalty_metrics: list[str] | None = None  # method.reinforcement.penalty_metrics (None: the Metric-type ones)
    identity: dict[str, Any] | None = None  # who its grader calls act as (openrft.auth.identity); None: before m005

    @property
    def guards(self) -> list[dict[str, Any]]:
        """The guard graders, as criteria of the linked eval (never part of the reward)."""
        return self.criteria[1:]


METHODS = ("reinforcement", "supervised", "dpo")


def prepare(handle: JobHandle, settings: Settings, store: Store) -> Job:
    """Read the job row, its files and starting model; resolve and pin the hyperparameters."""
    from openrft.inference import registry

    row = handle.row()
    method = dict(row["method"] or {})
    kind = method.get("type") or "supervised"
    if kind not in METHODS:
        raise JobFailed("invalid_method", f"method type {kind!r} is not one of {', '.join(METHODS)}", "method.type")
    spec = dict(method.get(kind) or {})
    blobs = BlobStore(settings.blobs_dir)
    train_rows = data.load_rows(blobs, row["training_file"], param="training_file", method=kind)
    valid_rows = data.load_rows(blobs, row.get("validation_file"), param="validation_file", method=kind)
    grader = spec.get("grader")
    if kind == "reinforcement" and not isinstance(grader, dict):
        raise JobFailed("invalid_grader", "The job has no grader.", "method.reinforcement.grader")
    try:
        resolved = registry.resolve(store, settings, row["project_id"], row["model"])
    except NotFound as exc:
        raise JobFailed("model_not_found", str(exc), "model") from exc
    requested = {k: v for k, v in (spec.get("hyperparameters") or {}).items() if k not in hparams.RETIRED}
    pinned = start_hyperparameters(resolved, requested, kind)
    try:
        if kind == "reinforcement":
            hp: Any = hparams.resolve(pinned, len(train_rows), len(valid_rows), seed=int(row["seed"]))
        else:
            hp = hparams_supervised.resolve(kind, pinned, len(train_rows), len(valid_rows), seed=int(row["seed"]))
    except hparams.HParamsError as exc:
        raise JobFailed("invalid_hyperparameters", str(exc), f"method.{kind}.hyperparameters.{exc.param}") from exc
    handle.update(method={**method, "type": kind, kind: {**spec, "hyperparameters": hp.public()}})
    criteria: list[dict[str, Any]] = []
    if kind == "reinforcement" and row.get("eval_id"):
        with store.begin() as conn:
            found = conn.execute(sa.select(schema.evals.c.testing_criteria).where(schema.evals.c.id == row["eval_id"]))
            criteria = list(found.scalar() or [])
    chained = resolved.kind != "base"
    return Job(
        id=row["id"],
        project_id=row["project_id"],
        base_model=resolved.base_model,
        base_path=resolved.base_path,
        grader=grader if isinstance(grader, dict) else {},
        train_rows=train_rows,
        valid_rows=valid_rows,
        hp=hp,
        fine_tuned_model=fine_tuned_model_id(resolved.base_model, row["project_id"], row.get("suffix"), row["id"]),
        eval_id=row.get("eval_id") if criteria else None,
        criteria=criteria,
        penalty_metrics=spec.get("penalty_metrics"),
        identity=row.get("identity"),
        method=kind,
        parent_model=row["model"] if chained else None,
        parent_adapter=resolved.adapter_path if chained else None,
    )


def start_hyperparameters(resolved: Any, requested: dict[str, Any], kind: str) -> dict[str, Any]:
    """The request's hyperparameters with a chained start's adapter shape: the parent's lora_rank and
    lora_alpha (a LoRA parent), or lora_rank 0 (a parent trained without LoRA). A request naming another
    value is refused: the run continues the parent's weights, it can't reshape them."""
    if resolved.kind == "base":
        return requested
    if resolved.adapter_path is not None:
        config = json.loads((Path(resolved.adapter_path) / "adapter_config.json").read_text())
        shape = {"lora_rank": int(config["r"]), "lora_alpha": int(config["lora_alpha"])}
    else:
        shape = {"lora_rank": 0}
    for name, value in shape.items():
        if name in requested and requested[name] != value:
            why = f"adapter has {name} {value}" if resolved.adapter_path else "weights were trained without LoRA"
            raise JobFailed(
                "invalid_hyperparameters",
                f"{name} is {requested[name]!r} but the job starts from {resolved.id}, whose {why} "
                f"(a chained job continues its parent's weights; leave {name} out)",
                f"method.{kind}.hyperparameters.{name}",
            )
    return {**requested, **shape}
