"""Which renderers play the vswitch side: VPP's (the default) or the kernel's.

The controller and the node view call renderers only through a
``Renderers`` value, so choosing the dataplane is choosing this value once,
at start; neither the renderers nor the controller branch on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import attrs

from contivctl.model import Attachment, NodeInfo
from contivctl.render.base import VswitchInputs, overlay_plan
from contivctl.render.kernel import render_kernel_base, render_kernel_node, render_kernel_pod
from contivctl.render.nodes import render_node
from contivctl.render.pod import PodNetwork, render_pod
from contivctl.render.vswitch_base import render_vswitch_base

Dataplane = Literal["vpp", "kernel"]
DATAPLANES: tuple[Dataplane, ...] = ("vpp", "kernel")


@attrs.frozen
class Renderers:
    name: Dataplane
    #: every item of one pod attachment
    pod: Callable[[Attachment, PodNetwork], dict[str, Any]]
    #: this node's vswitch base config
    base: Callable[[VswitchInputs], dict[str, Any]]
    #: this node's items towards one other node
    node: Callable[[VswitchInputs, NodeInfo], dict[str, Any]]


def _vpp_node(inputs: VswitchInputs, node: NodeInfo) -> dict[str, Any]:
    return render_node(overlay_plan(inputs), node)


VPP = Renderers(name="vpp", pod=render_pod, base=render_vswitch_base, node=_vpp_node)
KERNEL = Renderers(name="kernel", pod=render_kernel_pod, base=render_kernel_base, node=render_kernel_node)


def renderers_for(dataplane: Dataplane) -> Renderers:
    return KERNEL if dataplane == "kernel" else VPP
