/*  cf_db_util - for the cf_db_* modules: failure details, one-shot scripts, reply decoding  */
#include "cf_db_util.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cf_mem.h"
#include "cf_store_int.h"

cf_why_t *cf_db_why(cf_store_t *store)
{
    CF_ASSERT(store);
    return &store->why;
}

cf_err_t cf_db_fail(cf_store_t *store, cf_err_t rc, const char *fmt, ...)
{
    CF_ASSERT(store);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(store->why.text, sizeof(store->why.text), fmt, ap);
    va_end(ap);
    return rc;
}

cf_err_t cf_db_eval(cf_store_t *store, const char *lua, int flags, redisReply **reply_out,
                    int nkeys, int nargs, const char **argv, const size_t *argvlen)
{
    cf_store_script_t *script = NULL;
    cf_err_t rc = cf_store_script_new(lua, &script);
    if (rc != CF_OK)
        return cf_db_fail(store, rc, "cannot prepare a script: %s", cf_err_str(rc));
    rc = cf_store_script_call(store, script, flags, reply_out, nkeys, nargs, argv, argvlen);
    cf_store_script_destroy(&script);
    return rc;
}

static pthread_mutex_t s_kept_lock = PTHREAD_MUTEX_INITIALIZER; /* serialises the making */

const cf_store_script_t *cf_db_script_kept(cf_store_script_t *_Atomic *slot, const char *lua)
{
    cf_store_script_t *script = atomic_load(slot);
    if (script)
        return script;
    pthread_mutex_lock(&s_kept_lock);
    script = atomic_load(slot);
    if (!script && cf_store_script_new(lua, &script) == CF_OK)
        atomic_store(slot, script); /* kept for the process: never freed */
    pthread_mutex_unlock(&s_kept_lock);
    return script;
}

/* KEYS[1] hash, KEYS[2] index set (optional); ARGV[1] member, ARGV[2] event ('' = none),
   ARGV[3..] field/value pairs. */
