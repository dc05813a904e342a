/*  cf_cli_api - the API command groups' shared path: a command's run, its client, calls,
    answers printed as tables or JSON, file passwords; jansson's wiping allocator  */
#include "cf_cli_api.h"

#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "cf_cli.h"
#include "cf_mem.h"

/* ---- one command's run ------------------------------------------------------------ */

cf_client_t *cf_cli_open(const char *prog, const cf_cfg_t *cfg, int *exit_code)
{
    cf_client_t *c = NULL;
    cf_why_t why = {""};
    cf_err_t rc = cf_client_check_url(cf_cfg_str(cfg, "server"), &why);
    if (rc != CF_OK) {
        *exit_code = cf_cli_usage_error(prog, "%s", cf_why_text(&why, rc));
        return NULL;
    }
    rc = cf_client_new(cfg, &c, &why);
    if (rc != CF_OK) {
        *exit_code = cf_cli_fail(prog, rc, &why, "cannot use the console certificate");
        return NULL;
    }
    rc = cf_client_session_load(c, &why);
    if (rc != CF_OK) {
        fprintf(stderr, "%s: %s\n", prog, cf_why_text(&why, rc));
        *exit_code = rc == CF_ERR_NOTFOUND ? CF_EXIT_AUTH : CF_EXIT_FAIL;
        cf_client_destroy(&c);
    }
    return c;
}

int cf_cli_begin(cf_cli_run_t *run, const char *prog, const char *synopsis, const char *about,
                 const cf_cfg_opt_t *opts, size_t n, int min_args, int max_args, int argc,
                 char **argv)
{
    memset(run, 0, sizeof(*run));
    run->prog = prog;
    run->cfg = cf_client_options(prog, synopsis, about, opts, n, argc, argv, &run->exit_code);
    if (!run->cfg)
        return 0;
    run->args = cf_cfg_args(run->cfg, &run->n_args);
    run->json = cf_cfg_bool(run->cfg, "json");
    if (run->n_args < min_args) {
        run->exit_code = cf_cli_usage_error(prog, "missing argument: %s %s", prog, synopsis);
        return 0;
    }
    if (run->n_args > max_args) {
        run->exit_code =
            cf_cli_usage_error(prog, "unexpected argument '%.100s'", run->args[max_args]);
        return 0;
    }
    return 1;
}

int cf_cli_open_run(cf_cli_run_t *run)
{
    run->client = cf_cli_open(run->prog, run->cfg, &run->exit_code);
    return run->client != NULL;
}

int cf_cli_print_table(cf_cli_run_t *run, cf_table_t **t)
{
    cf_err_t rc = *t ? cf_table_print(*t, stdout) : CF_ERR_NOMEM;
    cf_table_destroy(t);
    if (rc != CF_OK)
        run->exit_code = cf_cli_fail(run->prog, rc, NULL, "cannot print the table");
    return run->exit_code;
}

int cf_cli_end(cf_cli_run_t *run)
{
    cf_client_destroy(&run->client);
    cf_cfg_destroy(&run->cfg);
    return run->exit_code;
}

/* ---- calls and their answers ----------------------------------------------------- */

/* The answer of a finished exchange: its JSON on 2xx, else the complaint's exit code. */
static int s_answer(const char *prog, const char *what, cf_client_t *c, cf_err_t rc,
                    cf_client_reply_t *r, json_t **answer)
{
    int exit_code = CF_EXIT_OK;
    *answer = NULL;
    if (rc == CF_ERR_NOMEM || rc == CF_ERR_INVALID)
        exit_code = cf_cli_fail(prog, rc, NULL, "%s", what);
    else if (r->status >= 200 && r->status < 300 && r->net == CF_CLIENT_NET_OK && rc == CF_OK)
        *answer = json_incref(r->json);
    else
        exit_code = cf_client_complain(prog, what, c, r);
    cf_client_reply_clear(r);
    return exit_code;
}

int cf_cli_fetch(const char *prog, const char *what, cf_client_t *c, const char *method,
                 const char *path, const json_t *body, json_t **answer)
{
    cf_client_reply_t r = {.alert = -1};
    cf_err_t rc = cf_client_call(c, method, path, body, &r);
    return s_answer(prog, what, c, rc, &r, answer);
}

