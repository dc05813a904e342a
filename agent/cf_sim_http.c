/*  cf_sim_http - the simulator's HTTPS side: enrollments, check-ins and renewals by CSR of
    many agents as concurrent transfers of one libcurl multi handle  */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cf_cert.h"
#include "cf_csr.h"
#include "cf_log.h"
#include "cf_mem.h"
#include "cf_sim_int.h"

static size_t s_write(char *data, size_t size, size_t n, void *ctx)
{
    cf_sim_call_t *c = ctx;
    size_t add = size * n;
    if (add > CF_AGENT_ANSWER_MAX - c->len) {
        c->too_big = 1;
        return 0;
    }
    if (c->len + add + 1 > c->cap) {
        size_t cap = c->cap ? c->cap : 2048;
        while (cap < c->len + add + 1)
            cap *= 2;
        char *nb = cf_mem_realloc(c->body, cap);
        if (!nb)
            return 0;
        c->body = nb;
        c->cap = cap;
    }
    memcpy(c->body + c->len, data, add);
    c->len += add;
    c->body[c->len] = '\0';
    return add;
}

/* Take c off the list of calls in flight and off the multi handle. */
static void s_unlink(cf_sim_t *sim, cf_sim_call_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        sim->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    curl_multi_remove_handle(sim->multi, c->easy);
    sim->agents[c->agent].busy = 0;
    sim->inflight--;
}

static void s_call_free(cf_sim_call_t **cp)
{
    cf_sim_call_t *c = *cp;
    if (!c)
        return;
    if (c->easy)
        curl_easy_cleanup(c->easy);
    curl_slist_free_all(c->hdr);
    curl_slist_free_all(c->map);
    cf_mem_free_secret(c->body, c->cap); /* an answer may carry a certificate offer */
    cf_key_destroy(&c->key);
    cf_mem_free(c);
    *cp = NULL;
}

/* A transfer of agent a to server c->server: POST body to path, TLS with the package's CA
   and the agent's certificate (check-in without one: the plain port while allow-plain is
   on), from the agent's own source address. CF_OK or CF_ERR_IO / CF_ERR_NOMEM. */
static cf_err_t s_easy(cf_sim_t *sim, cf_sim_call_t *c, const char *path, const char *body,
                       int cert)
{
    const cf_agent_server_t *s = &sim->bundle.config.servers.servers[c->server];
    char url[600], map[600], addr[16], iface[24];
    c->easy = curl_easy_init();
    c->hdr = curl_slist_append(NULL, "Content-Type: application/json");
    if (!c->easy || !c->hdr)
        return CF_ERR_NOMEM;
    CURL *e = c->easy;
    int have = 0, bad = cf_sim_tls_setup(sim, c, cert, &have);
    cf_agent_http_t h;
    memset(&h, 0, sizeof(h));
    cf_agent_http_for(&h, s, c->kind == CF_SIM_CALL_CHECKIN && !have);
    snprintf(url, sizeof(url), "%s://%s:%u%s", h.plain ? "http" : "https", h.alias,
             (unsigned) h.port, path);
    snprintf(map, sizeof(map), "%s:%u:%s:%u", h.alias, (unsigned) h.port, h.host,
             (unsigned) h.port);
    c->map = curl_slist_append(NULL, map);
    cf_sim_agent_addr(sim, c->agent, addr);
    snprintf(iface, sizeof(iface), "host!%s", addr);
    long ms = sim->o.timeout_ms;
    bad |= !c->map;
    bad |= curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_CONNECT_TO, c->map) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->hdr) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https,http") != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ms) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ms) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf) != CURLE_OK;
    bad |=
        curl_easy_setopt(e, CURLOPT_USERAGENT, "cf-agent/" CF_AGENT_VERSION " (sim)") != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_INTERFACE, iface) != CURLE_OK;
    /* no DNS cache: every address here is numeric, and each agent's own source address
       would stay in the multi handle's cache for a minute, which curl walks whole at every
       new connection (quadratic in the agents: 9,000 in one process) */
    bad |= curl_easy_setopt(e, CURLOPT_DNS_CACHE_TIMEOUT, 0L) != CURLE_OK;
    /* one short connection per call: no descriptor stays open between check-ins, and no
       TLS session is resumed under another agent's certificate */
    bad |= curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_SSL_SESSIONID_CACHE, 0L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, s_write) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, c) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, c) != CURLE_OK;
    return bad ? CF_ERR_IO : CF_OK;
}

