"""What loads but does not do all it says: warnings on the loaded config, one channel for every reader."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from contivctl.config import load_config, parse_config
from contivctl.config.model import Config

EXAMPLE = Path(__file__).parents[2] / "examples" / "contiv.yaml"
NODE_RANGE = {"NodeInterconnectCIDR": "192.168.16.0/24"}


def warnings_of(cfg: Config) -> list[str]:
    return [str(w) for w in cfg.warnings]


def test_a_pod_if_range_smaller_than_a_node_subnet_loads_as_the_original_did() -> None:
    cfg = parse_config({"IPAMConfig": {"PodIfIPCIDR": "10.2.1.0/26", **NODE_RANGE}})
    assert str(cfg.ipam.pod_if_ip_cidr) == "10.2.1.0/26"
    assert warnings_of(cfg) == [
        "IPAMConfig.PodIfIPCIDR: 10.2.1.0/26 is smaller than one node's pod subnet (/24): as in the original, "
        "the VPP-side pod interface addresses run past it, up to 10.2.1.255"
    ]


def test_tap_version_1_is_read_and_warned_about() -> None:
    cfg = parse_config({"TAPInterfaceVersion": 1, "IPAMConfig": NODE_RANGE})
    assert cfg.tap_interface_version == 1
    assert warnings_of(cfg) == [
        "TAPInterfaceVersion: 1 is ignored: VPP 26.06 has no TAP v1, TAP interfaces are always virtio TAPs (version 2)"
    ]
    assert parse_config({"TAPInterfaceVersion": 2, "IPAMConfig": NODE_RANGE}).warnings == ()


def test_nat_virtual_reassembly_cannot_be_disabled_and_says_so() -> None:
    cfg = parse_config({"DisableNATVirtualReassembly": True, "IPAMConfig": NODE_RANGE})
    assert warnings_of(cfg) == [
        "DisableNATVirtualReassembly: true is ignored: VPP 26.06's NAT44 has no setting that drops fragments "
        "(the v2.0 agent's nat_set_reass went with the old NAT plugin); fragments are translated as they arrive"
    ]
    assert parse_config({"DisableNATVirtualReassembly": False, "IPAMConfig": NODE_RANGE}).warnings == ()


def test_crd_node_configuration_by_file_form() -> None:
    v20 = parse_config({"IPAMConfig": NODE_RANGE})
    later = parse_config({"ipamConfig": NODE_RANGE})
    # v2.0 read a node's NodeConfig resource whatever the key said; later versions only when it is false
    assert (v20.crd_node_configuration_disabled, later.crd_node_configuration_disabled) == (False, True)
    assert v20.warnings == later.warnings == ()
    given = parse_config({"CRDNodeConfigurationDisabled": True, "IPAMConfig": NODE_RANGE})
    assert given.crd_node_configuration_disabled is True
    assert warnings_of(given) == [
        "CRDNodeConfigurationDisabled: true: NodeConfig resources are not read, node entries come from this file "
        "only (the v2.0 agent read them whatever this key said; set it to false to keep using them)"
    ]
    assert parse_config({"crdNodeConfigurationDisabled": True, "ipamConfig": NODE_RANGE}).warnings == ()


def test_the_original_deployment_file_has_only_the_crd_warning() -> None:
    assert [w.path for w in load_config(EXAMPLE).warnings] == ["CRDNodeConfigurationDisabled"]


def test_warnings_are_not_part_of_the_value() -> None:
    a = parse_config({"TAPInterfaceVersion": 1, "IPAMConfig": NODE_RANGE})
    b = parse_config({"TAPInterfaceVersion": 1, "IPAMConfig": NODE_RANGE})
    assert a == b and a.warnings


def test_the_agent_logs_the_warnings_at_start(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from contivctl.agent.agent import Agent
    from contivctl.agent.options import AgentOptions

    path = tmp_path / "contiv.yaml"
    path.write_text(
        "TAPInterfaceVersion: 1\nTCPstackDisabled: true\nIPAMConfig: {NodeInterconnectCIDR: 192.168.16.0/24}\n"
    )
    with caplog.at_level(logging.WARNING, logger="contivctl.agent.agent"):
        Agent(AgentOptions(config=path, node_name="n1", store=tmp_path / "agent.db", no_kubernetes=True))
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: TAPInterfaceVersion: 1 is ignored: VPP 26.06 has no TAP v1, TAP interfaces are always virtio "
        "TAPs (version 2)"
    ]


def test_an_agent_without_kubernetes_says_no_pod_gets_the_tcp_stack(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from contivctl.agent.agent import Agent
    from contivctl.agent.options import AgentOptions

    path = tmp_path / "contiv.yaml"
    path.write_text("TCPstackDisabled: false\nIPAMConfig: {NodeInterconnectCIDR: 192.168.16.0/24}\n")
    with caplog.at_level(logging.WARNING, logger="contivctl.agent.agent"):
        Agent(AgentOptions(config=path, node_name="n1", store=tmp_path / "agent.db", no_kubernetes=True))
    assert [r.getMessage() for r in caplog.records] == [
        'TCPstackDisabled is false, but without Kubernetes no pod has labels: none is labelled ldpreload: "true", '
        "so every pod is wired by VETH or TAP"
    ]
