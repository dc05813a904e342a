/*  cf_db_audit - the operator audit stream cf:audit: append, read since a time  */
#include "cf_db_audit.h"

#include <stdio.h>
#include <string.h>

#include "cf_db_key.h"
#include "cf_db_util.h"
#include "cf_mem.h"

/* The fields, their caps and where they go in cf_db_audit_t. */
static const struct {
    const char *name; /* stream field */
    size_t max;       /* cap, bytes */
    size_t off;       /* offset in cf_db_audit_t */
} s_fields[] = {
    {"who", CF_DB_AUDIT_WHO_MAX, offsetof(cf_db_audit_t, who)},
    {"role", CF_DB_AUDIT_ROLE_MAX, offsetof(cf_db_audit_t, role)},
    {"what", CF_DB_AUDIT_WHAT_MAX, offsetof(cf_db_audit_t, what)},
    {"target", CF_DB_AUDIT_TEXT_MAX, offsetof(cf_db_audit_t, target)},
    {"result", CF_DB_AUDIT_TEXT_MAX, offsetof(cf_db_audit_t, result)},
    {"from", CF_DB_AUDIT_FROM_MAX, offsetof(cf_db_audit_t, from)},
};
#define N_FIELDS 6

/* "<ms>-<seq>", both decimal; *ms gets the first part. */
static cf_err_t s_check_id(const char *id, size_t len, int64_t *ms)
{
    const char *dash = len <= CF_DB_AUDIT_ID_MAX ? memchr(id, '-', len) : NULL;
    if (!dash || dash == id || dash == id + len - 1 || dash - id > 19 || id + len - dash > 21)
        return CF_ERR_INVALID;
    uint64_t v = 0;
    for (const char *p = id; p < id + len; p++) {
        if (p == dash)
            continue;
        if (*p < '0' || *p > '9')
            return CF_ERR_INVALID;
        if (p < dash)
            v = v * 10 + (uint64_t) (*p - '0');
    }
    if (v > (uint64_t) INT64_MAX)
        return CF_ERR_INVALID;
    *ms = (int64_t) v;
    return CF_OK;
}

cf_err_t cf_db_audit_add(cf_store_t *store, const cf_db_audit_in_t *ev, char *id)
{
    CF_ASSERT(store && ev);
    if (id)
        id[0] = '\0';
    const char *vals[] = {ev->who, ev->role, ev->what, ev->target, ev->result, ev->from};
    const char *argv[6 + 2 * N_FIELDS] = {"XADD", CF_DB_K_AUDIT, "MAXLEN", "~"};
    char cap[CF_DB_I64_BUF];
    argv[4] = cf_db_i64(cap, CF_DB_AUDIT_MAXLEN);
    const char *star = "*";
    int n = 5;
    argv[n++] = star;
    for (int i = 0; i < N_FIELDS; i++) {
        const char *v = vals[i] ? vals[i] : "";
        cf_err_t rc = cf_db_check_text(v, 0, s_fields[i].max);
        if (rc != CF_OK)
            return cf_db_fail(store, rc, "audit: bad %s", s_fields[i].name);
        argv[n++] = s_fields[i].name;
        argv[n++] = v;
    }
    redisReply *r = NULL;
    CF_TRY(cf_store_cmd_argv(store, 0, &r, n, argv, NULL));
    char got[CF_DB_AUDIT_ID_MAX + 1];
    int64_t ms = 0;
    cf_err_t rc = cf_db_r_text(r, 0, got, CF_DB_AUDIT_ID_MAX, "XADD reply", cf_db_why(store));
    if (rc == CF_OK && s_check_id(got, strlen(got), &ms) != CF_OK)
        rc = cf_db_fail(store, CF_ERR_CORRUPT, "XADD answered a malformed id");
    freeReplyObject(r);
    if (rc == CF_OK && id)
        memcpy(id, got, strlen(got) + 1);
    return rc;
}

/* Decode one XRANGE entry [id, [field, value, ...]]. Unknown fields are ignored. */
static cf_err_t s_entry(cf_store_t *store, const redisReply *e, cf_db_audit_t *out)
{
    cf_why_t *why = cf_db_why(store);
    memset(out, 0, sizeof(*out));
    CF_TRY(cf_db_r_array(e, 2, 2, "audit entry", why));
    CF_TRY(cf_db_r_text(e->element[0], 0, out->id, CF_DB_AUDIT_ID_MAX, "audit id", why));
    if (s_check_id(out->id, strlen(out->id), &out->time_ms) != CF_OK)
        return cf_db_fail(store, CF_ERR_CORRUPT, "audit: malformed id");
    const redisReply *fv = e->element[1];
    CF_TRY(cf_db_r_array(fv, 0, 2 * N_FIELDS + 64, "audit fields", why));
    if (fv->elements % 2)
        return cf_db_fail(store, CF_ERR_CORRUPT, "audit %s: fields are not pairs", out->id);
    for (size_t i = 0; i < fv->elements; i += 2) {
        const redisReply *f = fv->element[i];
        if (f->type != REDIS_REPLY_STRING)
            return cf_db_fail(store, CF_ERR_CORRUPT, "audit %s: field is not a string", out->id);
        for (int k = 0; k < N_FIELDS; k++) {
            if (f->len != strlen(s_fields[k].name) || memcmp(f->str, s_fields[k].name, f->len))
                continue;
            char *dst = (char *) out + s_fields[k].off;
            CF_TRY(
                cf_db_r_text(fv->element[i + 1], 0, dst, s_fields[k].max, s_fields[k].name, why));
        }
    }
    return CF_OK;
}

static cf_err_t s_entry_fn(cf_store_t *store, const redisReply *e, void *out)
{
    return s_entry(store, e, out);
}

cf_err_t cf_db_audit_read(cf_store_t *store, int64_t since_s, const char *after_id, size_t limit,
                          cf_db_audit_t **list_out, size_t *n_out)
{
    CF_ASSERT(store && list_out && n_out);
    *list_out = NULL;
    *n_out = 0;
    char start[CF_DB_AUDIT_ID_MAX + 2];
    int64_t ms = 0;
    if (after_id && *after_id) {
        size_t len = strnlen(after_id, CF_DB_AUDIT_ID_MAX + 1);
        if (s_check_id(after_id, len, &ms) != CF_OK || after_id[len])
            return cf_db_fail(store, CF_ERR_INVALID, "audit: bad id to read after");
        snprintf(start, sizeof(start), "(%s", after_id);
    } else if (since_s < 0 || since_s > INT64_MAX / 1000) {
        return cf_db_fail(store, CF_ERR_INVALID, "audit: bad time");
    } else {
        cf_db_i64(start, since_s * 1000);
    }
    if (limit == 0 || limit > CF_DB_AUDIT_READ_MAX)
        return cf_db_fail(store, CF_ERR_INVALID, "audit: limit must be 1..%d",
                          CF_DB_AUDIT_READ_MAX);
    void *list = NULL;
    CF_TRY(cf_db_xrange(store, CF_DB_K_AUDIT, start, limit, sizeof(cf_db_audit_t), s_entry_fn,
                        &list, n_out));
    *list_out = list;
    return CF_OK;
}
