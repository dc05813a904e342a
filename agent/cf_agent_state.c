/*  cf_agent_state - the agent's state directory: agent.json, file names, the server and
    broker list codec  */
#include "cf_agent_state.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cf_file.h"
#include "cf_mem.h"

cf_err_t cf_agent_check_id(const char *id)
{
    return id ? cf_db_check_agent_id(id) : CF_ERR_INVALID;
}

cf_err_t cf_agent_default_id(char id[CF_DB_ID_MAX + 1], cf_why_t *why)
{
    char host[256] = "";
    if (gethostname(host, sizeof(host) - 1) != 0)
        return cf_why(why, CF_ERR_IO, "cannot read the host name");
    for (char *p = host; *p; p++)
        *p = (char) tolower((unsigned char) *p);
    if (strlen(host) > CF_DB_ID_MAX && strchr(host, '.'))
        *strchr(host, '.') = '\0'; /* a long FQDN: its first label */
    if (cf_agent_check_id(host) != CF_OK)
        return cf_why(why, CF_ERR_INVALID,
                      "the host name '%.80s' is no agent id ([a-z0-9][a-z0-9._-]{0,62}): "
                      "give one with --id",
                      host);
    memcpy(id, host, strlen(host) + 1); /* checked: at most CF_DB_ID_MAX */
    return CF_OK;
}

/* ---- the server and broker lists ------------------------------------------------------ */

/* A host to connect to: printable, no space or URL delimiter, 1..CF_AGENT_HOST_MAX bytes. */
static int s_host_ok(const char *h)
{
    size_t len = strlen(h);
    if (len == 0 || len > CF_AGENT_HOST_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isgraph((unsigned char) h[i]) || strchr("/?#@\\", h[i]))
            return 0;
    return 1;
}

cf_err_t cf_agent_broker_parse(const char *text, size_t len, cf_curve_broker_t *out, int *is_tls,
                               cf_why_t *why)
{
    static const char tls[] = "tls://";
    if (!text || !out || !is_tls)
        return CF_ERR_INVALID;
    *is_tls = len >= sizeof(tls) - 1 && memcmp(text, tls, sizeof(tls) - 1) == 0;
    if (!*is_tls)
        return cf_curve_broker_parse(text, len, out, why);
    if (len > CF_CURVE_TEXT_MAX)
        return cf_why(why, CF_ERR_INVALID, "broker endpoint too long");
    char tcp[CF_CURVE_TEXT_MAX + 1];
    int n = snprintf(tcp, sizeof(tcp), "tcp://%.*s", (int) (len - (sizeof(tls) - 1)),
                     text + sizeof(tls) - 1);
    if (n < 0 || (size_t) n >= sizeof(tcp))
        return cf_why(why, CF_ERR_INVALID, "broker endpoint too long");
    return cf_curve_broker_parse(tcp, (size_t) n, out, why);
}

cf_err_t cf_agent_broker_format(const cf_curve_broker_t *b, int is_tls, char *buf, size_t cap)
{
    CF_TRY(cf_curve_broker_format(b, buf, cap));
    if (is_tls)
        memcpy(buf, "tls", 3); /* "tcp://" and "tls://" are as long */
    return CF_OK;
}

static cf_err_t s_brokers(const json_t *v, cf_agent_config_t *out, cf_why_t *why)
{
    if (!v || json_is_null(v))
        return CF_OK;
    if (!json_is_array(v) || json_array_size(v) > CF_CURVE_BROKERS_MAX)
        return cf_why(why, json_is_array(v) ? CF_ERR_TOOBIG : CF_ERR_INVALID,
                      "brokers must be an array of at most %d \"tcp://host:port#key\" or "
                      "\"tls://host:port#key\"",
                      CF_CURVE_BROKERS_MAX);
    for (size_t k = 0; k < json_array_size(v); k++) {
        const json_t *b = json_array_get(v, k);
        cf_why_t bwhy = {""};
        int tls = 0;
        if (!json_is_string(b) || cf_agent_broker_parse(json_string_value(b), json_string_length(b),
                                                        &out->brokers[k], &tls, &bwhy) != CF_OK)
            return cf_why(
                why, CF_ERR_INVALID,
                "brokers[%zu] is not \"tcp://host:port#key\" or \"tls://host:port#key\"%s%s", k,
                bwhy.text[0] ? ": " : "", bwhy.text);
        out->tls[k] = (unsigned char) tls;
    }
    out->n_brokers = json_array_size(v);
    return CF_OK;
}

