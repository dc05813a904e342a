/*  cf_cli_job - `cf-console job ...`: certificate jobs for many agents: create, show, list,
    cancel, retry (docs/jobs.md section 5)  */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_cli.h"
#include "cf_cli_api.h"
#include "cf_cli_job_ctl.h"
#include "cf_cli_job_int.h"
#include "cf_client.h"
#include "cf_db_key.h"
#include "cf_table.h"

#define S_N(opts)    (sizeof(opts) / sizeof((opts)[0]))
#define S_CONN       "[--json] [connection options]"
#define S_ID_HEX     CF_CLI_JOB_ID_HEX
#define S_MAX_AGENTS 3500     /* ids in one `job create --agents`: 66 bytes each fit 256 KiB */
#define S_MAX_LIMIT  10000    /* agents per page of `job show`, jobs in `job list` */
#define S_MAX_CURSOR 256      /* longest paging cursor, bytes */
#define S_MAX_TTL    31622400 /* 366 days: the longest job */
#define S_PATH_MAX   (128 + 3 * S_MAX_CURSOR) /* a request path with its query */

static const char *const s_types[] = {"install_cert", "renew_csr", "set_favorite",
                                      "recheck",      "reissue",   NULL};
static const char *const s_locks[] = {"secure", "attention", "insecure", "expired", NULL};
static const char *const s_forms[] = {"pem", "p12", NULL};
/* the per-agent states, in the order the console shows their counts */
static const char *const s_states[] = {"pending", "queued",    "delivered", "installed", "failed",
                                       "expired", "cancelled", "too_old",   NULL};

static const cf_table_col_t s_kv_cols[] = {{NULL, CF_TABLE_LEFT}, {NULL, CF_TABLE_LEFT}};
static const cf_table_col_t s_agent_cols[] = {
    {"AGENT", CF_TABLE_LEFT}, {"STATE", CF_TABLE_LEFT}, {"REASON", CF_TABLE_LEFT}};
static const cf_table_col_t s_list_cols[] = {
    {"JOB", CF_TABLE_LEFT},     {"TYPE", CF_TABLE_LEFT},     {"CREATED", CF_TABLE_LEFT},
    {"EXPIRES", CF_TABLE_LEFT}, {"AGENTS", CF_TABLE_RIGHT},  {"INSTALLED", CF_TABLE_RIGHT},
    {"FAILED", CF_TABLE_RIGHT}, {"WAITING", CF_TABLE_RIGHT}, {"DONE", CF_TABLE_LEFT},
};

static const char *s_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static long long s_int(const json_t *o, const char *key)
{
    return (long long) json_integer_value(json_object_get(o, key));
}

/* The job's count of one state (0 when the answer has none). */
static long long s_count(const json_t *job, const char *state)
{
    return s_int(json_object_get(job, "counts"), state);
}

/* The positional argument 0 as a job id; 0 with a usage error when it is not one. */
static int s_job_id(cf_cli_run_t *run)
{
    const char *id = run->args[0];
    size_t n = strspn(id, "0123456789abcdef");
    if (n == S_ID_HEX && id[n] == '\0')
        return 1;
    run->exit_code =
        cf_cli_usage_error(run->prog, "'%.80s' is not a job id (32 lowercase hex)", id);
    return 0;
}

/* ---- job create --------------------------------------------------------------------- */