/* The enrollment (or renewal) body; CSR mode makes the key into *key. *out: free(). */
static cf_err_t s_enroll_body(cf_sim_t *sim, size_t a, int csr_mode, int token, cf_key_t **key,
                              char **out)
{
    char id[CF_MSG_AGENT_MAX + 1], z85[CF_CURVE_Z85_LEN + 1], *csr = NULL;
    unsigned char pub[CF_CURVE_KEY_LEN];
    CF_TRY(cf_fleet_identity(sim->fleet, a, id, pub));
    cf_curve_z85_encode(pub, z85);
    if (csr_mode) {
        CF_TRY(cf_key_generate(CF_KEY_P256, key));
        CF_TRY(cf_csr_create(*key, id, &csr));
    }
    json_t *j = json_pack("{s:s,s:s,s:s?,s:s?,s:s,s:i}", "id", id, "curve", z85, "csr", csr,
                          "token", token ? sim->bundle.token : NULL, "version", CF_AGENT_VERSION,
                          "protocol", CF_AGENT_PROTO);
    cf_mem_free(csr);
    *out = j ? json_dumps(j, JSON_COMPACT) : NULL;
    const char *t = json_string_value(json_object_get(j, "token"));
    if (t) /* jansson's copy of the token */
        cf_mem_wipe((char *) t, strlen(t));
    json_decref(j);
    return *out ? CF_OK : CF_ERR_NOMEM;
}

cf_err_t cf_sim_http_start(cf_sim_t *sim, size_t a, cf_sim_call_kind_t kind, const char *job_id)
{
    cf_sim_call_t *c = cf_mem_calloc(1, sizeof(*c));
    if (!c)
        return CF_ERR_NOMEM;
    c->sim = sim;
    c->agent = a;
    c->kind = kind;
    c->server = cf_sim_agent_server(sim, a, sim->agents[a].skip);
    char *body = NULL, id[CF_MSG_AGENT_MAX + 1];
    cf_err_t rc = CF_OK;
    if (kind == CF_SIM_CALL_ENROLL) {
        rc = s_enroll_body(sim, a, !sim->o.push, 1, &c->key, &body);
    } else if (kind == CF_SIM_CALL_RENEW) {
        snprintf(c->job_id, sizeof(c->job_id), "%s", job_id ? job_id : "");
        c->server = cf_sim_agent_server(sim, a, 0);
        rc = s_enroll_body(sim, a, 1, 0, &c->key, &body); /* with its certificate, no token */
    } else {
        snprintf(c->job_id, sizeof(c->job_id), "%s", job_id ? job_id : ""); /* on trial */
        cf_sim_agent_id(sim, a, id);
        /* an install check asks for no jobs, as the real agent's (cf_agent_checkin) */
        json_t *j = json_pack("{s:s,s:s,s:i,s:b}", "id", id, "version", CF_AGENT_VERSION,
                              "protocol", CF_AGENT_PROTO, "jobs", c->job_id[0] == '\0');
        body = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        rc = body ? CF_OK : CF_ERR_NOMEM;
    }
    if (rc == CF_OK)
        rc = s_easy(sim, c,
                    kind == CF_SIM_CALL_CHECKIN ? "/api/v1/agent/checkin" : "/api/v1/agent/enroll",
                    body, kind != CF_SIM_CALL_ENROLL);
    if (body) {
        cf_mem_wipe(body, strlen(body)); /* the token */
        free(body);                      /* jansson's allocator */
    }
    if (rc == CF_OK && curl_multi_add_handle(sim->multi, c->easy) != CURLM_OK)
        rc = CF_ERR_IO;
    if (rc != CF_OK) {
        s_call_free(&c);
        return rc;
    }
    c->next = sim->calls;
    if (c->next)
        c->next->prev = c;
    sim->calls = c;
    sim->agents[a].busy = 1;
    sim->inflight++;
    return CF_OK;
}

