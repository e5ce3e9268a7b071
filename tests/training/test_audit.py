"""The audit trail: every change of the reward code a job grades with shows in its events."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from openrft.training.trainer import record_audit


class RecordingHandle:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any] | None]] = []

    def event(self, message: str, *, data: dict[str, Any] | None = None, **_: Any) -> str:
        self.events.append((message, data))
        return f"ftevent-{len(self.events)}"


def graded(version: str, sha: str) -> Any:
    audit = {"function_name": "reward", "version": version, "code_sha256": sha, "arn": "arn:aws:lambda:x"}
    return SimpleNamespace(audit=[audit, dict(audit)])  # one entry per batch: duplicates collapse


def test_recorded_once_then_again_when_the_code_changes() -> None:
    handle = RecordingHandle()
    job = SimpleNamespace(grader={"type": "lambda", "lambda": {"function": "reward"}})
    seen = record_audit(handle, job, graded("$LATEST", "sha-A"), None)  # type: ignore[arg-type]
    seen = record_audit(handle, job, graded("$LATEST", "sha-A"), seen)  # type: ignore[arg-type]
    record_audit(handle, job, graded("$LATEST", "sha-B"), seen)  # type: ignore[arg-type]

    assert [m for m, _ in handle.events] == [
        "Grading with lambda grader 'lambda': function reward version $LATEST CodeSha256 sha-A",
        "Grading with lambda grader 'lambda': function reward version $LATEST CodeSha256 sha-B",
    ]
    assert handle.events[1][1]["audit"] == [graded("$LATEST", "sha-B").audit[0]]  # type: ignore[index]


def test_a_grader_without_code_is_named_without_it() -> None:
    handle = RecordingHandle()
    job = SimpleNamespace(grader={"type": "string_check", "name": "exact"})
    record_audit(handle, job, SimpleNamespace(audit=[]), None)  # type: ignore[arg-type]
    assert handle.events[0][0] == "Grading with string_check grader 'exact'"
