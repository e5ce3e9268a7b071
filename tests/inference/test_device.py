"""Device-agnostic serving: the engine's scheduler makes every tensor on the device openrft chose.

`DeviceGuard` (tests/training/device_audit.py) runs each turn of the scheduler's thread with torch's default
device set to `meta` while the chosen device is the CPU (and CUDA too on a machine with a GPU): a tensor
the prefill, decoding, batch merge or retire makes without a device fails the sequence (finish reason
"error") or is recorded as a stray.
"""

from __future__ import annotations

import queue
from pathlib import Path

import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

from openrft import hardware
from openrft.inference.batching import BatchScheduler
from openrft.inference.engine import Delta, Finished, SamplingParams
from openrft.inference.hf_engine import HFEngine
from openrft.inference.registry import ResolvedModel
from tests.inference.tiny import tiny_dirs_fixture  # noqa: F401
from tests.training.device_audit import DeviceGuard

DEVICES = [torch.device(hardware.HOST)] + ([torch.device("cuda", 0)] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("chosen", DEVICES, ids=str)
def test_serving_makes_every_tensor_on_the_chosen_device(
    chosen: torch.device, tiny_dirs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    guard = DeviceGuard(chosen)
    monkeypatch.setattr(hardware, "device", lambda: chosen)
    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", guard.lift(AutoModelForCausalLM.from_pretrained))
    monkeypatch.setattr(PeftModel, "from_pretrained", guard.lift(PeftModel.from_pretrained))
    monkeypatch.setattr(PeftModel, "load_adapter", guard.lift(PeftModel.load_adapter))
    monkeypatch.setattr(BatchScheduler, "_turn", guard.wrap(BatchScheduler._turn))
    base_path, adapter_path = tiny_dirs
    base = ResolvedModel("tiny", "base", "tiny", base_path, None)
    tuned = ResolvedModel("tiny-ft", "fine_tuned", "tiny", base_path, adapter_path)
    engine = HFEngine(dtype="float32")
    events: queue.Queue[tuple[int, Delta | Finished]] = queue.Queue()
    requests = [  # prompts of different lengths (left padding), sampling and greedy, logprobs, an adapter, JSON
        (base, [5, 6, 7], SamplingParams(max_tokens=24, temperature=0.0)),
        (base, [9] * 9, SamplingParams(max_tokens=4, temperature=1.0, seed=1, top_p=0.9)),
        (base, [5, 6, 7, 8], SamplingParams(max_tokens=6, temperature=0.0, logprobs=True, top_logprobs=2)),
        (tuned, [5, 6], SamplingParams(max_tokens=8, temperature=1.0, seed=2)),
        (base, [5, 6, 7, 8, 9], SamplingParams(max_tokens=12, temperature=0.0, json_mode=True)),
    ]
    done: dict[int, Finished] = {}
    try:
        assert engine.device == chosen
        for i, (model, prompt, params) in enumerate(requests):
            engine.submit(model, prompt, params, lambda ev, i=i: events.put((i, ev)))
            while i == 0:  # the others join a running batch: KV caches merged, then rows retired as they end
                j, ev = events.get(timeout=60)
                if isinstance(ev, Finished):
                    done[j] = ev
                break
        while len(done) < len(requests):
            i, ev = events.get(timeout=60)
            if isinstance(ev, Finished):
                done[i] = ev
    finally:
        engine.close()
    assert {i: (d.finish_reason, d.error) for i, d in done.items() if d.finish_reason == "error"} == {}
    assert all(d.completion_tokens > 0 for d in done.values())
    assert guard.strays == []
