/*  fuzz_db_curve - cf_db_curve_event_parse over any cf:events payload  */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_db_curve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An accepted payload names a valid identity and is exactly the event cf_db_curve would
   publish for it; a refused one leaves the name empty. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cf_allow_kind_t kind = 0;
    char name[CF_DB_CURVE_NAME_MAX + 1];
    cf_err_t rc = cf_db_curve_event_parse((const char *) data, size, &kind, name);
    if (rc != CF_OK) {
        if (name[0] || (rc != CF_ERR_NOTFOUND && rc != CF_ERR_INVALID))
            abort();
        return 0;
    }
    if (cf_allow_check_name(kind, name, NULL) != CF_OK)
        abort();
    char back[CF_DB_CURVE_EVENT_MAX + 1];
    int n = snprintf(back, sizeof(back), "%s-key %s", kind == CF_ALLOW_AGENT ? "agent" : "server",
                     name);
    if (n < 0 || (size_t) n != size || memcmp(back, data, size) != 0)
        abort();
    return 0;
}
