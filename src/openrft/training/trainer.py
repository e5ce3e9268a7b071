"""The RFT training loop, in plain torch: read `train()` top to bottom.

One job, one process (`openrft.training.run`). Per step: take `batch_size` prompts, sample
`group_size` completions each (samples_per_prompt x compute_multiplier), at most `completion_budget`
tokens long, grade them all with the job's grader, turn rewards into group advantages, take one AdamW
step on the policy loss, write a metrics event. Every `eval_interval` steps (and at the last step):
grade the validation prompts and write a checkpoint. `pause` checkpoints and stops; `cancel` stops; a
crashed run resumes from the newest checkpoint and replays the same steps (data order, RNG and optimizer
are all restored).

Simplification: one on-policy update per rollout, as nanochat's chat_rl and TRL's defaults do. The
policy that is trained is the one that sampled, so there is no importance ratio to clip (losses.py).
Several optimizer passes per rollout with a clipped ratio (PPO epochs) were measured on the quickstart
task: 2 passes gave less held-out reward per wall-minute than 1 (docs/hyperparameters.md).

Policy: LoRA (PEFT) on every attention and MLP projection by default; `lora_rank=0` trains all weights.
Reference for the KL term (only when kl_beta > 0): the starting model: the base, i.e. the PEFT model with
its adapter disabled, or, for a job chained on a LoRA model, the parent's adapter loaded a second time,
frozen (`reference_mode`); a frozen copy of the starting weights when training all weights.
Precision (`precision`, training/precision.py): "bf16" trains under bf16 autocast with fp32 master weights
and samples from a bf16 copy of the policy refreshed before each generation; "fp32" does everything in fp32.
"""

from __future__ import annotations

import copy
import json
import logging
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from peft.tuners.lora import LoraLayer
from transformers import AutoModelForCausalLM, AutoTokenizer

from openrft import hardware
from openrft.errors import AccessDenied, OpenRFTError
from openrft.jobstate import JobHandle
from openrft.settings import Settings
from openrft.store.blobs import BlobStore
from openrft.store.db import Store
from openrft.training import checkpoints, data, hparams, precision, rollout, samples, validation, watch
from openrft.training.checkpoints import TrainState
from openrft.training.job import Job, JobFailed
from openrft.training.losses import LOSSES, LossConfig, LossInputs, frac_reward_zero_std
from openrft.training.metrics import StepStats, step_event
from openrft.training.monitor import Monitor
from openrft.training.reference import REFERENCE_ADAPTER, reference_mode

log = logging.getLogger(__name__)

GRADER_ERROR_RATE_LIMIT = 0.5  # a step whose samples errored more than this counts toward failing
GRADER_ERROR_STEPS = 2  # ... and this many such steps in a row fail the job (code grader_error_rate)
KEEP_CHECKPOINTS = 3


