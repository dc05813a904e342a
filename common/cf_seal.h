/*  cf_seal - keys at rest: AES-256-GCM sealing under a rotatable secret file  */
#ifndef CF_SEAL_H_INCLUDED
#define CF_SEAL_H_INCLUDED

#include <stddef.h>

#include "cf_err.h"

/* Formats and limits (docs/seal.md). */
#define CF_SEAL_KEY_LEN      32                   /* AES-256 key, bytes */
#define CF_SEAL_ID_MAX       32                   /* key id: 1..32 chars of [a-z0-9-] */
#define CF_SEAL_NONCE_LEN    12                   /* GCM nonce, random per seal */
#define CF_SEAL_TAG_LEN      16                   /* GCM tag */
#define CF_SEAL_HEADER_MAX   (5 + CF_SEAL_ID_MAX) /* "cfs", version, id length, id */
#define CF_SEAL_OVERHEAD_MAX (CF_SEAL_HEADER_MAX + CF_SEAL_NONCE_LEN + CF_SEAL_TAG_LEN)
#define CF_SEAL_MAX_PLAIN    (1024 * 1024) /* largest value we seal, bytes */
#define CF_SEAL_MAX_BLOB     (CF_SEAL_MAX_PLAIN + CF_SEAL_OVERHEAD_MAX)
#define CF_SEAL_MAX_AAD      1024        /* largest caller context, bytes */
#define CF_SEAL_MAX_FILE     (64 * 1024) /* largest secret file, bytes */
#define CF_SEAL_MAX_KEYS     64          /* keys per secret file */
#define CF_SEAL_TEXT_PREFIX  "cfseal1:"  /* text form: prefix + base64(blob) */
#define CF_SEAL_MAX_TEXT     (8 + 4 * ((CF_SEAL_MAX_BLOB + 2) / 3))
#define CF_SEAL_LINE_MAGIC   "certfleet-secret-v1" /* first field of each key line */

/* cf_seal_load_file flags. */
#define CF_SEAL_ALLOW_LOOSE_PERMS 1u /* accept a file that group/others may access */

typedef struct cf_seal cf_seal_t; /* opaque keyring; read-only once loaded, so one keyring
                                     may serve many threads at once */

/* Load a secret file: lines "certfleet-secret-v1 <key-id> <base64 of 32 bytes>", '#'
   comments and blank lines allowed; the first key seals, all keys open. The file must be a
   regular file that group and others cannot access (mode 0600 or 0400) unless flags has
   CF_SEAL_ALLOW_LOOSE_PERMS. *out is the caller's (cf_seal_destroy); NULL on failure.
   Errors: CF_ERR_NOTFOUND (no such file), CF_ERR_IO, CF_ERR_TOOBIG (> CF_SEAL_MAX_FILE bytes
   or > CF_SEAL_MAX_KEYS keys), CF_ERR_SECRET (permissions, or any malformed line: why gives
   the line number, never key bytes), CF_ERR_NOMEM, CF_ERR_CRYPTO. why may be NULL. */
CF_MUST_USE cf_err_t cf_seal_load_file(const char *path, unsigned flags, cf_seal_t **out,
                                       cf_why_t *why);
/* As cf_seal_load_file for file contents already in memory (borrowed; the caller wipes it).
   Same errors, without the file ones. */
CF_MUST_USE cf_err_t cf_seal_from_buffer(const char *buf, size_t len, cf_seal_t **out,
                                         cf_why_t *why);
/* Create a new secret file at path holding one fresh random key (RAND_bytes) named key_id,
   with mode 0600, created exclusively and fsynced. Never overwrites: CF_ERR_EXISTS if path
   exists (a symlink included). CF_ERR_INVALID for a bad key_id, CF_ERR_IO, CF_ERR_CRYPTO. */
CF_MUST_USE cf_err_t cf_seal_generate_file(const char *path, const char *key_id, cf_why_t *why);

/* Id of the key new seals use (the file's first key). Borrowed: lives as long as seal. */
const char *cf_seal_current_id(const cf_seal_t *seal);
/* 1 if key_id (NUL-terminated) is in the keyring, else 0. */
int cf_seal_has_id(const cf_seal_t *seal, const char *key_id);
/* Number of keys in the keyring (1..CF_SEAL_MAX_KEYS). */
size_t cf_seal_key_count(const cf_seal_t *seal);

