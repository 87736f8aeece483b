"""The agent's CNI gRPC service called as contiv-cni calls it, from a test's own event loop."""

from __future__ import annotations

import grpc

from contivctl.cni.generated.cni_pb2 import CNIReply, CNIRequest
from contivctl.cni.server import SERVICE


async def cni_call(socket: str, method: str, cid: str, netns: str, pod: str = "") -> CNIReply:
    """``method`` (Add, Delete, Check) of ``cid``'s eth0 in pod ``pod`` (default: named after the container)."""
    pod = pod or f"pod-{cid[:6]}"
    async with grpc.aio.insecure_channel(f"unix:{socket}") as channel:
        call = channel.unary_unary(
            f"/{SERVICE}/{method}",
            request_serializer=CNIRequest.SerializeToString,
            response_deserializer=CNIReply.FromString,
        )
        request = CNIRequest(
            version="1.1.0",
            container_id=cid,
            network_namespace=netns,
            interface_name="eth0",
            extra_arguments=f"K8S_POD_NAMESPACE=default;K8S_POD_NAME={pod};K8S_POD_UID=u-{pod}",
        )
        reply: CNIReply = await call(request, timeout=30)
        return reply
