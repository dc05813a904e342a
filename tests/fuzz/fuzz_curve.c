/*  fuzz_curve - Z85 keys, broker endpoints and lists, key file text: round trips and reasons  */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_curve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char s_z85_chars[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  ".-:+=^!/*?&<>()[]{}@%$#";

static void s_check(int cond)
{
    if (!cond)
        abort();
}

static int s_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    unsigned char any = 0;
    for (size_t i = 0; i < n; i++)
        any |= b[i];
    return any == 0;
}

/* A refusal says why, within CF_WHY_MAX, and never quotes a key: no run of 40 Z85
   characters (reasons are prose, so spaces break every run). */
static void s_reason(const cf_why_t *why)
{
    size_t len = strnlen(why->text, sizeof(why->text));
    s_check(len > 0 && len < sizeof(why->text));
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        run = strchr(s_z85_chars, why->text[i]) ? run + 1 : 0;
        s_check(run < CF_CURVE_Z85_LEN);
    }
}

/* Z85 is one-to-one: decoded text encodes back to itself, and any non-zero key survives
   encode + decode. A refusal zeroes the key. */
static void s_z85(const uint8_t *data, size_t size)
{
    unsigned char key[CF_CURVE_KEY_LEN];
    memset(key, 0x55, sizeof(key));
    cf_why_t why = {""};
    size_t len = size < CF_CURVE_Z85_LEN ? size : CF_CURVE_Z85_LEN;
    cf_err_t rc = cf_curve_z85_decode((const char *) data, len, key, &why);
    char text[CF_CURVE_Z85_LEN + 1];
    if (rc == CF_OK) {
        s_check(len == CF_CURVE_Z85_LEN && !s_zero(key, sizeof(key)));
        cf_curve_z85_encode(key, text);
        s_check(memcmp(text, data, CF_CURVE_Z85_LEN) == 0 && text[CF_CURVE_Z85_LEN] == '\0');
    } else {
        s_check(rc == CF_ERR_INVALID && s_zero(key, sizeof(key)));
        s_reason(&why);
    }
    if (size < CF_CURVE_KEY_LEN)
        return;
    cf_curve_z85_encode(data, text);
    s_check(strlen(text) == CF_CURVE_Z85_LEN && strspn(text, s_z85_chars) == CF_CURVE_Z85_LEN);
    rc = cf_curve_z85_decode(text, CF_CURVE_Z85_LEN, key, NULL);
    if (s_zero(data, CF_CURVE_KEY_LEN))
        s_check(rc == CF_ERR_INVALID);
    else
        s_check(rc == CF_OK && memcmp(key, data, CF_CURVE_KEY_LEN) == 0);
}

/* The endpoint of an accepted broker, checked without the parser: tcp://, a host of the
   allowed characters, a port 1..65535, within CF_CURVE_ENDPOINT_MAX. */
