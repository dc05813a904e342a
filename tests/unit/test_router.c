/*  test_router - route table, path params, 404/405, the access table, bearer, JSON bodies  */
#include "cf_test.h"

#include <stdio.h>
#include <string.h>

#include "cf_ca.h"
#include "cf_router.h"

static void s_handler(cf_req_t *req, void *app)
{
    (void) app;
    cf_req_reply_json(req, 200, NULL);
}

static const cf_route_t s_api[] = {
    {"GET", "/api/v1/health", CF_ACCESS_PUBLIC, s_handler, 0, 0},
    {"GET", "/api/v1/agents", CF_ACCESS_VIEWER, s_handler, 0, 0},
    {"PUT", "/api/v1/agents/favorite", CF_ACCESS_ADMIN, s_handler, CF_ROUTE_JSON, 0},
    {"GET", "/api/v1/agents/:id", CF_ACCESS_VIEWER, s_handler, 0, 0},
    {"GET", "/api/v1/certs/:component/:name", CF_ACCESS_VIEWER, s_handler, 0, 0},
    {"POST", "/api/v1/certs/:component/:name/export", CF_ACCESS_ADMIN, s_handler, CF_ROUTE_JSON, 0},
    {"PUT", "/api/v1/servers/:alias", CF_ACCESS_ADMIN, s_handler, CF_ROUTE_JSON, 0},
    {"DELETE", "/api/v1/servers/:alias", CF_ACCESS_ADMIN, s_handler, 0, 0},
    {"POST", "/api/v1/agent/checkin", CF_ACCESS_AGENT, s_handler, CF_ROUTE_JSON, 0},
};
#define S_N_API (sizeof(s_api) / sizeof(s_api[0]))

static cf_router_t *s_router(void)
{
    cf_router_t *r = NULL;
    cf_why_t why = {{0}};
    cf_router_cfg_t cfg = {NULL, NULL, 1, NULL};
    if (cf_router_new(s_api, S_N_API, &cfg, &r, &why) != CF_OK)
        fail_msg("router: %s", why.text);
    return r;
}

/* The match found route i of s_api (the router holds a copy of the table). */
static void s_is(const cf_router_match_t *m, size_t i)
{
    assert_non_null(m->route);
    assert_string_equal(m->route->method, s_api[i].method);
    assert_string_equal(m->route->pattern, s_api[i].pattern);
}

/* The i-th param's name and raw value as "name=value". */
static const char *s_param(const cf_router_match_t *m, size_t i, char *buf, size_t len)
{
    snprintf(buf, len, "%.*s=%.*s", (int) m->params[i].name_len, m->params[i].name,
             (int) m->params[i].value_len, m->params[i].value);
    return buf;
}

static void test_usage(void **state)
{
    (void) state;
    cf_router_t *router = s_router();
    cf_router_match_t m;
    assert_int_equal(cf_router_match(router, "GET", "/api/v1/agents/agent-7", &m), CF_OK);
    s_is(&m, 3);
    assert_int_equal(m.n_params, 1);
    char buf[64];
    assert_string_equal(s_param(&m, 0, buf, sizeof(buf)), "id=agent-7");
    /* A viewer route: a console without a session must log in; an agent never gets in. */
    assert_int_equal(cf_router_access(m.route->access, CF_PEER_CONSOLE, 1, CF_ROLE_NONE),
                     CF_VERDICT_UNAUTHENTICATED);
    assert_int_equal(cf_router_access(m.route->access, CF_PEER_CONSOLE, 1, CF_ROLE_VIEWER),
                     CF_VERDICT_ALLOW);
    assert_int_equal(cf_router_access(m.route->access, CF_PEER_AGENT, 1, CF_ROLE_ADMIN),
                     CF_VERDICT_FORBIDDEN);
    /* The migration switch is the router's, flipped at run time. */
    assert_int_equal(cf_router_allow_plain(router), 1);
    cf_router_set_allow_plain(router, 0);
    assert_int_equal(cf_router_allow_plain(router), 0);
    cf_router_destroy(&router);
    cf_router_destroy(&router); /* idempotent */
    assert_null(router);
}

