"""A node that wires a burst of pods and reports each answered ADD: killed with -9 by a test.

Run as ``python -m tests.agent.burst_agent SOCKET STORE ANSWERS CID=NETNS...``:
each container gets one ADD in its namespace, sent 8 at a time; every answered ADD is written
as a line ``<container id> <ip>`` to ANSWERS and flushed to disk before the
next is reported, so the test knows exactly which ADDs were answered.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from contivctl.events import AddPod
from contivctl.model import PodRef
from tests.agent.support import _Remote, config, make_node


async def main(socket: str, store: str, answers: str, pods: list[str]) -> None:
    node = await make_node(_Remote(socket), Path(store), config())  # type: ignore[arg-type]
    out = open(answers, "a")  # noqa: SIM115 - kept open until the process is killed
    sem = asyncio.Semaphore(8)

    async def one(pod: str) -> None:
        cid, _, netns = pod.partition("=")
        async with sem:
            result = await node.controller.submit(
                AddPod(container_id=cid, ifname="eth0", netns=netns, pod=PodRef("burst", cid[:8]))
            )
        out.write(f"{cid} {result.attachment.ip}\n")
        out.flush()
        os.fsync(out.fileno())

    await asyncio.gather(*(one(p) for p in pods))
    await asyncio.Event().wait()  # wait to be killed


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]))
