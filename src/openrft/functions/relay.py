"""The sandbox's one way out: a relay from each worker to this openrft server's API, and nowhere else.

A sandboxed function sees the API at ``http://127.0.0.1:9001`` (``INSIDE_URL``). How a connection to it
leaves the sandbox depends on the mode (see ``sandbox.py``):

* bubblewrap: the worker's network namespace has only a loopback interface. Before any user code runs,
  the launcher binds a listening socket on 127.0.0.1:9001 *inside* that namespace and hands it out
  over an inherited Unix socket (``SCM_RIGHTS``), closing its own copy; the relay accepts on it from
  outside. The function keeps no handle on the listener (the port is taken, so it cannot bind its
  own), and every other address is unreachable: other loopback ports are the namespace's own (nothing
  listens), any other address has no route.
* rlimits: there is no namespace, and seccomp refuses every non-UNIX socket. The relay listens on a
  Unix socket in the worker's folder; the launcher replaces Python's ``socket.socket`` so that a TCP
  connect to 127.0.0.1:9001 becomes a connect to that Unix socket, and any other TCP address fails with
  EPERM (what seccomp answers anyway). Code that makes sockets without Python's ``socket`` module
  (a C library, a ``curl`` subprocess) has no way out in this mode.

Whatever arrives is copied byte for byte to one destination: the host and port of the server's API
(``Settings.api_url``: ``public_url``, default ``http://<host>:<port>``), over TLS when that URL is
https. The relay never reads the bytes, so a request naming another host (an absolute URI, a
``CONNECT``, a ``Host`` header) still only reaches the API, which treats it as any other request.
It runs one accept thread per pool, one thread per open connection, at most ``max_connections`` at
once (more are closed at once), and closes a connection idle for ``idle_s``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import socket
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

INSIDE_HOST = "127.0.0.1"
INSIDE_PORT = 9001  # inside the sandbox (AWS Lambda's own runtime API listens on 127.0.0.1:9001 too)
INSIDE_URL = f"http://{INSIDE_HOST}:{INSIDE_PORT}"
CHUNK_BYTES = 1 << 16
CONNECT_TIMEOUT_S = 10.0
DEFAULT_IDLE_S = 300.0
DEFAULT_MAX_CONNECTIONS = 256


@dataclass(frozen=True)
class Upstream:
    """Where every relayed connection goes: the server's API."""

    host: str
    port: int
    tls: bool = False

    @classmethod
    def of(cls, settings: object) -> Upstream:
        """The API's host and port from ``settings.api_url`` (``public_url`` or ``http://host:port``)."""
        url = getattr(settings, "api_url", None)
        if url is None:  # settings without the property (older Settings): the server's own listener
            public = getattr(settings, "public_url", None)
            url = public or f"http://{getattr(settings, 'host', '127.0.0.1')}:{getattr(settings, 'port', 8000)}"
        parts = urlsplit(str(url))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the server's API URL must be http(s)://host[:port], got {url!r}")
        tls = parts.scheme == "https"
        return cls(host=parts.hostname, port=parts.port or (443 if tls else 80), tls=tls)


