"""Netlink sockets inside network namespaces, without stalling the event loop.

pyroute2 enters a namespace by forking a helper process per socket, which
costs ~10 ms and blocks the event loop while it runs. Here a worker thread
enters the namespace with ``setns(2)`` (which moves only that thread), opens
the netlink socket there, and goes back: a socket keeps the namespace it
was created in, so the event loop then uses it asynchronously like any
other. A namespace path that does not exist is an error — never a new,
empty namespace, which is what pyroute2 does by default.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ctypes
import errno
import fcntl
import os
import socket
import struct
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from pyroute2 import AsyncIPRoute

from contivctl.errors import LinuxError, NetnsNotFound

T = TypeVar("T")

CLONE_NEWNET = 0x40000000
NETLINK_ROUTE = 0
SOCKET_BUFFER = 1 << 20
_libc = ctypes.CDLL(None, use_errno=True)
#: One thread is enough: each job takes microseconds, and a single thread
#: makes it easy to be sure it is always back in its own namespace.
_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="contiv-netns")


def _setns(fd: int, what: str) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise LinuxError(f"cannot enter network namespace {what}: {os.strerror(err)}")


def in_netns(netns: str, fn: Callable[[], T]) -> T:
    """Run ``fn`` in the calling thread while it is inside ``netns`` ("" = our own)."""
    if not netns:
        return fn()
    try:
        target = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NetnsNotFound(f"network namespace {netns} does not exist") from None
    except OSError as exc:
        raise LinuxError(f"cannot open network namespace {netns}: {exc.strerror}") from None
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(target, netns)
        try:
            return fn()
        finally:
            _setns(own, "of the agent")
    finally:
        os.close(target)
        os.close(own)


async def run_in_netns(netns: str, fn: Callable[[], T]) -> T:
    """``in_netns`` on the worker thread, so the event loop keeps running."""
    return await asyncio.get_running_loop().run_in_executor(_pool, in_netns, netns, fn)


def netlink_socket() -> socket.socket:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_ROUTE)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER)
    return sock


def _identity(netns: str) -> tuple[int, int]:
    """Which namespace a path names now (device and inode of its nsfs file)."""
    try:
        st = os.stat(netns or "/proc/self/ns/net")
    except FileNotFoundError:
        raise NetnsNotFound(f"network namespace {netns} does not exist") from None
    except OSError as exc:
        raise LinuxError(f"cannot open network namespace {netns}: {exc.strerror}") from None
    return st.st_dev, st.st_ino


class _Session:
    """One open netlink socket in one namespace, used by one request at a time."""

    def __init__(self, ident: tuple[int, int], sock: socket.socket, ipr: Any) -> None:
        self.ident = ident
        self.sock = sock
        self.ipr = ipr
        self.lock = asyncio.Lock()
        #: requests holding or waiting for this socket; it is never closed under them
        self.users = 0

    async def close(self) -> None:
        try:
            await self.ipr.__aexit__(None, None, None)
        finally:
            self.sock.close()


class _Sessions:
    """Open sockets per namespace, so a request does not pay for opening one (about a millisecond).

    A namespace path can be reused for another namespace (``/proc/PID/ns/net``
    after the PID is reused, or a name deleted and added again), so a socket
    is reused only while the path still names the namespace it was opened in.
    The least recently used idle sockets are closed beyond ``limit``: an open
    socket keeps a deleted namespace alive.
    """

    def __init__(self, limit: int = 128) -> None:
        self.limit = limit
        self._open: collections.OrderedDict[str, _Session] = collections.OrderedDict()

    async def get(self, netns: str) -> _Session:
        ident = await asyncio.get_running_loop().run_in_executor(_pool, _identity, netns)
        session = self._open.get(netns)
        if session is not None and session.ident == ident:
            self._open.move_to_end(netns)
            session.users += 1
            return session
        if session is not None:
            await self.release(netns)
        sock = await run_in_netns(netns, netlink_socket)
        ipr = AsyncIPRoute(use_socket=sock)
        await ipr.__aenter__()
        session = _Session(ident, sock, ipr)
        session.users += 1
        existing = self._open.get(netns)
        if existing is not None and existing.ident == ident:
            # another request opened one meanwhile: use that, drop ours
            await session.close()
            existing.users += 1
            return existing
        self._open[netns] = session
        await self._trim()
        return session

    async def _trim(self) -> None:
        for netns in list(self._open):
            if len(self._open) <= self.limit:
                return
            if self._open[netns].users == 0:
                await self.release(netns)

    def current(self, netns: str) -> _Session | None:
        return self._open.get(netns)

    def forget(self, netns: str) -> None:
        """Stop handing out the socket of ``netns``; its last user closes it."""
        self._open.pop(netns, None)

    async def release(self, netns: str) -> None:
        session = self._open.pop(netns, None)
        if session is not None and session.users == 0:
            await session.close()

    async def close(self) -> None:
        for netns in list(self._open):
            await self.release(netns)


_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Sessions] = weakref.WeakKeyDictionary()


def _loop_sessions() -> _Sessions:
    loop = asyncio.get_running_loop()
    found = _sessions.get(loop)
    if found is None:
        found = _sessions[loop] = _Sessions()
    return found


@contextlib.asynccontextmanager
async def iproute(netns: str = "") -> AsyncIterator[Any]:
    """An ``AsyncIPRoute`` bound to ``netns`` ("" = the agent's own namespace), for one request or a few."""
    sessions = _loop_sessions()
    session = await sessions.get(netns)
    try:
        async with session.lock:
            try:
                yield session.ipr
            except (ConnectionError, OSError):
                if sessions.current(netns) is session:
                    sessions.forget(netns)  # a broken socket is not handed out again
                raise
    finally:
        session.users -= 1
        if session.users == 0 and sessions.current(netns) is not session:
            await session.close()


async def release_netns(netns: str) -> None:
    """Close the socket kept open in ``netns`` (the agent no longer works there)."""
    if netns:
        await _loop_sessions().release(netns)


@contextlib.contextmanager
def netns_fd(netns: str) -> Iterator[int]:
    """An open descriptor of a namespace, to move or create a link into it; never creates one."""
    try:
        fd = os.open(netns or "/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NetnsNotFound(f"network namespace {netns} does not exist") from None
    except OSError as exc:
        raise LinuxError(f"cannot open network namespace {netns}: {exc.strerror}") from None
    try:
        yield fd
    finally:
        os.close(fd)


def netns_exists(netns: str) -> bool:
    return not netns or os.path.exists(netns)


# ethtool: checksum offload is a per-device setting reached through an ioctl
# on any socket of the device's namespace.
_SIOCETHTOOL = 0x8946
_ETHTOOL_GRXCSUM = 0x00000014
_ETHTOOL_SRXCSUM = 0x00000015
_ETHTOOL_GTXCSUM = 0x00000016
_ETHTOOL_STXCSUM = 0x00000017


def _ethtool_value(sock: socket.socket, ifname: str, cmd: int, value: int) -> int:
    buf = ctypes.create_string_buffer(struct.pack("II", cmd, value))
    ifreq = struct.pack("16sP", ifname.encode(), ctypes.addressof(buf))
    fcntl.ioctl(sock.fileno(), _SIOCETHTOOL, ifreq)
    return int(struct.unpack("II", buf.raw[:8])[1])


def _set_csum_offload(ifname: str, enabled: bool) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for cmd in (_ETHTOOL_SRXCSUM, _ETHTOOL_STXCSUM):
            try:
                _ethtool_value(sock, ifname, cmd, 1 if enabled else 0)
            except OSError as exc:
                if exc.errno == errno.EOPNOTSUPP:
                    return
                raise LinuxError(f"cannot set checksum offload on {ifname}: {exc.strerror}") from None


def _get_csum_offload(ifname: str) -> tuple[bool, bool]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        rx = _ethtool_value(sock, ifname, _ETHTOOL_GRXCSUM, 0)
        tx = _ethtool_value(sock, ifname, _ETHTOOL_GTXCSUM, 0)
    return bool(rx), bool(tx)


async def get_checksum_offload(netns: str, ifname: str) -> tuple[bool, bool]:
    """(rx, tx) checksum offload of a device, as ethtool -k shows it."""
    return await run_in_netns(netns, lambda: _get_csum_offload(ifname))


async def set_checksum_offload(netns: str, ifname: str, enabled: bool) -> None:
    await run_in_netns(netns, lambda: _set_csum_offload(ifname, enabled))
