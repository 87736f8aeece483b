"""What the DEL queue's tests with a real agent share: its config, and pod namespaces named ``dq-…``."""

from __future__ import annotations

import subprocess
import uuid

from tests.agent.support import Pods

#: VETH + AF_PACKET pods: a pod's DEL is VPP's af_packet_delete, which a test can slow down
CONFIG = """\
UseTAPInterfaces: false
TCPstackDisabled: true
MTUSize: 1450
IPAMConfig:
  NodeInterconnectCIDR: 192.168.16.0/24
"""


class DqPods(Pods):
    """Pod namespaces named ``dq-…``, everything they led to removed by ``cleanup``."""

    def netns(self) -> str:
        name = f"dq-{uuid.uuid4().hex[:10]}"
        subprocess.run(["ip", "netns", "add", name], check=True)
        self.namespaces.append(name)
        return f"/var/run/netns/{name}"