class Relay:
    """Accepts on each worker's listener and pipes every connection to ``upstream``; thread-safe."""

    def __init__(self, upstream: Upstream, *, max_connections: int = DEFAULT_MAX_CONNECTIONS,
                 idle_s: float = DEFAULT_IDLE_S):  # fmt: skip
        self.upstream = upstream
        self.idle_s = idle_s
        self._slots = threading.BoundedSemaphore(max_connections)
        self._lock = threading.Lock()
        self._listeners: dict[str, socket.socket] = {}
        self._conns: dict[str, set[socket.socket]] = {}
        self._pending: list[tuple[str, socket.socket | None]] = []  # (name, listener) to add / None: remove
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._closed = False
        self._tls = ssl.create_default_context() if upstream.tls else None
        self._thread = threading.Thread(target=self._accept_loop, name="sandbox-relay", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ listeners of workers

    def add_listener(self, name: str, listener: socket.socket) -> None:
        """Serve the listening socket a bubblewrap worker handed out (the relay owns it from now on)."""
        listener.setblocking(False)
        self._queue(name, listener)

    def add_unix_listener(self, name: str, path: Path, owner_uid: int | None = None) -> None:
        """Listen on a Unix socket at ``path`` for an rlimits worker (0600; owned by its slot uid if any)."""
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(path))
            os.chmod(path, 0o600)
            if owner_uid is not None:
                os.chown(path, owner_uid, owner_uid)
            listener.listen(64)
        except OSError:
            listener.close()
            raise
        self.add_listener(name, listener)

    def remove(self, name: str) -> None:
        """Stop serving a worker: close its listener and the connections it opened; idempotent."""
        self._queue(name, None)
        with self._lock:
            conns = self._conns.pop(name, set())
        for conn in conns:
            _close(conn)

    def close(self) -> None:
        """Close every listener and connection and stop the accept thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            conns = [conn for group in self._conns.values() for conn in group]
            self._conns.clear()
        for conn in conns:
            _close(conn)
        self._wake()
        self._thread.join(timeout=5)

    def connections(self, name: str) -> int:
        with self._lock:
            return len(self._conns.get(name, ()))

    # ------------------------------------------------------------ the accept thread

    def _queue(self, name: str, listener: socket.socket | None) -> None:
        with self._lock:
            if self._closed and listener is not None:
                _close(listener)
                return
            self._pending.append((name, listener))
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def _apply_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for name, listener in pending:
            old = self._listeners.pop(name, None)
            if old is not None:
                self._selector.unregister(old)
                _close(old)
            if listener is not None:
                self._listeners[name] = listener
                self._selector.register(listener, selectors.EVENT_READ, name)

    def _accept_loop(self) -> None:
        while True:
            self._apply_pending()
            with self._lock:
                if self._closed:
                    break
            for key, _events in self._selector.select(timeout=5.0):
                if key.data is None:
                    with contextlib.suppress(BlockingIOError):
                        self._wake_r.recv(4096)
                    continue
                self._accept(key.data, key.fileobj)  # type: ignore[arg-type]
        for listener in self._listeners.values():
            _close(listener)
        self._selector.close()
        _close(self._wake_r)
        _close(self._wake_w)

    def _accept(self, name: str, listener: socket.socket) -> None:
        try:
            inner, _addr = listener.accept()
        except OSError:
            return
        if not self._slots.acquire(blocking=False):
            log.warning("sandbox relay: %s has too many open connections; refusing one", name)
            _close(inner)
            return
        with self._lock:
            if name not in self._listeners:
                self._slots.release()
                _close(inner)
                return
            self._conns.setdefault(name, set()).add(inner)
        threading.Thread(target=self._serve, args=(name, inner), name="sandbox-relay-conn", daemon=True).start()

    # ------------------------------------------------------------ one connection

    def _serve(self, name: str, inner: socket.socket) -> None:
        upstream: socket.socket | None = None
        try:
            inner.setblocking(True)
            upstream = socket.create_connection((self.upstream.host, self.upstream.port), timeout=CONNECT_TIMEOUT_S)
            if self._tls is not None:
                upstream = self._tls.wrap_socket(upstream, server_hostname=self.upstream.host)
            upstream.settimeout(None)
            _pipe(inner, upstream, self.idle_s)
        except OSError as exc:
            log.info("sandbox relay: a connection of %s ended: %s", name, exc)
        finally:
            if upstream is not None:
                _close(upstream)
            _close(inner)
            with self._lock:
                self._conns.get(name, set()).discard(inner)
            self._slots.release()


def _pipe(a: socket.socket, b: socket.socket, idle_s: float) -> None:
    """Copy bytes both ways until either side closes or nothing moves for ``idle_s``."""
    with selectors.DefaultSelector() as sel:
        sel.register(a, selectors.EVENT_READ, b)
        sel.register(b, selectors.EVENT_READ, a)
        while True:
            # TLS may hold decrypted bytes that select() cannot see.
            ready = [s for s in (a, b) if isinstance(s, ssl.SSLSocket) and s.pending()]
            if not ready:
                events = sel.select(timeout=idle_s)
                if not events:
                    return
                ready = [key.fileobj for key, _ in events]  # type: ignore[misc]
            for src in ready:
                dst = b if src is a else a
                data = src.recv(CHUNK_BYTES)
                if not data:
                    return
                dst.sendall(data)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
