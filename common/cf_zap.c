/*  cf_zap - the broker's ZAP handler (RFC 27): CURVE keys checked against an in-memory list  */
#include "cf_zap.h"

#include <errno.h>
#include <string.h>

#include <czmq.h>

#include "cf_actor.h"
#include "cf_log.h"
#include "cf_mem.h"

/* Pipe commands (caller -> handler); every one gets exactly one reply. */
#define S_PUT   "PUT"   /* key, kind (1 byte), name -> "is" rc, why */
#define S_DEL   "DEL"   /* key -> "is" rc, why */
#define S_SWAP  "SWAP"  /* pointer to a cf_allow_t -> "p" the old list */
#define S_STATS "STATS" /* -> "888888" counters */

struct cf_zap {
    zactor_t *actor;                    /* the handler thread and its pipe */
    char domain[CF_ZAP_DOMAIN_MAX + 1]; /* "" = any domain */
};

/* The handler's own state: lives in and is freed by the actor thread. */
typedef struct {
    zsock_t *pipe;                      /* borrowed: the actor pipe */
    zsock_t *rep;                       /* ZAP socket bound to CF_ZAP_ENDPOINT; NULL if not */
    cf_allow_t *list;                   /* owned: the allow list */
    char domain[CF_ZAP_DOMAIN_MAX + 1]; /* "" = any domain */
    cf_zap_stats_t stats;               /* counters */
    int terminated;                     /* $TERM seen */
} s_handler_t;

static void s_handler_destroy(s_handler_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_handler_t *self = *self_p;
    if (self->rep) {
        /* unbinding inproc is synchronous: a new handler may bind as soon as we are gone */
        zmq_unbind(zsock_resolve(self->rep), CF_ZAP_ENDPOINT);
        zsock_destroy(&self->rep);
    }
    cf_allow_destroy(&self->list);
    cf_mem_free(self);
    *self_p = NULL;
}

/* ---- ZAP requests (RFC 27) ------------------------------------------------------------- */

static int s_frame_is(zframe_t *frame, const char *text)
{
    size_t n = strlen(text);
    return frame && zframe_size(frame) == n && memcmp(zframe_data(frame), text, n) == 0;
}

/* A ZMTP metadata property (RFC 23): name length (1 byte), name, value length (4 bytes,
   network order), value. */
static zframe_t *s_kind_metadata(cf_allow_kind_t kind)
{
    const char *name = CF_ZAP_KIND_PROP;
    const char *value = cf_allow_kind_name(kind);
    size_t nlen = strlen(name);
    size_t vlen = strlen(value);
    unsigned char buf[64];
    CF_ASSERT(1 + nlen + 4 + vlen <= sizeof(buf));
    buf[0] = (unsigned char) nlen;
    memcpy(buf + 1, name, nlen);
    unsigned char *p = buf + 1 + nlen;
    p[0] = p[1] = p[2] = 0;
    p[3] = (unsigned char) vlen;
    memcpy(p + 4, value, vlen);
    return zframe_new(buf, 1 + nlen + 4 + vlen);
}

static zmsg_t *s_reply(zframe_t *request_id, const char *status, const char *text,
                       const char *user_id, zframe_t **metadata_p)
{
    zmsg_t *reply = zmsg_new();
    zmsg_addstr(reply, "1.0");
    if (request_id)
        zmsg_addmem(reply, zframe_data(request_id), zframe_size(request_id));
    else
        zmsg_addmem(reply, "", 0);
    zmsg_addstr(reply, status);
    zmsg_addstr(reply, text);
    zmsg_addstr(reply, user_id);
    if (metadata_p && *metadata_p)
        zmsg_append(reply, metadata_p);
    else
        zmsg_addmem(reply, "", 0);
    return reply;
}

static void s_log_denial(const char *reason, zframe_t *address, zframe_t *key)
{
    if (cf_log_level() > CF_LOG_DEBUG)
        return;
    char z85[CF_CURVE_Z85_LEN + 1] = "-";
    if (key && zframe_size(key) == CF_CURVE_KEY_LEN)
        cf_curve_z85_encode(zframe_data(key), z85);
    char *addr = address ? zframe_strdup(address) : NULL;
    cf_log(CF_LOG_DEBUG, "zap=deny reason=%s key=%s addr=%.64s", reason, z85, addr ? addr : "-");
    zstr_free(&addr);
}

