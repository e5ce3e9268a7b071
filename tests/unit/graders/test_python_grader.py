"""The python grader in the sandbox: scores, every runtime failure contained, limits enforced."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from openrft.functions.sandbox import detect_mode, get_pool
from openrft.graders import GradingContext, Sample, grade_batch
from openrft.settings import Settings

pytestmark = pytest.mark.skipif(detect_mode()[0] == "unavailable", reason="no sandbox on this host")


@pytest.fixture
def ctx(settings: Settings) -> Iterator[GradingContext]:
    grading = GradingContext(project_id="p", settings=settings, python_timeout_s=5, python_memory_mb=512)
    yield grading
    get_pool(settings).close()


def py(source: str) -> dict[str, Any]:
    return {"type": "python", "name": "py", "source": source}


def run(grader: dict[str, Any], texts: list[str], ctx: GradingContext, item: Any = None) -> Any:
    items = [item if item is not None else {"reference_answer": "fuzzy wuzzy was a bear"}] * len(texts)
    return grade_batch(grader, [Sample(output_text=t) for t in texts], items, ctx=ctx)


OPENAI_EXAMPLE = """from rapidfuzz import fuzz, utils

def grade(sample, item) -> float:
    return fuzz.WRatio(sample['output_text'], item['reference_answer'], processor=utils.default_process) / 100.0
"""


def test_scores_and_per_sample_failures(ctx: GradingContext) -> None:
    result = run(py(OPENAI_EXAMPLE), ["fuzzy wuzzy was a bear", "Fuzzy Wuzzy was a bear!"], ctx)
    assert result.rewards == [1.0, 1.0]
    source = """
import math
def grade(sample, item):
    text = sample["output_text"]
    if text == "raise":
        return 1 / 0
    if text == "string":
        return "0.5"
    if text == "nan":
        return math.nan
    if text == "inf":
        return math.inf
    return len(text) / 10 + len(sample["choices"]) + (1 if sample["output_json"] is None else 0)
"""
    result = run(py(source), ["abcde", "raise", "string", "nan", "inf"], ctx)
    assert result.rewards == [2.5, 0.0, 0.0, 0.0, 0.0]
    assert result.errors == [None] + ["python_grader_runtime_error"] * 4
    assert "ZeroDivisionError" in result.error_details[0] and "line 6" in result.error_details[0]
    assert "returned str" in result.error_details[1]
    assert "non-finite" in result.error_details[2]
    assert result.metrics()["errors"]["graders"][0]["train_python_grader_runtime_error_count"] == 4.0


def test_infinite_loop_times_out_and_the_pool_stays_healthy(ctx: GradingContext) -> None:
    ctx.python_timeout_s = 1.5
    result = run(py("def grade(sample, item):\n    while True:\n        pass\n"), ["x", "y"], ctx)
    assert result.errors == ["python_grader_runtime_error"] * 2
    assert "timed out" in result.error_details[0].lower()
    assert run(py(OPENAI_EXAMPLE), ["fuzzy wuzzy was a bear"], ctx).rewards == [1.0]


def test_no_network(ctx: GradingContext) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        connect = f"socket.create_connection(('127.0.0.1', {port}), 1)"
        source = f"import socket\ndef grade(sample, item):\n    {connect}\n    return 1.0\n"
        result = run(py(source), ["x"], ctx)
    assert result.errors == ["python_grader_runtime_error"]
    assert result.rewards == [0.0]


def test_memory_limit(ctx: GradingContext) -> None:
    source = "def grade(sample, item):\n    block = bytearray(2 * 1024 ** 3)\n    return float(len(block))\n"
    result = run(py(source), ["x"], ctx)
    assert result.errors == ["python_grader_runtime_error"]
    assert "MemoryError" in result.error_details[0] or "memory" in result.error_details[0].lower()
