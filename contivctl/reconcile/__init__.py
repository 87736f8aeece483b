"""Generic reconciler: keyed desired state, descriptors, dependency-ordered minimal diff.

The reconciler knows keys, values, dependencies and descriptors, nothing
else. Callers hand it desired items; descriptors (one per item kind, chosen
by key prefix) know how to create, update, delete and retrieve them. See
docs/reconciler.md for the model and the contract of descriptor authors.
"""

from contivctl.reconcile.clock import Clock, LoopClock, ManualClock, Timer
from contivctl.reconcile.descriptor import Context, Descriptor
from contivctl.reconcile.errors import (
    Blocked,
    DependencyCycle,
    ForeignItemConflict,
    InvalidDesiredState,
    ItemProblem,
    KeyConflict,
    ReconcileError,
    ReconcilerClosed,
    RetrieveFailed,
    TransactionFailed,
    UnknownKind,
)
from contivctl.reconcile.history import Mode, OpRecord, PlannedOp, TxnKind, TxnRecord
from contivctl.reconcile.item import Dependency, ItemState, ItemStatus, Metadata, Retrieved
from contivctl.reconcile.plan import Op, OpKind, Plan
from contivctl.reconcile.reconciler import Reconciler
from contivctl.reconcile.retry import RetryPolicy

__all__ = [
    "Blocked",
    "Clock",
    "Context",
    "Dependency",
    "DependencyCycle",
    "Descriptor",
    "ForeignItemConflict",
    "InvalidDesiredState",
    "ItemProblem",
    "ItemState",
    "ItemStatus",
    "KeyConflict",
    "LoopClock",
    "ManualClock",
    "Metadata",
    "Mode",
    "Op",
    "OpKind",
    "OpRecord",
    "Plan",
    "PlannedOp",
    "ReconcileError",
    "Reconciler",
    "ReconcilerClosed",
    "RetrieveFailed",
    "Retrieved",
    "RetryPolicy",
    "Timer",
    "TransactionFailed",
    "TxnKind",
    "TxnRecord",
    "UnknownKind",
]
