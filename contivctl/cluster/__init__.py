"""This node as a member of a cluster: its ID, its published record, the other nodes.

The cluster store is etcd (:mod:`contivctl.kv.etcd`); the key layout and the
record format are the original Contiv-VPP's (:mod:`.record`), so a cluster's
existing etcd data keeps its meaning. See docs/cluster.md.
"""

from contivctl.cluster.admin import Removed, list_nodes, node_row, remove_node
from contivctl.cluster.membership import Membership
from contivctl.cluster.nodeid import Claim, allocate_node_id, claim_node_id, remembered_id

__all__ = [
    "Claim",
    "Membership",
    "Removed",
    "allocate_node_id",
    "claim_node_id",
    "list_nodes",
    "node_row",
    "remembered_id",
    "remove_node",
]
