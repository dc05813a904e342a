/*  cf_agent_enroll - cf-agent enroll: CURVE key registered, in CSR mode a certificate for a
    key made here, stored crash-safely; the state updated from the answer  */
#include "cf_agent_enroll.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cf_agent_certs.h"
#include "cf_agent_install.h"
#include "cf_cert.h"
#include "cf_csr.h"
#include "cf_curve.h"
#include "cf_file.h"
#include "cf_import.h"
#include "cf_key.h"
#include "cf_mem.h"

#define S_PATH (CF_AGENT_STATE_PATH_MAX + 32) /* a state file's path buffer */

/* The answer of a server. */
typedef struct {
    long status;       /* HTTP status */
    json_t *json;      /* its JSON body (owned), NULL when none or not JSON */
    char code[48];     /* error.code of an error answer, or "" */
    char message[300]; /* error.message of an error answer, or "" */
} s_reply_t;

static void s_reply_clear(s_reply_t *r)
{
    json_decref(r->json);
    memset(r, 0, sizeof(*r));
}

/* One enrollment in progress. */
typedef struct {
    const char *dir;                /* the state directory (borrowed) */
    int push;                       /* push mode: no CSR */
    long timeout_s;                 /* per request */
    cf_agent_state_t st;            /* agent.json */
    char z85[CF_CURVE_Z85_LEN + 1]; /* our CURVE public key */
    char ca[S_PATH], cert[S_PATH], key[S_PATH], token_path[S_PATH]; /* file paths */
    int have_cert;                                                  /* cert.pem and key.pem exist */
    char *token;                     /* the token file's text (owned secret), NULL: none */
    cf_key_t *new_key;               /* CSR mode: the key made here (owned) */
    s_reply_t reply;                 /* the answer */
    const cf_agent_server_t *server; /* who answered */
    cf_agent_enroll_result_t res;    /* what happened */
} s_enroll_t;

/* agent.json, the CURVE key, the file names and the credential. */
static cf_err_t s_load(s_enroll_t *e, cf_why_t *why)
{
    char curve[S_PATH];
    unsigned char pub[CF_CURVE_KEY_LEN];
    size_t len = 0;
    CF_TRY(cf_agent_state_load(e->dir, &e->st, why));
    if (cf_agent_state_path(e->dir, CF_AGENT_STATE_CURVE, curve, sizeof(curve)) != CF_OK ||
        cf_agent_state_path(e->dir, CF_AGENT_STATE_CA, e->ca, sizeof(e->ca)) != CF_OK ||
        cf_agent_state_path(e->dir, CF_AGENT_STATE_CERT, e->cert, sizeof(e->cert)) != CF_OK ||
        cf_agent_state_path(e->dir, CF_AGENT_STATE_KEY, e->key, sizeof(e->key)) != CF_OK ||
        cf_agent_state_path(e->dir, CF_AGENT_STATE_TOKEN, e->token_path, sizeof(e->token_path)) !=
            CF_OK)
        return cf_why(why, CF_ERR_TOOBIG, "state directory path too long");
    CF_TRY(cf_curve_public_load(curve, pub, why));
    cf_curve_z85_encode(pub, e->z85);
    e->have_cert = access(e->cert, F_OK) == 0 && access(e->key, F_OK) == 0;
    cf_err_t rc = cf_file_read_ex(e->token_path, CF_DB_ENROLL_TOKEN + 2,
                                  CF_FILE_PRIVATE | CF_FILE_SECRET, &e->token, &len, why);
    if (rc == CF_ERR_NOTFOUND)
        rc = CF_OK;
    else if (rc == CF_OK)
        e->token[strcspn(e->token, "\r\n")] = '\0';
    if (rc == CF_OK && !e->have_cert && !e->token)
        rc = cf_why(why, CF_ERR_NOTFOUND,
                    "no credential in %s: neither a certificate (cert.pem, key.pem) nor an "
                    "enrollment token (install a package made with --with-cert or --token-uses)",
                    e->dir);
    if (rc == CF_OK && e->st.config.servers.n == 0)
        rc = cf_why(why, CF_ERR_NOTFOUND, "agent.json lists no server");
    return rc;
}

