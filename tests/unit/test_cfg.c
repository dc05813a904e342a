/*  test_cfg - option tables: config file, environment, flags, help, examples, secrets  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cf_cfg.h"
#include "cf_mem.h"

#define S_CFG_TEST_NAME "test_cfg"
#include "cf_test_cfg.h"

static void test_usage(void **state)
{
    (void) state;
    const char *path = s_file("usage.conf", "# cf-server\n"
                                            "redis = 127.0.0.1:6390\n"
                                            "port = 7100\n"
                                            "ip-range = 127.0.0.0/24, 127.0.1.0/24\n");
    cf_cfg_t *cfg = cf_cfg_new(s_opts, S_NOPTS);
    assert_non_null(cfg);
    cf_why_t why = {{0}};
    char *argv[] = {"cf-server", "-c", (char *) path, "--port", "7200", "--init", NULL};
    assert_int_equal(cf_cfg_parse_args(cfg, 6, argv, &why), CF_OK);
    assert_string_equal(cf_cfg_str(cfg, "redis"), "127.0.0.1:6390"); /* from the file */
    assert_int_equal(cf_cfg_int(cfg, "port"), 7200);                 /* the flag wins */
    assert_true(cf_cfg_bool(cfg, "init"));
    size_t n = 0;
    const char *const *ranges = cf_cfg_list(cfg, "ip-range", &n);
    assert_int_equal(n, 2);
    assert_string_equal(ranges[1], "127.0.1.0/24");
    assert_null(ranges[2]);
    assert_false(cf_cfg_is_set(cfg, "priority")); /* Redis keeps priority unless given */
    assert_int_equal(cf_cfg_int(cfg, "renew-before"), 30 * 86400);
    assert_string_equal(cf_cfg_file(cfg), path);
    cf_cfg_destroy(&cfg);
    cf_cfg_destroy(&cfg); /* idempotent */
    assert_null(cfg);
}

static void test_defaults(void **state)
{
    (void) state;
    cf_cfg_t *cfg = s_new();
    cf_why_t why = {{0}};
    char *argv[] = {"prog", NULL};
    assert_int_equal(cf_cfg_parse_args(cfg, 1, argv, &why), CF_OK);
    assert_string_equal(cf_cfg_str(cfg, "redis"), "127.0.0.1:6379");
    assert_null(cf_cfg_str(cfg, "alias"));
    assert_null(cf_cfg_str(cfg, "secret-file"));
    assert_int_equal(cf_cfg_int(cfg, "port"), 7005);
    assert_false(cf_cfg_bool(cfg, "init"));
    assert_true(cf_cfg_bool(cfg, "allow-plain"));
    assert_string_equal(cf_cfg_str(cfg, "log-level"), "info");
    assert_int_equal(cf_cfg_enum(cfg, "log-level"), 1);
    assert_int_equal(cf_cfg_int(cfg, "timeout"), 30);
    assert_int_equal(cf_cfg_int(cfg, "max-body"), 65536);
    size_t n = 99;
    assert_non_null(cf_cfg_list(cfg, "ip-range", &n));
    assert_int_equal(n, 0);
    assert_string_equal(cf_cfg_list(cfg, "broker", &n)[0], "tcp://127.0.0.1:7010");
    assert_int_equal(n, 1);
    for (size_t i = 0; i < S_NOPTS; i++) {
        assert_false(cf_cfg_is_set(cfg, s_opts[i].name));
        assert_int_equal(cf_cfg_source(cfg, s_opts[i].name), CF_CFG_SRC_DEFAULT);
    }
    assert_null(cf_cfg_file(cfg));
    int argc = -1;
    assert_null(cf_cfg_args(cfg, &argc)[0]);
    assert_int_equal(argc, 0);
    /* argc 0 (execve with an empty argv) is outside input, not misuse */
    assert_int_equal(cf_cfg_parse_args(cfg, 0, argv, &why), CF_OK);
    cf_cfg_destroy(&cfg);
}

