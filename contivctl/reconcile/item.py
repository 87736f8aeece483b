"""The vocabulary shared by the reconciler and descriptor authors.

An item is a key (a stable string) and a value (a frozen attrs object the
reconciler never looks inside). Everything the reconciler needs to know
about a value — what it depends on, what it derives, whether two values
are the same — it asks the value's descriptor.
"""

from __future__ import annotations

import enum
import functools
from typing import Any

import attrs

#: Whatever `create` returns (an index number, a handle); opaque to the reconciler.
Metadata = Any


@attrs.frozen
class Dependency:
    """What an item needs to exist before it can be created.

    Either one exact key, or "any key starting with `target`" (`prefix=True`):
    the latter is an OR over all matching keys, satisfied while at least one
    of them (other than the item itself) exists.
    """

    target: str
    prefix: bool = False

    @classmethod
    def on(cls, key: str) -> Dependency:
        return _shared(key, False)

    @classmethod
    def any_under(cls, prefix: str) -> Dependency:
        return _shared(prefix, True)

    def matches(self, key: str) -> bool:
        return key.startswith(self.target) if self.prefix else key == self.target


@functools.lru_cache(maxsize=1 << 14)
def _shared(target: str, prefix: bool) -> Dependency:
    """One object per dependency in use: many items depend on the same interface or VRF.

    Frozen, so sharing is invisible, and a hundred thousand items need not
    keep a hundred thousand copies of a few hundred dependencies alive for
    the memory and the garbage collector to walk. Bounded, as keys come and go.
    """
    return Dependency(target, prefix)


@attrs.frozen
class Retrieved:
    """One item as a descriptor's `retrieve` found it in the dataplane.

    `owned` overrides the descriptor's `owns(key, value)` when the dump itself
    knows (e.g. a tag the agent wrote on create); None means "ask `owns`".
    """

    key: str
    value: Any
    metadata: Metadata = None
    owned: bool | None = None


class ItemState(enum.Enum):
    """Where an item stands after the last transaction that looked at it."""

    #: exists and is equivalent to the desired value
    CONFIGURED = "configured"
    #: desired, but a dependency is missing; created as soon as it appears
    PENDING = "pending"
    #: the last operation failed and will not be retried automatically
    FAILED = "failed"
    #: the last operation failed with a retriable error; a retry is scheduled
    RETRYING = "retrying"


@attrs.frozen
class ItemStatus:
    """The state of one item, with enough context to answer "why not?"."""

    state: ItemState
    #: the failure (type and message) when FAILED or RETRYING
    error: str | None = None
    #: the dependencies (keys or "prefix*") that are missing when PENDING
    waiting_for: tuple[str, ...] = ()
    #: consecutive retriable failures
    attempts: int = 0
    #: clock time of the next retry when RETRYING
    retry_at: float | None = None
    #: sequence number of the transaction that last set this status
    txn: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "error": self.error,
            "waitingFor": list(self.waiting_for),
            "attempts": self.attempts,
            "retryAt": self.retry_at,
            "txn": self.txn,
        }


def describe(dep: Dependency) -> str:
    """How a dependency is shown to people: a key, or a prefix followed by `*`."""
    return dep.target + "*" if dep.prefix else dep.target