/* The answer to one request; frames: version, request id, domain, address, routing id,
   mechanism, credentials... */
static zmsg_t *s_answer(s_handler_t *self, zmsg_t *req)
{
    size_t frames = zmsg_size(req);
    zframe_t *version = zmsg_first(req);
    zframe_t *request_id = zmsg_next(req);
    zframe_t *domain = zmsg_next(req);
    zframe_t *address = zmsg_next(req);
    (void) zmsg_next(req); /* the peer's routing id: the broker checks it, not ZAP */
    zframe_t *mechanism = zmsg_next(req);
    zframe_t *key = zmsg_next(req);
    if (frames < 6 || !s_frame_is(version, "1.0")) {
        self->stats.bad_request++;
        s_log_denial("bad-request", NULL, NULL);
        return s_reply(request_id, "500", "malformed ZAP request", "", NULL);
    }
    if (!s_frame_is(mechanism, "CURVE")) {
        self->stats.denied_mechanism++;
        s_log_denial("mechanism", address, NULL);
        return s_reply(request_id, "400", "CURVE only", "", NULL);
    }
    if (self->domain[0] && !s_frame_is(domain, self->domain)) {
        self->stats.denied_domain++;
        s_log_denial("domain", address, key);
        return s_reply(request_id, "400", "wrong ZAP domain", "", NULL);
    }
    if (frames != 7 || zframe_size(key) != CF_CURVE_KEY_LEN) {
        self->stats.bad_request++;
        s_log_denial("bad-request", address, NULL);
        return s_reply(request_id, "500", "malformed CURVE credentials", "", NULL);
    }
    cf_allow_kind_t kind = 0;
    const char *id = cf_allow_find(self->list, zframe_data(key), &kind);
    if (!id) {
        self->stats.denied_unknown++;
        s_log_denial("unknown-key", address, key);
        return s_reply(request_id, "400", "key not allowed", "", NULL);
    }
    self->stats.allowed++;
    zframe_t *metadata = s_kind_metadata(kind);
    return s_reply(request_id, "200", "OK", id, &metadata);
}

static void s_handle_zap(s_handler_t *self)
{
    zmsg_t *req = zmsg_recv(self->rep);
    if (!req)
        return; /* interrupted: a REP socket that received nothing owes no reply */
    zmsg_t *reply = s_answer(self, req);
    zmsg_destroy(&req);
    if (zmsg_send(&reply, self->rep) != 0)
        zmsg_destroy(&reply);
}

/* ---- commands from the owner ----------------------------------------------------------- */

/* Pop a frame of exactly len bytes into dst; 0 if there is none. */
static int s_pop_exact(zmsg_t *msg, void *dst, size_t len)
{
    zframe_t *frame = zmsg_pop(msg);
    int ok = frame && zframe_size(frame) == len;
    if (ok)
        memcpy(dst, zframe_data(frame), len);
    zframe_destroy(&frame);
    return ok;
}

static void s_cmd_put(s_handler_t *self, zmsg_t *msg)
{
    unsigned char key[CF_CURVE_KEY_LEN];
    unsigned char kind = 0;
    cf_err_t rc = CF_ERR_INVALID;
    cf_why_t why = {""};
    char *name = NULL;
    if (s_pop_exact(msg, key, sizeof(key)) && s_pop_exact(msg, &kind, 1)) {
        name = zmsg_popstr(msg);
        rc = name ? cf_allow_put(self->list, key, (cf_allow_kind_t) kind, name, &why)
                  : CF_ERR_INVALID;
    }
    zstr_free(&name);
    zsock_send(self->pipe, "is", (int) rc, why.text);
}

static void s_cmd_del(s_handler_t *self, zmsg_t *msg)
{
    unsigned char key[CF_CURVE_KEY_LEN];
    cf_err_t rc = CF_ERR_INVALID;
    if (s_pop_exact(msg, key, sizeof(key)))
        rc = cf_allow_remove(self->list, key);
    zsock_send(self->pipe, "is", (int) rc, "");
}

