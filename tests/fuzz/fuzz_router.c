/*  fuzz_router - the router's parsers: JSON bodies, bearer tokens, path matching (properties)  */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "cf_mem.h"
#include "cf_router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define S_LINE_MAX 2048 /* request line or header we copy out of an input */

static void s_check(int cond)
{
    if (!cond)
        abort();
}

static void s_never(cf_req_t *req, void *app)
{
    (void) req;
    (void) app;
    abort(); /* matching never runs a handler */
}

/* The API's shape (docs/API.md) plus the caps: a route of 8 params and one of 16 segments,
   and one path under two methods and two patterns so 405 and first-match order show. */
static const cf_route_t s_routes[] = {
    {"GET", "/api/v1/health", CF_ACCESS_PUBLIC, s_never, 0, 0},
    {"POST", "/api/v1/login", CF_ACCESS_PUBLIC, s_never, CF_ROUTE_JSON, 0},
    {"GET", "/api/v1/agents", CF_ACCESS_VIEWER, s_never, 0, 0},
    {"GET", "/api/v1/agents/:id", CF_ACCESS_VIEWER, s_never, 0, 0},
    {"PUT", "/api/v1/agents/favorite", CF_ACCESS_ADMIN, s_never, CF_ROUTE_JSON, 0},
    {"POST", "/api/v1/agent/checkin", CF_ACCESS_AGENT, s_never, CF_ROUTE_JSON, 0},
    {"GET", "/api/v1/certs/archive", CF_ACCESS_VIEWER, s_never, 0, 0},
    {"GET", "/api/v1/certs/:component/:name", CF_ACCESS_VIEWER, s_never, 0, 0},
    {"POST", "/api/v1/certs/:component/:name/export", CF_ACCESS_ADMIN, s_never, CF_ROUTE_JSON, 0},
    {"POST", "/api/v1/certs/:component/:name/import", CF_ACCESS_ADMIN, s_never, CF_ROUTE_JSON, 0},
    {"PUT", "/api/v1/servers/:alias", CF_ACCESS_ADMIN, s_never, CF_ROUTE_JSON, 0},
    {"DELETE", "/api/v1/servers/:alias", CF_ACCESS_ADMIN, s_never, 0, 0},
    {"PATCH", "/api/v1/servers/:alias", CF_ACCESS_ADMIN, s_never, CF_ROUTE_JSON, 0},
    {"GET", "/:a/:b/:c/:d/:e/:f/:g/:h", CF_ACCESS_PUBLIC, s_never, 0, 0},
    {"GET", "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/:p", CF_ACCESS_PUBLIC, s_never, 0, 0},
};
#define S_NROUTES (sizeof(s_routes) / sizeof(s_routes[0]))

/* ---- JSON bodies ------------------------------------------------------------------------ */

/* Nesting of a value: objects and arrays count one level each, as the parser's cap does. */
static size_t s_depth(const json_t *v)
{
    size_t max = 0;
    if (json_is_object(v)) {
        const char *key;
        json_t *item;
        json_object_foreach((json_t *) v, key, item)
        {
            size_t d = s_depth(item);
            max = d > max ? d : max;
        }
        return max + 1;
    }
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            size_t d = s_depth(json_array_get(v, i));
            max = d > max ? d : max;
        }
        return max + 1;
    }
    return 0;
}

/* text must be refused (CF_ERR_INVALID, nothing out, a reason). */
static void s_json_refused(const char *text, size_t len)
{
    json_t *v = (json_t *) 0x1;
    cf_why_t why = {""};
    s_check(cf_router_parse_json(text, len, &v, &why) == CF_ERR_INVALID && v == NULL);
    s_check(why.text[0] != '\0');
}

/* Wrap body in levels of {"w": ...}. Returns a cf_mem string. */
static char *s_wrap(const char *body, size_t levels, size_t *len)
{
    size_t blen = strlen(body);
    *len = blen + levels * 6;
    char *out = cf_mem_malloc(*len + 1);
    s_check(out != NULL);
    for (size_t i = 0; i < levels; i++)
        memcpy(out + i * 5, "{\"w\":", 5);
    memcpy(out + levels * 5, body, blen);
    memset(out + levels * 5 + blen, '}', levels);
    out[*len] = '\0';
    return out;
}