/* The target member of the body from exactly one of --agents, --all, --ip-range, --state. */
static int s_target(cf_cli_run_t *run, json_t *body)
{
    size_t n = 0;
    const char *const *ids = cf_cfg_list(run->cfg, "agents", &n);
    const char *range = cf_cli_flag(run->cfg, "ip-range");
    const char *state = cf_cli_flag(run->cfg, "state");
    int all = cf_cfg_bool(run->cfg, "all");
    if ((n > 0) + all + !!range + !!state != 1) {
        run->exit_code = cf_cli_usage_error(
            run->prog, "give exactly one target: --agents ID,ID, --all, --ip-range or --state");
        return 0;
    }
    if (all || range || state) {
        json_t *v = all ? json_true() : json_string(range ? range : state);
        return json_object_set_new(body, all ? "all" : range ? "ip_range" : "state", v) == 0;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        if (cf_db_check_agent_id(ids[i]) != CF_OK) {
            json_decref(a);
            run->exit_code = cf_cli_usage_error(run->prog, "'%.80s' is not an agent id", ids[i]);
            return 0;
        }
        if (json_array_append_new(a, json_string(ids[i])) != 0)
            break;
    }
    if (!a || json_array_size(a) != n) {
        json_decref(a);
        return 0;
    }
    return json_object_set_new(body, "agents", a) == 0;
}

/* The options that belong to one type only; 0 with a usage error for a stray one. */
static int s_type_options(cf_cli_run_t *run, const char *type)
{
    int install = strcmp(type, "install_cert") == 0, fav = strcmp(type, "set_favorite") == 0;
    const char *stray = NULL;
    if (!install && cf_cli_flag_given(run->cfg, "cert-name"))
        stray = "--cert-name";
    else if (!install && cf_cli_flag_given(run->cfg, "form"))
        stray = "--form";
    else if (!fav && cf_cli_flag_given(run->cfg, "favorite"))
        stray = "--favorite";
    if (stray) {
        run->exit_code = cf_cli_usage_error(run->prog, "%s does not go with a %s job", stray, type);
        return 0;
    }
    if (fav && !cf_cli_flag(run->cfg, "favorite")) {
        run->exit_code = cf_cli_usage_error(run->prog, "a set_favorite job needs --favorite ALIAS");
        return 0;
    }
    return 1;
}

/* {"type", target, "ttl", and the type's fields} from the command line. */
static int s_create_body(cf_cli_run_t *run, const char *type, json_t **out)
{
    int known = 0;
    for (size_t i = 0; s_types[i]; i++)
        known |= strcmp(type, s_types[i]) == 0;
    if (!known) {
        run->exit_code = cf_cli_usage_error(
            run->prog,
            "unknown job type '%.40s': install_cert, renew_csr, set_favorite, recheck, reissue",
            type);
        return 0;
    }
    if (!s_type_options(run, type))
        return 0;
    json_t *body = json_pack("{s:s}", "type", type);
    int ok = body && s_target(run, body) && cf_cli_job_waves_body(run, body);
    if (ok && cf_cli_flag_given(run->cfg, "ttl"))
        ok = json_object_set_new(body, "ttl", json_integer(cf_cfg_int(run->cfg, "ttl"))) == 0;
    const char *keys[][2] = {{"cert-name", "cert"}, {"form", "form"}, {"favorite", "favorite"}};
    for (size_t i = 0; ok && i < S_N(keys); i++) {
        const char *v = cf_cli_flag(run->cfg, keys[i][0]);
        if (v)
            ok = json_object_set_new(body, keys[i][1], json_string(v)) == 0;
    }
    if (!ok) {
        json_decref(body);
        if (run->exit_code == CF_EXIT_OK)
            run->exit_code = cf_cli_fail(run->prog, CF_ERR_NOMEM, NULL, "cannot build the request");
        return 0;
    }
    *out = body;
    return 1;
}

static void s_create_print(const json_t *a)
{
    printf("job %s: %lld agents", s_str(a, "id") ? s_str(a, "id") : "-", s_int(a, "total"));
    if (s_int(a, "too_old") > 0)
        printf(", %lld of them too old for it (they get it once upgraded)", s_int(a, "too_old"));
    printf("\n");
    const json_t *unknown = json_object_get(a, "unknown");
    if (json_array_size(unknown) == 0)
        return;
    printf("unknown agents left out (%zu):", json_array_size(unknown));
    size_t i;
    json_t *u;
    json_array_foreach(unknown, i, u)
    {
        if (i == 20) {
            printf(" ...");
            break;
        }
        printf(" %s", json_string_value(u) ? json_string_value(u) : "?");
    }
    printf("\n");
}

