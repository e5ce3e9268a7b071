"""Sandboxed runtime for user reward code: Lambda handlers and OpenAI-style python graders.

Threat model
------------
The code comes from a member of a project: untrusted Python that may be buggy or hostile. Run inside
the sandbox, it must not

1. reach the network, but for this server's API through the relay (``relay.py``; Lambda handlers only:
   OpenAI-style python graders have no network at all, as on OpenAI): the code sees the
   API at ``http://127.0.0.1:9001`` and nothing else (no other host, no other port of this host, no
   UDP, no local service); what it sends is carried only to the API's host and port
   (``Settings.api_url``), where its requests are authorized like any other (with the credentials of
   its execution role, ``execution_env.py``, or none). How each mode enforces it: Modes below;
2. read host files: system secrets, the store under ``OPENRFT_HOME`` (database, blobs, keys), the
   server's source, or another function's (or another version's) code;
3. exhaust the host's memory, processes or disk (see Memory below; ``max_processes``, 1,024 processes
   and threads as on AWS; a small private ``/tmp`` and ``/dev/shm``; a file-size limit);
4. outlive its call: wall time is enforced by the parent (the whole sandbox is killed), and processes
   the code leaves running after it returns are killed before the next call;
5. flood the host with output: logs and responses are capped (``max_output_bytes``) and measured in
   the sandbox, never buffered whole by the server;
6. exhaust the server through its package: a zip's unzipped size is what inflating it yields, measured
   in chunks with a 250 MB cap when it is uploaded (its headers are never trusted: ``unzip.py``), and
   it is unpacked by a child process with its own memory, file-size and CPU limits, never in the
   server's memory (a refused package is the call's error, ``Sandbox.PackageRefused``);
7. be read by other local users of the host: the pool's folder (``$TMPDIR/openrft-sandbox-<pid>-<start
   time>-*``) and everything in it are 0700/0600, owned by the service user (in the fallback's uid
   drop, a worker's folder sits beside it, 0700, owned by the slot uid); no path of the code is on a
   command line that ``ps`` shows (bwrap reads its arguments from a descriptor, ``--args``; the
   launcher and the unpacking child read theirs from their environment, which only the same uid can
   read); after a crash (kill -9) the next pool removes the folders and cgroups of owners that are gone
   (a pid alone could be reused: the name carries the process's start time too).

Each property has an adversarial test in ``tests/sandbox/`` (``test_adversarial.py``, ``test_zip_bomb.py``,
``test_host_traces.py``).

Memory
------
* With a cgroup (the server runs as root and a v1 or v2 hierarchy is writable): each worker's memory
  cgroup is the limit for the whole sandbox, counting resident memory and its tmpfs pages:
  ``max(memory_mb, 256) + 2 * tmp_mb + 64`` MB; a function over it is OOM-killed
  (``Runtime.OutOfMemory``). Threads keep glibc's 8 MiB stacks (virtual, as on AWS), and RLIMIT_AS is a
  backstop only (that limit + ``max_processes`` stacks + 512 MiB), so a handler can start as many
  threads as AWS allows (measured at MemorySize 128: 1,021 of the pids cgroup's 1,024; 5 when RLIMIT_AS
  of 256 MiB counted each thread's stack and malloc arena).
* Without one (an ordinary user): limits are per process. RLIMIT_DATA (private writable memory, not
  reserved address space) is ``memory_mb`` + ``max_processes`` x 256 KiB, and Python threads get 256 KiB
  stacks so that 1,024 fit (a single-threaded process may use that room as heap: 384 MB at MemorySize
  128); RLIMIT_AS is that + 512 MiB and is also what bounds shared mappings; ``MALLOC_ARENA_MAX=2``
  keeps arenas' reservations small. What does not hold without a cgroup: the total across a function's
  processes (each may use its own limit) and memory in memfds (each only capped by RLIMIT_FSIZE); and
  recursion through C calls (a sort key, ``map``, ``__getattr__``) in a thread other than the main one
  overflows 256 KiB after about 150-200 levels and crashes the worker (``Runtime.ExitError``);
  pure-Python recursion reaches the usual 1,000.

Modes (``detect_mode``, probed once per process)
------------------------------------------------
* ``bubblewrap`` (default): ``bwrap --unshare-all`` (own user, pid, net, ipc, uts, mount and cgroup
  namespaces: only a loopback interface, nothing of the host's processes), ``--die-with-parent``,
  ``--new-session``, ``--cap-drop ALL``, uid/gid 65534 inside. The file system holds only read-only
  binds of ``/usr`` (+ ``/lib*``, ``/bin`` links), the Python installation (``sys.base_prefix`` and the
  venv ``sys.prefix``), the launcher file, the function's unpacked code at ``/var/task`` (as on AWS
  Lambda), ``/etc/ld.so.cache`` (+ ``ld.so.conf``, ``localtime``), a private tmpfs ``/tmp`` (the rest is
  remounted read-only), fresh ``/proc`` and ``/dev``, and ``/dev/shm`` as its own tmpfs of ``tmp_mb``
  (new for each worker, so never seen by another function). Nothing else: not the rest of ``/etc``,
  ``/home``, the repository or ``OPENRFT_HOME``. Limits are applied by the launcher inside
  (``RLIMIT_DATA`` or ``RLIMIT_AS``, see Memory; ``RLIMIT_NPROC``, ``RLIMIT_FSIZE``, ``RLIMIT_NOFILE``,
  ``RLIMIT_CORE``, a CPU backstop) and, when the server runs as root (where ``RLIMIT_NPROC`` does not
  bind), by a pids + memory cgroup per worker (v1 or v2, nested under the server's own cgroup). A
  seccomp filter (when ``pyseccomp`` is importable) also denies io_uring, ptrace, bpf, keyctl, nested
  namespaces, mounts and sockets other than UNIX, IPv4 and IPv6 (which only reach the namespace's
  loopback). The relay: before user code runs, the launcher binds 127.0.0.1:9001 in the namespace and
  hands the listening socket out (``SCM_RIGHTS`` on an inherited Unix socket), keeping no copy; the
  pool's relay accepts on it outside. Other loopback ports are the namespace's own (nothing listens:
  refused), any other address has no route (ENETUNREACH at once). Residual risk: when the server runs
  as root, uid 65534 inside maps to root outside, so confinement rests on the mount namespace showing
  nothing but the read-only binds above and on the dropped capabilities; run the service as an
  ordinary user where possible.
* ``rlimits`` (fallback where user namespaces are forbidden, e.g. Docker's default seccomp profile): the
  launcher runs directly, in its own session, with the same rlimits, a private scratch ``TMPDIR``,
  Landlock (file access limited to the Python installation, the code, the scratch dir and the public CA
  certificates in /etc/ssl/certs, which HTTP clients load, so the host's ``/dev/shm`` is out of reach:
  POSIX shared memory fails, as on AWS Lambda; TCP bind/connect denied from ABI 4; signals and abstract
  UNIX sockets scoped from ABI 6), a seccomp filter when ``pyseccomp`` is importable (no non-UNIX
  sockets: covers UDP; no ptrace, bpf, io_uring, namespaces, mount, keyctl...), cgroups when root, and a
  uid drop to a per-slot uid when root and the interpreter is world-readable (else, as root, the
  launcher drops every capability). The relay: a TCP connect from Python's ``socket`` module to
  127.0.0.1:9001 is turned into a connect to the relay's Unix socket in the worker's folder; any other
  TCP address fails with EPERM, and every non-UNIX socket is refused by seccomp (so code that does not
  go through Python's ``socket`` class, a C library or a ``curl`` subprocess, has no network at all).
  The server makes itself non-dumpable in this mode, so its /proc/<pid>/environ, maps and fds are closed
  to the code. Processes the code starts are swept by the launcher (their subreaper) after each call and
  on a timeout (SIGTERM, then SIGKILL of the group). It does NOT hide the host's process list, give a
  private ``/tmp``, or isolate IPC; it is chosen only when Landlock and a network filter exist
  (``doctor`` says which layers are active); as an ordinary user without a cgroup, ``RLIMIT_NPROC``
  counts all of that user's processes; the scratch dir is on the host's disk, so ``RLIMIT_FSIZE`` caps
  each file, not the total. Nor does it hide, without the uid drop: the /proc files of other processes
  of the server's user that are dumpable (the shell that started the server: its environment; another
  function's worker), or the host's pathname UNIX sockets (Landlock governs their connect only from ABI
  9), which file permissions alone then guard.
* ``unavailable``: neither works; ``invoke`` raises ``SandboxUnavailable`` ("refusing to run user
  code: no sandbox available (...)").

Packages importable read-only inside: the standard library and everything installed in the server's
interpreter (``numpy``; of OpenAI's python-grader set, those installed here: ``rapidfuzz``, ``nltk``,
``rouge_score``, ``sympy``, ``pydantic``, ``yaml``, plus ``scipy``, ``pandas``, ``scikit-learn``,
``jsonschema``, ``deepdiff``, ``sqlparse`` where installed; ``openrft doctor`` lists them), and the
``openai`` SDK and ``boto3`` (dependencies of openrft), which reach this server's API through the relay
with the endpoint variables each invocation gets (``execution_env.py``). Pure-Python
packages vendored at the root of the function's zip import too (``/var/task`` is first on
``sys.path``).

Warm workers: one sandboxed process per (bundle key, limits), serving calls over length-prefixed JSON
on private pipes, reused across calls and replaced after a timeout, crash, memory kill or leftover
threads; idle ones are reaped; at most ``max_workers`` per pool (least recently used evicted). A worker
never serves another bundle, so one function can only tamper with its own later calls (its ``/tmp`` and
``/dev/shm`` persist across its warm calls, as ``/tmp`` does on AWS).
"""

