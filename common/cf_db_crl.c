/*  cf_db_crl - revoked serials (cf:revoked) and the current CRL (cf:crl)  */
#include "cf_db_crl.h"

#include <string.h>

#include "cf_db_util.h"
#include "cf_mem.h"

/* Run MULTI, cmd, PUBLISH cf:events event, EXEC in one pipeline; *first (may be NULL) is
   the EXEC answer of cmd, an integer. */
static cf_err_t s_multi(cf_store_t *store, int argc, const char **argv, const size_t *lens,
                        const char *event, int64_t *first)
{
    cf_store_pipe_t *pipe = NULL;
    CF_TRY(cf_store_pipe_new(store, 4, &pipe));
    cf_err_t rc = cf_store_pipe_append(pipe, "MULTI");
    if (rc == CF_OK)
        rc = cf_store_pipe_append_argv(pipe, argc, argv, lens);
    if (rc == CF_OK)
        rc = cf_store_pipe_append(pipe, "PUBLISH %s %s", CF_DB_KEY_CHANNEL, event);
    if (rc == CF_OK)
        rc = cf_store_pipe_append(pipe, "EXEC");
    /* idempotent: SADD and HSET give the same state when run twice */
    if (rc == CF_OK)
        rc = cf_store_pipe_exec(pipe, CF_STORE_IDEMPOTENT);
    const redisReply *exec = rc == CF_OK ? cf_store_pipe_reply(pipe, 3) : NULL;
    if (rc == CF_OK)
        rc = cf_db_r_array(exec, 2, 2, "EXEC reply", cf_db_why(store));
    if (rc == CF_OK && first)
        rc = cf_db_r_int(exec->element[0], 0, 0, INT64_MAX, first, "EXEC reply", cf_db_why(store));
    cf_store_pipe_destroy(&pipe);
    return rc;
}

cf_err_t cf_db_revoke(cf_store_t *store, const char *const *serials, size_t n, size_t *added)
{
    CF_ASSERT(store);
    if (added)
        *added = 0;
    if (!serials || n == 0 || n > CF_DB_REVOKE_MAX)
        return cf_db_fail(store, CF_ERR_INVALID, "revoke 1..%d serials at once", CF_DB_REVOKE_MAX);
    for (size_t i = 0; i < n; i++)
        if (cf_db_check_serial(serials[i]) != CF_OK)
            return cf_db_fail(store, CF_ERR_INVALID, "serial %zu is not lowercase hex", i + 1);
    const char **argv = cf_mem_calloc(n + 2, sizeof(*argv));
    if (!argv)
        return cf_db_fail(store, CF_ERR_NOMEM, "out of memory revoking");
    argv[0] = "SADD";
    argv[1] = CF_DB_K_REVOKED;
    memcpy(argv + 2, serials, n * sizeof(*argv));
    int64_t v = 0;
    cf_err_t rc = s_multi(store, (int) n + 2, argv, NULL, "revoked", &v);
    cf_mem_free(argv);
    if (rc == CF_OK && added)
        *added = (size_t) v;
    return rc;
}

cf_err_t cf_db_revoked(cf_store_t *store, const char *serial, int *yes)
{
    CF_ASSERT(store && yes);
    *yes = 0;
    if (cf_db_check_serial(serial) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "bad serial");
    redisReply *r = NULL;
    CF_TRY(cf_store_cmd_idem(store, &r, "SISMEMBER %s %s", CF_DB_K_REVOKED, serial));
    int64_t v = 0;
    cf_err_t rc = cf_db_r_int(r, 0, 0, 1, &v, "SISMEMBER reply", cf_db_why(store));
    freeReplyObject(r);
    *yes = v == 1;
    return rc;
}

typedef struct {
    cf_db_serial_fn *fn; /* the caller's */
    void *arg;           /* its argument */
    size_t bad;          /* malformed members */
} s_load_t;

static int s_load_one(void *arg, const char *item, size_t len)
{
    s_load_t *l = arg;
    char serial[CF_DB_SERIAL_MAX + 1];
    if (len == 0 || len > CF_DB_SERIAL_MAX || memchr(item, '\0', len)) {
        l->bad++;
        return 0;
    }
    memcpy(serial, item, len);
    serial[len] = '\0';
    if (cf_db_check_serial(serial) != CF_OK) {
        l->bad++;
        return 0;
    }
    return l->fn(l->arg, serial);
}

