/*  test_cfg_file - cf_cfg's file format: errors with file:line, caps, quoting, secrets, OOM  */
#include "cf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cf_cfg.h"
#include "cf_mem.h"

#define S_CFG_TEST_NAME "test_cfg_file"
#include "cf_test_cfg.h"

static void test_usage(void **state)
{
    (void) state;
    const char text[] = "# cf-server\n"
                        "redis = 127.0.0.1:6390   # a comment\n"
                        "alias = \"edge # 1\"\n"
                        "ip-range = 127.0.0.0/24, 127.0.1.0/24\n";
    cf_cfg_t *cfg = cf_cfg_new(s_opts, S_NOPTS);
    assert_non_null(cfg);
    cf_why_t why = {{0}};
    assert_int_equal(cf_cfg_parse_text(cfg, "server.conf", text, sizeof(text) - 1, &why), CF_OK);
    assert_string_equal(cf_cfg_str(cfg, "redis"), "127.0.0.1:6390");
    assert_string_equal(cf_cfg_str(cfg, "alias"), "edge # 1");
    size_t n = 0;
    assert_string_equal(cf_cfg_list(cfg, "ip-range", &n)[1], "127.0.1.0/24");
    assert_int_equal(n, 2);
    const char bad[] = "port = 1\nprot = 2\n";
    assert_int_equal(cf_cfg_parse_text(cfg, "server.conf", bad, sizeof(bad) - 1, &why),
                     CF_ERR_INVALID);
    assert_string_equal(why.text, "server.conf:2: unknown key 'prot'");
    assert_false(cf_cfg_is_set(cfg, "redis")); /* a failed load leaves the defaults */
    cf_cfg_destroy(&cfg);
}

typedef struct {
    const char *text;   /* file content */
    cf_err_t err;       /* expected */
    const char *reason; /* expected why, exactly */
} s_badfile_t;

static void test_file_errors(void **state)
{
    (void) state;
    static const s_badfile_t bad[] = {
        {"port = 1\n\n# c\nbogus = 1\n", CF_ERR_INVALID, "f.conf:4: unknown key 'bogus'"},
        {"port = 1\nalias = a\nport = 2\n", CF_ERR_INVALID,
         "f.conf:3: port: duplicate key (first set on line 1)"},
        {"[server]\nport = 1\n", CF_ERR_INVALID,
         "f.conf:1: sections are not supported; keys are flat"},
        {"port 1\n", CF_ERR_INVALID, "f.conf:1: expected 'key = value'"},
        {"= 1\n", CF_ERR_INVALID, "f.conf:1: expected 'key = value'"},
        {"port\n", CF_ERR_INVALID, "f.conf:1: expected 'key = value'"},
        {"alias = \"open\n", CF_ERR_INVALID, "f.conf:1: alias: missing closing quote"},
        {"alias = \"a\" b\n", CF_ERR_INVALID, "f.conf:1: alias: text after the closing quote"},
        {"alias = \"a\\n\"\n", CF_ERR_INVALID,
         "f.conf:1: alias: unknown escape (only \\\" and \\\\)"},
        {"config = /etc/x.conf\n", CF_ERR_INVALID,
         "f.conf:1: 'config' is a command-line flag only"},
        {"help = yes\n", CF_ERR_INVALID, "f.conf:1: 'help' is a command-line flag only"},
        {"port = 80 # http\nport = eighty\n", CF_ERR_INVALID,
         "f.conf:2: port: duplicate key (first set on line 1)"},
        {"\n\nport = eighty\n", CF_ERR_INVALID, "f.conf:3: port: 'eighty' is not an integer"},
        {"log-level = loud\n", CF_ERR_INVALID,
         "f.conf:1: log-level: 'loud' is not one of: debug, info, warn, error"},
        {"PORT = 1\n", CF_ERR_INVALID, "f.conf:1: unknown key 'PORT'"},
        {"ip_range = a\n", CF_ERR_INVALID, "f.conf:1: unknown key 'ip_range'"},
    };
    cf_why_t why = {{0}};
    cf_cfg_t *cfg = s_new();
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(cf_cfg_parse_text(cfg, "f.conf", bad[i].text, strlen(bad[i].text), &why),
                         bad[i].err);
        assert_string_equal(why.text, bad[i].reason);
        assert_false(cf_cfg_is_set(cfg, "port")); /* nothing half-applied */
    }
    const char nul[] = "port = 1\nalias = a\0b\n";
    assert_int_equal(cf_cfg_parse_text(cfg, "f.conf", nul, sizeof(nul) - 1, &why), CF_ERR_INVALID);
    assert_string_equal(why.text, "f.conf:2: NUL byte");
    /* files: missing, a directory, named by --config */
    char path[600];
    snprintf(path, sizeof(path), "%s/missing.conf", s_dir);
    assert_int_equal(cf_cfg_load_file(cfg, path, &why), CF_ERR_NOTFOUND);
    assert_non_null(strstr(why.text, "missing.conf"));
    assert_int_equal(cf_cfg_load_file(cfg, s_dir, &why), CF_ERR_INVALID);
    assert_non_null(strstr(why.text, "not a regular file"));
    assert_int_equal(S_PARSE(cfg, &why, "-c", path), CF_ERR_NOTFOUND);
    const char *file = s_file("unknown.conf", "port = 2\nnope = 1\n");
    assert_int_equal(S_PARSE(cfg, &why, "--port", "3", "--config", (char *) file), CF_ERR_INVALID);
    char expect[700];
    snprintf(expect, sizeof(expect), "%s:2: unknown key 'nope'", file);
    assert_string_equal(why.text, expect);
    assert_false(cf_cfg_is_set(cfg, "port"));
    cf_cfg_destroy(&cfg);
}

