/*  cf_db_job_links - the agents' link facts (protocol level, broker of the last HELLO) for
    a page of a job's entries in one pipeline: one round trip per page, not per agent  */
#include <stdio.h>
#include <string.h>

#include "cf_db_job_int.h"
#include "cf_db_key.h"
#include "cf_db_util.h"
#include "cf_mem.h"

/* One HMGET reply (id proto broker) into *out; out->rc tells this agent's fate. */
static void s_one(const redisReply *r, const char *agent, cf_why_t *why, cf_db_job_link_t *out)
{
    char z85[CF_CURVE_Z85_LEN + 1] = "";
    int64_t p = 0;
    memset(out, 0, sizeof(*out));
    out->proto = 1;
    out->rc = cf_db_r_array(r, 3, 3, "agent link", why);
    if (out->rc == CF_OK && cf_db_r_nil(r->element[0]))
        out->rc = cf_why(why, CF_ERR_NOTFOUND, "no agent %s", agent);
    if (out->rc == CF_OK)
        out->rc = cf_db_r_int(r->element[1], 1, 0, CF_DB_JOB_PROTO_MAX, &p, "proto", why);
    if (out->rc == CF_OK)
        out->rc = cf_db_r_text(r->element[2], 1, z85, CF_CURVE_Z85_LEN, "broker", why);
    if (out->rc == CF_OK && z85[0] &&
        cf_curve_z85_decode(z85, strlen(z85), out->broker, NULL) != CF_OK)
        out->rc = cf_why(why, CF_ERR_CORRUPT, "agent %s: broker is not a Z85 key", agent);
    if (out->rc != CF_OK) {
        memset(out->broker, 0, sizeof(out->broker));
        return;
    }
    out->proto = p > 0 ? (unsigned) p : 1;
    out->has_broker = z85[0] != '\0';
}

cf_err_t cf_db_job_agent_links(cf_store_t *store, const char *const *agents, size_t n,
                               cf_db_job_link_t *out)
{
    if (!store || !agents || !out || n == 0 || n > CF_DB_JOB_LINKS_MAX)
        return CF_ERR_INVALID;
    cf_store_pipe_t *p = NULL;
    char key[CF_DB_KEY_MAX];
    CF_TRY(cf_store_pipe_new(store, n, &p));
    cf_err_t rc = CF_OK;
    for (size_t i = 0; rc == CF_OK && i < n; i++) {
        rc = cf_db_key_agent(key, agents[i]);
        if (rc != CF_OK)
            rc = cf_db_fail(store, CF_ERR_INVALID, "bad agent id");
        else { /* argv: no format to parse, 256 times a page */
            const char *argv[] = {"HMGET", key, "id", "proto", "broker"};
            rc = cf_store_pipe_append_argv(p, 5, argv, NULL);
        }
    }
    if (rc == CF_OK)
        rc = cf_store_pipe_exec(p, CF_STORE_IDEMPOTENT);
    for (size_t i = 0; rc == CF_OK && i < n; i++) {
        cf_why_t why = {""};
        s_one(cf_store_pipe_reply(p, i), agents[i], &why, &out[i]);
    }
    cf_store_pipe_destroy(&p);
    return rc;
}
