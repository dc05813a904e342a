/*  cf_auth - console logins and admission: scrypt password hashes, session tokens, token bucket  */
#ifndef CF_AUTH_H_INCLUDED
#define CF_AUTH_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "cf_err.h"

/* Passwords (the seed: printable ASCII only). */
#define CF_AUTH_PW_MIN 8    /* shortest password we accept, bytes */
#define CF_AUTH_PW_MAX 1024 /* longest password we accept, bytes */

/* scrypt (RFC 7914) as stored: "$scrypt$ln=14,r=8,p=1$<salt>$<hash>", salt and hash in
   base64 without padding (the PHC string format). Default cost: N = 2^14, r = 8, p = 1
   (16 MiB) measured at 50-60 ms of CPU per hash on the development machine (2^15: ~120 ms). */
#define CF_AUTH_LN       14 /* log2 N we write */
#define CF_AUTH_R        8  /* block size we write */
#define CF_AUTH_P        1  /* parallelism we write */
#define CF_AUTH_SALT_LEN 16 /* random salt we write, bytes */
#define CF_AUTH_HASH_LEN 32 /* derived key we write, bytes */
/* Caps on what a stored string (or a caller) may ask for, so a tampered record cannot
   make a login spin or allocate a gigabyte. */
#define CF_AUTH_MAX_LN     20            /* largest log2 N */
#define CF_AUTH_MAX_R      32            /* largest r */
#define CF_AUTH_MAX_P      16            /* largest p */
#define CF_AUTH_MAX_WORK   (1ULL << 21)  /* largest N * r * p (8x the default) */
#define CF_AUTH_MAX_MEM    (64ULL << 20) /* largest 128 * r * N, bytes (4x) */
#define CF_AUTH_MIN_SALT   4             /* shortest salt read back, bytes */
#define CF_AUTH_MAX_SALT   64            /* longest salt read back, bytes */
#define CF_AUTH_MIN_HASH   32  /* shortest hash read back, bytes (ours: a cut one fails) */
#define CF_AUTH_MAX_HASH   64  /* longest hash read back, bytes */
#define CF_AUTH_MAX_STORED 256 /* longest stored string, bytes (NUL excl.) */

/* scrypt cost parameters. */
typedef struct {
    unsigned ln; /* log2 of N, 1..CF_AUTH_MAX_LN */
    unsigned r;  /* block size, 1..CF_AUTH_MAX_R */
    unsigned p;  /* parallelism, 1..CF_AUTH_MAX_P */
} cf_auth_params_t;

/* CF_OK if password is 8..1024 bytes of printable ASCII (0x20-0x7e, space included).
   CF_ERR_INVALID (NULL, too short, a byte outside that range: why says which position,
   never the password), CF_ERR_TOOBIG (over CF_AUTH_PW_MAX). why may be NULL. */
CF_MUST_USE cf_err_t cf_auth_password_check(const char *password, cf_why_t *why);

/* Raw scrypt: out_len (1..CF_AUTH_MAX_HASH) bytes from password (pw_len may be 0) and salt
   (salt_len 0..CF_AUTH_MAX_SALT) under params, within the caps above. No password rules:
   this is the KDF itself (RFC 7914 test vectors go through it). Errors: CF_ERR_INVALID
   (NULL, lengths), CF_ERR_TOOBIG (params over a cap), CF_ERR_CRYPTO. */
CF_MUST_USE cf_err_t cf_auth_scrypt(const void *password, size_t pw_len, const void *salt,
                                    size_t salt_len, const cf_auth_params_t *params,
                                    unsigned char *out, size_t out_len);

/* Hash a password for storage: checks it (cf_auth_password_check), draws a 16-byte salt
   (RAND_bytes) and returns the stored string in *out (caller's, cf_mem_free; < 256 bytes).
   params NULL = the defaults. Errors: those of cf_auth_password_check, CF_ERR_TOOBIG
   (params over a cap), CF_ERR_NOMEM, CF_ERR_CRYPTO. *out stays NULL on failure. */
CF_MUST_USE cf_err_t cf_auth_password_hash(const char *password, const cf_auth_params_t *params,
                                           char **out, cf_why_t *why);

