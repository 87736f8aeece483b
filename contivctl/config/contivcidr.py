"""Carving every cluster range out of one ``ContivCIDR``.

The v2.0 rule, written in address counts so that it works for IPv6 too
(for IPv4 it gives exactly the original's /16, /16, /23, /23 and /25 blocks):
pods take block 0 and VPP-host links block 1 of 2^16 addresses, each node a
block of 2^7 of them; node interconnect and VXLAN take blocks 256 and 257 of
2^9 addresses; the v2.0 pod interface range is block 1032 of 2^7 addresses.
"""

from __future__ import annotations

import attrs

from contivctl.config.model import IPAMConfig
from contivctl.iptypes import IPNetwork

MIN_HOST_BITS = 18
_CLUSTER_BLOCK_BITS = 16
_NODE_BLOCK_BITS = 7
_INTERCONNECT_BLOCK_BITS = 9
_NODE_INTERCONNECT_INDEX = 256
_VXLAN_INDEX = 257
_POD_IF_INDEX = 1032


def block(cidr: IPNetwork, size_bits: int, index: int) -> IPNetwork:
    """The ``index``-th block of 2^size_bits addresses inside ``cidr``."""
    start = int(cidr.network_address) + (index << size_bits)
    prefix = cidr.max_prefixlen - size_bits
    return type(cidr)((start, prefix))


def host_bits(cidr: IPNetwork) -> int:
    return cidr.max_prefixlen - cidr.prefixlen


def apply_contiv_cidr(ipam: IPAMConfig) -> IPAMConfig:
    """Return ``ipam`` with every range derived from ContivCIDR, if one is set.

    A NodeInterconnectCIDR given by the user is kept; with DHCP the node
    range is left empty, as the original did. ServiceCIDR is kept as given:
    the original dropped it here (falling back to 10.96.0.0/12), which only
    ever surprised users.
    """
    cidr = ipam.contiv_cidr
    if cidr is None:
        return ipam
    if host_bits(cidr) < MIN_HOST_BITS:
        raise ValueError(
            f"{cidr} is too small: ContivCIDR needs at least {MIN_HOST_BITS} host bits "
            f"(/{cidr.max_prefixlen - MIN_HOST_BITS} or larger)"
        )
    node_prefix = cidr.max_prefixlen - _NODE_BLOCK_BITS
    if ipam.node_interconnect_cidr is not None:
        node_cidr: IPNetwork | None = ipam.node_interconnect_cidr
    elif ipam.node_interconnect_dhcp:
        node_cidr = None
    else:
        node_cidr = block(cidr, _INTERCONNECT_BLOCK_BITS, _NODE_INTERCONNECT_INDEX)
    return attrs.evolve(
        ipam,
        pod_subnet_cidr=block(cidr, _CLUSTER_BLOCK_BITS, 0),
        pod_network_prefix_len=node_prefix,
        vpp_host_subnet_cidr=block(cidr, _CLUSTER_BLOCK_BITS, 1),
        vpp_host_network_prefix_len=node_prefix,
        node_interconnect_cidr=node_cidr,
        vxlan_cidr=block(cidr, _INTERCONNECT_BLOCK_BITS, _VXLAN_INDEX),
        pod_if_ip_cidr=block(cidr, _NODE_BLOCK_BITS, _POD_IF_INDEX),
    )