from __future__ import annotations

import atexit
import itertools
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from openrft.functions import unzip
from openrft.functions.limits import (
    FALLBACK_UID_BASE,
    Cgroup,
    WorkerSpec,
    detect_mode,
    fallback_uid_drop_possible,
    owner_gone,
    owner_tag,
    resolve_mode,
)
from openrft.functions.relay import INSIDE_URL, Relay, Upstream
from openrft.functions.sandbox_types import CodeBundle, InvocationResult, Kind, Limits, SandboxUnavailable
from openrft.functions.worker_proc import Worker, WorkerDied
from openrft.settings import Settings

__all__ = [
    "CodeBundle",
    "InvocationResult",
    "Kind",
    "Limits",
    "PackageRefused",
    "SandboxPool",
    "SandboxUnavailable",
    "detect_mode",
    "get_pool",
    "grader_packages",
    "sandbox_log_line",
]

log = logging.getLogger(__name__)

MAX_UNZIPPED_BYTES = unzip.MAX_UNZIPPED_BYTES  # AWS's limit for an unzipped deployment package
DEFAULT_IDLE_S = 300.0
ROOT_PREFIX = "openrft-sandbox-"  # + owner_tag(): the next pool removes the folders of a dead one
UNPACK_TIMEOUT_S = 120.0
FALLBACK_UIDS = range(FALLBACK_UID_BASE, FALLBACK_UID_BASE + 65536)


