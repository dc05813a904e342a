/*  cf_db_cert - component certificate records: put (archiving the old one), get, list  */
#include "cf_db_cert.h"

#include <stdlib.h>
#include <string.h>

#include "cf_db_meta.h"
#include "cf_db_util.h"
#include "cf_mem.h"

/* KEYS[1] record, KEYS[2] cf:certs:<component>, KEYS[3] cf:archive.
   ARGV: 1 name, 2 component, 3 now, 4 kind, 5 cert, 6 chain, 7 sealed key, 8 fingerprint,
   9 serial, 10 not_after. The old certificate is archived in the same step as the
   replacement, so a certificate is always either current or archived. */
static const char s_lua_put[] =
    "local old = redis.call('HMGET', KEYS[1], 'fingerprint', 'serial', 'not_after', 'cert')\n"
    "local archived = 0\n"
    "if old[1] and old[1] ~= ARGV[8] then\n"
    "  redis.call('HSET', KEYS[3], old[1], cjson.encode({component = ARGV[2], name = ARGV[1],\n"
    "    serial = old[2], not_after = tonumber(old[3]), archived_at = tonumber(ARGV[3]),\n"
    "    cert = old[4]}))\n"
    "  archived = 1\n"
    "end\n"
    "redis.call('HDEL', KEYS[3], ARGV[8])\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('HSET', KEYS[1], 'kind', ARGV[4], 'cert', ARGV[5], 'fingerprint', ARGV[8],\n"
    "           'serial', ARGV[9], 'not_after', ARGV[10], 'updated', ARGV[3])\n"
    "if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'chain', ARGV[6]) end\n"
    "if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'key', ARGV[7]) end\n"
    "redis.call('SADD', KEYS[2], ARGV[1])\n"
    "redis.call('PUBLISH', 'cf:events', 'cert ' .. ARGV[2] .. ' ' .. ARGV[1])\n"
    "return archived\n";

/* Fields in HMGET order. */
static const char s_hmget[] = "HMGET %s kind cert chain key fingerprint serial not_after updated";
enum { F_KIND, F_CERT, F_CHAIN, F_KEY, F_FP, F_SERIAL, F_NOT_AFTER, F_UPDATED, F_COUNT };

static const char *const s_kinds[] = {"generated", "imported", "public"};

const char *cf_db_cert_kind_name(cf_db_cert_kind_t kind)
{
    if (kind < CF_DB_CERT_GENERATED || kind > CF_DB_CERT_PUBLIC)
        return "unknown";
    return s_kinds[kind - 1];
}

cf_err_t cf_db_cert_kind_from_name(const char *name, cf_db_cert_kind_t *out)
{
    for (int i = 0; name && i < 3; i++) {
        if (strcmp(name, s_kinds[i]) == 0) {
            *out = (cf_db_cert_kind_t) (i + 1);
            return CF_OK;
        }
    }
    return CF_ERR_INVALID;
}

/* Check what put is asked to store; key names built into key and certs. */
static cf_err_t s_put_check(cf_store_t *store, const cf_db_cert_in_t *in, char *key, char *certs)
{
    if (cf_db_key_cert(key, in->component, in->name) != CF_OK ||
        cf_db_key_certs(certs, in->component) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "bad certificate component or name");
    if (in->kind < CF_DB_CERT_GENERATED || in->kind > CF_DB_CERT_PUBLIC || !in->cert ||
        (in->kind == CF_DB_CERT_PUBLIC) != (in->key == NULL))
        return cf_db_fail(store, CF_ERR_INVALID, "%s: kind %s %s a key", key,
                          cf_db_cert_kind_name(in->kind),
                          in->kind == CF_DB_CERT_PUBLIC ? "must come without" : "needs");
    if (in->chain_pem && strnlen(in->chain_pem, CF_DB_CERT_PEM_MAX + 1) > CF_DB_CERT_PEM_MAX)
        return cf_db_fail(store, CF_ERR_TOOBIG, "%s: chain over %d bytes", key, CF_DB_CERT_PEM_MAX);
    if (cf_db_check_serial(cf_cert_serial(in->cert)) != CF_OK)
        return cf_db_fail(store, CF_ERR_UNSUPPORTED, "%s: serial over %d hex digits", key,
                          CF_DB_SERIAL_MAX);
    if (in->key && cf_cert_matches_key(in->cert, in->key) != CF_OK)
        return cf_db_fail(store, CF_ERR_KEYMISMATCH, "%s: the key is not the certificate's", key);
    return CF_OK;
}

