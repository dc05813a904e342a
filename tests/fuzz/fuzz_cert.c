/*  fuzz_cert - cf_cert_parse, cf_cert_parse_all, cf_cert_reader_parse and cf_import_public over
    any PEM/DER input  */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cf_cert.h"
#include "cf_import.h"
#include "cf_mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Everything a caller may read from a parsed certificate, and a DER round trip that must give
   the same fingerprint. */
static void s_inspect(const cf_cert_t *cert)
{
    size_t sum = strlen(cf_cert_fingerprint(cert)) + strlen(cf_cert_serial(cert)) +
                 strlen(cf_cert_subject(cert)) + strlen(cf_cert_issuer(cert)) +
                 strlen(cf_cert_common_name(cert)) + strlen(cf_cert_key_name(cert));
    for (size_t i = 0; i < cf_cert_san_count(cert); i++)
        sum += strlen(cf_cert_san(cert, i));
    const char *agent = cf_cert_agent_id(cert);
    sum += agent ? strlen(agent) : 0;
    sum += (size_t) cf_cert_is_ca(cert) + (size_t) cf_cert_component(cert);
    sum += (size_t) cf_cert_classify(cert, cf_cert_not_before(cert), 0, 0);
    if (sum == 0)
        abort(); /* a fingerprint is never empty */
    unsigned char *der = NULL;
    size_t len = 0;
    cf_cert_t *back = NULL;
    if (cf_cert_to_der(cert, &der, &len) != CF_OK)
        return;
    if (cf_cert_parse(der, len, &back) != CF_OK ||
        strcmp(cf_cert_fingerprint(back), cf_cert_fingerprint(cert)) != 0)
        abort();
    cf_cert_destroy(&back);
    cf_mem_free(der);
}

/* 1 when a PEM BEGIN line starts anywhere in data (cf_cert_parse then reads PEM, unless
   data is exactly one DER encoding: this oracle leaves that case out). */
static int s_has_begin(const uint8_t *data, size_t size)
{
    static const char mark[] = "-----BEGIN ";
    for (size_t i = 0; i + sizeof(mark) - 1 <= size; i++)
        if (memcmp(data + i, mark, sizeof(mark) - 1) == 0)
            return 1;
    return 0;
}

/* The reader (no key decoded) against the full parse of the same DER: what the full parse
   takes the reader takes, with the same fields (the fingerprint of the re-encoding, like
   the full parse's); what it reads is inspected the same way. */
static void s_reader(const uint8_t *data, size_t size, const cf_cert_t *full)
{
    static cf_cert_reader_t *reader; /* one for the process: it is made once */
    if (!reader && cf_cert_reader_new(&reader) != CF_OK)
        abort();
    cf_cert_t *read = NULL;
    cf_err_t rc = cf_cert_reader_parse(reader, data, size, &read);
    /* the full parse takes PEM too (a BEGIN line anywhere): only its DER must read here */
    int der = size > 0 && data[0] == 0x30 && !s_has_begin(data, size);
    if (full && der && rc != CF_OK && rc != CF_ERR_NOMEM)
        abort();
    if (rc == CF_OK && der) { /* (DER holding a BEGIN line would round-trip as PEM) */
        s_inspect(read);
        if (full && der &&
            (strcmp(cf_cert_fingerprint(read), cf_cert_fingerprint(full)) != 0 ||
             strcmp(cf_cert_subject(read), cf_cert_subject(full)) != 0 ||
             strcmp(cf_cert_serial(read), cf_cert_serial(full)) != 0 ||
             cf_cert_not_after(read) != cf_cert_not_after(full)))
            abort();
    }
    cf_cert_destroy(&read);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cf_cert_t *cert = NULL;
    if (cf_cert_parse(data, size, &cert) == CF_OK)
        s_inspect(cert);
    s_reader(data, size, cert);
    cf_cert_destroy(&cert);

    cf_cert_t *certs[CF_CERT_MAX_CHAIN] = {NULL};
    size_t n = 0;
    if (cf_cert_parse_all(data, size, certs, CF_CERT_MAX_CHAIN, &n) == CF_OK) {
        for (size_t i = 0; i < n; i++)
            cf_cert_destroy(&certs[i]);
    }

    /* leaf choice and chain ordering over whatever the file holds; the validity window is
       checked at a fixed moment so runs are reproducible */
    cf_import_check_t check = {NULL, 1767225600}; /* 2026-01-01 */
    cf_bundle_t *bundle = NULL;
    if (cf_import_public(data, size, &check, &bundle, NULL) == CF_OK &&
        cf_bundle_chain_len(bundle) >= CF_CERT_MAX_CHAIN)
        abort();
    cf_bundle_destroy(&bundle);
    return 0;
}