static void test_match_params_and_literals(void **state)
{
    (void) state;
    cf_router_t *router = s_router();
    cf_router_match_t m;
    char buf[64];
    /* a literal segment wins when its route comes first */
    assert_int_equal(cf_router_match(router, "PUT", "/api/v1/agents/favorite", &m), CF_OK);
    s_is(&m, 2);
    assert_int_equal(m.n_params, 0);
    /* two params, in pattern order, still percent-encoded */
    assert_int_equal(cf_router_match(router, "POST", "/api/v1/certs/server/srv%2D1/export", &m),
                     CF_OK);
    s_is(&m, 5);
    assert_int_equal(m.n_params, 2);
    assert_string_equal(s_param(&m, 0, buf, sizeof(buf)), "component=server");
    assert_string_equal(s_param(&m, 1, buf, sizeof(buf)), "name=srv%2D1");
    /* HEAD is answered by the GET route */
    assert_int_equal(cf_router_match(router, "HEAD", "/api/v1/health", &m), CF_OK);
    s_is(&m, 0);
    /* near misses: trailing slash, empty param, extra or missing segment, case, prefix */
    static const char *const missing[] = {
        "/api/v1/health/",
        "/api/v1/agents/",
        "/api/v1/agents//x",
        "/api/v1/certs/server",
        "/api/v1/certs/server/a/b/c",
        "/API/v1/health",
        "/api/v1/healthz",
        "/api/v1",
        "/",
        "",
        "api/v1/health",
        "//api/v1/health",
    };
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        if (cf_router_match(router, "GET", missing[i], &m) != CF_ERR_NOTFOUND)
            fail_msg("'%s' should be 404", missing[i]);
        assert_null(m.route);
    }
    cf_router_destroy(&router);
}

static void test_method_not_allowed(void **state)
{
    (void) state;
    cf_router_t *router = s_router();
    cf_router_match_t m;
    assert_int_equal(cf_router_match(router, "POST", "/api/v1/health", &m), CF_ERR_STATE);
    assert_string_equal(m.allow, "GET");
    /* every method whose pattern matches is listed once, in table order */
    assert_int_equal(cf_router_match(router, "PATCH", "/api/v1/servers/srv1", &m), CF_ERR_STATE);
    assert_string_equal(m.allow, "PUT, DELETE");
    /* /agents/favorite matches both the literal PUT and the GET :id pattern */
    assert_int_equal(cf_router_match(router, "DELETE", "/api/v1/agents/favorite", &m),
                     CF_ERR_STATE);
    assert_string_equal(m.allow, "PUT, GET");
    assert_int_equal(cf_router_match(router, "GET", "/api/v1/agents/favorite", &m), CF_OK);
    s_is(&m, 3);
    /* methods the table never uses */
    assert_int_equal(cf_router_match(router, "OPTIONS", "/api/v1/health", &m), CF_ERR_STATE);
    assert_int_equal(cf_router_match(router, "BREW", "/api/v1/health", &m), CF_ERR_STATE);
    /* caps and misuse */
    char longpath[CF_ROUTER_MAX_PATH + 2];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(cf_router_match(router, "GET", longpath, &m), CF_ERR_TOOBIG);
    assert_int_equal(cf_router_match(router, NULL, "/", &m), CF_ERR_INVALID);
    assert_int_equal(cf_router_match(NULL, "GET", "/", &m), CF_ERR_INVALID);
    cf_router_destroy(&router);
}

/* One route table that cf_router_new must refuse with rc. */
static void s_refused(cf_route_t route, cf_err_t rc)
{
    cf_route_t table[2] = {{"GET", "/ok", CF_ACCESS_PUBLIC, s_handler, 0, 0}, route};
    cf_router_t *r = NULL;
    cf_why_t why = {{0}};
    if (cf_router_new(table, 2, NULL, &r, &why) != rc)
        fail_msg("route %s %s should fail with %s", route.method ? route.method : "(null)",
                 route.pattern ? route.pattern : "(null)", cf_err_name(rc));
    assert_null(r);
    assert_true(why.text[0] != '\0');
}

