#!/usr/bin/python3
"""Reference side of the Fernet interop tests (run by test_fernet and test_keys).

Uses Debian's python3-cryptography as an independent implementation.

    fernet_interop.py MODE < request.json > reply.json

request: {"key": "<Fernet key text>", "items": [...]}; reply: a JSON list, one
answer per item, in order.
    encrypt  items are hex messages          -> tokens
    decrypt  items are tokens                -> hex messages, null if rejected
             ("ttl" in the request, if present, is passed to decrypt)
    hkdf     items are hex secrets ("key" unused) -> the Fernet key text that
             vectoraiz derives: base64url(HKDF-SHA256(secret, salt, info, 32))
             with "salt" and "info" taken from the request
Exit status 3 when the cryptography module is missing, 2 on bad usage.
"""
import base64
import json
import sys

try:
    from cryptography.fernet import Fernet, InvalidToken
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
except ImportError as e:  # the C test turns this into a failure
    print("fernet_interop: python3-cryptography is not installed: %s" % e, file=sys.stderr)
    sys.exit(3)


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in ("encrypt", "decrypt", "hkdf"):
        print("usage: fernet_interop.py encrypt|decrypt|hkdf < request.json", file=sys.stderr)
        return 2
    mode = sys.argv[1]
    req = json.load(sys.stdin)
    out = []
    if mode == "hkdf":
        salt = req["salt"].encode()
        info = req["info"].encode()
        for item in req["items"]:
            kdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info)
            out.append(base64.urlsafe_b64encode(kdf.derive(bytes.fromhex(item))).decode())
    else:
        f = Fernet(req["key"].encode())
        for item in req["items"]:
            if mode == "encrypt":
                out.append(f.encrypt(bytes.fromhex(item)).decode())
            else:
                try:
                    out.append(f.decrypt(item.encode(), ttl=req.get("ttl")).hex())
                except InvalidToken:
                    out.append(None)
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
