/*  cf_store_reply - capped reply builders for hiredis, error mapping, Sentinel/ROLE decoding  */
#include "cf_store_reply.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "cf_mem.h"

/* Account for one object of `bytes` heap bytes with `children` array slots to come.
   task->parent == NULL marks the first object of a new reply. */
static int s_take(cf_store_caps_t *caps, const redisReadTask *task, size_t children, size_t bytes)
{
    if (!task->parent) {
        caps->reply_bytes = 0;
        caps->reply_elements = 0;
    }
    size_t objs = 1 + children;
    if (caps->reply_elements + objs > caps->max_reply_elements ||
        bytes > caps->max_reply_bytes - caps->reply_bytes ||
        bytes > caps->max_batch_bytes - caps->batch_bytes) {
        caps->refused = 1;
        return 0;
    }
    /* children are counted when they arrive; only reserve their slots' bytes here */
    caps->reply_elements += 1;
    caps->reply_bytes += bytes;
    caps->batch_bytes += bytes;
    return 1;
}

static redisReply *s_new_reply(const redisReadTask *task, int type)
{
    redisReply *r = cf_mem_calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->type = type;
    if (task->parent) {
        redisReply *parent = task->parent->obj;
        CF_ASSERT(parent && parent->type == REDIS_REPLY_ARRAY);
        CF_ASSERT(task->idx >= 0 && (size_t) task->idx < parent->elements);
        parent->element[task->idx] = r;
    }
    return r;
}

static void *s_create_string(const redisReadTask *task, char *str, size_t len)
{
    cf_store_caps_t *caps = task->privdata;
    if (len > caps->max_reply_bytes || !s_take(caps, task, 0, sizeof(redisReply) + len + 1)) {
        caps->refused = 1;
        return NULL;
    }
    char *buf = cf_mem_malloc(len + 1);
    if (!buf)
        return NULL;
    memcpy(buf, str, len);
    buf[len] = '\0';
    redisReply *r = s_new_reply(task, task->type);
    if (!r) {
        cf_mem_free(buf);
        return NULL;
    }
    r->str = buf;
    r->len = len;
    return r;
}

static void *s_create_array(const redisReadTask *task, int elements)
{
    cf_store_caps_t *caps = task->privdata;
    size_t n = elements > 0 ? (size_t) elements : 0;
    if (n > caps->max_reply_elements ||
        !s_take(caps, task, n, sizeof(redisReply) + n * sizeof(redisReply *))) {
        caps->refused = 1;
        return NULL;
    }
    redisReply **vec = NULL;
    if (n > 0) {
        vec = cf_mem_calloc(n, sizeof(*vec));
        if (!vec)
            return NULL;
    }
    redisReply *r = s_new_reply(task, REDIS_REPLY_ARRAY);
    if (!r) {
        cf_mem_free(vec);
        return NULL;
    }
    r->element = vec;
    r->elements = n;
    return r;
}

static void *s_create_integer(const redisReadTask *task, long long value)
{
    if (!s_take(task->privdata, task, 0, sizeof(redisReply)))
        return NULL;
    redisReply *r = s_new_reply(task, REDIS_REPLY_INTEGER);
    if (r)
        r->integer = value;
    return r;
}

static void *s_create_nil(const redisReadTask *task)
{
    if (!s_take(task->privdata, task, 0, sizeof(redisReply)))
        return NULL;
    return s_new_reply(task, REDIS_REPLY_NIL);
}

void cf_store_caps_init(cf_store_caps_t *caps, const cf_store_cfg_t *cfg)
{
    CF_ASSERT(caps && cfg);
    memset(caps, 0, sizeof(*caps));
    caps->fns.createString = s_create_string;
    caps->fns.createArray = s_create_array;
    caps->fns.createInteger = s_create_integer;
    caps->fns.createNil = s_create_nil;
    caps->fns.freeObject = freeReplyObject;
    caps->max_reply_bytes = cfg->max_reply_bytes;
    caps->max_reply_elements = cfg->max_reply_elements;
    caps->max_batch_bytes = cfg->max_batch_bytes;
}

void cf_store_caps_begin_batch(cf_store_caps_t *caps)
{
    caps->batch_bytes = 0;
    caps->refused = 0;
}

void cf_store_caps_attach(redisReader *reader, cf_store_caps_t *caps)
{
    CF_ASSERT(reader && caps);
    reader->fn = &caps->fns;
    reader->privdata = caps;
}

int cf_store_caps_over_unread(const cf_store_caps_t *caps, const redisReader *reader)
{
    size_t unread = reader->len > reader->pos ? reader->len - reader->pos : 0;
    return unread > caps->max_reply_bytes + CF_STORE_READ_SLACK;
}

static int s_prefix(const char *msg, size_t len, const char *word)
{
    size_t wlen = strlen(word);
    return len >= wlen && strncmp(msg, word, wlen) == 0 && (len == wlen || msg[wlen] == ' ');
}

cf_err_t cf_store_err_from_redis(const char *msg, size_t len)
{
    static const char *const state[] = {"READONLY", "LOADING",  "MASTERDOWN", "BUSY",
                                        "OOM",      "TRYAGAIN", "NOREPLICAS", "MISCONF"};
    if (!msg)
        return CF_ERR_INVALID;
    if (s_prefix(msg, len, "NOSCRIPT"))
        return CF_ERR_NOTFOUND;
    if (s_prefix(msg, len, "NOAUTH") || s_prefix(msg, len, "WRONGPASS"))
        return CF_ERR_BADPASS;
    for (size_t i = 0; i < sizeof(state) / sizeof(state[0]); i++)
        if (s_prefix(msg, len, state[i]))
            return CF_ERR_STATE;
    return CF_ERR_INVALID;
}