static void test_new_rejects_bad_tables(void **state)
{
    (void) state;
    s_refused((cf_route_t){"GOT", "/a", CF_ACCESS_PUBLIC, s_handler, 0, 0}, CF_ERR_INVALID);
    s_refused((cf_route_t){NULL, "/a", CF_ACCESS_PUBLIC, s_handler, 0, 0}, CF_ERR_INVALID);
    s_refused((cf_route_t){"HEAD", "/a", CF_ACCESS_PUBLIC, s_handler, 0, 0}, CF_ERR_INVALID);
    s_refused((cf_route_t){"GET", "/a", CF_ACCESS_PUBLIC, NULL, 0, 0}, CF_ERR_INVALID);
    s_refused((cf_route_t){"GET", "/a", (cf_access_t) 9, s_handler, 0, 0}, CF_ERR_INVALID);
    s_refused((cf_route_t){"GET", NULL, CF_ACCESS_PUBLIC, s_handler, 0, 0}, CF_ERR_INVALID);
    s_refused((cf_route_t){"GET", "a", CF_ACCESS_PUBLIC, s_handler, 0, 0}, CF_ERR_INVALID);
    s_refused((cf_route_t){"GET", "/a//b", CF_ACCESS_PUBLIC, s_handler, 0, 0}, CF_ERR_INVALID);
    s_refused((cf_route_t){"GET", "/a/", CF_ACCESS_PUBLIC, s_handler, 0, 0}, CF_ERR_INVALID);
    s_refused((cf_route_t){"GET", "/a/:", CF_ACCESS_PUBLIC, s_handler, 0, 0}, CF_ERR_INVALID);
    s_refused((cf_route_t){"GET", "/a b", CF_ACCESS_PUBLIC, s_handler, 0, 0}, CF_ERR_INVALID);
    s_refused((cf_route_t){"GET", "/a?x", CF_ACCESS_PUBLIC, s_handler, 0, 0}, CF_ERR_INVALID);
    s_refused((cf_route_t){"GET", "/ok", CF_ACCESS_ADMIN, s_handler, 0, 0}, CF_ERR_INVALID);
    s_refused((cf_route_t){"GET", "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17", CF_ACCESS_PUBLIC,
                           s_handler, 0, 0},
              CF_ERR_TOOBIG);
    s_refused((cf_route_t){"GET", "/:a/:b/:c/:d/:e/:f/:g/:h/:i", CF_ACCESS_PUBLIC, s_handler, 0, 0},
              CF_ERR_TOOBIG);
    /* too many routes */
    static cf_route_t many[CF_ROUTER_MAX_ROUTES + 1];
    cf_router_t *r = NULL;
    assert_int_equal(cf_router_new(many, CF_ROUTER_MAX_ROUTES + 1, NULL, &r, NULL), CF_ERR_TOOBIG);
    assert_int_equal(cf_router_new(NULL, 1, NULL, &r, NULL), CF_ERR_INVALID);
    assert_null(r);
    /* the limits themselves are fine, and an empty table too */
    cf_route_t edge = {"GET", "/:a/:b/:c/:d/:e/:f/:g/:h", CF_ACCESS_PUBLIC, s_handler, 0, 0};
    assert_int_equal(cf_router_new(&edge, 1, NULL, &r, NULL), CF_OK);
    cf_router_destroy(&r);
    assert_int_equal(cf_router_new(NULL, 0, NULL, &r, NULL), CF_OK);
    cf_router_match_t m;
    assert_int_equal(cf_router_match(r, "GET", "/", &m), CF_ERR_NOTFOUND);
    cf_router_destroy(&r);
}

/* The expected verdict of every (access class, peer kind, allow-plain, role), written out
   by hand from docs/server.md: A allow, U 401, F 403. Each string: allow-plain off with
   roles none/viewer/admin, a space, then allow-plain on with the same three roles. */
