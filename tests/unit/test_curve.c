/*  test_curve - CURVE keys: Z85, keypairs, certificate files, broker endpoints  */
#include "cf_test.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <czmq.h>

#include "cf_curve.h"
#include "cf_mem.h"

/* The example keys of the zmq_curve(7) manual page. */
#define S_CLIENT_PUB "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
#define S_CLIENT_SEC "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"
#define S_SERVER_PUB "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"

static void s_decode(const char *z85, unsigned char key[CF_CURVE_KEY_LEN])
{
    cf_why_t why = {""};
    cf_err_t rc = cf_curve_z85_decode(z85, strlen(z85), key, &why);
    if (rc != CF_OK)
        fail_msg("decode %s: %s", z85, cf_why_text(&why, rc));
}

static const char *s_path(char *buf, size_t len, const char *dir, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
    return buf;
}

static void test_usage(void **state)
{
    (void) state;
    cf_curve_keypair_t kp;
    assert_int_equal(cf_curve_keypair_new(&kp), CF_OK);
    assert_int_equal(cf_curve_keypair_check(&kp), CF_OK);

    char z85[CF_CURVE_Z85_LEN + 1];
    cf_curve_z85_encode(kp.pub, z85);
    assert_int_equal(strlen(z85), CF_CURVE_Z85_LEN);
    unsigned char back[CF_CURVE_KEY_LEN];
    s_decode(z85, back);
    assert_memory_equal(back, kp.pub, CF_CURVE_KEY_LEN);

    /* cf-broker --keygen --out DIR: DIR/broker.key (public) + DIR/broker.key_secret */
    char dir[512], path[600], secret[600];
    cf_test_tmpdir("curve_usage", dir, sizeof(dir));
    s_path(path, sizeof(path), dir, "broker.key");
    s_path(secret, sizeof(secret), dir, "broker.key_secret");
    cf_why_t why = {""};
    assert_int_equal(cf_curve_keypair_save(&kp, path, &why), CF_OK);
    cf_curve_keypair_t loaded;
    assert_int_equal(cf_curve_keypair_load(secret, &loaded, &why), CF_OK);
    assert_memory_equal(&loaded, &kp, sizeof(kp));
    assert_int_equal(cf_curve_public_load(path, back, &why), CF_OK);
    assert_memory_equal(back, kp.pub, CF_CURVE_KEY_LEN);

    /* the value configs and install packages carry */
    cf_curve_broker_t broker;
    char text[CF_CURVE_TEXT_MAX + 1];
    snprintf(text, sizeof(text), "tcp://127.0.0.1:7010#%s", z85);
    assert_int_equal(cf_curve_broker_parse(text, strlen(text), &broker, &why), CF_OK);
    assert_string_equal(broker.endpoint, "tcp://127.0.0.1:7010");
    assert_memory_equal(broker.pub, kp.pub, CF_CURVE_KEY_LEN);
    char again[CF_CURVE_TEXT_MAX + 1];
    assert_int_equal(cf_curve_broker_format(&broker, again, sizeof(again)), CF_OK);
    assert_string_equal(again, text);
    cf_curve_keypair_wipe(&kp);
    cf_curve_keypair_wipe(&loaded);
}

static void test_known_keys(void **state)
{
    (void) state;
    cf_curve_keypair_t kp;
    s_decode(S_CLIENT_PUB, kp.pub);
    s_decode(S_CLIENT_SEC, kp.sec);
    assert_int_equal(cf_curve_keypair_check(&kp), CF_OK);
    char z85[CF_CURVE_Z85_LEN + 1];
    cf_curve_z85_encode(kp.sec, z85);
    assert_string_equal(z85, S_CLIENT_SEC);
    s_decode(S_SERVER_PUB, kp.pub); /* another key's public half */
    assert_int_equal(cf_curve_keypair_check(&kp), CF_ERR_KEYMISMATCH);
    assert_int_equal(cf_curve_keypair_check(NULL), CF_ERR_INVALID);
    cf_curve_keypair_wipe(&kp);
    static const unsigned char zero[sizeof(kp)];
    assert_memory_equal(&kp, zero, sizeof(kp));
    cf_curve_keypair_wipe(NULL);
    assert_int_equal(cf_curve_keypair_new(NULL), CF_ERR_INVALID);
}

