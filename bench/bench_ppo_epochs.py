"""ppo_epochs 1 vs 2 on the quickstart task: held-out reward per wall-minute, both sides in one run.

    python -m bench.bench_ppo_epochs [--epochs 1,2] [--threads 1] [--seed 42] [--n-epochs 3]

The task, data and hyperparameters are the quickstart's (src/openrft/cli/quickstart.py
DEFAULT_HYPERPARAMETERS, src/openrft/data/quickstart): SmolLM2-135M-Instruct, ticket triage, 128
training tickets, 4 prompts x 8 samples per step, 16 completion tokens, 3 epochs (96 steps), LoRA, learning
rate multiplier 3. The reward is the quickstart's reward function (its module run as a `python` grader,
the same scores as the deployed Lambda). Only `ppo_epochs` differs between the sides.

Held-out reward: the trainer's own validation, one greedy completion for each of the 32 validation
tickets (the quickstart compares on the first 16), every 16 steps and at the end; the base model's is
measured once, the same way. Wall time: each side's summed step times (sampling, grading, training,
evaluation), not model loading.

Same load: the sides run at the same time, one process each, `--threads` torch threads each, on the
same machine; the load average and the CPU time each side got are printed with the results.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REWARD_GRADER_TAIL = """

def grade(sample, item):
    answer = sample["output_text"]
    return 0.7 * category_score(answer, item["category"]) + 0.3 * brevity_score(answer)
