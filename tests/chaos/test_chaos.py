"""Chaos at CI size: ADD/DEL through contiv-cni while the agent is killed and VPP and the kernel fail.

``bench/chaos.py`` is the long run (1,000 calls, 20 at a time, ten kills);
this is the same harness with fewer calls, with pods wired by veth.
What it requires is the issue's: after the faults stop and the agent
settles, no address without its attachment, no VPP or Linux object without
its owner, no pod answered OK but not wired, none answered an error but
left half-wired; and the run really met what it was meant to meet.
"""

from __future__ import annotations

import os

import pytest

from tests.chaos.harness import Options, run

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="pods are network namespaces: root only")


# TAP mode is run by bench/chaos.py --mode tap, not here: a kill can leave a pod it wired with an eth0 the
# next start does not recognise (docs/chaos.md, "Open"), so a CI run of it does not always come out the same.
@pytest.mark.parametrize("mode", ["veth"])
def test_nothing_lost_nothing_leaked(mode: str) -> None:
    opts = Options(seed=7, operations=240, concurrency=10, kills=3, mode=mode, settle=60)
    report = run(opts)
    detail = f"{report.violations}\n{report.tail}"
    assert report.settled, f"the agent did not settle: {report.unsettled}\n{report.tail}"
    assert report.violations.counts() == {
        "ips_without_attachment": 0,
        "objects_without_owner": 0,
        "ok_but_not_wired": 0,
        "error_but_half_wired": 0,
    }, detail
    # the run met what it was for: kills, refusals from VPP, kernel failures, answers of both kinds
    assert report.operations == opts.operations and not report.gave_up
    assert report.kills == opts.kills and not report.agent_exits, report.agent_exits
    assert sum(rule["fired"] for rule in report.vpp_faults) > 0
    assert sum(report.kernel_faults.values()) > 0
    assert report.answers["ADD"]["ok"] > 0 and report.answers["DEL"]["ok"] > 0
    assert report.wired_at_end > 0
    # and nothing of it is left on the machine
    assert not [n for n in os.listdir("/var/run/netns") if n.startswith(f"chx-{report.tag}-")]
