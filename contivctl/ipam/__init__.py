"""Node-local addressing: subnets from the node ID and pod address allocation. No I/O."""

from contivctl.ipam.allocator import PodIPAllocator
from contivctl.ipam.node import NodeSetup, node_setup
from contivctl.ipam.plan import NodeAddressPlan, ipam_config_json, node_plan

__all__ = ["NodeAddressPlan", "NodeSetup", "PodIPAllocator", "ipam_config_json", "node_plan", "node_setup"]
