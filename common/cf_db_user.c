/*  cf_db_user - console users, login sessions and the console policy  */
#include "cf_db_user.h"

#include <stdlib.h>
#include <string.h>

#include "cf_db_util.h"
#include "cf_mem.h"

/* KEYS[1] user; ARGV field/value pairs. */
static const char s_lua_update[] = "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
                                   "redis.call('HSET', KEYS[1], unpack(ARGV))\n"
                                   "return 1\n";

/* KEYS[1] session. The role comes from the user record, so a role change or a removal
   takes effect at once; the user key is built from the name stored at login (checked by
   cf_db_session_create), which is why it is not among KEYS. */
static const char s_lua_session[] =
    "local s = redis.call('HMGET', KEYS[1], 'user', 'created', 'expires')\n"
    "if not s[1] then return false end\n"
    "local role = redis.call('HGET', 'cf:user:' .. s[1], 'role')\n"
    "if not role then\n"
    "  redis.call('DEL', KEYS[1])\n"
    "  return false\n"
    "end\n"
    "return {s[1], role, s[2], s[3]}\n";

static const char *const s_roles[] = {"viewer", "admin"};

const char *cf_db_role_name(cf_db_role_t role)
{
    if (role < CF_DB_ROLE_VIEWER || role > CF_DB_ROLE_ADMIN)
        return "unknown";
    return s_roles[role - 1];
}

cf_err_t cf_db_role_from_name(const char *name, cf_db_role_t *out)
{
    for (int i = 0; name && i < 2; i++) {
        if (strcmp(name, s_roles[i]) == 0) {
            *out = (cf_db_role_t) (i + 1);
            return CF_OK;
        }
    }
    return CF_ERR_INVALID;
}

static int s_role_ok(int role)
{
    return role == CF_DB_ROLE_VIEWER || role == CF_DB_ROLE_ADMIN;
}

static cf_err_t s_check_hash(const char *pwhash)
{
    if (cf_db_check_text(pwhash, 1, CF_DB_PWHASH_MAX) != CF_OK)
        return CF_ERR_INVALID;
    return CF_OK;
}

cf_err_t cf_db_user_create(cf_store_t *store, const char *name, cf_db_role_t role,
                           const char *pwhash, int64_t now)
{
    CF_ASSERT(store);
    char key[CF_DB_KEY_MAX], created[CF_DB_I64_BUF];
    if (cf_db_key_user(key, name) != CF_OK || !s_role_ok((int) role) ||
        s_check_hash(pwhash) != CF_OK || now < 0)
        return cf_db_fail(store, CF_ERR_INVALID, "bad user name, role or password hash");
    const char *fv[] = {"role",    cf_db_role_name(role),  "pwhash", pwhash,
                        "created", cf_db_i64(created, now)};
    return cf_db_hash_create(store, key, CF_DB_K_USERS, name, NULL, 3, fv, NULL);
}

cf_err_t cf_db_user_update(cf_store_t *store, const char *name, int role, const char *pwhash)
{
    CF_ASSERT(store);
    char key[CF_DB_KEY_MAX];
    if (cf_db_key_user(key, name) != CF_OK || (role && !s_role_ok(role)) ||
        (pwhash && s_check_hash(pwhash) != CF_OK) || (!role && !pwhash))
        return cf_db_fail(store, CF_ERR_INVALID, "bad user update");
    const char *argv[5] = {key};
    int n = 1;
    if (role) {
        argv[n++] = "role";
        argv[n++] = cf_db_role_name((cf_db_role_t) role);
    }
    if (pwhash) {
        argv[n++] = "pwhash";
        argv[n++] = pwhash;
    }
    redisReply *r = NULL;
    CF_TRY(cf_db_eval(store, s_lua_update, CF_STORE_IDEMPOTENT, &r, 1, n - 1, argv, NULL));
    int64_t v = 0;
    cf_err_t rc = cf_db_r_int(r, 0, 0, 1, &v, "update reply", cf_db_why(store));
    freeReplyObject(r);
    if (rc == CF_OK && !v)
        rc = cf_db_fail(store, CF_ERR_NOTFOUND, "no user %s", name);
    return rc;
}

