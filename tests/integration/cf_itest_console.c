/*  cf_itest_console - cf-console in integration tests: a test directory with certificates
    and password files, runs of the binary with a transcript, their output and JSON  */
#include "cf_itest_console.h"

#include "cf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cf_ca.h"
#include "cf_mem.h"
#include "cf_p12.h"

static char s_dir[512];    /* the test's directory: certificates, password files, outputs */
static char s_cf[600];     /* the cf-console binary */
static char s_srv[600];    /* the cf-server binary */
static char s_home[700];   /* $HOME for cf-console */
static unsigned s_runs;    /* cf-console runs so far */
static json_t *s_doc;      /* the JSON a run printed, parsed by cf_itest_console_at */
static unsigned s_doc_run; /* the run s_doc came from */

/* ---- the test directory ----------------------------------------------------------- */

void cf_itest_console_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", s_dir, name);
}

static void s_write(const char *name, const void *data, size_t len)
{
    char path[800];
    cf_itest_console_path(path, sizeof(path), name);
    cf_test_write_file(path, data, len);
}

/* Issue from ca: NAME.pem, NAME.key and NAME.p12 (password CF_ITEST_CONSOLE_P12_PASS). */
static void s_issue(cf_ca_t *ca, cf_component_t comp, const char *cn, const char *name)
{
    cf_issue_t req = {.component = comp, .name = cn, .days = 30, .now = time(NULL)};
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    char file[200], *pem = NULL;
    size_t len = 0;
    assert_int_equal(cf_ca_issue(ca, &req, &cert, &key), CF_OK);
    assert_int_equal(cf_cert_to_pem(cert, &pem, &len), CF_OK);
    snprintf(file, sizeof(file), "%s.pem", name);
    s_write(file, pem, len);
    cf_mem_free(pem);
    assert_int_equal(cf_key_to_pem(key, NULL, &pem, &len), CF_OK);
    snprintf(file, sizeof(file), "%s.key", name);
    s_write(file, pem, len);
    cf_mem_free_secret(pem, len);
    unsigned char *der = NULL;
    const cf_cert_t *chain[] = {cf_ca_cert(ca)};
    assert_int_equal(
        cf_p12_create(key, cert, chain, 1, CF_ITEST_CONSOLE_P12_PASS, cn, 0, &der, &len), CF_OK);
    snprintf(file, sizeof(file), "%s.p12", name);
    s_write(file, der, len);
    cf_mem_free(der);
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
}

static void s_make_pki(void)
{
    cf_ca_t *ca = NULL;
    cf_ca_opts_t opts = {.name = "test CA"};
    char *pem = NULL;
    size_t len = 0;
    assert_int_equal(cf_ca_create(&opts, &ca), CF_OK);
    assert_int_equal(cf_cert_to_pem(cf_ca_cert(ca), &pem, &len), CF_OK);
    s_write("ca.pem", pem, len);
    cf_mem_free(pem);
    s_issue(ca, CF_COMPONENT_SERVER, "127.0.0.1", "srv");
    s_issue(ca, CF_COMPONENT_CONSOLE, "console", "con");
    cf_ca_destroy(&ca);
}

void cf_itest_console_setup(const char *name)
{
    cf_test_tmpdir(name, s_dir, sizeof(s_dir));
    const char *bin = getenv("CF_BIN_DIR");
    snprintf(s_cf, sizeof(s_cf), "%s/console/cf-console", bin && *bin ? bin : ".");
    snprintf(s_srv, sizeof(s_srv), "%s/server/cf-server", bin && *bin ? bin : ".");
    snprintf(s_home, sizeof(s_home), "%s/home", s_dir);
    setenv("HOME", s_home, 1);
    static const char *drop[] = {"CF_CONSOLE_SERVER", "CF_CONSOLE_CA",   "CF_CONSOLE_CERT",
                                 "CF_CONSOLE_CONFIG", "CF_CONSOLE_USER", "PKCS12_PASS",
                                 "https_proxy",       "HTTPS_PROXY",     "all_proxy",
                                 "ALL_PROXY",         "NO_COLOR",        "CF_ADMIN_PASSWORD"};
    for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
        unsetenv(drop[i]);
    s_make_pki();
    assert_int_equal(
        cf_test_sh("cd '%s' && umask 077 && echo %s >p12.pass && echo %s >admin.pass && "
                   "echo wrong-password >wrong.pass && echo ops-password-1 >ops.pass && "
                   "echo newbie-pass-1 >new.pass && echo short >short.pass && "
                   "printf '%%s' %s >real.pass && cat srv.pem srv.key >both.pem && "
                   "openssl x509 -in srv.pem -outform der -out srv.der && "
                   "openssl pkcs8 -topk8 -v2 aes-256-cbc -in srv.key -passout file:p12.pass "
                   "-out enc.key && head -c 3000 /dev/urandom >junk.bin && "
                   "mkdir -p home/.config/certfleet && printf 'ca = %s/ca.pem\\ncert = "
                   "%s/con.p12\\ncert-password-file = %s/p12.pass\\n' "
                   ">home/.config/certfleet/console.conf",
                   s_dir, CF_ITEST_CONSOLE_P12_PASS, CF_ITEST_CONSOLE_ADMIN_PW,
                   CF_ITEST_CONSOLE_REAL_PW, s_dir, s_dir, s_dir),
        0);
}

