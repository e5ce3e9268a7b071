"""A function's zip read by what it really holds: sizes measured by inflating, never taken from its headers.

A zip's central directory and local headers can lie: an entry declared as 100 bytes (with the CRC of
those 100 bytes) may carry a deflate stream of 1.2 GB, and ``zipfile``'s ``read()`` inflates the whole
stream in one call before cutting it to the declared size. Here every entry is inflated in chunks of
``CHUNK`` bytes, counted, and refused as soon as the package passes ``MAX_UNZIPPED_BYTES``; an entry
whose real size or CRC differs from its headers is refused as corrupt. Memory stays at a few chunks
whatever the zip says.

Standard library only, for two callers: ``package.validate_zip`` checks an upload in the API process
(streamed, nothing written), and ``sandbox.unpack_bundle`` runs this file as a script in a child
process (``python -I -B unzip.py CAP < code.zip``, the folder in ``$OPENRFT_UNZIP_DEST``) so that
unpacking never happens in the server's memory; the child caps its own memory, file size and CPU
time first. Supported methods: stored, deflate,
bzip2 (``zipfile``'s LZMA reader cannot bound its output, so LZMA entries are refused).
"""

from __future__ import annotations

import bz2
import io
import json
import os
import resource
import struct
import sys
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

MAX_UNZIPPED_BYTES = 262_144_000  # AWS: 250 MB unzipped
CHUNK = 1 << 16  # bytes of output per decompress call, and of input per read
LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # PK\3\4 ... name length, extra length
END_RECORD = struct.Struct("<4s4H2LH")  # PK\5\6, disks, entries here, entries total, directory size, offset
END_RECORD_SIGNATURE = b"PK\x05\x06"
MAX_DIRECTORY_BYTES = 4 << 20  # the central directory: ~40,000 entries with typical names
REFUSED_EXIT = 3  # the child's exit status when the zip is refused (message as JSON on stdout)
CHILD_DATA_BYTES = 256 << 20  # the unpacking child's heap: the zip itself (<= 50 MB) and a few chunks
CHILD_CPU_S = 60
DEST_ENV = "OPENRFT_UNZIP_DEST"  # where the child unpacks: not in its argv, which every local user can read


class Refused(ValueError):
    """The zip cannot be used. ``kind``: "size" (over the cap), "corrupt" or "path" (escapes its root)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def size_refusal(cap: int) -> Refused:
    return Refused("size", f"Unzipped size must be smaller than {cap} bytes")


def check_directory(data: bytes) -> None:
    """Refuse a central directory over MAX_DIRECTORY_BYTES before ``zipfile`` parses it.

    ``zipfile`` reads the whole directory (the size in the end record) into ZipInfo objects: a 50 MB
    zip of 600,000 empty entries costs about 300 MB and tens of seconds there. Zip64 directories
    (over 65,535 entries or 4 GB) are beyond the bound anyway.
    """
    at = data.rfind(END_RECORD_SIGNATURE, max(0, len(data) - END_RECORD.size - 0xFFFF))
    if at < 0 or at + END_RECORD.size > len(data):
        return  # no end record: zipfile reports the zip as corrupt
    fields = END_RECORD.unpack_from(data, at)
    entries_total, directory_bytes = fields[4], fields[5]
    if entries_total == 0xFFFF or directory_bytes > MAX_DIRECTORY_BYTES:
        raise Refused(
            "size",
            f"the zip's file list is larger than {MAX_DIRECTORY_BYTES} bytes (about 40,000 files); package fewer files",
        )


def open_zip(data: bytes) -> zipfile.ZipFile:
    check_directory(data)
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise Refused("corrupt", str(exc)) from exc


def safe_parts(name: str) -> tuple[str, ...]:
    """The path components of an entry name; refuses names that are absolute or climb out with ``..``."""
    parts = tuple(p for p in name.replace("\\", "/").split("/") if p not in ("", "."))
    if name.startswith(("/", "\\")) or ".." in parts or "\0" in name or not parts:
        raise Refused("path", f"Zip entry {name!r} points outside the package")
    return tuple(p for p in name.split("/") if p not in ("", "."))


def entries(zf: zipfile.ZipFile, cap: int = MAX_UNZIPPED_BYTES) -> Iterator[tuple[zipfile.ZipInfo, Iterator[bytes]]]:
    """Each entry with a stream of its real bytes; raises ``Refused`` once the package's total passes ``cap``.

    A caller must consume (or drop) each stream before taking the next entry.
    """
    infos = zf.infolist()
    if sum(info.file_size for info in infos) > cap:  # an honest oversized zip is refused before inflating
        raise size_refusal(cap)
    total = [0]
    for info in infos:
        yield info, _checked(zf, info, total, cap)


def _checked(zf: zipfile.ZipFile, info: zipfile.ZipInfo, total: list[int], cap: int) -> Iterator[bytes]:
    size = crc = 0
    for chunk in _inflate(info, _raw(zf, info)):
        size += len(chunk)
        total[0] += len(chunk)
        if total[0] > cap:
            raise size_refusal(cap)
        crc = zlib.crc32(chunk, crc)
        yield chunk
    if size != info.file_size or crc != info.CRC:
        raise Refused(
            "corrupt",
            f"entry {info.filename!r} holds {size} bytes (CRC {crc:08x}) but its header declares "
            f"{info.file_size} bytes (CRC {info.CRC:08x})",
        )


def _raw(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The entry's compressed bytes, read from its local header on, ``CHUNK`` at a time."""
    fp = zf.fp
    assert fp is not None
    fp.seek(info.header_offset)
    header = fp.read(LOCAL_HEADER.size)
    if len(header) != LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
        raise Refused("corrupt", f"entry {info.filename!r} has no local header")
    fields = LOCAL_HEADER.unpack(header)
    flags, method, name_len, extra_len = fields[3], fields[4], fields[10], fields[11]
    if flags & 0x1:
        raise Refused("corrupt", f"entry {info.filename!r} is encrypted")
    if method != info.compress_type:
        raise Refused("corrupt", f"entry {info.filename!r}: local and central headers disagree on the method")
    fp.seek(info.header_offset + LOCAL_HEADER.size + name_len + extra_len)
    left = info.compress_size
    while left > 0:
        chunk = fp.read(min(CHUNK, left))
        if not chunk:
            return  # truncated: the decompressor or the size check notices
        left -= len(chunk)
        yield chunk


