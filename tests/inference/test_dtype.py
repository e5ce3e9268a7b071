"""The serving dtype: "auto" follows the device's native bf16, and a wrong value is refused where it is set."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from openrft import hardware
from openrft.inference.hf_engine import resolve_dtype
from openrft.settings import Settings


@pytest.mark.parametrize("native", [True, False])
def test_auto_is_bf16_exactly_where_the_cpu_has_native_bf16(monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    # On a CPU (also where a GPU is visible: the device is named); tests/training/test_device.py covers CUDA.
    monkeypatch.setattr(hardware, "device", lambda: torch.device(hardware.HOST))
    monkeypatch.setattr(hardware, "cpu_has_fast_bf16", lambda: native)
    assert resolve_dtype("auto") == ("bfloat16" if native else "float32")
    assert resolve_dtype("float32") == "float32" and resolve_dtype("bfloat16") == "bfloat16"


def test_a_wrong_dtype_is_an_error_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENRFT_INFERENCE_DTYPE", "float16")
    with pytest.raises(ValidationError, match="inference_dtype"):
        Settings()
    with pytest.raises(ValueError, match="must be auto or one of"):
        resolve_dtype("float16")
