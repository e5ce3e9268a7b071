"""The program that runs inside the sandbox: applies limits, then serves one function's calls.

Standard library only (the openrft package is not visible inside). Started as
``python -I -B _launcher.py`` with its configuration (limits and paths, JSON) in the environment
variable ``OPENRFT_SANDBOX_CONFIG``, which it removes before any user code runs: the paths of a
function's code are never on a command line, where every local user could read them. Frames on the
private pipes are a 4-byte big-endian length + UTF-8 JSON: requests arrive on the original stdin,
responses leave on the original stdout; both are moved to private close-on-exec descriptors before any
user code runs, and the code's own stdout/stderr go to an in-memory file whose tail is returned as the
log. After every call, processes the code left running are killed (the launcher is their subreaper)
and a worker with leftover threads asks to be replaced. Before any user code runs it also opens the
code's one way to the server's API (``open_relay``; see ``relay.py``) and, in the fallback mode as
root, drops every capability.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import importlib
import json
import math
import numbers
import os
import resource
import signal
import struct
import sys
import threading
import time
import traceback
from typing import Any

LOG_TAIL_BYTES = 4096
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
PR_CAPBSET_DROP = 24
AF_MAX = 46  # socket families the kernel knows (include/linux/socket.h)
CONFIG_ENV = "OPENRFT_SANDBOX_CONFIG"  # limits.CONFIG_ENV (this file cannot import openrft)
_libc = ctypes.CDLL(None, use_errno=True)


# ---------------------------------------------------------------- framing


def read_frame(fd: int) -> dict[str, Any] | None:
    head = _read_exact(fd, 4)
    if head is None:
        return None
    body = _read_exact(fd, struct.unpack(">I", head)[0])
    return None if body is None else json.loads(body)


def _read_exact(fd: int, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, min(n - len(buf), 1 << 20))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def write_frame(fd: int, obj: dict[str, Any]) -> None:
    body = json.dumps(obj).encode()
    data = struct.pack(">I", len(body)) + body
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


# ---------------------------------------------------------------- limits and confinement


def apply_rlimits(cfg: dict[str, Any]) -> None:
    """Per-process limits; ``data_mb`` is set where no memory cgroup counts resident memory (see limits.py)."""
    mib = 1 << 20
    limits = {
        resource.RLIMIT_AS: cfg["address_space_mb"] * mib,
        resource.RLIMIT_NPROC: cfg["max_processes"],
        resource.RLIMIT_FSIZE: cfg["fsize_bytes"],
        resource.RLIMIT_NOFILE: 256,
        resource.RLIMIT_CORE: 0,
        resource.RLIMIT_CPU: cfg["cpu_budget_s"],
    }
    if cfg["data_mb"] is not None:
        limits[resource.RLIMIT_DATA] = cfg["data_mb"] * mib
    for which, value in limits.items():
        resource.setrlimit(which, (value, value))
    # Python threads' stacks: glibc's 8 MiB with a cgroup (virtual, as on AWS); small enough without one
    # that max_processes of them fit in RLIMIT_DATA, where a thread's whole stack counts.
    threading.stack_size(cfg["thread_stack_kib"] << 10)


def apply_landlock(cfg: dict[str, Any]) -> int:
    """Confine file access (and TCP, signals from ABI 4/6) with Landlock; returns the ABI used (0: none)."""
    syscall = _libc.syscall
    syscall.restype = ctypes.c_long
    abi = syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1))  # LANDLOCK_CREATE_RULESET_VERSION
    if abi < 1:
        return 0
    fs_all = (1 << 13) - 1 | (1 << 13 if abi >= 2 else 0) | (1 << 14 if abi >= 3 else 0)
    fs_all |= 1 << 15 if abi >= 5 else 0
    read_exec = 1 | 4 | 8  # EXECUTE | READ_FILE | READ_DIR

    class Ruleset(ctypes.Structure):
        _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    attr = Ruleset(fs_all, 3 if abi >= 4 else 0, 3 if abi >= 6 else 0)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    ruleset = syscall(444, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")

    def allow(path: str, rights: int) -> None:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            return
        if not os.path.isdir(path):
            rights &= 1 | 2 | 4 | (1 << 14 if abi >= 3 else 0) | (1 << 15 if abi >= 5 else 0)
        rule = PathBeneath(rights, fd)
        rc = syscall(445, ruleset, 1, ctypes.byref(rule), ctypes.c_uint32(0))
        os.close(fd)
        if rc < 0:
            raise OSError(ctypes.get_errno(), f"landlock_add_rule {path} failed")

    for path in cfg["read_paths"]:
        allow(path, read_exec)
    allow("/proc", 4 | 8)
    allow("/dev/null", 2 | 4)
    allow(cfg["scratch_dir"], fs_all)
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    if syscall(446, ruleset, ctypes.c_uint32(0)) < 0:
        raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    os.close(ruleset)
    return int(abi)


def apply_seccomp(inet: bool = False) -> bool:
    """Deny sockets but UNIX (+ IPv4/IPv6 with ``inet``) and kernel attack surface; False without pyseccomp.

    ``inet`` is for bubblewrap mode, where the network namespace has nothing but loopback: code reaches
    the relay's 127.0.0.1:9001 through an ordinary TCP socket, and no address beyond it exists.
    """
    try:
        import pyseccomp as sc
    except Exception:
        return False
    import socket

    flt = sc.SyscallFilter(sc.ALLOW)
    if inet:
        allowed = {socket.AF_UNIX, socket.AF_INET, socket.AF_INET6}
        for family in (f for f in range(AF_MAX) if f not in allowed):
            flt.add_rule(sc.ERRNO(errno.EPERM), "socket", sc.Arg(0, sc.EQ, family))
        flt.add_rule(sc.ERRNO(errno.EPERM), "socket", sc.Arg(0, sc.GE, AF_MAX))
    else:
        flt.add_rule(sc.ERRNO(errno.EPERM), "socket", sc.Arg(0, sc.NE, socket.AF_UNIX))
    denied = [
        "ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2", "unshare", "setns", "bpf",
        "keyctl", "add_key", "request_key", "perf_event_open", "userfaultfd", "kexec_load", "init_module",
        "finit_module", "delete_module", "io_uring_setup", "io_uring_enter", "io_uring_register",
        "pivot_root", "chroot", "swapon", "swapoff", "reboot", "open_by_handle_at",
    ]  # fmt: skip
    for name in denied:
        try:
            flt.add_rule(sc.ERRNO(errno.EPERM), name)
        except Exception:
            continue
    flt.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")  # glibc falls back to clone, whose flags we can check
    clone_newuser = 0x10000000
    flt.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, clone_newuser, clone_newuser))
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    flt.load()
    return True


def drop_capabilities() -> bool:
    """Drop every capability of a process still uid 0 (fallback as root without a slot uid); True if done.

    Without CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH, root's code can no longer read the /proc files
    (environ, maps, fds) of processes that made themselves non-dumpable, as the server does in this mode.
    """
    if os.geteuid() != 0:
        return False
    for cap in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() == errno.EINVAL:
            break  # past the kernel's last capability

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    header = Header(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3: two Data structs
    data = (Data * 2)()
    if _libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")
    return True


# ---------------------------------------------------------------- the relay to the server's API (relay.py)


def open_relay(cfg: dict[str, Any]) -> str | None:
    """Make the server's API reachable at 127.0.0.1:<port> (before seccomp, before user code); the way used.

    bubblewrap: bind the port inside our network namespace and hand the listening socket to the relay
    outside over the inherited Unix socket, keeping no copy. rlimits: TCP to that address is rewritten
    into a connection to the relay's Unix socket (``install_socket_shim``).
    """
    relay = cfg.get("relay")
    if not relay:
        return None
    import socket

    if relay.get("fd") is not None:
        channel = socket.socket(fileno=relay["fd"])
        try:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.bind(("127.0.0.1", relay["port"]))
            listener.listen(64)
            socket.send_fds(channel, [b"L"], [listener.fileno()])
            listener.close()
        finally:
            channel.close()
        return "listener"
    install_socket_shim(relay["socket"], relay["port"])
    return "shim"


def install_socket_shim(path: str, port: int) -> None:
    """rlimits mode: Python's TCP sockets become UNIX sockets that can only connect to the relay at ``path``.

    seccomp refuses AF_INET sockets here, so ``socket.socket(AF_INET, SOCK_STREAM)`` makes an AF_UNIX one
    instead; its connect to 127.0.0.1:``port`` (or localhost, ::1) goes to the relay, any other address
    fails with EPERM, and TCP-level options are accepted and ignored. Everything else is the real class.
    """
    import socket

    real = socket.socket
    loopback = {"127.0.0.1", "localhost", "::1"}

    class RelaySocket(real):  # type: ignore[misc, valid-type]
        def __init__(self, family: int = -1, type: int = -1, proto: int = -1, fileno: int | None = None) -> None:
            relayed = fileno is None and family in (socket.AF_INET, socket.AF_INET6) and type != -1 and (
                type & 0xF) == socket.SOCK_STREAM  # fmt: skip
            if relayed:
                real.__init__(self, socket.AF_UNIX, type, 0)
            else:
                real.__init__(self, family, type, proto, fileno)
            self._relayed = relayed

        def _target(self, address: Any) -> Any:
            if not getattr(self, "_relayed", False):
                return address
            if isinstance(address, tuple) and len(address) >= 2 and address[0] in loopback and address[1] == port:
                return path
            raise PermissionError(errno.EPERM, f"network access is limited to this server's API (127.0.0.1:{port})")

        def connect(self, address: Any) -> None:
            real.connect(self, self._target(address))

        def connect_ex(self, address: Any) -> int:
            return real.connect_ex(self, self._target(address))

        def bind(self, address: Any) -> None:
            if getattr(self, "_relayed", False):
                raise PermissionError(errno.EPERM, "binding a TCP port is not allowed in the sandbox")
            real.bind(self, address)

        def setsockopt(self, level: int, option: int, *value: Any) -> None:
            if getattr(self, "_relayed", False) and level in (socket.IPPROTO_TCP, socket.IPPROTO_IP,
                                                              socket.IPPROTO_IPV6):  # fmt: skip
                return
            real.setsockopt(self, level, option, *value)

    socket.socket = RelaySocket  # type: ignore[misc]


def drop_uid(uid: int) -> None:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


# ---------------------------------------------------------------- processes left behind


def sweep_children() -> bool:
    """Kill and reap every descendant (orphans come to us: we are their subreaper); True when none left."""
    for _ in range(200):
        try:
            while True:
                pid, _status = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    break
        except ChildProcessError:
            return True
        for pid in _descendants(os.getpid()):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.002)
    return False


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


# ---------------------------------------------------------------- calling user code


class LambdaContext:
    """The attributes and method AWS's Python runtime gives handlers."""

    def __init__(self, ctx: dict[str, Any], deadline_ms: int):
        name = ctx.get("function_name") or "function"
        self.function_name = name
        self.function_version = ctx.get("function_version") or "$LATEST"
        self.invoked_function_arn = ctx.get("invoked_function_arn") or ""
        self.memory_limit_in_mb = str(ctx.get("memory_limit_in_mb") or "")  # a string, as on AWS
        self.aws_request_id = ctx.get("aws_request_id") or ""
        self.log_group_name = ctx.get("log_group_name") or f"/aws/lambda/{name}"
        self.log_stream_name = ctx.get("log_stream_name") or f"openrft/[{self.function_version}]"
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))


