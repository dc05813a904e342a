/*  cf_link_tls - the server's side of TLS-wrapped broker links: a local cf_relay client per
    tls:// broker, presenting this server's certificate (docs/broker.md)  */
#include <stdio.h>
#include <string.h>

#include "cf_db_meta.h"
#include "cf_link_int.h"
#include "cf_log.h"
#include "cf_mem.h"

/* The PEM of the CA and of this server's certificate, and its key, from Redis. */
typedef struct {
    char *ca_pem, *cert_pem; /* owned */
    size_t ca_len, cert_len; /* bytes */
    cf_link_signer_t own;    /* this server's certificate and key */
} s_material_t;

static void s_material_clear(s_material_t *m)
{
    cf_mem_free(m->ca_pem);
    cf_mem_free(m->cert_pem);
    cf_link_signer_clear(&m->own);
    memset(m, 0, sizeof(*m));
}

static cf_err_t s_material(cf_link_t *self, s_material_t *m, cf_why_t *why)
{
    cf_cert_t *ca = NULL;
    cf_err_t rc = cf_link_signer_load(self->store, cf_app_seal(self->app), cf_app_alias(self->app),
                                      &m->own, why);
    if (rc != CF_OK)
        return rc;
    rc = cf_db_ca_get(self->store, NULL, &ca, NULL);
    if (rc != CF_OK)
        return cf_why(why, rc, "the CA: %s", cf_why_text(cf_store_why(self->store), rc));
    rc = cf_cert_to_pem(ca, &m->ca_pem, &m->ca_len);
    if (rc == CF_OK)
        rc = cf_cert_to_pem(m->own.cert, &m->cert_pem, &m->cert_len);
    cf_cert_destroy(&ca);
    return rc;
}

cf_err_t cf_link_tls_start(cf_link_t *self, const unsigned char *tls, cf_why_t *why)
{
    s_material_t m = {0};
    cf_err_t rc = CF_OK;
    int loaded = 0;
    for (size_t i = 0; i < self->n_brokers && rc == CF_OK; i++) {
        if (!tls[i])
            continue;
        if (!loaded) {
            rc = s_material(self, &m, why);
            loaded = 1;
            if (rc != CF_OK)
                break;
        }
        char z85[CF_CURVE_Z85_LEN + 1], text[CF_CURVE_TEXT_MAX + 8];
        cf_curve_z85_encode(self->brokers[i].pub, z85);
        const char *hostport = self->brokers[i].endpoint + strlen("tcp://");
        snprintf(text, sizeof(text), CF_RELAY_CLIENT_SCHEME "%s#%s", hostport, z85);
        cf_curve_broker_t local;
        rc = cf_relay_client_for(text, strlen(text), m.ca_pem, m.ca_len, m.cert_pem, m.cert_len,
                                 m.own.key, &self->relays[i], &local, why);
        if (rc == CF_OK) {
            cf_log(CF_LOG_INFO, "msg=\"broker reached through TLS\" broker=%s relay=%s",
                   self->brokers[i].endpoint, local.endpoint);
            self->brokers[i] = local;
        }
    }
    s_material_clear(&m);
    return rc;
}