static void test_file_caps(void **state)
{
    (void) state;
    cf_why_t why = {{0}};
    cf_cfg_t *cfg = s_new();
    /* a file over CF_CFG_MAX_FILE, made of harmless comment lines */
    size_t big = CF_CFG_MAX_FILE + 1;
    char *text = cf_mem_malloc(big + 1);
    assert_non_null(text);
    for (size_t i = 0; i < big; i++)
        text[i] = i % 64 == 63 ? '\n' : '#';
    text[big] = '\0';
    assert_int_equal(cf_cfg_parse_text(cfg, "big.conf", text, big, &why), CF_ERR_TOOBIG);
    assert_string_equal(why.text, "big.conf: larger than 262144 bytes");
    assert_int_equal(cf_cfg_parse_text(cfg, "big.conf", text, big - 1, &why), CF_OK);
    const char *path = s_file("big.conf", text);
    assert_int_equal(cf_cfg_load_file(cfg, path, &why), CF_ERR_TOOBIG);
    assert_non_null(strstr(why.text, "larger than 262144 bytes"));
    assert_int_equal(S_PARSE(cfg, &why, "-c", (char *) path), CF_ERR_TOOBIG);
    /* a line over CF_CFG_MAX_LINE, and one exactly at it */
    size_t len = (size_t) snprintf(text, big, "port = 1\nalias = "); /* line 2 starts at 9 */
    memset(text + len, 'a', CF_CFG_MAX_LINE + 1 - 8);                /* 4097 bytes long */
    text[9 + CF_CFG_MAX_LINE + 1] = '\n';
    text[9 + CF_CFG_MAX_LINE + 2] = '\0';
    assert_int_equal(cf_cfg_parse_text(cfg, "l.conf", text, strlen(text), &why), CF_ERR_TOOBIG);
    assert_string_equal(why.text, "l.conf:2: line longer than 4096 bytes");
    text[9 + CF_CFG_MAX_LINE] = '\0'; /* now the line is 4096 bytes, its value 4088 */
    assert_int_equal(cf_cfg_parse_text(cfg, "l.conf", text, strlen(text), &why), CF_OK);
    assert_int_equal(strlen(cf_cfg_str(cfg, "alias")), CF_CFG_MAX_LINE - 8);
    cf_mem_free(text);
    cf_cfg_destroy(&cfg);
}

