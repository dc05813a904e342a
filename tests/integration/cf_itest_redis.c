/*  cf_itest_redis - redis-server and Sentinel fixtures on loopback for integration tests  */
#include "cf_itest.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "cf_test.h"

#define S_MAX_ARGS 64 /* arguments of one redis-server command line */

/* Absolute path of redis-server from PATH, or NULL. */
static const char *s_server_path(char *buf, size_t buflen)
{
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t len = colon ? (size_t) (colon - path) : strlen(path);
        if (len > 0 && path[0] == '/' && len + 14 < buflen) {
            snprintf(buf, buflen, "%.*s/redis-server", (int) len, path);
            if (access(buf, X_OK) == 0)
                return buf;
        }
        path += len + (colon ? 1 : 0);
    }
    return NULL;
}

/* Split extra at spaces into argv[*argc...]; '...' quotes (so '' is an empty argument).
   Tokens are written into store (NUL-separated), which must hold strlen(extra) + 1. */
static cf_err_t s_split(const char *extra, char *store, char **argv, int *argc)
{
    const char *p = extra;
    char *out = store;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        if (*argc >= S_MAX_ARGS - 1)
            return CF_ERR_TOOBIG;
        argv[(*argc)++] = out;
        while (*p && *p != ' ') {
            if (*p == '\'') {
                const char *close = strchr(p + 1, '\'');
                if (!close)
                    return CF_ERR_INVALID;
                memcpy(out, p + 1, (size_t) (close - p - 1));
                out += close - p - 1;
                p = close + 1;
            } else {
                *out++ = *p++;
            }
        }
        *out++ = '\0';
    }
    return CF_OK;
}

static cf_err_t s_launch(cf_itest_redis_t *r)
{
    char bin[512], port[16], log[600], words[sizeof(r->extra) + 1];
    char *argv[S_MAX_ARGS];
    int argc = 0;
    if (!s_server_path(bin, sizeof(bin)))
        return CF_ERR_NOTFOUND;
    snprintf(port, sizeof(port), "%d", r->port);
    snprintf(log, sizeof(log), "%s/redis.log", r->dir);
    argv[argc++] = bin;
    if (r->conf[0]) {
        argv[argc++] = r->conf;
        argv[argc++] = "--sentinel";
    } else {
        char *fixed[] = {"--port",       port, "--bind", "127.0.0.1", "--save",      "",
                         "--appendonly", "no", "--dir",  r->dir,      "--daemonize", "no",
                         "--logfile",    log};
        for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
            argv[argc++] = fixed[i];
        CF_TRY(s_split(r->extra, words, argv, &argc));
    }
    argv[argc] = NULL;
    CF_TRY(cf_itest_spawn(argv, log, &r->pid));
    cf_err_t rc = cf_itest_redis_wait_ping(r->port, r->pid, CF_ITEST_START_MS);
    if (rc != CF_OK)
        cf_itest_redis_stop(r);
    return rc;
}

static cf_err_t s_prepare(cf_itest_redis_t *r, const char *kind, const char *extra)
{
    char name[64];
    r->pid = 0;
    r->port = cf_itest_free_port();
    if (r->port <= 0)
        return CF_ERR_IO;
    snprintf(name, sizeof(name), "%s-%d", kind, r->port);
    cf_test_tmpdir(name, r->dir, sizeof(r->dir));
    if (extra && strlen(extra) >= sizeof(r->extra))
        return CF_ERR_TOOBIG;
    snprintf(r->extra, sizeof(r->extra), "%s", extra ? extra : "");
    return CF_OK;
}

cf_err_t cf_itest_redis_start(cf_itest_redis_t *r, const char *extra_args)
{
    if (!r)
        return CF_ERR_INVALID;
    memset(r, 0, sizeof(*r));
    cf_err_t rc = CF_ERR_IO;
    /* the free port may be taken between our probe and the server's bind: try another */
    for (int attempt = 0; attempt < 3 && rc != CF_OK; attempt++) {
        rc = s_prepare(r, "redis", extra_args);
        if (rc == CF_OK)
            rc = s_launch(r);
        if (rc == CF_ERR_TOOBIG || rc == CF_ERR_INVALID || rc == CF_ERR_NOTFOUND)
            break;
    }
    return rc;
}

