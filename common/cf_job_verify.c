/*  cf_job_verify - signing jobs on a server, and checking them on an agent  */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "cf_issue.h"
#include "cf_job.h"
#include "cf_job_int.h"
#include "cf_mem.h"

struct cf_job_verifier {
    cf_cert_t *ca;                                       /* trust anchor (own reference) */
    char agent[CF_JOB_AGENT_MAX + 1];                    /* this agent's id */
    cf_cert_t *signer;                                   /* last signer that passed, or NULL */
    unsigned char signer_hash[crypto_hash_sha256_BYTES]; /* SHA-256 of its DER */
    unsigned long chain_checks;                          /* full chain verifications done */
};

/* The digest that goes with a signer key: SHA-384 for P-384, none for Ed25519 (it hashes
   itself), SHA-256 for the rest. CF_ERR_UNSUPPORTED for keys we do not issue. */
static cf_err_t s_digest(EVP_PKEY *pkey, const EVP_MD **md)
{
    cf_key_type_t type;
    CF_TRY(cf_key_type_of_pkey(pkey, &type));
    *md = type == CF_KEY_ED25519 ? NULL : type == CF_KEY_P384 ? EVP_sha384() : EVP_sha256();
    return CF_OK;
}

/* CF_JOB_SIG_CONTEXT, a NUL, then the canonical form: what the signature covers. */
static cf_err_t s_signed_bytes(const cf_job_t *job, unsigned char **out, size_t *len)
{
    char *canon = NULL;
    size_t canon_len = 0;
    CF_TRY(cf_job_json(job, 0, &canon, &canon_len));
    size_t ctx_len = sizeof(CF_JOB_SIG_CONTEXT); /* with its NUL */
    *out = cf_mem_malloc(ctx_len + canon_len);
    if (*out) {
        memcpy(*out, CF_JOB_SIG_CONTEXT, ctx_len);
        memcpy(*out + ctx_len, canon, canon_len);
        *len = ctx_len + canon_len;
    }
    cf_mem_free(canon);
    return *out ? CF_OK : CF_ERR_NOMEM;
}

/* Sign the job's signed bytes with pkey; the signature goes into job->sig as base64. */
static cf_err_t s_sign(cf_job_t *job, EVP_PKEY *pkey)
{
    unsigned char *msg = NULL, *sig = NULL;
    size_t msg_len = 0, sig_len = 0;
    const EVP_MD *md = NULL;
    EVP_MD_CTX *ctx = NULL;
    cf_err_t rc = s_digest(pkey, &md);
    if (rc == CF_OK)
        rc = s_signed_bytes(job, &msg, &msg_len);
    if (rc != CF_OK)
        goto out;
    rc = CF_ERR_CRYPTO;
    ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestSignInit(ctx, NULL, md, NULL, pkey) != 1 ||
        EVP_DigestSign(ctx, NULL, &sig_len, msg, msg_len) != 1)
        goto out;
    sig = cf_mem_malloc(sig_len);
    rc = sig ? CF_ERR_CRYPTO : CF_ERR_NOMEM;
    if (!sig || EVP_DigestSign(ctx, sig, &sig_len, msg, msg_len) != 1)
        goto out;
    job->sig = cf_job_b64(sig, sig_len);
    rc = job->sig ? CF_OK : CF_ERR_NOMEM;
out:
    EVP_MD_CTX_free(ctx);
    cf_mem_free(sig);
    cf_mem_free(msg);
    ERR_clear_error(); /* a refused signature leaves nothing in the thread's error queue */
    return rc;
}

cf_err_t cf_job_sign(cf_job_t *job, const cf_cert_t *server_cert, const cf_key_t *server_key,
                     cf_why_t *why)
{
    if (!job || !server_cert || !server_key)
        return CF_ERR_INVALID;
    cf_job_unsign(job);
    cf_why_t local = {""};
    if (cf_job_check(job, &local) != CF_OK)
        return cf_why(why, CF_ERR_STATE, "job is not complete: %s", local.text);
    if (!cf_cert_has_server_auth(server_cert))
        return cf_why(why, CF_ERR_POLICY, "certificate %s has no serverAuth: agents refuse it",
                      cf_cert_common_name(server_cert));
    CF_TRY(cf_cert_matches_key(server_cert, server_key));
    unsigned char *der = NULL;
    size_t der_len = 0;
    CF_TRY(cf_cert_to_der(server_cert, &der, &der_len));
    job->signer = cf_job_b64(der, der_len);
    cf_mem_free(der);
    cf_err_t rc = job->signer ? s_sign(job, cf_key_pkey(server_key)) : CF_ERR_NOMEM;
    char *wire = NULL;
    size_t wire_len = 0;
    if (rc == CF_OK)
        rc = cf_job_json(job, 1, &wire, &wire_len);
    if (rc == CF_OK && wire_len > CF_JOB_MAX_WIRE)
        rc = cf_why(why, CF_ERR_TOOBIG, "signed job would be %zu bytes, the cap is %d", wire_len,
                    CF_JOB_MAX_WIRE);
    cf_mem_free(wire);
    if (rc != CF_OK)
        cf_job_unsign(job);
    return rc;
}