/* The certificate of an enrollment or renewal answer: ours (the key's), from our CA;
   installed, on trial for job_id when there is one (a renewal: its check-in decides). */
static cf_err_t s_take_cert(cf_sim_t *sim, size_t a, const char *job_id, const char *pem,
                            const cf_key_t *key, char fpr_out[CF_MSG_FPR_HEX + 1], cf_why_t *why)
{
    cf_cert_t *cert = NULL;
    char *kpem = NULL;
    size_t klen = 0;
    cf_err_t rc = cf_cert_parse(pem, strlen(pem), &cert);
    if (rc != CF_OK)
        return cf_why(why, rc, "the certificate answered does not parse");
    rc = cf_cert_matches_key(cert, key);
    if (rc != CF_OK)
        rc = cf_why(why, CF_ERR_KEYMISMATCH, "the certificate answered is not for our key");
    if (rc == CF_OK)
        rc = cf_cert_verify(cert, sim->ca, NULL, 0, time(NULL), why);
    if (rc == CF_OK)
        rc = cf_key_to_pem(key, NULL, &kpem, &klen);
    if (rc == CF_OK)
        rc = job_id ? cf_sim_agent_try(sim, a, job_id, pem, kpem, cert, why)
                    : cf_sim_agent_install(sim, a, pem, kpem, cert, 1, why);
    if (rc == CF_OK && fpr_out)
        snprintf(fpr_out, CF_MSG_FPR_HEX + 1, "%s", cf_cert_fingerprint(cert));
    if (kpem)
        cf_mem_free_secret(kpem, klen);
    cf_cert_destroy(&cert);
    return rc;
}

/* The server's error message of an answer, into why with rc. */
static cf_err_t s_refusal(const char *body, long status, cf_err_t rc, cf_why_t *why)
{
    json_t *j = body ? json_loads(body, 0, NULL) : NULL;
    const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    rc = cf_why(why, rc, "HTTP %ld: %s", status, msg ? msg : "no message");
    json_decref(j);
    return rc;
}

/* A 200 enrollment answer: the certificate in CSR mode; the agent goes on line soon. */
static cf_err_t s_enrolled(cf_sim_t *sim, cf_sim_call_t *c, cf_why_t *why)
{
    json_t *j = c->body ? json_loads(c->body, 0, NULL) : NULL;
    const char *pem = json_string_value(json_object_get(j, "cert"));
    cf_err_t rc = CF_OK;
    if (!json_is_object(j))
        rc = cf_why(why, CF_ERR_CORRUPT, "the enrollment answer is not JSON");
    else if (c->key && !pem)
        rc = cf_why(why, CF_ERR_CORRUPT, "the enrollment answer has no certificate for the CSR");
    else if (c->key)
        rc = s_take_cert(sim, c->agent, NULL, pem, c->key, NULL, why);
    json_decref(j);
    if (rc == CF_OK) { /* on line a little later: the brokers learn the key through Redis */
        sim->agents[c->agent].online_ms = cf_sim_now_ms() + CF_SIM_ONLINE_DELAY_MS;
        sim->n_online_due++;
    }
    return rc;
}

/* Try again after the agent's back-off, at another server when there is one. */
static void s_retry(cf_sim_t *sim, cf_sim_call_t *c)
{
    cf_sim_agent_t *ag = &sim->agents[c->agent];
    cf_agent_backoff_t b = {CF_SIM_RETRY_MIN, CF_SIM_RETRY_MAX, ag->backoff_ms};
    uint32_t d = cf_agent_backoff_next(&b);
    ag->backoff_ms = b.cur_ms;
    ag->next_ms = cf_sim_now_ms() + d;
    ag->skip = (uint8_t) (c->server + 1);
}

