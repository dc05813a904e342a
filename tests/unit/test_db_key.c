/*  test_db_key - the pure parts of the schema layer: names, keys, reply decoders, enums  */
#include "cf_test.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cf_ca.h"
#include "cf_db_agent.h"
#include "cf_db_archive.h"
#include "cf_db_cert.h"
#include "cf_db_key.h"
#include "cf_db_ssl.h"
#include "cf_db_user.h"
#include "cf_db_util.h"
#include "cf_mem.h"
#include "cf_store_reply.h"

static void test_usage(void **state)
{
    (void) state;
    char key[CF_DB_KEY_MAX];
    assert_int_equal(cf_db_key_agent(key, "host-7.lab"), CF_OK);
    assert_string_equal(key, "cf:agent:{host-7.lab}");
    assert_int_equal(cf_db_key_cert(key, CF_COMPONENT_SERVER, "srv1"), CF_OK);
    assert_string_equal(key, "cf:cert:server:srv1");
    assert_int_equal(cf_db_key_certs(key, CF_COMPONENT_AGENT), CF_OK);
    assert_string_equal(key, "cf:certs:agent");
    assert_int_equal(cf_db_key_server(key, "srv1.corp.example"), CF_OK);
    assert_string_equal(key, "cf:server:srv1.corp.example");
    assert_int_equal(cf_db_key_hb(key, "srv1"), CF_OK);
    assert_string_equal(key, "cf:hb:srv1");
    assert_int_equal(cf_db_key_user(key, "ops@corp"), CF_OK);
    assert_string_equal(key, "cf:user:ops@corp");
    assert_int_equal(cf_db_key_session(key, "0123456789abcdef0123456789abcdef", 32), CF_OK);
    assert_string_equal(key, "cf:session:"
                             "3eb1bd439947eb762998e566ccc2e099c791118b2f40579cc4f7da2b5061b7f9");
}

