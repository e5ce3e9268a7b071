"""Run the API server in a background thread of the current process.

Used by `openrft quickstart` (an embedded installation for one command) and by the tests'
`live_server` fixture; `openrft serve` runs uvicorn in the foreground instead.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import uvicorn

from openrft.api.app import create_app
from openrft.settings import Settings

STARTUP_TIMEOUT_S = 60.0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class ThreadedServer:
    server: uvicorn.Server
    thread: threading.Thread
    base_url: str

    def stop(self, timeout_s: float = 30.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=timeout_s)


def start_in_thread(
    settings: Settings, *, embedded_worker: bool, host: str = "127.0.0.1", port: int | None = None
) -> ThreadedServer:
    port = port or free_port(host)
    settings = settings.model_copy(update={"host": host, "port": port})  # settings.api_url: where it listens
    app = create_app(settings, embedded_worker=embedded_worker)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="openrft-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"the API server did not start on {host}:{port}")
        time.sleep(0.02)
    return ThreadedServer(server=server, thread=thread, base_url=f"http://{host}:{port}")
