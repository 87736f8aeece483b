"""A CRI client (Kubernetes' runtime/v1), generated from cri-api's api.proto: how kubelet talks to containerd."""
