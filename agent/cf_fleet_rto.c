/*  cf_fleet_rto - an agent's first resend delay from the round trips it has seen (RFC 6298)  */
#include "cf_fleet_rto.h"

void cf_fleet_rto_sample(cf_fleet_rto_t *e, int64_t rtt_ms)
{
    uint32_t r = rtt_ms < 0                     ? 0
                 : rtt_ms > CF_FLEET_RTT_MAX_MS ? CF_FLEET_RTT_MAX_MS
                                                : (uint32_t) rtt_ms;
    if (!e->srtt_ms) {
        e->srtt_ms = r ? r : 1; /* 0 means "none yet" */
        e->rttvar_ms = r / 2;
        return;
    }
    uint32_t diff = e->srtt_ms > r ? e->srtt_ms - r : r - e->srtt_ms;
    e->rttvar_ms = (uint32_t) ((3 * (uint64_t) e->rttvar_ms + diff + 2) / 4);
    uint32_t s = (uint32_t) ((7 * (uint64_t) e->srtt_ms + r + 4) / 8);
    e->srtt_ms = s ? s : 1;
}

uint32_t cf_fleet_rto_first(const cf_fleet_rto_t *e, uint32_t min_ms, uint32_t max_ms)
{
    uint64_t b = min_ms;
    if (e->srtt_ms) {
        uint64_t var = 4 * (uint64_t) e->rttvar_ms;
        uint64_t floor = e->srtt_ms / 2;
        uint64_t rto = e->srtt_ms + (var > floor ? var : floor);
        if (2 * rto > b)
            b = 2 * rto;
    }
    return b > max_ms ? max_ms : (uint32_t) b;
}
