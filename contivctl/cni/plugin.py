"""``contiv-cni``: the CNI plugin executable kubelet/containerd run per pod.

Until it forwards requests to the agent, every command answers with a CNI
error object so that a runtime sees a well-formed failure, not a crash.
"""

from __future__ import annotations

import json
import os
import sys

NOT_IMPLEMENTED = 100


def main() -> int:
    error = {
        "cniVersion": "1.1.0",
        "code": NOT_IMPLEMENTED,
        "msg": "not implemented",
        "details": f"contiv-cni does not handle CNI_COMMAND={os.environ.get('CNI_COMMAND', '')!r} yet",
    }
    sys.stdout.write(json.dumps(error) + "\n")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
