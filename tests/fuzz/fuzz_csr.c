/*  fuzz_csr - CSR parsing and the signing policy against a fixed CA  */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cf_ca.h"
#include "cf_csr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The harness's one CA, made on the first input and kept for the run. */
static cf_ca_t *s_ca;

static void s_check_issued(const cf_cert_t *cert, const char *expected)
{
    /* Whatever the CSR asked for, what we issue is ours: the right CN, no CA power. */
    if (strcmp(cf_cert_common_name(cert), expected) != 0 || cf_cert_is_ca(cert) ||
        cf_cert_has_server_auth(cert))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!s_ca && cf_ca_create(NULL, &s_ca) != CF_OK)
        abort();
    cf_why_t why = {""};
    cf_cert_t *cert = NULL;
    if (cf_ca_sign_csr(s_ca, data, size, NULL, "agent-1", 0, &cert, &why) == CF_OK) {
        s_check_issued(cert, "agent-1");
        const char *id = cf_cert_agent_id(cert);
        if (!id || strcmp(id, "agent-1") != 0)
            abort();
    }
    cf_cert_destroy(&cert);
    cf_ca_policy_t console = {
        .key_types = CF_CA_KEYBIT(CF_KEY_P256), .days = 1, .component = CF_COMPONENT_CONSOLE};
    if (cf_ca_sign_csr(s_ca, data, size, &console, "Operator", 0, &cert, &why) == CF_OK)
        s_check_issued(cert, "Operator");
    cf_cert_destroy(&cert);
    cf_csr_t *csr = NULL; /* the parser alone, and its accessors */
    if (cf_csr_parse(data, size, &csr, &why) == CF_OK) {
        size_t len = 0;
        if (!cf_csr_spki(csr, &len) || len == 0 || !cf_csr_req(csr))
            abort();
    }
    cf_csr_destroy(&csr);
    return 0;
}
