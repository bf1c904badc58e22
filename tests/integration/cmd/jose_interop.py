#!/usr/bin/python3
"""An independent JOSE implementation (jwcrypto, over pyca/cryptography) for
interoperability tests: it signs artifacts for `execgov check` and verifies
artifacts made by `execgov sign`.

  jose_interop.py sign KEY.pem KID CLAIMS.json     -> prints a compact JWS
  jose_interop.py verify PUB.pem TOKEN             -> prints the claims; exit 1 if invalid
"""
import json
import sys

from jwcrypto import jwk, jws


def alg_of(key):
    return "EdDSA" if key.key_type == "OKP" else "ES256"


def sign(key_path, kid, claims_path):
    with open(key_path, "rb") as f:
        key = jwk.JWK.from_pem(f.read())
    with open(claims_path, "rb") as f:
        payload = f.read()
    token = jws.JWS(payload)
    header = {"alg": alg_of(key), "kid": kid, "typ": "execgov-authz+jws"}
    token.add_signature(key, None, json.dumps(header))
    print(token.serialize(compact=True))


def verify(pub_path, token_text):
    with open(pub_path, "rb") as f:
        key = jwk.JWK.from_pem(f.read())
    token = jws.JWS()
    token.deserialize(token_text.strip())
    try:
        token.verify(key, alg_of(key))
    except jws.InvalidJWSSignature as e:
        print("invalid signature:", e, file=sys.stderr)
        return 1
    header = json.loads(token.objects["protected"])
    if header.get("typ") != "execgov-authz+jws" or "kid" not in header:
        print("unexpected header:", header, file=sys.stderr)
        return 1
    print(token.payload.decode())
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "sign":
        sign(*sys.argv[2:5])
    else:
        sys.exit(verify(*sys.argv[2:4]))
