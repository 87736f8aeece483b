"""The controller's view of this node's vswitch and of the other nodes.

Kept apart from the pod view: the node events change only this part, and
each change is turned into the smallest set of item changes — a remote
node's items are rendered from that node alone, so its joining, changing or
leaving touches nothing else; a new node IP or NodeConfig re-renders the
base config and the overlay, and only what differs is applied.

Only the controller task mutates a ``NodeView``; readers (the API) see a
consistent value because every change swaps whole values.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import attrs

from contivctl.iptypes import IPInterface
from contivctl.items import Changes, Item, Items
from contivctl.model import DhcpLease, NodeInfo
from contivctl.render.inputs import PodNetwork, VswitchInputs
from contivctl.render.renderers import Renderers

log = logging.getLogger(__name__)

NodeIPListener = Callable[[IPInterface | None], None]
ManagementIPsListener = Callable[[tuple[str, ...]], None]


def item_changes(old: Mapping[str, Item], new: Mapping[str, Item]) -> Changes:
    """What turns ``old`` into ``new``: changed or added values, None for removed keys."""
    out: Changes = {k: None for k in old if k not in new}
    out.update({k: v for k, v in new.items() if old.get(k) != v})
    return out


class NodeView:
    def __init__(self, inputs: VswitchInputs, renderers: Renderers) -> None:
        self.inputs = inputs
        #: the dataplane's renderers of the base config, of each other node and of the pod network
        self.renderers = renderers
        #: what pods are wired with, as the current inputs say
        self.pod_network: PodNetwork = renderers.network(inputs)
        #: node records of the other nodes, by ID, as the cluster source sent them
        self.nodes: dict[int, NodeInfo] = {}
        #: management addresses by node name, from Kubernetes Node objects
        self.management_ips: dict[str, tuple[str, ...]] = {}
        #: the main NIC's DHCP lease
        self.lease: DhcpLease | None = None
        self.base_items: Items = renderers.base(inputs)
        self.node_items: dict[int, Items] = {}
        self._listeners: list[NodeIPListener] = []
        self._mgmt_listeners: list[ManagementIPsListener] = []

    # -- reading ---------------------------------------------------------------

    @property
    def node_ip(self) -> IPInterface | None:
        return self.inputs.plan.node_ip

    def desired(self) -> Items:
        out = dict(self.base_items)
        for items in self.node_items.values():
            out.update(items)
        return out

    def merged(self, node: NodeInfo) -> NodeInfo:
        """The node record with the management IPs Kubernetes reports, when it reports any."""
        mgmt = self.management_ips.get(node.name)
        return node if not mgmt else attrs.evolve(node, management_ips=mgmt)

    def node_by_name(self, name: str) -> NodeInfo | None:
        return next((n for n in self.nodes.values() if n.name == name), None)

    # -- node-IP subscribers ----------------------------------------------------

    def add_node_ip_listener(self, fn: NodeIPListener) -> None:
        """``fn(ip)`` is called on every change of the node IP; it must not block (queue, then return)."""
        self._listeners.append(fn)

    def remove_node_ip_listener(self, fn: NodeIPListener) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def _notify(self, ip: IPInterface | None) -> None:
        for fn in list(self._listeners):
            try:
                fn(ip)
            except Exception:  # one broken subscriber must not stop the others or the controller
                log.exception("node IP listener failed")

    # -- changes (each returns the item changes to apply) ------------------------

    def set_node(self, node: NodeInfo) -> Changes:
        self.nodes[node.id] = node
        return self._rerender_node(node.id)

    def remove_node(self, node_id: int) -> Changes:
        self.nodes.pop(node_id, None)
        return item_changes(self.node_items.pop(node_id, {}), {})

    def add_management_ips_listener(self, fn: ManagementIPsListener) -> None:
        """``fn(ips)`` on every change of this node's own management IPs (as Kubernetes reports them)."""
        self._mgmt_listeners.append(fn)

    @property
    def own_management_ips(self) -> tuple[str, ...]:
        return self.management_ips.get(self.inputs.eff.node_name, ())

    def set_management_ips(self, name: str, ips: tuple[str, ...]) -> Changes:
        old = self.management_ips.get(name, ())
        if ips:
            self.management_ips[name] = ips
        else:
            self.management_ips.pop(name, None)
        if name == self.inputs.eff.node_name:
            if ips != old:
                for fn in list(self._mgmt_listeners):
                    try:
                        fn(ips)
                    except Exception:  # one broken subscriber must not stop the controller
                        log.exception("management IP listener failed")
            return {}
        node = self.node_by_name(name)
        return {} if node is None else self._rerender_node(node.id)

    def set_inputs(self, inputs: VswitchInputs) -> Changes:
        """Replace the vswitch inputs; re-render the base config and every node, notify on a new node IP."""
        old_ip = self.node_ip
        old = self.desired()
        self.inputs = inputs
        self.pod_network = self.renderers.network(inputs)
        self.base_items = self.renderers.base(inputs)
        self.node_items = {i: self.renderers.node(inputs, self.merged(n)) for i, n in self.nodes.items()}
        changes = item_changes(old, self.desired())
        if self.node_ip != old_ip:
            self._notify(self.node_ip)
        return changes

    def _rerender_node(self, node_id: int) -> Changes:
        old = self.node_items.get(node_id, {})
        new = self.renderers.node(self.inputs, self.merged(self.nodes[node_id]))
        self.node_items[node_id] = new
        return item_changes(old, new)

