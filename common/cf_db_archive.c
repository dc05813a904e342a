/*  cf_db_archive - replaced certificates in cf:archive: lookup, walk, prune  */
#include "cf_db_archive.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cf_db_util.h"
#include "cf_mem.h"

void cf_db_archived_clear(cf_db_archived_t *a)
{
    if (!a)
        return;
    cf_mem_free(a->cert_pem);
    cf_mem_free(a->subject);
    memset(a, 0, sizeof(*a));
}

/* A JSON string member of at most max bytes, or NULL. */
static const char *s_json_str(const json_t *o, const char *name, size_t max)
{
    const json_t *v = json_object_get(o, name);
    if (!json_is_string(v) || json_string_length(v) > max)
        return NULL;
    return json_string_value(v);
}

/* A JSON integer member (cjson may write an integral real), into *out. */
static int s_json_int(const json_t *o, const char *name, int64_t *out)
{
    const json_t *v = json_object_get(o, name);
    if (json_is_integer(v)) {
        *out = (int64_t) json_integer_value(v);
        return 1;
    }
    double d = json_is_real(v) ? json_real_value(v) : 1.0e300;
    if (!(d >= -9.0e15 && d <= 9.0e15) || (double) (int64_t) d != d)
        return 0;
    *out = (int64_t) d;
    return 1;
}

static cf_err_t s_decode_obj(const json_t *o, cf_db_archived_t *out, cf_why_t *why)
{
    const char *comp = s_json_str(o, "component", 16);
    const char *name = s_json_str(o, "name", CF_DB_NAME_MAX);
    const char *serial = s_json_str(o, "serial", CF_DB_SERIAL_MAX);
    const char *cert = s_json_str(o, "cert", CF_DB_ARCHIVE_MAX);
    if (!comp || cf_component_from_name(comp, &out->component) != CF_OK ||
        !cf_db_component_ok(out->component))
        return cf_why(why, CF_ERR_CORRUPT, "archive %s: bad component", out->fingerprint);
    if (!name || cf_db_check_cert_name(name) != CF_OK || !serial ||
        cf_db_check_serial(serial) != CF_OK || !cert || !*cert)
        return cf_why(why, CF_ERR_CORRUPT, "archive %s: bad name, serial or cert",
                      out->fingerprint);
    if (!s_json_int(o, "not_after", &out->not_after) ||
        !s_json_int(o, "archived_at", &out->archived_at))
        return cf_why(why, CF_ERR_CORRUPT, "archive %s: bad times", out->fingerprint);
    memcpy(out->name, name, strlen(name) + 1);
    memcpy(out->serial, serial, strlen(serial) + 1);
    out->cert_pem = cf_mem_strdup(cert);
    if (!out->cert_pem)
        return cf_why(why, CF_ERR_NOMEM, "out of memory");
    return CF_OK;
}

#define S_COMPACT "c1 " /* the compact form's first bytes */

/* "<component> <name> <archived_at>\n" then DER (after S_COMPACT). */
static cf_err_t s_decode_compact(const char *v, size_t len, cf_db_archived_t *out, cf_why_t *why)
{
    enum { S_HEAD_MAX = CF_DB_NAME_MAX + 48 }; /* component, name, time, spaces */
    const char *nl = memchr(v, '\n', len < S_HEAD_MAX ? len : S_HEAD_MAX);
    char head[S_HEAD_MAX + 1], comp[16], name[CF_DB_NAME_MAX + 1];
    long long at = 0;
    int used = 0;
    if (!nl)
        return cf_why(why, CF_ERR_CORRUPT, "archive %s: no header line", out->fingerprint);
    memcpy(head, v, (size_t) (nl - v));
    head[nl - v] = '\0';
    if (sscanf(head, "%15s %253s %lld%n", comp, name, &at, &used) != 3 ||
        (size_t) used != (size_t) (nl - v) ||
        cf_component_from_name(comp, &out->component) != CF_OK ||
        !cf_db_component_ok(out->component) || cf_db_check_cert_name(name) != CF_OK)
        return cf_why(why, CF_ERR_CORRUPT, "archive %s: bad header", out->fingerprint);
    cf_cert_t *cert = NULL;
    size_t der_len = len - (size_t) (nl + 1 - v), pem_len = 0;
    cf_err_t rc = cf_cert_parse(nl + 1, der_len, &cert);
    if (rc == CF_OK && (((const unsigned char *) nl)[1] != 0x30 ||
                        cf_db_check_serial(cf_cert_serial(cert)) != CF_OK))
        rc = CF_ERR_CORRUPT;
    if (rc == CF_OK)
        rc = cf_cert_to_pem(cert, &out->cert_pem, &pem_len);
    if (rc == CF_OK) {
        out->subject = cf_mem_strdup(cf_cert_subject(cert));
        rc = out->subject ? CF_OK : CF_ERR_NOMEM;
    }
    if (rc == CF_OK) {
        memcpy(out->name, name, strlen(name) + 1);
        snprintf(out->serial, sizeof(out->serial), "%s", cf_cert_serial(cert));
        out->not_after = (int64_t) cf_cert_not_after(cert);
        out->archived_at = (int64_t) at;
    }
    cf_cert_destroy(&cert);
    if (rc == CF_ERR_NOMEM)
        return cf_why(why, rc, "out of memory");
    if (rc != CF_OK)
        return cf_why(why, CF_ERR_CORRUPT, "archive %s: not a certificate", out->fingerprint);
    return CF_OK;
}

