"""The DEL queue: the DELs contiv-cni wrote to disk while the agent could not take them, done by the agent.

When a DEL cannot reach the agent (its socket is missing or refuses, it
answers UNAVAILABLE while starting, or the plugin's deadline passes), the
plugin writes the request to this directory and tells the runtime it
succeeded, so the runtime can let go of the sandbox (cni-plugin/delqueue.go,
docs/cni.md). The agent does those DELs here: once at start, after the
startup resync and before the CNI server serves anything, and every few
seconds after, for a DEL queued in the moment between the first drain and
serving or while the agent was briefly out of reach.

One file per attachment, ``<sha256 of container ID, NUL, ifname>.json``,
written atomically by the plugin (so never read half-written): a JSON object
with the call's ``cniVersion``, ``containerId``, ``ifname``, ``netns``,
``cniArgs``, ``netconf`` and ``queuedAt``. A file is removed only after its
DEL succeeded; DEL is idempotent, so a crash between the two repeats a DEL
and harms nothing. A DEL that fails stays for the next drain. A file that
is not a queued DEL is renamed aside to ``bad-<name>`` with a warning: never
retried, never fatal. Names starting with ``.`` are the plugin's temporary
files; one left by a plugin that died while writing is removed once it is
old.

A source in the design's sense: it only submits DeletePod events through
the one callable it is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import json
import logging
import os
import stat
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from contivctl.errors import ContivError
from contivctl.events import DeletePod, Submit
from contivctl.model import AttachmentKey

log = logging.getLogger(__name__)

#: the layout of a queued file this agent reads (the plugin's ``queueFormat``)
FORMAT = 1
#: what a file that is not a queued DEL is renamed to: ``bad-<name>``
BAD_PREFIX = "bad-"
#: the plugin's temporary files start so; the agent reads none of them
TEMP_PREFIX = "."
#: seconds after which a temporary file is one a plugin left when it died (writing one takes milliseconds)
STALE_TEMP_SECONDS = 600.0
#: a queued file is the plugin's netconf (at most 1 MiB) and a few fields: anything larger is not one
MAX_FILE = 2 << 20
#: DELs in flight at once during a drain (the controller takes pod events 16 to a transaction)
CONCURRENCY = 64
#: seconds between drains after the first
INTERVAL = 10.0

#: what the agent learns of each queued file: ``ok`` (done, removed), ``failed`` (kept), ``bad`` (set aside)
Observer = Callable[[str], None]


def file_name(container_id: str, ifname: str) -> str:
    """The file of one attachment's queued DEL, as the plugin names it."""
    return hashlib.sha256(f"{container_id}\0{ifname}".encode()).hexdigest() + ".json"


class NotQueuedDelete(ValueError):
    """A file of the queue that is not a queued DEL; the message says why."""


@attrs.frozen
class QueuedDelete:
    """One queued DEL, as the plugin wrote it."""

    container_id: str
    ifname: str
    netns: str
    cni_version: str
    cni_args: str
    netconf: dict[str, Any] = attrs.field(eq=False, repr=False)
    #: when the plugin queued it (RFC 3339), as it wrote it
    queued_at: str

    @property
    def key(self) -> AttachmentKey:
        return AttachmentKey(self.container_id, self.ifname)

    def event(self) -> DeletePod:
        return DeletePod(container_id=self.container_id, ifname=self.ifname, netns=self.netns)

    def age(self, now: float) -> float | None:
        """Seconds since it was queued; None when ``queued_at`` cannot be read."""
        try:
            return now - datetime.fromisoformat(self.queued_at).timestamp()
        except ValueError:
            return None


def _text(data: dict[str, Any], key: str, *, required: bool = False) -> str:
    value = data.get(key)
    if not isinstance(value, str) or (required and not value):
        raise NotQueuedDelete(f"{key} is {'missing, empty or ' if required else ''}not a string")
    return value


