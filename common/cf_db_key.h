/*  cf_db_key - names in the Redis schema: checks of ids, aliases, names; key builders  */
#ifndef CF_DB_KEY_H_INCLUDED
#define CF_DB_KEY_H_INCLUDED

#include <stddef.h>

#include "cf_cert.h"
#include "cf_err.h"

/* Every string that goes into a key name is checked here first: a bad one is
   CF_ERR_INVALID, never a malformed key. All checks take NUL-terminated text; NULL is
   invalid. Pure functions, no I/O. */
#define CF_DB_ID_MAX      63  /* agent id: [a-z0-9][a-z0-9._-]{0,62} (DESIGN.md) */
#define CF_DB_ALIAS_MAX   253 /* server alias: [a-z0-9][a-z0-9._-]{0,252} (a lowercase host name) */
#define CF_DB_NAME_MAX    253 /* certificate name in a component (an alias, "console", "shared") */
#define CF_DB_USER_MAX    64  /* user name: [a-z0-9][a-z0-9._@-]{0,63} */
#define CF_DB_SERIAL_MAX  64  /* certificate serial: 1..64 lowercase hex digits */
#define CF_DB_FP_LEN      64  /* SHA-256 fingerprint: exactly 64 lowercase hex digits */
#define CF_DB_OWNER_MAX   128 /* instance id (init lock, heartbeat): printable, no blank */
#define CF_DB_TOKEN_MIN   16  /* session token, bytes */
#define CF_DB_TOKEN_MAX   256 /* session token, bytes */
#define CF_DB_KEY_MAX     320 /* buffer that holds any key built here, with the NUL */
#define CF_DB_KEY_CHANNEL "cf:events"

/* Fixed keys (docs/REDIS.md). */
#define CF_DB_K_META        "cf:meta"
#define CF_DB_K_INIT        "cf:init"
#define CF_DB_K_CA          "cf:ca"
#define CF_DB_K_P12PASS     "cf:p12pass"
#define CF_DB_K_SSL         "cf:ssl"
#define CF_DB_K_ARCHIVE     "cf:archive"
#define CF_DB_K_REVOKED     "cf:revoked"
#define CF_DB_K_CRL         "cf:crl"
#define CF_DB_K_SERVERS     "cf:servers"
#define CF_DB_K_AGENTS      "cf:agents"
#define CF_DB_K_AGENTS_LOCK "cf:agents:lock"
#define CF_DB_K_USERS       "cf:users"
#define CF_DB_K_POLICY      "cf:policy:console"
#define CF_DB_K_AUDIT       "cf:audit"

/* CURVE keys (cf_db_curve). */
#define CF_DB_K_CURVE_AGENTS  "cf:curve:agents"  /* agent id -> Z85 key */
#define CF_DB_K_CURVE_SERVERS "cf:curve:servers" /* server alias -> Z85 key */
#define CF_DB_K_CURVE_OWNER   "cf:curve:owner"   /* Z85 key -> agent:<id> | server:<alias> */

/* Jobs (cf_db_job): fixed keys and the parts of the per-job and per-agent keys, which the
   job scripts also use to build the names of the keys they reach (one template). */
#define CF_DB_K_JOBS        "cf:jobs"
#define CF_DB_K_JOBS_OPEN   "cf:jobs:open"
#define CF_DB_K_JOBS_PRUNE  "cf:jobs:prune" /* where the sweeper's walk of cf:jobs is */
#define CF_DB_K_JOBS_WAVES  "cf:jobs:waves" /* jobs the wave controller drives */
#define CF_DB_JOB_ID_LEN    32              /* job id: 32 lowercase hex digits, not all zero */
#define CF_DB_KP_AGENT      "cf:agent:{"    /* an agent's keys: prefix, id, then a suffix */
#define CF_DB_KP_JOB        "cf:job:{"      /* a job's keys: prefix, id, then a suffix */
#define CF_DB_KS_TAG        "}"             /* cf:agent:{<id>}, cf:job:{<id>} */
#define CF_DB_KS_AGENT_JOBS "}:jobs"        /* cf:agent:{<id>}:jobs */
#define CF_DB_KS_AGENT_CERT "}:cert"        /* cf:agent:{<id>}:cert */
#define CF_DB_KS_JOB_ST     "}:st"          /* cf:job:{<id>}:st */
#define CF_DB_KS_JOB_WHY    "}:why"         /* cf:job:{<id>}:why */
#define CF_DB_KS_JOB_EV     "}:ev"          /* cf:job:{<id>}:ev */
#define CF_DB_KS_JOB_Q      "}:q"           /* cf:job:{<id>}:q, queued agents */

/* CF_OK or CF_ERR_INVALID. */
CF_MUST_USE cf_err_t cf_db_check_agent_id(const char *id);
CF_MUST_USE cf_err_t cf_db_check_alias(const char *alias);
CF_MUST_USE cf_err_t cf_db_check_cert_name(const char *name);
CF_MUST_USE cf_err_t cf_db_check_user(const char *name);
CF_MUST_USE cf_err_t cf_db_check_serial(const char *serial);
CF_MUST_USE cf_err_t cf_db_check_fingerprint(const char *fp);
CF_MUST_USE cf_err_t cf_db_check_owner(const char *owner);
CF_MUST_USE cf_err_t cf_db_check_job_id(const char *id);
/* Text stored as a value: 0..max bytes, no NUL and no control character (bytes >= 0x80
   are allowed, so UTF-8 passes). min 1 also refuses "". CF_ERR_INVALID or CF_ERR_TOOBIG. */
CF_MUST_USE cf_err_t cf_db_check_text(const char *text, size_t min, size_t max);

/* Key builders: write the key into key (CF_DB_KEY_MAX bytes) after checking the parts.
   CF_ERR_INVALID for a bad part (key is then ""). */
/* cf:cert:<component>:<name>; component server, console or agent. */
CF_MUST_USE cf_err_t cf_db_key_cert(char *key, cf_component_t component, const char *name);
/* cf:certs:<component> */
CF_MUST_USE cf_err_t cf_db_key_certs(char *key, cf_component_t component);
/* cf:server:<alias> */
CF_MUST_USE cf_err_t cf_db_key_server(char *key, const char *alias);
/* cf:hb:<alias> */
CF_MUST_USE cf_err_t cf_db_key_hb(char *key, const char *alias);
/* cf:agent:{<id>} */
CF_MUST_USE cf_err_t cf_db_key_agent(char *key, const char *id);
/* cf:agent:{<id>}:jobs */
CF_MUST_USE cf_err_t cf_db_key_agent_jobs(char *key, const char *id);
/* cf:agent:{<id>}:cert: the PEM of the certificate issued at its last CSR enrollment */
CF_MUST_USE cf_err_t cf_db_key_agent_cert(char *key, const char *id);
/* cf:job:{<id>} + suffix: CF_DB_KS_TAG (the job hash), CF_DB_KS_JOB_ST, _WHY, _EV or _Q. */
CF_MUST_USE cf_err_t cf_db_key_job(char *key, const char *id, const char *suffix);
/* cf:user:<name> */
CF_MUST_USE cf_err_t cf_db_key_user(char *key, const char *name);
/* cf:session:<SHA-256 hex of the token> (token: CF_DB_TOKEN_MIN..MAX bytes, any bytes;
   never stored itself). CF_ERR_CRYPTO if hashing fails. */
CF_MUST_USE cf_err_t cf_db_key_session(char *key, const void *token, size_t len);

/* The components that have certificate records: server, console, agent. */
int cf_db_component_ok(cf_component_t component);

#endif
