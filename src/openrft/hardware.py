"""Where models run and what that device does fast: the one place that picks the device.

`device()` is the CUDA GPU torch sees (the current one), else the CPU. The trainer and the serving engine
put their models there; everything below them (rollouts, the fused decoder, the batch scheduler) creates
its tensors on the device of the tensors it is given, so nothing else names a device. To run on the CPU of
a GPU machine, hide its GPUs from torch: `CUDA_VISIBLE_DEVICES= openrft serve`.

`fast_bf16()` decides the bf16 defaults (training precision "auto", serving dtype "auto"): native bf16
matmuls on the device: a CUDA GPU of compute capability 8.0 or newer (Ampere, Hopper, ...), or a CPU with
AMX or AVX512-BF16 that oneDNN can use.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

HOST = "cpu"  # where host-side tensors live whatever the device: RNG states, checkpoint files as read


@functools.cache
def device() -> torch.device:
    """The device models and their tensors live on: the current CUDA GPU when torch sees one, else the CPU."""
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device(HOST)


def fast_bf16(on: torch.device | None = None) -> bool:
    """True when `on` (default: `device()`) has native bf16 matmuls."""
    import torch

    on = on or device()
    if on.type == "cuda":
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    return on.type == HOST and cpu_has_fast_bf16()


@functools.cache
def cpu_has_fast_bf16() -> bool:
    """True when this CPU has native bf16 matrix instructions (AMX or AVX512-BF16) and oneDNN can use them."""
    import torch

    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return torch.backends.mkldnn.is_available() and ("amx_bf16" in flags or "avx512_bf16" in flags)
