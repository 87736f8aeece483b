"""Renderers of the kernel dataplane: the Linux kernel of a namespace plays the vswitch.

The pod side is the VPP dataplane's (render/pod_side.py); these render the
vswitch side of pods (pod.py), the node's base config (base.py) and the
items towards every other node (nodes.py). Pure, like every renderer.
"""

from contivctl.render.kernel.base import render_kernel_base
from contivctl.render.kernel.nodes import render_kernel_node
from contivctl.render.kernel.pod import render_kernel_pod

__all__ = ["render_kernel_base", "render_kernel_node", "render_kernel_pod"]
