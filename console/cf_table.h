/*  cf_table - what cf-console shows people, and words it reads: tables, locks, times  */
#ifndef CF_TABLE_H_INCLUDED
#define CF_TABLE_H_INCLUDED

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "cf_err.h"

#define CF_TABLE_MAX_COLS 16     /* columns in one table */
#define CF_TABLE_MAX_ROWS 100000 /* rows in one table (CF_ERR_TOOBIG past it) */
#define CF_TABLE_MAX_CELL 2048   /* bytes of one cell's text (CF_ERR_TOOBIG past it) */
#define CF_TABLE_TIME_MAX 32     /* buffer that holds any cf_table_time text */

typedef enum {
    CF_TABLE_LEFT = 0, /* text starts at the column's left edge */
    CF_TABLE_RIGHT,    /* text ends at the column's right edge (numbers) */
} cf_table_align_t;

/* One column. */
typedef struct {
    const char *header;     /* printed above the column; NULL in every column: no header line */
    cf_table_align_t align; /* where shorter cells sit */
} cf_table_col_t;

typedef struct cf_table cf_table_t; /* opaque: rows of cells, printed aligned */

/* A table with n columns (1..CF_TABLE_MAX_COLS; cols is borrowed and must outlive the
   table). colour: 1 to draw lock markers in colour (cf_table_colour says when). Returns
   NULL on out-of-memory; n out of range is API misuse (CF_ASSERT). */
cf_table_t *cf_table_new(const cf_table_col_t *cols, size_t n, int colour);
void cf_table_destroy(cf_table_t **self_p); /* NULLs *self_p; safe to repeat */

/* Append one cell to the last row, starting a new row when it is full. text is copied;
   NULL prints as "-". Text that could steer a terminal is made harmless: control
   characters (C0, DEL, C1) and bytes that are not UTF-8 each become '?'. Errors:
   CF_ERR_TOOBIG (text over CF_TABLE_MAX_CELL bytes, or a row past CF_TABLE_MAX_ROWS),
   CF_ERR_NOMEM. The first failure sticks: every later add returns it, adding nothing, and
   cf_table_print refuses with it (so a row can be added cell by cell, checked once). */
CF_MUST_USE cf_err_t cf_table_add(cf_table_t *self, const char *text);
/* As cf_table_add with printf formatting (the result must fit CF_TABLE_MAX_CELL). */
CF_MUST_USE cf_err_t cf_table_addf(cf_table_t *self, const char *fmt, ...) CF_PRINTF(2, 3);
/* Append a row of a two-column table: key, then the formatted value. As cf_table_add. */
CF_MUST_USE cf_err_t cf_table_kv(cf_table_t *self, const char *key, const char *fmt, ...)
    CF_PRINTF(3, 4);
/* Append a lock cell: a marker (in colour when the table has colour: green secure, yellow
   attention, red insecure and expired) and the state's word; with suffix (may be NULL),
   the word is padded to the longest state word and the suffix follows, so times in a
   column line up ("secure    2025-11-26 17:17"). An unknown state prints as given, with
   no colour. Errors as cf_table_add. */
CF_MUST_USE cf_err_t cf_table_add_lock(cf_table_t *self, const char *lock, const char *suffix);

/* The time left of a certificate as words, from its whole days left (rounded down, as the
   API's days_left) and whether it has expired: "expired today", "expired 1 day ago",
   "expired 12 days ago"; "under a day", "1 day", "30 days". buf holds at least
   CF_TABLE_DAYS_MAX bytes; returns buf. */
#define CF_TABLE_DAYS_MAX 48 /* buffer that holds any cf_table_days_left text */
const char *cf_table_days_left(long long days_left, int expired, char *buf, size_t len);
/* Append cf_table_days_left's text as a cell, in colour when the table has colour: bold
   red once expired, red under CF_TABLE_DAYS_RED days left, yellow under
   CF_TABLE_DAYS_YELLOW, plain after. Errors as cf_table_add. */
#define CF_TABLE_DAYS_RED    7  /* days left below which the cell is red */
#define CF_TABLE_DAYS_YELLOW 30 /* ... yellow */
CF_MUST_USE cf_err_t cf_table_add_expiry(cf_table_t *self, long long days_left, int expired);

/* Rows so far (a partly filled last row counts). */
size_t cf_table_rows(const cf_table_t *self);

/* Print the header line (unless every header is NULL) and the rows: columns two spaces
   apart, each as wide as its widest cell (counted in characters, not bytes; colour codes
   take no room), no blanks at line ends. CF_ERR_INVALID when the last row is not full;
   CF_ERR_IO when writing fails. */
CF_MUST_USE cf_err_t cf_table_print(const cf_table_t *self, FILE *out);

/* 1 when out is a terminal and NO_COLOR is unset or empty (https://no-color.org). */
int cf_table_colour(FILE *out);

/* Display width of text: UTF-8 characters, with our colour codes (ESC [ ... m) taking
   no room. */
size_t cf_table_width(const char *text);

/* "2025-11-26 17:17 UTC" for a unix time t > 0; "never" for t <= 0. buf holds at least
   CF_TABLE_TIME_MAX bytes; returns buf. */
const char *cf_table_time(long long t, char *buf, size_t len);

/* Parse an --since value into unix seconds: a unix time (digits), a time ago
   ("90s", "15m", "24h", "7d", "2w"), or a UTC date "YYYY-MM-DD" with an optional
   "THH:MM[:SS]" and a trailing "Z". now is the current time for "ago". Errors:
   CF_ERR_INVALID (why quotes the text and shows the forms), CF_ERR_TOOBIG (over 64
   bytes, or a number that overflows). */
CF_MUST_USE cf_err_t cf_table_parse_since(const char *text, long long now, long long *out,
                                          cf_why_t *why);

/* An on/off argument: on, off, true, false, yes, no, 1, 0 (any case) into *on.
   CF_ERR_INVALID for anything else. */
CF_MUST_USE cf_err_t cf_table_parse_switch(const char *text, int *on);

/* An answer's paging cursor as text into buf: a string or an integer; "" when paging is
   over (absent, null, "", "0" or 0). CF_ERR_TOOBIG when it does not fit; CF_ERR_INVALID
   for another JSON type. */
CF_MUST_USE cf_err_t cf_table_cursor(const json_t *cursor, char *buf, size_t len);

#endif
