"""The progress display: one line per step, redrawn in place on a terminal, plain lines otherwise.

It writes to stderr, so ``-o json`` on stdout stays parseable; whether to
redraw is decided by whether stderr is a terminal.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import TextIO


class Progress:
    def __init__(self, out: TextIO, *, quiet: bool = False) -> None:
        self.out = out
        self.quiet = quiet
        self.tty = out.isatty()

    def note(self, text: str) -> None:
        if not self.quiet:
            self.out.write(f"  {text}\n")
            self.out.flush()

    @contextlib.contextmanager
    def step(self, text: str) -> Iterator[None]:
        start = time.monotonic()
        if not self.quiet:
            self.out.write(f"  … {text}" if self.tty else f"step: {text}\n")
            self.out.flush()
        try:
            yield
        except BaseException:
            self._end("✗" if self.tty else "failed:", text, start)
            raise
        self._end("✓" if self.tty else "done:", text, start)

    def _end(self, mark: str, text: str, start: float) -> None:
        if self.quiet:
            return
        line = f"{mark} {text} ({time.monotonic() - start:.1f}s)"
        self.out.write(f"\r\x1b[2K  {line}\n" if self.tty else f"{line}\n")
        self.out.flush()
