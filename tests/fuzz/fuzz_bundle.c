/*  fuzz_bundle - cf_agent_bundle_parse and cf_agent_state_parse over any input: a parsed
    bundle's lists survive the agent.json round trip unchanged  */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cf_agent_bundle.h"
#include "cf_agent_state.h"
#include "cf_mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The lists of b written as agent.json and read back: the same servers and brokers. */
static void s_round_trip(const cf_agent_bundle_t *b)
{
    cf_agent_state_t st = {.config = b->config, .interval = 60}, back = {0};
    memcpy(st.id, "fuzz", 5);
    char *text = NULL;
    size_t len = 0;
    if (cf_agent_state_dump(&st, &text, &len) != CF_OK)
        return; /* out of memory only */
    if (cf_agent_state_parse(text, len, &back, NULL) != CF_OK ||
        back.config.servers.n != b->config.servers.n ||
        back.config.n_brokers != b->config.n_brokers)
        abort();
    for (size_t i = 0; i < b->config.servers.n; i++) {
        const cf_agent_server_t *x = &b->config.servers.servers[i];
        const cf_agent_server_t *y = &back.config.servers.servers[i];
        if (strcmp(x->alias, y->alias) != 0 || strcmp(x->host, y->host) != 0 ||
            x->port != y->port || x->plain_port != y->plain_port || x->priority != y->priority ||
            cf_iprange_list_size(x->ranges) != cf_iprange_list_size(y->ranges))
            abort();
        for (size_t k = 0; k < cf_iprange_list_size(x->ranges); k++)
            if (!cf_iprange_equal(cf_iprange_list_at(x->ranges, k),
                                  cf_iprange_list_at(y->ranges, k)))
                abort();
    }
    cf_agent_state_clear(&back);
    cf_mem_free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cf_agent_bundle_t b = {0};
    cf_why_t why = {""};
    if (cf_agent_bundle_parse((const char *) data, size, &b, &why) == CF_OK) {
        if (!b.ca_pem || (b.p12 && b.p12_len == 0))
            abort();
        s_round_trip(&b);
    }
    cf_agent_bundle_clear(&b);
    cf_agent_state_t st = {0};
    if (cf_agent_state_parse((const char *) data, size, &st, &why) == CF_OK &&
        cf_agent_check_id(st.id) != CF_OK)
        abort();
    cf_agent_state_clear(&st);
    return 0;
}
