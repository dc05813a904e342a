#!/usr/bin/env python3
"""api_stub - a stand-in for cf-server's session routes (docs/API.md), for console tests.

Serves HTTPS on 127.0.0.1 (a port of its own choosing, written to --port-file once it
listens), TLS 1.2 minimum, client certificates optional but verified against --ca.
Canned users (name: password, role, save_logins):
  admin  right-password-1    admin   true
  ops    ops-password-1      viewer  false
  quote  pa"ss\\word 1        admin   true     (checks JSON escaping)
  busy   any                 503 busy, Retry-After: 7
  badtoken any               200 with a token that is not one of ours
  big / stream / garbage     log in; then GET /session answers 5 MiB with a Content-Length /
                             5 MiB without one / a body that is not JSON
Stub-only route: POST /api/v1/test/expire ends every session (the tokens expire).

The fleet routes (the Fleet class below) answer the operator's commands: /ssl, /ssl/insecure,
/certs..., /servers..., /agents..., /users..., /audit, /policy/console, with state kept
in memory, every body checked as docs/API.md says (unknown fields are a 400) and the
roles enforced (viewer reads, admin changes).
It logs one line per request (method, path, status, whether a Bearer token came), never a
body. Stop it with SIGTERM.
"""
import argparse
import base64
import datetime
import hashlib
import http.server
import ipaddress
import json
import os
import re
import secrets
import ssl
import sys
import time
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

USERS = {
    "admin": ("right-password-1", "admin", True),
    "ops": ("ops-password-1", "viewer", False),
    "quote": ('pa"ss\\word 1', "admin", True),
    "big": ("big-password-1", "viewer", False),
    "stream": ("stream-password-1", "viewer", False),
    "garbage": ("garbage-password-1", "viewer", False),
}
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


# ---- the fleet routes ------------------------------------------------------------------


