/*  cf_agent_bundle - the agent install package: parse and check the bundle file  */
#include "cf_agent_bundle.h"

#include <string.h>

#include <openssl/evp.h>

#include "cf_cert.h"
#include "cf_file.h"
#include "cf_mem.h"

/* CF_OK when every member of o is one of known (NULL-terminated). */
static cf_err_t s_only(const json_t *o, const char *const *known, const char *where, cf_why_t *why)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *) o, key, v)
    {
        size_t k = 0;
        while (known[k] && strcmp(known[k], key) != 0)
            k++;
        if (!known[k])
            return cf_why(why, CF_ERR_INVALID, "%sunknown member '%.40s'", where, key);
    }
    return CF_OK;
}

/* 1 for a character of the standard base64 alphabet (padding aside). */
static int s_b64_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/* Strict standard base64 (length a multiple of 4, '=' only as the last one or two) of
   1..max decoded bytes into *out (cf_mem_free_secret). */
static cf_err_t s_base64(const char *text, size_t len, size_t max, unsigned char **out,
                         size_t *out_len, cf_why_t *why)
{
    size_t pad = 0;
    if (len == 0 || len % 4 != 0)
        return cf_why(why, CF_ERR_CORRUPT, "p12 is not base64 (length %zu)", len);
    if (len / 4 * 3 > max + 2)
        return cf_why(why, CF_ERR_TOOBIG, "p12 over %zu bytes", max);
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '=' && i + 2 >= len && (i + 1 == len || text[i + 1] == '='))
            pad++;
        else if (!s_b64_char((unsigned char) text[i]) || pad)
            return cf_why(why, CF_ERR_CORRUPT, "p12 is not base64 (character %zu)", i);
    }
    unsigned char *buf = cf_mem_malloc(len / 4 * 3 + 1);
    if (!buf)
        return CF_ERR_NOMEM;
    int n = EVP_DecodeBlock(buf, (const unsigned char *) text, (int) len);
    if (n < 0 || (size_t) n < pad + 1 || (size_t) n - pad > max) {
        cf_mem_free_secret(buf, len / 4 * 3 + 1);
        return cf_why(why, n < 0 ? CF_ERR_CORRUPT : CF_ERR_TOOBIG, "p12 does not decode");
    }
    *out = buf;
    *out_len = (size_t) n - pad;
    return CF_OK;
}

/* "ca": PEM text of 1..CF_AGENT_BUNDLE_CA_N certificates. */
static cf_err_t s_ca(const json_t *v, cf_agent_bundle_t *out, cf_why_t *why)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----";
    if (!json_is_string(v) || json_string_length(v) == 0)
        return cf_why(why, CF_ERR_INVALID, "ca must be the CA certificate in PEM");
    size_t len = json_string_length(v);
    const char *pem = json_string_value(v);
    if (len > CF_AGENT_BUNDLE_CA_MAX)
        return cf_why(why, CF_ERR_TOOBIG, "ca over %d bytes", CF_AGENT_BUNDLE_CA_MAX);
    if (strlen(pem) != len || strncmp(pem, begin, sizeof(begin) - 1) != 0)
        return cf_why(why, CF_ERR_CORRUPT, "ca is not a PEM certificate");
    cf_cert_t *certs[CF_AGENT_BUNDLE_CA_N] = {NULL};
    size_t n = 0;
    cf_err_t rc = cf_cert_parse_all(pem, len, certs, CF_AGENT_BUNDLE_CA_N, &n);
    for (size_t i = 0; i < n; i++)
        cf_cert_destroy(&certs[i]);
    if (rc != CF_OK || n == 0)
        return cf_why(why, rc == CF_ERR_TOOBIG ? rc : CF_ERR_CORRUPT,
                      "ca does not parse as PEM certificates (at most %d)", CF_AGENT_BUNDLE_CA_N);
    out->ca_pem = cf_mem_strdup(pem);
    return out->ca_pem ? CF_OK : CF_ERR_NOMEM;
}

/* "token": null or CF_DB_ENROLL_TOKEN base64url characters (never quoted). */
static cf_err_t s_token(const json_t *v, cf_agent_bundle_t *out, cf_why_t *why)
{
    if (!v || json_is_null(v))
        return CF_OK;
    const char *t = json_string_value(v);
    if (!t || json_string_length(v) != CF_DB_ENROLL_TOKEN ||
        strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
            CF_DB_ENROLL_TOKEN)
        return cf_why(why, CF_ERR_INVALID, "token must be null or %d base64url characters",
                      CF_DB_ENROLL_TOKEN);
    memcpy(out->token, t, CF_DB_ENROLL_TOKEN + 1);
    return CF_OK;
}

