/*  cf_cfg - one option table per program drives its config file, environment and flags  */
#ifndef CF_CFG_H_INCLUDED
#define CF_CFG_H_INCLUDED

#include <stddef.h>
#include <stdio.h>

#include "cf_err.h"

#define CF_CFG_MAX_FILE  (256 * 1024) /* largest configuration file read, bytes */
#define CF_CFG_MAX_LINE  4096         /* longest line in a configuration file, bytes */
#define CF_CFG_MAX_VALUE 4096         /* longest value (or list item) from any source, bytes */
#define CF_CFG_MAX_OPTS  128          /* options in one table */
#define CF_CFG_MAX_ARGS  65536        /* largest argc accepted */
#define CF_CFG_LIST_MAX  64           /* items in a list when its option sets no max */
#define CF_CFG_NAME_MAX  48           /* longest option name */

/* Value types. Every value is written as text (file, environment, flag, default). */
typedef enum {
    CF_CFG_STRING,   /* any text up to CF_CFG_MAX_VALUE bytes */
    CF_CFG_PATH,     /* a file or directory name: not empty, < 4096 bytes */
    CF_CFG_INT,      /* decimal integer in [min, max] (both 0: any long long) */
    CF_CFG_BOOL,     /* true|false|yes|no|on|off|1|0; the bare flag means true */
    CF_CFG_ENUM,     /* one of choices (matched without case, kept as the table spells it) */
    CF_CFG_LIST,     /* repeatable; comma-separated items; at most max (0: CF_CFG_LIST_MAX) */
    CF_CFG_DURATION, /* N[s|m|h|d|w] -> seconds ("30s", "5m", "2h", "7d"); range as INT */
    CF_CFG_SIZE,     /* N[k|m|g][b|ib] -> bytes, powers of 1024 ("64k", "1m"); range as INT */
} cf_cfg_type_t;

/* Where a value came from; a later source overrides an earlier one. */
typedef enum {
    CF_CFG_SRC_DEFAULT = 0, /* nothing given: the table's default (or none) */
    CF_CFG_SRC_FILE = 1,    /* the configuration file */
    CF_CFG_SRC_ENV = 2,     /* the environment (only with cf_cfg_set_env_prefix) */
    CF_CFG_SRC_FLAG = 3,    /* the command line */
} cf_cfg_src_t;

/* One option: a long flag "--name", the file key "name" and, with an env prefix, the
   variable PREFIX_NAME. A program keeps its table as `static const`; cf_cfg borrows it. */
typedef struct {
    const char *name;           /* [a-z0-9][a-z0-9-]*, at most CF_CFG_NAME_MAX chars */
    int short_name;             /* short flag letter or digit, 0 for none ('c', 'h' reserved) */
    cf_cfg_type_t type;         /* how the text is checked and stored */
    const char *metavar;        /* value placeholder in --help ("HOST:PORT"); NULL: by type */
    const char *help;           /* one line for --help and the example file */
    const char *def;            /* default as text, parsed like any value; NULL: none */
    long long min;              /* INT/DURATION/SIZE: smallest allowed (with max) */
    long long max;              /* INT/DURATION/SIZE: largest allowed; LIST: most items */
    const char *const *choices; /* ENUM: allowed values, NULL-terminated */
} cf_cfg_opt_t;

typedef struct cf_cfg cf_cfg_t; /* opaque */

/* A configuration for the n options of table opts (borrowed: it must outlive the result).
   Adds "-c/--config FILE" and "-h/--help" itself. A bad table (bad or duplicate name,
   missing choices, a default that does not parse) is API misuse and fails CF_ASSERT.
   Returns NULL on out-of-memory only; free with cf_cfg_destroy. */
cf_cfg_t *cf_cfg_new(const cf_cfg_opt_t *opts, size_t n);
void cf_cfg_destroy(cf_cfg_t **self_p); /* NULLs *self_p; safe to repeat */

/* Read PREFIX<NAME> (name upper-cased, '-' -> '_') from the environment, between the file
   and the flags. Off by default: one shared prefix would let one daemon's variables
   leak into another started from the same shell. prefix: [A-Z0-9_]{1,31}, copied. */
void cf_cfg_set_env_prefix(cf_cfg_t *self, const char *prefix);
/* A file read when neither --config nor PREFIXCONFIG names one; unlike those, it may be
   missing (no error). path is copied. CF_ERR_NOMEM or CF_ERR_TOOBIG (>= 4096 bytes). */
CF_MUST_USE cf_err_t cf_cfg_set_default_file(cf_cfg_t *self, const char *path);

/* Let options follow positional arguments ("inspect FILE --json"), for a leaf command that
   hands nothing to a subcommand: GNU getopt_long permutes, so argv's order changes (the
   strings do not). Off by default. */
void cf_cfg_set_permute(cf_cfg_t *self, int on);

