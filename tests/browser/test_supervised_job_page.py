"""A supervised and a dpo job's page in a real browser: method, hyperparameters and their curves.

The jobs are rows and metrics events written into the store the way the trainer writes them (OpenAI's SFT
metrics names: train_loss, train_mean_token_accuracy, valid_*, full_valid_*; DPO's train_reward_accuracy
and train_reward_margin), so the page is checked without training: the running one holds a lease of a
worker that isn't there (the embedded worker leaves it alone), the other has succeeded.
"""

from __future__ import annotations

import math
from typing import Any

from openrft.auth.keys import DEFAULT_PROJECT_ID
from openrft.ids import new_id, now_s
from openrft.store import schema
from openrft.store.db import Store
from tests.browser.conftest import Console
from tests.browser.test_accessibility import UNNAMED
from tests.e2e.conftest import TINY_BASE

SFT_HP = {"n_epochs": 3, "batch_size": 2, "learning_rate_multiplier": 1.5, "lora_rank": 8, "max_length": 512}
DPO_HP = {"n_epochs": 1, "batch_size": 4, "learning_rate_multiplier": 0.5, "beta": 0.1}


def sft_metrics(step: int, total: int, eval_interval: int) -> dict[str, Any]:
    loss = 2.4 * math.exp(-step / 8) + 0.35 + 0.05 * math.sin(step)
    data: dict[str, Any] = {
        "step": step,
        "total_steps": total,
        "train_loss": loss,
        "train_mean_token_accuracy": 1 - loss / 3,
        "valid_loss": loss + 0.1,
        "valid_mean_token_accuracy": 1 - (loss + 0.1) / 3,
        "learning_rate": 1e-4 * (1 - step / (total + 1)),
        "grad_norm": 3.0 / (1 + step / 4),
        "padding_fraction": 0.08,
        "timing": {"step": {"training": 0.4 + 0.01 * step, "eval": 0.1}},
    }
    if step % eval_interval == 0:
        data |= {"full_valid_loss": loss + 0.08, "full_valid_mean_token_accuracy": 1 - (loss + 0.08) / 3}
    return data


def dpo_metrics(step: int, total: int) -> dict[str, Any]:
    margin = 1.5 * (1 - math.exp(-step / 5))
    data: dict[str, Any] = {
        "step": step,
        "total_steps": total,
        "train_loss": math.log(1 + math.exp(-margin)),
        "train_reward_accuracy": min(1.0, 0.5 + step / (2 * total) + 0.05),
        "train_reward_margin": margin,
        "valid_loss": math.log(1 + math.exp(-margin * 0.8)),
        "valid_reward_accuracy": 0.5 + step / (2.5 * total),
        "valid_reward_margin": margin * 0.8,
        "train_chosen_reward": margin / 2,
        "train_rejected_reward": -margin / 2,
        "valid_chosen_reward": margin * 0.4,
        "valid_rejected_reward": -margin * 0.4,
        "learning_rate": 5e-5,
        "grad_norm": 1.0,
    }
    if step == total:
        data |= {
            "full_valid_loss": data["valid_loss"],
            "full_valid_reward_accuracy": 0.86,
            "full_valid_reward_margin": 1.1,
        }
    return data


def insert_job(console: Console, method: dict[str, Any], events: list[dict[str, Any]], **row: Any) -> str:
    job_id = new_id("ftjob-")
    store = Store.from_settings(console.flow.settings)
    with store.begin() as conn:
        conn.execute(
            schema.jobs.insert().values(
                id=job_id,
                project_id=DEFAULT_PROJECT_ID,
                model=TINY_BASE,
                training_file="file-sft-train",
                validation_file="file-sft-valid",
                seed=7,
                method=method,
                result_files=[],
                created_at=now_s() - 600,
                started_at=now_s() - 590,
                attempts=1,
                **row,
            )
        )
        conn.execute(
            schema.job_events.insert(),
            [
                {
                    "id": new_id("ftevent-"),
                    "job_id": job_id,
                    "created_at": now_s(),
                    "level": "info",
                    "message": f"Step {d['step']}/{d['total_steps']}: training loss={d['train_loss']:.3f}",
                    "type": "metrics",
                    "data": d,
                }
                for d in events
            ]
            + [
                {
                    "id": new_id("ftevent-"),
                    "job_id": job_id,
                    "created_at": now_s() - 590,
                    "level": "info",
                    "message": f"Fine-tuning job started: {method['type']}",
                    "type": "message",
                    "data": None,
                }
            ],
        )
    store.dispose()
    return job_id


def points(page: Any, chart: str) -> int:
    return int(page.get_attribute(f"#chart-{chart}", "data-points") or 0)


