"""Device-agnostic training: one place picks the device, models go there, every tensor of a step is made there.

The tensor checks run on a CPU with `DeviceGuard` (tests/training/device_audit.py): torch's default device
is `meta` while openrft's chosen device is the CPU, so a tensor made without a device fails the run or is
recorded as a stray. Model placement is checked with `meta` as the chosen device. On a machine with a GPU
the tensor checks also run with CUDA as the chosen device.
"""

from __future__ import annotations

import ast
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from openrft import hardware
from openrft.inference import hf_engine
from openrft.jobstate import JobHandle
from openrft.settings import Settings
from openrft.store.db import Store
from openrft.training import checkpoints, hparams, precision, rollout, trainer
from openrft.training.checkpoints import TrainState
from openrft.training.decoder import LlamaDecoder
from openrft.training.run import run_job
from tests.training.conftest import TINY_HP, JobFactory
from tests.training.device_audit import DeviceGuard

SRC = Path(__file__).resolve().parents[2] / "src" / "openrft"
DEVICES = [torch.device(hardware.HOST)] + ([torch.device("cuda", 0)] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES, ids=str)
def guard(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> DeviceGuard:
    """`request.param` as openrft's device, named explicitly (whatever this machine has), model loading lifted."""
    chosen: torch.device = request.param
    guard = DeviceGuard(chosen)
    monkeypatch.setattr(hardware, "device", lambda: chosen)
    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", guard.lift(AutoModelForCausalLM.from_pretrained))
    monkeypatch.setattr(trainer, "get_peft_model", guard.lift(trainer.get_peft_model))
    # torch's own host scalar: with no gradient at all (every advantage 0) the norm is torch.tensor(0.0)
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", guard.lift(torch.nn.utils.clip_grad_norm_))
    return guard


class PauseAfterStep(JobHandle):
    """Asks the running job to pause once step `step` has reported, as the API would."""

    def __init__(self, handle: JobHandle, factory: JobFactory, step: int):
        super().__init__(handle.store, handle.job_id, handle.lease_owner)
        self.factory, self.step = factory, step

    def event(self, message: str, **kw: Any) -> str:
        out = super().event(message, **kw)
        if kw.get("type") == "metrics" and kw["data"]["step"] == self.step:
            self.factory.set_control(self.job_id, "pause")
        return out


@pytest.mark.parametrize(
    "extra",
    [
        {"precision": "bf16"},  # LoRA: bf16 sampler (merged weights, fused decoder), autocast training
        {"precision": "fp32", "lora_rank": 0, "kl_beta": 0.1},  # HF generate, full fine-tuning, reference copy
    ],
    ids=["bf16-lora", "fp32-full-kl"],
)
def test_a_job_makes_every_tensor_on_the_chosen_device(
    guard: DeviceGuard, make_job: JobFactory, store: Store, settings: Settings, extra: dict[str, Any]
) -> None:
    # 3 steps: rollout, grading, loss, optimizer step; a pause after step 1 (checkpoint written), a resume
    # (checkpoint read: weights, optimizer state, RNG states), then evaluation and the final model.
    handle = make_job({**TINY_HP, **extra, "eval_interval": 10}, n_train=6)
    with guard.active():
        assert run_job(PauseAfterStep(handle, make_job, 1), settings, store) == "paused"
        assert run_job(make_job.relet(handle), settings, store) == "succeeded"
    assert handle.row()["status"] == "succeeded"
    assert guard.strays == []


def _prompts(folder: Path) -> list[list[int]]:
    tok = AutoTokenizer.from_pretrained(folder)
    return [rollout.render_prompt(tok, [{"role": "user", "content": c}], None) for c in ("say yes please", "no")]


def test_the_fused_decoder_samples_on_its_weights_device(guard: DeviceGuard, tiny_model_dir: Path) -> None:
    prompts = _prompts(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.bfloat16).to(guard.chosen)
    decoder = LlamaDecoder(model)
    assert decoder.device == guard.chosen
    with guard.active():
        ids, mask = rollout.left_pad(prompts, 0, decoder.device)  # [2, P], the shorter prompt left-padded
        positions = rollout.position_ids_for(mask)
        kw: dict[str, Any] = {"repeats": 3, "max_new_tokens": 5, "eos_ids": [1], "pad_id": 0}
        sampled = decoder.sample(ids, mask, positions, draw=rollout.InverseCdfSampling(1.0).draw, **kw)
        greedy = decoder.sample(ids, mask, positions, draw=None, **kw)
        logits = decoder.logits(ids[:1])  # the longer prompt: no padding
    assert sampled.shape[0] == greedy.shape[0] == 6 and logits.shape[:2] == ids[:1].shape
    assert {t.device for t in (ids, mask, sampled, greedy, logits)} == {guard.chosen}
    assert guard.strays == []


def test_models_are_placed_on_the_chosen_device(monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path) -> None:
    # `meta` as the chosen device: any model left where it was loaded (the host) shows.
    meta = torch.device("meta")
    monkeypatch.setattr(hardware, "device", lambda: meta)
    hp = hparams.HParams(lora_rank=4, lora_alpha=8, precision="bf16")
    policy, _ = trainer.load_policy(tiny_model_dir, hp)
    assert {p.device for p in policy.parameters()} == {meta}
    sampler = precision.Sampler(policy, tiny_model_dir, "bf16")
    decoder = sampler.model()  # the LoRA merge runs on the device too
    assert isinstance(decoder, LlamaDecoder) and decoder.device == meta
    assert {
        decoder.weight(name).device for name in ("model.embed_tokens.weight", "model.layers.0.mlp.down_proj.weight")
    } == {meta}

    engine = hf_engine.HFEngine(dtype="float32")
    try:
        assert engine.device == meta
        scheduler = engine._get(tiny_model_dir).scheduler
        assert scheduler.device == meta and {p.device for p in scheduler.adapters.model.parameters()} == {meta}
    finally:
        engine.close()


def _draws() -> tuple[list[float], float, float, list[float]]:
    cuda = torch.rand(3, device="cuda").tolist() if torch.cuda.is_available() else []
    return torch.rand(3).tolist(), random.random(), float(np.random.rand()), cuda


def test_a_checkpoint_restores_every_rng_and_the_optimizer_on_the_device(tiny_model_dir: Path, tmp_path: Path) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).to(hardware.device())
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(input_ids=torch.tensor([[3, 4, 5]], device=hardware.device())).logits.sum().backward()
    optimizer.step()
    torch.manual_seed(1), random.seed(1), np.random.seed(1)
    folder = checkpoints.save(tmp_path, model, AutoTokenizer.from_pretrained(tiny_model_dir), optimizer, TrainState(1))
    saved = torch.load(folder / "rng.pt", weights_only=False)
    assert len(saved["cuda"]) == (torch.cuda.device_count() if torch.cuda.is_available() else 0)
    want = _draws()
    _draws()  # the RNGs move on
    assert checkpoints.load(folder, model, optimizer).step == 1
    assert _draws() == want
    for p in model.parameters():
        state = optimizer.state[p]
        assert state["exp_avg"].device == p.device and state["exp_avg_sq"].device == p.device
        assert state["step"].device.type == hardware.HOST  # where a fresh AdamW keeps it (not capturable)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU's checkpoint resumed where torch sees no GPU")
