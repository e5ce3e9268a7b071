"""The eval runner: a thread that claims queued eval runs and executes them in batches.

Runs are queued like jobs (worker.py) and claimed the same way: in one `BEGIN IMMEDIATE` transaction the
oldest `queued` run, or an `in_progress` one whose lease expired (its runner died; a restarted server
resumes it), becomes `in_progress` with a fresh random `lease_owner`, `lease_expires_at = now + lease_s`
and `attempts + 1` (past `settings.max_attempts` it fails for good, code `max_attempts_exceeded`). While
a run executes, a heartbeat thread renews the lease every `heartbeat_s` with a fenced update (`WHERE
lease_owner = me`); every write of the run is fenced the same way, so a runner that lost its lease stops
without writing. Statuses: queued -> in_progress -> completed | failed | canceled.

A run goes batch by batch (BATCH_ITEMS items) through the items of its data source not written yet (a
resumed run skips what its previous attempt wrote):

- `completions`: each item's prompt (datasource.input_messages) goes through the chat path the server's
  /v1/chat/completions uses (inference.completions.prepare_chat: the one chat renderer, the context
  budget, the SamplingParams), the whole batch is submitted to the engine at once (its continuous
  batching runs them together), and the batch is graded when every sequence finished;
- `jsonl`: the supplied samples are graded.

Each batch is graded with criteria.grade_items, its output items written and the run's counts refreshed
(records.py) in one transaction. An item that can't be prompted (a template variable it lacks, a prompt
past the context) or whose generation failed is written with its sample's error, ungraded, and counts
as errored. A cancel (`control = "cancel"`, or the run deleted) is honoured at each batch boundary and
during generation (the batch's sequences are cancelled through their handles, the batch is not written),
so a cancelled run stops within one batch. A run that can't go on (its eval or model gone, its file
gone, a criterion's reward function deleted) ends `failed` with error {"code", "message"} saying why.
Nothing raises out of the thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError

from openrft.context import AppContext
from openrft.errors import InvalidRequest, NotFound, OpenRFTError
from openrft.evals import criteria, datasource, records
from openrft.evals.records import OutputItem
from openrft.graders.errors import GradeError
from openrft.ids import now_s, random_token
from openrft.inference.engine import Delta, Engine, Event, Finished, SequenceHandle
from openrft.polling import PollingThread
from openrft.store import schema

log = logging.getLogger(__name__)

# Items per batch: the engine's batch holds 32 sequences (BatchScheduler.max_batch), so one batch fills it
# once, and a cancel or a crash loses at most this many items' work.
BATCH_ITEMS = 32
# How often a batch's wait for its sequences looks at the cancel flag the heartbeat keeps.
CANCEL_POLL_S = 0.2


@dataclass(frozen=True)
class RunClaim:
    run_id: str
    lease_owner: str
    attempt: int


class RunFailed(Exception):
    """The run can't go on: it ends failed with this error."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.error = {"code": code, "message": message}


class _Stop(Exception):
    """Stop without writing: the lease is lost (another runner owns the run) or this runner is stopping."""


class _Canceled(Exception):
    """The run was cancelled (or deleted): it ends canceled, keeping the batches already written."""


class _Lease:
    """Keeps a claimed run's lease alive from a thread and remembers what the run's row asks for."""

    def __init__(self, worker: EvalWorker, claim: RunClaim):
        self.worker, self.claim = worker, claim
        self.cancel_requested = False
        self.lost = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"{claim.run_id}-lease", daemon=True)

    def __enter__(self) -> _Lease:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=5.0)

    def _beat(self) -> None:
        while not self._done.wait(self.worker.settings.heartbeat_s):
            self.renew()

    def renew(self) -> None:
        """Fenced renewal; reads the run's cancel request (or deletion). A busy database: next beat."""
        runs = schema.eval_runs.c
        try:
            with self.worker.ctx.store.begin_immediate() as conn:
                moved = conn.execute(
                    schema.eval_runs.update()
                    .where(runs.id == self.claim.run_id, runs.lease_owner == self.claim.lease_owner)
                    .values(lease_expires_at=time.time() + self.worker.settings.lease_s)
                )
                if moved.rowcount == 0:
                    self.lost = True
                    return
                row = conn.execute(sa.select(runs.control, runs.deleted_at).where(runs.id == self.claim.run_id)).one()
            self.cancel_requested = row.control == "cancel" or row.deleted_at is not None
        except sa.exc.OperationalError:
            log.warning("eval runner: heartbeat of %s failed; retrying", self.claim.run_id, exc_info=True)

    def check(self) -> None:
        """At a batch boundary: raise _Stop or _Canceled when the run must not go on."""
        self.renew()
        if self.lost or self.worker.stopping:
            raise _Stop()
        if self.cancel_requested:
            raise _Canceled()