static void test_precedence(void **state)
{
    (void) state;
    const char *path = s_file("prec.conf", "redis = file:1\n"
                                           "alias = from-file\n"
                                           "port = 1001\n"
                                           "priority = 5\n"
                                           "ip-range = 10.0.0.0/8\n"
                                           "ip-range = 10.1.0.0/16\n"
                                           "log-level = warn\n");
    cf_cfg_t *cfg = s_new();
    cf_cfg_set_env_prefix(cfg, "CFT_");
    setenv("CFT_PORT", "1002", 1);
    setenv("CFT_ALIAS", "from-env", 1);
    setenv("CFT_IP_RANGE", "192.168.0.0/16", 1);
    cf_why_t why = {{0}};
    assert_int_equal(S_PARSE(cfg, &why, "--config", (char *) path, "--port", "1003", "--log-level",
                             "ERROR", "--ip-range", "127.0.0.0/8"),
                     CF_OK);
    unsetenv("CFT_PORT");
    unsetenv("CFT_ALIAS");
    unsetenv("CFT_IP_RANGE");
    assert_string_equal(cf_cfg_str(cfg, "redis"), "file:1");
    assert_int_equal(cf_cfg_source(cfg, "redis"), CF_CFG_SRC_FILE);
    assert_string_equal(cf_cfg_str(cfg, "alias"), "from-env");
    assert_int_equal(cf_cfg_source(cfg, "alias"), CF_CFG_SRC_ENV);
    assert_int_equal(cf_cfg_int(cfg, "port"), 1003);
    assert_int_equal(cf_cfg_source(cfg, "port"), CF_CFG_SRC_FLAG);
    assert_int_equal(cf_cfg_int(cfg, "priority"), 5);
    assert_string_equal(cf_cfg_str(cfg, "log-level"), "error"); /* the table's spelling */
    assert_int_equal(cf_cfg_enum(cfg, "log-level"), 3);
    size_t n = 0;
    const char *const *r = cf_cfg_list(cfg, "ip-range", &n);
    assert_int_equal(n, 1); /* the flags' list replaces the file's and the environment's */
    assert_string_equal(r[0], "127.0.0.0/8");
    assert_true(cf_cfg_is_set(cfg, "config"));
    assert_false(cf_cfg_is_set(cfg, "timeout"));

    /* without the env prefix the environment is not read */
    cf_cfg_t *plain = s_new();
    setenv("CF_PORT", "1", 1);
    setenv("PORT", "1", 1);
    assert_int_equal(S_PARSE(plain, &why, "-c", (char *) path), CF_OK);
    unsetenv("CF_PORT");
    unsetenv("PORT");
    assert_int_equal(cf_cfg_int(plain, "port"), 1001);
    r = cf_cfg_list(plain, "ip-range", &n); /* list lines in one file accumulate */
    assert_int_equal(n, 2);
    assert_string_equal(r[0], "10.0.0.0/8");
    assert_string_equal(r[1], "10.1.0.0/16");
    cf_cfg_destroy(&plain);
    /* the file is checked whole, even where the flags override it */
    static const char *const broken[][2] = {
        {"port = eighty\n", "broken.conf:1: port: 'eighty' is not an integer"},
        {"port = 2\nport = 3\n", "broken.conf:2: port: duplicate key (first set on line 1)"},
        {"ip-range = a, b, c\nip-range = d, e\n", "broken.conf:2: ip-range: more than 4 items"},
        {"ip-range = a,,b\n", "broken.conf:1: ip-range: empty item in list"},
    };
    for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
        path = s_file("broken.conf", broken[i][0]);
        assert_int_not_equal(
            S_PARSE(cfg, &why, "-c", (char *) path, "--port", "1", "--ip-range", "z"), CF_OK);
        assert_non_null(strstr(why.text, broken[i][1]));
    }
    cf_cfg_destroy(&cfg);
}

