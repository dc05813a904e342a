"""stub_state - what api_stub's routes share: the state kept in memory (users, agents,
servers, certificates, audit events, settings) and the checks of a request's body and paging.
"""
import time


USERS = {
    "admin": ("right-password-1", "admin", True),
    "ops": ("ops-password-1", "viewer", False),
    "quote": ('pa"ss\\word 1', "admin", True),
    "big": ("big-password-1", "viewer", False),
    "stream": ("stream-password-1", "viewer", False),
    "garbage": ("garbage-password-1", "viewer", False),
}


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
