/*  cf_seal - keys at rest: AES-256-GCM sealing under a rotatable secret file  */
#include "cf_seal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sodium.h>

#include "cf_file.h"
#include "cf_mem.h"

#define S_VERSION    1u /* blob format: AES-256-GCM, header as below */
#define S_FIXED_HDR  5u /* "cfs", version, key id length */
#define S_PREFIX_LEN (sizeof(CF_SEAL_TEXT_PREFIX) - 1)
#define S_B64        sodium_base64_VARIANT_ORIGINAL /* strict: padding, no spaces, no junk */

struct s_key {
    char id[CF_SEAL_ID_MAX + 1];        /* NUL-terminated, [a-z0-9-]{1,32} */
    unsigned char key[CF_SEAL_KEY_LEN]; /* AES-256 key; wiped on destroy */
};

struct cf_seal {
    EVP_CIPHER *cipher;                  /* AES-256-GCM, fetched once (fetching per call is slow) */
    size_t count;                        /* keys held, 1..CF_SEAL_MAX_KEYS once loaded */
    struct s_key keys[CF_SEAL_MAX_KEYS]; /* keys[0] seals; every key opens */
};

typedef struct {
    const char *p; /* borrowed, not NUL-terminated */
    size_t len;    /* bytes at p */
} s_span_t;

typedef struct {
    size_t len;                  /* header bytes: S_FIXED_HDR + id length */
    char id[CF_SEAL_ID_MAX + 1]; /* key id, NUL-terminated */
} s_hdr_t;

typedef struct {
    const unsigned char *key;           /* borrowed AES key */
    const unsigned char *nonce;         /* CF_SEAL_NONCE_LEN bytes */
    const unsigned char *hdr;           /* blob header, the first part of the AAD */
    size_t hdr_len;                     /* bytes at hdr */
    const unsigned char *aad;           /* caller context, the second part of the AAD */
    size_t aad_len;                     /* bytes at aad, <= CF_SEAL_MAX_AAD */
    const unsigned char *in;            /* plaintext (seal) or ciphertext (open) */
    size_t len;                         /* bytes at in and at out, <= CF_SEAL_MAX_PLAIN */
    unsigned char *out;                 /* len bytes of output */
    unsigned char tag[CF_SEAL_TAG_LEN]; /* written by seal, checked by open */
} s_gcm_t;

static const unsigned char s_canary_plain[] = "certfleet seal canary v1";
static const unsigned char s_canary_aad[] = "cf:seal:canary";

static int s_id_valid(const char *id, size_t len)
{
    if (len == 0 || len > CF_SEAL_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
    }
    return 1;
}

static const struct s_key *s_lookup(const cf_seal_t *self, const char *id)
{
    for (size_t i = 0; i < self->count; i++)
        if (strcmp(self->keys[i].id, id) == 0)
            return &self->keys[i];
    return NULL;
}

/* ---- secret file ---------------------------------------------------------------------- */

/* Split a line at spaces and tabs; fills up to max tokens and returns how many there are. */
static size_t s_split(const char *line, size_t len, s_span_t *tok, size_t max)
{
    size_t n = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && (line[i] == ' ' || line[i] == '\t'))
            i++;
        if (i == len)
            break;
        size_t start = i;
        while (i < len && line[i] != ' ' && line[i] != '\t')
            i++;
        if (n < max)
            tok[n] = (s_span_t){line + start, i - start};
        n++;
    }
    return n;
}