static void test_job_keys(void **state)
{
    (void) state;
    char key[CF_DB_KEY_MAX];
    const char *id = "0123456789abcdef0123456789abcdef";
    assert_int_equal(cf_db_key_job(key, id, CF_DB_KS_TAG), CF_OK);
    assert_string_equal(key, "cf:job:{0123456789abcdef0123456789abcdef}");
    assert_int_equal(cf_db_key_job(key, id, CF_DB_KS_JOB_ST), CF_OK);
    assert_string_equal(key, "cf:job:{0123456789abcdef0123456789abcdef}:st");
    assert_int_equal(cf_db_key_job(key, id, CF_DB_KS_JOB_WHY), CF_OK);
    assert_string_equal(key, "cf:job:{0123456789abcdef0123456789abcdef}:why");
    assert_int_equal(cf_db_key_job(key, id, CF_DB_KS_JOB_EV), CF_OK);
    assert_string_equal(key, "cf:job:{0123456789abcdef0123456789abcdef}:ev");
    assert_int_equal(cf_db_key_agent_jobs(key, "agent-7"), CF_OK);
    assert_string_equal(key, "cf:agent:{agent-7}:jobs");
    /* only the four suffixes, only valid ids */
    assert_int_equal(cf_db_key_job(key, id, ":x"), CF_ERR_INVALID);
    assert_string_equal(key, "");
    assert_int_equal(cf_db_key_job(key, id, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_db_key_agent_jobs(key, "Agent"), CF_ERR_INVALID);
    const char *bad[] = {NULL,
                         "",
                         "0123456789abcdef0123456789abcde",
                         "0123456789abcdef0123456789abcdef0",
                         "0123456789ABCDEF0123456789abcdef",
                         "0123456789abcdef0123456789abcdeg",
                         "00000000000000000000000000000000"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(cf_db_check_job_id(bad[i]), CF_ERR_INVALID);
        assert_int_equal(cf_db_key_job(key, bad[i], CF_DB_KS_TAG), CF_ERR_INVALID);
    }
    assert_int_equal(cf_db_check_job_id("00000000000000000000000000000001"), CF_OK);
}

static void test_name_checks(void **state)
{
    (void) state;
    char max_id[CF_DB_ID_MAX + 2], max_alias[CF_DB_ALIAS_MAX + 2];
    memset(max_id, 'a', sizeof(max_id));
    max_id[CF_DB_ID_MAX] = '\0';
    memset(max_alias, 'b', sizeof(max_alias));
    max_alias[CF_DB_ALIAS_MAX] = '\0';
    static const char *const good_ids[] = {"a", "0", "agent-7", "host.example.org", "a_b", "9-"};
    for (size_t i = 0; i < sizeof(good_ids) / sizeof(good_ids[0]); i++)
        assert_int_equal(cf_db_check_agent_id(good_ids[i]), CF_OK);
    assert_int_equal(cf_db_check_agent_id(max_id), CF_OK);
    assert_int_equal(cf_db_check_alias(max_alias), CF_OK);
    max_id[CF_DB_ID_MAX] = 'a';
    max_id[CF_DB_ID_MAX + 1] = '\0';
    max_alias[CF_DB_ALIAS_MAX] = 'b';
    max_alias[CF_DB_ALIAS_MAX + 1] = '\0';
    assert_int_equal(cf_db_check_agent_id(max_id), CF_ERR_INVALID);
    assert_int_equal(cf_db_check_alias(max_alias), CF_ERR_INVALID);
    /* everything that could bend a key name: separators, hash tags, globs, blanks, case */
    static const char *const bad[] = {"",     "-a",  ".a", "_a",  "A",   "aB",  "a:b",
                                      "a{b",  "a}",  "a*", "a?",  "a[b", "a b", "a\n",
                                      "a\\b", "a/b", "é",  "a\t", "a\"", "a'",  "a\x7f"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char key[CF_DB_KEY_MAX] = "x";
        assert_int_equal(cf_db_check_agent_id(bad[i]), CF_ERR_INVALID);
        assert_int_equal(cf_db_check_alias(bad[i]), CF_ERR_INVALID);
        assert_int_equal(cf_db_check_cert_name(bad[i]), CF_ERR_INVALID);
        assert_int_equal(cf_db_key_agent(key, bad[i]), CF_ERR_INVALID);
        assert_string_equal(key, ""); /* never a malformed key */
        assert_int_equal(cf_db_check_user(bad[i]), CF_ERR_INVALID);
    }
    assert_int_equal(cf_db_check_agent_id(NULL), CF_ERR_INVALID);
    assert_int_equal(cf_db_check_user("a@b"), CF_OK);
    assert_int_equal(cf_db_check_agent_id("a@b"), CF_ERR_INVALID);
    assert_int_equal(cf_db_check_serial("0a1b"), CF_OK);
    assert_int_equal(cf_db_check_serial("0A1B"), CF_ERR_INVALID);
    assert_int_equal(cf_db_check_serial(""), CF_ERR_INVALID);
    assert_int_equal(cf_db_check_fingerprint("ab"), CF_ERR_INVALID);
    assert_int_equal(cf_db_check_owner("srv1/123/abc"), CF_OK);
    assert_int_equal(cf_db_check_owner("a b"), CF_ERR_INVALID);
    assert_int_equal(cf_db_check_text("line\n", 0, 10), CF_ERR_INVALID);
    assert_int_equal(cf_db_check_text("", 1, 10), CF_ERR_INVALID);
    assert_int_equal(cf_db_check_text("", 0, 10), CF_OK);
    assert_int_equal(cf_db_check_text("\xc3\xa9t\xc3\xa9", 0, 10), CF_OK); /* UTF-8 */
    assert_int_equal(cf_db_check_text("0123456789x", 0, 10), CF_ERR_TOOBIG);
    char key[CF_DB_KEY_MAX];
    assert_int_equal(cf_db_key_cert(key, CF_COMPONENT_CA, "x"), CF_ERR_INVALID);
    assert_int_equal(cf_db_key_certs(key, CF_COMPONENT_UNKNOWN), CF_ERR_INVALID);
    assert_int_equal(cf_db_key_session(key, "short", 5), CF_ERR_INVALID);
    assert_int_equal(cf_db_key_session(key, NULL, 32), CF_ERR_INVALID);
}

/* Parse raw RESP bytes through the store's capped builders (as cf_store does). */
static redisReply *s_parse(const char *resp, size_t len)
{
    cf_store_cfg_t cfg;
    cf_store_cfg_init(&cfg);
    cf_store_caps_t caps;
    cf_store_caps_init(&caps, &cfg);
    redisReader *reader = redisReaderCreate();
    assert_non_null(reader);
    cf_store_caps_attach(reader, &caps);
    cf_store_caps_begin_batch(&caps);
    assert_int_equal(redisReaderFeed(reader, resp, len), REDIS_OK);
    void *reply = NULL;
    assert_int_equal(redisReaderGetReply(reader, &reply), REDIS_OK);
    redisReaderFree(reader);
    assert_non_null(reply);
    return reply;
}

static void test_reply_decoders(void **state)
{
    (void) state;
    static const char resp[] = "*7\r\n$3\r\nabc\r\n$-1\r\n:42\r\n$3\r\n-17\r\n$3\r\na\0b\r\n"
                               "$2\r\n1\n\r\n$20\r\n99999999999999999999\r\n";
    redisReply *r = s_parse(resp, sizeof(resp) - 1);
    cf_why_t why = {""};
    char buf[8];
    char *dup = NULL;
    int64_t v = 0;
    assert_int_equal(cf_db_r_array(r, 7, 7, "r", &why), CF_OK);
    assert_int_equal(cf_db_r_array(r, 8, 9, "r", &why), CF_ERR_CORRUPT);
    assert_int_equal(cf_db_r_array(r->element[0], 0, 9, "r", &why), CF_ERR_CORRUPT);
    assert_int_equal(cf_db_r_text(r->element[0], 0, buf, 3, "t", &why), CF_OK);
    assert_string_equal(buf, "abc");
    assert_int_equal(cf_db_r_text(r->element[0], 0, buf, 2, "t", &why), CF_ERR_CORRUPT);
    assert_string_equal(why.text, "t: over 2 bytes");
    assert_int_equal(cf_db_r_text(r->element[1], 1, buf, 3, "t", &why), CF_OK);
    assert_string_equal(buf, "");
    assert_int_equal(cf_db_r_text(r->element[1], 0, buf, 3, "t", &why), CF_ERR_CORRUPT);
    assert_int_equal(cf_db_r_text(r->element[2], 0, buf, 3, "t", &why), CF_ERR_CORRUPT);
    assert_int_equal(cf_db_r_text(r->element[4], 0, buf, 7, "t", &why), CF_ERR_CORRUPT); /* NUL */
    assert_int_equal(cf_db_r_text(r->element[5], 0, buf, 7, "t", &why), CF_ERR_CORRUPT); /* \n */
    assert_int_equal(cf_db_r_dup(r->element[5], 0, 7, &dup, "d", &why), CF_OK); /* PEM may */
    assert_string_equal(dup, "1\n");
    cf_mem_free(dup);
    assert_int_equal(cf_db_r_dup(r->element[4], 0, 7, &dup, "d", &why), CF_ERR_CORRUPT);
    assert_null(dup);
    assert_int_equal(cf_db_r_dup(r->element[1], 1, 7, &dup, "d", &why), CF_OK);
    assert_null(dup);
    assert_int_equal(cf_db_r_int(r->element[2], 0, 0, 100, &v, "i", &why), CF_OK);
    assert_int_equal(v, 42);
    assert_int_equal(cf_db_r_int(r->element[3], 0, -20, 0, &v, "i", &why), CF_OK);
    assert_int_equal(v, -17);
    assert_int_equal(cf_db_r_int(r->element[3], 0, 0, 10, &v, "i", &why), CF_ERR_CORRUPT);
    assert_int_equal(cf_db_r_int(r->element[0], 0, 0, 10, &v, "i", &why), CF_ERR_CORRUPT);
    assert_int_equal(cf_db_r_int(r->element[6], 0, 0, INT64_MAX, &v, "i", &why), CF_ERR_CORRUPT);
    assert_int_equal(cf_db_r_int(r->element[1], 1, 0, 10, &v, "i", &why), CF_OK);
    assert_int_equal(v, 0);
    assert_int_equal(cf_db_r_int(NULL, 0, 0, 10, &v, "i", &why), CF_ERR_CORRUPT);
    assert_true(cf_db_r_nil(NULL));
    freeReplyObject(r);
    static const char nums[] =
        "*4\r\n$1\r\n-\r\n$0\r\n\r\n$2\r\n+1\r\n$19\r\n9223372036854775807\r\n";
    r = s_parse(nums, sizeof(nums) - 1);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(cf_db_r_int(r->element[i], 0, INT64_MIN, INT64_MAX, &v, "i", NULL),
                         CF_ERR_CORRUPT);
    assert_int_equal(cf_db_r_int(r->element[3], 0, 0, INT64_MAX, &v, "i", NULL), CF_OK);
    assert_int_equal(v, INT64_MAX);
    freeReplyObject(r);
    char n[CF_DB_I64_BUF];
    assert_string_equal(cf_db_i64(n, INT64_MIN), "-9223372036854775808");
    assert_string_equal(cf_db_i64(n, INT64_MAX), "9223372036854775807");
    assert_string_equal(cf_db_i64(n, 0), "0");
    assert_string_equal(cf_db_i64(n, -1), "-1");
    /* as printf writes them: digit-count edges and a spread of values */
    char want[CF_DB_I64_BUF];
    for (int i = 0; i < 19; i++) {
        int64_t p = 1;
        for (int k = 0; k < i; k++)
            p *= 10;
        const int64_t vals[] = {p, p - 1, -p, -(p - 1), p + 7, -p - 7};
        for (size_t j = 0; j < sizeof(vals) / sizeof(vals[0]); j++) {
            snprintf(want, sizeof(want), "%" PRId64, vals[j]);
            assert_string_equal(cf_db_i64(n, vals[j]), want);
        }
    }
}

static void test_archive_decode(void **state)
{
    (void) state;
    static const char fp[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    static const char ok[] = "{\"component\":\"agent\",\"name\":\"host-1\",\"serial\":\"0a\","
                             "\"not_after\":1700000000,\"archived_at\":1.7e9,\"cert\":\"PEM\"}";
    cf_db_archived_t a;
    cf_why_t why = {""};
    assert_int_equal(cf_db_archive_decode(fp, 64, ok, strlen(ok), &a, &why), CF_OK);
    assert_int_equal(a.component, CF_COMPONENT_AGENT);
    assert_string_equal(a.name, "host-1");
    assert_int_equal(a.not_after, 1700000000);
    assert_int_equal(a.archived_at, 1700000000); /* cjson may write an integral real */
    assert_string_equal(a.cert_pem, "PEM");
    cf_db_archived_clear(&a);
    static const char *const bad[] = {
        "",
        "[]",
        "{\"component\":\"ca\",\"name\":\"a\",\"serial\":\"0a\",\"not_after\":1,"
        "\"archived_at\":1,\"cert\":\"P\"}",
        "{\"component\":\"agent\",\"name\":\"A\",\"serial\":\"0a\",\"not_after\":1,"
        "\"archived_at\":1,\"cert\":\"P\"}",
        "{\"component\":\"agent\",\"name\":\"a\",\"serial\":false,\"not_after\":1,"
        "\"archived_at\":1,\"cert\":\"P\"}",
        "{\"component\":\"agent\",\"name\":\"a\",\"serial\":\"0a\",\"not_after\":1.5,"
        "\"archived_at\":1,\"cert\":\"P\"}",
        "{\"component\":\"agent\",\"name\":\"a\",\"serial\":\"0a\",\"not_after\":1,"
        "\"archived_at\":1,\"cert\":\"\"}",
        "{\"component\":\"agent\",\"component\":\"agent\",\"name\":\"a\",\"serial\":\"0a\","
        "\"not_after\":1,\"archived_at\":1,\"cert\":\"P\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(cf_db_archive_decode(fp, 64, bad[i], strlen(bad[i]), &a, &why),
                         CF_ERR_CORRUPT);
        assert_null(a.cert_pem);
    }
    assert_int_equal(cf_db_archive_decode(fp, 63, ok, strlen(ok), &a, NULL), CF_ERR_CORRUPT);
    static const char upper[] = "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff";
    assert_int_equal(cf_db_archive_decode(upper, 64, ok, strlen(ok), &a, NULL), CF_ERR_CORRUPT);
    assert_int_equal(cf_db_archive_decode(fp, 64, ok, CF_DB_ARCHIVE_MAX + 1, &a, NULL),
                     CF_ERR_CORRUPT);
}

/* The compact form: header line then DER; serial and not_after come from the DER. */
static void test_archive_compact(void **state)
{
    (void) state;
    cf_ca_t *ca = NULL;
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    cf_issue_t req = {.component = CF_COMPONENT_AGENT, .name = "host-7"};
    assert_int_equal(cf_ca_create(NULL, &ca), CF_OK);
    assert_int_equal(cf_ca_issue(ca, &req, &cert, &key), CF_OK);
    char *v = NULL;
    size_t len = 0;
    assert_int_equal(cf_db_archive_entry(CF_COMPONENT_SERVER, "host-7", cert, 1800000000, &v, &len),
                     CF_OK);
    assert_true(len < 700); /* DER, not PEM inside JSON */
    assert_memory_equal(v, "c1 server host-7 1800000000\n", 28);
    cf_db_archived_t a;
    cf_why_t why = {""};
    const char *fp = cf_cert_fingerprint(cert);
    assert_int_equal(cf_db_archive_decode(fp, 64, v, len, &a, &why), CF_OK);
    assert_int_equal(a.component, CF_COMPONENT_SERVER);
    assert_string_equal(a.name, "host-7");
    assert_string_equal(a.subject, cf_cert_subject(cert));
    assert_string_equal(a.serial, cf_cert_serial(cert));
    assert_int_equal(a.not_after, (int64_t) cf_cert_not_after(cert));
    assert_int_equal(a.archived_at, 1800000000);
    char *pem = NULL;
    size_t plen = 0;
    assert_int_equal(cf_cert_to_pem(cert, &pem, &plen), CF_OK);
    assert_string_equal(a.cert_pem, pem);
    cf_mem_free(pem);
    cf_db_archived_clear(&a);
    /* damaged: a cut DER, a bad header, an unknown component, a name that is not one */
    assert_int_equal(cf_db_archive_decode(fp, 64, v, len - 1, &a, &why), CF_ERR_CORRUPT);
    assert_null(a.cert_pem);
    const char *heads[] = {"c1 agent host-7\n", "c1 ca host-7 5\n", "c1 agent Host 5\n",
                           "c1 agent host-7 5 extra\n", "c1 agent host-7 5"};
    for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
        char buf[2048];
        size_t hl = strlen(heads[i]);
        memcpy(buf, heads[i], hl);
        memcpy(buf + hl, v + 28, len - 28);
        assert_int_equal(cf_db_archive_decode(fp, 64, buf, hl + len - 28, &a, &why),
                         CF_ERR_CORRUPT);
        assert_null(a.cert_pem);
    }
    cf_mem_free(v);
    assert_int_equal(cf_db_archive_entry(CF_COMPONENT_CA, "host-7", cert, 1, &v, &len),
                     CF_ERR_INVALID);
    assert_null(v);
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
    cf_ca_destroy(&ca);
}

