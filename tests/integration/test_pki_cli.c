/*  test_pki_cli - `cf-console pki` end to end, held up against the openssl tool  */
#include "cf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static char s_dir[512];
static char s_cf[600];

static int s_setup(void **state)
{
    (void) state;
    cf_test_tmpdir("test_pki_cli", s_dir, sizeof(s_dir));
    const char *bin = getenv("CF_BIN_DIR");
    snprintf(s_cf, sizeof(s_cf), "%s/console/cf-console", bin && *bin ? bin : ".");
    /* passwords live in 0600 files */
    return cf_test_sh("cd '%s' && umask 077 && echo ca-secret >ca.pass && echo p12-secret "
                      ">p12.pass && echo wrong >bad.pass",
                      s_dir);
}

/* Run cf-console in the test directory with output to out.txt; returns its exit code. */
static int s_cf_run(const char *args)
{
    return cf_test_sh("cd '%s' && '%s' %s >out.txt 2>&1", s_dir, s_cf, args);
}

static int s_out_has(const char *text)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/out.txt", s_dir);
    char *out = cf_test_read_file(path, NULL);
    int found = strstr(out, text) != NULL;
    if (!found)
        print_message("output did not contain '%s':\n%s\n", text, out);
    free(out);
    return found;
}

static void test_usage(void **state)
{
    (void) state;
    assert_int_equal(s_cf_run("pki create-ca --out ca --key-password-file ca.pass"), 0);
    assert_true(s_out_has("wrote ca/ca.key (private key, mode 0600, encrypted)"));
    assert_int_equal(s_cf_run("pki issue --ca ca --ca-password-file ca.pass --component server "
                              "--name srv1.example.test --dns srv1 --ip 127.0.0.1 --ip ::1 "
                              "--out certs"),
                     0);
    assert_int_equal(cf_test_sh("cd '%s' && openssl verify -CAfile ca/ca.pem -purpose sslserver "
                                "certs/srv1.example.test.pem && openssl x509 -in "
                                "certs/srv1.example.test.pem -noout -ext subjectAltName | grep -q "
                                "'IP Address:0:0:0:0:0:0:0:1'",
                                s_dir),
                     0);
}

static void test_exit_codes(void **state)
{
    (void) state;
    assert_int_equal(s_cf_run(""), 2);
    assert_int_equal(s_cf_run("--help"), 0);
    assert_true(s_out_has("pki"));
    assert_int_equal(s_cf_run("bogus"), 2);
    assert_true(s_out_has("unknown command 'bogus'"));
    assert_int_equal(s_cf_run("pki issue"), 2);
    assert_int_equal(s_cf_run("pki issue --help"), 0);
    assert_true(s_out_has("--component C"));
    assert_int_equal(s_cf_run("pki create-ca --out x --key-type dsa"), 2);
    assert_true(s_out_has("ed25519"));
    assert_int_equal(s_cf_run("pki create-ca --out x --days 0"), 2);
    assert_int_equal(s_cf_run("pki issue --ca nowhere --component agent --name a1"), 1);
    assert_true(s_out_has("nowhere/ca.pem"));
    assert_int_equal(s_cf_run("pki inspect"), 2);
    assert_int_equal(s_cf_run("pki inspect missing.pem"), 1);
}

static void test_every_key_type(void **state)
{
    (void) state;
    static const char *types[] = {"p256", "p384", "rsa2048", "rsa3072", "ed25519"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        char args[600];
        snprintf(args, sizeof(args), "pki create-ca --out ca-%s --key-type %s", types[i], types[i]);
        assert_int_equal(s_cf_run(args), 0);
        snprintf(args, sizeof(args),
                 "pki issue --ca ca-%s --component agent --name agent-%zu --key-type %s --out "
                 "k-%s",
                 types[i], i, types[i], types[i]);
        assert_int_equal(s_cf_run(args), 0);
        assert_int_equal(cf_test_sh("cd '%s' && openssl verify -CAfile ca-%s/ca.pem "
                                    "k-%s/agent-%zu.pem",
                                    s_dir, types[i], types[i], i),
                         0);
    }
}

static void test_refusals(void **state)
{
    (void) state;
    assert_int_equal(s_cf_run("pki create-ca --out ca2"), 0);
    assert_int_equal(s_cf_run("pki create-ca --out ca2"), 1); /* never overwrites a CA */
    assert_true(s_out_has("exists"));
    assert_int_equal(s_cf_run("pki issue --ca ca2 --component agent --name Bad_Id --out x"), 1);
    assert_int_equal(
        s_cf_run("pki issue --ca ca2 --component server --name s.test --ip 1.2.3 --out x"), 1);
    /* a wrong CA password is said as such */
    assert_int_equal(s_cf_run("pki issue --ca ca --ca-password-file bad.pass --component agent "
                              "--name a1 --out x"),
                     1);
    assert_true(s_out_has("wrong password"));
    /* damaged files */
    assert_int_equal(cf_test_sh("cd '%s' && head -c 300 ca/ca.pem >trunc.pem && echo junk "
                                ">junk.pem",
                                s_dir),
                     0);
    assert_int_equal(s_cf_run("pki inspect trunc.pem"), 1);
    assert_true(s_out_has("corrupt"));
    assert_int_equal(s_cf_run("pki inspect junk.pem"), 1);
}

