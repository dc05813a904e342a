/*  cf_api_jobs_target - a job's targets as agent ids: an explicit list, the agents last
    seen in an IP range, the agents in a lock state (every agent: the create script)  */
#include <stdlib.h>
#include <string.h>

#include "cf_api_jobs_int.h"
#include "cf_db_agent.h"
#include "cf_mem.h"

void cf_api_jobs_ids_free(cf_api_jobs_ids_t *ids)
{
    if (!ids)
        return;
    cf_mem_free(ids->id);
    memset(ids, 0, sizeof(*ids));
}

/* Append one id, growing the array; CF_ERR_TOOBIG past twice the cap (a walk may see an
   agent twice; the duplicates go before the cap is judged). */
static cf_err_t s_add(cf_api_jobs_ids_t *ids, const char *id)
{
    if (ids->n == ids->cap) {
        size_t cap = ids->cap ? 2 * ids->cap : 1024;
        if (cap > 2 * CF_API_JOBS_TARGETS_MAX)
            cap = 2 * CF_API_JOBS_TARGETS_MAX;
        if (cap <= ids->n)
            return CF_ERR_TOOBIG;
        void *grown = cf_mem_realloc(ids->id, cap * sizeof(*ids->id));
        if (!grown)
            return CF_ERR_NOMEM;
        ids->id = grown;
        ids->cap = cap;
    }
    snprintf(ids->id[ids->n], sizeof(ids->id[ids->n]), "%s", id);
    ids->n++;
    return CF_OK;
}

static int s_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Sort, drop duplicates, then judge the cap. */
static cf_err_t s_unique(cf_api_jobs_ids_t *ids, cf_why_t *why)
{
    if (ids->n > 1)
        qsort(ids->id, ids->n, sizeof(*ids->id), s_cmp);
    size_t w = 0;
    for (size_t r = 0; r < ids->n; r++) {
        if (w > 0 && strcmp(ids->id[w - 1], ids->id[r]) == 0)
            continue;
        if (w != r)
            memcpy(ids->id[w], ids->id[r], sizeof(ids->id[w]));
        w++;
    }
    ids->n = w;
    if (ids->n > CF_API_JOBS_TARGETS_MAX)
        return cf_why(why, CF_ERR_TOOBIG, "the target holds more than %d agents: narrow it",
                      CF_API_JOBS_TARGETS_MAX);
    return CF_OK;
}

/* Every agent of the set lock (CF_DB_LOCK_COUNT: all), kept when range is NULL or holds
   its last address; pages of CF_DB_PAGE_MAX (2 RT each). */
static cf_err_t s_walk(cf_store_t *store, cf_db_lock_t lock, const cf_iprange_t *range,
                       cf_api_jobs_ids_t *ids, cf_why_t *why)
{
    char cursor[CF_DB_CURSOR_MAX] = "", next[CF_DB_CURSOR_MAX] = "";
    cf_err_t rc = CF_OK;
    do {
        cf_db_agent_t *list = NULL;
        size_t n = 0;
        rc = cf_db_agent_list(store, lock, cursor, CF_DB_PAGE_MAX, &list, &n, next);
        if (rc != CF_OK)
            cf_why(why, rc, "the agents: %s", cf_why_text(cf_store_why(store), rc));
        for (size_t i = 0; rc == CF_OK && i < n; i++) {
            if (!range || cf_iprange_contains_text(range, list[i].last_addr))
                rc = s_add(ids, list[i].id);
        }
        cf_mem_free(list);
        memcpy(cursor, next, sizeof(cursor));
    } while (rc == CF_OK && cursor[0]);
    if (rc == CF_ERR_TOOBIG)
        cf_why(why, rc, "the target holds more than %d agents: narrow it", CF_API_JOBS_TARGETS_MAX);
    return rc;
}

cf_err_t cf_api_jobs_resolve(cf_store_t *store, const cf_api_jobs_spec_t *spec,
                             cf_api_jobs_ids_t *ids, cf_why_t *why)
{
    memset(ids, 0, sizeof(*ids));
    cf_err_t rc = CF_OK;
    switch (spec->kind) {
    case CF_API_JOBS_LIST: {
        size_t i;
        json_t *v;
        json_array_foreach(spec->agents, i, v)
        {
            if (rc == CF_OK)
                rc = s_add(ids, json_string_value(v)); /* checked by the parser */
        }
        break;
    }
    case CF_API_JOBS_RANGE: rc = s_walk(store, CF_DB_LOCK_COUNT, &spec->range, ids, why); break;
    case CF_API_JOBS_STATE: rc = s_walk(store, spec->lock, NULL, ids, why); break;
    default: rc = cf_why(why, CF_ERR_INVALID, "%s: not resolved here", spec->target); break;
    }
    if (rc == CF_OK)
        rc = s_unique(ids, why);
    if (rc == CF_OK && ids->n == 0)
        rc = cf_why(why, CF_ERR_INVALID, "the target (%s) holds no agent", spec->target);
    if (rc != CF_OK)
        cf_api_jobs_ids_free(ids);
    return rc;
}
