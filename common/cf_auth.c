/*  cf_auth - console logins and admission: scrypt password hashes, session tokens, token bucket  */
#include "cf_auth.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sodium.h>

#include "cf_mem.h"

#define S_PREFIX     "$scrypt$ln="
#define S_B64        sodium_base64_VARIANT_ORIGINAL_NO_PADDING /* PHC: no padding */
#define S_B64URL     sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define S_MICRO      1000000ULL /* one token in millionths */
#define S_MAX_DIGITS 9          /* longest number in a parameter field */

/* A parsed stored string. */
typedef struct {
    cf_auth_params_t params;              /* cost */
    unsigned char salt[CF_AUTH_MAX_SALT]; /* salt bytes */
    size_t salt_len;                      /* bytes used in salt */
    unsigned char hash[CF_AUTH_MAX_HASH]; /* expected derived key */
    size_t hash_len;                      /* bytes used in hash */
} s_stored_t;

cf_err_t cf_auth_password_check(const char *password, cf_why_t *why)
{
    if (!password)
        return cf_why(why, CF_ERR_INVALID, "no password");
    size_t len = strnlen(password, CF_AUTH_PW_MAX + 1);
    if (len > CF_AUTH_PW_MAX)
        return cf_why(why, CF_ERR_TOOBIG, "the password is longer than %d bytes", CF_AUTH_PW_MAX);
    if (len < CF_AUTH_PW_MIN)
        return cf_why(why, CF_ERR_INVALID, "the password has fewer than %d characters",
                      CF_AUTH_PW_MIN);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) password[i];
        if (c < 0x20 || c > 0x7e)
            return cf_why(why, CF_ERR_INVALID,
                          "character %zu of the password is not printable ASCII", i + 1);
    }
    return CF_OK;
}

/* CF_ERR_INVALID for a zero parameter, CF_ERR_TOOBIG for one over a cap. */
static cf_err_t s_check_params(const cf_auth_params_t *params)
{
    if (params->ln == 0 || params->r == 0 || params->p == 0)
        return CF_ERR_INVALID;
    if (params->ln > CF_AUTH_MAX_LN || params->r > CF_AUTH_MAX_R || params->p > CF_AUTH_MAX_P)
        return CF_ERR_TOOBIG;
    uint64_t n = 1ULL << params->ln;
    if (n * params->r * params->p > CF_AUTH_MAX_WORK || 128ULL * params->r * n > CF_AUTH_MAX_MEM)
        return CF_ERR_TOOBIG;
    return CF_OK;
}

cf_err_t cf_auth_scrypt(const void *password, size_t pw_len, const void *salt, size_t salt_len,
                        const cf_auth_params_t *params, unsigned char *out, size_t out_len)
{
    if ((!password && pw_len) || (!salt && salt_len) || !params || !out || out_len == 0 ||
        out_len > CF_AUTH_MAX_HASH || salt_len > CF_AUTH_MAX_SALT || pw_len > CF_AUTH_PW_MAX)
        return CF_ERR_INVALID;
    CF_TRY(s_check_params(params));
    /* OpenSSL needs 128*r*(N+p) bytes and more for its own bookkeeping; our caps bound it. */
    uint64_t maxmem = 2 * CF_AUTH_MAX_MEM;
    if (!EVP_PBE_scrypt(pw_len ? password : "", pw_len, salt_len ? salt : (const void *) "",
                        salt_len, 1ULL << params->ln, params->r, params->p, maxmem, out, out_len))
        return CF_ERR_CRYPTO;
    return CF_OK;
}

/* Read "<digits>" ending at stop from *pos: no sign, no leading zero, at most
   S_MAX_DIGITS digits, not zero. Moves *pos past stop. */
static cf_err_t s_number(const char **pos, char stop, unsigned *out)
{
    const char *s = *pos;
    unsigned long long v = 0;
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9') {
        if (n == S_MAX_DIGITS)
            return CF_ERR_TOOBIG;
        v = v * 10 + (unsigned) (s[n] - '0');
        n++;
    }
    if (n == 0 || s[n] != stop || s[0] == '0')
        return CF_ERR_CORRUPT;
    *out = (unsigned) v;
    *pos = s + n + 1;
    return CF_OK;
}

/* Decode base64 (no padding, canonical) of [b64, end) into buf of min..max bytes. */
static cf_err_t s_b64_field(const char *b64, const char *end, unsigned char *buf, size_t min,
                            size_t max, size_t *len_out)
{
    size_t len = 0;
    if (end <= b64 ||
        sodium_base642bin(buf, max, b64, (size_t) (end - b64), NULL, &len, NULL, S_B64) != 0)
        return CF_ERR_CORRUPT;
    if (len < min)
        return CF_ERR_CORRUPT;
    *len_out = len;
    return CF_OK;
}