def train(handle: JobHandle, settings: Settings, store: Store, job: Job) -> str:
    """Run (or resume) the job to its end; returns the status it finished with."""
    from openrft.graders import GradingContext
    from openrft.inference import registry

    hp = job.hp
    spec = LOSSES[hp.loss]
    loss_cfg = LossConfig(kl_beta=hp.kl_beta, completion_budget=hp.completion_budget)
    grading = GradingContext(
        project_id=job.project_id,
        settings=settings,
        store=store,
        blobs=BlobStore(settings.blobs_dir),
        identity=job.identity,  # every grader call is authorized as the job's identity, at every step
    )
    total_steps = hp.total_steps(len(job.train_rows))
    ckpt_root = settings.checkpoints_dir / job.id

    # The policy, its optimizer, and where we are: fresh, or the newest checkpoint's state.
    torch.manual_seed(hp.seed)  # LoRA init and, on a fresh run, everything sampled after it
    model, tokenizer = load_policy(job.base_path, hp, job.parent_adapter)
    sampler = precision.Sampler(model, job.base_path, precision.resolve(hp.precision))
    reference = copy.deepcopy(model).requires_grad_(False) if hp.kl_beta > 0 and hp.lora_rank == 0 else None
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=hp.learning_rate, weight_decay=hp.weight_decay)
    state = resume(handle, model, optimizer) or TrainState()
    monitor, early = Monitor(), watch.EarlyStop(hp.early_stopping_patience)
    watch.rebuild(handle, state.step, monitor, early)  # what the steps before a resume told them

    def base_model() -> Any:
        """The base model for the KL measurement of full fine-tuning (a LoRA policy disables its adapter)."""
        return reference if reference is not None else load_policy(job.base_path, replace(hp, lora_rank=0))[0]

    prompts = [rollout.render_prompt(tokenizer, r.messages, r.tools) for r in job.train_rows]
    valid_prompts = [rollout.render_prompt(tokenizer, r.messages, r.tools) for r in job.valid_rows[: hp.eval_samples]]
    audit_seen: str | None = None  # the grader code the events last named
    handle.event(
        f"{'Resuming' if state.step else 'Starting'} training of {job.base_model}"
        + (f" from {job.parent_model}" if job.parent_model else "")
        + f" at step {state.step}/{total_steps}: "
        f"{hp.batch_size} prompts x {hp.group_size} samples per step, loss {hp.loss}, "
        f"{'LoRA rank ' + str(hp.lora_rank) if hp.lora_rank else 'full fine-tuning'}, lr {hp.learning_rate:g}"
    )

    while state.step < total_steps:
        control = handle.control()
        if control == "cancel":
            handle.finish("cancelled")
            return "cancelled"
        if control == "pause":
            save_checkpoint(handle, registry, store, job, ckpt_root, model, tokenizer, optimizer, state, {})
            handle.finish("paused")
            return "paused"
        t0 = time.perf_counter()
        step = state.step + 1

        # 1. Rollout: batch_size prompts x group_size completions.
        idx = data.batch_indices(state.step, len(job.train_rows), hp.batch_size, hp.seed)
        rows = [job.train_rows[i] for i in idx]
        model.eval()
        out = rollout.generate(
            sampler.model(),
            tokenizer,
            [prompts[i] for i in idx],
            group_size=hp.group_size,
            completion_budget=hp.completion_budget,
            temperature=hp.temperature,
        )
        t_sampling = time.perf_counter() - t0

        # 2. Grade every completion of the step with the job's grader.
        t1 = time.perf_counter()
        per_sample_rows = [r for r in rows for _ in range(hp.group_size)]
        graded = grade(job.grader, out.texts, per_sample_rows, grading, "train")
        audit_seen = record_audit(handle, job, graded, audit_seen)
        state.grader_error_streak = check_grader_errors(graded, state.grader_error_streak, step)
        t_grading = time.perf_counter() - t1
        if handle.control() == "cancel":  # sampling is the long phase: don't train on after a cancel
            handle.finish("cancelled")
            return "cancelled"

        # 3. Advantages and one optimizer step on the policy loss.
        t2 = time.perf_counter()
        rewards = torch.tensor(graded.rewards, dtype=torch.float32, device=out.input_ids.device)  # [N]
        advantages = spec.advantages(rewards, hp.group_size)  # [N]
        stats = optimize(model, reference, optimizer, out, rewards, advantages, hp, spec, loss_cfg)
        state.trained_tokens += sum(out.prompt_tokens) + out.n_tokens
        state.step = step
        t_training = time.perf_counter() - t2

        # 4. A bounded sample of the step's groups, readable through the API (training/samples.py).
        t_samples = time.perf_counter()
        stored = samples.store_rollout(handle, settings, step, rows, out, graded, advantages.tolist(), hp.group_size)
        t_samples = time.perf_counter() - t_samples

        # 5. Every eval_interval steps and at the end: validation (rewards, guards, KL, the linked eval's run),
        # then a checkpoint.
        validation, t_eval = None, 0.0
        if step % hp.eval_interval == 0 or step == total_steps:
            t3 = time.perf_counter()
            if valid_prompts:
                validation = evaluate(
                    model, sampler.model(), tokenizer, valid_prompts, job, grading, step, base_model, handle.fenced
                )
            t_eval = time.perf_counter() - t3
            valid_reward = validation.reward if validation else None
            ckpt_metrics = {
                "step": step,
                "train_reward_mean": stats.reward_mean,
                "valid_reward_mean": valid_reward,
                "full_valid_mean_reward": valid_reward,
            }
            save_checkpoint(handle, registry, store, job, ckpt_root, model, tokenizer, optimizer, state, ckpt_metrics)

        # 6. The reward-hacking monitor (training/watch.py), then the step's metrics event and its warnings.
        truncated = sum(n >= hp.completion_budget for n in out.completion_tokens) / max(1, len(out.completion_tokens))
        record = watch.step_record(
            step, out.texts, hp.group_size, stats, graded, job.penalty_metrics, validation, truncated
        )
        findings = monitor.observe(record)
        timing = {
            "sampling": t_sampling,
            "grading": t_grading,
            "training": t_training,
            "eval": t_eval,
            "samples": t_samples,
            "full_iteration": time.perf_counter() - t0,
        }
        message, event = step_event(
            step=step,
            total_steps=total_steps,
            stats=stats,
            train_fragments=graded.metrics("train"),
            valid_fragments=validation.fragments if validation else None,
            valid_reward_mean=validation.reward if validation else None,
            timing_s=timing,
            extra=graded.extra_metrics,
            reward_hacking=monitor.values(),
            signals=watch.record_data(record),
            guards=validation.guards if validation else None,
            guard_pass_rates=validation.guard_pass_rates if validation else None,
            kl_eval=validation.kl_eval if validation else None,
            eval_run_id=validation.run_id if validation else None,
        )
        handle.event(message, type="metrics", data=event)
        handle.update(estimated_finish=int(time.time() + timing["full_iteration"] * (total_steps - step)))
        watch.report(handle, findings, samples.top_ids(stored))
        if findings and hp.on_reward_hacking == "pause":
            names = ", ".join(f.signal for f in findings)
            handle.event(
                f"Pausing the job at step {step}: on_reward_hacking is 'pause' and {names} fired (see the warnings "
                "above); resume it to go on, or cancel it.",
                level="warn",
                data={"signals": [f.signal for f in findings], "step": step, "sample_ids": samples.top_ids(stored)},
            )
            save_checkpoint(handle, registry, store, job, ckpt_root, model, tokenizer, optimizer, state, {})
            handle.finish("paused")
            return "paused"
        if validation is not None and early.observe(step, validation.reward):
            watch.stop_early(handle, model, optimizer, early, step)
            break

    return finish_model(handle, settings, store, job, model, tokenizer, state)