def lambda_env(ctx: dict[str, Any]) -> dict[str, str]:
    """The reserved variables AWS's runtime sets (only those we know; the function's own override)."""
    if not ctx.get("function_name"):
        return {}
    arn = str(ctx.get("invoked_function_arn") or "").split(":")
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": str(ctx["function_name"]),
        "AWS_LAMBDA_FUNCTION_VERSION": str(ctx.get("function_version") or "$LATEST"),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(ctx.get("memory_limit_in_mb") or ""),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{ctx['function_name']}",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python" + ".".join(map(str, sys.version_info[:2])),
    }
    if len(arn) > 3 and arn[3]:
        env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = arn[3]
    return env


def aws_error(exc: BaseException) -> dict[str, Any]:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "stackTrace": traceback.format_list(frames),
    }


class Runtime:
    def __init__(self, cfg: dict[str, Any]):
        self.cfg = cfg
        self.handlers: dict[str, Any] = {}
        self.env_keys: set[str] = set()
        self.recycle = False

    def load(self, entry: str) -> Any:
        if entry not in self.handlers:
            module_name, _, attr = entry.rpartition(".")
            try:
                module = importlib.import_module(module_name)
            except BaseException as exc:
                msg = f"Unable to import module '{module_name}': {exc}"
                raise HandlerError("Runtime.ImportModuleError", msg) from None
            if not hasattr(module, attr):
                raise HandlerError("Runtime.HandlerNotFound", f"Handler '{attr}' missing on module '{module_name}'")
            self.handlers[entry] = getattr(module, attr)
        return self.handlers[entry]

    def set_env(self, env: dict[str, str]) -> None:
        for key in self.env_keys - env.keys():
            os.environ.pop(key, None)
        os.environ.update({str(k): str(v) for k, v in env.items()})
        self.env_keys = set(env)

    def call(self, req: dict[str, Any]) -> dict[str, Any]:
        ctx = req.get("context") or {}
        self.set_env({**lambda_env(ctx), **(ctx.get("environment") or {})})
        try:
            handler = self.load(req["entry"])
        except HandlerError as exc:
            log_error(f"[ERROR] {exc.error_type}: {exc}\n")
            return {"ok": False, "error": runtime_error(exc.error_type, str(exc))}
        if req["kind"] == "python_grader":
            return {"ok": True, "value": [self.grade_pair(handler, pair) for pair in req["payload"]]}
        try:
            value = handler(req["payload"], LambdaContext(ctx, req["deadline_ms"]))
        except BaseException as exc:  # SystemExit too: the handler's failure, not the runtime's
            self.recycle |= isinstance(exc, MemoryError)
            err = aws_error(exc)
            log_error(f"[ERROR] {err['errorType']}: {err['errorMessage']}\n" + "".join(traceback.format_exception(exc)))
            return {"ok": False, "error": err}
        return {"ok": True, "value": value}

    def grade_pair(self, grade: Any, pair: Any) -> dict[str, Any]:
        try:
            sample, item = pair
            value = grade(sample, item)
        except BaseException as exc:
            self.recycle |= isinstance(exc, MemoryError)
            tb = "".join(traceback.format_exception(exc)[-20:])
            msg = f"{type(exc).__name__}: {exc}"
            return {"ok": False, "value": None, "error": msg, "error_type": "runtime_error", "traceback": tb}
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            msg = f"grade() returned {type(value).__name__}, expected a number"
            return {"ok": False, "value": None, "error": msg, "error_type": "invalid_return", "traceback": None}
        number = float(value)
        if not math.isfinite(number):
            msg = f"grade() returned a non-finite number ({number})"
            return {"ok": False, "value": None, "error": msg, "error_type": "invalid_return", "traceback": None}
        return {"ok": True, "value": number, "error": None, "error_type": None, "traceback": None}


