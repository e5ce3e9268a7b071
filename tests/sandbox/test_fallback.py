"""The fallback mode's uid drop (root + a world-readable interpreter), driven through one worker and a pool."""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from unittest import mock

import pytest

from openrft.functions import limits
from openrft.functions import sandbox as sandbox_module
from openrft.functions.sandbox import CodeBundle, SandboxPool
from openrft.functions.sandbox_types import Limits
from openrft.functions.worker_proc import Worker
from openrft.settings import Settings

SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A folder under /tmp that other uids can traverse (pytest's tmp_path is private)."""
    path = Path(tempfile.mkdtemp(prefix="openrft-fallback-"))
    path.chmod(0o711)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_world_readable(open_dir: Path) -> None:
    shut = open_dir / "shut"
    shut.mkdir(mode=0o700)
    (shut / "f").write_text("x")
    (shut / "f").chmod(0o644)
    assert not limits.world_readable(str(shut / "f"))
    shut.chmod(0o711)
    assert limits.world_readable(str(shut / "f"))
    (shut / "f").chmod(0o600)
    assert not limits.world_readable(str(shut / "f"))


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists(SYSTEM_PYTHON), reason="needs root and the system python")
@pytest.mark.skipif(limits.landlock_abi() < 4, reason="needs Landlock with TCP rules")
def test_fallback_drops_to_a_slot_uid(open_dir: Path) -> None:
    root = open_dir
    code, scratch = root / "task", root / "tmp"
    code.mkdir(mode=0o755)
    scratch.mkdir()
    (code / "f.py").write_text(
        "import os\ndef h(event, context):\n    out = {'uid': os.getuid()}\n"
        "    for p in event:\n        try:\n            open(p).read()\n            out[p] = 'READ'\n"
        "        except OSError as exc:\n            out[p] = type(exc).__name__\n    return out\n"
    )
    (code / "f.py").chmod(0o644)
    uid = limits.FALLBACK_UID_BASE + 999
    os.chown(scratch, uid, uid)
    launcher = root / "_launcher.py"
    shutil.copy(limits.LAUNCHER, launcher)
    launcher.chmod(0o644)
    spec = limits.WorkerSpec(
        mode="rlimits", limits=Limits(timeout_s=10, memory_mb=256), code_dir=code, scratch_dir=scratch, drop_uid=uid
    )
    spawner = ThreadPoolExecutor(1)
    with mock.patch.object(limits.sys, "executable", SYSTEM_PYTHON), mock.patch.object(limits, "LAUNCHER", launcher):
        worker = Worker(wkey=("drop",), spec=spec, workdir=root, name=f"droptest-{os.getpid()}")
        try:
            worker.start(spawner)
            request = {"kind": "lambda", "entry": "f.h", "payload": ["/etc/passwd", "/root/.bashrc"], "context": {},
                       "deadline_ms": int(time.time() * 1000 + 10_000), "max_output_bytes": 1 << 20}  # fmt: skip
            response = worker.call(request, spec.limits)
        finally:
            worker.kill()
            spawner.shutdown()
    assert response["ok"], response
    assert response["value"]["uid"] == uid
    assert response["value"]["/etc/passwd"] == "PermissionError"  # Landlock: not on the allow-list
    assert response["value"]["/root/.bashrc"] == "PermissionError"


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists(SYSTEM_PYTHON), reason="needs root and the system python")
@pytest.mark.skipif(limits.landlock_abi() < 4, reason="needs Landlock with TCP rules")
def test_a_slot_uid_gets_its_own_folder(open_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pool's root is 0700 to the service user, so a slot uid's folder sits beside it, 0700 and its own."""
    launcher = open_dir / "_launcher.py"
    shutil.copy(limits.LAUNCHER, launcher)
    launcher.chmod(0o644)
    monkeypatch.setattr(limits.sys, "executable", SYSTEM_PYTHON)
    monkeypatch.setattr(limits, "LAUNCHER", launcher)
    monkeypatch.setattr(sandbox_module, "fallback_uid_drop_possible", lambda: True)
    source = (
        "import os, tempfile\ndef h(event, context):\n"
        "    open(os.path.join(tempfile.gettempdir(), 'scratch'), 'w').write('x')\n"
        "    own = open(os.path.join(os.environ['LAMBDA_TASK_ROOT'], 'f.py')).read()\n"
        "    return {'uid': os.getuid(), 'reads_own_code': 'def h' in own}\n"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("f.py", source)
    pool = SandboxPool(Settings(home=tmp_path), mode="rlimits")
    try:
        result = pool.invoke(CodeBundle(key="slot", zip_bytes=buf.getvalue()), entry="f.h", payload=None,
                             limits=Limits(timeout_s=10, memory_mb=256), kind="lambda")  # fmt: skip
        assert result.ok, result.error
        worker = pool._workers[0]
        uid = worker.spec.drop_uid
        assert uid is not None and result.value == {"uid": uid, "reads_own_code": True}
        folder = worker.workdir
        assert folder.parent == pool._root.parent and folder.name.startswith(pool._root.name + ".")
        task = worker.spec.code_dir
        for path in [folder, worker.spec.scratch_dir, task, *task.rglob("*")]:  # what the service wrote
            st = path.stat()
            assert st.st_uid == uid and st.st_mode & 0o077 == 0, (path, st.st_uid, oct(st.st_mode))
    finally:
        pool.close()
    assert not folder.exists()
