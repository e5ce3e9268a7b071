"""Issue 11, finding 4: a function zip whose headers lie about its sizes.

The probe is the one reported: a 1.2 MB zip whose headers declare a 1200 MiB entry as 100 bytes, with
the CRC of those 100 bytes. Before the fix create_function accepted it, and the first invoke inflated
the whole stream in the server (peak RSS 160 MB -> 2.26 GB). It is built here from one deflate block of
1 MiB of zeros ended by a full flush, repeated 1200 times: a valid stream, 1.24 MB, made in
milliseconds, and the test never holds the inflated data.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import botocore.exceptions
import pytest

from openrft.api.errors import answer
from openrft.errors import OpenRFTError
from openrft.functions import unzip
from openrft.functions.package import validate_zip
from openrft.functions.sandbox import CodeBundle, SandboxPool, unpack_bundle
from tests.api.test_lambda_api import lambda_client
from tests.conftest import LiveServer
from tests.sandbox.conftest import LIMITS

HANDLER = "lambda_function.lambda_handler"
SOURCE = b"def lambda_handler(event, context):\n    return 1\n"
BOMB_MIB = 1200
SIZE_ERROR = "Unzipped size must be smaller than 262144000 bytes"


def aws_code(exc: OpenRFTError) -> tuple[int, str]:
    """How the Lambda surface answers `exc`: (status, x-amzn-ErrorType)."""
    wire = answer(exc, aws=True)
    return wire.status, wire.headers["x-amzn-ErrorType"]


def zip_with(entries: list[tuple[str, int, bytes, int, int]]) -> bytes:
    """A zip written by hand from (name, method, stored bytes, declared size, declared CRC)."""
    body, central = bytearray(), bytearray()
    for name, method, data, size, crc in entries:
        offset, raw_name = len(body), name.encode()
        body += struct.pack("<4s2B4HL2L2H", b"PK\x03\x04", 20, 0, 0, method, 0, 0x21, crc, len(data), size,
                            len(raw_name), 0) + raw_name + data  # fmt: skip
        central += struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 3, 20, 0, 0, method, 0, 0x21, crc, len(data),
                               size, len(raw_name), 0, 0, 0, 0, 0o644 << 16, offset) + raw_name  # fmt: skip
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), len(body), 0)
    return bytes(body + central + end)


def zeros_stream(mib: int) -> bytes:
    """Deflate of ``mib`` MiB of zeros, streamed: after a full flush each MiB compresses to the same block."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return block * mib + compressor.flush()


def lying_bomb(mib: int = BOMB_MIB) -> bytes:
    declared = 100
    return zip_with([
        ("lambda_function.py", zipfile.ZIP_STORED, SOURCE, len(SOURCE), zlib.crc32(SOURCE)),
        ("weights.bin", zipfile.ZIP_DEFLATED, zeros_stream(mib), declared, zlib.crc32(bytes(declared))),
    ])  # fmt: skip


def vm_hwm_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) << 10
    raise AssertionError("no VmHWM")


def test_the_probe_lies_as_reported() -> None:
    data = lying_bomb()
    assert 1_000_000 < len(data) < 1_300_000
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo("weights.bin")
    assert (info.file_size, info.CRC) == (100, zlib.crc32(bytes(100)))
    one = zlib.decompressobj(-15)
    assert one.decompress(zeros_stream(1)) == bytes(1 << 20) and one.eof  # each block: 1 MiB, for real


def test_validate_refuses_the_bomb_by_its_real_size_in_bounded_memory() -> None:
    data = lying_bomb()
    tracemalloc.start()
    try:
        with pytest.raises(OpenRFTError) as info:
            validate_zip(data, HANDLER)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert aws_code(info.value) == (400, "InvalidParameterValueException")
    assert info.value.message == SIZE_ERROR
    assert peak < 4 << 20, f"validate_zip allocated {peak} bytes"  # measured: 0.5 MB


def test_create_function_refuses_the_bomb(live_server: LiveServer) -> None:
    lam = lambda_client(live_server)
    data = lying_bomb()
    before = vm_hwm_bytes()
    with pytest.raises(botocore.exceptions.ClientError) as info:
        lam.create_function(FunctionName="bomb", Runtime="python3.12", Role="arn:aws:iam::123456789012:role/any",
                            Handler=HANDLER, Code={"ZipFile": data})  # fmt: skip
    error = info.value.response["Error"]
    assert (error["Code"], info.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "InvalidParameterValueException",
        400,
    )
    assert error["Message"] == SIZE_ERROR
    assert vm_hwm_bytes() - before < 200 << 20  # the server (in this process) never held the inflated entry
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName="bomb")


