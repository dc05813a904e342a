/*  cf_db_agent_facts - the digest of what a check-in writes, so a steady one reads less  */
#include "cf_db_agent_int.h"

#include <pthread.h>
#include <string.h>

#include <openssl/rand.h>
#include <sodium.h>

uint64_t cf_db_siphash(const uint8_t key[16], const void *data, size_t len)
{
    unsigned char out[crypto_shorthash_siphash24_BYTES];
    (void) crypto_shorthash_siphash24(out, data, len, key); /* always 0 */
    uint64_t v = 0;
    for (int i = (int) sizeof(out) - 1; i >= 0; i--)
        v = v << 8 | out[i];
    return v;
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
