/*  cf_db_meta - deployment records: --init lock, meta and canary, CA, PKCS#12 password  */
#include "cf_db_meta.h"

#include <stdio.h>
#include <string.h>

#include "cf_db_util.h"
#include "cf_mem.h"

/* Take or confirm the lock and say who holds it, in one atomic step. */
static const char s_lua_lock[] = "local v = redis.call('GET', KEYS[1])\n"
                                 "if not v then\n"
                                 "  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])\n"
                                 "  return {1, ARGV[1]}\n"
                                 "end\n"
                                 "if v == ARGV[1] then\n"
                                 "  redis.call('EXPIRE', KEYS[1], ARGV[2])\n"
                                 "end\n"
                                 "return {v == ARGV[1] and 1 or 0, v}\n";

cf_err_t cf_db_init_lock(cf_store_t *store, const char *owner, int ttl_s, int *got, char *holder)
{
    CF_ASSERT(store && got);
    *got = 0;
    if (holder)
        holder[0] = '\0';
    if (cf_db_check_owner(owner) != CF_OK || ttl_s < 1 || ttl_s > 86400)
        return cf_db_fail(store, CF_ERR_INVALID, "init lock: bad owner or TTL");
    char ttl[CF_DB_I64_BUF];
    const char *argv[] = {CF_DB_K_INIT, owner, cf_db_i64(ttl, ttl_s)};
    redisReply *r = NULL;
    CF_TRY(cf_db_eval(store, s_lua_lock, CF_STORE_IDEMPOTENT, &r, 1, 2, argv, NULL));
    char who[CF_DB_OWNER_MAX + 1];
    int64_t v = 0;
    cf_why_t *why = cf_db_why(store);
    cf_err_t rc = cf_db_r_array(r, 2, 2, "init lock reply", why);
    if (rc == CF_OK)
        rc = cf_db_r_int(r->element[0], 0, 0, 1, &v, "init lock reply", why);
    if (rc == CF_OK)
        rc = cf_db_r_text(r->element[1], 0, who, CF_DB_OWNER_MAX, "init lock holder", why);
    freeReplyObject(r);
    if (rc != CF_OK)
        return rc;
    *got = v == 1;
    if (holder)
        memcpy(holder, who, strlen(who) + 1);
    return CF_OK;
}

cf_err_t cf_db_init_unlock(cf_store_t *store, const char *owner)
{
    CF_ASSERT(store);
    if (cf_db_check_owner(owner) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "init lock: bad owner");
    int released = 0;
    return cf_store_lease_release(store, CF_DB_K_INIT, owner, &released);
}

cf_err_t cf_db_meta_create(cf_store_t *store, const cf_seal_t *seal, int64_t now)
{
    CF_ASSERT(store && seal);
    char *canary = NULL;
    cf_err_t rc = cf_seal_make_canary(seal, &canary);
    if (rc != CF_OK)
        return cf_db_fail(store, rc, "cannot make the canary: %s", cf_err_str(rc));
    char schema[CF_DB_I64_BUF], created[CF_DB_I64_BUF];
    const char *fv[] = {
        "schema",  cf_db_i64(schema, CF_DB_SCHEMA), "created", cf_db_i64(created, now),
        "seal_id", cf_seal_current_id(seal),        "canary",  canary};
    rc = cf_db_hash_create(store, CF_DB_K_META, NULL, NULL, NULL, 4, fv, NULL);
    cf_mem_free(canary);
    return rc;
}

/* Fields of cf:meta in HMGET order. */
enum { M_SCHEMA, M_CREATED, M_SEAL_ID, M_CANARY, M_COUNT };

/* HMGET cf:meta; *absent = 1 when no field exists. */
static cf_err_t s_meta_read(cf_store_t *store, redisReply **r_out, int *absent)
{
    *absent = 0;
    CF_TRY(cf_store_cmd_idem(store, r_out, "HMGET %s schema created seal_id canary", CF_DB_K_META));
    redisReply *r = *r_out;
    cf_err_t rc = cf_db_r_array(r, M_COUNT, M_COUNT, "cf:meta", cf_db_why(store));
    if (rc != CF_OK) {
        cf_store_reply_free(r_out);
        return rc;
    }
    int nils = 0;
    for (size_t i = 0; i < M_COUNT; i++)
        nils += cf_db_r_nil(r->element[i]);
    *absent = nils == M_COUNT;
    return CF_OK;
}

static cf_err_t s_meta_decode(cf_store_t *store, const redisReply *r, cf_db_meta_t *out)
{
    cf_why_t *why = cf_db_why(store);
    int64_t schema = 0;
    CF_TRY(cf_db_r_int(r->element[M_SCHEMA], 0, 1, 1000000, &schema, "cf:meta schema", why));
    CF_TRY(
        cf_db_r_int(r->element[M_CREATED], 0, 0, INT64_MAX, &out->created, "cf:meta created", why));
    CF_TRY(cf_db_r_text(r->element[M_SEAL_ID], 0, out->seal_id, CF_SEAL_ID_MAX, "cf:meta seal_id",
                        why));
    out->schema = (int) schema;
    if (schema > CF_DB_SCHEMA)
        return cf_db_fail(store, CF_ERR_UNSUPPORTED,
                          "the store has schema %d; this build knows up to %d", out->schema,
                          CF_DB_SCHEMA);
    return CF_OK;
}