void cf_itest_console_teardown(void)
{
    json_decref(s_doc);
    s_doc = NULL;
}

const char *cf_itest_console_dir(void)
{
    return s_dir;
}

const char *cf_itest_console_bin(void)
{
    return s_cf;
}

const char *cf_itest_console_server_bin(void)
{
    return s_srv;
}

const char *cf_itest_console_home(void)
{
    return s_home;
}

/* ---- running cf-console ----------------------------------------------------------- */

int cf_itest_console_vrun(const char *env, const char *fmt, va_list ap)
{
    char args[2048];
    vsnprintf(args, sizeof(args), fmt, ap);
    s_runs++;
    return cf_test_sh(
        "cd '%s' && echo '$ %s cf-console %s' >>transcript.txt && env %s setsid -w "
        "'%s' %s >out.txt 2>err.txt; rc=$?; cat out.txt err.txt >all.txt; cat all.txt "
        ">>transcript.txt; exit $rc",
        s_dir, env ? env : "", args, env ? env : "", s_cf, args);
}

int cf_itest_console_run(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = cf_itest_console_vrun(NULL, fmt, ap);
    va_end(ap);
    return rc;
}

char *cf_itest_console_out(int with_err)
{
    char path[800];
    cf_itest_console_path(path, sizeof(path), with_err ? "all.txt" : "out.txt");
    return cf_test_read_file(path, NULL);
}

int cf_itest_console_has(const char *text)
{
    char *out = cf_itest_console_out(1);
    int found = strstr(out, text) != NULL;
    if (!found)
        print_message("output did not contain '%s':\n%s\n", text, out);
    free(out);
    return found;
}

json_t *cf_itest_console_at(const char *path)
{
    json_error_t err;
    if (!s_doc || s_doc_run != s_runs) {
        char *out = cf_itest_console_out(0);
        json_decref(s_doc);
        s_doc = json_loads(out, 0, &err);
        s_doc_run = s_runs;
        if (!s_doc)
            fail_msg("stdout is not JSON (%s):\n%s", err.text, out);
        free(out);
    }
    json_t *v = s_doc;
    for (const char *p = path; *p && v; p += strcspn(p, "."), p += *p == '.') {
        char key[64];
        snprintf(key, sizeof(key), "%.*s", (int) strcspn(p, "."), p);
        v = json_is_array(v) ? json_array_get(v, strtoul(key, NULL, 10)) : json_object_get(v, key);
    }
    return v;
}

void cf_itest_console_expect(int line, const char *env, int code, const char *has, const char *fmt,
                             ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = cf_itest_console_vrun(env, fmt, ap);
    va_end(ap);
    char *err = cf_itest_console_out(1);
    int sanitizer = strstr(err, "Sanitizer") || strstr(err, "runtime error:");
    free(err);
    if (sanitizer) /* an ASan build: its exit code 1 could pass for ours */
        fail_msg("line %d: a sanitizer spoke (see transcript.txt)", line);
    if (rc != code || (has && !cf_itest_console_has(has)))
        fail_msg("line %d: exit %d (wanted %d) from cf-console %s (see transcript.txt)", line, rc,
                 code, fmt);
}