/* An accepted body is an object within the depth cap. Its compact dump parses back equal;
   wrapped up to the cap it is still taken, one level more is refused; its first key
   repeated is refused. */
static void s_json_accepted(const json_t *root)
{
    size_t depth = s_depth(root);
    s_check(json_is_object(root) && depth >= 1 && depth <= CF_ROUTER_JSON_DEPTH);
    char *dump = json_dumps(root, JSON_COMPACT);
    s_check(dump != NULL);
    json_t *back = NULL;
    s_check(cf_router_parse_json(dump, strlen(dump), &back, NULL) == CF_OK);
    s_check(json_equal(back, (json_t *) root));
    json_decref(back);

    size_t len = 0;
    char *wrapped = s_wrap(dump, CF_ROUTER_JSON_DEPTH - depth, &len);
    s_check(cf_router_parse_json(wrapped, len, &back, NULL) == CF_OK);
    json_decref(back);
    cf_mem_free(wrapped);
    wrapped = s_wrap(dump, CF_ROUTER_JSON_DEPTH - depth + 1, &len);
    s_json_refused(wrapped, len);
    cf_mem_free(wrapped);

    void *it = json_object_iter((json_t *) root);
    if (it) {
        json_t *key = json_string(json_object_iter_key(it));
        char *kdump = json_dumps(key, JSON_ENCODE_ANY);
        s_check(key != NULL && kdump != NULL);
        size_t klen = strlen(kdump), dlen = strlen(dump);
        char *dup = cf_mem_malloc(klen + dlen + 4);
        s_check(dup != NULL);
        int n = snprintf(dup, klen + dlen + 4, "{%s:0,%s", kdump, dump + 1);
        s_check(n > 0 && (size_t) n == klen + dlen + 3);
        s_json_refused(dup, (size_t) n);
        cf_mem_free(dup);
        free(kdump); /* jansson's default allocator: the fuzz target sets none */
        json_decref(key);
    }
    free(dump);
}

static void s_json(const char *text, size_t len)
{
    json_t *root = (json_t *) 0x1;
    cf_why_t why = {""};
    cf_err_t rc = cf_router_parse_json(text, len, &root, &why);
    if (rc != CF_OK) {
        s_check(rc == CF_ERR_INVALID && root == NULL && why.text[0] != '\0');
        return;
    }
    s_json_accepted(root);
    json_decref(root);
}

/* ---- Authorization: Bearer -------------------------------------------------------------- */

static int s_token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("-._~+/=", c) != NULL);
}

/* Each answer against the header's shape: NOTFOUND exactly for another scheme, a token
   made of its characters within the cap and the buffer, and nothing written past len. */
static void s_bearer(const char *value)
{
    char buf[CF_ROUTER_MAX_TOKEN + 8];
    memset(buf, 0x55, sizeof(buf));
    cf_err_t rc = cf_router_bearer(value, buf, CF_ROUTER_MAX_TOKEN + 1);
    if (strncasecmp(value, "Bearer ", 7) != 0) {
        s_check(rc == CF_ERR_NOTFOUND);
        return;
    }
    const char *t = value + 7 + strspn(value + 7, " ");
    size_t n = strlen(t), good = 0;
    while (good < n && s_token_char(t[good]))
        good++;
    switch (rc) {
    case CF_OK:
        s_check(n >= 1 && n <= CF_ROUTER_MAX_TOKEN && good == n && strcmp(buf, t) == 0);
        break;
    case CF_ERR_INVALID: s_check(n == 0 || good < n); break;
    case CF_ERR_TOOBIG: s_check(n > CF_ROUTER_MAX_TOKEN); break;
    default: s_check(0);
    }
    s_check((unsigned char) buf[CF_ROUTER_MAX_TOKEN + 1] == 0x55);
    if (rc != CF_OK)
        return;
    /* the buffer is a cap too: exactly enough room works, one byte less does not */
    memset(buf, 0x55, sizeof(buf));
    s_check(cf_router_bearer(value, buf, n + 1) == CF_OK && strcmp(buf, t) == 0);
    s_check((unsigned char) buf[n + 1] == 0x55);
    s_check(cf_router_bearer(value, buf, n) == CF_ERR_TOOBIG);
}

/* ---- path matching ---------------------------------------------------------------------- */