def _inflate(info: zipfile.ZipInfo, raw: Iterator[bytes]) -> Iterator[bytes]:
    """Decompress ``raw`` with output bounded to ``CHUNK`` per call (never what the stream would expand to)."""
    if info.compress_type == zipfile.ZIP_STORED:
        yield from raw
        return
    decomp: zlib._Decompress | bz2.BZ2Decompressor
    if info.compress_type == zipfile.ZIP_DEFLATED:
        decomp = zlib.decompressobj(-15)
    elif info.compress_type == zipfile.ZIP_BZIP2:
        decomp = bz2.BZ2Decompressor()
    else:
        raise Refused("corrupt", f"entry {info.filename!r}: compression method {info.compress_type} is not "
                                 "supported (use deflate)")  # fmt: skip
    fed = False
    for chunk in raw:
        fed, pending = True, chunk
        while not decomp.eof:
            out = decomp.decompress(pending, CHUNK)
            if out:
                yield out
            if isinstance(decomp, bz2.BZ2Decompressor):
                pending = b""
                drained = decomp.needs_input
            else:
                pending = decomp.unconsumed_tail
                drained = not pending and len(out) < CHUNK
            if drained:
                break
        if decomp.eof:
            return
    if fed or info.file_size:  # an empty entry may carry no stream at all
        raise Refused("corrupt", f"entry {info.filename!r}: the compressed stream is truncated")


def check_zip(data: bytes, cap: int = MAX_UNZIPPED_BYTES) -> list[str]:
    """Inflate every entry (nothing kept) and return the entry names; raises ``Refused``."""
    with open_zip(data) as zf:
        names = []
        for info, stream in entries(zf, cap):
            safe_parts(info.filename)
            for _ in stream:
                pass
            names.append(info.filename)
        return names


def unpack_zip(data: bytes, dest: Path, cap: int = MAX_UNZIPPED_BYTES) -> None:
    """Write the zip's files under the (existing, empty) ``dest``: folders 0700, files 0600."""
    with open_zip(data) as zf:
        for info, stream in entries(zf, cap):
            parts = safe_parts(info.filename)
            path = dest.joinpath(*parts)
            if info.is_dir():
                for _ in stream:  # a folder entry that carries data is a lie the stream check reports
                    pass
                path.mkdir(mode=0o700, parents=True, exist_ok=True)
                continue
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            with open(fd, "wb") as out:
                for chunk in stream:
                    out.write(chunk)


def main(argv: list[str]) -> int:
    """``unzip.py [CAP]``: unpack the zip on stdin under ``$OPENRFT_UNZIP_DEST``, within its own limits."""
    os.umask(0o077)
    cap = int(argv[1]) if len(argv) > 1 else MAX_UNZIPPED_BYTES
    for which, value in ((resource.RLIMIT_DATA, CHILD_DATA_BYTES), (resource.RLIMIT_CPU, CHILD_CPU_S),
                         (resource.RLIMIT_FSIZE, cap + 1), (resource.RLIMIT_CORE, 0)):  # fmt: skip
        resource.setrlimit(which, (value, value))
    data = sys.stdin.buffer.read()
    try:
        unpack_zip(data, Path(os.environ[DEST_ENV]), cap)
    except Refused as exc:
        print(json.dumps({"kind": exc.kind, "message": str(exc)}))
        return REFUSED_EXIT
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