/* The request body; CSR mode makes the key and the CSR first. */
static cf_err_t s_body(s_enroll_t *e, char **out, size_t *len)
{
    char *csr = NULL;
    if (!e->push) {
        CF_TRY(cf_key_generate(CF_KEY_P256, &e->new_key));
        CF_TRY(cf_csr_create(e->new_key, e->st.id, &csr));
    }
    json_t *body =
        json_pack("{s:s,s:s,s:s?,s:s?,s:s,s:i}", "id", e->st.id, "curve", e->z85, "csr", csr,
                  "token", e->token, "version", CF_AGENT_VERSION, "protocol", CF_AGENT_PROTO);
    cf_mem_free(csr);
    size_t n = body ? json_dumpb(body, NULL, 0, JSON_COMPACT) : 0;
    *out = n ? cf_mem_malloc(n + 1) : NULL;
    if (*out && json_dumpb(body, *out, n, JSON_COMPACT) == n) {
        (*out)[n] = '\0';
        *len = n;
    } else {
        cf_mem_free(*out);
        *out = NULL;
    }
    if (body && e->token) /* jansson's copy of the token */
        cf_mem_wipe((char *) json_string_value(json_object_get(body, "token")), strlen(e->token));
    json_decref(body);
    return *out ? CF_OK : CF_ERR_NOMEM;
}

/* The error of a refused enrollment, naming the server and its message. */
static cf_err_t s_refused(const s_enroll_t *e, const cf_agent_server_t *s, cf_why_t *why)
{
    long st = e->reply.status;
    cf_err_t rc = st == 401 || st == 403 || st == 422 ? CF_ERR_POLICY
                  : st == 409                         ? CF_ERR_EXISTS
                  : st == 503                         ? CF_ERR_IO
                                                      : CF_ERR_CORRUPT;
    return cf_why(why, rc, "server %s refused the enrollment (%ld %s): %s", s->alias, st,
                  e->reply.code[0] ? e->reply.code : "-",
                  e->reply.message[0] ? e->reply.message : "no message");
}

/* One POST to server s; the answer into e->reply. */
static cf_err_t s_post_one(s_enroll_t *e, const cf_agent_server_t *s, const char *body,
                           cf_why_t *why)
{
    cf_agent_http_t h = {0};
    char *text = NULL;
    cf_agent_http_for(&h, s, 0);
    h.ca_file = e->ca;
    h.cert_file = e->have_cert ? e->cert : NULL;
    h.key_file = e->have_cert ? e->key : NULL;
    h.timeout_ms = (e->timeout_s > 0 ? e->timeout_s : CF_AGENT_TIMEOUT_S) * 1000L;
    s_reply_clear(&e->reply);
    CF_TRY(cf_agent_http_post(&h, "/api/v1/agent/enroll", body, &e->reply.status, &text, why));
    e->reply.json = text ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) : NULL;
    const json_t *err = json_object_get(e->reply.json, "error");
    const char *code = json_string_value(json_object_get(err, "code"));
    const char *msg = json_string_value(json_object_get(err, "message"));
    snprintf(e->reply.code, sizeof(e->reply.code), "%s", code ? code : "");
    snprintf(e->reply.message, sizeof(e->reply.message), "%s", msg ? msg : "");
    cf_mem_free_secret_str(text); /* an answer may carry a certificate offer */
    return CF_OK;
}

/* POST to the servers in agent.json order until one answers. */
static cf_err_t s_post(s_enroll_t *e, const char *body, cf_why_t *why)
{
    cf_err_t rc = CF_ERR_IO;
    cf_why_t last = {""};
    for (size_t i = 0; i < e->st.config.servers.n; i++) {
        const cf_agent_server_t *s = &e->st.config.servers.servers[i];
        rc = s_post_one(e, s, body, &last);
        if (rc == CF_OK && e->reply.status == 503)
            rc = s_refused(e, s, &last); /* busy or its Redis is away: the next one */
        if (rc == CF_ERR_IO)
            continue;
        if (rc != CF_OK)
            return cf_why(why, rc, "%s", cf_why_text(&last, rc));
        e->server = s;
        snprintf(e->res.server, sizeof(e->res.server), "%s", s->alias);
        return e->reply.status == 200 ? CF_OK : s_refused(e, s, why);
    }
    return cf_why(why, CF_ERR_IO, "no server answered (last: %s)", cf_why_text(&last, rc));
}