/* Does pattern match path, segment by segment (the matcher's contract, not its code)? */
static int s_oracle(const char *pattern, const char *path)
{
    if (path[0] != '/')
        return 0;
    const char *p = pattern + 1, *q = path + 1;
    for (;;) {
        size_t plen = strcspn(p, "/"), qlen = strcspn(q, "/");
        if (p[0] == ':' ? qlen == 0 : (plen != qlen || memcmp(p, q, plen) != 0))
            return 0;
        p += plen, q += qlen;
        if (*p == '\0' || *q == '\0')
            return *p == '\0' && *q == '\0';
        p++, q++;
    }
}

/* The pattern with each :param replaced by its value must give back the path. */
static void s_rebuild(const cf_router_match_t *m, const char *path)
{
    char out[CF_ROUTER_MAX_PATH + 1];
    size_t used = 0, k = 0;
    for (const char *p = m->route->pattern; *p;) {
        size_t seg = strcspn(p + 1, "/") + 1;
        const char *from = p;
        size_t len = seg;
        if (p[1] == ':') {
            s_check(k < m->n_params && m->params[k].name == p + 2);
            s_check(m->params[k].name_len == seg - 2 && m->params[k].value_len >= 1);
            s_check(memchr(m->params[k].value, '/', m->params[k].value_len) == NULL);
            out[used++] = '/';
            from = m->params[k].value, len = m->params[k].value_len;
            k++;
        }
        s_check(used + len <= CF_ROUTER_MAX_PATH);
        memcpy(out + used, from, len);
        used += len;
        p += seg;
    }
    out[used] = '\0';
    s_check(k == m->n_params && strcmp(out, path) == 0);
}

static void s_match(const cf_router_t *router, const char *method, const char *path)
{
    cf_router_match_t m;
    cf_err_t rc = cf_router_match(router, method, path, &m);
    if (strlen(path) > CF_ROUTER_MAX_PATH) {
        s_check(rc == CF_ERR_TOOBIG && m.route == NULL);
        return;
    }
    /* what the table says, by the oracle: the first route of the method, and the allowed
       methods in table order, each once (compared when the answer is a 405) */
    const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;
    const cf_route_t *first = NULL;
    char allow[sizeof(m.allow)] = "";
    for (size_t i = 0; i < S_NROUTES; i++) {
        if (!s_oracle(s_routes[i].pattern, path))
            continue;
        if (!first && strcmp(s_routes[i].method, want) == 0)
            first = &s_routes[i];
        size_t ml = strlen(s_routes[i].method);
        const char *hit = strstr(allow, s_routes[i].method);
        if (hit && (hit[ml] == '\0' || hit[ml] == ','))
            continue;
        snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), "%s%s", allow[0] ? ", " : "",
                 s_routes[i].method);
    }
    if (rc == CF_ERR_STATE) /* allow is complete only for the 405 (cf_router.h) */
        s_check(strcmp(m.allow, allow) == 0);
    if (rc == CF_OK) {
        s_check(first && m.route && strcmp(m.route->pattern, first->pattern) == 0 &&
                strcmp(m.route->method, first->method) == 0);
        s_check(m.n_params <= CF_ROUTER_MAX_PARAMS);
        s_rebuild(&m, path);
        return;
    }
    s_check(first == NULL && m.route == NULL);
    s_check(rc == (allow[0] ? CF_ERR_STATE : CF_ERR_NOTFOUND));
}

/* ---- driver ----------------------------------------------------------------------------- */

static const cf_router_t *s_router(void)
{
    static cf_router_t *router; /* built once, lives for the process */
    if (!router) {
        cf_why_t why = {""};
        if (cf_router_new(s_routes, S_NROUTES, NULL, &router, &why) != CF_OK) {
            fprintf(stderr, "fuzz_router: %s\n", why.text);
            abort();
        }
    }
    return router;
}

/* One input feeds all three: the whole of it is a JSON body; up to the first NUL or line
   end it is an Authorization value, and "METHOD PATH" a request to match. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = size ? (const char *) data : "";
    s_json(text, size);

    static char line[S_LINE_MAX + 1];
    size_t n = 0;
    while (n < size && n < S_LINE_MAX && text[n] != '\0' && text[n] != '\n' && text[n] != '\r')
        n++;
    memcpy(line, text, n);
    line[n] = '\0';
    s_bearer(line);

    char *space = strchr(line, ' ');
    if (space) {
        *space = '\0';
        s_match(s_router(), line, space + 1);
    }
    return 0;
}