/* The answer of a create: the job id, then --watch follows it. */
static void s_created(cf_cli_run_t *run, const json_t *answer)
{
    const char *id = s_str(answer, "id");
    int watch = cf_cfg_bool(run->cfg, "watch");
    if (run->json && watch) {
        char *text = json_dumps(answer, JSON_COMPACT); /* one line, as the events after it */
        if (text)
            printf("%s\n", text);
        free(text); /* jansson's allocation */
    } else if (run->json) {
        cf_cli_print_json(answer);
    } else {
        s_create_print(answer);
    }
    fflush(stdout);
    if (!watch)
        return;
    if (!id || strspn(id, "0123456789abcdef") != S_ID_HEX || id[S_ID_HEX]) {
        run->exit_code = cf_cli_fail(run->prog, CF_ERR_CORRUPT, NULL, "the answer has no job id");
        return;
    }
    run->exit_code = cf_cli_job_watch_run(run, id);
}

/* job create TYPE, and the verbs (type given): create, print the id, --watch. */
static int s_create_as(int argc, char **argv, const char *type, const char *prog,
                       const char *synopsis, const char *about)
{
    static const cf_cfg_opt_t opts[] = {
        CF_CLIENT_OPTIONS,
        CF_CLI_JSON_OPTION,
        {"agents", 0, CF_CFG_LIST, "ID,ID", "these agents", NULL, 0, S_MAX_AGENTS, NULL},
        {"all", 0, CF_CFG_BOOL, NULL, "every agent of the fleet", "false", 0, 0, NULL},
        {"ip-range", 0, CF_CFG_STRING, "RANGE",
         "the agents last seen in this range (CIDR or from-to)", NULL, 0, 0, NULL},
        {"state", 0, CF_CFG_ENUM, "LOCK", "the agents in this lock state", NULL, 0, 0, s_locks},
        {"ttl", 0, CF_CFG_DURATION, "D", "how long the job lasts (default 7d, at most 366d)", NULL,
         1, S_MAX_TTL, NULL},
        {"cert-name", 0, CF_CFG_STRING, "NAME",
         "install_cert: the agent certificate record to push (default: shared)", NULL, 0, 0, NULL},
        {"form", 0, CF_CFG_ENUM, "FORM", "install_cert: pem or p12 (default pem)", NULL, 0, 0,
         s_forms},
        {"favorite", 0, CF_CFG_STRING, "ALIAS", "set_favorite: the server alias", NULL, 0, 0, NULL},
        {"watch", 0, CF_CFG_BOOL, NULL, "then follow it live (as job watch)", "false", 0, 0, NULL},
        CF_CLI_JOB_WATCH_OPTIONS,
        CF_CLI_JOB_WAVE_OPTIONS,
    };
    cf_cli_run_t run;
    json_t *body = NULL, *answer = NULL;
    int n = type ? 0 : 1;
    if (!cf_cli_begin(&run, prog, synopsis, about, opts, S_N(opts), n, n, argc, argv) ||
        !s_create_body(&run, type ? type : run.args[0], &body) || !cf_cli_open_run(&run))
        goto out;
    run.exit_code =
        cf_cli_fetch(run.prog, "cannot create the job", run.client, "POST", "/jobs", body, &answer);
    if (run.exit_code == CF_EXIT_OK)
        s_created(&run, answer);
out:
    json_decref(body);
    json_decref(answer);
    return cf_cli_end(&run);
}

#define S_TARGET "(--agents ID,ID | --all | --ip-range RANGE | --state LOCK) [--ttl D] "
#define S_WATCH  CF_CLI_JOB_WAVE_SYNOPSIS " [--watch [--no-bar]] "
#define S_CREATE_ABOUT                                                                      \
    "Prints the job id and how many agents it reaches; agents that speak too old a\n"       \
    "protocol show too_old and get the job once upgraded. --batch and --rate roll it out\n" \
    "in waves (agents waiting show queued); --max-failures aborts it. --watch then\n"       \
    "follows it live (as job watch; its exit code).\n" CF_EXIT_HELP

