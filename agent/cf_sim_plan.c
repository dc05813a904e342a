/*  cf_sim_plan - the simulator's pure arithmetic: source addresses, splitting, RSS  */
#include "cf_sim_plan.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cf_err_t cf_sim_net_parse(const char *text, cf_sim_net_t *out, cf_why_t *why)
{
    char addr[20];
    const char *slash = text ? strchr(text, '/') : NULL;
    if (!slash || (size_t) (slash - text) >= sizeof(addr) || !out)
        return cf_why(why, CF_ERR_INVALID, "source net: want a.b.c.d/len");
    memcpy(addr, text, (size_t) (slash - text));
    addr[slash - text] = '\0';
    struct in_addr in;
    char *end = NULL;
    long bits = strtol(slash + 1, &end, 10);
    if (inet_pton(AF_INET, addr, &in) != 1 || !slash[1] || *end || bits < CF_SIM_NET_MIN_BITS ||
        bits > CF_SIM_NET_MAX_BITS)
        return cf_why(why, CF_ERR_INVALID, "source net %.40s: want an IPv4 a.b.c.d/len, len %d..%d",
                      text, CF_SIM_NET_MIN_BITS, CF_SIM_NET_MAX_BITS);
    uint32_t base = ntohl(in.s_addr);
    uint32_t mask = 0xffffffffu << (32 - bits);
    if (base & ~mask)
        return cf_why(why, CF_ERR_INVALID, "source net %.40s: host bits are set", text);
    out->base = base;
    out->bits = (unsigned) bits;
    return CF_OK;
}

uint32_t cf_sim_net_hosts(const cf_sim_net_t *net)
{
    uint32_t size = 1u << (32 - net->bits);
    return net->bits <= 24 ? size / 256 * 254 : size - 2;
}

void cf_sim_net_addr(const cf_sim_net_t *net, uint64_t k, char buf[16])
{
    uint32_t hosts = cf_sim_net_hosts(net);
    uint32_t i = (uint32_t) (k % hosts), a;
    if (net->bits <= 24) /* 254 per /24 block: .1 .. .254 */
        a = net->base + (i / 254) * 256 + i % 254 + 1;
    else
        a = net->base + i + 1;
    snprintf(buf, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

cf_err_t cf_sim_split(size_t n, unsigned procs, unsigned p, size_t *first_out, size_t *count_out)
{
    if (!procs || procs > CF_SIM_PROCS_MAX || p >= procs || procs > n || !first_out || !count_out)
        return CF_ERR_INVALID;
    size_t each = n / procs, extra = n % procs;
    *first_out = p * each + (p < extra ? p : extra);
    *count_out = each + (p < extra ? 1 : 0);
    return CF_OK;
}

unsigned long cf_sim_rss_parse(const char *status_text)
{
    const char *p = status_text ? strstr(status_text, "VmRSS:") : NULL;
    if (!p)
        return 0;
    return strtoul(p + strlen("VmRSS:"), NULL, 10);
}

unsigned long cf_sim_rss_kib(void)
{
    char buf[4096];
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return cf_sim_rss_parse(buf);
}
