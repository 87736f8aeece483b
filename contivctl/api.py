"""Read-only queries of the agent's view for components running in the agent.

The original's plugin API (GetIfName, GetPodByIf, …) in snake_case. Every
answer is read from the controller's view as it stands; nothing here changes
it — changes go through events.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING

from contivctl.config import Config
from contivctl.controller import Controller, NodeView, PodHook
from contivctl.iptypes import IPAddress, IPInterface, IPNetwork
from contivctl.k8s.objects import PodInfo
from contivctl.model import Attachment, AttachmentKey, PodRef
from contivctl.render import naming
from contivctl.render.inputs import l2_mode
from contivctl.render.vpp import names as nn
from contivctl.render.vpp.interconnect import host_interconnect_if_name
from contivctl.render.vpp.nat import nat_external_traffic
from contivctl.render.vpp.nics import default_interface, main_nic, other_nics

if TYPE_CHECKING:  # the client library is imported only where Kubernetes is used
    from contivctl.k8s.sources import KubernetesSources


class NodeIPWatch:
    """Node IP changes for one subscriber: the current value first, then each change.

    Only the latest value is kept: a subscriber that reads slowly skips
    intermediate values but never holds up the controller (the controller
    only stores the value and sets an event).
    """

    def __init__(self, view: NodeView) -> None:
        self._view = view
        self._latest = view.node_ip
        self._changed = asyncio.Event()
        self._changed.set()
        view.add_node_ip_listener(self._on_change)

    def _on_change(self, ip: IPInterface | None) -> None:
        self._latest = ip
        self._changed.set()

    def close(self) -> None:
        self._view.remove_node_ip_listener(self._on_change)

    def __aiter__(self) -> NodeIPWatch:
        return self

    async def __anext__(self) -> IPInterface | None:
        await self._changed.wait()
        self._changed.clear()
        return self._latest

    async def __aenter__(self) -> NodeIPWatch:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class ContivAPI:
    def __init__(
        self,
        controller: Controller,
        config: Config,
        pod_network_this_node: IPNetwork,
        *,
        kubernetes: KubernetesSources | None = None,
    ) -> None:
        self._controller = controller
        self._config = config
        self._pod_network = pod_network_this_node
        self.kubernetes = kubernetes

    def _attachment(self, pod_namespace: str, pod_name: str) -> Attachment | None:
        return self._controller.attachment_of(PodRef(pod_namespace, pod_name))

    def get_if_name(self, pod_namespace: str, pod_name: str) -> str | None:
        """VPP's logical name of the pod's interface, or None for an unknown pod."""
        att = self._attachment(pod_namespace, pod_name)
        return None if att is None else naming.vpp_pod_if_name(att.container_id, att.ifname)

    def get_ns_index(self, pod_namespace: str, pod_name: str) -> str | None:
        """The VPP application namespace of a VPP-TCP-stack pod (its ID), else None."""
        att = self._attachment(pod_namespace, pod_name)
        if att is None or not att.tcp_stack:
            return None
        return naming.app_namespace_id(att.container_id, att.ifname)

    def get_pod_by_if(self, if_name: str) -> PodRef | None:
        for att in self._controller.pods.attachments.values():
            names = {naming.vpp_pod_if_name(att.container_id, att.ifname)}
            if att.tcp_stack:
                names.add(naming.vpp_pod_loop_name(att.container_id, att.ifname))
            if if_name in names:
                return att.pod
        return None

    def get_pod_by_app_ns_index(self, ns_id: str) -> PodRef | None:
        return next(
            (
                a.pod
                for a in self._controller.pods.attachments.values()
                if a.tcp_stack and naming.app_namespace_id(a.container_id, a.ifname) == ns_id
            ),
            None,
        )

    def get_container_index(self) -> Mapping[AttachmentKey, Attachment]:
        return dict(self._controller.pods.attachments)

    def register_pod_pre_removal_hook(self, hook: PodHook) -> None:
        self._controller.register_pod_pre_removal_hook(hook)

    def register_pod_post_add_hook(self, hook: PodHook) -> None:
        self._controller.register_pod_post_add_hook(hook)

    def get_pod_subnet(self) -> IPNetwork | None:
        return self._config.ipam.pod_subnet_cidr

    def get_pod_network(self) -> IPNetwork:
        return self._pod_network

    def is_tcp_stack_disabled(self) -> bool:
        return self._config.tcp_stack_disabled

    def get_main_vrf_id(self) -> int:
        return self._config.main_vrf_id

    def get_pod_vrf_id(self) -> int:
        return self._config.pod_vrf_id

    # -- this node (the vswitch base config) ------------------------------------

    def _view(self) -> NodeView:
        return self._controller.node_view

    def get_node_ip(self) -> IPInterface | None:
        """This node's interconnect address with its prefix; None while unknown (DHCP, no lease yet)."""
        return self._view().node_ip

    def get_host_ips(self) -> list[IPAddress]:
        """The host stack's own addresses VPP routes back over the interconnect."""
        return list(self._view().inputs.host_ips)

    def watch_node_ip(self) -> NodeIPWatch:
        """``async with api.watch_node_ip() as w: async for ip in w: ...`` (current value first)."""
        return NodeIPWatch(self._view())

    def get_main_physical_if_name(self) -> str | None:
        return main_nic(self._view().inputs)

    def get_other_physical_if_names(self) -> list[str]:
        return other_nics(self._view().inputs)

    def get_host_interconnect_if_name(self) -> str:
        """VPP's end of the host interconnect (in STN mode too: unnumbered to the main NIC)."""
        return host_interconnect_if_name(self._view().inputs)

    def get_vxlan_bvi_if_name(self) -> str:
        """The VXLAN BVI ("" in L2 mode, which has no overlay)."""
        return "" if l2_mode(self._config) else nn.VXLAN_BVI

    def get_default_interface(self) -> tuple[str, IPAddress] | None:
        """The interface towards the default gateway and its address (what NAT uses), if known."""
        found = default_interface(self._view().inputs)
        return None if found is None else (found[0], found[1].ip)

    def in_stn_mode(self) -> bool:
        return self._view().inputs.eff.stn_mode

    def nat_external_traffic(self) -> bool:
        return nat_external_traffic(self._view().inputs)

    def cleanup_idle_nat_sessions(self) -> bool:
        return self._config.cleanup_idle_nat_sessions

    def get_tcp_nat_session_timeout(self) -> timedelta:
        return self._config.tcp_nat_session_timeout

    def get_other_nat_session_timeout(self) -> timedelta:
        return self._config.other_nat_session_timeout

    def get_service_local_endpoint_weight(self) -> int:
        return self._config.service_local_endpoint_weight

    def get_nat_loopback_ip(self) -> IPAddress:
        return self._view().inputs.plan.nat_loopback_ip

    # -- Kubernetes pods on this node --------------------------------------------

    def get_k8s_pod(self, pod_namespace: str, pod_name: str) -> PodInfo | None:
        """Labels and UID of a pod on this node, as Kubernetes reports it (None: unknown or no Kubernetes)."""
        return None if self.kubernetes is None else self.kubernetes.pod(pod_namespace, pod_name)

    def pod_exists(self, pod_namespace: str, pod_name: str) -> bool | None:
        """Whether Kubernetes still has the pod; None when that is not known (no Kubernetes, not listed yet)."""
        return None if self.kubernetes is None else self.kubernetes.pod_exists(pod_namespace, pod_name)
