"""Chaos: 1,000 ADD/DEL through the real contiv-cni, 20 at a time, while the agent is killed and VPP and Linux fail.

Run as root from the repository root: ``python bench/chaos.py`` (``--seed``,
``--operations``, ``--concurrency``, ``--kills``, ``--vpp-faults``,
``--kernel-faults``, ``--mode``; ``--logs DIR`` keeps the agents' and the
emulator's logs). The VPP emulator and the agent run as processes in a
network namespace of the run's own (``chx-<tag>-node``), pods are
namespaces of their own; everything is removed afterwards.

What it does and checks: docs/chaos.md (the harness is
``tests/chaos/harness.py``, which ``tests/chaos/test_chaos.py`` runs at CI
size). Prints one JSON line per figure ``{"metric", "value", "unit", ...}``:
the four counts that must be 0 (``ips_without_attachment``,
``objects_without_owner``, ``ok_but_not_wired``, ``error_but_half_wired``),
then the operations done, the answers by CNI code, the DELs contiv-cni
queued, the final DELs, kills, the VPP faults fired and the kernel faults
made, pods, whether the agent settled, and the wall time; then what each
violation was, one ``{"violation": kind, "what": ...}`` line each. Exits 1
when any count is not 0 or the agent did not settle.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import attrs  # noqa: E402

from tests.chaos.harness import Options, run  # noqa: E402


def main() -> int:
    d = Options()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--operations", type=int, default=d.operations, help="CNI calls, ADD and DEL alike")
    p.add_argument("--concurrency", type=int, default=d.concurrency, help="CNI calls at a time")
    p.add_argument("--kills", type=int, default=d.kills, help="kill -9 of the agent during the run")
    p.add_argument("--vpp-faults", type=float, default=d.vpp_faults, help="share of VPP requests that fault")
    p.add_argument("--kernel-faults", type=float, default=d.kernel_faults, help="share of ADDs given a kernel failure")
    p.add_argument("--mode", choices=("veth", "tap"), default=d.mode, help="how pods are wired")
    p.add_argument("--settle", type=float, default=d.settle, help="seconds the agent has to settle at the end")
    p.add_argument("--logs", type=Path, default=None, help="keep the agents' and the emulator's logs here")
    args = p.parse_args()
    if os.geteuid() != 0:
        p.error("run as root: pods are network namespaces")
    opts = Options(
        seed=args.seed,
        operations=args.operations,
        concurrency=args.concurrency,
        kills=args.kills,
        vpp_faults=args.vpp_faults,
        kernel_faults=args.kernel_faults,
        mode=args.mode,
        settle=args.settle,
        logs=args.logs,
    )
    report = run(opts)
    for line in report.lines():
        print(json.dumps(line), flush=True)
    for kind, found in sorted(attrs.asdict(report.violations).items()):
        for what in found:
            print(json.dumps({"violation": kind, "what": what}), flush=True)
    if report.tail and (report.violations.total() or not report.settled):
        print(report.tail, file=sys.stderr)
    return 1 if report.violations.total() or not report.settled or report.gave_up else 0


if __name__ == "__main__":
    raise SystemExit(main())