static const char *const s_expect[4][CF_PEER_KINDS] = {
    /*            plain      no cert    agent      console    other */
    /* PUBLIC */ {"FFF FFF", "AAA AAA", "AAA AAA", "AAA AAA", "AAA AAA"},
    /* AGENT  */ {"FFF AAA", "FFF AAA", "AAA AAA", "FFF FFF", "FFF FFF"},
    /* VIEWER */ {"FFF FFF", "UAA UAA", "FFF FFF", "UAA UAA", "UAA UAA"},
    /* ADMIN  */ {"FFF FFF", "UFA UFA", "FFF FFF", "UFA UFA", "UFA UFA"},
};

static void test_access_table_is_exhaustive(void **state)
{
    (void) state;
    static const char code[] = {'A', 'U', 'F'}; /* by cf_verdict_t */
    int checked = 0;
    for (int a = CF_ACCESS_PUBLIC; a <= CF_ACCESS_ADMIN; a++) {
        for (int k = 0; k < CF_PEER_KINDS; k++) {
            for (int ap = 0; ap <= 1; ap++) {
                for (int role = CF_ROLE_NONE; role <= CF_ROLE_ADMIN; role++) {
                    cf_verdict_t v =
                        cf_router_access((cf_access_t) a, (cf_peer_kind_t) k, ap, (cf_role_t) role);
                    char want = s_expect[a][k][ap * 4 + role];
                    if (code[v] != want)
                        fail_msg("access=%s peer=%s allow_plain=%d role=%s: got %c, want %c",
                                 cf_access_name((cf_access_t) a),
                                 cf_peer_kind_name((cf_peer_kind_t) k), ap,
                                 cf_role_name((cf_role_t) role), code[v], want);
                    checked++;
                }
            }
        }
    }
    assert_int_equal(checked, 4 * CF_PEER_KINDS * 2 * 3);
    /* out-of-range values refuse instead of allowing */
    assert_int_equal(cf_router_access((cf_access_t) 42, CF_PEER_CONSOLE, 1, CF_ROLE_ADMIN),
                     CF_VERDICT_FORBIDDEN);
    assert_int_equal(cf_router_access(CF_ACCESS_VIEWER, CF_PEER_CONSOLE, 1, (cf_role_t) 9),
                     CF_VERDICT_UNAUTHENTICATED);
    assert_int_equal(cf_router_access(CF_ACCESS_AGENT, (cf_peer_kind_t) 9, 1, CF_ROLE_ADMIN),
                     CF_VERDICT_FORBIDDEN);
}

static void test_session_consulted_only_where_it_decides(void **state)
{
    (void) state;
    for (int a = CF_ACCESS_PUBLIC; a <= CF_ACCESS_ADMIN; a++) {
        for (int k = 0; k < CF_PEER_KINDS; k++) {
            /* a session matters exactly when some role changes the verdict */
            int differs = 0;
            for (int ap = 0; ap <= 1; ap++)
                differs |= s_expect[a][k][ap * 4] != s_expect[a][k][ap * 4 + 2];
            assert_int_equal(cf_router_wants_session((cf_access_t) a, (cf_peer_kind_t) k), differs);
        }
    }
}

static void test_peer_kind_from_certificates(void **state)
{
    (void) state;
    cf_ca_t *ca = NULL;
    assert_int_equal(cf_ca_create(NULL, &ca), CF_OK);
    static const struct {
        cf_issue_t req;
        cf_peer_kind_t kind;
    } cases[] = {
        {{.component = CF_COMPONENT_AGENT, .name = "agent-7"}, CF_PEER_AGENT},
        {{.component = CF_COMPONENT_AGENT, .shared_agent = 1}, CF_PEER_AGENT},
        {{.component = CF_COMPONENT_CONSOLE, .name = "console"}, CF_PEER_CONSOLE},
        {{.component = CF_COMPONENT_SERVER, .name = "srv1"}, CF_PEER_OTHER},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cf_cert_t *cert = NULL;
        cf_key_t *key = NULL;
        assert_int_equal(cf_ca_issue(ca, &cases[i].req, &cert, &key), CF_OK);
        cf_https_peer_t peer = {.tls = 1, .cert = cert, .component = cf_cert_component(cert)};
        assert_int_equal(cf_router_peer_kind(&peer), cases[i].kind);
        peer.tls = 0; /* a certificate cannot come over the plain listener: plain wins */
        assert_int_equal(cf_router_peer_kind(&peer), CF_PEER_PLAIN);
        cf_cert_destroy(&cert);
        cf_key_destroy(&key);
    }
    cf_https_peer_t none = {.tls = 1};
    assert_int_equal(cf_router_peer_kind(&none), CF_PEER_NOCERT);
    assert_int_equal(cf_router_peer_kind(NULL), CF_PEER_PLAIN);
    assert_string_equal(cf_peer_kind_name(CF_PEER_NOCERT), "none");
    cf_ca_destroy(&ca);
}

