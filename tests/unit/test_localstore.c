/*  test_localstore - select a certificate from a directory by subject or fingerprint  */
#include "cf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cf_localstore.h"
#include "cf_mem.h"

static char s_dir[512];
static char s_store[600];

/* A store as an operator would have it: single certificates in PEM and DER, a chain file, a
   PKCS#12 with its key, the same certificate twice, an expired one, and things to skip. */
static int s_setup(void **state)
{
    (void) state;
    cf_test_tmpdir("test_localstore", s_dir, sizeof(s_dir));
    snprintf(s_store, sizeof(s_store), "%s/store", s_dir);
    int rc = cf_test_sh(
        "set -e; cd '%s'; mkdir store many; EC='-newkey ec -pkeyopt ec_paramgen_curve:P-256'; "
        "openssl req -x509 $EC -nodes -keyout ca.key -out ca.pem -days 30 "
        "-subj '/O=Example/CN=Store CA'; "
        "sign() { openssl req -new $EC -nodes -keyout $1.key -out $1.csr -subj \"$2\"; "
        "openssl x509 -req -in $1.csr -CA ca.pem -CAkey ca.key -days ${3:-10} -out $1.pem; }; "
        "sign agent '/O=Example/OU=Agents/CN=agent-one'; sign server '/O=Example/CN=srv.example'; "
        "sign console '/O=Example/CN=Console, Main'; sign old '/O=Example/CN=old-agent' -1; "
        "sign vault '/O=Example/CN=vault-agent'; "
        "cp agent.pem store/agent.pem; cp agent.pem store/agent-copy.CRT; "
        "openssl x509 -in server.pem -outform DER -out store/server.der; "
        "cat console.pem ca.pem > store/console-chain.pem; cp old.pem store/old.cer; "
        "openssl pkcs12 -export -in vault.pem -inkey vault.key -passout pass:pw -iter 64 "
        "-out store/vault.p12; "
        "echo garbage > store/junk.pem; cp agent.pem store/notes.txt; cp agent.pem "
        "store/.hidden.pem; "
        "head -c 300000 /dev/zero > store/huge.pem; mkfifo store/pipe.pem; "
        "openssl x509 -in server.pem -noout -fingerprint -sha256 | cut -d= -f2 > server.fp; "
        "i=0; while [ $i -le 256 ]; do cp ca.pem many/c$i.pem; i=$((i+1)); done",
        s_dir);
    assert_int_equal(rc, 0);
    return 0;
}

static void test_usage(void **state)
{
    (void) state;
    /* the console's "Select" picks the server's certificate by its name */
    cf_bundle_t *b = NULL;
    cf_why_t why = {""};
    assert_int_equal(cf_localstore_select(s_store, "srv.example", NULL, NULL, &b, &why), CF_OK);
    assert_int_equal(cf_bundle_kind(b), CF_BUNDLE_PUBLIC);
    assert_string_equal(cf_cert_common_name(cf_bundle_cert(b)), "srv.example");
    assert_null(cf_bundle_key(b));
    cf_bundle_destroy(&b);
}

static void test_by_fingerprint(void **state)
{
    (void) state;
    char path[700];
    snprintf(path, sizeof(path), "%s/server.fp", s_dir);
    char *fp = cf_test_read_file(path, NULL);
    fp[strcspn(fp, "\r\n")] = '\0'; /* "AB:CD:...": uppercase with colons, as openssl prints */
    assert_int_equal(strlen(fp), 95);
    cf_bundle_t *b = NULL;
    cf_why_t why = {""};
    assert_int_equal(cf_localstore_select(s_store, fp, NULL, NULL, &b, &why), CF_OK);
    assert_string_equal(cf_cert_common_name(cf_bundle_cert(b)), "srv.example");
    cf_bundle_destroy(&b);
    /* the same digits without colons, lowercase */
    char plain[65];
    size_t n = 0;
    for (size_t i = 0; fp[i]; i++) {
        if (fp[i] != ':')
            plain[n++] = (char) (fp[i] >= 'A' && fp[i] <= 'F' ? fp[i] + 32 : fp[i]);
    }
    plain[n] = '\0';
    assert_int_equal(cf_localstore_select(s_store, plain, NULL, NULL, &b, &why), CF_OK);
    cf_bundle_destroy(&b);
    /* one digit off matches nothing (and is not taken for subject text either) */
    plain[10] = plain[10] == '0' ? '1' : '0';
    assert_int_equal(cf_localstore_select(s_store, plain, NULL, NULL, &b, &why), CF_ERR_NOTFOUND);
    assert_null(b);
    free(fp);
}

