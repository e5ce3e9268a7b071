"""openrft's supervised trainer next to TRL's SFTTrainer, same model, data and settings, in one run.

    python -m bench.bench_sft [--examples 64] [--batch-size 8] [--lora-rank 16] [--max-length 512]
        [--data FILE.jsonl] [--sides openrft,trl] [--threads N] [--unshared-prefix]

Both sides: the bundled SmolLM2-135M-Instruct (registry.ensure_base_model), one epoch over the same
`examples` conversations (default: the legal example's demonstrations, examples/legal_compliance/data/
sft_train.jsonl), the same token ids (rendered once by openrft's one renderer, prompts.render_supervised,
and given to TRL pre-tokenized with their `assistant_masks`, so both train on exactly the same tokens),
loss on the assistant tokens only, the same LoRA (rank r, alpha 2r, every linear projection, no
dropout), learning rate, constant schedule, batch size (one forward/backward per batch: openrft's
micro_batch_size = batch size), max sequence length, AdamW, grad clipping 1.0, seed.
Precision: both sides in the precision openrft's "auto" resolves to on this machine (bf16 autocast where
the CPU has native bf16 matmuls, else fp32); TRL's gradient checkpointing (its SFT default, a memory
saving that costs a recompute) is off, so TRL is measured at its fastest, not its default.

openrft runs a real supervised job (the job row the API would write, run by training/run.py's
run_job in this process): length-bucketed batches; "epoch" is its training loop (the per-step times its
metrics events carry), job_wall_s the whole job (model loading, the final checkpoint, registration).
TRL: SFTTrainer.train(), timed from on_train_begin to on_train_end (model loading and dataset
preparation excluded for both).

Reported per side: seconds per epoch, tokens per second (real, non-padding tokens of the epoch: prompt +
answer), assistant (trained) tokens per second, and the ratio TRL time / openrft time (> 1: openrft is
faster). One JSON line per side, then the ratio line.

TRL is not an openrft dependency: `pip install -e '.[bench]'` (pins trl; torch stays as installed).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

SEED = 1234
LEGAL_SFT = Path(__file__).resolve().parent.parent / "examples" / "legal_compliance" / "data" / "sft_train.jsonl"


def load_rows(path: Path, n: int, *, unshared: bool = False) -> list[dict[str, Any]]:
    """The first n rows; `unshared`: each row's system message moved after its question (the same tokens, but
    rows no longer share a long common prefix, the case openrft's shared-prefix path can't help)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()][:n]
    if unshared:
        for row in rows:
            system = [m for m in row["messages"] if m["role"] == "system"]
            rest = [m for m in row["messages"] if m["role"] != "system"]
            if system and rest and rest[0]["role"] == "user":
                rest[0] = {**rest[0], "content": rest[0]["content"] + "\n\n" + system[0]["content"]}
            row["messages"] = rest
    return rows


def encode(tokenizer: Any, rows: list[dict[str, Any]], max_length: int) -> list[tuple[list[int], list[int]]]:
    """(ids, assistant mask) of each row through openrft's renderer, truncated to max_length (keep start)."""
    from openrft.inference.prompts import render_supervised

    out = []
    for row in rows:
        ids, mask = render_supervised(tokenizer, row["messages"], row.get("tools"))
        out.append((ids[:max_length], mask[:max_length]))
    return out


def token_counts(encoded: list[tuple[list[int], list[int]]]) -> tuple[int, int]:
    """(all tokens, assistant tokens) of one epoch."""
    return sum(len(ids) for ids, _ in encoded), sum(sum(mask) for _, mask in encoded)


# -- openrft ----------------------------------------------------------------------------------------


def run_openrft(args: argparse.Namespace, rows: list[dict[str, Any]], base: Path) -> dict[str, Any]:
    """One supervised job (n_epochs 1) on a private OPENRFT_HOME; times from its events."""
    from bench.local_job import leased_job
    from openrft.store import schema
    from openrft.training.run import run_job

    hp = {
        "n_epochs": 1,
        "batch_size": args.batch_size,
        "micro_batch_size": args.batch_size,
        "learning_rate_multiplier": args.lr / (1e-4 if args.lora_rank else 1e-5),
        "lora_rank": args.lora_rank,
        "lora_alpha": 2 * args.lora_rank,
        "max_length": args.max_length,
        "max_grad_norm": 1.0,
        "eval_interval": 10_000,
        "seed": SEED,
        "precision": args.precision,
    }
    method = {"type": "supervised", "supervised": {"hyperparameters": hp}}
    settings, store, handle = leased_job("openrft-bench-sft-", base, rows, method, SEED)
    job_id = handle.job_id
    started = time.perf_counter()
    status = run_job(handle, settings, store)
    wall = time.perf_counter() - started
    with store.begin() as conn:
        events = conn.execute(
            schema.job_events.select().where(schema.job_events.c.job_id == job_id).order_by(schema.job_events.c.seq)
        ).all()
        job = conn.execute(schema.jobs.select().where(schema.jobs.c.id == job_id)).one()
    metrics = [e for e in events if e.type == "metrics"]
    if status != "succeeded" or not metrics:
        raise RuntimeError(f"openrft job {job_id} ended {status}: {job.error}")
    return {"status": status, "wall_s": wall, "metrics": [dict(e.data) for e in metrics], "events": events}


