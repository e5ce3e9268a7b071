"""One warm sandboxed worker, seen from the server: start it, send calls, enforce wall time, kill it.

A worker serves a single bundle. Calls are frames (4-byte length + JSON) on its stdin/stdout pipes;
reads and writes poll against the call's deadline, and a frame larger than the output cap is never
buffered: the worker is killed instead. Killing the outer ``bwrap`` tears down the worker's pid
namespace, so nothing the code started survives; with a cgroup, every process in it is killed too.
With a relay (``relay.py``), the worker's way to the server's API is set up at start (bubblewrap: the
listener the launcher hands out on an inherited Unix socket; rlimits: a Unix socket in the worker's
folder) and closed with the worker.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import time
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from openrft.functions.limits import CPU_BUDGET_S, Cgroup, WorkerSpec, sandbox_command
from openrft.functions.relay import Relay
from openrft.functions.sandbox_types import Limits

START_TIMEOUT_S = 30.0
FRAME_SLACK_BYTES = 1 << 20  # room for the envelope around a value of max_output_bytes
STDERR_TAIL_BYTES = 4096
TERM_GRACE_S = 0.5  # fallback mode: time the launcher gets to sweep its descendants


class WorkerDied(Exception):
    """The worker is gone or unusable; ``error`` is the AWS-shaped error to report."""

    def __init__(self, error: dict[str, Any]):
        super().__init__(error["errorMessage"])
        self.error = error


def _err(error_type: str, message: str) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "stackTrace": []}


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class Worker:
    def __init__(self, *, wkey: tuple[Any, ...], spec: WorkerSpec, workdir: Path, name: str,
                 relay: Relay | None = None):  # fmt: skip
        self.wkey = wkey
        self.relay = relay
        self.spec = spec
        self.workdir = workdir
        self.name = name
        self.proc: subprocess.Popen[bytes] | None = None
        self.cgroup: Cgroup | None = None
        self.busy = False
        self.dead = False
        self.last_used = time.monotonic()
        self.calls = 0
        self.layers: dict[str, Any] = {}

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self, spawner: Executor) -> None:
        """Start the sandbox from the pool's long-lived spawner thread and wait for its ready frame.

        A precaution: ``PR_SET_PDEATHSIG`` (what ``--die-with-parent`` builds on) follows the *thread* that
        forked a process on Linux, and request threads come and go while a worker stays warm.
        """
        self.cgroup = Cgroup.create(self.name, self.spec.limits)
        channel, inherited = self._open_relay()
        # bwrap's arguments name the code's folder: they travel in a memfd (close-on-exec here; pass_fds
        # hands it to bwrap alone, which closes it before running anything), not on its command line.
        args_fd = os.memfd_create("openrft-sandbox-args")
        try:
            argv, env, private_args = sandbox_command(self.spec, self.cgroup, args_fd)
            _write_all(args_fd, private_args)
            os.lseek(args_fd, 0, os.SEEK_SET)
            fds = ((args_fd,) if private_args else ()) + ((inherited.fileno(),) if inherited else ())
            popen = lambda: subprocess.Popen(  # noqa: E731
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                start_new_session=True, close_fds=True, pass_fds=fds,
            )  # fmt: skip
            self.proc = spawner.submit(popen).result()
        finally:
            os.close(args_fd)
            if inherited is not None:
                inherited.close()
        assert self.proc.stdout is not None and self.proc.stdin is not None
        os.set_blocking(self.proc.stdin.fileno(), False)
        try:
            ready = self._read_frame(time.monotonic() + START_TIMEOUT_S, 1 << 16)
            if channel is not None:
                self._take_listener(channel)
        except WorkerDied as exc:
            tail = self._stderr_tail()  # before kill() closes the pipes
            self.kill()
            raise WorkerDied(_err("Runtime.StartFailed", f"{exc.error['errorMessage']}{tail}")) from None
        finally:
            if channel is not None:
                channel.close()
        self.layers = ready.get("layers", {})

    def _open_relay(self) -> tuple[socket.socket | None, socket.socket | None]:
        """(our end, the worker's end) of the bubblewrap hand-over; rlimits: the relay's Unix socket is bound."""
        if self.relay is None:
            return None, None
        if self.spec.mode == "bubblewrap":
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            self.spec.relay_fd = theirs.fileno()
            return ours, theirs
        self.spec.relay_socket = self.workdir / "relay.sock"
        self.relay.add_unix_listener(self.name, self.spec.relay_socket, owner_uid=self.spec.drop_uid)
        return None, None

    def _take_listener(self, channel: socket.socket) -> None:
        """Receive the listening socket the launcher bound in its network namespace; the relay serves it."""
        assert self.relay is not None
        channel.settimeout(5.0)
        try:
            _msg, fds, _flags, _addr = socket.recv_fds(channel, 16, 1)
        except OSError:
            fds = []
        if len(fds) != 1:
            for fd in fds:
                os.close(fd)
            raise WorkerDied(_err("Runtime.StartFailed", "the sandbox did not hand out its relay listener"))
        listener = socket.socket(fileno=fds[0])
        if listener.family != socket.AF_INET or listener.type != socket.SOCK_STREAM:
            listener.close()
            raise WorkerDied(_err("Runtime.StartFailed", "the sandbox handed out something other than a listener"))
        self.relay.add_listener(self.name, listener)

    def call(self, request: dict[str, Any], limits: Limits) -> dict[str, Any]:
        """Send one call and wait for its response until the deadline; raises WorkerDied (worker killed)."""
        deadline = time.monotonic() + limits.timeout_s
        self.calls += 1
        body = json.dumps(request).encode()
        try:
            self._write(struct.pack(">I", len(body)) + body, deadline)
            response = self._read_frame(deadline, limits.max_output_bytes + FRAME_SLACK_BYTES)
        except WorkerDied:
            self.kill()
            raise
        if response.get("recycle") or response.get("cpu_s", 0) > CPU_BUDGET_S / 2:
            self.kill()
        return response

    # ------------------------------------------------------------ pipes

    def _write(self, data: bytes, deadline: float) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        fd, view = self.proc.stdin.fileno(), memoryview(data)
        while view:
            self._wait(fd, select.POLLOUT, deadline)
            try:
                view = view[os.write(fd, view) :]
            except BlockingIOError:
                continue
            except OSError:
                raise WorkerDied(self._death_error()) from None

    def _read_frame(self, deadline: float, max_bytes: int) -> dict[str, Any]:
        head = self._read_exact(4, deadline)
        size = struct.unpack(">I", head)[0]
        if size > max_bytes:
            msg = f"Response of {size} bytes exceeds {max_bytes} bytes."
            raise WorkerDied(_err("Function.ResponseSizeTooLarge", msg))
        try:
            frame = json.loads(self._read_exact(size, deadline))
        except ValueError:
            raise WorkerDied(_err("Runtime.InvalidResponse", "The runtime sent a malformed response.")) from None
        if not isinstance(frame, dict):
            raise WorkerDied(_err("Runtime.InvalidResponse", "The runtime sent a malformed response."))
        return frame

    def _read_exact(self, n: int, deadline: float) -> bytes:
        assert self.proc is not None and self.proc.stdout is not None
        fd, buf = self.proc.stdout.fileno(), bytearray()
        while len(buf) < n:
            self._wait(fd, select.POLLIN, deadline)
            chunk = os.read(fd, min(n - len(buf), 1 << 20))
            if not chunk:
                raise WorkerDied(self._death_error())
            buf += chunk
        return bytes(buf)

    def _wait(self, fd: int, event: int, deadline: float) -> None:
        poller = select.poll()
        poller.register(fd, event)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerDied(_err("Sandbox.Timedout", "Task timed out"))
            if poller.poll(remaining * 1000):
                return

    def _death_error(self) -> dict[str, Any]:
        """Why the worker stopped answering, in AWS's terms."""
        assert self.proc is not None
        try:
            rc = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return _err("Runtime.ExitError", "Runtime closed its pipes without exiting")
        memory_kill = self._oom_killed()
        if rc < 0 and -rc == signal.SIGKILL and memory_kill:
            return _err("Runtime.OutOfMemory", "Runtime exited with error: signal: killed (out of memory)")
        if rc < 0:
            name = signal.Signals(-rc).name if -rc in signal.valid_signals() else str(-rc)
            return _err("Runtime.ExitError", f"Runtime exited with error: signal: {name}")
        # bwrap reports the sandboxed process's signal as 128 + signo
        if rc > 128 and rc - 128 == signal.SIGKILL and memory_kill:
            return _err("Runtime.OutOfMemory", "Runtime exited with error: signal: killed (out of memory)")
        return _err("Runtime.ExitError", f"Runtime exited with error: exit status {rc}")

    def _oom_killed(self) -> bool:
        if self.cgroup is None:
            return False
        for d in self.cgroup.dirs:
            for name, key in (("memory.events", "oom_kill"), ("memory.oom_control", "oom_kill")):
                path = d / name
                if path.exists():
                    fields = dict(line.split() for line in path.read_text().splitlines() if line.count(" ") == 1)
                    if int(fields.get(key, 0)) > 0:
                        return True
        return False

    def _stderr_tail(self) -> str:
        if self.proc is None or self.proc.stderr is None or self.proc.stderr.closed:
            return ""
        fd = self.proc.stderr.fileno()
        os.set_blocking(fd, False)
        try:
            data = os.read(fd, STDERR_TAIL_BYTES)
        except (BlockingIOError, OSError):
            return ""
        return f": {data.decode(errors='replace').strip()}" if data else ""

    # ------------------------------------------------------------ teardown

    def kill(self) -> None:
        """Kill the sandbox and everything in it; idempotent."""
        if self.dead:
            return
        self.dead = True
        if self.proc is not None:
            if self.spec.mode == "rlimits" and self.proc.poll() is None:
                # No pid namespace here: let the launcher kill what the code started (even setsid'd
                # daemons: it is their subreaper) before the process group goes.
                with contextlib.suppress(OSError):
                    self.proc.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=TERM_GRACE_S)
            with contextlib.suppress(OSError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            if self.cgroup is not None:
                self.cgroup.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
            for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                if pipe is not None:
                    pipe.close()
        if self.cgroup is not None:
            self.cgroup.kill()
            self.cgroup.remove()
        if self.relay is not None:
            self.relay.remove(self.name)
        shutil.rmtree(self.workdir, ignore_errors=True)