cf_err_t cf_itest_redis_restart(cf_itest_redis_t *r)
{
    if (!r || r->port <= 0 || r->pid != 0)
        return CF_ERR_INVALID;
    return s_launch(r);
}

void cf_itest_redis_stop(cf_itest_redis_t *r)
{
    if (!r || r->pid <= 0)
        return;
    if (cf_itest_kill(r->pid, SIGKILL) != CF_OK)
        r->pid = 0; /* not ours any more: it exited and was reaped already */
    r->pid = 0;
}

int cf_itest_redis_reply_has(int port, const char *want, const char *fmt, ...)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (!c || c->err) {
        redisFree(c);
        return 0;
    }
    redisSetTimeout(c, tv);
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    int ok = 0;
    if (r && r->type == REDIS_REPLY_INTEGER) {
        char num[32];
        snprintf(num, sizeof(num), "%lld", r->integer);
        ok = !want || strstr(num, want) != NULL;
    } else if (r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)) {
        ok = !want || strstr(r->str, want) != NULL;
    } else if (r && r->type != REDIS_REPLY_ERROR) {
        ok = want == NULL;
    }
    freeReplyObject(r);
    redisFree(c);
    return ok;
}

static cf_err_t s_wait_reply(int port, const char *want, const char *cmd, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        if (cf_itest_redis_reply_has(port, want, cmd)) /* cmd: a hiredis format */
            return CF_OK;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return CF_ERR_IO;
}

static cf_err_t s_start_sentinel(cf_itest_sentinel_t *s, cf_itest_redis_t *r)
{
    CF_TRY(s_prepare(r, "sentinel", NULL));
    snprintf(r->conf, sizeof(r->conf), "%s/sentinel.conf", r->dir);
    char text[2048];
    int n = snprintf(text, sizeof(text),
                     "port %d\nbind 127.0.0.1\ndaemonize no\ndir %s\nlogfile %s/redis.log\n"
                     "sentinel monitor %s 127.0.0.1 %d 2\n"
                     "sentinel down-after-milliseconds %s 1000\n"
                     "sentinel failover-timeout %s 5000\n"
                     "sentinel parallel-syncs %s 1\n",
                     r->port, r->dir, r->dir, s->name, s->master.port, s->name, s->name, s->name);
    cf_test_write_file(r->conf, text, (size_t) n);
    return s_launch(r);
}

cf_err_t cf_itest_sentinel_start(cf_itest_sentinel_t *s, const char *master_name)
{
    if (!s || !master_name || strlen(master_name) >= sizeof(s->name))
        return CF_ERR_INVALID;
    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s", master_name);
    /* full syncs start at once (the default waits 5 s for more replicas to join) */
    static const char fast[] = "--repl-diskless-sync-delay 0";
    cf_err_t rc = cf_itest_redis_start(&s->master, fast);
    char extra[128];
    snprintf(extra, sizeof(extra), "%s --replicaof 127.0.0.1 %d", fast, s->master.port);
    if (rc == CF_OK)
        rc = cf_itest_redis_start(&s->replica, extra);
    /* Sentinels learn replicas from the master's INFO, which they poll every 10 s: start
       them only once the replica is online so the first INFO already lists it */
    if (rc == CF_OK)
        rc = s_wait_reply(s->master.port, "state=online", "INFO replication", 10000);
    for (int i = 0; i < 3 && rc == CF_OK; i++)
        rc = s_start_sentinel(s, &s->sentinels[i]);
    for (int i = 0; i < 3 && rc == CF_OK; i++)
        rc = s_wait_reply(s->sentinels[i].port, "slaves=1,sentinels=3", "INFO sentinel", 15000);
    if (rc != CF_OK)
        cf_itest_sentinel_stop(s);
    return rc;
}

const char *cf_itest_sentinel_list(const cf_itest_sentinel_t *s, char *buf, size_t buflen)
{
    snprintf(buf, buflen, "127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d", s->sentinels[0].port,
             s->sentinels[1].port, s->sentinels[2].port);
    return buf;
}

void cf_itest_sentinel_stop(cf_itest_sentinel_t *s)
{
    if (!s)
        return;
    for (int i = 0; i < 3; i++)
        cf_itest_redis_stop(&s->sentinels[i]);
    cf_itest_redis_stop(&s->replica);
    cf_itest_redis_stop(&s->master);
}