static void test_env(void **state)
{
    (void) state;
    const char *path = s_file("env.conf", "port = 2001\n");
    cf_cfg_t *cfg = s_new();
    cf_cfg_set_env_prefix(cfg, "CFT_");
    cf_why_t why = {{0}};
    setenv("CFT_CONFIG", path, 1); /* the environment may name the file */
    setenv("CFT_RENEW_BEFORE", "2d", 1);
    setenv("CFT_INIT", "yes", 1);
    assert_int_equal(S_PARSE(cfg, &why, "--priority", "-3"), CF_OK);
    assert_int_equal(cf_cfg_int(cfg, "port"), 2001);
    assert_int_equal(cf_cfg_int(cfg, "renew-before"), 2 * 86400);
    assert_true(cf_cfg_bool(cfg, "init"));
    assert_int_equal(cf_cfg_int(cfg, "priority"), -3);
    assert_string_equal(cf_cfg_file(cfg), path);
    setenv("CFT_PORT", "http", 1);
    assert_int_equal(S_PARSE(cfg, &why, "--priority", "1"), CF_ERR_INVALID);
    assert_non_null(strstr(why.text, "CFT_PORT"));
    assert_int_equal(cf_cfg_int(cfg, "port"), 7005); /* failure: defaults again */
    unsetenv("CFT_PORT");
    unsetenv("CFT_CONFIG");
    unsetenv("CFT_RENEW_BEFORE");
    unsetenv("CFT_INIT");
    cf_cfg_destroy(&cfg);
}

typedef struct {
    const char *name; /* option */
    const char *text; /* value */
    long long num;    /* expected number (or bool, or enum index) */
    const char *str;  /* expected string, NULL for numbers */
} s_good_t;

static void s_check_good(cf_cfg_t *cfg, const s_good_t *g)
{
    const cf_cfg_opt_t *o = NULL;
    for (size_t i = 0; i < S_NOPTS; i++)
        o = strcmp(s_opts[i].name, g->name) == 0 ? &s_opts[i] : o;
    assert_non_null(o);
    switch (o->type) {
    case CF_CFG_BOOL: assert_int_equal(cf_cfg_bool(cfg, g->name), g->num); break;
    case CF_CFG_ENUM:
        assert_int_equal(cf_cfg_enum(cfg, g->name), g->num);
        assert_string_equal(cf_cfg_str(cfg, g->name), g->str);
        break;
    case CF_CFG_STRING:
    case CF_CFG_PATH: assert_string_equal(cf_cfg_str(cfg, g->name), g->str); break;
    default: assert_true(cf_cfg_int(cfg, g->name) == g->num);
    }
}

