"""The Helm chart: lint-clean, valid for the Kubernetes versions it targets, and agreeing with the agent.

Every value set a user is likely to start from is rendered by the real
``helm`` (v4, from the wheel .ci/run unpacks) and checked offline by
``kubernetes-validate --strict`` against 1.30 and 1.37; what the manifests
say is then read back: what the agent is told (its environment, its
``contiv.yaml``, its ``etcd.conf``) is what the agent's own loaders accept.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from contivctl.config import parse_config
from contivctl.install_cni import check_conflist
from contivctl.kv.etcdconf import load_etcd_conf
from tests.install.support import CHART, tool

K8S_VERSIONS = ("1.30.0", "1.37.0")

#: the value sets CI renders: name → --set arguments
VALUE_SETS: dict[str, list[str]] = {
    "vpp": [],
    "vpp-nic": ["vpp.nic.pciAddress=0000:00:08.0", "vpp.nic.name=GigabitEthernet0/8/0", "vpp.cpu.workers=1-2"],
    "vpp-external": ["vpp.external=true"],
    "kernel": ["dataplane=kernel"],
    "etcd-deployed-tls": ["etcd.deploy=true", "etcd.tls.enabled=true", "etcd.persistence.type=pvc"],
    "etcd-external-tls": ["etcd.endpoints={https://10.0.0.1:2379,https://10.0.0.2:2379}", "etcd.tls.enabled=true"],
    "exclusive": ["cni.exclusive=true", "cni.uninstall=true", "cni.priority=5", "dataplane=kernel"],
    "scraped": ["agent.httpHost=0.0.0.0", "agent.prometheusAnnotations=true", "agent.logFormat=json"],
}


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("helm", "HELM"), *args], capture_output=True, text=True, timeout=120)


def render(*sets: str) -> list[dict[str, Any]]:
    args = ["template", "contiv", str(CHART), "--namespace", "kube-system"]
    for s in sets:
        args += ["--set", s]
    done = helm(*args)
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def pod_spec(docs: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = find(docs, "DaemonSet", "contiv-vswitch")["spec"]["template"]["spec"]
    return spec


def container(docs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    spec = pod_spec(docs)
    (c,) = [c for c in spec["containers"] + spec.get("initContainers", []) if c["name"] == name]
    return c


def env(c: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "<from field>") for e in c["env"]}


def config_data(docs: list[dict[str, Any]]) -> dict[str, str]:
    data: dict[str, str] = find(docs, "ConfigMap", "contiv-agent-cfg")["data"]
    return data


def volumes(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in pod_spec(docs)["volumes"]}


# -- static parts ----------------------------------------------------------------------------


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
    spec = yaml.safe_load(crd)["spec"]
    assert spec["names"]["kind"] == "NodeConfig"
    assert spec["scope"] == "Cluster"
    columns = {c["name"]: c["jsonPath"] for c in spec["versions"][0]["additionalPrinterColumns"]}
    assert columns["IP"] == ".spec.mainVPPInterface.ip" and columns["Gateway"] == ".spec.gateway"


#: values that are Kubernetes objects as they are (documented as a whole)
WHOLE = ("config", "resources", "updateStrategy", "nodeSelector", "startupProbe", "livenessProbe", "readinessProbe")


def _leaves(values: Any, path: str = "") -> Iterator[str]:
    if isinstance(values, dict) and values and path.rsplit(".", 1)[-1] not in WHOLE:
        for k, v in values.items():
            yield from _leaves(v, f"{path}.{k}" if path else k)
    else:
        yield path


def test_every_value_is_documented_in_values_yaml_and_typed_in_the_schema() -> None:
    text = (CHART / "values.yaml").read_text()
    values = yaml.safe_load(text)
    schema = json.loads((CHART / "values.schema.json").read_text())
    lines = text.splitlines()
    for top in values:
        (i,) = [n for n, line in enumerate(lines) if line.startswith(f"{top}:")]
        assert lines[i - 1].startswith("#"), f"{top} has no comment above it"
    for leaf in _leaves(values):
        node = schema
        for part in leaf.split("."):
            assert part in node.get("properties", {}), f"{leaf}: not in values.schema.json"
            node = node["properties"][part]
        assert "type" in node or "enum" in node or "const" in node, f"{leaf}: no type in values.schema.json"
    readme = (CHART / "README.md").read_text()
    for leaf in _leaves(values):
        assert f"`{leaf}`" in readme, f"{leaf}: not in the chart README's table of values"


# -- helm ------------------------------------------------------------------------------------


def test_lint_strict_with_every_value_set() -> None:
    for name, sets in VALUE_SETS.items():
        args = ["lint", "--strict", str(CHART)]
        for s in sets:
            args += ["--set", s]
        done = helm(*args)
        assert done.returncode == 0, f"{name}: {done.stdout}{done.stderr}"


def test_every_value_set_is_valid_for_kubernetes_1_30_and_1_37(tmp_path: Path) -> None:
    validate = tool("kubernetes-validate")
    files = []
    for name, sets in VALUE_SETS.items():
        f = tmp_path / f"{name}.yaml"
        f.write_text(yaml.safe_dump_all(render(*sets)))
        files.append(str(f))
    crd = str(CHART / "crds" / "nodeconfig-crd.yaml")
    for version in K8S_VERSIONS:
        done = subprocess.run(
            [validate, "--strict", "--quiet", "-k", version, crd, *files], capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("config.MTUSize=abc", "/config/MTUSize"),
        ("config.IPAMConfig.PodSubnetCIDR=10.1.0.0", "/config/IPAMConfig/PodSubnetCIDR"),
        ("dataplane=dpdk", "/dataplane"),
        ("cni.priority=100", "/cni/priority"),
        ("etcd.nodePort=2379", "/etcd/nodePort"),
        ("etcd.persistence.type=nfs", "/etcd/persistence/type"),
        ("vpp.hugepages.size=4Mi", "/vpp/hugepages/size"),
        ("vpp.nic.pciAddress=eth0", "/vpp/nic/pciAddress"),
        ("agent.httpPort=0", "/agent/httpPort"),
        ("agent.httpHost=localhost", "/agent/httpHost"),
        ("agent.vppSocket=/run/vpp/api.sock", "additional properties 'vppSocket'"),
        ("etcd.endpoints={10.0.0.1}", "/etcd/endpoints/0"),
    ],
)
def test_the_schema_rejects_bad_values(value: str, says: str) -> None:
    done = helm("template", "contiv", str(CHART), "--set", value)
    assert done.returncode != 0
    assert says in done.stderr, done.stderr


def test_each_value_the_schema_types_in_config_is_one_the_agent_reads_alike() -> None:
    """A typed key with a wrong value fails in helm; the agent must refuse it too, or the schema lies."""
    schema = json.loads((CHART / "values.schema.json").read_text())["properties"]["config"]["properties"]
    values = yaml.safe_load((CHART / "values.yaml").read_text())["config"]
    for key, rule in schema.items():
        if rule["type"] not in ("integer", "boolean"):
            continue
        with pytest.raises(Exception, match=key):
            parse_config({**values, key: "abc"})


# -- what the manifests say --------------------------------------------------------------------


def test_vpp_runs_beside_the_agent_with_startup_conf_from_values_and_its_own_api_definitions() -> None:
    docs = render(*VALUE_SETS["vpp-nic"])
    vpp = container(docs, "vpp")
    startup = config_data(docs)["startup.conf"]
    assert "  dev 0000:00:08.0 {\n    name GigabitEthernet0/8/0\n  }\n" in startup
    assert "socket-name /run/vpp/api.sock" in startup and "corelist-workers 1-2" in startup
    assert vpp["resources"]["limits"]["hugepages-2Mi"] == vpp["resources"]["requests"]["hugepages-2Mi"] == "512Mi"
    assert volumes(docs)["hugepages"]["emptyDir"] == {"medium": "HugePages-2Mi"}
    # the definitions come from the VPP image that runs, into a volume the agent reads
    api = container(docs, "vpp-api")
    assert api["image"] == vpp["image"]
    assert "emptyDir" in volumes(docs)["vpp-api"]
    agent = container(docs, "agent")
    assert {"name": "vpp-api", "mountPath": "/usr/share/vpp/api", "readOnly": True} in agent["volumeMounts"]
    assert env(agent)["CONTIV_VPP_API_DIR"] == "/usr/share/vpp/api"
    assert env(agent)["CONTIV_VPP_SOCKET"] == "/run/vpp/api.sock"
    run_vpp = {"name": "run-vpp", "mountPath": "/run/vpp"}
    assert run_vpp in agent["volumeMounts"] and run_vpp in vpp["volumeMounts"]
    assert "no-pci" in config_data(render())["startup.conf"]


def test_an_external_vpp_is_reached_on_the_host_with_the_host_s_definitions() -> None:
    docs = render(*VALUE_SETS["vpp-external"])
    names = [c["name"] for c in pod_spec(docs)["containers"] + pod_spec(docs)["initContainers"]]
    assert names == ["agent", "install-cni"]
    assert volumes(docs)["vpp-api"]["hostPath"] == {"path": "/usr/share/vpp/api", "type": "Directory"}
    assert "startup.conf" not in config_data(docs)


def test_the_kernel_dataplane_has_no_vpp_at_all() -> None:
    docs = render(*VALUE_SETS["kernel"])
    spec = pod_spec(docs)
    assert [c["name"] for c in spec["containers"]] == ["agent"]
    assert [c["name"] for c in spec["initContainers"]] == ["install-cni"]
    agent = container(docs, "agent")
    assert env(agent)["CONTIV_DATAPLANE"] == "kernel"
    assert not any(k.startswith("CONTIV_VPP") for k in env(agent))
    assert not {"run-vpp", "vpp-api", "hugepages"} & set(volumes(docs))


def test_rest_and_probes_stay_on_127_0_0_1() -> None:
    agent = container(render(), "agent")
    assert env(agent)["CONTIV_HTTP"] == "127.0.0.1:9999"
    for probe, path in (
        ("startupProbe", "/liveness"),
        ("livenessProbe", "/liveness"),
        ("readinessProbe", "/readiness"),
    ):
        assert agent[probe]["httpGet"] == {"host": "127.0.0.1", "path": path, "port": 9999}
    assert "ports" not in agent


def test_metrics_annotations_and_json_logs_only_when_asked() -> None:
    def pod_template(*sets: str) -> dict[str, Any]:
        (ds,) = [d for d in render(*sets) if d["kind"] == "DaemonSet" and "vswitch" in d["metadata"]["name"]]
        return dict(ds["spec"]["template"])

    plain = pod_template()
    assert not any(k.startswith("prometheus.io/") for k in plain["metadata"]["annotations"])
    assert env(container(render(), "agent"))["CONTIV_LOG_FORMAT"] == "text"
    scraped = pod_template(*VALUE_SETS["scraped"])
    assert scraped["metadata"]["annotations"]["prometheus.io/path"] == "/metrics"
    assert scraped["metadata"]["annotations"]["prometheus.io/port"] == "9999"
    assert env(container(render(*VALUE_SETS["scraped"]), "agent"))["CONTIV_LOG_FORMAT"] == "json"


def test_a_config_change_rolls_the_daemonset() -> None:
    def checksum(*sets: str) -> str:
        ds = find(render(*sets), "DaemonSet", "contiv-vswitch")
        value: str = ds["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
        return value

    assert checksum() == checksum()
    assert checksum() != checksum("config.MTUSize=1400")
    assert checksum() != checksum("cni.grpcTimeout=10")


def test_the_deployed_etcd_keeps_the_original_layout_with_tls_from_the_secret() -> None:
    docs = render(*VALUE_SETS["etcd-deployed-tls"])
    svc = find(docs, "Service", "contiv-etcd")
    assert svc["spec"]["type"] == "NodePort"
    assert svc["spec"]["ports"][0]["nodePort"] == 32379
    sts = find(docs, "StatefulSet", "contiv-etcd")
    assert sts["spec"]["template"]["spec"]["hostNetwork"] is True
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "2Gi"
    cmd = sts["spec"]["template"]["spec"]["containers"][0]["command"]
    assert "--client-cert-auth" in cmd and "--cert-file=/var/contiv/etcd-secrets/server.pem" in cmd
    agent = container(docs, "agent")
    assert env(agent)["CONTIV_ETCD"] == "https://$(HOST_IP):32379"
    assert volumes(docs)["etcd-secrets"]["secret"]["secretName"] == "contiv-etcd-secrets"
    hostpath = find(render("etcd.deploy=true"), "StatefulSet", "contiv-etcd")["spec"]["template"]["spec"]["volumes"]
    assert hostpath == [{"name": "data", "hostPath": {"path": "/var/etcd/contiv-data", "type": "DirectoryOrCreate"}}]


def test_the_etcd_conf_the_chart_writes_is_one_the_agent_reads(tmp_path: Path) -> None:
    docs = render(*VALUE_SETS["etcd-external-tls"])
    # the Secret's files, where the pod would have them mounted
    for name in ("ca.pem", "client.pem", "client-key.pem"):
        (tmp_path / name).write_text("")
    conf = tmp_path / "etcd.conf"
    text = config_data(docs)["etcd.conf"]
    assert text.count("/var/contiv/etcd-secrets/") == 3
    conf.write_text(text.replace("/var/contiv/etcd-secrets/", f"{tmp_path}/"))
    cfg = load_etcd_conf(conf)
    assert cfg.endpoints == ("10.0.0.1:2379", "10.0.0.2:2379")
    assert cfg.tls is not None and cfg.tls.ca_file == tmp_path / "ca.pem"
    assert cfg.dial_timeout == 10.0
    assert env(container(docs, "agent"))["ETCD_CONFIG"] == "/etc/contiv/etcd.conf"
    assert "etcd.conf" not in config_data(render())


def test_contiv_yaml_and_the_conflist_of_the_config_map_are_accepted() -> None:
    for sets in VALUE_SETS.values():
        data = config_data(render(*sets))
        parse_config(yaml.safe_load(data["contiv.yaml"]))
        assert check_conflist(json.loads(data["contiv.conflist"])) == []


@pytest.mark.parametrize("sets", [[], ["agent.cniSocket=/run/contiv-test/sock/cni.sock"]])
def test_the_plugin_and_the_agent_agree_on_the_del_queue_in_a_host_directory_both_see(sets: list[str]) -> None:
    docs = render(*sets)
    conflist = json.loads(config_data(docs)["contiv.conflist"])
    plugin = conflist["plugins"][0]
    agent = container(docs, "agent")
    queue = plugin["delQueueDir"]
    assert env(agent)["CONTIV_CNI_DEL_QUEUE"] == queue == str(Path(plugin["grpcServer"]).parent / "cni-del-queue")
    assert env(agent)["CONTIV_CNI_SOCKET"] == plugin["grpcServer"]
    # the agent has it where the plugin, on the host, has it: a host directory mounted at its own path
    (mount,) = [m for m in agent["volumeMounts"] if queue.startswith(m["mountPath"] + "/")]
    assert volumes(docs)[mount["name"]]["hostPath"]["path"] == mount["mountPath"]
    assert not mount.get("readOnly")


def test_install_cni_runs_in_the_init_container_and_uninstall_on_pre_stop_when_asked() -> None:
    docs = render(*VALUE_SETS["exclusive"])
    install = container(docs, "install-cni")
    assert install["command"][:2] == ["contivctl", "install-cni"]
    assert "--exclusive" in install["command"] and "--priority=5" in install["command"]
    agent = container(docs, "agent")
    assert agent["lifecycle"]["preStop"]["exec"]["command"] == [
        "contivctl",
        "install-cni",
        "--uninstall",
        "--record=/var/lib/contiv/cni-install.json",
    ]
    # the hook finds the files at the paths the init container recorded
    mounts = {m["name"]: m["mountPath"] for m in agent["volumeMounts"]}
    assert {k: mounts[k] for k in ("cni-bin", "cni-net")} == {
        m["name"]: m["mountPath"] for m in install["volumeMounts"] if m["name"] in ("cni-bin", "cni-net")
    }
    assert "lifecycle" not in container(render(), "agent")


def test_values_reach_the_pod_spec() -> None:
    docs = render(
        "daemonset.priorityClassName=contiv-critical",
        "daemonset.updateStrategy.rollingUpdate.maxUnavailable=10%",
        "daemonset.tolerations[0].key=dedicated",
        "daemonset.tolerations[0].operator=Exists",
        "agent.resources.limits.memory=2Gi",
    )
    ds = find(docs, "DaemonSet", "contiv-vswitch")
    spec = ds["spec"]["template"]["spec"]
    assert spec["priorityClassName"] == "contiv-critical"
    assert ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"] == "10%"
    assert spec["tolerations"] == [{"key": "dedicated", "operator": "Exists"}]
    assert container(docs, "agent")["resources"]["limits"]["memory"] == "2Gi"


def test_notes_tell_what_was_installed() -> None:
    done = helm(
        "install", "contiv", str(CHART), "--dry-run=client", "--namespace", "kube-system", "--set", "etcd.deploy=true"
    )
    assert done.returncode == 0, done.stderr
    notes = done.stdout.split("NOTES:", 1)[1]
    assert "rollout status daemonset/contiv-vswitch" in notes
    assert "NodePort 32379" in notes and "10-contiv-vpp.conflist" in notes
