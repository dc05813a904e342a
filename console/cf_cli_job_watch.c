/*  cf_cli_job_watch - `cf-console job watch ID`: a job's live progress from the server-sent
    events of GET /jobs/ID/events, reconnecting through the other servers; then a summary
    and the failed agents (docs/jobs.md section 5)  */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cf_cli.h"
#include "cf_cli_job_int.h"
#include "cf_client_stream.h"
#include "cf_mem.h"
#include "cf_sse.h"

#define S_N(a)        (sizeof(a) / sizeof((a)[0]))
#define S_MAX_EVENT   (256 * 1024) /* largest event we take, bytes */
#define S_IDLE_MS     15000        /* the server sends a job event at least every 5 s */
#define S_LINE_MS     2000         /* plain lines at most this often */
#define S_BAR_WIDTH   30           /* characters of the bar */
#define S_MAX_FAILED  10000        /* failed agents listed */
#define S_PAGE        1000         /* failed agents per page */
#define S_BACKOFF_MAX 5000         /* longest pause between attempts, ms */

/* the per-agent states in the order they are shown; other keys of counts follow */
static const char *const s_order[] = {"pending", "queued",  "delivered", "installed",
                                      "failed",  "expired", "cancelled", "too_old"};
static const char *const s_final[] = {"installed", "failed", "expired", "cancelled"};

typedef struct {
    cf_cli_run_t *run;                                        /* the command */
    const char *id;                                           /* the job */
    cf_sse_t *sse;                                            /* the event parser */
    json_t *job;                                              /* latest job object */
    int done;                                                 /* the done event came */
    int got;                                                  /* events on this connection */
    int bar;                                                  /* draw a bar (a terminal) */
    int drawn;                                                /* a bar line is on screen */
    long long t0_ms;                                          /* first job event */
    long long final0;                                         /* final entries then */
    long long line_ms;                                        /* last plain line */
    char line[400];                                           /* its counts text */
    char urls[CF_CLI_JOB_MAX_SERVERS][CF_CLIENT_MAX_URL + 1]; /* servers to try */
    size_t n_urls;                                            /* entries in urls */
    size_t cur;                                               /* the one in use */
} s_watch_t;

static long long s_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long) t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static long long s_count(const json_t *job, const char *state)
{
    return (long long) json_integer_value(json_object_get(json_object_get(job, "counts"), state));
}

static long long s_finals(const json_t *job)
{
    long long n = 0;
    for (size_t i = 0; i < S_N(s_final); i++)
        n += s_count(job, s_final[i]);
    return n;
}

static int s_known(const char *key)
{
    for (size_t i = 0; i < S_N(s_order); i++)
        if (strcmp(key, s_order[i]) == 0)
            return 1;
    return 0;
}

/* "pending 3  delivered 10  installed 620 ..." : every count the job has (the non-zero
   ones when brief), known ones first. */
static void s_counts_text(const json_t *job, int brief, char *buf, size_t len)
{
    const json_t *counts = json_object_get(job, "counts");
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < S_N(s_order) && used < len; i++) {
        const json_t *v = json_object_get(counts, s_order[i]);
        if (json_is_integer(v) && (!brief || json_integer_value(v) != 0))
            used += (size_t) snprintf(buf + used, len - used, "%s%s %lld", used ? "  " : "",
                                      s_order[i], (long long) json_integer_value(v));
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *) counts, key, v)
    {
        if (!s_known(key) && json_is_integer(v) && used < len &&
            (!brief || json_integer_value(v) != 0))
            used += (size_t) snprintf(buf + used, len - used, "%s%.32s %lld", used ? "  " : "", key,
                                      (long long) json_integer_value(v));
    }
}

/* Rate (final entries per second since the first job event) and ETA text. */
static void s_rate(const s_watch_t *w, long long final, long long total, char *buf, size_t len)
{
    double secs = (double) (s_now_ms() - w->t0_ms) / 1000.0;
    double rate = secs >= 1.0 ? (double) (final - w->final0) / secs : 0.0;
    if (rate <= 0.0 || final >= total) {
        snprintf(buf, len, "%.1f agents/s", rate > 0.0 ? rate : 0.0);
        return;
    }
    long long eta = (long long) ((double) (total - final) / rate + 0.5);
    snprintf(buf, len, "%.1f agents/s  ETA %lldm%02llds", rate, eta / 60, eta % 60);
}