static void test_z85_refusals(void **state)
{
    (void) state;
    static const struct {
        const char *text; /* 40 characters unless the case is about length */
        const char *why;  /* part of the refusal */
    } bad[] = {
        {"", "not 0"},
        {S_CLIENT_PUB "A", "not 41"},
        {"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hI", "not 39"},
        {"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hI ", "position 40"},
        {"\"ne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID", "position 1"},
        {"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{h,D", "position 39"},
        {"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{h~D", "position 39"},
        {"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{h\x80"
         "D",
         "position 39"},
        {"#####00000000000000000000000000000000000", "2^32"},
        {"0000000000000000000000000000000000000000", "all zero"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unsigned char key[CF_CURVE_KEY_LEN];
        memset(key, 0xAA, sizeof(key));
        cf_why_t why = {""};
        assert_int_equal(cf_curve_z85_decode(bad[i].text, strlen(bad[i].text), key, &why),
                         CF_ERR_INVALID);
        if (!strstr(why.text, bad[i].why))
            fail_msg("case %zu: '%s' lacks '%s'", i, why.text, bad[i].why);
        static const unsigned char zero[CF_CURVE_KEY_LEN];
        assert_memory_equal(key, zero, sizeof(key)); /* nothing half-decoded is left */
    }
    /* a NUL inside the counted text */
    char with_nul[CF_CURVE_Z85_LEN] = S_CLIENT_PUB;
    with_nul[10] = '\0';
    unsigned char key[CF_CURVE_KEY_LEN];
    assert_int_equal(cf_curve_z85_decode(with_nul, sizeof(with_nul), key, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_curve_z85_decode(NULL, 40, key, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_curve_z85_decode(S_CLIENT_PUB, 40, NULL, NULL), CF_ERR_INVALID);
}

/* Save, then read through CZMQ's own zcert loader, and the other way round. */
static void test_key_files_interoperate(void **state)
{
    (void) state;
    char dir[512], path[600], secret[600];
    cf_test_tmpdir("curve_interop", dir, sizeof(dir));
    cf_curve_keypair_t kp;
    assert_int_equal(cf_curve_keypair_new(&kp), CF_OK);
    s_path(path, sizeof(path), dir, "ours.key");
    s_path(secret, sizeof(secret), dir, "ours.key_secret");
    assert_int_equal(cf_curve_keypair_save(&kp, path, NULL), CF_OK);
    struct stat st;
    assert_int_equal(stat(secret, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    zcert_t *cert = zcert_load(secret);
    assert_non_null(cert);
    assert_memory_equal(zcert_public_key(cert), kp.pub, CF_CURVE_KEY_LEN);
    assert_memory_equal(zcert_secret_key(cert), kp.sec, CF_CURVE_KEY_LEN);
    zcert_destroy(&cert);

    cert = zcert_new();
    s_path(path, sizeof(path), dir, "czmq.key");
    s_path(secret, sizeof(secret), dir, "czmq.key_secret");
    assert_int_equal(zcert_save(cert, path), 0);
    cf_curve_keypair_t loaded;
    assert_int_equal(cf_curve_keypair_load(secret, &loaded, NULL), CF_OK);
    assert_memory_equal(loaded.pub, zcert_public_key(cert), CF_CURVE_KEY_LEN);
    assert_memory_equal(loaded.sec, zcert_secret_key(cert), CF_CURVE_KEY_LEN);
    unsigned char pub[CF_CURVE_KEY_LEN];
    assert_int_equal(cf_curve_public_load(path, pub, NULL), CF_OK);
    assert_memory_equal(pub, zcert_public_key(cert), CF_CURVE_KEY_LEN);
    zcert_destroy(&cert);
    cf_curve_keypair_wipe(&kp);
    cf_curve_keypair_wipe(&loaded);
}

static void test_save_never_overwrites(void **state)
{
    (void) state;
    char dir[512], path[600], secret[600];
    cf_test_tmpdir("curve_exists", dir, sizeof(dir));
    s_path(path, sizeof(path), dir, "broker.key");
    s_path(secret, sizeof(secret), dir, "broker.key_secret");
    cf_curve_keypair_t a, b, got;
    assert_int_equal(cf_curve_keypair_new(&a), CF_OK);
    assert_int_equal(cf_curve_keypair_new(&b), CF_OK);
    assert_int_equal(cf_curve_keypair_save(&a, path, NULL), CF_OK);
    cf_why_t why = {""};
    assert_int_equal(cf_curve_keypair_save(&b, path, &why), CF_ERR_EXISTS);
    assert_true(strstr(why.text, "not overwritten") != NULL);
    assert_int_equal(cf_curve_keypair_load(secret, &got, NULL), CF_OK);
    assert_memory_equal(&got, &a, sizeof(a));
    /* only the secret file there: still refused, the secret kept */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(cf_curve_keypair_save(&b, path, NULL), CF_ERR_EXISTS);
    assert_int_equal(access(path, F_OK), -1);
    /* a directory that is not there: an I/O error and no file left behind */
    s_path(path, sizeof(path), dir, "missing/broker.key");
    assert_int_equal(cf_curve_keypair_save(&b, path, &why), CF_ERR_IO);
    assert_int_equal(cf_curve_keypair_save(NULL, path, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_curve_keypair_save(&b, "", NULL), CF_ERR_INVALID);
    cf_curve_keypair_wipe(&a);
    cf_curve_keypair_wipe(&b);
    cf_curve_keypair_wipe(&got);
}

/* Write text as a 0600 file and load it as a keypair; returns the code, why in *why. */
static cf_err_t s_load_text(const char *dir, const char *text, size_t len, cf_why_t *why)
{
    char path[600];
    s_path(path, sizeof(path), dir, "t.key_secret");
    unlink(path);
    cf_test_write_file(path, text, len);
    assert_int_equal(chmod(path, 0600), 0);
    cf_curve_keypair_t kp;
    memset(&kp, 0x55, sizeof(kp));
    cf_err_t rc = cf_curve_keypair_load(path, &kp, why);
    if (rc != CF_OK) {
        static const cf_curve_keypair_t zero;
        assert_memory_equal(&kp, &zero, sizeof(kp));
    }
    return rc;
}

static void test_key_file_refusals(void **state)
{
    (void) state;
    char dir[512];
    cf_test_tmpdir("curve_bad", dir, sizeof(dir));
    char good[400];
    snprintf(good, sizeof(good),
             "#  comment\r\nmetadata\n    name = \"broker 1\"\n    x = y\ncurve\n"
             "    public-key = \"%s\"\n\tsecret-key = '%s'   \n",
             S_CLIENT_PUB, S_CLIENT_SEC);
    cf_why_t why = {""};
    assert_int_equal(s_load_text(dir, good, strlen(good), &why), CF_OK);
    static const struct {
        const char *text;
        cf_err_t rc;
        const char *why;
    } bad[] = {
        {"curve\n    secret-key = \"" S_CLIENT_SEC "\"\n", CF_ERR_CORRUPT,
         "no public-key in a curve section"},
        {"curve\n    public-key = \"" S_CLIENT_PUB "\"\n", CF_ERR_CORRUPT, "no secret-key"},
        {"curve\n    public-key = \"" S_SERVER_PUB "\"\n    secret-key = \"" S_CLIENT_SEC "\"\n",
         CF_ERR_KEYMISMATCH, "not the secret key's"},
        {"curve\n    public-key = \"" S_CLIENT_PUB "\"\n    public-key = \"" S_CLIENT_PUB "\"\n",
         CF_ERR_CORRUPT, "line 3: public-key appears twice"},
        {"curve\n    colour = \"blue\"\n", CF_ERR_CORRUPT, "line 2: unknown entry"},
        {"    public-key = \"" S_CLIENT_PUB "\"\n", CF_ERR_CORRUPT, "line 1: expected name"},
        {"keys\n", CF_ERR_CORRUPT, "line 1: expected a metadata or curve section"},
        {"curve\n    public-key \"" S_CLIENT_PUB "\"\n", CF_ERR_CORRUPT, "line 2: expected name"},
        {"curve\n    public-key = \"" S_CLIENT_PUB "\n", CF_ERR_CORRUPT, "line 2: expected name"},
        {"curve\n    public-key = \"" S_CLIENT_PUB "\"\n    secret-key = \"short\"\n",
         CF_ERR_INVALID, "line 3: a CURVE key is 40"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&why, 0, sizeof(why));
        cf_err_t rc = s_load_text(dir, bad[i].text, strlen(bad[i].text), &why);
        if (rc != bad[i].rc || !strstr(why.text, bad[i].why))
            fail_msg("case %zu: %s '%s'", i, cf_err_name(rc), why.text);
        assert_null(strstr(why.text, S_CLIENT_SEC)); /* a secret is never quoted */
    }
    assert_int_equal(s_load_text(dir, "curve\n\0", 7, &why), CF_ERR_CORRUPT);
    char big[CF_CURVE_FILE_MAX + 2];
    memset(big, '#', sizeof(big));
    assert_int_equal(s_load_text(dir, big, sizeof(big), &why), CF_ERR_TOOBIG);
    /* a secret file others may read is refused; a public one is fine */
    char path[600];
    s_path(path, sizeof(path), dir, "t.key_secret");
    assert_int_equal(s_load_text(dir, good, strlen(good), &why), CF_OK);
    assert_int_equal(chmod(path, 0644), 0);
    cf_curve_keypair_t kp;
    assert_int_equal(cf_curve_keypair_load(path, &kp, &why), CF_ERR_POLICY);
    unsigned char pub[CF_CURVE_KEY_LEN];
    assert_int_equal(cf_curve_public_load(path, pub, &why), CF_OK);
    s_path(path, sizeof(path), dir, "none");
    assert_int_equal(cf_curve_keypair_load(path, &kp, &why), CF_ERR_NOTFOUND);
    assert_int_equal(cf_curve_public_load(NULL, pub, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_curve_keypair_load(NULL, &kp, NULL), CF_ERR_INVALID);
}

static void test_key_file_alloc_failure(void **state)
{
    (void) state;
    char dir[512], path[600];
    cf_test_tmpdir("curve_alloc", dir, sizeof(dir));
    char text[200];
    snprintf(text, sizeof(text), "curve\n public-key = \"%s\"\n secret-key = \"%s\"\n",
             S_CLIENT_PUB, S_CLIENT_SEC);
    cf_test_write_file(s_path(path, sizeof(path), dir, "k_secret"), text, strlen(text));
    assert_int_equal(chmod(path, 0600), 0);
    for (long n = 0;; n++) {
        cf_curve_keypair_t kp;
        cf_test_alloc_fail_at(n);
        cf_err_t rc = cf_curve_keypair_load(path, &kp, NULL);
        long failed = cf_test_alloc_failed();
        cf_test_alloc_fail_at(-1);
        if (!failed) {
            assert_int_equal(rc, CF_OK);
            cf_curve_keypair_wipe(&kp);
            break;
        }
        assert_int_equal(rc, CF_ERR_NOMEM);
    }
}

/* The parsers under the loaders take the text itself: same answers, no file. */
static void test_key_text_parse(void **state)
{
    (void) state;
    const char *secret = "metadata\n    name = \"b1\"\ncurve\n    public-key = \"" S_CLIENT_PUB
                         "\"\n    secret-key = \"" S_CLIENT_SEC "\"\n";
    cf_curve_keypair_t kp, want;
    s_decode(S_CLIENT_PUB, want.pub);
    s_decode(S_CLIENT_SEC, want.sec);
    cf_why_t why = {""};
    assert_int_equal(cf_curve_keypair_parse(secret, strlen(secret), &kp, &why), CF_OK);
    assert_memory_equal(&kp, &want, sizeof(kp));
    unsigned char pub[CF_CURVE_KEY_LEN];
    assert_int_equal(cf_curve_public_parse(secret, strlen(secret), pub, &why), CF_OK);
    assert_memory_equal(pub, want.pub, CF_CURVE_KEY_LEN);
    /* len counts: the text after it is not read */
    const char *public = "curve\n    public-key = \"" S_SERVER_PUB "\"\n"
                         "garbage";
    assert_int_equal(cf_curve_public_parse(public, strlen(public) - 7, pub, NULL), CF_OK);
    assert_int_equal(cf_curve_public_parse(public, strlen(public), pub, &why), CF_ERR_CORRUPT);
    assert_true(strstr(why.text, "line 3: expected") == why.text); /* no file name to add */

    static const cf_curve_keypair_t zero;
    static const unsigned char zpub[CF_CURVE_KEY_LEN];
    static const struct {
        const char *text;
        cf_err_t rc;
        const char *why;
    } bad[] = {
        {"curve\n    public-key = \"" S_SERVER_PUB "\"\n", CF_ERR_CORRUPT,
         "no secret-key (a public file?)"},
        {"curve\n    public-key = \"" S_SERVER_PUB "\"\n    secret-key = \"" S_CLIENT_SEC "\"\n",
         CF_ERR_KEYMISMATCH, "public-key is not the secret key's public key"},
        {"curve\n    secret-key = \"" S_CLIENT_SEC "\"\n", CF_ERR_CORRUPT,
         "no public-key in a curve section"},
        {"curve\n  public-key = \"short\"\n", CF_ERR_INVALID,
         "line 2: a CURVE key is 40 Z85 characters, not 5"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&kp, 0x55, sizeof(kp));
        memset(&why, 0, sizeof(why));
        cf_err_t rc = cf_curve_keypair_parse(bad[i].text, strlen(bad[i].text), &kp, &why);
        if (rc != bad[i].rc || strcmp(why.text, bad[i].why) != 0)
            fail_msg("case %zu: %s '%s'", i, cf_err_name(rc), why.text);
        assert_memory_equal(&kp, &zero, sizeof(kp)); /* wiped */
        assert_null(strstr(why.text, S_CLIENT_SEC));
    }
    memset(pub, 0x55, sizeof(pub));
    assert_int_equal(cf_curve_public_parse(bad[2].text, strlen(bad[2].text), pub, NULL),
                     CF_ERR_CORRUPT);
    assert_memory_equal(pub, zpub, sizeof(pub));
    /* the size cap holds without a file behind it; NULLs are refused */
    char big[CF_CURVE_FILE_MAX + 1];
    memset(big, '#', sizeof(big));
    assert_int_equal(cf_curve_keypair_parse(big, sizeof(big), &kp, &why), CF_ERR_TOOBIG);
    assert_int_equal(cf_curve_public_parse(big, sizeof(big), pub, NULL), CF_ERR_TOOBIG);
    assert_int_equal(cf_curve_public_parse(big, sizeof(big) - 1, pub, NULL), CF_ERR_CORRUPT);
    assert_int_equal(cf_curve_keypair_parse(NULL, 0, &kp, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_curve_keypair_parse(secret, strlen(secret), NULL, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_curve_public_parse(NULL, 0, pub, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_curve_public_parse(secret, strlen(secret), NULL, NULL), CF_ERR_INVALID);
    cf_curve_keypair_wipe(&want);
}

/* A key whose Z85 text holds '#', ':' and '/' still parses: the split is by position. */
static void s_key_with(const char *chars, cf_curve_keypair_t *kp, char z85[CF_CURVE_Z85_LEN + 1])
{
    for (int i = 0; i < 2000; i++) {
        assert_int_equal(cf_curve_keypair_new(kp), CF_OK);
        cf_curve_z85_encode(kp->pub, z85);
        if (strpbrk(z85, chars))
            return;
    }
    fail_msg("no key with any of %s in 2000 tries", chars);
}

static void test_broker_endpoints(void **state)
{
    (void) state;
    cf_curve_keypair_t kp;
    char z85[CF_CURVE_Z85_LEN + 1];
    s_key_with("#", &kp, z85);
    static const char *const good[] = {"tcp://127.0.0.1:7010", "tcp://broker-1.example.com:1",
                                       "tcp://[::1]:65535", "tcp://[fe80::1:2]:7010"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char text[CF_CURVE_TEXT_MAX + 1];
        snprintf(text, sizeof(text), "%s#%s", good[i], z85);
        cf_curve_broker_t b;
        cf_why_t why = {""};
        cf_err_t rc = cf_curve_broker_parse(text, strlen(text), &b, &why);
        if (rc != CF_OK)
            fail_msg("%s: %s", text, cf_why_text(&why, rc));
        assert_string_equal(b.endpoint, good[i]);
        assert_memory_equal(b.pub, kp.pub, CF_CURVE_KEY_LEN);
    }
    static const struct {
        const char *ep; /* followed by '#' and the key */
        const char *why;
    } bad[] = {
        {"udp://127.0.0.1:7010", "starts with tcp://"},
        {"tcp://:7010", "tcp://HOST:PORT"},
        {"tcp://host", "tcp://HOST:PORT"},
        {"tcp://host:0", "1..65535"},
        {"tcp://host:65536", "1..65535"},
        {"tcp://host:70a", "1..65535"},
        {"tcp://host:", "1..65535"},
        {"tcp://ho st:1", "tcp://HOST:PORT"},
        {"tcp://[::1:7010", "tcp://HOST:PORT"},
        {"tcp://[]:7010", "tcp://HOST:PORT"},
        {"tcp://host:0000007010", "1..65535"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[CF_CURVE_TEXT_MAX + 1];
        snprintf(text, sizeof(text), "%s#%s", bad[i].ep, z85);
        cf_curve_broker_t b;
        cf_why_t why = {""};
        assert_int_equal(cf_curve_broker_parse(text, strlen(text), &b, &why), CF_ERR_INVALID);
        if (!strstr(why.text, bad[i].why))
            fail_msg("%s: '%s' lacks '%s'", bad[i].ep, why.text, bad[i].why);
        assert_int_equal(b.endpoint[0], '\0');
    }
    cf_curve_keypair_wipe(&kp);
}

static void test_broker_shapes(void **state)
{
    (void) state;
    cf_curve_broker_t b;
    cf_why_t why = {""};
    static const char *const shapes[] = {"", "tcp://h:1", "tcp://h:1#",
                                         ("tcp://h:1#" S_CLIENT_PUB "x"),
                                         ("tcp://h:1 " S_CLIENT_PUB)};
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
        assert_int_equal(cf_curve_broker_parse(shapes[i], strlen(shapes[i]), &b, &why),
                         CF_ERR_INVALID);
    char huge[400];
    memset(huge, 'a', sizeof(huge));
    memcpy(huge, "tcp://", 6);
    snprintf(huge + 300, sizeof(huge) - 300, ":1#%s", S_CLIENT_PUB);
    assert_int_equal(cf_curve_broker_parse(huge, strlen(huge), &b, &why), CF_ERR_TOOBIG);
    assert_int_equal(cf_curve_broker_parse(NULL, 4, &b, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_curve_broker_parse("x", 1, NULL, NULL), CF_ERR_INVALID);
}

static void test_broker_format(void **state)
{
    (void) state;
    cf_curve_broker_t b;
    const char *text = "tcp://[::1]:7010#" S_SERVER_PUB;
    assert_int_equal(cf_curve_broker_parse(text, strlen(text), &b, NULL), CF_OK);
    char buf[CF_CURVE_TEXT_MAX + 1];
    assert_int_equal(cf_curve_broker_format(&b, buf, sizeof(buf)), CF_OK);
    assert_string_equal(buf, text);
    assert_int_equal(cf_curve_broker_format(&b, buf, strlen(text)), CF_ERR_TOOBIG);
    assert_string_equal(buf, "");
    snprintf(b.endpoint, sizeof(b.endpoint), "ipc:///tmp/x");
    assert_int_equal(cf_curve_broker_format(&b, buf, sizeof(buf)), CF_ERR_INVALID);
    memset(b.endpoint, 'a', sizeof(b.endpoint)); /* no NUL */
    assert_int_equal(cf_curve_broker_format(&b, buf, sizeof(buf)), CF_ERR_INVALID);
    assert_int_equal(cf_curve_broker_format(NULL, buf, sizeof(buf)), CF_ERR_INVALID);
    assert_int_equal(cf_curve_broker_format(&b, buf, 0), CF_ERR_INVALID);
}

static void test_broker_lists(void **state)
{
    (void) state;
    cf_curve_broker_t list[3];
    size_t n = 99;
    cf_why_t why = {""};
    const char *two = "tcp://10.0.0.1:7010#" S_CLIENT_PUB " ,\ttcp://10.0.0.2:7010#" S_SERVER_PUB;
    assert_int_equal(cf_curve_brokers_parse(two, strlen(two), list, 3, &n, &why), CF_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[1].endpoint, "tcp://10.0.0.2:7010");
    assert_int_equal(cf_curve_brokers_parse(two, strlen(two), list, 1, &n, &why), CF_ERR_TOOBIG);
    assert_int_equal(n, 0);
    const char *hole = "tcp://10.0.0.1:7010#" S_CLIENT_PUB ",,tcp://10.0.0.2:7010#" S_SERVER_PUB;
    assert_int_equal(cf_curve_brokers_parse(hole, strlen(hole), list, 3, &n, &why), CF_ERR_INVALID);
    assert_true(strstr(why.text, "broker endpoint 2: empty") != NULL);
    const char *badkey = "tcp://10.0.0.1:7010#" S_CLIENT_PUB ",tcp://h:1#short";
    assert_int_equal(cf_curve_brokers_parse(badkey, strlen(badkey), list, 3, &n, &why),
                     CF_ERR_INVALID);
    assert_true(strstr(why.text, "broker endpoint 2:") != NULL);
    assert_int_equal(cf_curve_brokers_parse("", 0, list, 3, &n, &why), CF_ERR_INVALID);
    assert_int_equal(
        cf_curve_brokers_parse(two, strlen(two), list, CF_CURVE_BROKERS_MAX + 1, &n, NULL),
        CF_ERR_TOOBIG);
    assert_int_equal(cf_curve_brokers_parse(NULL, 0, list, 3, &n, NULL), CF_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_known_keys),
        cmocka_unit_test(test_z85_refusals),
        cmocka_unit_test(test_key_files_interoperate),
        cmocka_unit_test(test_save_never_overwrites),
        cmocka_unit_test(test_key_file_refusals),
        cmocka_unit_test(test_key_file_alloc_failure),
        cmocka_unit_test(test_key_text_parse),
        cmocka_unit_test(test_broker_endpoints),
        cmocka_unit_test(test_broker_shapes),
        cmocka_unit_test(test_broker_format),
        cmocka_unit_test(test_broker_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