static void s_endpoint_ok(const char *ep)
{
    size_t len = strnlen(ep, CF_CURVE_ENDPOINT_MAX + 1);
    s_check(len <= CF_CURVE_ENDPOINT_MAX && strncmp(ep, "tcp://", 6) == 0);
    const char *colon = strrchr(ep, ':');
    s_check(colon && colon > ep + 6);
    const char *host = ep + 6;
    size_t hlen = (size_t) (colon - host);
    if (host[0] == '[')
        s_check(hlen > 2 && host[hlen - 1] == ']' &&
                strspn(host + 1, "0123456789abcdefABCDEF:.") == hlen - 2);
    else
        s_check(strspn(host, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-") ==
                hlen);
    const char *digits = colon + 1;
    size_t ndig = strspn(digits, "0123456789");
    s_check(ndig >= 1 && digits[ndig] == '\0'); /* leading zeros are fine */
    long port = strtol(digits, NULL, 10);
    s_check(port >= 1 && port <= 65535);
}

/* One endpoint: an accepted text is canonical (the endpoint is kept verbatim and Z85 is
   one-to-one), so formatting gives back the very input, which parses to the same value. */
static void s_broker(const char *text, size_t len)
{
    cf_curve_broker_t b;
    memset(&b, 0x55, sizeof(b));
    cf_why_t why = {""};
    cf_err_t rc = cf_curve_broker_parse(text, len, &b, &why);
    if (rc != CF_OK) {
        s_check((rc == CF_ERR_INVALID || rc == CF_ERR_TOOBIG) && s_zero(&b, sizeof(b)));
        s_reason(&why);
        return;
    }
    s_endpoint_ok(b.endpoint);
    s_check(!s_zero(b.pub, sizeof(b.pub)));
    char buf[CF_CURVE_TEXT_MAX + 1];
    s_check(cf_curve_broker_format(&b, buf, sizeof(buf)) == CF_OK);
    s_check(strlen(buf) == len && memcmp(buf, text, len) == 0);
    cf_curve_broker_t again;
    s_check(cf_curve_broker_parse(buf, len, &again, NULL) == CF_OK);
    s_check(memcmp(&again, &b, sizeof(b)) == 0);
    /* one byte short of room: refused, and buf left "" */
    s_check(cf_curve_broker_format(&b, buf, len) == CF_ERR_TOOBIG && buf[0] == '\0');
}

/* A list: one entry per comma (neither Z85 nor an endpoint holds one), each within the
   caps; the entries formatted and joined parse to the same list; max is a hard cap. */
static void s_brokers(const char *text, size_t len)
{
    static cf_curve_broker_t list[CF_CURVE_BROKERS_MAX], again[CF_CURVE_BROKERS_MAX];
    static char joined[CF_CURVE_BROKERS_MAX * (CF_CURVE_TEXT_MAX + 1)];
    size_t n = 99;
    cf_why_t why = {""};
    cf_err_t rc = cf_curve_brokers_parse(text, len, list, CF_CURVE_BROKERS_MAX, &n, &why);
    if (rc != CF_OK) {
        s_check((rc == CF_ERR_INVALID || rc == CF_ERR_TOOBIG) && n == 0);
        s_reason(&why);
        return;
    }
    size_t commas = 0;
    for (size_t i = 0; i < len; i++)
        commas += text[i] == ',';
    s_check(n >= 1 && n <= CF_CURVE_BROKERS_MAX && n == commas + 1);
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        s_endpoint_ok(list[i].endpoint);
        if (i > 0)
            joined[used++] = ',';
        s_check(cf_curve_broker_format(&list[i], joined + used, sizeof(joined) - used) == CF_OK);
        used += strlen(joined + used);
    }
    size_t m = 0;
    s_check(cf_curve_brokers_parse(joined, used, again, n, &m, NULL) == CF_OK && m == n);
    s_check(memcmp(again, list, n * sizeof(list[0])) == 0);
    if (n > 1) {
        memset(&why, 0, sizeof(why));
        s_check(cf_curve_brokers_parse(text, len, again, n - 1, &m, &why) == CF_ERR_TOOBIG);
        s_check(m == 0);
        s_reason(&why);
    }
}

/* Key file text. The public parser reads the same lines, so its first fault is the
   keypair parser's too; an accepted pair matches and survives a minimal rewrite. */
static void s_key_file(const char *text, size_t len)
{
    cf_curve_keypair_t kp, back;
    unsigned char pub[CF_CURVE_KEY_LEN];
    memset(&kp, 0x55, sizeof(kp));
    memset(pub, 0x55, sizeof(pub));
    cf_why_t kwhy = {""}, pwhy = {""};
    cf_err_t krc = cf_curve_keypair_parse(text, len, &kp, &kwhy);
    cf_err_t prc = cf_curve_public_parse(text, len, pub, &pwhy);
    if (prc != CF_OK) {
        s_check(prc == CF_ERR_CORRUPT || prc == CF_ERR_INVALID || prc == CF_ERR_TOOBIG);
        s_check(s_zero(pub, sizeof(pub)) && krc == prc && strcmp(kwhy.text, pwhy.text) == 0);
        s_reason(&pwhy);
    } else {
        s_check(!s_zero(pub, sizeof(pub)) && len <= CF_CURVE_FILE_MAX);
    }
    if (krc != CF_OK) {
        s_check(krc == CF_ERR_CORRUPT || krc == CF_ERR_INVALID || krc == CF_ERR_TOOBIG ||
                krc == CF_ERR_KEYMISMATCH);
        s_check(s_zero(&kp, sizeof(kp)));
        s_reason(&kwhy);
        return;
    }
    s_check(prc == CF_OK && memcmp(pub, kp.pub, sizeof(pub)) == 0);
    s_check(cf_curve_keypair_check(&kp) == CF_OK);
    char zpub[CF_CURVE_Z85_LEN + 1], zsec[CF_CURVE_Z85_LEN + 1], out[200];
    cf_curve_z85_encode(kp.pub, zpub);
    cf_curve_z85_encode(kp.sec, zsec);
    int n = snprintf(out, sizeof(out), "curve\n    public-key = \"%s\"\n    secret-key = \"%s\"\n",
                     zpub, zsec);
    s_check(n > 0 && (size_t) n < sizeof(out));
    s_check(cf_curve_keypair_parse(out, (size_t) n, &back, NULL) == CF_OK);
    s_check(memcmp(&back, &kp, sizeof(kp)) == 0);
    cf_curve_keypair_wipe(&kp);
    cf_curve_keypair_wipe(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* libFuzzer may hand an empty input as NULL; NULL is API misuse, "" is input */
    const char *text = size ? (const char *) data : "";
    s_z85((const uint8_t *) text, size);
    s_broker(text, size);
    s_brokers(text, size);
    s_key_file(text, size);
    return 0;
}
