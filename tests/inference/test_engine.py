"""The engine below the API: sampling, text release with stop sequences, cancel, adapter LRU, JSON mode."""

from __future__ import annotations

import json
import os
import queue
from pathlib import Path

import pytest
import torch

from openrft.inference.adapters import AdapterSet
from openrft.inference.engine import Delta, Finished, SamplingParams, get_engine
from openrft.inference.registry import ResolvedModel
from openrft.inference.sampling import TextTracker, choose_token
from tests.inference.tiny import build_tiny_adapter, tiny_dirs_fixture  # noqa: F401


class CharTokenizer:
    """Token i is the character chr(ord('a') + i)."""

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        return "".join(chr(ord("a") + i) for i in ids)


def test_text_tracker_holds_back_a_possible_stop_sequence() -> None:
    tracker = TextTracker(CharTokenizer(), stop=("cd",))
    released = []
    for token in [0, 1, 2]:  # "a", "b", "c": "c" may start "cd", so it waits
        delta, stopped = tracker.push(token, None)
        released.append(delta.text if delta else None)
        assert not stopped
    assert released == [None, "a", "b"]
    delta, stopped = tracker.push(3, None)  # "abcd": the stop sequence; nothing after "ab" is released
    assert stopped and (delta is None or delta.text == "")
    tracker2 = TextTracker(CharTokenizer(), stop=("cd",))
    for token in [0, 2, 4]:
        tracker2.push(token, None)
    flushed = tracker2.flush()
    assert flushed is not None and flushed.text == "e"  # "ac" released before, "e" held until the end


def test_choose_token_greedy_top_p_and_logprobs() -> None:
    logits = torch.log(torch.tensor([0.1, 0.6, 0.3]))
    gen = torch.Generator().manual_seed(0)
    token, logprobs = choose_token(logits, SamplingParams(max_tokens=1, temperature=0), gen)
    assert token == 1
    torch.testing.assert_close(logprobs.exp(), torch.tensor([0.1, 0.6, 0.3]))
    # top_p=0.5: only the 0.6 token has less than 0.5 of the mass ranked above it
    picks = {choose_token(logits, SamplingParams(max_tokens=1, top_p=0.5), gen)[0] for _ in range(50)}
    assert picks == {1}
    picks = {choose_token(logits, SamplingParams(max_tokens=1, top_p=0.8), gen)[0] for _ in range(200)}
    assert picks == {1, 2}  # 0.6 + 0.3 reach 0.8; the 0.1 token never appears
    token, _ = choose_token(logits, SamplingParams(max_tokens=1, temperature=0), gen, allowed=[0, 2])
    assert token == 2


@pytest.mark.parametrize(("temperature", "top_p"), [(1e-300, 1.0), (1e-40, 1.0), (1.0, 1.3481695528212756e-97)])
def test_extreme_sampling_values_pick_the_most_likely_token(temperature: float, top_p: float) -> None:
    """The fuzzer's finds: logits / 1e-300 overflow float32 and a top_p that rounds to 0 kept no token."""
    logits = torch.log(torch.tensor([0.1, 0.6, 0.3]))
    gen = torch.Generator().manual_seed(0)
    params = SamplingParams(max_tokens=1, temperature=temperature, top_p=top_p)
    assert {choose_token(logits, params, gen)[0] for _ in range(20)} == {1}


def _run(model: ResolvedModel, params: SamplingParams, prompt: list[int], **kw: object) -> tuple[str, Finished, object]:
    events: queue.Queue[Delta | Finished] = queue.Queue()
    handle = get_engine().submit(model, prompt, params, events.put, **kw)  # type: ignore[arg-type]
    text = ""
    while True:
        ev = events.get(timeout=60)
        if isinstance(ev, Finished):
            return text, ev, handle
        text += ev.text


def test_a_sequence_whose_prefill_fails_ends_with_an_error(tiny_dirs: tuple[Path, Path]) -> None:
    """An empty prompt breaks the first forward pass: the request must end with an error, not hang."""
    model = ResolvedModel("tiny", "base", "tiny", tiny_dirs[0], None)
    _, finished, _ = _run(model, SamplingParams(max_tokens=4, temperature=0), [])
    assert finished.finish_reason == "error" and finished.error
    _, after, _ = _run(model, SamplingParams(max_tokens=3, temperature=0), [5, 6, 7])  # still serving
    assert after.finish_reason in ("stop", "length")


def test_cancel_ends_the_sequence(tiny_dirs: tuple[Path, Path]) -> None:
    model = ResolvedModel("tiny", "base", "tiny", tiny_dirs[0], None)
    events: queue.Queue[Delta | Finished] = queue.Queue()
    handle = get_engine().submit(model, [5, 6, 7], SamplingParams(max_tokens=80, temperature=0), events.put)
    handle.cancel()
    while not isinstance(ev := events.get(timeout=30), Finished):
        pass
    assert ev.finish_reason == "cancelled" and ev.completion_tokens < 80


def test_adapters_are_evicted_least_recently_used(tiny_dirs: tuple[Path, Path], tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    base, first = tiny_dirs
    second = build_tiny_adapter(base, tmp_path / "second", seed=2)
    adapters = AdapterSet(AutoModelForCausalLM.from_pretrained(base), max_loaded=1)
    a = adapters.acquire(first, set())
    assert adapters.acquire(first, set()) == a
    b = adapters.acquire(second, set())
    assert list(adapters.model.peft_config) == [b]  # the older adapter was evicted
    c = adapters.acquire(first, in_use={b})  # b is running: kept, over the limit rather than stalling
    assert set(adapters.model.peft_config) == {b, c}
    weights = second / "adapter_model.safetensors"
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    assert adapters.acquire(second, set()) not in {b, c}  # rewritten in place: loaded afresh


def test_json_schema_constrains_the_output(tiny_dirs: tuple[Path, Path]) -> None:
    model = ResolvedModel("tiny", "base", "tiny", tiny_dirs[0], None)
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    params = SamplingParams(max_tokens=40, temperature=0, json_mode=True)
    text, done, _ = _run(model, params, [5, 6, 7], json_schema=schema)
    assert done.finish_reason == "stop"  # the schema's object closed, so the end token was the only choice
    value = json.loads(text)
    assert list(value) == ["n"] and isinstance(value["n"], int)


def test_seeded_sampling_is_reproducible_alone_and_batched(tiny_dirs: tuple[Path, Path]) -> None:
    model = ResolvedModel("tiny", "base", "tiny", tiny_dirs[0], None)
    params = SamplingParams(max_tokens=10, temperature=1.0, seed=3)
    alone, _, _ = _run(model, params, [5, 6, 7])
    assert _run(model, params, [5, 6, 7])[0] == alone
    # Same seed while other sequences (other lengths) share the batch: each row has its own generator.
    sink: queue.Queue[Delta | Finished] = queue.Queue()
    others = [get_engine().submit(model, [9] * (4 + i), SamplingParams(max_tokens=30), sink.put) for i in range(3)]
    assert _run(model, params, [5, 6, 7])[0] == alone
    for h in others:
        h.cancel()
