/*  cf_cli - what every cf-console command shares  */
#include "cf_cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cf_file.h"
#include "cf_mem.h"

static void s_list(FILE *out, const char *prog, const char *about, const cf_cli_cmd_t *cmds,
                   size_t n)
{
    fprintf(out, "Usage: %s COMMAND [OPTIONS]\n\n%s\n\nCommands:\n", prog, about);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "  %-12s %s\n", cmds[i].name, cmds[i].summary);
    fprintf(out, "\nRun '%s COMMAND --help' for the options of one command.\n", prog);
}

int cf_cli_dispatch(const char *prog, const char *about, const cf_cli_cmd_t *cmds, size_t n,
                    int argc, char **argv)
{
    if (argc < 2) {
        s_list(stderr, prog, about, cmds, n);
        return CF_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        s_list(stdout, prog, about, cmds, n);
        return CF_EXIT_OK;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(argv[1], cmds[i].name) == 0)
            return cmds[i].run(argc - 1, argv + 1);
    }
    return cf_cli_usage_error(prog, "unknown command '%s'", argv[1]);
}

cf_cfg_t *cf_cli_options(const char *prog, const char *synopsis, const char *about,
                         const cf_cfg_opt_t *opts, size_t n, int argc, char **argv, int *exit_out)
{
    return cf_cli_options_src(NULL, prog, synopsis, about, opts, n, argc, argv, exit_out);
}

cf_cfg_t *cf_cli_options_src(const cf_cli_sources_t *src, const char *prog, const char *synopsis,
                             const char *about, const cf_cfg_opt_t *opts, size_t n, int argc,
                             char **argv, int *exit_out)
{
    cf_cfg_t *cfg = cf_cfg_new(opts, n);
    cf_err_t rc = cfg ? CF_OK : CF_ERR_NOMEM;
    if (rc == CF_OK && src && src->env_prefix)
        cf_cfg_set_env_prefix(cfg, src->env_prefix);
    if (rc == CF_OK && src && src->default_file)
        rc = cf_cfg_set_default_file(cfg, src->default_file);
    if (rc != CF_OK) {
        *exit_out = cf_cli_fail(prog, rc, NULL, "options");
        cf_cfg_destroy(&cfg);
        return NULL;
    }
    cf_cfg_set_permute(cfg, 1);
    cf_why_t why = {""};
    rc = cf_cfg_parse_args(cfg, argc, argv, &why);
    if (rc != CF_OK) {
        *exit_out = cf_cli_usage_error(prog, "%s", cf_why_text(&why, rc));
        cf_cfg_destroy(&cfg);
        return NULL;
    }
    if (cf_cfg_bool(cfg, "help")) {
        cf_cfg_usage(cfg, stdout, prog, synopsis);
        if (about)
            printf("\n%s\n", about);
        *exit_out = CF_EXIT_OK;
        cf_cfg_destroy(&cfg);
        return NULL;
    }
    return cfg;
}

int cf_cli_fail(const char *prog, cf_err_t rc, const cf_why_t *why, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s: %s\n", prog, what, cf_why_text(why, rc));
    return CF_EXIT_FAIL;
}

int cf_cli_usage_error(const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry '%s --help'.\n", prog);
    va_end(ap);
    return CF_EXIT_USAGE;
}

/* Read one line from the terminal with echo off. */
static cf_err_t s_prompt(FILE *tty, const char *prompt, char *buf, size_t len)
{
    struct termios old, quiet;
    int fd = fileno(tty);
    if (tcgetattr(fd, &old) != 0)
        return CF_ERR_IO;
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t) ECHO;
    fprintf(stderr, "%s", prompt);
    fflush(stderr);
    tcsetattr(fd, TCSAFLUSH, &quiet);
    char *got = fgets(buf, (int) len, tty);
    tcsetattr(fd, TCSAFLUSH, &old);
    fprintf(stderr, "\n");
    if (!got)
        return CF_ERR_IO;
    buf[strcspn(buf, "\r\n")] = '\0';
    return CF_OK;
}

static cf_err_t s_from_tty(const char *prompt, int confirm, char **out, cf_why_t *why)
{
    FILE *tty = fopen("/dev/tty", "r+");
    if (!tty)
        return cf_why(why, CF_ERR_NOTFOUND, "no password given and no terminal to ask on");
    char a[CF_CLI_MAX_PASSWORD + 2], b[CF_CLI_MAX_PASSWORD + 2];
    cf_err_t rc = s_prompt(tty, prompt, a, sizeof(a));
    if (rc == CF_OK && confirm) {
        rc = s_prompt(tty, "Again: ", b, sizeof(b));
        if (rc == CF_OK && strcmp(a, b) != 0)
            rc = cf_why(why, CF_ERR_INVALID, "the two passwords differ");
    }
    if (rc == CF_OK && !a[0])
        rc = cf_why(why, CF_ERR_INVALID, "empty password");
    if (rc == CF_OK) {
        *out = cf_mem_strdup(a);
        rc = *out ? CF_OK : CF_ERR_NOMEM;
    }
    cf_mem_wipe(a, sizeof(a));
    cf_mem_wipe(b, sizeof(b));
    fclose(tty);
    return rc;
}

cf_err_t cf_cli_password(const char *file, const char *env, const char *prompt, int confirm,
                         char **out, cf_why_t *why)
{
    if (!out)
        return CF_ERR_INVALID;
    *out = NULL;
    if (file)
        return cf_cfg_read_secret_file(file, CF_CLI_MAX_PASSWORD, 0, out, why);
    const char *value = env ? getenv(env) : NULL;
    if (value && *value) {
        if (strlen(value) > CF_CLI_MAX_PASSWORD)
            return cf_why(why, CF_ERR_TOOBIG, "%s is longer than %d bytes", env,
                          CF_CLI_MAX_PASSWORD);
        *out = cf_mem_strdup(value);
        return *out ? CF_OK : CF_ERR_NOMEM;
    }
    return s_from_tty(prompt, confirm, out, why);
}

cf_err_t cf_cli_write(const char *path, const void *data, size_t len, int mode, cf_why_t *why)
{
    CF_TRY(cf_file_write_atomic(path, data, len, (mode_t) mode, why));
    printf("wrote %s\n", path);
    return CF_OK;
}

const char *cf_cli_time(long long t, char *buf, size_t len)
{
    time_t tt = (time_t) t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf(buf, len, "@%lld", t);
    return buf;
}
