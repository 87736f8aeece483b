"""The NodeConfig CRD manifest: the original's names, and a schema that matches what the agent reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from contivctl.k8s import objects

MANIFEST = Path(__file__).resolve().parents[2] / "k8s" / "nodeconfig-crd.yaml"


def _walk(schema: dict[str, Any]) -> None:
    """Structural schema rules the API server enforces: every node typed, no $ref."""
    assert "$ref" not in schema
    assert "type" in schema, schema
    for sub in (schema.get("properties") or {}).values():
        _walk(sub)
    if "items" in schema:
        _walk(schema["items"])


def test_crd_names_and_schema() -> None:
    crd = yaml.safe_load(MANIFEST.read_text())
    spec = crd["spec"]
    assert crd["metadata"]["name"] == f"{objects.NODECONFIG_PLURAL}.{objects.NODECONFIG_GROUP}"
    assert (spec["group"], spec["scope"], spec["names"]["kind"]) == (
        objects.NODECONFIG_GROUP,
        "Cluster",
        "NodeConfig",
    )
    (version,) = spec["versions"]
    assert version["name"] == objects.NODECONFIG_VERSION
    schema = version["schema"]["openAPIV3Schema"]
    _walk(schema)
    fields = schema["properties"]["spec"]["properties"]
    assert set(fields) == {"mainVPPInterface", "otherVPPInterfaces", "stealInterface", "gateway", "natExternalTraffic"}
    assert set(fields["mainVPPInterface"]["properties"]) == {"interfaceName", "ip", "useDHCP"}
    assert set(fields["otherVPPInterfaces"]["items"]["properties"]) == {"interfaceName", "ip", "useDHCP"}


def test_every_schema_field_is_read() -> None:
    obj = {
        "metadata": {"name": "n1", "namespace": "default"},
        "spec": {
            "mainVPPInterface": {"interfaceName": "GigabitEthernet0/8/0", "ip": "10.0.0.5/24", "useDHCP": False},
            "otherVPPInterfaces": [{"interfaceName": "GigabitEthernet0/9/0", "useDHCP": True}],
            "stealInterface": "eth1",
            "gateway": "10.0.0.1",
            "natExternalTraffic": True,
        },
    }
    cfg = objects.node_config_of(obj)
    assert cfg.node_name == "n1"
    assert str(cfg.main_vpp_interface.ip) == "10.0.0.5/24"
    assert cfg.other_vpp_interfaces[0].use_dhcp
    assert (cfg.steal_interface, str(cfg.gateway), cfg.nat_external_traffic) == ("eth1", "10.0.0.1", True)