def test_a_checkpoint_written_on_a_gpu_resumes_on_a_cpu(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(input_ids=torch.tensor([[3, 4, 5]])).logits.sum().backward()
    optimizer.step()
    with monkeypatch.context() as m:  # the files as a GPU run writes them: tensors tagged cuda:0, a CUDA RNG state
        m.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        m.setattr(checkpoints, "rng_state", lambda: {**real_rng_state(), "cuda": [torch.zeros(16, dtype=torch.uint8)]})
        folder = checkpoints.save(
            tmp_path, model, AutoTokenizer.from_pretrained(tiny_model_dir), optimizer, TrainState(1)
        )
    with pytest.raises(RuntimeError, match="CUDA"):  # what reading them where they were written would do
        torch.load(folder / "optimizer.pt", weights_only=True)
    want = _draws()
    assert checkpoints.load(folder, model, optimizer).step == 1
    assert _draws() == want
    assert all(optimizer.state[p]["exp_avg"].device == p.device for p in model.parameters())


real_rng_state = checkpoints.rng_state


@pytest.mark.parametrize(("supported", "want"), [(True, ("bf16", "bfloat16")), (False, ("fp32", "float32"))])
def test_auto_precision_on_a_gpu_is_bf16_where_it_is_native(
    monkeypatch: pytest.MonkeyPatch, supported: bool, want: tuple[str, str]
) -> None:
    asked: list[bool] = []

    def is_bf16_supported(including_emulation: bool = True) -> bool:
        asked.append(including_emulation)
        return supported

    monkeypatch.setattr(hardware, "device", lambda: torch.device("cuda", 0))
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    assert (precision.resolve("auto"), hf_engine.resolve_dtype("auto")) == want
    assert asked and not any(asked)  # native bf16 only: emulated bf16 is slower than fp32
    assert hardware.fast_bf16(torch.device("meta")) is False


FACTORIES = {"tensor", "as_tensor", "zeros", "ones", "empty", "full", "arange", "eye", "rand", "randn", "randint"}
DEVICE_KEYWORDS = {"device", "device_type", "map_location", "torch_device", "device_map"}


def _is_device_name(node: ast.AST) -> bool:
    if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        return False
    return node.value.split(":")[0] in ("cpu", "cuda", "mps", "xpu", "meta")


def test_no_device_is_hard_coded() -> None:
    # The runtime checks see the paths the tests run; this sees every line of the package. Outside
    # hardware.py no call names a device (torch.device("cuda"), .to("cpu"), device="cuda", autocast("cpu"),
    # .cuda()), and everywhere a tensor or generator made from scratch names its device: torch's default
    # device is never what is meant.
    found = []
    for path in sorted(SRC.rglob("*.py")):
        where = path.relative_to(SRC)
        for call in (node for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Call)):
            f = call.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            from_torch = isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "torch"
            if from_torch and name in FACTORIES | {"Generator"} and not any(k.arg == "device" for k in call.keywords):
                found.append(f"{where}:{call.lineno} {ast.unparse(call)} names no device")
            if path.name == "hardware.py":
                continue
            named = [a for a in call.args if _is_device_name(a)] if name in ("device", "to", "autocast") else []
            named += [k.value for k in call.keywords if k.arg in DEVICE_KEYWORDS and _is_device_name(k.value)]
            if named or (name == "cuda" and isinstance(f, ast.Attribute) and not from_torch):
                found.append(f"{where}:{call.lineno} {ast.unparse(call)} names a device")
    assert found == []