def finish_model(
    handle: JobHandle, settings: Settings, store: Store, job: Job, model: Any, tokenizer: Any, state: TrainState
) -> str:
    """The fine-tuned model of every method: saved next to the other models, registered, served from now on."""
    from openrft.inference import registry

    final_dir = checkpoints.save_final(model, tokenizer, settings.models_dir / "ft" / job.id)
    with store.begin() as conn:
        registry.register_adapter(
            conn,
            model_id=job.fine_tuned_model,
            project_id=job.project_id,
            kind="fine_tuned",
            base_model=job.base_model,
            path=final_dir,
            job_id=job.id,
            parent_model=job.parent_model,
        )
    handle.finish("succeeded", fine_tuned_model=job.fine_tuned_model, trained_tokens=state.trained_tokens)
    return "succeeded"


def load_policy(path: Path, hp: Any, adapter_path: Path | None = None) -> tuple[Any, Any]:
    """The starting model, wrapped in a fp32 LoRA adapter unless lora_rank == 0, and its tokenizer.

    `adapter_path` (a chained start from a LoRA model): that adapter, loaded trainable as the policy's
    adapter ("default"), and loaded again frozen as REFERENCE_ADAPTER, the reference policy
    (`reference_mode`). Base weights in fp32, or in bf16 when they are a frozen LoRA base under precision
    "bf16"; on the device `hardware.device()` picks (CUDA when torch sees a GPU, else the CPU): the rollouts,
    losses and optimizer state follow the weights.
    """
    tokenizer = AutoTokenizer.from_pretrained(path)
    dtype = precision.base_dtype(precision.resolve(hp.precision), hp.lora_rank)
    model: Any = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    model = model.to(hardware.device())
    if adapter_path is not None:
        model = PeftModel.from_pretrained(model, str(adapter_path), is_trainable=True)
        model.load_adapter(str(adapter_path), adapter_name=REFERENCE_ADAPTER, is_trainable=False)
        model.set_adapter("default")
        for module in model.modules():  # the parent's adapter weights load in the base's dtype: train in fp32
            if isinstance(module, LoraLayer):
                for layer in module.lora_A.values():
                    layer.float()
                for layer in module.lora_B.values():
                    layer.float()
    elif hp.lora_rank > 0:
        config = LoraConfig(
            r=hp.lora_rank,
            lora_alpha=hp.lora_alpha,
            lora_dropout=0.0,
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        )
        model = get_peft_model(model, config)
    return model, tokenizer