/* KEYS[1] cf:user:<name>, KEYS[2] cf:users; ARGV[1] name. 1 removed, 0 no such user,
   -1 the last admin (kept). Reads the other users' records by name (not in KEYS: fine on
   one Redis or Sentinel; a Redis Cluster would need the users under one hash tag). */
static const char s_lua_remove[] =
    "local role = redis.call('HGET', KEYS[1], 'role')\n"
    "if not role then return 0 end\n"
    "if role == 'admin' then\n"
    "  local admins = 0\n"
    "  for _, u in ipairs(redis.call('SMEMBERS', KEYS[2])) do\n"
    "    if redis.call('HGET', 'cf:user:' .. u, 'role') == 'admin' then admins = admins + 1 end\n"
    "  end\n"
    "  if admins <= 1 then return -1 end\n"
    "end\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('SREM', KEYS[2], ARGV[1])\n"
    "return 1\n";

cf_err_t cf_db_user_remove(cf_store_t *store, const char *name)
{
    CF_ASSERT(store);
    char key[CF_DB_KEY_MAX];
    if (cf_db_key_user(key, name) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "bad user name");
    const char *argv[3] = {key, CF_DB_K_USERS, name};
    redisReply *r = NULL;
    CF_TRY(cf_db_eval(store, s_lua_remove, 0, &r, 2, 1, argv, NULL));
    int64_t verdict = 0;
    cf_err_t rc = cf_db_r_int(r, 0, -1, 1, &verdict, "remove reply", cf_db_why(store));
    freeReplyObject(r);
    if (rc == CF_OK && verdict == 0)
        rc = cf_db_fail(store, CF_ERR_NOTFOUND, "no user %s", name);
    else if (rc == CF_OK && verdict < 0)
        rc = cf_db_fail(store, CF_ERR_STATE, "%s is the last admin and cannot be removed", name);
    return rc;
}

/* Decode HMGET role pwhash created for user name; pwhash may be absent from the reply
   (lists ask for role and created only: then r has 2 elements). */
static cf_err_t s_decode(cf_store_t *store, const char *name, const redisReply *r,
                         cf_db_user_t *out)
{
    cf_why_t *why = cf_db_why(store);
    memset(out, 0, sizeof(*out));
    CF_TRY(cf_db_r_array(r, 2, 3, "user record", why));
    const redisReply *created = r->element[r->elements - 1];
    if (cf_db_r_nil(r->element[0]) && cf_db_r_nil(created))
        return cf_db_fail(store, CF_ERR_NOTFOUND, "no user %s", name);
    char role[16];
    CF_TRY(cf_db_r_text(r->element[0], 0, role, sizeof(role) - 1, "role", why));
    if (cf_db_role_from_name(role, &out->role) != CF_OK)
        return cf_db_fail(store, CF_ERR_CORRUPT, "user %s: unknown role", name);
    if (r->elements == 3)
        CF_TRY(cf_db_r_text(r->element[1], 0, out->pwhash, CF_DB_PWHASH_MAX, "pwhash", why));
    CF_TRY(cf_db_r_int(created, 0, 0, INT64_MAX, &out->created, "created", why));
    memcpy(out->name, name, strlen(name) + 1);
    return CF_OK;
}

