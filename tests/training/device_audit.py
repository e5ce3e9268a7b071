"""A check, runnable on a CPU, that the code puts every tensor it makes on the device openrft chose.

On a CPU-only machine the chosen device and torch's default device are both the CPU, so a tensor made
without `device=` would look right. `DeviceGuard` makes the two differ: inside `guard.active()` torch's
default device is `meta` (shapes, no data) while `hardware.device()` is the chosen device. A tensor made
without a device is then a meta tensor, and fails at the first op that mixes it with a real one ("Tensor on
device meta is not on the expected device cpu!") or reads its value; a dispatch mode also records every op
whose output is on another device than the chosen one (`guard.strays`), which catches a stray tensor that
never meets a real one.

Loading or building a model (`from_pretrained`, `get_peft_model`) is third-party code that by torch's
design creates its weights on the default device, and that openrft then moves: `guard.lift(fn)` runs such
a function with the host as default device, unaudited, as it runs in production.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from openrft.hardware import HOST

# Ops whose host outputs a GPU run makes on purpose: copies to the host to read values.
HOST_COPIES = {torch.ops.aten._to_copy.default, torch.ops.aten.copy_.default, torch.ops.aten.lift_fresh.default}


class DeviceGuard:
    def __init__(self, chosen: torch.device):
        self.chosen = chosen
        self.strays: list[str] = []  # "op: device [shape]" of every output off the chosen device
        self._lifted = threading.local()

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """Default device `meta`, every op's outputs checked, in this thread."""
        with torch.device("meta"), _Audit(self):
            yield

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """`fn` run inside `active()` (for code that runs in a thread of its own)."""

        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            with self.active():
                return fn(*args, **kwargs)

        return guarded

    def lift(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """`fn` run with the host as default device and its ops unaudited (model loading and building)."""

        @functools.wraps(fn)
        def lifted(*args: Any, **kwargs: Any) -> Any:
            depth = getattr(self._lifted, "depth", 0)
            self._lifted.depth = depth + 1
            try:
                with torch.device(HOST):
                    return fn(*args, **kwargs)
            finally:
                self._lifted.depth = depth

        return lifted

    def placed(self, tensor: torch.Tensor, op: Any) -> bool:
        if getattr(self._lifted, "depth", 0) or tensor.device == self.chosen:
            return True
        # A GPU run keeps a few tensors on the host by design: 0-dim scalars (AdamW's step counters) and
        # copies made to read values (token ids to decode).
        host = tensor.device.type == HOST and self.chosen.type != HOST
        return host and (tensor.dim() == 0 or op in HOST_COPIES)


class _Audit(TorchDispatchMode):
    def __init__(self, guard: DeviceGuard):
        super().__init__()
        self.guard = guard

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        for leaf in tree_leaves(out):
            if isinstance(leaf, torch.Tensor) and not self.guard.placed(leaf, func):
                self.guard.strays.append(f"{func}: {leaf.device} {list(leaf.shape)}")
        return out
