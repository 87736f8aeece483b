"""Address arithmetic from a node ID, exactly as the original computed it.

Every node derives its ranges from its cluster-wide ID alone, so that no
node needs to ask another which addresses it owns. The formulas (and their
odd corners, such as the last ID wrapping onto the first block) must match
the original bit for bit: nodes of both may share a cluster.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from contivctl.errors import IPAMError, NodeIDOutOfRange
from contivctl.iptypes import IPAddress, IPInterface, IPNetwork


def node_part(node_id: int, bits: int) -> int:
    """The node's index among 2^bits blocks; ID 2^bits wraps onto block 0."""
    if node_id < 1:
        raise NodeIDOutOfRange(f"node ID {node_id} is not valid: node IDs start at 1")
    size = 1 << bits
    if node_id == size:
        return 0
    if node_id & (size - 1) != node_id:
        raise NodeIDOutOfRange(f"node ID {node_id} is out of the valid range: {bits} node bits allow IDs 1 to {size}")
    return node_id


def node_subnet(cluster: IPNetwork, per_node_prefix: int, node_id: int) -> IPNetwork:
    """The ``node_id``-th block of prefix ``per_node_prefix`` inside ``cluster``."""
    bits = per_node_prefix - cluster.prefixlen
    if bits <= 0:
        raise IPAMError(f"per-node prefix /{per_node_prefix} is not longer than {cluster}")
    part = node_part(node_id, bits)
    start = int(cluster.network_address) + (part << (cluster.max_prefixlen - per_node_prefix))
    return network_in(cluster, start, per_node_prefix)


def nth(net: IPNetwork, offset: int) -> IPAddress:
    """Address number ``offset`` of ``net`` (negative counts from the broadcast end)."""
    base = int(net.network_address) if offset >= 0 else int(net.broadcast_address) + 1
    return address_in(net, base + offset)


def with_prefix(addr: IPAddress, prefix: int) -> IPInterface:
    return ipaddress.ip_interface(f"{addr}/{prefix}")


def address_in(net: IPNetwork, value: int) -> IPAddress:
    """The address with integer ``value`` in the family of ``net`` (an int alone is ambiguous)."""
    return type(net.network_address)(value)


def network_in(net: IPNetwork, start: int, prefix: int) -> IPNetwork:
    return type(net)((start, prefix))


def indexed_address(cidr: IPNetwork, node_id: int, excluded: Iterable[IPAddress] = ()) -> IPInterface:
    """Node IP / VXLAN IP: network + node part, shifted past each excluded address.

    Exclusions are walked in ascending order and each one at or below the
    current candidate pushes it up by one, as the original did for gateways.
    """
    host_bits = cidr.max_prefixlen - cidr.prefixlen
    part = node_part(node_id, host_bits)
    if part == 0:
        raise NodeIDOutOfRange(f"no free address for node ID {node_id} in {cidr}")
    value = int(cidr.network_address) + part
    for ex in sorted({int(e) for e in excluded if e.version == cidr.version}):
        if ex <= value:
            value += 1
    last = int(cidr.broadcast_address) - (1 if cidr.version == 4 and host_bits > 1 else 0)
    if value > last:
        raise NodeIDOutOfRange(f"no free address for node ID {node_id} in {cidr}")
    return with_prefix(address_in(cidr, value), cidr.prefixlen)


def node_id_from_pod_ip(pod_ip: IPAddress, cluster: IPNetwork, per_node_prefix: int) -> int:
    """Which node's block a pod address lies in (0 for the wrapped last ID)."""
    if pod_ip not in cluster:
        raise IPAMError(f"{pod_ip} is not inside the pod subnet {cluster}")
    return (int(pod_ip) ^ int(cluster.network_address)) >> (cluster.max_prefixlen - per_node_prefix)


def pod_if_address(pod_if_cidr: IPNetwork, pod_ip: IPAddress, per_node_prefix: int) -> IPInterface:
    """The VPP-side address of a pod's interface (v2.0): the pod's host part inside PodIfIPCIDR."""
    host_mask = (1 << (pod_if_cidr.max_prefixlen - per_node_prefix)) - 1
    value = int(pod_if_cidr.network_address) + (int(pod_ip) & host_mask)
    return with_prefix(address_in(pod_if_cidr, value), pod_if_cidr.max_prefixlen)
