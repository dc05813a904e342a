/*  cf_itest_linked - a deployment with its broker for the tests of agents and simulators  */
#include "cf_itest_linked.h"

#include "cf_test.h"

#include <stdio.h>

#include <jansson.h>

#include "cf_ca.h"
#include "cf_db_meta.h"
#include "cf_itest_https.h"
#include "cf_seal.h"

static void s_login(cf_itest_fleet_t *fx)
{
    char body[CF_ITEST_FLEET_BODY];
    assert_int_equal(
        cf_itest_fleet_call(&fx->a, 0, &fx->console, 0, "POST", "/api/v1/login",
                            "{\"user\":\"admin\",\"password\":\"" CF_ITEST_FLEET_ADMIN_PASS "\"}",
                            NULL, body),
        200);
    json_t *j = cf_itest_fleet_json(body);
    snprintf(fx->token, sizeof(fx->token), "%s", json_string_value(json_object_get(j, "token")));
    json_decref(j);
}

void cf_itest_linked_start(cf_itest_fleet_t *fx, cf_itest_broker_t *b, const char *const *more)
{
    snprintf(fx->dir, sizeof(fx->dir), "%s", b->dir);
    fx->redis = b->redis;
    char path[700], srv_ep[CF_CURVE_TEXT_MAX + 1];
    snprintf(path, sizeof(path), "%s/secret", fx->dir);
    assert_int_equal(cf_seal_generate_file(path, "fleet-1", NULL), CF_OK);
    assert_int_equal(cf_test_sh("cd '%s' && umask 077 && printf '%%s' '" CF_ITEST_FLEET_ADMIN_PASS
                                "' >admin.pass",
                                fx->dir),
                     0);
    assert_int_equal(cf_curve_broker_format(&b->servers, srv_ep, sizeof(srv_ep)), CF_OK);
    const char *args[16] = {"--broker", srv_ep};
    size_t n = 2;
    for (size_t i = 0; more && more[i]; i++) {
        assert_true(n + 1 < sizeof(args) / sizeof(args[0]));
        args[n++] = more[i];
    }
    args[n] = NULL;
    cf_itest_fleet_start(&fx->a, "srv-a", "10", "127.0.0.0/25", 1, args);
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    assert_int_equal(cf_seal_load_file(path, 0, &fx->seal, NULL), CF_OK);
    assert_int_equal(cf_db_ca_get(b->store, fx->seal, &cert, &key), CF_OK);
    assert_int_equal(cf_ca_load(cert, key, &fx->ca), CF_OK);
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
    snprintf(path, sizeof(path), "%s/ca.pem", fx->dir);
    cf_itest_ca_write(fx->ca, path); /* the trust of curl and of the agents */
    cf_itest_fleet_issue(NULL, 0, 30, "console", &fx->console);
    s_login(fx);
}

void cf_itest_linked_token(cf_itest_fleet_t *fx, int uses, char *out, size_t cap)
{
    char body[CF_ITEST_FLEET_BODY], req[64];
    snprintf(req, sizeof(req), "{\"uses\":%d,\"ttl\":3600}", uses);
    assert_int_equal(cf_itest_fleet_admin(&fx->a, "POST", "/api/v1/enroll-tokens", req, body), 201);
    json_t *j = cf_itest_fleet_json(body);
    const char *token = json_string_value(json_object_get(j, "token"));
    assert_non_null(token);
    snprintf(out, cap, "%s", token);
    json_decref(j);
}

void cf_itest_linked_stop(cf_itest_fleet_t *fx, cf_itest_broker_t *b)
{
    cf_itest_cert_free(&fx->console);
    cf_itest_cert_free(&fx->agent5);
    cf_itest_server_stop(&fx->a, SIGTERM);
    cf_itest_server_stop(&fx->b, SIGTERM);
    cf_ca_destroy(&fx->ca);
    cf_seal_destroy(&fx->seal);
    cf_itest_broker_stop(b);
}
