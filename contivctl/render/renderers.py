"""The renderers of one dataplane, as one value.

The controller and its views call renderers only through a ``Renderers``
value, so choosing the dataplane is choosing this value once, at start
(``render.vpp.RENDERERS`` or ``render.kernel.RENDERERS``); neither the
renderers nor the controller branch on it. The pod's own side is the same
in both (render/pod_side.py).
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from contivctl.items import Items
from contivctl.model import Attachment, EndpointSlice, NodeInfo, Service
from contivctl.render.inputs import PodNetwork, VswitchInputs
from contivctl.render.services import ServiceContext

ServiceRenderer = Callable[[ServiceContext, Service, tuple[EndpointSlice, ...]], Items]


def _no_service(ctx: ServiceContext, svc: Service, slices: tuple[EndpointSlice, ...]) -> Items:
    return {}


@attrs.frozen
class Renderers:
    name: str
    #: what every pod of this node is wired with, from the node's inputs
    network: Callable[[VswitchInputs], PodNetwork]
    #: every item of one pod attachment
    pod: Callable[[Attachment, PodNetwork], Items]
    #: this node's vswitch base config
    base: Callable[[VswitchInputs], Items]
    #: this node's items towards one other node
    node: Callable[[VswitchInputs, NodeInfo], Items]
    #: the key of the interface whose DHCP lease is this node's IP (None: the dataplane leases nothing)
    lease_interface: Callable[[VswitchInputs], str | None]
    #: the items of one Service, from its ready endpoints
    service: ServiceRenderer = _no_service
    #: whether they name the nodes' addresses (a node joining then re-renders the node-port Services)
    service_node_ips: bool = False