static void test_good_values(void **state)
{
    (void) state;
    static const s_good_t good[] = {
        {"redis", "unix:/run/redis.sock", 0, "unix:/run/redis.sock"},
        {"alias", "", 0, ""},
        {"port", "1", 1, NULL},
        {"port", "65535", 65535, NULL},
        {"priority", "-1000", -1000, NULL},
        {"init", "true", 1, NULL},
        {"init", "Off", 0, NULL},
        {"init", "1", 1, NULL},
        {"allow-plain", "no", 0, NULL},
        {"log-level", "DeBuG", 0, "debug"},
        {"secret-file", "/etc/certfleet/secret", 0, "/etc/certfleet/secret"},
        {"renew-before", "60", 60, NULL},
        {"renew-before", "5m", 300, NULL},
        {"renew-before", "2h", 7200, NULL},
        {"renew-before", "7d", 604800, NULL},
        {"renew-before", "2w", 1209600, NULL},
        {"timeout", "0", 0, NULL},
        {"timeout", "30s", 30, NULL},
        {"max-body", "1024", 1024, NULL},
        {"max-body", "64k", 65536, NULL},
        {"max-body", "1M", 1048576, NULL},
        {"max-body", "2MiB", 2097152, NULL},
        {"max-body", "16m", 16777216, NULL},
    };
    cf_why_t why = {{0}};
    cf_cfg_t *cfg = s_new();
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char flag[128];
        snprintf(flag, sizeof(flag), "--%s=%s", good[i].name, good[i].text);
        assert_int_equal(S_PARSE(cfg, &why, flag), CF_OK);
        s_check_good(cfg, &good[i]);
        char text[128];
        snprintf(text, sizeof(text), "%s = \"%s\"\n", good[i].name, good[i].text);
        assert_int_equal(cf_cfg_parse_text(cfg, "good.conf", text, strlen(text), &why), CF_OK);
        s_check_good(cfg, &good[i]); /* the flag still wins; same value anyway */
        cf_cfg_reset(cfg);
        assert_int_equal(cf_cfg_parse_text(cfg, "good.conf", text, strlen(text), &why), CF_OK);
        s_check_good(cfg, &good[i]);
        assert_int_equal(cf_cfg_source(cfg, good[i].name), CF_CFG_SRC_FILE);
    }
    /* separate-word values and short flags */
    assert_int_equal(S_PARSE(cfg, &why, "-p", "8000", "-r", "h:1", "-i", "--log-level", "warn"),
                     CF_OK);
    assert_int_equal(cf_cfg_int(cfg, "port"), 8000);
    assert_string_equal(cf_cfg_str(cfg, "redis"), "h:1");
    assert_true(cf_cfg_bool(cfg, "init"));
    assert_int_equal(S_PARSE(cfg, &why, "-p8001", "-ir", "h:2"), CF_OK);
    assert_int_equal(cf_cfg_int(cfg, "port"), 8001);
    assert_string_equal(cf_cfg_str(cfg, "redis"), "h:2");
    assert_true(cf_cfg_bool(cfg, "init"));
    /* repeating a scalar flag: the last wins */
    assert_int_equal(S_PARSE(cfg, &why, "--port", "1", "--port", "2"), CF_OK);
    assert_int_equal(cf_cfg_int(cfg, "port"), 2);
    cf_cfg_destroy(&cfg);
}

typedef struct {
    const char *flag;   /* one argument */
    cf_err_t err;       /* expected */
    const char *reason; /* expected in why */
} s_bad_t;

