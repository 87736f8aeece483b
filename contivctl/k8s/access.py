"""How the agent reaches the Kubernetes API: a kubeconfig file, in-cluster, or not at all.

Deciding it needs no client library (``client.py`` has the client), so a
node without Kubernetes never imports one.

Kubernetes is optional. Without a kubeconfig and outside a cluster the
agent runs without it (``--no-kubernetes`` says so explicitly); pod wiring
never depends on the API server being there.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

import attrs

from contivctl.errors import ConfigError, ConfigProblem

Mode = Literal["kubeconfig", "in-cluster", "none"]
#: the variables a pod's service account environment always has
IN_CLUSTER_ENV = ("KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT")


@attrs.frozen
class KubernetesAccess:
    mode: Mode
    kubeconfig: str = ""

    @property
    def enabled(self) -> bool:
        return self.mode != "none"


def choose_access(
    kubeconfig: str = "", no_kubernetes: bool = False, env: Mapping[str, str] | None = None
) -> KubernetesAccess:
    """``--no-kubernetes`` wins, then ``--kubeconfig`` (or KUBECONFIG), then the in-cluster service account."""
    env = os.environ if env is None else env
    if no_kubernetes:
        return KubernetesAccess("none")
    path = kubeconfig or env.get("KUBECONFIG", "")
    if path:
        if not os.path.exists(path):
            raise ConfigError([ConfigProblem("--kubeconfig", f"file {path} does not exist")])
        return KubernetesAccess("kubeconfig", path)
    if all(env.get(k) for k in IN_CLUSTER_ENV):
        return KubernetesAccess("in-cluster")
    return KubernetesAccess("none")