static void test_csr_policy(void **state)
{
    (void) state;
    assert_int_equal(cf_test_sh("cd '%s' && openssl req -new -newkey ec -pkeyopt "
                                "ec_paramgen_curve:P-256 -nodes -keyout a7.key -out a7.csr -subj "
                                "/CN=agent-7 && openssl req -new -newkey ec -pkeyopt "
                                "ec_paramgen_curve:P-256 -nodes -keyout evil.key -out evil.csr "
                                "-subj /CN=agent-9 -addext basicConstraints=critical,CA:TRUE",
                                s_dir),
                     0);
    assert_int_equal(s_cf_run("pki sign-csr --ca ca --ca-password-file ca.pass --csr a7.csr "
                              "--agent agent-7 --out a7.pem"),
                     0);
    assert_int_equal(cf_test_sh("cd '%s' && openssl verify -CAfile ca/ca.pem a7.pem", s_dir), 0);
    assert_int_equal(s_cf_run("pki sign-csr --ca ca --ca-password-file ca.pass --csr a7.csr "
                              "--agent agent-8 --out a8.pem"),
                     1);
    assert_true(s_out_has("expected 'agent-8'"));
    assert_int_equal(s_cf_run("pki sign-csr --ca ca --ca-password-file ca.pass --csr evil.csr "
                              "--agent agent-9 --out a9.pem"),
                     1);
    assert_true(s_out_has("CA"));
    /* our own agent-side CSR signs too */
    assert_int_equal(s_cf_run("pki csr --agent agent-5 --out a5"), 0);
    assert_int_equal(s_cf_run("pki sign-csr --ca ca --ca-password-file ca.pass --csr "
                              "a5/agent-5.csr --agent agent-5 --out a5/agent-5.pem"),
                     0);
}

static void test_p12_and_inspect(void **state)
{
    (void) state;
    assert_int_equal(s_cf_run("pki issue --ca ca --ca-password-file ca.pass --component agent "
                              "--name agent-1 --key-password-file p12.pass --out ag"),
                     0);
    assert_int_equal(s_cf_run("pki export-p12 --cert ag/agent-1.pem --key ag/agent-1.key "
                              "--key-password-file bad.pass --password-file p12.pass --out x.p12"),
                     1);
    assert_true(s_out_has("wrong password"));
    assert_int_equal(s_cf_run("pki export-p12 --cert ag/agent-1.pem --key ag/agent-1.key "
                              "--key-password-file p12.pass --ca ca/ca.pem --password-file "
                              "p12.pass --out ag/agent-1.p12"),
                     0);
    assert_int_equal(cf_test_sh("cd '%s' && openssl pkcs12 -in ag/agent-1.p12 -passin "
                                "file:p12.pass -noout -info 2>&1 | grep -q 'AES-256-CBC' && ! "
                                "openssl pkcs12 -in ag/agent-1.p12 -passin file:p12.pass -noout "
                                "-info 2>&1 | grep -Eqi 'rc2|3des|des-ede'",
                                s_dir),
                     0);
    assert_int_equal(s_cf_run("pki inspect ag/agent-1.p12 --password-file bad.pass"), 1);
    assert_true(s_out_has("wrong password"));
    assert_int_equal(s_cf_run("pki inspect ag/agent-1.p12 --password-file p12.pass --json "
                              "--ca ca/ca.pem"),
                     0);
    char path[600];
    snprintf(path, sizeof(path), "%s/out.txt", s_dir);
    json_error_t err;
    json_t *arr = json_load_file(path, 0, &err);
    assert_non_null(arr);
    assert_int_equal(json_array_size(arr), 2); /* the agent and its CA */
    json_t *leaf = json_array_get(arr, 0);
    assert_string_equal(json_string_value(json_object_get(leaf, "component")), "agent");
    assert_string_equal(json_string_value(json_object_get(leaf, "state")), "current");
    assert_string_equal(json_string_value(json_object_get(leaf, "chain")), "ok");
    const char *serial = json_string_value(json_object_get(leaf, "serial"));
    assert_non_null(serial);
    /* revoke it: the CRL we sign makes the openssl tool refuse the certificate */
    char args[400];
    snprintf(args, sizeof(args),
             "pki crl --ca ca --ca-password-file ca.pass --serial %s --out crl.pem", serial);
    assert_int_equal(s_cf_run(args), 0);
    assert_int_equal(cf_test_sh("cd '%s' && openssl verify -crl_check -CRLfile crl.pem -CAfile "
                                "ca/ca.pem ag/agent-1.pem",
                                s_dir),
                     2);
    assert_int_equal(s_cf_run("pki inspect ag/agent-1.pem --crl crl.pem"), 0);
    assert_true(s_out_has("revoked"));
    json_decref(arr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),          cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_every_key_type), cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_csr_policy),     cmocka_unit_test(test_p12_and_inspect),
    };
    return cmocka_run_group_tests(tests, s_setup, NULL);
}
