"""Files of jobs on the server's disk: what may be imported, uploads, and exports.

Every tenant has its own directory in each area, `imports/<tenant>/` and `exports/<tenant>/`,
made 0700, with files 0600: another tenant cannot even name a file of it, and nor can another
user of the machine read one. A client names a file to import by a path relative to its
tenant's import directory (an operator puts files there; `UploadFile` writes to its
`uploads/`). The path is checked before the disk is touched (no absolute path, no `..`), and
again after resolving symbolic links, so nothing outside that directory can be read. Errors
quote the client's own path, never a server directory.

What a tenant keeps of uploads and exports is bounded by its storage quota (the operator's
import files are not counted): an upload is stopped at the byte that would pass it, and an export
does not start, or go on to its next slice, once it is reached.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from adpulse.server.domain.errors import (
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    ResourceExhausted,
)

UPLOADS = "uploads"
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
_FILE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}")
QUOTA_SUBJECT = "storage_bytes_per_tenant"
# An upload re-reads the disk use after this many bytes, so concurrent uploads of a tenant see
# each other; between two reads it counts its own. The quota may be passed by this much per upload.
_RECOUNT_BYTES = 8 << 20


@dataclass(frozen=True)
class StorageQuota:
    """Bytes of uploads and exports each tenant may keep: a default, and some tenants' own."""

    default_bytes: int
    overrides: Mapping[str, int] = field(default_factory=dict)

    def of(self, tenant: str) -> int:
        return self.overrides.get(tenant, self.default_bytes)