static cf_err_t s_parse(const char *stored, s_stored_t *out)
{
    if (!stored)
        return CF_ERR_CORRUPT;
    if (strnlen(stored, CF_AUTH_MAX_STORED + 1) > CF_AUTH_MAX_STORED)
        return CF_ERR_TOOBIG;
    if (strncmp(stored, S_PREFIX, strlen(S_PREFIX)) != 0)
        return CF_ERR_CORRUPT;
    const char *pos = stored + strlen(S_PREFIX);
    CF_TRY(s_number(&pos, ',', &out->params.ln));
    if (strncmp(pos, "r=", 2) != 0)
        return CF_ERR_CORRUPT;
    pos += 2;
    CF_TRY(s_number(&pos, ',', &out->params.r));
    if (strncmp(pos, "p=", 2) != 0)
        return CF_ERR_CORRUPT;
    pos += 2;
    CF_TRY(s_number(&pos, '$', &out->params.p));
    CF_TRY(s_check_params(&out->params));
    const char *salt_end = strchr(pos, '$');
    if (!salt_end)
        return CF_ERR_CORRUPT;
    CF_TRY(
        s_b64_field(pos, salt_end, out->salt, CF_AUTH_MIN_SALT, CF_AUTH_MAX_SALT, &out->salt_len));
    const char *hash = salt_end + 1;
    return s_b64_field(hash, hash + strlen(hash), out->hash, CF_AUTH_MIN_HASH, CF_AUTH_MAX_HASH,
                       &out->hash_len);
}

cf_err_t cf_auth_stored_params(const char *stored, cf_auth_params_t *out)
{
    s_stored_t st;
    cf_err_t rc = s_parse(stored, &st);
    if (rc == CF_OK && out)
        *out = st.params;
    cf_mem_wipe(&st, sizeof(st));
    return rc;
}

int cf_auth_needs_rehash(const char *stored)
{
    s_stored_t st;
    int stale = s_parse(stored, &st) != CF_OK || st.params.ln != CF_AUTH_LN ||
                st.params.r != CF_AUTH_R || st.params.p != CF_AUTH_P ||
                st.salt_len != CF_AUTH_SALT_LEN || st.hash_len != CF_AUTH_HASH_LEN;
    cf_mem_wipe(&st, sizeof(st));
    return stale;
}

cf_err_t cf_auth_password_hash(const char *password, const cf_auth_params_t *params, char **out,
                               cf_why_t *why)
{
    static const cf_auth_params_t defaults = {CF_AUTH_LN, CF_AUTH_R, CF_AUTH_P};
    unsigned char salt[CF_AUTH_SALT_LEN], hash[CF_AUTH_HASH_LEN];
    char salt_b64[sodium_base64_ENCODED_LEN(CF_AUTH_SALT_LEN, S_B64)];
    char hash_b64[sodium_base64_ENCODED_LEN(CF_AUTH_HASH_LEN, S_B64)];
    char text[CF_AUTH_MAX_STORED + 1];
    if (!out)
        return CF_ERR_INVALID;
    *out = NULL;
    if (!params)
        params = &defaults;
    CF_TRY(cf_auth_password_check(password, why));
    cf_err_t rc = s_check_params(params);
    if (rc != CF_OK)
        return cf_why(why, rc, "scrypt parameters ln=%u r=%u p=%u are out of range", params->ln,
                      params->r, params->p);
    if (RAND_bytes(salt, sizeof(salt)) != 1)
        return CF_ERR_CRYPTO;
    rc = cf_auth_scrypt(password, strlen(password), salt, sizeof(salt), params, hash, sizeof(hash));
    if (rc == CF_OK) {
        sodium_bin2base64(salt_b64, sizeof(salt_b64), salt, sizeof(salt), S_B64);
        sodium_bin2base64(hash_b64, sizeof(hash_b64), hash, sizeof(hash), S_B64);
        snprintf(text, sizeof(text), S_PREFIX "%u,r=%u,p=%u$%s$%s", params->ln, params->r,
                 params->p, salt_b64, hash_b64);
        *out = cf_mem_strdup(text);
        rc = *out ? CF_OK : CF_ERR_NOMEM;
    }
    cf_mem_wipe(hash, sizeof(hash));
    cf_mem_wipe(hash_b64, sizeof(hash_b64));
    cf_mem_wipe(text, sizeof(text));
    return rc;
}

