"""What the agent logs of a pod event: who, what address, how it ended; as text or JSON."""

from __future__ import annotations

import ipaddress
import json
import logging

import pytest

from contivctl.agent.logs import configure
from contivctl.controller.eventlog import log_event
from contivctl.errors import PodWiringError
from contivctl.events import AddPod, AddResult, DeletePod
from contivctl.model import Attachment, PodRef

CID = "0123456789abcdef" * 4
ATT = Attachment(CID, "eth0", "/var/run/netns/p1", PodRef("default", "web"), ipaddress.ip_address("10.1.5.7"))


async def test_an_add_names_the_pod_container_and_address(caplog: pytest.LogCaptureFixture) -> None:
    ev = AddPod(container_id=CID, ifname="eth0", netns=ATT.netns, pod=ATT.pod)
    with caplog.at_level(logging.INFO, logger="contivctl.controller"):
        log_event(ev, None, 12.34, AddResult(ATT, "02:fe:00:00:00:01", ipaddress.ip_address("10.1.5.1"), 32))
    (rec,) = caplog.records
    assert rec.levelno == logging.INFO
    assert "ADD default/web 0123456789ab/eth0 10.1.5.7: ok in 12.3 ms" in rec.getMessage()
    assert (rec.pod, rec.containerId, rec.ip, rec.outcome, rec.seq) == ("default/web", CID, "10.1.5.7", "ok", ev.seq)  # type: ignore[attr-defined]


async def test_a_failed_add_is_a_warning_with_its_reason(caplog: pytest.LogCaptureFixture) -> None:
    ev = AddPod(container_id=CID, ifname="eth0", netns=ATT.netns, pod=ATT.pod)
    with caplog.at_level(logging.INFO, logger="contivctl.controller"):
        log_event(ev, PodWiringError("create 'vpp/interface/pod-x' failed: VPPApiError"), 3.0)
    (rec,) = caplog.records
    assert rec.levelno == logging.WARNING
    assert "error: create 'vpp/interface/pod-x' failed" in rec.getMessage()
    assert rec.outcome == "error"  # type: ignore[attr-defined]


async def test_a_delete_names_the_pod_it_took_away(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="contivctl.controller"):
        log_event(DeletePod(container_id=CID, ifname="eth0"), None, 1.0, None, ATT)
    assert "DEL default/web 0123456789ab/eth0 10.1.5.7: ok" in caplog.records[0].getMessage()


async def test_json_lines_carry_the_fields(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure("info", "json")
        ev = AddPod(container_id=CID, ifname="eth0", netns=ATT.netns, pod=ATT.pod)
        log_event(ev, None, 5.0, AddResult(ATT, "02:fe:00:00:00:01", ipaddress.ip_address("10.1.5.1"), 32))
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["level"] == "INFO" and line["logger"] == "contivctl.controller" and "time" in line
    assert (line["pod"], line["ip"], line["outcome"], line["durationMs"]) == ("default/web", "10.1.5.7", "ok", 5.0)