/* Check password against a stored string, comparing in constant time (CRYPTO_memcmp).
   stored NULL (an unknown user) runs the default-cost KDF anyway and answers
   CF_ERR_BADPASS, so a login cannot tell unknown users from wrong passwords by timing.
   Returns CF_OK on a match; CF_ERR_BADPASS on a mismatch or a password that breaks the
   rules; CF_ERR_CORRUPT when stored is not a well-formed scrypt string (any byte out of
   place); CF_ERR_TOOBIG when it asks for parameters over the caps (nothing is computed);
   CF_ERR_CRYPTO. */
CF_MUST_USE cf_err_t cf_auth_password_verify(const char *stored, const char *password);

/* Read the parameters of a stored string (same checks as verify). CF_ERR_CORRUPT,
   CF_ERR_TOOBIG. */
CF_MUST_USE cf_err_t cf_auth_stored_params(const char *stored, cf_auth_params_t *out);

/* 1 when stored was made with other parameters (or another salt/hash length) than the
   current defaults, so the server should re-hash at the next successful login; also 1
   for a string that does not parse. */
int cf_auth_needs_rehash(const char *stored);

/* Session tokens: 32 random bytes as base64url without padding (43 characters). The
   client keeps the token; the server stores only its SHA-256. */
#define CF_AUTH_TOKEN_BYTES 32 /* random bytes in a token */
#define CF_AUTH_TOKEN_LEN   43 /* its text length */
#define CF_AUTH_DIGEST_LEN  64 /* hex SHA-256 text length */

/* A new token into out (at least CF_AUTH_TOKEN_LEN + 1 bytes), NUL-terminated.
   CF_ERR_CRYPTO when the random generator fails. */
CF_MUST_USE cf_err_t cf_auth_token_new(char out[CF_AUTH_TOKEN_LEN + 1]);

/* CF_OK if token (untrusted: a request header) has the exact form of one of ours: 43
   base64url characters that decode canonically. CF_ERR_INVALID otherwise (NULL included). */
CF_MUST_USE cf_err_t cf_auth_token_check(const char *token);

/* The storage form of a token: lowercase hex SHA-256 of its 43 characters into out (at
   least CF_AUTH_DIGEST_LEN + 1 bytes). Checks the token first (CF_ERR_INVALID);
   CF_ERR_CRYPTO. */
CF_MUST_USE cf_err_t cf_auth_token_digest(const char *token, char out[CF_AUTH_DIGEST_LEN + 1]);

/* Token bucket for admission control: `rate` tokens per second flow into a bucket holding
   at most `burst`; each admission takes one. Pure arithmetic on an injected clock (ms,
   any monotonic origin); plain data, no allocation; one bucket per thread or under the
   caller's lock. A clock that goes back is taken as no time passing. */
typedef struct {
    uint64_t level;  /* tokens held, in millionths of a token */
    uint64_t cap;    /* burst in millionths */
    uint64_t per_ms; /* millionths added per millisecond (rate * 1000) */
    int64_t last_ms; /* clock at the last refill */
} cf_bucket_t;

#define CF_BUCKET_MAX_RATE  1000000.0 /* largest rate, tokens per second */
#define CF_BUCKET_MIN_RATE  0.001     /* smallest rate, tokens per second */
#define CF_BUCKET_MAX_BURST 1000000u  /* largest burst, tokens */

/* A full bucket at now_ms. rate in [CF_BUCKET_MIN_RATE, CF_BUCKET_MAX_RATE] tokens per
   second, burst in [1, CF_BUCKET_MAX_BURST]; CF_ERR_INVALID otherwise (NaN included). */
CF_MUST_USE cf_err_t cf_bucket_init(cf_bucket_t *b, double rate, unsigned burst, int64_t now_ms);

/* Take one token at now_ms: returns 1 when admitted. Otherwise returns 0 and, when wait_ms
   is non-NULL, sets *wait_ms (>= 1) to the milliseconds until a token will be there (for a
   Retry-After: round up to seconds). */
int cf_bucket_take(cf_bucket_t *b, int64_t now_ms, int64_t *wait_ms);

#endif
