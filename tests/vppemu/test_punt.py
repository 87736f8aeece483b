"""ip.api's punt redirects (v2), as VPP keeps them: one per receiving interface and family."""

from __future__ import annotations

from .helpers import AsyncClient, call, dump, path

ALL = 0xFFFFFFFF


def _punt(tx: int, nh: str, rx: int = ALL, af: int = 0) -> dict[str, object]:
    return {"rx_sw_if_index": rx, "af": af, "n_paths": 1, "paths": [path(sw_if_index=tx, nh=nh)]}


async def _redirects(vpp: AsyncClient, af: int = 0) -> list[tuple[int, int, str]]:
    got = await dump(vpp, "ip_punt_redirect_v2_dump", sw_if_index=ALL, af=af)
    return [(d.punt.rx_sw_if_index, d.punt.paths[0].sw_if_index, str(d.punt.paths[0].nh.address.ip4)) for d in got]


async def test_add_replace_delete(vpp: AsyncClient) -> None:
    tx: int = (await call(vpp, "create_loopback")).sw_if_index
    assert (await call(vpp, "add_del_ip_punt_redirect_v2", is_add=True, punt=_punt(tx, "10.0.0.5"))).retval == 0
    assert await _redirects(vpp) == [(ALL, tx, "10.0.0.5")]
    assert await _redirects(vpp, af=1) == []
    # a second add for the same receiving interface replaces the first
    assert (await call(vpp, "add_del_ip_punt_redirect_v2", is_add=True, punt=_punt(tx, "10.0.0.6"))).retval == 0
    assert await _redirects(vpp) == [(ALL, tx, "10.0.0.6")]
    # the receiving interface is not checked by VPP either
    assert (await call(vpp, "add_del_ip_punt_redirect_v2", is_add=True, punt=_punt(tx, "10.0.0.7", rx=1))).retval == 0
    one = await dump(vpp, "ip_punt_redirect_v2_dump", sw_if_index=1, af=0)
    assert [d.punt.rx_sw_if_index for d in one] == [1]
    for rx in (ALL, 1, ALL):  # deleting what is not there is no error
        assert (await call(vpp, "add_del_ip_punt_redirect_v2", is_add=False, punt=_punt(tx, "0.0.0.0", rx))).retval == 0
    assert await _redirects(vpp) == []


async def test_unknown_tx_interface_is_refused(vpp: AsyncClient) -> None:
    r = await call(vpp, "add_del_ip_punt_redirect_v2", is_add=True, punt=_punt(77, "10.0.0.5"))
    assert r.retval == -2
    assert await _redirects(vpp) == []