/* The agent form: a replaced agent certificate without its body, about 100 bytes. */
static void test_archive_agent(void **state)
{
    (void) state;
    cf_ca_t *ca = NULL;
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    cf_issue_t req = {.component = CF_COMPONENT_AGENT, .name = "host-7"};
    assert_int_equal(cf_ca_create(NULL, &ca), CF_OK);
    assert_int_equal(cf_ca_issue(ca, &req, &cert, &key), CF_OK);
    char *v = NULL, want[512];
    size_t len = 0;
    assert_int_equal(cf_db_archive_entry(CF_COMPONENT_AGENT, "host-7", cert, 1800000000, &v, &len),
                     CF_OK);
    snprintf(want, sizeof(want), "a1 host-7 1800000000 %lld %s %s",
             (long long) cf_cert_not_after(cert), cf_cert_serial(cert), cf_cert_subject(cert));
    assert_int_equal(len, strlen(want));
    assert_memory_equal(v, want, len);
    assert_true(len < 160); /* no certificate body */
    cf_db_archived_t a;
    cf_why_t why = {""};
    const char *fp = cf_cert_fingerprint(cert);
    assert_int_equal(cf_db_archive_decode(fp, 64, v, len, &a, &why), CF_OK);
    assert_int_equal(a.component, CF_COMPONENT_AGENT);
    assert_string_equal(a.name, "host-7");
    assert_string_equal(a.fingerprint, fp);
    assert_string_equal(a.serial, cf_cert_serial(cert));
    assert_string_equal(a.subject, cf_cert_subject(cert));
    assert_int_equal(a.not_after, (int64_t) cf_cert_not_after(cert));
    assert_int_equal(a.archived_at, 1800000000);
    assert_null(a.cert_pem);
    cf_db_archived_clear(&a);
    /* a subject with spaces stays whole */
    static const char spaced[] = "a1 host-7 5 6 0a CN=a b,O=c d";
    assert_int_equal(cf_db_archive_decode(fp, 64, spaced, strlen(spaced), &a, &why), CF_OK);
    assert_string_equal(a.subject, "CN=a b,O=c d");
    assert_int_equal(a.not_after, 6);
    cf_db_archived_clear(&a);
    /* damaged: missing parts, a bad id or serial, no subject, a second line, a NUL */
    static const char *const bad[] = {"a1 host-7 5 6 0a",      "a1 host-7 5 6 0a ",
                                      "a1 Host-7 5 6 0a CN=x", "a1 host-7 5 6 0z CN=x",
                                      "a1 host-7 x 6 0a CN=x", "a1 host-7 5 6 0a CN=x\nCN=y",
                                      "a1 host-7 5 0a CN=x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(cf_db_archive_decode(fp, 64, bad[i], strlen(bad[i]), &a, &why),
                         CF_ERR_CORRUPT);
        assert_null(a.subject);
    }
    static const char nul[] = "a1 host-7 5 6 0a CN=x\0y";
    assert_int_equal(cf_db_archive_decode(fp, 64, nul, sizeof(nul) - 1, &a, &why), CF_ERR_CORRUPT);
    cf_mem_free(v);
    /* the shared agent certificate's name is no agent id rule breaker: still the agent form */
    assert_int_equal(cf_db_archive_entry(CF_COMPONENT_AGENT, "shared", cert, 1, &v, &len), CF_OK);
    assert_memory_equal(v, "a1 shared 1 ", 12);
    cf_mem_free(v);
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
    cf_ca_destroy(&ca);
}