/* The certificate answered: ours (our key), from ca.pem, CN = id; as PEM files' text. */
static cf_err_t s_check_cert(s_enroll_t *e, const char *pem, char **chain, size_t *chain_len,
                             char **key, size_t *key_len, cf_why_t *why)
{
    char *ca_pem = NULL;
    size_t ca_len = 0;
    cf_cert_t *ca = NULL;
    cf_bundle_t *b = NULL;
    cf_err_t rc = cf_file_read(e->ca, CF_CERT_MAX_INPUT, &ca_pem, &ca_len, why);
    if (rc == CF_OK)
        rc = cf_cert_parse(ca_pem, ca_len, &ca);
    if (rc == CF_OK) {
        cf_import_check_t check = {ca, 0};
        cf_key_t *k = e->new_key;
        e->new_key = NULL; /* cf_import takes keys as PEM; the bundle is built from parts */
        cf_cert_t *certs[CF_CERT_MAX_CHAIN] = {NULL};
        size_t n = 0;
        rc = cf_cert_parse_all(pem, strlen(pem), certs, CF_CERT_MAX_CHAIN, &n);
        if (rc == CF_OK)
            rc = cf_bundle_from_parts(&k, certs, n, CF_BUNDLE_IMPORTED, &b, why);
        for (size_t i = 0; i < n; i++)
            cf_cert_destroy(&certs[i]);
        cf_key_destroy(&k);
        if (rc == CF_OK)
            rc = cf_bundle_check(b, &check, why);
    }
    const char *cn = rc == CF_OK ? cf_cert_common_name(cf_bundle_cert(b)) : NULL;
    if (rc == CF_OK && (!cn[0] || strcmp(cn, e->st.id) != 0))
        rc = cf_why(why, CF_ERR_CORRUPT, "the certificate answered names %.80s, not %s",
                    cn[0] ? cn : "nobody", e->st.id);
    if (rc == CF_OK)
        rc = cf_bundle_chain_pem(b, NULL, chain, chain_len);
    if (rc == CF_OK)
        rc = cf_bundle_key_pem(b, NULL, key, key_len);
    if (rc == CF_OK) {
        snprintf(e->res.fingerprint, sizeof(e->res.fingerprint), "%s",
                 cf_cert_fingerprint(cf_bundle_cert(b)));
        snprintf(e->res.serial, sizeof(e->res.serial), "%s", cf_cert_serial(cf_bundle_cert(b)));
    }
    cf_bundle_destroy(&b);
    cf_cert_destroy(&ca);
    cf_mem_free(ca_pem);
    return rc;
}

/* The pair installed by cf_agent_certs_install (new files, then renamed; recoverable). */
static cf_err_t s_store_cert(s_enroll_t *e, const char *pem, cf_why_t *why)
{
    char *chain = NULL, *key = NULL;
    size_t chain_len = 0, key_len = 0;
    cf_err_t rc = s_check_cert(e, pem, &chain, &chain_len, &key, &key_len, why);
    if (rc == CF_OK)
        rc = cf_agent_certs_install(e->dir, chain, chain_len, key, key_len, NULL, NULL, NULL, why);
    e->res.got_cert = rc == CF_OK;
    cf_mem_free(chain);
    cf_mem_free_secret(key, key_len);
    return rc;
}