class SandboxPool:
    """Warm sandboxed workers, keyed by (bundle key, limits); thread-safe; one per process."""

    def __init__(self, settings: Settings, *, mode: str | None = None, max_workers: int | None = None,
                 idle_s: float = DEFAULT_IDLE_S, relay: bool = True):  # fmt: skip
        self.settings = settings
        self.mode, self.mode_reason = resolve_mode(mode or getattr(settings, "sandbox_mode", None))
        # The functions' one way out: to this server's API (relay.py); None: no network at all.
        self.relay = Relay(Upstream.of(settings)) if relay and self.mode != "unavailable" else None
        self.api_url = INSIDE_URL if self.relay is not None else None
        if self.mode == "rlimits":
            make_non_dumpable()
        self.max_workers = max_workers or max(4, 2 * (os.cpu_count() or 1))
        self.idle_s = idle_s
        self.closed = False
        swept = sweep_stale_roots(Path(tempfile.gettempdir())) + Cgroup.sweep_stale()
        if swept:
            log.info("sandbox: removed %d folders and cgroups left by servers that are gone", swept)
        self._root = Path(tempfile.mkdtemp(prefix=f"{ROOT_PREFIX}{owner_tag()}-"))  # 0700
        self._workers: list[Worker] = []
        self._cond = threading.Condition()
        self._serial = itertools.count(1)
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-spawner")
        self._stop = threading.Event()
        self._reaper = threading.Thread(target=self._reap_loop, name="sandbox-reaper", daemon=True)
        self._reaper.start()
        atexit.register(self.close)

    # ------------------------------------------------------------ public

    def invoke(self, bundle: CodeBundle, *, entry: str, payload: Any, limits: Limits, kind: Kind,
               context: dict[str, Any] | None = None) -> InvocationResult:  # fmt: skip
        """Run one call in a warm (or new) worker for ``bundle``; never raises for the code's failures."""
        if self.mode == "unavailable":
            raise SandboxUnavailable(f"refusing to run user code: no sandbox available ({self.mode_reason})")
        if kind not in ("lambda", "python_grader"):
            raise ValueError(f"unknown invocation kind {kind!r}")
        started = time.monotonic()
        ctx = dict(context or {})
        request = {
            "kind": kind,
            "entry": entry,
            "payload": payload,
            "context": ctx,
            "deadline_ms": int(time.time() * 1000 + limits.timeout_s * 1000),
            "max_output_bytes": limits.max_output_bytes,
        }
        try:
            worker, cold = self._acquire(bundle, limits, networked=kind == "lambda")
        except WorkerDied as exc:
            return InvocationResult(ok=False, error=exc.error, duration_s=time.monotonic() - started, cold_start=True)
        try:
            response = worker.call(request, limits)
        except WorkerDied as exc:
            error = dict(exc.error)
            if error["errorType"] == "Sandbox.Timedout":
                error["errorMessage"] = f"Task timed out after {limits.timeout_s:.2f} seconds"
            return self._result(False, None, error, "", started, cold, worker)
        finally:
            self._release(worker)
        return self._result(response.get("ok", False), response.get("value"), response.get("error"),
                            response.get("log_tail", ""), started, cold, worker)  # fmt: skip

    def close(self) -> None:
        """Kill every worker and remove the pool's files."""
        with self._cond:
            if self.closed:
                return
            self.closed = True
            workers, self._workers = self._workers, []
            self._cond.notify_all()
        self._stop.set()
        for worker in workers:
            worker.kill()
        if self.relay is not None:
            self.relay.close()
        self._spawner.shutdown(wait=True)
        shutil.rmtree(self._root, ignore_errors=True)

    def stats(self) -> dict[str, int]:
        with self._cond:
            return {"workers": len(self._workers), "busy": sum(w.busy for w in self._workers)}

    # ------------------------------------------------------------ workers

    @staticmethod
    def _result(ok: bool, value: Any, error: dict[str, Any] | None, log_tail: str, started: float, cold: bool,
                worker: Worker) -> InvocationResult:  # fmt: skip
        return InvocationResult(ok=bool(ok), value=value if ok else None, error=None if ok else error,
                                log_tail=log_tail, duration_s=time.monotonic() - started, cold_start=cold,
                                worker_pid=worker.pid)  # fmt: skip

    def _acquire(self, bundle: CodeBundle, limits: Limits, *, networked: bool) -> tuple[Worker, bool]:
        """An idle worker of this bundle and limits, or a new one; only Lambda handlers get the relay.

        OpenAI's python graders have no network at all, so theirs is a worker without one.
        """
        wkey = (bundle.key, limits.memory_mb, limits.max_processes, limits.max_output_bytes, limits.tmp_mb,
                networked)  # fmt: skip
        evicted: Worker | None = None
        with self._cond:
            while True:
                if self.closed:
                    raise SandboxUnavailable("the sandbox pool is closed")
                idle = [w for w in self._workers if w.wkey == wkey and not w.busy and not w.dead]
                if idle:
                    worker = max(idle, key=lambda w: w.last_used)
                    worker.busy = True
                    return worker, False
                if len(self._workers) >= self.max_workers:
                    spare = [w for w in self._workers if not w.busy]
                    if spare:
                        evicted = min(spare, key=lambda w: w.last_used)
                        self._workers.remove(evicted)
                if len(self._workers) < self.max_workers:
                    worker = self._new_worker(wkey, bundle, limits, networked)
                    self._workers.append(worker)
                    break
                self._cond.wait(timeout=1.0)
        if evicted is not None:
            evicted.kill()
        try:  # outside the lock: unpacking a large package must not hold up other calls
            self._prepare(worker, bundle)
            worker.start(self._spawner)
        except BaseException:
            worker.kill()
            self._release(worker)
            raise
        return worker, True

    def _new_worker(self, wkey: tuple[Any, ...], bundle: CodeBundle, limits: Limits, networked: bool) -> Worker:
        name = f"w{next(self._serial)}-{uuid.uuid4().hex[:8]}"
        drop_uid = self._free_uid() if self.mode == "rlimits" and fallback_uid_drop_possible() else None
        if drop_uid is None:
            workdir = self._root / name
            workdir.mkdir(mode=0o700)
        else:  # the slot uid cannot pass the pool's 0700 root: its folder sits beside it, 0700 and its own
            workdir = Path(tempfile.mkdtemp(prefix=f"{self._root.name}.{name}-", dir=self._root.parent))
        spec = WorkerSpec(mode=self.mode, limits=limits, code_dir=workdir / "task", scratch_dir=workdir / "tmp",
                          drop_uid=drop_uid)  # fmt: skip
        relay = self.relay if networked else None
        worker = Worker(wkey=wkey, spec=spec, workdir=workdir, name=name, relay=relay)
        worker.busy = True
        return worker

    @staticmethod
    def _prepare(worker: Worker, bundle: CodeBundle) -> None:
        """Unpack the code into the worker's folder; a zip that cannot be used is the call's error, not ours."""
        spec = worker.spec
        spec.scratch_dir.mkdir(mode=0o700)
        try:
            unpack_bundle(bundle, spec.code_dir)
        except PackageRefused as exc:
            error = {"errorMessage": f"The function's code cannot be unpacked: {exc}",
                     "errorType": "Sandbox.PackageRefused", "stackTrace": []}  # fmt: skip
            raise WorkerDied(error) from None
        if spec.drop_uid is not None:
            _chown_tree(worker.workdir, spec.drop_uid)  # Landlock still keeps the code read-only to it

    def _free_uid(self) -> int:
        """A uid no live worker uses (fallback as root): RLIMIT_NPROC then counts one worker's processes."""
        used = {w.spec.drop_uid for w in self._workers}
        return next(uid for uid in itertools.count(FALLBACK_UID_BASE) if uid not in used)

    def _release(self, worker: Worker) -> None:
        with self._cond:
            worker.busy = False
            worker.last_used = time.monotonic()
            if worker.dead and worker in self._workers:
                self._workers.remove(worker)
            self._cond.notify_all()

    def _reap_loop(self) -> None:
        while not self._stop.wait(min(10.0, self.idle_s / 4)):
            now = time.monotonic()
            with self._cond:
                stale = [w for w in self._workers if not w.busy and (w.dead or now - w.last_used > self.idle_s)]
                for worker in stale:
                    self._workers.remove(worker)
            for worker in stale:
                worker.kill()