static void test_subject_forms(void **state)
{
    (void) state;
    cf_bundle_t *b = NULL;
    cf_why_t why = {""};
    /* a piece of the RFC 2253 subject, any case */
    assert_int_equal(cf_localstore_select(s_store, "ou=agents", NULL, NULL, &b, &why), CF_OK);
    assert_string_equal(cf_cert_common_name(cf_bundle_cert(b)), "agent-one");
    cf_bundle_destroy(&b);
    /* the CN as written, even where RFC 2253 escapes it ("Console\, Main") */
    assert_int_equal(cf_localstore_select(s_store, "Console, Main", NULL, NULL, &b, &why), CF_OK);
    /* a certificate from a chain file keeps its issuer from the same file */
    assert_int_equal(cf_bundle_chain_len(b), 1);
    assert_string_equal(cf_cert_common_name(cf_bundle_chain(b, 0)), "Store CA");
    cf_bundle_destroy(&b);
    /* the CA in that file is a candidate too, with no chain */
    assert_int_equal(cf_localstore_select(s_store, "Store CA", NULL, NULL, &b, &why), CF_OK);
    assert_int_equal(cf_bundle_chain_len(b), 0);
    cf_bundle_destroy(&b);
}

static void test_ambiguous_and_missing(void **state)
{
    (void) state;
    cf_bundle_t *b = NULL;
    cf_why_t why = {""};
    /* agent.pem and agent-copy.CRT hold the same certificate: one candidate, no ambiguity */
    assert_int_equal(cf_localstore_select(s_store, "agent-one", NULL, NULL, &b, &why), CF_OK);
    cf_bundle_destroy(&b);
    /* "agent" also names old-agent (vault-agent's .p12 is skipped without a password) */
    assert_int_equal(cf_localstore_select(s_store, "agent", NULL, NULL, &b, &why), CF_ERR_INVALID);
    assert_non_null(strstr(why.text, "2 certificates match \"agent\""));
    assert_non_null(strstr(why.text, "agent-one"));
    assert_non_null(strstr(why.text, "old.cer"));
    assert_null(b);
    cf_localstore_hit_t hits[CF_LOCALSTORE_MAX_HITS];
    size_t n = 0;
    assert_int_equal(
        cf_localstore_find(s_store, "EXAMPLE", NULL, hits, CF_LOCALSTORE_MAX_HITS, &n, &why),
        CF_OK);
    assert_int_equal(n, 5); /* agent, server, console, CA, old: sorted by file name */
    assert_string_equal(hits[0].file, "agent-copy.CRT");
    assert_string_equal(hits[n - 1].file, "server.der");
    cf_localstore_hits_clear(hits, n);
    cf_localstore_hits_clear(hits, n); /* safe to repeat */
    assert_int_equal(cf_localstore_find(s_store, "example", NULL, hits, 3, &n, &why),
                     CF_ERR_TOOBIG);
    assert_int_equal(n, 0);
    assert_int_equal(cf_localstore_select(s_store, "nobody", NULL, NULL, &b, &why),
                     CF_ERR_NOTFOUND);
    assert_non_null(strstr(why.text, "only read with a password"));
}