static void test_bad_values(void **state)
{
    (void) state;
    static const s_bad_t bad[] = {
        {"--port=0", CF_ERR_INVALID, "--port: '0' is out of range 1..65535"},
        {"--port=65536", CF_ERR_INVALID, "out of range"},
        {"--port=http", CF_ERR_INVALID, "--port: 'http' is not an integer"},
        {"--port=", CF_ERR_INVALID, "not an integer"},
        {"--port= 80", CF_ERR_INVALID, "not an integer"},
        {"--port=80 ", CF_ERR_INVALID, "not an integer"},
        {"--port=+80", CF_ERR_INVALID, "not an integer"},
        {"--port=0x50", CF_ERR_INVALID, "not an integer"},
        {"--priority=99999999999999999999", CF_ERR_INVALID, "too large"},
        {"--priority=-9223372036854775809", CF_ERR_INVALID, "too large"},
        {"--init=maybe", CF_ERR_INVALID, "--init: 'maybe' is not a boolean"},
        {"--init=", CF_ERR_INVALID, "not a boolean"},
        {"--log-level=loud", CF_ERR_INVALID,
         "--log-level: 'loud' is not one of: debug, info, warn, error"},
        {"--secret-file=", CF_ERR_INVALID, "--secret-file: empty path"},
        {"--renew-before=5x", CF_ERR_INVALID, "not a duration"},
        {"--renew-before=5M", CF_ERR_INVALID, "not a duration"}, /* not months */
        {"--renew-before=d", CF_ERR_INVALID, "not a duration"},
        {"--renew-before=-5d", CF_ERR_INVALID, "not a duration"},
        {"--renew-before=59s", CF_ERR_INVALID, "out of range 60..31536000 seconds"},
        {"--renew-before=366d", CF_ERR_INVALID, "out of range"},
        {"--timeout=9999999999999999w", CF_ERR_INVALID, "too large"},
        {"--max-body=1q", CF_ERR_INVALID, "not a size"},
        {"--max-body=17m", CF_ERR_INVALID, "out of range 1024..16777216 bytes"},
        {"--ip-range=a,,b", CF_ERR_INVALID, "--ip-range: empty item"},
        {"--ip-range=a,", CF_ERR_INVALID, "empty item"},
        {"--ip-range=a,b,c,d,e", CF_ERR_TOOBIG, "--ip-range: more than 4 items"},
        {"--help=yes", CF_ERR_INVALID, "option '--help' takes no value"},
        {"--bogus", CF_ERR_INVALID, "unknown option '--bogus'"},
        {"--bogus=1", CF_ERR_INVALID, "unknown option '--bogus'"},
        {"-x", CF_ERR_INVALID, "unknown option '-x'"},
        {"--port", CF_ERR_INVALID, "option '--port' needs a value"},
        {"-p", CF_ERR_INVALID, "option '--port' needs a value"},
        {"--r", CF_ERR_INVALID, "ambiguous option '--r' (--redis, --renew-before)"},
    };
    cf_why_t why = {{0}};
    cf_cfg_t *cfg = s_new();
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(S_PARSE(cfg, &why, "--alias", "a", (char *) bad[i].flag), bad[i].err);
        if (!strstr(why.text, bad[i].reason))
            fail_msg("%s: why '%s' lacks '%s'", bad[i].flag, why.text, bad[i].reason);
        assert_false(cf_cfg_is_set(cfg, "alias")); /* failure leaves only defaults */
    }
    /* a value over the cap */
    char *huge = cf_mem_calloc(1, CF_CFG_MAX_VALUE + 16);
    memcpy(huge, "--alias=", 8);
    memset(huge + 8, 'a', CF_CFG_MAX_VALUE);
    assert_int_equal(S_PARSE(cfg, &why, huge), CF_ERR_TOOBIG);
    assert_non_null(strstr(why.text, "--alias: value longer than"));
    assert_int_equal(S_PARSE(cfg, &why, "--ip-range", huge + 8), CF_ERR_TOOBIG);
    cf_mem_free(huge);
    /* a unique prefix is accepted, as getopt_long does */
    assert_int_equal(S_PARSE(cfg, &why, "--ren", "1h", "--ali", "x"), CF_OK);
    assert_int_equal(cf_cfg_int(cfg, "renew-before"), 3600);
    assert_string_equal(cf_cfg_str(cfg, "alias"), "x");
    cf_cfg_destroy(&cfg);
}

static void test_lists(void **state)
{
    (void) state;
    cf_why_t why = {{0}};
    cf_cfg_t *cfg = s_new();
    assert_int_equal(S_PARSE(cfg, &why, "--ip-range", "127.0.0.0/24", "--ip-range",
                             " 127.0.1.0/24 ,127.0.2.0/24", "--ip-range=::1/128"),
                     CF_OK);
    size_t n = 0;
    const char *const *r = cf_cfg_list(cfg, "ip-range", &n);
    assert_int_equal(n, 4);
    assert_string_equal(r[0], "127.0.0.0/24");
    assert_string_equal(r[1], "127.0.1.0/24");
    assert_string_equal(r[2], "127.0.2.0/24");
    assert_string_equal(r[3], "::1/128");
    assert_null(r[4]);
    /* an empty value clears a default list */
    assert_int_equal(S_PARSE(cfg, &why, "--broker="), CF_OK);
    cf_cfg_list(cfg, "broker", &n);
    assert_int_equal(n, 0);
    assert_true(cf_cfg_is_set(cfg, "broker"));
    /* the file: comma lists and repeated keys add up, up to the cap */
    const char *text = "ip-range = a, b\nip-range = c\n# ip-range = x\nip-range = \"d\"\n";
    cf_cfg_reset(cfg);
    assert_int_equal(cf_cfg_parse_text(cfg, "l.conf", text, strlen(text), &why), CF_OK);
    r = cf_cfg_list(cfg, "ip-range", &n);
    assert_int_equal(n, 4);
    assert_string_equal(r[3], "d");
    const char *five = "ip-range = a, b\nip-range = c, d\nip-range = e\n";
    cf_cfg_reset(cfg); /* else the file's keys add to the ones already loaded */
    assert_int_equal(cf_cfg_parse_text(cfg, "l.conf", five, strlen(five), &why), CF_ERR_TOOBIG);
    assert_string_equal(why.text, "l.conf:3: ip-range: more than 4 items");
    /* a list given by flags replaces the file's, whichever order they are applied in */
    assert_int_equal(S_PARSE(cfg, &why, "--ip-range", "z"), CF_OK);
    assert_int_equal(cf_cfg_parse_text(cfg, "l.conf", text, strlen(text), &why), CF_OK);
    r = cf_cfg_list(cfg, "ip-range", &n);
    assert_int_equal(n, 1);
    assert_string_equal(r[0], "z");
    cf_cfg_destroy(&cfg);
}