def make_non_dumpable() -> None:
    """Hide this process's /proc files (environ, maps, fds, mem) from same-uid processes (the fallback).

    Without a pid namespace a function could otherwise read the server's environment (its admin key)
    from /proc/<pid>/environ; the fallback's launcher also drops every capability, so uid 0 inside
    cannot override this with CAP_SYS_PTRACE. Children the server starts are dumpable again once they
    exec: the fallback does not hide their environments (the launcher's own is built from nothing).
    """
    import ctypes

    pr_set_dumpable = 4
    ctypes.CDLL(None).prctl(pr_set_dumpable, 0, 0, 0, 0)


def unpack_bundle(bundle: CodeBundle, dest: Path) -> None:
    """Write the bundle's files under ``dest`` (folders 0700, files 0600); refuses unsafe paths.

    A zip is unpacked by a child process (``unzip.py``) with its own memory, file-size and CPU limits,
    measuring what each entry really inflates to: a zip stored before its size was checked, or one
    that lies about its sizes, costs the server nothing. Loose ``files`` (a grader's source) are
    written here, after the zip's.
    """
    dest.mkdir(mode=0o700)
    if bundle.zip_bytes is not None:
        _unpack_zip_in_child(bundle.zip_bytes, dest)
    for name, data in (bundle.files or {}).items():
        try:
            parts = unzip.safe_parts(name)
        except unzip.Refused:
            raise ValueError(f"unsafe path in code bundle: {name!r}") from None
        path = dest.joinpath(*parts)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with open(fd, "wb") as out:
            out.write(data)