def test_supervised_job_page_shows_its_curves_and_hyperparameters(console: Console) -> None:
    method = {"type": "supervised", "supervised": {"hyperparameters": SFT_HP}}
    events = [sft_metrics(s, 30, 10) for s in range(1, 21)]
    job_id = insert_job(
        console, method, events, status="running", lease_owner="wkr-elsewhere", lease_expires_at=now_s() + 3600
    )
    page: Any = console.page
    console.goto("/jobs")  # the list: a supervised job's sparkline is its training loss
    sparkline = f"tr[data-job-id='{job_id}'] canvas.sparkline"
    page.wait_for_function("s => Number(document.querySelector(s)?.dataset.points || 0) === 20", arg=sparkline)
    assert "train loss over 20 steps" in (page.get_attribute(sparkline, "aria-label") or "")
    assert "20/30" in page.locator(f"tr[data-job-id='{job_id}'] [data-field='progress']").inner_text()
    console.shot("jobs-list")
    console.goto(f"/jobs/{job_id}")
    page.wait_for_function("() => Number(document.querySelector('#chart-loss')?.dataset.points || 0) === 20")
    page.locator("#events-table").get_by_text("Fine-tuning job started: supervised").wait_for()
    assert "supervised" in page.locator("#job-method-label").inner_text()
    assert points(page, "accuracy") == 20
    loss_chart = page.locator("#chart-loss").inner_text()
    for legend in ("train", "validation batch", "full validation"):
        assert legend in loss_chart, legend
    assert "Mean token accuracy" in page.locator("#chart-accuracy").inner_text()
    for chart in ("lr", "grad", "time", "padding"):  # the trainer's other numbers have their charts
        assert points(page, chart) == 20, chart
    assert page.locator("#chart-metrics").count() == 0  # nothing left over
    assert page.locator("#chart-reward").count() == 0 and page.locator("#warnings-title").count() == 0
    assert page.get_by_role("link", name="Samples per step").count() == 0
    assert "Reward grader" not in page.locator(".job-head").inner_text()
    page.wait_for_function("() => document.querySelector('#job-progress-text').textContent === 'step 20 of 30'")
    hp = page.locator(".hp-table").inner_text()
    for name, value in SFT_HP.items():
        assert name in hp and str(value) in hp, name
    assert page.evaluate(UNNAMED) == []  # every control has a name
    console.shot("supervised-job-running")


def test_dpo_job_page(console: Console) -> None:
    method = {"type": "dpo", "dpo": {"hyperparameters": DPO_HP}}
    events = [dpo_metrics(s, 16) for s in range(1, 17)]
    job_id = insert_job(
        console, method, events, status="succeeded", finished_at=now_s(), fine_tuned_model=f"ft:{TINY_BASE}:x:dpo:1"
    )
    page: Any = console.page
    console.goto(f"/jobs/{job_id}")
    page.wait_for_function("() => Number(document.querySelector('#chart-margin')?.dataset.points || 0) === 16")
    assert "DPO" in page.locator("#job-method-label").inner_text()
    assert points(page, "loss") == 16 and points(page, "accuracy") == 16
    assert "Reward margin" in page.locator("#chart-margin").inner_text()
    assert "rejected (validation batch)" in page.locator("#chart-rewards").inner_text()
    assert "beta" in page.locator(".hp-table").inner_text()
    assert "succeeded" in page.locator("#job-status").inner_text()
    assert page.evaluate(UNNAMED) == []
    console.shot("dpo-job-succeeded")


def test_a_trained_supervised_job_page_and_its_model_through_responses(console: Console) -> None:
    """A real supervised job (tiny model, embedded worker): its page draws the trainer's own events, and the
    fine-tuned model it registers answers through client.responses."""
    from tests.e2e.conftest import wait_for
    from tests.e2e.test_supervised_jobs import dpo_jsonl, sft_jsonl, start

    flow = console.flow
    project = flow.project("sft-page")
    client = flow.client(project)
    job = start(client, "supervised", sft_jsonl(6), sft_jsonl(2))
    done = wait_for(client, job.id, lambda j: j.status == "succeeded", timeout_s=180, what="the job to succeed")
    console.sign_in(project.secret)
    page: Any = console.page
    console.goto(f"/jobs/{job.id}")
    page.wait_for_function("() => Number(document.querySelector('#chart-loss')?.dataset.points || 0) === 6")
    assert points(page, "accuracy") == 6 and "full validation" in page.locator("#chart-loss").inner_text()
    for chart in ("lr", "grad", "time", "tokens", "padding"):  # each number of the trainer's events is drawn
        assert points(page, chart) == 6, chart
    assert "n_epochs" in page.locator(".hp-table").inner_text()
    console.shot("supervised-job-trained")
    out = client.responses.create(model=done.fine_tuned_model, input="say hello", temperature=0, max_output_tokens=6)
    assert out.model == done.fine_tuned_model and out.output_text

    dpo = start(client, "dpo", dpo_jsonl(6), dpo_jsonl(2), model=done.fine_tuned_model)  # chained on the SFT model
    wait_for(client, dpo.id, lambda j: j.status == "succeeded", timeout_s=180, what="the dpo job to succeed")
    console.goto(f"/jobs/{dpo.id}")
    page.wait_for_function("() => Number(document.querySelector('#chart-rewards')?.dataset.points || 0) === 6")
    for chart in ("loss", "accuracy", "margin"):
        assert points(page, chart) == 6, chart
    head = page.locator(".job-head").inner_text().lower()
    assert "starting model" in head and done.fine_tuned_model.lower() in head  # chained: it starts from an ft: model
    page.locator(".job-head").get_by_role("link", name=job.id).click()  # its lineage: the parent job's page
    page.wait_for_url(f"**/jobs/{job.id}")
    console.goto(f"/jobs/{dpo.id}")
    page.wait_for_function("() => Number(document.querySelector('#chart-rewards')?.dataset.points || 0) === 6")
    console.shot("dpo-job-trained")
