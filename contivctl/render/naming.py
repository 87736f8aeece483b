"""Names and MAC addresses of a pod's interfaces, derived from its identity alone.

Everything here is a pure function of (container ID, interface name), so a
restarted agent computes the same names and MACs and a resync finds the
objects it made before. See docs/naming.md.
"""

from __future__ import annotations

import hashlib

#: Linux interface names are at most 15 characters.
LINUX_IFNAME_MAX = 15
_HASH_CHARS = 13


def _fnv1a32(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def _mac(h: int) -> str:
    # 02 = locally administered, unicast; the hash bytes least significant first.
    octets = [0x02, 0xFE, h & 0xFF, (h >> 8) & 0xFF, (h >> 16) & 0xFF, (h >> 24) & 0xFF]
    return ":".join(f"{o:02x}" for o in octets)


def attachment_id(container_id: str, ifname: str) -> str:
    """A short stable token for one attachment (container + interface)."""
    return hashlib.sha256(f"{container_id}/{ifname}".encode()).hexdigest()[:_HASH_CHARS]


def pod_side_mac(container_id: str, ifname: str) -> str:
    """MAC of the pod's own interface (FNV-1a of ``<cid>/<ifname>``)."""
    return _mac(_fnv1a32(f"{container_id}/{ifname}".encode()))


def vpp_side_mac(container_id: str, ifname: str) -> str:
    """MAC of VPP's interface towards the pod: the bitwise NOT of the same hash."""
    return _mac(~_fnv1a32(f"{container_id}/{ifname}".encode()) & 0xFFFFFFFF)


def host_veth_name(container_id: str, ifname: str) -> str:
    """The vswitch-side end of a pod's veth pair (what VPP's AF_PACKET binds to)."""
    return "cv" + attachment_id(container_id, ifname)


def tap_temp_name(container_id: str, ifname: str) -> str:
    """The name VPP gives the kernel end of a pod's TAP before it is moved into the pod."""
    return "ct" + attachment_id(container_id, ifname)


def vpp_pod_if_name(container_id: str, ifname: str) -> str:
    """VPP's logical name of the pod's interface (AF_PACKET or TAP)."""
    return "pod-" + attachment_id(container_id, ifname)


def vpp_pod_loop_name(container_id: str, ifname: str) -> str:
    """VPP loopback of a VPP-TCP-stack pod."""
    return "podloop-" + attachment_id(container_id, ifname)


def app_namespace_id(container_id: str, ifname: str) -> str:
    """VPP application namespace of a VPP-TCP-stack pod (VPP takes at most 63 characters)."""
    return "pod-" + attachment_id(container_id, ifname)
