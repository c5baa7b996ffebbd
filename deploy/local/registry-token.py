#!/usr/bin/env python3
"""A token service for distribution's token auth (what Harbor and Docker Hub do), for tests.

    REGISTRY_TOKEN_PASSWORD_FILE=FILE registry-token.py PORT KEY.pem CERT.pem ISSUER SERVICE USER

GET /token?service=…&scope=repository:NAME:ACTIONS with Basic USER:PASSWORD answers
{"token": JWT} granting the asked actions (ES256, the certificate in the x5c header, as
distribution verifies it against its rootcertbundle). A wrong login gets 401; no login
gets a token with no access, as public registries do for anonymous pulls.
"""
import base64, http.server, json, os, sys, time, uuid
from urllib.parse import parse_qs, urlparse
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

port, key_path, cert_path, issuer, service, user = sys.argv[1:7]
password = open(os.environ["REGISTRY_TOKEN_PASSWORD_FILE"]).read().strip()
key = serialization.load_pem_private_key(open(key_path, "rb").read(), password=None)
cert = x509.load_pem_x509_certificate(open(cert_path, "rb").read())
x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]

def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

def token(subject, access):
    now = int(time.time())
    header = {"typ": "JWT", "alg": "ES256", "x5c": x5c}
    claims = {"iss": issuer, "sub": subject, "aud": service, "exp": now + 300, "nbf": now - 10, "iat": now,
              "jti": uuid.uuid4().hex, "access": access}
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return signing_input + "." + b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urlparse(self.path)
        if url.path != "/token":
            self.send_response(404); self.end_headers(); return
        subject, access = "", []
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            given = base64.b64decode(auth[6:]).decode(errors="replace")
            if given != f"{user}:{password}":
                self.send_response(401); self.end_headers(); return
            subject = user
            for scope in parse_qs(url.query).get("scope", []):
                for part in scope.split(" "):
                    kind, _, rest = part.partition(":")
                    name, _, actions = rest.rpartition(":")
                    if kind == "repository" and name:
                        access.append({"type": "repository", "name": name, "actions": [a for a in actions.split(",") if a]})
        body = json.dumps({"token": token(subject, access), "expires_in": 300}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()
