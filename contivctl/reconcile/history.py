"""Transaction records: what was planned, what was done, and where every item ended up.

Records are frozen plain data (strings, numbers, enums with string values)
so the CLI and REST can show them without knowing descriptors; `to_dict`
gives the JSON form. A record is stored twice: once with its plan before
anything runs (`done` false), then replaced with its outcome.

The module knows nothing of plans or executors: the errors of the reconciler
carry records, and everything else of the reconciler imports those errors.
What a transaction is (its kind and its mode) is therefore defined here, and
the reconciler turns plans and results into records.
"""

from __future__ import annotations

import datetime
import enum
import json
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from contivctl.reconcile.item import ItemStatus


class Mode(enum.Enum):
    """What a transaction does when an operation fails."""

    #: undo everything the transaction did and raise TransactionFailed
    REVERT = "revert"
    #: do all that can be done; keep failed items FAILED or RETRYING
    BEST_EFFORT = "best-effort"


class TxnKind(enum.Enum):
    #: desired changes handed over by the caller
    APPLY = "apply"
    #: desired replaced and actual re-read through every descriptor
    RESYNC_FULL = "resync-full"
    #: actual re-read, healed towards the cached desired state
    RESYNC_DOWNSTREAM = "resync-downstream"
    #: scheduled retry of items that failed with a retriable error
    RETRY = "retry"


@attrs.frozen
class PlannedOp:
    op: str
    key: str
    reason: str
    #: indexes (in the plan) of the operations this one waits for
    after: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "key": self.key, "reason": self.reason, "after": list(self.after)}


@attrs.frozen
class OpRecord:
    op: str
    key: str
    #: "ok", "failed", "skipped" (an operation it waited for failed), "not-run" (revert stopped)
    outcome: str
    error: str | None = None
    #: seconds
    duration: float = 0.0
    #: run to undo an earlier operation of the same transaction
    undo: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "op": self.op,
            "key": self.key,
            "outcome": self.outcome,
            "error": self.error,
            "duration": self.duration,
            "undo": self.undo,
        }


@attrs.frozen
class TxnRecord:
    seq: int
    kind: TxnKind
    trigger: str
    mode: Mode
    #: clock time at which it started
    started: float
    plan: tuple[PlannedOp, ...]
    #: executed operations, undo operations last; empty until `done`
    ops: tuple[OpRecord, ...] = ()
    #: status of every item the transaction planned or re-examined
    states: Mapping[str, ItemStatus] = attrs.field(factory=dict)
    #: the failure that made a revert-mode transaction undo itself
    error: str | None = None
    done: bool = False
    #: seconds spent, planning included
    duration: float = 0.0
    #: wall-clock time at which it started (seconds since the epoch), for people and logs
    started_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "kind": self.kind.value,
            "trigger": self.trigger,
            "mode": self.mode.value,
            "started": self.started,
            "plan": [p.to_dict() for p in self.plan],
            "ops": [o.to_dict() for o in self.ops],
            "states": {k: s.to_dict() for k, s in sorted(self.states.items())},
            "error": self.error,
            "done": self.done,
            "duration": self.duration,
            "startedAt": _iso(self.started_at),
        }

    def json_chunks(self, size: int = 256) -> Iterator[str]:
        """``to_dict`` as JSON text, in pieces of at most ``size`` plan entries, operations or states.

        A resync of thousands of items leaves a record of tens of thousands
        of entries; a server that must not hold its event loop for the time
        it takes to serialise one writes it piece by piece, yielding in
        between. The pieces joined are exactly ``json.dumps(to_dict())``.
        """
        dumps = json.dumps
        head: dict[str, Any] = {"seq": self.seq, "kind": self.kind.value, "trigger": self.trigger}
        head.update(mode=self.mode.value, started=self.started)
        yield dumps(head)[:-1] + ', "plan": ['
        yield from _pieces([p.to_dict() for p in self.plan[i : i + size]] for i in range(0, len(self.plan), size))
        yield '], "ops": ['
        yield from _pieces([o.to_dict() for o in self.ops[i : i + size]] for i in range(0, len(self.ops), size))
        yield '], "states": {'
        states = sorted(self.states.items())
        first = True
        for i in range(0, len(states), size):
            text = ", ".join(f"{dumps(k)}: {dumps(v.to_dict())}" for k, v in states[i : i + size])
            yield text if first else ", " + text
            first = False
        tail = {"error": self.error, "done": self.done, "duration": self.duration, "startedAt": _iso(self.started_at)}
        yield "}, " + dumps(tail)[1:]


def _iso(wall: float) -> str:
    """ISO 8601 in UTC with milliseconds; "" when unknown."""
    if not wall:
        return ""
    return datetime.datetime.fromtimestamp(wall, datetime.UTC).isoformat(timespec="milliseconds")


def _pieces(chunks: Iterable[list[dict[str, Any]]]) -> Iterator[str]:
    """The elements of a JSON array, a chunk at a time, with the commas between them."""
    first = True
    for chunk in chunks:
        text = json.dumps(chunk)[1:-1]
        if text:
            yield text if first else ", " + text
            first = False


def error_text(exc: BaseException | None) -> str | None:
    return None if exc is None else f"{type(exc).__name__}: {exc}"


class History:
    """The last `size` transaction records, oldest first."""

    def __init__(self, size: int) -> None:
        self._records: deque[TxnRecord] = deque(maxlen=max(1, size))

    def put(self, record: TxnRecord) -> None:
        if self._records and self._records[-1].seq == record.seq:
            self._records[-1] = record
        else:
            self._records.append(record)

    def records(self) -> list[TxnRecord]:
        return list(self._records)

    def get(self, seq: int) -> TxnRecord | None:
        for r in self._records:
            if r.seq == seq:
                return r
        return None
