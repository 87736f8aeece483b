"""Reading the original's etcd.conf and the --etcd flag: accepted forms and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from contivctl.errors import ConfigError
from contivctl.kv.etcdconf import EtcdConfig, TLSFiles, etcd_config, load_etcd_conf, split_endpoints

ORIGINAL = """\
insecure-transport: true
dial-timeout: 10000000000
endpoints:
  - "127.0.0.1:32379"
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "etcd.conf"
    p.write_text(text)
    return p


def problems(exc: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return [str(p) for p in exc.value.problems]


def test_the_original_deployment_file(tmp_path: Path) -> None:
    cfg = load_etcd_conf(write(tmp_path, ORIGINAL))
    assert cfg == EtcdConfig(endpoints=("127.0.0.1:32379",), dial_timeout=10.0, tls=None)


def test_ksr_file_with_auto_compact_and_unit_durations(tmp_path: Path) -> None:
    text = ORIGINAL + "auto-compact: 600000000000\noperation-timeout: 3s\nallow-delayed-start: true\n"
    cfg = load_etcd_conf(write(tmp_path, text))
    assert cfg.op_timeout == 3.0 and cfg.dial_timeout == 10.0


def test_tls_files(tmp_path: Path) -> None:
    for name in ("ca.pem", "client.pem", "client-key.pem"):
        (tmp_path / name).write_text("x")
    text = (
        "insecure-transport: false\nendpoints: ['https://10.0.0.1:12379']\n"
        f"ca-file: {tmp_path / 'ca.pem'}\ncert-file: {tmp_path / 'client.pem'}\n"
        f"key-file: {tmp_path / 'client-key.pem'}\n"
    )
    cfg = load_etcd_conf(write(tmp_path, text))
    assert cfg.endpoints == ("10.0.0.1:12379",)
    assert cfg.tls == TLSFiles(tmp_path / "ca.pem", tmp_path / "client.pem", tmp_path / "client-key.pem")


def test_transport_follows_scheme_and_files_when_not_named() -> None:
    assert etcd_config(["https://h:2379"]).tls == TLSFiles()
    assert etcd_config(["http://h:2379", "h2:2379"]).tls is None


def test_every_problem_named_at_once(tmp_path: Path) -> None:
    text = (
        "endpoints: ['nohost', '127.0.0.1:99999']\ndial-timeout: soon\nca-fle: /x\n"
        "insecure-transport: true\ncert-file: /does/not/exist\n"
    )
    with pytest.raises(ConfigError) as exc:
        load_etcd_conf(write(tmp_path, text))
    got = problems(exc)
    joined = "\n".join(got)
    assert all(str(tmp_path / "etcd.conf") in p for p in got)
    assert "ca-fle: unknown key" in joined
    assert "'nohost' is not host:port" in joined and "'127.0.0.1:99999' is not host:port" in joined
    assert "dial-timeout: 'soon' is not a duration" in joined
    assert "cert-file: '/does/not/exist' is not a readable file" in joined
    assert "cert-file and key-file go together" in joined


def test_skip_verify_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="insecure-skip-tls-verify"):
        load_etcd_conf(write(tmp_path, ORIGINAL + "insecure-skip-tls-verify: true\n"))


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_etcd_conf(tmp_path / "nope.conf")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_etcd_conf(write(tmp_path, "endpoints: [\n"))
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_etcd_conf(write(tmp_path, "- a\n"))


def test_flag_endpoints() -> None:
    assert split_endpoints(" 10.0.0.1:2379, http://10.0.0.2:2379 ,") == ("10.0.0.1:2379", "http://10.0.0.2:2379")
    with pytest.raises(ConfigError, match="no etcd endpoint"):
        etcd_config(split_endpoints(","))