/* Decode a key field into dst; the why never quotes the field (it is secret). */
static cf_err_t s_decode_key(s_span_t b64, unsigned char *dst, size_t lineno, const char *id,
                             cf_why_t *why)
{
    unsigned char tmp[96]; /* room to tell "wrong length" from "not base64" */
    size_t n = 0;
    unsigned char any = 0;
    cf_err_t rc = CF_ERR_SECRET;
    if (b64.len > 4 * sizeof(tmp) / 3)
        cf_why(why, rc,
               "secret file line %zu: key '%s' is too long (expected the base64 of %d "
               "bytes)",
               lineno, id, CF_SEAL_KEY_LEN);
    else if (sodium_base642bin(tmp, sizeof(tmp), b64.p, b64.len, NULL, &n, NULL, S_B64) != 0)
        cf_why(why, rc, "secret file line %zu: key '%s' is not valid base64", lineno, id);
    else if (n != CF_SEAL_KEY_LEN)
        cf_why(why, rc, "secret file line %zu: key '%s' is %zu bytes, expected %d", lineno, id, n,
               CF_SEAL_KEY_LEN);
    else {
        for (size_t i = 0; i < n; i++)
            any |= tmp[i];
        if (any)
            memcpy(dst, tmp, CF_SEAL_KEY_LEN);
        rc = any ? CF_OK
                 : cf_why(why, rc, "secret file line %zu: key '%s' is all zeros", lineno, id);
    }
    cf_mem_wipe(tmp, sizeof(tmp));
    return rc;
}

static cf_err_t s_parse_line(cf_seal_t *self, const char *line, size_t len, size_t lineno,
                             cf_why_t *why)
{
    s_span_t tok[4];
    size_t n = s_split(line, len, tok, 4);
    if (n == 0 || tok[0].p[0] == '#')
        return CF_OK;
    size_t magic_len = strlen(CF_SEAL_LINE_MAGIC);
    if (n != 3 || tok[0].len != magic_len || memcmp(tok[0].p, CF_SEAL_LINE_MAGIC, magic_len))
        return cf_why(why, CF_ERR_SECRET,
                      "secret file line %zu: expected \"%s <key-id> <base64 key>\"", lineno,
                      CF_SEAL_LINE_MAGIC);
    if (!s_id_valid(tok[1].p, tok[1].len))
        return cf_why(why, CF_ERR_SECRET,
                      "secret file line %zu: a key id is 1 to %d characters of a-z, 0-9 and '-'",
                      lineno, CF_SEAL_ID_MAX);
    char id[CF_SEAL_ID_MAX + 1];
    memcpy(id, tok[1].p, tok[1].len);
    id[tok[1].len] = '\0';
    if (s_lookup(self, id))
        return cf_why(why, CF_ERR_SECRET, "secret file line %zu: key id '%s' appears twice", lineno,
                      id);
    if (self->count == CF_SEAL_MAX_KEYS)
        return cf_why(why, CF_ERR_TOOBIG, "secret file holds more than %d keys", CF_SEAL_MAX_KEYS);
    struct s_key *slot = &self->keys[self->count];
    CF_TRY(s_decode_key(tok[2], slot->key, lineno, id, why));
    memcpy(slot->id, id, sizeof(id));
    self->count++;
    return CF_OK;
}

static cf_err_t s_parse(cf_seal_t *self, const char *buf, size_t len, cf_why_t *why)
{
    if (memchr(buf, '\0', len))
        return cf_why(why, CF_ERR_SECRET, "secret file holds a NUL byte: not a secret file");
    size_t lineno = 0;
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t) (nl - buf) : len;
        size_t line_len = end - pos;
        if (line_len > 0 && buf[end - 1] == '\r')
            line_len--;
        CF_TRY(s_parse_line(self, buf + pos, line_len, ++lineno, why));
        pos = end + 1;
    }
    if (self->count == 0)
        return cf_why(why, CF_ERR_SECRET,
                      "secret file holds no key (expected lines \"%s "
                      "<key-id> <base64 key>\")",
                      CF_SEAL_LINE_MAGIC);
    return CF_OK;
}

