"""VPP's API return values that the driver names in its errors.

The numbers are VPP's `VNET_API_ERROR_*` (src/vnet/error.h); a retval not
listed here is still reported, only without a name. Positive values come
from plugins that return their own codes; nat44-ed answers a bare 1 when
asked to enable what is enabled, or to change anything while disabled.
"""

from __future__ import annotations

import enum


class Retval(enum.IntEnum):
    OK = 0
    NAT_PLUGIN_STATE = 1
    UNSPECIFIED = -1
    INVALID_SW_IF_INDEX = -2
    NO_SUCH_FIB = -3
    NO_SUCH_INNER_FIB = -4
    NO_SUCH_LABEL = -5
    NO_SUCH_ENTRY = -6
    INVALID_VALUE = -7
    INVALID_VALUE_2 = -8
    UNIMPLEMENTED = -9
    INVALID_SW_IF_INDEX_2 = -10
    SYSCALL_ERROR_1 = -11
    SYSCALL_ERROR_2 = -12
    SYSCALL_ERROR_3 = -13
    FEATURE_DISABLED = -30
    INVALID_REGISTRATION = -31
    NO_PATHS_IN_ROUTE = -52
    ADDRESS_NOT_FOUND_FOR_INTERFACE = -60
    INVALID_INTERFACE = -71
    INVALID_ARGUMENT = -73
    TUNNEL_EXIST = -75
    INVALID_DECAP_NEXT = -76
    IF_ALREADY_EXISTS = -79
    VALUE_EXIST = -81
    SAME_SRC_DST = -82
    INVALID_ADDRESS_FAMILY = -97
    ADDRESS_IN_USE = -105
    ADDRESS_FOUND_FOR_INTERFACE = -114
    ENTRY_ALREADY_EXISTS = -116
    BD_ALREADY_EXISTS = -119
    BD_IN_USE = -120
    BD_NOT_MODIFIABLE = -121
    BD_ID_EXCEED_MAX = -122
    UNSUPPORTED = -126
    NETLINK_ERROR = -145
    INSTANCE_IN_USE = -147
    BD_ALREADY_HAS_BVI = -152
    EAGAIN = -165


_NAMES = {int(r): r.name for r in Retval}


def retval_name(value: int) -> str | None:
    """VPP's name for a retval, or None when the driver does not know it."""
    return _NAMES.get(value)
