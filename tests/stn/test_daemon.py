"""The STN daemon steals a stand-in NIC and gives it back exactly: on release, SIGTERM, or when VPP's link goes."""

from __future__ import annotations

import ipaddress
import signal
import subprocess
from pathlib import Path

import pytest

from contivctl.errors import STNError
from contivctl.model import StolenRoute
from contivctl.stn.client import STNClient
from tests.polling import until
from tests.stn.conftest import needs_root
from tests.stn.support import GATEWAY, StandInNic, given_back, running_daemon, sh, start_daemon

pytestmark = needs_root


def _stolen_state(nic: StandInNic) -> bool:
    return not nic.is_up() and nic.addresses() == []


async def test_steal_then_release_gives_back_exactly(nic: StandInNic, sockdir: Path) -> None:
    before = nic.snapshot()
    with running_daemon(nic, sockdir) as d:
        client = STNClient(str(d.socket))
        stolen = await client.steal(nic.nic)
        assert _stolen_state(nic)
        assert [r for r in nic.snapshot()["route4"] if r.get("dev") == nic.nic] == []
        assert stolen.addresses == (ipaddress.IPv4Interface("192.168.77.5/24"), ipaddress.IPv4Interface("10.66.0.5/16"))
        # the main table's IPv4 routes only, as the original reports them
        assert set(stolen.routes) == {
            StolenRoute(None, ipaddress.IPv4Address(GATEWAY)),
            StolenRoute(ipaddress.IPv4Network("192.168.77.0/24")),
            StolenRoute(ipaddress.IPv4Network("10.66.0.0/16")),
            StolenRoute(ipaddress.IPv4Network("10.67.0.0/16"), ipaddress.IPv4Address("192.168.77.2")),
        }
        assert (stolen.kernel_driver, stolen.pci_address) == ("veth", "")  # a veth is no PCI device
        assert stolen.gateway == ipaddress.IPv4Address(GATEWAY)
        first, named = await client.info(), await client.info(nic.nic)
        assert (first.addresses, first.routes) == (named.addresses, named.routes) == (stolen.addresses, stolen.routes)
        again = await client.steal(nic.nic)  # stealing twice answers the first record
        assert again.addresses == stolen.addresses
        assert d.state_file.exists()

        await client.release(nic.nic)
        await given_back(nic, before)
        assert not d.state_file.exists()
        with pytest.raises(STNError, match="not stolen"):
            await client.info(nic.nic)


async def test_sigterm_gives_back(nic: StandInNic, sockdir: Path) -> None:
    before = nic.snapshot()
    with running_daemon(nic, sockdir) as d:
        await STNClient(str(d.socket)).steal(nic.nic)
        assert _stolen_state(nic)
        assert d.stop(signal.SIGTERM) == 0
        assert not d.socket.exists()
    await given_back(nic, before)


async def test_vpp_link_gone_gives_back(nic: StandInNic, sockdir: Path) -> None:
    """The host interconnect's link up, then gone (VPP stopped): the NIC returns to the kernel."""
    before = nic.snapshot()
    link = f"stn{nic.tag}v"
    sh("ip", "-n", nic.host, "link", "add", link, "type", "veth", "peer", "name", f"stn{nic.tag}w")
    for end in (link, f"stn{nic.tag}w"):
        sh("ip", "-n", nic.host, "link", "set", end, "up")
    with running_daemon(nic, sockdir, watch_link=link) as d:
        await STNClient(str(d.socket)).steal(nic.nic)
        await until(lambda: d.logged(f"{link} is up"))
        assert _stolen_state(nic)
        sh("ip", "-n", nic.host, "link", "del", link)
        await given_back(nic, before)
        assert d.logged(f"{link} is gone")


