"""What a runtime watching its CNI directories would see: the kernel's inotify events, through libc.

A runtime (containerd) reloads its network configuration on inotify events
of the conf dir, so "atomic" means: the final name of a file only ever
appears by a rename, and whatever is created under another name is a name
the runtime does not read.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct
from pathlib import Path

import attrs

IN_MODIFY = 0x002
IN_CLOSE_WRITE = 0x008
IN_MOVED_FROM = 0x040
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_NONBLOCK = 0o4000
_ALL = IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
_HEADER = struct.Struct("iIII")

NAMES = {
    IN_MODIFY: "modify",
    IN_CLOSE_WRITE: "close_write",
    IN_MOVED_FROM: "moved_from",
    IN_MOVED_TO: "moved_to",
    IN_CREATE: "create",
    IN_DELETE: "delete",
}


@attrs.frozen
class Event:
    directory: Path
    name: str
    kinds: frozenset[str]


class Watch:
    def __init__(self, *dirs: Path) -> None:
        self._libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self._fd = self._libc.inotify_init1(IN_NONBLOCK)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self._dirs: dict[int, Path] = {}
        for d in dirs:
            wd = self._libc.inotify_add_watch(self._fd, str(d).encode(), _ALL)
            if wd < 0:
                raise OSError(ctypes.get_errno(), f"inotify_add_watch {d}")
            self._dirs[wd] = d

    def events(self) -> list[Event]:
        """Everything queued so far (the operations watched have returned: nothing is in flight)."""
        out: list[Event] = []
        while True:
            try:
                buf = os.read(self._fd, 65536)
            except BlockingIOError:
                return out
            pos = 0
            while pos < len(buf):
                wd, mask, _cookie, size = _HEADER.unpack_from(buf, pos)
                raw = buf[pos + _HEADER.size : pos + _HEADER.size + size]
                pos += _HEADER.size + size
                kinds = frozenset(n for bit, n in NAMES.items() if mask & bit)
                if kinds:
                    out.append(Event(self._dirs[wd], raw.rstrip(b"\0").decode(), kinds))

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
