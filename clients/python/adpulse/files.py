"""Cutting CSV and NDJSON files (optionally gzip-compressed) into batches at row boundaries.

Each batch's id is derived from its content, so sending the same file again replays the same
batch ids with the same content, which the service acknowledges as duplicates.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

TextFormat = Literal["csv", "ndjson"]
DEFAULT_BATCH_BYTES = 4 * 1024 * 1024
# The service's readers refuse longer lines (ADPULSE_MAX_LINE_BYTES); cutting stops at one
# too, so an endless line costs this much memory, not the whole file.
DEFAULT_MAX_LINE_BYTES = 1024 * 1024
_READ_BYTES = 1024 * 1024
_FORCE_BYTES = 32 * 1024 * 1024


class LineTooLong(ValueError):
    """A line of the file is longer than the cap: the file cannot be cut into rows."""

    def __init__(self, line: int, max_bytes: int) -> None:
        super().__init__(f"line {line} is longer than {max_bytes} bytes")
        self.line = line
        self.max_bytes = max_bytes


@dataclass(frozen=True)
class FileBatch:
    """A batch cut from a file; `first_line` is the file line of its first row."""

    batch_id: str
    fmt: TextFormat
    data: bytes
    first_line: int

    def file_line(self, payload_line: int) -> int:
        """The file line of a line of this batch's payload (a CSV payload starts with the header)."""
        return self.first_line + payload_line - (2 if self.fmt == "csv" else 1)


def format_of(path: Path) -> TextFormat:
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    if suffixes and suffixes[-1] in {".ndjson", ".jsonl"}:
        return "ndjson"
    return "csv"


def _open(path: Path) -> BinaryIO:
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _split_point(buf: bytes, fmt: TextFormat, force: bool) -> int:
    """End (exclusive) of the last complete row in `buf`; 0 if there is none yet.

    In CSV a newline inside quotes is part of a field: a line end only ends a row when the
    quotes before it are balanced (RFC 4180 escapes a quote by doubling it, keeping parity).
    """
    pos = buf.rfind(b"\n")
    if fmt == "ndjson" or force:
        return pos + 1
    while pos >= 0:
        if buf.count(b'"', 0, pos) % 2 == 0:
            return pos + 1
        pos = buf.rfind(b"\n", 0, pos)
    return 0


def batches(
    path: Path, source: str, batch_bytes: int = DEFAULT_BATCH_BYTES, reading: bytes = b""
) -> Iterator[FileBatch]:
    with _open(path) as f:
        yield from split(f, format_of(path), source, batch_bytes, reading)


def split(
    f: BinaryIO,
    fmt: TextFormat,
    source: str,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
    reading: bytes = b"",
    *,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> Iterator[FileBatch]:
    """Cuts an open (decompressed) CSV or NDJSON stream into batches at row boundaries, each with
    an id derived from its bytes and from `reading` (how the stream reads them), so the same rows
    read another way are another batch rather than a replay. A line longer than
    `max_line_bytes` raises LineTooLong."""
    header = f.readline(max_line_bytes + 1) if fmt == "csv" else b""
    if len(header) > max_line_bytes:
        raise LineTooLong(1, max_line_bytes)
    if header and not header.endswith(b"\n"):
        header += b"\n"
    line = 2 if fmt == "csv" else 1
    buf = b""
    eof = False
    want = batch_bytes
    while True:
        while not eof and len(buf) < want:
            block = f.read(min(_READ_BYTES, batch_bytes))
            eof = not block
            buf += block
        if not buf:
            return
        # Unbalanced quotes must not make a batch grow without bound.
        cut = len(buf) if eof else _split_point(buf, fmt, force=len(buf) > max(4 * batch_bytes, _FORCE_BYTES))
        if cut == 0:
            if b"\n" not in buf and len(buf) > max_line_bytes:
                raise LineTooLong(line, max_line_bytes)
            want = len(buf) + batch_bytes  # no row ends in what was read: read further
            continue
        want = batch_bytes
        data, buf = buf[:cut], buf[cut:]
        if data.strip():
            payload = header + data
            digest = hashlib.sha256(reading + payload).hexdigest()[:32]
            yield FileBatch(f"{source}-{fmt}-{digest}", fmt, payload, line)
        line += data.count(b"\n")