static void test_p12_needs_password(void **state)
{
    (void) state;
    cf_bundle_t *b = NULL;
    cf_why_t why = {""};
    assert_int_equal(cf_localstore_select(s_store, "vault-agent", NULL, NULL, &b, &why),
                     CF_ERR_NOTFOUND);
    assert_int_equal(cf_localstore_select(s_store, "vault-agent", "wrong", NULL, &b, &why),
                     CF_ERR_NOTFOUND);
    assert_int_equal(cf_localstore_select(s_store, "vault-agent", "pw", NULL, &b, &why), CF_OK);
    assert_int_equal(cf_bundle_kind(b), CF_BUNDLE_IMPORTED);
    assert_non_null(cf_bundle_key(b));
    cf_bundle_destroy(&b);
}

static void test_checks(void **state)
{
    (void) state;
    cf_bundle_t *b = NULL;
    cf_why_t why = {""};
    assert_int_equal(cf_localstore_select(s_store, "old-agent", NULL, NULL, &b, &why),
                     CF_ERR_EXPIRED);
    assert_non_null(strstr(why.text, "expired on"));
    /* the check runs at the moment given: the server's certificate is fine now, not later */
    cf_import_check_t later = {NULL, time(NULL) + 40 * 86400};
    assert_int_equal(cf_localstore_select(s_store, "srv.example", NULL, &later, &b, &why),
                     CF_ERR_EXPIRED);
    cf_import_check_t now = {NULL, 0};
    assert_int_equal(cf_localstore_select(s_store, "srv.example", NULL, &now, &b, &why), CF_OK);
    cf_bundle_destroy(&b);
}

static void test_bad_arguments(void **state)
{
    (void) state;
    cf_bundle_t *b = NULL;
    cf_why_t why = {""};
    char path[700];
    snprintf(path, sizeof(path), "%s/nope", s_dir);
    assert_int_equal(cf_localstore_select(path, "x", NULL, NULL, &b, &why), CF_ERR_IO);
    assert_int_equal(cf_localstore_select(s_store, "", NULL, NULL, &b, &why), CF_ERR_INVALID);
    assert_int_equal(cf_localstore_select(s_store, NULL, NULL, NULL, &b, &why), CF_ERR_INVALID);
    assert_int_equal(cf_localstore_select(NULL, "x", NULL, NULL, &b, &why), CF_ERR_INVALID);
    char longer[CF_LOCALSTORE_MAX_MATCH + 2];
    memset(longer, 'a', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    assert_int_equal(cf_localstore_select(s_store, longer, NULL, NULL, &b, &why), CF_ERR_INVALID);
    snprintf(path, sizeof(path), "%s/many", s_dir);
    assert_int_equal(cf_localstore_select(path, "Store", NULL, NULL, &b, &why), CF_ERR_TOOBIG);
    assert_non_null(strstr(why.text, "more than 256 certificate files"));
    assert_null(b);
}

static cf_err_t s_find_once(void)
{
    cf_localstore_hit_t hits[8];
    size_t n = 0;
    cf_err_t rc = cf_localstore_find(s_store, "example", "pw", hits, 8, &n, NULL);
    cf_localstore_hits_clear(hits, n);
    return rc;
}

static void test_alloc_failure(void **state)
{
    (void) state;
    long n = 0;
    for (;; n++) {
        cf_test_alloc_fail_at(n);
        cf_err_t rc = s_find_once();
        long failed = cf_test_alloc_failed();
        cf_test_alloc_fail_at(-1);
        if (failed == 0) {
            assert_int_equal(rc, CF_OK);
            break;
        }
        assert_int_equal(rc, CF_ERR_NOMEM);
    }
    assert_true(n > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_by_fingerprint),
        cmocka_unit_test(test_subject_forms),
        cmocka_unit_test(test_ambiguous_and_missing),
        cmocka_unit_test(test_p12_needs_password),
        cmocka_unit_test(test_checks),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_alloc_failure),
    };
    return cmocka_run_group_tests(tests, s_setup, NULL);
}
