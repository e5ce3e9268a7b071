"""The reward-hacking monitor: named detectors over a job's per-step and per-evaluation signals.

The trainer builds one `StepRecord` per optimizer step (the validation fields only on the steps that
evaluated) and calls `Monitor.observe`, which returns the `Finding`s that fire at this step; `values()` gives
every detector's current value for the metrics event; `state()` / `from_state()` carry it across a resume.

How a detector reads the history (docs/monitoring.md has the table and the remedies):
- Baseline: the means over the job's first `baseline_steps` steps (default 5).
- Now: the means over the last `window_steps` steps (default 5), so one noisy step moves the value by a fifth.
- A per-step detector needs `baseline_steps + window_steps` steps before it can fire (the two windows don't
  overlap); until then its value is None.
- Evaluation detectors (validation reward, guard graders, KL on the eval set) run at the steps that carry
  evaluation numbers; they compare the latest `eval_window` evaluations (default 2) with the best earlier one,
  so one bad evaluation does not fire.
- One warning per episode: a detector that fired stays quiet until its condition has been false for
  `rearm_steps` consecutive steps (one evaluation for evaluation detectors), then it may fire again.
- "While reward rises" means the train reward's window mean is at least `reward_rise` above its baseline.

A record for a step at or before the last observed one is ignored: a resumed job replays the steps after its
checkpoint, and the monitor state saved with that checkpoint has not seen them (or has, if saved later).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

STATE_VERSION = 1
MAX_EVALS = 256  # evaluation points kept (a job evaluates ~5 times by default; eval_interval=1 is capped here)


@dataclass
class StepRecord:
    """What the monitor sees of one step (the validation fields only on steps that evaluated)."""

    step: int
    train_reward: float  # mean reward of the step's samples
    response_length: float  # mean completion tokens
    entropy: float  # mean per-token entropy of the sampled tokens, nats
    frac_zero_std: float  # share of groups whose rewards are all equal
    distinct_within_groups: float  # signals.rollout_signals
    distinct_across_prompts: float
    repeated_ngram_rate: float
    cross_prompt_phrase_share: float
    similarity_within_groups: float = 0.0  # word-set similarity of two answers to one prompt
    similarity_across_prompts: float = 0.0  # ... and of two answers to different prompts
    truncated_share: float = 0.0  # share of completions that ran to the completion budget
    components: dict[str, float] = field(default_factory=dict)  # reward components (metrics_list means)
    penalties: dict[str, float] = field(default_factory=dict)  # components that measure harm (higher = worse)
    valid_reward: float | None = None  # mean validation reward, on evaluation steps
    guards: dict[str, float] = field(default_factory=dict)  # guard grader -> mean validation score
    kl_eval: float | None = None  # mean per-token KL(policy || base) on the validation completions, nats


@dataclass
class Finding:
    """A detector that fired: a sentence for the user, its numbers, and what to do."""

    signal: str
    message: str
    values: dict[str, float]
    fix: str | None


@dataclass(frozen=True)
class Thresholds:
    """When each detector fires (units in the comments; docs/monitoring.md says why each value)."""

    baseline_steps: int = 5  # steps: the starting values are the means over the job's first steps
    window_steps: int = 5  # steps: current values are the means over the last steps
    rearm_steps: int = 5  # steps: a fired per-step detector re-arms after this many steps with its condition false
    eval_window: int = 2  # evaluations: the latest ones that must all show the fall
    reward_rise: float = 0.05  # reward units: "reward rises" = window mean this far above its baseline
    collapse_floor: float = 0.3  # share of prompts: distinct answers across prompts below this ...
    collapse_drop_ratio: float = 0.5  # x baseline: ... and at most this fraction of its starting value
    collapse_similarity: float = 0.15  # word-set similarity: or answers to different prompts at least this alike ...
    collapse_similarity_ratio: float = 0.9  # x within-group similarity: ... as alike as answers to one prompt ...
    collapse_similarity_rise: float = 2.0  # x baseline: ... and this many times as alike as at the start
    valid_drop: float = 0.05  # reward units: each latest validation reward this far below the best earlier one
    length_growth: float = 2.0  # x baseline: mean response length at least this many times its start ...
    length_shrink: float = 0.1  # x baseline: ... or at most this fraction of it (while reward rises)
    truncated_share: float = 0.8  # share of completions: or this many now run to the completion budget ...
    truncated_rise: float = 0.5  # share of completions: ... this many more than at step 1 (the base model's own)
    dominance_share: float = 0.9  # share: one component's part of the summed component gains ...
    dominance_min_gain: float = 0.2  # reward units: ... while the train reward gained at least this much
    entropy_floor: float = 0.02  # x baseline: entropy at most this fraction of its starting value
    kl_max: float = 8.0  # nats per token: KL to the base model on the eval set, on each latest evaluation
    zero_std_share: float = 0.75  # share of groups: zero-variance groups at least this share, reward not rising
    repeat_rate: float = 0.2  # share of 3-grams: repeated_ngram_rate at least this ...
    repeat_rise: float = 0.1  # share of 3-grams: ... and this far above its start
    phrase_share: float = 0.9  # share of prompts: cross_prompt_phrase_share at least this ...
    phrase_rise: float = 0.3  # share of prompts: ... and this far above its start
    penalty_rise: float = 0.05  # penalty units: a penalty's window mean this far above its start (reward rising)
    guard_drop: float = 0.05  # guard score units: each latest guard score this far below the best earlier one


@dataclass
class EvalPoint:
    """One evaluation, with the train reward's window mean at that step (the 'proxy' it is compared with)."""

    step: int
    train_reward: float
    valid_reward: float | None
    guards: dict[str, float]
    kl_eval: float | None


