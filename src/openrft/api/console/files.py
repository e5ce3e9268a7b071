"""Console pages: the project's files and the rows of one file.

- `/files`: id, filename, purpose, size, created (newest first, paged by the API's `after` cursor).
- `/files/{file_id}?start=N`: the file's rows from line N+1, a page at a time, each JSONL row
  pretty-printed (long ones collapsed); a line that is not JSON is shown as it is, with its line number
  and why it did not parse (files are validated at upload, so that is rare: a blank line, say).

Reads go through the files service with the signed-in principal (another project's file: 404).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from openrft.api.console.pages import ConsoleRoute, render, signed_in
from openrft.api.deps import get_ctx
from openrft.api.files import service
from openrft.auth.sessions import Session
from openrft.context import AppContext

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

LIST_PAGE = 50
ROWS_PAGE = 20
MAX_ROWS_PAGE = 200
COLLAPSE_LINES = 24  # a pretty-printed row longer than this starts collapsed
COLLAPSE_CHARS = 2400
MAX_SHOWN_CHARS = 100_000  # a single enormous line is cut here on the page


@dataclass(frozen=True)
class FileRow:
    line: int  # 1-based line number in the file
    text: str  # pretty-printed JSON, or the raw line
    is_json: bool
    problem: str | None  # why the line is not JSON
    preview: str  # one line, for a collapsed row's summary
    collapsed: bool
    cut: bool  # the line was longer than MAX_SHOWN_CHARS


def size_label(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def parse_row(line: int, raw: bytes) -> FileRow:
    text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
    cut = len(text) > MAX_SHOWN_CHARS
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:  # its own line/column would count within this one line: say the character
        problem = "a blank line" if not text.strip() else f"not JSON ({exc.msg} at character {exc.pos + 1})"
        shown = text[:MAX_SHOWN_CHARS]
        return FileRow(line, shown, False, problem, shown[:160], len(shown) > COLLAPSE_CHARS, cut)
    pretty = json.dumps(value, indent=2, ensure_ascii=False)
    compact = json.dumps(value, ensure_ascii=False)
    long = pretty.count("\n") >= COLLAPSE_LINES or len(pretty) > COLLAPSE_CHARS
    preview = compact if len(compact) <= 160 else compact[:159] + "\u2026"
    return FileRow(line, pretty[:MAX_SHOWN_CHARS], True, None, preview, long, len(pretty) > MAX_SHOWN_CHARS)


def read_rows(path: Any, start: int, count: int) -> tuple[list[FileRow], int]:
    """Lines start+1 .. start+count of the file, and how many lines it has."""
    rows: list[FileRow] = []
    total = 0
    with open(path, "rb") as handle:
        for index, raw in enumerate(handle):
            total = index + 1
            if start <= index < start + count:
                rows.append(parse_row(index + 1, raw))
    return rows, total


@router.get("/files", response_class=HTMLResponse)
def files_page(
    request: Request,
    after: str | None = None,
    purpose: str | None = None,
    session: Session = Depends(signed_in),
    ctx: AppContext = Depends(get_ctx),
) -> HTMLResponse:
    listed = service.list_files(ctx, session.principal, purpose=purpose or None, after=after, limit=LIST_PAGE,
                                order="desc")  # fmt: skip
    return render(
        request,
        "files.html",
        session,
        title="Files",
        files=listed.data,
        purpose=purpose or "",
        next_after=listed.last_id if listed.has_more else None,
        first_page=after is None,
        size_label=size_label,
    )


@router.get("/files/{file_id}", response_class=HTMLResponse)
def file_page(
    request: Request,
    file_id: str,
    start: int = Query(default=0, ge=0),
    line: int | None = Query(default=None, ge=1),  # the "from line" box: 1-based
    n: int = Query(default=ROWS_PAGE, ge=1, le=MAX_ROWS_PAGE),
    session: Session = Depends(signed_in),
    ctx: AppContext = Depends(get_ctx),
) -> HTMLResponse:
    file = service.get_file(ctx, session.principal, file_id)
    start = line - 1 if line is not None else start
    path, _ = service.content_path(ctx, session.principal, file_id)
    rows, total = read_rows(path, start, n)
    return render(
        request,
        "files_detail.html",
        session,
        title=file.filename,
        file=file,
        rows=rows,
        total=total,
        start=start,
        n=n,
        prev_start=max(0, start - n) if start > 0 else None,
        next_start=start + n if start + n < total else None,
        last_start=max(0, ((total - 1) // n) * n) if total else 0,
        size_label=size_label,
    )
