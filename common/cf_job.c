/*  cf_job - one signed certificate job for one agent: fields, payloads, sealing  */
#include "cf_job.h"

#include <string.h>

#include <openssl/rand.h>
#include <sodium.h>

#include "cf_issue.h"
#include "cf_job_int.h"
#include "cf_mem.h"

#define S_B64 sodium_base64_VARIANT_ORIGINAL /* strict: padding, no spaces, zero tail bits */

_Static_assert(CF_JOB_SEAL_OVERHEAD == crypto_box_SEALBYTES, "sealed box overhead");
_Static_assert(CF_JOB_CURVE_KEY_LEN == crypto_box_PUBLICKEYBYTES, "CURVE keys are X25519");
_Static_assert(CF_JOB_CURVE_KEY_LEN == crypto_box_SECRETKEYBYTES, "CURVE keys are X25519");

static const char *const s_type_names[CF_JOB_TYPE_COUNT_] = {
    "unknown", "install_cert", "renew_csr", "set_favorite", "recheck", "reissue",
};

const char *cf_job_type_name(cf_job_type_t type)
{
    if (type < CF_JOB_TYPE_INSTALL_CERT || type >= CF_JOB_TYPE_COUNT_)
        return "unknown";
    return s_type_names[type];
}

cf_err_t cf_job_type_from_name(const char *name, cf_job_type_t *out)
{
    if (!name || !out)
        return CF_ERR_INVALID;
    for (int t = CF_JOB_TYPE_INSTALL_CERT; t < CF_JOB_TYPE_COUNT_; t++)
        if (strcmp(name, s_type_names[t]) == 0) {
            *out = (cf_job_type_t) t;
            return CF_OK;
        }
    return CF_ERR_INVALID;
}

