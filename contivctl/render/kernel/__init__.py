"""Renderers of the kernel dataplane: the Linux kernel of a namespace plays the vswitch.

The pod side is the VPP dataplane's (render/pod_side.py); these render the
vswitch side of pods (pod.py), the node's base config (base.py), the
items towards every other node (nodes.py) and Services (services.py).
Pure, like every renderer. The kernel renderers share the inputs, naming
and remote-node pieces of ``render/`` with VPP's, never VPP's own renderers.
"""

from contivctl.render.kernel.base import render_kernel_base
from contivctl.render.kernel.nodes import render_kernel_node
from contivctl.render.kernel.pod import kernel_pod_network, render_kernel_pod
from contivctl.render.kernel.services import render_kernel_service
from contivctl.render.renderers import Renderers

RENDERERS = Renderers(
    name="kernel",
    network=kernel_pod_network,
    pod=render_kernel_pod,
    base=render_kernel_base,
    node=render_kernel_node,
    lease_interface=lambda inputs: None,
    service=render_kernel_service,
)

__all__ = ["RENDERERS", "kernel_pod_network", "render_kernel_base", "render_kernel_node", "render_kernel_pod"]
