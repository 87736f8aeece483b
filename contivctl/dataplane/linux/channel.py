"""Netlink sockets per namespace, used from worker threads: where the Linux driver's requests go.

The kernel does a request's work inside ``send`` (creating a veth in
another namespace, or waiting out an RCU grace period after deleting
one, takes milliseconds). On the event loop that would stall every other
task, so each request — or a few that belong together, like creating a
veth and marking both its ends — runs as one *job* on a worker thread,
with blocking sockets and the GIL released while the kernel works.

A socket is bound to the namespace it was opened in: the worker enters the
namespace with ``setns(2)``, opens the socket and goes back. Sockets stay
open per thread and namespace, since opening one costs more than most
requests; a path that now names another namespace (a reused
``/proc/PID/ns/net``, a name deleted and added again) gets a new socket. A
missing namespace is an error, never a new empty namespace.
"""

from __future__ import annotations

import collections
import errno
import os
import socket
import struct
import threading
from collections.abc import Callable
from typing import TypeVar

from contivctl.dataplane.linux import nlmsg
from contivctl.dataplane.linux.netns import in_netns, netlink_socket, worker
from contivctl.dataplane.linux.worker import Worker
from contivctl.errors import LinkNotFound, LinuxError, NetlinkFailed, NetnsNotFound
from contivctl.items.linux import ns_label

T = TypeVar("T")

NLMSG_ERROR = 2
NLMSG_DONE = 3
_ERRNO = struct.Struct("=i")
#: the longest a request may keep the kernel busy (deleting hundreds of devices at once included)
REQUEST_TIMEOUT = 30.0
#: sockets kept open per thread; an open socket keeps a deleted namespace alive
OPEN_LIMIT = 128

#: Deleting retired links waits out the kernel's RCU grace period: a thread of
#: its own, so that pods being wired meanwhile do not wait behind it.
reaper_pool = Worker("contiv-reaper")


def _identity(netns: str) -> tuple[int, int]:
    """Which namespace a path names now (device and inode of its nsfs file)."""
    try:
        st = os.stat(netns or "/proc/self/ns/net")
    except FileNotFoundError:
        raise NetnsNotFound(f"network namespace {netns} does not exist") from None
    except OSError as exc:
        raise LinuxError(f"cannot open network namespace {netns}: {exc.strerror}") from None
    return st.st_dev, st.st_ino


class Channel:
    """One blocking netlink socket in one namespace; one request at a time, from one thread."""

    def __init__(self, netns: str, ident: tuple[int, int], sock: socket.socket) -> None:
        self.netns = netns
        self.ident = ident
        self.sock = sock
        self._seq = 0

    def request(self, req: nlmsg.Request, what: str) -> list[bytes]:
        """Send ``req`` and wait for its acknowledgement; the bodies of the messages it answered with.

        A refusal raises ``NetlinkFailed`` naming ``what`` was being done.
        """
        self._seq = seq = (self._seq + 1) & 0xFFFFFFFF or 1
        self.sock.send(req.encode(seq))
        replies: list[bytes] = []
        hdr = nlmsg.NLMSGHDR
        while True:
            data = self.sock.recv(1 << 16)
            offset = 0
            while offset + hdr.size <= len(data):
                length, kind, _flags, msg_seq, _pid = hdr.unpack_from(data, offset)
                if length < hdr.size:
                    break
                if msg_seq == seq:  # anything else is a late answer to a request given up on
                    if kind == NLMSG_ERROR:
                        (code,) = _ERRNO.unpack_from(data, offset + hdr.size)
                        if code:
                            raise NetlinkFailed(f"{what}: {os.strerror(-code)}", -code)
                        return replies
                    if kind == NLMSG_DONE:
                        return replies
                    replies.append(data[offset + hdr.size : offset + length])
                offset += (length + 3) & ~3

    def dump(self, msg_type: int, body: bytes) -> list[bytes]:
        """Every message of a dump request (``rtnl.py`` parses them)."""
        return self.request(nlmsg.Request(msg_type, nlmsg.NLM_F_REQUEST | nlmsg.NLM_F_DUMP, body), f"dump {msg_type}")

    def find_link(self, name: str) -> int | None:
        """The index of link ``name`` here, or None."""
        found = self.find_link_group(name)
        return found[0] if found is not None else None

    def find_link_group(self, name: str) -> tuple[int, int] | None:
        """Index and device group of link ``name`` here, or None."""
        try:
            replies = self.request(nlmsg.get_link(name), f"look up {name}")
        except NetlinkFailed as exc:
            if exc.code in (errno.ENODEV, errno.ENOENT):
                return None
            raise
        return nlmsg.link_index_group(replies[0]) if replies else None

    def require_link(self, name: str) -> int:
        index = self.find_link(name)
        if index is None:
            raise LinkNotFound(f"no interface {name} in namespace {ns_label(self.netns)}")
        return index

    def close(self) -> None:
        self.sock.close()


