/*  cf_cfg - one option table per program drives its config file, environment and flags  */
#include "cf_cfg_priv.h"

#include <string.h>

#include "cf_mem.h"

/* Options every program has; appended to its table. */
static const cf_cfg_opt_t s_config_opt = {
    "config", 'c', CF_CFG_PATH, "FILE", "read settings from FILE first; flags override them",
    NULL,     0,   0,           NULL};
static const cf_cfg_opt_t s_help_opt = {"help", 'h', CF_CFG_BOOL, NULL, "show this help and exit",
                                        NULL,   0,   0,           NULL};

static const char *const s_no_items[] = {NULL}; /* cf_cfg_list of an empty list */

static int s_name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > CF_CFG_NAME_MAX || name[0] == '-')
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
    }
    return 1;
}

static int s_short_ok(int c)
{
    return c == 0 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* A bad table is a programming error: stop at once (CF_ASSERT stays on in release). */
static void s_check_table(const cf_cfg_opt_t *opts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const cf_cfg_opt_t *o = &opts[i];
        CF_ASSERT(o->name && s_name_ok(o->name));
        CF_ASSERT(s_short_ok(o->short_name));
        CF_ASSERT((unsigned) o->type <= (unsigned) CF_CFG_SIZE);
        CF_ASSERT(o->type != CF_CFG_ENUM || (o->choices && o->choices[0]));
        CF_ASSERT(o->min <= o->max);
        CF_ASSERT(o->type != CF_CFG_LIST || o->min == 0);
        for (size_t j = 0; j < i; j++) {
            CF_ASSERT(strcmp(opts[j].name, o->name) != 0);
            CF_ASSERT(o->short_name == 0 || opts[j].short_name != o->short_name);
        }
    }
}

/* Parse the default of option i; a default that does not parse is a table bug. */
static cf_err_t s_parse_default(cf_cfg_t *self, size_t i)
{
    const cf_cfg_opt_t *opt = &self->opts[i];
    cf_cfg_val_t *val = &self->defs[i];
    if (!opt->def)
        return CF_OK;
    cf_why_t why = {{0}};
    cf_err_t rc = opt->type == CF_CFG_LIST
                      ? cf_cfg_list_append(opt, val, opt->def, opt->name, &why)
                      : cf_cfg_value_parse(opt, opt->def, val, opt->name, &why);
    CF_ASSERT(rc == CF_OK || rc == CF_ERR_NOMEM); /* the table's default must parse */
    return rc;
}

cf_cfg_t *cf_cfg_new(const cf_cfg_opt_t *opts, size_t n)
{
    CF_ASSERT(opts || n == 0);
    CF_ASSERT(n + 2 <= CF_CFG_MAX_OPTS);
    cf_cfg_t *self = cf_mem_calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->n = n + 2;
    self->i_config = n;
    self->i_help = n + 1;
    self->opts = cf_mem_calloc(self->n, sizeof(cf_cfg_opt_t));
    self->defs = cf_mem_calloc(self->n, sizeof(cf_cfg_val_t));
    self->slots = cf_mem_calloc(self->n, sizeof(cf_cfg_slot_t));
    if (!self->opts || !self->defs || !self->slots)
        goto fail;
    if (n)
        memcpy(self->opts, opts, n * sizeof(cf_cfg_opt_t));
    self->opts[self->i_config] = s_config_opt;
    self->opts[self->i_help] = s_help_opt;
    s_check_table(self->opts, self->n);
    for (size_t i = 0; i < self->n; i++) {
        if (s_parse_default(self, i) != CF_OK)
            goto fail;
    }
    return self;
fail:
    cf_cfg_destroy(&self);
    return NULL;
}

static void s_free_args(cf_cfg_t *self)
{
    for (int i = 0; i < self->n_args; i++)
        cf_mem_free(self->args[i]);
    cf_mem_free(self->args);
    self->args = NULL;
    self->n_args = 0;
}

