/*  bench_issue - certificate issuance rates against the raw cryptographic cost  */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "cf_ca.h"
#include "cf_mem.h"

#define S_GOAL       1.3 /* P-256 issuance may cost at most this many times the raw work */
#define S_MAX_ROUNDS 50
#define S_SLICE      50 /* operations per side before switching between raw and issuance */
#define S_PASS       "bench-password"

typedef struct {
    long iterations; /* P-256 operations per round */
    int rounds;      /* rounds of raw / issuance, interleaved; the median is reported */
    long p12;        /* P-256 + PKCS#12 operations */
    long rsa;        /* RSA-2048 operations (key generation dominates) */
    long obvious;    /* operations of the obvious OpenSSL sequence */
} s_opts_t;

typedef struct {
    cf_ca_t *ca;            /* P-256 CA under test */
    EVP_PKEY_CTX *gen;      /* raw: P-256 key generation, initialised once */
    EVP_MD_CTX *tmpl;       /* raw: ECDSA-SHA256 with the CA key, initialised once */
    EVP_MD_CTX *work;       /* raw: the copy each signature uses */
    unsigned char msg[500]; /* raw: the buffer signed */
    unsigned char *der;     /* an agent certificate's DER, as a server has it recorded */
    size_t der_len;         /* its length */
    cf_cert_reader_t *rd;   /* reads it without decoding its key */
    unsigned char *kder;    /* an agent's P-256 private key, PKCS#8 DER */
    size_t kder_len;        /* its length */
} s_bench_t;

typedef int (*s_op_fn)(s_bench_t *b);

/* CPU time of this thread, so other load on a shared machine does not skew the ratio. */
static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void s_die(const char *what)
{
    fprintf(stderr, "bench_issue: %s failed\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

/* Microseconds per operation over n calls of op. */
static double s_time(s_bench_t *b, s_op_fn op, long n, const char *what)
{
    double t0 = s_now();
    for (long i = 0; i < n; i++) {
        if (!op(b))
            s_die(what);
    }
    return (s_now() - t0) * 1e6 / (double) n;
}

static int s_raw_keygen(s_bench_t *b)
{
    EVP_PKEY *k = NULL;
    int ok = EVP_PKEY_keygen(b->gen, &k) == 1;
    EVP_PKEY_free(k);
    return ok;
}

static int s_raw_sign(s_bench_t *b)
{
    unsigned char sig[80];
    size_t len = sizeof(sig);
    return EVP_MD_CTX_copy_ex(b->work, b->tmpl) == 1 &&
           EVP_DigestSign(b->work, sig, &len, b->msg, sizeof(b->msg)) == 1;
}

static int s_raw(s_bench_t *b)
{
    return s_raw_keygen(b) && s_raw_sign(b);
}

static int s_issue_type(s_bench_t *b, cf_key_type_t type)
{
    cf_issue_t req = {.component = CF_COMPONENT_AGENT, .name = "bench-agent", .key_type = type};
    unsigned char *der = NULL;
    size_t len = 0;
    cf_key_t *key = NULL;
    int ok = cf_ca_issue_der(b->ca, &req, &der, &len, &key) == CF_OK;
    cf_mem_free(der);
    cf_key_destroy(&key);
    return ok;
}

static int s_issue(s_bench_t *b)
{
    return s_issue_type(b, CF_KEY_P256);
}

/* The convenience form: the same, parsed into a cf_cert_t (an X509) for the caller. */
static int s_issue_parsed(s_bench_t *b)
{
    cf_issue_t req = {.component = CF_COMPONENT_AGENT, .name = "bench-agent"};
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    int ok = cf_ca_issue(b->ca, &req, &cert, &key) == CF_OK;
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
    return ok;
}

/* A recorded certificate read back, as a server does before reissuing it: in full (its
   key decoded: OpenSSL 3.0 sets up its decoders for that) and with cf_cert_reader. */
static int s_read_full(s_bench_t *b)
{
    cf_cert_t *cert = NULL;
    int ok = cf_cert_parse(b->der, b->der_len, &cert) == CF_OK;
    cf_cert_destroy(&cert);
    return ok;
}

static int s_read_reader(s_bench_t *b)
{
    cf_cert_t *cert = NULL;
    int ok = cf_cert_reader_parse(b->rd, b->der, b->der_len, &cert) == CF_OK;
    cf_cert_destroy(&cert);
    return ok;
}

/* An agent's private key decoded, by OpenSSL's decoder and by cf_key's P-256 path. */
static int s_key_openssl(s_bench_t *b)
{
    const unsigned char *p = b->kder;
    PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long) b->kder_len);
    EVP_PKEY *k = p8 ? EVP_PKCS82PKEY(p8) : NULL;
    int ok = k != NULL;
    EVP_PKEY_free(k);
    PKCS8_PRIV_KEY_INFO_free(p8);
    return ok;
}

