/*  cf_job_json - a job's JSON form: the canonical bytes that are signed, and the parser  */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cf_job.h"
#include "cf_job_int.h"
#include "cf_mem.h"

/* The canonical form is written here by hand rather than with json_dumps: jansson 2.14
   with JSON_SORT_KEYS drops an object key from its output when an allocation fails inside
   it, and the signed bytes must never depend on that. Keys are sorted bytewise, nothing
   is escaped: every string is base64, hex, an agent id, an alias or a fixed word (checked
   when set or parsed), none of which JSON escapes. jansson's JSON_SORT_KEYS |
   JSON_COMPACT dump of the same object gives the same bytes (test_job checks it). */
static void s_cat(char *buf, size_t cap, size_t *pos, const char *fmt, ...) CF_PRINTF(4, 5);
static void s_cat(char *buf, size_t cap, size_t *pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *pos, cap - *pos, fmt, ap);
    va_end(ap);
    CF_ASSERT(n >= 0 && (size_t) n < cap - *pos); /* cap was computed from the fields */
    *pos += (size_t) n;
}

static size_t s_len(const char *s)
{
    return s ? strlen(s) : 0;
}

cf_err_t cf_job_json(const cf_job_t *job, int with_sig, char **out, size_t *len_out)
{
    const char *sig = with_sig ? job->sig : NULL;
    size_t cap = 512 + s_len(job->chain) + s_len(job->key) + s_len(job->p12) + s_len(job->pass) +
                 s_len(job->cert) + s_len(job->signer) + s_len(sig);
    size_t pos = 0;
    char *buf = cf_mem_malloc(cap);
    *out = NULL;
    if (!buf)
        return CF_ERR_NOMEM;
    s_cat(buf, cap, &pos,
          "{\"agent\":\"%s\",\"created\":%lld,\"expires\":%lld,\"id\":\"%s\",\"issuer\":\"%s\","
          "\"min_proto\":%u,\"payload\":",
          job->agent, (long long) job->created, (long long) job->expires, job->id, job->issuer,
          job->min_proto);
    if (job->form == CF_JOB_FORM_PEM)
        s_cat(buf, cap, &pos, "{\"chain\":\"%s\",\"form\":\"pem\",\"key\":\"%s\"}", job->chain,
              job->key);
    else if (job->form == CF_JOB_FORM_P12)
        s_cat(buf, cap, &pos, "{\"form\":\"p12\",\"p12\":\"%s\",\"pass\":\"%s\"}", job->p12,
              job->pass);
    else if (job->type == CF_JOB_TYPE_SET_FAVORITE)
        s_cat(buf, cap, &pos, "{\"favorite\":\"%s\"}", job->favorite);
    else if (job->type == CF_JOB_TYPE_REISSUE)
        s_cat(buf, cap, &pos, "{\"cert\":\"%s\"}", job->cert);
    else
        s_cat(buf, cap, &pos, "{}");
    if (sig)
        s_cat(buf, cap, &pos, ",\"sig\":\"%s\"", sig);
    if (job->signer)
        s_cat(buf, cap, &pos, ",\"signer\":\"%s\"", job->signer);
    s_cat(buf, cap, &pos, ",\"type\":\"%s\",\"v\":%d}", cf_job_type_name(job->type), CF_JOB_FORMAT);
    *out = buf;
    *len_out = pos;
    return CF_OK;
}

cf_err_t cf_job_to_wire(const cf_job_t *job, char **out, size_t *len_out)
{
    if (!job || !out || !len_out)
        return CF_ERR_INVALID;
    *out = NULL;
    if (!job->sig || !job->signer)
        return CF_ERR_STATE;
    return cf_job_json(job, 1, out, len_out);
}

/* obj has exactly the n keys named (no missing, no extra). */
static cf_err_t s_keys(const json_t *obj, const char *const *keys, size_t n, const char *where,
                       cf_why_t *why)
{
    if (!json_is_object(obj))
        return cf_why(why, CF_ERR_CORRUPT, "%s is not a JSON object", where);
    for (size_t i = 0; i < n; i++)
        if (!json_object_get(obj, keys[i]))
            return cf_why(why, CF_ERR_CORRUPT, "%s has no \"%s\"", where, keys[i]);
    if (json_object_size(obj) != n)
        return cf_why(why, CF_ERR_CORRUPT, "%s has fields this version does not know", where);
    return CF_OK;
}

