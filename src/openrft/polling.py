"""The polling loop the job worker and the eval runner share: a daemon thread that calls `run_once` until stopped.

`run_once` returns True when it did work (poll again at once) and False when the queue was empty (wait
`settings.poll_s`); an exception is logged and counts as no work, so a database hiccup never ends the loop.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger(__name__)


class PollingThread:
    """Subclasses set `settings`, `worker_id` and `what` (for the logs) and implement `run_once`."""

    settings: Any
    worker_id: str
    what = "worker"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> bool:
        raise NotImplementedError

    def start_background(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.run_forever, name=self.worker_id, daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)

    def run_forever(self) -> None:
        log.info("%s %s polling every %.1fs", self.what, self.worker_id, self.settings.poll_s)
        while not self._stop.is_set():
            try:
                worked = self.run_once()
            except Exception:  # a broken item or a database hiccup must not end the loop
                log.exception("%s %s: error in run_once", self.what, self.worker_id)
                worked = False
            if not worked:
                self._stop.wait(self.settings.poll_s)