cf_err_t cf_seal_from_buffer(const char *buf, size_t len, cf_seal_t **out, cf_why_t *why)
{
    if (!out)
        return CF_ERR_INVALID;
    *out = NULL;
    if (!buf && len)
        return CF_ERR_INVALID;
    if (len > CF_SEAL_MAX_FILE)
        return cf_why(why, CF_ERR_TOOBIG, "secret file is %zu bytes, over the cap of %d", len,
                      CF_SEAL_MAX_FILE);
    cf_err_t rc = CF_ERR_NOMEM;
    cf_seal_t *self = cf_mem_calloc(1, sizeof(*self));
    if (!self)
        goto out;
    rc = CF_ERR_CRYPTO;
    self->cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    if (!self->cipher)
        goto out;
    rc = s_parse(self, buf ? buf : "", len, why);
    if (rc != CF_OK)
        goto out;
    *out = self;
    self = NULL;
out:
    cf_seal_destroy(&self);
    return rc;
}

cf_err_t cf_seal_load_file(const char *path, unsigned flags, cf_seal_t **out, cf_why_t *why)
{
    if (!out)
        return CF_ERR_INVALID;
    *out = NULL;
    if (!path)
        return CF_ERR_INVALID;
    unsigned read_flags = CF_FILE_SECRET;
    if (!(flags & CF_SEAL_ALLOW_LOOSE_PERMS))
        read_flags |= CF_FILE_PRIVATE;
    char *buf = NULL;
    size_t len = 0;
    cf_err_t rc = cf_file_read_ex(path, CF_SEAL_MAX_FILE, read_flags, &buf, &len, why);
    if (rc == CF_ERR_POLICY || rc == CF_ERR_INVALID)
        rc = CF_ERR_SECRET; /* loose permissions or not a file: not a usable secret */
    if (rc == CF_OK)
        rc = cf_seal_from_buffer(buf, len, out, why);
    cf_mem_free_secret(buf, len);
    return rc;
}

cf_err_t cf_seal_generate_file(const char *path, const char *key_id, cf_why_t *why)
{
    if (!path || !key_id)
        return CF_ERR_INVALID;
    if (!s_id_valid(key_id, strlen(key_id)))
        return cf_why(why, CF_ERR_INVALID, "a key id is 1 to %d characters of a-z, 0-9 and '-'",
                      CF_SEAL_ID_MAX);
    unsigned char key[CF_SEAL_KEY_LEN];
    char b64[sodium_base64_ENCODED_LEN(CF_SEAL_KEY_LEN, S_B64)];
    char text[512];
    cf_err_t rc = CF_ERR_CRYPTO;
    if (RAND_bytes(key, sizeof(key)) == 1) {
        sodium_bin2base64(b64, sizeof(b64), key, sizeof(key), S_B64);
        int n = snprintf(text, sizeof(text),
                         "# certfleet secret file: the same on every server of a deployment;\n"
                         "# keep it mode 0600. The first key seals, every key opens.\n"
                         "%s %s %s\n",
                         CF_SEAL_LINE_MAGIC, key_id, b64);
        CF_ASSERT(n > 0 && (size_t) n < sizeof(text));
        /* never replaces a secret (losing it loses every sealed key), nor follows a symlink */
        rc = cf_file_write_new(path, text, (size_t) n, 0600, why);
    } else {
        cf_why(why, rc, "no random bytes for a new secret key");
    }
    cf_mem_wipe(key, sizeof(key));
    cf_mem_wipe(b64, sizeof(b64));
    cf_mem_wipe(text, sizeof(text));
    return rc;
}

const char *cf_seal_current_id(const cf_seal_t *seal)
{
    CF_ASSERT(seal && seal->count > 0);
    return seal->keys[0].id;
}

int cf_seal_has_id(const cf_seal_t *seal, const char *key_id)
{
    if (!seal || !key_id)
        return 0;
    return s_lookup(seal, key_id) != NULL;
}

size_t cf_seal_key_count(const cf_seal_t *seal)
{
    return seal ? seal->count : 0;
}

void cf_seal_destroy(cf_seal_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_seal_t *self = *self_p;
    EVP_CIPHER_free(self->cipher);
    cf_mem_free_secret(self, sizeof(*self));
    *self_p = NULL;
}

/* ---- sealed blobs --------------------------------------------------------------------- */

