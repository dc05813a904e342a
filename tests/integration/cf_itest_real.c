/*  cf_itest_real - the real cf-agent in integration tests: a state directory enrolled
    against the cf_itest_fleet servers, one round of the agent, its files  */
#include "cf_itest_real.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cf_agent_checkin.h"
#include "cf_csr.h"
#include "cf_curve.h"
#include "cf_file.h"
#include "cf_itest_fleet.h"
#include "cf_key.h"
#include "cf_mem.h"
#include "cf_test.h"

static cf_itest_fleet_t *const s = &cf_itest_fleet;

/* The agent's state directory. */
const char *cf_itest_real_dir(const char *id)
{
    static char dir[700];
    snprintf(dir, sizeof(dir), "%s/state-%s", s->dir, id);
    return dir;
}

/* A state directory as install and enrollment leave it: agent.json (both servers), ca.pem,
   the CURVE keypair, and a certificate got by enrolling with a token and a CSR. */
void cf_itest_real_enroll(const char *id, const char *token, const char *broker)
{
    cf_itest_real_enroll_ex(id, token, broker, 0);
}

void cf_itest_real_enroll_ex(const char *id, const char *token, const char *broker, int push)
{
    const char *dir = cf_itest_real_dir(id);
    char path[800], ca[700];
    assert_int_equal(cf_test_sh("mkdir -p '%s' && chmod 700 '%s' && cp '%s/ca.pem' '%s/'", dir, dir,
                                s->dir, dir),
                     0);
    cf_curve_keypair_t kp;
    assert_int_equal(cf_curve_keypair_new(&kp), CF_OK);
    snprintf(path, sizeof(path), "%s/curve.key", dir);
    assert_int_equal(cf_curve_keypair_save(&kp, path, NULL), CF_OK);
    char z85[CF_CURVE_Z85_LEN + 1];
    cf_curve_z85_encode(kp.pub, z85);
    cf_curve_keypair_wipe(&kp);
    cf_key_t *key = NULL;
    char *csr = NULL, *kpem = NULL;
    size_t klen = 0;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &key), CF_OK);
    assert_int_equal(cf_csr_create(key, id, &csr), CF_OK);
    assert_int_equal(cf_key_to_pem(key, NULL, &kpem, &klen), CF_OK);
    json_t *req = json_pack("{s:s, s:s, s:s?, s:s}", "id", id, "curve", z85, "csr",
                            push ? NULL : csr, "token", token);
    char *body = json_dumps(req, JSON_COMPACT);
    snprintf(ca, sizeof(ca), "%s/ca.pem", s->dir);
    cf_agent_http_t h = {
        .alias = "srv-a", .host = "127.0.0.1", .port = (unsigned short) s->a.port, .ca_file = ca};
    long status = 0;
    char *answer = NULL;
    assert_int_equal(cf_agent_http_post(&h, "/api/v1/agent/enroll", body, &status, &answer, NULL),
                     CF_OK);
    assert_int_equal(status, 200);
    json_t *ans = cf_itest_fleet_json(answer);
    const char *cert = json_string_value(json_object_get(ans, "cert"));
    if (!push) {
        assert_non_null(cert);
        snprintf(path, sizeof(path), "%s/cert.pem", dir);
        assert_int_equal(cf_file_write_atomic(path, cert, strlen(cert), 0600, NULL), CF_OK);
        snprintf(path, sizeof(path), "%s/key.pem", dir);
        assert_int_equal(cf_file_write_atomic(path, kpem, klen, 0600, NULL), CF_OK);
    }
    json_t *conf =
        json_pack("{s:s, s:[{s:s, s:s, s:i, s:i, s:[s]}], s:n, s:i, s:[]}", "id", id, "servers",
                  "alias", "srv-a", "host", "127.0.0.1", "port", s->a.port, "priority", 10,
                  "ip_ranges", "127.0.0.0/25", "favorite", "interval", 300, "brokers");
    if (s->b.pid)
        json_array_append_new(json_object_get(conf, "servers"),
                              json_pack("{s:s, s:s, s:i, s:i, s:i, s:[s]}", "alias", "srv-b",
                                        "host", "127.0.0.1", "port", s->b.port, "plain_port",
                                        s->b.plain_port, "priority", 20, "ip_ranges",
                                        "127.0.0.128/25"));
    if (broker)
        json_array_append_new(json_object_get(conf, "brokers"), json_string(broker));
    char *text = json_dumps(conf, JSON_COMPACT);
    snprintf(path, sizeof(path), "%s/agent.json", dir);
    cf_test_write_file(path, text, strlen(text));
    free(text);
    json_decref(conf);
    json_decref(ans);
    json_decref(req);
    free(body);
    cf_mem_free(answer);
    cf_mem_free(csr);
    cf_mem_free_secret(kpem, klen);
    cf_key_destroy(&key);
}

/* cf-agent run --once for id from source address from; its exit code. */
int cf_itest_real_run(const char *id, const char *from)
{
    const char *bin = getenv("CF_BIN_DIR");
    return cf_test_sh("'%s/agent/cf-agent' run --once --state-dir '%s' --source %s "
                      ">> '%s/agent-%s.log' 2>&1",
                      bin && *bin ? bin : ".", cf_itest_real_dir(id), from, s->dir, id);
}

/* A string of a JSON file of the agent's state directory ("" when missing). */
const char *cf_itest_real_state(const char *id, const char *file, const char *key)
{
    static char val[256];
    char path[800];
    snprintf(path, sizeof(path), "%s/%s", cf_itest_real_dir(id), file);
    json_t *j = json_load_file(path, 0, NULL);
    const json_t *v = json_object_get(j, key);
    if (json_is_integer(v))
        snprintf(val, sizeof(val), "%lld", (long long) json_integer_value(v));
    else
        snprintf(val, sizeof(val), "%s", json_is_string(v) ? json_string_value(v) : "");
    json_decref(j);
    return val;
}

/* The fingerprint of the agent's cert.pem. */
const char *cf_itest_real_fpr(const char *id)
{
    static char fpr[65];
    char path[800];
    snprintf(path, sizeof(path), "%s/cert.pem", cf_itest_real_dir(id));
    size_t len = 0;
    char *pem = cf_test_read_file(path, &len);
    cf_cert_t *c = NULL;
    assert_int_equal(cf_cert_parse(pem, len, &c), CF_OK);
    snprintf(fpr, sizeof(fpr), "%s", cf_cert_fingerprint(c));
    cf_cert_destroy(&c);
    free(pem);
    return fpr;
}