static const char s_lua_create[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
    "redis.call('HSET', KEYS[1], unpack(ARGV, 3))\n"
    "if #KEYS > 1 then redis.call('SADD', KEYS[2], ARGV[1]) end\n"
    "if ARGV[2] ~= '' then redis.call('PUBLISH', 'cf:events', ARGV[2]) end\n"
    "return 1\n";

cf_err_t cf_db_hash_create(cf_store_t *store, const char *key, const char *index,
                           const char *member, const char *event, int npairs, const char **fv,
                           const size_t *lens)
{
    CF_ASSERT(store && key && npairs > 0 && npairs <= 64 && fv);
    const char *argv[2 + 2 + 2 * 64];
    size_t argl[2 + 2 + 2 * 64];
    int nkeys = index ? 2 : 1;
    int n = 0;
    argv[n++] = key;
    if (index)
        argv[n++] = index;
    argv[n++] = member ? member : "";
    argv[n++] = event ? event : "";
    for (int i = 0; i < n; i++)
        argl[i] = strlen(argv[i]);
    for (int i = 0; i < 2 * npairs; i++) {
        argv[n] = fv[i];
        argl[n++] = lens ? lens[i] : strlen(fv[i]);
    }
    redisReply *r = NULL;
    /* not idempotent: a resent create would answer "exists" for our own write */
    CF_TRY(cf_db_eval(store, s_lua_create, 0, &r, nkeys, n - nkeys, argv, argl));
    int64_t created = 0;
    cf_err_t rc = cf_db_r_int(r, 0, 0, 1, &created, "create reply", cf_db_why(store));
    freeReplyObject(r);
    if (rc == CF_OK && !created)
        rc = cf_db_fail(store, CF_ERR_EXISTS, "%s already exists", key);
    return rc;
}

/* KEYS[1] hash, KEYS[2] index set (optional); ARGV[1] member, ARGV[2] event ('' = none). */
static const char s_lua_remove[] =
    "if redis.call('DEL', KEYS[1]) == 0 then return 0 end\n"
    "if #KEYS > 1 then redis.call('SREM', KEYS[2], ARGV[1]) end\n"
    "if ARGV[2] ~= '' then redis.call('PUBLISH', 'cf:events', ARGV[2]) end\n"
    "return 1\n";

cf_err_t cf_db_hash_remove(cf_store_t *store, const char *key, const char *index,
                           const char *member, const char *event)
{
    CF_ASSERT(store && key);
    const char *argv[4];
    int n = 0;
    argv[n++] = key;
    if (index)
        argv[n++] = index;
    argv[n++] = member ? member : "";
    argv[n++] = event ? event : "";
    redisReply *r = NULL;
    CF_TRY(cf_db_eval(store, s_lua_remove, 0, &r, index ? 2 : 1, 2, argv, NULL));
    int64_t removed = 0;
    cf_err_t rc = cf_db_r_int(r, 0, 0, 1, &removed, "remove reply", cf_db_why(store));
    freeReplyObject(r);
    if (rc == CF_OK && !removed)
        rc = cf_db_fail(store, CF_ERR_NOTFOUND, "%s does not exist", key);
    return rc;
}

cf_err_t cf_db_members(cf_store_t *store, const char *index, size_t max, cf_db_check_fn *check,
                       redisReply **r_out)
{
    CF_TRY(cf_store_cmd_idem(store, r_out, "SMEMBERS %s", index));
    redisReply *r = *r_out;
    cf_err_t rc = CF_OK;
    if (r->type != REDIS_REPLY_ARRAY)
        rc = cf_db_fail(store, CF_ERR_CORRUPT, "%s is not a set", index);
    else if (r->elements > max)
        rc = cf_db_fail(store, CF_ERR_TOOBIG, "%s holds more than %zu members", index, max);
    for (size_t i = 0; rc == CF_OK && i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (!e || e->type != REDIS_REPLY_STRING || strlen(e->str) != e->len ||
            check(e->str) != CF_OK)
            rc = cf_db_fail(store, CF_ERR_CORRUPT, "%s holds a malformed member", index);
    }
    if (rc != CF_OK)
        cf_store_reply_free(r_out);
    return rc;
}

int cf_db_strp_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

const char *cf_db_i64(char *buf, int64_t v)
{
    /* by hand, not snprintf: every check-in formats one or two (~400 instructions each) */
    char tmp[CF_DB_I64_BUF];
    uint64_t u = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;
    size_t n = 0;
    do {
        tmp[n++] = (char) ('0' + u % 10);
        u /= 10;
    } while (u);
    size_t k = 0;
    if (v < 0)
        buf[k++] = '-';
    while (n)
        buf[k++] = tmp[--n];
    buf[k] = '\0';
    return buf;
}

int cf_db_r_nil(const redisReply *r)
{
    return !r || r->type == REDIS_REPLY_NIL;
}

cf_err_t cf_db_r_array(const redisReply *r, size_t min, size_t max, const char *what, cf_why_t *why)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < min || r->elements > max)
        return cf_why(why, CF_ERR_CORRUPT, "%s: not an array of %zu..%zu elements", what, min, max);
    for (size_t i = 0; i < r->elements; i++)
        if (!r->element[i])
            return cf_why(why, CF_ERR_CORRUPT, "%s: element %zu missing", what, i);
    return CF_OK;
}

/* A string reply of at most max bytes without NUL; nil only when optional (*nil set). */
static cf_err_t s_string(const redisReply *r, int optional, size_t max, int *nil, const char *what,
                         cf_why_t *why)
{
    *nil = 0;
    if (cf_db_r_nil(r)) {
        *nil = 1;
        return optional ? CF_OK : cf_why(why, CF_ERR_CORRUPT, "%s: missing", what);
    }
    if (r->type != REDIS_REPLY_STRING)
        return cf_why(why, CF_ERR_CORRUPT, "%s: not a string", what);
    if (r->len > max)
        return cf_why(why, CF_ERR_CORRUPT, "%s: over %zu bytes", what, max);
    if (memchr(r->str, '\0', r->len))
        return cf_why(why, CF_ERR_CORRUPT, "%s: holds a NUL byte", what);
    return CF_OK;
}