class PackageRefused(ValueError):
    """A function's zip that cannot be unpacked (too large once inflated, corrupt, or escaping its folder)."""


def _unpack_zip_in_child(zip_bytes: bytes, dest: Path) -> None:
    argv = [sys.executable, "-I", "-B", unzip.__file__, str(MAX_UNZIPPED_BYTES)]
    env = {"PATH": "/usr/bin:/bin", unzip.DEST_ENV: str(dest)}  # not in argv: ps shows that to everyone
    try:
        proc = subprocess.run(argv, input=zip_bytes, capture_output=True, timeout=UNPACK_TIMEOUT_S, check=False,
                              env=env)  # fmt: skip
    except subprocess.TimeoutExpired:
        raise PackageRefused(f"unpacking took longer than {UNPACK_TIMEOUT_S:.0f} s") from None
    if proc.returncode == unzip.REFUSED_EXIT:
        raise PackageRefused(json.loads(proc.stdout)["message"])
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        raise PackageRefused(tail[0])


def _chown_tree(root: Path, uid: int) -> None:
    os.chown(root, uid, uid, follow_symlinks=False)
    for parent, dirs, files in os.walk(root):
        for name in dirs + files:
            os.chown(os.path.join(parent, name), uid, uid, follow_symlinks=False)


def sweep_stale_roots(tmp_dir: Path) -> int:
    """Remove the folders that pools of dead processes left in ``tmp_dir`` (after a kill -9); returns how many.

    Only folders named for an owner that is gone, and owned by this uid (or, as root, a fallback slot
    uid) are removed: another server's live pool, or a folder a local user planted, stays.
    """
    allowed = {os.geteuid()}
    removed = 0
    try:
        candidates = [e for e in os.scandir(tmp_dir) if e.name.startswith(ROOT_PREFIX)]
    except OSError:
        return 0
    for entry in candidates:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        owned = st.st_uid in allowed or (os.geteuid() == 0 and st.st_uid in FALLBACK_UIDS)
        if entry.is_dir(follow_symlinks=False) and owned and owner_gone(entry.name[len(ROOT_PREFIX) :]):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed += 1
    return removed


