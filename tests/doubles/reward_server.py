"""A Bedrock-contract reward endpoint on loopback (a real HTTP server) for lambda-grader tests.

Score = len(completion) / 10, plus 1 when it equals the item's `answer`; the completion "bad" gets a
non-numeric score (a malformed response for that sample); every request body is recorded.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _reply(event: dict[str, Any]) -> dict[str, Any]:
    text = event["messages"][-1]["content"]
    if text == "bad":
        return {"id": event["id"], "aggregate_reward_score": "high"}
    score = len(text) / 10 + (1.0 if event["answer"] == text else 0.0)
    return {"id": event["id"], "aggregate_reward_score": score, "metrics_list": [{"name": "len", "value": len(text)}]}


@contextmanager
def reward_server() -> Iterator[tuple[str, list[Any]]]:
    seen: list[Any] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            events = json.loads(self.rfile.read(int(self.headers["content-length"])))
            seen.append(events)
            data = json.dumps([_reply(e) for e in events]).encode()
            self.send_response(200)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/reward", seen
    finally:
        server.shutdown()
        server.server_close()