class Channels:
    """The open channels of one worker thread, by namespace path, least recently used closed first.

    A channel used by the running job is never closed under it, however
    many namespaces that job visits.
    """

    def __init__(self, limit: int = OPEN_LIMIT) -> None:
        self.limit = limit
        self._open: collections.OrderedDict[str, Channel] = collections.OrderedDict()
        #: the namespaces the running job has used
        self._in_use: set[str] = set()

    def __call__(self, netns: str) -> Channel:
        """The channel into ``netns`` ("" = the agent's own namespace)."""
        ident = _identity(netns)
        channel = self._open.get(netns)
        if channel is not None:
            if channel.ident == ident:
                self._open.move_to_end(netns)
                self._in_use.add(netns)
                return channel
            self.release(netns)
        sock = in_netns(netns, netlink_socket)
        sock.settimeout(REQUEST_TIMEOUT)
        channel = self._open[netns] = Channel(netns, ident, sock)
        self._in_use.add(netns)
        self._trim()
        return channel

    def _trim(self) -> None:
        while len(self._open) > self.limit:
            oldest = next((netns for netns in self._open if netns not in self._in_use), None)
            if oldest is None:
                return
            self.release(oldest)

    def job_done(self) -> None:
        self._in_use.clear()
        self._trim()

    def release(self, netns: str) -> None:
        channel = self._open.pop(netns, None)
        if channel is not None:
            channel.close()

    def close_all(self) -> None:
        for netns in list(self._open):
            self.release(netns)

    def __len__(self) -> int:
        return len(self._open)

    def __contains__(self, netns: object) -> bool:
        """Whether a socket into ``netns`` is open."""
        return netns in self._open


_local = threading.local()


def thread_channels() -> Channels:
    """The calling worker thread's channels."""
    found: Channels | None = getattr(_local, "channels", None)
    if found is None:
        found = _local.channels = Channels()
    return found


def _run(job: Callable[[Channels], T]) -> T:
    channels = thread_channels()
    try:
        return job(channels)
    except (TimeoutError, OSError) as exc:
        # A socket that failed (or timed out mid-answer) is not trusted again.
        channels.close_all()
        raise LinuxError(f"netlink: {exc}") from None
    finally:
        channels.job_done()


async def run(job: Callable[[Channels], T], *, pool: Worker | None = None) -> T:
    """Run ``job`` on a worker thread with that thread's channels; the event loop keeps going.

    Jobs run one at a time on the shared worker (``pool``: another thread,
    for work that must not hold the others up).
    """
    return await (pool or worker).run(lambda: _run(job))


async def request(netns: str, req: nlmsg.Request, what: str) -> list[bytes]:
    """One request in ``netns``, on the worker thread."""
    return await run(lambda channels: channels(netns).request(req, what))


def release(netns: str) -> None:
    """Close the sockets kept open in ``netns`` (the agent no longer works there), soon.

    Each worker closes its own after the jobs queued before; nobody waits,
    so neither the caller nor the event loop is held up or woken for it.
    """
    if netns:
        for pool in (worker, reaper_pool):
            pool.post(lambda: thread_channels().release(netns))