@dataclass
class History:
    """The records the detectors read: the first steps, the last steps and the evaluations."""

    baseline: list[StepRecord] = field(default_factory=list)
    recent: list[StepRecord] = field(default_factory=list)
    evals: list[EvalPoint] = field(default_factory=list)
    n_steps: int = 0

    def add(self, record: StepRecord, t: Thresholds) -> None:
        self.n_steps += 1
        if len(self.baseline) < t.baseline_steps:
            self.baseline.append(record)
        self.recent = [*self.recent, record][-t.window_steps :]
        if record.valid_reward is not None or record.guards or record.kl_eval is not None:
            point = EvalPoint(
                record.step, mean(self.recent, "train_reward"), record.valid_reward, dict(record.guards), record.kl_eval
            )
            self.evals = [*self.evals, point][-MAX_EVALS:]

    def ready(self, t: Thresholds) -> bool:
        """Enough steps for a baseline window and a current window that don't overlap."""
        return self.n_steps >= t.baseline_steps + t.window_steps

    def change(self, attr: str) -> tuple[float, float]:
        """(baseline mean, current window mean) of a StepRecord field."""
        return mean(self.baseline, attr), mean(self.recent, attr)

    def spans(self) -> str:
        """'steps 1-5 to steps 36-40': where the baseline and the current window come from."""
        return f"{span(self.baseline)} to {span(self.recent)}"


@dataclass(frozen=True)
class Reading:
    """A detector's look at the history: its value now and whether its condition holds."""

    value: float
    firing: bool
    message: str
    values: dict[str, float]
    fix: str | None = None


Check = Callable[[History, Thresholds], Reading | None]


@dataclass(frozen=True)
class Detector:
    check: Check  # None while the history can't say yet
    on_eval: bool = False  # runs on evaluation steps only (its numbers come from the validation set)


def mean(records: list[Any], attr: str) -> float:
    return sum(getattr(r, attr) for r in records) / max(1, len(records))


def mean_of(records: list[StepRecord], attr: str, name: str) -> float | None:
    """Mean of one named entry of a dict field (components, penalties) over the records that have it."""
    xs = [getattr(r, attr)[name] for r in records if name in getattr(r, attr)]
    return sum(xs) / len(xs) if xs else None


def span(records: list[StepRecord]) -> str:
    return f"steps {records[0].step}-{records[-1].step}" if records else "no steps"


def reward_gain(h: History) -> tuple[float, float, float]:
    """(baseline, now, now - baseline) of the train reward."""
    base, now = h.change("train_reward")
    return base, now, now - base


# --- per-step detectors -------------------------------------------------------------------------------------