cf_err_t cf_db_user_get(cf_store_t *store, const char *name, cf_db_user_t *out)
{
    CF_ASSERT(store && out);
    memset(out, 0, sizeof(*out));
    char key[CF_DB_KEY_MAX];
    if (cf_db_key_user(key, name) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "bad user name");
    redisReply *r = NULL;
    CF_TRY(cf_store_cmd_idem(store, &r, "HMGET %s role pwhash created", key));
    cf_err_t rc = s_decode(store, name, r, out);
    freeReplyObject(r);
    if (rc != CF_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

static int s_by_name(const void *a, const void *b)
{
    return strcmp(((const cf_db_user_t *) a)->name, ((const cf_db_user_t *) b)->name);
}

/* One pipeline of HMGET role created for names, decoded into list. */
static cf_err_t s_fetch(cf_store_t *store, const redisReply *names, cf_db_user_t *list,
                        size_t *n_out)
{
    *n_out = 0;
    cf_store_pipe_t *pipe = NULL;
    CF_TRY(cf_store_pipe_new(store, names->elements, &pipe));
    cf_err_t rc = CF_OK;
    char key[CF_DB_KEY_MAX];
    for (size_t i = 0; rc == CF_OK && i < names->elements; i++) {
        rc = cf_db_key_user(key, names->element[i]->str);
        if (rc == CF_OK)
            rc = cf_store_pipe_append(pipe, "HMGET %s role created", key);
    }
    if (rc == CF_OK)
        rc = cf_store_pipe_exec(pipe, CF_STORE_IDEMPOTENT);
    size_t n = 0;
    for (size_t i = 0; rc == CF_OK && i < names->elements; i++) {
        rc = s_decode(store, names->element[i]->str, cf_store_pipe_reply(pipe, i), &list[n]);
        if (rc == CF_ERR_NOTFOUND)
            rc = CF_OK; /* removed between the two round trips */
        else if (rc == CF_OK)
            n++;
    }
    cf_store_pipe_destroy(&pipe);
    *n_out = n;
    return rc;
}

cf_err_t cf_db_user_list(cf_store_t *store, size_t max, cf_db_user_t **list_out, size_t *n_out)
{
    CF_ASSERT(store && list_out && n_out);
    *list_out = NULL;
    *n_out = 0;
    if (max == 0 || max > CF_DB_USERS_MAX)
        return cf_db_fail(store, CF_ERR_INVALID, "user list: max must be 1..%d", CF_DB_USERS_MAX);
    redisReply *names = NULL;
    CF_TRY(cf_db_members(store, CF_DB_K_USERS, max, cf_db_check_user, &names));
    size_t n = 0;
    cf_db_user_t *list = cf_mem_calloc(names->elements ? names->elements : 1, sizeof(*list));
    cf_err_t rc = list ? CF_OK : cf_db_fail(store, CF_ERR_NOMEM, "out of memory");
    if (rc == CF_OK && names->elements)
        rc = s_fetch(store, names, list, &n);
    freeReplyObject(names);
    if (rc != CF_OK) {
        cf_mem_free(list);
        return rc;
    }
    qsort(list, n, sizeof(*list), s_by_name);
    *list_out = list;
    *n_out = n;
    return CF_OK;
}

cf_err_t cf_db_session_create(cf_store_t *store, const void *token, size_t len, const char *user,
                              cf_db_role_t role, int64_t now, int ttl_s)
{
    CF_ASSERT(store);
    char key[CF_DB_KEY_MAX], c[CF_DB_I64_BUF], e[CF_DB_I64_BUF], t[CF_DB_I64_BUF];
    if (cf_db_key_session(key, token, len) != CF_OK || cf_db_check_user(user) != CF_OK ||
        !s_role_ok((int) role) || now < 0 || ttl_s < 1 || ttl_s > CF_DB_SESSION_TTL_MAX)
        return cf_db_fail(store, CF_ERR_INVALID, "bad session");
    cf_store_pipe_t *pipe = NULL;
    CF_TRY(cf_store_pipe_new(store, 4, &pipe));
    const char *hset[] = {"HSET",    key,
                          "user",    user,
                          "role",    cf_db_role_name(role),
                          "created", cf_db_i64(c, now),
                          "expires", cf_db_i64(e, now + ttl_s)};
    const char *expire[] = {"EXPIRE", key, cf_db_i64(t, ttl_s)};
    cf_err_t rc = cf_store_pipe_append(pipe, "MULTI");
    if (rc == CF_OK)
        rc = cf_store_pipe_append_argv(pipe, 10, hset, NULL);
    if (rc == CF_OK)
        rc = cf_store_pipe_append_argv(pipe, 3, expire, NULL);
    if (rc == CF_OK)
        rc = cf_store_pipe_append(pipe, "EXEC");
    if (rc == CF_OK)
        rc = cf_store_pipe_exec(pipe, CF_STORE_IDEMPOTENT);
    if (rc == CF_OK)
        rc = cf_db_r_array(cf_store_pipe_reply(pipe, 3), 2, 2, "EXEC reply", cf_db_why(store));
    cf_store_pipe_destroy(&pipe);
    return rc;
}

static cf_err_t s_session_decode(cf_store_t *store, const redisReply *r, cf_db_session_t *out)
{
    cf_why_t *why = cf_db_why(store);
    char role[16];
    CF_TRY(cf_db_r_array(r, 4, 4, "session", why));
    CF_TRY(cf_db_r_text(r->element[0], 0, out->user, CF_DB_USER_MAX, "session user", why));
    CF_TRY(cf_db_r_text(r->element[1], 0, role, sizeof(role) - 1, "user role", why));
    CF_TRY(cf_db_r_int(r->element[2], 0, 0, INT64_MAX, &out->created, "session created", why));
    CF_TRY(cf_db_r_int(r->element[3], 0, 0, INT64_MAX, &out->expires, "session expires", why));
    if (cf_db_check_user(out->user) != CF_OK || cf_db_role_from_name(role, &out->role) != CF_OK)
        return cf_db_fail(store, CF_ERR_CORRUPT, "session: bad user or role");
    return CF_OK;
}

cf_err_t cf_db_session_get(cf_store_t *store, const void *token, size_t len, cf_db_session_t *out)
{
    CF_ASSERT(store && out);
    memset(out, 0, sizeof(*out));
    char key[CF_DB_KEY_MAX];
    if (cf_db_key_session(key, token, len) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "bad session token");
    const char *argv[] = {key};
    redisReply *r = NULL;
    CF_TRY(cf_db_eval(store, s_lua_session, CF_STORE_IDEMPOTENT, &r, 1, 0, argv, NULL));
    cf_err_t rc = cf_db_r_nil(r) ? cf_db_fail(store, CF_ERR_NOTFOUND, "no such session")
                                 : s_session_decode(store, r, out);
    freeReplyObject(r);
    if (rc != CF_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

cf_err_t cf_db_session_delete(cf_store_t *store, const void *token, size_t len)
{
    CF_ASSERT(store);
    char key[CF_DB_KEY_MAX];
    if (cf_db_key_session(key, token, len) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "bad session token");
    redisReply *r = NULL;
    CF_TRY(cf_store_cmd_idem(store, &r, "DEL %s", key));
    int64_t v = 0;
    cf_err_t rc = cf_db_r_int(r, 0, 0, 1, &v, "DEL reply", cf_db_why(store));
    freeReplyObject(r);
    if (rc == CF_OK && !v)
        rc = cf_db_fail(store, CF_ERR_NOTFOUND, "no such session");
    return rc;
}

cf_err_t cf_db_policy_get(cf_store_t *store, cf_db_policy_t *out)
{
    CF_ASSERT(store && out);
    memset(out, 0, sizeof(*out));
    redisReply *r = NULL;
    CF_TRY(cf_store_cmd_idem(store, &r, "HGET %s save_logins", CF_DB_K_POLICY));
    int64_t v = 0;
    cf_err_t rc = cf_db_r_int(r, 1, 0, 1, &v, "save_logins", cf_db_why(store));
    freeReplyObject(r);
    out->save_logins = (int) v;
    return rc;
}

cf_err_t cf_db_policy_set(cf_store_t *store, const cf_db_policy_t *policy)
{
    CF_ASSERT(store && policy);
    if (policy->save_logins != 0 && policy->save_logins != 1)
        return cf_db_fail(store, CF_ERR_INVALID, "save_logins must be 0 or 1");
    return cf_store_cmd_idem(store, NULL, "HSET %s save_logins %d", CF_DB_K_POLICY,
                             policy->save_logins);
}
