"""``contivctl install-cni`` for real, in temporary directories standing for a node's CNI directories.

What a node must be able to count on: other plugins' files are never
touched, the runtime never sees a half-written file, a re-run changes
nothing, and an uninstall takes away exactly what was installed.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import attrs
import pytest

from contivctl import install_cni
from tests.install.inotify import Watch
from tests.install.support import EXAMPLES, SYSTEM_PLUGINS, contiv_cni, contivctl, require

CONFLIST = EXAMPLES / "10-contiv-vpp.conflist"
FOREIGN_CONFLIST = b'{"cniVersion": "1.0.0", "name": "other", "plugins": [{"type": "bridge"}]}\n'


@attrs.frozen
class Node:
    root: Path

    @property
    def bin(self) -> Path:
        return self.root / "opt-cni-bin"

    @property
    def net(self) -> Path:
        return self.root / "etc-cni-net.d"

    @property
    def record(self) -> Path:
        return self.root / "var-lib-contiv" / "cni-install.json"

    def args(self, *extra: str) -> list[str]:
        return [
            "install-cni",
            "--cni-bin-dir",
            str(self.bin),
            "--cni-conf-dir",
            str(self.net),
            "--record",
            str(self.record),
            "--source-dir",
            str(SYSTEM_PLUGINS),
            "--plugin",
            str(contiv_cni()),
            *extra,
        ]

    def install(self, *extra: str) -> str:
        done = contivctl(*self.args("--conflist", str(CONFLIST), *extra))
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
        return done.stdout

    def uninstall(self) -> str:
        done = contivctl("install-cni", "--uninstall", "--record", str(self.record))
        assert done.returncode == 0, done.stderr
        return done.stdout


@pytest.fixture
def node(tmp_path: Path) -> Node:
    require((SYSTEM_PLUGINS / "portmap").exists(), "Debian's containernetworking-plugins is not installed")
    n = Node(tmp_path)
    n.bin.mkdir()
    n.net.mkdir()
    return n


def snapshot(*dirs: Path) -> dict[str, tuple[int, int, bytes]]:
    """Each file's inode, modification time and bytes: what "untouched" means."""
    out = {}
    for d in dirs:
        for p in sorted(d.iterdir()):
            st = p.stat()
            out[str(p)] = (st.st_ino, st.st_mtime_ns, p.read_bytes())
    return out


def test_a_fresh_node_gets_the_plugin_loopback_portmap_and_the_conflist(node: Node) -> None:
    out = node.install()
    assert sorted(p.name for p in node.bin.iterdir()) == ["contiv-cni", "loopback", "portmap"]
    for name in ("loopback", "portmap"):
        assert (node.bin / name).read_bytes() == (SYSTEM_PLUGINS / name).read_bytes()
    assert (node.bin / "contiv-cni").read_bytes() == contiv_cni().read_bytes()
    assert all(os.access(p, os.X_OK) for p in node.bin.iterdir())
    (conf,) = node.net.iterdir()
    assert conf.name == "10-contiv-vpp.conflist"
    assert json.loads(conf.read_text()) == json.loads(CONFLIST.read_text())
    assert conf.stat().st_mode & 0o777 == 0o644
    assert f"installed {node.bin / 'portmap'}" in out
    record = json.loads(node.record.read_text())
    assert sorted(record["binaries"]) == ["contiv-cni", "loopback", "portmap"]
    assert record["conflist"] == "10-contiv-vpp.conflist"


def test_other_plugins_files_are_untouched_by_install_and_uninstall(node: Node) -> None:
    (node.net / "05-flannel.conflist").write_bytes(FOREIGN_CONFLIST)
    (node.net / "99-loopback.conf").write_bytes(b'{"cniVersion": "0.3.1", "name": "lo", "type": "loopback"}\n')
    (node.net / "README").write_bytes(b"not a configuration\n")
    (node.bin / "portmap").write_bytes(b"#!/bin/sh\n# the node's own portmap\n")
    (node.bin / "portmap").chmod(0o755)
    (node.bin / "bridge").write_bytes(b"the node's bridge")
    before = snapshot(node.net, node.bin)

    out = node.install()
    assert f"kept {node.bin / 'portmap'} (the node's own)" in out
    # the runtime picks the first file: the user is told why contiv's is not in use
    assert "note: 05-flannel.conflist comes first" in out
    after = snapshot(node.net, node.bin)
    assert {k: v for k, v in after.items() if k in before} == before
    assert sorted(set(after) - set(before)) == sorted(
        [str(node.bin / "contiv-cni"), str(node.bin / "loopback"), str(node.net / "10-contiv-vpp.conflist")]
    )

    node.uninstall()
    assert snapshot(node.net, node.bin) == before
    assert not node.record.exists()


def test_a_second_run_changes_nothing(node: Node) -> None:
    node.install()
    before = snapshot(node.net, node.bin, node.record.parent)
    with Watch(node.net, node.bin) as watch:
        out = node.install()
        assert watch.events() == []
    assert snapshot(node.net, node.bin, node.record.parent) == before
    assert out.splitlines() == [
        f"unchanged {node.bin / 'contiv-cni'}",
        f"unchanged {node.bin / 'loopback'}",
        f"unchanged {node.bin / 'portmap'}",
        f"unchanged {node.net / '10-contiv-vpp.conflist'}",
    ]


