"""The agent's Kubernetes sources: Nodes, Pods on this node, and this node's NodeConfig.

Each is a reflector whose changes become controller events, handed over
through the one injected ``post`` (the only way into the view), or, for
pods, are kept as an index the API reads. Sources never import the
controller.

- Node objects → ``ManagementIPsChanged`` for every node; a deleted Node →
  the registered node-removal hooks (the cluster store forgets the node),
  then ``NodeRemoved``.
- Pods with ``spec.nodeName`` = this node → ``pods``: labels, UIDs, which
  pods exist.
- The NodeConfig resource named after this node (the CRD is cluster-scoped,
  so only who may write cluster-wide objects of its group can re-address a
  node; the cluster-wide list reads it as it read the namespaced original)
  → ``NodeConfigChanged`` with the spec, or with None once deleted: the CRD
  replaces the file's node entry whole. Not watched at all with
  ``node_configs=False`` (CRDNodeConfigurationDisabled: the file's entry is
  the only one).
- Services → ``ServiceUpdated`` / ``ServiceRemoved``, EndpointSlices
  (discovery.k8s.io/v1) → ``EndpointsUpdated`` (their ready endpoints) /
  ``EndpointsRemoved``; a change that does not change what is forwarded
  (a status, an annotation, a resourceVersion) posts nothing. Only with
  ``services=True``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable
from typing import Any

import aiohttp
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from contivctl.config.model import NodeConfig
from contivctl.errors import ConfigError
from contivctl.events import (
    EndpointsRemoved,
    EndpointsUpdated,
    ManagementIPsChanged,
    NodeConfigChanged,
    NodeRemoved,
    PodsOnNode,
    Post,
    ServiceRemoved,
    ServiceUpdated,
)
from contivctl.k8s import objects
from contivctl.k8s.hooks import NodeRemovalHook
from contivctl.k8s.objects import PodInfo
from contivctl.k8s.reflector import Obj, Reflector
from contivctl.model import PodRef

log = logging.getLogger(__name__)

#: seconds an ADD waits for a pod's labels from the API server before wiring it without them
LABELS_READ_TIMEOUT = 5.0


class KubernetesSources:
    def __init__(
        self, api: client.ApiClient, node_name: str, post: Post, *, node_configs: bool = True, services: bool = False
    ) -> None:
        self._api = api
        self._watch_node_configs = node_configs
        self._post = post
        self.node_name = node_name
        self.pods: dict[str, PodInfo] = {}
        self._removal_hooks: list[NodeRemovalHook] = []
        self._tasks: list[asyncio.Task[None]] = []
        core = client.CoreV1Api(api)
        custom = client.CustomObjectsApi(api)
        self.nodes = Reflector("k8s nodes", core.list_node, self._on_node)
        self.pod_reflector = Reflector(
            "k8s pods",
            core.list_pod_for_all_namespaces,
            self._on_pod,
            kwargs={"field_selector": f"spec.nodeName={node_name}"},
        )
        self.node_configs = Reflector(
            "k8s nodeconfigs",
            custom.list_cluster_custom_object,
            self._on_node_config,
            kwargs={
                "group": objects.NODECONFIG_GROUP,
                "version": objects.NODECONFIG_VERSION,
                "plural": objects.NODECONFIG_PLURAL,
                "field_selector": f"metadata.name={node_name}",
            },
        )
        #: Services and their EndpointSlices, when this agent forwards Services
        self.services: Reflector | None = None
        self.endpoint_slices: Reflector | None = None
        if services:
            self.services = Reflector("k8s services", core.list_service_for_all_namespaces, self._on_service)
            self.endpoint_slices = Reflector(
                "k8s endpointslices",
                client.DiscoveryV1Api(api).list_endpoint_slice_for_all_namespaces,
                self._on_endpoint_slice,
            )

    def register_node_removal_hook(self, hook: NodeRemovalHook) -> None:
        """``await hook(name)`` when a Node object is deleted (before NodeRemoved is posted)."""
        self._removal_hooks.append(hook)

    def reflectors(self) -> tuple[Reflector, ...]:
        """The reflectors this agent runs (NodeConfig's only while the CRD configures nodes, Services' when asked)."""
        watched = [self.nodes, self.pod_reflector]
        if self._watch_node_configs:
            watched.append(self.node_configs)
        watched.extend(r for r in (self.services, self.endpoint_slices) if r is not None)
        return tuple(watched)

    def start(self) -> None:
        for r in self.reflectors():
            self._tasks.append(asyncio.create_task(r.run(), name=r.name))

    async def close(self) -> None:
        """Close the API client (after ``stop``)."""
        await self._api.close()

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks.clear()

    # -- queries ---------------------------------------------------------------

    def node_config(self) -> NodeConfig | None:
        """This node's NodeConfig as last read (None: there is none, or it is invalid)."""
        for key, obj in self.node_configs.cache.items():
            if key.rsplit("/", 1)[-1] == self.node_name:
                try:
                    return objects.node_config_of(obj)
                except ConfigError:
                    return None
        return None

    def pod(self, namespace: str, name: str) -> PodInfo | None:
        return self.pods.get(f"{namespace}/{name}")

    async def pod_labels(self, pod: PodRef) -> dict[str, str] | None:
        """The pod's labels: from the watched index, else read from the API server; None when not known.

        Kubelet runs a pod's ADD only after it was bound to this node, so the
        watch has mostly brought the pod already; a read covers the rest.
        """
        info = self.pod(pod.namespace, pod.name)
        if info is not None:
            return dict(info.labels)
        try:
            # the raw response: the client's models refuse what they do not expect, and only labels matter
            resp: Any = await client.CoreV1Api(self._api).read_namespaced_pod(
                pod.name, pod.namespace, _request_timeout=LABELS_READ_TIMEOUT, _preload_content=False
            )
            try:
                if not 200 <= resp.status <= 299:
                    raise ApiException(status=resp.status, reason=resp.reason)
                obj = json.loads(await resp.read())
            finally:
                resp.release()
        except ApiException as exc:
            log.warning("labels of pod %s not read: API error %s: %s", pod, exc.status, exc.reason)
            return None
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
            log.warning("labels of pod %s not read: %s: %s", pod, type(exc).__name__, exc)
            return None
        return dict(objects.pod_info(obj).labels)

    def pod_exists(self, namespace: str, name: str) -> bool | None:
        """Whether the pod exists; None while the pod list has never been read (unknown)."""
        if not self.pod_reflector.synced.is_set():
            return None
        return f"{namespace}/{name}" in self.pods

    def pods_now(self) -> PodsOnNode | None:
        """This node's pods from the watched index; None unless it was listed in full and follows the API server."""
        r = self.pod_reflector
        if not r.synced.is_set() or not r.watching:
            return None
        return _pods_on_node(self.pods.values())

    async def list_pods(self) -> PodsOnNode:
        """This node's pods as the API server has them now (a list of its own; raises if it cannot be read)."""
        objs = await self.pod_reflector.fetch()
        mine = (o for o in objs if isinstance(o, dict) and (o.get("spec") or {}).get("nodeName") == self.node_name)
        return _pods_on_node(objects.pod_info(o) for o in mine)

    # -- changes ---------------------------------------------------------------

    async def _on_node(self, key: str, old: Obj | None, new: Obj | None) -> None:
        if new is None:
            for hook in self._removal_hooks:
                try:
                    await hook(key)
                except Exception:  # the store may be away; the node's dataplane items still go
                    log.exception("node removal hook failed for %s", key)
            self._post(NodeRemoved(node_id=0, node_name=key))
            return
        ips = objects.management_ips(new)
        if old is None or objects.management_ips(old) != ips:
            self._post(ManagementIPsChanged(node_name=key, ips=ips))

    async def _on_pod(self, key: str, old: Obj | None, new: Obj | None) -> None:
        if new is not None and (new.get("spec") or {}).get("nodeName") != self.node_name:
            new = None  # the server ignored the field selector, or the pod moved: not ours
        if new is None:
            self.pods.pop(key, None)
        else:
            self.pods[key] = objects.pod_info(new)

    async def _on_node_config(self, key: str, old: Obj | None, new: Obj | None) -> None:
        name = key.rsplit("/", 1)[-1]
        if name != self.node_name:
            return
        if new is None:
            self._post(NodeConfigChanged(node_config=None))
            return
        try:
            cfg = objects.node_config_of(new)
        except ConfigError as exc:
            log.error("NodeConfig %s ignored: %s", key, "; ".join(str(p) for p in exc.problems))
            return
        if old is not None and old.get("spec") == new.get("spec"):
            return
        self._post(NodeConfigChanged(node_config=cfg))


    async def _on_service(self, key: str, old: Obj | None, new: Obj | None) -> None:
        before = None if old is None else objects.service_of(old)
        after = None if new is None else objects.service_of(new)
        if after is not None:
            if after != before:
                self._post(ServiceUpdated(service=after))
        elif before is not None:  # deleted, or no longer forwarded (made headless or ExternalName)
            self._post(ServiceRemoved(ref=before.ref))

    async def _on_endpoint_slice(self, key: str, old: Obj | None, new: Obj | None) -> None:
        before = None if old is None else objects.endpoint_slice_of(old)
        after = None if new is None else objects.endpoint_slice_of(new)
        if after is not None:
            if after != before:
                self._post(EndpointsUpdated(slice=after))
        elif before is not None:
            self._post(EndpointsRemoved(namespace=before.namespace, name=before.name))

    def service_objects(self) -> tuple[list[Obj], list[Obj]]:
        """The Services and EndpointSlices as last read (for the view before the startup resync)."""
        services = list(self.services.cache.values()) if self.services is not None else []
        slices = list(self.endpoint_slices.cache.values()) if self.endpoint_slices is not None else []
        return services, slices


def _pods_on_node(pods: Iterable[PodInfo]) -> PodsOnNode:
    listed = list(pods)
    return PodsOnNode(
        uids=frozenset(p.uid for p in listed if p.uid),
        names=frozenset(PodRef(p.namespace, p.name) for p in listed),
    )


def describe(sources: KubernetesSources | None) -> dict[str, Any]:
    """Health of the reflectors, for logs and status output."""
    if sources is None:
        return {"enabled": False}
    return {
        "enabled": True,
        **{
            r.name: {"synced": r.synced.is_set(), "lists": r.lists, "error": r.last_error}
            for r in sources.reflectors()
        },
    }
