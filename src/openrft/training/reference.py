"""The reference policy of a LoRA run, switched on in place: the starting model, without a second copy.

A run started from a base model: the base is the PEFT model with its adapter disabled. A run chained on
a LoRA model (training/job.py): the parent's adapter is loaded twice, as the trained adapter ("default")
and frozen as REFERENCE_ADAPTER; the reference is the model with that adapter active. RFT's KL term and
its kl_eval use it (trainer.py, validation.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from peft import PeftModel

REFERENCE_ADAPTER = "reference"


@contextlib.contextmanager
def reference_mode(model: Any) -> Iterator[None]:
    """Inside the block `model` computes the reference policy: the parent's adapter (a chained start) or
    no adapter (the base). The trained adapter is active and trainable again after it."""
    assert isinstance(model, PeftModel)
    if REFERENCE_ADAPTER not in model.peft_config:
        with model.disable_adapter():
            yield
        return
    active = model.active_adapter
    model.set_adapter(REFERENCE_ADAPTER, inference_mode=True)
    try:
        yield
    finally:
        model.set_adapter(active)
