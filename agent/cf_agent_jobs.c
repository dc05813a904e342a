/*  cf_agent_jobs - the real agent's jobs: verify (cf_job_verifier), carry out on disk,
    remember them across restarts (replay memory, jobs.json) and keep their reports until
    a server acknowledges them  */
#include "cf_agent_jobs.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cf_file.h"
#include "cf_key.h"
#include "cf_log.h"
#include "cf_mem.h"

#define S_MEMORY_MAX (CF_AGENT_JOBS_MEMORY * 1024) /* largest jobs.json, bytes */

typedef struct {
    cf_agent_report_t r; /* the outcome as reported */
    int64_t expires;     /* the job's expiry (0: unknown, a refused job) */
    int acked;           /* the report was acknowledged */
} s_rec_t;

struct cf_agent_jobs {
    cf_agent_jobs_cfg_t cfg;            /* hooks (id and kp point at our copies) */
    char id[CF_JOB_ALIAS_MAX + 1];      /* agent id */
    cf_curve_keypair_t kp;              /* CURVE keypair (secret wiped at destroy) */
    char path[PATH_MAX];                /* jobs.json */
    cf_job_verifier_t *verifier;        /* made at the first job */
    s_rec_t recs[CF_AGENT_JOBS_MEMORY]; /* memory, oldest first */
    size_t n;                           /* used */
    char last[CF_JOB_ID_HEX + CF_AGENT_REASON_MAX + 16]; /* last outcome, for status */
    uint64_t installed;                                  /* jobs carried out (this process) */
    uint64_t failed;                                     /* jobs refused or failed */
};

static s_rec_t *s_find(cf_agent_jobs_t *self, const char *job)
{
    for (size_t i = 0; i < self->n; i++)
        if (strcmp(self->recs[i].r.job, job) == 0)
            return &self->recs[i];
    return NULL;
}

static cf_err_t s_save(const cf_agent_jobs_t *self, cf_why_t *why)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < self->n; i++) {
        const s_rec_t *x = &self->recs[i];
        json_array_append_new(arr, json_pack("{s:s, s:b, s:s, s:s, s:I, s:b}", "job", x->r.job,
                                             "installed", x->r.installed, "reason", x->r.reason,
                                             "fpr", x->r.fpr, "expires", (json_int_t) x->expires,
                                             "acked", x->acked));
    }
    char *text = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    if (!text)
        return CF_ERR_NOMEM;
    cf_err_t rc = cf_file_write_atomic(self->path, text, strlen(text), 0600, why);
    free(text); /* jansson's allocator */
    return rc;
}

static cf_err_t s_load(cf_agent_jobs_t *self, cf_why_t *why)
{
    char *buf = NULL;
    size_t len = 0;
    cf_err_t rc = cf_file_read(self->path, S_MEMORY_MAX, &buf, &len, why);
    if (rc == CF_ERR_NOTFOUND)
        return CF_OK;
    CF_TRY(rc);
    json_t *arr = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
    cf_mem_free(buf);
    rc =
        json_is_array(arr) && json_array_size(arr) <= CF_AGENT_JOBS_MEMORY ? CF_OK : CF_ERR_CORRUPT;
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        const char *job = NULL, *reason = NULL, *fpr = NULL;
        int installed = 0, acked = 0;
        json_int_t expires = 0;
        if (rc != CF_OK ||
            json_unpack(e, "{s:s, s:b, s:s, s:s, s:I, s:b}", "job", &job, "installed", &installed,
                        "reason", &reason, "fpr", &fpr, "expires", &expires, "acked",
                        &acked) != 0 ||
            strlen(job) != CF_JOB_ID_HEX || strlen(reason) > CF_AGENT_REASON_MAX ||
            strlen(fpr) > CF_AGENT_FPR_HEX) {
            rc = CF_ERR_CORRUPT;
            break;
        }
        s_rec_t *x = &self->recs[self->n++];
        snprintf(x->r.job, sizeof(x->r.job), "%s", job);
        snprintf(x->r.reason, sizeof(x->r.reason), "%s", reason);
        snprintf(x->r.fpr, sizeof(x->r.fpr), "%s", fpr);
        x->r.installed = installed;
        x->expires = expires;
        x->acked = acked;
    }
    json_decref(arr);
    if (rc == CF_OK && self->n) {
        const cf_agent_report_t *r = &self->recs[self->n - 1].r;
        snprintf(self->last, sizeof(self->last), "%s %s%s%s", r->job,
                 r->installed ? "installed" : "failed", r->installed ? "" : ": ", r->reason);
    }
    if (rc != CF_OK)
        return cf_why(why, rc, "%s is damaged (move it away to forget the jobs it holds)",
                      self->path);
    return CF_OK;
}