static int s_create(int argc, char **argv)
{
    return s_create_as(
        argc, argv, NULL, "cf-console job create",
        "TYPE " S_TARGET "[--cert-name NAME] [--form pem|p12] [--favorite ALIAS] " S_WATCH S_CONN,
        "Create a job for many agents. TYPE: install_cert (push a certificate and its\n"
        "key, sealed to each agent), renew_csr (the agent makes a key and a CSR),\n"
        "set_favorite (--favorite ALIAS), recheck (the agent reports its "
        "certificate),\nreissue (the server issues a new certificate for the key the agent "
        "holds).\n" S_CREATE_ABOUT);
}

static int s_install_cert(int argc, char **argv)
{
    return s_create_as(argc, argv, "install_cert", "cf-console job install-cert",
                       S_TARGET "[--cert-name NAME] [--form pem|p12] " S_WATCH S_CONN,
                       "Push a certificate and its key to agents, sealed to each (job create\n"
                       "install_cert; --cert-name names the agent certificate record, default\n"
                       "shared).\n" S_CREATE_ABOUT);
}

static int s_renew(int argc, char **argv)
{
    return s_create_as(argc, argv, "renew_csr", "cf-console job renew", S_TARGET S_WATCH S_CONN,
                       "Have agents renew their certificate: each makes a key and a CSR, the\n"
                       "server signs it (job create renew_csr).\n" S_CREATE_ABOUT);
}

static int s_reissue(int argc, char **argv)
{
    return s_create_as(argc, argv, "reissue", "cf-console job reissue", S_TARGET S_WATCH S_CONN,
                       "Give agents a new certificate for the key each already holds: the\n"
                       "server issues it (same subject and names, new serial and validity) and\n"
                       "sends it signed; no private key travels (job create reissue; agents\n"
                       "need protocol level 2, older ones show too_old).\n" S_CREATE_ABOUT);
}

static int s_set_favorite(int argc, char **argv)
{
    return s_create_as(
        argc, argv, "set_favorite", "cf-console job set-favorite",
        S_TARGET "--favorite ALIAS " S_WATCH S_CONN,
        "Set the agents' favorite server (job create set_favorite).\n" S_CREATE_ABOUT);
}

/* ---- job show ----------------------------------------------------------------------- */

static cf_err_t s_job_kv(cf_table_t *t, const json_t *job)
{
    char c[CF_TABLE_TIME_MAX], e[CF_TABLE_TIME_MAX], d[CF_TABLE_TIME_MAX];
    const char *keys[] = {"id", "type", "target", "issuer", "by"};
    const char *names[] = {"Job", "Type", "Target", "Issued by server", "Created by"};
    cf_err_t rc = t ? CF_OK : CF_ERR_NOMEM;
    for (size_t i = 0; rc == CF_OK && i < S_N(keys); i++)
        rc = cf_table_kv(t, names[i], "%s", s_str(job, keys[i]) ? s_str(job, keys[i]) : "-");
    if (rc == CF_OK)
        rc = cf_table_kv(t, "Created", "%s", cf_table_time(s_int(job, "created"), c, sizeof(c)));
    if (rc == CF_OK)
        rc = cf_table_kv(t, "Expires", "%s", cf_table_time(s_int(job, "expires"), e, sizeof(e)));
    if (rc == CF_OK)
        rc = cf_table_kv(t, "Done", "%s",
                         s_int(job, "done") > 0 ? cf_table_time(s_int(job, "done"), d, sizeof(d))
                                                : "no (agents still waiting)");
    if (rc == CF_OK)
        rc = cf_cli_job_rollout_kv(t, job);
    if (rc == CF_OK)
        rc = cf_table_kv(t, "Agents", "%lld", s_int(job, "total"));
    for (size_t i = 0; rc == CF_OK && s_states[i]; i++)
        rc = cf_table_kv(t, s_states[i], "%lld", s_count(job, s_states[i]));
    return rc;
}