/* Every allocation the decoders make through cf_mem may fail: a clean error, nothing
   leaked (ASan checks), and the same answer once memory is back. */
static void test_alloc_failures(void **state)
{
    (void) state;
    static const char fp[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    static const char ok[] = "{\"component\":\"server\",\"name\":\"srv1\",\"serial\":\"0a\","
                             "\"not_after\":5,\"archived_at\":4,\"cert\":\"PEM\"}";
    int failures = 0;
    for (long i = 0; i < 16; i++) {
        cf_db_archived_t a;
        cf_test_alloc_fail_at(i);
        cf_err_t rc = cf_db_archive_decode(fp, 64, ok, strlen(ok), &a, NULL);
        long failed = cf_test_alloc_failed();
        cf_test_alloc_fail_at(-1);
        if (failed == 0) {
            assert_int_equal(rc, CF_OK);
            assert_string_equal(a.cert_pem, "PEM");
            cf_db_archived_clear(&a);
            break;
        }
        failures++;
        assert_int_equal(rc, CF_ERR_NOMEM);
        assert_null(a.cert_pem);
    }
    assert_true(failures >= 1);
    static const char resp[] = "$5\r\nhello\r\n";
    redisReply *r = s_parse(resp, sizeof(resp) - 1);
    char *dup = (char *) 0x1;
    cf_test_alloc_fail_at(0);
    assert_int_equal(cf_db_r_dup(r, 0, 10, &dup, "d", NULL), CF_ERR_NOMEM);
    cf_test_alloc_fail_at(-1);
    assert_null(dup);
    freeReplyObject(r);
}

static void test_enums_and_ssl(void **state)
{
    (void) state;
    for (int i = 0; i < CF_DB_LOCK_COUNT; i++) {
        cf_db_lock_t l;
        assert_int_equal(cf_db_lock_from_name(cf_db_lock_name((cf_db_lock_t) i), &l), CF_OK);
        assert_int_equal(l, i);
    }
    cf_db_lock_t l;
    assert_int_equal(cf_db_lock_from_name("Secure", &l), CF_ERR_INVALID);
    assert_int_equal(cf_db_lock_from_name(NULL, &l), CF_ERR_INVALID);
    assert_string_equal(cf_db_lock_name(CF_DB_LOCK_COUNT), "unknown");
    cf_db_role_t role;
    assert_int_equal(cf_db_role_from_name("admin", &role), CF_OK);
    assert_int_equal(role, CF_DB_ROLE_ADMIN);
    assert_int_equal(cf_db_role_from_name("root", &role), CF_ERR_INVALID);
    assert_string_equal(cf_db_role_name((cf_db_role_t) 0), "unknown");
    cf_db_cert_kind_t kind;
    assert_int_equal(cf_db_cert_kind_from_name("public", &kind), CF_OK);
    assert_int_equal(kind, CF_DB_CERT_PUBLIC);
    assert_int_equal(cf_db_cert_kind_from_name("private", &kind), CF_ERR_INVALID);
    assert_string_equal(cf_db_cert_kind_name((cf_db_cert_kind_t) 0), "unknown");
    /* the defaults after --init: SSL on, the migration window open */
    cf_db_ssl_t ssl;
    cf_db_ssl_defaults(&ssl);
    assert_int_equal(cf_db_ssl_check(&ssl), CF_OK);
    assert_true(ssl.enabled && ssl.allow_plain);
    assert_string_equal(ssl.min_tls, "1.2");
    ssl.renew_days = CF_DB_RENEW_DAYS_MAX + 1;
    assert_int_equal(cf_db_ssl_check(&ssl), CF_ERR_INVALID);
    cf_db_ssl_defaults(&ssl);
    ssl.enabled = 2;
    assert_int_equal(cf_db_ssl_check(&ssl), CF_ERR_INVALID);
    cf_db_ssl_defaults(&ssl);
    memcpy(ssl.min_tls, "1.", 3);
    assert_int_equal(cf_db_ssl_check(&ssl), CF_ERR_INVALID);
    assert_int_equal(cf_db_ssl_check(NULL), CF_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),          cmocka_unit_test(test_job_keys),
        cmocka_unit_test(test_name_checks),    cmocka_unit_test(test_reply_decoders),
        cmocka_unit_test(test_archive_decode), cmocka_unit_test(test_archive_compact),
        cmocka_unit_test(test_archive_agent),  cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_enums_and_ssl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