/* Run the put script; *archived from its answer. */
static cf_err_t s_put_run(cf_store_t *store, const cf_db_cert_in_t *in, const char *const keys[3],
                          const char *pem, const char *sealed, int *archived)
{
    char now[CF_DB_I64_BUF], not_after[CF_DB_I64_BUF];
    const char *argv[] = {keys[0],
                          keys[1],
                          keys[2],
                          in->name,
                          cf_component_name(in->component),
                          cf_db_i64(now, in->now),
                          cf_db_cert_kind_name(in->kind),
                          pem,
                          in->chain_pem ? in->chain_pem : "",
                          sealed ? sealed : "",
                          cf_cert_fingerprint(in->cert),
                          cf_cert_serial(in->cert),
                          cf_db_i64(not_after, (int64_t) cf_cert_not_after(in->cert))};
    redisReply *r = NULL;
    /* idempotent: a second run finds its own fingerprint and archives nothing */
    CF_TRY(cf_db_eval(store, s_lua_put, CF_STORE_IDEMPOTENT, &r, 3, 10, argv, NULL));
    int64_t v = 0;
    cf_err_t rc = cf_db_r_int(r, 0, 0, 1, &v, "put reply", cf_db_why(store));
    freeReplyObject(r);
    if (archived)
        *archived = (int) v;
    return rc;
}

cf_err_t cf_db_cert_put(cf_store_t *store, const cf_seal_t *seal, const cf_db_cert_in_t *in,
                        int *archived)
{
    CF_ASSERT(store && in && (!in->key || seal));
    if (archived)
        *archived = 0;
    char key[CF_DB_KEY_MAX], certs[CF_DB_KEY_MAX];
    CF_TRY(s_put_check(store, in, key, certs));
    char *pem = NULL, *sealed = NULL;
    size_t pem_len = 0;
    cf_err_t rc = cf_cert_to_pem(in->cert, &pem, &pem_len);
    if (rc != CF_OK) {
        rc = cf_db_fail(store, rc, "%s: cannot encode the certificate", key);
        goto out;
    }
    if (in->key) {
        rc = cf_db_seal_key(store, seal, in->key, key, &sealed); /* AAD = the record's key */
        if (rc != CF_OK)
            goto out;
    }
    const char *const keys[3] = {key, certs, CF_DB_K_ARCHIVE};
    rc = s_put_run(store, in, keys, pem, sealed, archived);
out:
    cf_mem_free(pem);
    cf_mem_free(sealed);
    return rc;
}

void cf_db_cert_clear(cf_db_cert_t *rec)
{
    if (!rec)
        return;
    cf_mem_free(rec->cert_pem);
    cf_mem_free(rec->chain_pem);
    memset(rec, 0, sizeof(*rec));
}

void cf_db_cert_list_free(cf_db_cert_t **recs_p, size_t n)
{
    if (!recs_p || !*recs_p)
        return;
    for (size_t i = 0; i < n; i++)
        cf_db_cert_clear(&(*recs_p)[i]);
    cf_mem_free(*recs_p);
    *recs_p = NULL;
}

/* Decode an HMGET reply into rec (component and name already set); *sealed_out (may be
   NULL) receives the sealed key text. */
static cf_err_t s_decode(cf_store_t *store, const redisReply *r, cf_db_cert_t *rec,
                         char **sealed_out)
{
    cf_why_t *why = cf_db_why(store);
    char kind[16];
    char *sealed = NULL;
    CF_TRY(cf_db_r_array(r, F_COUNT, F_COUNT, "certificate record", why));
    const redisReply *const *e = (const redisReply *const *) r->element;
    CF_TRY(cf_db_r_text(e[F_KIND], 0, kind, sizeof(kind) - 1, "kind", why));
    if (cf_db_cert_kind_from_name(kind, &rec->kind) != CF_OK)
        return cf_db_fail(store, CF_ERR_CORRUPT, "%s: unknown kind", rec->name);
    CF_TRY(cf_db_r_dup(e[F_CERT], 0, CF_DB_CERT_PEM_MAX, &rec->cert_pem, "cert", why));
    CF_TRY(cf_db_r_dup(e[F_CHAIN], 1, CF_DB_CERT_PEM_MAX, &rec->chain_pem, "chain", why));
    CF_TRY(cf_db_r_text(e[F_FP], 0, rec->fingerprint, CF_DB_FP_LEN, "fingerprint", why));
    CF_TRY(cf_db_r_text(e[F_SERIAL], 0, rec->serial, CF_DB_SERIAL_MAX, "serial", why));
    CF_TRY(cf_db_r_int(e[F_NOT_AFTER], 0, INT64_MIN, INT64_MAX, &rec->not_after, "not_after", why));
    CF_TRY(cf_db_r_int(e[F_UPDATED], 0, 0, INT64_MAX, &rec->updated, "updated", why));
    if (cf_db_check_fingerprint(rec->fingerprint) != CF_OK ||
        cf_db_check_serial(rec->serial) != CF_OK)
        return cf_db_fail(store, CF_ERR_CORRUPT, "%s: bad fingerprint or serial", rec->name);
    CF_TRY(cf_db_r_dup(e[F_KEY], 1, CF_DB_SEALED_MAX, &sealed, "key", why));
    rec->has_key = sealed != NULL;
    if ((rec->kind == CF_DB_CERT_PUBLIC) == rec->has_key) {
        cf_mem_free(sealed);
        return cf_db_fail(store, CF_ERR_CORRUPT, "%s: key presence does not fit the kind",
                          rec->name);
    }
    if (sealed_out)
        *sealed_out = sealed;
    else
        cf_mem_free(sealed);
    return CF_OK;
}

