/*  cf_curve - CURVE keys: keypairs, Z85 text, key files, broker endpoints with their key  */
#ifndef CF_CURVE_H_INCLUDED
#define CF_CURVE_H_INCLUDED

#include <stddef.h>

#include "cf_err.h"

/* Formats and limits (docs/zap.md). */
#define CF_CURVE_KEY_LEN       32        /* a Curve25519 key, bytes */
#define CF_CURVE_Z85_LEN       40        /* its Z85 text (ZeroMQ RFC 32), characters */
#define CF_CURVE_FILE_MAX      8192      /* largest key file we read, bytes */
#define CF_CURVE_SECRET_SUFFIX "_secret" /* secret file = public file path + this */
#define CF_CURVE_ENDPOINT_MAX  255       /* "tcp://host:port" part of a broker endpoint */
#define CF_CURVE_BROKERS_MAX   32        /* broker endpoints in one list */
#define CF_CURVE_TEXT_MAX      (CF_CURVE_ENDPOINT_MAX + 1 + CF_CURVE_Z85_LEN) /* one endpoint */

/* A keypair. The secret half is wiped by cf_curve_keypair_wipe; never log it. */
typedef struct {
    unsigned char pub[CF_CURVE_KEY_LEN]; /* public key */
    unsigned char sec[CF_CURVE_KEY_LEN]; /* secret key */
} cf_curve_keypair_t;

/* A broker endpoint with the broker's public key, as configs and install packages carry it:
   "tcp://127.0.0.1:7010#<40 Z85 characters>". */
typedef struct {
    char endpoint[CF_CURVE_ENDPOINT_MAX + 1]; /* "tcp://host:port", NUL-terminated */
    unsigned char pub[CF_CURVE_KEY_LEN];      /* the broker's CURVE public key */
} cf_curve_broker_t;

/* A fresh keypair from libzmq (zmq_curve_keypair, libsodium's random source).
   Errors: CF_ERR_INVALID (kp NULL), CF_ERR_UNSUPPORTED (libzmq built without CURVE). */
CF_MUST_USE cf_err_t cf_curve_keypair_new(cf_curve_keypair_t *kp);
/* Wipe both halves (OPENSSL_cleanse). NULL is fine. */
void cf_curve_keypair_wipe(cf_curve_keypair_t *kp);
/* CF_OK if kp->pub is the public key of kp->sec (zmq_curve_public), else CF_ERR_KEYMISMATCH;
   CF_ERR_INVALID for NULL. */
CF_MUST_USE cf_err_t cf_curve_keypair_check(const cf_curve_keypair_t *kp);

/* Z85 text of a key: out gets CF_CURVE_Z85_LEN characters and a NUL (zmq_z85_encode). */
void cf_curve_z85_encode(const unsigned char key[CF_CURVE_KEY_LEN], char out[CF_CURVE_Z85_LEN + 1]);
/* Decode len bytes of Z85 text (not necessarily NUL-terminated) into key (zmq_z85_decode).
   The text must be exactly CF_CURVE_Z85_LEN characters of the Z85 alphabet; a key of all
   zero bytes is refused too (it is no one's key). On failure key is zeroed.
   Errors: CF_ERR_INVALID (NULL, wrong length, a character outside Z85, all zeros; why says
   which; the text is never quoted, it may be a secret). */
CF_MUST_USE cf_err_t cf_curve_z85_decode(const char *text, size_t len,
                                         unsigned char key[CF_CURVE_KEY_LEN], cf_why_t *why);

/* Write kp as the ZeroMQ certificate pair CZMQ's zcert_save and pyzmq's
   zmq.auth.create_certificates write: path (public key only, mode 0644) and
   path + CF_CURVE_SECRET_SUFFIX (both keys, mode 0600), each in ZPL text:
       metadata
       curve
           public-key = "<z85>"
           secret-key = "<z85>"        (secret file only)
   Both files are new (crash-safe write); nothing is overwritten: CF_ERR_EXISTS if either
   exists, and a failure leaves neither behind. Errors: CF_ERR_INVALID (NULL, path longer
   than PATH_MAX - 8), CF_ERR_EXISTS, CF_ERR_IO (why names the file). */
