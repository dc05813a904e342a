/*  cf_log - one key=value line per event, level checked before formatting  */
#ifndef CF_LOG_H_INCLUDED
#define CF_LOG_H_INCLUDED

#include "cf_err.h"

typedef enum {
    CF_LOG_DEBUG = 0,
    CF_LOG_INFO = 1,
    CF_LOG_WARN = 2,
    CF_LOG_ERROR = 3,
    CF_LOG_OFF = 4,
} cf_log_level_t;

/* The log level, sink and component name are the process's only globals (STYLE); set them
   once in main before any thread starts. Defaults: INFO, stderr, component "certfleet". */
void cf_log_set_level(cf_log_level_t level);
cf_log_level_t cf_log_level(void);
/* Parse "debug|info|warn|error|off" (case-insensitive). */
CF_MUST_USE cf_err_t cf_log_level_from_name(const char *name, cf_log_level_t *out);
/* Component named on every line, e.g. "cf-server"; the string is copied (max 31 chars). */
void cf_log_set_component(const char *component);
/* Send lines to syslog instead of stderr (daemons under systemd may prefer stderr). */
void cf_log_use_syslog(int on);

/* Writes "ts=... level=... comp=... <fmt>" as one line. Use the macro, not this. */
void cf_log_write(cf_log_level_t level, const char *fmt, ...) CF_PRINTF(2, 3);

#define cf_log(level, ...)                      \
    do {                                        \
        if ((level) >= cf_log_level())          \
            cf_log_write((level), __VA_ARGS__); \
    } while (0)

#endif
