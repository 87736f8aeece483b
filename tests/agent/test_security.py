"""What the agent exposes: a CNI socket only root can use, and REST (pod names, namespaces, VPP's CLI)
on the loopback address unless told otherwise."""

from __future__ import annotations

import errno
import json
import os
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from contivctl.agent.options import AgentOptions
from contivctl.cli import build_parser
from contivctl.testing.vppemu import Emulator
from tests.agent.inprocess import options, running_agent


def other_addresses() -> list[str]:
    """This host's IPv4 addresses other than loopback ones."""
    out = subprocess.run(["ip", "-j", "-4", "addr", "show"], capture_output=True, text=True, check=True)
    return [
        a["local"]
        for link in json.loads(out.stdout)
        for a in link.get("addr_info", [])
        if not a["local"].startswith("127.")
    ]


def test_rest_is_on_loopback_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONTIV_HTTP", raising=False)
    assert AgentOptions(config=Path("contiv.yaml"), node_name="n").http == "127.0.0.1:9999"
    assert build_parser().parse_args(["agent"]).http == "127.0.0.1:9999"


async def test_the_cni_socket_is_roots_alone_and_rest_answers_on_loopback_only(
    emu: Emulator, sockdir: Path, tmp_path: Path
) -> None:
    async with running_agent(options(emu, sockdir, tmp_path)) as run:
        st = os.stat(run.agent.opts.cni_socket)
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
        assert (st.st_uid, st.st_gid) == (0, 0)

        port = int(run.agent.opts.http.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        elsewhere = other_addresses()
        if not elsewhere:
            pytest.skip("this host has no address but loopback ones")
        for address in elsewhere:
            with pytest.raises(OSError) as refused:
                socket.create_connection((address, port), timeout=5).close()
            assert refused.value.errno == errno.ECONNREFUSED, (address, refused.value)