#define S_AGENT "a1 " /* the agent form's first bytes: no certificate body */

/* The next space-separated word of *p (up to end) into w (max bytes at most): 0 when there
   is none or it is too long. *p moves past the word and one space. */
static int s_word(const char **p, const char *end, char *w, size_t max)
{
    const char *sp = memchr(*p, ' ', (size_t) (end - *p));
    size_t n = (size_t) ((sp ? sp : end) - *p);
    if (n == 0 || n > max)
        return 0;
    memcpy(w, *p, n);
    w[n] = '\0';
    *p += n + (sp ? 1 : 0);
    return 1;
}

/* A decimal integer word (an optional '-', then digits) into *out. */
static int s_int_word(const char *w, int64_t *out)
{
    char *e = NULL;
    errno = 0;
    long long v = strtoll(w, &e, 10);
    if (errno || e == w || *e || !(isdigit((unsigned char) w[0]) || w[0] == '-'))
        return 0;
    *out = (int64_t) v;
    return 1;
}

/* "<agent id> <archived_at> <not_after> <serial> <subject>" (after S_AGENT): an agent's
   replaced certificate without its body; the subject is the rest of the value. */
static cf_err_t s_decode_agent(const char *v, size_t len, cf_db_archived_t *out, cf_why_t *why)
{
    const char *p = v, *end = v + len;
    char name[CF_DB_ID_MAX + 1], at[CF_DB_I64_BUF], na[CF_DB_I64_BUF];
    char serial[CF_DB_SERIAL_MAX + 1];
    size_t rest = 0;
    int ok = !memchr(v, '\0', len) && !memchr(v, '\n', len) &&
             s_word(&p, end, name, CF_DB_ID_MAX) && s_word(&p, end, at, CF_DB_I64_BUF - 1) &&
             s_word(&p, end, na, CF_DB_I64_BUF - 1) && s_word(&p, end, serial, CF_DB_SERIAL_MAX);
    rest = ok ? (size_t) (end - p) : 0;
    ok = ok && rest > 0 && rest <= CF_DB_SUBJECT_MAX && *p != ' ' &&
         cf_db_check_agent_id(name) == CF_OK && cf_db_check_serial(serial) == CF_OK &&
         s_int_word(at, &out->archived_at) && s_int_word(na, &out->not_after);
    if (!ok)
        return cf_why(why, CF_ERR_CORRUPT, "archive %s: bad agent entry", out->fingerprint);
    out->subject = cf_mem_malloc(rest + 1);
    if (!out->subject)
        return cf_why(why, CF_ERR_NOMEM, "out of memory");
    memcpy(out->subject, p, rest);
    out->subject[rest] = '\0';
    out->component = CF_COMPONENT_AGENT;
    memcpy(out->name, name, strlen(name) + 1);
    memcpy(out->serial, serial, strlen(serial) + 1);
    return CF_OK;
}