static void test_help(void **state)
{
    (void) state;
    cf_why_t why = {{0}};
    cf_cfg_t *cfg = s_new();
    cf_cfg_set_env_prefix(cfg, "CF_SERVER_");
    /* --help wins and reads no file: the missing one is no error */
    assert_int_equal(S_PARSE(cfg, &why, "-c", "/nonexistent/x.conf", "--help"), CF_OK);
    assert_true(cf_cfg_bool(cfg, "help"));
    assert_int_equal(S_PARSE(cfg, &why, "-h"), CF_OK);
    assert_true(cf_cfg_bool(cfg, "help"));
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    cf_cfg_usage(cfg, out, "cf-server", NULL);
    fclose(out);
    assert_non_null(strstr(text, "Usage: cf-server [OPTIONS]\n"));
    for (size_t i = 0; i < S_NOPTS; i++) {
        char flag[64];
        snprintf(flag, sizeof(flag), "--%s", s_opts[i].name);
        if (!strstr(text, flag) || !strstr(text, s_opts[i].help))
            fail_msg("usage lacks %s:\n%s", flag, text);
    }
    assert_non_null(strstr(text, "  -r, --redis HOST:PORT "));
    assert_non_null(strstr(text, "  -c, --config FILE "));
    assert_non_null(strstr(text, "  -h, --help "));
    assert_non_null(strstr(text, "(1..65535; default: 7005)"));
    assert_non_null(strstr(text, "one of debug|info|warn|error;"));
    assert_non_null(strstr(text, "default: info)"));
    assert_non_null(strstr(text, "(1m..365d;"));
    assert_non_null(strstr(text, "default: 30d)"));
    assert_non_null(strstr(text, "(1k..16m; default: 64k)"));
    assert_non_null(strstr(text, "up to 4)"));
    assert_null(strchr(text, '\x1f'));
    assert_non_null(strstr(text, "CF_SERVER_<NAME>"));
    for (const char *l = text; *l; l += strcspn(l, "\n") + (l[strcspn(l, "\n")] ? 1 : 0))
        assert_true(strcspn(l, "\n") <= 79); /* wrapped */
    /* aligned: every help text starts in the same column */
    const char *col = strstr(text, "Redis address");
    const char *line = col;
    while (line[-1] != '\n')
        line--;
    size_t column = (size_t) (col - line);
    col = strstr(text, "HTTPS port");
    line = col;
    while (line[-1] != '\n')
        line--;
    assert_int_equal((size_t) (col - line), column);
    free(text);
    cf_cfg_destroy(&cfg);
}