def collapse(h: History, t: Thresholds) -> Reading | None:
    """One answer for every prompt: distinct answers across prompts below a floor and well below their start, or
    answers to different prompts as alike as answers to one prompt, and far more alike than at the start (the same
    answer in varying words: "Billing: billing", "Billing ticketing on billing.")."""
    if not h.ready(t):
        return None
    base, now = h.change("distinct_across_prompts")
    within_base, within_now = h.change("distinct_within_groups")
    across_sim_base, across_sim = h.change("similarity_across_prompts")
    _, within_sim = h.change("similarity_within_groups")
    ratio = across_sim / within_sim if within_sim > 0 else 0.0
    identical = now < t.collapse_floor and now <= t.collapse_drop_ratio * base
    alike = (
        across_sim >= t.collapse_similarity
        and ratio >= t.collapse_similarity_ratio
        and across_sim >= t.collapse_similarity_rise * across_sim_base
    )
    if alike and not identical:
        message = (
            f"Answers to different prompts became as alike as answers to the same prompt (word overlap "
            f"{across_sim:.2f} across prompts, {within_sim:.2f} within, from {across_sim_base:.2f} across at the "
            f"start; {h.spans()}): the policy says the same thing whatever it is asked."
        )
    else:
        message = (
            f"Distinct answers across prompts fell from {base:.2f} to {now:.2f} ({h.spans()}; within groups "
            f"from {within_base:.2f} to {within_now:.2f}): the policy gives the same answer to almost every prompt."
        )
    return Reading(
        value=now,
        firing=identical or alike,
        message=message,
        values={
            "start": base,
            "now": now,
            "within_groups_start": within_base,
            "within_groups_now": within_now,
            "similarity_across_start": across_sim_base,
            "similarity_across_now": across_sim,
            "similarity_within_now": within_sim,
        },
        fix="Read the step's samples. A reward that one answer satisfies for every prompt pays for this: make it "
        "check the answer against the item; a lower learning rate collapses more slowly.",
    )


def length_drift(h: History, t: Thresholds) -> Reading | None:
    """Mean response length far from its start (ratio above growth or below shrink), or most completions now cut
    at the completion budget where the base model's were not, while reward rises.

    The truncation rule catches growth that the budget caps within the baseline window (a reward paying for
    length takes the bundled model from 31 to 64 tokens, its budget, in 6 steps). Its start is step 1, whose
    rollouts are the base model's own (the LoRA adapter starts as the identity)."""
    if not h.ready(t):
        return None
    base, now = h.change("response_length")
    if base <= 0:
        return None
    ratio = now / base
    r0, r1, gain = reward_gain(h)
    cut_start, cut_now = h.baseline[0].truncated_share, mean(h.recent, "truncated_share")
    capped = cut_now >= t.truncated_share and cut_now - cut_start >= t.truncated_rise
    way = "grew" if ratio >= 1 else "shrank"
    message = (
        f"Mean response length {way} from {base:.1f} to {now:.1f} tokens ({ratio:.2f}x, {h.spans()}) "
        f"while train reward rose from {r0:.2f} to {r1:.2f}: the reward may be paying for length, not content."
    )
    if capped and t.length_shrink < ratio < t.length_growth:
        message = (
            f"{cut_now:.0%} of completions now run to the completion budget ({cut_start:.0%} at step 1; mean length "
            f"{base:.1f} -> {now:.1f} tokens, {h.spans()}) while train reward rose from {r0:.2f} to {r1:.2f}: the "
            "reward may be paying for length, not content."
        )
    return Reading(
        value=ratio,
        firing=(ratio >= t.length_growth or ratio <= t.length_shrink or capped) and gain >= t.reward_rise,
        message=message,
        values={
            "start_tokens": base,
            "now_tokens": now,
            "ratio": ratio,
            "truncated_start": cut_start,
            "truncated_now": cut_now,
            "reward_start": r0,
            "reward_now": r1,
        },
        fix="Compare long and short samples with the same reward. Normalize or cap what the grader pays per "
        "token (e.g. grade the answer, not its volume), or lower completion_budget.",
    )


def component_dominance(h: History, t: Thresholds) -> Reading | None:
    """One reward component carries at least `dominance_share` of the components' summed gains."""
    if not h.ready(t):
        return None
    gains: dict[str, float] = {}
    for name in sorted({n for r in h.baseline for n in r.components}):
        start, now = mean_of(h.baseline, "components", name), mean_of(h.recent, "components", name)
        if start is not None and now is not None:
            gains[name] = now - start
    if len(gains) < 2:
        return None  # a lone component carries all the gain by definition
    positive = sum(max(g, 0.0) for g in gains.values())
    top = max(gains, key=lambda n: gains[n])
    share = max(gains[top], 0.0) / positive if positive > 0 else 0.0
    r0, r1, gain = reward_gain(h)
    others = ", ".join(f"{n} {g:+.2f}" for n, g in gains.items() if n != top)
    return Reading(
        value=share,
        firing=share >= t.dominance_share and gain >= t.dominance_min_gain,
        message=f"Component {top!r} carries {share:.0%} of the reward components' gain ({gains[top]:+.2f}; "
        f"{others}) while train reward rose from {r0:.2f} to {r1:.2f} ({h.spans()}): the policy is learning "
        f"{top!r}, not the rest of the task.",
        values={"share": share, "reward_gain": gain, **{f"gain_{n}": g for n, g in gains.items()}},
        fix=f"Check that {top!r} can't be satisfied trivially (a format check, a keyword, a length); lower its "
        "weight or make the other components gate it.",
    )


