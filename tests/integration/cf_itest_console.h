/*  cf_itest_console - cf-console in integration tests: a test directory with certificates
    and password files, runs of the binary with a transcript, their output and JSON  */
#ifndef CF_ITEST_CONSOLE_H_INCLUDED
#define CF_ITEST_CONSOLE_H_INCLUDED

#include <stdarg.h>
#include <stddef.h>

#include <jansson.h>

#include "cf_err.h"

#define CF_ITEST_CONSOLE_P12_PASS "p12-secret"        /* p12.pass: the .p12 files, enc.key */
#define CF_ITEST_CONSOLE_ADMIN_PW "right-password-1"  /* admin.pass */
#define CF_ITEST_CONSOLE_REAL_PW  "real-admin-pass-1" /* real.pass: cf-server --init's admin */

/* A fresh test directory named after name (cf_test_tmpdir) holding ca.pem, srv.* and
   con.* (.pem, .key, .p12 with CF_ITEST_CONSOLE_P12_PASS; srv.der, both.pem: srv's
   certificate and key, enc.key: srv's key encrypted with that password), junk.bin, the
   password files p12, admin, wrong, ops, new, short and real (.pass), and
   home/.config/certfleet/console.conf naming ca.pem and con.p12. $HOME becomes dir/home;
   the CF_CONSOLE_* settings, PKCS12_PASS, proxies and NO_COLOR are unset. The binaries
   are looked for under $CF_BIN_DIR. Fails the test on any error. */
void cf_itest_console_setup(const char *name);
/* Free the JSON kept from the last run. */
void cf_itest_console_teardown(void);

const char *cf_itest_console_dir(void);        /* the test directory */
const char *cf_itest_console_bin(void);        /* the cf-console binary */
const char *cf_itest_console_server_bin(void); /* the cf-server binary */
const char *cf_itest_console_home(void);       /* $HOME of cf-console */
/* dir/name into buf. */
void cf_itest_console_path(char *buf, size_t len, const char *name);

/* Run `env cf-console args` (args from fmt; env may be NULL) in the test directory,
   detached from any terminal (no prompt can wait): stdout to out.txt, stderr to err.txt;
   returns the exit code. args hold no single quote. transcript.txt keeps every run and
   its output. */
int cf_itest_console_vrun(const char *env, const char *fmt, va_list ap);
int cf_itest_console_run(const char *fmt, ...) CF_PRINTF(1, 2);
/* stdout ("out.txt"), or stdout and stderr ("all.txt"), of the last run (free). */
char *cf_itest_console_out(int with_err);
/* 1 when the last run's stdout or stderr holds text; else 0, printing the output. */
int cf_itest_console_has(const char *text);
/* The value at path ("migration.total_agents", "servers.1.host"; "" is the whole answer)
   in the JSON the last run printed on stdout (borrowed until the next run; fails the
   test when stdout is not JSON). NULL when the path leads nowhere. */
json_t *cf_itest_console_at(const char *path);
/* Run as cf_itest_console_vrun and fail the test (naming line) unless the exit code is
   code and the output holds has (NULL: anything), or when a sanitizer spoke. */
void cf_itest_console_expect(int line, const char *env, int code, const char *has, const char *fmt,
                             ...) CF_PRINTF(5, 6);

#endif
