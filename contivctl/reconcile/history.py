"""Transaction records: what was planned, what was done, and where every item ended up.

Records are frozen plain data (strings, numbers, enums with string values)
so the CLI and REST can show them without knowing descriptors; `to_dict`
gives the JSON form. A record is stored twice: once with its plan before
anything runs (`done` false), then replaced with its outcome.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Mapping
from typing import Any

import attrs

from contivctl.reconcile.item import ItemStatus
from contivctl.reconcile.plan import Plan
from contivctl.reconcile.txn import Mode, OpResult


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
        return attrs.asdict(self)


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
        }


def error_text(exc: BaseException | None) -> str | None:
    return None if exc is None else f"{type(exc).__name__}: {exc}"


def planned(plan: Plan) -> tuple[PlannedOp, ...]:
    return tuple(PlannedOp(op.kind.value, op.key, op.reason, plan.preds[i]) for i, op in enumerate(plan.ops))


def op_record(r: OpResult) -> OpRecord:
    error = error_text(r.error)
    if error is None and r.blocked_by is not None:
        error = f"blocked by {r.blocked_by!r}"
    return OpRecord(r.op.value, r.key, r.outcome.value, error, r.duration, r.undo)


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