cf_err_t cf_job_verifier_new(const cf_cert_t *ca, const char *agent_id, cf_job_verifier_t **out)
{
    if (!ca || !out || !agent_id || strlen(agent_id) > CF_JOB_AGENT_MAX ||
        cf_issue_check_agent_id(agent_id) != CF_OK)
        return CF_ERR_INVALID;
    *out = NULL;
    cf_job_verifier_t *v = cf_mem_calloc(1, sizeof(*v));
    if (!v)
        return CF_ERR_NOMEM;
    v->ca = cf_cert_dup(ca);
    if (!v->ca) {
        cf_mem_free(v);
        return CF_ERR_NOMEM;
    }
    strcpy(v->agent, agent_id);
    *out = v;
    return CF_OK;
}

cf_err_t cf_job_verifier_set_agent(cf_job_verifier_t *v, const char *agent_id)
{
    if (!v || !agent_id || strlen(agent_id) > CF_JOB_AGENT_MAX ||
        cf_issue_check_agent_id(agent_id) != CF_OK)
        return CF_ERR_INVALID;
    strcpy(v->agent, agent_id);
    return CF_OK;
}

void cf_job_verifier_destroy(cf_job_verifier_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_cert_destroy(&(*self_p)->ca);
    cf_cert_destroy(&(*self_p)->signer);
    cf_mem_free(*self_p);
    *self_p = NULL;
}

unsigned long cf_job_verifier_chain_checks(const cf_job_verifier_t *v)
{
    return v ? v->chain_checks : 0;
}

/* A signer seen for the first time: parse, chain to the CA, serverAuth; cached if good. */
static cf_err_t s_new_signer(cf_job_verifier_t *v, const unsigned char *der, size_t len,
                             const unsigned char *hash, time_t now, cf_why_t *why)
{
    cf_cert_t *cert = NULL;
    cf_err_t rc = cf_cert_parse(der, len, &cert);
    if (rc != CF_OK)
        return rc == CF_ERR_NOMEM ? rc : cf_why(why, CF_ERR_CORRUPT, "signer is not a certificate");
    cf_why_t chain = {""};
    v->chain_checks++;
    rc = cf_cert_verify(cert, v->ca, NULL, 0, now, &chain);
    if (rc != CF_OK)
        rc = cf_why(why, rc, "signer certificate '%s' is refused: %s", cf_cert_common_name(cert),
                    cf_why_text(&chain, rc));
    else if (!cf_cert_has_server_auth(cert))
        rc = cf_why(why, CF_ERR_POLICY,
                    "signer certificate '%s' has no serverAuth (%s certificates cannot sign jobs)",
                    cf_cert_common_name(cert), cf_component_name(cf_cert_component(cert)));
    if (rc != CF_OK) {
        cf_cert_destroy(&cert);
        return rc;
    }
    cf_cert_destroy(&v->signer);
    v->signer = cert;
    memcpy(v->signer_hash, hash, sizeof(v->signer_hash));
    return CF_OK;
}

/* The job's signer, from the cache or checked now; borrowed from the verifier. */
static cf_err_t s_signer(cf_job_verifier_t *v, const cf_job_t *job, time_t now,
                         const cf_cert_t **out, cf_why_t *why)
{
    unsigned char *der = NULL;
    size_t len = 0;
    unsigned char hash[crypto_hash_sha256_BYTES];
    CF_TRY(cf_job_unb64(job->signer, CF_JOB_MAX_SIGNER, &der, &len));
    crypto_hash_sha256(hash, der, len);
    cf_err_t rc = CF_OK;
    if (v->signer && sodium_memcmp(hash, v->signer_hash, sizeof(hash)) == 0) {
        /* chained before; only time has moved since */
        rc = cf_cert_check_time(v->signer, now);
        if (rc == CF_OK)
            rc = cf_cert_check_time(v->ca, now);
        if (rc != CF_OK)
            rc = cf_why(why, rc, "signer certificate '%s' or its CA is not valid now",
                        cf_cert_common_name(v->signer));
    } else
        rc = s_new_signer(v, der, len, hash, now, why);
    cf_mem_free(der);
    *out = v->signer;
    return rc;
}