cf_err_t cf_agent_jobs_new(const cf_agent_jobs_cfg_t *cfg, cf_agent_jobs_t **out, cf_why_t *why)
{
    if (!cfg || !out || !cfg->dir || !cfg->id || !cfg->ca || !cfg->kp ||
        strlen(cfg->id) > CF_JOB_ALIAS_MAX)
        return cf_why(why, CF_ERR_INVALID, "incomplete job handler configuration");
    cf_agent_jobs_t *self = cf_mem_calloc(1, sizeof(*self));
    if (!self)
        return CF_ERR_NOMEM;
    self->cfg = *cfg;
    snprintf(self->id, sizeof(self->id), "%s", cfg->id);
    self->kp = *cfg->kp;
    self->cfg.id = self->id;
    self->cfg.kp = &self->kp;
    cf_err_t rc = CF_ERR_INVALID;
    if (snprintf(self->path, sizeof(self->path), "%s/" CF_AGENT_JOBS_FILE, cfg->dir) >=
        (int) sizeof(self->path))
        goto out;
    rc = s_load(self, why);
    if (rc == CF_OK)
        rc = cf_job_verifier_new(cfg->ca, self->id, &self->verifier);
out:
    if (rc != CF_OK)
        cf_agent_jobs_destroy(&self);
    *out = self;
    return rc;
}

void cf_agent_jobs_destroy(cf_agent_jobs_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_agent_jobs_t *self = *self_p;
    cf_job_verifier_destroy(&self->verifier);
    cf_mem_wipe(&self->kp, sizeof(self->kp));
    cf_mem_free(self);
    *self_p = NULL;
}

/* The verifier's replay question: a job carried out here is a replay; one that failed is
   not (an operator's retry runs). */
static cf_err_t s_seen(void *ctx, const char *job_id)
{
    s_rec_t *x = s_find(ctx, job_id);
    return x && x->r.installed ? CF_ERR_EXISTS : CF_OK;
}

static cf_err_t s_install(cf_agent_jobs_t *self, const cf_job_t *job, char *fpr, cf_why_t *why)
{
    char *chain = NULL, *kpem = NULL;
    size_t clen = 0, klen = 0;
    cf_err_t rc =
        cf_job_install_pems(job, self->kp.pub, self->kp.sec, &chain, &clen, &kpem, &klen, why);
    if (rc == CF_OK)
        rc = cf_agent_certs_install(self->cfg.dir, chain, clen, kpem, klen, self->cfg.check,
                                    self->cfg.check_ctx, fpr, why);
    cf_mem_free(chain);
    if (kpem)
        cf_mem_free_secret(kpem, klen);
    return rc;
}

/* reissue: the new certificate must chain to our CA, name us and certify the key in use;
   it is installed with that key the safe way (the previous pair is kept until the check
   passes). The key never leaves this directory. */
