"""Entering network namespaces from a worker thread, without stalling the event loop.

A worker thread enters a namespace with ``setns(2)`` (which moves only that
thread), does its work there — opens a netlink socket, writes a sysctl,
sets checksum offload — and goes back. A socket keeps the namespace it was
created in (``channel.py`` keeps them open). A namespace path that does not
exist is an error — never a new, empty namespace.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import socket
import struct
from collections.abc import Callable, Iterator
from typing import TypeVar

from contivctl.dataplane.linux.worker import Worker
from contivctl.errors import LinuxError, NetnsNotFound

T = TypeVar("T")

CLONE_NEWNET = 0x40000000
NETLINK_ROUTE = 0
SOCKET_BUFFER = 1 << 20
_libc = ctypes.CDLL(None, use_errno=True)
#: One thread is enough: a job takes microseconds to milliseconds, and a
#: single thread keeps the requests of one job from interleaving with another's.
worker = Worker("contiv-netns")


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
    return await worker.run(lambda: in_netns(netns, fn))


def netlink_socket() -> socket.socket:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_ROUTE)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER)
    return sock


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
_ETHTOOL_GDRVINFO = 0x00000003
_ETHTOOL_GRXCSUM = 0x00000014
_ETHTOOL_SRXCSUM = 0x00000015
_ETHTOOL_GTXCSUM = 0x00000016
_ETHTOOL_STXCSUM = 0x00000017


def _ethtool_value(sock: socket.socket, ifname: str, cmd: int, value: int) -> int:
    buf = ctypes.create_string_buffer(struct.pack("II", cmd, value))
    ifreq = struct.pack("16sP", ifname.encode(), ctypes.addressof(buf))
    fcntl.ioctl(sock.fileno(), _SIOCETHTOOL, ifreq)
    return int(struct.unpack("II", buf.raw[:8])[1])


def set_checksum_offload_here(ifname: str, enabled: bool) -> None:
    """Checksum offload of ``ifname`` in the calling thread's namespace (a worker inside the right one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for cmd in (_ETHTOOL_SRXCSUM, _ETHTOOL_STXCSUM):
            try:
                _ethtool_value(sock, ifname, cmd, 1 if enabled else 0)
            except OSError as exc:
                if exc.errno == errno.EOPNOTSUPP:
                    continue  # a TAP has no rx setting, but its tx one still counts
                raise LinuxError(f"cannot set checksum offload on {ifname}: {exc.strerror}") from None


def _get_csum_offload(ifname: str) -> tuple[bool, bool]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        rx = _ethtool_value(sock, ifname, _ETHTOOL_GRXCSUM, 0)
        tx = _ethtool_value(sock, ifname, _ETHTOOL_GTXCSUM, 0)
    return bool(rx), bool(tx)


async def get_checksum_offload(netns: str, ifname: str) -> tuple[bool, bool]:
    """(rx, tx) checksum offload of a device, as ethtool -k shows it."""
    return await run_in_netns(netns, lambda: _get_csum_offload(ifname))


#: struct ethtool_drvinfo: cmd, then driver, version, fw_version, bus_info and erom_version (32 bytes
#: each), 12 reserved bytes and five counters
_DRVINFO = struct.Struct("I32s32s32s32s32s12s5I")


def driver_info_here(ifname: str) -> tuple[str, str]:
    """(driver, bus address) of ``ifname`` in the calling thread's namespace, as ``ethtool -i`` shows them.

    The bus address of a PCI NIC is its PCI address (``0000:00:08.0``); a
    virtual device (a veth) has none (""). A device without ethtool
    support answers ("", "").
    """
    buf = ctypes.create_string_buffer(_DRVINFO.pack(_ETHTOOL_GDRVINFO, *([b""] * 6), *([0] * 5)))
    ifreq = struct.pack("16sP", ifname.encode(), ctypes.addressof(buf))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            fcntl.ioctl(sock.fileno(), _SIOCETHTOOL, ifreq)
        except OSError as exc:
            if exc.errno in (errno.EOPNOTSUPP, errno.EINVAL):
                return "", ""
            raise LinuxError(f"cannot ask ethtool about {ifname}: {exc.strerror}") from None
    fields = _DRVINFO.unpack(buf.raw[: _DRVINFO.size])
    driver, bus = fields[1], fields[4]
    return driver.split(b"\0", 1)[0].decode(errors="replace"), bus.split(b"\0", 1)[0].decode(errors="replace")
