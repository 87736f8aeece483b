"""``contivctl install-cni``: put contiv-cni and its network configuration on a node, and take them off again.

A container runtime (containerd, CRI-O) uses the first network configuration
of its conf dir in lexical order, and runs the plugins it names from its bin
dir, at any moment, also while this command runs. So:

- every file is written to a temporary name the runtime ignores (it reads
  ``.conf``, ``.conflist`` and ``.json`` only) and renamed into place: the
  runtime sees the old file or the new one, never half of one, and a running
  plugin keeps its old executable;
- a file whose content is already what it should be is not rewritten, so a
  re-run (every restart of the agent's pod) changes nothing on the node;
- other plugins' configurations are never touched, unless ``--exclusive``
  asks to set them aside (renamed to ``<name>.contiv_bak``, as Cilium's
  ``cni.exclusive`` does), and ``--uninstall`` puts them back;
- chained plugins (``loopback``, which runtimes call for a pod's ``lo``, and
  the conflist's others, e.g. ``portmap``) are installed only when the node
  has none: a node's own build is kept;
- a record (``--record``) lists what this command installed, with each
  file's SHA-256, so that ``--uninstall`` removes exactly that: a file that
  was there before, or that someone replaced since, stays.

docs/install.md tells how the chart's init container and preStop hook run it.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import attrs

from contivctl.errors import ConfigError, ConfigProblem, ContivError

PLUGIN = "contiv-cni"
#: what runtimes read from a conf dir (libcni's ConfFiles)
CONF_EXTENSIONS = (".conf", ".conflist", ".json")
ASIDE_SUFFIX = ".contiv_bak"
#: runtimes call it for every pod's ``lo``, whatever the network configuration says
LOOPBACK = "loopback"
RECORD_VERSION = 1

DEFAULT_BIN_DIR = "/opt/cni/bin"
DEFAULT_CONF_DIR = "/etc/cni/net.d"
DEFAULT_SOURCE_DIR = "/usr/lib/cni"
DEFAULT_RECORD = "/var/lib/contiv/cni-install.json"
DEFAULT_NAME = "contiv-vpp"
DEFAULT_PRIORITY = 10


@attrs.frozen
class InstallOptions:
    conflist: Path
    bin_dir: Path = Path(DEFAULT_BIN_DIR)
    conf_dir: Path = Path(DEFAULT_CONF_DIR)
    #: where the chained plugins are taken from when the node has none
    source_dir: Path = Path(DEFAULT_SOURCE_DIR)
    #: the contiv-cni executable to install; None: ``contiv-cni`` on PATH
    plugin: Path | None = None
    record: Path = Path(DEFAULT_RECORD)
    priority: int = DEFAULT_PRIORITY
    name: str = DEFAULT_NAME
    exclusive: bool = False

    @property
    def conflist_name(self) -> str:
        return f"{self.priority:02d}-{self.name}.conflist"


@attrs.define
class Record:
    """What this command put on the node; kept as JSON at ``--record``."""

    bin_dir: str
    conf_dir: str
    #: the conflist's file name in conf_dir ("" before it is written)
    conflist: str = ""
    conflist_sha256: str = ""
    #: executable name in bin_dir → SHA-256 of what was installed
    binaries: dict[str, str] = attrs.Factory(dict)
    #: configurations renamed to <name>.contiv_bak by --exclusive, by their own name
    set_aside: list[str] = attrs.Factory(list)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": RECORD_VERSION,
            "binDir": self.bin_dir,
            "confDir": self.conf_dir,
            "conflist": self.conflist,
            "conflistSha256": self.conflist_sha256,
            "binaries": dict(sorted(self.binaries.items())),
            "setAside": sorted(self.set_aside),
        }

    @classmethod
    def from_json(cls, data: Any, where: str) -> Record:
        try:
            if data.get("version") != RECORD_VERSION:
                raise ValueError(f"version {data.get('version')!r}")
            return cls(
                bin_dir=str(data["binDir"]),
                conf_dir=str(data["confDir"]),
                conflist=str(data.get("conflist", "")),
                conflist_sha256=str(data.get("conflistSha256", "")),
                binaries={str(k): str(v) for k, v in dict(data.get("binaries", {})).items()},
                set_aside=[str(n) for n in data.get("setAside", [])],
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ContivError(f"{where}: not a record of install-cni ({exc}); remove it to start afresh") from None


def install(opts: InstallOptions, out: TextIO) -> int:
    conflist = _read_conflist(opts.conflist)
    plugin = _plugin_source(opts.plugin)
    chained = _chained_plugins(conflist)
    for d in (opts.bin_dir, opts.conf_dir, opts.record.parent):
        _makedirs(d)
    record = _load_record(opts.record)
    if record is not None and (Path(record.bin_dir), Path(record.conf_dir)) != (opts.bin_dir, opts.conf_dir):
        raise ContivError(
            f"{opts.record}: records an installation into {record.bin_dir} and {record.conf_dir}; "
            "uninstall that first (--uninstall with the same --record)"
        )
    if record is None:
        record = Record(bin_dir=str(opts.bin_dir), conf_dir=str(opts.conf_dir))
    rec = _Recorder(opts.record, record)

    _install_binary(rec, plugin, opts.bin_dir / PLUGIN, out)
    for name in chained:
        source = opts.source_dir / name
        target = opts.bin_dir / name
        if target.exists() and name in record.binaries and _sha256_file(target) != record.binaries[name]:
            # replaced by someone since: the node's own now
            del record.binaries[name]
            rec.save()
        if target.exists() and name not in record.binaries:
            out.write(f"kept {target} (the node's own)\n")
            continue
        if not source.is_file():
            raise ContivError(f"{name}: neither {target} nor {source} exists (the conflist chains it)")
        _install_binary(rec, source, target, out)

    if opts.exclusive:
        for name in _configs(opts.conf_dir):
            if name == opts.conflist_name:
                continue
            _rename(opts.conf_dir / name, opts.conf_dir / (name + ASIDE_SUFFIX))
            record.set_aside.append(name)
            rec.save()
            out.write(f"set aside {opts.conf_dir / name} as {name + ASIDE_SUFFIX}\n")

    data = conflist_bytes(conflist)
    target = opts.conf_dir / opts.conflist_name
    if record.conflist and record.conflist != opts.conflist_name:
        old = opts.conf_dir / record.conflist
        # written first, removed second: the node always has a configuration of ours
        _write_if_changed(target, data, 0o644)
        record.conflist, record.conflist_sha256 = opts.conflist_name, _sha256_bytes(data)
        rec.save()
        with contextlib.suppress(FileNotFoundError):
            old.unlink()
        out.write(f"wrote {target} (replaces {old.name})\n")
    else:
        changed = _write_if_changed(target, data, 0o644)
        record.conflist, record.conflist_sha256 = opts.conflist_name, _sha256_bytes(data)
        rec.save()
        out.write(f"{'wrote' if changed else 'unchanged'} {target}\n")

    first = next(iter(_configs(opts.conf_dir)), None)
    if first is not None and first != opts.conflist_name:
        out.write(f"note: {first} comes first in {opts.conf_dir}: the runtime uses it, not {opts.conflist_name}\n")
    return 0


def uninstall(record_path: Path, out: TextIO) -> int:
    record = _load_record(record_path)
    if record is None:
        out.write(f"nothing to remove: no record at {record_path}\n")
        return 0
    rec = _Recorder(record_path, record)
    conf_dir, bin_dir = Path(record.conf_dir), Path(record.bin_dir)
    if record.conflist:
        path = conf_dir / record.conflist
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            out.write(f"removed {path}\n")
        record.conflist = ""
        rec.save()
    for name in list(record.set_aside):
        aside, back = conf_dir / (name + ASIDE_SUFFIX), conf_dir / name
        if back.exists():
            out.write(f"kept {aside}: {back} exists again\n")
        elif aside.exists():
            _rename(aside, back)
            out.write(f"restored {back}\n")
        record.set_aside.remove(name)
        rec.save()
    for name, digest in sorted(record.binaries.items()):
        path = bin_dir / name
        if path.exists():
            if _sha256_file(path) == digest:
                path.unlink()
                out.write(f"removed {path}\n")
            else:
                out.write(f"kept {path}: changed since it was installed\n")
        del record.binaries[name]
        rec.save()
    record_path.unlink()
    return 0


# -- the conflist ----------------------------------------------------------------------------


def _read_conflist(path: Path) -> dict[str, Any]:
    where = str(path)
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise ConfigError([ConfigProblem(where, f"cannot read: {exc.strerror or exc}")]) from None
    except ValueError as exc:
        raise ConfigError([ConfigProblem(where, f"not JSON: {exc}")]) from None
    problems = check_conflist(data)
    if problems:
        raise ConfigError([ConfigProblem(f"{where}: {p.path}" if p.path else where, p.message) for p in problems])
    assert isinstance(data, dict)
    return data


def check_conflist(data: Any) -> list[ConfigProblem]:
    """What a runtime would refuse, or what would not reach contiv-cni."""
    if not isinstance(data, dict):
        return [ConfigProblem("", "a network configuration list is a JSON object")]
    problems = [
        ConfigProblem(key, "is required (a non-empty string)")
        for key in ("cniVersion", "name")
        if not isinstance(data.get(key), str) or not data[key]
    ]
    plugins = data.get("plugins")
    if not isinstance(plugins, list) or not plugins:
        return [*problems, ConfigProblem("plugins", "is required (a non-empty list)")]
    for i, p in enumerate(plugins):
        if not isinstance(p, dict) or not isinstance(p.get("type"), str) or not p["type"]:
            problems.append(ConfigProblem(f"plugins[{i}].type", "is required (a non-empty string)"))
        elif "/" in p["type"] or p["type"] in (".", ".."):
            problems.append(ConfigProblem(f"plugins[{i}].type", f"{p['type']!r} is not a file name"))
    if isinstance(plugins[0], dict) and plugins[0].get("type") != PLUGIN:
        problems.append(ConfigProblem("plugins[0].type", f"must be {PLUGIN!r}: it is the first plugin of the chain"))
    return problems


def _chained_plugins(conflist: dict[str, Any]) -> list[str]:
    names = [LOOPBACK, *(p["type"] for p in conflist["plugins"])]
    return sorted({n for n in names if n != PLUGIN})


def conflist_bytes(conflist: dict[str, Any]) -> bytes:
    """One spelling of a conflist, so that the same configuration is the same file."""
    return (json.dumps(conflist, indent=2) + "\n").encode()


def _configs(conf_dir: Path) -> list[str]:
    """The configurations a runtime would read, in the order it would."""
    return sorted(
        e.name for e in os.scandir(conf_dir) if e.name.endswith(CONF_EXTENSIONS) and e.is_file(follow_symlinks=True)
    )


# -- files ----------------------------------------------------------------------------------


class _Recorder:
    """Saves the record after each change, so that a crash leaves nothing unrecorded behind."""

    def __init__(self, path: Path, record: Record) -> None:
        self.path = path
        self.record = record

    def save(self) -> None:
        data = (json.dumps(self.record.to_json(), indent=2) + "\n").encode()
        _write_if_changed(self.path, data, 0o600)


def _load_record(path: Path) -> Record | None:
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ContivError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ContivError(f"{path}: not JSON ({exc}); remove it to start afresh") from None
    return Record.from_json(data, str(path))


def _plugin_source(given: Path | None) -> Path:
    if given is None:
        found = shutil.which(PLUGIN)
        if found is None:
            raise ContivError(f"{PLUGIN} is not on PATH (give --plugin FILE)")
        return Path(found)
    if not given.is_file():
        raise ContivError(f"{given}: no such file (--plugin)")
    return given


def _install_binary(rec: _Recorder, source: Path, target: Path, out: TextIO) -> None:
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise ContivError(f"{source}: cannot read: {exc.strerror or exc}") from None
    digest = _sha256_bytes(data)
    # recorded before it lands: a crash in between leaves a record of a file that may be missing,
    # never a file of ours that no record names
    rec.record.binaries[target.name] = digest
    rec.save()
    changed = _write_if_changed(target, data, 0o755)
    out.write(f"{'installed' if changed else 'unchanged'} {target}\n")


def _write_if_changed(path: Path, data: bytes, mode: int) -> bool:
    """Atomically (temporary file in the same directory, then rename); False when already so."""
    try:
        st = path.stat()
        if st.st_size == len(data) and (st.st_mode & 0o7777) == mode and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ContivError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        # a name no runtime reads: neither a config extension nor an executable's name
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ContivError(f"{path.parent}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.rename(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise ContivError(f"{path}: cannot write: {exc.strerror or exc}") from None
    _fsync_dir(path.parent)
    return True


def _rename(src: Path, dst: Path) -> None:
    try:
        os.rename(src, dst)
    except OSError as exc:
        raise ContivError(f"{src}: cannot rename to {dst.name}: {exc.strerror or exc}") from None
    _fsync_dir(src.parent)


def _makedirs(d: Path) -> None:
    try:
        d.mkdir(mode=0o755, parents=True, exist_ok=True)
    except OSError as exc:
        raise ContivError(f"{d}: cannot create: {exc.strerror or exc}") from None


def _fsync_dir(d: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in _chunks(f):
            h.update(chunk)
    return h.hexdigest()


def _chunks(f: Any, size: int = 1 << 20) -> Iterator[bytes]:
    while chunk := f.read(size):
        yield chunk


# -- command line ---------------------------------------------------------------------------


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def _priority(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value <= 99:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and 99")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--conflist",
        default=_env("CONTIV_CNI_CONFLIST", ""),
        metavar="FILE",
        help="the network configuration list to install (CONTIV_CNI_CONFLIST); its first plugin is contiv-cni",
    )
    p.add_argument(
        "--cni-bin-dir",
        default=_env("CONTIV_CNI_BIN_DIR", DEFAULT_BIN_DIR),
        metavar="DIR",
        help=f"the runtime's plugin directory (CONTIV_CNI_BIN_DIR; default {DEFAULT_BIN_DIR})",
    )
    p.add_argument(
        "--cni-conf-dir",
        default=_env("CONTIV_CNI_CONF_DIR", DEFAULT_CONF_DIR),
        metavar="DIR",
        help=f"the runtime's configuration directory (CONTIV_CNI_CONF_DIR; default {DEFAULT_CONF_DIR})",
    )
    p.add_argument(
        "--source-dir",
        default=_env("CONTIV_CNI_SOURCE_DIR", DEFAULT_SOURCE_DIR),
        metavar="DIR",
        help="where loopback and the conflist's chained plugins are taken from when the node has none "
        f"(CONTIV_CNI_SOURCE_DIR; default {DEFAULT_SOURCE_DIR}, Debian's containernetworking-plugins)",
    )
    p.add_argument(
        "--plugin",
        default=os.environ.get("CONTIV_CNI_PLUGIN") or None,
        type=Path,
        metavar="FILE",
        help=f"the {PLUGIN} executable to install (CONTIV_CNI_PLUGIN; default: {PLUGIN} on PATH)",
    )
    p.add_argument(
        "--record",
        default=_env("CONTIV_CNI_RECORD", DEFAULT_RECORD),
        metavar="FILE",
        help=f"where what was installed is recorded, for --uninstall (CONTIV_CNI_RECORD; default {DEFAULT_RECORD})",
    )
    p.add_argument(
        "--priority",
        type=_priority,
        # a string: argparse converts it like a given value, so a bad variable is a usage error
        default=_env("CONTIV_CNI_PRIORITY", str(DEFAULT_PRIORITY)),
        metavar="N",
        help="0-99, the conflist's file name prefix: runtimes use the first file in lexical order "
        f"(CONTIV_CNI_PRIORITY; default {DEFAULT_PRIORITY})",
    )
    p.add_argument(
        "--exclusive",
        action="store_true",
        default=_env("CONTIV_CNI_EXCLUSIVE", "").lower() in ("1", "true", "yes"),
        help=f"rename every other configuration of the conf dir to <name>{ASIDE_SUFFIX} "
        "(CONTIV_CNI_EXCLUSIVE=true); --uninstall renames them back",
    )
    p.add_argument(
        "--uninstall",
        action="store_true",
        help="remove what the record says was installed (files changed since are kept), restore what was set aside",
    )


def run(args: argparse.Namespace, out: TextIO) -> int:
    if args.uninstall:
        return uninstall(Path(args.record), out)
    if not args.conflist:
        raise ConfigError([ConfigProblem("--conflist", "is required (or set CONTIV_CNI_CONFLIST)")])
    opts = InstallOptions(
        conflist=Path(args.conflist),
        bin_dir=Path(args.cni_bin_dir),
        conf_dir=Path(args.cni_conf_dir),
        source_dir=Path(args.source_dir),
        plugin=args.plugin,
        record=Path(args.record),
        priority=args.priority,
        exclusive=args.exclusive,
    )
    return install(opts, out)