/* One AES-256-GCM pass. Open reports an authentication failure as CF_ERR_CORRUPT. */
static cf_err_t s_gcm(const EVP_CIPHER *cipher, int enc, s_gcm_t *job)
{
    unsigned char last[CF_SEAL_TAG_LEN]; /* GCM's final step outputs nothing */
    int outl = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int ok = ctx && EVP_CipherInit_ex2(ctx, cipher, job->key, job->nonce, enc, NULL) == 1;
    ok = ok && EVP_CipherUpdate(ctx, NULL, &outl, job->hdr, (int) job->hdr_len) == 1;
    ok = ok &&
         (!job->aad_len || EVP_CipherUpdate(ctx, NULL, &outl, job->aad, (int) job->aad_len) == 1);
    ok = ok && (!job->len || EVP_CipherUpdate(ctx, job->out, &outl, job->in, (int) job->len) == 1);
    if (ok && !enc)
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, CF_SEAL_TAG_LEN, job->tag) == 1;
    cf_err_t rc = ok ? CF_OK : CF_ERR_CRYPTO;
    if (rc == CF_OK && EVP_CipherFinal_ex(ctx, last, &outl) != 1)
        rc = enc ? CF_ERR_CRYPTO : CF_ERR_CORRUPT;
    if (rc == CF_OK && enc &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, CF_SEAL_TAG_LEN, job->tag) != 1)
        rc = CF_ERR_CRYPTO;
    EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule */
    return rc;
}

static cf_err_t s_get_header(const unsigned char *blob, size_t len, s_hdr_t *hdr, cf_why_t *why)
{
    if (len < S_FIXED_HDR || memcmp(blob, "cfs", 3) != 0)
        return cf_why(why, CF_ERR_CORRUPT, "not a sealed value (bad magic or too short)");
    if (blob[3] != S_VERSION)
        return cf_why(why, CF_ERR_UNSUPPORTED,
                      "sealed value has format version %u; this build reads version %u",
                      (unsigned) blob[3], S_VERSION);
    size_t id_len = blob[4];
    if (len < S_FIXED_HDR + id_len || !s_id_valid((const char *) blob + S_FIXED_HDR, id_len))
        return cf_why(why, CF_ERR_CORRUPT, "sealed value has a truncated or malformed key id");
    memcpy(hdr->id, blob + S_FIXED_HDR, id_len);
    hdr->id[id_len] = '\0';
    hdr->len = S_FIXED_HDR + id_len;
    return CF_OK;
}

static cf_err_t s_find_key(const cf_seal_t *seal, const char *id, const struct s_key **key_out,
                           cf_why_t *why)
{
    *key_out = s_lookup(seal, id);
    if (*key_out)
        return CF_OK;
    char held[CF_WHY_MAX] = "";
    size_t used = 0;
    for (size_t i = 0; i < seal->count && used < sizeof(held); i++) {
        int n = snprintf(held + used, sizeof(held) - used, "%s%s", i ? ", " : "", seal->keys[i].id);
        used += n > 0 ? (size_t) n : 0;
    }
    return cf_why(why, CF_ERR_SECRET,
                  "sealed under key id '%s', which this secret file does not hold (it holds: %s)",
                  id, held);
}

