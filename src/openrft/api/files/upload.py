"""Streaming multipart parsing for `POST /v1/files`.

The request body is fed chunk by chunk to python-multipart; the `file` part goes into a spooled
temporary file (memory up to a few MiB, then disk) and the byte count is checked as it arrives, so an
upload over `max_file_bytes` is refused as soon as it crosses the limit, without buffering it whole.
Form fields (`purpose`, ...) are small and kept as text.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from typing import IO

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header

from openrft.errors import InvalidRequest, PayloadTooLarge

SPOOL_MEMORY_BYTES = 4 * 1024 * 1024
MAX_FIELD_BYTES = 64 * 1024
MULTIPART_OVERHEAD_BYTES = 64 * 1024  # headers and boundaries around the file part


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"File is too large: the limit is {limit} bytes (OPENRFT_MAX_FILE_BYTES).", param="file")


@dataclass
class Upload:
    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None
    file: IO[bytes] | None = None  # positioned anywhere; readers seek(0)
    size: int = 0

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


@dataclass
class _Part:
    headers: dict[str, str] = field(default_factory=dict)
    header_field: bytes = b""
    header_value: bytes = b""
    name: str | None = None
    is_file: bool = False
    buffer: bytearray = field(default_factory=bytearray)


class _Collector:
    """python-multipart callbacks that fill an Upload and enforce the size limit."""

    def __init__(self, upload: Upload, max_file_bytes: int):
        self.upload = upload
        self.max_file_bytes = max_file_bytes
        self.part = _Part()

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
        }

    def on_part_begin(self) -> None:
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.part.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.part.header_value += data[start:end]

    def on_header_end(self) -> None:
        key = self.part.header_field.decode("latin-1").strip().lower()
        self.part.headers[key] = self.part.header_value.decode("utf-8", "replace").strip()
        self.part.header_field = self.part.header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.part.headers.get("content-disposition", ""))
        name = options.get(b"name")
        self.part.name = name.decode("utf-8", "replace") if name is not None else None
        filename = options.get(b"filename")
        if self.part.name == "file":
            if self.upload.file is not None:
                raise InvalidRequest("Send exactly one 'file' part.", param="file")
            self.part.is_file = True
            self.upload.filename = filename.decode("utf-8", "replace") if filename is not None else "upload"
            self.upload.file = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115 (closed by Upload.close)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.part.is_file:
            assert self.upload.file is not None
            self.upload.size += end - start
            if self.upload.size > self.max_file_bytes:
                raise too_large(self.max_file_bytes)
            self.upload.file.write(data[start:end])
        else:
            self.part.buffer += data[start:end]
            if len(self.part.buffer) > MAX_FIELD_BYTES:
                raise InvalidRequest(f"Form field {self.part.name!r} is too long.", param=self.part.name)

    def on_part_end(self) -> None:
        if not self.part.is_file and self.part.name is not None:
            self.upload.fields[self.part.name] = self.part.buffer.decode("utf-8", "replace")


async def read_upload(request: Request, *, max_file_bytes: int) -> Upload:
    """Parse a multipart/form-data body as it streams in; raises InvalidRequest / PayloadTooLarge."""
    content_type, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise InvalidRequest("Upload files as multipart/form-data with a 'file' and a 'purpose' field.")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_file_bytes + MULTIPART_OVERHEAD_BYTES:
        raise too_large(max_file_bytes)
    upload = Upload()
    collector = _Collector(upload, max_file_bytes)
    parser = MultipartParser(boundary, collector.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except (InvalidRequest, PayloadTooLarge):
        upload.close()
        raise
    except Exception as exc:  # python-multipart's parse errors
        upload.close()
        raise InvalidRequest(f"Malformed multipart body: {exc}") from None
    return upload