static void s_finish_enroll(cf_sim_t *sim, cf_sim_call_t *c, CURLcode cc, long status)
{
    cf_sim_agent_t *ag = &sim->agents[c->agent];
    cf_why_t why = {""};
    cf_err_t rc = CF_ERR_IO;
    if (cc != CURLE_OK)
        rc = cf_why(&why, CF_ERR_IO, "%s", c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc));
    else if (status == 200)
        rc = s_enrolled(sim, c, &why);
    else
        rc = s_refusal(c->body, status,
                       status == 401 || status == 403 || status == 409 || status == 422
                           ? CF_ERR_POLICY
                           : CF_ERR_IO,
                       &why);
    char id[CF_MSG_AGENT_MAX + 1];
    cf_sim_agent_id(sim, c->agent, id);
    if (rc == CF_OK && sim->state_dir)
        rc = cf_sim_state_save_curve(sim, c->agent, &why);
    if (rc == CF_OK) {
        ag->phase = CF_SIM_ENROLLED;
        ag->backoff_ms = 0;
        ag->skip = 0;
        atomic_store(&ag->due, 1);
        cf_log(CF_LOG_DEBUG, "agent=%s enrolled=yes cert=%s", id, c->key ? "own" : "none");
        return;
    }
    sim->enroll_fails++;
    cf_log(CF_LOG_INFO, "agent=%s enroll=failed why=\"%s\"", id, cf_why_text(&why, rc));
    if (rc == CF_ERR_POLICY && status == 409 && !sim->state_dir) {
        cf_why_t first = why;
        cf_why(&why, rc,
               "%s (an earlier run enrolled this id with another key: keep keys with "
               "--state-dir, or take another --id-prefix)",
               cf_why_text(&first, rc));
    }
    if (rc == CF_ERR_POLICY) {
        ag->phase = CF_SIM_REFUSED;
        sim->n_refused++;
        snprintf(sim->last_refusal, sizeof(sim->last_refusal), "%s", cf_why_text(&why, rc));
        return;
    }
    s_retry(sim, c);
}

static cf_sim_lock_t s_lock(const char *text)
{
    static const char *names[] = {"", "insecure", "secure", "attention", "expired"};
    for (size_t i = 1; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(text, names[i]) == 0)
            return (cf_sim_lock_t) i;
    return CF_SIM_LOCK_NONE;
}

/* Jobs in a check-in answer also come over the broker. One this agent has not applied
   means its JOB was lost on the way (or is on it right now): the link is closed and opened
   again, and the server hands an agent its open jobs at its HELLO. */
static void s_polled(cf_sim_t *sim, size_t a, const cf_agent_answer_t *ans)
{
    int unknown = 0;
    for (size_t i = 0; i < ans->n_jobs && !unknown; i++) {
        json_t *j = json_loads(ans->jobs[i], 0, NULL);
        const char *id = json_string_value(json_object_get(j, "id"));
        unknown = id && !cf_sim_agent_applied(sim, a, id);
        json_decref(j);
    }
    sim->polled += ans->n_jobs;
    if (unknown && cf_fleet_set_online(sim->fleet, a, 0) == CF_OK &&
        cf_fleet_set_online(sim->fleet, a, 1) == CF_OK)
        sim->rehellos++;
}

