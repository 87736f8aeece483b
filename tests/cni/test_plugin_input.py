"""contiv-cni refusing bad input: the spec's code, a message naming the culprit, exit 1, no traceback.

No agent runs here: every case is decided before a call (or by the call failing).
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cni.support import VERSIONS, Run, cni_env, netconf, run

pytestmark = pytest.mark.usefixtures("contiv_cni")

CID = "0123456789abcdef"


@pytest.fixture
def nowhere(tmp_path: Path) -> str:
    return str(tmp_path / "no-agent.sock")


@pytest.fixture
async def silent_agent(tmp_path: Path) -> AsyncIterator[str]:
    """A unix socket that accepts connections and never answers."""
    path = str(tmp_path / "silent.sock")
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_unix_server(hold, path)
    try:
        yield path
    finally:
        for w in held:
            w.close()
        server.close()
        await server.wait_closed()


def only_error(r: Run) -> dict[str, object]:
    assert r.stdout.count("\n") == 1, r.stdout  # one JSON object, nothing else on stdout
    return r.error()


async def test_version_lists_the_supported_versions() -> None:
    r = await run({"CNI_COMMAND": "VERSION"}, {"cniVersion": "1.1.0"})
    assert (r.rc, r.json) == (0, {"cniVersion": "1.1.0", "supportedVersions": list(VERSIONS)})


@pytest.mark.parametrize(
    ("command", "variable"),
    [
        ("ADD", "CNI_CONTAINERID"),
        ("ADD", "CNI_NETNS"),
        ("ADD", "CNI_IFNAME"),
        ("CHECK", "CNI_CONTAINERID"),
        ("CHECK", "CNI_NETNS"),
        ("CHECK", "CNI_IFNAME"),
        ("DEL", "CNI_CONTAINERID"),
        ("DEL", "CNI_IFNAME"),
        ("GC", "CNI_PATH"),
        ("ADD", "CNI_COMMAND"),
    ],
)
@pytest.mark.parametrize("how", ["missing", "empty"])
async def test_missing_or_empty_environment_is_code_4_naming_the_variable(
    command: str, variable: str, how: str, nowhere: str
) -> None:
    env = cni_env(command, CID, "/var/run/netns/nope")
    if how == "missing":
        del env[variable]
    else:
        env[variable] = ""
    err = only_error(await run(env, netconf(nowhere, **{"cni.dev/valid-attachments": []})))
    assert err["code"] == 4
    assert variable in str(err["msg"])


@pytest.mark.parametrize(
    ("variable", "value"),
    [("CNI_CONTAINERID", "-starts-with-dash"), ("CNI_CONTAINERID", "has/slash"), ("CNI_IFNAME", "a" * 16)],
)
async def test_unusable_environment_values_are_code_4(variable: str, value: str, nowhere: str) -> None:
    env = cni_env("ADD", CID, "/var/run/netns/nope", **{variable: value})
    err = only_error(await run(env, netconf(nowhere)))
    assert err["code"] == 4 and variable in str(err["msg"])


async def test_unknown_command_is_code_4(nowhere: str) -> None:
    err = only_error(await run(cni_env("REBOOT", CID, "/var/run/netns/x"), netconf(nowhere)))
    assert err["code"] == 4 and "CNI_COMMAND" in str(err["msg"]) and "REBOOT" in str(err["msg"])


@pytest.mark.parametrize("stdin", [b"{not json", b"", b"[1, 2]", b"\xff\xfe{}", b'{"cniVersion": "1.1.0"} {}'])
async def test_undecodable_config_is_code_6(stdin: bytes) -> None:
    err = only_error(await run(cni_env("ADD", CID, "/var/run/netns/x"), stdin))
    assert err["code"] == 6


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"grpcServer": None}, "grpcServer"),
        ({"grpcServer": ""}, "grpcServer"),
        ({"grpcServer": "no-port-here"}, "grpcServer"),
        ({"grpcTimeout": "soon"}, "grpcTimeout"),
        ({"grpcTimeout": 0}, "grpcTimeout"),
        ({"cniVersion": None}, "cniVersion"),
        ({"logFile": 5}, "logFile"),
        ({"name": None}, "name"),
        ({"name": "two words"}, "name"),
    ],
)
async def test_invalid_config_is_code_7_naming_the_key(change: dict[str, object], key: str, nowhere: str) -> None:
    conf = {k: v for k, v in {**netconf(nowhere), **change}.items() if v is not None}
    err = only_error(await run(cni_env("ADD", CID, "/var/run/netns/x"), conf))
    assert err["code"] == 7 and key in str(err["msg"])


async def test_prev_result_on_the_first_add_is_code_7(nowhere: str) -> None:
    conf = netconf(nowhere, prevResult={"cniVersion": "1.1.0", "interfaces": [], "ips": []})
    err = only_error(await run(cni_env("ADD", CID, "/var/run/netns/x"), conf))
    assert err["code"] == 7 and "prevResult" in str(err["msg"])


async def test_gc_without_valid_attachments_is_code_7_not_a_wipe(nowhere: str) -> None:
    err = only_error(await run(cni_env("GC", ifname=""), netconf(nowhere)))
    assert err["code"] == 7 and "cni.dev/valid-attachments" in str(err["msg"])
    bad = netconf(nowhere, **{"cni.dev/valid-attachments": [{"containerID": CID}]})
    err = only_error(await run(cni_env("GC", ifname=""), bad))
    assert err["code"] == 7 and "cni.dev/valid-attachments[0]" in str(err["msg"])


@pytest.mark.parametrize("version", ["0.2.0", "0.1.0", "2.0.0", "1.1"])
async def test_unsupported_version_is_code_1(version: str, nowhere: str) -> None:
    err = only_error(await run(cni_env("ADD", CID, "/var/run/netns/x"), netconf(nowhere, version)))
    assert err["code"] == 1 and err["cniVersion"] == "1.1.0"


@pytest.mark.parametrize(("command", "version"), [("CHECK", "0.3.1"), ("STATUS", "1.0.0"), ("GC", "1.0.0")])
async def test_a_command_newer_than_the_config_version_is_code_1(command: str, version: str, nowhere: str) -> None:
    conf = netconf(nowhere, version, **{"cni.dev/valid-attachments": []})
    err = only_error(await run(cni_env(command, CID, "/var/run/netns/x"), conf))
    assert err["code"] == 1 and command in str(err["msg"]) and err["cniVersion"] == version


@pytest.mark.parametrize("command", ["ADD", "CHECK"])
async def test_agent_socket_missing_is_code_11_without_waiting_for_the_deadline(command: str, nowhere: str) -> None:
    conf = netconf(nowhere, "1.0.0", grpcTimeout=600)
    err = only_error(await run(cni_env(command, CID, "/var/run/netns/x"), conf, timeout=60))
    assert err["code"] == 11 and err["cniVersion"] == "1.0.0"
    assert "cannot reach the agent" in str(err["msg"]) and nowhere in str(err["msg"])
    assert not (Path(nowhere).parent / "cni-del-queue").exists()  # only a DEL is queued


async def test_a_del_with_the_agent_socket_missing_is_queued_beside_it_and_succeeds(nowhere: str) -> None:
    done = await run(cni_env("DEL", CID, ""), netconf(nowhere, "1.0.0", grpcTimeout=600), timeout=60)  # no netns
    assert (done.rc, done.stdout, done.stderr) == (0, "", "")
    (queued,) = (Path(nowhere).parent / "cni-del-queue").iterdir()
    assert json.loads(queued.read_text())["containerId"] == CID


async def test_status_without_an_agent_is_code_50(nowhere: str) -> None:
    err = only_error(await run(cni_env("STATUS", ifname=""), netconf(nowhere)))
    assert err["code"] == 50


async def test_an_agent_that_does_not_answer_is_code_11_at_the_deadline(silent_agent: str) -> None:
    conf = netconf(silent_agent, grpcTimeout=0.5)
    err = only_error(await run(cni_env("ADD", CID, "/var/run/netns/x"), conf))
    assert err["code"] == 11 and "did not answer within 0.5s" in str(err["msg"])


async def test_tcp_agent_address_that_refuses_is_code_11(tmp_path: Path) -> None:
    conf = netconf("127.0.0.1:1", "1.0.0", delQueueDir=str(tmp_path / "q"))  # port 1: nothing listens on loopback
    err = only_error(await run(cni_env("ADD", CID, "/var/run/netns/x"), conf))
    assert err["code"] == 11 and "127.0.0.1:1" in str(err["msg"])
    done = await run(cni_env("DEL", CID, ""), conf)  # queued instead
    assert (done.rc, done.stdout) == (0, "") and len(list((tmp_path / "q").iterdir())) == 1


async def test_log_file_gets_one_line_per_call_and_is_private(tmp_path: Path, nowhere: str) -> None:
    log = tmp_path / "cni.log"
    conf = netconf(nowhere, logFile=str(log))
    await run(cni_env("ADD", CID, "/var/run/netns/x"), conf)
    await run(cni_env("DEL", CID, ""), conf)
    lines = log.read_text().splitlines()
    assert len(lines) == 2
    assert f"ADD {CID} eth0" in lines[0] and "error 11" in lines[0]
    assert f"DEL {CID} eth0" in lines[1] and ": ok, queued as " in lines[1] and "(error 11: " in lines[1]
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o600


async def test_a_netconf_over_one_mib_is_code_7(nowhere: str) -> None:
    conf = netconf(nowhere, padding="x" * (1 << 20))
    err = only_error(await run(cni_env("ADD", CID, "/var/run/netns/x"), conf))
    assert err["code"] == 7 and "larger than" in str(err["msg"])


@pytest.mark.parametrize("command", ["ADD", "STATUS"])
async def test_cni_path_is_optional_but_for_gc(command: str, nowhere: str) -> None:
    """The spec requires CNI_PATH for GC only: without it the call goes on to the (missing) agent."""
    env = cni_env(command, CID, "/var/run/netns/x")
    del env["CNI_PATH"]
    err = only_error(await run(env, netconf(nowhere)))
    assert err["code"] == (11 if command == "ADD" else 50), err