/* Use the answer: the certificate, the lists, the token gone. */
static cf_err_t s_apply(s_enroll_t *e, cf_why_t *why)
{
    const json_t *a = e->reply.json;
    const char *id = json_string_value(json_object_get(a, "id"));
    const json_t *cert = json_object_get(a, "cert");
    if (!json_is_object(a) || !id || strcmp(id, e->st.id) != 0)
        return cf_why(why, CF_ERR_CORRUPT, "server %s answered for another agent or not JSON",
                      e->server->alias);
    if (!e->push && !json_is_string(cert))
        return cf_why(why, CF_ERR_CORRUPT, "server %s answered no certificate to the CSR",
                      e->server->alias);
    cf_agent_config_t cfg = {0};
    cf_why_t lwhy = {""};
    cf_err_t lists = cf_agent_config_from_json(json_object_get(a, "servers"),
                                               json_object_get(a, "brokers"), &cfg, &lwhy);
    if (lists != CF_OK || cfg.servers.n == 0) {
        cf_agent_config_clear(&cfg);
        return cf_why(why, CF_ERR_CORRUPT, "server %s answered unusable lists: %s",
                      e->server->alias,
                      cf_why_text(&lwhy, lists == CF_OK ? CF_ERR_INVALID : lists));
    }
    cf_err_t rc = e->push ? CF_OK : s_store_cert(e, json_string_value(cert), why);
    if (rc == CF_OK) {
        memcpy(cfg.servers.favorite, e->st.config.servers.favorite, sizeof(cfg.servers.favorite));
        cf_agent_config_clear(&e->st.config);
        e->st.config = cfg;
        memset(&cfg, 0, sizeof(cfg));
        rc = cf_agent_state_save(e->dir, &e->st, why);
    }
    cf_agent_config_clear(&cfg);
    if (rc == CF_OK && e->token && unlink(e->token_path) != 0)
        rc = cf_why(why, CF_ERR_IO, "enrolled, but cannot remove the used token %s", e->token_path);
    e->res.used_token = rc == CF_OK && e->token;
    return rc;
}

cf_err_t cf_agent_enroll(const char *state_dir, int push, long timeout_s,
                         cf_agent_enroll_result_t *res, cf_why_t *why)
{
    if (!state_dir)
        return CF_ERR_INVALID;
    s_enroll_t e = {.dir = state_dir, .push = push, .timeout_s = timeout_s};
    char *body = NULL;
    size_t len = 0;
    cf_err_t rc = s_load(&e, why);
    if (rc == CF_OK)
        rc = s_body(&e, &body, &len);
    if (rc == CF_OK)
        rc = s_post(&e, body, why);
    if (rc == CF_OK)
        rc = s_apply(&e, why);
    if (res)
        *res = e.res;
    cf_mem_free_secret(body, len);
    s_reply_clear(&e.reply);
    cf_key_destroy(&e.new_key);
    cf_mem_free_secret_str(e.token);
    cf_agent_state_clear(&e.st);
    return rc;
}

int cf_agent_enroll_cmd(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {
        CF_AGENT_STATE_DIR_OPTION,
        {"push", 0, CF_CFG_BOOL, NULL,
         "push mode: no CSR; the certificate comes later by an install job", "false", 0, 0, NULL},
        {"timeout", 0, CF_CFG_DURATION, "TIME", "give up on a server after this long", "30s", 1,
         3600, NULL},
    };
    static const char prog[] = "cf-agent enroll";
    int code = CF_AGENT_EXIT_OK;
    cf_cfg_t *cfg = cf_agent_cmd_options(prog, "[--state-dir D] [--push] [--timeout T]",
                                         "Enroll this agent with a server of its agent.json: CSR "
                                         "mode makes its own TLS key here.",
                                         opts, sizeof(opts) / sizeof(opts[0]), argc, argv, &code);
    if (!cfg)
        return code;
    cf_agent_enroll_result_t res;
    cf_why_t why = {""};
    int push = cf_cfg_bool(cfg, "push");
    cf_err_t rc =
        cf_agent_enroll(cf_cfg_str(cfg, "state-dir"), push, cf_cfg_int(cfg, "timeout"), &res, &why);
    if (rc != CF_OK) {
        fprintf(stderr, "%s: enrollment failed: %s\n", prog, cf_why_text(&why, rc));
        code = CF_AGENT_EXIT_FAIL;
    } else if (res.got_cert) {
        printf("enrolled with %s: certificate serial %s sha256 %s\n", res.server, res.serial,
               res.fingerprint);
    } else {
        printf("enrolled with %s (push mode: the certificate comes by an install job)\n",
               res.server);
    }
    cf_cfg_destroy(&cfg);
    return code;
}