def log_error(text: str) -> None:
    """Write to the log as AWS's runtime does; a full log (the code hit the size cap) is not our failure."""
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(text)
        sys.stderr.flush()


def runtime_error(error_type: str, message: str) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "stackTrace": []}


class HandlerError(Exception):
    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type = error_type


def encode_response(result: dict[str, Any], max_bytes: int) -> dict[str, Any]:
    """Check the handler's value serializes and fits, as the Lambda runtime does."""
    if result.get("ok") and "value" in result:
        try:
            size = len(json.dumps(result["value"]).encode())
        except (TypeError, ValueError) as exc:
            msg = f"Unable to marshal response: {exc}"
            return {"ok": False, "error": runtime_error("Runtime.MarshalError", msg)}
        if size > max_bytes:
            msg = f"Response payload size ({size} bytes) exceeded maximum allowed payload size ({max_bytes} bytes)."
            return {"ok": False, "error": runtime_error("Function.ResponseSizeTooLarge", msg)}
    return result


# ---------------------------------------------------------------- main loop


def setup_io() -> tuple[int, int, int]:
    """Move the protocol pipes to private fds; the code's stdout/stderr go to an in-memory log."""
    req_fd, resp_fd = os.dup(0), os.dup(1)  # os.dup: close-on-exec, children never see them
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    log_fd = os.memfd_create("openrft-log", os.MFD_CLOEXEC)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
    return req_fd, resp_fd, log_fd


