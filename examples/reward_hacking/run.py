"""Train against deliberately hackable rewards and an honest one; report what the reward-hacking monitor said.

Each case is one RFT job of smollm2-135m-instruct on the quickstart's support tickets (or, for the
banking cases, on the banking example's data), run on an embedded openrft server through the public
APIs (boto3 deploys the reward, the openai SDK trains and reads the results):

    length             pays for length                        -> length_drift expected
    constant           one constant answer ("billing") pays    -> collapse expected
    trivial_component  a trivial component carries the weight -> component_dominance expected
    honest             the quickstart's own reward, its whole run -> nothing expected
    banking_v1         the banking example's reward version 1  -> flagged (it teaches keyword stuffing)
    banking_v2         version 2, with the guard grader        -> nothing expected

Prints, per case, the warnings (signal, step, message), the train and validation rewards, and the
fine-tuned model's answers to a few validation prompts (from the job's linked eval), and writes them
all to --out as JSON.

    python examples/reward_hacking/run.py [--case length --case constant ...] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import rft_walkthrough  # noqa: E402

from openrft.cli.quickstart import DEFAULT_HYPERPARAMETERS, create_project_key, data_path, embedded_server  # noqa: E402

SHORT = {**DEFAULT_HYPERPARAMETERS, "n_epochs": 1}  # 32 steps of 4 prompts x 8 samples
BANKING = HERE.parent / "banking"
BANKING_HP = {
    "n_epochs": 1,
    "batch_size": 8,
    "samples_per_prompt": 8,
    "max_completion_tokens": 64,
    "eval_interval": 5,
    "eval_samples": 26,
    "learning_rate_multiplier": 10.0,
}
BANKING_GUARD = json.loads((BANKING / "guard_grader.json").read_text())  # never part of the reward

CASES: dict[str, dict[str, Any]] = {
    "length": {"reward": HERE / "rewards" / "length", "hp": {**SHORT, "max_completion_tokens": 64}},
    "constant": {"reward": HERE / "rewards" / "constant", "hp": SHORT},
    "trivial_component": {"reward": HERE / "rewards" / "trivial_component", "hp": SHORT},
    "honest": {"reward": data_path("reward"), "hp": DEFAULT_HYPERPARAMETERS},
    "banking_v1": {"reward": BANKING / "reward_v1", "hp": BANKING_HP, "data": BANKING / "data"},
    "banking_v2": {
        "reward": BANKING / "reward",
        "hp": BANKING_HP,
        "data": BANKING / "data",
        "guards": [BANKING_GUARD],
    },
}


def run_case(name: str, spec: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    started = time.time()
    lam, oai = rft_walkthrough.lambda_client(args), rft_walkthrough.openai_client(args)
    function = rft_walkthrough.deploy_reward(lam, f"hack-{name.replace('_', '-')}", spec["reward"], f"case {name}")
    folder = spec.get("data") or data_path()
    train = rft_walkthrough.upload(oai, Path(folder) / "train.jsonl")
    valid = rft_walkthrough.upload(oai, Path(folder) / "valid.jsonl")
    reinforcement: dict[str, Any] = {
        "grader": {"type": "lambda", "lambda": {"function": function}},
        "hyperparameters": {**spec["hp"], **json.loads(args.hyperparameters)},
    }
    if spec.get("guards"):
        reinforcement["guard_graders"] = spec["guards"]
    job = oai.fine_tuning.jobs.create(
        model="smollm2-135m-instruct",
        training_file=train,
        validation_file=valid,
        suffix=name.replace("_", "-"),
        seed=42,
        extra_body={"method": {"type": "reinforcement", "reinforcement": reinforcement}},
    )
    print(f"\n== {name}: job {job.id}", flush=True)
    final = rft_walkthrough.follow(oai, job.id, [])
    events = list(oai.fine_tuning.jobs.list_events(job.id, limit=1000))
    warnings = [
        {
            "step": (e.data or {}).get("step") or ((e.data or {}).get("values") or {}).get("step"),
            "signal": (e.data or {}).get("signal"),
            "message": e.message,
        }
        for e in events
        if e.level == "warn" and isinstance(e.data, dict) and e.data.get("signal")
    ]
    metrics = sorted(
        (e.data for e in events if e.type == "metrics" and isinstance(e.data, dict)), key=lambda d: d["step"]
    )
    valid_curve = [(d["step"], d["scores"]["valid_reward_mean"]) for d in metrics if "valid_reward_mean" in d["scores"]]
    answers = last_eval_answers(oai, final)
    return {
        "case": name,
        "job": job.id,
        "status": final.status,
        "minutes": round((time.time() - started) / 60, 1),
        "train_reward_first_last": [
            metrics[0]["scores"]["train_reward_mean"],
            metrics[-1]["scores"]["train_reward_mean"],
        ]
        if metrics
        else None,
        "valid_curve": valid_curve,
        "warnings": sorted(warnings, key=lambda w: w["step"] or 0),
        "monitor_last": metrics[-1].get("reward_hacking") if metrics else None,
        "answers": answers,
    }


def last_eval_answers(oai: Any, job: Any, n: int = 4) -> list[dict[str, Any]]:
    """The fine-tuned model's answers to the first validation prompts, from the job's last linked-eval run."""
    eval_id = (job.model_extra or {}).get("eval_id")
    if not eval_id:
        return []
    runs = oai.evals.runs.list(eval_id, order="desc", limit=1).data
    if not runs:
        return []
    items = oai.evals.runs.output_items.list(runs[0].id, eval_id=eval_id, limit=n, order="asc").data
    return [
        {
            "prompt": item.sample.input[-1].content if item.sample.input else None,
            "answer": item.sample.output[0].content if item.sample.output else None,
            "scores": {r.name: round(r.score, 3) for r in item.results},
        }
        for item in items
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--case", action="append", choices=sorted(CASES), help="default: every case")
    p.add_argument("--out", type=Path, default=Path("reward_hacking_results.json"))
    p.add_argument("--home", type=Path, help="OPENRFT_HOME of the embedded server (default: a temporary one)")
    p.add_argument("--hyperparameters", default="{}", help="JSON merged over every case's hyperparameters")
    args = p.parse_args()
    results = []
    with embedded_server(args.home) as (base_url, admin_key, _home):
        args.base_url = base_url
        args.key_id, args.api_key = create_project_key(base_url, admin_key)
        for name in args.case or list(CASES):
            results.append(run_case(name, CASES[name], args))
            args.out.write_text(json.dumps(results, indent=2))
    for r in results:
        signals = sorted({w["signal"] for w in r["warnings"]})
        print(
            f"{r['case']:18} {r['status']:10} {r['minutes']:5} min  train {r['train_reward_first_last']}  "
            f"warnings: {len(r['warnings'])} {signals}"
        )


if __name__ == "__main__":
    main()
