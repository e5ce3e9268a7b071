"""Entry point of a training process: `python -m openrft.training.run JOB_ID LEASE_OWNER`.

The worker (openrft.worker) claims a job and spawns this with the same OPENRFT_* environment. The
process opens the store, runs the trainer to an end state and exits 0 after `JobHandle.finish(...)`.

Failure modes and what the job shows:
- bad data (missing, malformed or empty file) -> failed, code invalid_training_file / invalid_validation_file
- grader failing on > 50% of a step's samples two steps in a row -> failed, code grader_error_rate
- out of memory (CUDA or CPU) -> failed, code out_of_memory
- an invalid method type, grader, hyperparameter or starting model -> failed, code invalid_grader / grader_error /
  invalid_hyperparameters / invalid_model / model_not_found
- anything else (a bug, a kill -9) -> non-zero exit; the worker re-queues the job and the next attempt
  resumes from the newest checkpoint.
- LeaseLost (another worker owns the job now) -> exit 75 at once, writing nothing.

Orphan guard: the worker also asks Linux to SIGKILL this process when it dies (PR_SET_PDEATHSIG); as a
second guard `watch_parent()` polls `os.getppid()` in a daemon thread and exits when the parent changes
(the worker died and we were re-parented), so an orphan never keeps training on a job it no longer owns.
"""

from __future__ import annotations

import logging
import sys

import torch

from openrft.jobstate import JobHandle, LeaseLost, watch_parent
from openrft.settings import Settings
from openrft.store.db import Store
from openrft.training import data, supervised, trainer
from openrft.training.job import JobFailed, prepare

EXIT_LEASE_LOST = 75

log = logging.getLogger("openrft.training")


def run_job(handle: JobHandle, settings: Settings, store: Store) -> str:
    """Prepare and train one job, mapping every expected failure to a failed job; returns the end status."""
    error: dict | None = None
    try:
        job = prepare(handle, settings, store)
        if job.method == "reinforcement":
            return trainer.train(handle, settings, store, job)
        return supervised.train(handle, settings, store, job)
    except JobFailed as exc:
        error = exc.error
    except data.DataError as exc:
        error = {"code": exc.code, "message": str(exc), "param": exc.param}
    except (torch.OutOfMemoryError, MemoryError) as exc:
        error = {"code": "out_of_memory", "message": f"The trainer ran out of memory: {exc}"[:1000], "param": None}
    handle.finish("failed", error=error)
    return "failed"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m openrft.training.run JOB_ID LEASE_OWNER", file=sys.stderr)
        return 2
    job_id, lease_owner = args
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    watch_parent()
    settings = Settings()
    store = Store.from_settings(settings)
    try:
        status = run_job(JobHandle(store, job_id, lease_owner), settings, store)
    except LeaseLost as exc:
        log.warning("stopping: %s", exc)
        return EXIT_LEASE_LOST
    finally:
        store.dispose()
    log.info("job %s finished: %s", job_id, status)
    return 0


if __name__ == "__main__":
    sys.exit(main())