UNPACK_PROBE = """
import json, resource, sys, tracemalloc
from pathlib import Path
from openrft.functions.sandbox import CodeBundle, unpack_bundle
data = Path(sys.argv[1]).read_bytes()
tracemalloc.start()
try:
    unpack_bundle(CodeBundle(key="bomb", zip_bytes=data), Path(sys.argv[2]))
    error = None
except ValueError as exc:
    error = str(exc)
# VmHWM, not ru_maxrss: the latter survives exec and so counts the forking parent (pytest, large by then).
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"error": error, "traced_peak": tracemalloc.get_traced_memory()[1], "self_kib": hwm,
                  "children_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def test_a_stored_bomb_is_refused_when_unpacked_outside_the_server(tmp_path: Path) -> None:
    """A zip stored before the check (or any lying one) reaching invoke: the unpacking child refuses it."""
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(lying_bomb())
    # A fresh process, so that its peak RSS and its children's are this unpack's alone.
    proc = subprocess.run([sys.executable, "-c", UNPACK_PROBE, str(bomb), str(tmp_path / "task")],
                          capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    out = json.loads(proc.stdout)
    assert out["error"] == SIZE_ERROR
    assert out["traced_peak"] < 4 << 20, out  # the server's side: the zip is piped, nothing inflated
    assert out["self_kib"] << 10 < 300 << 20, out  # 1.2 GB inflated would show in either
    assert out["children_kib"] << 10 < unzip.CHILD_DATA_BYTES, out


def test_first_invoke_of_a_stored_bomb_is_a_function_error(pool: SandboxPool) -> None:
    """The call the finding measured: now a clean error, the pool's process allocating nothing of it."""
    data = lying_bomb()
    tracemalloc.start()
    try:
        result = pool.invoke(CodeBundle(key="test/bomb", zip_bytes=data), entry="lambda_function.lambda_handler",
                             payload={}, limits=LIMITS, kind="lambda")  # fmt: skip
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert not result.ok and result.error is not None
    assert result.error["errorType"] == "Sandbox.PackageRefused"
    assert SIZE_ERROR in result.error["errorMessage"]
    assert peak < 4 << 20, peak
    assert pool.stats()["workers"] == 0 and not any(pool._root.iterdir())  # nothing left of the attempt


def test_an_honest_zip_unpacks_privately(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("lambda_function.py", SOURCE, compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr("pkg/", b"")
        zf.writestr("pkg/data.bin", bytes(range(256)) * 4096, compress_type=zipfile.ZIP_BZIP2)
        zf.writestr("pkg/empty.txt", b"")
    unpack_bundle(CodeBundle(key="ok", zip_bytes=buf.getvalue(), files={"extra.py": b"X = 1\n"}), tmp_path / "task")
    task = tmp_path / "task"
    assert (task / "lambda_function.py").read_bytes() == SOURCE
    assert (task / "pkg" / "data.bin").read_bytes() == bytes(range(256)) * 4096
    assert (task / "extra.py").read_bytes() == b"X = 1\n"
    for path in [task, *task.rglob("*")]:
        assert path.stat().st_mode & 0o777 == (0o700 if path.is_dir() else 0o600), path


SMALL = b"y" * 500


def deflated(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (("a.py", 8, deflated(SMALL), 100, zlib.crc32(SMALL[:100])), "holds 500 bytes"),  # a small liar
        (("a.py", 8, deflated(SMALL), 500, 1234), "CRC"),
        (("a.py", 8, deflated(SMALL)[:-4], 500, zlib.crc32(SMALL)), "truncated"),
        (("a.py", 14, b"\x00" * 20, 500, zlib.crc32(SMALL)), "compression method 14 is not supported"),
        (("../a.py", 0, SMALL, 500, zlib.crc32(SMALL)), "points outside the package"),
    ],
)
def test_other_lies_refused(entry: tuple[str, int, bytes, int, int], message: str, tmp_path: Path) -> None:
    data = zip_with([("lambda_function.py", 0, SOURCE, len(SOURCE), zlib.crc32(SOURCE)), entry])
    with pytest.raises(OpenRFTError) as info:
        validate_zip(data, HANDLER)
    assert aws_code(info.value) == (400, "InvalidParameterValueException") and message in info.value.message
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        unpack_bundle(CodeBundle(key="lie", zip_bytes=data), tmp_path / "task")


def test_a_zip_of_very_many_entries_is_refused_before_its_directory_is_parsed() -> None:
    """600,000 empty entries in a few MB would cost ~300 MB and tens of seconds inside zipfile.ZipFile()."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(HANDLER.split(".")[0] + ".py", b"def lambda_handler(event, context):\n    return 1\n")
        for i in range(65_000):  # under zip64's 65,535, so only the directory's size gives it away
            zf.writestr(f"pkg/{i:05d}/__init__.py", b"")
    tracemalloc.start()
    try:
        with pytest.raises(OpenRFTError) as info:
            validate_zip(buf.getvalue(), HANDLER)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert aws_code(info.value) == (400, "InvalidParameterValueException")
    assert "file list is larger than 4194304 bytes" in info.value.message
    assert peak < 16 << 20, f"validate_zip allocated {peak} bytes"  # the zip itself is ~7 MB, not parsed
