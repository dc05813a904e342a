/*  cf_api_metrics - GET /metrics: Prometheus text format (counters of this process, and the
    fleet's agents by lock state and component certificates by state, read from Redis)  */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cf_app.h"
#include "cf_db_agent.h"
#include "cf_db_cert.h"
#include "cf_db_crl.h"
#include "cf_mem.h"

#define S_MAX 16384 /* the page, bytes */

typedef struct {
    char buf[S_MAX]; /* the page */
    size_t len;      /* bytes used */
} s_page_t;

static void s_add(s_page_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void s_add(s_page_t *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p->buf + p->len, S_MAX - p->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        p->len = p->len + (size_t) n < S_MAX ? p->len + (size_t) n : S_MAX - 1;
}

static void s_counters(s_page_t *p, const cf_app_t *app)
{
    for (int c = 0; c < CF_APP_COUNTERS; c++) {
        const char *name = cf_app_counter_name((cf_app_counter_t) c);
        s_add(p, "# TYPE %s counter\n%s{alias=\"%s\"} %llu\n", name, name, cf_app_alias(app),
              (unsigned long long) cf_app_counter(app, (cf_app_counter_t) c));
    }
}

static cf_err_t s_agents(s_page_t *p, cf_store_t *store)
{
    cf_db_agent_counts_t counts;
    CF_TRY(cf_db_agent_counts(store, &counts));
    s_add(p, "# TYPE cf_agents gauge\n");
    for (int l = 0; l < CF_DB_LOCK_COUNT; l++)
        s_add(p, "cf_agents{lock=\"%s\"} %lld\n", cf_db_lock_name((cf_db_lock_t) l),
              (long long) counts.n[l]);
    s_add(p, "# TYPE cf_agents_total gauge\ncf_agents_total %lld\n", (long long) counts.total);
    return CF_OK;
}

static cf_err_t s_certs(s_page_t *p, cf_store_t *store)
{
    static const cf_component_t comps[] = {CF_COMPONENT_SERVER, CF_COMPONENT_CONSOLE,
                                           CF_COMPONENT_AGENT};
    long long n[3][5] = {{0}};
    time_t now = time(NULL);
    s_add(p, "# TYPE cf_certificates gauge\n");
    for (size_t c = 0; c < 3; c++) {
        cf_db_cert_t *recs = NULL;
        size_t count = 0;
        CF_TRY(cf_db_cert_list(store, comps[c], 10000, &recs, &count));
        for (size_t i = 0; i < count; i++) {
            int revoked = 0;
            cf_err_t rc = cf_db_revoked(store, recs[i].serial, &revoked);
            cf_cert_state_t st = recs[i].not_after < now ? CF_CERT_EXPIRED : CF_CERT_CURRENT;
            if (rc == CF_OK && revoked)
                st = CF_CERT_REVOKED;
            n[c][st]++;
        }
        cf_db_cert_list_free(&recs, count);
        for (int st = 0; st < 5; st++)
            if (n[c][st])
                s_add(p, "cf_certificates{component=\"%s\",state=\"%s\"} %lld\n",
                      cf_component_name(comps[c]), cf_cert_state_name((cf_cert_state_t) st),
                      n[c][st]);
    }
    return CF_OK;
}

static void s_metrics(cf_req_t *req, void *arg)
{
    cf_app_t *app = arg;
    s_page_t *p = cf_mem_calloc(1, sizeof(*p));
    if (!p) {
        cf_app_reply_err(req, CF_ERR_NOMEM, NULL, "metrics");
        return;
    }
    s_counters(p, app);
    cf_store_t *store = cf_app_store_take(app);
    cf_err_t rc = s_agents(p, store);
    if (rc == CF_OK)
        rc = s_certs(p, store);
    cf_app_store_give(app, store);
    /* the process counters stand even when Redis does not answer */
    s_add(p, "# TYPE cf_metrics_redis_up gauge\ncf_metrics_redis_up %d\n", rc == CF_OK);
    cf_req_reply_text(req, 200, "text/plain; version=0.0.4", p->buf, p->len);
    cf_mem_free(p);
}

static const cf_route_t s_routes[] = {
    {"GET", "/metrics", CF_ACCESS_PUBLIC, s_metrics, 0, 0},
};

size_t cf_api_metrics_routes(const cf_route_t **routes_out)
{
    *routes_out = s_routes;
    return sizeof(s_routes) / sizeof(s_routes[0]);
}