def read_log(log_fd: int) -> tuple[int, str]:
    size = os.fstat(log_fd).st_size
    tail = os.pread(log_fd, LOG_TAIL_BYTES, max(0, size - LOG_TAIL_BYTES))
    os.ftruncate(log_fd, 0)
    os.lseek(log_fd, 0, os.SEEK_SET)
    return size, tail.decode("utf-8", "replace")


def on_terminate(_signum: int, _frame: object) -> None:
    """Asked to stop (a timeout in the fallback mode): kill our descendants first, then exit."""
    sweep_children()
    os._exit(143)


def main() -> None:
    cfg = json.loads(os.environ.pop(CONFIG_ENV))
    req_fd, resp_fd, log_fd = setup_io()
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # oversized writes fail with EFBIG instead of killing us
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    signal.signal(signal.SIGTERM, on_terminate)
    layers: dict[str, Any] = {"landlock_abi": 0, "seccomp": False, "relay": open_relay(cfg), "caps_dropped": False}
    if cfg["mode"] == "rlimits":
        layers["landlock_abi"] = apply_landlock(cfg)
    inet = cfg["mode"] == "bubblewrap"  # its network namespace holds nothing but loopback
    layers["seccomp"] = apply_seccomp(inet) if cfg.get("seccomp", True) else False
    if cfg.get("drop_uid") is not None:
        drop_uid(cfg["drop_uid"])
    apply_rlimits(cfg)
    if cfg["mode"] == "rlimits":
        layers["caps_dropped"] = drop_capabilities()  # after the rlimits: raising one needs CAP_SYS_RESOURCE
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [cfg["task_dir"], *(p for p in sys.path if p != here)]  # the code, never our own folder
    os.chdir(cfg["task_dir"])
    runtime = Runtime(cfg)
    write_frame(resp_fd, {"ready": True, "pid": os.getpid(), "layers": layers})
    while (req := read_frame(req_fd)) is not None:
        result = encode_response(runtime.call(req), req["max_output_bytes"])
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        result["swept"] = sweep_children()
        log_bytes, result["log_tail"] = read_log(log_fd)
        result["log_bytes"] = log_bytes
        if log_bytes > req["max_output_bytes"]:
            msg = f"The function wrote {log_bytes} bytes to stdout/stderr, more than {req['max_output_bytes']}."
            result = {**result, "ok": False, "error": runtime_error("Sandbox.OutputLimitExceeded", msg)}
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        result["cpu_s"] = cpu.ru_utime + cpu.ru_stime
        result["recycle"] = runtime.recycle or threading.active_count() > 1 or not result["swept"]
        write_frame(resp_fd, result)


if __name__ == "__main__":
    main()
