"""openrft's trainer next to TRL's GRPOTrainer, on the same model, settings and CPU, in one run.

    python bench/bench_trainer.py --base PATH_TO_SMOLLM2_FOLDER [--steps 3] [--prompts 1 --samples 8]
        [--tokens 32] [--lora-rank 16 | --lora-rank 0] [--sides openrft,trl]

Both sides: SmolLM2-135M-Instruct, `prompts x samples` completions per step, at most `tokens`
new tokens, temperature 1, on-policy (one update per rollout), no KL, GRPO loss, the same learning rate
and LoRA setting (rank r, alpha 2r, all linear projections). TRL keeps its other defaults. The reward:
1 if the completion contains the right answer of a small arithmetic question.
Precision: TRL in fp32 (its CPU default, bf16=False); openrft with its default precision "auto" (bf16
autocast training + bf16 sampler where the CPU has AMX/AVX512-BF16), and side `openrft-fp32` in fp32.
`--threads N` sets torch's thread count for all sides (on a shared, loaded machine 1 thread can beat 2).

Reported per side: seconds per step (first step excluded as warm-up when steps > 1), generated tokens
per second in the sampling phase, trained tokens (prompt + completion) per second in the training phase.
CPU limits measured in the same run: fp32 and bf16 matmul GFLOP/s (2048^2 mm) and memory bandwidth (a
256 MiB copy); each side's floors use its own precision. Roofline-style floors: decoding reads every
weight once per new token position (memory bound), training costs ~6 x params x tokens FLOPs for full
fine-tuning, ~4 x for LoRA (no weight gradients).

TRL is installed only for this benchmark (not an openrft dependency), e.g.
    pip install --target /tmp/trl --no-deps trl datasets==4.4.1 dill==0.3.8 multiprocess==0.70.16 pandas pyarrow xxhash
    PYTHONPATH=/tmp/trl python bench/bench_trainer.py ...
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from typing import Any

import torch

SEED = 1234


def arithmetic_rows(n: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        a, b = rng.randint(1, 9), rng.randint(1, 9)
        rows.append(
            {
                "messages": [{"role": "user", "content": f"What is {a} + {b}? Reply with the number only."}],
                "answer": str(a + b),
            }
        )
    return rows


# -- CPU limits -------------------------------------------------------------------------------------


def matmul_gflops(n: int = 2048, repeats: int = 5, dtype: torch.dtype = torch.float32) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    torch.mm(a, b)
    t = time.perf_counter()
    for _ in range(repeats):
        torch.mm(a, b)
    return 2 * n**3 * repeats / (time.perf_counter() - t) / 1e9


def memory_gbs(mib: int = 256, repeats: int = 5) -> float:
    src = torch.empty(mib * 2**20 // 4)
    dst = torch.empty_like(src)
    dst.copy_(src)
    t = time.perf_counter()
    for _ in range(repeats):
        dst.copy_(src)
    return 2 * src.numel() * 4 * repeats / (time.perf_counter() - t) / 1e9  # read + write


# -- openrft ----------------------------------------------------------------------------------------


def run_openrft(args: argparse.Namespace, rows: list[dict[str, Any]], precision: str = "auto") -> dict[str, Any]:

    from bench.local_job import leased_job
    from openrft.store import schema
    from openrft.training.run import run_job

    hp = {
        "n_epochs": 1,
        "batch_size": args.prompts,
        "samples_per_prompt": args.samples,
        "max_completion_tokens": args.tokens,
        "temperature": 1.0,
        "loss": "grpo",
        "kl_beta": 0.0,
        "lora_rank": args.lora_rank,
        "lora_alpha": 2 * args.lora_rank,
        "eval_interval": 10_000,
        "learning_rate_multiplier": args.lr / (1e-4 if args.lora_rank else 1e-5),
        "precision": precision,
    }
    grader = {
        "type": "string_check",
        "name": "answer",
        "input": "{{ sample.output_text }}",
        "reference": "{{ item.answer }}",
        "operation": "like",
    }
    method = {"type": "reinforcement", "reinforcement": {"grader": grader, "hyperparameters": hp}}
    settings, store, handle = leased_job("openrft-bench-", args.base, rows, method, SEED)
    job_id = handle.job_id
    status = run_job(handle, settings, store)
    with store.begin() as conn:
        events = conn.execute(
            schema.job_events.select()
            .where(schema.job_events.c.job_id == job_id, schema.job_events.c.type == "metrics")
            .order_by(schema.job_events.c.seq)
        ).all()
    steps = []
    for e in events:
        d = e.data
        n_seq = args.prompts * args.samples
        steps.append(
            {
                "step_s": d["timing"]["step"]["full_iteration"] - d["timing"]["step"]["eval"],
                "sampling_s": d["timing"]["step"]["sampling"],
                "training_s": d["timing"]["step"]["training"],
                "gen_tokens": d["response_length_mean"] * n_seq,
                "reward": d["critic_rewards_mean"],
            }
        )
    return {"status": status, "steps": steps}


# -- TRL --------------------------------------------------------------------------------------------


def run_trl(args: argparse.Namespace, rows: list[dict[str, Any]]) -> dict[str, Any]:
    from datasets import Dataset
    from peft import LoraConfig, PeftModelForCausalLM
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    dataset = Dataset.from_list([{"prompt": r["messages"], "answer": r["answer"]} for r in rows])

    def reward(completions: list[Any], answer: list[str], **_: Any) -> list[float]:
        texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        return [1.0 if a in t else 0.0 for t, a in zip(texts, answer, strict=True)]

    timings: dict[str, list[float]] = {"gen": [], "step": [], "gen_tokens": []}
    model_cls: Any = PeftModelForCausalLM if args.lora_rank else LlamaForCausalLM  # SmolLM2 is a Llama
    original = model_cls.generate

    def timed_generate(self: Any, *a: Any, **kw: Any) -> Any:
        t = time.perf_counter()
        out = original(self, *a, **kw)
        timings["gen"].append(time.perf_counter() - t)
        seqs = out if isinstance(out, torch.Tensor) else out.sequences
        ids: Any = kw["input_ids"] if kw.get("input_ids") is not None else a[0]
        prompt_len = ids.shape[1]
        timings["gen_tokens"].append(float((seqs[:, prompt_len:] != 2).sum()))  # 2 = SmolLM2's <|im_end|>/pad
        return out

    model_cls.generate = timed_generate

    class StepTimer(TrainerCallback):
        def on_step_begin(self, *a: Any, **kw: Any) -> None:
            self.t = time.perf_counter()

        def on_step_end(self, *a: Any, **kw: Any) -> None:
            timings["step"].append(time.perf_counter() - self.t)

    config = GRPOConfig(
        output_dir=tempfile.mkdtemp(prefix="trl-bench-"),
        max_steps=args.steps,
        learning_rate=args.lr,
        per_device_train_batch_size=args.prompts * args.samples,
        num_generations=args.samples,
        max_completion_length=args.tokens,
        temperature=1.0,
        beta=0.0,
        loss_type="grpo",
        use_cpu=True,
        bf16=False,
        report_to="none",
        logging_steps=1,
        save_strategy="no",
        seed=SEED,
        lr_scheduler_type="constant",
    )
    peft_config = None
    if args.lora_rank:
        peft_config = LoraConfig(
            r=args.lora_rank,
            lora_alpha=2 * args.lora_rank,
            lora_dropout=0.0,
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        )
    model = AutoModelForCausalLM.from_pretrained(args.base, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(args.base)
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=reward,
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[StepTimer()],
    )
    trainer.train()
    model_cls.generate = original
    steps = [
        {"step_s": s, "sampling_s": g, "training_s": s - g, "gen_tokens": n}
        for s, g, n in zip(timings["step"], timings["gen"], timings["gen_tokens"], strict=False)
    ]
    return {"status": "succeeded", "steps": steps}


# -- report ------------------------------------------------------------------------------------------


def summarize(
    name: str,
    result: dict[str, Any],
    args: argparse.Namespace,
    n_params: int,
    prompt_tokens: float,
    gflops: float,
    gbs: float,
    bytes_per_param: int = 4,
) -> dict[str, Any]:
    steps = result["steps"][1:] if len(result["steps"]) > 1 else result["steps"]
    mean = {k: sum(s[k] for s in steps) / len(steps) for k in ("step_s", "sampling_s", "training_s", "gen_tokens")}
    n_seq = args.prompts * args.samples
    train_tokens = mean["gen_tokens"] + n_seq * prompt_tokens
    flop_factor = 4 if args.lora_rank else 6
    gen_floor_s = args.tokens * n_params * bytes_per_param / (gbs * 1e9)  # weights read once per decode position
    train_floor_s = flop_factor * n_params * train_tokens / (gflops * 1e9)
    return {
        "side": name,
        "s_per_step": round(mean["step_s"], 2),
        "sampling_s": round(mean["sampling_s"], 2),
        "training_s": round(mean["training_s"], 2),
        "gen_tok_per_s": round(mean["gen_tokens"] / mean["sampling_s"], 1),
        "train_tok_per_s": round(train_tokens / max(mean["training_s"], 1e-9), 1),
        "gen_floor_s": round(gen_floor_s, 2),
        "train_floor_s": round(train_floor_s, 2),
        "gen_vs_floor": round(mean["sampling_s"] / gen_floor_s, 1),
        "train_vs_floor": round(mean["training_s"] / train_floor_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="HF folder of SmolLM2-135M-Instruct (fp32)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--prompts", type=int, default=1)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--lora-rank", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-5)
    parser.add_argument("--sides", default="openrft,trl", help="comma-separated: openrft, openrft-fp32, trl")
    parser.add_argument("--threads", type=int, default=0, help="torch threads for every side (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = arithmetic_rows(args.steps * args.prompts)

    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    with torch.device("meta"):
        n_params = sum(
            p.numel() for p in AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(args.base)).parameters()
        )
    tok = AutoTokenizer.from_pretrained(args.base)
    prompt_tokens = float(
        len(tok(tok.apply_chat_template(rows[0]["messages"], add_generation_prompt=True, tokenize=False))["input_ids"])
    )
    from openrft.training.precision import resolve

    gflops, gflops_bf16, gbs = matmul_gflops(), matmul_gflops(dtype=torch.bfloat16), memory_gbs()
    # floors per side in its precision: (matmul GFLOP/s, bytes per weight read when decoding)
    limits = {"fp32": (gflops, 4), "bf16": (gflops_bf16, 2)}
    side_precision = {"openrft": resolve("auto"), "openrft-fp32": "fp32", "trl": "fp32"}
    print(
        f"CPU: {torch.get_num_threads()} threads, matmul fp32 {gflops:.1f} / bf16 {gflops_bf16:.1f} GFLOP/s, "
        f"memory {gbs:.1f} GB/s; openrft precision {side_precision['openrft']}; "
        f"model {n_params / 1e6:.0f}M params, prompt {prompt_tokens:.0f} tokens"
    )
    report = []
    runners = {
        "openrft": run_openrft,  # precision "auto": bf16 where the CPU has native bf16 matmuls
        "openrft-fp32": lambda a, r: run_openrft(a, r, "fp32"),
        "trl": run_trl,  # TRL's CPU default: fp32 (bf16=False)
    }
    for side in args.sides.split(","):
        peak, nbytes = limits[side_precision[side]]
        result = runners[side](args, rows)
        report.append(summarize(side, result, args, n_params, prompt_tokens, peak, gbs, nbytes))
        print(json.dumps(report[-1]), flush=True)
    trl = next((r for r in report if r["side"] == "trl"), None)
    for r in report:
        if trl is not None and r is not trl:
            print(f"{r['side']} / trl time per step: {r['s_per_step'] / trl['s_per_step']:.2f}")


if __name__ == "__main__":
    main()
