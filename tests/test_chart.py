"""The Helm chart's static parts: valid YAML that agrees with the agent."""

from __future__ import annotations

from pathlib import Path

import yaml

from contivctl.config import parse_config

CHART = Path(__file__).parents[1] / "charts" / "contiv-vpp"


def test_chart_metadata() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "contiv-vpp"


def test_the_config_in_values_is_a_valid_agent_config() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    cfg = parse_config(values["config"])
    assert cfg.use_tap_interfaces is True
    assert cfg.mtu_size == 1450


def test_the_chart_ships_the_same_crd_as_k8s() -> None:
    crd = (CHART / "crds" / "nodeconfig-crd.yaml").read_text()
    assert crd == (CHART.parents[1] / "k8s" / "nodeconfig-crd.yaml").read_text()
    assert yaml.safe_load(crd)["spec"]["names"]["kind"] == "NodeConfig"
