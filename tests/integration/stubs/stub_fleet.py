"""stub_fleet - api_stub's fleet routes (docs/API.md): /ssl, /ssl/insecure, /servers...,
/agents..., /users..., /audit, /policy/console, and FLEET_ROUTES, the table of every operator
route (method, path pattern, role needed, function) with the certificate routes of stub_certs.
"""
import ipaddress
import re
import time

from stub_certs import (r_archive, r_cert, r_certs, r_export, r_generate_all, r_import,
                        r_revoke)
from stub_state import (AGENTS, AUDIT, LOCKS, NOW, POLICY, SERVERS, SSL, USERS, Refusal, bad,
                        only, page, typed)


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
