"""Names and MAC addresses both dataplanes derive: pod interfaces and node-level MACs.

Everything here is a pure function of an identity alone — (container ID,
interface name) for a pod, the node ID for a node — so a restarted agent
computes the same names and MACs and a resync finds the objects it made
before, and every node computes every other node's MACs. See docs/naming.md.

Node MACs are unique in the cluster, unicast and locally administered
(first octet ``0x12``: bit 0 clear, bit 1 set). The original's fixed
host-interconnect MAC had the multicast bit set and was the same on every
node; its later ``34:3c:`` prefix is not locally administered. The BVI keeps
the later original's ``12:2b:`` + 4-byte ID rule, so a node of the original
and one of ours agree on each other's BVI MACs. A second byte per role keeps
the roles apart; pod-side MACs start with ``02:fe``.
"""

from __future__ import annotations

import hashlib

#: Linux interface names are at most 15 characters.
LINUX_IFNAME_MAX = 15
_HASH_CHARS = 13

#: Linux name of the host end of the VPP ⇄ host interconnect (both modes)
HOST_IF_HOST = "vpp1"
#: Linux name of the vswitch end of the interconnect veth (VETH mode)
HOST_IF_VSWITCH = "vpp2"
#: the overlay's VNI and UDP port (the same in both dataplanes, so they interwork)
VXLAN_VNI = 10
VXLAN_PORT = 4789

# -- pods -------------------------------------------------------------------------


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
    """MAC of the vswitch's interface towards the pod: the bitwise NOT of the same hash."""
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


def pod_if_name_of_host_link(host_if_name: str) -> str | None:
    """The pod interface an AF_PACKET bound to ``host_if_name`` is, if that is a pod's host link; else None."""
    h = host_if_name.removeprefix("cv")
    if h != host_if_name and len(h) == _HASH_CHARS and all(c in "0123456789abcdef" for c in h):
        return "pod-" + h
    return None


def vpp_pod_loop_name(container_id: str, ifname: str) -> str:
    """VPP loopback of a VPP-TCP-stack pod."""
    return "podloop-" + attachment_id(container_id, ifname)


def app_namespace_id(container_id: str, ifname: str) -> str:
    """VPP application namespace of a VPP-TCP-stack pod (VPP takes at most 63 characters)."""
    return "pod-" + attachment_id(container_id, ifname)


# -- nodes ------------------------------------------------------------------------

_BVI, _HOST_VPP, _HOST_LINUX, _LOOPBACK_NIC = 0x2B, 0x3C, 0x3D, 0x4E


def _node_mac(role: int, node_id: int) -> str:
    if not 0 <= node_id <= 0xFFFFFFFF:
        raise ValueError(f"node ID {node_id} does not fit in 4 bytes")
    octets = [0x12, role, *node_id.to_bytes(4, "big")]
    return ":".join(f"{o:02x}" for o in octets)


def bvi_mac(node_id: int, legacy: bool = False) -> str:
    """MAC of a node's overlay end (VPP's BVI, the kernel's VXLAN device); peers install it statically.

    ``legacy``: Contiv-VPP v2.0's rule, ``1a:2b:3c:4d:5e:<id>`` below ID 256
    (the later rule above), so that v2.0 nodes and this one compute the same
    MACs for each other while a cluster is migrated node by node
    (docs/migration.md). Unicast and locally administered either way.
    """
    if legacy and 0 <= node_id < 256:
        return f"1a:2b:3c:4d:5e:{node_id:02x}"
    return _node_mac(_BVI, node_id)


def host_interconnect_vpp_mac(node_id: int) -> str:
    return _node_mac(_HOST_VPP, node_id)


def host_interconnect_host_mac(node_id: int) -> str:
    return _node_mac(_HOST_LINUX, node_id)


def loopback_nic_mac(node_id: int) -> str:
    return _node_mac(_LOOPBACK_NIC, node_id)