"""


def quickstart_grader() -> dict[str, Any]:
    from openrft.cli.quickstart import data_path

    source = data_path("reward", "lambda_function.py").read_text() + REWARD_GRADER_TAIL
    return {"type": "python", "name": "ticket_triage", "source": source}


def run_side(ppo_epochs: int, base: Path, seed: int, n_epochs: int, out: Path) -> None:
    """One training job, in this process; writes its curve to `out`."""
    home = Path(tempfile.mkdtemp(prefix=f"openrft-ppo{ppo_epochs}-"))
    os.environ["OPENRFT_HOME"] = str(home)
    from openrft.cli.quickstart import DEFAULT_HYPERPARAMETERS, data_path
    from openrft.ids import now_s
    from openrft.inference import registry
    from openrft.jobstate import JobHandle
    from openrft.settings import Settings
    from openrft.store import schema
    from openrft.store.blobs import BlobStore
    from openrft.store.db import Store
    from openrft.training.run import run_job

    settings = Settings(home=home)
    store = Store.from_settings(settings)
    registry.add_base_model(store, settings, "bench-base", base)
    blobs = BlobStore(settings.blobs_dir)
    blobs.put("files/file-train", data_path("train.jsonl").read_bytes())
    blobs.put("files/file-valid", data_path("valid.jsonl").read_bytes())
    hp = {**DEFAULT_HYPERPARAMETERS, "n_epochs": n_epochs, "eval_samples": 32, "ppo_epochs": ppo_epochs}
    job_id, lease = f"ftjob-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    method = {"type": "reinforcement", "reinforcement": {"grader": quickstart_grader(), "hyperparameters": hp}}
    with store.begin() as conn:
        conn.execute(schema.projects.insert().values(id="proj_bench", name="bench", created_at=now_s()))
        conn.execute(
            schema.jobs.insert().values(
                id=job_id,
                project_id="proj_bench",
                model="bench-base",
                training_file="file-train",
                validation_file="file-valid",
                seed=seed,
                method=method,
                status="running",
                result_files=[],
                created_at=now_s(),
                lease_owner=lease,
                lease_expires_at=now_s() + 86400,
                attempts=1,
            )
        )
    cpu0 = time.process_time()
    status = run_job(JobHandle(store, job_id, lease), settings, store)
    cpu_s = time.process_time() - cpu0
    with store.begin() as conn:
        events = conn.execute(
            schema.job_events.select()
            .where(schema.job_events.c.job_id == job_id, schema.job_events.c.type == "metrics")
            .order_by(schema.job_events.c.seq)
        ).all()
    wall, curve, steps = 0.0, [], []
    for e in events:
        d = e.data
        timing = d["timing"]["step"]
        wall += timing["full_iteration"]
        steps.append({"step": d["step"], "training_s": timing["training"], "clip_frac": d["actor_clip_frac"]})
        valid = d["scores"].get("valid_reward_mean")
        if valid is not None:
            curve.append({"step": d["step"], "wall_s": round(wall, 1), "held_out": valid})
    out.write_text(json.dumps({"status": status, "cpu_s": cpu_s, "wall_s": wall, "curve": curve, "steps": steps}))


def base_held_out(base: Path) -> float:
    """The base model's held-out reward: greedy, the 32 validation tickets, the quickstart's reward rule."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from openrft.cli.quickstart import read_rows
    from openrft.training import rollout

    namespace: dict[str, Any] = {}
    exec(quickstart_grader()["source"], namespace)
    rows = read_rows("valid.jsonl")
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32).eval()
    prompts = [rollout.render_prompt(tokenizer, r["messages"], None) for r in rows]
    out = rollout.generate(model, tokenizer, prompts, group_size=1, completion_budget=16, temperature=1.0, greedy=True)
    scores = [namespace["grade"]({"output_text": t}, r) for t, r in zip(out.texts, rows, strict=True)]
    return sum(scores) / len(scores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", default="1,2", help="comma-separated ppo_epochs, one side each")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per side")
    parser.add_argument("--seed", type=int, default=42, help="the job seed (the quickstart's)")
    parser.add_argument("--n-epochs", type=int, default=3, help="passes over the training file (the quickstart's 3)")
    parser.add_argument("--side", type=int, help=argparse.SUPPRESS)  # internal: run one side
    parser.add_argument("--base", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.side is not None:
        run_side(args.side, args.base, args.seed, args.n_epochs, args.out)
        return

    from openrft.inference.registry import ensure_base_model
    from openrft.settings import Settings

    base = ensure_base_model(Settings(home=Path(tempfile.gettempdir()) / "openrft-bench-models"))
    base_reward = base_held_out(base)
    sides = [int(e) for e in args.epochs.split(",")]
    outs = {e: Path(tempfile.mkdtemp()) / "result.json" for e in sides}
    common = ["--threads", str(args.threads), "--seed", str(args.seed), "--n-epochs", str(args.n_epochs)]
    procs = {
        e: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.bench_ppo_epochs",
                *("--side", str(e), "--base", str(base)),
                *("--out", str(outs[e])),
                *common,
            ],
            stdout=subprocess.DEVNULL,
        )
        for e in sides
    }
    loads, t0 = [], time.time()
    while any(p.poll() is None for p in procs.values()):
        loads.append(os.getloadavg()[0])
        time.sleep(10)
    print(
        f"{len(sides)} sides at once, {args.threads} torch thread(s) each, {os.cpu_count()} CPUs; load average "
        f"(1 min) during the run: mean {sum(loads) / max(len(loads), 1):.2f}, max {max(loads, default=0):.2f}; "
        f"{time.time() - t0:.0f} s in all; base model held-out reward {base_reward:.3f}"
    )
    for e in sides:
        r = json.loads(outs[e].read_text())
        final = r["curve"][-1]["held_out"] if r["curve"] else float("nan")
        minutes = r["wall_s"] / 60
        train_s = sum(s["training_s"] for s in r["steps"])
        clip = sum(s["clip_frac"] for s in r["steps"]) / max(len(r["steps"]), 1)
        summary = {
            "ppo_epochs": e,
            "status": r["status"],
            "wall_min": round(minutes, 2),
            "training_min": round(train_s / 60, 2),
            "cpu_min": round(r["cpu_s"] / 60, 2),
            "held_out_final": round(final, 3),
            "gain_per_wall_min": round((final - base_reward) / minutes, 4),
            "clip_frac_mean": round(clip, 4),
            "curve": [(c["step"], round(c["wall_s"] / 60, 2), round(c["held_out"], 3)) for c in r["curve"]],
        }
        print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