def test_files_appear_only_by_rename_under_names_the_runtime_ignores_until_then(node: Node) -> None:
    node.install()
    # a new plugin build and a new configuration: both replaced while a runtime may read them
    newer = node.root / "contiv-cni-newer"
    shutil.copyfile(contiv_cni(), newer)
    with newer.open("ab") as f:
        f.write(b"\0")
    conflist = json.loads(CONFLIST.read_text())
    conflist["plugins"][0]["grpcTimeout"] = 10
    changed = node.root / "changed.conflist"
    changed.write_text(json.dumps(conflist))
    old_plugin = (node.bin / "contiv-cni").open("rb")  # a plugin running meanwhile keeps its executable
    try:
        with Watch(node.net, node.bin) as watch:
            args = node.args("--conflist", str(changed))
            args[args.index("--plugin") + 1] = str(newer)
            done = contivctl(*args)
            assert done.returncode == 0, done.stderr
            events = watch.events()
        assert old_plugin.read() == contiv_cni().read_bytes()
    finally:
        old_plugin.close()
    finals = {"contiv-cni", "10-contiv-vpp.conflist"}
    assert {e.name for e in events if "moved_to" in e.kinds} == finals
    for e in events:
        if e.name in finals:
            assert e.kinds == {"moved_to"}, e
        else:
            assert not e.name.endswith(install_cni.CONF_EXTENSIONS), e
            assert e.name.startswith("."), e
    assert json.loads((node.net / "10-contiv-vpp.conflist").read_text())["plugins"][0]["grpcTimeout"] == 10
    assert (node.bin / "contiv-cni").read_bytes() == newer.read_bytes()
    assert sorted(p.name for p in node.net.iterdir()) == ["10-contiv-vpp.conflist"]  # no temporary left


def test_the_priority_names_the_file_and_a_new_one_replaces_the_old(node: Node) -> None:
    node.install("--priority", "5")
    assert [p.name for p in node.net.iterdir()] == ["05-contiv-vpp.conflist"]
    out = node.install("--priority", "20")
    assert [p.name for p in node.net.iterdir()] == ["20-contiv-vpp.conflist"]
    assert "replaces 05-contiv-vpp.conflist" in out
    node.uninstall()
    assert list(node.net.iterdir()) == []


def test_exclusive_sets_others_aside_and_uninstall_puts_them_back(node: Node) -> None:
    (node.net / "05-flannel.conflist").write_bytes(FOREIGN_CONFLIST)
    (node.net / "87-podman.conflist").write_bytes(FOREIGN_CONFLIST)
    (node.net / "notes.txt").write_bytes(b"kept as it is")
    before = snapshot(node.net)

    node.install("--exclusive")
    assert sorted(p.name for p in node.net.iterdir()) == [
        "05-flannel.conflist.contiv_bak",
        "10-contiv-vpp.conflist",
        "87-podman.conflist.contiv_bak",
        "notes.txt",
    ]
    # a configuration that arrives later (another installer) is set aside by the next run
    (node.net / "00-late.conf").write_bytes(FOREIGN_CONFLIST)
    node.install("--exclusive")
    assert not (node.net / "00-late.conf").exists()

    node.uninstall()
    after = snapshot(node.net)
    assert sorted(after) == sorted([*before, str(node.net / "00-late.conf")])
    assert {k: v[2] for k, v in after.items() if k in before} == {k: v[2] for k, v in before.items()}


def test_uninstall_keeps_a_file_someone_replaced_since(node: Node) -> None:
    node.install()
    (node.bin / "portmap").unlink()
    (node.bin / "portmap").write_bytes(b"a newer portmap from the node's packages")
    out = node.uninstall()
    assert f"kept {node.bin / 'portmap'}: changed since it was installed" in out
    assert [p.name for p in node.bin.iterdir()] == ["portmap"]
    assert list(node.net.iterdir()) == []


def test_uninstall_without_a_record_removes_nothing(node: Node) -> None:
    (node.bin / "contiv-cni").write_bytes(b"installed by hand")
    out = node.uninstall()
    assert out.startswith("nothing to remove: no record at")
    assert (node.bin / "contiv-cni").exists()


def test_a_bad_conflist_is_one_line_and_exit_status_2_before_anything_is_written(node: Node) -> None:
    bad = node.root / "bad.conflist"
    bad.write_text(json.dumps({"cniVersion": "1.0.0", "name": "x", "plugins": [{"type": "portmap"}]}))
    done = contivctl(*node.args("--conflist", str(bad)))
    assert done.returncode == 2
    why = "must be 'contiv-cni': it is the first plugin of the chain"
    assert done.stderr == f"contivctl: {bad}: plugins[0].type: {why}\n"
    assert list(node.bin.iterdir()) == [] and list(node.net.iterdir()) == []
    bad.write_text("{")
    done = contivctl(*node.args("--conflist", str(bad)))
    assert (done.returncode, done.stderr.count("\n")) == (2, 1)
    assert done.stderr.startswith(f"contivctl: {bad}: not JSON")
    done = contivctl(*node.args("--conflist", str(CONFLIST), "--priority", "100"))
    assert done.returncode == 2
    assert "--priority: invalid _priority value" not in done.stderr and "100 is not between 0 and 99" in done.stderr


def test_a_missing_plugin_source_is_one_line_and_exit_status_1(node: Node) -> None:
    args = node.args("--conflist", str(CONFLIST))
    args[args.index("--source-dir") + 1] = str(node.root / "nowhere")
    done = contivctl(*args)
    assert done.returncode == 1
    assert done.stderr == (
        f"contivctl: loopback: neither {node.bin / 'loopback'} nor {node.root / 'nowhere' / 'loopback'} exists "
        "(the conflist chains it)\n"
    )


def test_a_record_of_other_directories_is_refused(node: Node) -> None:
    node.install()
    args = node.args("--conflist", str(CONFLIST))
    args[args.index("--cni-conf-dir") + 1] = str(node.root / "elsewhere")
    done = contivctl(*args)
    assert done.returncode == 1
    assert "uninstall that first" in done.stderr and done.stderr.count("\n") == 1
