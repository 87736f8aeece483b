"""Where this agent learns of Services: Kubernetes, a services file, or nowhere.

As with the other nodes, what is known of them before the startup resync
goes into the service view first, so that a restarted agent leaves every
Service's items alone; afterwards only their changes arrive as events.
Kubernetes' are read from its reflectors' first lists (the start waits
for them, bounded); the file's are read once, then followed.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from contivctl.cluster.servicefile import ServicesFile
from contivctl.controller import Controller

if TYPE_CHECKING:
    from contivctl.k8s.sources import KubernetesSources

log = logging.getLogger(__name__)


async def services_from_kubernetes(sources: KubernetesSources, controller: Controller, timeout: float) -> None:
    """The Services and EndpointSlices of the reflectors' first lists into the view (waits at most ``timeout``)."""
    from contivctl.k8s import objects

    waits = [r.synced.wait() for r in (sources.services, sources.endpoint_slices) if r is not None]
    if not waits:
        return
    try:
        await asyncio.wait_for(asyncio.gather(*waits), timeout)
    except TimeoutError:
        log.warning("Services not listed within %.0fs; they follow from the watch", timeout)
        return
    view = controller.services
    services, slices = sources.service_objects()
    for obj in services:
        svc = objects.service_of(obj)
        if svc is not None:
            view.set_service(svc)
    for obj in slices:
        sl = objects.endpoint_slice_of(obj)
        if sl is not None:
            view.set_slice(sl)
    log.info("%d Services, %d EndpointSlices from Kubernetes", len(view.services), len(view.slices))


class ServicesFromFile:
    """The services file, read before the startup resync and followed afterwards."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file: ServicesFile | None = None

    async def before_resync(self, controller: Controller) -> None:
        self.file = ServicesFile(self.path, controller.post)
        services, slices = self.file.read()  # in this process: nothing is served yet (see NodesFile)
        view = controller.services
        for svc in services:
            view.set_service(svc)
        for sl in slices:
            view.set_slice(sl)
        self.file.seed(services, slices)
        log.info("%d Services from %s", len(services), self.path)

    async def start(self) -> None:
        if self.file is not None:
            await self.file.start()

    async def stop(self) -> None:
        if self.file is not None:
            await self.file.stop()
