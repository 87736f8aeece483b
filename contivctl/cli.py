"""``contivctl``: the agent and the commands to inspect and check it.

Every read command takes ``-o json|yaml|table``. Exit codes: 0 success,
1 an operation failed (e.g. a node ID that fits no subnet, a port in use),
2 bad usage or an invalid config (one line per problem). Errors never reach
the user as a traceback. Warnings (a config that loads but does not do all
it says) go to stderr, one line each, and change no exit code.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

import attrs

from contivctl import __version__, inspection
from contivctl.agent.options import DATAPLANES, AgentOptions, default
from contivctl.errors import ConfigError, ConfigProblem, ContivError

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


def _count(text: str) -> int:
    """A whole number of things, 1 or more (argparse makes a bad one a usage error, exit 2)."""
    try:
        n = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n} is not 1 or more")
    return n


def _seconds(text: str) -> float:
    """A positive number of seconds (argparse's type: the error names the option)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: a positive number of seconds")
    return value


def _seconds_or_off(text: str) -> float:
    """A number of seconds, or 0 for "never"."""
    if text.strip() in ("0", "0.0"):
        return 0.0
    return _seconds(text)


def _check_node_id(node_id: int, option: str = "--node-id") -> None:
    """Node IDs start at 1: 0 or less is a usage error, not a failed computation."""
    if node_id < 1:
        raise ConfigError([ConfigProblem(option, f"{node_id} is not a node ID: node IDs start at 1")])


def _warn(problems: Sequence[ConfigProblem]) -> None:
    for problem in problems:
        print(f"contivctl: warning: {problem}", file=sys.stderr)


def _node_warnings(cfg: Any, node: str | None) -> list[ConfigProblem]:
    """``--node`` naming no entry is most likely a typo: the output is then the global config's."""
    if not node or cfg.node_entry(node) is not None:
        return []
    names = ", ".join(repr(n.node_name) for n in cfg.node_config) or "none"
    return [
        ConfigProblem(
            "--node",
            f"{node!r} matches no node entry (entries: {names}); the global config applies "
            "(a NodeConfig resource, if there is one, is not read here)",
        )
    ]


def cmd_config_check(args: argparse.Namespace, out: TextIO) -> int:
    from contivctl.config import effective_config, load_config
    from contivctl.config.dump import to_data
    from contivctl.output import emit

    cfg = load_config(args.file, node=args.node)
    _warn([*cfg.warnings, *_node_warnings(cfg, args.node)])
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
    from contivctl.config import load_config
    from contivctl.ipam import node_setup
    from contivctl.output import emit

    _check_node_id(args.node_id)
    cfg = load_config(args.config, node=args.node or "")
    _warn([*cfg.warnings, *_node_warnings(cfg, args.node)])
    plan = node_setup(cfg, args.node or "", args.node_id).plan
    emit(plan.to_json(cfg.ipam), args.output, out)
    return 0


def cmd_agent(args: argparse.Namespace, out: TextIO) -> int:
    import asyncio

    from contivctl.agent.agent import run_agent
    from contivctl.agent.logs import configure

    configure(args.log_level, args.log_format)
    return asyncio.run(run_agent(agent_options(args)))


def agent_options(args: argparse.Namespace) -> AgentOptions:
    """The agent's options from its command line and environment, checked (ConfigError: a usage error)."""
    from pathlib import Path

    if not args.config:
        raise ConfigError([ConfigProblem("--config", "is required (or set CONTIV_CONFIG)")])
    if not args.node_name:
        raise ConfigError([ConfigProblem("--node-name", "is required (or set NODE_NAME or MICROSERVICE_LABEL)")])
    if args.node_id is not None:
        _check_node_id(args.node_id)
    _check_http(args.http)
    if args.cni_del_queue and not args.cni_del_queue.startswith("/"):
        raise ConfigError([ConfigProblem("--cni-del-queue", f"{args.cni_del_queue!r} is not an absolute path")])
    if args.vswitch_netns and args.dataplane != "kernel":
        raise ConfigError([ConfigProblem("--vswitch-netns", "is only for --dataplane kernel")])
    etcd = _etcd_config(args, required=False)
    if args.nodes_file and etcd is not None:
        raise ConfigError([ConfigProblem("--nodes-file", "cannot be used with etcd: the other nodes come from one")])
    return AgentOptions(
        config=Path(args.config),
        node_name=args.node_name,
        node_id=default("node_id") if args.node_id is None else args.node_id,
        etcd=etcd,
        allocate_node_id=etcd is not None and args.node_id is None,
        store=Path(args.store),
        vpp_socket=args.vpp_socket,
        vpp_api_dir=args.vpp_api_dir,
        cni_socket=args.cni_socket,
        cni_del_queue=args.cni_del_queue,
        http=args.http,
        kubeconfig=args.kubeconfig,
        no_kubernetes=args.no_kubernetes,
        dataplane=args.dataplane,
        vswitch_netns=args.vswitch_netns,
        nodes_file=Path(args.nodes_file) if args.nodes_file else None,
        services_file=Path(args.services_file) if args.services_file else None,
        no_services=args.no_services,
        liveness_timeout=args.liveness_timeout,
        gc_interval=args.gc_interval,
    )


def _check_http(addr: str) -> None:
    _, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError([ConfigProblem("--http", f"{addr!r} is not host:port (e.g. 127.0.0.1:9999)")])


def _env(*names: str, default: str = "") -> str:
    return next((os.environ[n] for n in names if os.environ.get(n)), default)


# -- cluster (etcd) ----------------------------------------------------------------------


def _add_etcd_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--etcd",
        default=_env("CONTIV_ETCD"),
        metavar="ENDPOINTS",
        help="etcd endpoints host:port[,host:port…], http:// or https:// (CONTIV_ETCD)",
    )
    p.add_argument(
        "--etcd-config",
        default=_env("ETCD_CONFIG"),
        metavar="FILE",
        help="the original's etcd.conf: endpoints, timeouts, TLS files (ETCD_CONFIG); --etcd overrides its endpoints",
    )


