/*  cf_log - one key=value line per event  */
#include "cf_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

/* The only process-wide mutable state in certfleet (STYLE): set once in main. */
static cf_log_level_t s_level = CF_LOG_INFO;
static char s_component[32] = "certfleet";
static int s_syslog = 0;

static const char *const s_level_names[] = {"debug", "info", "warn", "error", "off"};

void cf_log_set_level(cf_log_level_t level)
{
    s_level = level;
}

cf_log_level_t cf_log_level(void)
{
    return s_level;
}

cf_err_t cf_log_level_from_name(const char *name, cf_log_level_t *out)
{
    if (!name || !out)
        return CF_ERR_INVALID;
    for (int i = 0; i <= (int) CF_LOG_OFF; i++) {
        if (strcasecmp(name, s_level_names[i]) == 0) {
            *out = (cf_log_level_t) i;
            return CF_OK;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        *out = CF_LOG_WARN;
        return CF_OK;
    }
    return CF_ERR_INVALID;
}

void cf_log_set_component(const char *component)
{
    if (component)
        snprintf(s_component, sizeof(s_component), "%s", component);
}

void cf_log_use_syslog(int on)
{
    s_syslog = on;
    if (on)
        openlog(s_component, LOG_PID, LOG_DAEMON);
}

void cf_log_write(cf_log_level_t level, const char *fmt, ...)
{
    if (level >= CF_LOG_OFF)
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (s_syslog) {
        static const int prio[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR};
        syslog(prio[level], "level=%s %s", s_level_names[level], msg);
        return;
    }
    struct timespec ts;
    struct tm tm;
    char when[32];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    /* one fprintf so concurrent threads do not interleave within a line */
    fprintf(stderr, "ts=%s.%03ldZ level=%s comp=%s %s\n", when, ts.tv_nsec / 1000000L,
            s_level_names[level], s_component, msg);
}
