"""Names of the node-level objects of the kernel dataplane."""

from __future__ import annotations

from contivctl.items import kernel as kx

#: the VXLAN device all other nodes are reached through (at most 15 characters)
VXLAN_DEV = "contiv-vxlan"
#: the nftables table (family ip) holding the SNAT of traffic leaving the cluster
NFT_TABLE = "contiv"
IP_FORWARD = "net.ipv4.ip_forward"
#: the nftables table (family ip) Services are forwarded by (render/kernel/services.py)
SERVICE_TABLE = "contiv-services"


def vxlan_dev_key(netns: str) -> str:
    return kx.vxlan_key(netns, VXLAN_DEV)