_pool_lock = threading.Lock()
_pool: SandboxPool | None = None


def reset_pool() -> None:
    """Close the process's pool, if one was made; the next `get_pool` makes a fresh one (tests)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.close()


def get_pool(settings: Settings) -> SandboxPool:
    """The process's pool, created on first use (workers hold no installation state, so one serves all)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool.closed:
            _pool = SandboxPool(settings)
        return _pool


# OpenAI's python-grader image (2025-05-08): distribution name -> import name.
GRADER_PACKAGES = {
    "numpy": "numpy", "scipy": "scipy", "sympy": "sympy", "pandas": "pandas", "rapidfuzz": "rapidfuzz",
    "scikit-learn": "sklearn", "rouge-score": "rouge_score", "deepdiff": "deepdiff", "jsonschema": "jsonschema",
    "pydantic": "pydantic", "PyYAML": "yaml", "nltk": "nltk", "sqlparse": "sqlparse", "rdkit": "rdkit",
    "scikit-bio": "skbio", "ast-grep-py": "ast_grep_py",
}  # fmt: skip


def grader_packages() -> dict[str, str | None]:
    """import name -> installed version (None: not installed) of OpenAI's grader set, importable inside."""
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str | None] = {}
    for dist, module in GRADER_PACKAGES.items():
        try:
            found[module] = version(dist)
        except PackageNotFoundError:
            found[module] = None
    return found


def sandbox_log_line() -> str:
    """One line for the server log at start-up: the sandbox mode and why."""
    mode, why = detect_mode()
    return f"sandbox mode: {mode} ({why})"
