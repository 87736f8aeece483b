"""``contivctl demo`` as a user runs it: a process, a matrix, exit status, and nothing left afterwards."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.demo.conftest import host_links, needs_root, netns_names, processes_mentioning

ROOT = Path(__file__).resolve().parents[2]


def demo(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "contivctl", "demo", *args, "--state-dir", str(state_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )


def assert_nothing_left(state_dir: Path, netns_before: set[str], links_before: set[str]) -> None:
    assert netns_names() == netns_before
    assert host_links() == links_before
    assert processes_mentioning(str(state_dir)) == []
    assert not (state_dir / "state.json").exists()


@needs_root
@pytest.mark.parametrize(("nodes", "transport"), [(3, "vxlan"), (2, "l2")])
def test_the_full_ping_matrix_answers_and_nothing_is_left(state_dir: Path, nodes: int, transport: str) -> None:
    netns_before, links_before = netns_names(), host_links()
    done = demo(state_dir, "--nodes", str(nodes), "--pods", "2", "--transport", transport, "-o", "json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    pods = [e for e in result["endpoints"] if e["kind"] == "pod"]
    assert len(pods) == nodes * 2
    assert len({p["ip"] for p in pods}) == len(pods)
    sources = nodes + len(pods)
    assert len(result["pings"]) == sources * len(pods) - len(pods)  # a pod does not ping itself
    assert [p for p in result["pings"] if not p["ok"]] == []
    assert result["ok"] is True
    assert "teardown" in done.stderr  # the progress display names its steps
    assert_nothing_left(state_dir, netns_before, links_before)


@needs_root
def test_a_kept_demo_stays_until_demo_down(state_dir: Path) -> None:
    netns_before, links_before = netns_names(), host_links()
    done = demo(state_dir, "--nodes", "1", "--pods", "1", "--keep")
    assert done.returncode == 0, done.stderr
    assert "pod1-1" in done.stdout
    state = json.loads((state_dir / "state.json").read_text())
    assert set(state["namespaces"]) <= netns_names()
    assert processes_mentioning(str(state_dir)) != []

    second = demo(state_dir, "--nodes", "1", "--pods", "1")
    assert second.returncode == 1
    assert "demo down" in second.stderr
    assert set(state["namespaces"]) <= netns_names()  # the refusal touched nothing

    down = subprocess.run(
        [sys.executable, "-m", "contivctl", "demo", "down", "--state-dir", str(state_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert down.returncode == 0, down.stdout + down.stderr
    assert_nothing_left(state_dir, netns_before, links_before)


def test_the_vpp_dataplane_is_refused_with_a_reason(tmp_path: Path) -> None:
    from contivctl.cli import EXIT_USAGE, main

    assert main(["demo", "--dataplane", "vpp", "--state-dir", str(tmp_path)]) == EXIT_USAGE


def test_demo_down_without_a_demo_is_no_error(tmp_path: Path) -> None:
    from contivctl.cli import main

    assert main(["demo", "down", "--state-dir", str(tmp_path)]) == 0


@needs_root
def test_ctrl_c_while_building_removes_what_was_made(state_dir: Path) -> None:
    import signal
    import time

    netns_before, links_before = netns_names(), host_links()
    proc = subprocess.Popen(
        [sys.executable, "-m", "contivctl", "demo", "--nodes", "2", "--pods", "1", "--state-dir", str(state_dir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        state = state_dir / "state.json"
        while not (state.exists() and '"agent node2"' in state.read_text()):  # the agents are starting
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert_nothing_left(state_dir, netns_before, links_before)


def test_missing_tools_are_named_with_their_debian_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    from contivctl.demo import run

    monkeypatch.setenv("PATH", "/nonexistent")
    assert run.missing_tools() == list(run.REQUIRED_TOOLS)


@needs_root
def test_the_service_is_served_from_every_pod_and_node_also_after_an_endpoint_leaves(state_dir: Path) -> None:
    netns_before, links_before = netns_names(), host_links()
    done = demo(state_dir, "--nodes", "2", "--pods", "1", "--service", "-o", "json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    svc = result["service"]
    sources = {e["name"] for e in result["endpoints"]}
    assert {"web1", "web2"} <= sources  # the server pods are pods of the matrix too
    # two rounds from every source to the cluster IP and both nodes' node port
    assert len(svc["connections"]) == len(sources) * 3 * 2
    assert all(c["ok"] for c in svc["connections"])
    assert {c["servedBy"] for c in svc["connections"]} == {"web1", "web2"}
    after = svc["afterRemoval"]
    assert after["removed"] == "web1"
    assert {c["servedBy"] for c in after["connections"]} == {"web2"}
    assert svc["ok"] is True and result["ok"] is True
    assert_nothing_left(state_dir, netns_before, links_before)
