"""What a Kubernetes source can set off besides posting events (kept apart: no client library needed)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

#: awaited with a node's name when its Kubernetes Node is deleted, before NodeRemoved is posted
NodeRemovalHook = Callable[[str], Awaitable[None]]