static void test_quotes_and_comments(void **state)
{
    (void) state;
    const char text[] = "\xEF\xBB\xBF# certfleet\r\n"
                        "  redis=unix:/run/r.sock   # trailing comment\r\n"
                        "\talias = \"edge # 1\"   # the '#' inside quotes stays\n"
                        "secret-file = \"/etc/cf/\\\"odd\\\\name\\\"\"\n"
                        "log-level = \"warn\"\n"
                        "ip-range = \"10.0.0.0/8, 10.1.0.0/16\"\n"
                        "   \n"
                        "port=80";
    cf_why_t why = {{0}};
    cf_cfg_t *cfg = s_new();
    assert_int_equal(cf_cfg_parse_text(cfg, "q.conf", text, sizeof(text) - 1, &why), CF_OK);
    assert_string_equal(cf_cfg_str(cfg, "redis"), "unix:/run/r.sock");
    assert_string_equal(cf_cfg_str(cfg, "alias"), "edge # 1");
    assert_string_equal(cf_cfg_str(cfg, "secret-file"), "/etc/cf/\"odd\\name\"");
    assert_string_equal(cf_cfg_str(cfg, "log-level"), "warn");
    size_t n = 0;
    assert_string_equal(cf_cfg_list(cfg, "ip-range", &n)[1], "10.1.0.0/16");
    assert_int_equal(n, 2);
    assert_int_equal(cf_cfg_int(cfg, "port"), 80); /* last line without a newline */
    const char unq[] = "alias = a#b\n";
    assert_int_equal(cf_cfg_parse_text(cfg, "q.conf", unq, sizeof(unq) - 1, &why), CF_ERR_INVALID);
    assert_string_equal(why.text, "q.conf:1: alias: duplicate key (first set on line 3)");
    cf_cfg_reset(cfg);
    assert_int_equal(cf_cfg_parse_text(cfg, "q.conf", unq, sizeof(unq) - 1, &why), CF_OK);
    assert_string_equal(cf_cfg_str(cfg, "alias"), "a"); /* '#' starts a comment unquoted */
    cf_cfg_destroy(&cfg);
}

typedef struct {
    const char *data;   /* file content */
    size_t len;         /* its length */
    mode_t mode;        /* file permissions */
    size_t max;         /* longest secret accepted */
    unsigned flags;     /* CF_CFG_SECRET_* */
    cf_err_t err;       /* expected */
    const char *expect; /* the secret on success, else a part of why */
} s_secret_case_t;

