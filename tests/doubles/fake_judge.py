"""A real OpenAI-compatible HTTP server on loopback with canned judge replies (a test double).

The reply to a chat completion is whatever follows `ECHO:` in the last message (so each test decides
the judge's answer through the grader's own template); a prompt containing `FLAKY` is answered 503
`fail_first` times before succeeding, `REFUSE` gets a refusal, `BROKEN` a 400, `SLOW` waits 0.2 s (the
highest number of requests in flight at once is recorded). Every request body and
Authorization header is recorded.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from openrft.settings import Settings


@dataclass
class JudgeState:
    fail_first: int = 2
    failures: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content)


def _handler(state: JudgeState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            if status == 503:
                self.send_header("retry-after", "0")
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            with state.lock:
                state.requests.append(body)
                state.auth.append(self.headers.get("authorization", ""))
            if not self.path.endswith("/chat/completions"):
                return self._send(404, {"error": {"message": "not found"}})
            prompt = _text(body["messages"][-1])
            with state.lock:
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
            try:
                if "SLOW" in prompt:
                    time.sleep(0.2)
                self._answer(prompt)
            finally:
                with state.lock:
                    state.in_flight -= 1

        def _answer(self, prompt: str) -> None:
            if "FLAKY" in prompt:
                with state.lock:
                    state.failures += 1
                    failing = state.failures <= state.fail_first
                if failing:
                    return self._send(503, {"error": {"message": "overloaded"}})
            if "BROKEN" in prompt:
                return self._send(400, {"error": {"message": "bad request"}})
            message: dict[str, Any] = {"role": "assistant", "content": prompt.split("ECHO:", 1)[-1].strip()}
            if "REFUSE" in prompt:
                message = {"role": "assistant", "content": None, "refusal": "I can't grade this."}
            usage = {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            return self._send(
                200, {"id": "chatcmpl-1", "object": "chat.completion", "choices": [choice], "usage": usage}
            )

    return Handler


# The judges and reward endpoints of these tests listen on loopback, which only an operator can allow.
LOOPBACK = Settings(outbound_allow=["127.0.0.1"])


@contextmanager
def fake_judge(fail_first: int = 2) -> Iterator[tuple[str, JudgeState]]:
    """Yields (api_base, state) of a judge listening on 127.0.0.1 for the duration of the block."""
    state = JudgeState(fail_first=fail_first)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
