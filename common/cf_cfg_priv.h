/*  cf_cfg_priv - cf_cfg internals shared by its .c files (not for other modules)  */
#ifndef CF_CFG_PRIV_H_INCLUDED
#define CF_CFG_PRIV_H_INCLUDED

#include "cf_cfg.h"

#define CF_CFG_PATH_MAX 4096 /* longest PATH value + 1 */

/* One parsed value. */
typedef struct {
    int has;        /* 1 when a value is present (a default may be absent) */
    char *str;      /* STRING PATH: owned text */
    long long num;  /* INT DURATION SIZE: number; BOOL: 0/1; ENUM: index in choices */
    char **items;   /* LIST: owned items, NULL-terminated (NULL while empty) */
    size_t n_items; /* LIST: number of items */
} cf_cfg_val_t;

/* The current state of one option. */
typedef struct {
    cf_cfg_val_t val;  /* the given value, meaningful when src > CF_CFG_SRC_DEFAULT */
    cf_cfg_src_t src;  /* where val came from */
    size_t file_line;  /* file line that gave this key (0: none), for duplicate keys */
    size_t file_items; /* LIST items the file gave while a later source held the list */
} cf_cfg_slot_t;

struct cf_cfg {
    cf_cfg_opt_t *opts;   /* owned copy of the program's table plus config and help */
    size_t n;             /* entries in opts */
    size_t i_config;      /* index of the implicit "config" option */
    size_t i_help;        /* index of the implicit "help" option */
    cf_cfg_val_t *defs;   /* owned, n parsed defaults */
    cf_cfg_slot_t *slots; /* owned, n current values */
    char **args;          /* owned positional arguments, NULL-terminated */
    int n_args;           /* entries in args */
    char env_prefix[32];  /* "" when the environment is not read */
    char *default_file;   /* owned; file read when none is named, may be missing */
    char *file;           /* owned name of the file loaded by the last parse, or NULL */
    int permute;          /* options may follow positional arguments (leaf commands) */
};

/* Index of name in the table, or (size_t) -1. */
size_t cf_cfg_find(const cf_cfg_t *self, const char *name);
/* Give option i the text (NULL: the bare bool flag) from src, line (FILE only); where
   names the origin in messages ("file:3: port", "--port"). A later source overrides an
   earlier one whatever the order of calls; an overridden value is still checked. */
CF_MUST_USE cf_err_t cf_cfg_set(cf_cfg_t *self, size_t i, const char *text, cf_cfg_src_t src,
                                size_t line, const char *where, cf_why_t *why);

/* cf_cfg_file.c: read and load a configuration file as source FILE, remembering its name;
   with missing_ok a file that does not exist is no error. Does not reset on failure. */
CF_MUST_USE cf_err_t cf_cfg_load(cf_cfg_t *self, const char *path, int missing_ok, cf_why_t *why);

/* cf_cfg_value.c: parse text for opt into a cleared *out (scalars), or append list items. */
CF_MUST_USE cf_err_t cf_cfg_value_parse(const cf_cfg_opt_t *opt, const char *text,
                                        cf_cfg_val_t *out, const char *where, cf_why_t *why);
CF_MUST_USE cf_err_t cf_cfg_list_append(const cf_cfg_opt_t *opt, cf_cfg_val_t *val,
                                        const char *text, const char *where, cf_why_t *why);
void cf_cfg_val_clear(cf_cfg_val_t *val);
size_t cf_cfg_list_cap(const cf_cfg_opt_t *opt); /* item cap of a LIST option */

#endif
