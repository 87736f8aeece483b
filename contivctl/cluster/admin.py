"""Operator actions on the cluster's records: list the nodes, remove one that left.

``remove_node`` is what the original's KSR did when a Kubernetes Node object
was deleted: drop the node's ID record and everything under
``/vnf-agent/<name>/``. It is idempotent — removing a node that is not
there removes nothing and is no error — so every agent that sees the
deletion, and an operator, may run it.
"""

from __future__ import annotations

import logging

import attrs

from contivctl.cluster.record import ALLOCATED_IDS, check_node_name, decode, node_data_prefix
from contivctl.errors import RecordError
from contivctl.kv.etcd import EtcdStore
from contivctl.model import NodeInfo

log = logging.getLogger(__name__)


@attrs.frozen
class Removed:
    name: str
    #: the IDs whose records were removed (more than one only after the original's duplicate-ID bug)
    ids: tuple[int, ...] = ()
    #: how many keys of the node's own data were removed
    data_keys: int = 0

    @property
    def anything(self) -> bool:
        return bool(self.ids or self.data_keys)


async def list_nodes(store: EtcdStore) -> list[NodeInfo]:
    """Every readable node record, by ID."""
    listing = await store.list_entries(ALLOCATED_IDS)
    nodes = []
    for key, entry in listing.entries.items():
        try:
            nodes.append(decode(entry.value, key))
        except RecordError as exc:
            log.warning("skipping unreadable node record: %s", exc)
    return sorted(nodes, key=lambda n: n.id)


async def remove_node(store: EtcdStore, name: str) -> Removed:
    """Remove node ``name``'s ID record(s) and its ``/vnf-agent/<name>/`` data.

    A record is deleted only if it is unchanged since it was read, so an ID
    that another node claimed in between is left alone.
    """
    prefix = node_data_prefix(check_node_name(name))
    listing = await store.list_entries(ALLOCATED_IDS)
    ids = []
    for key, entry in sorted(listing.entries.items()):
        try:
            node = decode(entry.value, key)
        except RecordError:
            continue
        if node.name == name and await store.delete_if(key, entry.mod_revision):
            ids.append(node.id)
    data_keys = await store.delete_prefix(prefix)
    removed = Removed(name, tuple(sorted(ids)), data_keys)
    if removed.anything:
        log.info("removed node %s: IDs %s, %d data keys", name, list(removed.ids), data_keys)
    return removed


def node_row(node: NodeInfo) -> dict[str, object]:
    """One line of ``contivctl nodes``."""
    return {
        "id": node.id,
        "name": node.name,
        "nodeIPs": list(node.ip_addresses),
        "managementIPs": list(node.management_ips),
    }