cf_err_t cf_db_archive_decode(const char *fp, size_t fp_len, const char *json, size_t len,
                              cf_db_archived_t *out, cf_why_t *why)
{
    memset(out, 0, sizeof(*out));
    if (!fp || fp_len != CF_DB_FP_LEN || !json || len > CF_DB_ARCHIVE_MAX)
        return cf_why(why, CF_ERR_CORRUPT, "archive entry: bad fingerprint or size");
    memcpy(out->fingerprint, fp, CF_DB_FP_LEN);
    out->fingerprint[CF_DB_FP_LEN] = '\0';
    if (cf_db_check_fingerprint(out->fingerprint) != CF_OK) {
        memset(out, 0, sizeof(*out));
        return cf_why(why, CF_ERR_CORRUPT, "archive entry: bad fingerprint");
    }
    int agent = len > strlen(S_AGENT) && memcmp(json, S_AGENT, strlen(S_AGENT)) == 0;
    if (agent || (len > strlen(S_COMPACT) && memcmp(json, S_COMPACT, strlen(S_COMPACT)) == 0)) {
        size_t skip = strlen(S_COMPACT);
        cf_err_t rc = agent ? s_decode_agent(json + skip, len - skip, out, why)
                            : s_decode_compact(json + skip, len - skip, out, why);
        if (rc != CF_OK)
            cf_db_archived_clear(out);
        return rc;
    }
    json_error_t jerr;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    cf_err_t rc = json_is_object(o) ? s_decode_obj(o, out, why)
                                    : cf_why(why, CF_ERR_CORRUPT, "archive %s: not a JSON object",
                                             out->fingerprint);
    json_decref(o);
    if (rc != CF_OK)
        cf_db_archived_clear(out);
    return rc;
}

/* The agent form of cert (S_AGENT), or CF_ERR_UNSUPPORTED when its subject does not fit
   one line (the caller then keeps the body: the compact form). */
static cf_err_t s_agent_entry(const char *name, const cf_cert_t *cert, int64_t now, char **out,
                              size_t *len_out)
{
    const char *subject = cf_cert_subject(cert);
    if (cf_db_check_agent_id(name) != CF_OK || !subject || !*subject || *subject == ' ' ||
        strlen(subject) > CF_DB_SUBJECT_MAX || strchr(subject, '\n') ||
        cf_db_check_serial(cf_cert_serial(cert)) != CF_OK)
        return CF_ERR_UNSUPPORTED;
    size_t cap = strlen(S_AGENT) + strlen(name) + strlen(subject) + CF_DB_SERIAL_MAX + 64;
    char *v = cf_mem_malloc(cap);
    if (!v)
        return CF_ERR_NOMEM;
    int n = snprintf(v, cap, S_AGENT "%s %lld %lld %s %s", name, (long long) now,
                     (long long) cf_cert_not_after(cert), cf_cert_serial(cert), subject);
    CF_ASSERT(n > 0 && (size_t) n < cap);
    *out = v;
    *len_out = (size_t) n;
    return CF_OK;
}

cf_err_t cf_db_archive_entry(cf_component_t component, const char *name, const cf_cert_t *cert,
                             int64_t now, char **out, size_t *len_out)
{
    CF_ASSERT(cert && out && len_out);
    *out = NULL;
    *len_out = 0;
    if (!cf_db_component_ok(component) || cf_db_check_cert_name(name) != CF_OK || now < 0)
        return CF_ERR_INVALID;
    if (component == CF_COMPONENT_AGENT) {
        cf_err_t arc = s_agent_entry(name, cert, now, out, len_out);
        if (arc != CF_ERR_UNSUPPORTED)
            return arc;
    }
    unsigned char *der = NULL;
    size_t der_len = 0;
    CF_TRY(cf_cert_to_der(cert, &der, &der_len));
    char head[CF_DB_NAME_MAX + 64];
    int n = snprintf(head, sizeof(head), S_COMPACT "%s %s %lld\n", cf_component_name(component),
                     name, (long long) now);
    cf_err_t rc = der_len > CF_DB_ARCHIVE_MAX - sizeof(head) ? CF_ERR_TOOBIG : CF_ERR_NOMEM;
    char *v = rc == CF_ERR_NOMEM ? cf_mem_malloc((size_t) n + der_len) : NULL;
    if (v) {
        memcpy(v, head, (size_t) n);
        memcpy(v + n, der, der_len);
        *out = v;
        *len_out = (size_t) n + der_len;
        rc = CF_OK;
    }
    cf_mem_free(der);
    return rc;
}