class _Batch:
    """The sequences of one batch: text so far and the final event of each, filled from the engine's thread."""

    def __init__(self, size: int):
        self.texts: list[str] = [""] * size
        self.finished: list[Finished | None] = [None] * size
        self._left = size
        self._lock = threading.Lock()
        self._all_done = threading.Event()
        if not size:
            self._all_done.set()

    def sink(self, k: int) -> Callable[[Event], None]:
        def on_event(ev: Event) -> None:
            with self._lock:
                if isinstance(ev, Delta):
                    self.texts[k] += ev.text
                elif self.finished[k] is None:
                    self.finished[k] = ev
                    self._left -= 1
                    if self._left == 0:
                        self._all_done.set()

        return on_event

    def wait(self, timeout_s: float) -> bool:
        return self._all_done.wait(timeout_s)


class EvalWorker(PollingThread):
    """Runs queued eval runs one at a time; `engine_factory` gives the inference engine, made on first need."""

    what = "eval runner"

    def __init__(
        self,
        ctx: AppContext,
        engine_factory: Callable[[], Engine],
        *,
        batch_items: int = BATCH_ITEMS,
        worker_id: str | None = None,
    ):
        self.ctx = ctx
        self.settings = ctx.settings
        self.engine_factory = engine_factory
        self.batch_items = batch_items
        self.worker_id = worker_id or f"evals-{os.getpid()}-{random_token(6)}"
        super().__init__()

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop after the current batch's sequences are cancelled; the run goes back to the queue."""
        super().stop(timeout_s)

    def run_once(self) -> bool:
        """Claim one run and execute it to its end; False when there was nothing to do."""
        claim = self.claim()
        if claim is None:
            return False
        log.info("eval runner %s: run %s attempt %d", self.worker_id, claim.run_id, claim.attempt)
        with _Lease(self, claim) as lease:
            try:
                self._execute(claim, lease)
                self._end(claim, "completed")
            except _Canceled:
                self._end(claim, "canceled")
            except RunFailed as exc:
                self._end(claim, "failed", error=exc.error)
            except _Stop:
                if not lease.lost:
                    self._release(claim)
            except Exception as exc:  # a bug or a lost database: the run fails with the reason, the thread goes on
                log.exception("eval run %s failed", claim.run_id)
                self._end(claim, "failed", error={"code": "runner_error", "message": f"{type(exc).__name__}: {exc}"})
        return True

    # -- queue -------------------------------------------------------------------------------------

    def claim(self) -> RunClaim | None:
        """Take the oldest queued run, or an in_progress one whose lease expired (its runner died)."""
        runs = schema.eval_runs.c
        now = time.time()
        with self.ctx.store.begin_immediate() as conn:
            while True:
                row = conn.execute(
                    sa.select(runs.id, runs.attempts, runs.control)
                    .where(
                        runs.deleted_at.is_(None),
                        sa.or_(
                            runs.status == "queued",
                            sa.and_(
                                runs.status == "in_progress",
                                sa.or_(runs.lease_expires_at < now, runs.lease_expires_at.is_(None)),
                            ),
                        ),
                    )
                    .order_by(runs.created_at, runs.id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                ).first()
                if row is None:
                    return None
                attempt = (row.attempts or 0) + 1
                if row.control == "cancel":  # cancelled while no runner held it
                    _settle(conn, row.id, "canceled")
                    continue
                if attempt > self.settings.max_attempts:
                    message = f"the run was started {attempt - 1} times without finishing; giving up"
                    _settle(conn, row.id, "failed", error={"code": "max_attempts_exceeded", "message": message})
                    continue
                owner = random_token(24)
                conn.execute(
                    schema.eval_runs.update()
                    .where(runs.id == row.id)
                    .values(
                        status="in_progress",
                        lease_owner=owner,
                        lease_expires_at=now + self.settings.lease_s,
                        attempts=attempt,
                        started_at=sa.func.coalesce(runs.started_at, now_s()),
                    )
                )
                return RunClaim(row.id, owner, attempt)

    def _end(self, claim: RunClaim, status: str, *, error: dict[str, str] | None = None) -> None:
        """Fenced end of the run; a runner that lost the lease changes nothing."""
        with self.ctx.store.begin_immediate() as conn:
            _settle(conn, claim.run_id, status, error=error, lease_owner=claim.lease_owner)

    def _release(self, claim: RunClaim) -> None:
        """This runner is stopping: the run goes back to the queue, its attempt given back."""
        runs = schema.eval_runs.c
        with self.ctx.store.begin_immediate() as conn:
            conn.execute(
                schema.eval_runs.update()
                .where(runs.id == claim.run_id, runs.lease_owner == claim.lease_owner)
                .values(status="queued", lease_owner=None, lease_expires_at=None, attempts=runs.attempts - 1)
            )

    # -- one run -----------------------------------------------------------------------------------

    def _execute(self, claim: RunClaim, lease: _Lease) -> None:
        run, testing_criteria = self._load(claim.run_id)
        project_id, source = run["project_id"], run["data_source"]
        try:
            items = datasource.load_items(self.ctx, project_id, source)
        except OpenRFTError as exc:
            raise RunFailed("data_source_unavailable", exc.message) from None
        with self.ctx.store.begin() as conn:
            done = records.written_item_ids(conn, claim.run_id)
        todo = [i for i in range(len(items)) if i not in done]
        grading = self._grading_context(project_id)
        for start in range(0, len(todo), self.batch_items):
            lease.check()
            _check_functions(self.ctx, project_id, testing_criteria)
            batch = todo[start : start + self.batch_items]
            if source["type"] == "completions":
                graded = self._completions(run, items, batch, testing_criteria, grading, lease)
            else:
                graded = self._supplied(items, batch, testing_criteria, grading)
            self._write(claim, run, graded)

    def _load(self, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        runs, evals = schema.eval_runs, schema.evals
        with self.ctx.store.begin() as conn:
            run = conn.execute(sa.select(runs).where(runs.c.id == run_id)).mappings().one()
            ev = conn.execute(
                sa.select(evals.c.testing_criteria).where(evals.c.id == run["eval_id"], evals.c.deleted_at.is_(None))
            ).first()
        if ev is None:
            raise RunFailed("eval_not_found", f"the eval {run['eval_id']} of this run was deleted")
        return dict(run), list(ev.testing_criteria)

    def _grading_context(self, project_id: str) -> Any:
        from openrft.graders import GradingContext

        return GradingContext(
            project_id=project_id,
            settings=self.settings,
            store=self.ctx.store,
            blobs=self.ctx.blobs,
            python_timeout_s=self.settings.python_grader_timeout_s,
        )

    def _write(self, claim: RunClaim, run: dict[str, Any], items: list[OutputItem]) -> None:
        runs = schema.eval_runs.c
        with self.ctx.store.begin_immediate() as conn:
            row = conn.execute(sa.select(runs.lease_owner, runs.deleted_at).where(runs.id == claim.run_id)).one()
            if row.lease_owner != claim.lease_owner:
                raise _Stop()
            if row.deleted_at is not None:  # its items were deleted with it: write none back
                raise _Canceled()
            records.insert_output_items(conn, run_id=claim.run_id, eval_id=run["eval_id"], items=items)
            records.refresh_counts(conn, claim.run_id)

    # -- grading a batch ---------------------------------------------------------------------------

    def _supplied(
        self, items: list[dict[str, Any]], batch: list[int], testing_criteria: list[dict[str, Any]], grading: Any
    ) -> list[OutputItem]:
        """A jsonl batch: the rows' own samples, graded."""
        samples, messages = [], []
        for i in batch:
            supplied = items[i].get("sample") or {}
            samples.append(datasource.grader_sample(supplied))
            messages.append(list(supplied.get("input") or []))
        graded = _grade(testing_criteria, samples, [items[i]["item"] for i in batch], grading, messages)
        out = []
        for i, smp, msgs, (results, passed) in zip(batch, samples, messages, graded, strict=True):
            supplied = items[i].get("sample") or {}
            usage = supplied.get("usage") or {}
            sample = records.build_sample(
                messages=msgs,
                text=smp.output_text,
                model=supplied.get("model"),
                prompt_tokens=int(usage.get("prompt_tokens") or 0),
                completion_tokens=int(usage.get("completion_tokens") or 0),
                finish_reason=supplied.get("finish_reason"),
                sampling=supplied,
            )
            out.append(OutputItem(i, items[i]["item"], results, sample, passed))
        return out

    def _completions(
        self,
        run: dict[str, Any],
        items: list[dict[str, Any]],
        batch: list[int],
        testing_criteria: list[dict[str, Any]],
        grading: Any,
        lease: _Lease,
    ) -> list[OutputItem]:
        """A completions batch: every item's prompt submitted at once, graded when all finished."""
        from openrft.graders import Sample
        from openrft.inference import completions
        from openrft.inference.registry import resolve
        from openrft.inference.schemas import ChatCompletionCreate

        source, project_id = run["data_source"], run["project_id"]
        model_id = str(run["model"] or source["model"])
        try:
            resolve(self.ctx.store, self.settings, project_id, model_id)
        except NotFound as exc:
            raise RunFailed("model_not_found", exc.message) from None
        engine = self.engine_factory()
        sampling = source.get("sampling_params") or {}
        ready: list[tuple[int, list[dict[str, Any]], completions.Prepared]] = []
        out: dict[int, OutputItem] = {}
        for i in batch:
            messages: list[dict[str, Any]] = []
            try:
                messages = datasource.input_messages(source, items[i]["item"])
                body = {"model": model_id, "messages": messages, **sampling}
                request = ChatCompletionCreate.model_validate(body)
                ready.append((i, messages, completions.prepare_chat(self.ctx, engine, project_id, request)))
            except NotFound as exc:  # the model went away between the batch's check and this item
                raise RunFailed("model_not_found", exc.message) from None
            except (GradeError, InvalidRequest, ValidationError) as exc:
                out[i] = _unprompted(i, items[i]["item"], messages, model_id, sampling, _error_of(exc))
        texts, finished = self._generate(engine, [prep for _, _, prep in ready], lease)
        graded_at: list[int] = []
        samples: list[Any] = []
        for (i, messages, prep), text, fin in zip(ready, texts, finished, strict=True):
            params = prep.params[0]
            used = {"max_completion_tokens": params.max_tokens, "seed": params.seed, "temperature": params.temperature,
                    "top_p": params.top_p}  # fmt: skip
            error = {"code": "generation_failed", "message": fin.error or "generation failed"}
            failed = fin.finish_reason == "error"
            sample = records.build_sample(
                messages=messages,
                text=None if failed else text,
                model=model_id,
                prompt_tokens=fin.prompt_tokens,
                completion_tokens=fin.completion_tokens,
                finish_reason=fin.finish_reason,
                sampling=used,
                error=error if failed else None,
            )
            out[i] = OutputItem(i, items[i]["item"], [], sample, False)
            if not failed:
                graded_at.append(i)
                samples.append(Sample.from_completion(text))
        prompts = {i: messages for i, messages, _ in ready}
        graded = _grade(testing_criteria, samples, [items[i]["item"] for i in graded_at], grading,
                        [prompts[i] for i in graded_at])  # fmt: skip
        for i, (results, passed) in zip(graded_at, graded, strict=True):
            out[i] = OutputItem(i, out[i].datasource_item, results, out[i].sample, passed)
        return [out[i] for i in batch]

    def _generate(self, engine: Engine, prepared: list[Any], lease: _Lease) -> tuple[list[str], list[Finished]]:
        """Submit every prepared prompt at once; wait for all (cancelling them all on a cancel or a stop)."""
        batch = _Batch(len(prepared))
        handles: list[SequenceHandle] = []
        try:
            for k, prep in enumerate(prepared):
                handles.append(
                    engine.submit(
                        prep.model, prep.prompts[0], prep.params[0], batch.sink(k), json_schema=prep.json_schema
                    )
                )
            while not batch.wait(CANCEL_POLL_S):
                if lease.lost or self.stopping:
                    raise _Stop()
                if lease.cancel_requested:
                    raise _Canceled()
        finally:
            if not batch.wait(0):
                for handle in handles:
                    handle.cancel()
        return batch.texts, [f for f in batch.finished if f is not None]


def _grade(
    testing_criteria: list[dict[str, Any]],
    samples: list[Any],
    items: list[dict[str, Any]],
    grading: Any,
    messages: list[list[dict[str, Any]]],
) -> list[tuple[list[dict[str, Any]], bool]]:
    if not samples:
        return []
    return criteria.grade_items(testing_criteria, samples, items, grading, messages)


def _check_functions(ctx: AppContext, project_id: str, testing_criteria: list[dict[str, Any]]) -> None:
    """Every reward function a criterion names still exists in the project, else the run can't go on.

    (grade_items would error every item instead; a run whose grader is gone fails, saying which.)
    """
    from openrft.functions.arn import is_aws_arn
    from openrft.functions.package import REGISTRY_ERRORS
    from openrft.functions.registry import get_version, split_ref
    from openrft.graders.validate import lambda_functions

    for index, criterion in enumerate(testing_criteria):
        param = f"testing_criteria[{index}]"
        try:
            targets = lambda_functions(criteria.typed(criterion), param)
        except (InvalidRequest, ValidationError) as exc:
            raise RunFailed("grader_unavailable", f"{param} ({criterion.get('name')}) can't run: {exc}") from None
        for where, ref in targets:
            if ref.startswith("arn:") and is_aws_arn(ref, project_id):
                continue  # an AWS Lambda: reachable or not, each call says so per item
            try:
                get_version(ctx.store, project_id, *split_ref(project_id, ref))
            except REGISTRY_ERRORS as exc:
                raise RunFailed(
                    "grader_unavailable", f"{where}: the reward function {ref!r} can't be called: {exc.message}"
                ) from None


def _error_of(exc: Exception) -> dict[str, str]:
    if isinstance(exc, GradeError):
        return {"code": exc.family, "message": exc.details}
    if isinstance(exc, OpenRFTError):
        return {"code": exc.code or "invalid_request", "message": exc.message}
    return {"code": "invalid_request", "message": str(exc)}


def _unprompted(
    index: int,
    item: dict[str, Any],
    messages: list[dict[str, Any]],
    model_id: str,
    sampling: dict[str, Any],
    error: dict[str, str],
) -> OutputItem:
    """An item the model never saw (its prompt could not be built or was refused): errored, ungraded."""
    sample = records.build_sample(messages=messages, text=None, model=model_id, sampling=sampling, error=error)
    return OutputItem(index, item, [], sample, False)


def _settle(
    conn: sa.Connection,
    run_id: str,
    status: str,
    *,
    error: dict[str, str] | None = None,
    lease_owner: str | None = None,
) -> None:
    """A final status: lease and control cleared, finished_at set (fenced on `lease_owner` when given)."""
    runs = schema.eval_runs.c
    where = [runs.id == run_id] + ([runs.lease_owner == lease_owner] if lease_owner is not None else [])
    conn.execute(
        schema.eval_runs.update()
        .where(*where)
        .values(
            status=status,
            error=error,
            lease_owner=None,
            lease_expires_at=None,
            control=None,
            finished_at=now_s(),
        )
    )
