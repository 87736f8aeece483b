"""What VPP does to the host kernel, done for real.

VPP's tap driver opens /dev/net/tun, names the device with TUNSETIFF, sets its
MAC and MTU, brings it up and optionally moves it into another network
namespace; its af_packet driver binds to an existing host link and brings it
up. The emulator does the same so the Linux half of the wiring can be tested
on a real kernel. The tun file descriptor stays open for as long as the VPP
interface exists (carrier on, as with VPP), and the device is made persistent
so it survives a closed descriptor until `delete_tap` or `cleanup` removes it.

All calls block; async code runs them in a worker thread.
"""

from __future__ import annotations

import fcntl
import ipaddress
import logging
import os
import socket
import struct
from pathlib import Path
from typing import Any, cast

import attrs
from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from contivctl.dataplane.linux.netns import in_netns

log = logging.getLogger(__name__)

TUNSETIFF = 0x400454CA
TUNSETPERSIST = 0x400454CB
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFF_TUN_EXCL = 0x8000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
IFNAMSIZ = 16
NETNS_DIR = Path("/var/run/netns")


class KernelError(Exception):
    """The kernel refused; `stage` says which step, so the caller can pick VPP's retval."""

    def __init__(self, stage: str, err: BaseException) -> None:
        super().__init__(f"{stage}: {err}")
        self.stage = stage


@attrs.define
class TapDevice:
    name: str
    fd: int
    netns: str


def netns_path(ns: str) -> str:
    """VPP's rule: an absolute path is used as is, a bare name lives in /var/run/netns."""
    return ns if ns.startswith("/") else str(NETNS_DIR / ns)


def link_exists(name: str) -> bool:
    return bool(name) and "/" not in name and os.path.exists(f"/sys/class/net/{name}")


def link_mtu(name: str) -> int:
    try:
        return int(Path(f"/sys/class/net/{name}/mtu").read_text())
    except (OSError, ValueError):
        return 1500


def bring_up(name: str) -> None:
    """SIOCSIFFLAGS IFF_UP on a host link in our namespace (what af_packet does)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifr = struct.pack("16sH22x", name.encode(), 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(s, SIOCGIFFLAGS, ifr))[1]
        if not flags & IFF_UP:
            fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH22x", name.encode(), flags | IFF_UP))


def nic_free(netns: str, name: str) -> str | None:
    """Why VPP could not take Linux link ``name`` of ``netns`` as a NIC; None when it could.

    DPDK skips a device whose Linux interface is up ("active"); a NIC is
    handed to VPP by setting it down and taking its addresses (the STN
    daemon's steal). The link itself stays: in tests it stands in for a NIC.
    """

    def look() -> str | None:
        with IPRoute() as ipr:
            found = cast(list[int], ipr.link_lookup(ifname=name))
            if not found:
                return f"there is no link {name}"
            link = ipr.get_links(found[0])[0]
            if link["flags"] & IFF_UP:
                return f"{name} is up in Linux"
            if ipr.get_addr(index=found[0], family=socket.AF_INET):
                return f"{name} has IPv4 addresses in Linux"
        return None

    return in_netns(netns_path(netns) if netns else "", look)


class Kernel:
    """Taps the emulator made, so a restart or shutdown can take them all away."""

    def __init__(self) -> None:
        self.taps: dict[int, TapDevice] = {}
        self._next_key = 0

    def create_tap(
        self,
        name: str,
        mac: bytes,
        mtu: int | None,
        netns: str,
        ip4: ipaddress.IPv4Interface | None = None,
        ip6: ipaddress.IPv6Interface | None = None,
    ) -> int:
        """Create, configure and (optionally) move a tap; returns the key `delete_tap` takes."""
        if len(name.encode()) >= IFNAMSIZ or not name or "/" in name:
            raise KernelError("TUNSETIFF", ValueError(f"bad interface name {name!r}"))
        if netns and not os.path.exists(netns_path(netns)):
            raise KernelError("netns", FileNotFoundError(netns_path(netns)))
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
        try:
            ifr = struct.pack("16sH22x", name.encode(), IFF_TAP | IFF_NO_PI | IFF_TUN_EXCL)
            fcntl.ioctl(fd, TUNSETIFF, ifr)
        except OSError as e:
            os.close(fd)
            raise KernelError("TUNSETIFF", e) from e
        dev = TapDevice(name, fd, netns)
        try:
            fcntl.ioctl(fd, TUNSETPERSIST, 1)
            self._configure(dev, mac, mtu, ip4, ip6)
        except (OSError, NetlinkError, KernelError) as e:
            self._destroy(dev)
            if isinstance(e, KernelError):
                raise
            raise KernelError("netlink", e) from e
        self._next_key += 1
        self.taps[self._next_key] = dev
        return self._next_key

    def _configure(
        self,
        dev: TapDevice,
        mac: bytes,
        mtu: int | None,
        ip4: ipaddress.IPv4Interface | None,
        ip6: ipaddress.IPv6Interface | None,
    ) -> None:
        with IPRoute() as ipr:
            idx = cast(list[int], ipr.link_lookup(ifname=dev.name))[0]
            attrs_: dict[str, Any] = {"address": ":".join(f"{b:02x}" for b in mac)}
            if mtu:
                attrs_["mtu"] = mtu
            ipr.link("set", index=idx, **attrs_)
            if dev.netns:
                try:
                    ipr.link("set", index=idx, net_ns_fd=netns_path(dev.netns))
                except NetlinkError as e:
                    # VPP opens the tap inside the namespace: a name taken there fails its TUNSETIFF
                    raise KernelError("TUNSETIFF", e) from e
        # Entered with setns on this thread, not pyroute2's netns mode: that forks a
        # helper, which crashes in a process whose other threads run gRPC.
        in_netns(netns_path(dev.netns) if dev.netns else "", lambda: self._bring_up(dev.name, ip4, ip6))

    @staticmethod
    def _bring_up(name: str, ip4: ipaddress.IPv4Interface | None, ip6: ipaddress.IPv6Interface | None) -> None:
        with IPRoute() as ipr:
            idx = cast(list[int], ipr.link_lookup(ifname=name))[0]
            ipr.link("set", index=idx, state="up")
            for addr in (ip4, ip6):
                if addr is not None:
                    ipr.addr("add", index=idx, address=str(addr.ip), prefixlen=addr.network.prefixlen)

    def delete_tap(self, key: int) -> None:
        dev = self.taps.pop(key, None)
        if dev is not None:
            self._destroy(dev)

    def _destroy(self, dev: TapDevice) -> None:
        """Clearing persist on our own descriptor and closing it frees the device wherever it went."""
        try:
            fcntl.ioctl(dev.fd, TUNSETPERSIST, 0)
        except OSError as e:
            log.warning("tap %s: clearing persist failed: %s", dev.name, e)
        os.close(dev.fd)

    def cleanup(self) -> None:
        for key in list(self.taps):
            self.delete_tap(key)