def parse(data: bytes) -> QueuedDelete:
    """A queued file's content; raises NotQueuedDelete naming what is wrong."""
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise NotQueuedDelete(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise NotQueuedDelete("not a JSON object")
    if obj.get("format") != FORMAT:
        raise NotQueuedDelete(f"format {obj.get('format')!r}, this agent reads {FORMAT}")
    netconf = obj.get("netconf")
    if not isinstance(netconf, dict):
        raise NotQueuedDelete("netconf is not a JSON object")
    return QueuedDelete(
        container_id=_text(obj, "containerId", required=True),
        ifname=_text(obj, "ifname", required=True),
        netns=_text(obj, "netns"),
        cni_version=_text(obj, "cniVersion"),
        cni_args=_text(obj, "cniArgs"),
        netconf=netconf,
        queued_at=_text(obj, "queuedAt"),
    )


@attrs.frozen
class Drained:
    """What one drain did: attachments whose DEL was done, those whose DEL failed, files set aside or unread."""

    done: tuple[AttachmentKey, ...] = ()
    failed: tuple[AttachmentKey, ...] = ()
    #: files that are not queued DELs, renamed to bad-<name>
    set_aside: tuple[str, ...] = ()
    #: files that could not be read now (kept for the next drain)
    unread: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.done or self.failed or self.set_aside or self.unread)

    def __add__(self, other: Drained) -> Drained:
        return Drained(
            self.done + other.done,
            self.failed + other.failed,
            self.set_aside + other.set_aside,
            self.unread + other.unread,
        )


@attrs.frozen
class _Read:
    name: str
    inode: int
    queued: QueuedDelete