static cf_err_t s_reissue(cf_agent_jobs_t *self, const cf_job_t *job, time_t now, char *fpr,
                          cf_why_t *why)
{
    char path[PATH_MAX], *kpem = NULL, *pem = NULL;
    size_t klen = 0, plen = 0;
    cf_key_t *key = NULL;
    cf_cert_t *cert = NULL;
    if (snprintf(path, sizeof(path), "%s/" CF_AGENT_KEY_FILE, self->cfg.dir) >= (int) sizeof(path))
        return cf_why(why, CF_ERR_INVALID, "state directory path too long");
    cf_err_t rc = cf_file_read_ex(path, CF_AGENT_CERTS_MAX, CF_FILE_SECRET, &kpem, &klen, why);
    if (rc == CF_ERR_NOTFOUND)
        rc = cf_why(why, CF_ERR_STATE,
                    "no key installed here: nothing to reissue a certificate for");
    if (rc == CF_OK && cf_key_from_pem(kpem, klen, NULL, &key) != CF_OK)
        rc = cf_why(why, CF_ERR_CORRUPT, "the key in use (%s) does not parse", path);
    if (rc == CF_OK)
        rc = cf_job_reissue_cert(job, self->cfg.ca, key, now, &cert, why);
    if (rc == CF_OK)
        rc = cf_cert_to_pem(cert, &pem, &plen);
    if (rc == CF_OK)
        rc = cf_agent_certs_install(self->cfg.dir, pem, plen, kpem, klen, self->cfg.check,
                                    self->cfg.check_ctx, fpr, why);
    cf_mem_free(pem);
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
    if (kpem)
        cf_mem_free_secret(kpem, klen);
    return rc;
}

/* Carry out a verified job; fpr (in: in use) becomes the certificate in use after it. */
static cf_err_t s_apply(cf_agent_jobs_t *self, const cf_job_t *job, time_t now, char *fpr,
                        cf_why_t *why)
{
    switch (cf_job_type(job)) {
    case CF_JOB_TYPE_INSTALL_CERT: return s_install(self, job, fpr, why);
    case CF_JOB_TYPE_REISSUE: return s_reissue(self, job, now, fpr, why);
    case CF_JOB_TYPE_RENEW_CSR:
        if (!self->cfg.renew)
            return cf_why(why, CF_ERR_UNSUPPORTED, "renewal is not possible here");
        return self->cfg.renew(self->cfg.renew_ctx, fpr, why);
    case CF_JOB_TYPE_SET_FAVORITE:
        if (self->cfg.favorite)
            self->cfg.favorite(self->cfg.favorite_ctx, cf_job_favorite(job));
        return CF_OK;
    case CF_JOB_TYPE_RECHECK: return CF_OK; /* the report carries the fingerprint in use */
    default:
        return cf_why(why, CF_ERR_UNSUPPORTED, "job type %d is not known here",
                      (int) cf_job_type(job));
    }
}

/* The job id of untrusted JSON, for reporting a refusal; "" when there is none. */
static void s_peek_id(const char *text, size_t len, char id[CF_JOB_ID_HEX + 1])
{
    id[0] = '\0';
    json_t *j = json_loadb(text, len, 0, NULL);
    const char *s = json_string_value(json_object_get(j, "id"));
    if (s && strlen(s) == CF_JOB_ID_HEX && strspn(s, "0123456789abcdef") == CF_JOB_ID_HEX)
        memcpy(id, s, CF_JOB_ID_HEX + 1);
    json_decref(j);
}

/* Room for one more record: forget the oldest acknowledged one that can be forgotten. */
static s_rec_t *s_slot(cf_agent_jobs_t *self, time_t now)
{
    if (self->n == CF_AGENT_JOBS_MEMORY) {
        size_t k = 0;
        while (k < self->n && !(self->recs[k].acked &&
                                (!self->recs[k].r.installed || self->recs[k].expires < now)))
            k++;
        if (k == self->n)
            k = 0; /* all waiting or live: the oldest goes (its expiry guards replays) */
        memmove(&self->recs[k], &self->recs[k + 1], (self->n - k - 1) * sizeof(s_rec_t));
        self->n--;
    }
    s_rec_t *x = &self->recs[self->n++];
    memset(x, 0, sizeof(*x));
    return x;
}

/* A job this agent has an outcome for, taken again. While its report is queued it is not
   run twice. One carried out here already and sent again (a second server, a HELLO or a
   check-in before the entry was final) gets its original outcome reported again, never a
   replay failure in its place. (A failed one runs again: an operator's retry.) */
