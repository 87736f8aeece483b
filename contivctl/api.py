"""Read-only queries of the agent's view for components running in the agent.

The original's plugin API (GetIfName, GetPodByIf, …) in snake_case. Every
answer is read from the controller's view as it stands; nothing here changes
it — changes go through events.
"""

from __future__ import annotations

from collections.abc import Mapping

from contivctl.config import Config
from contivctl.config.convert import IPNetwork
from contivctl.controller import Controller
from contivctl.controller.controller import PodHook
from contivctl.model import Attachment, AttachmentKey, PodRef
from contivctl.render import naming


class ContivAPI:
    def __init__(self, controller: Controller, config: Config, pod_network_this_node: IPNetwork) -> None:
        self._controller = controller
        self._config = config
        self._pod_network = pod_network_this_node

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
        for att in self._controller.attachments.values():
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
                for a in self._controller.attachments.values()
                if a.tcp_stack and naming.app_namespace_id(a.container_id, a.ifname) == ns_id
            ),
            None,
        )

    def get_container_index(self) -> Mapping[AttachmentKey, Attachment]:
        return dict(self._controller.attachments)

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
