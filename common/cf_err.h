/*  cf_err - error codes (one X-macro table), result guards and failure details  */
#ifndef CF_ERR_H_INCLUDED
#define CF_ERR_H_INCLUDED

#include <stddef.h>

#define CF_MUST_USE     __attribute__((warn_unused_result))
#define CF_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* X(name, text): the only list of error codes; cf_err_str() maps each to its text. */
#define CF_ERR_LIST(X)                                           \
    X(OK, "success")                                             \
    X(NOMEM, "out of memory")                                    \
    X(INVALID, "invalid argument or input")                      \
    X(TOOBIG, "input too large")                                 \
    X(IO, "input/output error")                                  \
    X(NOTFOUND, "not found")                                     \
    X(EXISTS, "already exists")                                  \
    X(CORRUPT, "corrupt or truncated data")                      \
    X(BADPASS, "wrong password")                                 \
    X(KEYMISMATCH, "private key does not match the certificate") \
    X(EXPIRED, "certificate expired")                            \
    X(NOTYETVALID, "certificate not yet valid")                  \
    X(REVOKED, "certificate revoked")                            \
    X(UNTRUSTED, "certificate does not chain to the CA")         \
    X(UNSUPPORTED, "unsupported algorithm or format")            \
    X(POLICY, "refused by policy")                               \
    X(NOKEY, "no private key")                                   \
    X(CRYPTO, "cryptographic operation failed")                  \
    X(SECRET, "secret key unavailable or wrong")                 \
    X(STATE, "operation not allowed in this state")              \
    X(PENDING, "the outcome comes later")

typedef enum {
#define CF_ERR_ENUM(name, text) CF_ERR_##name,
    CF_ERR_LIST(CF_ERR_ENUM)
#undef CF_ERR_ENUM
        CF_ERR_COUNT_ /* number of codes, not an error */
} cf_err_t;

#define CF_OK CF_ERR_OK

/* Text of an error code; never NULL, "unknown error" for out-of-range values. */
const char *cf_err_str(cf_err_t err);
/* Short symbolic name ("BADPASS"); never NULL. */
const char *cf_err_name(cf_err_t err);

/* Return early on failure; only while the caller owns nothing (STYLE: single out: otherwise). */
#define CF_TRY(expr)                  \
    do {                              \
        cf_err_t cf_try_rc_ = (expr); \
        if (cf_try_rc_ != CF_OK)      \
            return cf_try_rc_;        \
    } while (0)

/* Invariants and API misuse only, never for outside input; stays on in release builds. */
#define CF_ASSERT(cond)                                \
    do {                                               \
        if (!(cond))                                   \
            cf_assert_fail(#cond, __FILE__, __LINE__); \
    } while (0)
_Noreturn void cf_assert_fail(const char *what, const char *file, int line);

/* Detail of a refusal ("CSR subject is agent-7, expected agent-8"). Functions that can
   refuse for many reasons take an optional cf_why_t *why (may be NULL). */
#define CF_WHY_MAX 256
typedef struct {
    char text[CF_WHY_MAX]; /* NUL-terminated, "" when nothing was said */
} cf_why_t;

/* Set why->text from a format (truncated to CF_WHY_MAX); a NULL why is ignored.
   Returns err so callers can write: return cf_why(why, CF_ERR_POLICY, "..."). */
cf_err_t cf_why(cf_why_t *why, cf_err_t err, const char *fmt, ...) CF_PRINTF(3, 4);
/* why->text if set, else cf_err_str(err). */
const char *cf_why_text(const cf_why_t *why, cf_err_t err);

#endif