CF_MUST_USE cf_err_t cf_curve_keypair_save(const cf_curve_keypair_t *kp, const char *path,
                                           cf_why_t *why);
/* Read a keypair from a secret certificate file (as written above, or by CZMQ or pyzmq):
   a regular file of at most CF_CURVE_FILE_MAX bytes that group and others cannot access,
   holding exactly one public-key and one secret-key in its curve section; the public key
   must belong to the secret one. Metadata entries and comments are allowed and ignored.
   On failure *kp is wiped. Errors: CF_ERR_NOTFOUND, CF_ERR_IO, CF_ERR_TOOBIG,
   CF_ERR_POLICY (permissions), CF_ERR_CORRUPT (any line we do not understand, a missing or
   repeated key; why gives the line), CF_ERR_INVALID (bad Z85), CF_ERR_KEYMISMATCH. */
CF_MUST_USE cf_err_t cf_curve_keypair_load(const char *secret_path, cf_curve_keypair_t *kp,
                                           cf_why_t *why);
/* Read the public key of a certificate file (public or secret; any permissions). Same
   format and errors as cf_curve_keypair_load, minus the permission and secret checks. */
CF_MUST_USE cf_err_t cf_curve_public_load(const char *path, unsigned char pub[CF_CURVE_KEY_LEN],
                                          cf_why_t *why);
/* The parsers under the two loaders: the text of a certificate file (len bytes, no NUL
   needed, borrowed; the caller wipes it when it held a secret). cf_curve_keypair_parse
   wants the secret file's contents (both keys, matching), cf_curve_public_parse either
   file's. On failure the output is zeroed. Errors: CF_ERR_INVALID (NULL, bad Z85),
   CF_ERR_TOOBIG (len over CF_CURVE_FILE_MAX), CF_ERR_CORRUPT (why gives the line, as
   above), CF_ERR_KEYMISMATCH (keypair only). why never quotes a key. */
CF_MUST_USE cf_err_t cf_curve_keypair_parse(const char *buf, size_t len, cf_curve_keypair_t *kp,
                                            cf_why_t *why);
CF_MUST_USE cf_err_t cf_curve_public_parse(const char *buf, size_t len,
                                           unsigned char pub[CF_CURVE_KEY_LEN], cf_why_t *why);

/* Parse one broker endpoint "tcp://HOST:PORT#Z85" (len bytes, no NUL needed). The key is the
   last 40 characters, after a '#' (Z85 itself may hold '#', ':' and '/'; the split is by
   position). HOST is a DNS name or IPv4 address ([A-Za-z0-9.-]) or a bracketed IPv6
   address, PORT 1..65535. Errors: CF_ERR_INVALID (why says what is wrong), CF_ERR_TOOBIG
   (endpoint part over CF_CURVE_ENDPOINT_MAX). */
CF_MUST_USE cf_err_t cf_curve_broker_parse(const char *text, size_t len, cf_curve_broker_t *out,
                                           cf_why_t *why);
/* Parse a comma-separated list of broker endpoints (spaces around commas allowed) into
   out[0..max-1]; *count_out gets how many. Errors: as cf_curve_broker_parse (why names the
   entry), CF_ERR_INVALID for an empty list or entry, CF_ERR_TOOBIG for more than max
   entries or max > CF_CURVE_BROKERS_MAX. */
CF_MUST_USE cf_err_t cf_curve_brokers_parse(const char *text, size_t len, cf_curve_broker_t *out,
                                            size_t max, size_t *count_out, cf_why_t *why);
/* Write "endpoint#z85" into buf (buflen >= CF_CURVE_TEXT_MAX + 1 always suffices).
   Errors: CF_ERR_INVALID (NULL, or an endpoint cf_curve_broker_parse would refuse),
   CF_ERR_TOOBIG (buflen too small; buf is then ""). */
CF_MUST_USE cf_err_t cf_curve_broker_format(const cf_curve_broker_t *broker, char *buf,
                                            size_t buflen);

#endif