def _etcd_config(args: argparse.Namespace, *, required: bool = True) -> Any:
    """EtcdConfig from --etcd-config and/or --etcd; None when neither is given and etcd is optional."""
    from contivctl.kv.etcdconf import etcd_config, load_etcd_conf, split_endpoints

    if args.etcd_config:
        cfg = load_etcd_conf(args.etcd_config)
        if args.etcd:
            cfg = attrs.evolve(cfg, endpoints=etcd_config(split_endpoints(args.etcd)).endpoints)
        return cfg
    if args.etcd:
        return etcd_config(split_endpoints(args.etcd))
    if required:
        raise ConfigError([ConfigProblem("--etcd", "is required (or --etcd-config, CONTIV_ETCD, ETCD_CONFIG)")])
    return None


def _with_cluster_store(args: argparse.Namespace, action: Callable[[Any], Any]) -> Any:
    import asyncio

    from contivctl.kv.etcd import EtcdStore

    cfg = _etcd_config(args)

    async def run() -> Any:
        store = EtcdStore(cfg)
        try:
            await store.connect()
            return await action(store)
        finally:
            await store.close()

    return asyncio.run(run())


def cmd_nodes(args: argparse.Namespace, out: TextIO) -> int:
    from contivctl.cluster.admin import list_nodes, node_row
    from contivctl.output import emit

    nodes = _with_cluster_store(args, list_nodes)
    emit([node_row(n) for n in nodes], args.output, out)
    return 0