static void test_example(void **state)
{
    (void) state;
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    cf_cfg_t *cfg = s_new();
    assert_int_equal(cf_cfg_write_example(cfg, out), CF_OK);
    fclose(out);
    for (size_t i = 0; i < S_NOPTS; i++) {
        char key[64];
        snprintf(key, sizeof(key), "\n#%s = ", s_opts[i].name);
        assert_non_null(strstr(buf, key));
        assert_non_null(strstr(buf, s_opts[i].help));
    }
    assert_null(strstr(buf, "#config ="));
    assert_null(strstr(buf, "#help ="));
    /* the example, its options with defaults uncommented, parses back to the defaults */
    for (char *p = buf; (p = strstr(p, "\n#")) != NULL; p++) {
        for (size_t i = 0; i < S_NOPTS; i++) {
            size_t n = strlen(s_opts[i].name);
            if (s_opts[i].def && strncmp(p + 2, s_opts[i].name, n) == 0 && p[2 + n] == ' ')
                p[1] = ' ';
        }
    }
    cf_why_t why = {{0}};
    assert_int_equal(cf_cfg_parse_text(cfg, "example.conf", buf, strlen(buf), &why), CF_OK);
    assert_true(cf_cfg_is_set(cfg, "renew-before"));
    assert_int_equal(cf_cfg_int(cfg, "renew-before"), 30 * 86400);
    assert_string_equal(cf_cfg_str(cfg, "redis"), "127.0.0.1:6379");
    assert_true(cf_cfg_bool(cfg, "allow-plain"));
    free(buf);
    cf_cfg_destroy(&cfg);
}

static void test_positional_and_reparse(void **state)
{
    (void) state;
    cf_why_t why = {{0}};
    cf_cfg_t *cfg = s_new();
    assert_int_equal(
        S_PARSE(cfg, &why, "--port", "1", "cert", "import", "--component", "agent", "-p", "2"),
        CF_OK);
    int argc = 0;
    char *const *args = cf_cfg_args(cfg, &argc);
    assert_int_equal(argc, 6); /* options stop at the first positional argument */
    assert_string_equal(args[0], "cert");
    assert_string_equal(args[2], "--component");
    assert_string_equal(args[5], "2");
    assert_null(args[6]);
    assert_int_equal(cf_cfg_int(cfg, "port"), 1);
    /* the subcommand parses its words with its own table, on the same getopt state */
    static const cf_cfg_opt_t sub_opts[] = {
        {"component", 0, CF_CFG_STRING, "C", "agent|server|console", NULL, 0, 0, NULL},
        {"port", 'p', CF_CFG_INT, "N", "a port", NULL, 1, 9, NULL},
    };
    cf_cfg_t *sub = cf_cfg_new(sub_opts, 2);
    assert_non_null(sub);
    assert_int_equal(cf_cfg_parse_args(sub, argc - 1, args + 1, &why), CF_OK);
    assert_string_equal(cf_cfg_str(sub, "component"), "agent");
    assert_int_equal(cf_cfg_int(sub, "port"), 2);
    cf_cfg_args(sub, &argc);
    assert_int_equal(argc, 0);
    /* "--" ends the options; a word after it stays, even if it looks like one */
    assert_int_equal(S_PARSE(cfg, &why, "--init", "--", "--port", "x"), CF_OK);
    args = cf_cfg_args(cfg, &argc);
    assert_int_equal(argc, 2);
    assert_string_equal(args[0], "--port");
    assert_int_equal(cf_cfg_int(cfg, "port"), 7005);
    /* many parses in a row, one failing in between: each starts afresh */
    for (int round = 0; round < 3; round++) {
        assert_int_equal(S_PARSE(cfg, &why, "-p", "3", "--bad"), CF_ERR_INVALID);
        assert_int_equal(S_PARSE(cfg, &why, "-p", "4", "word"), CF_OK);
        assert_int_equal(cf_cfg_int(cfg, "port"), 4);
        assert_string_equal(cf_cfg_args(cfg, &argc)[0], "word");
        assert_int_equal(S_PARSE(cfg, &why, "--priority", "5"), CF_OK);
        assert_int_equal(cf_cfg_int(cfg, "port"), 7005);
        assert_false(cf_cfg_is_set(cfg, "port"));
        assert_int_equal(cf_cfg_int(cfg, "priority"), 5);
        cf_cfg_args(cfg, &argc);
        assert_int_equal(argc, 0);
    }
    /* a leaf command lets options follow its positional arguments */
    cf_cfg_set_permute(cfg, 1);
    assert_int_equal(S_PARSE(cfg, &why, "file.pem", "--port", "6", "other"), CF_OK);
    assert_int_equal(cf_cfg_int(cfg, "port"), 6);
    args = cf_cfg_args(cfg, &argc);
    assert_int_equal(argc, 2);
    assert_string_equal(args[0], "file.pem");
    assert_string_equal(args[1], "other");
    assert_int_equal(S_PARSE(cfg, &why, "file.pem", "--bad"), CF_ERR_INVALID);
    cf_cfg_destroy(&sub);
    cf_cfg_destroy(&cfg);
}