/* Parse the command line with getopt_long (argv[0] is the program name; argv is not
   modified). Precedence: defaults < file < environment < flags. The file is the one
   named by -c/--config (else PREFIXCONFIG, else the default file); it is checked whole,
   even the keys the flags override. Options stop at the first positional argument or
   "--"; the rest is kept for cf_cfg_args (so a subcommand keeps its own flags). Repeating
   a scalar flag: the last wins. A list given by flags (or env) replaces the file's list;
   an empty value ("") gives an empty list. With -h/--help neither file nor environment
   is read: check cf_cfg_bool(self, "help") and print usage.
   Every call starts again from the defaults, so a process can parse several times (it
   resets getopt's globals, hence: not thread-safe; parse in main).
   Errors (why names the flag, variable or file:line): CF_ERR_INVALID (unknown option,
   missing value, bad value), CF_ERR_TOOBIG (value, line, file, list or argc over its cap),
   CF_ERR_IO / CF_ERR_NOTFOUND (unreadable file), CF_ERR_NOMEM. On failure every value
   is back to its default. */
CF_MUST_USE cf_err_t cf_cfg_parse_args(cf_cfg_t *self, int argc, char *const argv[], cf_why_t *why);
/* Load configuration text (the file format of docs/config.md) as source FILE; name is
   used in messages ("name:line: ..."). text need not be NUL-terminated; at most
   CF_CFG_MAX_FILE bytes. Values already given by the environment or flags stay; keys the
   file already gave count as duplicates (cf_cfg_reset first to load another file).
   Errors and failure state as cf_cfg_parse_args. */
CF_MUST_USE cf_err_t cf_cfg_parse_text(cf_cfg_t *self, const char *name, const char *text,
                                       size_t len, cf_why_t *why);
/* Read and load a file (regular file, at most CF_CFG_MAX_FILE bytes). As parse_text. */
CF_MUST_USE cf_err_t cf_cfg_load_file(cf_cfg_t *self, const char *path, cf_why_t *why);
/* Forget every given value: back to the defaults. */
void cf_cfg_reset(cf_cfg_t *self);

/* Accessors. The name must be in the table and of a fitting type (else CF_ASSERT).
   Strings are borrowed: valid until the next parse, reset or destroy. */
/* STRING, PATH, ENUM (the table's spelling); NULL when unset with no default. */
const char *cf_cfg_str(const cf_cfg_t *self, const char *name);
/* INT, DURATION (seconds), SIZE (bytes); 0 when unset with no default. */
long long cf_cfg_int(const cf_cfg_t *self, const char *name);
/* BOOL: 1 or 0 (0 when unset with no default). */
int cf_cfg_bool(const cf_cfg_t *self, const char *name);
/* ENUM: index in choices; the number of choices when unset with no default. */
size_t cf_cfg_enum(const cf_cfg_t *self, const char *name);
/* LIST: the items (borrowed array of borrowed strings, NULL-terminated); *n gets the count. */
const char *const *cf_cfg_list(const cf_cfg_t *self, const char *name, size_t *n);
/* 1 when the file, environment or a flag gave the value (not the default). */
int cf_cfg_is_set(const cf_cfg_t *self, const char *name);
/* Which source gave the value (any type). */
cf_cfg_src_t cf_cfg_source(const cf_cfg_t *self, const char *name);
/* The configuration file loaded by the last parse, NULL when none; borrowed. */
const char *cf_cfg_file(const cf_cfg_t *self);
/* Positional arguments left after the options (not the program name); borrowed,
   NULL-terminated; *argc gets the count. Feed them to a subcommand's cf_cfg_parse_args. */
char *const *cf_cfg_args(const cf_cfg_t *self, int *argc);

/* Print --help from the table: "Usage: prog synopsis", then one aligned line per option
   with its flags, metavar, help, range, choices and default. synopsis NULL: "[OPTIONS]". */
void cf_cfg_usage(const cf_cfg_t *self, FILE *out, const char *prog, const char *synopsis);
/* Print an example configuration file: every key commented out, with its help and default.
   CF_ERR_IO when writing fails. */
CF_MUST_USE cf_err_t cf_cfg_write_example(const cf_cfg_t *self, FILE *out);

/* Secret files (passwords never go on a command line). */
#define CF_CFG_SECRET_ALLOW_SHARED 1u /* accept a file group/others may access */
/* Read the secret in the regular file path (at most max bytes, max >= 1) into *out, a new
   NUL-terminated string the caller frees with cf_mem_free_secret_str. One trailing "\n"
   (or "\r\n") is removed. Refused: a file with any group/other permission bits unless
   flags has CF_CFG_SECRET_ALLOW_SHARED (CF_ERR_POLICY), an empty secret or one holding a
   NUL byte (CF_ERR_INVALID), a larger file (CF_ERR_TOOBIG); CF_ERR_NOTFOUND, CF_ERR_IO,
   CF_ERR_NOMEM. *out stays NULL on failure; buffers are wiped on every path. */
CF_MUST_USE cf_err_t cf_cfg_read_secret_file(const char *path, size_t max, unsigned flags,
                                             char **out, cf_why_t *why);

#endif