def resume(handle: JobHandle, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> TrainState | None:
    """Load the newest checkpoint whose folder still exists; None on a fresh job."""
    for ckpt in sorted(handle.checkpoints(), key=lambda c: c["step_number"], reverse=True):
        folder = Path(ckpt["path"])
        if (folder / "state.json").is_file():
            return checkpoints.load(folder, model, optimizer)
    return None


def grade(grader: dict[str, Any], texts: list[str], rows: list[Any], ctx: Any, split: str) -> Any:
    """grade_batch on a step's completions; a grader that can't run at all (e.g. its function is gone) fails the job."""
    from openrft.graders import GraderValidationError, Sample, grade_batch

    # A row with tools: the text parsed as the server parses a reply (sample.output_tools, OpenAI's shape).
    samples = [Sample.from_completion(t, tools=r.tools) for t, r in zip(texts, rows, strict=True)]
    try:
        return grade_batch(
            grader, samples, [r.item for r in rows], ctx=ctx, split=split, messages=[r.messages for r in rows]
        )
    except GraderValidationError as exc:
        raise JobFailed("invalid_grader", str(exc), "method.reinforcement.grader") from exc
    except AccessDenied as exc:  # a permission the job's identity had at creation was revoked since
        raise JobFailed(
            "permission_denied", f"The job's identity may no longer call its grader: {exc}", exc.param
        ) from exc
    except OpenRFTError as exc:  # e.g. the lambda grader's function was deleted
        raise JobFailed("grader_error", f"The grader can't run: {exc}", "method.reinforcement.grader") from exc


def record_audit(handle: JobHandle, job: Job, graded: Any, previous: str | None) -> str:
    """Name the grader (for a lambda grader: function, version, CodeSha256) that produced this step's rewards.

    Written on the first graded step of every run and again whenever it changes: a grader naming
    `$LATEST` or an alias is resolved at each call, so a deploy during training shows in the events.
    Returns what was recorded, to pass back as `previous` next step.
    """
    from openrft.graders import redact

    audit = [dict(a) for a in {repr(sorted(a.items())): a for a in graded.audit}.values()]
    signature = json.dumps(audit, sort_keys=True, default=str)
    if signature == previous:
        return signature
    name = job.grader.get("name", job.grader.get("type"))
    code = "; ".join(
        f"function {a['function_name']} version {a['version']} CodeSha256 {a['code_sha256']}"
        for a in audit
        if a.get("function_name")
    )
    handle.event(
        f"Grading with {job.grader.get('type')} grader {name!r}" + (f": {code}" if code else ""),
        data={"grader": redact(job.grader), "audit": audit},
    )
    return signature


def check_grader_errors(graded: Any, streak: int, step: int) -> int:
    """The new streak of error-heavy steps; raises JobFailed(grader_error_rate) when it gets too long."""
    rate = sum(e is not None for e in graded.errors) / max(1, len(graded.errors))
    if rate <= GRADER_ERROR_RATE_LIMIT:
        return 0
    if streak + 1 >= GRADER_ERROR_STEPS:
        details = "; ".join(graded.error_details[:3])
        raise JobFailed(
            "grader_error_rate",
            f"The grader failed on {rate:.0%} of the samples of step {step} "
            f"and the step before (limit {GRADER_ERROR_RATE_LIMIT:.0%}): {details}",
            "grader",
        )
    return streak + 1


def optimize(
    model: torch.nn.Module,
    reference: torch.nn.Module | None,
    optimizer: torch.optim.Optimizer,
    out: rollout.Rollout,
    rewards: torch.Tensor,
    advantages: torch.Tensor,
    hp: hparams.HParams,
    spec: Any,
    cfg: LossConfig,
) -> StepStats:
    """Micro-batched forward/backward on the step's advantages [N] and one AdamW step (gradient norm clipped)."""
    model.train()
    n_seqs, n_tokens = len(rewards), max(1, out.n_tokens)
    # Sequences with zero advantage carry no policy gradient; without a KL term they are skipped
    # (normalizers stay whole-batch, so the loss and gradient are unchanged).
    active = [i for i in range(n_seqs) if hp.kl_beta > 0 or advantages[i] != 0]
    optimizer.zero_grad(set_to_none=True)
    pg_loss = kl = entropy_sum = entropy_tokens = 0.0
    for start in range(0, len(active), hp.micro_batch_size):
        rows = torch.tensor(active[start : start + hp.micro_batch_size], device=rewards.device)
        mask = out.completion_mask[rows]  # [n, T]
        attention = precision.training_attention(out.input_ids.shape[1])
        with precision.autocast(precision.resolve(hp.precision), model), precision.attention(model, attention):
            logp, entropy = rollout.token_logprobs(
                model,
                out.input_ids[rows],
                out.attention_mask[rows],
                out.prompt_len,
                hp.temperature,
                with_entropy=True,
                prompt_index=out.prompt_index[rows],
            )
            ref_logp = reference_logprobs(model, reference, out, rows, hp) if hp.kl_beta > 0 else None
        result = spec.objective(LossInputs(logp, advantages[rows], mask, n_seqs, n_tokens, ref_logp), cfg)
        result.loss.backward()
        pg_loss, kl = pg_loss + result.pg_loss, kl + result.kl
        assert entropy is not None
        entropy_sum += float((entropy * mask).sum())
        entropy_tokens += float(mask.sum())
    if entropy_tokens == 0:  # no sequence trained (every group's rewards equal): measure the policy anyway
        entropy_sum, entropy_tokens = step_entropy(model, out, hp)
    grad_norm = torch.nn.utils.clip_grad_norm_(
        [p for g in optimizer.param_groups for p in g["params"]], hp.max_grad_norm
    )
    optimizer.step()
    model.eval()
    return StepStats(
        reward_mean=float(rewards.mean()),
        advantage_mean=float(advantages.mean()),
        pg_loss=pg_loss,
        kl=kl,
        entropy=entropy_sum / max(entropy_tokens, 1.0),
        grad_norm=float(grad_norm),
        response_length_mean=float(out.completion_mask.sum(dim=1).mean()),
        frac_reward_zero_std=frac_reward_zero_std(rewards, hp.group_size),
        learning_rate=hp.learning_rate,
    )


@torch.no_grad()
def step_entropy(model: torch.nn.Module, out: rollout.Rollout, hp: hparams.HParams) -> tuple[float, float]:
    """(entropy sum, token count) of the first micro-batch of the step's completions under the policy: the step's
    entropy when no sequence was trained (a step of zero-variance groups must not read as zero entropy)."""
    rows = torch.arange(min(hp.micro_batch_size, out.input_ids.shape[0]), device=out.input_ids.device)
    mask = out.completion_mask[rows]  # [n, T]
    attention = precision.training_attention(out.input_ids.shape[1])
    with precision.autocast(precision.resolve(hp.precision), model), precision.attention(model, attention):
        _, entropy = rollout.token_logprobs(
            model,
            out.input_ids[rows],
            out.attention_mask[rows],
            out.prompt_len,
            hp.temperature,
            with_entropy=True,
            prompt_index=out.prompt_index[rows],
        )
    assert entropy is not None
    return float((entropy * mask).sum()), float(mask.sum())


@torch.no_grad()
def reference_logprobs(
    model: torch.nn.Module,
    reference: torch.nn.Module | None,
    out: rollout.Rollout,
    rows: torch.Tensor,
    hp: hparams.HParams,
) -> torch.Tensor:
    """Log-probs under the base model: the adapter disabled (LoRA) or the frozen copy (full). [n, T]"""
    args = (out.input_ids[rows], out.attention_mask[rows], out.prompt_len, hp.temperature)
    if reference is not None:
        return rollout.token_logprobs(reference, *args, prompt_index=out.prompt_index[rows])[0]
    with reference_mode(model):
        return rollout.token_logprobs(model, *args, prompt_index=out.prompt_index[rows])[0]


def evaluate(
    policy: Any,
    sampling_model: Any,
    tokenizer: Any,
    prompts: list[list[int]],
    job: Job,
    ctx: Any,
    step: int,
    base_model: Any,
    fenced: Any,
) -> validation.Validation:
    """One greedy completion per validation prompt, graded by the job's grader and its guards, the KL to the base
    model on them, and the linked eval's run of this step (training/validation.py)."""
    from openrft.evals import criteria, records
    from openrft.graders import Sample

    hp = job.hp
    out = rollout.generate(
        sampling_model,
        tokenizer,
        prompts,
        group_size=1,
        completion_budget=hp.completion_budget,
        temperature=hp.temperature,
        greedy=True,
    )
    rows = job.valid_rows[: len(prompts)]
    graded = grade(job.grader, out.texts, rows, ctx, "valid")
    result = validation.Validation(
        reward=sum(graded.rewards) / max(1, len(graded.rewards)), fragments=graded.metrics("valid")
    )
    others: list[tuple[list[dict[str, Any]], bool]] = [([], True) for _ in rows]
    if job.guards:
        others = criteria.grade_items(
            job.guards,
            [Sample.from_completion(t, tools=r.tools) for t, r in zip(out.texts, rows, strict=True)],
            [r.item for r in rows],
            ctx,
            messages=[r.messages for r in rows],
        )
        result.guards, result.guard_pass_rates = validation.guard_scores(job.guards, others)
    result.kl_eval = validation.kl_to_base(policy, base_model, out)
    if job.eval_id:
        result.run_id = records.record_job_eval(
            fenced,
            eval_id=job.eval_id,
            job_id=job.id,
            project_id=job.project_id,
            step=step,
            model_id=f"{job.fine_tuned_model}:ckpt-step-{step}",
            rows=rows,
            texts=out.texts,
            prompt_tokens=out.prompt_tokens,
            completion_tokens=out.completion_tokens,
            finish_reasons=validation.finish_reasons(out, rollout.eos_token_ids(policy, tokenizer)),
            results=validation.linked_results(job.criteria, graded.outcomes, others),
            sampling={"temperature": 0.0, "max_completion_tokens": hp.completion_budget, "top_p": 1.0, "seed": hp.seed},
        )
    return result


def save_checkpoint(
    handle: JobHandle,
    registry: Any,
    store: Store,
    job: Job,
    root: Path,
    model: torch.nn.Module,
    tokenizer: Any,
    optimizer: torch.optim.Optimizer,
    state: TrainState,
    metrics: dict[str, Any],
) -> None:
    """Write, register (as `ft:...:ckpt-step-N`) and prune checkpoints, keeping the best few and the newest."""
    folder = checkpoints.save(root, model, tokenizer, optimizer, state)
    model_id = f"{job.fine_tuned_model}:ckpt-step-{state.step}"
    for old in handle.checkpoints():  # a pause right after an evaluation re-writes the same step
        if old["step_number"] == state.step:
            handle.delete_checkpoint(old["id"])
            metrics = metrics or old["metrics"]
    metrics = metrics or {"step": state.step}
    with store.begin() as conn:
        registry.register_adapter(
            conn,
            model_id=model_id,
            project_id=job.project_id,
            kind="checkpoint",
            base_model=job.base_model,
            path=folder / "model",
            job_id=job.id,
            parent_model=job.parent_model,
        )
    handle.add_checkpoint(step=state.step, path=str(folder), metrics=metrics, model_id=model_id)
    for old in checkpoints.to_prune(handle.checkpoints(), KEEP_CHECKPOINTS):
        with store.begin() as conn:
            children, jobs = registry.dependents(conn, job.project_id, old["fine_tuned_model_checkpoint"])
        if children or jobs:  # a chained job or model starts from this checkpoint: it stays
            continue
        handle.delete_checkpoint(old["id"])
        registry.delete_model(store, job.project_id, old["fine_tuned_model_checkpoint"])
        if Path(old["path"]) != folder:
            shutil.rmtree(old["path"], ignore_errors=True)
