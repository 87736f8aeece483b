"""Names of the node-level VPP objects (vswitch base config, pod gateway, overlay)."""

from __future__ import annotations

#: VPP side of the host interconnect (TAP mode) and its Linux name
HOST_TAP_VPP = "tap-vpp2"
#: VPP AF_PACKET on the veth's vswitch end (VETH mode)
HOST_AFPACKET_VPP = "afpacket-vpp2"
#: loopback used as the main "NIC" when VPP has no physical interface
LOOPBACK_NIC = "loopbackNIC"
#: the VXLAN BVI loopback and its bridge domain
VXLAN_BVI = "vxlanBVI"
VXLAN_BD = "vxlanBD"
VXLAN_BD_ID = 1
VXLAN_SPLIT_HORIZON = 1
#: VPP's loopback that carries the pod gateway address (see render/vpp/pod_vrf.py)
POD_GATEWAY_LOOP = "pod-gw-loop"
#: the original's application namespace secret
APP_NS_SECRET = 42


def vxlan_tunnel_name(node_id: int) -> str:
    """The tunnel to node ``node_id`` (the original's name)."""
    return f"vxlan{node_id}"