cf_err_t cf_job_check_alias(const char *alias)
{
    size_t n = alias ? strnlen(alias, CF_JOB_ALIAS_MAX + 1) : 0;
    if (n == 0 || n > CF_JOB_ALIAS_MAX)
        return CF_ERR_INVALID;
    if (strspn(alias, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") != n)
        return CF_ERR_INVALID;
    return CF_OK;
}

static cf_err_t s_check_id(const char *id)
{
    if (strnlen(id, CF_JOB_ID_HEX + 1) != CF_JOB_ID_HEX ||
        strspn(id, "0123456789abcdef") != CF_JOB_ID_HEX || strspn(id, "0") == CF_JOB_ID_HEX)
        return CF_ERR_INVALID;
    return CF_OK;
}

/* The payload fields the type needs, and no others. */
static cf_err_t s_check_payload(const cf_job_t *job, cf_why_t *why)
{
    int pem = job->chain || job->key, p12 = job->p12 || job->pass;
    if (job->type == CF_JOB_TYPE_SET_FAVORITE) {
        if (cf_job_check_alias(job->favorite) != CF_OK)
            return cf_why(why, CF_ERR_INVALID, "set_favorite needs a server alias");
    } else if (job->favorite[0])
        return cf_why(why, CF_ERR_INVALID, "only set_favorite names a favorite");
    if ((job->type == CF_JOB_TYPE_REISSUE) != (job->cert != NULL))
        return cf_why(why, CF_ERR_INVALID, "reissue, and only reissue, carries a certificate");
    if (job->type != CF_JOB_TYPE_INSTALL_CERT)
        return job->form || pem || p12
                   ? cf_why(why, CF_ERR_INVALID, "only install_cert carries a key")
                   : CF_OK;
    if (job->form == CF_JOB_FORM_PEM && job->chain && job->key && !p12)
        return CF_OK;
    if (job->form == CF_JOB_FORM_P12 && job->p12 && job->pass && !pem)
        return CF_OK;
    return cf_why(why, CF_ERR_INVALID,
                  "install_cert needs a chain and a sealed key, or a sealed PKCS#12 and password");
}

/* Everything but the payload. */
static cf_err_t s_check_fields(const cf_job_t *job, cf_why_t *why)
{
    if (job->type < CF_JOB_TYPE_INSTALL_CERT || job->type >= CF_JOB_TYPE_COUNT_)
        return cf_why(why, CF_ERR_INVALID, "unknown job type");
    if (s_check_id(job->id) != CF_OK)
        return cf_why(why, CF_ERR_INVALID, "job id must be 32 lowercase hex digits, not all 0");
    if (strcmp(job->agent, CF_JOB_AGENT_ALL) == 0) {
        if (!cf_job_type_shareable(job->type))
            return cf_why(why, CF_ERR_INVALID, "a %s job is never shared: it targets one agent",
                          cf_job_type_name(job->type));
        if (job->min_proto < CF_JOB_PROTO_SHARED)
            return cf_why(why, CF_ERR_INVALID, "a shared copy needs min_proto %d or more",
                          CF_JOB_PROTO_SHARED);
    } else if (cf_issue_check_agent_id(job->agent) != CF_OK)
        return cf_why(why, CF_ERR_INVALID, "target is not an agent id");
    if (cf_job_check_alias(job->issuer) != CF_OK)
        return cf_why(why, CF_ERR_INVALID, "issuer is not a server alias");
    if (job->created <= 0 || job->expires > CF_JOB_MAX_TIME || job->expires <= job->created ||
        job->expires - job->created > CF_JOB_MAX_LIFETIME)
        return cf_why(why, CF_ERR_INVALID,
                      "times must satisfy 0 < created < expires <= created + %d s",
                      CF_JOB_MAX_LIFETIME);
    if (job->min_proto < 1 || job->min_proto > 255)
        return cf_why(why, CF_ERR_INVALID, "min_proto must be 1..255");
    return CF_OK;
}

cf_err_t cf_job_check(const cf_job_t *job, cf_why_t *why)
{
    CF_TRY(s_check_fields(job, why));
    return s_check_payload(job, why);
}

char *cf_job_b64(const unsigned char *bin, size_t len)
{
    size_t size = sodium_base64_encoded_len(len, S_B64); /* counts the NUL */
    char *b64 = cf_mem_malloc(size);
    if (b64)
        sodium_bin2base64(b64, size, bin, len, S_B64);
    return b64;
}

cf_err_t cf_job_unb64(const char *b64, size_t max, unsigned char **out, size_t *len_out)
{
    size_t b64_len = strlen(b64), n = 0;
    if (b64_len / 4 * 3 > max + 2)
        return CF_ERR_TOOBIG;
    unsigned char *bin = cf_mem_malloc(b64_len / 4 * 3 + 1);
    if (!bin)
        return CF_ERR_NOMEM;
    /* no ignore set and no end pointer: anything but canonical base64 fails */
    if (sodium_base642bin(bin, b64_len / 4 * 3, b64, b64_len, NULL, &n, NULL, S_B64) != 0) {
        cf_mem_free(bin);
        return CF_ERR_CORRUPT;
    }
    if (n > max) {
        cf_mem_free(bin);
        return CF_ERR_TOOBIG;
    }
    bin[n] = '\0';
    *out = bin;
    *len_out = n;
    return CF_OK;
}

int cf_job_type_shareable(cf_job_type_t type)
{
    return type == CF_JOB_TYPE_RECHECK || type == CF_JOB_TYPE_SET_FAVORITE;
}

cf_err_t cf_job_new(const cf_job_spec_t *spec, cf_job_t **out, cf_why_t *why)
{
    if (!spec || !out || !spec->agent || !spec->issuer)
        return CF_ERR_INVALID;
    *out = NULL;
    if (strlen(spec->agent) > CF_JOB_AGENT_MAX || strlen(spec->issuer) > CF_JOB_ALIAS_MAX ||
        (spec->id && strlen(spec->id) != CF_JOB_ID_HEX))
        return cf_why(why, CF_ERR_INVALID, "job id, agent or issuer too long");
    cf_job_t *job = cf_mem_calloc(1, sizeof(*job));
    if (!job)
        return CF_ERR_NOMEM;
    job->type = spec->type;
    strcpy(job->agent, spec->agent);
    strcpy(job->issuer, spec->issuer);
    job->created = spec->created;
    job->expires = spec->expires;
    job->min_proto = spec->min_proto ? spec->min_proto : 1;
    if (strcmp(job->agent, CF_JOB_AGENT_ALL) == 0 && job->min_proto < CF_JOB_PROTO_SHARED)
        job->min_proto = CF_JOB_PROTO_SHARED; /* an older agent refuses it by its level */
    if (spec->id)
        strcpy(job->id, spec->id);
    else {
        unsigned char raw[CF_JOB_ID_HEX / 2];
        if (RAND_bytes(raw, sizeof(raw)) != 1) {
            cf_job_destroy(&job);
            return CF_ERR_CRYPTO;
        }
        sodium_bin2hex(job->id, sizeof(job->id), raw, sizeof(raw));
    }
    /* the payload comes next, from a setter; cf_job_sign checks that it is there */
    cf_err_t rc = s_check_fields(job, why);
    if (rc != CF_OK) {
        cf_job_destroy(&job);
        return rc;
    }
    *out = job;
    return CF_OK;
}

void cf_job_unsign(cf_job_t *job)
{
    cf_mem_free(job->signer);
    cf_mem_free(job->sig);
    job->signer = job->sig = NULL;
}

/* Drop the payload of either install form. */
static void s_drop_install(cf_job_t *job)
{
    char **fields[] = {&job->chain, &job->key, &job->p12, &job->pass};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        cf_mem_free(*fields[i]);
        *fields[i] = NULL;
    }
    job->form = CF_JOB_FORM_NONE;
}

void cf_job_destroy(cf_job_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_job_t *job = *self_p;
    s_drop_install(job);
    cf_job_unsign(job);
    cf_mem_free(job->cert);
    cf_mem_free(job);
    *self_p = NULL;
}

cf_err_t cf_job_set_favorite(cf_job_t *job, const char *alias)
{
    if (!job || job->type != CF_JOB_TYPE_SET_FAVORITE || cf_job_check_alias(alias) != CF_OK)
        return CF_ERR_INVALID;
    cf_job_unsign(job);
    strcpy(job->favorite, alias);
    return CF_OK;
}

cf_err_t cf_job_seal_payload(const unsigned char pub[CF_JOB_CURVE_KEY_LEN], const void *plain,
                             size_t len, unsigned char **sealed_out, size_t *sealed_len)
{
    if (!pub || (!plain && len) || !sealed_out || !sealed_len)
        return CF_ERR_INVALID;
    *sealed_out = NULL;
    *sealed_len = 0;
    if (len > CF_JOB_MAX_SECRET)
        return CF_ERR_TOOBIG;
    if (sodium_init() < 0)
        return CF_ERR_CRYPTO;
    unsigned char *sealed = cf_mem_malloc(len + crypto_box_SEALBYTES);
    if (!sealed)
        return CF_ERR_NOMEM;
    /* fails for a public key of low order (no shared secret): not a key to seal to */
    if (crypto_box_seal(sealed, plain ? plain : (const void *) "", len, pub) != 0) {
        cf_mem_free(sealed);
        return CF_ERR_INVALID;
    }
    *sealed_out = sealed;
    *sealed_len = len + crypto_box_SEALBYTES;
    return CF_OK;
}

cf_err_t cf_job_open_payload(const unsigned char pub[CF_JOB_CURVE_KEY_LEN],
                             const unsigned char secret[CF_JOB_CURVE_KEY_LEN], const void *sealed,
                             size_t len, unsigned char **plain_out, size_t *plain_len)
{
    if (!pub || !secret || !sealed || !plain_out || !plain_len)
        return CF_ERR_INVALID;
    *plain_out = NULL;
    *plain_len = 0;
    if (len > CF_JOB_MAX_SECRET + crypto_box_SEALBYTES)
        return CF_ERR_TOOBIG;
    if (len < crypto_box_SEALBYTES)
        return CF_ERR_SECRET;
    if (sodium_init() < 0)
        return CF_ERR_CRYPTO;
    size_t n = len - crypto_box_SEALBYTES;
    unsigned char *plain = cf_mem_malloc(n + 1);
    if (!plain)
        return CF_ERR_NOMEM;
    if (crypto_box_seal_open(plain, sealed, len, pub, secret) != 0) {
        cf_mem_free_secret(plain, n + 1);
        return CF_ERR_SECRET;
    }
    plain[n] = '\0';
    *plain_out = plain;
    *plain_len = n;
    return CF_OK;
}

/* Seal len bytes to pub and keep the result as base64 in *field. */
static cf_err_t s_seal_b64(const unsigned char *pub, const void *plain, size_t len, char **field)
{
    unsigned char *sealed = NULL;
    size_t sealed_len = 0;
    CF_TRY(cf_job_seal_payload(pub, plain, len, &sealed, &sealed_len));
    *field = cf_job_b64(sealed, sealed_len);
    cf_mem_free(sealed);
    return *field ? CF_OK : CF_ERR_NOMEM;
}

cf_err_t cf_job_set_install_pem(cf_job_t *job, const char *chain_pem, size_t chain_len,
                                const char *key_pem, size_t key_len,
                                const unsigned char agent_pub[CF_JOB_CURVE_KEY_LEN])
{
    if (!job || job->type != CF_JOB_TYPE_INSTALL_CERT || !chain_pem || !chain_len || !key_pem ||
        !key_len || !agent_pub)
        return CF_ERR_INVALID;
    if (chain_len > CF_JOB_MAX_CHAIN || key_len > CF_JOB_MAX_SECRET)
        return CF_ERR_TOOBIG;
    cf_job_unsign(job);
    s_drop_install(job);
    cf_err_t rc = s_seal_b64(agent_pub, key_pem, key_len, &job->key);
    if (rc == CF_OK) {
        job->chain = cf_job_b64((const unsigned char *) chain_pem, chain_len);
        rc = job->chain ? CF_OK : CF_ERR_NOMEM;
    }
    if (rc == CF_OK)
        job->form = CF_JOB_FORM_PEM;
    else
        s_drop_install(job);
    return rc;
}

cf_err_t cf_job_set_install_p12(cf_job_t *job, const unsigned char *p12, size_t p12_len,
                                const char *password,
                                const unsigned char agent_pub[CF_JOB_CURVE_KEY_LEN])
{
    if (!job || job->type != CF_JOB_TYPE_INSTALL_CERT || !p12 || !p12_len || !password ||
        !agent_pub)
        return CF_ERR_INVALID;
    size_t pass_len = strnlen(password, CF_JOB_MAX_PASSWORD + 1);
    if (p12_len > CF_JOB_MAX_SECRET || pass_len > CF_JOB_MAX_PASSWORD)
        return CF_ERR_TOOBIG;
    cf_job_unsign(job);
    s_drop_install(job);
    cf_err_t rc = s_seal_b64(agent_pub, p12, p12_len, &job->p12);
    if (rc == CF_OK)
        rc = s_seal_b64(agent_pub, password, pass_len, &job->pass);
    if (rc == CF_OK)
        job->form = CF_JOB_FORM_P12;
    else
        s_drop_install(job);
    return rc;
}

/* Decode a base64 sealed field and open it. */
static cf_err_t s_open_b64(const char *field, const unsigned char *pub, const unsigned char *sec,
                           unsigned char **plain, size_t *plain_len)
{
    unsigned char *sealed = NULL;
    size_t sealed_len = 0;
    cf_err_t rc =
        cf_job_unb64(field, CF_JOB_MAX_SECRET + CF_JOB_SEAL_OVERHEAD, &sealed, &sealed_len);
    if (rc == CF_OK)
        rc = cf_job_open_payload(pub, sec, sealed, sealed_len, plain, plain_len);
    cf_mem_free(sealed);
    return rc;
}

cf_err_t cf_job_chain_pem(const cf_job_t *job, char **pem_out, size_t *len_out)
{
    if (!job || !pem_out || !len_out)
        return CF_ERR_INVALID;
    *pem_out = NULL;
    if (job->form != CF_JOB_FORM_PEM)
        return CF_ERR_STATE;
    unsigned char *pem = NULL;
    CF_TRY(cf_job_unb64(job->chain, CF_JOB_MAX_CHAIN, &pem, len_out));
    *pem_out = (char *) pem;
    return CF_OK;
}

cf_err_t cf_job_open_key(const cf_job_t *job, const unsigned char pub[CF_JOB_CURVE_KEY_LEN],
                         const unsigned char secret[CF_JOB_CURVE_KEY_LEN], char **key_out,
                         size_t *len_out)
{
    if (!job || !pub || !secret || !key_out || !len_out)
        return CF_ERR_INVALID;
    *key_out = NULL;
    if (job->form != CF_JOB_FORM_PEM)
        return CF_ERR_STATE;
    unsigned char *key = NULL;
    CF_TRY(s_open_b64(job->key, pub, secret, &key, len_out));
    *key_out = (char *) key;
    return CF_OK;
}

cf_err_t cf_job_open_p12(const cf_job_t *job, const unsigned char pub[CF_JOB_CURVE_KEY_LEN],
                         const unsigned char secret[CF_JOB_CURVE_KEY_LEN], unsigned char **p12_out,
                         size_t *p12_len, char **password_out)
{
    if (!job || !pub || !secret || !p12_out || !p12_len || !password_out)
        return CF_ERR_INVALID;
    *p12_out = NULL;
    *password_out = NULL;
    if (job->form != CF_JOB_FORM_P12)
        return CF_ERR_STATE;
    unsigned char *p12 = NULL, *pass = NULL;
    size_t n = 0, pass_len = 0;
    cf_err_t rc = s_open_b64(job->p12, pub, secret, &p12, &n);
    if (rc == CF_OK)
        rc = s_open_b64(job->pass, pub, secret, &pass, &pass_len);
    if (rc == CF_OK && memchr(pass, '\0', pass_len))
        rc = CF_ERR_SECRET; /* a password with a NUL inside was not sealed by us */
    if (rc != CF_OK) {
        cf_mem_free_secret(p12, n);
        cf_mem_free_secret(pass, pass_len);
        return rc;
    }
    *p12_out = p12;
    *p12_len = n;
    *password_out = (char *) pass;
    return CF_OK;
}

const char *cf_job_id(const cf_job_t *job)
{
    return job->id;
}

cf_job_type_t cf_job_type(const cf_job_t *job)
{
    return job->type;
}

const char *cf_job_agent(const cf_job_t *job)
{
    return job->agent;
}

const char *cf_job_issuer(const cf_job_t *job)
{
    return job->issuer;
}

time_t cf_job_created(const cf_job_t *job)
{
    return job->created;
}

time_t cf_job_expires(const cf_job_t *job)
{
    return job->expires;
}

unsigned cf_job_min_proto(const cf_job_t *job)
{
    return job->min_proto;
}

const char *cf_job_favorite(const cf_job_t *job)
{
    return job->type == CF_JOB_TYPE_SET_FAVORITE ? job->favorite : NULL;
}

cf_job_form_t cf_job_form(const cf_job_t *job)
{
    return job->form;
}

int cf_job_is_signed(const cf_job_t *job)
{
    return job->sig != NULL;
}
