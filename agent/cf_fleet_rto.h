/*  cf_fleet_rto - an agent's first resend delay from the round trips it has seen (RFC 6298)  */
#ifndef CF_FLEET_RTO_H_INCLUDED
#define CF_FLEET_RTO_H_INCLUDED

#include <stdint.h>

#define CF_FLEET_RTT_MAX_MS 600000 /* a longer round trip counts as this much */

/* What one agent learned of its link's round trips (a RECEIPT or REPORT to its ACK):
   RFC 6298's smoothed round trip and its variation. All zero = nothing learned yet. */
typedef struct {
    uint32_t srtt_ms;   /* smoothed round trip, ms; 0 = no sample yet */
    uint32_t rttvar_ms; /* smoothed deviation, ms */
} cf_fleet_rto_t;

/* Learn one round trip of rtt_ms (negative counts as 0, over CF_FLEET_RTT_MAX_MS as that):
   the first sample sets srtt = R, rttvar = R/2; later ones move srtt by 1/8 and rttvar by 1/4
   of the difference (RFC 6298, 2.2 and 2.3). */
void cf_fleet_rto_sample(cf_fleet_rto_t *e, int64_t rtt_ms);

/* The back-off b of an exchange's first resend, which goes out uniformly in [b/2, b] after
   the first send: b = max(min_ms, 2 x RTO) capped at max_ms, where RTO = srtt +
   max(4 x rttvar, srtt / 2) (RFC 6298's timeout, with a floor for a steady link whose rttvar
   has shrunk to nothing). So no resend comes sooner than one RTO while the estimate holds,
   nor sooner than min_ms / 2; with nothing learned yet b = min_ms (max_ms if smaller). */
uint32_t cf_fleet_rto_first(const cf_fleet_rto_t *e, uint32_t min_ms, uint32_t max_ms);

#endif