class Refusal(Exception):
    """An error answer: status, docs/API.md code, message."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def bad(message):
    return Refusal(400, "invalid_request", message)


def only(body, allowed, required=()):
    for key in body:
        if key not in allowed:
            raise bad(f"unknown field \"{key}\"")
    for key in required:
        if key not in body:
            raise bad(f"field \"{key}\" is required")


def typed(body, key, kind):
    if key in body and not isinstance(body[key], kind) or (kind is int and isinstance(body.get(key), bool)):
        raise bad(f"field \"{key}\" has the wrong type")
    return body.get(key)


NOW = int(time.time())
SSL = {"enabled": True, "allow_plain": True, "min_tls": "1.2", "auto_renew": False,
       "renew_days": 30}
AGENTS = [  # oldest check-in first, as the server pages them
    {"id": "agent-1", "lock": "secure", "last_seen": NOW - 400, "last_addr": "127.0.0.7",
     "version": "0.1.0", "cert_fingerprint": "ab" * 32, "cert_serial": "1f2e",
     "cert_not_after": NOW + 90 * 86400, "favorite": None, "server": "stub"},
    {"id": "agent-2", "lock": "attention", "last_seen": NOW - 300, "last_addr": "127.0.0.8",
     "version": "0.1.0", "cert_fingerprint": "cd" * 32, "cert_serial": "2a3b",
     "cert_not_after": NOW + 20 * 86400, "favorite": "stub", "server": "stub"},
    {"id": "agent-3", "lock": "insecure", "last_seen": NOW - 200, "last_addr": "127.0.0.9",
     "version": "0.0.9", "cert_fingerprint": None, "cert_serial": None,
     "cert_not_after": None, "favorite": None, "server": "stub"},
    {"id": "agent-4", "lock": "expired", "last_seen": NOW - 100, "last_addr": "127.0.0.10",
     "version": "0.1.0", "cert_fingerprint": "ef" * 32, "cert_serial": "3c4d",
     "cert_not_after": None, "favorite": None, "server": "stub"},
    {"id": "agent-5", "lock": "insecure", "last_seen": NOW - 50, "last_addr": "127.0.0.11",
     "version": "evil\x1b[2J\x07", "cert_fingerprint": None, "cert_serial": None,
     "cert_not_after": None, "favorite": None, "server": "stub"},
]
SERVERS = {"stub": {"alias": "stub", "host": "127.0.0.1", "port": 7005, "plain_port": 0,
                    "priority": 10, "ip_ranges": ["127.0.0.0/24"], "online": True,
                    "cert_fingerprint": "12" * 32, "created": NOW - 3600}}
CERTS = {}     # (component, name) -> cert object
REVOKED = []   # serials
AUDIT = []     # events
POLICY = {"save_logins": True}
LOCKS = ("secure", "attention", "insecure", "expired")


def load_certs(blob):
    """Every CERTIFICATE block of a PEM text (cryptography 38, Debian 12: one at a time)."""
    blocks = re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", blob, re.S)
    if not blocks:
        raise ValueError("no CERTIFICATE block")
    return [x509.load_pem_x509_certificate(b.encode()) for b in blocks]


def utc(naive):
    return int(naive.replace(tzinfo=datetime.timezone.utc).timestamp())


def cert_object(component, name, kind, pem):
    cert = load_certs(pem)[0]
    der = cert.public_bytes(serialization.Encoding.DER)
    nb = utc(cert.not_valid_before)
    na = utc(cert.not_valid_after)
    try:
        san = [str(v) for v in cert.extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        san = []
    return {"component": component, "name": name, "kind": kind, "state": "current",
            "subject": cert.subject.rfc4514_string(), "serial": f"{cert.serial_number:x}",
            "fingerprint": hashlib.sha256(der).hexdigest(), "not_before": nb, "not_after": na,
            "days_left": (na - int(time.time())) // 86400, "renew_at": na - 30 * 86400,
            "san": san}


def certs_pem(blob):
    """The certificates of a PEM text, or a 422."""
    try:
        return load_certs(blob)
    except ValueError as e:
        raise Refusal(422, "refused", f"not a certificate: {e}")


def page(items, query):
    try:
        limit = int(query.get("limit", "100"))
        start = int(query.get("cursor", "0") or "0")
    except ValueError:
        raise bad("limit and cursor are integers")
    if not 1 <= limit <= 10000:
        raise bad("limit is 1..10000")
    end = start + limit
    return items[start:end], (str(end) if end < len(items) else None)


def r_ssl_get(user, body, query):
    insecure = sum(1 for a in AGENTS if a["lock"] == "insecure")
    return 200, dict(SSL, migration={"insecure_agents": insecure, "total_agents": len(AGENTS)})


def r_ssl_put(user, body, query):
    only(body, SSL.keys())
    if not body:
        raise bad("nothing to change")
    for key in ("enabled", "allow_plain", "auto_renew"):
        typed(body, key, bool)
    if "min_tls" in body and body["min_tls"] not in ("1.0", "1.1", "1.2", "1.3"):
        raise bad("min_tls is 1.0, 1.1, 1.2 or 1.3")
    if "renew_days" in body and (typed(body, "renew_days", int) < 1 or body["renew_days"] > 3650):
        raise bad("renew_days is 1..3650")
    SSL.update(body)
    return r_ssl_get(user, None, query)


def r_ssl_insecure(user, body, query):
    agents, cursor = page([a for a in AGENTS if a["lock"] == "insecure"], query)
    return 200, {"agents": [{k: a[k] for k in ("id", "last_seen", "last_addr")} for a in agents],
                 "cursor": cursor}


def r_generate_all(user, body, query):
    only(body, ("key_type", "days"), ("key_type", "days"))
    if body["key_type"] not in ("p256", "p384", "rsa2048", "rsa3072", "rsa4096", "ed25519"):
        raise bad("key_type")
    if not 1 <= typed(body, "days", int) <= 3650:
        raise bad("days is 1..3650")
    pem = open("srv.pem").read()
    names = [("server", a) for a in sorted(SERVERS)] + [("console", "console"), ("agent", "shared")]
    for comp, name in names:
        CERTS[(comp, name)] = cert_object(comp, name, "generated", pem)
    return 200, {"generated": [CERTS[n] for n in names]}


def r_certs(user, body, query):
    comp = query.get("component")
    if comp is not None and comp not in ("server", "console", "agent"):
        raise bad("component")
    return 200, {"certs": [c for k, c in sorted(CERTS.items()) if comp in (None, k[0])]}


def r_archive(user, body, query):
    return 200, {"certs": []}


def r_cert(user, body, query, comp, name):
    if (comp, name) not in CERTS:
        raise Refusal(404, "not_found", f"no {comp} certificate {name}")
    return 200, CERTS[(comp, name)]


def check_target(comp, name):
    if comp not in ("server", "console", "agent") or (comp == "agent" and name != "shared"):
        raise bad("component and name")


def import_p12(body):
    only(body, ("format", "data", "password"), ("data",))
    data = base64.b64decode(body["data"], validate=True)
    password = body.get("password")
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(
            data, password.encode() if password is not None else None)
    except ValueError:
        raise Refusal(422, "refused", "wrong password for the PKCS#12 file")
    if key is None:
        raise Refusal(422, "refused", "the PKCS#12 file holds no private key")
    return "imported", cert.public_bytes(serialization.Encoding.PEM).decode()


def import_pem(body):
    only(body, ("format", "cert", "key", "password"), ("cert", "key"))
    certs = certs_pem(body["cert"])
    if "PRIVATE KEY" in body["cert"]:
        raise bad("cert holds a private key")
    password = body.get("password")
    try:
        key = serialization.load_pem_private_key(
            body["key"].encode(), password.encode() if password is not None else None)
    except (TypeError, ValueError):
        raise Refusal(422, "refused", "wrong password for the private key")
    mine = key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    theirs = certs[0].public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    if mine != theirs:
        raise Refusal(422, "refused", "private key does not match the certificate")
    return "imported", certs[0].public_bytes(serialization.Encoding.PEM).decode()


def import_public(body):
    only(body, ("format", "cert"), ("cert",))
    if "PRIVATE KEY" in body["cert"]:
        raise bad("a public import carries no key")
    return "public", certs_pem(body["cert"])[0].public_bytes(serialization.Encoding.PEM).decode()


def r_import(user, body, query, comp, name):
    check_target(comp, name)
    if "store" in body:
        only(body, ("store", "match", "password"), ("store", "match"))
        if body["match"] != "CN=127.0.0.1":
            raise Refusal(422, "refused", f"no certificate in {body['store']} matches")
        kind, pem = "imported", open("srv.pem").read()
    else:
        forms = {"p12": import_p12, "pem": import_pem, "public": import_public}
        if body.get("format") not in forms:
            raise bad("format is p12, pem or public")
        kind, pem = forms[body["format"]](body)
    CERTS[(comp, name)] = cert_object(comp, name, kind, pem)
    return 200, CERTS[(comp, name)]


def r_export(user, body, query, comp, name):
    check_target(comp, name)
    if (comp, name) not in CERTS:
        raise Refusal(404, "not_found", f"no {comp} certificate {name}")
    cert = x509.load_pem_x509_certificate(open("srv.pem", "rb").read())
    if body.get("format") == "pem":
        only(body, ("format",))
        return 200, {"cert": open("srv.pem").read(), "chain": open("ca.pem").read()}
    only(body, ("format", "password"), ("format", "password"))
    if body["format"] != "p12" or len(body["password"]) < 1:
        raise bad("format p12 needs a password")
    key = serialization.load_pem_private_key(open("srv.key", "rb").read(), None)
    der = pkcs12.serialize_key_and_certificates(
        name.encode(), key, cert, None,
        serialization.BestAvailableEncryption(body["password"].encode()))
    return 200, {"data": base64.b64encode(der).decode()}


def r_revoke(user, body, query):
    if "agent" in body:
        only(body, ("agent",))
        found = [a for a in AGENTS if a["id"] == body["agent"]]
        if not found:
            raise Refusal(404, "not_found", f"no agent {body['agent']}")
        serials = [found[0]["cert_serial"]] if found[0]["cert_serial"] else []
    else:
        only(body, ("serial",), ("serial",))
        if not re.fullmatch(r"[0-9a-f]{1,64}", str(body["serial"])):
            raise bad("serial is 1..64 lowercase hex digits")
        serials = [body["serial"]]
    REVOKED.extend(serials)
    return 200, {"revoked": serials, "crl_next_update": int(time.time()) + 7 * 86400}


SERVER_FIELDS = ("alias", "host", "port", "plain_port", "priority", "ip_ranges")


def server_fields(body, record):
    for key, kind in (("host", str), ("port", int), ("plain_port", int), ("priority", int),
                      ("ip_ranges", list)):
        if key in body:
            record[key] = typed(body, key, kind)
    if not 1 <= record["port"] <= 65535 or not -1000000 <= record["priority"] <= 1000000:
        raise bad("port or priority out of range")
    return record


def r_servers(user, body, query):
    return 200, {"servers": [SERVERS[a] for a in sorted(SERVERS)]}


def r_server_add(user, body, query):
    only(body, SERVER_FIELDS, ("alias",))
    alias = body["alias"]
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,252}", str(alias)):
        raise bad("alias")
    if alias in SERVERS:
        raise Refusal(409, "conflict", f"server {alias} exists")
    record = server_fields(body, {"alias": alias, "host": alias, "port": 7005, "plain_port": 0,
                                  "priority": 0, "ip_ranges": [], "online": False,
                                  "cert_fingerprint": None, "created": int(time.time())})
    SERVERS[alias] = record
    return 201, record


def r_server_put(user, body, query, alias):
    only(body, SERVER_FIELDS[1:])
    if not body:
        raise bad("nothing to change")
    if alias not in SERVERS:
        raise Refusal(404, "not_found", f"no server {alias}")
    SERVERS[alias] = server_fields(body, dict(SERVERS[alias]))
    return 200, SERVERS[alias]


def r_server_delete(user, body, query, alias):
    if SERVERS.pop(alias, None) is None:
        raise Refusal(404, "not_found", f"no server {alias}")
    return 200, {}


def in_range(text, addr):
    """An address in a range as the API takes them: CIDR, single address or from-to."""
    try:
        if "-" in text:
            lo, hi = (ipaddress.ip_address(x) for x in text.split("-", 1))
            return lo <= ipaddress.ip_address(addr) <= hi
        return ipaddress.ip_address(addr) in ipaddress.ip_network(text, strict=False)
    except ValueError as e:
        raise bad(f"ip_range: {e}")


def r_agents(user, body, query):
    lock = query.get("lock")
    if lock is not None and lock not in LOCKS:
        raise bad("lock is secure, attention, insecure or expired")
    server, ipr = query.get("server"), query.get("ip_range")
    times = {}
    for k in ("seen_after", "seen_before"):
        if k in query:
            if not query[k].isdigit():
                raise bad(f"{k} must be unix seconds")
            times[k] = int(query[k])
    keep = [a for a in AGENTS if lock in (None, a["lock"])
            and server in (None, a["server"])
            and (ipr is None or in_range(ipr, a["last_addr"]))
            and a["last_seen"] >= times.get("seen_after", 0)
            and a["last_seen"] < times.get("seen_before", 1 << 62)]
    agents, cursor = page(keep, query)
    counts = {k: sum(1 for a in AGENTS if a["lock"] == k) for k in LOCKS}
    return 200, {"agents": agents, "cursor": cursor, "counts": counts, "total": len(AGENTS)}


def r_agent(user, body, query, agent_id):
    for a in AGENTS:
        if a["id"] == agent_id:
            return 200, a
    raise Refusal(404, "not_found", f"no agent {agent_id}")


def r_favorite(user, body, query):
    only(body, ("agents", "server"), ("agents", "server"))
    if not isinstance(body["agents"], list) or not body["agents"]:
        raise bad("agents is a list of ids")
    if body["server"] is not None and body["server"] not in SERVERS:
        raise Refusal(404, "not_found", f"no server {body['server']}")
    updated = 0
    for a in AGENTS:
        if a["id"] in body["agents"]:
            a["favorite"] = body["server"]
            updated += 1
    return 200, {"updated": updated}


def r_users(user, body, query):
    return 200, {"users": [{"name": n, "role": USERS[n][1], "created": NOW}
                           for n in sorted(USERS)]}


def r_user_add(user, body, query):
    only(body, ("name", "role", "password"), ("name", "role", "password"))
    name, password = body["name"], body["password"]
    if not re.fullmatch(r"[a-z0-9][a-z0-9._@-]{0,62}", str(name)) or \
            body["role"] not in ("admin", "viewer"):
        raise bad("name or role")
    if not isinstance(password, str) or not 8 <= len(password) <= 1024:
        raise bad("password is 8..1024 characters")
    if name in USERS:
        raise Refusal(409, "conflict", f"user {name} exists")
    USERS[name] = (password, body["role"], False)
    return 201, {"name": name, "role": body["role"], "created": int(time.time())}


def r_user_delete(user, body, query, name):
    if USERS.pop(name, None) is None:
        raise Refusal(404, "not_found", f"no user {name}")
    return 200, {}


def r_audit(user, body, query):
    since = int(query.get("since", "0"))
    events, cursor = page([e for e in AUDIT if e["time"] >= since], query)
    return 200, {"events": events, "cursor": cursor}


def r_policy(user, body, query):
    only(body, ("save_logins",), ("save_logins",))
    POLICY["save_logins"] = typed(body, "save_logins", bool)
    return 200, dict(POLICY)


NAME = r"([^/]+)"
FLEET_ROUTES = [
    ("GET", "/api/v1/ssl", "viewer", r_ssl_get),
    ("PUT", "/api/v1/ssl", "admin", r_ssl_put),
    ("GET", "/api/v1/ssl/insecure", "viewer", r_ssl_insecure),
    ("POST", "/api/v1/certs/generate-all", "admin", r_generate_all),
    ("GET", "/api/v1/certs", "viewer", r_certs),
    ("GET", "/api/v1/certs/archive", "viewer", r_archive),
    ("POST", "/api/v1/certs/revoke", "admin", r_revoke),
    ("GET", f"/api/v1/certs/{NAME}/{NAME}", "viewer", r_cert),
    ("POST", f"/api/v1/certs/{NAME}/{NAME}/import", "admin", r_import),
    ("POST", f"/api/v1/certs/{NAME}/{NAME}/export", "admin", r_export),
    ("GET", "/api/v1/servers", "viewer", r_servers),
    ("POST", "/api/v1/servers", "admin", r_server_add),
    ("PUT", f"/api/v1/servers/{NAME}", "admin", r_server_put),
    ("DELETE", f"/api/v1/servers/{NAME}", "admin", r_server_delete),
    ("GET", "/api/v1/agents", "viewer", r_agents),
    ("PUT", "/api/v1/agents/favorite", "admin", r_favorite),
    ("GET", f"/api/v1/agents/{NAME}", "viewer", r_agent),
    ("GET", "/api/v1/users", "admin", r_users),
    ("POST", "/api/v1/users", "admin", r_user_add),
    ("DELETE", f"/api/v1/users/{NAME}", "admin", r_user_delete),
    ("GET", "/api/v1/audit", "admin", r_audit),
    ("PUT", "/api/v1/policy/console", "admin", r_policy),
]


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