cf_err_t cf_seal_seal(const cf_seal_t *seal, const unsigned char *plain, size_t plain_len,
                      const unsigned char *aad, size_t aad_len, unsigned char **blob_out,
                      size_t *blob_len)
{
    if (blob_out)
        *blob_out = NULL;
    if (blob_len)
        *blob_len = 0;
    if (!seal || !blob_out || !blob_len || (!plain && plain_len) || (!aad && aad_len))
        return CF_ERR_INVALID;
    if (plain_len > CF_SEAL_MAX_PLAIN || aad_len > CF_SEAL_MAX_AAD)
        return CF_ERR_TOOBIG;
    const struct s_key *key = &seal->keys[0];
    size_t id_len = strlen(key->id);
    size_t hdr_len = S_FIXED_HDR + id_len;
    size_t total = hdr_len + CF_SEAL_NONCE_LEN + plain_len + CF_SEAL_TAG_LEN;
    unsigned char *blob = cf_mem_malloc(total);
    if (!blob)
        return CF_ERR_NOMEM;
    memcpy(blob, "cfs", 3);
    blob[3] = S_VERSION;
    blob[4] = (unsigned char) id_len;
    memcpy(blob + S_FIXED_HDR, key->id, id_len);
    unsigned char *nonce = blob + hdr_len;
    s_gcm_t job = {
        key->key, nonce, blob, hdr_len, aad, aad_len, plain, plain_len, nonce + CF_SEAL_NONCE_LEN,
        {0}};
    /* Random 96-bit nonces: safe for up to 2^32 seals per key (NIST SP 800-38D 8.3). */
    cf_err_t rc = RAND_bytes(nonce, CF_SEAL_NONCE_LEN) == 1 ? CF_OK : CF_ERR_CRYPTO;
    if (rc == CF_OK)
        rc = s_gcm(seal->cipher, 1, &job);
    if (rc != CF_OK) {
        cf_mem_free(blob); /* ciphertext only */
        return rc;
    }
    memcpy(blob + total - CF_SEAL_TAG_LEN, job.tag, CF_SEAL_TAG_LEN);
    *blob_out = blob;
    *blob_len = total;
    return CF_OK;
}

/* cf_seal_open; fail_id (CF_SEAL_ID_MAX + 1 bytes) receives the key id when the blob parsed,
   its key was found and the tag did not verify (the canary calls that a wrong secret). */
static cf_err_t s_open(const cf_seal_t *seal, const unsigned char *blob, size_t blob_len,
                       const unsigned char *aad, size_t aad_len, unsigned char **plain_out,
                       size_t *plain_len, char *fail_id, cf_why_t *why)
{
    if (!seal || !plain_out || !plain_len || (!blob && blob_len) || (!aad && aad_len))
        return CF_ERR_INVALID;
    if (blob_len > CF_SEAL_MAX_BLOB || aad_len > CF_SEAL_MAX_AAD)
        return cf_why(why, CF_ERR_TOOBIG, "sealed value or context over its size cap");
    s_hdr_t hdr;
    const struct s_key *key = NULL;
    CF_TRY(s_get_header(blob, blob_len, &hdr, why));
    CF_TRY(s_find_key(seal, hdr.id, &key, why));
    if (blob_len - hdr.len < CF_SEAL_NONCE_LEN + CF_SEAL_TAG_LEN)
        return cf_why(why, CF_ERR_CORRUPT, "sealed value is truncated");
    size_t ct_len = blob_len - hdr.len - CF_SEAL_NONCE_LEN - CF_SEAL_TAG_LEN;
    unsigned char *plain = cf_mem_malloc(ct_len + 1);
    if (!plain)
        return CF_ERR_NOMEM;
    const unsigned char *nonce = blob + hdr.len;
    s_gcm_t job = {key->key, nonce, blob, hdr.len, aad, aad_len, nonce + CF_SEAL_NONCE_LEN,
                   ct_len,   plain, {0}};
    memcpy(job.tag, blob + blob_len - CF_SEAL_TAG_LEN, CF_SEAL_TAG_LEN);
    cf_err_t rc = s_gcm(seal->cipher, 0, &job);
    if (rc == CF_ERR_CORRUPT) {
        memcpy(fail_id, hdr.id, sizeof(hdr.id));
        cf_why(why, rc,
               "sealed value does not authenticate under key id '%s': altered, sealed "
               "for another record, or another secret with that id",
               hdr.id);
    }
    if (rc != CF_OK) {
        cf_mem_free_secret(plain, ct_len + 1);
        return rc;
    }
    plain[ct_len] = '\0';
    *plain_out = plain;
    *plain_len = ct_len;
    return CF_OK;
}