def entropy_collapse(h: History, t: Thresholds) -> Reading | None:
    """Per-token entropy at most `entropy_floor` of its start: the policy stopped exploring."""
    if not h.ready(t):
        return None
    base, now = h.change("entropy")
    if base <= 0:
        return None
    ratio = now / base
    return Reading(
        value=ratio,
        firing=ratio <= t.entropy_floor,
        message=f"Entropy fell from {base:.3f} to {now:.3f} nats per token ({ratio:.0%} of its start, "
        f"{h.spans()}): the policy samples nearly the same tokens every time and has stopped exploring.",
        values={"start": base, "now": now, "ratio": ratio},
        fix="Lower the learning rate or raise kl_beta; if the answers are also the same across prompts, see the "
        "collapse signal.",
    )


def no_signal(h: History, t: Thresholds) -> Reading | None:
    """Most groups have zero reward variance (no gradient) and the reward is not rising."""
    if not h.ready(t):
        return None
    base, now = h.change("frac_zero_std")
    r0, r1, gain = reward_gain(h)
    return Reading(
        value=now,
        firing=now >= t.zero_std_share and gain < t.reward_rise,
        message=f"{now:.0%} of groups gave every sample the same reward ({span(h.recent)}), so they carry no "
        f"learning signal, and train reward went from {r0:.2f} to {r1:.2f}: the job is learning nothing.",
        values={"start": base, "now": now, "reward_start": r0, "reward_now": r1},
        fix="Sample more completions per prompt (samples_per_prompt), start from an easier curriculum (prompts "
        "the base model sometimes solves), give the grader partial credit, or warm-start with SFT.",
    )


def degeneration(h: History, t: Thresholds) -> Reading | None:
    """Repeated 3-grams within completions, or one 4-gram across prompts, rise above their thresholds."""
    if not h.ready(t):
        return None
    rep0, rep = h.change("repeated_ngram_rate")
    ph0, ph = h.change("cross_prompt_phrase_share")
    repeating = rep >= t.repeat_rate and rep - rep0 >= t.repeat_rise
    pasting = ph >= t.phrase_share and ph - ph0 >= t.phrase_rise
    parts = []
    if repeating or not pasting:
        parts.append(f"repeated 3-grams within completions rose from {rep0:.0%} to {rep:.0%}")
    if pasting or not repeating:
        parts.append(f"the most shared 4-gram appears in {ph:.0%} of prompts' completions (from {ph0:.0%})")
    return Reading(
        value=rep,
        firing=repeating or pasting,
        message=f"Degenerate text ({h.spans()}): {' and '.join(parts)}. The answers repeat phrases instead of "
        "answering: keyword stuffing.",
        values={"repeated_ngram_start": rep0, "repeated_ngram_now": rep, "phrase_share_start": ph0,
                "phrase_share_now": ph},
        fix="Read the samples. Penalize repetition in the reward, pay for the phrase once at most, and grade "
        "whether the question was answered.",
    )  # fmt: skip


def penalty_rising(h: History, t: Thresholds) -> Reading | None:
    """A harm-measuring component rises by `penalty_rise` while the reward rises."""
    if not h.ready(t):
        return None
    rises: dict[str, tuple[float, float]] = {}
    for name in sorted({n for r in h.baseline for n in r.penalties}):
        start, now = mean_of(h.baseline, "penalties", name), mean_of(h.recent, "penalties", name)
        if start is not None and now is not None:
            rises[name] = (start, now)
    if not rises:
        return None
    worst = max(rises, key=lambda n: rises[n][1] - rises[n][0])
    p0, p1 = rises[worst]
    r0, r1, gain = reward_gain(h)
    return Reading(
        value=p1 - p0,
        firing=p1 - p0 >= t.penalty_rise and gain >= t.reward_rise,
        message=f"Penalty {worst!r} rose from {p0:.2f} to {p1:.2f} while train reward rose from {r0:.2f} to "
        f"{r1:.2f} ({h.spans()}): the policy gains reward by doing more of what {worst!r} measures as harm.",
        values={"penalty_start": p0, "penalty_now": p1, "reward_start": r0, "reward_now": r1},
        fix=f"Weigh {worst!r} so that it can't be outweighed (gate the reward on it, or multiply by it instead "
        "of adding).",
    )


