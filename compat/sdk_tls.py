#!/usr/bin/env python3
"""The official `yandexcloud` Python SDK, unmodified, against Signet over TLS.

Usage: sdk_tls.py localhost:PORT CA.pem SDK_USER_KEY.json SIGNER_ONLY_KEY.json

Each SDK is built exactly as a Yandex Cloud user would build it:

    yandexcloud.SDK(endpoint=..., root_certificates=<CA PEM>, service_account_key=<key.json>)

so the SDK discovers the endpoints itself (ApiEndpointService.List over TLS), signs a PS256 JWT
with the service account's authorized key, exchanges it at IamTokenService.Create and sends the
IAM token it got. This script never sees a token and never prints a private key.

Expected rights (set up by crates/signet-testkit/tests/python_sdk_tls.rs): the first account
("sdk-user") has kms.admin on the folder `default`; the second ("signer-only") has nothing until
this script grants it kms.asymmetricSignatureKeys.signer on the key it creates.

Flow: sdk-user creates an ECDSA P-256 key (waiting with the SDK's operation helper), signs,
sign-hashes and fetches the public key, verifying both signatures with Python `cryptography`;
grants signer-only the signer role on the key (UpdateAccessBindings ADD, waited for). Then
signer-only's own SDK signs and sign-hashes successfully, but gets PERMISSION_DENIED on Update
and on GetPublicKey.

Prints one line per check and finally "N passed, M failed"; exits 1 if any check failed.
"""
import hashlib
import json
import sys

import grpc
import yandexcloud
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from google.protobuf.field_mask_pb2 import FieldMask
from yandex.cloud.access import access_pb2
from yandex.cloud.kms.v1.asymmetricsignature import asymmetric_signature_crypto_service_pb2 as cs_pb
from yandex.cloud.kms.v1.asymmetricsignature import asymmetric_signature_key_pb2 as key_pb
from yandex.cloud.kms.v1.asymmetricsignature import asymmetric_signature_key_service_pb2 as ks_pb
from yandex.cloud.kms.v1.asymmetricsignature.asymmetric_signature_crypto_service_pb2_grpc import (
    AsymmetricSignatureCryptoServiceStub,
)
from yandex.cloud.kms.v1.asymmetricsignature.asymmetric_signature_key_service_pb2_grpc import (
    AsymmetricSignatureKeyServiceStub,
)

FOLDER = "default"
RPC_TIMEOUT = 30.0  # seconds, per call
OPERATION_TIMEOUT = 60.0  # seconds an operation may take
SIGNER_ROLE = "kms.asymmetricSignatureKeys.signer"
MESSAGE = b"signed through the yandexcloud Python SDK over TLS"


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
    if isinstance(exc, yandexcloud.operations.OperationError):
        return "operation failed: %s" % exc.message
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


def verify(public_key, signature, data, prehashed):
    """Verifies an ECDSA P-256/SHA-256 DER signature over `data` (or its digest, when prehashed)."""
    algo = utils.Prehashed(hashes.SHA256()) if prehashed else hashes.SHA256()
    try:
        public_key.verify(signature, data, ec.ECDSA(algo))
    except InvalidSignature:
        raise CheckFailed("signature does not verify") from None


def verify_rejects(public_key, signature, data):
    try:
        verify(public_key, signature, data, prehashed=False)
    except CheckFailed:
        return
    raise CheckFailed("a signature verified over different data")


def load_key_json(path):
    with open(path, encoding="utf-8") as f:
        key = json.load(f)
    for field in ("id", "service_account_id", "private_key"):
        if not key.get(field):
            raise SystemExit("%s has no %r" % (path, field))
    return key