cf_err_t cf_seal_open(const cf_seal_t *seal, const unsigned char *blob, size_t blob_len,
                      const unsigned char *aad, size_t aad_len, unsigned char **plain_out,
                      size_t *plain_len, cf_why_t *why)
{
    char fail_id[CF_SEAL_ID_MAX + 1] = "";
    if (plain_out)
        *plain_out = NULL;
    if (plain_len)
        *plain_len = 0;
    return s_open(seal, blob, blob_len, aad, aad_len, plain_out, plain_len, fail_id, why);
}

cf_err_t cf_seal_seal_text(const cf_seal_t *seal, const unsigned char *plain, size_t plain_len,
                           const unsigned char *aad, size_t aad_len, char **text_out)
{
    if (!text_out)
        return CF_ERR_INVALID;
    *text_out = NULL;
    unsigned char *blob = NULL;
    size_t blob_len = 0;
    CF_TRY(cf_seal_seal(seal, plain, plain_len, aad, aad_len, &blob, &blob_len));
    size_t b64_size = sodium_base64_encoded_len(blob_len, S_B64); /* counts the NUL */
    char *text = cf_mem_malloc(S_PREFIX_LEN + b64_size);
    if (text) {
        memcpy(text, CF_SEAL_TEXT_PREFIX, S_PREFIX_LEN);
        sodium_bin2base64(text + S_PREFIX_LEN, b64_size, blob, blob_len, S_B64);
    }
    cf_mem_free(blob);
    *text_out = text;
    return text ? CF_OK : CF_ERR_NOMEM;
}

/* Text form to blob; *blob_out is the caller's (cf_mem_free). */
static cf_err_t s_text_decode(const char *text, size_t text_len, unsigned char **blob_out,
                              size_t *blob_len, cf_why_t *why)
{
    if (!text && text_len)
        return CF_ERR_INVALID;
    if (text_len > CF_SEAL_MAX_TEXT)
        return cf_why(why, CF_ERR_TOOBIG, "sealed text is %zu bytes, over the cap of %d", text_len,
                      CF_SEAL_MAX_TEXT);
    if (text_len <= S_PREFIX_LEN || memcmp(text, CF_SEAL_TEXT_PREFIX, S_PREFIX_LEN) != 0)
        return cf_why(why, CF_ERR_CORRUPT, "not a sealed value (no \"%s\" prefix)",
                      CF_SEAL_TEXT_PREFIX);
    size_t b64_len = text_len - S_PREFIX_LEN;
    size_t cap = b64_len / 4 * 3 + 3;
    unsigned char *blob = cf_mem_malloc(cap);
    if (!blob)
        return CF_ERR_NOMEM;
    size_t n = 0;
    if (sodium_base642bin(blob, cap, text + S_PREFIX_LEN, b64_len, NULL, &n, NULL, S_B64) != 0) {
        cf_mem_free(blob);
        return cf_why(why, CF_ERR_CORRUPT, "sealed text is not valid base64");
    }
    *blob_out = blob;
    *blob_len = n;
    return CF_OK;
}

static cf_err_t s_open_text(const cf_seal_t *seal, const char *text, size_t text_len,
                            const unsigned char *aad, size_t aad_len, unsigned char **plain_out,
                            size_t *plain_len, char *fail_id, cf_why_t *why)
{
    if (plain_out)
        *plain_out = NULL;
    if (plain_len)
        *plain_len = 0;
    if (!seal || !plain_out || !plain_len)
        return CF_ERR_INVALID;
    unsigned char *blob = NULL;
    size_t blob_len = 0;
    CF_TRY(s_text_decode(text, text_len, &blob, &blob_len, why));
    cf_err_t rc = s_open(seal, blob, blob_len, aad, aad_len, plain_out, plain_len, fail_id, why);
    cf_mem_free(blob);
    return rc;
}

cf_err_t cf_seal_open_text(const cf_seal_t *seal, const char *text, size_t text_len,
                           const unsigned char *aad, size_t aad_len, unsigned char **plain_out,
                           size_t *plain_len, cf_why_t *why)
{
    char fail_id[CF_SEAL_ID_MAX + 1] = "";
    return s_open_text(seal, text, text_len, aad, aad_len, plain_out, plain_len, fail_id, why);
}

