"""Pool lifecycle: concurrent calls, workers outliving the thread that started them, idle reaping, LRU."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from openrft.functions.sandbox import InvocationResult, SandboxPool, detect_mode
from openrft.settings import Settings
from tests.sandbox.conftest import LIMITS, bundle

COUNTER = "N = 0\ndef handler(event, context):\n    global N\n    N += 1\n    return N\n"


@pytest.fixture
def small_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxPool]:
    if detect_mode()[0] == "unavailable":
        pytest.skip("no sandbox here")
    pool = SandboxPool(Settings(home=tmp_path_factory.mktemp("home")), max_workers=2, idle_s=0.4)
    yield pool
    pool.close()


def test_worker_outlives_the_thread_that_started_it(small_pool: SandboxPool) -> None:
    # Request threads come and go (anyio ends idle ones) while a worker stays warm.
    code = bundle(COUNTER)
    results: list[InvocationResult] = []
    thread = threading.Thread(
        target=lambda: results.append(
            small_pool.invoke(code, entry="lambda_function.handler", payload=None, limits=LIMITS, kind="lambda")
        )
    )
    thread.start()
    thread.join()
    time.sleep(0.2)
    again = small_pool.invoke(code, entry="lambda_function.handler", payload=None, limits=LIMITS, kind="lambda")
    assert results[0].cold_start and not again.cold_start
    assert again.value == 2 and again.worker_pid == results[0].worker_pid


def test_concurrent_calls_share_a_bounded_set_of_workers(small_pool: SandboxPool) -> None:
    code = bundle("import time\ndef handler(event, context):\n    time.sleep(0.05)\n    return event * 2\n")

    def one(i: int) -> InvocationResult:
        return small_pool.invoke(code, entry="lambda_function.handler", payload=i, limits=LIMITS, kind="lambda")

    with ThreadPoolExecutor(max_workers=6) as executor:
        results = list(executor.map(one, range(12)))
    assert [r.value for r in results] == [2 * i for i in range(12)]
    assert len({r.worker_pid for r in results}) <= 2
    assert small_pool.stats()["workers"] <= 2


def test_idle_workers_reaped_and_lru_evicted(small_pool: SandboxPool) -> None:
    first, second, third = bundle(COUNTER), bundle(COUNTER), bundle(COUNTER)
    calls = [small_pool.invoke(b, entry="lambda_function.handler", payload=None, limits=LIMITS, kind="lambda")
             for b in (first, second, third)]  # fmt: skip
    assert all(c.ok for c in calls)
    assert small_pool.stats()["workers"] == 2  # the least recently used (first) made room for the third
    deadline = time.monotonic() + 5
    while small_pool.stats()["workers"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert small_pool.stats()["workers"] == 0
    again = small_pool.invoke(first, entry="lambda_function.handler", payload=None, limits=LIMITS, kind="lambda")
    assert again.cold_start and again.value == 1
