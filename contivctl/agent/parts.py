"""What differs between the dataplane flavours, as one interface the agent assembles from.

The agent never branches on the flavour: it asks its ``DataplaneParts``
for the descriptors, the node's inputs, the renderers and what to follow,
and builds the same reconciler, views and controller around them.
``agent/vpp.py`` and ``agent/kernel.py`` are the two implementations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from contivctl.events import Post
from contivctl.ipam import NodeSetup
from contivctl.reconcile.descriptor import Descriptor
from contivctl.render.inputs import VswitchInputs
from contivctl.render.renderers import Renderers

if TYPE_CHECKING:  # a type only: the kernel flavour does not load VPP's client
    from contivctl.dataplane.vpp.connection import RequestObserver


class DataplaneParts(Protocol):
    #: the dataplane's renderers
    renderers: Renderers

    def descriptors(self) -> list[Descriptor[Any]]:
        """One descriptor per item kind the renderers produce."""
        ...

    async def connect(self) -> None:
        """Reach the dataplane (waits for VPP); called before anything is read from it."""
        ...

    async def inputs(self, setup: NodeSetup) -> VswitchInputs:
        """This node's inputs: the setup plus what is found on the node (NICs, host addresses)."""
        ...

    def follow(self, post: Post) -> None:
        """Turn what the dataplane reports by itself (leases, restarts) into events."""
        ...

    def not_ready(self) -> str | None:
        """Why pods cannot be served now (VPP not connected), or None."""
        ...

    def observe(self, observer: RequestObserver) -> None:
        """Tell ``observer`` of every request to the dataplane's API that has one (VPP's)."""
        ...

    def describe(self) -> dict[str, Any]:
        """The dataplane as ``contivctl status`` shows it (camelCase keys)."""
        ...

    async def cli(self, command: str) -> str:
        """A command for the dataplane's own CLI (VPP's), its output; raises ContivError without one."""
        ...

    async def close(self) -> None: ...
