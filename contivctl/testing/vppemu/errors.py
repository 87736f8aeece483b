"""VPP's API return values, as the emulator uses them.

Every refusal the emulator makes carries one of these values so that a client
sees exactly what a real VPP v26.06 would put into `retval`. The numbers and
names are VPP's own (`src/vnet/error.h`, exposed as `VNET_API_ERROR_<NAME>`).

Where the emulator returns each value (and which VPP code path it mirrors):

    -1   UNSPECIFIED                      address on local0 (VPP: a clib error, no api_errno);
                                          get_first_msg_id of an unknown module; removing a
                                          local from a load-balanced NAT mapping of two
    -2   INVALID_SW_IF_INDEX              any unknown sw_if_index (VALIDATE_SW_IF_INDEX);
                                          deleting a loopback/tap/BVI with the wrong delete call
    -3   NO_SUCH_FIB                      route, next-hop table or interface bound to a VRF
                                          table that does not exist (fib_api_table_id_decode,
                                          fib_api_path_decode, ip_table_bind), proxy ARP range
    -6   NO_SUCH_ENTRY                    deleting a missing bridge domain, L2 FIB entry, vxlan
                                          tunnel, STN rule, proxy ARP range, neighbour, DHCP
                                          client, NAT address/mapping/interface/session;
                                          ip_route_lookup miss
    -7   INVALID_VALUE                    MTU above the link MTU; bad rx-mode or ring size;
                                          deleting a missing app namespace; a second DHCP
                                          client on one interface; vni above 24 bits; a
                                          load-balanced NAT mapping with fewer than two locals,
                                          or a plain static mapping asked for as one
    -9   UNIMPLEMENTED                    a request the emulator does not model (real VPP would
                                          answer it; see docs/vpp-emulator.md)
    -10  INVALID_SW_IF_INDEX_2            unknown unnumbered_sw_if_index
    -11  SYSCALL_ERROR_1                  af_packet_delete of a host name without af_packet
                                          (af_packet_delete_if)
    -12  SYSCALL_ERROR_2                  tap: the kernel refused TUNSETIFF (name taken, bad name)
    -30  FEATURE_DISABLED                 app namespace while the session layer is disabled
    -52  NO_PATHS_IN_ROUTE                route add without paths (fib_api_route_add_del)
    -60  ADDRESS_NOT_FOUND_FOR_INTERFACE  deleting an address the interface does not have
    -71  INVALID_INTERFACE                af_packet on a host link that does not exist
                                          (af_packet_create_if: SIOCGIFINDEX fails); tap id in
                                          use; rx-mode on an interface without rx queues; an
                                          L2 FIB entry for a port outside the bridge domain
    -73  INVALID_ARGUMENT                 empty af_packet host_if_name
    -75  TUNNEL_EXIST                     vxlan tunnel with the same src/dst/vni/vrf/ports
    -76  INVALID_DECAP_NEXT               vxlan decap_next_index out of range
    -79  IF_ALREADY_EXISTS                af_packet on a host link that already has one
                                          (reply still carries the existing sw_if_index)
    -81  VALUE_EXIST                      NAT pool address, static/identity mapping,
                                          interface role or output interface already present
    -82  SAME_SRC_DST                     vxlan tunnel with src == dst
    -97  INVALID_ADDRESS_FAMILY           vxlan src and dst of different families
    -105 ADDRESS_IN_USE                   an address overlapping one on any interface in the
                                          same VRF, re-adding the same address included
                                          (ip4_add_del_interface_address_internal)
    -114 ADDRESS_FOUND_FOR_INTERFACE      moving an interface that has (or borrows) addresses
                                          to another VRF (ip_table_bind)
    -116 ENTRY_ALREADY_EXISTS             duplicate STN rule; duplicate proxy ARP range
    -119 BD_ALREADY_EXISTS                bridge domain id already used
    -120 BD_IN_USE                        deleting a bridge domain that still has members
    -121 BD_NOT_MODIFIABLE                bridge domain 0
    -122 BD_ID_EXCEED_MAX                 bridge domain id above 16M
    -145 NETLINK_ERROR                    tap: host namespace missing, or netlink refused the
                                          MAC, MTU, address or namespace move
    -147 INSTANCE_IN_USE                  loopback/BVI/vxlan user instance already taken
    -152 BD_ALREADY_HAS_BVI               a second BVI port in one bridge domain
    -165 EAGAIN                           cursor streams: call again with the returned cursor
    1    (no name)                        NAT44 call while the plugin is disabled, or enabling
                                          it twice: nat44-ed's fail_if_enabled/fail_if_disabled
                                          return a bare 1
"""

from __future__ import annotations

import enum


class Retval(enum.IntEnum):
    OK = 0
    NAT_PLUGIN_STATE = 1
    UNSPECIFIED = -1
    INVALID_SW_IF_INDEX = -2
    NO_SUCH_FIB = -3
    NO_SUCH_ENTRY = -6
    INVALID_VALUE = -7
    UNIMPLEMENTED = -9
    INVALID_SW_IF_INDEX_2 = -10
    SYSCALL_ERROR_1 = -11
    SYSCALL_ERROR_2 = -12
    FEATURE_DISABLED = -30
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
    NETLINK_ERROR = -145
    INSTANCE_IN_USE = -147
    BD_ALREADY_HAS_BVI = -152
    EAGAIN = -165


class VppApiError(Exception):
    """A refusal: the handler stops and the reply carries `retval`.

    `fields` lets a refusal still fill reply fields VPP fills on failure
    (af_packet_create_v3 reports the existing sw_if_index, for example).
    """

    def __init__(self, retval: Retval, detail: str = "", **fields: object) -> None:
        super().__init__(f"{retval.name} ({int(retval)}){': ' + detail if detail else ''}")
        self.retval = retval
        self.fields = fields
