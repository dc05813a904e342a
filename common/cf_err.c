/*  cf_err - error codes, texts and failure details  */
#include "cf_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const s_texts[] = {
#define CF_ERR_TEXT(name, text) text,
    CF_ERR_LIST(CF_ERR_TEXT)
#undef CF_ERR_TEXT
};

static const char *const s_names[] = {
#define CF_ERR_NAME(name, text) #name,
    CF_ERR_LIST(CF_ERR_NAME)
#undef CF_ERR_NAME
};

const char *cf_err_str(cf_err_t err)
{
    if ((unsigned) err >= (unsigned) CF_ERR_COUNT_)
        return "unknown error";
    return s_texts[err];
}

const char *cf_err_name(cf_err_t err)
{
    if ((unsigned) err >= (unsigned) CF_ERR_COUNT_)
        return "UNKNOWN";
    return s_names[err];
}

void cf_assert_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "level=fatal msg=\"assertion failed\" cond=\"%s\" at=%s:%d\n", what, file,
            line);
    abort();
}

cf_err_t cf_why(cf_why_t *why, cf_err_t err, const char *fmt, ...)
{
    if (!why)
        return err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why->text, sizeof(why->text), fmt, ap);
    va_end(ap);
    return err;
}

const char *cf_why_text(const cf_why_t *why, cf_err_t err)
{
    if (why && why->text[0])
        return why->text;
    return cf_err_str(err);
}
