/*  test_store_opts - the shared Redis options: a single server, Sentinels, the password file  */
#include "cf_test.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cf_mem.h"
#include "cf_store_opts.h"

static const cf_cfg_opt_t s_opts[] = {
    CF_STORE_OPTS_ROWS,
    {"alias", 'a', CF_CFG_STRING, "NAME", "a program's own option beside them", NULL, 0, 0, NULL},
};

static cf_cfg_t *s_parse(int argc, char *const argv[])
{
    cf_cfg_t *cfg = cf_cfg_new(s_opts, sizeof(s_opts) / sizeof(s_opts[0]));
    assert_non_null(cfg);
    cf_why_t why = {""};
    assert_int_equal(cf_cfg_parse_args(cfg, argc, argv, &why), CF_OK);
    return cfg;
}

/* Usage: a program puts the rows in its table and turns the parsed options into a store
   configuration. */
static void test_usage(void **state)
{
    (void) state;
    char *const argv[] = {"prog", "--redis", "127.0.0.5:6400", "--alias", "srv1", NULL};
    cf_cfg_t *cfg = s_parse(5, argv);
    cf_store_cfg_t scfg;
    char *pw = NULL;
    assert_int_equal(cf_store_opts_apply(cfg, &scfg, &pw, NULL), CF_OK);
    assert_null(pw);
    assert_null(scfg.password);
    assert_string_equal(scfg.server.host, "127.0.0.5");
    assert_int_equal(scfg.server.port, 6400);
    cf_cfg_destroy(&cfg);
    /* without --redis: the default address */
    char *const none[] = {"prog", NULL};
    cfg = s_parse(1, none);
    assert_int_equal(cf_store_opts_apply(cfg, &scfg, &pw, NULL), CF_OK);
    assert_string_equal(scfg.server.host, "127.0.0.1");
    assert_int_equal(scfg.server.port, 6379);
    cf_cfg_destroy(&cfg);
}

/* Sentinels win over --redis, with the master name (default "certfleet"). */
static void test_sentinels(void **state)
{
    (void) state;
    char *const argv[] = {
        "prog", "--redis", "127.0.0.5:6400", "--redis-sentinel", "127.0.0.1:26379,127.0.0.1:26380",
        NULL};
    cf_cfg_t *cfg = s_parse(5, argv);
    cf_store_cfg_t scfg;
    char *pw = NULL;
    assert_int_equal(cf_store_opts_apply(cfg, &scfg, &pw, NULL), CF_OK);
    assert_int_equal(scfg.mode, CF_STORE_SENTINEL);
    assert_int_equal(scfg.n_sentinels, 2);
    assert_int_equal(scfg.sentinels[1].port, 26380);
    assert_string_equal(scfg.master_name, "certfleet");
    cf_cfg_destroy(&cfg);
    char *const named[] = {"prog",           "--redis-sentinel", "127.0.0.1:26379",
                           "--redis-master", "bad name",         NULL};
    cfg = s_parse(5, named);
    cf_why_t why = {""};
    assert_int_equal(cf_store_opts_apply(cfg, &scfg, &pw, &why), CF_ERR_INVALID);
    assert_true(why.text[0] != '\0');
    cf_cfg_destroy(&cfg);
}

/* The password comes from a 0600 file, trimmed of its line end; a missing file or one others
   can read is refused. */
static void test_password_file(void **state)
{
    (void) state;
    char dir[512], path[600];
    cf_test_tmpdir("store_opts", dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/redis.pass", dir);
    cf_test_write_file(path, "s3cret\n", 7);
    assert_int_equal(chmod(path, 0600), 0);
    char *argv[] = {"prog", "--redis-password-file", path, NULL};
    cf_cfg_t *cfg = s_parse(3, argv);
    cf_store_cfg_t scfg;
    char *pw = NULL;
    assert_int_equal(cf_store_opts_apply(cfg, &scfg, &pw, NULL), CF_OK);
    assert_non_null(pw);
    assert_string_equal(pw, "s3cret");
    assert_ptr_equal(scfg.password, pw);
    cf_mem_free_secret_str(pw);
    assert_int_equal(chmod(path, 0644), 0);
    cf_why_t why = {""};
    assert_int_not_equal(cf_store_opts_apply(cfg, &scfg, &pw, &why), CF_OK);
    assert_null(pw);
    assert_true(why.text[0] != '\0');
    cf_cfg_destroy(&cfg);
    char missing[640];
    snprintf(missing, sizeof(missing), "%s/none", dir);
    argv[2] = missing;
    cfg = s_parse(3, argv);
    assert_int_not_equal(cf_store_opts_apply(cfg, &scfg, &pw, &why), CF_OK);
    assert_null(pw);
    cf_cfg_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_sentinels),
        cmocka_unit_test(test_password_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