def cmd_node_remove(args: argparse.Namespace, out: TextIO) -> int:
    from contivctl.cluster.admin import remove_node
    from contivctl.cluster.record import check_node_name

    check_node_name(args.name)
    removed = _with_cluster_store(args, lambda store: remove_node(store, args.name))
    if removed.anything:
        ids = ", ".join(str(i) for i in removed.ids) or "none"
        out.write(f"node {args.name} removed: ID {ids}, {removed.data_keys} data keys\n")
    else:
        out.write(f"node {args.name} is not in the cluster: nothing to remove\n")
    return 0


def _add_cluster_commands(sub: Any) -> None:
    nodes = sub.add_parser(
        "nodes",
        help="list the cluster's nodes (from etcd)",
        description="List every node recorded in etcd: ID, name, node IP, management IPs.",
    )
    _add_etcd_options(nodes)
    _add_output(nodes, "table")
    nodes.set_defaults(handler=cmd_nodes)

    node = sub.add_parser("node", help="act on one node of the cluster")
    node_sub = node.add_subparsers(dest="node_command", metavar="COMMAND")
    remove = node_sub.add_parser(
        "remove",
        help="remove a node that left the cluster",
        description="Remove NAME's node ID record and its /vnf-agent/NAME/ data from etcd. Removing a node "
        "that is not there is no error. Run it for a node that is gone for good: its ID becomes free.",
    )
    remove.add_argument("name", metavar="NAME", help="the node's name (its Kubernetes node name)")
    _add_etcd_options(remove)
    remove.set_defaults(handler=cmd_node_remove)


# -- install-cni -------------------------------------------------------------------------


def _add_install_cni_command(sub: Any) -> None:
    from contivctl import install_cni

    p = sub.add_parser(
        "install-cni",
        help="install contiv-cni and its network configuration on this node, or remove them",
        description="Install the contiv-cni executable, the chained plugins the node lacks (loopback, portmap) "
        "and the network configuration list, each file atomically; other plugins' configurations are left "
        "alone (--exclusive sets them aside). --uninstall removes only what the record says was installed. "
        "See docs/install.md.",
    )
    install_cni.add_arguments(p)
    p.set_defaults(handler=install_cni.run)


# -- stn -------------------------------------------------------------------------------


def _add_stn_command(sub: Any) -> None:
    from contivctl.stnd import command

    p = sub.add_parser(
        "stn",
        help="the STN daemon: steal the node's NIC for VPP, give it back when VPP goes away",
        description="Serve the STN protocol on STNSocketFile: steal a NIC (record and flush its addresses and "
        "routes, set it down) so that VPP can take it, and give it back exactly as it was on release, on "
        "SIGTERM/SIGINT, and when the host interconnect's link goes away. See docs/stn.md.",
    )
    command.add_arguments(p)


# -- demo --------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    from pathlib import Path

    from contivctl.demo.run import demo_down, run_demo

    state_dir = Path(args.state_dir)
    if args.demo_command == "down":
        return demo_down(state_dir, out)
    if args.dataplane != "kernel":
        raise ConfigError(
            [
                ConfigProblem(
                    "--dataplane",
                    f"{args.dataplane!r}: the demo runs the kernel dataplane only; VPP needs DPDK and a VPP "
                    "process per node, which the demo does not start (use `contivctl agent` against a running VPP)",
                )
            ]
        )
    return run_demo(
        nodes=args.nodes,
        pods=args.pods,
        transport=args.transport,
        etcd=args.etcd,
        keep=args.keep,
        output=args.output,
        state_dir=state_dir,
        out=out,
        service=args.service,
    )


