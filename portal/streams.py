"""A read-only byte stream that reports what passes through it (for hashing and progress)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import BinaryIO


class ReadTap(io.RawIOBase):
    """Wraps a binary stream; every chunk read goes to ``observer`` and counts in ``bytes_read``.

    It reads as a plain non-seekable stream, so text wrappers and CSV readers can sit on top.
    """

    def __init__(self, raw: BinaryIO, observer: Callable[[bytes], object] | None = None) -> None:
        super().__init__()
        self._raw = raw
        self._observer = observer
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._raw.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        self.bytes_read += size
        if self._observer is not None and size:
            self._observer(data)
        return size

    def close(self) -> None:
        # The wrapped stream belongs to the caller.
        super().close()
