/*  cf_itest_server - run real cf-server processes in integration tests  */
#include "cf_itest_server.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_itest.h"
#include "cf_test.h"

static void s_args(cf_itest_server_t *s, const char *dir, int redis_port, const char *alias,
                   const char *const *extra, char bufs[8][600], char **argv)
{
    const char *bin = getenv("CF_BIN_DIR");
    snprintf(s->alias, sizeof(s->alias), "%s", alias);
    snprintf(s->log, sizeof(s->log), "%s/%s.log", dir, alias);
    s->port = cf_itest_free_port();
    s->plain_port = cf_itest_free_port();
    snprintf(bufs[0], 600, "%s/server/cf-server", bin && *bin ? bin : ".");
    snprintf(bufs[1], 600, "%d", s->port);
    snprintf(bufs[2], 600, "%d", s->plain_port);
    snprintf(bufs[3], 600, "127.0.0.1:%d", redis_port);
    snprintf(bufs[4], 600, "%s/secret", dir);
    snprintf(bufs[5], 600, "%s/out", dir);
    const char *fixed[] = {
        bufs[0],  "--alias", alias,          "--host",      "127.0.0.1", "--bind", "127.0.0.1",
        "--port", bufs[1],   "--plain-port", bufs[2],       "--redis",   bufs[3],  "--secret-file",
        bufs[4],  "--out",   bufs[5],        "--heartbeat", "1s",        NULL};
    size_t n = 0;
    for (; fixed[n]; n++)
        argv[n] = (char *) fixed[n];
    for (size_t i = 0; extra && extra[i] && n < CF_ITEST_SERVER_MAX_ARGS - 1; i++)
        argv[n++] = (char *) extra[i];
    argv[n] = NULL;
}

cf_err_t cf_itest_server_start(cf_itest_server_t *s, const char *dir, int redis_port,
                               const char *alias, const char *const *extra)
{
    char bufs[8][600];
    char *argv[CF_ITEST_SERVER_MAX_ARGS];
    s_args(s, dir, redis_port, alias, extra, bufs, argv);
    CF_TRY(cf_itest_spawn(argv, s->log, &s->pid));
    for (int waited = 0; waited < 20000; waited += 100) {
        if (cf_itest_wait_port("127.0.0.1", s->port, 100) == CF_OK)
            return CF_OK;
        if (cf_itest_exit_code(s->pid, 0) >= 0) {
            s->pid = 0;
            return CF_ERR_IO;
        }
    }
    cf_itest_server_stop(s, SIGKILL);
    return CF_ERR_IO;
}

int cf_itest_server_run(cf_itest_server_t *s, const char *dir, int redis_port, const char *alias,
                        const char *const *extra)
{
    char bufs[8][600];
    char *argv[CF_ITEST_SERVER_MAX_ARGS];
    s_args(s, dir, redis_port, alias, extra, bufs, argv);
    if (cf_itest_spawn(argv, s->log, &s->pid) != CF_OK)
        return -1;
    int code = cf_itest_exit_code(s->pid, 20000);
    if (code < 0)
        cf_itest_server_stop(s, SIGKILL);
    s->pid = 0;
    return code;
}

void cf_itest_server_stop(cf_itest_server_t *s, int sig)
{
    if (!s->pid)
        return;
    if (cf_itest_kill(s->pid, sig) != CF_OK)
        print_message("cf-server %s (pid %d) was already gone\n", s->alias, (int) s->pid);
    s->pid = 0;
}

int cf_itest_server_log_has(const cf_itest_server_t *s, const char *text)
{
    size_t len = 0;
    char *log = cf_test_read_file(s->log, &len);
    int found = strstr(log, text) != NULL;
    free(log);
    return found;
}

struct s_log_wait {
    const cf_itest_server_t *s;
    const char *text;
};

static int s_log_has(void *arg)
{
    const struct s_log_wait *w = arg;
    return cf_itest_server_log_has(w->s, w->text);
}

int cf_itest_server_log_wait(const cf_itest_server_t *s, const char *text, int timeout_ms)
{
    struct s_log_wait w = {s, text};
    return cf_test_wait_until(s_log_has, &w, timeout_ms);
}
