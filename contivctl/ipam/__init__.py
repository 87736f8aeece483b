"""Node-local addressing: subnets from the node ID and pod address allocation. No I/O."""

from contivctl.ipam.allocator import PodIPAllocator
from contivctl.ipam.plan import NodeAddressPlan, ipam_config_json, node_plan

__all__ = ["NodeAddressPlan", "PodIPAllocator", "ipam_config_json", "node_plan"]