static void s_show_print(cf_cli_run_t *run, const json_t *job, const json_t *page)
{
    char cursor[S_MAX_CURSOR + 1];
    cf_table_t *t = cf_table_new(s_kv_cols, 2, 0);
    if (s_job_kv(t, job) != CF_OK)
        fprintf(stderr, "%s: the job could not be shown whole\n", run->prog);
    if (cf_cli_print_table(run, &t) != CF_EXIT_OK)
        return;
    const json_t *agents = json_object_get(page, "agents");
    printf("\n");
    t = cf_table_new(s_agent_cols, S_N(s_agent_cols), 0);
    size_t i;
    json_t *a;
    json_array_foreach(agents, i, a)
    {
        if (!t || cf_table_add(t, s_str(a, "id")) != CF_OK ||
            cf_table_add(t, s_str(a, "state")) != CF_OK ||
            cf_table_add(t, s_str(a, "reason")) != CF_OK)
            break;
    }
    if (cf_cli_print_table(run, &t) != CF_EXIT_OK)
        return;
    if (json_array_size(agents) == 0)
        printf("no agent%s\n", cf_cli_flag(run->cfg, "state") ? " in that state" : "");
    if (cf_table_cursor(json_object_get(page, "cursor"), cursor, sizeof(cursor)) == CF_OK &&
        cursor[0])
        printf("more: add --cursor %s\n", cursor);
}

/* /jobs/ID/agents?state=&limit=&cursor= from the options into path. */
static int s_agents_path(cf_cli_run_t *run, char *path, size_t len)
{
    char cursor[3 * S_MAX_CURSOR + 1];
    const char *c = cf_cli_flag(run->cfg, "cursor");
    const char *state = cf_cli_flag(run->cfg, "state");
    if (c && (strlen(c) > S_MAX_CURSOR || cf_cli_escape(c, cursor, sizeof(cursor)) != CF_OK)) {
        run->exit_code =
            cf_cli_usage_error(run->prog, "--cursor is longer than %d bytes", S_MAX_CURSOR);
        return 0;
    }
    size_t n = (size_t) snprintf(path, len, "/jobs/%s/agents?", run->args[0]);
    if (state)
        n += (size_t) snprintf(path + n, len - n, "state=%s&", state); /* one of s_states */
    if (cf_cli_flag_given(run->cfg, "limit"))
        n += (size_t) snprintf(path + n, len - n, "limit=%lld&", cf_cfg_int(run->cfg, "limit"));
    if (c)
        snprintf(path + n, len - n, "cursor=%s", cursor);
    else
        path[n - 1] = '\0'; /* the last '&' or the '?' */
    return 1;
}

static int s_show(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {
        CF_CLIENT_OPTIONS,
        CF_CLI_JSON_OPTION,
        {"state", 0, CF_CFG_ENUM, "STATE", "only agents in this state", NULL, 0, 0, s_states},
        {"limit", 0, CF_CFG_INT, "N", "agents per page", NULL, 1, S_MAX_LIMIT, NULL},
        {"cursor", 0, CF_CFG_STRING, "C", "the page after the one that gave this cursor", NULL, 0,
         0, NULL},
    };
    cf_cli_run_t run;
    char path[S_PATH_MAX];
    json_t *job = NULL, *page = NULL;
    if (!cf_cli_begin(&run, "cf-console job show",
                      "ID [--state STATE] [--limit N] [--cursor C] " S_CONN,
                      "Show a job: its rollout, its counts per state (pending, queued, delivered,\n"
                      "installed, failed, expired, cancelled, too_old) and its agents with their\n"
                      "state, a page at a time. --json prints "
                      "{\"job\":…,\"agents\":[…],\"cursor\":…}.\n" CF_EXIT_HELP,
                      opts, S_N(opts), 1, 1, argc, argv) ||
        !s_job_id(&run) || !s_agents_path(&run, path, sizeof(path)) || !cf_cli_open_run(&run))
        return cf_cli_end(&run);
    char jpath[16 + S_ID_HEX];
    snprintf(jpath, sizeof(jpath), "/jobs/%s", run.args[0]); /* checked: hex */
    run.exit_code =
        cf_cli_fetch(run.prog, "cannot read the job", run.client, "GET", jpath, NULL, &job);
    if (run.exit_code == CF_EXIT_OK)
        run.exit_code = cf_cli_fetch(run.prog, "cannot read the job's agents", run.client, "GET",
                                     path, NULL, &page);
    if (run.exit_code == CF_EXIT_OK && run.json) {
        json_t *all =
            json_pack("{s:O,s:O,s:O}", "job", job, "agents", json_object_get(page, "agents"),
                      "cursor", json_object_get(page, "cursor"));
        cf_cli_print_json(all);
        json_decref(all);
    } else if (run.exit_code == CF_EXIT_OK) {
        s_show_print(&run, job, page);
    }
    json_decref(job);
    json_decref(page);
    return cf_cli_end(&run);
}