static int s_key_cf(s_bench_t *b)
{
    cf_key_t *key = NULL;
    int ok = cf_key_from_der(b->kder, b->kder_len, &key) == CF_OK;
    cf_key_destroy(&key);
    return ok;
}

static int s_issue_rsa(s_bench_t *b)
{
    return s_issue_type(b, CF_KEY_RSA2048);
}

/* PKCS#12 with AES-256-CBC under PBKDF2 for key and certificate, SHA-256 MAC. */
static int s_p12_type(s_bench_t *b, cf_key_type_t type)
{
    cf_issue_t req = {.component = CF_COMPONENT_AGENT, .name = "bench-agent", .key_type = type};
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    unsigned char *der = NULL;
    int ok = 0;
    if (cf_ca_issue(b->ca, &req, &cert, &key) == CF_OK) {
        PKCS12 *p12 = PKCS12_create(S_PASS, "bench-agent", cf_key_pkey(key), cf_cert_x509(cert),
                                    NULL, NID_aes_256_cbc, NID_aes_256_cbc, 0, -1, 0);
        ok = p12 && PKCS12_set_mac(p12, S_PASS, -1, NULL, 0, 0, EVP_sha256()) == 1 &&
             i2d_PKCS12(p12, &der) > 0;
        PKCS12_free(p12);
    }
    OPENSSL_free(der);
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
    return ok;
}

static int s_p12(s_bench_t *b)
{
    return s_p12_type(b, CF_KEY_P256);
}

static int s_p12_rsa(s_bench_t *b)
{
    return s_p12_type(b, CF_KEY_RSA2048);
}

static int s_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    int ok = ext && X509_add_ext(x, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok;
}

/* The obvious OpenSSL 3 sequence for the same agent certificate, for comparison. */
static int s_obvious(s_bench_t *b)
{
    X509 *ca = cf_cert_x509(cf_ca_cert(b->ca));
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    BIGNUM *bn = BN_new();
    unsigned char *der = NULL;
    int ok = key && x && bn && X509_set_version(x, 2) && BN_rand(bn, 128, BN_RAND_TOP_ANY, 0) &&
             BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) &&
             X509_set_issuer_name(x, X509_get_subject_name(ca)) &&
             X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
                                        (const unsigned char *) "bench-agent", -1, -1, 0) &&
             X509_gmtime_adj(X509_getm_notBefore(x), -300) &&
             X509_gmtime_adj(X509_getm_notAfter(x), 365L * 86400) && X509_set_pubkey(x, key) &&
             s_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") &&
             s_ext(x, ca, NID_key_usage, "critical,digitalSignature") &&
             s_ext(x, ca, NID_ext_key_usage, "clientAuth") &&
             s_ext(x, ca, NID_subject_alt_name, "URI:urn:certfleet:agent:bench-agent") &&
             s_ext(x, ca, NID_subject_key_identifier, "hash") &&
             s_ext(x, ca, NID_authority_key_identifier, "keyid:always") &&
             X509_sign(x, cf_key_pkey(cf_ca_key(b->ca)), EVP_sha256()) > 0 && i2d_X509(x, &der) > 0;
    OPENSSL_free(der);
    BN_free(bn);
    X509_free(x);
    EVP_PKEY_free(key);
    return ok;
}

/* Raw and issuance in alternating slices of S_SLICE operations (raw first, then issuance
   first, ...), so a slow moment on a shared machine hits both sides alike. */
