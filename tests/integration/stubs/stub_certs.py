"""stub_certs - api_stub's certificate routes (/certs..., docs/API.md): generate, list, show,
import (PKCS#12, PEM, public, from a store), export and revoke, on certificates made by openssl
in the test's directory (srv.pem, srv.key, ca.pem).
"""
import base64
import datetime
import hashlib
import re
import time

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from stub_state import AGENTS, CERTS, REVOKED, SERVERS, Refusal, bad, only, typed


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
