/*  fuzz_store_reply - Redis replies as outside input: capped builders, decoders, schema reads  */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "cf_db_archive.h"
#include "cf_db_util.h"
#include "cf_mem.h"
#include "cf_store_reply.h"

/* Input: byte 0 picks the caps (so small caps are hit often), byte 1 how the rest is fed
   (in one piece or in chunks, as a socket delivers it); the rest is raw RESP, parsed by a
   hiredis reader with the cf_store_caps builders as cf_store does. Every reply that comes
   out goes through the cf_store_reply decoders and the cf_db reply decoders. The seed
   corpus in corpus/store_reply/ holds replies of each shape the store and schema read. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_REPLIES 64 /* replies taken from one input */

/* Abort (a finding) unless the invariant holds. */
static void s_check(int cond)
{
    if (!cond)
        abort();
}

/* The first error reply in depth-first order, or NULL. */
static const redisReply *s_first_error(const redisReply *r)
{
    if (r->type == REDIS_REPLY_ERROR)
        return r;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const redisReply *e = s_first_error(r->element[i]);
        if (e)
            return e;
    }
    return NULL;
}

/* The schema's decoders on one node: each either fails cleanly or gives a value that
   obeys its contract. */
static void s_db_node(const redisReply *r)
{
    char buf[65];
    char *dup = NULL;
    int64_t v = 0;
    if (cf_db_r_text(r, 1, buf, 64, "f", NULL) == CF_OK) {
        s_check(strlen(buf) <= 64);
        for (size_t i = 0; buf[i]; i++)
            s_check((unsigned char) buf[i] >= 0x20 && buf[i] != 0x7f);
    }
    if (cf_db_r_dup(r, 1, 4096, &dup, "f", NULL) == CF_OK && dup)
        s_check(strlen(dup) == r->len);
    cf_mem_free(dup);
    if (cf_db_r_int(r, 0, -1000, 1000, &v, "f", NULL) == CF_OK)
        s_check(v >= -1000 && v <= 1000);
    (void) cf_db_r_array(r, 0, 8, "f", NULL);
}

/* A pair of strings as an archive entry (HSCAN gives field, value). */
static void s_archive_pair(const redisReply *f, const redisReply *v)
{
    if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
        return;
    cf_db_archived_t a;
    if (cf_db_archive_decode(f->str, f->len, v->str, v->len, &a, NULL) == CF_OK) {
        /* the certificate, or (an agent's, without its body) the subject */
        s_check((a.cert_pem && *a.cert_pem) ||
                (a.component == CF_COMPONENT_AGENT && a.subject && *a.subject));
        s_check(cf_db_check_fingerprint(a.fingerprint) == CF_OK);
        s_check(cf_db_check_serial(a.serial) == CF_OK && cf_db_component_ok(a.component));
    } else {
        s_check(a.cert_pem == NULL && a.subject == NULL);
    }
    cf_db_archived_clear(&a);
}

static void s_walk(const redisReply *r, int depth)
{
    s_db_node(r);
    if (r->type != REDIS_REPLY_ARRAY || depth > 8)
        return;
    for (size_t i = 0; i < r->elements; i++) {
        s_walk(r->element[i], depth + 1);
        if (i % 2 && i < 64)
            s_archive_pair(r->element[i - 1], r->element[i]);
    }
}

static void s_decode(const redisReply *r)
{
    cf_why_t why = {""};
    const redisReply *e = s_first_error(r);
    int readonly =
        e && e->len >= 8 && memcmp(e->str, "READONLY", 8) == 0 && (e->len == 8 || e->str[8] == ' ');
    cf_err_t rc = cf_store_reply_check(r, &why);
    s_check((rc == CF_OK) == !e);
    s_check(!e || rc == cf_store_err_from_redis(e->str, e->len));
    s_check(cf_store_reply_readonly(r) == readonly);
    cf_store_endpoint_t ep;
    if (cf_store_reply_master_addr(r, &ep, &why) == CF_OK)
        s_check(ep.host[0] && ep.port >= 1 && ep.port <= 65535);
    (void) cf_store_reply_role_master(r, &why);
    int busy = 0;
    if (cf_store_reply_failover(r, &busy, &why) == CF_OK)
        s_check(busy == 0 || busy == 1);
    s_walk(r, 0);
}

/* Limits from the first byte: a small cap of each kind is likely. */
static void s_caps(cf_store_caps_t *caps, uint8_t b)
{
    cf_store_cfg_t cfg;
    cf_store_cfg_init(&cfg);
    cfg.max_reply_bytes = (size_t) 64 << (b & 7);
    cfg.max_reply_elements = (size_t) 2 << ((b >> 3) & 7);
    cfg.max_batch_bytes = cfg.max_reply_bytes << ((b >> 6) & 3);
    cf_store_caps_init(caps, &cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    cf_store_caps_t caps;
    s_caps(&caps, data[0]);
    size_t chunk = data[1] ? data[1] : size;
    data += 2;
    size -= 2;
    redisReader *reader = redisReaderCreate();
    if (!reader)
        return 0;
    cf_store_caps_attach(reader, &caps);
    cf_store_caps_begin_batch(&caps);
    size_t fed = 0;
    int replies = 0, failed = 0;
    while (!failed && replies < MAX_REPLIES && fed < size) {
        size_t n = size - fed < chunk ? size - fed : chunk;
        if (redisReaderFeed(reader, (const char *) data + fed, n) != REDIS_OK)
            break;
        fed += n;
        (void) cf_store_caps_over_unread(&caps, reader);
        for (;;) {
            void *reply = NULL;
            if (redisReaderGetReply(reader, &reply) != REDIS_OK) {
                failed = 1; /* a cap, a protocol error or out of memory: nothing returned */
                s_check(reply == NULL);
                break;
            }
            if (!reply)
                break;
            s_check(!caps.refused);
            s_check(caps.reply_bytes <= caps.max_reply_bytes);
            s_check(caps.reply_elements <= caps.max_reply_elements);
            s_check(caps.batch_bytes <= caps.max_batch_bytes);
            s_decode(reply);
            freeReplyObject(reply);
            if (++replies == MAX_REPLIES)
                break;
        }
    }
    redisReaderFree(reader);
    return 0;
}
