"""Kubernetes sources: reflectors of Nodes, this node's Pods and its NodeConfig custom resource."""