cf_err_t cf_db_meta_get(cf_store_t *store, cf_db_meta_t *out)
{
    CF_ASSERT(store && out);
    memset(out, 0, sizeof(*out));
    redisReply *r = NULL;
    int absent = 0;
    CF_TRY(s_meta_read(store, &r, &absent));
    cf_err_t rc = absent ? cf_db_fail(store, CF_ERR_NOTFOUND, "no deployment: cf:meta is absent")
                         : s_meta_decode(store, r, out);
    freeReplyObject(r);
    if (rc != CF_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

cf_err_t cf_db_meta_check_secret(cf_store_t *store, const cf_seal_t *seal, cf_db_secret_t *verdict)
{
    CF_ASSERT(store && seal && verdict);
    *verdict = CF_DB_SECRET_NO_DEPLOYMENT;
    redisReply *r = NULL;
    int absent = 0;
    CF_TRY(s_meta_read(store, &r, &absent));
    cf_db_meta_t meta;
    char *canary = NULL;
    cf_err_t rc = CF_OK;
    if (absent)
        goto out;
    rc = s_meta_decode(store, r, &meta);
    if (rc == CF_OK)
        rc = cf_db_r_dup(r->element[M_CANARY], 0, CF_SEAL_MAX_TEXT, &canary, "cf:meta canary",
                         cf_db_why(store));
    if (rc != CF_OK)
        goto out;
    rc = cf_seal_verify_canary(seal, canary, strlen(canary), cf_db_why(store));
    if (rc == CF_ERR_SECRET) {
        *verdict = CF_DB_SECRET_WRONG; /* why says which key id, never key bytes */
        rc = CF_OK;
    } else if (rc == CF_OK) {
        *verdict = CF_DB_SECRET_OK;
    } else {
        rc = cf_db_fail(store, CF_ERR_CORRUPT, "cf:meta canary is not a canary (%s)",
                        cf_err_str(rc));
    }
out:
    cf_mem_free(canary);
    freeReplyObject(r);
    return rc;
}

cf_err_t cf_db_seal_key(cf_store_t *store, const cf_seal_t *seal, const cf_key_t *key,
                        const char *aad, char **text_out)
{
    *text_out = NULL;
    unsigned char *der = NULL;
    size_t len = 0;
    cf_err_t rc = cf_key_to_der(key, &der, &len);
    if (rc == CF_OK)
        rc = cf_seal_seal_text(seal, der, len, (const unsigned char *) aad, strlen(aad), text_out);
    cf_mem_free_secret(der, len);
    if (rc != CF_OK)
        return cf_db_fail(store, rc, "cannot seal the key of %s: %s", aad, cf_err_str(rc));
    return CF_OK;
}

cf_err_t cf_db_open_key(cf_store_t *store, const cf_seal_t *seal, const char *text, const char *aad,
                        cf_key_t **key_out)
{
    *key_out = NULL;
    unsigned char *der = NULL;
    size_t len = 0;
    cf_why_t why = {""};
    cf_err_t rc = cf_seal_open_text(seal, text, strlen(text), (const unsigned char *) aad,
                                    strlen(aad), &der, &len, &why);
    if (rc != CF_OK)
        return cf_db_fail(store, rc, "the key of %s does not open: %s", aad, cf_why_text(&why, rc));
    rc = cf_key_from_der(der, len, key_out);
    cf_mem_free_secret(der, len);
    if (rc != CF_OK)
        return cf_db_fail(store, CF_ERR_CORRUPT, "the key of %s is not a key: %s", aad,
                          cf_err_str(rc));
    return CF_OK;
}

cf_err_t cf_db_ca_create(cf_store_t *store, const cf_seal_t *seal, const cf_cert_t *cert,
                         const cf_key_t *key)
{
    CF_ASSERT(store && seal && cert && key);
    if (cf_cert_matches_key(cert, key) != CF_OK)
        return cf_db_fail(store, CF_ERR_KEYMISMATCH, "the CA key is not the certificate's");
    char *pem = NULL, *sealed = NULL;
    size_t pem_len = 0;
    cf_err_t rc = cf_cert_to_pem(cert, &pem, &pem_len);
    if (rc != CF_OK) {
        rc = cf_db_fail(store, rc, "cannot encode the CA certificate");
        goto out;
    }
    rc = cf_db_seal_key(store, seal, key, CF_DB_K_CA, &sealed);
    if (rc != CF_OK)
        goto out;
    char not_after[CF_DB_I64_BUF];
    const char *fv[] = {"cert",        pem,
                        "key",         sealed,
                        "fingerprint", cf_cert_fingerprint(cert),
                        "not_after",   cf_db_i64(not_after, (int64_t) cf_cert_not_after(cert))};
    rc = cf_db_hash_create(store, CF_DB_K_CA, NULL, NULL, NULL, 4, fv, NULL);
out:
    cf_mem_free(pem);
    cf_mem_free(sealed);
    return rc;
}

/* Parse the CA record's certificate and, when wanted, open its key. */
static cf_err_t s_ca_decode(cf_store_t *store, const cf_seal_t *seal, const redisReply *r,
                            cf_cert_t **cert_out, cf_key_t **key_out)
{
    cf_why_t *why = cf_db_why(store);
    char *pem = NULL, *sealed = NULL;
    cf_err_t rc = cf_db_r_dup(r->element[0], 0, CF_DB_CA_PEM_MAX, &pem, "cf:ca cert", why);
    if (rc == CF_OK && key_out)
        rc = cf_db_r_dup(r->element[1], 0, CF_DB_SEALED_MAX, &sealed, "cf:ca key", why);
    if (rc != CF_OK)
        goto out;
    rc = cf_cert_parse(pem, strlen(pem), cert_out);
    if (rc != CF_OK) {
        rc = cf_db_fail(store, CF_ERR_CORRUPT, "cf:ca cert is not a certificate");
        goto out;
    }
    if (!key_out)
        goto out;
    rc = cf_db_open_key(store, seal, sealed, CF_DB_K_CA, key_out);
    if (rc == CF_OK && cf_cert_matches_key(*cert_out, *key_out) != CF_OK)
        rc = cf_db_fail(store, CF_ERR_KEYMISMATCH, "cf:ca key is not the certificate's");
out:
    cf_mem_free(pem);
    cf_mem_free(sealed);
    return rc;
}

cf_err_t cf_db_ca_get(cf_store_t *store, const cf_seal_t *seal, cf_cert_t **cert_out,
                      cf_key_t **key_out)
{
    CF_ASSERT(store && cert_out && (!key_out || seal));
    *cert_out = NULL;
    if (key_out)
        *key_out = NULL;
    redisReply *r = NULL;
    CF_TRY(cf_store_cmd_idem(store, &r, "HMGET %s cert key", CF_DB_K_CA));
    cf_err_t rc = cf_db_r_array(r, 2, 2, "cf:ca", cf_db_why(store));
    if (rc == CF_OK && cf_db_r_nil(r->element[0]) && cf_db_r_nil(r->element[1]))
        rc = cf_db_fail(store, CF_ERR_NOTFOUND, "no CA in the store (run cf-server --init)");
    if (rc == CF_OK)
        rc = s_ca_decode(store, seal, r, cert_out, key_out);
    freeReplyObject(r);
    if (rc != CF_OK) {
        cf_cert_destroy(cert_out);
        if (key_out)
            cf_key_destroy(key_out);
    }
    return rc;
}

cf_err_t cf_db_p12pass_set(cf_store_t *store, const cf_seal_t *seal, const char *pass, size_t len)
{
    CF_ASSERT(store && seal);
    if (!pass || len == 0 || len > CF_DB_P12PASS_MAX || memchr(pass, '\0', len))
        return cf_db_fail(store, CF_ERR_INVALID, "the PKCS#12 password must be 1..%d bytes",
                          CF_DB_P12PASS_MAX);
    char *sealed = NULL;
    const char *aad = CF_DB_K_P12PASS;
    cf_err_t rc = cf_seal_seal_text(seal, (const unsigned char *) pass, len,
                                    (const unsigned char *) aad, strlen(aad), &sealed);
    if (rc != CF_OK)
        return cf_db_fail(store, rc, "cannot seal the PKCS#12 password");
    rc = cf_store_cmd_idem(store, NULL, "SET %s %s", CF_DB_K_P12PASS, sealed);
    cf_mem_free(sealed);
    return rc;
}

cf_err_t cf_db_p12pass_get(cf_store_t *store, const cf_seal_t *seal, char **pass_out,
                           size_t *len_out)
{
    CF_ASSERT(store && seal && pass_out && len_out);
    *pass_out = NULL;
    *len_out = 0;
    redisReply *r = NULL;
    CF_TRY(cf_store_cmd_idem(store, &r, "GET %s", CF_DB_K_P12PASS));
    char *sealed = NULL;
    cf_err_t rc = cf_db_r_dup(r, 1, CF_SEAL_MAX_TEXT, &sealed, "cf:p12pass", cf_db_why(store));
    freeReplyObject(r);
    if (rc != CF_OK)
        return rc;
    if (!sealed)
        return cf_db_fail(store, CF_ERR_NOTFOUND, "no PKCS#12 password in the store");
    unsigned char *plain = NULL;
    size_t len = 0;
    const char *aad = CF_DB_K_P12PASS;
    rc = cf_seal_open_text(seal, sealed, strlen(sealed), (const unsigned char *) aad, strlen(aad),
                           &plain, &len, cf_db_why(store));
    cf_mem_free(sealed);
    if (rc != CF_OK)
        return rc;
    if (len == 0 || len > CF_DB_P12PASS_MAX || memchr(plain, '\0', len)) {
        cf_mem_free_secret(plain, len);
        return cf_db_fail(store, CF_ERR_CORRUPT, "cf:p12pass holds no valid password");
    }
    *pass_out = (char *) plain; /* cf_seal_open_text NUL-terminates */
    *len_out = len;
    return CF_OK;
}