static cf_err_t s_bundle(const json_t *root, cf_agent_bundle_t *out, cf_why_t *why)
{
    static const char *const top[] = {"format", "created", "config", "ca", "p12", "token", NULL};
    static const char *const cfg[] = {"servers", "brokers", NULL};
    if (!json_is_object(root))
        return cf_why(why, CF_ERR_INVALID, "a bundle is a JSON object");
    const char *format = json_string_value(json_object_get(root, "format"));
    if (!format)
        return cf_why(why, CF_ERR_INVALID, "format is missing: not a certfleet bundle");
    if (strcmp(format, CF_AGENT_BUNDLE_FORMAT) != 0)
        return cf_why(why, CF_ERR_UNSUPPORTED, "format '%.40s' is not %s (a newer cf-console?)",
                      format, CF_AGENT_BUNDLE_FORMAT);
    CF_TRY(s_only(root, top, "", why));
    const json_t *created = json_object_get(root, "created");
    if (!json_is_integer(created) || json_integer_value(created) < 0)
        return cf_why(why, CF_ERR_INVALID, "created must be an integer >= 0");
    out->created = (int64_t) json_integer_value(created);
    const json_t *config = json_object_get(root, "config");
    if (!json_is_object(config))
        return cf_why(why, CF_ERR_INVALID, "config must be an object {servers, brokers}");
    CF_TRY(s_only(config, cfg, "config: ", why));
    CF_TRY(cf_agent_config_from_json(json_object_get(config, "servers"),
                                     json_object_get(config, "brokers"), &out->config, why));
    CF_TRY(s_ca(json_object_get(root, "ca"), out, why));
    const json_t *p12 = json_object_get(root, "p12");
    if (!p12 || (!json_is_null(p12) && !json_is_string(p12)))
        return cf_why(why, CF_ERR_INVALID, "p12 must be base64 or null");
    if (json_is_string(p12))
        CF_TRY(s_base64(json_string_value(p12), json_string_length(p12), CF_P12_MAX_INPUT,
                        &out->p12, &out->p12_len, why));
    if (!json_object_get(root, "token"))
        return cf_why(why, CF_ERR_INVALID, "token must be present (null for none)");
    return s_token(json_object_get(root, "token"), out, why);
}

cf_err_t cf_agent_bundle_parse(const char *buf, size_t len, cf_agent_bundle_t *out, cf_why_t *why)
{
    if (!buf || !out)
        return CF_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    if (len > CF_AGENT_BUNDLE_MAX)
        return cf_why(why, CF_ERR_TOOBIG, "bundle over %d bytes", CF_AGENT_BUNDLE_MAX);
    json_error_t err;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        return cf_why(why, CF_ERR_CORRUPT, "not JSON: line %d column %d: %.80s", err.line,
                      err.column, err.text);
    cf_err_t rc = s_bundle(root, out, why);
    /* the token and the p12 pass through jansson's strings: wipe them before they go */
    json_t *t = json_object_get(root, "token");
    if (json_is_string(t))
        cf_mem_wipe((char *) json_string_value(t), json_string_length(t));
    json_decref(root);
    if (rc != CF_OK)
        cf_agent_bundle_clear(out);
    return rc;
}

cf_err_t cf_agent_bundle_load(const char *path, cf_agent_bundle_t *out, cf_why_t *why)
{
    char *buf = NULL;
    size_t len = 0;
    if (!path || !out)
        return CF_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    CF_TRY(cf_file_read_ex(path, CF_AGENT_BUNDLE_MAX, CF_FILE_SECRET, &buf, &len, why));
    cf_err_t rc = cf_agent_bundle_parse(buf, len, out, why);
    if (rc != CF_OK && why) {
        cf_why_t inner = *why;
        cf_why(why, rc, "bundle %s: %s", path, cf_why_text(&inner, rc));
    }
    cf_mem_free_secret(buf, len);
    return rc;
}

void cf_agent_bundle_clear(cf_agent_bundle_t *b)
{
    if (!b)
        return;
    cf_agent_config_clear(&b->config);
    cf_mem_free(b->ca_pem);
    cf_mem_free_secret(b->p12, b->p12_len);
    cf_mem_wipe(b->token, sizeof(b->token));
    memset(b, 0, sizeof(*b));
}