static cf_err_t s_again(cf_agent_jobs_t *self, s_rec_t *old, cf_why_t *why)
{
    if (!old->acked)
        return CF_OK;
    old->acked = 0;
    return s_save(self, why);
}

cf_err_t cf_agent_jobs_take(cf_agent_jobs_t *self, const char *text, size_t len, time_t now,
                            const char *fpr, cf_why_t *why)
{
    if (!self || !text)
        return CF_ERR_INVALID;
    char id[CF_JOB_ID_HEX + 1], out_fpr[CF_AGENT_FPR_HEX + 1];
    s_peek_id(text, len, id);
    s_rec_t *old = id[0] ? s_find(self, id) : NULL;
    if (old && (!old->acked || old->r.installed))
        return s_again(self, old, why);
    snprintf(out_fpr, sizeof(out_fpr), "%s", fpr ? fpr : "");
    cf_job_t *job = NULL;
    cf_why_t jwhy = {""};
    cf_err_t rc = cf_job_verifier_check(self->verifier, text, len, now, s_seen, self, &job, &jwhy);
    if (rc == CF_OK)
        rc = s_apply(self, job, now, out_fpr, &jwhy);
    cf_log(rc == CF_OK ? CF_LOG_INFO : CF_LOG_WARN, "job=%s outcome=%s why=\"%s\"",
           id[0] ? id : "-", rc == CF_OK ? "installed" : "failed",
           rc == CF_OK ? "" : cf_why_text(&jwhy, rc));
    if (rc == CF_OK)
        self->installed++;
    else
        self->failed++;
    if (!id[0]) {
        cf_job_destroy(&job);
        return CF_OK; /* nothing to report it under */
    }
    if (old) {
        memmove(old, old + 1, (size_t) (&self->recs[self->n] - (old + 1)) * sizeof(s_rec_t));
        self->n--;
    }
    s_rec_t *x = s_slot(self, now);
    snprintf(x->r.job, sizeof(x->r.job), "%s", id);
    x->r.installed = rc == CF_OK;
    snprintf(x->r.reason, sizeof(x->r.reason), "%s", rc == CF_OK ? "" : cf_why_text(&jwhy, rc));
    snprintf(x->r.fpr, sizeof(x->r.fpr), "%s", out_fpr);
    x->expires = job ? (int64_t) cf_job_expires(job) : 0;
    snprintf(self->last, sizeof(self->last), "%s %s%s%s", id, rc == CF_OK ? "installed" : "failed",
             rc == CF_OK ? "" : ": ", x->r.reason);
    cf_job_destroy(&job);
    return s_save(self, why);
}

size_t cf_agent_jobs_pending(const cf_agent_jobs_t *self, cf_agent_report_t *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; self && i < self->n && n < cap; i++)
        if (!self->recs[i].acked)
            out[n++] = self->recs[i].r;
    return n;
}

cf_err_t cf_agent_jobs_acked(cf_agent_jobs_t *self, const char *job, time_t now, cf_why_t *why)
{
    (void) now;
    s_rec_t *x = self && job ? s_find(self, job) : NULL;
    if (!x || x->acked)
        return CF_ERR_NOTFOUND;
    x->acked = 1;
    return s_save(self, why);
}

int cf_agent_jobs_outcome(const cf_agent_jobs_t *self, const char *job, cf_agent_report_t *out,
                          int64_t *expires_out)
{
    for (size_t i = 0; self && job && i < self->n; i++)
        if (strcmp(self->recs[i].r.job, job) == 0) {
            *out = self->recs[i].r;
            if (expires_out)
                *expires_out = self->recs[i].expires;
            return 1;
        }
    return 0;
}

const char *cf_agent_jobs_last(const cf_agent_jobs_t *self)
{
    return self ? self->last : "";
}

void cf_agent_jobs_counts(const cf_agent_jobs_t *self, uint64_t *installed, uint64_t *failed)
{
    *installed = self ? self->installed : 0;
    *failed = self ? self->failed : 0;
}
