/*  cf_itest - integration test support: free ports, child processes, redis-server, Sentinel  */
#ifndef CF_ITEST_H_INCLUDED
#define CF_ITEST_H_INCLUDED

#include <sys/types.h>

#include "cf_err.h"
#include "cf_store.h"
#include "cf_store_sub.h"

/* Every child started here is remembered until it is killed; an atexit handler (and, for
   children started by the main thread, PR_SET_PDEATHSIG) kills the rest by PID, so a failing
   or crashing test never leaves a server behind. Never pkill/killall. Loopback only. */
#define CF_ITEST_MAX_CHILDREN 64    /* children alive at once */
#define CF_ITEST_START_MS     10000 /* how long a server may take to answer PING */

typedef struct {
    pid_t pid;        /* the running redis-server, 0 when stopped */
    int port;         /* its port on 127.0.0.1 */
    char dir[512];    /* its own directory: redis.log, configs, dumps */
    char extra[1024]; /* extra arguments given at start, kept for restart */
    char conf[600];   /* Sentinels only: config file started with --sentinel, else "" */
} cf_itest_redis_t;

/* A port on 127.0.0.1 that was free a moment ago, below the kernel's ephemeral range and
   not handed out by this process lately (of its last 64), or -1. */
int cf_itest_free_port(void);

/* fork/exec argv[0] (an absolute path) with stdout and stderr appended to logfile (NULL:
   /dev/null) and no other descriptors inherited. The child is registered for clean-up. */
CF_MUST_USE cf_err_t cf_itest_spawn(char *const argv[], const char *logfile, pid_t *pid_out);

/* Send sig to pid and reap it; if it is still alive after 5 s, SIGKILL it. CF_ERR_NOTFOUND
   when pid is not a child of ours. */
CF_MUST_USE cf_err_t cf_itest_kill(pid_t pid, int sig);
/* Wait up to timeout_ms for a spawned child to exit and reap it: its exit code (128 + the
   signal when a signal ended it), or -1 when it is still running or unknown. */
int cf_itest_exit_code(pid_t pid, int timeout_ms);

/* 1 when child pid has exited (it is then reaped and forgotten), 0 while it runs. */
int cf_itest_exited(pid_t pid);

/* Poll a TCP connect to host:port (a literal address) until it succeeds or timeout_ms. */
CF_MUST_USE cf_err_t cf_itest_wait_port(const char *host, int port, int timeout_ms);

/* Poll until a Redis server on 127.0.0.1:port answers PING (+PONG or -NOAUTH) or
   timeout_ms passes; pid (0 = unknown) lets it give up early if the server exited. */
CF_MUST_USE cf_err_t cf_itest_redis_wait_ping(int port, pid_t pid, int timeout_ms);

/* Start redis-server (found on PATH) on a free loopback port, no persistence, its own tmp
   dir under $CF_TEST_TMP, plus extra_args (split at spaces; '' is an empty argument; NULL
   for none), and wait until it answers PING. Retries with another port if the chosen one
   was taken meanwhile. */
CF_MUST_USE cf_err_t cf_itest_redis_start(cf_itest_redis_t *r, const char *extra_args);
/* Start the server of r again on the same port, dir and arguments (after a stop). */
CF_MUST_USE cf_err_t cf_itest_redis_restart(cf_itest_redis_t *r);
/* SIGKILL the server by PID and reap it; r->pid becomes 0. Safe when already stopped. */
void cf_itest_redis_stop(cf_itest_redis_t *r);

/* Run one command on 127.0.0.1:port (a fresh hiredis connection) and return 1 when the
   reply is a string, status or integer whose text contains want (NULL: any non-error
   reply). For polling conditions in tests. */
int cf_itest_redis_reply_has(int port, const char *want, const char *fmt, ...);

/* A master, one replica and three Sentinels (quorum 2) on loopback ports, Sentinel configs
   in the master's directory. Returns once the replica is in sync and every Sentinel knows
   the replica and the two other Sentinels. */
typedef struct {
    cf_itest_redis_t master;       /* initial master */
    cf_itest_redis_t replica;      /* its replica */
    cf_itest_redis_t sentinels[3]; /* Sentinels monitoring name */
    char name[64];                 /* master name */
} cf_itest_sentinel_t;

CF_MUST_USE cf_err_t cf_itest_sentinel_start(cf_itest_sentinel_t *s, const char *master_name);
/* "127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3" for --redis-sentinel. */
const char *cf_itest_sentinel_list(const cf_itest_sentinel_t *s, char *buf, size_t buflen);
/* Stop all five servers. */
void cf_itest_sentinel_stop(cf_itest_sentinel_t *s);

/* A store for 127.0.0.1:port: cfg (NULL: defaults) gets that address and a short back-off
   (10..100 ms) so failures show quickly. Fails the test if it cannot be created. */
cf_store_t *cf_itest_store_at(int port, cf_store_cfg_t *cfg);

/* One redis-server shared by all the tests of a file, each test emptying it: defines
   s_redis, the group fixtures s_setup (SIGPIPE ignored, server started) and s_teardown for
   cmocka_run_group_tests, and s_fresh() (a store on it after FLUSHALL; the caller destroys
   it). Put it after the file's includes (cf_test.h, signal.h, cf_itest.h). */
#define CF_ITEST_REDIS_PER_FILE()                                       \
    static cf_itest_redis_t s_redis;                                    \
    static int s_setup(void **state)                                    \
    {                                                                   \
        (void) state;                                                   \
        signal(SIGPIPE, SIG_IGN);                                       \
        return cf_itest_redis_start(&s_redis, NULL) == CF_OK ? 0 : -1;  \
    }                                                                   \
    static int s_teardown(void **state)                                 \
    {                                                                   \
        (void) state;                                                   \
        cf_itest_redis_stop(&s_redis);                                  \
        return 0;                                                       \
    }                                                                   \
    static cf_store_t *s_fresh(void)                                    \
    {                                                                   \
        cf_store_t *store = cf_itest_store_at(s_redis.port, NULL);      \
        assert_int_equal(cf_store_cmd(store, NULL, "FLUSHALL"), CF_OK); \
        return store;                                                   \
    }

/* A subscriber on its own event loop, which the cf_itest_sub_* conditions run (without
   blocking) each time cf_test_wait_until polls them. */
typedef struct {
    struct event_base *base; /* the loop */
    cf_store_sub_t *sub;     /* the subscriber, made by cf_itest_sub_open */
    unsigned long resyncs;   /* on_resync calls seen */
    int messages;            /* on_message calls seen */
    char channel[64];        /* last channel (truncated) */
    char payload[64];        /* last payload (truncated) */
    size_t payload_len;      /* its full length */
    unsigned long want;      /* resync or message count the condition waits for */
    int want_port;           /* port the subscriber must be on (0: any) */
} cf_itest_sub_t;

/* New loop and subscriber for cfg; fails the test on error. */
void cf_itest_sub_open(cf_itest_sub_t *c, const cf_store_cfg_t *cfg);
/* Destroy the subscriber and its loop. */
void cf_itest_sub_close(cf_itest_sub_t *c);
/* Conditions for cf_test_wait_until (arg: cf_itest_sub_t *): resyncs >= want, ready, on
   want_port; messages >= want; not ready. */
int cf_itest_sub_resynced(void *arg);
int cf_itest_sub_messaged(void *arg);
int cf_itest_sub_down(void *arg);

#endif
