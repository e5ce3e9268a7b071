"""The reward-hacking monitor and early stopping inside a job: what each step tells them, what they say back.

Each step the trainer builds a `StepRecord` (training/monitor.py) from what it measured: the rollout signals
of the step's texts (training/signals.py), its reward, response length, entropy and share of zero-variance
groups, the reward's components and penalties, and on evaluation steps the validation reward, the guard
graders' scores and the KL to the base model. `Monitor.observe` gives the findings that fire; each becomes a
`warn` job event naming the signal, its numbers, the fix and the ids of the step's stored samples with the
highest reward (training/samples.py), where a reader should look first. With hyperparameter
`on_reward_hacking` "pause" the job then checkpoints and pauses, as a user's pause does.

Components and penalties, from each completion's parts (a multi grader's sub-grader scores, a lambda's
metrics_list values), averaged over the step's completions that have them:
- penalties (harm measures, higher is worse): the names in method.reinforcement.penalty_metrics when the job
  declares it, else every metrics_list entry of type "Metric";
- components: every other part, except entries of type "Metric" (measures beside the reward, not of it).

Resume: the monitor and the early-stopping count are rebuilt from the job's metrics events up to the step
resumed from. Each metrics event carries its StepRecord (key "signals") and every detector's value (key
"reward_hacking"); replaying them re-creates the same history and warning episodes (findings of the replay
are not written again: they were, the first time).

Early stopping (`early_stopping_patience` N > 0): after N evaluations in a row without a new best validation
reward the job stops and succeeds with the best evaluation's checkpoint as its fine-tuned model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from openrft.jobstate import JobHandle
from openrft.store import schema
from openrft.training import checkpoints, samples, signals
from openrft.training.metrics import StepStats
from openrft.training.monitor import Finding, Monitor, StepRecord
from openrft.training.validation import Validation

METRIC_TYPE = "Metric"  # a metrics_list entry measured beside the reward (Bedrock's "Reward" entries make it up)


def parts(graded: Any, penalty_metrics: list[str] | None) -> tuple[dict[str, float], dict[str, float]]:
    """(components, penalties) of a step: means over the completions that report each part (module docstring)."""
    types = graded.metric_types
    declared = set(penalty_metrics) if penalty_metrics is not None else None
    values: dict[str, list[float]] = {}
    for outcome in graded.outcomes:
        for name, value in samples.components(outcome).items():
            values.setdefault(name, []).append(value)
    means = {name: sum(v) / len(v) for name, v in values.items()}
    penalties = {
        n: m for n, m in means.items() if (n in declared if declared is not None else types.get(n) == METRIC_TYPE)
    }
    components = {n: m for n, m in means.items() if n not in penalties and types.get(n) != METRIC_TYPE}
    return components, penalties


def step_record(
    step: int,
    texts: list[str],
    group_size: int,
    stats: StepStats,
    graded: Any,
    penalty_metrics: list[str] | None,
    validation: Validation | None,
    truncated_share: float = 0.0,
) -> StepRecord:
    components, penalties = parts(graded, penalty_metrics)
    return StepRecord(
        step=step,
        train_reward=stats.reward_mean,
        response_length=stats.response_length_mean,
        entropy=stats.entropy,
        frac_zero_std=stats.frac_reward_zero_std,
        **signals.rollout_signals(texts, group_size),
        truncated_share=truncated_share,
        components=components,
        penalties=penalties,
        valid_reward=validation.reward if validation else None,
        guards=dict(validation.guards) if validation else {},
        kl_eval=validation.kl_eval if validation else None,
    )


def record_data(record: StepRecord) -> dict[str, Any]:
    """The StepRecord as the metrics event's "signals" (its step is the event's)."""
    return {k: v for k, v in asdict(record).items() if k != "step"}


def report(handle: JobHandle, findings: list[Finding], sample_ids: list[str]) -> None:
    """One warn event per finding: the signal, its message and numbers, the fix, samples to read."""
    for f in findings:
        look = f" Samples to read: {', '.join(sample_ids)}." if sample_ids else ""
        handle.event(
            f"Reward hacking signal {f.signal}: {f.message}" + (f" Fix: {f.fix}" if f.fix else "") + look,
            level="warn",
            data={
                "signal": f.signal,
                "step": int(f.values["step"]),
                "values": f.values,
                "fix": f.fix,
                "sample_ids": sample_ids,
            },
        )


@dataclass
class EarlyStop:
    """Evaluations since the best validation reward; stop when they reach the patience (0: never)."""

    patience: int
    best: float | None = None
    best_step: int | None = None
    since_best: int = 0

    def observe(self, step: int, valid_reward: float) -> bool:
        """Count one evaluation; True when the job should stop now."""
        if self.best is None or valid_reward > self.best:
            self.best, self.best_step, self.since_best = valid_reward, step, 0
        else:
            self.since_best += 1
        return self.patience > 0 and self.since_best >= self.patience


def stop_early(handle: JobHandle, model: Any, optimizer: Any, early: EarlyStop, step: int) -> None:
    """Early stopping: say why, and load the best evaluation's checkpoint into `model` to finish with."""
    best = next((c for c in handle.checkpoints() if c["step_number"] == early.best_step), None)
    if best is not None and early.best_step != step:
        checkpoints.load(Path(best["path"]), model, optimizer)
    kept = f"step {early.best_step}'s checkpoint" if best is not None else f"the last step's (step {step}) weights"
    handle.event(
        f"Early stopping at step {step}: the validation reward has not improved on {early.best:.3f} (step "
        f"{early.best_step}) for {early.patience} evaluation(s); the fine-tuned model is {kept}",
        data={"best_step": early.best_step, "best_valid_reward_mean": early.best, "stopped_at_step": step},
    )


def rebuild(handle: JobHandle, upto_step: int, monitor: Monitor, early: EarlyStop) -> None:
    """Feed `monitor` and `early` the job's metrics events of steps 1..upto_step (the first event of each step)."""
    if upto_step <= 0:
        return
    e = schema.job_events.c
    query = sa.select(e.data).where(e.job_id == handle.job_id, e.type == "metrics").order_by(e.seq)
    with handle.store.begin() as conn:
        events = [row.data for row in conn.execute(query) if isinstance(row.data, dict)]
    known = {f.name for f in fields(StepRecord)} - {"step"}
    seen: set[int] = set()
    for data in events:
        step = data.get("step")
        if not isinstance(step, int) or step > upto_step or step in seen:
            continue
        seen.add(step)
        if isinstance(data.get("signals"), dict):
            monitor.observe(StepRecord(step=step, **{k: v for k, v in data["signals"].items() if k in known}))
        valid = (data.get("scores") or {}).get("valid_reward_mean")
        if isinstance(valid, int | float):
            early.observe(step, float(valid))
