"""Firebase App Check, offline: tokens signed here, keys served as a JWKS on loopback."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from conftest import PRISHTINA
from cryptography.hazmat.primitives.asymmetric import rsa

PROJECT = "civic-test"
NUMBER = "123456789012"
KID = "test-key-1"


def make_token(key, **overrides) -> str:
    now = int(time.time())
    claims = {
        "iss": f"https://firebaseappcheck.googleapis.com/{NUMBER}",
        "aud": [f"projects/{NUMBER}", f"projects/{PROJECT}"],
        "sub": "1:123456789012:android:abc",
        "iat": now,
        "exp": now + 3600,
    } | overrides
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID, "typ": "JWT"})


@pytest.fixture(scope="module")
def signing_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url(signing_key):
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    body = json.dumps({"keys": [public | {"kid": KID, "alg": "RS256", "use": "sig"}]}).encode()

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Keys)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v1/jwks"
    server.shutdown()


@pytest.fixture
def enforced(app, jwks_url):
    app.config.update(APP_CHECK_PROJECT=PROJECT, APP_CHECK_JWKS_URL=jwks_url)
    yield
    app.config.update(APP_CHECK_PROJECT=None, APP_CHECK_JWKS_URL=None)


REPORT = {"category": "commenting", "location": PRISHTINA}


def test_off_by_default(client):
    assert client.post("/v1/reports", json=REPORT).status_code == 201


def test_enforced_reports_and_devices_need_a_valid_token(client, enforced, signing_key):
    missing = client.post("/v1/reports", json=REPORT)
    assert missing.status_code == 401
    assert missing.json["message"] == "App Check failed: send a valid X-Firebase-AppCheck token."
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad = [
        make_token(other_key),  # not Firebase's key
        make_token(signing_key, exp=int(time.time()) - 10),  # expired
        make_token(signing_key, aud=["projects/someone-else"]),  # another project
        "not-a-jwt",
    ]
    for token in bad:
        r = client.post("/v1/reports", json=REPORT, headers={"X-Firebase-AppCheck": token})
        assert r.status_code == 401, token
    good = {"X-Firebase-AppCheck": make_token(signing_key)}
    assert client.post("/v1/reports", json=REPORT, headers=good).status_code == 201
    device = {"fcm_token": "t" * 40, "platform": "android"}
    assert client.post("/v1/devices", json=device).status_code == 401
    assert client.post("/v1/devices", json=device, headers=good).status_code == 201


def test_keys_unreachable_is_503(app, client, signing_key):
    app.config.update(APP_CHECK_PROJECT=PROJECT, APP_CHECK_JWKS_URL="http://127.0.0.1:9/jwks")
    try:
        headers = {"X-Firebase-AppCheck": make_token(signing_key)}
        r = client.post("/v1/reports", json=REPORT, headers=headers)
    finally:
        app.config.update(APP_CHECK_PROJECT=None, APP_CHECK_JWKS_URL=None)
    assert r.status_code == 503
    assert "Retry-After" in r.headers
