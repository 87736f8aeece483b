"""Each step of the Dockerfile and each command the chart runs in the image, run here, outside any image.

No base image can be pulled on the machines that run this suite, so the
image itself is never built here. What can be checked is each piece it is
made of: the Dockerfile is lint-clean (hadolint), what it copies exists
and is not ignored, the plugin step makes a static executable, the wheel
step makes a wheel with the command and its data, the apt step's package
holds the plugins install-cni takes by default, and the commands the
chart's containers run (install-cni, the agent) behave as the chart
expects, with the rendered configuration.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import yaml

from contivctl import install_cni
from tests.install.support import CHART, ROOT, SYSTEM_PLUGINS, contiv_cni, contivctl, require, tool

DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(instruction, arguments), continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip("\\").strip() + " " if line.endswith("\\") else line.strip()
        if not line.endswith("\\"):
            word, _, rest = pending.partition(" ")
            out.append((word.upper(), rest.strip()))
            pending = ""
    return out


def test_hadolint_passes() -> None:
    done = subprocess.run([tool("hadolint"), str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_what_the_dockerfile_copies_from_the_context_exists_and_is_not_ignored() -> None:
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    kept = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copies = [args.split()[:-1] for word, args in instructions() if word == "COPY" and "--from" not in args]
    sources = [s.rstrip("/") for c in copies for s in c]
    assert sources
    for s in sources:
        assert (ROOT / s).exists(), s
        assert s in kept, f"{s} is left out by .dockerignore"


def test_the_entrypoint_is_the_command_the_chart_runs() -> None:
    found = dict(instructions())
    assert json.loads(found["ENTRYPOINT"]) == ["contivctl"]
    assert json.loads(found["CMD"]) == ["agent"]
    # the image's default command, here: without a config it says so in one line, status 2
    done = contivctl("agent", env={"CONTIV_CONFIG": "", "NODE_NAME": ""})
    assert (done.returncode, done.stderr) == (2, "contivctl: --config: is required (or set CONTIV_CONFIG)\n")


def test_the_plugin_step_makes_one_static_executable(tmp_path: Path) -> None:
    (cmd,) = [args for word, args in instructions() if word == "RUN" and "build.sh" in args]
    assert cmd == "bash cni-plugin/build.sh /out/contiv-cni"
    contiv_cni()  # Go is there (or the test is skipped)
    out = tmp_path / "contiv-cni"
    done = subprocess.run(["bash", str(ROOT / "cni-plugin" / "build.sh"), str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    require(shutil.which("file") is not None, "file is not installed")
    assert "statically linked" in subprocess.run(["file", str(out)], capture_output=True, text=True).stdout
    version = subprocess.run([str(out)], env={"CNI_COMMAND": "VERSION"}, capture_output=True, text=True)
    assert "1.0.0" in json.loads(version.stdout)["supportedVersions"]


def test_the_wheel_step_makes_a_wheel_with_the_command_and_its_data(tmp_path: Path) -> None:
    context = tmp_path / "src"
    context.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, context / name)
    shutil.copytree(ROOT / "contivctl", context / "contivctl", ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path / "wheels"
    # the image's step builds in isolation (setuptools from PyPI); here the machine's setuptools does
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(wheels), "."],
        cwd=context,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = wheels.glob("contivctl-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        (entry,) = [n for n in names if n.endswith("entry_points.txt")]
        assert "contivctl = contivctl.cli:main" in z.read(entry).decode()
    assert {"contivctl/install_cni.py", "contivctl/cli.py", "contivctl/py.typed"} <= names
    assert any(n.startswith("contivctl/testing/vppemu/api/") and n.endswith(".api.json") for n in names)


def test_the_apt_step_brings_the_plugins_install_cni_takes_by_default() -> None:
    (run,) = [args for word, args in instructions() if word == "RUN" and "apt-get install" in args]
    assert "containernetworking-plugins=" in run
    assert Path(install_cni.DEFAULT_SOURCE_DIR) == SYSTEM_PLUGINS
    require(shutil.which("dpkg") is not None, "not a Debian machine")
    listed = subprocess.run(["dpkg", "-L", "containernetworking-plugins"], capture_output=True, text=True)
    require(listed.returncode == 0, "containernetworking-plugins is not installed")
    assert {"/usr/lib/cni/loopback", "/usr/lib/cni/portmap"} <= set(listed.stdout.split())


# -- the chart's commands, with the rendered configuration --------------------------------------


def rendered(*sets: str) -> list[dict[str, Any]]:
    args = [tool("helm", "HELM"), "template", "contiv", str(CHART), "--namespace", "kube-system"]
    for s in sets:
        args += ["--set", s]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def run_plugin(plugin: Path, command: str, netconf: dict[str, Any], netns: str = "/var/run/netns/none") -> Any:
    env = {
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": "c0ffee",
        "CNI_NETNS": netns,
        "CNI_IFNAME": "eth0",
        "CNI_PATH": str(plugin.parent),
    }
    done = subprocess.run([str(plugin)], input=json.dumps(netconf), env=env, capture_output=True, text=True)
    return json.loads(done.stdout) if done.stdout else {}


def test_the_init_container_s_command_installs_what_the_plugin_and_the_agent_then_read(tmp_path: Path) -> None:
    require((SYSTEM_PLUGINS / "portmap").exists(), "Debian's containernetworking-plugins is not installed")
    docs = rendered()
    (cm,) = [d for d in docs if d["kind"] == "ConfigMap"]
    (ds,) = [d for d in docs if d["kind"] == "DaemonSet"]
    (init,) = [c for c in ds["spec"]["template"]["spec"]["initContainers"] if c["name"] == "install-cni"]
    # the pod's mounts, here: each mount path becomes a directory of the test
    mapped = {m["mountPath"]: tmp_path / m["name"] for m in init["volumeMounts"]}
    for d in mapped.values():
        d.mkdir()
    for key, text in cm["data"].items():
        (mapped["/etc/contiv"] / key).write_text(text)

    def local(arg: str) -> str:
        for path, d in mapped.items():
            if path in arg:
                return arg.replace(path, str(d))
        return arg

    command = [local(a) for a in init["command"]]
    assert command[0] == "contivctl"
    # contiv-cni on PATH, as the image has it in /usr/local/bin
    path = f"{contiv_cni().parent}:{os.environ['PATH']}"
    done = contivctl(*command[1:], env={"PATH": path})
    assert done.returncode == 0, done.stderr
    bin_dir, net_dir = mapped["/host/opt/cni/bin"], mapped["/host/etc/cni/net.d"]
    assert sorted(p.name for p in bin_dir.iterdir()) == ["contiv-cni", "loopback", "portmap"]
    (conf,) = net_dir.iterdir()
    assert conf.name == "10-contiv-vpp.conflist"

    # the installed plugin reads the installed conflist's entry as a runtime hands it over
    conflist = json.loads(conf.read_text())
    plugin = bin_dir / "contiv-cni"
    version = run_plugin(plugin, "VERSION", {})
    assert conflist["cniVersion"] in version["supportedVersions"]
    netconf = {"cniVersion": conflist["cniVersion"], "name": conflist["name"], **conflist["plugins"][0]}
    require(not Path(netconf["grpcServer"]).exists(), f"an agent serves {netconf['grpcServer']} on this machine")
    checked = run_plugin(plugin, "CHECK", netconf)
    assert checked["code"] == 11 and netconf["grpcServer"] in checked["msg"]  # valid: only the agent is missing
    bad = {k: v for k, v in netconf.items() if k != "grpcServer"}
    refused = run_plugin(plugin, "CHECK", bad)
    assert refused["code"] == 7 and "grpcServer" in refused["msg"]
    refused = run_plugin(plugin, "CHECK", {**netconf, "grpcTimeout": 0})
    assert refused["code"] == 7 and "grpcTimeout" in refused["msg"]

    # the agent's loader reads the contiv.yaml the agent container is given
    agent_env = {e["name"]: e.get("value") for e in ds["spec"]["template"]["spec"]["containers"][-1]["env"]}
    assert agent_env["CONTIV_CONFIG"] == "/etc/contiv/contiv.yaml"
    checked_cfg = contivctl("config", "check", local(agent_env["CONTIV_CONFIG"]), "-o", "json")
    assert checked_cfg.returncode == 0, checked_cfg.stderr
    assert json.loads(checked_cfg.stdout)["MTUSize"] == 1450

    # and the preStop hook's command, where the chart asks for it, takes it all away again
    (ds2,) = [d for d in rendered("cni.uninstall=true") if d["kind"] == "DaemonSet"]
    (agent,) = [c for c in ds2["spec"]["template"]["spec"]["containers"] if c["name"] == "agent"]
    stop = [local(a) for a in agent["lifecycle"]["preStop"]["exec"]["command"]]
    done = contivctl(*stop[1:])
    assert done.returncode == 0, done.stderr
    assert list(bin_dir.iterdir()) == [] and list(net_dir.iterdir()) == []
