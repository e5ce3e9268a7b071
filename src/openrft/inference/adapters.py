"""Many LoRA adapters on one shared base model, loaded on first use and evicted least-recently-used.

The base is wrapped in a `PeftModel` the first time an adapter is needed; further adapters join it with
`load_adapter`. A batch mixing adapters runs in one forward pass through PEFT's mixed-batch inference
(`adapter_names=[...]` per row, `"__base__"` for rows without an adapter). Adapters in use by a running
sequence are never evicted. Adapter weights are read straight onto the base model's device (PEFT would
otherwise pick a device of its own: the GPU whenever one is visible).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

BASE = "__base__"


class AdapterSet:
    """Adapter folders -> PEFT adapter names on one model; used only from the scheduler thread."""

    def __init__(self, model: Any, max_loaded: int = 8):
        self.model = model  # the base model, replaced by a PeftModel wrapping it on first load
        self.max_loaded = max_loaded
        self._names: OrderedDict[str, str] = OrderedDict()  # adapter folder -> adapter name, LRU order
        self._count = 0

    @property
    def has_adapters(self) -> bool:
        return bool(self._names)

    def acquire(self, path: Path | None, in_use: set[str]) -> str:
        """The adapter name serving `path` (loading it if needed); BASE for the plain base model."""
        if path is None:
            return BASE
        key = _version_key(path)
        if key in self._names:
            self._names.move_to_end(key)
            return self._names[key]
        self._count += 1
        name = f"adapter{self._count}"  # PEFT names become module keys: no dots or colons
        from peft import PeftModel

        device = str(self.model.device)
        if isinstance(self.model, PeftModel):
            self.model.load_adapter(str(path), adapter_name=name, torch_device=device)
        else:
            self.model = PeftModel.from_pretrained(self.model, str(path), adapter_name=name, torch_device=device)
        self.model.eval()
        self._names[key] = name
        self._evict(in_use | {name})
        log.info("loaded adapter %s as %s (%d loaded)", key, name, len(self._names))
        return name

    def _evict(self, in_use: set[str]) -> None:
        while len(self._names) > self.max_loaded:
            victim = next((k for k, n in self._names.items() if n not in in_use), None)
            if victim is None:
                return  # every loaded adapter is running; go over the limit rather than stall
            self._drop(victim)

    def forget(self, path: Path, in_use: set[str]) -> None:
        for key in [k for k in self._names if k.startswith(f"{path}|")]:
            # PEFT keeps at least one adapter on a wrapped model; the last one stays until replaced.
            if self._names[key] not in in_use and len(self._names) > 1:
                self._drop(key)

    def _drop(self, key: str) -> None:
        name = self._names.pop(key)
        self.model.delete_adapter(name)
        log.info("evicted adapter %s (%s)", key, name)

    def forward_kwargs(self, names: list[str]) -> dict[str, Any]:
        """Extra forward() arguments routing each batch row to its adapter."""
        from peft import PeftModel

        if not isinstance(self.model, PeftModel):
            return {}
        return {"adapter_names": names}


def _version_key(path: Path) -> str:
    """Folder plus the weights' modification time: an adapter rewritten in place is loaded afresh."""
    candidates = [path / "adapter_model.safetensors", path / "adapter_model.bin", path / "adapter_config.json"]
    weights = next((p for p in candidates if p.exists()), path)
    return f"{path}|{weights.stat().st_mtime_ns}"