/* The signature over the canonical form, with the signer's public key. */
static cf_err_t s_check_sig(const cf_job_t *job, const cf_cert_t *signer, cf_why_t *why)
{
    unsigned char *msg = NULL, *sig = NULL;
    size_t msg_len = 0, sig_len = 0;
    EVP_MD_CTX *ctx = NULL;
    const EVP_MD *md = NULL;
    EVP_PKEY *pkey = X509_get0_pubkey(cf_cert_x509(signer));
    cf_err_t rc = pkey ? s_digest(pkey, &md) : CF_ERR_UNSUPPORTED;
    if (rc != CF_OK)
        return cf_why(why, rc, "signer key type is not one certfleet signs with");
    rc = cf_job_unb64(job->sig, CF_JOB_MAX_SIG, &sig, &sig_len);
    if (rc == CF_OK)
        rc = s_signed_bytes(job, &msg, &msg_len);
    if (rc != CF_OK)
        goto out;
    ctx = EVP_MD_CTX_new();
    rc = ctx ? CF_OK : CF_ERR_NOMEM;
    if (rc == CF_OK && (EVP_DigestVerifyInit(ctx, NULL, md, NULL, pkey) != 1 ||
                        EVP_DigestVerify(ctx, sig, sig_len, msg, msg_len) != 1))
        rc = cf_why(why, CF_ERR_UNTRUSTED, "signature does not verify over the job");
out:
    EVP_MD_CTX_free(ctx);
    cf_mem_free(sig);
    cf_mem_free(msg);
    ERR_clear_error(); /* a refused signature leaves nothing in the thread's error queue */
    return rc;
}

static const char *s_utc(time_t t, char *buf, size_t len)
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, len, "%lld", (long long) t);
    return buf;
}

/* Addressed to us, within its time window, a protocol level we speak. */
static cf_err_t s_check_claims(const cf_job_verifier_t *v, const cf_job_t *job, time_t now,
                               cf_why_t *why)
{
    char a[32], b[32];
    /* a shared copy (cf_job_check made sure of its type and level) is for every agent the
       job targets; the replay check below still lets each agent apply it once */
    if (strcmp(job->agent, v->agent) != 0 && strcmp(job->agent, CF_JOB_AGENT_ALL) != 0)
        return cf_why(why, CF_ERR_POLICY, "job %s is addressed to agent '%s', this is '%s'",
                      job->id, job->agent, v->agent);
    if (now >= job->expires)
        return cf_why(why, CF_ERR_EXPIRED, "job %s expired at %s (now %s)", job->id,
                      s_utc(job->expires, a, sizeof(a)), s_utc(now, b, sizeof(b)));
    if (job->created > now + CF_JOB_SKEW)
        return cf_why(why, CF_ERR_NOTYETVALID,
                      "job %s was created at %s, more than %d s after now (%s)", job->id,
                      s_utc(job->created, a, sizeof(a)), CF_JOB_SKEW, s_utc(now, b, sizeof(b)));
    if (job->min_proto > CF_JOB_PROTO)
        return cf_why(why, CF_ERR_UNSUPPORTED,
                      "job %s needs agent protocol %u, this agent speaks %d", job->id,
                      job->min_proto, CF_JOB_PROTO);
    return CF_OK;
}

cf_err_t cf_job_verifier_check(cf_job_verifier_t *v, const void *buf, size_t len, time_t now,
                               cf_job_seen_fn seen, void *seen_ctx, cf_job_t **out, cf_why_t *why)
{
    if (!v || (!buf && len) || !seen || !out)
        return CF_ERR_INVALID;
    *out = NULL;
    cf_job_t *job = NULL;
    const cf_cert_t *signer = NULL;
    cf_err_t rc = cf_job_parse(buf, len, &job, why);
    if (rc == CF_OK)
        rc = s_signer(v, job, now, &signer, why);
    if (rc == CF_OK)
        rc = s_check_sig(job, signer, why);
    if (rc == CF_OK)
        rc = s_check_claims(v, job, now, why);
    if (rc == CF_OK) {
        rc = seen(seen_ctx, job->id);
        if (rc == CF_ERR_EXISTS)
            cf_why(why, rc, "job %s was already applied here (replay)", job->id);
        else if (rc != CF_OK)
            cf_why(why, rc, "replay check for job %s failed: %s", job->id, cf_err_str(rc));
    }
    if (rc != CF_OK)
        cf_job_destroy(&job);
    *out = job;
    return rc;
}

cf_err_t cf_job_verify(const void *buf, size_t len, const cf_cert_t *ca, const char *agent_id,
                       time_t now, cf_job_seen_fn seen, void *seen_ctx, cf_job_t **out,
                       cf_why_t *why)
{
    if (!out)
        return CF_ERR_INVALID;
    *out = NULL;
    cf_job_verifier_t *v = NULL;
    CF_TRY(cf_job_verifier_new(ca, agent_id, &v));
    cf_err_t rc = cf_job_verifier_check(v, buf, len, now, seen, seen_ctx, out, why);
    cf_job_verifier_destroy(&v);
    return rc;
}