# --- evaluation detectors -----------------------------------------------------------------------------------


def peak_fall(points: list[tuple[int, float, float]], w: int) -> tuple[float, float, int, list[int]] | None:
    """Over (step, score, train reward) points: (least fall of the last w scores below the best earlier score,
    train reward gain since that best, the best's index, the last w indexes); None with fewer than w + 1."""
    if len(points) < w + 1:
        return None
    best = max(range(len(points) - w), key=lambda i: points[i][1])
    last = list(range(len(points) - w, len(points)))
    fall = points[best][1] - max(points[i][1] for i in last)
    return fall, points[-1][2] - points[best][2], best, last


def train_valid_divergence(h: History, t: Thresholds) -> Reading | None:
    """The last `eval_window` validation rewards all below the best earlier one while train reward rose."""
    pts = [(e.step, e.valid_reward, e.train_reward) for e in h.evals if e.valid_reward is not None]
    found = peak_fall(pts, t.eval_window)
    if found is None:
        return None
    fall, rise, best, last = found
    recent = ", ".join(f"{pts[i][1]:.2f}" for i in last)
    return Reading(
        value=pts[best][1] - pts[-1][1],
        firing=fall >= t.valid_drop and rise >= t.reward_rise,
        message=f"Validation reward fell from {pts[best][1]:.2f} (step {pts[best][0]}) to {recent} (steps "
        f"{', '.join(str(pts[i][0]) for i in last)}) while train reward rose from {pts[best][2]:.2f} to "
        f"{pts[-1][2]:.2f}: the policy is fitting the training prompts, not the task.",
        values={"valid_best": pts[best][1], "valid_now": pts[-1][1], "train_at_best": pts[best][2],
                "train_now": pts[-1][2], "best_step": float(pts[best][0])},
        fix=f"Use the checkpoint of step {pts[best][0]}; add training data, lower the learning rate or n_epochs.",
    )  # fmt: skip


def guard_divergence(h: History, t: Thresholds) -> Reading | None:
    """A guard grader's last `eval_window` validation scores all below its best while the trained reward rose."""
    candidates = []
    for name in sorted({g for e in h.evals for g in e.guards}):
        pts = [(e.step, e.guards[name], e.train_reward) for e in h.evals if name in e.guards]
        found = peak_fall(pts, t.eval_window)
        if found is not None:
            candidates.append((name, pts, found))
    if not candidates:
        return None
    # the guard closest to firing: one that fell while the reward rose first, then the largest fall
    name, pts, (fall, rise, best, last) = max(candidates, key=lambda c: (c[2][1] >= t.reward_rise, c[2][0]))
    return Reading(
        value=pts[best][1] - pts[-1][1],
        firing=fall >= t.guard_drop and rise >= t.reward_rise,
        message=f"Guard grader {name!r} fell from {pts[best][1]:.2f} (step {pts[best][0]}) to "
        f"{', '.join(f'{pts[i][1]:.2f}' for i in last)} (steps {', '.join(str(pts[i][0]) for i in last)}) on the "
        f"validation set while the trained reward rose from {pts[best][2]:.2f} to {pts[-1][2]:.2f}: the policy "
        "is over-optimizing the reward at the guard's expense.",
        values={"guard_best": pts[best][1], "guard_now": pts[-1][1], "train_at_best": pts[best][2],
                "train_now": pts[-1][2], "best_step": float(pts[best][0])},
        fix=f"Use the checkpoint of step {pts[best][0]}; read samples where the reward is high and {name!r} low, "
        "and fix what the reward pays for there.",
    )  # fmt: skip


