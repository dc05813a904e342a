/*  cf_db_key - names in the Redis schema: checks of ids, aliases, names; key builders  */
#include "cf_db_key.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

/* first: [a-z0-9]; rest: [a-z0-9] or one of extra; 1..max bytes. */
static cf_err_t s_check_name(const char *s, size_t max, const char *extra)
{
    if (!s)
        return CF_ERR_INVALID;
    size_t len = strnlen(s, max + 1);
    if (len == 0 || len > max)
        return CF_ERR_INVALID;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || !strchr(extra, c)))
            return CF_ERR_INVALID;
    }
    return CF_OK;
}

cf_err_t cf_db_check_agent_id(const char *id)
{
    return s_check_name(id, CF_DB_ID_MAX, "._-");
}

cf_err_t cf_db_check_alias(const char *alias)
{
    return s_check_name(alias, CF_DB_ALIAS_MAX, "._-");
}

cf_err_t cf_db_check_cert_name(const char *name)
{
    return s_check_name(name, CF_DB_NAME_MAX, "._-");
}

cf_err_t cf_db_check_user(const char *name)
{
    return s_check_name(name, CF_DB_USER_MAX, "._@-");
}

static cf_err_t s_check_hex(const char *s, size_t min, size_t max)
{
    if (!s)
        return CF_ERR_INVALID;
    size_t len = strnlen(s, max + 1);
    if (len < min || len > max)
        return CF_ERR_INVALID;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return CF_ERR_INVALID;
    return CF_OK;
}

cf_err_t cf_db_check_serial(const char *serial)
{
    return s_check_hex(serial, 1, CF_DB_SERIAL_MAX);
}

cf_err_t cf_db_check_fingerprint(const char *fp)
{
    return s_check_hex(fp, CF_DB_FP_LEN, CF_DB_FP_LEN);
}

cf_err_t cf_db_check_job_id(const char *id)
{
    CF_TRY(s_check_hex(id, CF_DB_JOB_ID_LEN, CF_DB_JOB_ID_LEN));
    for (size_t i = 0; i < CF_DB_JOB_ID_LEN; i++)
        if (id[i] != '0')
            return CF_OK;
    return CF_ERR_INVALID; /* all zero: no one's id */
}

cf_err_t cf_db_check_owner(const char *owner)
{
    if (!owner)
        return CF_ERR_INVALID;
    size_t len = strnlen(owner, CF_DB_OWNER_MAX + 1);
    if (len == 0 || len > CF_DB_OWNER_MAX)
        return CF_ERR_INVALID;
    for (size_t i = 0; i < len; i++)
        if (owner[i] <= ' ' || owner[i] > '~')
            return CF_ERR_INVALID;
    return CF_OK;
}

cf_err_t cf_db_check_text(const char *text, size_t min, size_t max)
{
    if (!text)
        return CF_ERR_INVALID;
    size_t len = strnlen(text, max + 1);
    if (len > max)
        return CF_ERR_TOOBIG;
    if (len < min)
        return CF_ERR_INVALID;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) text[i];
        if (c < 0x20 || c == 0x7f)
            return CF_ERR_INVALID;
    }
    return CF_OK;
}

int cf_db_component_ok(cf_component_t component)
{
    return component == CF_COMPONENT_SERVER || component == CF_COMPONENT_CONSOLE ||
           component == CF_COMPONENT_AGENT;
}

/* Write "<prefix><part><suffix>" after a check of part. */
static cf_err_t s_build(char *key, cf_err_t checked, const char *prefix, const char *part,
                        const char *suffix)
{
    key[0] = '\0';
    if (checked != CF_OK)
        return CF_ERR_INVALID;
    /* copies, not snprintf: a check-in builds two keys (snprintf cost ~700 instructions each) */
    size_t a = strlen(prefix), b = strlen(part), c = strlen(suffix);
    if (a + b + c >= CF_DB_KEY_MAX)
        return CF_ERR_INVALID;
    memcpy(key, prefix, a);
    memcpy(key + a, part, b);
    memcpy(key + a + b, suffix, c + 1);
    return CF_OK;
}

cf_err_t cf_db_key_cert(char *key, cf_component_t component, const char *name)
{
    char prefix[32];
    if (!cf_db_component_ok(component))
        return s_build(key, CF_ERR_INVALID, "", "", "");
    snprintf(prefix, sizeof(prefix), "cf:cert:%s:", cf_component_name(component));
    return s_build(key, cf_db_check_cert_name(name), prefix, name, "");
}

cf_err_t cf_db_key_certs(char *key, cf_component_t component)
{
    if (!cf_db_component_ok(component))
        return s_build(key, CF_ERR_INVALID, "", "", "");
    return s_build(key, CF_OK, "cf:certs:", cf_component_name(component), "");
}

cf_err_t cf_db_key_server(char *key, const char *alias)
{
    return s_build(key, cf_db_check_alias(alias), "cf:server:", alias, "");
}

cf_err_t cf_db_key_hb(char *key, const char *alias)
{
    return s_build(key, cf_db_check_alias(alias), "cf:hb:", alias, "");
}

cf_err_t cf_db_key_agent(char *key, const char *id)
{
    /* the hash tag keeps an agent's keys in one slot of a later Redis Cluster */
    return s_build(key, cf_db_check_agent_id(id), CF_DB_KP_AGENT, id, CF_DB_KS_TAG);
}

cf_err_t cf_db_key_agent_jobs(char *key, const char *id)
{
    return s_build(key, cf_db_check_agent_id(id), CF_DB_KP_AGENT, id, CF_DB_KS_AGENT_JOBS);
}

cf_err_t cf_db_key_agent_cert(char *key, const char *id)
{
    return s_build(key, cf_db_check_agent_id(id), CF_DB_KP_AGENT, id, CF_DB_KS_AGENT_CERT);
}

cf_err_t cf_db_key_job(char *key, const char *id, const char *suffix)
{
    int ok =
        suffix && (strcmp(suffix, CF_DB_KS_TAG) == 0 || strcmp(suffix, CF_DB_KS_JOB_ST) == 0 ||
                   strcmp(suffix, CF_DB_KS_JOB_WHY) == 0 || strcmp(suffix, CF_DB_KS_JOB_EV) == 0 ||
                   strcmp(suffix, CF_DB_KS_JOB_Q) == 0);
    return s_build(key, ok ? cf_db_check_job_id(id) : CF_ERR_INVALID, CF_DB_KP_JOB, id, suffix);
}

cf_err_t cf_db_key_user(char *key, const char *name)
{
    return s_build(key, cf_db_check_user(name), "cf:user:", name, "");
}

cf_err_t cf_db_key_session(char *key, const void *token, size_t len)
{
    key[0] = '\0';
    if (!token || len < CF_DB_TOKEN_MIN || len > CF_DB_TOKEN_MAX)
        return CF_ERR_INVALID;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(token, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return CF_ERR_CRYPTO;
    char hex[65];
    for (unsigned int i = 0; i < mdlen; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return s_build(key, CF_OK, "cf:session:", hex, "");
}
