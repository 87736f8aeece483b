"""ip.api's punt redirects (v2): where VPP sends what it would punt, per receiving interface.

As in VPP (ip_api.c, ip_punt_drop.c): the receiving interface is not
checked (~0 means any); an add for a receiving interface that has a
redirect replaces it; deleting one that does not exist is silent; the
paths are decoded like a route's, so an unknown TX interface is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..errors import Retval
from ..state.interfaces import ALL
from .base import Context, Fields, dump, ensure, reply
from .ip import decode_path, encode_path

AF_IP4, AF_IP6 = 0, 1


@reply("add_del_ip_punt_redirect_v2")
def add_del_ip_punt_redirect_v2(ctx: Context, m: Any) -> None:
    p = m.punt
    af = int(p.af)
    ensure(af in (AF_IP4, AF_IP6), Retval.INVALID_ADDRESS_FAMILY, f"address family {af}")
    key = (af == AF_IP6, int(p.rx_sw_if_index))
    redirects = ctx.state.ip.punt_redirects
    if m.is_add:
        redirects[key] = [decode_path(ctx, path) for path in p.paths]
    else:
        redirects.pop(key, None)


@dump("ip_punt_redirect_v2_dump")
def ip_punt_redirect_v2_dump(ctx: Context, m: Any) -> Iterator[Fields]:
    want_ip6 = int(m.af) == AF_IP6
    for (is_ip6, rx), paths in sorted(ctx.state.ip.punt_redirects.items()):
        if is_ip6 != want_ip6 or (m.sw_if_index != ALL and m.sw_if_index != rx):
            continue
        yield {
            "punt": {
                "rx_sw_if_index": rx,
                "af": AF_IP6 if is_ip6 else AF_IP4,
                "n_paths": len(paths),
                "paths": [encode_path(p) for p in paths],
            }
        }
