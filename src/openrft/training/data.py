"""Training data for one job: the rows of its files and the order prompts are visited in.

Rows are checked for the job's method (datasets.py: RFT prompts, supervised conversations, DPO pairs).
The order is a pure function of (seed, epoch): each epoch is a fresh `random.Random(seed, epoch)`
permutation, cut into batches of `batch_size` (the last batch of an epoch may be smaller). So the data
position of a run is just its step number, and a resumed run visits the same prompts as an uninterrupted one.
"""

from __future__ import annotations

import math
import random
from typing import Any

from openrft.datasets import DatasetError, load_file_rows


class DataError(Exception):
    """A training or validation file the trainer can't use; `code` and `param` go into the job's error."""

    def __init__(self, message: str, *, code: str, param: str):
        super().__init__(message)
        self.code = code
        self.param = param


def load_rows(blobs: Any, file_id: str | None, *, param: str, method: str = "reinforcement") -> list[Any]:
    """Rows of a job's file, checked for its `method` (DatasetRow; PreferenceRow for dpo);
    DataError(code=invalid_<param>) when it is missing, malformed or empty."""
    if file_id is None:
        return []
    code = f"invalid_{param}"
    try:
        rows: list[Any] = load_file_rows(blobs, file_id, method)
    except DatasetError as exc:
        raise DataError(f"{param} {file_id}: {exc}", code=code, param=param) from exc
    except (FileNotFoundError, ValueError) as exc:
        raise DataError(f"{param} {file_id} can't be read: {exc}", code=code, param=param) from exc
    if not rows:
        raise DataError(f"{param} {file_id} has no examples", code=code, param=param)
    return rows


def batch_indices(step: int, n_rows: int, batch_size: int, seed: int) -> list[int]:
    """Row indices of optimizer step `step` (0-based): seeded shuffle per epoch, consecutive batches."""
    per_epoch = math.ceil(n_rows / batch_size)
    epoch, position = divmod(step, per_epoch)
    order = list(range(n_rows))
    random.Random(f"{seed}:{epoch}").shuffle(order)
    return order[position * batch_size : (position + 1) * batch_size]
