"""``contivctl stn``: the STN daemon, and ``steal`` / ``release`` / ``info`` to talk to it.

The daemon runs in the host's network namespace (hostNetwork) as root, and
must steal the NIC before VPP starts: DPDK skips a NIC that is up in Linux.
``contivctl stn steal`` is that step (the original's contiv-init did it):
with no interface named it reads the agent's config to choose one, the node
entry's StealInterface, else the global one, else with StealFirstNIC the
first link not named lo*, vir* or docker*.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any, TextIO

from contivctl.errors import ConfigError, ConfigProblem, STNError
from contivctl.stnd.daemon import DEFAULT_STATE, DaemonOptions

DEFAULT_SOCKET = "/var/run/contiv/stn.sock"
#: links StealFirstNIC never takes (the original's rule)
NOT_A_NIC = ("lo", "vir", "docker")


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name) or default


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value:g} is negative")
    return value


def _socket(args: argparse.Namespace) -> str:
    """--socket, else the config's STNSocketFile, else the default."""
    if args.socket:
        return str(args.socket)
    if getattr(args, "config", ""):
        from contivctl.config import load_config

        return load_config(args.config).stn_socket_file
    return DEFAULT_SOCKET


def _add_client_options(p: argparse.ArgumentParser) -> None:
    # SUPPRESS: given before the subcommand (`contivctl stn --socket X steal`), the value stays
    p.add_argument(
        "--socket",
        default=argparse.SUPPRESS,
        metavar="PATH",
        help=f"the daemon's socket (CONTIV_STN_SOCKET; default the config's STNSocketFile, else {DEFAULT_SOCKET})",
    )
    p.add_argument("--config", default=argparse.SUPPRESS, metavar="FILE", help="agent config (CONTIV_CONFIG)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--socket",
        default=_env("CONTIV_STN_SOCKET"),
        metavar="PATH",
        help=f"unix socket to serve (CONTIV_STN_SOCKET; default the config's STNSocketFile, else {DEFAULT_SOCKET})",
    )
    p.add_argument(
        "--config",
        default=_env("CONTIV_CONFIG"),
        metavar="FILE",
        help="agent config, for STNSocketFile (CONTIV_CONFIG)",
    )
    p.add_argument(
        "--state-file",
        default=_env("CONTIV_STN_STATE", DEFAULT_STATE),
        metavar="FILE",
        help=f"where what is stolen is kept across restarts (CONTIV_STN_STATE; default {DEFAULT_STATE}; '' for none)",
    )
    p.add_argument(
        "--watch-link",
        default=_env("CONTIV_STN_WATCH_LINK", "vpp1"),
        metavar="NAME",
        help="give every NIC back when this link (the host interconnect's Linux end) goes away or down "
        "(CONTIV_STN_WATCH_LINK; default vpp1; '' watches nothing)",
    )
    p.add_argument(
        "--grace",
        type=_seconds,
        default=_seconds(_env("CONTIV_STN_GRACE", "30")),
        metavar="SECONDS",
        help="give the NICs back when the watched link is not up this long after a steal (CONTIV_STN_GRACE; 30)",
    )
    p.add_argument(
        "--watch-interval", type=_seconds, default=1.0, metavar="SECONDS", help="how often to look at the link (1)"
    )
    p.add_argument(
        "--log-level",
        default=_env("CONTIV_LOG_LEVEL", "info"),
        choices=["debug", "info", "warning", "error"],
        help="log level (CONTIV_LOG_LEVEL)",
    )
    p.set_defaults(handler=run, stn_command=None)
    sub = p.add_subparsers(dest="stn_command", metavar="COMMAND")

    steal = sub.add_parser(
        "steal",
        help="have the daemon steal a NIC (before VPP starts)",
        description="Ask the daemon to record and flush a NIC's addresses and routes and set it down. Without "
        "IFACE the interface is chosen from the agent's config (--config, --node-name).",
    )
    steal.add_argument("interface", nargs="?", default="", metavar="IFACE", help="the NIC to steal")
    steal.add_argument("--dhcp", action="store_true", default=None, help="its addresses come from DHCP")
    steal.add_argument(
        "--node-name", default=_env("NODE_NAME"), metavar="NAME", help="this node's name, for its node entry"
    )
    _add_client_options(steal)
    _add_output(steal)
    steal.set_defaults(handler=run_steal)

    release = sub.add_parser(
        "release",
        help="have the daemon give a stolen NIC back",
        description="Ask the daemon to give IFACE back to the kernel: driver, link state, addresses and routes "
        "as they were. Do it only once VPP has let go of the NIC.",
    )
    release.add_argument("interface", metavar="IFACE", help="the stolen NIC")
    _add_client_options(release)
    release.set_defaults(handler=run_release)

    info = sub.add_parser(
        "info",
        help="what the daemon stole",
        description="What IFACE had when it was stolen (without IFACE: the first NIC stolen), as the agent sees it.",
    )
    info.add_argument("interface", nargs="?", default="", metavar="IFACE", help="the stolen NIC")
    _add_client_options(info)
    _add_output(info)
    info.set_defaults(handler=run_info)