/* The value of key, or NULL with why naming the missing key. */
static const json_t *s_get(const json_t *obj, const char *key, cf_why_t *why)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        cf_why(why, CF_ERR_CORRUPT, "job has no \"%s\"", key);
    return v;
}

/* A string of at most cap - 1 bytes copied into dst. */
static cf_err_t s_str(const json_t *obj, const char *key, char *dst, size_t cap, cf_why_t *why)
{
    const json_t *v = s_get(obj, key, why);
    if (!v)
        return CF_ERR_CORRUPT;
    if (!json_is_string(v) || json_string_length(v) >= cap ||
        strlen(json_string_value(v)) != json_string_length(v))
        return cf_why(why, CF_ERR_CORRUPT, "\"%s\" is not a string of at most %zu bytes", key,
                      cap - 1);
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return CF_OK;
}

/* A strict base64 string of at most max decoded bytes, kept as text in *dst. */
static cf_err_t s_b64(const json_t *obj, const char *key, size_t max, char **dst, cf_why_t *why)
{
    const json_t *v = s_get(obj, key, why);
    if (!v)
        return CF_ERR_CORRUPT;
    if (!json_is_string(v) || json_string_length(v) > CF_JOB_MAX_WIRE)
        return cf_why(why, CF_ERR_CORRUPT, "\"%s\" is not a string", key);
    unsigned char *bin = NULL;
    size_t n = 0;
    cf_err_t rc = cf_job_unb64(json_string_value(v), max, &bin, &n);
    if (rc == CF_ERR_NOMEM)
        return rc;
    cf_mem_free(bin);
    if (rc != CF_OK || n == 0)
        return cf_why(why, CF_ERR_CORRUPT, "\"%s\" is not base64 of 1..%zu bytes", key, max);
    *dst = cf_mem_strdup(json_string_value(v));
    return *dst ? CF_OK : CF_ERR_NOMEM;
}

static cf_err_t s_int(const json_t *obj, const char *key, json_int_t max, json_int_t *out,
                      cf_why_t *why)
{
    const json_t *v = s_get(obj, key, why);
    if (!v)
        return CF_ERR_CORRUPT;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
        return cf_why(why, CF_ERR_CORRUPT, "\"%s\" is not an integer in 0..%lld", key,
                      (long long) max);
    *out = json_integer_value(v);
    return CF_OK;
}

static cf_err_t s_take_payload(const json_t *p, cf_job_t *job, cf_why_t *why)
{
    static const char *const pem[] = {"form", "chain", "key"}, *const p12[] = {"form", "p12",
                                                                               "pass"};
    static const char *const fav[] = {"favorite"}, *const reissue[] = {"cert"};
    char form[4];
    if (!json_is_object(p))
        return cf_why(why, CF_ERR_CORRUPT, "payload is not a JSON object");
    switch (job->type) {
    case CF_JOB_TYPE_SET_FAVORITE:
        CF_TRY(s_keys(p, fav, 1, "payload", why));
        return s_str(p, "favorite", job->favorite, sizeof(job->favorite), why);
    case CF_JOB_TYPE_REISSUE:
        CF_TRY(s_keys(p, reissue, 1, "payload", why));
        return s_b64(p, "cert", CF_JOB_MAX_CERT, &job->cert, why);
    case CF_JOB_TYPE_INSTALL_CERT: break;
    default: return s_keys(p, NULL, 0, "payload", why);
    }
    CF_TRY(s_str(p, "form", form, sizeof(form), why));
    size_t max = CF_JOB_MAX_SECRET + CF_JOB_SEAL_OVERHEAD;
    if (strcmp(form, "pem") == 0) {
        CF_TRY(s_keys(p, pem, 3, "payload", why));
        job->form = CF_JOB_FORM_PEM;
        CF_TRY(s_b64(p, "chain", CF_JOB_MAX_CHAIN, &job->chain, why));
        return s_b64(p, "key", max, &job->key, why);
    }
    if (strcmp(form, "p12") == 0) {
        CF_TRY(s_keys(p, p12, 3, "payload", why));
        job->form = CF_JOB_FORM_P12;
        CF_TRY(s_b64(p, "p12", max, &job->p12, why));
        return s_b64(p, "pass", CF_JOB_MAX_PASSWORD + CF_JOB_SEAL_OVERHEAD, &job->pass, why);
    }
    return cf_why(why, CF_ERR_CORRUPT, "payload form must be \"pem\" or \"p12\"");
}