cf_err_t cf_db_archive_add(cf_store_t *store, cf_component_t component, const char *name,
                           const cf_cert_t *cert, int64_t now)
{
    CF_ASSERT(store && cert);
    if (!cf_db_component_ok(component) || cf_db_check_cert_name(name) != CF_OK ||
        cf_db_check_serial(cf_cert_serial(cert)) != CF_OK || now < 0)
        return cf_db_fail(store, CF_ERR_INVALID, "archive: bad component, name or serial");
    char *v = NULL;
    size_t len = 0;
    cf_err_t rc = cf_db_archive_entry(component, name, cert, now, &v, &len);
    if (rc != CF_OK)
        return cf_db_fail(store, rc, "archive: cannot encode the certificate");
    const char *argv[] = {"HSET", CF_DB_K_ARCHIVE, cf_cert_fingerprint(cert), v};
    size_t lens[] = {4, strlen(CF_DB_K_ARCHIVE), strlen(argv[2]), len};
    rc = cf_store_cmd_argv(store, CF_STORE_IDEMPOTENT, NULL, 4, argv, lens);
    cf_mem_free(v);
    return rc;
}

cf_err_t cf_db_archived(cf_store_t *store, const char *fingerprint, int *yes)
{
    CF_ASSERT(store && yes);
    *yes = 0;
    if (cf_db_check_fingerprint(fingerprint) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "bad fingerprint");
    redisReply *r = NULL;
    CF_TRY(cf_store_cmd_idem(store, &r, "HEXISTS %s %s", CF_DB_K_ARCHIVE, fingerprint));
    int64_t v = 0;
    cf_err_t rc = cf_db_r_int(r, 0, 0, 1, &v, "HEXISTS reply", cf_db_why(store));
    freeReplyObject(r);
    *yes = v == 1;
    return rc;
}

cf_err_t cf_db_archive_get(cf_store_t *store, const char *fingerprint, cf_db_archived_t *out)
{
    CF_ASSERT(store && out);
    memset(out, 0, sizeof(*out));
    if (cf_db_check_fingerprint(fingerprint) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "bad fingerprint");
    redisReply *r = NULL;
    CF_TRY(cf_store_cmd_idem(store, &r, "HGET %s %s", CF_DB_K_ARCHIVE, fingerprint));
    cf_err_t rc = CF_OK;
    if (cf_db_r_nil(r))
        rc = cf_db_fail(store, CF_ERR_NOTFOUND, "%s is not archived", fingerprint);
    else if (r->type != REDIS_REPLY_STRING)
        rc = cf_db_fail(store, CF_ERR_CORRUPT, "archive %s: not a string", fingerprint);
    else
        rc = cf_db_archive_decode(fingerprint, strlen(fingerprint), r->str, r->len, out,
                                  cf_db_why(store));
    freeReplyObject(r);
    return rc;
}

/* Walk state: the caller's callback, or pruning. */
typedef struct {
    cf_db_archive_fn *fn; /* called for each good entry; NULL when pruning */
    void *arg;            /* fn's argument */
    size_t max;           /* entries to see at most */
    size_t seen;          /* entries seen */
    size_t bad;           /* malformed entries */
    size_t removed;       /* prune: entries deleted */
    int64_t now;          /* prune: entries with not_after < now go */
    int stop;             /* fn asked to stop */
} s_walk_t;

/* Check an HSCAN reply [cursor, [field, value, ...]]; copy the cursor. */
static cf_err_t s_hscan_shape(cf_store_t *store, const redisReply *r, char *cursor)
{
    cf_why_t *why = cf_db_why(store);
    CF_TRY(cf_db_r_array(r, 2, 2, "HSCAN reply", why));
    int64_t c = 0;
    CF_TRY(cf_db_r_int(r->element[0], 0, 0, INT64_MAX, &c, "HSCAN cursor", why));
    const redisReply *items = r->element[1];
    CF_TRY(cf_db_r_array(items, 0, SIZE_MAX, "HSCAN items", why));
    if (items->elements % 2)
        return cf_db_fail(store, CF_ERR_CORRUPT, "HSCAN items are not pairs");
    for (size_t i = 0; i < items->elements; i++)
        if (items->element[i]->type != REDIS_REPLY_STRING)
            return cf_db_fail(store, CF_ERR_CORRUPT, "HSCAN item is not a string");
    cf_db_i64(cursor, c);
    return CF_OK;
}