void cf_cfg_reset(cf_cfg_t *self)
{
    CF_ASSERT(self);
    for (size_t i = 0; i < self->n; i++) {
        cf_cfg_val_clear(&self->slots[i].val);
        self->slots[i].src = CF_CFG_SRC_DEFAULT;
        self->slots[i].file_line = 0;
        self->slots[i].file_items = 0;
    }
    s_free_args(self);
    cf_mem_free(self->file);
    self->file = NULL;
}

void cf_cfg_destroy(cf_cfg_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_cfg_t *self = *self_p;
    if (self->slots && self->defs) {
        cf_cfg_reset(self);
        for (size_t i = 0; i < self->n; i++)
            cf_cfg_val_clear(&self->defs[i]);
    }
    cf_mem_free(self->slots);
    cf_mem_free(self->defs);
    cf_mem_free(self->opts);
    cf_mem_free(self->default_file);
    cf_mem_free(self);
    *self_p = NULL;
}

void cf_cfg_set_permute(cf_cfg_t *self, int on)
{
    CF_ASSERT(self);
    self->permute = on != 0;
}

void cf_cfg_set_env_prefix(cf_cfg_t *self, const char *prefix)
{
    CF_ASSERT(self && prefix);
    size_t len = strlen(prefix);
    CF_ASSERT(len >= 1 && len < sizeof(self->env_prefix));
    for (size_t i = 0; i < len; i++) {
        char c = prefix[i];
        CF_ASSERT((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_');
    }
    memcpy(self->env_prefix, prefix, len + 1);
}

cf_err_t cf_cfg_set_default_file(cf_cfg_t *self, const char *path)
{
    CF_ASSERT(self && path);
    if (strlen(path) >= CF_CFG_PATH_MAX)
        return CF_ERR_TOOBIG;
    char *copy = cf_mem_strdup(path);
    if (!copy)
        return CF_ERR_NOMEM;
    cf_mem_free(self->default_file);
    self->default_file = copy;
    return CF_OK;
}

size_t cf_cfg_find(const cf_cfg_t *self, const char *name)
{
    for (size_t i = 0; i < self->n; i++) {
        if (strcmp(self->opts[i].name, name) == 0)
            return i;
    }
    return (size_t) -1;
}

/* Check text as option i would take it, keeping nothing: a value that a later source
   overrides must still be valid (a broken file is an error whatever the flags say). */
static cf_err_t s_validate(cf_cfg_slot_t *slot, const cf_cfg_opt_t *opt, const char *text,
                           cf_cfg_src_t src, const char *where, cf_why_t *why)
{
    cf_cfg_val_t scratch = {0};
    if (opt->type != CF_CFG_LIST) {
        cf_err_t rc = cf_cfg_value_parse(opt, text, &scratch, where, why);
        cf_cfg_val_clear(&scratch);
        return rc;
    }
    cf_err_t rc = cf_cfg_list_append(opt, &scratch, text, where, why);
    if (src == CF_CFG_SRC_FILE) /* the file's lines add up: the cap holds for their sum */
        slot->file_items += scratch.n_items;
    cf_cfg_val_clear(&scratch);
    if (rc == CF_OK && slot->file_items > cf_cfg_list_cap(opt))
        rc = cf_why(why, CF_ERR_TOOBIG, "%s: more than %zu items", where, cf_cfg_list_cap(opt));
    return rc;
}

cf_err_t cf_cfg_set(cf_cfg_t *self, size_t i, const char *text, cf_cfg_src_t src, size_t line,
                    const char *where, cf_why_t *why)
{
    CF_ASSERT(i < self->n && src > CF_CFG_SRC_DEFAULT);
    cf_cfg_slot_t *slot = &self->slots[i];
    const cf_cfg_opt_t *opt = &self->opts[i];
    if (src == CF_CFG_SRC_FILE && opt->type != CF_CFG_LIST) {
        if (slot->file_line)
            return cf_why(why, CF_ERR_INVALID, "%s: duplicate key (first set on line %zu)", where,
                          slot->file_line);
        slot->file_line = line;
    }
    if (src < slot->src) /* a later source already decided; the order of calls does not matter */
        return s_validate(slot, opt, text, src, where, why);
    if (opt->type == CF_CFG_LIST) {
        if (src > slot->src) { /* a later source replaces the list, the same one adds to it */
            cf_cfg_val_clear(&slot->val);
            slot->src = src;
        }
        return cf_cfg_list_append(opt, &slot->val, text, where, why);
    }
    cf_cfg_val_t val = {0};
    cf_err_t rc = cf_cfg_value_parse(opt, text, &val, where, why);
    if (rc != CF_OK) {
        cf_cfg_val_clear(&val);
        return rc;
    }
    cf_cfg_val_clear(&slot->val);
    slot->val = val;
    slot->src = src;
    return CF_OK;
}

/* The option named name, which must exist and have one of the given types. */
static size_t s_lookup(const cf_cfg_t *self, const char *name, unsigned type_mask)
{
    CF_ASSERT(self && name);
    size_t i = cf_cfg_find(self, name);
    CF_ASSERT(i != (size_t) -1);                                  /* not in the table */
    CF_ASSERT((type_mask >> (unsigned) self->opts[i].type) & 1u); /* wrong accessor */
    return i;
}

static const cf_cfg_val_t *s_value(const cf_cfg_t *self, size_t i)
{
    const cf_cfg_slot_t *slot = &self->slots[i];
    return slot->src > CF_CFG_SRC_DEFAULT ? &slot->val : &self->defs[i];
}

#define S_BIT(t) (1u << (unsigned) (t))

const char *cf_cfg_str(const cf_cfg_t *self, const char *name)
{
    size_t i = s_lookup(self, name, S_BIT(CF_CFG_STRING) | S_BIT(CF_CFG_PATH) | S_BIT(CF_CFG_ENUM));
    const cf_cfg_val_t *val = s_value(self, i);
    if (!val->has)
        return NULL;
    if (self->opts[i].type == CF_CFG_ENUM)
        return self->opts[i].choices[val->num];
    return val->str;
}

long long cf_cfg_int(const cf_cfg_t *self, const char *name)
{
    size_t i =
        s_lookup(self, name, S_BIT(CF_CFG_INT) | S_BIT(CF_CFG_DURATION) | S_BIT(CF_CFG_SIZE));
    return s_value(self, i)->num;
}

int cf_cfg_bool(const cf_cfg_t *self, const char *name)
{
    size_t i = s_lookup(self, name, S_BIT(CF_CFG_BOOL));
    return s_value(self, i)->num != 0;
}

size_t cf_cfg_enum(const cf_cfg_t *self, const char *name)
{
    size_t i = s_lookup(self, name, S_BIT(CF_CFG_ENUM));
    const cf_cfg_val_t *val = s_value(self, i);
    if (val->has)
        return (size_t) val->num;
    size_t count = 0;
    while (self->opts[i].choices[count])
        count++;
    return count;
}

const char *const *cf_cfg_list(const cf_cfg_t *self, const char *name, size_t *n)
{
    size_t i = s_lookup(self, name, S_BIT(CF_CFG_LIST));
    const cf_cfg_val_t *val = s_value(self, i);
    if (n)
        *n = val->n_items;
    return val->n_items ? (const char *const *) val->items : s_no_items;
}

cf_cfg_src_t cf_cfg_source(const cf_cfg_t *self, const char *name)
{
    size_t i = s_lookup(self, name, ~0u);
    return self->slots[i].src;
}

int cf_cfg_is_set(const cf_cfg_t *self, const char *name)
{
    return cf_cfg_source(self, name) != CF_CFG_SRC_DEFAULT;
}

const char *cf_cfg_file(const cf_cfg_t *self)
{
    CF_ASSERT(self);
    return self->file;
}

char *const *cf_cfg_args(const cf_cfg_t *self, int *argc)
{
    CF_ASSERT(self);
    static char *const no_args[] = {NULL};
    if (argc)
        *argc = self->n_args;
    return self->n_args ? self->args : no_args;
}
