"""What this machine's CPU can do fast, for the defaults that depend on it (training precision, serving dtype)."""

from __future__ import annotations

import functools
from pathlib import Path


@functools.cache
def cpu_has_fast_bf16() -> bool:
    """True when this CPU has native bf16 matrix instructions (AMX or AVX512-BF16) and oneDNN can use them."""
    import torch

    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return torch.backends.mkldnn.is_available() and ("amx_bf16" in flags or "avx512_bf16" in flags)
