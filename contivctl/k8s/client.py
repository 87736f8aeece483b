"""A Kubernetes API client for the access ``access.py`` chose."""

from __future__ import annotations

from kubernetes_asyncio import client, config

from contivctl.k8s.access import KubernetesAccess


async def api_client(access: KubernetesAccess) -> client.ApiClient:
    """A client for ``access`` (which must be enabled); the caller closes it."""
    conf = client.Configuration()
    if access.mode == "kubeconfig":
        await config.load_kube_config(config_file=access.kubeconfig, client_configuration=conf)
    elif access.mode == "in-cluster":
        config.load_incluster_config(client_configuration=conf)  # type: ignore[no-untyped-call]
    else:
        raise ValueError("Kubernetes access is disabled")
    return client.ApiClient(configuration=conf)
