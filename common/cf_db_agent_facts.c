/*  cf_db_agent_facts - the digest of what a check-in writes, so a steady one reads less  */
#include "cf_db_agent_int.h"

#include <pthread.h>
#include <string.h>

#include <openssl/rand.h>

#define S_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define S_ROUND(v0, v1, v2, v3)                                       \
    do {                                                              \
        v0 += v1, v1 = S_ROTL(v1, 13), v1 ^= v0, v0 = S_ROTL(v0, 32); \
        v2 += v3, v3 = S_ROTL(v3, 16), v3 ^= v2;                      \
        v0 += v3, v3 = S_ROTL(v3, 21), v3 ^= v0;                      \
        v2 += v1, v1 = S_ROTL(v1, 17), v1 ^= v2, v2 = S_ROTL(v2, 32); \
    } while (0)

static uint64_t s_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

uint64_t cf_db_siphash(const uint8_t key[16], const void *data, size_t len)
{
    const uint8_t *in = data;
    uint64_t k0 = s_le64(key), k1 = s_le64(key + 8);
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
    size_t whole = len - len % 8;
    for (size_t i = 0; i < whole; i += 8) {
        uint64_t m = s_le64(in + i);
        v3 ^= m;
        S_ROUND(v0, v1, v2, v3);
        S_ROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    uint64_t b = (uint64_t) len << 56;
    for (size_t i = 0; i < len % 8; i++)
        b |= (uint64_t) in[whole + i] << (8 * i);
    v3 ^= b;
    S_ROUND(v0, v1, v2, v3);
    S_ROUND(v0, v1, v2, v3);
    v0 ^= b;
    v2 ^= 0xff;
    for (int i = 0; i < 4; i++)
        S_ROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

static uint8_t s_key[16];                         /* this process's key (s_key_make) */
static pthread_once_t s_once = PTHREAD_ONCE_INIT; /* s_key made once */
static int s_key_ok;                              /* RAND_bytes succeeded */

static void s_key_make(void)
{
    s_key_ok = RAND_bytes(s_key, (int) sizeof(s_key)) == 1;
}

/* Append text and the separator (a byte no checked text holds). */
static size_t s_put(char *buf, size_t at, const char *text)
{
    size_t len = strlen(text);
    memcpy(buf + at, text, len);
    buf[at + len] = '\n';
    return at + len + 1;
}

cf_err_t cf_db_agent_facts(const char *const facts[CF_DB_FACTS_N], char out[CF_DB_FACTS_BUF])
{
    static const char hex[] = "0123456789abcdef";
    char buf[CF_DB_FACTS_N * (CF_DB_FACTS_MAX + 1)];
    size_t at = 0;
    for (size_t i = 0; i < CF_DB_FACTS_N; i++) {
        if (!facts[i] || strnlen(facts[i], CF_DB_FACTS_MAX + 1) > CF_DB_FACTS_MAX)
            return CF_ERR_INVALID;
        at = s_put(buf, at, facts[i]);
    }
    if (pthread_once(&s_once, s_key_make) != 0 || !s_key_ok)
        return CF_ERR_CRYPTO;
    uint64_t h = cf_db_siphash(s_key, buf, at);
    for (int i = 15; i >= 0; i--, h >>= 4)
        out[i] = hex[h & 0xf];
    out[16] = '\0';
    return CF_OK;
}