static void s_paired(s_bench_t *b, long n, double *raw_us, double *issue_us)
{
    double raw = 0, issue = 0;
    long done = 0;
    for (int k = 0; done < n; k++) {
        long m = n - done < S_SLICE ? n - done : S_SLICE;
        double r = 0, i = 0;
        if (k % 2)
            i = s_time(b, s_issue, m, "P-256 issuance");
        r = s_time(b, s_raw, m, "raw keygen + sign");
        if (!(k % 2))
            i = s_time(b, s_issue, m, "P-256 issuance");
        raw += r * (double) m;
        issue += i * (double) m;
        done += m;
    }
    *raw_us = raw / (double) n;
    *issue_us = issue / (double) n;
}

static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

static double s_median(double *v, int n)
{
    qsort(v, (size_t) n, sizeof(*v), s_cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void s_setup(s_bench_t *b)
{
    cf_ca_opts_t opts = {.key_type = CF_KEY_P256, .name = "bench CA"};
    if (cf_ca_create(&opts, &b->ca) != CF_OK)
        s_die("CA creation");
    b->gen = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    b->tmpl = EVP_MD_CTX_new();
    b->work = EVP_MD_CTX_new();
    if (!b->gen || EVP_PKEY_keygen_init(b->gen) != 1 ||
        EVP_PKEY_CTX_set_group_name(b->gen, "P-256") != 1 || !b->tmpl || !b->work ||
        EVP_DigestSignInit(b->tmpl, NULL, EVP_sha256(), NULL, cf_key_pkey(cf_ca_key(b->ca))) != 1 ||
        RAND_bytes(b->msg, sizeof(b->msg)) != 1)
        s_die("raw setup");
    cf_issue_t req = {.component = CF_COMPONENT_AGENT, .name = "bench-agent"};
    cf_key_t *key = NULL;
    if (cf_ca_issue_der(b->ca, &req, &b->der, &b->der_len, &key) != CF_OK ||
        cf_cert_reader_new(&b->rd) != CF_OK || cf_key_to_der(key, &b->kder, &b->kder_len) != CF_OK)
        s_die("recorded certificate setup");
    cf_key_destroy(&key);
}

static void s_teardown(s_bench_t *b)
{
    EVP_MD_CTX_free(b->work);
    EVP_MD_CTX_free(b->tmpl);
    EVP_PKEY_CTX_free(b->gen);
    cf_cert_reader_destroy(&b->rd);
    cf_mem_free(b->der);
    cf_mem_free_secret(b->kder, b->kder_len);
    cf_ca_destroy(&b->ca);
}

/* One result; raw 0 leaves the ratio out (RSA: key generation is another kind of work). */
static void s_line(const char *what, double us, double raw)
{
    printf("%-48s %9.1f us/op %9.1f ops/s", what, us, 1e6 / us);
    if (raw > 0)
        printf(" %6.2fx raw", us / raw);
    printf("\n");
}

static int s_run(const s_opts_t *o)
{
    s_bench_t b = {0};
    s_setup(&b);
    double raw[S_MAX_ROUNDS], issue[S_MAX_ROUNDS], ratio[S_MAX_ROUNDS];
    double keygen[S_MAX_ROUNDS], sign[S_MAX_ROUNDS];
    s_time(&b, s_issue, o->iterations / 10 + 1, "warm-up"); /* caches, lazy provider loads */
    s_time(&b, s_raw, o->iterations / 10 + 1, "warm-up");
    for (int r = 0; r < o->rounds; r++) {
        s_paired(&b, o->iterations, &raw[r], &issue[r]);
        ratio[r] = issue[r] / raw[r];
        keygen[r] = s_time(&b, s_raw_keygen, o->iterations / 4 + 1, "raw keygen");
        sign[r] = s_time(&b, s_raw_sign, o->iterations / 4 + 1, "raw sign");
    }
    double raw_us = s_median(raw, o->rounds), ratio_med = s_median(ratio, o->rounds);
    printf("bench_issue: P-256 CA; %d rounds x %ld ops, median of rounds; thread CPU time\n",
           o->rounds, o->iterations);
    s_line("raw: P-256 keygen + ECDSA-SHA256 over 500 B", raw_us, raw_us);
    printf("  (keygen %.1f us, sign %.1f us)\n", s_median(keygen, o->rounds),
           s_median(sign, o->rounds));
    s_line("P-256 agent issuance (key + cert DER)", s_median(issue, o->rounds), raw_us);
    s_line("P-256 agent issuance, parsed (cf_ca_issue)",
           s_time(&b, s_issue_parsed, o->iterations / 4 + 1, "P-256 issuance, parsed"), raw_us);
    s_line("P-256 agent issuance + PKCS#12", s_time(&b, s_p12, o->p12, "P-256 + PKCS#12"), raw_us);
    s_line("RSA-2048 agent issuance (key + cert DER)", s_time(&b, s_issue_rsa, o->rsa, "RSA"), 0);
    s_line("RSA-2048 agent issuance + PKCS#12", s_time(&b, s_p12_rsa, o->rsa, "RSA + PKCS#12"), 0);
    s_line("obvious OpenSSL sequence, P-256 (X509_*)", s_time(&b, s_obvious, o->obvious, "obvious"),
           raw_us);
    long reads = o->iterations / 4 + 1;
    s_line("recorded agent certificate read (cf_cert_parse)",
           s_time(&b, s_read_full, reads, "certificate read"), 0);
    s_line("... read without its key (cf_cert_reader)",
           s_time(&b, s_read_reader, reads, "certificate read, reader"), 0);
    s_line("P-256 private key decode (EVP_PKCS82PKEY)",
           s_time(&b, s_key_openssl, reads, "key decode, OpenSSL"), 0);
    s_line("... by cf_key's P-256 path (cf_key_from_der)",
           s_time(&b, s_key_cf, reads, "key decode, cf_key"), 0);
    printf("goal: P-256 issuance <= %.1fx raw: %s (%.2fx, median of per-round ratios)\n", S_GOAL,
           ratio_med <= S_GOAL ? "MET" : "MISSED", ratio_med);
    s_teardown(&b);
    return 0;
}

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: bench_issue [--iterations N] [--rounds R] [--p12 N] [--rsa N] "
            "[--obvious N]\n"
            "  --iterations N  P-256 operations per round (default 2000)\n"
            "  --rounds R      interleaved rounds of raw and issuance, 1..%d (default 7)\n"
            "  --p12 N         P-256 + PKCS#12 operations (default 100)\n"
            "  --rsa N         RSA-2048 operations, each with its key generation "
            "(default 3)\n"
            "  --obvious N     operations of the obvious OpenSSL sequence (default 500)\n",
            S_MAX_ROUNDS);
}

