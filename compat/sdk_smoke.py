#!/usr/bin/env python3
"""Smoke test of a running Signet server with the official `yandexcloud` Python SDK.

Usage: SIGNET_TEST_TOKEN=<admin token> sdk_smoke.py 127.0.0.1:PORT

Talks plaintext gRPC through `yandexcloud.SDK().client(Stub, endpoint=..., insecure=True)`.
The SDK sends no `authorization` header on insecure channels, so every call carries
`authorization: Bearer <token>` explicitly. The token is read from the environment only and is
never printed.

Flow: create keys of several algorithms (the operation metadata and response are unpacked with
the SDK's message classes via `Any.Unpack`, which proves the type URLs), poll OperationService.Get
until done, then Get, List, Sign, SignHash, GetPublicKey (both signatures verified with Python
`cryptography`), Update (name + labels under a FieldMask), Delete, and Get -> NOT_FOUND. Error
cases: no authorization -> UNAUTHENTICATED, unknown key -> NOT_FOUND, empty message ->
INVALID_ARGUMENT.

Prints one line per check and finally "N passed, M failed"; exits 1 if any check failed.
"""
import hashlib
import os
import random
import string
import sys
import time

import grpc
import yandexcloud
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from google.protobuf.field_mask_pb2 import FieldMask
from yandex.cloud.kms.v1.asymmetricsignature import asymmetric_signature_crypto_service_pb2 as cs_pb
from yandex.cloud.kms.v1.asymmetricsignature import asymmetric_signature_key_pb2 as key_pb
from yandex.cloud.kms.v1.asymmetricsignature import asymmetric_signature_key_service_pb2 as ks_pb
from yandex.cloud.kms.v1.asymmetricsignature.asymmetric_signature_crypto_service_pb2_grpc import (
    AsymmetricSignatureCryptoServiceStub,
)
from yandex.cloud.kms.v1.asymmetricsignature.asymmetric_signature_key_service_pb2_grpc import (
    AsymmetricSignatureKeyServiceStub,
)
from yandex.cloud.operation import operation_service_pb2 as op_pb
from yandex.cloud.operation.operation_service_pb2_grpc import OperationServiceStub

FOLDER = "default"
RPC_TIMEOUT = 30.0  # seconds, per call
POLL_INTERVAL = 0.1  # seconds between OperationService.Get calls
POLL_LIMIT = 60.0  # seconds an operation may take

# algorithm name -> (key kind, RSA modulus bits or EC curve class, hash class)
ALGORITHMS = {
    "RSA_2048_SIGN_PSS_SHA_256": ("rsa", 2048, hashes.SHA256),
    "ECDSA_NIST_P256_SHA_256": ("ec", ec.SECP256R1, hashes.SHA256),
    "ECDSA_SECP256_K1_SHA_256": ("ec", ec.SECP256K1, hashes.SHA256),
    "RSA_4096_SIGN_PSS_SHA_512": ("rsa", 4096, hashes.SHA512),
    "ECDSA_NIST_P384_SHA_384": ("ec", ec.SECP384R1, hashes.SHA384),
    "ECDSA_NIST_P521_SHA_512": ("ec", ec.SECP521R1, hashes.SHA512),
}
HASHLIB = {hashes.SHA256: hashlib.sha256, hashes.SHA384: hashlib.sha384, hashes.SHA512: hashlib.sha512}
MESSAGE = b"signed by the yandexcloud Python SDK through Signet"