static cf_err_t s_config(const json_t *servers, const json_t *brokers, cf_agent_config_t *out,
                         cf_why_t *why)
{
    if (!json_is_array(servers))
        return cf_why(why, CF_ERR_INVALID, "servers must be an array");
    CF_TRY(cf_agent_servers_from_json(&out->servers, servers, why));
    for (size_t i = 0; i < out->servers.n; i++) {
        const cf_agent_server_t *s = &out->servers.servers[i];
        if (cf_db_check_alias(s->alias) != CF_OK)
            return cf_why(why, CF_ERR_INVALID, "servers[%zu].alias must be a lowercase host name",
                          i);
        if (s->host[0] && !s_host_ok(s->host))
            return cf_why(why, CF_ERR_INVALID, "servers[%zu].host must be a host name or address",
                          i);
    }
    return s_brokers(brokers, out, why);
}

cf_err_t cf_agent_config_from_json(const json_t *servers, const json_t *brokers,
                                   cf_agent_config_t *out, cf_why_t *why)
{
    if (!out)
        return CF_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    cf_err_t rc = s_config(servers, brokers, out, why);
    if (rc != CF_OK)
        cf_agent_config_clear(out);
    return rc;
}

static json_t *s_server_json(const cf_agent_server_t *s)
{
    json_t *ranges = json_array();
    char text[CF_IPRANGE_TEXT_MAX];
    for (size_t k = 0; ranges && k < cf_iprange_list_size(s->ranges); k++)
        if (cf_iprange_format(cf_iprange_list_at(s->ranges, k), text, sizeof(text)) != CF_OK ||
            json_array_append_new(ranges, json_string(text)) != 0) {
            json_decref(ranges);
            return NULL;
        }
    return json_pack("{s:s,s:s,s:i,s:i,s:i,s:o*}", "alias", s->alias, "host", s->host, "port",
                     (int) s->port, "plain_port", (int) s->plain_port, "priority", s->priority,
                     "ip_ranges", ranges);
}

cf_err_t cf_agent_config_to_json(const cf_agent_config_t *cfg, json_t **servers, json_t **brokers)
{
    char text[CF_CURVE_TEXT_MAX + 1];
    *servers = json_array();
    *brokers = json_array();
    cf_err_t rc = *servers && *brokers ? CF_OK : CF_ERR_NOMEM;
    for (size_t i = 0; rc == CF_OK && i < cfg->servers.n; i++)
        if (json_array_append_new(*servers, s_server_json(&cfg->servers.servers[i])) != 0)
            rc = CF_ERR_NOMEM;
    for (size_t i = 0; rc == CF_OK && i < cfg->n_brokers; i++) {
        rc = cf_agent_broker_format(&cfg->brokers[i], cfg->tls[i], text, sizeof(text));
        if (rc == CF_OK && json_array_append_new(*brokers, json_string(text)) != 0)
            rc = CF_ERR_NOMEM;
    }
    if (rc != CF_OK) {
        json_decref(*servers);
        json_decref(*brokers);
        *servers = *brokers = NULL;
    }
    return rc;
}

void cf_agent_config_clear(cf_agent_config_t *cfg)
{
    if (!cfg)
        return;
    cf_agent_servers_clear(&cfg->servers);
    memset(cfg, 0, sizeof(*cfg));
}

/* ---- agent.json ------------------------------------------------------------------------ */

cf_err_t cf_agent_state_path(const char *dir, const char *name, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/%s", dir, name);
    if (n < 0 || (size_t) n >= len) {
        if (len)
            buf[0] = '\0';
        return CF_ERR_TOOBIG;
    }
    return CF_OK;
}

static cf_err_t s_state(const json_t *root, cf_agent_state_t *out, cf_why_t *why)
{
    static const char *const known[] = {"id", "servers", "brokers", "favorite", "interval", NULL};
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *) root, key, v)
    {
        size_t k = 0;
        while (known[k] && strcmp(known[k], key) != 0)
            k++;
        if (!known[k])
            return cf_why(why, CF_ERR_INVALID, "unknown member '%.40s'", key);
    }
    const char *id = json_string_value(json_object_get(root, "id"));
    if (cf_agent_check_id(id) != CF_OK)
        return cf_why(why, CF_ERR_INVALID, "id must match [a-z0-9][a-z0-9._-]{0,62}");
    snprintf(out->id, sizeof(out->id), "%s", id);
    v = json_object_get(root, "favorite");
    if (v && !json_is_null(v) &&
        (!json_is_string(v) || json_string_length(v) > CF_DB_ALIAS_MAX ||
         cf_db_check_alias(json_string_value(v)) != CF_OK))
        return cf_why(why, CF_ERR_INVALID, "favorite must be a server alias or null");
    const char *fav = json_string_value(v);
    char favorite[CF_JOB_ALIAS_MAX + 1] = "";
    if (fav && strlen(fav) >= sizeof(favorite))
        return cf_why(why, CF_ERR_INVALID, "favorite must be a server alias or null");
    if (fav)
        memcpy(favorite, fav, strlen(fav) + 1);
    v = json_object_get(root, "interval");
    if (v && (!json_is_integer(v) || json_integer_value(v) < 1 ||
              json_integer_value(v) > CF_AGENT_INTERVAL_MAX))
        return cf_why(why, CF_ERR_INVALID, "interval must be an integer 1..%d",
                      CF_AGENT_INTERVAL_MAX);
    out->interval = v ? (int) json_integer_value(v) : CF_AGENT_INTERVAL_DEFAULT;
    CF_TRY(cf_agent_config_from_json(json_object_get(root, "servers"),
                                     json_object_get(root, "brokers"), &out->config, why));
    memcpy(out->config.servers.favorite, favorite, sizeof(favorite));
    return CF_OK;
}