static int s_count(const char *text, long max, long *out)
{
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (!end || *end || v < 1 || v > max)
        return 0;
    *out = v;
    return 1;
}

int main(int argc, char **argv)
{
    s_opts_t o = {2000, 7, 100, 3, 500};
    static const struct option opts[] = {
        {"iterations", required_argument, NULL, 'i'},
        {"rounds", required_argument, NULL, 'r'},
        {"p12", required_argument, NULL, 'p'},
        {"rsa", required_argument, NULL, 's'},
        {"obvious", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    for (;;) {
        int c = getopt_long(argc, argv, "i:r:p:s:o:h", opts, NULL);
        long rounds = o.rounds;
        int ok = 1;
        if (c == -1)
            break;
        switch (c) {
        case 'i': ok = s_count(optarg, 10000000, &o.iterations); break;
        case 'r':
            ok = s_count(optarg, S_MAX_ROUNDS, &rounds);
            o.rounds = (int) rounds;
            break;
        case 'p': ok = s_count(optarg, 1000000, &o.p12); break;
        case 's': ok = s_count(optarg, 10000, &o.rsa); break;
        case 'o': ok = s_count(optarg, 1000000, &o.obvious); break;
        case 'h': s_usage(stdout); return 0;
        default: ok = 0; break;
        }
        if (!ok) {
            s_usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        s_usage(stderr);
        return 2;
    }
    return s_run(&o);
}