class LocalFileArea:
    def __init__(self, import_dir: Path, export_dir: Path, quota: StorageQuota) -> None:
        self._imports = import_dir.resolve()
        self._exports = export_dir.resolve()
        self._quota = quota
        self._imports.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        self._exports.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)

    def import_root(self, tenant: str) -> Path:
        """The tenant's import directory (made private if new)."""
        return private_dir(self._imports / tenant)

    def open_import(self, tenant: str, path: str) -> BinaryIO:
        return self._resolve(tenant, path).open("rb")

    def import_size(self, tenant: str, path: str) -> int:
        return self._resolve(tenant, path).stat().st_size

    def remove_upload(self, tenant: str, path: str) -> None:
        if PurePosixPath(path).parts[:1] == (UPLOADS,):
            target = self._resolve(tenant, path)
            target.unlink(missing_ok=True)
            target.parent.rmdir()

    def save_upload(
        self, tenant: str, file_name: str, chunks: Iterable[bytes], max_bytes: int
    ) -> tuple[str, int, str]:
        """Stores an upload; (its path for ImportFile, size, sha256). A partial upload is removed."""
        if not _FILE_NAME.fullmatch(file_name):
            raise InvalidArgument(
                f"header.file_name {file_name!r} is not a plain file name",
                "INVALID_FILE_NAME",
                violations=[
                    FieldViolation(
                        "header.file_name",
                        "1 to 200 of A-Z a-z 0-9 . _ -, no directories",
                        "INVALID_FILE_NAME",
                    )
                ],
            )
        relative = PurePosixPath(UPLOADS, uuid.uuid4().hex, file_name)
        target = self.import_root(tenant).joinpath(*relative.parts)
        private_dir(target.parent.parent)
        target.parent.mkdir(mode=PRIVATE_DIR)
        digest, size = hashlib.sha256(), 0
        used, counted_at = self.used_bytes(tenant), 0
        try:
            with open_private(target) as out:
                for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise ResourceExhausted(
                            f"the upload is larger than the server's limit of {max_bytes} bytes",
                            "UPLOAD_TOO_LARGE",
                            violations=[
                                FieldViolation("data", f"more than {max_bytes} bytes", "UPLOAD_TOO_LARGE")
                            ],
                        )
                    if size - counted_at >= _RECOUNT_BYTES:
                        out.flush()
                        used, counted_at = self.used_bytes(tenant), size
                    self._require_room(tenant, used + size - counted_at)
                    digest.update(chunk)
                    out.write(chunk)
        except BaseException:
            target.unlink(missing_ok=True)
            target.parent.rmdir()
            raise
        return str(relative), size, digest.hexdigest()

    def used_bytes(self, tenant: str) -> int:
        """Bytes of the tenant's uploads and exports (finished or being written)."""
        roots = (self._imports / tenant / UPLOADS, self._exports / tenant)
        return sum(path.lstat().st_size for root in roots for path in _files(root))

    def require_room(self, tenant: str) -> None:
        self._require_room(tenant, self.used_bytes(tenant) + 1)

    def _require_room(self, tenant: str, used: int) -> None:
        quota = self._quota.of(tenant)
        if used > quota:
            raise QuotaExceeded(
                f"the tenant's uploads and exports would take more than its storage quota of {quota} "
                "bytes: delete finished export operations and imported uploads, or wait for them "
                "to expire",
                "STORAGE_QUOTA_EXCEEDED",
                metadata={"quota": QUOTA_SUBJECT, "limit_bytes": str(quota)},
            )

    def export_path(self, tenant: str, op_id: str, suffix: str) -> Path:
        return private_dir(self._exports / tenant) / f"{op_id}{suffix}"

    def count_files(self, tenant: str) -> dict[str, int]:
        """Files the tenant has, per area (`imports`, `exports`)."""
        return {area: sum(1 for _ in _files(root / tenant)) for area, root in self._areas()}

    def delete_files(self, tenant: str) -> dict[str, int]:
        """Removes everything in the tenant's areas (the empty directories stay); files
        removed, per area."""
        removed = {}
        for area, root in self._areas():
            found = list(_files(root / tenant))
            for path in found:
                path.unlink(missing_ok=True)
            for entry in list((root / tenant).iterdir()) if found else []:
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
            removed[area] = len(found)
        return removed

    def expire(self, tenant: str, before: dt.datetime) -> dict[str, int]:
        """Removes uploads and exports last written before `before`; files removed, per area.
        Files an operator put in the import directory are the operator's, and stay."""
        cutoff = before.timestamp()
        removed = {UPLOADS: 0, "exports": 0}
        for area, root in ((UPLOADS, self._imports / tenant / UPLOADS), ("exports", self._exports / tenant)):
            for path in list(_files(root)):
                if path.lstat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)
                    removed[area] += 1
                    if area == UPLOADS and path.parent != root and not any(path.parent.iterdir()):
                        path.parent.rmdir()  # an upload's own directory
        return removed

    def _areas(self) -> tuple[tuple[str, Path], ...]:
        return (("imports", self._imports), ("exports", self._exports))

    def _resolve(self, tenant: str, path: str) -> Path:
        relative = PurePosixPath(path)
        if not path or "\0" in path or relative.is_absolute() or ".." in relative.parts or "\\" in path:
            raise InvalidArgument(
                f"path {path!r} must be relative to the import directory, without '..'",
                "INVALID_PATH",
                violations=[
                    FieldViolation("path", "a relative path inside the import directory", "INVALID_PATH")
                ],
            )
        root = self.import_root(tenant)
        target = root.joinpath(*relative.parts).resolve()
        if not target.is_relative_to(root):
            raise PermissionDenied(
                f"path {path!r} leads outside the import directory",
                "PATH_OUTSIDE_IMPORTS",
                metadata={"path": path},
            )
        if not target.is_file():
            raise NotFound(
                f"no file {path!r} in the import directory", "FILE_NOT_FOUND", metadata={"path": path}
            )
        return target


def _files(root: Path) -> Iterator[Path]:
    """Every file (or link) under `root`, none if it does not exist; links are not followed."""
    if not root.is_dir():
        return
    for directory, _, names in os.walk(root):
        for name in names:
            yield Path(directory, name)


def private_dir(path: Path) -> Path:
    """`path`, a directory only its owner may enter (0700), made if missing."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(PRIVATE_DIR)
    return path


def open_private(path: Path) -> BinaryIO:
    """A new file only its owner may read (0600) from its first byte, whatever the umask."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE), "wb")


def write_private(path: Path, text: str) -> None:
    """Writes a file only its owner may read (0600), replacing any earlier one whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    try:
        with open_private(partial) as out:
            out.write(text.encode())
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