/* The progress: a bar redrawn in place, or a plain line when the counts moved. */
static void s_show(s_watch_t *w, int last)
{
    long long total = (long long) json_integer_value(json_object_get(w->job, "total"));
    long long final = s_finals(w->job);
    char counts[sizeof(w->line)], rate[64];
    s_counts_text(w->job, w->bar, counts, sizeof(counts));
    s_rate(w, final, total, rate, sizeof(rate));
    int pct = total > 0 ? (int) (final * 100 / total) : 100;
    if (w->bar) {
        char bar[S_BAR_WIDTH + 1];
        int fill = total > 0 ? (int) (final * S_BAR_WIDTH / total) : S_BAR_WIDTH;
        for (int i = 0; i < S_BAR_WIDTH; i++)
            bar[i] = i < fill ? '#' : '-';
        bar[S_BAR_WIDTH] = '\0';
        /* one line that fits the terminal, or \r cannot redraw it */
        char line[sizeof(w->line) + 128];
        snprintf(line, sizeof(line), "[%s] %3d%% %lld/%lld  %s  %s", bar, pct, final, total, counts,
                 rate);
        struct winsize ws;
        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 &&
            strlen(line) >= ws.ws_col)
            line[ws.ws_col - 1] = '\0';
        printf("\r\033[K%s", line);
        w->drawn = 1;
    } else if (last || (strcmp(counts, w->line) != 0 && s_now_ms() - w->line_ms >= S_LINE_MS)) {
        printf("job %s: %d%% %lld/%lld  %s  %s\n", w->id, pct, final, total, counts, rate);
        snprintf(w->line, sizeof(w->line), "%s", counts);
        w->line_ms = s_now_ms();
    }
    fflush(stdout);
}

/* --json: one line per event {"event","id","data"}. */
static void s_print_event(const cf_sse_event_t *ev, json_t *data)
{
    json_t *line = json_pack("{s:s,s:s?,s:O}", "event", ev->type, "id", ev->id[0] ? ev->id : NULL,
                             "data", data);
    char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
    if (text)
        printf("%s\n", text);
    fflush(stdout);
    free(text); /* jansson's allocation */
    json_decref(line);
}

static cf_err_t s_on_event(void *arg, const cf_sse_event_t *ev)
{
    s_watch_t *w = arg;
    json_t *data = json_loadb(ev->data, ev->data_len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(data)) {
        json_decref(data);
        return CF_ERR_CORRUPT; /* not one of our events: drop the connection */
    }
    w->got++;
    if (w->run->json)
        s_print_event(ev, data);
    int job = strcmp(ev->type, "job") == 0, done = strcmp(ev->type, "done") == 0;
    if (job || done) {
        json_decref(w->job);
        w->job = json_incref(data);
        if (w->t0_ms == 0) {
            w->t0_ms = s_now_ms();
            w->final0 = s_finals(data);
        }
        if (!w->run->json)
            s_show(w, done);
    }
    json_decref(data);
    if (!done)
        return CF_OK;
    w->done = 1;
    return CF_ERR_STATE; /* the end: stop reading */
}

static size_t s_on_data(void *arg, const char *data, size_t len)
{
    s_watch_t *w = arg;
    return cf_sse_feed(w->sse, data, len) == CF_OK ? len : 0;
}

/* Add url unless it is there already. */
static void s_add_url(s_watch_t *w, const char *url)
{
    if (w->n_urls >= CF_CLI_JOB_MAX_SERVERS || cf_client_check_url(url, NULL) != CF_OK)
        return;
    size_t len = strlen(url);
    if (url[len - 1] == '/')
        len--;
    for (size_t i = 0; i < w->n_urls; i++)
        if (strlen(w->urls[i]) == len && strncmp(w->urls[i], url, len) == 0)
            return;
    snprintf(w->urls[w->n_urls++], sizeof(w->urls[0]), "%.*s", (int) len, url);
}

