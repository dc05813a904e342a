/*  test_agent_certs - crash-safe certificate installation: install, a failed handshake
    check rolls back, a wrong key touches nothing, crashes at every step recover to exactly
    one matching pair  */
#include "cf_test.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cf_agent_certs.h"
#include "cf_ca.h"
#include "cf_key.h"
#include "cf_mem.h"

typedef struct {
    char *chain, *key; /* PEM */
    char fpr[65];      /* leaf fingerprint */
} s_pair_t;

static cf_ca_t *s_ca;
static s_pair_t s_a, s_b;

static void s_make(s_pair_t *p, const char *id)
{
    cf_issue_t req = {.component = CF_COMPONENT_AGENT, .name = id};
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    size_t len = 0;
    assert_int_equal(cf_ca_issue(s_ca, &req, &cert, &key), CF_OK);
    assert_int_equal(cf_cert_to_pem(cert, &p->chain, &len), CF_OK);
    assert_int_equal(cf_key_to_pem(key, NULL, &p->key, &len), CF_OK);
    snprintf(p->fpr, sizeof(p->fpr), "%s", cf_cert_fingerprint(cert));
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
}

static int s_setup(void **state)
{
    (void) state;
    if (cf_ca_create(NULL, &s_ca) != CF_OK)
        return -1;
    s_make(&s_a, "agent-a");
    s_make(&s_b, "agent-b");
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    cf_mem_free(s_a.chain);
    cf_mem_free_secret_str(s_a.key);
    cf_mem_free(s_b.chain);
    cf_mem_free_secret_str(s_b.key);
    cf_ca_destroy(&s_ca);
    return 0;
}

/* The check of these tests: passes unless ctx names a fingerprint it refuses. */
static cf_err_t s_check(void *ctx, const char *cert_path, const char *key_path, cf_why_t *why)
{
    (void) key_path;
    size_t len = 0;
    char *pem = cf_test_read_file(cert_path, &len);
    cf_cert_t *c = NULL;
    assert_int_equal(cf_cert_parse(pem, len, &c), CF_OK);
    int refuse = ctx && strcmp(cf_cert_fingerprint(c), (const char *) ctx) == 0;
    cf_cert_destroy(&c);
    free(pem);
    return refuse ? cf_why(why, CF_ERR_UNTRUSTED, "handshake refused") : CF_OK;
}

static cf_err_t s_install(const char *dir, const s_pair_t *p, const char *refuse, cf_why_t *why)
{
    return cf_agent_certs_install(dir, p->chain, strlen(p->chain), p->key, strlen(p->key), s_check,
                                  (void *) refuse, NULL, why);
}

/* The fingerprint in use in dir, "" when none. */
static const char *s_current(const char *dir)
{
    static char fpr[65];
    cf_cert_t *c = NULL;
    fpr[0] = '\0';
    if (cf_agent_certs_current(dir, &c, NULL) == CF_OK)
        snprintf(fpr, sizeof(fpr), "%s", cf_cert_fingerprint(c));
    cf_cert_destroy(&c);
    return fpr;
}

/* Number of files in dir other than "." and "..". */
static int s_count(const char *dir)
{
    return cf_test_sh("test $(ls -A '%s' | wc -l) -eq 2", dir) == 0 ? 2 : -1;
}

static void test_usage(void **state)
{
    (void) state;
    char dir[512], fpr[65] = "";
    cf_test_tmpdir("agent_certs_usage", dir, sizeof(dir));
    assert_int_equal(cf_agent_certs_recover(dir, NULL, NULL), CF_OK); /* nothing to do */
    assert_int_equal(cf_agent_certs_install(dir, s_a.chain, strlen(s_a.chain), s_a.key,
                                            strlen(s_a.key), s_check, NULL, fpr, NULL),
                     CF_OK);
    assert_string_equal(fpr, s_a.fpr);
    assert_string_equal(s_current(dir), s_a.fpr);
    /* a replacement: the new pair in use, nothing else left, both files 0600 */
    assert_int_equal(s_install(dir, &s_b, NULL, NULL), CF_OK);
    assert_string_equal(s_current(dir), s_b.fpr);
    assert_int_equal(s_count(dir), 2);
    assert_int_equal(cf_test_sh("test $(stat -c %%a '%s/cert.pem') = 600 && "
                                "test $(stat -c %%a '%s/key.pem') = 600",
                                dir, dir),
                     0);
}

/* A new pair the server refuses: the previous one comes back; at a first install none stays. */
static void test_check_fails_rolls_back(void **state)
{
    (void) state;
    char dir[512];
    cf_test_tmpdir("agent_certs_rollback", dir, sizeof(dir));
    cf_why_t why = {""};
    assert_int_equal(s_install(dir, &s_a, s_a.fpr, &why), CF_ERR_UNTRUSTED);
    assert_non_null(strstr(why.text, "none installed"));
    assert_string_equal(s_current(dir), "");
    assert_int_equal(cf_test_sh("test -z \"$(ls -A '%s')\"", dir), 0);
    assert_int_equal(s_install(dir, &s_a, NULL, NULL), CF_OK);
    assert_int_equal(s_install(dir, &s_b, s_b.fpr, &why), CF_ERR_UNTRUSTED);
    assert_non_null(strstr(why.text, "handshake refused"));
    assert_non_null(strstr(why.text, "previous one is kept"));
    assert_string_equal(s_current(dir), s_a.fpr);
    assert_int_equal(s_count(dir), 2);
}

