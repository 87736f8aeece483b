"""Exceptions of the reconciler.

Two families, kept apart on purpose: errors a caller gets back because its
input cannot be reconciled at all (raised before anything is touched), and
errors that describe what went wrong with one item (kept in the item's
status and in the transaction record, raised only by revert-mode applies).

```
ReconcileError
├── InvalidDesiredState          the input is rejected; nothing was done
│   ├── UnknownKind              no descriptor's prefix matches a key
│   ├── KeyConflict              a derived key collides with another item
│   └── DependencyCycle          dependencies form a loop (names the keys)
├── ItemProblem                  why one item is not as desired
│   ├── Blocked                  an operation it needed to wait for failed
│   └── ForeignItemConflict      desired differs from an item the agent does not own
├── TransactionFailed            a revert-mode transaction failed and was undone
├── RetrieveFailed               a descriptor could not dump; the resync did nothing
└── ReconcilerClosed             the reconciler no longer accepts work
```
"""

from __future__ import annotations

from collections.abc import Sequence

from contivctl.reconcile.history import TxnRecord


class ReconcileError(Exception):
    """Base class of every error the reconciler raises or records."""


class InvalidDesiredState(ReconcileError):
    """The desired state cannot be planned; it was rejected as a whole."""


class UnknownKind(InvalidDesiredState):
    """A key that no registered descriptor routes, so nobody knows how to make it."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no descriptor handles key {key!r}")
        self.key = key


class KeyConflict(InvalidDesiredState):
    """Two sources claim the same key (a derived item and another item)."""

    def __init__(self, key: str, claimed_by: str, also_by: str) -> None:
        super().__init__(f"key {key!r} is claimed by {claimed_by!r} and by {also_by!r}")
        self.key = key
        self.claimed_by = claimed_by
        self.also_by = also_by


class DependencyCycle(InvalidDesiredState):
    """Items whose exact dependencies loop back; none of them could ever be created."""

    def __init__(self, keys: Sequence[str]) -> None:
        super().__init__("dependency cycle: " + " -> ".join([*keys, keys[0]]))
        self.keys = tuple(keys)


class ItemProblem(ReconcileError):
    """Explains, in an item's status, why the item is not as desired."""


class Blocked(ItemProblem):
    """The operation was not attempted because one it had to wait for failed."""

    def __init__(self, key: str, by: str) -> None:
        super().__init__(f"{key!r} not attempted: {by!r} failed first")
        self.key = key
        self.by = by


class ForeignItemConflict(ItemProblem):
    """The desired value differs from an existing item the agent does not own.

    The reconciler never changes or deletes what it does not own, so this
    stays failed until the desired value or the foreign item changes.
    """

    def __init__(self, key: str) -> None:
        super().__init__(f"{key!r} exists, is not owned by the agent and differs from the desired value")
        self.key = key


class TransactionFailed(ReconcileError):
    """A revert-mode transaction hit a failure; everything it did was undone.

    `key`, `op` and `cause` name the first operation that failed. When
    undoing itself failed, `revert_errors` lists what could not be undone
    (those items are left FAILED or RETRYING and are healed later).
    """

    def __init__(
        self,
        key: str,
        op: str,
        cause: BaseException,
        record: TxnRecord | None = None,
        revert_errors: Sequence[tuple[str, str, BaseException]] = (),
    ) -> None:
        msg = f"{op} {key!r} failed: {type(cause).__name__}: {cause}"
        if revert_errors:
            msg += "; could not undo: " + ", ".join(f"{o} {k!r} ({e})" for k, o, e in revert_errors)
        super().__init__(msg)
        self.key = key
        self.op = op
        self.cause = cause
        self.record = record
        self.revert_errors = tuple(revert_errors)


class RetrieveFailed(ReconcileError):
    """A descriptor's `retrieve` failed (or returned a key it does not handle).

    Without a complete picture of what exists a resync could delete or
    re-create the wrong things, so it stops before planning.
    """

    def __init__(self, prefix: str, cause: BaseException | str) -> None:
        text = cause if isinstance(cause, str) else f"{type(cause).__name__}: {cause}"
        super().__init__(f"retrieve of {prefix!r} failed: {text}")
        self.prefix = prefix
        self.cause = cause


class ReconcilerClosed(ReconcileError):
    """The reconciler was closed; it runs no more transactions."""