cf_err_t cf_db_revoked_load(cf_store_t *store, size_t max, cf_db_serial_fn *fn, void *arg,
                            size_t *bad)
{
    CF_ASSERT(store && fn);
    if (bad)
        *bad = 0;
    if (max == 0)
        return cf_db_fail(store, CF_ERR_INVALID, "revoked load: max must be at least 1");
    s_load_t l = {fn, arg, 0};
    cf_err_t rc = cf_store_sscan(store, CF_DB_K_REVOKED, NULL, 1000, max, s_load_one, &l);
    if (bad)
        *bad = l.bad;
    return rc;
}

cf_err_t cf_db_crl_put(cf_store_t *store, const char *pem, int64_t this_update, int64_t next_update,
                       int64_t count)
{
    CF_ASSERT(store);
    if (!pem || !*pem || count < 0 || next_update < this_update)
        return cf_db_fail(store, CF_ERR_INVALID, "bad CRL record");
    size_t len = strnlen(pem, CF_DB_CRL_MAX + 1);
    if (len > CF_DB_CRL_MAX)
        return cf_db_fail(store, CF_ERR_TOOBIG, "CRL over %d bytes", CF_DB_CRL_MAX);
    char t[CF_DB_I64_BUF], nu[CF_DB_I64_BUF], c[CF_DB_I64_BUF];
    const char *argv[] = {"HSET",        CF_DB_K_CRL,
                          "pem",         pem,
                          "this_update", cf_db_i64(t, this_update),
                          "next_update", cf_db_i64(nu, next_update),
                          "count",       cf_db_i64(c, count)};
    return s_multi(store, 10, argv, NULL, "crl", NULL);
}

cf_err_t cf_db_crl_dates(cf_store_t *store, cf_db_crl_t *out)
{
    CF_ASSERT(store && out);
    memset(out, 0, sizeof(*out));
    redisReply *r = NULL;
    CF_TRY(cf_store_cmd_idem(store, &r, "HMGET %s this_update next_update count", CF_DB_K_CRL));
    cf_why_t *why = cf_db_why(store);
    cf_err_t rc = cf_db_r_array(r, 3, 3, "cf:crl", why);
    if (rc == CF_OK && cf_db_r_nil(r->element[0]) && cf_db_r_nil(r->element[1]) &&
        cf_db_r_nil(r->element[2]))
        rc = cf_db_fail(store, CF_ERR_NOTFOUND, "no CRL in the store");
    if (rc == CF_OK)
        rc = cf_db_r_int(r->element[0], 0, 0, INT64_MAX, &out->this_update, "this_update", why);
    if (rc == CF_OK)
        rc = cf_db_r_int(r->element[1], 0, 0, INT64_MAX, &out->next_update, "next_update", why);
    if (rc == CF_OK)
        rc = cf_db_r_int(r->element[2], 0, 0, INT64_MAX, &out->count, "count", why);
    freeReplyObject(r);
    if (rc != CF_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

void cf_db_crl_clear(cf_db_crl_t *crl)
{
    if (!crl)
        return;
    cf_mem_free(crl->pem);
    memset(crl, 0, sizeof(*crl));
}

cf_err_t cf_db_crl_get(cf_store_t *store, cf_db_crl_t *out)
{
    CF_ASSERT(store && out);
    memset(out, 0, sizeof(*out));
    redisReply *r = NULL;
    CF_TRY(cf_store_cmd_idem(store, &r, "HMGET %s pem this_update next_update count", CF_DB_K_CRL));
    cf_why_t *why = cf_db_why(store);
    cf_err_t rc = cf_db_r_array(r, 4, 4, "cf:crl", why);
    if (rc == CF_OK && cf_db_r_nil(r->element[0]))
        rc = cf_db_fail(store, CF_ERR_NOTFOUND, "no CRL in the store");
    if (rc == CF_OK)
        rc = cf_db_r_dup(r->element[0], 0, CF_DB_CRL_MAX, &out->pem, "cf:crl pem", why);
    if (rc == CF_OK)
        rc = cf_db_r_int(r->element[1], 0, 0, INT64_MAX, &out->this_update, "this_update", why);
    if (rc == CF_OK)
        rc = cf_db_r_int(r->element[2], 0, 0, INT64_MAX, &out->next_update, "next_update", why);
    if (rc == CF_OK)
        rc = cf_db_r_int(r->element[3], 0, 0, INT64_MAX, &out->count, "count", why);
    freeReplyObject(r);
    if (rc != CF_OK)
        cf_db_crl_clear(out);
    return rc;
}
