"""What the agent reads out of Kubernetes objects (plain dicts as the API serves them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from contivctl.config.model import NodeConfig
from contivctl.config.schema import Loader
from contivctl.errors import ConfigError

#: NodeConfig custom resources (reference: contiv's nodeconfig CRD)
NODECONFIG_GROUP = "nodeconfig.contiv.vpp"
NODECONFIG_VERSION = "v1"
NODECONFIG_PLURAL = "nodeconfigs"
NODECONFIG_KIND = "NodeConfig"
_ADDRESS_TYPES = ("InternalIP", "ExternalIP")


def management_ips(node: Mapping[str, Any]) -> tuple[str, ...]:
    """InternalIP and ExternalIP addresses of a Node, de-duplicated, in the order listed."""
    out: list[str] = []
    for a in (node.get("status") or {}).get("addresses") or []:
        if a.get("type") in _ADDRESS_TYPES and a.get("address") and a["address"] not in out:
            out.append(str(a["address"]))
    return tuple(out)


def node_config_of(obj: Mapping[str, Any]) -> NodeConfig:
    """A NodeConfig resource's spec as the config model (the file's node entry form); ConfigError if invalid."""
    loader = Loader("contiv.conf")
    name = str((obj.get("metadata") or {}).get("name", ""))
    cfg = loader.load(NodeConfig, obj.get("spec") or {}, path=f"NodeConfig {name} spec")
    if loader.problems:
        raise ConfigError(loader.problems)
    return attrs.evolve(cfg, node_name=name)


@attrs.frozen
class PodInfo:
    """A pod scheduled on this node, as far as wiring cares."""

    namespace: str
    name: str
    uid: str
    labels: dict[str, str] = attrs.field(factory=dict, hash=False)


def pod_info(obj: Mapping[str, Any]) -> PodInfo:
    meta = obj.get("metadata") or {}
    return PodInfo(
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        uid=str(meta.get("uid", "")),
        labels={str(k): str(v) for k, v in (meta.get("labels") or {}).items()},
    )