class CheckFailed(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise CheckFailed(message)


def describe(exc):
    if isinstance(exc, grpc.RpcError) and hasattr(exc, "code"):
        return "gRPC %s: %s" % (exc.code().name, exc.details())
    if isinstance(exc, CheckFailed):
        return str(exc)
    return "%s: %s" % (type(exc).__name__, exc)


class Report:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def run(self, name, fn):
        """Runs one check; returns its result, or None if it failed (the failure is recorded)."""
        try:
            result = fn()
        except Exception as exc:  # noqa: BLE001 - every failure is reported, then we go on
            self.failed += 1
            print("FAIL %s: %s" % (name, describe(exc)), flush=True)
            return None
        self.passed += 1
        print("ok   %s" % name, flush=True)
        return result

    def skip(self, name, why):
        """A check that could not run because an earlier one failed counts as failed."""
        self.failed += 1
        print("FAIL %s: not run (%s)" % (name, why), flush=True)


def expect_status(code, call):
    try:
        call()
    except grpc.RpcError as exc:
        expect(exc.code() == code, "expected %s, got %s" % (code.name, describe(exc)))
        return
    raise CheckFailed("call succeeded, expected %s" % code.name)


def unpack(any_msg, cls):
    full_name = cls.DESCRIPTOR.full_name
    expect(
        any_msg.type_url == "type.googleapis.com/" + full_name,
        "type_url %r, expected type.googleapis.com/%s" % (any_msg.type_url, full_name),
    )
    msg = cls()
    expect(any_msg.Unpack(msg), "Any.Unpack into %s failed" % full_name)
    return msg


def unknown_key_id():
    # Looks like a real id (prefix abj, 20 lowercase chars) but was never issued.
    return "abj" + "".join(random.choice(string.ascii_lowercase[:22]) for _ in range(17))


def load_public_key(alg, pem):
    kind, param, _ = ALGORITHMS[alg]
    expect(pem.startswith("-----BEGIN PUBLIC KEY-----"), "public key is not SPKI PEM: %r" % pem[:40])
    key = serialization.load_pem_public_key(pem.encode())
    if kind == "rsa":
        expect(isinstance(key, rsa.RSAPublicKey), "public key is not RSA")
        expect(key.key_size == param, "RSA key has %d bits, expected %d" % (key.key_size, param))
    else:
        expect(isinstance(key, ec.EllipticCurvePublicKey), "public key is not EC")
        expect(isinstance(key.curve, param), "curve %s, expected %s" % (key.curve.name, param.name))
    return key


def verify(alg, public_key, signature, data, prehashed):
    """Verifies `signature` over `data` (the message, or its digest when `prehashed`)."""
    kind, param, hash_cls = ALGORITHMS[alg]
    h = hash_cls()
    algo = utils.Prehashed(h) if prehashed else h
    try:
        if kind == "rsa":
            expect(len(signature) == param // 8, "RSA signature has %d bytes" % len(signature))
            pss = padding.PSS(mgf=padding.MGF1(hash_cls()), salt_length=h.digest_size)
            public_key.verify(signature, data, pss, algo)
        else:
            public_key.verify(signature, data, ec.ECDSA(algo))
    except InvalidSignature:
        raise CheckFailed("signature does not verify") from None


def verify_rejects(alg, public_key, signature, data, prehashed):
    try:
        verify(alg, public_key, signature, data, prehashed)
    except CheckFailed:
        return
    raise CheckFailed("a signature verified over different data")


def main():
    if len(sys.argv) != 2:
        print("usage: SIGNET_TEST_TOKEN=<token> %s HOST:PORT" % sys.argv[0], file=sys.stderr)
        return 2
    endpoint = sys.argv[1]
    token = os.environ.get("SIGNET_TEST_TOKEN", "")
    if not token:
        print("SIGNET_TEST_TOKEN is not set", file=sys.stderr)
        return 2
    auth = (("authorization", "Bearer " + token),)
    bad_auth = (("authorization", "Bearer not-the-token"),)

    sdk = yandexcloud.SDK()
    keys = sdk.client(AsymmetricSignatureKeyServiceStub, endpoint=endpoint, insecure=True)
    crypto = sdk.client(AsymmetricSignatureCryptoServiceStub, endpoint=endpoint, insecure=True)
    ops = sdk.client(OperationServiceStub, endpoint=endpoint, insecure=True)
    report = Report()

    def wait(op):
        deadline = time.monotonic() + POLL_LIMIT
        while not op.done:
            expect(time.monotonic() < deadline, "operation %s not done after %.0f s" % (op.id, POLL_LIMIT))
            time.sleep(POLL_INTERVAL)
            op = ops.Get(op_pb.GetOperationRequest(operation_id=op.id), metadata=auth, timeout=RPC_TIMEOUT)
        expect(not op.HasField("error"), "operation %s failed: %d %s" % (op.id, op.error.code, op.error.message))
        expect(op.HasField("response"), "operation %s is done without a response" % op.id)
        return op

    def list_all_ids():
        ids, page_token = [], ""
        for _ in range(1000):
            page = keys.List(
                ks_pb.ListAsymmetricSignatureKeysRequest(folder_id=FOLDER, page_token=page_token),
                metadata=auth,
                timeout=RPC_TIMEOUT,
            )
            ids.extend(k.id for k in page.keys)
            page_token = page.next_page_token
            if not page_token:
                return ids
        raise CheckFailed("List did not stop paging")

    # --- Create: start every creation first, then wait for each.
    started = {}  # alg -> (key id, operation)
    for alg in ALGORITHMS:
        def create(alg=alg):
            op = keys.Create(
                ks_pb.CreateAsymmetricSignatureKeyRequest(
                    folder_id=FOLDER,
                    name="sdk-" + alg.lower().replace("_", "-"),
                    description="created by compat/sdk_smoke.py",
                    labels={"suite": "python-sdk"},
                    signature_algorithm=key_pb.AsymmetricSignatureAlgorithm.Value(alg),
                ),
                metadata=auth,
                timeout=RPC_TIMEOUT,
            )
            expect(op.id, "operation has no id")
            meta = unpack(op.metadata, ks_pb.CreateAsymmetricSignatureKeyMetadata)
            expect(meta.key_id, "metadata has no key_id")
            return meta.key_id, op

        started[alg] = report.run("%s: Create returns an operation with CreateAsymmetricSignatureKeyMetadata" % alg, create)

    created = {}  # alg -> AsymmetricSignatureKey (from the operation response)
    for alg, started_op in started.items():
        name = "%s: operation completes with an ACTIVE AsymmetricSignatureKey" % alg
        if started_op is None:
            report.skip(name, "Create failed")
            continue
        key_id, op = started_op

        def finish(alg=alg, key_id=key_id, op=op):
            key = unpack(wait(op).response, key_pb.AsymmetricSignatureKey)
            expect(key.id == key_id, "response key id %r != metadata key id %r" % (key.id, key_id))
            expect(
                key.status == key_pb.AsymmetricSignatureKey.Status.ACTIVE,
                "status %s" % key_pb.AsymmetricSignatureKey.Status.Name(key.status),
            )
            expect(
                key_pb.AsymmetricSignatureAlgorithm.Name(key.signature_algorithm) == alg,
                "algorithm %s" % key_pb.AsymmetricSignatureAlgorithm.Name(key.signature_algorithm),
            )
            expect(key.folder_id == FOLDER, "folder_id %r" % key.folder_id)
            expect(dict(key.labels) == {"suite": "python-sdk"}, "labels %r" % dict(key.labels))
            return key

        key = report.run(name, finish)
        if key is not None:
            created[alg] = key

    # --- Get and List.
    for alg, key in created.items():
        def get(key=key):
            got = keys.Get(ks_pb.GetAsymmetricSignatureKeyRequest(key_id=key.id), metadata=auth, timeout=RPC_TIMEOUT)
            expect(got == key, "Get returned %s, expected %s" % (got, key))

        report.run("%s: Get returns the created key" % alg, get)

    def listed():
        ids = list_all_ids()
        missing = [key.id for key in created.values() if key.id not in ids]
        expect(not missing, "keys missing from List: %s" % missing)
        expect(len(ids) == len(set(ids)), "List returned duplicates")

    report.run("List(folder %s) contains every created key" % FOLDER, listed)

    # --- Sign, SignHash, GetPublicKey; verify with `cryptography`.
    for alg, key in created.items():
        hash_cls = ALGORITHMS[alg][2]
        digest = HASHLIB[hash_cls](MESSAGE).digest()

        def sign_and_verify(alg=alg, key=key, digest=digest):
            pem = crypto.GetPublicKey(
                cs_pb.AsymmetricGetPublicKeyRequest(key_id=key.id), metadata=auth, timeout=RPC_TIMEOUT
            )
            expect(pem.key_id == key.id, "GetPublicKey key_id %r" % pem.key_id)
            public_key = load_public_key(alg, pem.public_key)

            signed = crypto.Sign(
                cs_pb.AsymmetricSignRequest(key_id=key.id, message=MESSAGE), metadata=auth, timeout=RPC_TIMEOUT
            )
            expect(signed.key_id == key.id, "Sign key_id %r" % signed.key_id)
            verify(alg, public_key, signed.signature, MESSAGE, prehashed=False)
            verify_rejects(alg, public_key, signed.signature, MESSAGE + b"!", prehashed=False)

            hashed = crypto.SignHash(
                cs_pb.AsymmetricSignHashRequest(key_id=key.id, hash=digest), metadata=auth, timeout=RPC_TIMEOUT
            )
            expect(hashed.key_id == key.id, "SignHash key_id %r" % hashed.key_id)
            verify(alg, public_key, hashed.signature, digest, prehashed=True)
            # A SignHash signature is a signature over the message too.
            verify(alg, public_key, hashed.signature, MESSAGE, prehashed=False)

        report.run("%s: Sign and SignHash verify with cryptography against GetPublicKey" % alg, sign_and_verify)

    # --- Error cases that need a live key.
    some_key = next(iter(created.values()), None)
    for name, metadata, code in [
        ("Sign without authorization -> UNAUTHENTICATED", None, grpc.StatusCode.UNAUTHENTICATED),
        ("Sign with a wrong token -> UNAUTHENTICATED", bad_auth, grpc.StatusCode.UNAUTHENTICATED),
        ("Sign with an empty message -> INVALID_ARGUMENT", auth, grpc.StatusCode.INVALID_ARGUMENT),
    ]:
        if some_key is None:
            report.skip(name, "no key was created")
            continue
        message = b"" if code == grpc.StatusCode.INVALID_ARGUMENT else MESSAGE
        request = cs_pb.AsymmetricSignRequest(key_id=some_key.id, message=message)
        report.run(
            name,
            lambda request=request, metadata=metadata, code=code: expect_status(
                code, lambda: crypto.Sign(request, metadata=metadata, timeout=RPC_TIMEOUT)
            ),
        )

    report.run(
        "List without authorization -> UNAUTHENTICATED",
        lambda: expect_status(
            grpc.StatusCode.UNAUTHENTICATED,
            lambda: keys.List(ks_pb.ListAsymmetricSignatureKeysRequest(folder_id=FOLDER), timeout=RPC_TIMEOUT),
        ),
    )
    report.run(
        "Sign on an unknown key id -> NOT_FOUND",
        lambda: expect_status(
            grpc.StatusCode.NOT_FOUND,
            lambda: crypto.Sign(
                cs_pb.AsymmetricSignRequest(key_id=unknown_key_id(), message=MESSAGE),
                metadata=auth,
                timeout=RPC_TIMEOUT,
            ),
        ),
    )

    # --- Update name + labels under a FieldMask (description is not in the mask: unchanged).
    for alg, key in created.items():
        def update(key=key):
            new_name = key.name + "-renamed"
            new_labels = {"suite": "python-sdk", "stage": "updated"}
            op = keys.Update(
                ks_pb.UpdateAsymmetricSignatureKeyRequest(
                    key_id=key.id,
                    update_mask=FieldMask(paths=["name", "labels"]),
                    name=new_name,
                    description="must not be applied",
                    labels=new_labels,
                ),
                metadata=auth,
                timeout=RPC_TIMEOUT,
            )
            meta = unpack(op.metadata, ks_pb.UpdateAsymmetricSignatureKeyMetadata)
            expect(meta.key_id == key.id, "Update metadata key_id %r" % meta.key_id)
            updated = unpack(wait(op).response, key_pb.AsymmetricSignatureKey)
            got = keys.Get(ks_pb.GetAsymmetricSignatureKeyRequest(key_id=key.id), metadata=auth, timeout=RPC_TIMEOUT)
            for which, k in [("operation response", updated), ("Get", got)]:
                expect(k.id == key.id, "%s: id %r" % (which, k.id))
                expect(k.name == new_name, "%s: name %r" % (which, k.name))
                expect(dict(k.labels) == new_labels, "%s: labels %r" % (which, dict(k.labels)))
                expect(k.description == key.description, "%s: description changed to %r" % (which, k.description))
                expect(k.status == key_pb.AsymmetricSignatureKey.Status.ACTIVE, "%s: status %d" % (which, k.status))

        report.run("%s: Update(name, labels) under a FieldMask" % alg, update)

    # --- Delete, then the key is gone.
    for alg, key in created.items():
        def delete(key=key):
            op = keys.Delete(
                ks_pb.DeleteAsymmetricSignatureKeyRequest(key_id=key.id), metadata=auth, timeout=RPC_TIMEOUT
            )
            meta = unpack(op.metadata, ks_pb.DeleteAsymmetricSignatureKeyMetadata)
            expect(meta.key_id == key.id, "Delete metadata key_id %r" % meta.key_id)
            wait(op)
            expect_status(
                grpc.StatusCode.NOT_FOUND,
                lambda: keys.Get(
                    ks_pb.GetAsymmetricSignatureKeyRequest(key_id=key.id), metadata=auth, timeout=RPC_TIMEOUT
                ),
            )

        report.run("%s: Delete, then Get -> NOT_FOUND" % alg, delete)

    def gone():
        ids = list_all_ids()
        left = [key.id for key in created.values() if key.id in ids]
        expect(not left, "deleted keys still listed: %s" % left)
        if some_key is not None:
            expect_status(
                grpc.StatusCode.NOT_FOUND,
                lambda: crypto.Sign(
                    cs_pb.AsymmetricSignRequest(key_id=some_key.id, message=MESSAGE),
                    metadata=auth,
                    timeout=RPC_TIMEOUT,
                ),
            )

    report.run("deleted keys are absent from List and Sign -> NOT_FOUND", gone)

    print("%d passed, %d failed" % (report.passed, report.failed))
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