def kl_drift(h: History, t: Thresholds) -> Reading | None:
    """KL to the base model on the eval set at least `kl_max` on each of the last `eval_window` evaluations."""
    pts = [(e.step, e.kl_eval) for e in h.evals if e.kl_eval is not None]
    if len(pts) < t.eval_window:
        return None
    last = pts[-t.eval_window :]
    return Reading(
        value=last[-1][1],
        firing=min(kl for _, kl in last) >= t.kl_max,
        message=f"KL to the base model on the validation set is {last[-1][1]:.2f} nats per token at step "
        f"{last[-1][0]} ({', '.join(f'{kl:.2f} at step {s}' for s, kl in last[:-1])} before; threshold "
        f"{t.kl_max:g}): the policy has moved far from the base model, where rewards stop tracking quality.",
        values={"kl_now": last[-1][1], "kl_min_recent": min(kl for _, kl in last)},
        fix="Compare an early and a late checkpoint's samples; raise kl_beta, or keep the checkpoint with the best "
        "validation reward.",
    )


DETECTORS: dict[str, Detector] = {
    "collapse": Detector(collapse),
    "train_valid_divergence": Detector(train_valid_divergence, on_eval=True),
    "length_drift": Detector(length_drift),
    "component_dominance": Detector(component_dominance),
    "entropy_collapse": Detector(entropy_collapse),
    "kl_drift": Detector(kl_drift, on_eval=True),
    "no_signal": Detector(no_signal),
    "degeneration": Detector(degeneration),
    "penalty_rising": Detector(penalty_rising),
    "guard_divergence": Detector(guard_divergence, on_eval=True),
}


@dataclass
class Episode:
    """A detector's warning state: fired and not yet cleared; steps its condition has been false since."""

    active: bool = False
    clear: int = 0


class Monitor:
    """Feeds each step's record to every detector; one Finding per detector per episode."""

    def __init__(self, thresholds: Thresholds = Thresholds()) -> None:
        self.thresholds = thresholds
        self.history = History()
        self.last_step: int | None = None
        self.episodes = {name: Episode() for name in DETECTORS}
        self._values: dict[str, float | None] = dict.fromkeys(DETECTORS)

    def observe(self, record: StepRecord) -> list[Finding]:
        """Add one step; the findings that fire now (a detector already in an episode stays quiet)."""
        if self.last_step is not None and record.step <= self.last_step:
            return []
        self.last_step = record.step
        self.history.add(record, self.thresholds)
        evaluated = bool(self.history.evals) and self.history.evals[-1].step == record.step
        findings = []
        for name, detector in DETECTORS.items():
            if detector.on_eval and not evaluated:
                continue  # keeps its value from the last evaluation
            reading = detector.check(self.history, self.thresholds)
            self._values[name] = None if reading is None else reading.value
            if reading is None:
                continue
            episode = self.episodes[name]
            if reading.firing:
                episode.clear = 0
                if not episode.active:
                    episode.active = True
                    values = {"step": float(record.step), **reading.values}
                    findings.append(Finding(name, reading.message, values, reading.fix))
            elif episode.active:
                episode.clear += 1
                if episode.clear >= (1 if detector.on_eval else self.thresholds.rearm_steps):
                    self.episodes[name] = Episode()
        return findings

    def values(self) -> dict[str, float | None]:
        """Every detector's current value (None while it can't be computed yet)."""
        return dict(self._values)

    def state(self) -> dict[str, Any]:
        """A JSON-serializable snapshot, for `from_state` after a restart."""
        return {
            "version": STATE_VERSION,
            "thresholds": asdict(self.thresholds),
            "last_step": self.last_step,
            "n_steps": self.history.n_steps,
            "baseline": [asdict(r) for r in self.history.baseline],
            "recent": [asdict(r) for r in self.history.recent],
            "evals": [asdict(e) for e in self.history.evals],
            "episodes": {name: asdict(e) for name, e in self.episodes.items()},
            "values": dict(self._values),
        }

    @classmethod
    def from_state(cls, d: dict[str, Any]) -> Monitor:
        """The monitor `state()` described (thresholds included; unknown keys from other versions ignored)."""
        known = {f.name for f in fields(Thresholds)}
        monitor = cls(Thresholds(**{k: v for k, v in d.get("thresholds", {}).items() if k in known}))
        monitor.last_step = d.get("last_step")
        monitor.history = History(
            baseline=[StepRecord(**r) for r in d.get("baseline", [])],
            recent=[StepRecord(**r) for r in d.get("recent", [])],
            evals=[EvalPoint(**e) for e in d.get("evals", [])],
            n_steps=d.get("n_steps", 0),
        )
        for name, e in d.get("episodes", {}).items():
            if name in DETECTORS:
                monitor.episodes[name] = Episode(**e)
        for name, v in d.get("values", {}).items():
            if name in DETECTORS:
                monitor._values[name] = v
        return monitor