static void s_cmd_swap(s_handler_t *self, zmsg_t *msg)
{
    cf_allow_t *fresh = NULL;
    CF_ASSERT(s_pop_exact(msg, &fresh, sizeof(fresh)) && fresh);
    cf_allow_t *old = self->list;
    self->list = fresh;
    zsock_send(self->pipe, "p", (void *) old); /* freed by the caller, off this thread */
}

static void s_handle_pipe(s_handler_t *self)
{
    zmsg_t *msg = zmsg_recv(self->pipe);
    if (!msg)
        return;
    char *cmd = zmsg_popstr(msg);
    if (!cmd || streq(cmd, "$TERM"))
        self->terminated = 1;
    else if (streq(cmd, S_PUT))
        s_cmd_put(self, msg);
    else if (streq(cmd, S_DEL))
        s_cmd_del(self, msg);
    else if (streq(cmd, S_SWAP))
        s_cmd_swap(self, msg);
    else if (streq(cmd, S_STATS)) {
        cf_zap_stats_t *s = &self->stats;
        s->keys = cf_allow_count(self->list);
        zsock_send(self->pipe, "888888", s->allowed, s->denied_unknown, s->denied_mechanism,
                   s->denied_domain, s->bad_request, s->keys);
    } else
        cf_assert_fail("known cf_zap pipe command", __FILE__, __LINE__); /* our own bug */
    zstr_free(&cmd);
    zmsg_destroy(&msg);
}

/* Bind the REP socket; 0 or an errno. */
static int s_bind(s_handler_t *self)
{
    self->rep = zsock_new(ZMQ_REP);
    if (!self->rep)
        return ENOMEM;
    if (zmq_bind(zsock_resolve(self->rep), CF_ZAP_ENDPOINT) == 0)
        return 0;
    int err = zmq_errno();
    zsock_destroy(&self->rep);
    return err ? err : EIO;
}

static void s_actor(zsock_t *pipe, void *args)
{
    s_handler_t *self = args;
    self->pipe = pipe;
    int err = s_bind(self);
    zsock_signal(pipe, 0);      /* zactor_new returns ... */
    zsock_send(pipe, "i", err); /* ... and cf_zap_new reads whether the bind worked */
    zpoller_t *poller = zpoller_new(pipe, self->rep, NULL); /* rep NULL: pipe only */
    CF_ASSERT(poller);
    /* A signal must not end the handler: without it libzmq would let every key in. */
    zpoller_set_nonstop(poller, true);
    while (!self->terminated) {
        void *which = zpoller_wait(poller, -1);
        if (which == pipe)
            s_handle_pipe(self);
        else if (which && which == self->rep)
            s_handle_zap(self);
        else if (zpoller_terminated(poller))
            break; /* the context is shutting down */
    }
    zpoller_destroy(&poller);
    s_handler_destroy(&self);
}

/* ---- the owner's side ------------------------------------------------------------------ */

static cf_err_t s_new_handler(const cf_zap_cfg_t *cfg, s_handler_t **out, cf_why_t *why)
{
    size_t dlen = cfg->domain ? strnlen(cfg->domain, CF_ZAP_DOMAIN_MAX + 1) : 0;
    if (dlen > CF_ZAP_DOMAIN_MAX)
        return cf_why(why, CF_ERR_INVALID, "a ZAP domain is at most %d bytes", CF_ZAP_DOMAIN_MAX);
    s_handler_t *h = cf_mem_calloc(1, sizeof(*h));
    if (!h)
        return CF_ERR_NOMEM;
    cf_err_t rc = cf_allow_new(cfg->max_keys, 0, &h->list);
    if (rc != CF_OK) {
        cf_mem_free(h);
        return cf_why(why, rc, "allow list: %s", cf_err_str(rc));
    }
    memcpy(h->domain, cfg->domain ? cfg->domain : "", dlen);
    h->domain[dlen] = '\0';
    *out = h;
    return CF_OK;
}

