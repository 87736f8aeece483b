import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_cni_plugin_answers_with_a_cni_error_object() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "contivctl.cni.plugin"],
        env={"CNI_COMMAND": "ADD", "PATH": "/usr/bin:/bin"},
        input="{}",
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
    )
    assert res.returncode == 1
    err = json.loads(res.stdout)
    assert err["code"] == 100
    assert err["msg"] == "not implemented"