static void test_bearer(void **state)
{
    (void) state;
    char tok[CF_ROUTER_MAX_TOKEN + 1];
    assert_int_equal(cf_router_bearer("Bearer abc.DEF-123_~+/=", tok, sizeof(tok)), CF_OK);
    assert_string_equal(tok, "abc.DEF-123_~+/=");
    assert_int_equal(cf_router_bearer("bearer   xyz", tok, sizeof(tok)), CF_OK);
    assert_string_equal(tok, "xyz");
    assert_int_equal(cf_router_bearer(NULL, tok, sizeof(tok)), CF_ERR_NOTFOUND);
    assert_int_equal(cf_router_bearer("Basic YWRtaW46eA==", tok, sizeof(tok)), CF_ERR_NOTFOUND);
    assert_int_equal(cf_router_bearer("Bearer", tok, sizeof(tok)), CF_ERR_NOTFOUND);
    assert_int_equal(cf_router_bearer("Bearer ", tok, sizeof(tok)), CF_ERR_INVALID);
    assert_int_equal(cf_router_bearer("Bearer a b", tok, sizeof(tok)), CF_ERR_INVALID);
    assert_int_equal(cf_router_bearer("Bearer a\"b", tok, sizeof(tok)), CF_ERR_INVALID);
    assert_int_equal(cf_router_bearer("Bearer abc\r\n", tok, sizeof(tok)), CF_ERR_INVALID);
    assert_int_equal(cf_router_bearer("Bearer abcdef", tok, 4), CF_ERR_TOOBIG);
    char big[CF_ROUTER_MAX_TOKEN + 16];
    snprintf(big, sizeof(big), "Bearer %0*d", CF_ROUTER_MAX_TOKEN + 1, 0);
    assert_int_equal(cf_router_bearer(big, tok, sizeof(tok)), CF_ERR_TOOBIG);
}