static void test_default_file(void **state)
{
    (void) state;
    cf_why_t why = {{0}};
    cf_cfg_t *cfg = s_new();
    char path[600];
    snprintf(path, sizeof(path), "%s/absent.conf", s_dir);
    assert_int_equal(cf_cfg_set_default_file(cfg, path), CF_OK);
    assert_int_equal(S_PARSE(cfg, &why, "--port", "9"), CF_OK); /* missing: fine */
    assert_null(cf_cfg_file(cfg));
    const char *file = s_file("present.conf", "port = 10\nalias = d\n");
    assert_int_equal(cf_cfg_set_default_file(cfg, file), CF_OK);
    assert_int_equal(S_PARSE(cfg, &why, "--port", "9"), CF_OK);
    assert_string_equal(cf_cfg_file(cfg), file);
    assert_string_equal(cf_cfg_str(cfg, "alias"), "d");
    assert_int_equal(cf_cfg_int(cfg, "port"), 9);
    /* -c wins over the default file, and must exist */
    assert_int_equal(S_PARSE(cfg, &why, "-c", path), CF_ERR_NOTFOUND);
    s_file("present.conf", "port = x\n"); /* a default file that exists must parse */
    assert_int_equal(S_PARSE(cfg, &why, NULL), CF_ERR_INVALID);
    cf_cfg_destroy(&cfg);
}

/* API misuse stops the program (CF_ASSERT). */
static void s_misuse(int which)
{
    static const cf_cfg_opt_t bad_default[] = {
        {"port", 0, CF_CFG_INT, "N", "port", "seventy", 1, 9, NULL},
    };
    static const cf_cfg_opt_t reserved_short[] = {
        {"cert", 'c', CF_CFG_PATH, "FILE", "clashes with -c/--config", NULL, 0, 0, NULL},
    };
    static const cf_cfg_opt_t duplicate[] = {
        {"port", 0, CF_CFG_INT, "N", "port", NULL, 0, 0, NULL},
        {"port", 0, CF_CFG_INT, "N", "port again", NULL, 0, 0, NULL},
    };
    static const cf_cfg_opt_t bad_name[] = {
        {"Port", 0, CF_CFG_INT, "N", "upper case", NULL, 0, 0, NULL},
    };
    cf_cfg_t *cfg = cf_cfg_new(s_opts, S_NOPTS);
    switch (which) {
    case 0: (void) cf_cfg_str(cfg, "no-such-option"); break;
    case 1: (void) cf_cfg_int(cfg, "redis"); break; /* wrong accessor for the type */
    case 2: (void) cf_cfg_new(bad_default, 1); break;
    case 3: (void) cf_cfg_new(reserved_short, 1); break;
    case 4: (void) cf_cfg_new(duplicate, 2); break;
    default: (void) cf_cfg_new(bad_name, 1); break;
    }
}

/* Each misuse in a child process, which must die by SIGABRT. */
static void test_misuse_asserts(void **state)
{
    (void) state;
    for (int which = 0; which <= 5; which++) {
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            if (!freopen("/dev/null", "w", stderr))
                _exit(1);
            s_misuse(which);
            _exit(0); /* reached only if nothing stopped it */
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
            fail_msg("misuse %d was not stopped", which);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_precedence),   cmocka_unit_test(test_env),
        cmocka_unit_test(test_good_values),  cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_lists),        cmocka_unit_test(test_help),
        cmocka_unit_test(test_example),      cmocka_unit_test(test_positional_and_reparse),
        cmocka_unit_test(test_default_file), cmocka_unit_test(test_misuse_asserts),
    };
    return cmocka_run_group_tests(tests, s_setup, NULL);
}
