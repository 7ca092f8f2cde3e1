#!/usr/bin/env python3
"""Independent verification of Signet signatures with Python `cryptography`.

Input: a JSON manifest (path in argv[1]) holding a list of cases:
  {"algorithm": "RSA_2048_SIGN_PSS_SHA_256", "public_key_pem": "...",
   "data_hex": "...", "prehashed": false, "signature_hex": "...", "expect_valid": true}
`data` is the message, or the digest when `prehashed` is true.
RSA cases are checked as RSASSA-PSS with MGF1(same hash) and salt length = digest size;
ECDSA cases as DER-encoded signatures. The key's type and size must match the algorithm.
Prints "verified N cases" and exits 0 only if every case behaves as expected.
"""
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

HASHES = {"SHA_256": hashes.SHA256, "SHA_384": hashes.SHA384, "SHA_512": hashes.SHA512}
CURVES = {
    "ECDSA_NIST_P256": ec.SECP256R1,
    "ECDSA_NIST_P384": ec.SECP384R1,
    "ECDSA_NIST_P521": ec.SECP521R1,
    "ECDSA_SECP256_K1": ec.SECP256K1,
}


def describe(alg):
    hash_cls = next(h for suffix, h in HASHES.items() if alg.endswith(suffix))
    if alg.startswith("RSA_"):
        return ("rsa", int(alg.split("_")[1]), hash_cls())
    curve = next(c for prefix, c in CURVES.items() if alg.startswith(prefix))
    return ("ec", curve, hash_cls())


def check(case):
    kind, param, h = describe(case["algorithm"])
    key = serialization.load_pem_public_key(case["public_key_pem"].encode())
    data = bytes.fromhex(case["data_hex"])
    sig = bytes.fromhex(case["signature_hex"])
    algo = utils.Prehashed(h) if case["prehashed"] else h
    if kind == "rsa":
        if not isinstance(key, rsa.RSAPublicKey) or key.key_size != param:
            return "public key is not RSA-%d" % param
        if len(sig) != param // 8:
            return "RSA signature length %d != modulus length %d" % (len(sig), param // 8)
        key.verify(sig, data, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), algo)
    else:
        if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, param):
            return "public key is not on %s" % param.name
        key.verify(sig, data, ec.ECDSA(algo))
    return None


def main():
    cases = json.load(open(sys.argv[1]))
    failures = []
    for i, case in enumerate(cases):
        try:
            problem = check(case)
            valid = problem is None
        except InvalidSignature:
            valid, problem = False, "invalid signature"
        if valid != case["expect_valid"]:
            failures.append("case %d (%s, prehashed=%s): expected %s, got %s"
                            % (i, case["algorithm"], case["prehashed"],
                               "valid" if case["expect_valid"] else "invalid", problem or "valid"))
    for f in failures:
        print("FAIL", f)
    print("verified %d cases, %d failures" % (len(cases), len(failures)))
    sys.exit(1 if failures or not cases else 0)


if __name__ == "__main__":
    main()