static void test_json_content_type(void **state)
{
    (void) state;
    static const char *const yes[] = {"application/json", "Application/JSON",
                                      "application/json; charset=utf-8", " application/json ",
                                      "application/json;"};
    static const char *const no[] = {NULL,
                                     "",
                                     "text/plain",
                                     "application/jsonx",
                                     "application/json-patch+json",
                                     "application/x-www-form-urlencoded",
                                     "multipart/form-data"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        assert_true(cf_router_is_json_type(yes[i]));
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        assert_false(cf_router_is_json_type(no[i]));
}

/* JSON text nested n levels deep: {"a":{"a":...{}...}} */
static char *s_nested(int n)
{
    char *buf = test_malloc((size_t) n * 6 + 8);
    size_t at = 0;
    for (int i = 0; i < n - 1; i++)
        at += (size_t) sprintf(buf + at, "{\"a\":");
    at += (size_t) sprintf(buf + at, "{}");
    for (int i = 0; i < n - 1; i++)
        buf[at++] = '}';
    buf[at] = '\0';
    return buf;
}

static void test_parse_json_bodies(void **state)
{
    (void) state;
    json_t *j = NULL;
    cf_why_t why = {{0}};
    const char *ok = "{\"id\":\"agent-7\",\"tags\":[\"[{\",\"\\\"}\"]}"; /* brackets in strings */
    assert_int_equal(cf_router_parse_json(ok, strlen(ok), &j, &why), CF_OK);
    assert_string_equal(json_string_value(json_object_get(j, "id")), "agent-7");
    json_decref(j);
    static const char *const bad[] = {
        "",           "{",       "[]",         "\"text\"", "42", "null", "{\"a\":1,\"a\":2}",
        "{\"a\":1}x", "{'a':1}", "{\"a\":1,}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        j = (json_t *) 0x1;
        if (cf_router_parse_json(bad[i], strlen(bad[i]), &j, &why) != CF_ERR_INVALID)
            fail_msg("'%s' should be refused", bad[i]);
        assert_null(j);
        assert_true(why.text[0] != '\0');
    }
    char *deep = s_nested(CF_ROUTER_JSON_DEPTH);
    assert_int_equal(cf_router_parse_json(deep, strlen(deep), &j, &why), CF_OK);
    json_decref(j);
    test_free(deep);
    deep = s_nested(CF_ROUTER_JSON_DEPTH + 1);
    assert_int_equal(cf_router_parse_json(deep, strlen(deep), &j, &why), CF_ERR_INVALID);
    assert_non_null(strstr(why.text, "nested"));
    test_free(deep);
    /* more brackets than the limit, none of them deep (in strings, side by side): taken; the
       same number nested: refused (the count only decides whether the walk is needed) */
    char wide[4 * CF_ROUTER_JSON_DEPTH + 64];
    int at = snprintf(wide, sizeof(wide), "{\"s\":\"");
    for (int i = 0; i <= CF_ROUTER_JSON_DEPTH; i++)
        wide[at++] = i % 2 ? '{' : '[';
    at += snprintf(wide + at, sizeof(wide) - (size_t) at, "\",\"a\":[");
    for (int i = 0; i <= CF_ROUTER_JSON_DEPTH; i++)
        at += snprintf(wide + at, sizeof(wide) - (size_t) at, "%s[]", i ? "," : "");
    at += snprintf(wide + at, sizeof(wide) - (size_t) at, "]}");
    assert_int_equal(cf_router_parse_json(wide, (size_t) at, &j, &why), CF_OK);
    json_decref(j);
    char arrays[2 * CF_ROUTER_JSON_DEPTH + 8];
    at = snprintf(arrays, sizeof(arrays), "{\"a\":");
    for (int i = 0; i < CF_ROUTER_JSON_DEPTH; i++)
        arrays[at++] = '[';
    for (int i = 0; i < CF_ROUTER_JSON_DEPTH; i++)
        arrays[at++] = ']';
    arrays[at++] = '}';
    assert_int_equal(cf_router_parse_json(arrays, (size_t) at, &j, &why), CF_ERR_INVALID);
    assert_non_null(strstr(why.text, "nested"));
    /* a body holding a NUL byte is not silently cut at it */
    assert_int_equal(cf_router_parse_json("{}\0{}", 5, &j, &why), CF_ERR_INVALID);
}

/* Every allocation cf_router_new makes may fail: it then returns CF_ERR_NOMEM, no router. */
static void test_new_survives_allocation_failure(void **state)
{
    (void) state;
    cf_router_t *r = NULL;
    cf_err_t rc = CF_ERR_NOMEM;
    long n = 0;
    for (; rc == CF_ERR_NOMEM && n < 16; n++) {
        cf_test_alloc_fail_at(n);
        rc = cf_router_new(s_api, S_N_API, NULL, &r, NULL);
        if (rc == CF_ERR_NOMEM)
            assert_null(r);
    }
    cf_test_alloc_fail_at(-1);
    assert_int_equal(rc, CF_OK);
    assert_true(n > 1); /* at least one failure was injected and survived */
    cf_router_destroy(&r);
}

/* The reference matcher: the pattern and the path split at '/', segment by segment. */
static int s_ref_match(const char *pat, const char *path, size_t *n_params)
{
    *n_params = 0;
    if (pat[0] != '/' || path[0] != '/')
        return 0;
    for (;;) {
        pat++, path++;
        size_t pl = strcspn(pat, "/"), l = strcspn(path, "/");
        if (pat[0] == ':') {
            if (l == 0)
                return 0;
            (*n_params)++;
        } else if (pl != l || strncmp(pat, path, l) != 0) {
            return 0;
        }
        pat += pl, path += l;
        if (*pat == '\0' || *path == '\0')
            return *pat == '\0' && *path == '\0';
    }
}

/* Every path made of up to four segments from a small alphabet (literal segments, their
   prefixes and extensions, empty ones) is routed as the reference matcher routes it: the
   literal-prefix shortcut never changes a result. The table has params first, in the
   middle and last. */
static void test_prefix_shortcut_matches_reference(void **state)
{
    (void) state;
    static const cf_route_t api[] = {
        {"GET", "/a/b", CF_ACCESS_PUBLIC, s_handler, 0, 0},
        {"GET", "/a/:x", CF_ACCESS_PUBLIC, s_handler, 0, 0},
        {"GET", "/:y/b/c", CF_ACCESS_PUBLIC, s_handler, 0, 0},
        {"GET", "/a/:x/c", CF_ACCESS_PUBLIC, s_handler, 0, 0},
        {"GET", "/ab/b", CF_ACCESS_PUBLIC, s_handler, 0, 0},
        {"GET", "/a", CF_ACCESS_PUBLIC, s_handler, 0, 0},
        {"GET", "/a/b/:z/:w", CF_ACCESS_PUBLIC, s_handler, 0, 0},
    };
    static const char *const segs[] = {"a", "ab", "b", "c", "", "bc"};
    enum { N_API = sizeof(api) / sizeof(api[0]), N_SEGS = sizeof(segs) / sizeof(segs[0]) };
    cf_router_t *r = NULL;
    cf_router_cfg_t cfg = {NULL, NULL, 0, NULL};
    assert_int_equal(cf_router_new(api, N_API, &cfg, &r, NULL), CF_OK);
    size_t tried = 0, matched = 0;
    for (size_t depth = 1; depth <= 4; depth++) {
        size_t combos = 1;
        for (size_t d = 0; d < depth; d++)
            combos *= N_SEGS;
        for (size_t c = 0; c < combos; c++) {
            char path[64] = "";
            for (size_t d = 0, k = c; d < depth; d++, k /= N_SEGS) {
                strcat(path, "/");
                strcat(path, segs[k % N_SEGS]);
            }
            size_t want = N_API, want_params = 0, n = 0;
            for (size_t i = 0; i < N_API && want == N_API; i++) {
                if (s_ref_match(api[i].pattern, path, &n))
                    want = i, want_params = n;
            }
            cf_router_match_t m;
            cf_err_t rc = cf_router_match(r, "GET", path, &m);
            tried++;
            if (want == N_API) {
                if (rc != CF_ERR_NOTFOUND)
                    fail_msg("'%s' should be 404, got %s", path, cf_err_str(rc));
                continue;
            }
            matched++;
            if (rc != CF_OK || strcmp(m.route->pattern, api[want].pattern) != 0 ||
                m.n_params != want_params)
                fail_msg("'%s' should match %s", path, api[want].pattern);
        }
    }
    assert_int_equal(tried, 6 + 36 + 216 + 1296);
    assert_true(matched > 20); /* the alphabet reaches every route, not only misses */
    cf_router_destroy(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_match_params_and_literals),
        cmocka_unit_test(test_method_not_allowed),
        cmocka_unit_test(test_prefix_shortcut_matches_reference),
        cmocka_unit_test(test_new_rejects_bad_tables),
        cmocka_unit_test(test_access_table_is_exhaustive),
        cmocka_unit_test(test_session_consulted_only_where_it_decides),
        cmocka_unit_test(test_peer_kind_from_certificates),
        cmocka_unit_test(test_bearer),
        cmocka_unit_test(test_json_content_type),
        cmocka_unit_test(test_parse_json_bodies),
        cmocka_unit_test(test_new_survives_allocation_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
