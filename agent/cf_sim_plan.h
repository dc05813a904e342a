/*  cf_sim_plan - the simulator's pure arithmetic: source addresses inside --source-net,
    splitting a fleet over --processes, the stats line's RSS  */
#ifndef CF_SIM_PLAN_H_INCLUDED
#define CF_SIM_PLAN_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "cf_err.h"

#define CF_SIM_NET_DEFAULT  "127.0.0.0/16" /* --source-net default */
#define CF_SIM_NET_MIN_BITS 8              /* widest --source-net: /8 */
#define CF_SIM_NET_MAX_BITS 30             /* narrowest: /30 (two hosts) */
#define CF_SIM_PROCS_MAX    64             /* --processes at most */

/* An IPv4 network the agents' source addresses come from. */
typedef struct {
    uint32_t base; /* network address, host byte order */
    unsigned bits; /* prefix length, CF_SIM_NET_MIN_BITS..CF_SIM_NET_MAX_BITS */
} cf_sim_net_t;

/* Parse "a.b.c.d/len" (IPv4, len 8..30; host bits must be zero). Errors: CF_ERR_INVALID
   (why says what is wrong). */
CF_MUST_USE cf_err_t cf_sim_net_parse(const char *text, cf_sim_net_t *out, cf_why_t *why);

/* How many source addresses the network gives: its hosts without the network and broadcast
   addresses and, for nets wider than /24, without every address ending in .0 or .255. */
uint32_t cf_sim_net_hosts(const cf_sim_net_t *net);

/* The source address of agent number k (the fleet-wide number, so processes never share
   one while k < cf_sim_net_hosts; past that the addresses repeat) as dotted text into buf
   (at least 16 bytes). */
void cf_sim_net_addr(const cf_sim_net_t *net, uint64_t k, char buf[16]);

/* Process p of procs (0..procs-1) takes count_out agents starting at offset first_out of
   a fleet of n: the first n % procs processes take one more, ranges are contiguous and
   cover 0..n-1 exactly once. Errors: CF_ERR_INVALID (procs 0 or over CF_SIM_PROCS_MAX,
   p >= procs, procs > n). */
CF_MUST_USE cf_err_t cf_sim_split(size_t n, unsigned procs, unsigned p, size_t *first_out,
                                  size_t *count_out);

/* VmRSS in KiB from the text of /proc/self/status (NUL-terminated); 0 when absent. */
unsigned long cf_sim_rss_parse(const char *status_text);
/* This process's VmRSS in KiB (0 when /proc is not readable). */
unsigned long cf_sim_rss_kib(void);

#endif
