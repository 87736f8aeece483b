"""The periodic sweep: attachments whose pod is gone are removed and their addresses freed.

A DEL that never reached the agent (the agent was down, the runtime gave
up, the node rebooted under a sandbox) leaves an attachment behind that
holds an address forever. The runtime's CNI GC verb covers runtimes that
send it; this timer covers the rest. Every ``interval`` seconds it posts
one ``SweepAttachments`` event; the controller removes, in its own order
with pods' CNI calls:

- attachments whose network namespace is gone (the sandbox is gone; no
  Kubernetes needed);
- attachments whose pod Kubernetes no longer has on this node, by UID (by
  namespace and name when the runtime gave no UID).

The second is the dangerous one: a pod wrongly taken for gone loses its
network. So it never runs before the startup resync and the first complete
pod list (an agent that has not yet read its pods knows of none), and the
index the watch keeps only makes suspects: those are confirmed by a list
read afterwards, straight from the API server. A pod exists before its
runtime asks for its network, so that list names the pod of every
attachment made before it unless the pod is really gone; a watch that lags,
or an index kept through an API server outage, cannot say as much.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Protocol

from contivctl.errors import ContivError
from contivctl.events import PodsOnNode, Submit, SweepAttachments, SweepResult
from contivctl.model import Attachment, AttachmentKey

log = logging.getLogger(__name__)

#: seconds between two sweeps unless told otherwise (docs/agent.md)
SWEEP_INTERVAL = 60.0


class PodLister(Protocol):
    """This node's pods in Kubernetes (``KubernetesSources``)."""

    def pods_now(self) -> PodsOnNode | None:
        """From the watched index; None unless listed in full and following the API server now."""
        ...

    async def list_pods(self) -> PodsOnNode:
        """A list read from the API server now; raises when it cannot be read."""
        ...


class Sweeper:
    def __init__(
        self,
        submit: Submit,
        ready: asyncio.Event,
        attachments: Callable[[], Iterable[Attachment]],
        pods: PodLister | None,
        *,
        interval: float = SWEEP_INTERVAL,
        on_result: Callable[[SweepResult], None] | None = None,
    ) -> None:
        self._submit = submit
        self._ready = ready
        self._attachments = attachments
        self._pods = pods
        self.interval = interval
        self._on_result = on_result
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="attachment sweep")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        await self._ready.wait()  # never before the startup resync
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.sweep()
            except ContivError as exc:
                log.warning("attachment sweep failed: %s", exc)
            except Exception:  # a bug must not end the sweeps for the agent's lifetime
                log.exception("attachment sweep failed unexpectedly")

    async def sweep(self) -> SweepResult:
        """One sweep (the timer's, or a test's): suspects from the index, confirmed by a fresh list."""
        pods: PodsOnNode | None = None
        suspects: frozenset[AttachmentKey] = frozenset()
        index = self._pods.pods_now() if self._pods is not None else None
        if self._pods is not None and index is not None:
            suspected = frozenset(a.key for a in self._attachments() if a.pod.name and not index.has(a))
            if suspected:
                try:
                    pods = await self._pods.list_pods()
                except Exception as exc:  # the API server is away: only gone namespaces this time
                    log.warning(
                        "attachment sweep: this node's pods not listed (%s); %d suspects left", exc, len(suspected)
                    )
                else:
                    suspects = suspected
        result: SweepResult = await self._submit(SweepAttachments(pods=pods, suspects=suspects))
        if result.removed or result.errors:
            log.info(
                "attachment sweep: %d removed (%s), %d failed",
                len(result.removed),
                ", ".join(f"{k}: {why}" for k, why in result.removed) or "none",
                len(result.errors),
            )
        if self._on_result is not None:
            self._on_result(result)
        return result
