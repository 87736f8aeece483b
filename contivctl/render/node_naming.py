"""Names and MAC addresses of the node-level VPP objects (vswitch base config and overlay).

MACs are derived from the node ID so that each node's are unique in the
cluster, and every one is unicast and locally administered (first octet
``0x12``: bit 0 clear, bit 1 set). The original's fixed host-interconnect
MAC had the multicast bit set and was the same on every node; its later
``34:3c:`` prefix is not locally administered. The BVI keeps the later
original's ``12:2b:`` + 4-byte ID rule, so a node of the original and one
of ours agree on each other's BVI MACs. A second byte per role keeps the
roles apart: pod-side MACs start with ``02:fe`` (render/naming.py).
"""

from __future__ import annotations

#: VPP side of the host interconnect (TAP mode) and its Linux name
HOST_TAP_VPP = "tap-vpp2"
#: VPP AF_PACKET on the veth's vswitch end (VETH mode)
HOST_AFPACKET_VPP = "afpacket-vpp2"
#: Linux name of the host end of the interconnect (both modes)
HOST_IF_HOST = "vpp1"
#: Linux name of the vswitch end of the interconnect veth (VETH mode)
HOST_IF_VSWITCH = "vpp2"
#: loopback used as the main "NIC" when VPP has no physical interface
LOOPBACK_NIC = "loopbackNIC"
#: the VXLAN BVI loopback and its bridge domain
VXLAN_BVI = "vxlanBVI"
VXLAN_BD = "vxlanBD"
VXLAN_BD_ID = 1
VXLAN_VNI = 10
VXLAN_SPLIT_HORIZON = 1
VXLAN_PORT = 4789

_BVI, _HOST_VPP, _HOST_LINUX, _LOOPBACK_NIC = 0x2B, 0x3C, 0x3D, 0x4E


def _node_mac(role: int, node_id: int) -> str:
    if not 0 <= node_id <= 0xFFFFFFFF:
        raise ValueError(f"node ID {node_id} does not fit in 4 bytes")
    octets = [0x12, role, *node_id.to_bytes(4, "big")]
    return ":".join(f"{o:02x}" for o in octets)


def bvi_mac(node_id: int) -> str:
    """MAC of a node's VXLAN BVI; remote nodes install it statically, so it must be computable."""
    return _node_mac(_BVI, node_id)


def host_interconnect_vpp_mac(node_id: int) -> str:
    return _node_mac(_HOST_VPP, node_id)


def host_interconnect_host_mac(node_id: int) -> str:
    return _node_mac(_HOST_LINUX, node_id)


def loopback_nic_mac(node_id: int) -> str:
    return _node_mac(_LOOPBACK_NIC, node_id)


def vxlan_tunnel_name(node_id: int) -> str:
    """The tunnel to node ``node_id`` (the original's name)."""
    return f"vxlan{node_id}"
