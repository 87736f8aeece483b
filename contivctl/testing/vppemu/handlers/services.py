"""stn.api and session.api: STN rules, the session layer and app namespaces."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..errors import Retval
from ..state.interfaces import ALL
from ..state.services import RT_DISABLE, RT_RULE_TABLE, AppNamespace
from .base import Context, Fields, dump, ensure, ip_of, reply, text


@reply("stn_add_del_rule")
def stn_add_del_rule(ctx: Context, m: Any) -> None:
    ip = ip_of(m.ip_address)
    rules = ctx.state.services.stn_rules
    if m.is_add:
        ctx.state.interfaces.get(m.sw_if_index)
        ensure(ip not in rules, Retval.ENTRY_ALREADY_EXISTS, f"stn rule {ip}")
        rules[ip] = m.sw_if_index
    else:
        ensure(ip in rules, Retval.NO_SUCH_ENTRY, f"stn rule {ip}")
        del rules[ip]


@dump("stn_rules_dump")
def stn_rules_dump(ctx: Context, m: Any) -> Iterator[Fields]:
    for ip, idx in ctx.state.services.stn_rules.items():
        yield {"ip_address": ip, "sw_if_index": idx}


@reply("session_enable_disable_v2")
def session_enable_disable_v2(ctx: Context, m: Any) -> None:
    svc = ctx.state.services
    svc.rt_engine = int(m.rt_engine_type)
    svc.session_enabled = svc.rt_engine != RT_DISABLE


@reply("session_enable_disable")
def session_enable_disable(ctx: Context, m: Any) -> None:
    svc = ctx.state.services
    svc.session_enabled = bool(m.is_enable)
    svc.rt_engine = RT_RULE_TABLE if svc.session_enabled else RT_DISABLE


def _app_ns(ctx: Context, m: Any, netns: str) -> Fields:
    svc = ctx.state.services
    ensure(svc.session_enabled, Retval.FEATURE_DISABLED, "session layer disabled")
    ns_id = text(m.namespace_id)
    ensure(bool(ns_id), Retval.INVALID_VALUE, "empty namespace_id")
    if m.sw_if_index != ALL:
        ctx.state.interfaces.get(m.sw_if_index)
    existing = svc.app_namespaces.get(ns_id)
    if not m.is_add:
        ensure(existing is not None, Retval.INVALID_VALUE, f"app namespace {ns_id}")
        assert existing is not None
        ensure(existing.index != 0, Retval.INVALID_VALUE, "the default namespace")
        del svc.app_namespaces[ns_id]
        return {"appns_index": existing.index}
    if existing is None:
        existing = AppNamespace(svc.next_appns_index, ns_id, 0, ALL, 0, 0, "")
        svc.next_appns_index += 1
        svc.app_namespaces[ns_id] = existing
    existing.secret = m.secret
    existing.sw_if_index = m.sw_if_index
    existing.ip4_fib_id = m.ip4_fib_id
    existing.ip6_fib_id = m.ip6_fib_id
    existing.sock_name = text(m.sock_name)
    existing.netns = netns
    return {"appns_index": existing.index}


@reply("app_namespace_add_del_v4")
def app_namespace_add_del_v4(ctx: Context, m: Any) -> Fields:
    return _app_ns(ctx, m, "")


@reply("app_namespace_add_del_v3")
def app_namespace_add_del_v3(ctx: Context, m: Any) -> Fields:
    return _app_ns(ctx, m, text(m.netns))
