/*  cf_agent_renew - the agent renews its own certificate by CSR: when it is due, the call
    to the server, and the renewal state (attempts, failures, back-off) kept on disk  */
#include "cf_agent_renew.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cf_csr.h"
#include "cf_file.h"
#include "cf_key.h"
#include "cf_log.h"
#include "cf_mem.h"

#define S_STATE_MAX 8192 /* largest renew.json read, bytes */

static cf_err_t s_path(const char *dir, char *buf, size_t cap, cf_why_t *why)
{
    if (!dir || snprintf(buf, cap, "%s/" CF_AGENT_RENEW_FILE, dir) >= (int) cap)
        return cf_why(why, CF_ERR_INVALID, "the state directory path is too long");
    return CF_OK;
}

static void s_fresh(cf_agent_renew_state_t *st)
{
    memset(st, 0, sizeof(*st));
    snprintf(st->state, sizeof(st->state), "none");
}

cf_err_t cf_agent_renew_load(const char *dir, cf_agent_renew_state_t *st, cf_why_t *why)
{
    char path[PATH_MAX], *buf = NULL;
    size_t len = 0;
    if (!st)
        return CF_ERR_INVALID;
    s_fresh(st);
    CF_TRY(s_path(dir, path, sizeof(path), why));
    cf_err_t rc = cf_file_read(path, S_STATE_MAX, &buf, &len, why);
    if (rc == CF_ERR_NOTFOUND)
        return CF_OK;
    if (rc != CF_OK)
        return rc;
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
    cf_mem_free(buf);
    json_int_t failures = 0, attempts = 0, renewed = 0, due = 0, next = 0, last = 0, bo = 0;
    const char *state = NULL, *err = NULL;
    if (json_unpack(j, "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:I}", "state", &state, "failures",
                    &failures, "attempts", &attempts, "renewed", &renewed, "due_at", &due,
                    "next_try", &next, "last_success", &last, "last_error", &err, "backoff_ms",
                    &bo) != 0 ||
        strlen(state) >= sizeof(st->state) || strlen(err) >= sizeof(st->last_error) ||
        failures < 0 || failures > UINT32_MAX || attempts < 0 || renewed < 0 || bo < 0 ||
        bo > UINT32_MAX) {
        json_decref(j);
        return cf_why(why, CF_ERR_CORRUPT, "%s is not a renewal state", path);
    }
    snprintf(st->state, sizeof(st->state), "%s", state);
    snprintf(st->last_error, sizeof(st->last_error), "%s", err);
    st->failures = (uint32_t) failures;
    st->attempts = (uint64_t) attempts;
    st->renewed = (uint64_t) renewed;
    st->due_at = due;
    st->next_try = next;
    st->last_success = last;
    st->backoff_ms = (uint32_t) bo;
    json_decref(j);
    return CF_OK;
}

cf_err_t cf_agent_renew_save(const char *dir, const cf_agent_renew_state_t *st, cf_why_t *why)
{
    char path[PATH_MAX];
    if (!st)
        return CF_ERR_INVALID;
    CF_TRY(s_path(dir, path, sizeof(path), why));
    json_t *j =
        json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:I}", "state", st->state, "failures",
                  (json_int_t) st->failures, "attempts", (json_int_t) st->attempts, "renewed",
                  (json_int_t) st->renewed, "due_at", (json_int_t) st->due_at, "next_try",
                  (json_int_t) st->next_try, "last_success", (json_int_t) st->last_success,
                  "last_error", st->last_error, "backoff_ms", (json_int_t) st->backoff_ms);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return CF_ERR_NOMEM;
    cf_err_t rc = cf_file_write_atomic(path, text, strlen(text), 0600, why);
    free(text); /* jansson's allocator */
    return rc;
}

int cf_agent_renew_check(cf_agent_renew_state_t *st, const cf_cert_t *cert, unsigned days_before,
                         time_t now)
{
    if (!cert) {
        st->due_at = 0;
        snprintf(st->state, sizeof(st->state), "none");
        return 0;
    }
    st->due_at = (int64_t) cf_cert_renew_at(cert, days_before);
    int due = (int64_t) now >= st->due_at;
    if (strcmp(st->state, "failing") != 0 || !due)
        snprintf(st->state, sizeof(st->state), "%s", due ? "due" : "ok");
    if (!due) {
        st->failures = 0; /* a certificate renewed by a push install, say */
        st->next_try = 0;
    }
    return due && (int64_t) now >= st->next_try;
}

