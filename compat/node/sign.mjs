#!/usr/bin/env node
// The official Yandex Cloud Node.js SDK (@yandex-cloud/nodejs-sdk, pinned in package.json),
// unmodified, against Signet over TLS.
//
// Usage: SIGNET_IAM_TOKEN=<token> node sign.mjs localhost:PORT CA.pem KEY_ID
//
// The SDK is used as a Yandex Cloud user would use it against a self-hosted endpoint:
//   new Session({ iamToken, ssl: { rootCerts: <CA PEM> } })
//   session.client(serviceClients.AsymmetricSignatureCryptoServiceClient, "localhost:PORT")
// (the Node SDK has no endpoint discovery; its transport is always TLS). The IAM token comes
// from the environment only and is never printed.
//
// Checks: GetPublicKey returns a P-256 SPKI PEM; Sign and SignHash signatures (ECDSA, DER)
// verify with Node's crypto.verify and a tampered message does not; an unknown key id gives
// NOT_FOUND; a wrong token gives UNAUTHENTICATED; without the CA the TLS handshake fails.
// Prints one line per check and finally "N passed, M failed"; exits 1 if any check failed.

import { createHash, createPublicKey, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import process from "node:process";
import sdk from "@yandex-cloud/nodejs-sdk";

const { Session, serviceClients, cloudApi } = sdk;
const { AsymmetricSignRequest, AsymmetricSignHashRequest, AsymmetricGetPublicKeyRequest } =
  cloudApi.kms.asymmetric_signature_crypto_service;

const MESSAGE = Buffer.from("signed through the Yandex Cloud Node.js SDK over TLS");
const RPC_TIMEOUT_MS = 30_000;

// gRPC status names by code, to name the status of a failed call.
const STATUS_NAMES = [
  "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
  "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
  "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
];

class CheckFailed extends Error {}

function expect(condition, message) {
  if (!condition) throw new CheckFailed(message);
}

// The gRPC status of a failed call. nice-grpc's ClientError has a numeric `.code`; the SDK's
// ApiError (thrown when response headers preceded the failure) has none, but keeps the
// ClientError's message "/<method> <STATUS>: <details>".
function statusOf(err) {
  if (typeof err?.code === "number" && STATUS_NAMES[err.code]) return STATUS_NAMES[err.code];
  const m = /\s([A-Z_]+):/.exec(String(err?.message ?? ""));
  return m && STATUS_NAMES.includes(m[1]) ? m[1] : undefined;
}

function describe(err) {
  if (err instanceof CheckFailed) return err.message;
  const status = statusOf(err);
  return status ? `gRPC ${status}: ${err.details ?? err.message}` : `${err?.name}: ${err?.message}`;
}

async function expectStatus(status, call) {
  try {
    await call();
  } catch (err) {
    expect(statusOf(err) === status, `expected ${status}, got ${describe(err)}`);
    return;
  }
  throw new CheckFailed(`call succeeded, expected ${status}`);
}

const deadline = () => ({ deadline: new Date(Date.now() + RPC_TIMEOUT_MS) });

const report = { passed: 0, failed: 0 };

async function check(name, fn) {
  try {
    const result = await fn();
    report.passed += 1;
    console.log(`ok   ${name}`);
    return result;
  } catch (err) {
    report.failed += 1;
    console.log(`FAIL ${name}: ${describe(err)}`);
    return undefined;
  }
}

function skip(name, why) {
  report.failed += 1;
  console.log(`FAIL ${name}: not run (${why})`);
}

function verifies(publicKey, data, signature) {
  return verify("sha256", data, { key: publicKey, dsaEncoding: "der" }, signature);
}

async function main() {
  if (process.argv.length !== 5) {
    console.error("usage: SIGNET_IAM_TOKEN=<token> node sign.mjs HOST:PORT CA.pem KEY_ID");
    return 2;
  }
  const [endpoint, caPath, keyId] = process.argv.slice(2);
  const iamToken = process.env.SIGNET_IAM_TOKEN;
  if (!iamToken) {
    console.error("SIGNET_IAM_TOKEN is not set");
    return 2;
  }
  const rootCerts = readFileSync(caPath);

  const session = new Session({ iamToken, ssl: { rootCerts } });
  const crypto = session.client(serviceClients.AsymmetricSignatureCryptoServiceClient, endpoint);

  const publicKey = await check("GetPublicKey returns the P-256 SPKI PEM", async () => {
    const got = await crypto.getPublicKey(AsymmetricGetPublicKeyRequest.fromPartial({ keyId }), deadline());
    expect(got.keyId === keyId, `keyId ${JSON.stringify(got.keyId)}`);
    expect(got.publicKey.startsWith("-----BEGIN PUBLIC KEY-----"), "not an SPKI PEM");
    const key = createPublicKey({ key: got.publicKey, format: "pem" });
    expect(key.asymmetricKeyType === "ec", `key type ${key.asymmetricKeyType}`);
    expect(
      key.asymmetricKeyDetails.namedCurve === "prime256v1",
      `curve ${key.asymmetricKeyDetails.namedCurve}`,
    );
    return key;
  });

  const signName = "Sign: ECDSA DER signature verifies with crypto.verify, not over other data";
  const signHashName = "SignHash(SHA-256 digest): signature verifies over the message";
  if (publicKey === undefined) {
    skip(signName, "no public key");
    skip(signHashName, "no public key");
  } else {
    await check(signName, async () => {
      const signed = await crypto.sign(AsymmetricSignRequest.fromPartial({ keyId, message: MESSAGE }), deadline());
      expect(signed.keyId === keyId, `keyId ${JSON.stringify(signed.keyId)}`);
      expect(verifies(publicKey, MESSAGE, signed.signature), "signature does not verify");
      const tampered = Buffer.concat([MESSAGE, Buffer.from("!")]);
      expect(!verifies(publicKey, tampered, signed.signature), "signature verified over different data");
    });
    await check(signHashName, async () => {
      const hash = createHash("sha256").update(MESSAGE).digest();
      const signed = await crypto.signHash(AsymmetricSignHashRequest.fromPartial({ keyId, hash }), deadline());
      expect(signed.keyId === keyId, `keyId ${JSON.stringify(signed.keyId)}`);
      expect(verifies(publicKey, MESSAGE, signed.signature), "signature does not verify");
    });
  }

  await check("Sign on an unknown key id -> NOT_FOUND", () =>
    expectStatus("NOT_FOUND", () =>
      crypto.sign(
        AsymmetricSignRequest.fromPartial({ keyId: "abjunknownkey0000000", message: MESSAGE }),
        deadline(),
      ),
    ),
  );

  await check("Sign with a wrong IAM token -> UNAUTHENTICATED", () => {
    const wrong = new Session({ iamToken: "t1.not-a-real-token", ssl: { rootCerts } });
    const client = wrong.client(serviceClients.AsymmetricSignatureCryptoServiceClient, endpoint);
    return expectStatus("UNAUTHENTICATED", () =>
      client.sign(AsymmetricSignRequest.fromPartial({ keyId, message: MESSAGE }), deadline()),
    );
  });

  await check("without the CA (system roots only) the TLS handshake fails -> UNAVAILABLE", () => {
    const untrusting = new Session({ iamToken });
    const client = untrusting.client(serviceClients.AsymmetricSignatureCryptoServiceClient, endpoint);
    return expectStatus("UNAVAILABLE", () =>
      client.getPublicKey(AsymmetricGetPublicKeyRequest.fromPartial({ keyId }), deadline()),
    );
  });

  console.log(`${report.passed} passed, ${report.failed} failed`);
  return report.failed ? 1 : 0;
}

// Exit explicitly: open gRPC channels would otherwise keep the process alive.
main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`unexpected error: ${err?.name}: ${err?.message}`);
    process.exit(1);
  },
);
