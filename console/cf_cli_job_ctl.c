/*  cf_cli_job_ctl - `cf-console job pause|resume` and the rollout options of job creation  */
#include "cf_cli_job_ctl.h"

#include <stdio.h>
#include <string.h>

#include "cf_cli.h"
#include "cf_client.h"

#define S_N(opts) (sizeof(opts) / sizeof((opts)[0]))
#define S_ID_HEX  32 /* a job id: 32 lowercase hex */

int cf_cli_job_waves_body(cf_cli_run_t *run, json_t *body)
{
    static const char *const keys[][2] = {
        {"batch", "batch"}, {"rate", "rate"}, {"max-failures", "max_failures"}};
    for (size_t i = 0; i < S_N(keys); i++) {
        if (!cf_cli_flag_given(run->cfg, keys[i][0]))
            continue;
        json_t *v = json_integer((json_int_t) cf_cfg_int(run->cfg, keys[i][0]));
        if (json_object_set_new(body, keys[i][1], v) != 0) {
            run->exit_code = cf_cli_fail(run->prog, CF_ERR_NOMEM, NULL, "cannot build the request");
            return 0;
        }
    }
    return 1;
}

cf_err_t cf_cli_job_rollout_kv(cf_table_t *t, const json_t *job)
{
    const json_t *r = json_object_get(job, "rollout");
    const json_t *b = json_object_get(r, "batch"), *rt = json_object_get(r, "rate");
    const json_t *mf = json_object_get(r, "max_failures");
    char text[160] = "";
    size_t n = 0;
    if (json_is_integer(b))
        n += (size_t) snprintf(text + n, sizeof(text) - n, "batch %lld, ",
                               (long long) json_integer_value(b));
    if (json_is_integer(rt))
        n += (size_t) snprintf(text + n, sizeof(text) - n, "%lld per second, ",
                               (long long) json_integer_value(rt));
    if (n == 0)
        n += (size_t) snprintf(text, sizeof(text), "at once, ");
    if (json_is_integer(mf))
        n += (size_t) snprintf(text + n, sizeof(text) - n, "abort above %lld %% failed, ",
                               (long long) json_integer_value(mf));
    if (json_is_true(json_object_get(r, "paused")))
        n += (size_t) snprintf(text + n, sizeof(text) - n, "PAUSED, ");
    text[n >= 2 ? n - 2 : 0] = '\0'; /* the last ", " */
    CF_TRY(cf_table_kv(t, "Rollout", "%s", text));
    const char *why = json_string_value(json_object_get(r, "aborted"));
    if (why)
        CF_TRY(cf_table_kv(t, "Aborted", "%s", why));
    return CF_OK;
}

static long long s_count(const json_t *job, const char *state)
{
    return (long long) json_integer_value(json_object_get(json_object_get(job, "counts"), state));
}

/* job pause ID / job resume ID: POST /jobs/ID/<verb>, then the job's counts. */
static int s_ctl(int argc, char **argv, const char *verb, const char *prog, const char *about)
{
    static const cf_cfg_opt_t opts[] = {CF_CLIENT_OPTIONS, CF_CLI_JSON_OPTION};
    cf_cli_run_t run;
    char path[32 + S_ID_HEX];
    json_t *answer = NULL;
    if (!cf_cli_begin(&run, prog, "ID [--json] [connection options]", about, opts, S_N(opts), 1, 1,
                      argc, argv))
        return cf_cli_end(&run);
    const char *id = run.args[0];
    if (strspn(id, "0123456789abcdef") != S_ID_HEX || id[S_ID_HEX] != '\0') {
        run.exit_code =
            cf_cli_usage_error(run.prog, "'%.80s' is not a job id (32 lowercase hex)", id);
        return cf_cli_end(&run);
    }
    if (!cf_cli_open_run(&run))
        return cf_cli_end(&run);
    snprintf(path, sizeof(path), "/jobs/%s/%s", id, verb);
    run.exit_code = cf_cli_fetch(run.prog, "refused", run.client, "POST", path, NULL, &answer);
    if (run.exit_code == CF_EXIT_OK && run.json)
        cf_cli_print_json(answer);
    else if (run.exit_code == CF_EXIT_OK)
        printf("job %s %s: %lld queued, %lld pending, %lld delivered, %lld installed, %lld "
               "failed\n",
               id,
               json_is_true(json_object_get(json_object_get(answer, "rollout"), "paused"))
                   ? "paused"
                   : "running",
               s_count(answer, "queued"), s_count(answer, "pending"), s_count(answer, "delivered"),
               s_count(answer, "installed"), s_count(answer, "failed"));
    json_decref(answer);
    return cf_cli_end(&run);
}

int cf_cli_job_pause(int argc, char **argv)
{
    return s_ctl(argc, argv, "pause", "cf-console job pause",
                 "Pause a job rolled out in waves (--batch or --rate): no more agents are\n"
                 "released until it is resumed. Agents already released still get the job\n"
                 "at their next check-in, and reports are stored.\n" CF_EXIT_HELP);
}

int cf_cli_job_resume(int argc, char **argv)
{
    return s_ctl(argc, argv, "resume", "cf-console job resume",
                 "Resume a paused job: its waves go on (a rate starts again from zero, no\n"
                 "burst).\n" CF_EXIT_HELP);
}
