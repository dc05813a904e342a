#!/usr/bin/env python3
"""api_stub - a stand-in for cf-server's session routes (docs/API.md), for console tests.

Serves HTTPS on 127.0.0.1 (a port of its own choosing, written to --port-file once it
listens), TLS 1.2 minimum, client certificates optional but verified against --ca.
Canned users (USERS in stub_state.py; name: password, role, save_logins):
  admin  right-password-1    admin   true
  ops    ops-password-1      viewer  false
  quote  pa"ss\\word 1        admin   true     (checks JSON escaping)
  busy   any                 503 busy, Retry-After: 7
  badtoken any               200 with a token that is not one of ours
  big / stream / garbage     log in; then GET /session answers 5 MiB with a Content-Length /
                             5 MiB without one / a body that is not JSON
Stub-only route: POST /api/v1/test/expire ends every session (the tokens expire).

The fleet routes (FLEET_ROUTES in stub_fleet.py, the certificate ones in stub_certs.py,
the state they share in stub_state.py) answer the operator's commands: /ssl, /ssl/insecure,
/certs..., /servers..., /agents..., /users..., /audit, /policy/console, with state kept
in memory, every body checked as docs/API.md says (unknown fields are a 400) and the
roles enforced (viewer reads, admin changes).
It logs one line per request (method, path, status, whether a Bearer token came), never a
body. Stop it with SIGTERM.
"""
import argparse
import http.server
import json
import os
import re
import secrets
import ssl
import sys
import time
import urllib.parse

sys.dont_write_bytecode = True  # the modules beside this file: no __pycache__ in the tree

from stub_fleet import FLEET_ROUTES  # noqa: E402
from stub_state import AUDIT, USERS, Refusal  # noqa: E402

MAX_BODY = 64 * 1024
BIG = 5 * 1024 * 1024
SESSIONS = {}  # token -> (user, role, expires)


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "api_stub"

    def log_message(self, fmt, *args):  # one line per request, no bodies
        pass

    def _log(self, status):
        auth = "bearer" if self.headers.get("Authorization", "").startswith("Bearer ") else "-"
        print(f"{self.command} {self.path} {status} auth={auth}", flush=True)

    def _send(self, status, obj=None, headers=None, raw=None, length=True):
        body = raw if raw is not None else json.dumps(obj if obj is not None else {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if length:
            self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # the client stopped reading (its size cap): what the test wants
        self._log(status)

    def _error(self, status, code, message, headers=None):
        self._send(status, {"error": {"code": code, "message": message}}, headers)

    def _client_cert(self):
        cert = self.connection.getpeercert()
        if not cert:
            return "none"
        for kind, value in cert.get("subjectAltName", ()):
            if kind == "URI" and value.startswith("urn:certfleet:agent"):
                return "agent"
        return "console"

    def _session(self):
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return None
        found = SESSIONS.get(auth[len("Bearer "):])
        if not found or found[2] < time.time():
            return None
        return found

    def _json_body(self):
        if self.headers.get("Content-Type", "") != "application/json":
            self._error(415, "unsupported_media_type", "send application/json")
            return None
        length = int(self.headers.get("Content-Length", "0"))
        if length > MAX_BODY:
            self._error(413, "too_large", "the body is over 64 KiB")
            return None
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError as e:
            self._error(400, "invalid_json", str(e))
            return None
        if not isinstance(body, dict):
            self._error(400, "invalid_json", "not an object")
            return None
        return body

    def do_GET(self):
        if self.path == "/api/v1/health":
            return self._send(200, {"status": "ok", "alias": "stub", "version": "0.1.0",
                                    "tls": self.connection.version(),
                                    "client_cert": self._client_cert()})
        if self.path == "/api/v1/session":
            return self._get_session()
        self._fleet("GET")

    def _get_session(self):
        found = self._session()
        if not found:
            return self._error(401, "unauthenticated", "no or expired session")
        user, role, expires = found
        if user == "big":
            return self._send(200, raw=b'{"pad":"' + b"x" * BIG + b'"}')
        if user == "stream":
            return self._send(200, raw=b'{"pad":"' + b"x" * BIG + b'"}', length=False)
        if user == "garbage":
            return self._send(200, raw=b"<html>not json</html>")
        self._send(200, {"user": user, "role": role, "expires": int(expires)})

    def do_POST(self):
        if self.path == "/api/v1/login":
            return self._login()
        if self.path == "/api/v1/logout":
            auth = self.headers.get("Authorization", "")
            if not self._session():
                return self._error(401, "unauthenticated", "no or expired session")
            SESSIONS.pop(auth[len("Bearer "):], None)
            return self._send(200, {})
        if self.path == "/api/v1/test/expire":
            SESSIONS.clear()
            return self._send(200, {})
        self._fleet("POST")

    def do_PUT(self):
        self._fleet("PUT")

    def do_DELETE(self):
        self._fleet("DELETE")

    def _fleet(self, method):
        """The operator's routes: find one, check the session and role, run it."""
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        for route_method, pattern, role, fn in FLEET_ROUTES:
            m = re.fullmatch(pattern, url.path)
            if route_method != method or not m:
                continue
            found = self._session()
            if not found:
                return self._error(401, "unauthenticated", "no or expired session")
            if role == "admin" and found[1] != "admin":
                return self._error(403, "forbidden", "this needs the admin role")
            body = None
            if method in ("POST", "PUT"):
                body = self._json_body()
                if body is None:
                    return None
            try:
                status, answer = fn(found[0], body, query,
                                    *[urllib.parse.unquote(g) for g in m.groups()])
            except Refusal as r:
                return self._error(r.status, r.code, r.message)
            if found[1] == "admin" and method != "GET":
                AUDIT.append({"id": f"{int(time.time() * 1000)}-{len(AUDIT)}",
                              "time": int(time.time()), "who": found[0], "role": found[1],
                              "what": f"{method} {url.path}", "target": None, "result": "ok",
                              "from": self.client_address[0]})
            return self._send(status, answer)
        self._error(404, "not_found", f"no route {method} {url.path}")

    def _login(self):
        body = self._json_body()
        if body is None:
            return None
        user, password = body.get("user"), body.get("password")
        if not isinstance(user, str) or not isinstance(password, str):
            return self._error(400, "invalid_request", "user and password are required")
        if user == "busy":
            return self._error(503, "busy", "too many logins", {"Retry-After": "7"})
        if user == "badtoken":
            return self._send(200, {"token": "not-a-token", "role": "admin",
                                    "expires": int(time.time()) + 3600, "save_logins": True})
        want = USERS.get(user)
        if not want or want[0] != password:
            return self._error(401, "unauthenticated", "wrong user or password")
        token = secrets.token_urlsafe(32)
        expires = int(time.time()) + 3600
        SESSIONS[token] = (user, want[1], expires)
        self._send(200, {"token": token, "role": want[1], "expires": expires,
                         "save_logins": want[2]})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.cert, args.key)
    ctx.load_verify_locations(args.ca)
    ctx.verify_mode = ssl.CERT_OPTIONAL
    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    port = httpd.server_address[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.rename(tmp, args.port_file)
    print(f"listening on 127.0.0.1:{port}", flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
