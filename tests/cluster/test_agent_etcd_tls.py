"""etcd with TLS end to end: certificates made here with openssl, an etcd that demands client
certificates, and the agent given the original's etcd.conf on its command line.

The node ID is claimed and the membership followed over TLS: a peer that
joins reaches the agent's VPP as a tunnel, and the agent's own record is in
etcd. A client without the certificates is refused by that etcd.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml

from contivctl.agent.cluster import cluster_node_id
from contivctl.cli import agent_options, build_parser
from contivctl.cluster.nodeid import allocate_node_id
from contivctl.cluster.record import decode, id_key
from contivctl.errors import StoreError
from contivctl.kv.etcd import EtcdStore
from contivctl.kv.etcdconf import etcd_config
from contivctl.testing.etcd import EtcdServer, ServerTLS, make_certificates
from contivctl.testing.vppemu import Emulator
from tests.agent.inprocess import CONFIG, free_port, running_agent
from tests.agent.support import API_DIR
from tests.cluster.conftest import MemoryStore, wait_until
from tests.nodes.support import NODE, tunnels

if os.geteuid() != 0:
    pytest.skip("the agent's tests need root", allow_module_level=True)
if shutil.which("openssl") is None:
    pytest.skip("needs the openssl command to make certificates", allow_module_level=True)


def secure_store(server: EtcdServer, tls: ServerTLS) -> EtcdStore:
    cfg = etcd_config(
        [server.url],
        ca_file=tls.ca_file,
        cert_file=tls.client_cert,
        key_file=tls.client_key,
        dial_timeout=2,
        op_timeout=2,
    )
    return EtcdStore(cfg)


async def test_the_agent_claims_its_id_and_follows_the_cluster_over_tls(
    emu: Emulator, sockdir: Path, tmp_path: Path
) -> None:
    tls = make_certificates(tmp_path)
    server = EtcdServer(tls=tls)
    server.start()
    try:
        conf = tmp_path / "etcd.conf"
        conf.write_text(
            yaml.safe_dump(
                {
                    "endpoints": [server.url],
                    "dial-timeout": "2s",
                    "operation-timeout": "2s",
                    "insecure-transport": False,
                    "ca-file": str(tls.ca_file),
                    "cert-file": str(tls.client_cert),
                    "key-file": str(tls.client_key),
                }
            )
        )
        config = tmp_path / "contiv.yaml"
        config.write_text(yaml.safe_dump(CONFIG))
        args = build_parser().parse_args(
            [
                "agent",
                "--config", str(config),
                "--node-name", NODE,
                "--store", str(tmp_path / "agent.db"),
                "--vpp-socket", emu.socket_path,
                "--vpp-api-dir", API_DIR,
                "--cni-socket", str(sockdir / "cni.sock"),
                "--http", f"127.0.0.1:{free_port()}",
                "--no-kubernetes",
                "--etcd-config", str(conf),
            ]
        )  # fmt: skip
        opts = agent_options(args)
        assert opts.etcd is not None and opts.etcd.tls is not None and opts.allocate_node_id
        opts = await cluster_node_id(opts)  # claimed over TLS
        store = secure_store(server, tls)
        plain = EtcdStore(etcd_config([server.endpoint], dial_timeout=0.5, op_timeout=0.5))
        try:
            raw = await store.get(id_key(opts.node_id))
            assert raw is not None and decode(raw).name == NODE
            with pytest.raises(StoreError):
                await plain.get(id_key(opts.node_id))  # no certificate, no answer

            async with running_agent(opts) as run:
                await allocate_node_id(store, MemoryStore(), "node-b", ip_addresses=("192.168.16.9/24",))

                async def tunnel_to_peer() -> bool:
                    return any(dst == "192.168.16.9" for _s, dst, _v in (await tunnels(run.vpp)).values())

                await wait_until(tunnel_to_peer)  # the watch runs over TLS

                assert run.agent.node is not None
                node_ip = str(run.agent.node.view.node_ip)

                async def published() -> bool:
                    record = await store.get(id_key(opts.node_id))
                    return record is not None and decode(record).ip_addresses == (node_ip,)

                await wait_until(published)  # and so does the publisher
                assert run.agent.cluster.describe()["following"] is True
        finally:
            await store.close()
            await plain.close()
    finally:
        server.close()
