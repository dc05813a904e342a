/*  cf_itest_store - cf_store and cf_store_sub fixtures for integration tests  */
#include "cf_itest.h"

#include <stdio.h>
#include <string.h>

#include "cf_test.h"

cf_store_t *cf_itest_store_at(int port, cf_store_cfg_t *cfg)
{
    cf_store_cfg_t local;
    if (!cfg) {
        cf_store_cfg_init(&local);
        cfg = &local;
    }
    char text[64];
    snprintf(text, sizeof(text), "127.0.0.1:%d", port);
    cf_why_t why = {""};
    if (cf_store_cfg_parse_redis(cfg, text, &why) != CF_OK)
        fail_msg("%s: %s", text, why.text);
    cfg->backoff_min_ms = 10;
    cfg->backoff_max_ms = 100;
    cf_store_t *store = NULL;
    if (cf_store_new(cfg, &store, &why) != CF_OK)
        fail_msg("cf_store_new: %s", why.text);
    return store;
}

static void s_on_msg(void *arg, const char *ch, size_t ch_len, const char *payload, size_t len)
{
    cf_itest_sub_t *c = arg;
    c->messages++;
    snprintf(c->channel, sizeof(c->channel), "%.*s", (int) ch_len, ch);
    memcpy(c->payload, payload, len < sizeof(c->payload) ? len : sizeof(c->payload));
    c->payload_len = len;
}

static void s_on_resync(void *arg)
{
    ((cf_itest_sub_t *) arg)->resyncs++;
}

void cf_itest_sub_open(cf_itest_sub_t *c, const cf_store_cfg_t *cfg)
{
    memset(c, 0, sizeof(*c));
    c->base = event_base_new();
    if (!c->base)
        fail_msg("event_base_new failed");
    cf_why_t why = {""};
    if (cf_store_sub_new(cfg, c->base, s_on_msg, s_on_resync, c, &c->sub, &why) != CF_OK)
        fail_msg("cf_store_sub_new: %s", why.text);
}

void cf_itest_sub_close(cf_itest_sub_t *c)
{
    cf_store_sub_destroy(&c->sub);
    if (c->base)
        event_base_free(c->base);
    c->base = NULL;
}

int cf_itest_sub_resynced(void *arg)
{
    cf_itest_sub_t *c = arg;
    event_base_loop(c->base, EVLOOP_NONBLOCK);
    char port[16];
    snprintf(port, sizeof(port), ":%d", c->want_port);
    return c->resyncs >= c->want && cf_store_sub_ready(c->sub) &&
           (c->want_port == 0 || strstr(cf_store_sub_server(c->sub), port));
}

int cf_itest_sub_messaged(void *arg)
{
    cf_itest_sub_t *c = arg;
    event_base_loop(c->base, EVLOOP_NONBLOCK);
    return c->messages >= (int) c->want;
}

int cf_itest_sub_down(void *arg)
{
    cf_itest_sub_t *c = arg;
    event_base_loop(c->base, EVLOOP_NONBLOCK);
    return !cf_store_sub_ready(c->sub);
}
