"""Replay a finished job's steps through the reward-hacking monitor, with today's thresholds or others.

Every metrics event carries the step's StepRecord (its "signals"), so a run that took minutes replays in
milliseconds: the way to check a threshold change against runs already made, hackable and honest alike.

    python examples/reward_hacking/replay.py --home /tmp/runs/honest JOB_ID [--set collapse_floor=0.2 ...]

Prints each finding (step, signal, message) and the count per signal.
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import fields, replace

import sqlalchemy as sa

from openrft.settings import Settings
from openrft.store import schema
from openrft.store.db import Store
from openrft.training.monitor import Finding, Monitor, StepRecord, Thresholds


def step_records(store: Store, job_id: str) -> list[StepRecord]:
    """The StepRecord of each step, from the job's first metrics event of that step."""
    e = schema.job_events.c
    query = sa.select(e.data).where(e.job_id == job_id, e.type == "metrics").order_by(e.seq)
    known = {f.name for f in fields(StepRecord)} - {"step"}
    records: dict[int, StepRecord] = {}
    with store.begin() as conn:
        for (data,) in conn.execute(query):
            step = data.get("step") if isinstance(data, dict) else None
            if isinstance(step, int) and step not in records and isinstance(data.get("signals"), dict):
                records[step] = StepRecord(step=step, **{k: v for k, v in data["signals"].items() if k in known})
    return [records[s] for s in sorted(records)]


def replay(records: list[StepRecord], thresholds: Thresholds) -> list[tuple[int, Finding]]:
    monitor = Monitor(thresholds)
    return [(r.step, f) for r in records for f in monitor.observe(r)]


def parse_overrides(pairs: list[str]) -> dict[str, float]:
    names = {f.name for f in fields(Thresholds)}
    out = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        if name not in names:
            raise SystemExit(f"--set {pair}: no threshold {name!r} (known: {', '.join(sorted(names))})")
        out[name] = float(value) if "." in value else int(value)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("job_id")
    p.add_argument("--home", required=True, help="OPENRFT_HOME the job ran in")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a threshold")
    args = p.parse_args()
    store = Store.from_settings(Settings(home=args.home))
    records = step_records(store, args.job_id)
    store.dispose()
    findings = replay(records, replace(Thresholds(), **parse_overrides(args.set)))
    for step, finding in findings:
        print(f"step {step:4d}  {finding.signal:22s} {finding.message}")
    print(f"{len(records)} steps, {len(findings)} findings: {dict(Counter(f.signal for _, f in findings))}")


if __name__ == "__main__":
    main()