void cf_agent_renew_record(cf_agent_renew_state_t *st, cf_err_t rc, const cf_why_t *why, time_t now)
{
    st->attempts++;
    if (rc == CF_OK) {
        st->renewed++;
        st->failures = 0;
        st->next_try = 0;
        st->backoff_ms = 0;
        st->last_success = now;
        st->last_error[0] = '\0';
        snprintf(st->state, sizeof(st->state), "ok");
        return;
    }
    st->failures++;
    snprintf(st->last_error, sizeof(st->last_error), "%s", cf_why_text(why, rc));
    snprintf(st->state, sizeof(st->state), "failing");
    cf_agent_backoff_t b = {.min_ms = CF_AGENT_RENEW_RETRY_MS,
                            .max_ms = CF_AGENT_RENEW_MAX_MS,
                            .cur_ms = st->backoff_ms};
    uint32_t d = cf_agent_backoff_next(&b);
    st->backoff_ms = b.cur_ms;
    st->next_try = (int64_t) now + (d + 999) / 1000;
}

/* The request body: id, CURVE key, CSR. */
static char *s_body(const cf_agent_renew_req_t *req, const char *csr)
{
    char z85[CF_CURVE_Z85_LEN + 1];
    cf_curve_z85_encode(req->curve_pub, z85);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:i}", "id", req->id, "curve", z85, "csr", csr,
                          "version", CF_AGENT_VERSION, "protocol", CF_AGENT_PROTO);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return text;
}

/* POST the enrollment and take the certificate PEM from a 200 answer. */
static cf_err_t s_enroll(const cf_agent_renew_req_t *req, const char *csr, char **cert_out,
                         cf_why_t *why)
{
    char *body = s_body(req, csr), *answer = NULL;
    if (!body)
        return CF_ERR_NOMEM;
    long status = 0;
    cf_err_t rc =
        cf_agent_http_post(req->http, "/api/v1/agent/enroll", body, &status, &answer, why);
    free(body); /* jansson's allocator */
    if (rc != CF_OK)
        return rc;
    json_t *j = json_loads(answer, 0, NULL);
    cf_mem_free(answer);
    const char *pem = json_string_value(json_object_get(j, "cert"));
    if (status != 200) {
        const char *msg =
            json_string_value(json_object_get(json_object_get(j, "error"), "message"));
        rc = cf_why(why, CF_ERR_POLICY, "enroll at %s: HTTP %ld: %s", req->http->alias, status,
                    msg ? msg : "no message");
    } else if (!pem) {
        rc = cf_why(why, CF_ERR_CORRUPT, "enroll at %s: the answer has no certificate",
                    req->http->alias);
    } else {
        *cert_out = cf_mem_strdup(pem);
        rc = *cert_out ? CF_OK : CF_ERR_NOMEM;
    }
    json_decref(j);
    return rc;
}

cf_err_t cf_agent_renew_now(const cf_agent_renew_req_t *req, char fpr_out[CF_AGENT_FPR_HEX + 1],
                            cf_why_t *why)
{
    if (!req || !req->dir || !req->id || !req->curve_pub || !req->http)
        return cf_why(why, CF_ERR_INVALID, "incomplete renewal request");
    cf_key_t *key = NULL;
    char *csr = NULL, *cert = NULL, *kpem = NULL;
    size_t klen = 0;
    cf_err_t rc = cf_key_generate(CF_KEY_P256, &key);
    if (rc == CF_OK)
        rc = cf_csr_create(key, req->id, &csr);
    if (rc == CF_OK)
        rc = cf_key_to_pem(key, NULL, &kpem, &klen);
    if (rc != CF_OK) {
        rc = cf_why(why, rc, "cannot make a key and a CSR: %s", cf_err_str(rc));
        goto out;
    }
    rc = s_enroll(req, csr, &cert, why);
    if (rc == CF_OK)
        rc = cf_agent_certs_install(req->dir, cert, strlen(cert), kpem, klen, req->check,
                                    req->check_ctx, fpr_out, why);
out:
    cf_key_destroy(&key);
    cf_mem_free(csr);
    cf_mem_free(cert);
    if (kpem)
        cf_mem_free_secret(kpem, klen);
    return rc;
}