def main():
    if len(sys.argv) != 5:
        print("usage: %s HOST:PORT CA.pem SDK_USER_KEY.json SIGNER_ONLY_KEY.json" % sys.argv[0], file=sys.stderr)
        return 2
    endpoint, ca_path, user_key_path, signer_key_path = sys.argv[1:]
    with open(ca_path, "rb") as f:
        ca_pem = f.read()
    user_key = load_key_json(user_key_path)
    signer_key = load_key_json(signer_key_path)
    signer_sa = signer_key["service_account_id"]

    # Exactly what a user writes; nothing else is configured.
    sdk = yandexcloud.SDK(endpoint=endpoint, root_certificates=ca_pem, service_account_key=user_key)
    keys = sdk.client(AsymmetricSignatureKeyServiceStub)
    crypto = sdk.client(AsymmetricSignatureCryptoServiceStub)
    report = Report()

    # --- sdk-user: create a key and wait for it with the SDK's own helper.
    def create():
        request = ks_pb.CreateAsymmetricSignatureKeyRequest(
            folder_id=FOLDER,
            name="sdk-tls-p256",
            description="created by compat/sdk_tls.py",
            labels={"suite": "python-sdk-tls"},
            signature_algorithm=key_pb.AsymmetricSignatureAlgorithm.ECDSA_NIST_P256_SHA_256,
        )
        result = sdk.wait_operation_and_get_result(
            keys.Create(request, timeout=RPC_TIMEOUT),
            response_type=key_pb.AsymmetricSignatureKey,
            meta_type=ks_pb.CreateAsymmetricSignatureKeyMetadata,
            timeout=OPERATION_TIMEOUT,
        )
        key = result.response
        expect(result.meta.key_id, "operation metadata has no key_id")
        expect(key.id == result.meta.key_id, "response key id %r != metadata key id %r" % (key.id, result.meta.key_id))
        expect(key.folder_id == FOLDER, "folder_id %r" % key.folder_id)
        expect(key.status == key_pb.AsymmetricSignatureKey.Status.ACTIVE, "status %d" % key.status)
        expect(
            key.signature_algorithm == key_pb.AsymmetricSignatureAlgorithm.ECDSA_NIST_P256_SHA_256,
            "algorithm %d" % key.signature_algorithm,
        )
        return key

    key = report.run(
        "sdk-user (discovery + JWT exchange over TLS): Create P-256 key, wait_operation_and_get_result", create
    )

    def get_public_key():
        got = crypto.GetPublicKey(cs_pb.AsymmetricGetPublicKeyRequest(key_id=key.id), timeout=RPC_TIMEOUT)
        expect(got.key_id == key.id, "key_id %r" % got.key_id)
        expect(got.public_key.startswith("-----BEGIN PUBLIC KEY-----"), "not an SPKI PEM: %r" % got.public_key[:40])
        public_key = serialization.load_pem_public_key(got.public_key.encode())
        expect(isinstance(public_key, ec.EllipticCurvePublicKey), "public key is not EC")
        expect(isinstance(public_key.curve, ec.SECP256R1), "curve %s" % public_key.curve.name)
        return public_key

    def sign(crypto_client, public_key):
        signed = crypto_client.Sign(cs_pb.AsymmetricSignRequest(key_id=key.id, message=MESSAGE), timeout=RPC_TIMEOUT)
        expect(signed.key_id == key.id, "Sign key_id %r" % signed.key_id)
        verify(public_key, signed.signature, MESSAGE, prehashed=False)
        verify_rejects(public_key, signed.signature, MESSAGE + b"!")

    def sign_hash(crypto_client, public_key):
        digest = hashlib.sha256(MESSAGE).digest()
        hashed = crypto_client.SignHash(
            cs_pb.AsymmetricSignHashRequest(key_id=key.id, hash=digest), timeout=RPC_TIMEOUT
        )
        expect(hashed.key_id == key.id, "SignHash key_id %r" % hashed.key_id)
        verify(public_key, hashed.signature, digest, prehashed=True)
        verify(public_key, hashed.signature, MESSAGE, prehashed=False)

    public_key = None
    if key is None:
        report.skip("sdk-user: GetPublicKey returns the P-256 SPKI PEM", "no key was created")
    else:
        public_key = report.run("sdk-user: GetPublicKey returns the P-256 SPKI PEM", get_public_key)

    if public_key is None:
        report.skip("sdk-user: Sign verifies with cryptography", "no public key")
        report.skip("sdk-user: SignHash verifies with cryptography", "no public key")
    else:
        report.run("sdk-user: Sign verifies with cryptography", lambda: sign(crypto, public_key))
        report.run("sdk-user: SignHash verifies with cryptography", lambda: sign_hash(crypto, public_key))

    # --- The second account's own SDK: its JWT exchange happens on its first call.
    signer_sdk = yandexcloud.SDK(endpoint=endpoint, root_certificates=ca_pem, service_account_key=signer_key)
    signer_keys = signer_sdk.client(AsymmetricSignatureKeyServiceStub)
    signer_crypto = signer_sdk.client(AsymmetricSignatureCryptoServiceStub)

    if key is None:
        report.skip("signer-only before any grant: Sign -> NOT_FOUND", "no key was created")
    else:
        report.run(
            "signer-only before any grant: Sign -> NOT_FOUND",
            lambda: expect_status(
                grpc.StatusCode.NOT_FOUND,
                lambda: signer_crypto.Sign(
                    cs_pb.AsymmetricSignRequest(key_id=key.id, message=MESSAGE), timeout=RPC_TIMEOUT
                ),
            ),
        )

    # --- sdk-user grants the signer role on the key to signer-only.
    def grant():
        binding = access_pb2.AccessBinding(
            role_id=SIGNER_ROLE, subject=access_pb2.Subject(id=signer_sa, type="serviceAccount")
        )
        result = sdk.wait_operation_and_get_result(
            keys.UpdateAccessBindings(
                access_pb2.UpdateAccessBindingsRequest(
                    resource_id=key.id,
                    access_binding_deltas=[
                        access_pb2.AccessBindingDelta(action=access_pb2.ADD, access_binding=binding)
                    ],
                ),
                timeout=RPC_TIMEOUT,
            ),
            meta_type=access_pb2.UpdateAccessBindingsMetadata,
            timeout=OPERATION_TIMEOUT,
        )
        expect(result.meta.resource_id == key.id, "metadata resource_id %r" % result.meta.resource_id)
        listed = keys.ListAccessBindings(access_pb2.ListAccessBindingsRequest(resource_id=key.id), timeout=RPC_TIMEOUT)
        expect(binding in listed.access_bindings, "binding not listed: %s" % list(listed.access_bindings))

    granted = None
    if key is None:
        report.skip("sdk-user: UpdateAccessBindings ADD signer for signer-only", "no key was created")
    else:
        granted = report.run(
            "sdk-user: UpdateAccessBindings ADD signer for signer-only (operation waited, binding listed)",
            lambda: grant() or True,
        )

    # --- signer-only: may sign, may not change the key nor read its public key.
    def update():
        signer_keys.Update(
            ks_pb.UpdateAsymmetricSignatureKeyRequest(
                key_id=key.id, update_mask=FieldMask(paths=["name"]), name="renamed-by-signer"
            ),
            timeout=RPC_TIMEOUT,
        )

    def get_public_key_as_signer():
        signer_crypto.GetPublicKey(cs_pb.AsymmetricGetPublicKeyRequest(key_id=key.id), timeout=RPC_TIMEOUT)

    checks = [
        ("signer-only: Sign verifies with cryptography", lambda: sign(signer_crypto, public_key)),
        ("signer-only: SignHash verifies with cryptography", lambda: sign_hash(signer_crypto, public_key)),
        (
            "signer-only: Update -> PERMISSION_DENIED",
            lambda: expect_status(grpc.StatusCode.PERMISSION_DENIED, update),
        ),
        (
            "signer-only: GetPublicKey -> PERMISSION_DENIED",
            lambda: expect_status(grpc.StatusCode.PERMISSION_DENIED, get_public_key_as_signer),
        ),
    ]
    for name, check in checks:
        if granted is None or public_key is None:
            report.skip(name, "the grant or the public key failed")
        else:
            report.run(name, check)

    # The signer's failed Update changed nothing.
    if key is not None:
        def unchanged():
            got = keys.Get(ks_pb.GetAsymmetricSignatureKeyRequest(key_id=key.id), timeout=RPC_TIMEOUT)
            expect(got.name == key.name, "name is now %r" % got.name)

        report.run("sdk-user: Get shows the key unchanged by signer-only", unchanged)

    print("%d passed, %d failed" % (report.passed, report.failed))
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