class DeleteQueue:
    """The queue directory of this agent's plugin; ``submit`` hands a DeletePod to the controller."""

    def __init__(self, directory: str | os.PathLike[str], submit: Submit, *, observe: Observer | None = None) -> None:
        self.directory = Path(directory)
        self._submit = submit
        self._observe = observe
        #: one drain or settle at a time: a file is read, its DEL done and the file removed as one step
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        #: the last reason the directory could not be read (said once, not every drain)
        self._unreadable: str | None = None

    # -- the directory ----------------------------------------------------------

    def pending(self) -> list[str]:
        """The names of the queued files, oldest first (what a drain would read)."""
        try:
            entries = list(os.scandir(self.directory))
        except FileNotFoundError:
            return []  # nothing was ever queued
        except OSError as exc:
            problem = exc.strerror or str(exc)
            if problem != self._unreadable:
                log.warning("DEL queue %s cannot be read: %s; queued DELs wait until it can", self.directory, problem)
            self._unreadable = problem
            return []
        self._unreadable = None
        names: list[tuple[float, str]] = []
        now = time.time()
        for entry in entries:
            if entry.name.startswith(BAD_PREFIX):
                continue
            if entry.name.startswith(TEMP_PREFIX):
                self._remove_stale_temp(entry, now)
                continue
            try:
                mtime = entry.stat(follow_symlinks=False).st_mtime
            except OSError:
                continue  # gone meanwhile
            names.append((mtime, entry.name))
        return [name for _, name in sorted(names)]

    def _remove_stale_temp(self, entry: os.DirEntry[str], now: float) -> None:
        with contextlib.suppress(OSError):
            if now - entry.stat(follow_symlinks=False).st_mtime > STALE_TEMP_SECONDS:
                os.unlink(entry.path)
                log.info("DEL queue: removed %s, left by a plugin that stopped while writing it", entry.path)

    def _load(self, name: str) -> _Read | None:
        """A queued file; None when it is gone meanwhile.

        NotQueuedDelete when it is not a queued DEL; OSError when it cannot be
        read now (out of file descriptors, an I/O error): kept for the next drain.
        """
        path = self.directory / name
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise NotQueuedDelete("a symbolic link") from None
            raise
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise NotQueuedDelete("not a regular file")
            if st.st_size > MAX_FILE:
                raise NotQueuedDelete(f"{st.st_size} bytes, more than a queued DEL has")
            with os.fdopen(os.dup(fd), "rb") as f:
                data = f.read(MAX_FILE + 1)
        finally:
            os.close(fd)
        return _Read(name, st.st_ino, parse(data))

    def _unreadable_now(self, name: str, exc: OSError) -> None:
        log.warning("DEL queue: %s cannot be read now, kept for the next drain: %s", name, exc.strerror or exc)
        if self._observe is not None:
            self._observe("failed")

    def _set_aside(self, name: str, reason: str) -> None:
        aside = BAD_PREFIX + name
        try:
            os.replace(self.directory / name, self.directory / aside)
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("DEL queue: %s is not a queued DEL (%s) and cannot be set aside: %s", name, reason, exc)
        else:
            log.warning("DEL queue: %s is not a queued DEL (%s); set aside as %s", name, reason, aside)
        if self._observe is not None:
            self._observe("bad")

    def _remove(self, read: _Read) -> None:
        """The file of a done DEL, unless the plugin has replaced it since (that one is done next time)."""
        path = self.directory / read.name
        try:
            if os.lstat(path).st_ino == read.inode:
                os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:  # the DEL is done; the next drain repeats it, which is harmless
            log.warning("DEL queue: %s is done but cannot be removed: %s", path, exc.strerror or exc)

    # -- the DELs ---------------------------------------------------------------

    async def _delete(self, read: _Read) -> bool:
        queued = read.queued
        started = time.time()
        try:
            await self._submit(queued.event())
        except Exception as exc:  # any failure of the DEL: the file stays for the next drain
            log.warning("queued DEL of %s failed, kept for the next drain: %s", queued.key, exc)
            if self._observe is not None:
                self._observe("failed")
            return False
        self._remove(read)
        age = queued.age(started)
        log.info(
            "queued DEL of %s done (network namespace %s; queued at %s%s)",
            queued.key,
            queued.netns or "-",
            queued.queued_at or "an unknown time",
            "" if age is None else f", {age:.1f}s earlier",
        )
        if self._observe is not None:
            self._observe("ok")
        return True

    async def drain(self) -> Drained:
        """Do every queued DEL once: a file goes when its DEL succeeded, stays when it failed."""
        async with self._lock:
            names = self.pending()
            total = Drained()
            for start in range(0, len(names), CONCURRENCY):
                reads: list[_Read] = []
                bad: list[str] = []
                unread: list[str] = []
                for name in names[start : start + CONCURRENCY]:
                    try:
                        read = self._load(name)
                    except NotQueuedDelete as exc:
                        self._set_aside(name, str(exc))
                        bad.append(name)
                        continue
                    except OSError as exc:
                        self._unreadable_now(name, exc)
                        unread.append(name)
                        continue
                    if read is not None:
                        reads.append(read)
                results = await asyncio.gather(*(self._delete(r) for r in reads))
                total += Drained(
                    done=tuple(r.queued.key for r, ok in zip(reads, results, strict=True) if ok),
                    failed=tuple(r.queued.key for r, ok in zip(reads, results, strict=True) if not ok),
                    set_aside=tuple(bad),
                    unread=tuple(unread),
                )
            return total

    async def settle(self, container_id: str, ifname: str) -> None:
        """Before an ADD of this attachment: its DEL, if one is queued, is done first (or its error raised).

        The runtime was told that DEL succeeded, so it may ADD the same
        attachment again; the queued DEL must not remove that new one later.
        """
        name = file_name(container_id, ifname)
        if not os.path.lexists(self.directory / name):
            return  # the usual case: one stat per ADD
        async with self._lock:
            try:
                read = self._load(name)
            except NotQueuedDelete as exc:
                self._set_aside(name, str(exc))
                return
            except OSError as exc:  # the ADD must not go first: it fails, and the runtime tries again
                self._unreadable_now(name, exc)
                raise ContivError(f"the queued DEL of {container_id}/{ifname} cannot be read now: {exc}") from None
            if read is None:
                return
            log.info("ADD of %s: its queued DEL goes first", read.queued.key)
            try:
                await self._submit(read.queued.event())
            except Exception:
                if self._observe is not None:
                    self._observe("failed")
                raise
            self._remove(read)
            if self._observe is not None:
                self._observe("ok")

    # -- periodic drains ---------------------------------------------------------

    def start(self, interval: float = INTERVAL) -> None:
        """Drain every ``interval`` seconds from now on (the first drain is the caller's)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._every(interval), name="DEL queue")

    async def _every(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.drain()
            except Exception:  # a drain's bug must not end the drains
                log.exception("DEL queue: a drain of %s failed", self.directory)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
