"""Content-addressed storage of original files: streamed to disk while hashed, kept by SHA-256."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from portal.errors import PortalError, _l

CHUNK = 1 << 20


class TooLargeError(PortalError):
    code = "too_large"
    status = 413


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    path: Path


def blob_path(root: Path, sha256: str) -> Path:
    return root / sha256[:2] / sha256[2:4] / sha256


def store_stream(root: Path, stream: BinaryIO, *, max_bytes: int) -> StoredFile:
    """Copy ``stream`` into the store, hashing as it goes; the same bytes are kept once.

    Raises TooLargeError (nothing kept) when the stream passes ``max_bytes``.
    """
    root.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    handle, temp_name = tempfile.mkstemp(dir=root, prefix=".incoming-")
    try:
        with os.fdopen(handle, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise TooLargeError(_l("the file is larger than %(mb)s MB", mb=max_bytes // (1024 * 1024)))
                digest.update(chunk)
                out.write(chunk)
        sha256 = digest.hexdigest()
        target = blob_path(root, sha256)
        if target.exists():
            os.unlink(temp_name)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(temp_name, 0o440)
            os.replace(temp_name, target)
        return StoredFile(sha256=sha256, size=size, path=target)
    except BaseException:
        if os.path.exists(temp_name):
            os.unlink(temp_name)
        raise