cf_err_t cf_agent_state_parse(const char *buf, size_t len, cf_agent_state_t *out, cf_why_t *why)
{
    if (!buf || !out)
        return CF_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    if (len > CF_AGENT_STATE_JSON_MAX)
        return cf_why(why, CF_ERR_TOOBIG, "agent.json over %d bytes", CF_AGENT_STATE_JSON_MAX);
    json_error_t err;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        return cf_why(why, CF_ERR_CORRUPT, "not JSON: line %d: %.80s", err.line, err.text);
    cf_err_t rc = json_is_object(root) ? s_state(root, out, why)
                                       : cf_why(why, CF_ERR_INVALID, "not a JSON object");
    json_decref(root);
    if (rc != CF_OK)
        cf_agent_state_clear(out);
    return rc;
}

cf_err_t cf_agent_state_dump(const cf_agent_state_t *st, char **out, size_t *len)
{
    *out = NULL;
    json_t *servers = NULL, *brokers = NULL;
    CF_TRY(cf_agent_config_to_json(&st->config, &servers, &brokers));
    json_t *root =
        json_pack("{s:s,s:o,s:o,s:s?,s:i}", "id", st->id, "servers", servers, "brokers", brokers,
                  "favorite", st->config.servers.favorite[0] ? st->config.servers.favorite : NULL,
                  "interval", st->interval > 0 ? st->interval : CF_AGENT_INTERVAL_DEFAULT);
    size_t flags = JSON_INDENT(2) | JSON_SORT_KEYS, n = root ? json_dumpb(root, NULL, 0, flags) : 0;
    char *text = n ? cf_mem_malloc(n + 1) : NULL;
    if (text && json_dumpb(root, text, n, flags) == n) {
        text[n] = '\0';
        *out = text;
        *len = n;
        text = NULL;
    }
    json_decref(root);
    cf_mem_free(text);
    return *out ? CF_OK : CF_ERR_NOMEM;
}

cf_err_t cf_agent_state_load(const char *dir, cf_agent_state_t *out, cf_why_t *why)
{
    char path[CF_AGENT_STATE_PATH_MAX + 32];
    struct stat st;
    if (!dir || !out)
        return CF_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    if (cf_agent_state_path(dir, CF_AGENT_STATE_JSON, path, sizeof(path)) != CF_OK)
        return cf_why(why, CF_ERR_TOOBIG, "state directory path too long");
    if (stat(dir, &st) != 0)
        return cf_why(why, CF_ERR_NOTFOUND, "no state directory %s: run cf-agent install", dir);
    if ((st.st_mode & 077) != 0)
        return cf_why(why, CF_ERR_POLICY, "state directory %s is open to group or others", dir);
    char *buf = NULL;
    size_t len = 0;
    cf_err_t rc = cf_file_read_ex(path, CF_AGENT_STATE_JSON_MAX, CF_FILE_PRIVATE, &buf, &len, why);
    if (rc == CF_ERR_NOTFOUND)
        return cf_why(why, rc, "%s: not installed (run cf-agent install)", path);
    if (rc != CF_OK)
        return rc;
    rc = cf_agent_state_parse(buf, len, out, why);
    if (rc != CF_OK && why) {
        cf_why_t inner = *why;
        cf_why(why, rc, "%s: %s", path, cf_why_text(&inner, rc));
    }
    cf_mem_free(buf);
    return rc;
}

cf_err_t cf_agent_state_save(const char *dir, const cf_agent_state_t *st, cf_why_t *why)
{
    char path[CF_AGENT_STATE_PATH_MAX + 32];
    if (!dir || !st)
        return CF_ERR_INVALID;
    if (cf_agent_state_path(dir, CF_AGENT_STATE_JSON, path, sizeof(path)) != CF_OK)
        return cf_why(why, CF_ERR_TOOBIG, "state directory path too long");
    char *text = NULL;
    size_t len = 0;
    CF_TRY(cf_agent_state_dump(st, &text, &len));
    cf_err_t rc = cf_file_write_atomic(path, text, len, 0600, why);
    cf_mem_free(text);
    return rc;
}

void cf_agent_state_clear(cf_agent_state_t *st)
{
    if (!st)
        return;
    cf_agent_config_clear(&st->config);
    memset(st, 0, sizeof(*st));
}
