/*  cf_itest_enroll - the protocol-level enrollment client of the tests  */
#include "cf_itest_enroll.h"

#include "cf_test.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cf_cert.h"
#include "cf_csr.h"
#include "cf_mem.h"

static cf_itest_fleet_t *const s = &cf_itest_fleet;

void cf_itest_agent_new(cf_itest_agent_t *a, const char *id)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->id, sizeof(a->id), "%s", id);
    cf_curve_keypair_t kp;
    assert_int_equal(cf_curve_keypair_new(&kp), CF_OK);
    cf_curve_z85_encode(kp.pub, a->z85);
    cf_curve_keypair_wipe(&kp);
    assert_int_equal(cf_key_generate(CF_KEY_P256, &a->key), CF_OK);
}

void cf_itest_agent_free(cf_itest_agent_t *a)
{
    cf_key_destroy(&a->key);
    cf_itest_cert_free(&a->cert);
    a->has_cert = 0;
}

/* The request body into <dir>/<id>.json. */
static void s_body(const cf_itest_agent_t *a, const cf_itest_enroll_t *how, char *file, size_t len)
{
    char *csr = NULL, path[1200];
    if (how->csr)
        assert_int_equal(cf_csr_create(a->key, how->csr_cn ? how->csr_cn : a->id, &csr), CF_OK);
    json_t *body = json_pack("{s:s,s:s,s:s?,s:s?,s:s,s:i}", "id", a->id, "curve",
                             how->curve ? how->curve : a->z85, "csr", csr, "token", how->token,
                             "version", "0.1.0-test", "protocol", 1);
    assert_non_null(body);
    char *text = json_dumps(body, JSON_COMPACT);
    assert_non_null(text);
    snprintf(file, len, "%s.json", a->id);
    snprintf(path, sizeof(path), "%s/%s", s->dir, file);
    cf_test_write_file(path, text, strlen(text));
    free(text);
    json_decref(body);
    cf_mem_free(csr);
}

/* Keep the certificate of a 200 answer as files, checked against the agent. */
static void s_keep(cf_itest_agent_t *a, const char *pem)
{
    cf_cert_t *cert = NULL;
    assert_int_equal(cf_cert_parse(pem, strlen(pem), &cert), CF_OK);
    assert_string_equal(cf_cert_common_name(cert), a->id);
    assert_string_equal(cf_cert_agent_id(cert), a->id);
    char *key = NULL, base[1200];
    size_t klen = 0;
    assert_int_equal(cf_key_to_pem(a->key, NULL, &key, &klen), CF_OK);
    cf_itest_cert_free(&a->cert);
    a->n++;
    snprintf(base, sizeof(base), "%s/%s-%d", s->dir, a->id, a->n);
    assert_true(strlen(base) + 5 <= sizeof(a->cert.pem));
    snprintf(a->cert.pem, sizeof(a->cert.pem), "%.590s.pem", base);
    snprintf(a->cert.key, sizeof(a->cert.key), "%.590s.key", base);
    snprintf(a->cert.fp, sizeof(a->cert.fp), "%s", cf_cert_fingerprint(cert));
    snprintf(a->cert.serial, sizeof(a->cert.serial), "%s", cf_cert_serial(cert));
    snprintf(a->cert.agent, sizeof(a->cert.agent), "%s", a->id);
    cf_test_write_file(a->cert.pem, pem, strlen(pem));
    cf_test_write_file(a->cert.key, key, klen);
    a->cert.pem_text = cf_mem_strdup(pem);
    a->cert.pem_len = strlen(pem);
    a->has_cert = 1;
    cf_mem_free_secret(key, klen);
    cf_cert_destroy(&cert);
}

int cf_itest_enroll(cf_itest_agent_t *a, const cf_itest_enroll_t *how, char *out)
{
    char file[200], extra[400];
    s_body(a, how, file, sizeof(file));
    snprintf(extra, sizeof(extra), "-H 'Content-Type: application/json' --data-binary @%s ", file);
    int status = cf_itest_fleet_call(how->srv, how->plain, how->cert, 0, "POST",
                                     "/api/v1/agent/enroll", NULL, extra, out);
    if (status != 200)
        return status;
    json_t *j = cf_itest_fleet_json(out);
    const char *pem = json_string_value(json_object_get(j, "cert"));
    if (pem)
        s_keep(a, pem);
    json_decref(j);
    return status;
}