/* The work a real check would do, for unknown users; always CF_ERR_BADPASS. */
static cf_err_t s_dummy_verify(const char *password)
{
    static const cf_auth_params_t defaults = {CF_AUTH_LN, CF_AUTH_R, CF_AUTH_P};
    static const unsigned char salt[CF_AUTH_SALT_LEN] = "certfleet-nobody";
    unsigned char hash[CF_AUTH_HASH_LEN];
    size_t len = password ? strnlen(password, CF_AUTH_PW_MAX) : 0;
    cf_err_t rc = cf_auth_scrypt(password, len, salt, sizeof(salt), &defaults, hash, sizeof(hash));
    cf_mem_wipe(hash, sizeof(hash));
    return rc == CF_OK ? CF_ERR_BADPASS : rc;
}

cf_err_t cf_auth_password_verify(const char *stored, const char *password)
{
    if (!stored)
        return s_dummy_verify(password);
    s_stored_t st;
    unsigned char got[CF_AUTH_MAX_HASH];
    cf_err_t rc = s_parse(stored, &st);
    if (rc == CF_OK && cf_auth_password_check(password, NULL) != CF_OK)
        rc = CF_ERR_BADPASS;
    if (rc == CF_OK)
        rc = cf_auth_scrypt(password, strlen(password), st.salt, st.salt_len, &st.params, got,
                            st.hash_len);
    if (rc == CF_OK && CRYPTO_memcmp(got, st.hash, st.hash_len) != 0)
        rc = CF_ERR_BADPASS;
    cf_mem_wipe(got, sizeof(got));
    cf_mem_wipe(&st, sizeof(st));
    return rc;
}

cf_err_t cf_auth_token_new(char out[CF_AUTH_TOKEN_LEN + 1])
{
    unsigned char raw[CF_AUTH_TOKEN_BYTES];
    if (!out)
        return CF_ERR_INVALID;
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return CF_ERR_CRYPTO;
    sodium_bin2base64(out, CF_AUTH_TOKEN_LEN + 1, raw, sizeof(raw), S_B64URL);
    cf_mem_wipe(raw, sizeof(raw));
    return CF_OK;
}

cf_err_t cf_auth_token_check(const char *token)
{
    unsigned char raw[CF_AUTH_TOKEN_BYTES];
    size_t len = 0;
    if (!token || strnlen(token, CF_AUTH_TOKEN_LEN + 1) != CF_AUTH_TOKEN_LEN)
        return CF_ERR_INVALID;
    /* libsodium refuses characters outside the alphabet and non-zero leftover bits, so
       only the one spelling of 32 bytes passes */
    int bad =
        sodium_base642bin(raw, sizeof(raw), token, CF_AUTH_TOKEN_LEN, NULL, &len, NULL, S_B64URL);
    cf_mem_wipe(raw, sizeof(raw));
    return bad == 0 && len == CF_AUTH_TOKEN_BYTES ? CF_OK : CF_ERR_INVALID;
}

cf_err_t cf_auth_token_digest(const char *token, char out[CF_AUTH_DIGEST_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned int md_len = 0;
    if (!out)
        return CF_ERR_INVALID;
    CF_TRY(cf_auth_token_check(token));
    if (!EVP_Digest(token, CF_AUTH_TOKEN_LEN, md, &md_len, EVP_sha256(), NULL) ||
        md_len != sizeof(md))
        return CF_ERR_CRYPTO;
    for (size_t i = 0; i < sizeof(md); i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0x0f];
    }
    out[CF_AUTH_DIGEST_LEN] = '\0';
    return CF_OK;
}

cf_err_t cf_bucket_init(cf_bucket_t *b, double rate, unsigned burst, int64_t now_ms)
{
    if (!b || !(rate >= CF_BUCKET_MIN_RATE && rate <= CF_BUCKET_MAX_RATE) || burst == 0 ||
        burst > CF_BUCKET_MAX_BURST)
        return CF_ERR_INVALID;
    b->per_ms = (uint64_t) (rate * 1000.0 + 0.5); /* rate >= 0.001: at least 1 */
    b->cap = (uint64_t) burst * S_MICRO;
    b->level = b->cap;
    b->last_ms = now_ms;
    return CF_OK;
}

int cf_bucket_take(cf_bucket_t *b, int64_t now_ms, int64_t *wait_ms)
{
    CF_ASSERT(b && b->per_ms > 0);
    if (now_ms > b->last_ms) {
        /* elapsed is capped before multiplying: a long idle spell only fills the bucket */
        uint64_t elapsed = (uint64_t) now_ms - (uint64_t) b->last_ms;
        uint64_t room = b->cap - b->level;
        if (elapsed >= room / b->per_ms + 1)
            b->level = b->cap;
        else
            b->level += elapsed * b->per_ms;
        if (b->level > b->cap)
            b->level = b->cap;
        b->last_ms = now_ms;
    }
    if (b->level >= S_MICRO) {
        b->level -= S_MICRO;
        return 1;
    }
    if (wait_ms)
        *wait_ms = (int64_t) ((S_MICRO - b->level + b->per_ms - 1) / b->per_ms);
    return 0;
}
