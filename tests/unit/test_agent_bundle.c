/*  test_agent_bundle - the install bundle parser: a usage example, then every refusal  */
#include "cf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cf_agent_bundle.h"
#include "cf_ca.h"
#include "cf_curve.h"
#include "cf_mem.h"

#define TOKEN "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-_01234" /* 43 base64url characters */

static char *s_ca_pem;                       /* a CA certificate */
static char s_broker[CF_CURVE_TEXT_MAX + 1]; /* a broker endpoint with a key */

static int s_setup(void **state)
{
    (void) state;
    cf_ca_t *ca = NULL;
    size_t len = 0;
    cf_curve_keypair_t kp;
    if (cf_ca_create(NULL, &ca) != CF_OK ||
        cf_cert_to_pem(cf_ca_cert(ca), &s_ca_pem, &len) != CF_OK)
        return -1;
    cf_ca_destroy(&ca);
    if (cf_curve_keypair_new(&kp) != CF_OK)
        return -1;
    char z85[CF_CURVE_Z85_LEN + 1];
    cf_curve_z85_encode(kp.pub, z85);
    cf_curve_keypair_wipe(&kp);
    snprintf(s_broker, sizeof(s_broker), "tcp://127.0.0.1:7010#%s", z85);
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    cf_mem_free(s_ca_pem);
    return 0;
}

/* A good bundle (json_decref it). */
static json_t *s_good(void)
{
    json_t *b = json_pack(
        "{s:s,s:i,s:{s:[{s:s,s:s,s:i,s:i,s:i,s:[s,s],s:b},{s:s,s:i}],s:[s]},s:s,s:s,s:s}", "format",
        CF_AGENT_BUNDLE_FORMAT, "created", 1764000000, "config", "servers", "alias", "srv-a",
        "host", "127.0.0.1", "port", 7005, "plain_port", 7080, "priority", 10, "ip_ranges",
        "10.0.0.0/8", "127.0.0.0-127.0.0.9", "online", 1, "alias", "srv-b", "port", 7006, "brokers",
        s_broker, "ca", s_ca_pem, "p12", "AAECAwQ=", "token", TOKEN);
    assert_non_null(b);
    return b;
}

/* Parse root (stolen); the error code, why into why_out. */
static cf_err_t s_parse(json_t *root, char *why_out)
{
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    assert_non_null(text);
    cf_agent_bundle_t b = {0};
    cf_why_t why = {""};
    cf_err_t rc = cf_agent_bundle_parse(text, strlen(text), &b, &why);
    if (rc != CF_OK)
        assert_null(b.ca_pem); /* left cleared */
    cf_agent_bundle_clear(&b);
    free(text);
    if (why_out)
        snprintf(why_out, CF_WHY_MAX, "%s", why.text);
    return rc;
}

/* The good bundle with member path set to v (stolen); "config.x" and "server.x" reach
   into config and the first server. */
static cf_err_t s_with(const char *path, json_t *v, char *why)
{
    json_t *b = s_good();
    json_t *at = b;
    if (strncmp(path, "config.", 7) == 0) {
        at = json_object_get(b, "config");
        path += 7;
    } else if (strncmp(path, "server.", 7) == 0) {
        at = json_array_get(json_object_get(json_object_get(b, "config"), "servers"), 0);
        path += 7;
    }
    if (v)
        json_object_set_new(at, path, v);
    else
        json_object_del(at, path);
    return s_parse(b, why);
}

static void test_usage(void **state)
{
    (void) state;
    json_t *good = s_good();
    char *text = json_dumps(good, 0);
    json_decref(good);
    cf_agent_bundle_t b = {0};
    cf_why_t why = {""};
    assert_int_equal(cf_agent_bundle_parse(text, strlen(text), &b, &why), CF_OK);
    assert_int_equal(b.created, 1764000000);
    assert_int_equal(b.config.servers.n, 2);
    assert_string_equal(b.config.servers.servers[0].alias, "srv-a");
    assert_int_equal(b.config.servers.servers[0].plain_port, 7080);
    assert_int_equal(cf_iprange_list_size(b.config.servers.servers[0].ranges), 2);
    assert_string_equal(b.config.servers.servers[1].host, ""); /* no host: the alias */
    assert_int_equal(b.config.n_brokers, 1);
    assert_string_equal(b.config.brokers[0].endpoint, "tcp://127.0.0.1:7010");
    assert_int_equal(b.p12_len, 5);
    assert_memory_equal(b.p12, "\0\1\2\3\4", 5);
    assert_string_equal(b.token, TOKEN);
    assert_non_null(strstr(b.ca_pem, "BEGIN CERTIFICATE"));
    cf_agent_bundle_clear(&b);
    cf_agent_bundle_clear(&b); /* safe to repeat */
    free(text);
}