/* ---- job list, cancel, retry -------------------------------------------------------- */

static cf_err_t s_list_row(cf_table_t *t, const json_t *j)
{
    char c[CF_TABLE_TIME_MAX], e[CF_TABLE_TIME_MAX], d[CF_TABLE_TIME_MAX];
    long long waiting = s_count(j, "pending") + s_count(j, "queued") + s_count(j, "delivered") +
                        s_count(j, "too_old");
    cf_err_t rc = cf_table_add(t, s_str(j, "id"));
    if (rc == CF_OK)
        rc = cf_table_add(t, s_str(j, "type"));
    if (rc == CF_OK)
        rc = cf_table_add(t, cf_table_time(s_int(j, "created"), c, sizeof(c)));
    if (rc == CF_OK)
        rc = cf_table_add(t, cf_table_time(s_int(j, "expires"), e, sizeof(e)));
    if (rc == CF_OK)
        rc = cf_table_addf(t, "%lld", s_int(j, "total"));
    if (rc == CF_OK)
        rc = cf_table_addf(t, "%lld", s_count(j, "installed"));
    if (rc == CF_OK)
        rc = cf_table_addf(t, "%lld", s_count(j, "failed"));
    if (rc == CF_OK)
        rc = cf_table_addf(t, "%lld", waiting);
    if (rc == CF_OK)
        rc = cf_table_add(t, s_int(j, "done") > 0 ? cf_table_time(s_int(j, "done"), d, sizeof(d))
                                                  : "-");
    return rc;
}

static int s_list(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {
        CF_CLIENT_OPTIONS,
        CF_CLI_JSON_OPTION,
        {"limit", 0, CF_CFG_INT, "N", "jobs to show (newest first)", NULL, 1, S_MAX_LIMIT, NULL},
    };
    cf_cli_run_t run;
    char path[64] = "/jobs";
    json_t *answer = NULL;
    if (!cf_cli_begin(&run, "cf-console job list", "[--limit N] " S_CONN,
                      "List the jobs, newest first, with how many agents installed, failed or\n"
                      "still wait (pending, queued, delivered, too old).\n" CF_EXIT_HELP,
                      opts, S_N(opts), 0, 0, argc, argv) ||
        !cf_cli_open_run(&run))
        return cf_cli_end(&run);
    if (cf_cli_flag_given(run.cfg, "limit"))
        snprintf(path, sizeof(path), "/jobs?limit=%lld", cf_cfg_int(run.cfg, "limit"));
    run.exit_code =
        cf_cli_fetch(run.prog, "cannot list the jobs", run.client, "GET", path, NULL, &answer);
    if (run.exit_code == CF_EXIT_OK && run.json) {
        cf_cli_print_json(answer);
    } else if (run.exit_code == CF_EXIT_OK) {
        const json_t *jobs = json_object_get(answer, "jobs");
        cf_table_t *t = cf_table_new(s_list_cols, S_N(s_list_cols), 0);
        size_t i;
        json_t *j;
        json_array_foreach(jobs, i, j)
        {
            if (!t || s_list_row(t, j) != CF_OK)
                break;
        }
        if (cf_cli_print_table(&run, &t) == CF_EXIT_OK && json_array_size(jobs) == 0)
            printf("no job\n");
    }
    json_decref(answer);
    return cf_cli_end(&run);
}