def _add_demo_command(sub: Any) -> None:
    from contivctl.demo.state import DEFAULT_DIR

    demo = sub.add_parser(
        "demo",
        help="a whole cluster on this machine, with pods pinging each other (root)",
        description="Build an underlay bridge, one network namespace and agent (kernel dataplane) per node, "
        "pods through the contiv-cni executable; ping every pod from every pod and node; print the matrix; "
        "remove everything. Exit status 1 when any ping is not answered. See docs/demo.md.",
    )
    demo.add_argument("--nodes", type=_node_id, default=3, metavar="N", help="nodes (default: 3)")
    demo.add_argument("--pods", type=_node_id, default=2, metavar="M", help="pods per node (default: 2)")
    demo.add_argument("--transport", choices=["vxlan", "l2"], default="vxlan", help="node interconnect")
    demo.add_argument("--dataplane", choices=["kernel", "vpp"], default="kernel", help="only kernel is supported")
    demo.add_argument("--etcd", action="store_true", help="start an etcd for the cluster (default: a nodes file)")
    demo.add_argument("--keep", action="store_true", help="leave the cluster running; `contivctl demo down` removes it")
    demo.add_argument(
        "--service",
        action="store_true",
        help="a ClusterIP + NodePort Service on a TCP server pod per node: every pod and node connects to it, "
        "then one endpoint is removed and the others must serve (exit status 1 when a connection is not served)",
    )
    demo.add_argument(
        "--state-dir",
        default=_env("CONTIV_DEMO_DIR", default=str(DEFAULT_DIR)),
        metavar="DIR",
        help=f"where the demo keeps its state file and scratch files (CONTIV_DEMO_DIR; default {DEFAULT_DIR})",
    )
    _add_output(demo, "table", ("json", "table"))
    demo.set_defaults(handler=cmd_demo, demo_command=None)
    demo_sub = demo.add_subparsers(dest="demo_command", metavar="COMMAND")
    down = demo_sub.add_parser(
        "down",
        help="remove a kept or broken demo",
        description="Remove everything the state file lists: pods (CNI DEL), agents, etcd, namespaces.",
    )
    down.add_argument(
        "--state-dir",
        default=_env("CONTIV_DEMO_DIR", default=str(DEFAULT_DIR)),
        metavar="DIR",
        help="the demo's state directory (CONTIV_DEMO_DIR)",
    )
    down.set_defaults(handler=cmd_demo, demo_command="down")


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
    inspection.add_ipam_commands(ipam_sub)

    agent = sub.add_parser(
        "agent",
        help="run the node agent",
        description="Run the agent of one node: wire pods to VPP, serve CNI and REST. "
        "Every option falls back to the environment variable named in its help.",
    )
    agent.add_argument("--config", default=_env("CONTIV_CONFIG"), metavar="FILE", help="agent config (CONTIV_CONFIG)")
    agent.add_argument(
        "--node-name",
        default=_env("NODE_NAME", "MICROSERVICE_LABEL"),
        metavar="NAME",
        help="this node's name (NODE_NAME, MICROSERVICE_LABEL)",
    )
    agent.add_argument(
        "--node-id",
        type=_node_id,
        default=_env("CONTIV_NODE_ID") or None,
        metavar="N",
        help="node ID (CONTIV_NODE_ID); default: from etcd's allocator with --etcd, else 1",
    )
    agent.add_argument(
        "--store",
        default=_env("CONTIV_STORE", default=str(default("store"))),
        metavar="PATH",
        help="local store file (CONTIV_STORE)",
    )
    agent.add_argument(
        "--vpp-socket",
        default=_env("CONTIV_VPP_SOCKET", default=default("vpp_socket")),
        metavar="PATH",
        help="VPP binary API socket (CONTIV_VPP_SOCKET)",
    )
    agent.add_argument(
        "--vpp-api-dir",
        default=_env("CONTIV_VPP_API_DIR", default=default("vpp_api_dir")),
        metavar="DIR",
        help="VPP API definitions (CONTIV_VPP_API_DIR)",
    )
    agent.add_argument(
        "--cni-socket",
        default=_env("CONTIV_CNI_SOCKET", default=default("cni_socket")),
        metavar="PATH",
        help="CNI gRPC socket (CONTIV_CNI_SOCKET)",
    )
    agent.add_argument(
        "--cni-del-queue",
        default=_env("CONTIV_CNI_DEL_QUEUE", default=default("cni_del_queue")),
        metavar="DIR",
        help="where contiv-cni queues DELs while the agent cannot take them; the agent does them at start "
        "and every 10 s (CONTIV_CNI_DEL_QUEUE; default: cni-del-queue beside --cni-socket, as the plugin's)",
    )
    agent.add_argument(
        "--http",
        default=_env("CONTIV_HTTP", default=default("http")),
        metavar="ADDR",
        help="REST endpoint host:port (CONTIV_HTTP)",
    )
    agent.add_argument(
        "--kubeconfig",
        default="",
        metavar="FILE",
        help="Kubernetes access (KUBECONFIG; without it the in-cluster service account, if any)",
    )
    agent.add_argument(
        "--no-kubernetes",
        action="store_true",
        default=_env("CONTIV_NO_KUBERNETES").lower() in ("1", "true", "yes"),
        help="run without Kubernetes, also in a cluster (CONTIV_NO_KUBERNETES=1); "
        "the default when there is neither a kubeconfig nor an in-cluster environment",
    )
    agent.add_argument(
        "--dataplane",
        default=_env("CONTIV_DATAPLANE", default=default("dataplane")),
        choices=DATAPLANES,
        help="who plays the vswitch: VPP (default) or the Linux kernel (CONTIV_DATAPLANE)",
    )
    agent.add_argument(
        "--vswitch-netns",
        default=_env("CONTIV_VSWITCH_NETNS"),
        metavar="PATH",
        help="kernel dataplane: the network namespace playing the vswitch, e.g. /var/run/netns/node1 "
        "(CONTIV_VSWITCH_NETNS; default the agent's own)",
    )
    agent.add_argument(
        "--log-level",
        default=_env("CONTIV_LOG_LEVEL", default="info"),
        choices=["debug", "info", "warning", "error"],
        help="log level (CONTIV_LOG_LEVEL)",
    )
    agent.add_argument(
        "--log-format",
        default=_env("CONTIV_LOG_FORMAT", default="text"),
        choices=["text", "json"],
        help="log lines as text or one JSON object each, with a pod event's fields (CONTIV_LOG_FORMAT)",
    )
    agent.add_argument(
        "--nodes-file",
        default=_env("CONTIV_NODES_FILE"),
        metavar="FILE",
        help="the cluster's members from a YAML file instead of etcd, followed while running "
        "(CONTIV_NODES_FILE; docs/cluster.md)",
    )
    agent.add_argument(
        "--services-file",
        default=_env("CONTIV_SERVICES_FILE"),
        metavar="FILE",
        help="Kubernetes Services and their endpoints from a YAML file, followed while running "
        "(CONTIV_SERVICES_FILE; docs/services.md)",
    )
    agent.add_argument(
        "--no-services",
        action="store_true",
        default=_env("CONTIV_NO_SERVICES").lower() in ("1", "true", "yes"),
        help="forward no Services, also with Kubernetes: leave them to kube-proxy (CONTIV_NO_SERVICES=1)",
    )
    agent.add_argument(
        "--liveness-timeout",
        type=_seconds,
        default=_env("CONTIV_LIVENESS_TIMEOUT") or default("liveness_timeout"),
        metavar="SECONDS",
        help="/liveness fails once the event loop has not turned for this long "
        f"(CONTIV_LIVENESS_TIMEOUT; default {default('liveness_timeout'):g})",
    )
    agent.add_argument(
        "--gc-interval",
        type=_seconds_or_off,
        default=_env("CONTIV_GC_INTERVAL") or default("gc_interval"),
        metavar="SECONDS",
        help="how often attachments whose pod or network namespace is gone are removed; 0: never "
        f"(CONTIV_GC_INTERVAL; default {default('gc_interval'):g})",
    )
    _add_etcd_options(agent)
    agent.set_defaults(handler=cmd_agent)
    _add_cluster_commands(sub)
    inspection.add_commands(sub, _count)
    _add_demo_command(sub)
    _add_install_cni_command(sub)
    _add_stn_command(sub)
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
