"""Wire shapes of the Files API, field for field as `openai.types.FileObject` and friends."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, Field

Purpose = Literal["fine-tune", "evals"]  # the purposes openrft accepts; each is validated on upload
PURPOSES: tuple[str, ...] = get_args(Purpose)


class FileCreate(BaseModel):
    """The multipart form of `POST /v1/files` (openai.types.FileCreateParams); upload.py parses it as it streams."""

    file: bytes = Field(
        description="The JSONL file: one fine-tuning example per line (fine-tune), or one eval row per line "
        '(evals: {"item": {...}, "sample": {...}?} or the item itself).'
    )
    purpose: Purpose = Field(description="What the file is for; openrft takes fine-tune and evals files.")


class FileObject(BaseModel):
    id: str
    object: Literal["file"] = "file"
    bytes: int
    created_at: int
    filename: str
    purpose: str
    status: Literal["uploaded", "processed", "error"]
    expires_at: int | None = None
    status_details: str | None = None


class FileList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FileObject]
    has_more: bool
    first_id: str | None
    last_id: str | None


class FileDeleted(BaseModel):
    id: str
    object: Literal["file"] = "file"
    deleted: bool = True
