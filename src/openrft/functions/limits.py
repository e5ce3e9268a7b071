"""How a sandboxed worker is started on this host: mode detection, the command line, limits, cgroups.

``detect_mode`` probes once per process whether bubblewrap can create its namespaces here, else
whether the fallback's layers (Landlock, seccomp) exist. ``sandbox_command`` builds one worker's
command for the chosen mode: what ``ps`` shows of it names no path of the function's code (bwrap reads
its arguments from a descriptor, ``--args``; the launcher reads its configuration from its
environment, which only the same uid can read). ``memory_limits`` chooses how memory is bounded;
``Cgroup`` gives a worker its own pids + memory limit when the server runs as root (where
``RLIMIT_NPROC`` does not bind) and a cgroup hierarchy is writable. Names of what a server leaves on
the host (folders, cgroups) carry ``owner_tag()`` so that the next server can remove them after a crash.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from openrft.functions.relay import INSIDE_PORT
from openrft.functions.sandbox_types import Limits, SandboxUnavailable

LAUNCHER = Path(__file__).with_name("_launcher.py")
LAUNCHER_INSIDE = "/var/runtime/launcher.py"  # where bubblewrap mode binds it
SANDBOX_UID = 65534  # the uid code sees inside bubblewrap ("nobody")
FALLBACK_UID_BASE = 61_000  # per-slot uids for the fallback when root and the interpreter is world-readable
CPU_BUDGET_S = 3600  # RLIMIT_CPU of a worker's lifetime: a backstop; the pool recycles workers at half
CONFIG_ENV = "OPENRFT_SANDBOX_CONFIG"  # the launcher's configuration; it removes the variable at once
AWS_THREAD_STACK_KIB = 8192  # glibc's default thread stack (RLIMIT_STACK 8 MiB), as on AWS Lambda
SMALL_THREAD_STACK_KIB = 256  # without a cgroup each stack counts in RLIMIT_DATA: 1024 threads = 256 MiB
# RLIMIT_AS above the data limit: libraries, malloc arenas' reservations, guard pages (measured: 136 MB
# with numpy, sympy, nltk, pydantic imported and 1,000 threads); it also bounds shared mappings.
ADDRESS_SLACK_MB = 512
OWNER_RE = re.compile(r"^(\d+)-(\d+)-")  # "<pid>-<start time>-...", see owner_tag()

__all__ = ["Cgroup", "SandboxUnavailable", "WorkerSpec", "detect_mode", "landlock_abi", "sandbox_command"]


# ---------------------------------------------------------------- owners of what is left on the host


def process_start_ticks(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot), None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    return int(stat[stat.rindex(b")") + 2 :].split()[19])


def owner_tag() -> str:
    """``<pid>-<start time>`` of this process: a pid alone could be reused by another process after a crash."""
    pid = os.getpid()
    return f"{pid}-{process_start_ticks(pid)}"


def owner_gone(name: str) -> bool:
    """Whether ``name`` starts with the owner tag of a process that no longer runs (False: no tag, or alive)."""
    match = OWNER_RE.match(name)
    if match is None:
        return False
    return process_start_ticks(int(match[1])) != int(match[2])


# ---------------------------------------------------------------- detection


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when absent or disabled."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    try:
        abi = libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    except Exception:
        return 0
    return max(0, int(abi))


def seccomp_available() -> bool:
    try:
        import pyseccomp  # noqa: F401
    except Exception:
        return False
    return True


def _probe_bwrap(bwrap: str) -> tuple[bool, str]:
    argv = [bwrap, *_bwrap_base_args(), "--", "/usr/bin/true"]
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    return proc.returncode == 0, proc.stderr.decode(errors="replace").strip()


@functools.lru_cache(maxsize=1)
def detect_mode() -> tuple[str, str]:
    """(mode, human explanation): "bubblewrap" | "rlimits" | "unavailable", probed once per process."""
    bwrap = shutil.which("bwrap")
    if bwrap:
        ok, err = _probe_bwrap(bwrap)
        if ok:
            limits = "pids+memory cgroup per worker" if os.geteuid() == 0 and Cgroup.supported() else "rlimits"
            return "bubblewrap", f"{bwrap}: user, pid, net, mount namespaces work; limits by {limits}"
        why_not = f"bwrap cannot create namespaces here ({err or 'failed'})"
    else:
        why_not = "bwrap not installed (apt-get install bubblewrap)"
    abi, seccomp = landlock_abi(), seccomp_available()
    if abi >= 1 and (abi >= 4 or seccomp):
        net = "seccomp (no non-UNIX sockets)" if seccomp else "Landlock TCP only (UDP not blocked)"
        return "rlimits", (
            f"fallback: {why_not}; rlimits + Landlock ABI {abi} (files) + network by {net}; "
            "no private /tmp or pid namespace"
        )
    layers = f"Landlock ABI {abi}, seccomp {'yes' if seccomp else 'no (pip install pyseccomp)'}"
    return "unavailable", f"{why_not}; fallback needs Landlock and a network filter ({layers})"


def resolve_mode(requested: str | None) -> tuple[str, str]:
    """A mode forced by configuration ("auto" or None: detect)."""
    if requested in (None, "", "auto"):
        return detect_mode()
    if requested not in ("bubblewrap", "rlimits", "unavailable"):
        raise ValueError(f"unknown sandbox mode {requested!r}")
    return requested, f"forced by configuration (detected: {detect_mode()[0]})"


# ---------------------------------------------------------------- command lines


def _bwrap_base_args() -> list[str]:
    args = ["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    args += ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
    args += ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for etc in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime"):
        if os.path.exists(etc):
            args += ["--ro-bind", etc, etc]
    return [*args, "--proc", "/proc", "--dev", "/dev", "--hostname", "sandbox", "--clearenv"]


def python_paths() -> list[str]:
    """Directories of the interpreter and its packages, bound read-only into the sandbox."""
    paths = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix), sys.prefix}
    paths.add(os.path.dirname(os.path.realpath(sys.executable)))
    return sorted(p for p in paths if not p.startswith("/usr/") and p != "/usr")


def world_readable(path: str) -> bool:
    """True when any uid can reach ``path`` (every ancestor searchable, the path itself readable)."""
    current = os.path.realpath(path)
    if not os.access(current, os.F_OK) or not os.stat(current).st_mode & 0o004:
        return False
    while current != "/":
        current = os.path.dirname(current)
        if not os.stat(current).st_mode & 0o001:
            return False
    return True


def fallback_uid_drop_possible() -> bool:
    """Whether the fallback can run code as a per-slot uid: we are root and the interpreter is world-readable."""
    return os.geteuid() == 0 and all(world_readable(p) for p in [*python_paths(), str(LAUNCHER)])


def sandbox_env(task_dir: str, tmp_dir: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": tmp_dir,
        "TMPDIR": tmp_dir,
        "LAMBDA_TASK_ROOT": task_dir,
        "LAMBDA_RUNTIME_DIR": os.path.dirname(task_dir),
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MALLOC_ARENA_MAX": "2",  # each arena reserves 64 MiB of address space; threads share two
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }


@dataclass
class WorkerSpec:
    """Everything needed to start one worker."""

    mode: str
    limits: Limits
    code_dir: Path  # the unpacked bundle on the host
    scratch_dir: Path  # the fallback's private TMPDIR on the host
    drop_uid: int | None = None
    relay_fd: int | None = None  # bubblewrap: the inherited Unix socket the launcher hands its listener out on
    relay_socket: Path | None = None  # rlimits: the relay's Unix socket, where TCP to 127.0.0.1:9001 goes


def cgroup_memory_mb(lim: Limits) -> int:
    """The memory cgroup's limit: the function's memory (256 MB at least) + its /tmp and /dev/shm tmpfs pages."""
    return max(lim.memory_mb, 256) + 2 * lim.tmp_mb + 64


def memory_limits(lim: Limits, cgroup: bool) -> dict[str, int | None]:
    """How memory binds (the launcher's ``data_mb``, ``address_space_mb``, ``thread_stack_kib``).

    With a cgroup, resident memory is counted for the whole sandbox, so threads keep AWS's 8 MiB
    (virtual) stacks and RLIMIT_AS is a generous backstop only. Without one, each process gets
    RLIMIT_DATA (private writable memory, not reserved address space): the function's memory plus room
    for ``max_processes`` threads with 256 KiB stacks; RLIMIT_AS also bounds shared mappings.
    """
    if cgroup:
        address_mb = cgroup_memory_mb(lim) + lim.max_processes * AWS_THREAD_STACK_KIB // 1024 + ADDRESS_SLACK_MB
        return {"data_mb": None, "address_space_mb": address_mb, "thread_stack_kib": AWS_THREAD_STACK_KIB}
    data_mb = lim.memory_mb + lim.max_processes * SMALL_THREAD_STACK_KIB // 1024
    return {"data_mb": data_mb, "address_space_mb": data_mb + ADDRESS_SLACK_MB,
            "thread_stack_kib": SMALL_THREAD_STACK_KIB}  # fmt: skip


def launcher_config(spec: WorkerSpec, task_dir: str, tmp_dir: str, cgroup: bool) -> dict[str, object]:
    lim = spec.limits
    return {
        "mode": spec.mode,
        "task_dir": task_dir,
        "scratch_dir": tmp_dir,
        **memory_limits(lim, cgroup),
        "max_processes": lim.max_processes,
        "fsize_bytes": max(lim.tmp_mb << 20, lim.max_output_bytes + 1),
        "cpu_budget_s": CPU_BUDGET_S,
        "drop_uid": spec.drop_uid,
        "relay": relay_config(spec),
        # /etc/ssl/certs: public CA certificates, which HTTP clients (httpx) load even for http:// URLs.
        "read_paths": [*python_paths(), "/usr", "/lib", "/lib64", "/bin", "/etc/ld.so.cache", "/etc/ssl/certs",
                       task_dir, str(LAUNCHER)],
    }  # fmt: skip


def relay_config(spec: WorkerSpec) -> dict[str, object] | None:
    """The launcher's side of the relay (relay.py): where the API appears inside, how it gets out."""
    if spec.relay_fd is None and spec.relay_socket is None:
        return None
    socket_path = str(spec.relay_socket) if spec.relay_socket is not None else None
    return {"port": INSIDE_PORT, "fd": spec.relay_fd, "socket": socket_path}


def _bwrap_private_args(spec: WorkerSpec, cgroup: bool) -> list[str]:
    """bwrap's arguments naming host paths: handed over through a descriptor, never on the command line."""
    task_dir, tmp_dir = "/var/task", "/tmp"
    tmpfs_bytes = str(spec.limits.tmp_mb << 20)
    args = _bwrap_base_args()
    # The private /tmp first: an interpreter or virtualenv living under /tmp is bound on top of it.
    args += ["--size", tmpfs_bytes, "--tmpfs", "/tmp"]
    for path in python_paths():
        args += ["--ro-bind", path, path]
    args += ["--ro-bind", str(spec.code_dir), task_dir, "--ro-bind", str(LAUNCHER), LAUNCHER_INSIDE]
    # --dev's /dev is an unbounded tmpfs: /dev/shm gets its own, as small as /tmp, new for each worker.
    args += ["--size", tmpfs_bytes, "--tmpfs", "/dev/shm"]
    args += ["--remount-ro", "/", "--chdir", task_dir]  # bwrap's root tmpfs would be unbounded
    env = {**sandbox_env(task_dir, tmp_dir), CONFIG_ENV: json.dumps(launcher_config(spec, task_dir, tmp_dir, cgroup))}
    for key, value in env.items():
        args += ["--setenv", key, value]
    return args


def sandbox_command(spec: WorkerSpec, cgroup: Cgroup | None, args_fd: int) -> tuple[list[str], dict[str, str], bytes]:
    """(argv, env, private arguments) of one worker; with a cgroup, a shell joins it and then execs the sandbox.

    In bubblewrap mode the private arguments (NUL-separated) must be readable at ``args_fd`` in the child.
    """
    if spec.mode == "bubblewrap":
        bwrap = shutil.which("bwrap") or "bwrap"
        private = b"".join(a.encode() + b"\0" for a in _bwrap_private_args(spec, cgroup is not None))
        argv = [bwrap, "--args", str(args_fd), "--", sys.executable, "-I", "-B", LAUNCHER_INSIDE]
        env = {"PATH": "/usr/bin:/bin"}
    elif spec.mode == "rlimits":
        task_dir, tmp_dir = str(spec.code_dir), str(spec.scratch_dir)
        private = b""
        argv = [sys.executable, "-I", "-B", str(LAUNCHER)]
        cfg = launcher_config(spec, task_dir, tmp_dir, cgroup is not None)
        env = {**sandbox_env(task_dir, tmp_dir), CONFIG_ENV: json.dumps(cfg)}
    else:
        raise SandboxUnavailable(f"refusing to run user code: no sandbox available ({detect_mode()[1]})")
    if cgroup is not None:
        joins = "; ".join(f"echo $$ > {shlex.quote(p)} || exit 97" for p in cgroup.procs_files)
        argv = ["/bin/sh", "-c", f'{joins}; exec "$@"', "sh", *argv]
    return argv, env, private


# ---------------------------------------------------------------- cgroups


def _own_cgroup_paths() -> dict[str, str]:
    """controller -> our cgroup path ("" for the v2 unified hierarchy)."""
    out: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _id, controllers, path = line.split(":", 2)
        for ctl in controllers.split(",") if controllers else [""]:
            out[ctl] = path
    return out


class Cgroup:
    """One worker's pids + memory limit (v1 controllers or the v2 unified hierarchy), nested under ours."""

    def __init__(self, dirs: list[Path], version: int):
        self.dirs = dirs
        self.version = version

    @property
    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]

    @staticmethod
    def _bases() -> tuple[int, list[Path]] | None:
        if os.geteuid() != 0:
            return None
        own = _own_cgroup_paths()
        root = Path("/sys/fs/cgroup")
        if (root / "pids").is_dir() and (root / "memory").is_dir() and "pids" in own and "memory" in own:
            bases = [root / ctl / own[ctl].lstrip("/") / "openrft-sandbox" for ctl in ("pids", "memory")]
            return 1, bases
        if (root / "cgroup.controllers").exists() and "" in own:
            return 2, [root / own[""].lstrip("/") / "openrft-sandbox"]
        return None

    @classmethod
    @functools.lru_cache(maxsize=1)
    def supported(cls) -> bool:
        found = cls._bases()
        if found is None:
            return False
        try:
            group = cls._make(found, f"{owner_tag()}-probe", 1 << 30, 8)
        except OSError:
            return False
        group.remove()
        return True

    @classmethod
    def create(cls, name: str, limits: Limits) -> Cgroup | None:
        if not cls.supported():
            return None
        found = cls._bases()
        assert found is not None
        return cls._make(found, f"{owner_tag()}-{name}", cgroup_memory_mb(limits) << 20, limits.max_processes)

    @classmethod
    def sweep_stale(cls) -> int:
        """Kill what is left in, and remove, the cgroups of servers that are gone; returns how many."""
        if not cls.supported():
            return 0
        found = cls._bases()
        assert found is not None
        version, bases = found
        names = {d.name for base in bases if base.is_dir() for d in base.iterdir() if d.is_dir()}
        stale = sorted(n for n in names if owner_gone(n))
        for name in stale:
            group = cls([b / name for b in bases if (b / name).is_dir()], version)
            group.kill()
            group.remove()
        return len(stale)

    @classmethod
    def _make(cls, found: tuple[int, list[Path]], name: str, memory_bytes: int, pids: int) -> Cgroup:
        version, bases = found
        dirs = [b / name for b in bases]
        if version == 2:
            parent = bases[0]
            parent.mkdir(exist_ok=True)
            (parent.parent / "cgroup.subtree_control").write_text("+pids +memory")
            (parent / "cgroup.subtree_control").write_text("+pids +memory")
        for d in dirs:
            d.mkdir(parents=True, exist_ok=True)
        group = cls(dirs, version)
        try:
            if version == 1:
                (dirs[0] / "pids.max").write_text(str(pids))
                (dirs[1] / "memory.limit_in_bytes").write_text(str(memory_bytes))
            else:
                (dirs[0] / "pids.max").write_text(str(pids))
                (dirs[0] / "memory.max").write_text(str(memory_bytes))
                swap = dirs[0] / "memory.swap.max"
                if swap.exists():
                    swap.write_text("0")
        except OSError:
            group.remove()
            raise
        return group

    def kill(self) -> None:
        kill_file = self.dirs[0] / "cgroup.kill"
        if self.version == 2 and kill_file.exists():
            kill_file.write_text("1")
            return
        for _ in range(50):
            pids = [int(p) for d in self.dirs for p in (d / "cgroup.procs").read_text().split()]
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)

    def remove(self) -> None:
        for d in self.dirs:
            for _ in range(100):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)  # exiting processes still counted for a moment