static void s_finish_checkin(cf_sim_t *sim, cf_sim_call_t *c, CURLcode cc, long status)
{
    cf_sim_agent_t *ag = &sim->agents[c->agent];
    cf_agent_answer_t ans;
    memset(&ans, 0, sizeof(ans));
    cf_why_t why = {""};
    cf_err_t rc = cc != CURLE_OK ? CF_ERR_IO : status != 200 ? CF_ERR_POLICY : CF_OK;
    if (rc == CF_OK)
        rc = cf_agent_answer_parse(c->body ? c->body : "", c->len, &ans, &why);
    if (rc != CF_OK) {
        char id[CF_MSG_AGENT_MAX + 1];
        cf_sim_agent_id(sim, c->agent, id);
        cf_log(CF_LOG_INFO, "agent=%s checkin=failed status=%ld why=\"%s\"", id, status,
               cc != CURLE_OK ? (c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc))
                              : cf_why_text(&why, rc));
        sim->checkin_fails++;
        /* no working server (none reachable, or one that could not store it: a Redis
           failover) says nothing of the certificate: the trial waits for the next try */
        int transient = cf_sim_check_transient(cc, status, c->alert);
        if (c->job_id[0] && !(transient && cf_sim_agent_check_again(sim, c->agent, c->job_id))) {
            cf_why_t cw = {""};
            cf_why(&cw, rc, "HTTP %ld: %s", status,
                   cc != CURLE_OK ? (c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc))
                                  : cf_why_text(&why, rc));
            cf_sim_jobs_checked(sim, c->agent, c->job_id, rc, &cw);
        }
        s_retry(sim, c);
        return;
    }
    sim->checkins++;
    if (c->job_id[0]) { /* the real agent's check: the server took the pair and says secure */
        cf_err_t crc = strcmp(ans.lock, "secure") == 0
                           ? CF_OK
                           : cf_why(&why, CF_ERR_UNTRUSTED,
                                    "the server records the new certificate as '%s'", ans.lock);
        cf_sim_jobs_checked(sim, c->agent, c->job_id, crc, &why);
    }
    s_polled(sim, c->agent, &ans);
    ag->lock = (uint8_t) s_lock(ans.lock);
    ag->backoff_ms = 0;
    ag->skip = 0;
    pthread_mutex_lock(&sim->mu);
    snprintf(ag->favorite, sizeof(ag->favorite), "%s", ans.favorite);
    pthread_mutex_unlock(&sim->mu);
    uint32_t base = (sim->o.interval ? sim->o.interval : ans.interval) * 1000u;
    ag->next_ms = cf_sim_now_ms() + cf_agent_jitter(base, 10);
    cf_agent_answer_clear(&ans);
}

/* A renewal's answer: the certificate installed, the outcome to the fleet. No retry: the
   job failed (an operator may retry it). */
static void s_finish_renew(cf_sim_t *sim, cf_sim_call_t *c, CURLcode cc, long status)
{
    cf_why_t why = {""};
    char fpr[CF_MSG_FPR_HEX + 1] = "";
    const char *alias = sim->bundle.config.servers.servers[c->server].alias;
    cf_err_t rc = CF_OK;
    if (cc != CURLE_OK)
        rc = cf_why(&why, CF_ERR_IO, "renewal at %s: %s", alias,
                    c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc));
    else if (status != 200)
        rc = s_refusal(c->body, status, CF_ERR_POLICY, &why);
    json_t *j = rc == CF_OK ? json_loads(c->body ? c->body : "", 0, NULL) : NULL;
    const char *pem = json_string_value(json_object_get(j, "cert"));
    if (rc == CF_OK && !pem)
        rc = cf_why(&why, CF_ERR_CORRUPT, "the renewal answer of %s has no certificate", alias);
    if (rc == CF_OK)
        rc = s_take_cert(sim, c->agent, c->job_id, pem, c->key, fpr, &why);
    json_decref(j);
    cf_sim_jobs_renewed(sim, c->agent, c->job_id, rc, fpr, &why);
}

void cf_sim_http_collect(cf_sim_t *sim)
{
    CURLMsg *m;
    int left = 0;
    while ((m = curl_multi_info_read(sim->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        cf_sim_call_t *c = NULL;
        long status = 0;
        CURLcode cc = m->data.result;
        CURL *e = m->easy_handle;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **) &c);
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        if (!c) {
            curl_multi_remove_handle(sim->multi, e);
            continue;
        }
        s_unlink(sim, c);
        if (c->too_big && cc == CURLE_OK)
            cc = CURLE_WRITE_ERROR;
        if (c->kind == CF_SIM_CALL_ENROLL)
            s_finish_enroll(sim, c, cc, status);
        else if (c->kind == CF_SIM_CALL_RENEW)
            s_finish_renew(sim, c, cc, status);
        else
            s_finish_checkin(sim, c, cc, status);
        s_call_free(&c);
    }
}

void cf_sim_http_abort(cf_sim_t *sim)
{
    while (sim->calls) {
        cf_sim_call_t *c = sim->calls;
        s_unlink(sim, c);
        s_call_free(&c);
    }
}