/* The servers to go round: ours, --also, then the online ones GET /servers lists. */
static void s_servers(s_watch_t *w)
{
    size_t n = 0;
    const char *const *also = cf_cfg_list(w->run->cfg, "also", &n);
    s_add_url(w, cf_client_url(w->run->client));
    for (size_t i = 0; i < n; i++)
        s_add_url(w, also[i]);
    cf_client_reply_t r = {.alert = -1};
    if (cf_client_call(w->run->client, "GET", "/servers", NULL, &r) == CF_OK && r.status == 200) {
        size_t i;
        json_t *srv;
        json_array_foreach(json_object_get(r.json, "servers"), i, srv)
        {
            const char *host = json_string_value(json_object_get(srv, "host"));
            json_int_t port = json_integer_value(json_object_get(srv, "port"));
            char url[CF_CLIENT_MAX_URL + 1];
            if (!host || port < 1 || port > 65535 || !json_is_true(json_object_get(srv, "online")))
                continue;
            snprintf(url, sizeof(url), strchr(host, ':') ? "https://[%s]:%lld" : "https://%s:%lld",
                     host, (long long) port);
            s_add_url(w, url);
        }
    }
    cf_client_reply_clear(&r);
}

static void s_pause(long long ms)
{
    struct timespec t = {(time_t) (ms / 1000), (long) (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* Clear a bar line before a message goes to stderr. */
static void s_unbar(s_watch_t *w)
{
    if (w->drawn) {
        printf("\n");
        fflush(stdout);
        w->drawn = 0;
    }
}

/* One connection: 0 to go on, else the exit code to stop with (a refusal). */
static int s_attempt(s_watch_t *w)
{
    char path[64];
    cf_client_reply_t r = {.alert = -1};
    cf_client_stream_end_t end = CF_CLIENT_STREAM_CLOSED;
    snprintf(path, sizeof(path), "/jobs/%s/events", w->id);
    cf_sse_reset(w->sse);
    w->got = 0;
    cf_err_t rc = cf_client_set_url(w->run->client, w->urls[w->cur], NULL);
    if (rc == CF_OK)
        rc = cf_client_stream(w->run->client, path, cf_sse_last_id(w->sse), S_IDLE_MS, NULL,
                              s_on_data, w, &r, &end);
    int code = 0;
    if (rc == CF_ERR_NOMEM || rc == CF_ERR_INVALID) {
        code = cf_cli_fail(w->run->prog, rc, NULL, "cannot watch");
    } else if (!w->done && rc == CF_OK && r.status != 200 && r.status != 503 && r.status < 500) {
        s_unbar(w);
        code = cf_client_complain(w->run->prog, "cannot watch the job", w->run->client, &r);
    } else if (!w->done) {
        s_unbar(w);
        fprintf(stderr, "%s: %s: %s; trying again\n", w->run->prog, w->urls[w->cur],
                r.status == 200 ? "the connection ended"
                : r.message[0]  ? r.message
                                : "no answer");
    }
    cf_client_reply_clear(&r);
    return code;
}

/* Connect, reconnect, until done; the exit code of a failure, or 0. */
static int s_loop(s_watch_t *w)
{
    long long give_up = cf_cfg_int(w->run->cfg, "give-up") * 1000, ok_ms = s_now_ms();
    int fails = 0;
    while (!w->done) {
        int code = s_attempt(w);
        if (code != 0)
            return code;
        if (w->done)
            break;
        if (w->got > 0) {
            fails = 0;
            ok_ms = s_now_ms();
        } else if (s_now_ms() - ok_ms > give_up) {
            fprintf(stderr, "%s: no server answered for %llds; giving up\n", w->run->prog,
                    give_up / 1000);
            return CF_EXIT_NET;
        } else {
            fails++;
        }
        w->cur = (w->cur + 1) % w->n_urls; /* the next server (or the same when alone) */
        long long pause = fails == 0 ? 200 : 250LL << (fails < 5 ? fails : 5);
        s_pause(pause < S_BACKOFF_MAX ? pause : S_BACKOFF_MAX);
    }
    return 0;
}

/* The failed agents with their reasons, page by page, as a table. */
static void s_failed(s_watch_t *w)
{
    static const cf_table_col_t cols[] = {{"FAILED AGENT", CF_TABLE_LEFT},
                                          {"REASON", CF_TABLE_LEFT}};
    cf_table_t *t = cf_table_new(cols, 2, 0);
    char cursor[3 * 64] = "", path[128 + sizeof(cursor)];
    size_t shown = 0;
    do {
        json_t *page = NULL;
        snprintf(path, sizeof(path), "/jobs/%s/agents?state=failed&limit=%d%s%s", w->id, S_PAGE,
                 cursor[0] ? "&cursor=" : "", cursor);
        if (cf_cli_fetch(w->run->prog, "cannot list the failed agents", w->run->client, "GET", path,
                         NULL, &page) != CF_EXIT_OK)
            break;
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(page, "agents"), i, a)
        {
            const char *why = json_string_value(json_object_get(a, "reason"));
            if (t && shown < S_MAX_FAILED &&
                (cf_table_add(t, json_string_value(json_object_get(a, "id"))) != CF_OK ||
                 cf_table_add(t, why ? why : "-") != CF_OK))
                cf_table_destroy(&t);
            shown++;
        }
        const char *next = json_string_value(json_object_get(page, "cursor"));
        if (!next || cf_cli_escape(next, cursor, sizeof(cursor)) != CF_OK)
            cursor[0] = '\0';
        json_decref(page);
    } while (cursor[0]);
    if (t && shown > 0)
        (void) cf_cli_print_table(w->run, &t);
    cf_table_destroy(&t);
    if (shown > S_MAX_FAILED)
        printf("... and %zu more failed agents (cf-console job show %s --state failed)\n",
               shown - S_MAX_FAILED, w->id);
}

/* After done: the summary, the failed agents; the exit code. */
static int s_summary(s_watch_t *w)
{
    long long total = (long long) json_integer_value(json_object_get(w->job, "total"));
    long long installed = s_count(w->job, "installed");
    if (!w->run->json) {
        s_unbar(w);
        char counts[sizeof(w->line)];
        s_counts_text(w->job, 0, counts, sizeof(counts));
        printf("job %s done: %lld of %lld installed (%s)\n", w->id, installed, total, counts);
        if (s_count(w->job, "failed") > 0)
            s_failed(w);
    }
    return installed == total ? CF_EXIT_OK : CF_EXIT_FAIL;
}

int cf_cli_job_watch_run(cf_cli_run_t *run, const char *id)
{
    s_watch_t *w = cf_mem_calloc(1, sizeof(*w));
    if (!w)
        return cf_cli_fail(run->prog, CF_ERR_NOMEM, NULL, "cannot watch");
    w->run = run;
    w->id = id;
    w->bar = !run->json && !cf_cfg_bool(run->cfg, "no-bar") && isatty(STDOUT_FILENO);
    int code = CF_EXIT_FAIL;
    if (cf_sse_new(S_MAX_EVENT, s_on_event, w, &w->sse) != CF_OK) {
        code = cf_cli_fail(run->prog, CF_ERR_NOMEM, NULL, "cannot watch");
    } else {
        s_servers(w);
        code = s_loop(w);
        if (code == 0)
            code = s_summary(w);
    }
    s_unbar(w);
    cf_sse_destroy(&w->sse);
    json_decref(w->job);
    cf_mem_free(w);
    return code;
}

int cf_cli_job_watch(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {CF_CLIENT_OPTIONS, CF_CLI_JSON_OPTION,
                                        CF_CLI_JOB_WATCH_OPTIONS};
    cf_cli_run_t run;
    if (!cf_cli_begin(&run, "cf-console job watch",
                      "ID [--no-bar] [--also URL,URL] [--give-up TIME] [--json] [connection "
                      "options]",
                      "Follow a job live until every agent is done: a progress bar with the count\n"
                      "in each state, the rate in agents per second and the time left (plain\n"
                      "lines when the output is not a terminal), then a summary and the failed\n"
                      "agents with their reasons. --json prints the server's events as JSON\n"
                      "lines {\"event\",\"id\",\"data\"}. When the connection drops it goes on\n"
                      "through the next server (--also, and those the server list names) from\n"
                      "the last event seen. Exit code 0 when every agent installed, 1 when some\n"
                      "failed, expired or were cancelled.\n" CF_EXIT_HELP,
                      opts, S_N(opts), 1, 1, argc, argv))
        return cf_cli_end(&run);
    const char *id = run.args[0];
    if (strspn(id, "0123456789abcdef") != CF_CLI_JOB_ID_HEX || id[CF_CLI_JOB_ID_HEX]) {
        run.exit_code =
            cf_cli_usage_error(run.prog, "'%.80s' is not a job id (32 lowercase hex)", id);
        return cf_cli_end(&run);
    }
    if (cf_cli_open_run(&run))
        run.exit_code = cf_cli_job_watch_run(&run, id);
    return cf_cli_end(&run);
}
