from __future__ import annotations

import pytest

from contivctl.demo import cni_binary
from tests.cni import support


@pytest.fixture(scope="session")
def contiv_cni() -> str:
    """bin/contiv-cni, built once per session when it is missing or older than cni-plugin/."""
    try:
        path = cni_binary.ensure()
    except cni_binary.PluginUnavailable as exc:
        pytest.fail(str(exc))
    support.PLUGIN[:] = [path]
    return path