static void test_secret_file(void **state)
{
    (void) state;
    static const s_secret_case_t cases[] = {
        {"s3cret pass\n", 12, 0600, 64, 0, CF_OK, "s3cret pass"},
        {"two\n\n", 5, 0400, 64, 0, CF_OK, "two\n"}, /* only one newline goes */
        {"dos\r\n", 5, 0600, 3, 0, CF_OK, "dos"},
        {"nonl", 4, 0600, 4, 0, CF_OK, "nonl"},
        {"nonl", 4, 0600, 3, 0, CF_ERR_TOOBIG, "secret longer than 3 bytes"},
        {"shared\n", 7, 0640, 64, 0, CF_ERR_POLICY, "group or others may access it (mode 0640)"},
        {"shared\n", 7, 0604, 64, 0, CF_ERR_POLICY, "chmod 600"},
        {"shared\n", 7, 0644, 64, CF_CFG_SECRET_ALLOW_SHARED, CF_OK, "shared"},
        {"\n", 1, 0600, 64, 0, CF_ERR_INVALID, "secret file is empty"},
        {"", 0, 0600, 64, 0, CF_ERR_INVALID, "secret file is empty"},
        {"a\0b\n", 4, 0600, 64, 0, CF_ERR_INVALID, "NUL"},
        {"0123456789", 10, 0600, 7, 0, CF_ERR_TOOBIG, "pw: secret longer than 7 bytes"},
    };
    char path[600];
    snprintf(path, sizeof(path), "%s/pw", s_dir);
    cf_why_t why = {{0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const s_secret_case_t *c = &cases[i];
        unlink(path); /* a 0400 file cannot be rewritten */
        cf_test_write_file(path, c->data, c->len);
        assert_int_equal(chmod(path, c->mode), 0);
        char *pw = (char *) 0x1; /* must come back NULL on failure */
        assert_int_equal(cf_cfg_read_secret_file(path, c->max, c->flags, &pw, &why), c->err);
        if (c->err == CF_OK) {
            assert_string_equal(pw, c->expect);
            cf_mem_free_secret_str(pw);
        } else {
            assert_null(pw);
            if (!strstr(why.text, c->expect))
                fail_msg("case %zu: why '%s' lacks '%s'", i, why.text, c->expect);
        }
    }
    char *pw = NULL;
    assert_int_equal(cf_cfg_read_secret_file(s_dir, 64, CF_CFG_SECRET_ALLOW_SHARED, &pw, &why),
                     CF_ERR_INVALID); /* a directory */
    snprintf(path, sizeof(path), "%s/nothing", s_dir);
    assert_int_equal(cf_cfg_read_secret_file(path, 64, 0, &pw, &why), CF_ERR_NOTFOUND);
    assert_null(pw);
}

/* Fail allocation 0, 1, 2, ... until a run needs no failure; each must unwind cleanly. */
static void test_alloc_failures(void **state)
{
    (void) state;
    const char *text = "redis = r:1\nip-range = a, b, c\nalias = \"x # y\"\nport = 5\n"
                       "broker = t1\nbroker = t2\nsecret-file = /s\nlog-level = warn\n";
    const char *path = s_file("alloc.conf", text);
    cf_cfg_t *cfg = s_new();
    long n = 0;
    for (;; n++) {
        cf_why_t why = {{0}};
        cf_test_alloc_fail_at(n);
        cf_err_t rc = cf_cfg_parse_text(cfg, "alloc.conf", text, strlen(text), &why);
        long failed = cf_test_alloc_failed();
        cf_test_alloc_fail_at(-1);
        if (failed == 0) {
            assert_int_equal(rc, CF_OK);
            break;
        }
        assert_int_equal(rc, CF_ERR_NOMEM);
        assert_false(cf_cfg_is_set(cfg, "redis")); /* back to the defaults */
        assert_string_equal(cf_cfg_str(cfg, "redis"), "127.0.0.1:6379");
    }
    assert_true(n >= 8);
    for (n = 0;; n++) {
        cf_why_t why = {{0}};
        cf_test_alloc_fail_at(n);
        cf_err_t rc = S_PARSE(cfg, &why, "-c", (char *) path, "--ip-range", "q,r", "sub", "w");
        long failed = cf_test_alloc_failed();
        cf_test_alloc_fail_at(-1);
        if (failed == 0) {
            assert_int_equal(rc, CF_OK);
            break;
        }
        assert_int_equal(rc, CF_ERR_NOMEM);
        assert_false(cf_cfg_is_set(cfg, "ip-range"));
    }
    assert_true(n >= 10);
    cf_cfg_destroy(&cfg);
    for (n = 0;; n++) {
        cf_test_alloc_fail_at(n);
        cf_cfg_t *made = cf_cfg_new(s_opts, S_NOPTS);
        long failed = cf_test_alloc_failed();
        cf_test_alloc_fail_at(-1);
        if (failed == 0) {
            assert_non_null(made);
            cf_cfg_destroy(&made);
            break;
        }
        assert_null(made);
    }
    assert_true(n >= 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),       cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_file_caps),   cmocka_unit_test(test_quotes_and_comments),
        cmocka_unit_test(test_secret_file), cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, s_setup, NULL);
}