/* HDEL the n fields of argv[2..] (argv[0..1] are HDEL and the key). */
static cf_err_t s_hdel(cf_store_t *store, const char **argv, const size_t *lens, size_t n,
                       s_walk_t *w)
{
    if (n == 0)
        return CF_OK;
    redisReply *r = NULL;
    CF_TRY(cf_store_cmd_argv(store, CF_STORE_IDEMPOTENT, &r, (int) n + 2, argv, lens));
    int64_t v = 0;
    cf_err_t rc = cf_db_r_int(r, 0, 0, (int64_t) n, &v, "HDEL reply", cf_db_why(store));
    freeReplyObject(r);
    w->removed += (size_t) v;
    return rc;
}

/* Feed one HSCAN batch to the walk; when pruning, delete what is past or malformed. */
static cf_err_t s_batch(cf_store_t *store, const redisReply *items, s_walk_t *w)
{
    size_t pairs = items->elements / 2;
    const char **argv = cf_mem_calloc(pairs + 2, sizeof(*argv));
    size_t *lens = cf_mem_calloc(pairs + 2, sizeof(*lens));
    cf_err_t rc = cf_db_fail(store, CF_ERR_NOMEM, "out of memory walking the archive");
    if (!argv || !lens)
        goto out;
    rc = CF_OK;
    size_t n = 0;
    argv[0] = "HDEL";
    argv[1] = CF_DB_K_ARCHIVE;
    lens[0] = 4;
    lens[1] = strlen(CF_DB_K_ARCHIVE);
    for (size_t i = 0; i < pairs && !w->stop; i++) {
        if (w->seen == w->max) {
            rc = cf_db_fail(store, CF_ERR_TOOBIG, "the archive holds over %zu entries", w->max);
            break;
        }
        w->seen++;
        const redisReply *f = items->element[2 * i], *v = items->element[2 * i + 1];
        cf_db_archived_t a;
        cf_err_t one = cf_db_archive_decode(f->str, f->len, v->str, v->len, &a, NULL);
        w->bad += one != CF_OK;
        if (w->fn && one == CF_OK)
            w->stop = w->fn(w->arg, &a) != 0;
        if (!w->fn && (one != CF_OK || a.not_after < w->now)) {
            argv[2 + n] = f->str;
            lens[2 + n++] = f->len;
        }
        cf_db_archived_clear(&a);
    }
    if (rc == CF_OK)
        rc = s_hdel(store, argv, lens, n, w);
out:
    cf_mem_free(argv);
    cf_mem_free(lens);
    return rc;
}

static cf_err_t s_walk(cf_store_t *store, s_walk_t *w)
{
    char cursor[CF_DB_I64_BUF] = "0", next[CF_DB_I64_BUF];
    char count[CF_DB_I64_BUF];
    cf_db_i64(count, CF_DB_ARCHIVE_SCAN);
    for (long calls = 0; calls < CF_STORE_SCAN_MAX_CALLS; calls++) {
        const char *argv[] = {"HSCAN", CF_DB_K_ARCHIVE, cursor, "COUNT", count};
        redisReply *r = NULL;
        CF_TRY(cf_store_cmd_argv(store, CF_STORE_IDEMPOTENT, &r, 5, argv, NULL));
        cf_err_t rc = s_hscan_shape(store, r, next);
        if (rc == CF_OK)
            rc = s_batch(store, r->element[1], w);
        freeReplyObject(r);
        if (rc != CF_OK || w->stop || strcmp(next, "0") == 0)
            return rc;
        memcpy(cursor, next, sizeof(cursor));
    }
    return cf_db_fail(store, CF_ERR_TOOBIG, "HSCAN did not finish");
}

cf_err_t cf_db_archive_walk(cf_store_t *store, size_t max, cf_db_archive_fn *fn, void *arg,
                            size_t *bad)
{
    CF_ASSERT(store && fn);
    if (bad)
        *bad = 0;
    if (max == 0)
        return cf_db_fail(store, CF_ERR_INVALID, "archive walk: max must be at least 1");
    s_walk_t w = {.fn = fn, .arg = arg, .max = max};
    cf_err_t rc = s_walk(store, &w);
    if (bad)
        *bad = w.bad;
    return rc;
}

cf_err_t cf_db_archive_prune(cf_store_t *store, int64_t now, size_t *removed)
{
    CF_ASSERT(store);
    if (removed)
        *removed = 0;
    s_walk_t w = {.max = CF_DB_ARCHIVE_WALK, .now = now};
    cf_err_t rc = s_walk(store, &w);
    if (removed)
        *removed = w.removed;
    return rc;
}
