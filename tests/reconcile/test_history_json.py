"""Transaction records as JSON: written piece by piece, the same text as at once."""

from __future__ import annotations

import json

import pytest

from contivctl.reconcile.history import Mode, OpRecord, PlannedOp, TxnKind, TxnRecord
from contivctl.reconcile.item import ItemState, ItemStatus


def record(n: int) -> TxnRecord:
    return TxnRecord(
        7,
        TxnKind.RESYNC_FULL,
        "startup resync",
        Mode.BEST_EFFORT,
        12.5,
        tuple(PlannedOp("create", f"k/{i}", "missing", (i - 1,) if i else ()) for i in range(n)),
        ops=tuple(
            OpRecord("create", f"k/{i}", "failed" if i % 7 == 0 else "ok", error="E" if i % 7 == 0 else None)
            for i in range(n)
        ),
        states={f"k/{i}": ItemStatus(ItemState.CONFIGURED, txn=7) for i in range(n)},
        error=None,
        done=True,
        duration=0.25,
    )


@pytest.mark.parametrize("n", [0, 1, 2, 255, 256, 257, 1000])
@pytest.mark.parametrize("size", [1, 100, 256])
def test_the_pieces_joined_are_the_whole_record(n: int, size: int) -> None:
    r = record(n)
    assert "".join(r.json_chunks(size)) == json.dumps(r.to_dict())


def test_no_piece_holds_more_than_size_entries() -> None:
    pieces = list(record(1000).json_chunks(100))
    # plan, ops and states of 1,000 entries each come in pieces of 100, plus the joints between the parts
    assert len(pieces) >= 30
    assert max(piece.count('"key"') + piece.count('"state"') for piece in pieces) <= 100