/* Input refused before anything on disk changes. */
static void test_bad_input(void **state)
{
    (void) state;
    char dir[512];
    cf_test_tmpdir("agent_certs_bad", dir, sizeof(dir));
    assert_int_equal(s_install(dir, &s_a, NULL, NULL), CF_OK);
    static const struct {
        int chain, key; /* 0 = a's, 1 = b's, 2 = garbage */
        cf_err_t want;
    } cases[] = {{0, 1, CF_ERR_KEYMISMATCH},
                 {1, 0, CF_ERR_KEYMISMATCH},
                 {2, 0, CF_ERR_CORRUPT},
                 {0, 2, CF_ERR_CORRUPT}};
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        const char *pick_c[] = {s_a.chain, s_b.chain, "-----BEGIN CERTIFICATE-----\nxx\n"};
        const char *pick_k[] = {s_a.key, s_b.key, "-----BEGIN PRIVATE KEY-----\nxx\n"};
        const char *ch = pick_c[cases[c].chain], *k = pick_k[cases[c].key];
        cf_why_t why = {""};
        assert_int_equal(
            cf_agent_certs_install(dir, ch, strlen(ch), k, strlen(k), NULL, NULL, NULL, &why),
            cases[c].want);
        assert_true(why.text[0] != '\0');
        assert_string_equal(s_current(dir), s_a.fpr);
        assert_int_equal(s_count(dir), 2);
    }
    assert_int_equal(cf_agent_certs_install(NULL, "x", 1, "y", 1, NULL, NULL, NULL, NULL),
                     CF_ERR_INVALID);
    assert_int_equal(cf_agent_certs_install(dir, "x", 0, "y", 1, NULL, NULL, NULL, NULL),
                     CF_ERR_INVALID);
    assert_int_equal(cf_agent_certs_recover(NULL, NULL, NULL), CF_ERR_INVALID);
    cf_cert_t *c = NULL;
    assert_int_equal(cf_agent_certs_current("/nonexistent-dir", &c, NULL), CF_ERR_NOTFOUND);
}

/* Install b over a in a child stopped by the fault switch at point; then recover. */
static void s_crash_at(const char *dir, const char *point)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv(CF_AGENT_FAULT_ENV, point, 1);
        cf_err_t rc = s_install(dir, &s_b, NULL, NULL);
        _exit(rc == CF_OK ? 0 : 1);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 86);
}

/* Crashes at each step: after recovery exactly one matching pair, the previous one. */
static void test_crash_recovery(void **state)
{
    (void) state;
    static const char *points[] = {"after-write", "after-rename"};
    for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
        char dir[512];
        cf_test_tmpdir(points[i], dir, sizeof(dir));
        assert_int_equal(s_install(dir, &s_a, NULL, NULL), CF_OK);
        s_crash_at(dir, points[i]);
        int restored = -1;
        assert_int_equal(cf_agent_certs_recover(dir, &restored, NULL), CF_OK);
        assert_int_equal(restored, strcmp(points[i], "after-rename") == 0);
        assert_string_equal(s_current(dir), s_a.fpr);
        assert_int_equal(s_count(dir), 2);
        assert_int_equal(s_install(dir, &s_b, NULL, NULL), CF_OK); /* and it installs again */
        assert_string_equal(s_current(dir), s_b.fpr);
    }
}

/* States a crash can leave between the renames and during the clean-up, made by hand. */
static void test_recover_table(void **state)
{
    (void) state;
    static const struct {
        const char *sh;   /* from a (in use) and b (as cert.pem.new/key.pem.new) */
        const char *want; /* "a" or "b" */
        int restored;
    } cases[] = {
        /* cert moved aside, nothing else */
        {"mv cert.pem cert.pem.prev", "a", 1},
        /* both moved aside, the new cert in */
        {"mv cert.pem cert.pem.prev && mv key.pem key.pem.prev && mv cert.pem.new cert.pem", "a",
         1},
        /* clean-up: key.prev removed, cert.prev left */
        {"mv cert.pem cert.pem.prev && mv key.pem key.pem.prev && mv cert.pem.new cert.pem && "
         "mv key.pem.new key.pem && rm key.pem.prev",
         "b", 0},
        /* a temp file of an interrupted write */
        {"cp key.pem.new key.pem.new.tmp.123 && rm cert.pem.new", "a", 0},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        char dir[512], name[32];
        snprintf(name, sizeof(name), "recover-%zu", c);
        cf_test_tmpdir(name, dir, sizeof(dir));
        assert_int_equal(s_install(dir, &s_a, NULL, NULL), CF_OK);
        char path[600];
        snprintf(path, sizeof(path), "%s/cert.pem.new", dir);
        cf_test_write_file(path, s_b.chain, strlen(s_b.chain));
        snprintf(path, sizeof(path), "%s/key.pem.new", dir);
        cf_test_write_file(path, s_b.key, strlen(s_b.key));
        assert_int_equal(cf_test_sh("cd '%s' && %s", dir, cases[c].sh), 0);
        int restored = -1;
        assert_int_equal(cf_agent_certs_recover(dir, &restored, NULL), CF_OK);
        assert_int_equal(restored, cases[c].restored);
        assert_string_equal(s_current(dir), cases[c].want[0] == 'a' ? s_a.fpr : s_b.fpr);
        assert_int_equal(s_count(dir), 2);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),         cmocka_unit_test(test_check_fails_rolls_back),
        cmocka_unit_test(test_bad_input),     cmocka_unit_test(test_crash_recovery),
        cmocka_unit_test(test_recover_table),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