cf_err_t cf_db_cert_get(cf_store_t *store, const cf_seal_t *seal, cf_component_t component,
                        const char *name, cf_db_cert_t *out, cf_key_t **key_out)
{
    CF_ASSERT(store && out && (!key_out || seal));
    memset(out, 0, sizeof(*out));
    if (key_out)
        *key_out = NULL;
    char key[CF_DB_KEY_MAX];
    if (cf_db_key_cert(key, component, name) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "bad certificate component or name");
    redisReply *r = NULL;
    CF_TRY(cf_store_cmd_idem(store, &r, s_hmget, key));
    out->component = component;
    memcpy(out->name, name, strlen(name) + 1);
    char *sealed = NULL;
    cf_err_t rc = CF_OK;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == F_COUNT && cf_db_r_nil(r->element[F_CERT]))
        rc = cf_db_fail(store, CF_ERR_NOTFOUND, "no certificate %s", key);
    else
        rc = s_decode(store, r, out, key_out ? &sealed : NULL);
    freeReplyObject(r);
    if (rc == CF_OK && sealed)
        rc = cf_db_open_key(store, seal, sealed, key, key_out);
    cf_mem_free(sealed);
    if (rc != CF_OK)
        cf_db_cert_clear(out);
    return rc;
}

static int s_by_name(const void *a, const void *b)
{
    return strcmp(((const cf_db_cert_t *) a)->name, ((const cf_db_cert_t *) b)->name);
}

/* One pipeline of HMGETs for names; decode each present record into recs. */
static cf_err_t s_fetch(cf_store_t *store, cf_component_t component, const redisReply *names,
                        cf_db_cert_t *recs, size_t *n_out)
{
    cf_store_pipe_t *pipe = NULL;
    CF_TRY(cf_store_pipe_new(store, names->elements, &pipe));
    cf_err_t rc = CF_OK;
    char key[CF_DB_KEY_MAX];
    for (size_t i = 0; rc == CF_OK && i < names->elements; i++) {
        rc = cf_db_key_cert(key, component, names->element[i]->str);
        if (rc == CF_OK)
            rc = cf_store_pipe_append(pipe, s_hmget, key);
    }
    if (rc == CF_OK)
        rc = cf_store_pipe_exec(pipe, CF_STORE_IDEMPOTENT);
    size_t n = 0;
    for (size_t i = 0; rc == CF_OK && i < names->elements; i++) {
        const redisReply *r = cf_store_pipe_reply(pipe, i);
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == F_COUNT &&
            cf_db_r_nil(r->element[F_CERT]))
            continue; /* removed between the two round trips */
        recs[n].component = component;
        memcpy(recs[n].name, names->element[i]->str, names->element[i]->len + 1);
        rc = s_decode(store, r, &recs[n], NULL);
        n++;
    }
    cf_store_pipe_destroy(&pipe);
    *n_out = n;
    return rc;
}

cf_err_t cf_db_cert_list(cf_store_t *store, cf_component_t component, size_t max,
                         cf_db_cert_t **recs_out, size_t *n_out)
{
    CF_ASSERT(store && recs_out && n_out);
    *recs_out = NULL;
    *n_out = 0;
    char index[CF_DB_KEY_MAX];
    if (cf_db_key_certs(index, component) != CF_OK || max == 0 || max > CF_DB_CERT_LIST_MAX)
        return cf_db_fail(store, CF_ERR_INVALID, "bad component or list size");
    redisReply *names = NULL;
    CF_TRY(cf_db_members(store, index, max, cf_db_check_cert_name, &names));
    cf_err_t rc = CF_OK;
    size_t n = 0;
    cf_db_cert_t *recs = cf_mem_calloc(names->elements ? names->elements : 1, sizeof(*recs));
    if (!recs)
        rc = cf_db_fail(store, CF_ERR_NOMEM, "out of memory listing %s", index);
    if (rc == CF_OK && names->elements)
        rc = s_fetch(store, component, names, recs, &n);
    freeReplyObject(names);
    if (rc != CF_OK) {
        cf_db_cert_list_free(&recs, n);
        return rc;
    }
    qsort(recs, n, sizeof(*recs), s_by_name);
    *recs_out = recs;
    *n_out = n;
    return CF_OK;
}
