"""The controller's view of Kubernetes Services: the Services, their EndpointSlices, and the items of each.

Kept apart from the pod and node views: a Service event changes only this
part, and only its own Service — each Service is rendered from itself, its
slices and the node's side (``ServiceContext``) alone, so an endpoint
joining or leaving re-renders that Service and changes its items only.

The node's side changes rarely: this node's inputs (its IP, a NodeConfig)
re-render every Service; the other nodes' addresses matter only to a
dataplane that opens node ports on each of them (VPP), and there only to
the Services that have a node port. They are read from the node view
lazily — a burst of nodes joining costs nothing here while no Service has
a node port.

Only the controller task mutates a ``ServiceView``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from contivctl.controller.nodes import item_changes
from contivctl.iptypes import IPAddress
from contivctl.items import Changes, Items
from contivctl.model import EndpointSlice, Service, ServiceRef
from contivctl.render.inputs import VswitchInputs
from contivctl.render.renderers import Renderers
from contivctl.render.services import ServiceContext, forwarded, parse_ips, service_context

log = logging.getLogger(__name__)

SliceKey = tuple[str, str]


class ServiceView:
    def __init__(
        self,
        renderers: Renderers,
        inputs: Callable[[], VswitchInputs],
        node_ips: Callable[[], tuple[IPAddress, ...]],
    ) -> None:
        self.renderers = renderers
        self._inputs = inputs
        self._node_ips = node_ips
        self.services: dict[ServiceRef, Service] = {}
        self.slices: dict[SliceKey, EndpointSlice] = {}
        self._slices_of: dict[ServiceRef, dict[SliceKey, EndpointSlice]] = {}
        #: the items each Service was rendered into
        self.items: dict[ServiceRef, Items] = {}
        self._node_port_refs: set[ServiceRef] = set()
        self._ips_stale = True
        self.context = service_context(inputs())

    @property
    def enabled(self) -> bool:
        return self._inputs().services

    def desired(self) -> Items:
        out: Items = {}
        for items in self.items.values():
            out.update(items)
        return out

    def endpoints_of(self, ref: ServiceRef) -> tuple[EndpointSlice, ...]:
        return tuple(self._slices_of.get(ref, {}).values())

    # -- changes (each returns the item changes to apply) ------------------------

    def set_service(self, svc: Service) -> Changes:
        self.services[svc.ref] = svc
        if any(p.node_port for p in svc.ports):
            self._node_port_refs.add(svc.ref)
        else:
            self._node_port_refs.discard(svc.ref)
        return self._rerender(svc.ref)

    def remove_service(self, ref: ServiceRef) -> Changes:
        self.services.pop(ref, None)
        self._node_port_refs.discard(ref)
        return item_changes(self.items.pop(ref, {}), {})

    def set_slice(self, sl: EndpointSlice) -> Changes:
        key = (sl.namespace, sl.name)
        old = self.slices.get(key)
        changes: Changes = {}
        if old is not None and old.service_ref != sl.service_ref:
            changes.update(self._drop_slice(key))
        self.slices[key] = sl
        self._slices_of.setdefault(sl.service_ref, {})[key] = sl
        changes.update(self._rerender(sl.service_ref))
        return changes

    def remove_slice(self, namespace: str, name: str) -> Changes:
        return self._drop_slice((namespace, name))

    def _drop_slice(self, key: SliceKey) -> Changes:
        old = self.slices.pop(key, None)
        if old is None:
            return {}
        ref = old.service_ref
        group = self._slices_of.get(ref, {})
        group.pop(key, None)
        if not group:
            self._slices_of.pop(ref, None)
        return self._rerender(ref)

    def refresh(self, nodes_changed: bool = True) -> Changes:
        """The node's side may have changed (its inputs, or the nodes): re-render what it changed."""
        ips = self.context.node_ips
        if nodes_changed and self.renderers.service_node_ips:
            if self._node_port_refs:
                ips = self._node_ips()
            else:
                self._ips_stale = True  # read when a Service with a node port comes
        ctx = service_context(self._inputs(), ips)
        if ctx == self.context:
            return {}
        old, self.context = self.context, ctx
        if ctx == service_context(self._inputs(), old.node_ips):
            refs = sorted(self._node_port_refs, key=str)  # only the nodes' addresses moved
        else:
            refs = sorted(self.services, key=str)
        changes: Changes = {}
        for ref in refs:
            changes.update(self._rerender(ref))
        return changes

    def _rerender(self, ref: ServiceRef) -> Changes:
        old = self.items.get(ref, {})
        svc = self.services.get(ref)
        new: Items = {}
        if svc is not None and self.enabled and forwarded(svc):
            if ref in self._node_port_refs and self._ips_stale and self.renderers.service_node_ips:
                self._ips_stale = False
                self.context = service_context(self._inputs(), self._node_ips())
            new = self.renderers.service(self.context, svc, self.endpoints_of(ref))
        if new:
            self.items[ref] = new
        else:
            self.items.pop(ref, None)
        return item_changes(old, new)


def cluster_node_ips(
    own_ip: IPAddress | None,
    own_management: tuple[str, ...],
    others: list[tuple[tuple[str, ...], tuple[str, ...]]],
) -> tuple[IPAddress, ...]:
    """This node's addresses first, then every other node's (its node IPs, then its management IPs)."""
    out: list[IPAddress] = [] if own_ip is None else [own_ip]
    out += parse_ips(own_management)
    for ips, management in others:
        out += parse_ips(ips)
        out += parse_ips(management)
    return tuple(dict.fromkeys(out))


__all__ = ["ServiceContext", "ServiceView", "cluster_node_ips"]
