"""The agent's options: the one place their defaults are written.

``contivctl agent`` builds an ``AgentOptions`` from its command line and
environment; the command line's defaults are read from here (``default``),
so the two cannot disagree. docs/agent.md lists each with its variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import attrs

if TYPE_CHECKING:  # the command line reads this module on every run: keep it light
    from contivctl.kv.etcdconf import EtcdConfig

#: who plays the vswitch
Dataplane = Literal["vpp", "kernel"]
DATAPLANES: tuple[Dataplane, ...] = ("vpp", "kernel")
#: the DEL queue's directory beside the CNI socket, unless given (the plugin's default too)
DEL_QUEUE_NAME = "cni-del-queue"


@attrs.frozen
class AgentOptions:
    """Command-line options, each with an environment fallback (docs/agent.md)."""

    config: Path
    node_name: str
    node_id: int = 1
    store: Path = Path("/var/lib/contiv/agent.db")
    vpp_socket: str = "/run/vpp/api.sock"
    vpp_api_dir: str = "/usr/share/vpp/api"
    cni_socket: str = "/var/run/contiv/cni.sock"
    #: where contiv-cni queues the DELs it cannot hand over ("": ``cni-del-queue`` beside ``cni_socket``,
    #: the plugin's default too, so that both agree whenever they agree on the socket)
    cni_del_queue: str = ""
    #: seconds between drains of the DEL queue after the first (at start, before the CNI server serves)
    cni_del_queue_interval: float = 10.0
    http: str = "127.0.0.1:9999"
    vpp_timeout: float = 5.0
    #: Kubernetes access: a kubeconfig file, else in-cluster when its environment is there
    kubeconfig: str = ""
    no_kubernetes: bool = False
    #: how long the start waits for this node's NodeConfig to be read (then goes on without it)
    k8s_sync_timeout: float = 5.0
    #: how long a CNI call arriving before the startup resync is done waits for it
    cni_ready_timeout: float = 10.0
    #: seconds the event loop may go without turning before /liveness fails (docs/agent.md)
    liveness_timeout: float = 20.0
    #: seconds between two sweeps for attachments whose pod is gone (0: none; docs/agent.md)
    gc_interval: float = 60.0
    #: who plays the vswitch: VPP, or the Linux kernel of ``vswitch_netns`` (docs/kernel-dataplane.md)
    dataplane: Dataplane = "vpp"
    #: kernel dataplane: the namespace playing the vswitch ("" = the agent's own)
    vswitch_netns: str = ""
    #: the cluster store; None: a lone node (docs/cluster.md)
    etcd: EtcdConfig | None = None
    #: take the node ID from etcd's allocator instead of ``node_id``
    allocate_node_id: bool = False
    #: the other nodes from a file instead of etcd (docs/cluster.md, "Without etcd")
    nodes_file: Path | None = None
    #: Kubernetes Services from a file instead of the API server (docs/services.md)
    services_file: Path | None = None
    #: leave Services to someone else (kube-proxy): no Services are forwarded even with Kubernetes
    no_services: bool = False

    @property
    def del_queue_dir(self) -> Path:
        """The DEL queue's directory (cni-plugin/spec.go: the plugin's delQueueDir, by default the same)."""
        return Path(self.cni_del_queue) if self.cni_del_queue else Path(self.cni_socket).parent / DEL_QUEUE_NAME


def default(name: str) -> Any:
    """The default of option ``name``, for the command line's help and fallbacks."""
    return attrs.fields_dict(AgentOptions)[name].default