cf_err_t cf_db_r_text(const redisReply *r, int optional, char *buf, size_t max, const char *what,
                      cf_why_t *why)
{
    buf[0] = '\0';
    int nil = 0;
    CF_TRY(s_string(r, optional, max, &nil, what, why));
    if (nil)
        return CF_OK;
    for (size_t i = 0; i < r->len; i++) {
        unsigned char c = (unsigned char) r->str[i];
        if (c < 0x20 || c == 0x7f)
            return cf_why(why, CF_ERR_CORRUPT, "%s: holds a control character", what);
    }
    memcpy(buf, r->str, r->len);
    buf[r->len] = '\0';
    return CF_OK;
}

cf_err_t cf_db_r_dup(const redisReply *r, int optional, size_t max, char **out, const char *what,
                     cf_why_t *why)
{
    *out = NULL;
    int nil = 0;
    CF_TRY(s_string(r, optional, max, &nil, what, why));
    if (nil)
        return CF_OK;
    *out = cf_mem_memdup(r->str, r->len + 1); /* hiredis strings end with a NUL */
    if (!*out)
        return cf_why(why, CF_ERR_NOMEM, "%s: out of memory", what);
    return CF_OK;
}

/* Decimal text: optional '-', 1..19 digits, no blanks; CF_OK with *v set. */
static cf_err_t s_decimal(const char *s, size_t len, int64_t *v)
{
    size_t i = 0;
    int neg = len > 0 && s[0] == '-';
    i += (size_t) neg;
    if (len - i < 1 || len - i > 19)
        return CF_ERR_CORRUPT;
    uint64_t acc = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return CF_ERR_CORRUPT;
        acc = acc * 10 + (uint64_t) (s[i] - '0');
    }
    if (acc > (uint64_t) INT64_MAX)
        return CF_ERR_CORRUPT;
    *v = neg ? -(int64_t) acc : (int64_t) acc;
    return CF_OK;
}

cf_err_t cf_db_r_int(const redisReply *r, int optional, int64_t min, int64_t max, int64_t *out,
                     const char *what, cf_why_t *why)
{
    *out = 0;
    int64_t v = 0;
    if (cf_db_r_nil(r)) {
        if (optional)
            return CF_OK;
        return cf_why(why, CF_ERR_CORRUPT, "%s: missing", what);
    }
    if (r->type == REDIS_REPLY_INTEGER)
        v = (int64_t) r->integer;
    else if (r->type != REDIS_REPLY_STRING || s_decimal(r->str, r->len, &v) != CF_OK)
        return cf_why(why, CF_ERR_CORRUPT, "%s: not a number", what);
    if (v < min || v > max)
        return cf_why(why, CF_ERR_CORRUPT, "%s: %" PRId64 " out of range", what, v);
    *out = v;
    return CF_OK;
}

cf_err_t cf_db_xrange(cf_store_t *store, const char *key, const char *start, size_t max,
                      size_t size, cf_db_xentry_fn *fn, void **list_out, size_t *n_out)
{
    CF_ASSERT(store && key && start && size && fn && list_out && n_out);
    *list_out = NULL;
    *n_out = 0;
    char count[CF_DB_I64_BUF];
    const char *argv[] = {"XRANGE", key, start, "+", "COUNT", cf_db_i64(count, (int64_t) max)};
    redisReply *r = NULL;
    CF_TRY(cf_store_cmd_argv(store, CF_STORE_IDEMPOTENT, &r, 6, argv, NULL));
    cf_err_t rc = cf_db_r_array(r, 0, max, "XRANGE reply", cf_db_why(store));
    unsigned char *list = NULL;
    if (rc == CF_OK) {
        list = cf_mem_calloc(r->elements ? r->elements : 1, size);
        if (!list)
            rc = cf_db_fail(store, CF_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; rc == CF_OK && i < r->elements; i++)
        rc = fn(store, r->element[i], list + i * size);
    size_t n = rc == CF_OK ? r->elements : 0;
    freeReplyObject(r);
    if (rc != CF_OK) {
        cf_mem_free(list);
        return rc;
    }
    *list_out = list;
    *n_out = n;
    return CF_OK;
}
