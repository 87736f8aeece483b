"""The agent's side of the DEL queue (contivctl/cni/delqueue.py), with a controller that only records.

The files are written as contiv-cni writes them (cni-plugin/delqueue.go:
the same name, the same fields); tests/cni/test_del_queue_agent.py runs
the real plugin and the real agent.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import pytest

from contivctl.cni.delqueue import STALE_TEMP_SECONDS, DeleteQueue, NotQueuedDelete, file_name, parse
from contivctl.errors import ContivError, DataplaneError
from contivctl.events import DeletePod, Event
from contivctl.model import AttachmentKey
from tests.polling import until

#: the name contiv-cni gives the queued DEL of 0123456789abcdef/eth0
PLUGINS_NAME = "95d930c5a66b2036a9ec16dc13c504ed7f547806f37744d78cfdbac51bbb9913.json"


def queued(cid: str, ifname: Any = "eth0", netns: Any = "/var/run/netns/p", **more: Any) -> dict[str, Any]:
    """A queued DEL as the plugin writes it."""
    netconf = {"cniVersion": "1.0.0", "name": "k8s-pod-network", "type": "contiv-cni", "grpcServer": "/x/cni.sock"}
    return {
        "format": 1,
        "cniVersion": "1.0.0",
        "containerId": cid,
        "ifname": ifname,
        "netns": netns,
        "cniArgs": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-{cid}",
        "netconf": netconf,
        "queuedAt": "2026-05-01T10:00:00.123456789Z",
        **more,
    }


def write(queue: Path, entry: dict[str, Any]) -> Path:
    queue.mkdir(mode=0o700, exist_ok=True)
    path = queue / file_name(entry["containerId"], entry["ifname"])
    path.write_text(json.dumps(entry) + "\n")
    return path


class Controller:
    """Records each DeletePod; fails those of the container IDs in ``failing``."""

    def __init__(self) -> None:
        self.deleted: list[DeletePod] = []
        self.failing: set[str] = set()
        #: DELs wait for it, when set
        self.gate: asyncio.Event | None = None
        self.submitted = 0

    async def submit(self, event: Event) -> None:
        assert isinstance(event, DeletePod), event
        self.submitted += 1
        if self.gate is not None:
            await self.gate.wait()
        if event.container_id in self.failing:
            raise DataplaneError("VPP refused: no such interface")
        self.deleted.append(event)

    @property
    def keys(self) -> list[AttachmentKey]:
        return [AttachmentKey(e.container_id, e.ifname) for e in self.deleted]


def test_the_file_name_is_the_plugins() -> None:
    # sha256 of "<container ID>\0<ifname>"; cni-plugin/delqueue_test.go holds queueFileName to the same name
    assert file_name("0123456789abcdef", "eth0") == hashlib.sha256(b"0123456789abcdef\0eth0").hexdigest() + ".json"
    assert file_name("0123456789abcdef", "eth0") == PLUGINS_NAME
    assert file_name("ab", "c") != file_name("a", "bc")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1]", "not a JSON object"),
        (json.dumps(queued("c1", format=2)).encode(), "format 2"),
        (json.dumps({k: v for k, v in queued("c1").items() if k != "format"}).encode(), "format None"),
        (json.dumps(queued("", "eth0")).encode(), "containerId"),
        (json.dumps(queued("c1", ifname=7)).encode(), "ifname"),
        (json.dumps(queued("c1", netns=None)).encode(), "netns"),
        (json.dumps(queued("c1", netconf="{}")).encode(), "netconf"),
    ],
)
def test_what_is_not_a_queued_del_is_said(data: bytes, reason: str) -> None:
    with pytest.raises(NotQueuedDelete, match=reason):
        parse(data)


async def test_a_queued_del_carries_the_whole_call() -> None:
    q = parse(json.dumps(queued("c1", netns="")).encode())
    assert (q.key, q.netns, q.cni_version) == (AttachmentKey("c1", "eth0"), "", "1.0.0")
    assert q.netconf["grpcServer"] == "/x/cni.sock" and "K8S_POD_NAME=pod-c1" in q.cni_args
    event = q.event()
    assert (event.container_id, event.ifname, event.netns) == ("c1", "eth0", "")
    age = q.age(time.time())
    assert age is not None and age > 0


async def test_a_drain_does_each_del_and_removes_its_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    queue = tmp_path / "queue"
    for n in range(100):  # more than one round of CONCURRENCY
        write(queue, queued(f"c{n:03d}"))
    ctl = Controller()
    seen: list[str] = []
    dq = DeleteQueue(queue, ctl.submit, observe=seen.append)
    with caplog.at_level(logging.INFO, logger="contivctl.cni.delqueue"):
        drained = await dq.drain()
    assert sorted(ctl.keys, key=str) == sorted(drained.done, key=str)
    assert {k.container_id for k in drained.done} == {f"c{n:03d}" for n in range(100)}
    assert (drained.failed, drained.set_aside) == ((), ())
    assert os.listdir(queue) == [] and seen == ["ok"] * 100
    lines = [r.getMessage() for r in caplog.records if "queued DEL of" in r.getMessage()]
    assert len(lines) == 100  # one line per drained DEL
    assert "queued DEL of c000/eth0 done (network namespace /var/run/netns/p; queued at 2026-05-01T10:00:00" in lines[0]
    assert not await dq.drain()  # nothing left: nothing done


async def test_a_bad_file_is_set_aside_once_and_the_rest_is_drained(tmp_path: Path) -> None:
    queue = tmp_path / "queue"
    good = write(queue, queued("good"))
    (queue / "garbage.json").write_text("{half a file")
    wrong = write(queue, queued("newer", format=9))
    (queue / "a-directory").mkdir()
    (queue / "a-link").symlink_to(good)
    ctl = Controller()
    seen: list[str] = []
    dq = DeleteQueue(queue, ctl.submit, observe=seen.append)
    drained = await dq.drain()
    assert ctl.keys == [AttachmentKey("good", "eth0")] and drained.done == (AttachmentKey("good", "eth0"),)
    assert sorted(drained.set_aside) == sorted(["garbage.json", wrong.name, "a-directory", "a-link"])
    assert sorted(os.listdir(queue)) == sorted(f"bad-{n}" for n in drained.set_aside)
    assert (queue / "bad-garbage.json").read_text() == "{half a file"  # kept as it was, for a look
    assert sorted(seen) == ["bad"] * 4 + ["ok"]
    assert not await dq.drain()  # never retried


async def test_a_del_that_fails_stays_queued_for_the_next_drain(tmp_path: Path) -> None:
    queue = tmp_path / "queue"
    failing = write(queue, queued("failing"))
    write(queue, queued("fine"))
    ctl = Controller()
    ctl.failing.add("failing")
    dq = DeleteQueue(queue, ctl.submit)
    drained = await dq.drain()
    assert (drained.done, drained.failed) == ((AttachmentKey("fine", "eth0"),), (AttachmentKey("failing", "eth0"),))
    assert os.listdir(queue) == [failing.name]
    ctl.failing.clear()
    assert (await dq.drain()).done == (AttachmentKey("failing", "eth0"),)
    assert os.listdir(queue) == []


async def test_the_plugins_temporary_files_are_skipped_and_a_dead_plugins_removed(tmp_path: Path) -> None:
    queue = tmp_path / "queue"
    queue.mkdir()
    fresh, stale = queue / ".tmp-123", queue / ".tmp-456"
    fresh.write_text('{"format": 1, "contai')  # being written right now
    stale.write_text('{"format": 1, "contai')  # its plugin died long ago
    old = time.time() - STALE_TEMP_SECONDS - 60
    os.utime(stale, (old, old))
    ctl = Controller()
    assert not await DeleteQueue(queue, ctl.submit).drain()
    assert os.listdir(queue) == [".tmp-123"] and ctl.deleted == []


async def test_a_file_the_plugin_replaced_meanwhile_is_kept_for_the_next_drain(tmp_path: Path) -> None:
    queue = tmp_path / "queue"
    write(queue, queued("c1"))
    ctl = Controller()
    ctl.gate = asyncio.Event()
    dq = DeleteQueue(queue, ctl.submit)
    draining = asyncio.create_task(dq.drain())
    await until(lambda: ctl.submitted == 1)  # the drain has read the file and waits for its DEL
    replaced = write(queue.parent / "other", queued("c1", cniArgs="again"))
    os.replace(replaced, queue / replaced.name)  # a repeated DEL, written as the plugin does: a new file
    ctl.gate.set()
    assert (await draining).done == (AttachmentKey("c1", "eth0"),)
    assert json.loads((queue / file_name("c1", "eth0")).read_text())["cniArgs"] == "again"
    assert (await dq.drain()).done == (AttachmentKey("c1", "eth0"),)
    assert os.listdir(queue) == []


async def test_an_add_does_its_attachments_queued_del_first(tmp_path: Path) -> None:
    queue = tmp_path / "queue"
    write(queue, queued("c1"))
    write(queue, queued("c2"))
    ctl = Controller()
    dq = DeleteQueue(queue, ctl.submit)
    await dq.settle("c3", "eth0")  # nothing queued for it: nothing done
    assert ctl.deleted == []
    await dq.settle("c1", "eth0")
    assert ctl.keys == [AttachmentKey("c1", "eth0")] and os.listdir(queue) == [file_name("c2", "eth0")]
    ctl.failing.add("c2")
    with pytest.raises(DataplaneError):
        await dq.settle("c2", "eth0")  # the ADD fails with the DEL's error; the file stays
    assert os.listdir(queue) == [file_name("c2", "eth0")]


async def test_an_unreadable_queue_is_said_once_and_nothing_breaks(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    ctl = Controller()
    missing = DeleteQueue(tmp_path / "never-made", ctl.submit)
    assert not await missing.drain()
    dq = DeleteQueue(not_a_dir, ctl.submit)
    with caplog.at_level(logging.WARNING, logger="contivctl.cni.delqueue"):
        assert not await dq.drain()
        assert not await dq.drain()
    assert [r.getMessage() for r in caplog.records] == [
        f"DEL queue {not_a_dir} cannot be read: Not a directory; queued DELs wait until it can"
    ]


async def test_periodic_drains_pick_up_what_is_queued_later(tmp_path: Path) -> None:
    queue = tmp_path / "queue"
    ctl = Controller()
    dq = DeleteQueue(queue, ctl.submit)
    dq.start(0.02)
    try:
        write(queue, queued("late"))
        await until(lambda: ctl.keys == [AttachmentKey("late", "eth0")] and not os.listdir(queue))
    finally:
        await dq.stop()


async def test_a_file_that_cannot_be_read_now_is_kept_not_set_aside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = tmp_path / "queue"
    stuck = write(queue, queued("stuck"))
    write(queue, queued("fine"))
    real_open = os.open

    def out_of_descriptors(path: Any, *args: Any, **kw: Any) -> int:
        if str(path) == str(stuck):
            raise OSError(errno.EMFILE, "Too many open files")
        return real_open(path, *args, **kw)

    monkeypatch.setattr("contivctl.cni.delqueue.os.open", out_of_descriptors)
    ctl = Controller()
    seen: list[str] = []
    dq = DeleteQueue(queue, ctl.submit, observe=seen.append)
    drained = await dq.drain()
    assert (drained.done, drained.unread, drained.set_aside) == ((AttachmentKey("fine", "eth0"),), (stuck.name,), ())
    assert os.listdir(queue) == [stuck.name] and sorted(seen) == ["failed", "ok"]
    with pytest.raises(ContivError, match="the queued DEL of stuck/eth0 cannot be read now"):
        await dq.settle("stuck", "eth0")  # its ADD must not go ahead of it
    monkeypatch.undo()
    assert (await dq.drain()).done == (AttachmentKey("stuck", "eth0"),)