/* job cancel ID / job retry ID: POST /jobs/ID/<verb>, then the job's counts. */
static int s_action(int argc, char **argv, const char *verb, const char *prog, const char *about,
                    const char *done)
{
    static const cf_cfg_opt_t opts[] = {CF_CLIENT_OPTIONS, CF_CLI_JSON_OPTION};
    cf_cli_run_t run;
    char path[32 + S_ID_HEX];
    json_t *answer = NULL;
    if (!cf_cli_begin(&run, prog, "ID " S_CONN, about, opts, S_N(opts), 1, 1, argc, argv) ||
        !s_job_id(&run) || !cf_cli_open_run(&run))
        return cf_cli_end(&run);
    snprintf(path, sizeof(path), "/jobs/%s/%s", run.args[0], verb);
    run.exit_code = cf_cli_fetch(run.prog, "refused", run.client, "POST", path, NULL, &answer);
    if (run.exit_code == CF_EXIT_OK && run.json)
        cf_cli_print_json(answer);
    else if (run.exit_code == CF_EXIT_OK)
        printf("job %s %s: %lld pending, %lld queued, %lld installed, %lld failed, %lld "
               "expired, %lld cancelled, %lld too old\n",
               run.args[0], done, s_count(answer, "pending"), s_count(answer, "queued"),
               s_count(answer, "installed"), s_count(answer, "failed"), s_count(answer, "expired"),
               s_count(answer, "cancelled"), s_count(answer, "too_old"));
    json_decref(answer);
    return cf_cli_end(&run);
}

static int s_cancel(int argc, char **argv)
{
    return s_action(argc, argv, "cancel", "cf-console job cancel",
                    "Cancel a job: its agents that have not reported yet are not sent it any\n"
                    "more (a report that still comes is stored).\n" CF_EXIT_HELP,
                    "cancelled");
}

static int s_retry(int argc, char **argv)
{
    return s_action(argc, argv, "retry", "cf-console job retry",
                    "Send a job again to its agents that failed, expired or were cancelled\n"
                    "(with a new expiry when it had expired).\n" CF_EXIT_HELP,
                    "retried");
}

int cf_cli_job(int argc, char **argv)
{
    static const cf_cli_cmd_t cmds[] = {
        {"create", "TYPE (--agents ID,ID | --all | --ip-range R | --state L): a job for agents",
         s_create},
        {"install-cert", "(--agents ID,ID | --all | ...): push a certificate (--watch)",
         s_install_cert},
        {"renew", "(--agents ID,ID | --all | ...): agents renew by CSR (--watch)", s_renew},
        {"reissue",
         "(--agents ID,ID | --all | ...): new certificates for the agents' keys "
         "(--watch)",
         s_reissue},
        {"set-favorite", "--favorite ALIAS (--agents ... | --all | ...): favorite server",
         s_set_favorite},
        {"watch", "ID: follow a job live: progress, rate, ETA, then the failed agents",
         cf_cli_job_watch},
        {"show", "ID: a job's counts and its agents", s_show},
        {"list", "the jobs, newest first", s_list},
        {"cancel", "ID: stop sending a job", s_cancel},
        {"retry", "ID: send a job again to agents that failed, expired or were cancelled", s_retry},
        {"pause", "ID: release no more agents of a job rolled out in waves", cf_cli_job_pause},
        {"resume", "ID: go on with a paused job's waves", cf_cli_job_resume},
    };
    return cf_cli_dispatch("cf-console job",
                           "Certificate jobs for many agents (install, renew, reissue, "
                           "favorite, re-check).\n" CF_EXIT_HELP,
                           cmds, S_N(cmds), argc, argv);
}
