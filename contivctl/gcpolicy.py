"""How the agent process asks Python's cyclic garbage collector to behave.

The agent allocates in bursts: a resync of a node with hundreds of pods
decodes tens of thousands of VPP messages and builds as many items, and a
burst of pod events does the same on a smaller scale. With the default
thresholds (a collection every 700 net allocations, a full one every 100 of
those) the full collections walk the whole heap again and again in such a
burst: measured on a 500-pod restart, 0.4 to 0.8 s of a 1.7 s start went to
the collector. Cyclic garbage is still collected, only less often.
"""

from __future__ import annotations

import gc

#: young-generation threshold and the two older generations' multipliers
THRESHOLDS = (10_000, 50, 50)


def tune() -> None:
    """Set the agent's thresholds (for the whole process: call once, at start)."""
    gc.set_threshold(*THRESHOLDS)


def settle() -> None:
    """After start-up: what exists now lives as long as the agent, so later collections skip it.

    Frozen without a collection first: a full collection of the start-up heap
    held the event loop for 80-100 ms right after readiness (500 pods),
    longer than any stall the agent allows itself. Start-up makes little
    cyclic garbage (decoded messages go by reference counting), and what of
    it is frozen stays, a bounded cost paid once.
    """
    gc.freeze()
