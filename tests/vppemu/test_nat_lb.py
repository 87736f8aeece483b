"""nat44_ed.api's load-balanced static mappings: what VPP accepts and what it refuses."""

from __future__ import annotations

from typing import Any

from .helpers import AsyncClient, call, dump

TWICE_NAT, SELF_TWICE_NAT, OUT2IN_ONLY = 1, 2, 4
TCP = 6
VALUE_EXIST, NO_SUCH_ENTRY, INVALID_VALUE, UNSPECIFIED = -81, -6, -7, -1


def _local(ip: str, port: int = 8080, probability: int = 1, vrf: int = 0) -> dict[str, Any]:
    return {"addr": ip, "port": port, "probability": probability, "vrf_id": vrf}


async def _lb(vpp: AsyncClient, *locals_: dict[str, Any], is_add: bool = True, flags: int = OUT2IN_ONLY) -> int:
    r = await call(
        vpp,
        "nat44_add_del_lb_static_mapping",
        is_add=is_add,
        flags=flags,
        external_addr="10.96.0.10",
        external_port=80,
        protocol=TCP,
        affinity=0,
        tag="t",
        local_num=len(locals_),
        locals=list(locals_),
    )
    return int(r.retval)


async def _local_op(vpp: AsyncClient, ip: str, is_add: bool) -> int:
    r = await call(
        vpp,
        "nat44_lb_static_mapping_add_del_local",
        is_add=is_add,
        external_addr="10.96.0.10",
        external_port=80,
        protocol=TCP,
        local=_local(ip),
    )
    return int(r.retval)


async def test_disabled_plugin_refuses(vpp: AsyncClient) -> None:
    assert await _lb(vpp, _local("10.1.1.2"), _local("10.1.1.3")) == 1
    assert await dump(vpp, "nat44_lb_static_mapping_dump") == []


async def test_add_dump_and_locals(vpp: AsyncClient) -> None:
    assert (await call(vpp, "nat44_ed_plugin_enable_disable", enable=True, sessions=1000)).retval == 0
    assert await _lb(vpp, _local("10.1.1.2")) == INVALID_VALUE  # fewer than two locals
    assert await _lb(vpp, _local("10.1.1.2"), _local("10.1.1.3"), flags=0) == NO_SUCH_ENTRY  # not a pool address
    assert await _lb(vpp, _local("10.1.1.2"), _local("10.1.1.3", probability=3, vrf=1)) == 0
    assert await _lb(vpp, _local("10.1.1.4"), _local("10.1.1.5")) == VALUE_EXIST
    (d,) = await dump(vpp, "nat44_lb_static_mapping_dump")
    assert (str(d.external_addr), d.external_port, d.protocol, int(d.flags), d.tag) == (
        "10.96.0.10",
        80,
        TCP,
        OUT2IN_ONLY,
        "t",
    )
    assert [(str(lo.addr), lo.port, lo.probability, lo.vrf_id) for lo in d.locals] == [
        ("10.1.1.2", 8080, 1, 0),
        ("10.1.1.3", 8080, 3, 1),
    ]
    assert {t.table.table_id for t in await dump(vpp, "ip_table_dump")} >= {1}  # VPP locks each local's table

    # a plain static mapping cannot take the same frontend
    r = await call(
        vpp,
        "nat44_add_del_static_mapping_v2",
        is_add=True,
        flags=OUT2IN_ONLY,
        local_ip_address="10.1.1.9",
        external_ip_address="10.96.0.10",
        protocol=TCP,
        local_port=1,
        external_port=80,
        external_sw_if_index=0xFFFFFFFF,
    )
    assert r.retval == VALUE_EXIST

    assert await _local_op(vpp, "10.1.1.2", True) == VALUE_EXIST
    assert await _local_op(vpp, "10.1.1.7", False) == NO_SUCH_ENTRY
    assert await _local_op(vpp, "10.1.1.2", False) == UNSPECIFIED  # two locals stay two
    assert await _local_op(vpp, "10.1.1.4", True) == 0
    assert await _local_op(vpp, "10.1.1.2", False) == 0
    (d,) = await dump(vpp, "nat44_lb_static_mapping_dump")
    assert sorted(str(lo.addr) for lo in d.locals) == ["10.1.1.3", "10.1.1.4"]

    assert await _lb(vpp, is_add=False) == 0
    assert await _lb(vpp, is_add=False) == NO_SUCH_ENTRY
    assert await _local_op(vpp, "10.1.1.3", True) == NO_SUCH_ENTRY


async def test_plain_mapping_is_not_load_balanced(vpp: AsyncClient) -> None:
    assert (await call(vpp, "nat44_ed_plugin_enable_disable", enable=True, sessions=1000)).retval == 0
    r = await call(
        vpp,
        "nat44_add_del_static_mapping_v2",
        is_add=True,
        flags=OUT2IN_ONLY | SELF_TWICE_NAT,
        local_ip_address="10.1.1.9",
        external_ip_address="10.96.0.10",
        protocol=TCP,
        local_port=8080,
        external_port=80,
        external_sw_if_index=0xFFFFFFFF,
    )
    assert r.retval == 0
    assert await _lb(vpp, _local("10.1.1.2"), _local("10.1.1.3")) == VALUE_EXIST
    assert await _lb(vpp, is_add=False) == INVALID_VALUE
    assert await _local_op(vpp, "10.1.1.2", True) == INVALID_VALUE


async def test_twice_nat_wins_over_self_twice_nat(vpp: AsyncClient) -> None:
    assert (await call(vpp, "nat44_ed_plugin_enable_disable", enable=True, sessions=1000)).retval == 0
    flags = OUT2IN_ONLY | TWICE_NAT | SELF_TWICE_NAT
    assert await _lb(vpp, _local("10.1.1.2"), _local("10.1.1.3"), flags=flags) == 0
    (d,) = await dump(vpp, "nat44_lb_static_mapping_dump")
    assert int(d.flags) == OUT2IN_ONLY | TWICE_NAT