def _add_output(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", choices=("json", "yaml", "table"), default="table", help="output format")


def run(args: argparse.Namespace, out: TextIO) -> int:
    from contivctl.agent.logs import configure
    from contivctl.stnd.daemon import run_daemon

    configure(args.log_level, "text")
    opts = DaemonOptions(
        socket=_socket(args),
        state_file=args.state_file,
        watch_link=args.watch_link,
        grace=args.grace,
        interval=args.watch_interval or 1.0,
    )
    return asyncio.run(run_daemon(opts))


def _client(args: argparse.Namespace) -> Any:
    from contivctl.stn.client import STNClient

    return STNClient(_socket(args))


def _report(stolen: Any) -> dict[str, Any]:
    return {
        "interface": stolen.name,
        "ipAddresses": [str(a) for a in stolen.addresses],
        "routes": [
            {"destination": "" if r.dst is None else str(r.dst), "nextHop": "" if r.via is None else str(r.via)}
            for r in stolen.routes
        ],
        "pciAddress": stolen.pci_address,
        "kernelDriver": stolen.kernel_driver,
    }


def chosen_interface(args: argparse.Namespace) -> tuple[str, bool]:
    """The NIC ``steal`` takes and whether it uses DHCP, from the command line or the config."""
    dhcp = bool(args.dhcp)
    if args.interface and not args.config:
        return args.interface, dhcp
    if not args.config:
        raise ConfigError([ConfigProblem("IFACE", "name the interface, or give --config to choose it")])
    from contivctl.config import effective_config, load_config

    cfg = load_config(args.config, node=args.node_name or "")
    eff = effective_config(cfg, args.node_name or "")
    if args.dhcp is None:
        dhcp = eff.use_dhcp
    if args.interface:
        return args.interface, dhcp
    if eff.steal_interface:
        return eff.steal_interface, dhcp
    if not cfg.steal_first_nic:
        raise ConfigError(
            [ConfigProblem("StealInterface", f"{args.config} asks for no STN (no StealInterface, StealFirstNIC false)")]
        )
    return first_nic(), dhcp


def first_nic() -> str:
    from contivctl.dataplane.linux import channel, rtnl

    links = asyncio.run(channel.run(lambda c: rtnl.links(c("").dump)))
    found = next((link.name for link in links if not link.name.startswith(NOT_A_NIC)), None)
    if found is None:
        raise STNError("StealFirstNIC: this node has no link other than lo*, vir* and docker*")
    return found


def run_steal(args: argparse.Namespace, out: TextIO) -> int:
    from contivctl.output import emit

    name, dhcp = chosen_interface(args)
    stolen = asyncio.run(_client(args).steal(name, dhcp=dhcp))
    emit(_report(stolen), args.output, out)
    return 0


def run_release(args: argparse.Namespace, out: TextIO) -> int:
    asyncio.run(_client(args).release(args.interface))
    out.write(f"{args.interface} is back\n")
    return 0


def run_info(args: argparse.Namespace, out: TextIO) -> int:
    from contivctl.output import emit

    stolen = asyncio.run(_client(args).info(args.interface))
    emit(_report(stolen), args.output, out)
    return 0


__all__ = ["add_arguments"]