/* First error reply in depth-first order, or NULL. Depth is bounded by hiredis (7). */
static const redisReply *s_first_error(const redisReply *r)
{
    if (!r)
        return NULL;
    if (r->type == REDIS_REPLY_ERROR)
        return r;
    if (r->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = s_first_error(r->element[i]);
        if (e)
            return e;
    }
    return NULL;
}

cf_err_t cf_store_reply_check(const redisReply *reply, cf_why_t *why)
{
    if (!reply)
        return cf_why(why, CF_ERR_IO, "no reply");
    const redisReply *e = s_first_error(reply);
    if (!e)
        return CF_OK;
    int shown = e->len > 200 ? 200 : (int) e->len;
    return cf_why(why, cf_store_err_from_redis(e->str, e->len), "redis: %.*s", shown,
                  e->str ? e->str : "");
}

int cf_store_reply_readonly(const redisReply *reply)
{
    const redisReply *e = s_first_error(reply);
    return e && s_prefix(e->str, e->len, "READONLY");
}

cf_err_t cf_store_reply_master_addr(const redisReply *reply, cf_store_endpoint_t *out,
                                    cf_why_t *why)
{
    if (!reply || !out)
        return cf_why(why, CF_ERR_IO, "no reply from Sentinel");
    if (reply->type == REDIS_REPLY_NIL)
        return cf_why(why, CF_ERR_NOTFOUND, "Sentinel does not know this master");
    if (reply->type == REDIS_REPLY_ERROR)
        return cf_store_reply_check(reply, why);
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_STRING)
        return cf_why(why, CF_ERR_CORRUPT, "Sentinel answer is not [ip, port]");
    const redisReply *ip = reply->element[0];
    const redisReply *port = reply->element[1];
    if (ip->len == 0 || ip->len > CF_STORE_HOST_MAX || memchr(ip->str, '\0', ip->len) ||
        port->len > 5)
        return cf_why(why, CF_ERR_CORRUPT, "Sentinel answer has a bad address");
    /* reuse the strict parser: "ip:port" (brackets for IPv6) */
    char text[CF_STORE_HOST_MAX + 16];
    int n = strchr(ip->str, ':') ? snprintf(text, sizeof(text), "[%s]:%s", ip->str, port->str)
                                 : snprintf(text, sizeof(text), "%s:%s", ip->str, port->str);
    cf_err_t rc = cf_store_endpoint_parse(text, (size_t) n, out, why);
    return rc == CF_OK ? CF_OK : CF_ERR_CORRUPT;
}

cf_err_t cf_store_reply_failover(const redisReply *reply, int *busy, cf_why_t *why)
{
    CF_ASSERT(busy);
    *busy = 0;
    if (!reply)
        return cf_why(why, CF_ERR_IO, "no reply to SENTINEL MASTER");
    if (reply->type == REDIS_REPLY_ERROR)
        return cf_store_reply_check(reply, why);
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements % 2 != 0)
        return cf_why(why, CF_ERR_CORRUPT, "SENTINEL MASTER answer is not field/value pairs");
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const redisReply *k = reply->element[i], *v = reply->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || k->len != 5 || memcmp(k->str, "flags", 5) != 0)
            continue;
        if (v->type != REDIS_REPLY_STRING)
            break;
        static const char tag[] = "failover_in_progress";
        const size_t tlen = sizeof(tag) - 1;
        for (size_t at = 0; at + tlen <= v->len;) { /* a comma-separated list */
            const char *comma = memchr(v->str + at, ',', v->len - at);
            size_t end = comma ? (size_t) (comma - v->str) : v->len;
            if (end - at == tlen && memcmp(v->str + at, tag, tlen) == 0)
                *busy = 1;
            at = end + 1;
        }
        return CF_OK;
    }
    return cf_why(why, CF_ERR_CORRUPT, "SENTINEL MASTER answer has no flags");
}

cf_err_t cf_store_reply_role_master(const redisReply *reply, cf_why_t *why)
{
    if (!reply)
        return cf_why(why, CF_ERR_IO, "no reply to ROLE");
    if (reply->type == REDIS_REPLY_ERROR)
        return cf_store_reply_check(reply, why);
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_STRING)
        return cf_why(why, CF_ERR_CORRUPT, "ROLE answer is not an array of a role");
    const redisReply *role = reply->element[0];
    if (role->len == 6 && memcmp(role->str, "master", 6) == 0)
        return CF_OK;
    if ((role->len == 5 && memcmp(role->str, "slave", 5) == 0) ||
        (role->len == 8 && memcmp(role->str, "sentinel", 8) == 0))
        return cf_why(why, CF_ERR_STATE, "server is a %s, not the master", role->str);
    return cf_why(why, CF_ERR_CORRUPT, "unknown role in ROLE answer");
}

int cf_store_backoff_ms(const cf_store_cfg_t *cfg, int attempt)
{
    long base = cfg->backoff_min_ms;
    for (int i = 1; i < attempt && base < cfg->backoff_max_ms; i++)
        base *= 2;
    if (base > cfg->backoff_max_ms)
        base = cfg->backoff_max_ms;
    unsigned int r = 0;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t) sizeof(r)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        r = (unsigned int) ts.tv_nsec; /* jitter only: predictability is harmless here */
    }
    long half = base / 2;
    return (int) (base - half + (half > 0 ? (long) (r % (unsigned long) (half + 1)) : 0));
}