cf_err_t cf_seal_blob_id(const unsigned char *blob, size_t blob_len,
                         char id_out[CF_SEAL_ID_MAX + 1], cf_why_t *why)
{
    if (!id_out || (!blob && blob_len))
        return CF_ERR_INVALID;
    id_out[0] = '\0';
    s_hdr_t hdr;
    CF_TRY(s_get_header(blob, blob_len, &hdr, why));
    memcpy(id_out, hdr.id, sizeof(hdr.id));
    return CF_OK;
}

cf_err_t cf_seal_check(const cf_seal_t *seal, const unsigned char *blob, size_t blob_len,
                       cf_why_t *why)
{
    if (!seal || (!blob && blob_len))
        return CF_ERR_INVALID;
    unsigned char *decoded = NULL;
    if (blob_len >= S_PREFIX_LEN && memcmp(blob, CF_SEAL_TEXT_PREFIX, S_PREFIX_LEN) == 0) {
        CF_TRY(s_text_decode((const char *) blob, blob_len, &decoded, &blob_len, why));
        blob = decoded;
    } else if (blob_len > CF_SEAL_MAX_BLOB) {
        return cf_why(why, CF_ERR_TOOBIG, "sealed value over its size cap");
    }
    s_hdr_t hdr;
    const struct s_key *key = NULL;
    cf_err_t rc = s_get_header(blob, blob_len, &hdr, why);
    if (rc == CF_OK)
        rc = s_find_key(seal, hdr.id, &key, why);
    if (rc == CF_OK && blob_len < hdr.len + CF_SEAL_NONCE_LEN + CF_SEAL_TAG_LEN)
        rc = cf_why(why, CF_ERR_CORRUPT, "sealed value is truncated");
    cf_mem_free(decoded);
    return rc;
}

cf_err_t cf_seal_make_canary(const cf_seal_t *seal, char **text_out)
{
    return cf_seal_seal_text(seal, s_canary_plain, sizeof(s_canary_plain) - 1, s_canary_aad,
                             sizeof(s_canary_aad) - 1, text_out);
}

cf_err_t cf_seal_verify_canary(const cf_seal_t *seal, const char *text, size_t text_len,
                               cf_why_t *why)
{
    if (!seal)
        return CF_ERR_INVALID;
    unsigned char *blob = NULL, *plain = NULL;
    size_t blob_len = 0, len = 0;
    char fail_id[CF_SEAL_ID_MAX + 1] = "";
    s_hdr_t hdr;
    CF_TRY(s_text_decode(text, text_len, &blob, &blob_len, why));
    cf_err_t rc = s_get_header(blob, blob_len, &hdr, why);
    /* The canary has a known length: a cut or padded one is damage, not a wrong secret. */
    size_t want = CF_SEAL_NONCE_LEN + sizeof(s_canary_plain) - 1 + CF_SEAL_TAG_LEN;
    if (rc == CF_OK && blob_len - hdr.len != want)
        rc = cf_why(why, CF_ERR_CORRUPT, "not a canary: wrong length");
    if (rc == CF_OK)
        rc = s_open(seal, blob, blob_len, s_canary_aad, sizeof(s_canary_aad) - 1, &plain, &len,
                    fail_id, why);
    if (rc == CF_OK && memcmp(plain, s_canary_plain, len) != 0)
        rc = cf_why(why, CF_ERR_CORRUPT, "sealed value opens but is not the canary");
    if (fail_id[0]) /* well formed, key id held, tag wrong: same id, other key bytes */
        rc = cf_why(why, CF_ERR_SECRET,
                    "this secret file's key '%s' does not open the store's canary: it is not "
                    "the key the store was sealed with (another deployment's secret file?)",
                    fail_id);
    cf_mem_free_secret(plain, len);
    cf_mem_free(blob);
    return rc;
}
