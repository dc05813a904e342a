/*  cf_db_agent_expiry - the agents' certificates by expiry: paging cf:agents:expiry  */
#include "cf_db_agent.h"

#include <stdio.h>
#include <string.h>

#include "cf_db_agent_int.h"
#include "cf_db_util.h"
#include "cf_mem.h"

/* Check the script's answer (pairs of a valid id and a positive score) into list. */
static cf_err_t s_shape(cf_store_t *store, const redisReply *r, size_t limit, cf_db_expiry_t *list)
{
    cf_why_t *why = cf_db_why(store);
    CF_TRY(cf_db_r_array(r, 0, 2 * limit, "expiry page", why));
    if (r->elements % 2)
        return cf_db_fail(store, CF_ERR_CORRUPT, "expiry page is not pairs");
    for (size_t i = 0; i < r->elements; i += 2) {
        cf_db_expiry_t *e = &list[i / 2];
        CF_TRY(cf_db_r_text(r->element[i], 0, e->agent.id, CF_DB_ID_MAX, "expiry id", why));
        CF_TRY(cf_db_r_int(r->element[i + 1], 0, 1, INT64_MAX, &e->not_after, "expiry score", why));
        if (cf_db_check_agent_id(e->agent.id) != CF_OK)
            return cf_db_fail(store, CF_ERR_CORRUPT, "expiry page: malformed agent id");
    }
    return CF_OK;
}

/* HMGET the n agents of list in one pipeline; those gone keep found = 0. */
static cf_err_t s_fetch(cf_store_t *store, cf_db_expiry_t *list, size_t n)
{
    cf_store_pipe_t *pipe = NULL;
    CF_TRY(cf_store_pipe_new(store, n, &pipe));
    cf_err_t rc = CF_OK;
    char key[CF_DB_KEY_MAX];
    for (size_t i = 0; rc == CF_OK && i < n; i++) {
        rc = cf_db_key_agent(key, list[i].agent.id);
        if (rc == CF_OK)
            rc = cf_store_pipe_append(pipe, CF_DB_AGENT_HMGET, key);
    }
    if (rc == CF_OK)
        rc = cf_store_pipe_exec(pipe, CF_STORE_IDEMPOTENT);
    for (size_t i = 0; rc == CF_OK && i < n; i++) {
        char id[CF_DB_ID_MAX + 1];
        memcpy(id, list[i].agent.id, sizeof(id));
        rc = cf_db_agent_decode(store, id, cf_store_pipe_reply(pipe, i), &list[i].agent);
        list[i].found = rc == CF_OK;
        if (rc == CF_ERR_NOTFOUND) {
            memcpy(list[i].agent.id, id, sizeof(id)); /* decode cleared it */
            rc = CF_OK;                               /* removed between the two round trips */
        }
    }
    cf_store_pipe_destroy(&pipe);
    return rc;
}

cf_err_t cf_db_agent_expiring(cf_store_t *store, int64_t from, const char *after_id, int64_t until,
                              size_t limit, cf_db_expiry_t **list_out, size_t *n_out)
{
    CF_ASSERT(store && list_out && n_out);
    *list_out = NULL;
    *n_out = 0;
    if (!after_id)
        after_id = "";
    if (limit == 0 || limit > CF_DB_PAGE_MAX ||
        (after_id[0] && cf_db_check_agent_id(after_id) != CF_OK))
        return cf_db_fail(store, CF_ERR_INVALID, "agent expiry: bad limit or cursor");
    char f[CF_DB_I64_BUF];
    redisReply *page = NULL;
    /* from the position after (from, after_id), or before every member of score from */
    CF_TRY(cf_db_agent_zpage(store, CF_DB_K_AGENTS_EXPIRY, cf_db_i64(f, from), after_id, from,
                             until, limit, &page));
    size_t n = page->elements / 2;
    cf_db_expiry_t *list = n ? cf_mem_calloc(n, sizeof(*list)) : NULL;
    cf_err_t rc = CF_OK;
    if (n && !list)
        rc = cf_db_fail(store, CF_ERR_NOMEM, "out of memory");
    if (rc == CF_OK && n)
        rc = s_shape(store, page, limit, list);
    freeReplyObject(page);
    if (rc == CF_OK && n)
        rc = s_fetch(store, list, n);
    if (rc != CF_OK || n == 0) {
        cf_mem_free(list);
        return rc;
    }
    *list_out = list;
    *n_out = n;
    return CF_OK;
}