/* body encoded compactly into a new buffer (cf_mem_free_secret(*out, *len_out)). */
static cf_err_t s_encode(const json_t *body, char **out, size_t *len_out)
{
    *out = NULL;
    *len_out = 0;
    size_t need = json_dumpb(body, NULL, 0, JSON_COMPACT);
    if (need == 0)
        return CF_ERR_NOMEM;
    if (need > CF_CLIENT_MAX_BODY)
        return CF_ERR_TOOBIG;
    char *buf = cf_mem_malloc(need);
    if (!buf)
        return CF_ERR_NOMEM;
    if (json_dumpb(body, buf, need, JSON_COMPACT) != need) {
        cf_mem_free_secret(buf, need);
        return CF_ERR_NOMEM;
    }
    *out = buf;
    *len_out = need;
    return CF_OK;
}

int cf_cli_fetch_secret(const char *prog, const char *what, cf_client_t *c, const char *method,
                        const char *path, const json_t *body, json_t **answer)
{
    cf_client_reply_t r = {.alert = -1};
    char *text = NULL;
    size_t len = 0;
    *answer = NULL;
    cf_err_t rc = s_encode(body, &text, &len);
    if (rc == CF_ERR_TOOBIG)
        return cf_cli_fail(prog, rc, NULL, "%s: the request is over %d KiB", what,
                           CF_CLIENT_MAX_BODY / 1024);
    if (rc != CF_OK)
        return cf_cli_fail(prog, rc, NULL, "%s", what);
    rc = cf_client_call_raw(c, method, path, text, len, &r);
    cf_mem_free_secret(text, len);
    return s_answer(prog, what, c, rc, &r, answer);
}

/* ---- passwords, arguments, output -------------------------------------------------- */

int cf_cli_file_password(cf_cli_run_t *run, const char *prompt, int confirm, char **out)
{
    cf_why_t why = {""};
    cf_err_t rc = cf_cli_password(cf_cli_flag(run->cfg, "password-file"), CF_CLI_PKCS12_ENV, prompt,
                                  confirm, out, &why);
    if (rc == CF_OK)
        return 1;
    run->exit_code = rc == CF_ERR_NOTFOUND
                         ? cf_cli_usage_error(run->prog, "%s (give --password-file FILE or set %s)",
                                              cf_why_text(&why, rc), CF_CLI_PKCS12_ENV)
                         : cf_cli_fail(run->prog, rc, &why, "no password");
    return 0;
}

cf_err_t cf_cli_escape(const char *value, char *buf, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *) value; *p; p++) {
        int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || strchr("-._~", *p);
        if (o + (plain ? 1 : 3) >= len)
            return CF_ERR_TOOBIG;
        if (plain) {
            buf[o++] = (char) *p;
        } else {
            buf[o++] = '%';
            buf[o++] = hex[*p >> 4];
            buf[o++] = hex[*p & 15];
        }
    }
    if (o >= len)
        return CF_ERR_TOOBIG;
    buf[o] = '\0';
    return CF_OK;
}

void cf_cli_print_json(const json_t *answer)
{
    if (answer)
        json_dumpf(answer, stdout, JSON_INDENT(2));
    else
        fputs("null", stdout);
    fputs("\n", stdout);
}

const char *cf_cli_flag(const cf_cfg_t *cfg, const char *name)
{
    return cf_cli_flag_given(cfg, name) ? cf_cfg_str(cfg, name) : NULL;
}

int cf_cli_flag_given(const cf_cfg_t *cfg, const char *name)
{
    return cf_cfg_source(cfg, name) == CF_CFG_SRC_FLAG;
}

/* ---- jansson's memory: answers and request bodies can hold passwords and keys, so
   every block jansson frees is wiped first ------------------------------------------- */

/* The bytes of a live heap block, at least what was asked for. jansson's free hook gets
   no size, so it is asked of the allocator: malloc_usable_size is glibc's (Debian, our
   platform; musl and the BSDs have it too, macOS calls it malloc_size). A size kept in a
   header before each block would be portable, but then a block would no longer be what
   malloc returned, and callers that free() a json_dumps result (cf_client_call,
   cf_cli_session.c, cf_cli_inspect.c) would free a pointer malloc never gave out. */
#if !defined(__GLIBC__)
#error "cf_cli_api.c: malloc_usable_size is glibc's: port s_block_size to this C library"
#endif
static size_t s_block_size(void *ptr)
{
    return malloc_usable_size(ptr);
}

static void *s_json_malloc(size_t size)
{
    return cf_mem_malloc(size);
}

static void s_json_free(void *ptr)
{
    if (ptr)
        cf_mem_free_secret(ptr, s_block_size(ptr));
}

void cf_cli_api_wipe_json(void)
{
    json_set_alloc_funcs(s_json_malloc, s_json_free);
}