cf_err_t cf_zap_new(const cf_zap_cfg_t *cfg, cf_zap_t **out, cf_why_t *why)
{
    if (!out)
        return CF_ERR_INVALID;
    *out = NULL;
    static const cf_zap_cfg_t defaults = {NULL, 0};
    if (!cfg)
        cfg = &defaults;
    s_handler_t *h = NULL;
    CF_TRY(s_new_handler(cfg, &h, why));
    cf_zap_t *self = cf_mem_calloc(1, sizeof(*self));
    if (!self) {
        s_handler_destroy(&h);
        return CF_ERR_NOMEM;
    }
    memcpy(self->domain, h->domain, sizeof(self->domain));
    self->actor = zactor_new(s_actor, h); /* h belongs to the actor thread from here on */
    int err = EIO;
    if (!self->actor)
        s_handler_destroy(&h); /* no thread ever ran */
    else if (cf_actor_answer(self->actor, "i", &err) != 0)
        err = EIO;
    if (err == 0) {
        *out = self;
        return CF_OK;
    }
    cf_zap_destroy(&self);
    if (err == EADDRINUSE)
        return cf_why(why, CF_ERR_EXISTS, "a ZAP handler is already bound at %s in this process",
                      CF_ZAP_ENDPOINT);
    return cf_why(why, err == ENOMEM ? CF_ERR_NOMEM : CF_ERR_IO, "cannot bind %s: %s",
                  CF_ZAP_ENDPOINT, zmq_strerror(err));
}

void cf_zap_destroy(cf_zap_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_zap_t *self = *self_p;
    zactor_destroy(&self->actor); /* sends $TERM and waits for the thread to finish */
    cf_mem_free(self);
    *self_p = NULL;
}

const char *cf_zap_domain(const cf_zap_t *self)
{
    return self ? self->domain : "";
}

/* Read the "is" reply to a PUT or DEL. */
static cf_err_t s_status_reply(cf_zap_t *self, cf_why_t *why)
{
    int rc = CF_ERR_IO;
    char *text = NULL;
    if (cf_actor_answer(self->actor, "is", &rc, &text) != 0)
        return CF_ERR_IO;
    if (rc < 0 || rc >= CF_ERR_COUNT_)
        rc = CF_ERR_IO;
    if (rc != CF_OK && text && text[0])
        cf_why(why, (cf_err_t) rc, "%s", text);
    zstr_free(&text);
    return (cf_err_t) rc;
}

cf_err_t cf_zap_put(cf_zap_t *self, const unsigned char key[CF_CURVE_KEY_LEN], cf_allow_kind_t kind,
                    const char *name, cf_why_t *why)
{
    if (!self || !key || !name)
        return CF_ERR_INVALID;
    CF_TRY(cf_allow_check_name(kind, name, why));
    unsigned char k = (unsigned char) kind;
    if (cf_actor_request(self->actor, "sbbs", S_PUT, key, (size_t) CF_CURVE_KEY_LEN, &k, (size_t) 1,
                         name) != 0)
        return CF_ERR_IO;
    return s_status_reply(self, why);
}

cf_err_t cf_zap_remove(cf_zap_t *self, const unsigned char key[CF_CURVE_KEY_LEN])
{
    if (!self || !key)
        return CF_ERR_INVALID;
    if (cf_actor_request(self->actor, "sb", S_DEL, key, (size_t) CF_CURVE_KEY_LEN) != 0)
        return CF_ERR_IO;
    return s_status_reply(self, NULL);
}

cf_err_t cf_zap_replace(cf_zap_t *self, cf_allow_t **list_p)
{
    if (!self || !list_p || !*list_p)
        return CF_ERR_INVALID;
    cf_allow_t *fresh = *list_p;
    if (cf_actor_request(self->actor, "sb", S_SWAP, &fresh, sizeof(fresh)) != 0)
        return CF_ERR_IO;
    *list_p = NULL; /* the handler's now */
    void *old = NULL;
    if (cf_actor_answer(self->actor, "p", &old) != 0)
        return CF_ERR_IO;
    cf_allow_t *old_list = old;
    cf_allow_destroy(&old_list);
    return CF_OK;
}

cf_err_t cf_zap_stats(cf_zap_t *self, cf_zap_stats_t *out)
{
    if (!self || !out)
        return CF_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    if (cf_actor_request(self->actor, "s", S_STATS) != 0)
        return CF_ERR_IO;
    if (cf_actor_answer(self->actor, "888888", &out->allowed, &out->denied_unknown,
                        &out->denied_mechanism, &out->denied_domain, &out->bad_request,
                        &out->keys) != 0)
        return CF_ERR_IO;
    return CF_OK;
}