/* Seal plain_len bytes (0..CF_SEAL_MAX_PLAIN; plain may be NULL when 0) under the current
   key. aad (0..CF_SEAL_MAX_AAD bytes, may be NULL when 0) is a context that must be given
   again to open, e.g. "cf:key:server:srv1", so a sealed value cannot be moved to another
   record. *blob_out (plain_len + header + 28 bytes) is the caller's (cf_mem_free).
   Errors: CF_ERR_INVALID, CF_ERR_TOOBIG, CF_ERR_NOMEM, CF_ERR_CRYPTO. */
CF_MUST_USE cf_err_t cf_seal_seal(const cf_seal_t *seal, const unsigned char *plain,
                                  size_t plain_len, const unsigned char *aad, size_t aad_len,
                                  unsigned char **blob_out, size_t *blob_len);
/* Open a blob made by cf_seal_seal with the same aad. *plain_out (NUL-terminated for
   convenience, NUL not counted) is the caller's: free with cf_mem_free_secret(*plain_out,
   *plain_len). Errors: CF_ERR_TOOBIG (blob > CF_SEAL_MAX_BLOB or aad too long), CF_ERR_CORRUPT
   (truncated, malformed, or authentication failed: altered bytes, another aad, or another
   secret under the same key id), CF_ERR_UNSUPPORTED (a newer format version), CF_ERR_SECRET
   (key id not in this keyring; why names it), CF_ERR_INVALID, CF_ERR_NOMEM, CF_ERR_CRYPTO.
   Outputs are NULL/0 on failure. */
CF_MUST_USE cf_err_t cf_seal_open(const cf_seal_t *seal, const unsigned char *blob, size_t blob_len,
                                  const unsigned char *aad, size_t aad_len,
                                  unsigned char **plain_out, size_t *plain_len, cf_why_t *why);

/* As cf_seal_seal, giving the text form "cfseal1:<base64 of the blob>" (NUL-terminated,
   safe in JSON and Redis), the caller's (cf_mem_free). */
CF_MUST_USE cf_err_t cf_seal_seal_text(const cf_seal_t *seal, const unsigned char *plain,
                                       size_t plain_len, const unsigned char *aad, size_t aad_len,
                                       char **text_out);
/* As cf_seal_open for the text form (text_len bytes, no NUL needed; at most
   CF_SEAL_MAX_TEXT). A missing prefix or bad base64 is CF_ERR_CORRUPT. */
CF_MUST_USE cf_err_t cf_seal_open_text(const cf_seal_t *seal, const char *text, size_t text_len,
                                       const unsigned char *aad, size_t aad_len,
                                       unsigned char **plain_out, size_t *plain_len, cf_why_t *why);

/* Copy a blob's key id (header only, nothing decrypted) into id_out (CF_SEAL_ID_MAX + 1
   bytes). CF_ERR_CORRUPT if the header is malformed, CF_ERR_UNSUPPORTED for a newer version.
   Callers compare it with cf_seal_current_id to find values to re-seal after a rotation. */
CF_MUST_USE cf_err_t cf_seal_blob_id(const unsigned char *blob, size_t blob_len,
                                     char id_out[CF_SEAL_ID_MAX + 1], cf_why_t *why);
/* Cheap check that a blob (binary or text form, told apart by the "cfseal1:" prefix) is
   well formed and sealed under a key id this keyring holds. Does not authenticate: use the
   canary for that. CF_ERR_SECRET (unknown id; why names it), CF_ERR_CORRUPT,
   CF_ERR_UNSUPPORTED, CF_ERR_TOOBIG, CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_seal_check(const cf_seal_t *seal, const unsigned char *blob,
                                   size_t blob_len, cf_why_t *why);

/* A canary: a fixed known text sealed (text form) under the current key, stored once per
   deployment so every server can prove at start that its secret file holds the very key
   bytes the store was sealed with. *text_out is the caller's (cf_mem_free). */
CF_MUST_USE cf_err_t cf_seal_make_canary(const cf_seal_t *seal, char **text_out);
/* CF_OK if the canary opens with this keyring. CF_ERR_SECRET if its key id is missing or the
   key under that id has other bytes (a different secret file: refuse to start);
   CF_ERR_CORRUPT / CF_ERR_UNSUPPORTED / CF_ERR_TOOBIG if it is not a canary at all. */
CF_MUST_USE cf_err_t cf_seal_verify_canary(const cf_seal_t *seal, const char *text, size_t text_len,
                                           cf_why_t *why);

/* Wipe every key (OPENSSL_cleanse), free, NULL *self_p; safe to repeat and on NULL. */
void cf_seal_destroy(cf_seal_t **self_p);

#endif
