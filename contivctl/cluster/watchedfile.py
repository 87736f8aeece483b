"""What the nodes file and the services file share: parsing in a child process, and following the file.

Parsing YAML of thousands of entries takes the better part of a second and
holds the interpreter lock for long stretches even in a thread, so every
pod event would wait behind it. A running agent therefore parses in a
child process (``python -m <module> FILE``, which prints the checked
entries as JSON, or its problems with the exit status ``PROBLEMS``) and
only decodes the answer. The file has no change notification here: it is
looked at on a timer, and parsed again only when its inode, size or
modification time changed. A file that does not parse keeps the last good
content, logged: a half-saved edit must not make everything "leave".
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from contivctl.errors import ConfigError, ConfigProblem

log = logging.getLogger(__name__)

#: the child's exit status when the file has problems (printed as JSON on stdout)
PROBLEMS = 3


async def parse_apart(module: str, path: Path) -> Any:
    """The JSON ``python -m module path`` prints; its problems as a ConfigError."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        str(path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode == PROBLEMS:
        raise ConfigError([ConfigProblem(p["path"], p["message"]) for p in json.loads(out)])
    if proc.returncode != 0:
        problem = err.decode(errors="replace").strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        raise ConfigError([ConfigProblem(str(path), f"could not be parsed: {problem[0]}")])
    return json.loads(out)


def print_parsed(load: Callable[[Path], Any], path: str) -> int:
    """The child's side of ``parse_apart``: what ``load`` made of the file, or its problems, as JSON."""
    try:
        parsed = load(Path(path))
    except ConfigError as exc:
        print(json.dumps([{"path": p.path, "message": p.message} for p in exc.problems]))
        return PROBLEMS
    print(json.dumps(parsed))
    return 0


class WatchedFile(abc.ABC):
    """A file looked at every ``interval`` seconds; ``reload`` runs when it changed."""

    #: what the file is, for the log ("nodes file")
    what = "file"

    def __init__(self, path: Path, interval: float) -> None:
        self.path = path
        self._interval = interval
        self._stamp: tuple[int, int, int] | None = None
        self._task: asyncio.Task[None] | None = None

    @abc.abstractmethod
    async def reload(self) -> None:
        """Read the file again (it changed) and post the difference; a ConfigError keeps the last good."""

    def remember(self) -> None:
        """The file as it is now is the one read (called by whoever reads it)."""
        self._stamp = self._stat()

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._follow(), name=self.what.replace(" ", "-"))

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(self._interval)  # a timer source: the file has no change notification here
            if self._stat() == self._stamp:
                continue
            try:
                await self.reload()
            except ConfigError as exc:
                log.error("%s %s not applied, keeping the last good content: %s", self.what, self.path, exc)