def openrft_epoch_s(result: dict[str, Any]) -> float:
    """The training loop's time: the sum over steps of the step's training and evaluation time (the
    metrics events' `timing.step`; the bench has no validation file, so evaluation is ~0). Checkpoint
    writes, model loading and registration are outside it (they are in job_wall_s)."""
    return float(sum(m["timing"]["step"]["training"] + m["timing"]["step"]["eval"] for m in result["metrics"]))


# -- TRL --------------------------------------------------------------------------------------------


def run_trl(args: argparse.Namespace, encoded: list[tuple[list[int], list[int]]], base: Path) -> dict[str, Any]:
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    dataset = Dataset.from_list([{"input_ids": ids, "assistant_masks": mask} for ids, mask in encoded])
    timings: dict[str, Any] = {"steps": []}

    class Timer(TrainerCallback):
        def on_train_begin(self, *a: Any, **kw: Any) -> None:
            timings["begin"] = time.perf_counter()

        def on_step_begin(self, *a: Any, **kw: Any) -> None:
            self.t = time.perf_counter()

        def on_step_end(self, *a: Any, **kw: Any) -> None:
            timings["steps"].append(time.perf_counter() - self.t)

        def on_train_end(self, *a: Any, **kw: Any) -> None:
            timings["end"] = time.perf_counter()

    bf16 = args.resolved_precision == "bf16"
    config = SFTConfig(
        output_dir=tempfile.mkdtemp(prefix="trl-bench-sft-"),
        num_train_epochs=1,
        per_device_train_batch_size=args.batch_size,
        gradient_accumulation_steps=1,
        learning_rate=args.lr,
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=0.0,
        max_grad_norm=1.0,
        max_length=args.max_length,
        packing=False,
        gradient_checkpointing=False,
        bf16=bf16,
        use_cpu=not torch.cuda.is_available(),
        report_to="none",
        logging_steps=1,
        save_strategy="no",
        eval_strategy="no",
        seed=SEED,
        data_seed=SEED,
        dataset_num_proc=None,
        dataloader_num_workers=0,
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
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(base)
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[Timer()],
    )
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return {"epoch_s": timings["end"] - timings["begin"], "steps": timings["steps"], "losses": losses}


# -- report ------------------------------------------------------------------------------------------


def summary(side: str, epoch_s: float, tokens: int, trained: int, steps: int, **extra: Any) -> dict[str, Any]:
    return {
        "side": side,
        "s_per_epoch": round(epoch_s, 2),
        "tok_per_s": round(tokens / epoch_s, 1),
        "trained_tok_per_s": round(trained / epoch_s, 1),
        "steps": steps,
        "tokens": tokens,
        "trained_tokens": trained,
        **extra,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=LEGAL_SFT, help="a chat SFT JSONL file")
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lora-rank", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--precision", default="auto", help="openrft's precision (auto, bf16, fp32); TRL follows it")
    parser.add_argument("--sides", default="openrft,trl", help="comma-separated: openrft, trl")
    parser.add_argument(
        "--unshared-prefix",
        action="store_true",
        help="move each row's system prompt after its question, so rows share no long prefix",
    )
    parser.add_argument("--threads", type=int, default=0, help="torch threads for every side (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from transformers import AutoTokenizer

    from openrft.inference import registry
    from openrft.settings import Settings
    from openrft.training.precision import resolve

    base = registry.ensure_base_model(Settings())
    args.resolved_precision = resolve(args.precision)
    rows = load_rows(args.data, args.examples, unshared=args.unshared_prefix)
    encoded = encode(AutoTokenizer.from_pretrained(base), rows, args.max_length)
    tokens, trained = token_counts(encoded)
    lengths = sorted(len(ids) for ids, _ in encoded)
    print(
        f"{len(rows)} examples of {args.data.name}: {tokens} tokens ({trained} assistant), lengths "
        f"{lengths[0]}..{lengths[-1]}; batch {args.batch_size}, LoRA rank {args.lora_rank}, max_length "
        f"{args.max_length}, precision {args.resolved_precision}, {torch.get_num_threads()} threads",
        flush=True,
    )
    report: dict[str, dict[str, Any]] = {}
    for side in args.sides.split(","):
        if side == "openrft":
            result = run_openrft(args, rows, base)
            losses = [m.get("train_loss") for m in result["metrics"]]
            report[side] = summary(
                side,
                openrft_epoch_s(result),
                tokens,
                trained,
                len(result["metrics"]),
                job_wall_s=round(result["wall_s"], 2),
                first_loss=losses[0],
                last_loss=losses[-1],
            )
        elif side == "trl":
            result = run_trl(args, encoded, base)
            report[side] = summary(
                side,
                result["epoch_s"],
                tokens,
                trained,
                len(result["steps"]),
                first_loss=result["losses"][0] if result["losses"] else None,
                last_loss=result["losses"][-1] if result["losses"] else None,
            )
        else:
            parser.error(f"unknown side {side!r}")
        print(json.dumps(report[side]), flush=True)
    if "openrft" in report and "trl" in report:
        ratio = report["trl"]["s_per_epoch"] / report["openrft"]["s_per_epoch"]
        print(json.dumps({"trl_s_per_epoch_over_openrft": round(ratio, 2), "goal": 2.0, "met": ratio >= 2.0}))


if __name__ == "__main__":
    main()
