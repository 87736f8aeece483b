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
        started_at=1764620000.125 if n % 2 else 0.0,
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


def test_the_wall_clock_start_is_iso_8601_utc() -> None:
    assert record(1).to_dict()["startedAt"] == "2025-12-01T20:13:20.125+00:00"
    assert record(0).to_dict()["startedAt"] == ""