static cf_err_t s_take(const json_t *root, cf_job_t *job, cf_why_t *why)
{
    static const char *const keys[] = {"agent",  "created",   "expires", "id",
                                       "issuer", "min_proto", "payload", "sig",
                                       "signer", "type",      "v"};
    json_int_t v = 0, created = 0, expires = 0, proto = 0;
    const json_t *jv = json_is_object(root) ? json_object_get(root, "v") : NULL;
    if (json_is_integer(jv) && json_integer_value(jv) != CF_JOB_FORMAT)
        return cf_why(why, CF_ERR_UNSUPPORTED, "job format %lld, this agent reads %d",
                      (long long) json_integer_value(jv), CF_JOB_FORMAT);
    CF_TRY(s_keys(root, keys, sizeof(keys) / sizeof(keys[0]), "job", why));
    char type[16];
    CF_TRY(s_int(root, "v", CF_JOB_FORMAT, &v, why));
    CF_TRY(s_str(root, "type", type, sizeof(type), why));
    if (cf_job_type_from_name(type, &job->type) != CF_OK)
        return cf_why(why, CF_ERR_CORRUPT, "unknown job type \"%s\"", type);
    CF_TRY(s_str(root, "id", job->id, sizeof(job->id), why));
    CF_TRY(s_str(root, "agent", job->agent, sizeof(job->agent), why));
    CF_TRY(s_str(root, "issuer", job->issuer, sizeof(job->issuer), why));
    CF_TRY(s_int(root, "created", CF_JOB_MAX_TIME, &created, why));
    CF_TRY(s_int(root, "expires", CF_JOB_MAX_TIME, &expires, why));
    CF_TRY(s_int(root, "min_proto", 255, &proto, why));
    job->created = (time_t) created;
    job->expires = (time_t) expires;
    job->min_proto = (unsigned) proto;
    CF_TRY(s_b64(root, "signer", CF_JOB_MAX_SIGNER, &job->signer, why));
    CF_TRY(s_b64(root, "sig", CF_JOB_MAX_SIG, &job->sig, why));
    return s_take_payload(json_object_get(root, "payload"), job, why);
}

cf_err_t cf_job_parse(const void *buf, size_t len, cf_job_t **out, cf_why_t *why)
{
    if (!out || (!buf && len))
        return CF_ERR_INVALID;
    *out = NULL;
    if (len > CF_JOB_MAX_WIRE)
        return cf_why(why, CF_ERR_TOOBIG, "job of %zu bytes, the cap is %d", len, CF_JOB_MAX_WIRE);
    json_error_t err;
    json_t *root = json_loadb(buf ? buf : "", len, JSON_REJECT_DUPLICATES, &err);
    /* jansson 2.14 reports most allocation failures as an unknown error with no text;
       the rest show up as syntax errors, so an allocation failure may read as CORRUPT */
    int oom = json_error_code(&err) == json_error_out_of_memory ||
              (json_error_code(&err) == json_error_unknown && err.text[0] == '\0');
    if (!root)
        return oom ? CF_ERR_NOMEM : cf_why(why, CF_ERR_CORRUPT, "job is not JSON: %s", err.text);
    cf_job_t *job = cf_mem_calloc(1, sizeof(*job));
    cf_err_t rc = job ? s_take(root, job, why) : CF_ERR_NOMEM;
    if (rc == CF_OK && cf_job_check(job, why) != CF_OK)
        rc = CF_ERR_CORRUPT; /* why names the field */
    json_decref(root);
    if (rc != CF_OK)
        cf_job_destroy(&job);
    *out = job;
    return rc;
}
