"""``contivctl``: the agent and the commands to inspect and check it.

Every read command takes ``-o json|yaml|table``. Exit codes: 0 success,
1 an operation failed (e.g. a node ID that fits no subnet), 2 bad usage or
an invalid config (one line per problem). Errors never reach the user as a
traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

import attrs

from contivctl import __version__
from contivctl.errors import ConfigError, ContivError

EXIT_FAILED = 1
EXIT_USAGE = 2

Handler = Callable[[argparse.Namespace, TextIO], int]


def _add_output(p: argparse.ArgumentParser, default: str, choices: Sequence[str] = ("json", "yaml", "table")) -> None:
    p.add_argument("-o", "--output", choices=choices, default=default, help=f"output format (default: {default})")


def _node_id(text: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def cmd_config_check(args: argparse.Namespace, out: TextIO) -> int:
    from contivctl.config import effective_config, load_config
    from contivctl.config.dump import to_data
    from contivctl.output import emit

    cfg = load_config(args.file)
    if args.node:
        eff = effective_config(cfg, args.node)
        cfg = attrs.evolve(
            cfg,
            nat_external_traffic=eff.nat_external_traffic,
            steal_interface=eff.steal_interface,
            node_config=(eff.node,),
        )
    emit(to_data(cfg, cfg.dialect), args.output, out)
    return 0


def cmd_ipam_plan(args: argparse.Namespace, out: TextIO) -> int:
    from contivctl.config import effective_config, load_config, node_ip_exclusions
    from contivctl.ipam import node_plan
    from contivctl.output import emit

    cfg = load_config(args.config)
    static_ip = None
    dhcp = None
    if args.node:
        eff = effective_config(cfg, args.node)
        static_ip = eff.main_interface.ip
        dhcp = eff.use_dhcp
    plan = node_plan(cfg.ipam, args.node_id, excluded=node_ip_exclusions(cfg), dhcp=dhcp, static_ip=static_ip)
    emit(plan.to_json(cfg.ipam), args.output, out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="contivctl",
        description="Kubernetes CNI agent that wires pods to the FD.io VPP vswitch.",
    )
    parser.add_argument("--version", action="version", version=f"contivctl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    config = sub.add_parser("config", help="work with agent config files")
    config_sub = config.add_subparsers(dest="config_command", metavar="COMMAND")
    check = config_sub.add_parser(
        "check",
        help="validate a config file and print the effective config",
        description="Validate a contiv.yaml or contiv.conf file; print the effective config "
        "(defaults filled in, ContivCIDR applied), for one node with --node.",
    )
    check.add_argument("file", help="config file (contiv.yaml or contiv.conf form)")
    check.add_argument("--node", metavar="NAME", help="show the effective config of this node")
    _add_output(check, "yaml")
    check.set_defaults(handler=cmd_config_check)

    ipam = sub.add_parser("ipam", help="address plan of the cluster")
    ipam_sub = ipam.add_subparsers(dest="ipam_command", metavar="COMMAND")
    plan = ipam_sub.add_parser(
        "plan",
        help="print every address a node owns",
        description="Print the subnets and addresses that node ID N gets under a config.",
    )
    plan.add_argument("--config", required=True, metavar="FILE", help="agent config file")
    plan.add_argument("--node-id", required=True, type=_node_id, metavar="N", help="cluster-wide node ID (1 …)")
    plan.add_argument("--node", metavar="NAME", help="apply this node's NodeConfig entry (static IP, DHCP)")
    _add_output(plan, "json")
    plan.set_defaults(handler=cmd_ipam_plan)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        _print_help_for(parser, args)
        return EXIT_USAGE
    try:
        return handler(args, sys.stdout)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"contivctl: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except ContivError as exc:
        print(f"contivctl: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


def _print_help_for(parser: argparse.ArgumentParser, args: Any) -> None:
    """A group command without its subcommand prints that group's help."""
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        choices = getattr(action, "choices", None) or {}
        sub = choices.get(getattr(args, "command", None))
        if sub is not None:
            sub.print_help(sys.stderr)
            return
    parser.print_help(sys.stderr)