async def test_vpp_link_gone_before_it_was_up_gives_back(nic: StandInNic, sockdir: Path) -> None:
    """A VPP that dies right after making its TAP: the link was there, so its loss counts at once."""
    before = nic.snapshot()
    link = f"stn{nic.tag}v"
    sh("ip", "-n", nic.host, "link", "add", link, "type", "veth", "peer", "name", f"stn{nic.tag}w")  # down
    with running_daemon(nic, sockdir, watch_link=link) as d:  # the grace (30 s) is longer than the wait
        await STNClient(str(d.socket)).steal(nic.nic)
        await until(lambda: d.logged(f"{link} is there, not up yet"))
        sh("ip", "-n", nic.host, "link", "del", link)
        await given_back(nic, before, timeout=10)
        assert d.logged(f"{link} is gone") and not d.logged("did not come up")


async def test_vpp_link_never_up_gives_back_after_the_grace(nic: StandInNic, sockdir: Path) -> None:
    before = nic.snapshot()
    with running_daemon(nic, sockdir, watch_link=f"stn{nic.tag}v", grace=0.2) as d:
        await STNClient(str(d.socket)).steal(nic.nic)
        await given_back(nic, before)
        assert d.logged("did not come up within 0.2s")


async def test_a_restarted_daemon_still_knows_what_it_stole(nic: StandInNic, sockdir: Path) -> None:
    before = nic.snapshot()
    with running_daemon(nic, sockdir) as d:
        stolen = await STNClient(str(d.socket)).steal(nic.nic)
        d.stop(signal.SIGKILL)  # no chance to give anything back
    assert _stolen_state(nic)
    again = start_daemon(nic, d.socket, d.state_file, sockdir / "second.log")
    try:
        client = STNClient(str(again.socket))
        assert (await client.info()).addresses == stolen.addresses
        await client.release(nic.nic)
        await given_back(nic, before)
    finally:
        again.stop()


async def test_unknown_interface_is_refused(nic: StandInNic, sockdir: Path) -> None:
    with running_daemon(nic, sockdir) as d:
        client = STNClient(str(d.socket))
        with pytest.raises(STNError, match="not found"):
            await client.steal(f"stn{nic.tag}x")
        with pytest.raises(STNError, match="no interface is stolen"):
            await client.info()
        with pytest.raises(STNError, match="not stolen"):
            await client.release(nic.nic)


async def test_no_daemon_is_an_stn_error(sockdir: Path) -> None:
    with pytest.raises(STNError, match="no STN daemon answers"):
        await STNClient(str(sockdir / "nobody.sock")).info()


async def test_cli_steal_info_release(nic: StandInNic, sockdir: Path) -> None:
    before = nic.snapshot()
    with running_daemon(nic, sockdir) as d:

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            cmd = [
                "ip",
                "netns",
                "exec",
                nic.host,
                "python3",
                "-m",
                "contivctl",
                "stn",
                *args,
                "--socket",
                str(d.socket),
            ]
            return subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2])

        stolen = cli("steal", nic.nic, "-o", "json")
        assert stolen.returncode == 0, stolen.stderr
        assert '"192.168.77.5/24"' in stolen.stdout
        info = cli("info", "-o", "json")
        assert info.returncode == 0 and '"nextHop": "192.168.77.1"' in info.stdout
        released = cli("release", nic.nic)
        assert released.returncode == 0, released.stderr
        missing = cli("info")
        assert missing.returncode == 1 and "no interface is stolen" in missing.stderr
        await given_back(nic, before)


@pytest.mark.parametrize("how", ["StealInterface", "StealFirstNIC"])
async def test_cli_steal_chooses_the_nic_from_the_config(nic: StandInNic, sockdir: Path, how: str) -> None:
    before = nic.snapshot()
    with running_daemon(nic, sockdir) as d:
        conf = sockdir / "contiv.conf"
        choice = f"stealInterface: {nic.nic}" if how == "StealInterface" else "stealFirstNIC: true"
        conf.write_text(f"{choice}\nstnSocketFile: {d.socket}\n")
        cmd = ["ip", "netns", "exec", nic.host, "python3", "-m", "contivctl", "stn", "steal", "--config", str(conf)]
        res = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2])
        assert res.returncode == 0, res.stderr
        assert _stolen_state(nic)
        assert (await STNClient(str(d.socket)).info(nic.nic)).addresses[0] == ipaddress.IPv4Interface("192.168.77.5/24")
    await given_back(nic, before)  # given back when the daemon stopped