static void test_refuses_document(void **state)
{
    (void) state;
    cf_agent_bundle_t b = {0};
    char why[CF_WHY_MAX];
    assert_int_equal(cf_agent_bundle_parse("{", 1, &b, NULL), CF_ERR_CORRUPT);
    assert_int_equal(cf_agent_bundle_parse("[]", 2, &b, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_agent_bundle_parse("{\"format\":\"a\",\"format\":\"b\"}", 27, &b, NULL),
                     CF_ERR_CORRUPT); /* duplicate member */
    assert_int_equal(cf_agent_bundle_parse("{}", CF_AGENT_BUNDLE_MAX + 1, &b, NULL), CF_ERR_TOOBIG);
    assert_int_equal(cf_agent_bundle_parse(NULL, 0, &b, NULL), CF_ERR_INVALID);
    assert_int_equal(s_with("format", NULL, why), CF_ERR_INVALID);
    assert_int_equal(s_with("format", json_string("certfleet-bundle-2"), why), CF_ERR_UNSUPPORTED);
    assert_int_equal(s_with("format", json_integer(1), why), CF_ERR_INVALID);
    assert_int_equal(s_with("extra", json_true(), why), CF_ERR_INVALID);
    assert_non_null(strstr(why, "extra"));
    assert_int_equal(s_with("created", NULL, why), CF_ERR_INVALID);
    assert_int_equal(s_with("created", json_integer(-1), why), CF_ERR_INVALID);
    assert_int_equal(s_with("created", json_string("now"), why), CF_ERR_INVALID);
    assert_int_equal(s_with("config", json_array(), why), CF_ERR_INVALID);
    assert_int_equal(s_with("config", NULL, why), CF_ERR_INVALID);
    assert_int_equal(s_with("config.extra", json_array(), why), CF_ERR_INVALID);
    assert_int_equal(s_with("config.servers", NULL, why), CF_ERR_INVALID);
    assert_int_equal(s_with("config.servers", json_object(), why), CF_ERR_INVALID);
}

static void test_refuses_servers(void **state)
{
    (void) state;
    char why[CF_WHY_MAX];
    assert_int_equal(s_with("server.alias", NULL, why), CF_ERR_CORRUPT);
    assert_non_null(strstr(why, "alias"));
    assert_int_equal(s_with("server.alias", json_string("SRV-A"), why), CF_ERR_INVALID);
    assert_int_equal(s_with("server.alias", json_string("-a"), why), CF_ERR_INVALID);
    assert_int_equal(s_with("server.alias", json_string("srv-b"), why), CF_ERR_CORRUPT);
    assert_non_null(strstr(why, "twice"));
    assert_int_equal(s_with("server.host", json_string("a b"), why), CF_ERR_INVALID);
    assert_int_equal(s_with("server.host", json_string("h/x"), why), CF_ERR_INVALID);
    assert_int_equal(s_with("server.host", json_integer(1), why), CF_ERR_CORRUPT);
    assert_int_equal(s_with("server.port", json_integer(0), why), CF_ERR_CORRUPT);
    assert_int_equal(s_with("server.port", json_integer(65536), why), CF_ERR_CORRUPT);
    assert_int_equal(s_with("server.port", json_string("7005"), why), CF_ERR_CORRUPT);
    assert_int_equal(s_with("server.plain_port", json_integer(-1), why), CF_ERR_CORRUPT);
    assert_int_equal(s_with("server.priority", json_integer(1000001), why), CF_ERR_CORRUPT);
    assert_int_equal(s_with("server.online", json_string("yes"), why), CF_ERR_CORRUPT);
    assert_int_equal(s_with("server.ip_ranges", json_string("10.0.0.0/8"), why), CF_ERR_CORRUPT);
    assert_int_equal(s_with("server.ip_ranges", json_pack("[s]", "10.0.0.0/33"), why),
                     CF_ERR_CORRUPT);
    assert_int_equal(s_with("server.ip_ranges", json_pack("[i]", 1), why), CF_ERR_CORRUPT);
    json_t *many = json_array();
    char text[32];
    for (int i = 0; i <= CF_IPRANGE_LIST_MAX; i++) {
        snprintf(text, sizeof(text), "10.0.%d.1", i);
        json_array_append_new(many, json_string(text));
    }
    assert_int_equal(s_with("server.ip_ranges", many, why), CF_ERR_TOOBIG);
    assert_int_equal(s_with("server.ip_ranges", json_null(), why), CF_OK);
    json_t *servers = json_array();
    char alias[32];
    for (int i = 0; i <= CF_AGENT_SERVERS_MAX; i++) {
        snprintf(alias, sizeof(alias), "s%d", i);
        json_array_append_new(servers, json_pack("{s:s,s:i}", "alias", alias, "port", 1));
    }
    assert_int_equal(s_with("config.servers", servers, why), CF_ERR_TOOBIG);
    assert_int_equal(s_with("config.servers", json_pack("[i]", 1), why), CF_ERR_CORRUPT);
}

static void test_refuses_brokers_ca(void **state)
{
    (void) state;
    char why[CF_WHY_MAX], big[CF_AGENT_BUNDLE_CA_MAX + 64];
    assert_int_equal(s_with("config.brokers", json_string(s_broker), why), CF_ERR_INVALID);
    assert_int_equal(s_with("config.brokers", json_pack("[s]", "tcp://h:1"), why), CF_ERR_INVALID);
    assert_int_equal(s_with("config.brokers", json_pack("[i]", 1), why), CF_ERR_INVALID);
    assert_int_equal(s_with("config.brokers", json_null(), why), CF_OK);
    json_t *many = json_array();
    for (int i = 0; i <= CF_CURVE_BROKERS_MAX; i++)
        json_array_append_new(many, json_string(s_broker));
    assert_int_equal(s_with("config.brokers", many, why), CF_ERR_TOOBIG);
    assert_int_equal(s_with("ca", NULL, why), CF_ERR_INVALID);
    assert_int_equal(s_with("ca", json_string(""), why), CF_ERR_INVALID);
    assert_int_equal(s_with("ca", json_string("not pem"), why), CF_ERR_CORRUPT);
    assert_int_equal(s_with("ca",
                            json_string("-----BEGIN CERTIFICATE-----\nAAAA\n-----END "
                                        "CERTIFICATE-----\n"),
                            why),
                     CF_ERR_CORRUPT);
    memset(big, 'A', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memcpy(big, "-----BEGIN CERTIFICATE-----", 27);
    assert_int_equal(s_with("ca", json_string(big), why), CF_ERR_TOOBIG);
}

static void test_refuses_p12_token(void **state)
{
    (void) state;
    char why[CF_WHY_MAX];
    assert_int_equal(s_with("p12", NULL, why), CF_ERR_INVALID);
    assert_int_equal(s_with("p12", json_integer(1), why), CF_ERR_INVALID);
    assert_int_equal(s_with("p12", json_string(""), why), CF_ERR_CORRUPT);
    assert_int_equal(s_with("p12", json_string("AAE"), why), CF_ERR_CORRUPT);  /* length */
    assert_int_equal(s_with("p12", json_string("AA*A"), why), CF_ERR_CORRUPT); /* alphabet */
    assert_int_equal(s_with("p12", json_string("A=AA"), why), CF_ERR_CORRUPT); /* padding */
    assert_int_equal(s_with("p12", json_string("AAAA\nAAA"), why), CF_ERR_CORRUPT);
    assert_int_equal(s_with("p12", json_string("===="), why), CF_ERR_CORRUPT);
    assert_int_equal(s_with("p12", json_null(), why), CF_OK);
    size_t n = (CF_P12_MAX_INPUT / 3 + 2) * 4;
    char *big = malloc(n + 1);
    memset(big, 'A', n);
    big[n] = '\0';
    assert_int_equal(s_with("p12", json_string(big), why), CF_ERR_TOOBIG);
    free(big);
    assert_int_equal(s_with("token", NULL, why), CF_ERR_INVALID);
    assert_int_equal(s_with("token", json_string("short"), why), CF_ERR_INVALID);
    assert_null(strstr(why, "short")); /* a token is never quoted */
    assert_int_equal(s_with("token", json_string(TOKEN "A"), why), CF_ERR_INVALID);
    assert_int_equal(
        s_with("token", json_string("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ+/01234"), why),
        CF_ERR_INVALID);
    assert_int_equal(s_with("token", json_integer(1), why), CF_ERR_INVALID);
    assert_int_equal(s_with("token", json_null(), why), CF_OK);
}

static void test_load_and_alloc_failures(void **state)
{
    (void) state;
    char dir[512], path[600];
    cf_agent_bundle_t b = {0};
    cf_why_t why = {""};
    cf_test_tmpdir("test_agent_bundle", dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/none.json", dir);
    assert_int_equal(cf_agent_bundle_load(path, &b, &why), CF_ERR_NOTFOUND);
    snprintf(path, sizeof(path), "%s/b.json", dir);
    json_t *good = s_good();
    char *text = json_dumps(good, 0);
    json_decref(good);
    cf_test_write_file(path, text, strlen(text));
    free(text);
    assert_int_equal(cf_agent_bundle_load(path, &b, &why), CF_OK);
    cf_agent_bundle_clear(&b);
    /* every allocation failure is an error with nothing leaked (ASan checks) */
    for (long i = 0;; i++) {
        cf_test_alloc_fail_at(i);
        cf_err_t rc = cf_agent_bundle_load(path, &b, &why);
        long failed = cf_test_alloc_failed();
        cf_test_alloc_fail_at(-1);
        if (!failed) {
            assert_int_equal(rc, CF_OK);
            cf_agent_bundle_clear(&b);
            break;
        }
        assert_int_not_equal(rc, CF_OK);
        assert_null(b.ca_pem);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_refuses_document),
        cmocka_unit_test(test_refuses_servers),
        cmocka_unit_test(test_refuses_brokers_ca),
        cmocka_unit_test(test_refuses_p12_token),
        cmocka_unit_test(test_load_and_alloc_failures),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
