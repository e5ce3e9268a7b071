"""The serving dtype: "auto" follows the CPU, and a wrong value is refused where it is set."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from openrft.hardware import cpu_has_fast_bf16
from openrft.inference.hf_engine import resolve_dtype
from openrft.settings import Settings


def test_auto_is_bf16_exactly_where_the_cpu_has_native_bf16() -> None:
    assert resolve_dtype("auto") == ("bfloat16" if cpu_has_fast_bf16() else "float32")
    assert resolve_dtype("float32") == "float32" and resolve_dtype("bfloat16") == "bfloat16"


def test_a_wrong_dtype_is_an_error_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENRFT_INFERENCE_DTYPE", "float16")
    with pytest.raises(ValidationError, match="inference_dtype"):
        Settings()
    with pytest.raises(ValueError, match="must be auto or one of"):
        resolve_dtype("float16")
