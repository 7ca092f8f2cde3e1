"""Drive Signet's gRPC health and reflection services with grpcio's own clients, as
grpcurl-style tools do: check health, list every service through reflection, rebuild the
descriptors from what reflection returns, and call an RPC with a message built only from them.

Usage: grpc_tools_smoke.py HOST:PORT TOKEN
Prints one line per check and exits non-zero on the first failure.
"""

import sys

import grpc
from google.protobuf import descriptor_pool, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

EXPECTED_SERVICES = {
    "grpc.health.v1.Health",
    "yandex.cloud.kms.v1.asymmetricsignature.AsymmetricSignatureKeyService",
    "yandex.cloud.kms.v1.asymmetricsignature.AsymmetricSignatureCryptoService",
    "yandex.cloud.operation.OperationService",
    "yandex.cloud.endpoint.ApiEndpointService",
    "yandex.cloud.iam.v1.IamTokenService",
}


def check(cond, what):
    if not cond:
        print("FAIL", what)
        sys.exit(1)
    print("ok", what)


def main():
    target, token = sys.argv[1], sys.argv[2]
    channel = grpc.insecure_channel(target)

    health = health_pb2_grpc.HealthStub(channel)
    for service in ["", "yandex.cloud.kms.v1.asymmetricsignature.AsymmetricSignatureCryptoService"]:
        reply = health.Check(health_pb2.HealthCheckRequest(service=service))
        check(reply.status == health_pb2.HealthCheckResponse.SERVING, f"health {service!r} SERVING")
    try:
        health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"))
        check(False, "unknown service is NOT_FOUND")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.NOT_FOUND, "unknown service is NOT_FOUND")

    db = ProtoReflectionDescriptorDatabase(channel)
    services = set(db.get_services())
    missing = EXPECTED_SERVICES - services
    check(not missing, f"reflection lists the services (missing: {sorted(missing)})")

    pool = descriptor_pool.DescriptorPool(db)
    name = "yandex.cloud.kms.v1.asymmetricsignature.AsymmetricSignatureKeyService"
    svc = pool.FindServiceByName(name)
    methods = {m.name for m in svc.methods}
    check(
        {"Create", "Get", "List", "Update", "Delete", "ListOperations"} <= methods,
        "reflection describes the key service's methods",
    )

    # Call List with request and response classes made from the reflected descriptors only.
    method = svc.FindMethodByName("List")
    request_cls = message_factory.GetMessageClass(method.input_type)
    response_cls = message_factory.GetMessageClass(method.output_type)
    call = channel.unary_unary(
        f"/{name}/List",
        request_serializer=request_cls.SerializeToString,
        response_deserializer=response_cls.FromString,
    )
    reply = call(request_cls(folder_id="default", page_size=5),
                 metadata=[("authorization", f"Bearer {token}")])
    check(len(reply.keys) >= 1, "List through reflected descriptors returns the key")
    print("all checks passed")


if __name__ == "__main__":
    main()
