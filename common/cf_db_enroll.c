/*  cf_db_enroll - enrollment tokens and the enrollment fields of agent records  */
#include "cf_db_enroll.h"

#include <stdio.h>
#include <string.h>

#include "cf_db_archive.h"
#include "cf_db_util.h"
#include "cf_mem.h"

#define S_PREFIX "cf:enroll:" /* + the token's SHA-256 hex */

/* KEYS[1] the token's key. ARGV: uses, expires, created, by. 0 when the key exists. */
static const char s_lua_create[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'uses', ARGV[1], 'expires', ARGV[2], 'created', ARGV[3],\n"
    "           'by', ARGV[4])\n"
    "redis.call('EXPIREAT', KEYS[1], ARGV[2])\n"
    "return 1\n";

/* KEYS[1] the token's key; ARGV[1] now. Answers {code, uses left}: 0 no token, 1 expired,
   2 used up, 3 spent one, 4 damaged record. */
static const char s_lua_use[] = "local t = redis.call('HMGET', KEYS[1], 'uses', 'expires')\n"
                                "if not t[1] and not t[2] then return {0, 0} end\n"
                                "local uses, exp = tonumber(t[1]), tonumber(t[2])\n"
                                "if not uses or not exp then return {4, 0} end\n"
                                "if exp <= tonumber(ARGV[1]) then return {1, 0} end\n"
                                "if uses <= 0 then return {2, 0} end\n"
                                "return {3, redis.call('HINCRBY', KEYS[1], 'uses', -1)}\n";

/* KEYS[1] an agent record; ARGV field/value pairs, set only when the record exists. */
static const char s_lua_set[] = "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
                                "redis.call('HSET', KEYS[1], unpack(ARGV))\n"
                                "return 1\n";

/* The fields of the certificate recorded for an agent: its fingerprint, serial and expiry
   are read from the :cert key, never kept twice (records written before kept them in the
   hash; a write of the :cert key drops them, and the PEM of older records, too). */
#define S_LUA_DROP                                                              \
    "redis.call('HDEL', KEYS[1], 'enroll_cert', 'enroll_fp', 'enroll_serial', " \
    "'enroll_not_after')\n"

/* KEYS[1] the agent record, KEYS[2] its :cert; ARGV[1] the DER, then field/value pairs.
   The certificate lives in its own key: in the hash it made every record a hashtable (a
   value over 64 bytes) at about 2 KiB per agent instead of a listpack. */
static const char s_lua_record[] = "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
                                   "redis.call('HSET', KEYS[1], unpack(ARGV, 2))\n" S_LUA_DROP
                                   "redis.call('SET', KEYS[2], ARGV[1])\n"
                                   "return 1\n";

/* KEYS[1] the agent record, KEYS[2] its :cert; ARGV the fields. The HMGET answer, with the
   enroll_cert field (records written before the :cert key) replaced by the :cert key. */
static const char s_lua_get[] = "local r = redis.call('HMGET', KEYS[1], unpack(ARGV))\n"
                                "local c = redis.call('GET', KEYS[2])\n"
                                "if c then r[6] = c end\n"
                                "return r\n";

enum { S_USE_NONE, S_USE_EXPIRED, S_USE_UP, S_USE_OK, S_USE_DAMAGED };

/* cf:enroll:<digest> of token (untrusted) into key; CF_ERR_INVALID for a malformed token. */
static cf_err_t s_key(const char *token, char *key)
{
    char digest[CF_AUTH_DIGEST_LEN + 1];
    key[0] = '\0';
    if (!token || cf_auth_token_digest(token, digest) != CF_OK)
        return CF_ERR_INVALID;
    snprintf(key, CF_DB_KEY_MAX, "%s%s", S_PREFIX, digest);
    return CF_OK;
}

cf_err_t cf_db_enroll_token_create(cf_store_t *store, int64_t uses, int64_t ttl_s, int64_t now,
                                   const char *by, char token[CF_DB_ENROLL_TOKEN + 1],
                                   int64_t *expires_out)
{
    CF_ASSERT(store && token);
    token[0] = '\0';
    if (uses < 1 || uses > CF_DB_ENROLL_USES_MAX || ttl_s < 1 || ttl_s > CF_DB_ENROLL_TTL_MAX ||
        now < 0 || cf_db_check_user(by) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "bad token: uses 1..%d, ttl 1..%d s, a user",
                          CF_DB_ENROLL_USES_MAX, CF_DB_ENROLL_TTL_MAX);
    char key[CF_DB_KEY_MAX], u[CF_DB_I64_BUF], e[CF_DB_I64_BUF], c[CF_DB_I64_BUF];
    cf_err_t rc = cf_auth_token_new(token);
    if (rc == CF_OK)
        rc = s_key(token, key);
    if (rc != CF_OK) {
        cf_mem_wipe(token, CF_DB_ENROLL_TOKEN + 1);
        return cf_db_fail(store, CF_ERR_CRYPTO, "no random token");
    }
    const char *argv[] = {key, cf_db_i64(u, uses), cf_db_i64(e, now + ttl_s), cf_db_i64(c, now),
                          by};
    redisReply *r = NULL;
    int64_t v = 0;
    rc = cf_db_eval(store, s_lua_create, 0, &r, 1, 4, argv, NULL);
    if (rc == CF_OK)
        rc = cf_db_r_int(r, 0, 0, 1, &v, "token create reply", cf_db_why(store));
    freeReplyObject(r);
    if (rc == CF_OK && !v)
        rc = cf_db_fail(store, CF_ERR_EXISTS, "token exists");
    if (rc != CF_OK)
        cf_mem_wipe(token, CF_DB_ENROLL_TOKEN + 1);
    else if (expires_out)
        *expires_out = now + ttl_s;
    return rc;
}

/* The answer of s_lua_use into rc. */
static cf_err_t s_use_answer(cf_store_t *store, const redisReply *r, int64_t *left)
{
    cf_why_t *why = cf_db_why(store);
    int64_t code = 0, n = 0;
    CF_TRY(cf_db_r_array(r, 2, 2, "token use reply", why));
    CF_TRY(cf_db_r_int(r->element[0], 0, S_USE_NONE, S_USE_DAMAGED, &code, "token state", why));
    CF_TRY(cf_db_r_int(r->element[1], 0, 0, CF_DB_ENROLL_USES_MAX, &n, "uses left", why));
    if (left)
        *left = n;
    switch (code) {
    case S_USE_OK: return CF_OK;
    case S_USE_NONE: return cf_db_fail(store, CF_ERR_NOTFOUND, "no such enrollment token");
    case S_USE_EXPIRED: return cf_db_fail(store, CF_ERR_EXPIRED, "enrollment token expired");
    case S_USE_UP: return cf_db_fail(store, CF_ERR_STATE, "enrollment token used up");
    default: return cf_db_fail(store, CF_ERR_CORRUPT, "enrollment token record damaged");
    }
}

cf_err_t cf_db_enroll_token_use(cf_store_t *store, const char *token, int64_t now, int64_t *left)
{
    CF_ASSERT(store);
    char key[CF_DB_KEY_MAX], t[CF_DB_I64_BUF];
    if (left)
        *left = 0;
    if (s_key(token, key) != CF_OK)
        return cf_db_fail(store, CF_ERR_NOTFOUND, "not an enrollment token");
    if (now < 0)
        return cf_db_fail(store, CF_ERR_INVALID, "bad time");
    const char *argv[] = {key, cf_db_i64(t, now)};
    redisReply *r = NULL;
    CF_TRY(cf_db_eval(store, s_lua_use, 0, &r, 1, 1, argv, NULL)); /* 0: never run twice */
    cf_err_t rc = s_use_answer(store, r, left);
    freeReplyObject(r);
    return rc;
}

cf_err_t cf_db_enroll_token_get(cf_store_t *store, const char *token, cf_db_token_t *out)
{
    CF_ASSERT(store && out);
    memset(out, 0, sizeof(*out));
    char key[CF_DB_KEY_MAX];
    if (s_key(token, key) != CF_OK)
        return cf_db_fail(store, CF_ERR_NOTFOUND, "not an enrollment token");
    redisReply *r = NULL;
    CF_TRY(cf_store_cmd(store, &r, "HMGET %s uses expires created by", key));
    cf_why_t *why = cf_db_why(store);
    cf_err_t rc = cf_db_r_array(r, 4, 4, "token record", why);
    if (rc == CF_OK && cf_db_r_nil(r->element[0]) && cf_db_r_nil(r->element[1]))
        rc = cf_db_fail(store, CF_ERR_NOTFOUND, "no such enrollment token");
    if (rc == CF_OK)
        rc = cf_db_r_int(r->element[0], 0, 0, CF_DB_ENROLL_USES_MAX, &out->uses, "uses", why);
    if (rc == CF_OK)
        rc = cf_db_r_int(r->element[1], 0, 0, INT64_MAX, &out->expires, "expires", why);
    if (rc == CF_OK)
        rc = cf_db_r_int(r->element[2], 0, 0, INT64_MAX, &out->created, "created", why);
    if (rc == CF_OK)
        rc = cf_db_r_text(r->element[3], 0, out->by, CF_DB_USER_MAX, "by", why);
    freeReplyObject(r);
    if (rc != CF_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

cf_err_t cf_db_enroll_token_revoke(cf_store_t *store, const char *token)
{
    CF_ASSERT(store);
    char key[CF_DB_KEY_MAX];
    if (s_key(token, key) != CF_OK)
        return cf_db_fail(store, CF_ERR_NOTFOUND, "not an enrollment token");
    redisReply *r = NULL;
    CF_TRY(cf_store_cmd(store, &r, "DEL %s", key));
    int64_t v = 0;
    cf_err_t rc = cf_db_r_int(r, 0, 0, 1, &v, "DEL reply", cf_db_why(store));
    freeReplyObject(r);
    if (rc == CF_OK && !v)
        rc = cf_db_fail(store, CF_ERR_NOTFOUND, "no such enrollment token");
    return rc;
}

/* ---- the enrollment fields of an agent record ---------------------------------------- */

enum { E_ID, E_ENROLLED, E_FP, E_SERIAL, E_NOT_AFTER, E_CERT, E_REVOKED, E_COUNT };

void cf_db_enrolled_clear(cf_db_enrolled_t *e)
{
    if (!e)
        return;
    cf_mem_free(e->cert_pem);
    memset(e, 0, sizeof(*e));
}

/* The enrollment certificate (the :cert key holds DER, a record written before it PEM in
   its enroll_cert field; nil: none): its PEM into out->cert_pem and its fingerprint, serial
   and expiry into out (over the fields older records kept). */
static cf_err_t s_cert(cf_store_t *store, const redisReply *v, cf_db_enrolled_t *out)
{
    if (cf_db_r_nil(v))
        return CF_OK;
    if (v->type != REDIS_REPLY_STRING || v->len == 0 || v->len > CF_DB_ENROLL_PEM_MAX)
        return cf_db_fail(store, CF_ERR_CORRUPT, "enrollment certificate: not a certificate");
    cf_cert_t *cert = NULL;
    size_t len = 0;
    cf_err_t rc = cf_cert_parse(v->str, v->len, &cert);
    if (rc == CF_OK && cf_db_check_serial(cf_cert_serial(cert)) != CF_OK)
        rc = CF_ERR_CORRUPT;
    if (rc == CF_OK)
        rc = cf_cert_to_pem(cert, &out->cert_pem, &len);
    if (rc == CF_OK) {
        snprintf(out->fp, sizeof(out->fp), "%s", cf_cert_fingerprint(cert));
        snprintf(out->serial, sizeof(out->serial), "%s", cf_cert_serial(cert));
        out->not_after = (int64_t) cf_cert_not_after(cert);
    }
    cf_cert_destroy(&cert);
    if (rc != CF_OK)
        return cf_db_fail(store, rc == CF_ERR_NOMEM ? rc : CF_ERR_CORRUPT,
                          "enrollment certificate: %s", cf_err_name(rc));
    return CF_OK;
}

/* Decode the HMGET answer of cf_db_enroll_get. */
static cf_err_t s_decode(cf_store_t *store, const char *id, const redisReply *r,
                         cf_db_enrolled_t *out)
{
    cf_why_t *why = cf_db_why(store);
    CF_TRY(cf_db_r_array(r, E_COUNT, E_COUNT, "agent record", why));
    const redisReply *const *e = (const redisReply *const *) r->element;
    if (cf_db_r_nil(e[E_ID]))
        return cf_db_fail(store, CF_ERR_NOTFOUND, "no agent %s", id);
    CF_TRY(cf_db_r_int(e[E_ENROLLED], 1, 0, INT64_MAX, &out->enrolled, "enrolled", why));
    CF_TRY(cf_db_r_text(e[E_FP], 1, out->fp, CF_DB_FP_LEN, "enroll_fp", why));
    CF_TRY(cf_db_r_text(e[E_SERIAL], 1, out->serial, CF_DB_SERIAL_MAX, "enroll_serial", why));
    CF_TRY(cf_db_r_int(e[E_NOT_AFTER], 1, INT64_MIN, INT64_MAX, &out->not_after, "enroll_not_after",
                       why));
    CF_TRY(cf_db_r_int(e[E_REVOKED], 1, 0, INT64_MAX, &out->revoked, "revoked", why));
    if ((out->fp[0] && cf_db_check_fingerprint(out->fp) != CF_OK) ||
        (out->serial[0] && cf_db_check_serial(out->serial) != CF_OK) ||
        !out->fp[0] != !out->serial[0])
        return cf_db_fail(store, CF_ERR_CORRUPT, "agent %s: malformed enrollment field", id);
    return s_cert(store, e[E_CERT], out);
}

cf_err_t cf_db_enroll_get(cf_store_t *store, const char *id, cf_db_enrolled_t *out)
{
    CF_ASSERT(store && out);
    memset(out, 0, sizeof(*out));
    char key[CF_DB_KEY_MAX];
    if (cf_db_key_agent(key, id) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "bad agent id");
    char ckey[CF_DB_KEY_MAX];
    if (cf_db_key_agent_cert(ckey, id) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "bad agent id");
    /* E_CERT is the 6th field: s_lua_get puts the :cert key's PEM there */
    _Static_assert(E_CERT == 5, "s_lua_get's r[6]");
    const char *argv[] = {
        key,           ckey,     "id", "enrolled", "enroll_fp", "enroll_serial", "enroll_not_after",
        "enroll_cert", "revoked"};
    redisReply *r = NULL;
    CF_TRY(cf_db_eval(store, s_lua_get, CF_STORE_IDEMPOTENT, &r, 2, 7, argv, NULL));
    cf_err_t rc = s_decode(store, id, r, out);
    freeReplyObject(r);
    if (rc != CF_OK)
        cf_db_enrolled_clear(out);
    return rc;
}

/* Run s_lua_set on agent id's record with n strings of field/value pairs. */
static cf_err_t s_set(cf_store_t *store, const char *id, const char **pairs, int n)
{
    char key[CF_DB_KEY_MAX];
    if (cf_db_key_agent(key, id) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "bad agent id");
    const char *argv[1 + 10];
    CF_ASSERT(n <= 10);
    argv[0] = key;
    for (int i = 0; i < n; i++)
        argv[1 + i] = pairs[i];
    redisReply *r = NULL;
    CF_TRY(cf_db_eval(store, s_lua_set, CF_STORE_IDEMPOTENT, &r, 1, n, argv, NULL));
    int64_t v = 0;
    cf_err_t rc = cf_db_r_int(r, 0, 0, 1, &v, "set reply", cf_db_why(store));
    freeReplyObject(r);
    if (rc == CF_OK && !v)
        rc = cf_db_fail(store, CF_ERR_NOTFOUND, "no agent %s", id);
    return rc;
}

cf_err_t cf_db_enroll_record(cf_store_t *store, const char *id, int64_t now, const cf_cert_t *cert)
{
    CF_ASSERT(store);
    if (now < 0 || cf_db_check_agent_id(id) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "bad enrollment record");
    char t[CF_DB_I64_BUF];
    if (!cert) {
        const char *pairs[] = {"enrolled", cf_db_i64(t, now)};
        return s_set(store, id, pairs, 2);
    }
    /* the certificate's own key holds its DER: about 460 bytes for P-256, where the PEM's
       650 took an 840-byte allocation */
    unsigned char *der = NULL;
    size_t len = 0;
    if (cf_cert_to_der(cert, &der, &len) != CF_OK)
        return cf_db_fail(store, CF_ERR_NOMEM, "certificate DER");
    cf_err_t rc = CF_OK;
    if (len > CF_DB_ENROLL_PEM_MAX)
        rc = cf_db_fail(store, CF_ERR_TOOBIG, "certificate over %d bytes", CF_DB_ENROLL_PEM_MAX);
    char key[CF_DB_KEY_MAX], ckey[CF_DB_KEY_MAX];
    if (rc == CF_OK &&
        (cf_db_key_agent(key, id) != CF_OK || cf_db_key_agent_cert(ckey, id) != CF_OK))
        rc = cf_db_fail(store, CF_ERR_INVALID, "bad agent id");
    const char *argv[] = {key, ckey, (const char *) der, "enrolled", cf_db_i64(t, now)};
    size_t lens[sizeof(argv) / sizeof(argv[0])];
    for (size_t i = 0; i < sizeof(argv) / sizeof(argv[0]); i++)
        lens[i] = i == 2 ? len : strlen(argv[i]);
    redisReply *r = NULL;
    if (rc == CF_OK)
        rc = cf_db_eval(store, s_lua_record, CF_STORE_IDEMPOTENT, &r, 2, 3, argv, lens);
    int64_t v = 0;
    if (rc == CF_OK)
        rc = cf_db_r_int(r, 0, 0, 1, &v, "record reply", cf_db_why(store));
    freeReplyObject(r);
    if (rc == CF_OK && !v)
        rc = cf_db_fail(store, CF_ERR_NOTFOUND, "no agent %s", id);
    cf_mem_free(der);
    return rc;
}

cf_err_t cf_db_enroll_mark_revoked(cf_store_t *store, const char *id, int64_t now)
{
    CF_ASSERT(store);
    char t[CF_DB_I64_BUF];
    if (now < 0)
        return cf_db_fail(store, CF_ERR_INVALID, "bad time");
    const char *pairs[] = {"revoked", cf_db_i64(t, now)};
    return s_set(store, id, pairs, 2);
}

cf_err_t cf_db_enroll_cert(cf_store_t *store, const char *id, cf_cert_reader_t *reader,
                           cf_cert_t **cert_out)
{
    CF_ASSERT(store && cert_out);
    *cert_out = NULL;
    char ckey[CF_DB_KEY_MAX];
    if (cf_db_key_agent_cert(ckey, id) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "bad agent id");
    redisReply *r = NULL;
    CF_TRY(cf_store_cmd_idem(store, &r, "GET %s", ckey));
    cf_err_t rc = CF_OK;
    if (cf_db_r_nil(r))
        rc = cf_db_fail(store, CF_ERR_NOTFOUND, "agent %s has no certificate of its own", id);
    else if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > CF_DB_ENROLL_PEM_MAX)
        rc = cf_db_fail(store, CF_ERR_CORRUPT, "agent %s: its certificate key is damaged", id);
    else if (reader && r->str[0] == 0x30) /* DER: a SEQUENCE (PEM starts with '-') */
        rc = cf_cert_reader_parse(reader, r->str, r->len, cert_out);
    else
        rc = cf_cert_parse(r->str, r->len, cert_out);
    freeReplyObject(r);
    if (rc != CF_OK && rc != CF_ERR_NOTFOUND && rc != CF_ERR_NOMEM)
        rc = cf_db_fail(store, CF_ERR_CORRUPT, "agent %s: its certificate does not parse", id);
    return rc;
}

/* KEYS[1] the agent record, KEYS[2] its :cert, KEYS[3] cf:archive. ARGV[1] the new DER,
   ARGV[2] the old fingerprint ("" none), ARGV[3] its archive entry. 0 no record, 2 revoked,
   1 done. */
static const char s_lua_replace[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
    "local rv = redis.call('HGET', KEYS[1], 'revoked')\n"
    "if rv and rv ~= '' and rv ~= '0' then return 2 end\n"
    "if ARGV[2] ~= '' then redis.call('HSET', KEYS[3], ARGV[2], ARGV[3]) end\n" S_LUA_DROP
    "redis.call('SET', KEYS[2], ARGV[1])\n"
    "return 1\n";

/* The archive entry of old when it is to be archived: still valid, another fingerprint. */
static cf_err_t s_old_entry(const char *id, int64_t now, const char *new_fpr, const cf_cert_t *old,
                            char **entry, size_t *len)
{
    *entry = NULL;
    *len = 0;
    if (!old || (int64_t) cf_cert_not_after(old) <= now ||
        strcmp(cf_cert_fingerprint(old), new_fpr) == 0)
        return CF_OK;
    return cf_db_archive_entry(CF_COMPONENT_AGENT, id, old, now, entry, len);
}

cf_err_t cf_db_enroll_replace(cf_store_t *store, const char *id, int64_t now,
                              const cf_cert_t *new_cert, const cf_cert_t *old_cert)
{
    CF_ASSERT(store && new_cert);
    unsigned char *der = NULL;
    size_t len = 0;
    cf_err_t rc = cf_cert_to_der(new_cert, &der, &len);
    if (rc != CF_OK)
        return cf_db_fail(store, rc, "certificate of %s not encoded", id);
    rc =
        cf_db_enroll_replace_der(store, id, now, der, len, cf_cert_fingerprint(new_cert), old_cert);
    cf_mem_free(der);
    return rc;
}

cf_err_t cf_db_enroll_replace_der(cf_store_t *store, const char *id, int64_t now,
                                  const unsigned char *der, size_t len, const char *fpr,
                                  const cf_cert_t *old_cert)
{
    CF_ASSERT(store && der && fpr);
    char key[CF_DB_KEY_MAX], ckey[CF_DB_KEY_MAX];
    if (now < 0 || cf_db_key_agent(key, id) != CF_OK || cf_db_key_agent_cert(ckey, id) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "bad agent id or time");
    if (len == 0 || len > CF_DB_ENROLL_PEM_MAX)
        return cf_db_fail(store, CF_ERR_TOOBIG, "certificate of %s: %zu bytes", id, len);
    char *entry = NULL;
    size_t elen = 0;
    cf_err_t rc = s_old_entry(id, now, fpr, old_cert, &entry, &elen);
    if (rc != CF_OK)
        return cf_db_fail(store, rc, "archive entry of %s not encoded", id);
    const char *argv[] = {key,
                          ckey,
                          CF_DB_K_ARCHIVE,
                          (const char *) der,
                          entry ? cf_cert_fingerprint(old_cert) : "",
                          entry ? entry : ""};
    size_t lens[sizeof(argv) / sizeof(argv[0])];
    for (size_t i = 0; i < sizeof(argv) / sizeof(argv[0]); i++)
        lens[i] = i == 3 ? len : i == 5 ? elen : strlen(argv[i]);
    redisReply *r = NULL;
    rc = cf_db_eval(store, s_lua_replace, CF_STORE_IDEMPOTENT, &r, 3, 3, argv, lens);
    int64_t v = 0;
    if (rc == CF_OK)
        rc = cf_db_r_int(r, 0, 0, 2, &v, "replace reply", cf_db_why(store));
    freeReplyObject(r);
    if (rc == CF_OK && v == 0)
        rc = cf_db_fail(store, CF_ERR_NOTFOUND, "no agent %s", id);
    if (rc == CF_OK && v == 2)
        rc = cf_db_fail(store, CF_ERR_POLICY, "agent %s is revoked", id);
    cf_mem_free(entry);
    return rc;
}
