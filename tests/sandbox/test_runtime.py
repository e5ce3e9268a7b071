"""Functional behaviour of the sandboxed runtime: Lambda context, errors, logs, warm reuse, packages."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace

import pytest

from openrft.functions.sandbox import CodeBundle, SandboxPool, SandboxUnavailable, get_pool, sandbox_log_line
from openrft.settings import Settings
from tests.sandbox.conftest import LIMITS, bundle, err

CONTEXT = {
    "function_name": "reward",
    "function_version": "3",
    "invoked_function_arn": "arn:aws:lambda:us-east-1:123456789012:function:reward:3",
    "memory_limit_in_mb": 256,
    "aws_request_id": "req-1",
    "environment": {"STAGE": "test"},
}


def test_context_attributes(pool: SandboxPool) -> None:
    source = """
    import os
    def handler(event, context):
        return {
            "name": context.function_name, "version": context.function_version,
            "arn": context.invoked_function_arn, "memory": context.memory_limit_in_mb,
            "request": context.aws_request_id, "group": context.log_group_name,
            "stream": context.log_stream_name, "remaining": context.get_remaining_time_in_millis(),
            "stage": os.environ.get("STAGE"), "env_name": os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
            "region": os.environ.get("AWS_REGION"), "task_root": os.environ["LAMBDA_TASK_ROOT"], "event": event,
        }
    """
    result = pool.invoke(bundle(source), entry="lambda_function.handler", payload={"q": 1},
                         limits=replace(LIMITS, timeout_s=5), kind="lambda", context=CONTEXT)  # fmt: skip
    assert result.ok, result.error
    value = result.value
    assert value["name"] == "reward" and value["version"] == "3"
    assert value["arn"] == CONTEXT["invoked_function_arn"]
    assert value["memory"] == "256"  # a string, as AWS's runtime gives it
    assert value["request"] == "req-1" and value["group"] == "/aws/lambda/reward"
    assert 0 < value["remaining"] <= 5000
    assert value["stage"] == "test" and value["event"] == {"q": 1}
    assert value["env_name"] == "reward" and value["region"] == "us-east-1"


def test_exception_payload_and_log_tail(pool: SandboxPool) -> None:
    source = """
    def helper():
        raise ValueError("bad reward input")
    def handler(event, context):
        print("scoring", event)
        helper()
    """
    result = pool.invoke(bundle(source), entry="lambda_function.handler", payload=7, limits=LIMITS, kind="lambda")
    assert not result.ok
    assert err(result)["errorType"] == "ValueError"
    assert err(result)["errorMessage"] == "bad reward input"
    trace = err(result)["stackTrace"]
    assert len(trace) == 2 and "in handler" in trace[0] and "in helper" in trace[1]
    assert "lambda_function.py" in trace[0] and "_launcher" not in "".join(trace)
    assert result.log_tail.startswith("scoring 7\n")
    assert "[ERROR] ValueError: bad reward input" in result.log_tail


def test_log_tail_keeps_last_4kb(pool: SandboxPool) -> None:
    source = "def handler(event, context):\n    for i in range(2000):\n        print('line', i)\n    return 1\n"
    result = pool.invoke(bundle(source), entry="lambda_function.handler", payload=None, limits=LIMITS, kind="lambda")
    assert result.ok and len(result.log_tail) == 4096
    assert result.log_tail.endswith("line 1999\n")


def test_warm_reuse(pool: SandboxPool) -> None:
    code = bundle("CALLS = []\ndef handler(event, context):\n    CALLS.append(event)\n    return len(CALLS)\n")
    results = [pool.invoke(code, entry="lambda_function.handler", payload=i, limits=LIMITS, kind="lambda")
               for i in range(3)]  # fmt: skip
    assert [r.value for r in results] == [1, 2, 3]  # module state persists: the same process served all
    assert [r.cold_start for r in results] == [True, False, False]
    assert len({r.worker_pid for r in results}) == 1
    assert results[2].duration_s < results[0].duration_s


def test_vendored_package_from_zip_and_numpy(pool: SandboxPool) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("vendored_pkg/__init__.py", "def double(x):\n    return 2 * x\n")
        zf.writestr(
            "app.py",
            "import numpy as np\nimport vendored_pkg\n"
            "def handler(event, context):\n    return vendored_pkg.double(float(np.mean(event)))\n",
        )
    code = CodeBundle(key="test/zip-numpy", zip_bytes=buf.getvalue())
    result = pool.invoke(code, entry="app.handler", payload=[1, 2, 3], limits=LIMITS, kind="lambda")
    assert result.ok, result.error
    assert result.value == 4.0


def test_import_errors(pool: SandboxPool) -> None:
    broken = bundle("import not_a_real_module\n")
    result = pool.invoke(broken, entry="lambda_function.handler", payload=None, limits=LIMITS, kind="lambda")
    assert err(result)["errorType"] == "Runtime.ImportModuleError"
    assert "Unable to import module 'lambda_function'" in err(result)["errorMessage"]
    missing = bundle("def other(event, context):\n    return 1\n")
    result = pool.invoke(missing, entry="lambda_function.handler", payload=None, limits=LIMITS, kind="lambda")
    assert err(result)["errorType"] == "Runtime.HandlerNotFound"


def test_python_grader_pairs(pool: SandboxPool) -> None:
    source = """
    def grade(sample, item):
        if item.get("boom"):
            raise KeyError("reference")
        return 1.0 if sample["output_text"] == item["reference"] else 0.0
    """
    pairs = [[{"output_text": "a"}, {"reference": "a"}], [{"output_text": "b"}, {"reference": "a"}],
             [{"output_text": "c"}, {"boom": True}]]  # fmt: skip
    code = bundle(source, name="grader.py")
    result = pool.invoke(code, entry="grader.grade", payload=pairs, limits=LIMITS, kind="python_grader")
    assert result.ok, result.error
    assert [r["value"] for r in result.value] == [1.0, 0.0, None]
    failed = result.value[2]
    assert failed["error_type"] == "runtime_error" and failed["error"] == "KeyError: 'reference'"
    assert "in grade" in failed["traceback"]


def test_unavailable_mode_refuses(tmp_path) -> None:
    pool = SandboxPool(Settings(home=tmp_path), mode="unavailable")
    try:
        with pytest.raises(SandboxUnavailable, match="refusing to run user code: no sandbox available"):
            pool.invoke(bundle("def handler(e, c):\n    return 1\n"), entry="lambda_function.handler",
                        payload=None, limits=LIMITS, kind="lambda")  # fmt: skip
    finally:
        pool.close()


def test_unsafe_zip_paths_refused(pool: SandboxPool) -> None:
    with pytest.raises(ValueError, match="unsafe path"):
        pool.invoke(CodeBundle(key="test/evil", files={"../escape.py": b"x"}), entry="escape.handler",
                    payload=None, limits=LIMITS, kind="lambda")  # fmt: skip


def test_get_pool_is_shared(tmp_path) -> None:
    settings = Settings(home=tmp_path)
    first = get_pool(settings)
    assert get_pool(settings) is first
    assert first.mode in sandbox_log_line()
    first.close()
    assert get_pool(settings) is not first
    get_pool(settings).close()


def test_a_worker_that_cannot_start_is_a_clean_error(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The interpreter hidden from the sandbox: the call fails with the sandbox's own words, nothing raises."""
    from openrft.functions import limits
    from openrft.functions.sandbox import detect_mode

    if detect_mode()[0] != "bubblewrap":
        pytest.skip("needs the bubblewrap mode")
    monkeypatch.setattr(limits, "python_paths", lambda: [])
    pool = SandboxPool(Settings(home=tmp_path), mode="bubblewrap")
    try:
        ok = bundle("def handler(event, context):\n    return 1\n")
        result = pool.invoke(ok, entry="lambda_function.handler", payload=None, limits=LIMITS, kind="lambda")
    finally:
        pool.close()
    assert err(result)["errorType"] == "Runtime.StartFailed"
    assert "execvp" in err(result)["errorMessage"] or "No such file" in err(result)["errorMessage"]
