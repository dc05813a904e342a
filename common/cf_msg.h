/*  cf_msg - the broker wire protocol: versioned frames between agent, broker and server  */
#ifndef CF_MSG_H_INCLUDED
#define CF_MSG_H_INCLUDED

#include <stddef.h>

#include "cf_err.h"

/* A message is two ZeroMQ frames: a header frame ('C' 'F' version type) and a body frame
   whose fields follow the grammar in docs/PROTOCOL.md. The routing-id frame a ROUTER adds
   or strips is ZeroMQ's business, not part of the message. No ZeroMQ here: frames are
   plain byte buffers. */
#define CF_MSG_VERSION     1           /* wire version this build speaks */
#define CF_MSG_FRAMES      2           /* header + body */
#define CF_MSG_HEADER_LEN  4           /* 'C' 'F' version type */
#define CF_MSG_AGENT_MAX   63          /* agent id: [a-z0-9][a-z0-9._-]{0,62} */
#define CF_MSG_JOB_ID_HEX  32          /* job id: 128 bits as lowercase hex */
#define CF_MSG_FPR_HEX     64          /* SHA-256 fingerprint, lowercase hex */
#define CF_MSG_TEXT_MAX    255         /* reason, software version, error text */
#define CF_MSG_VERSION_MAX 64          /* HELLO software version text */
#define CF_MSG_MAX_JOB     (64 * 1024) /* signed job bytes in a JOB (CF_JOB_MAX_WIRE) */
#define CF_MSG_MAX_TARGETS 1000        /* agent ids in one BROADCAST */
#define CF_MSG_MAX_WIRE    (68 * 1024) /* all frames of one message together */

typedef enum {
    CF_MSG_HELLO = 1,  /* agent -> broker -> server: I am here, I speak protocol level N */
    CF_MSG_JOB,        /* server -> broker -> agent: one signed job for one agent */
    CF_MSG_RECEIPT,    /* agent -> broker -> server: the job reached me */
    CF_MSG_REPORT,     /* agent -> broker -> server: installed | failed(reason) */
    CF_MSG_ACK,        /* server -> broker -> agent: your receipt or report is stored */
    CF_MSG_CHECKIN,    /* server or broker -> agent: check in now, work is pending */
    CF_MSG_BROADCAST,  /* server -> broker: send CHECKIN to these agents, or to all; with a
                          job, send each listed agent that JOB (one shared copy) */
    CF_MSG_ERROR,      /* any -> peer: what was dropped and why */
    CF_MSG_TYPE_COUNT_ /* one past the last type, not a type */
} cf_msg_type_t;

typedef enum {
    CF_MSG_INSTALLED = 1, /* the job was carried out */
    CF_MSG_FAILED = 2,    /* the job failed; text holds the reason */
} cf_msg_outcome_t;

typedef enum {
    CF_MSG_ERR_VERSION = 1, /* a wire version we do not speak */
    CF_MSG_ERR_MALFORMED,   /* frames that do not decode */
    CF_MSG_ERR_TOOBIG,      /* over a cap */
    CF_MSG_ERR_DENIED,      /* sender may not send this (agent id is not its own, ...) */
    CF_MSG_ERR_OFFLINE,     /* the addressed agent is not connected to this broker */
    CF_MSG_ERR_INTERNAL,    /* the receiver failed; try again later */
    CF_MSG_ERR_COUNT_       /* one past the last code, not a code */
} cf_msg_error_t;

/* One message as plain data. Which fields a type uses (others are ignored when encoding
   and zero after decoding):
     HELLO      agent, proto (1..255), text (software version, 0..CF_MSG_VERSION_MAX)
     JOB        agent, job_id, job/job_len (1..CF_MSG_MAX_JOB bytes, not looked into)
     RECEIPT    agent, job_id
     REPORT     agent, job_id, outcome, fpr ("" or 64 hex), text (the reason: 1..255 bytes
                when failed, "" when installed)
     ACK        agent, job_id, ack_of (CF_MSG_RECEIPT or CF_MSG_REPORT)
     CHECKIN    agent, job_id ("" = no particular job)
     BROADCAST  all (1: every agent the broker holds, no targets) or targets (1..
                CF_MSG_MAX_TARGETS agent ids), job_id ("" = none); or targets, job_id and
                job/job_len (a job for each of them: the broker sends each a JOB; the
                whole message stays within CF_MSG_MAX_WIRE)
     ERROR      error, agent ("" = none), job_id ("" = none), text (0..255)
   Strings are NUL-terminated; text is printable ASCII (0x20..0x7e); job ids are 32
   lowercase hex digits, not all zero. job and targets are owned by the message: set them
   with cf_msg_set_job / cf_msg_add_target and free them with cf_msg_clear. */
typedef struct {
    cf_msg_type_t type;                    /* which message */
    char agent[CF_MSG_AGENT_MAX + 1];      /* agent id */
    char job_id[CF_MSG_JOB_ID_HEX + 1];    /* job id, "" when none */
    unsigned proto;                        /* HELLO: agent protocol level */
    cf_msg_outcome_t outcome;              /* REPORT */
    cf_msg_type_t ack_of;                  /* ACK: what is acknowledged */
    cf_msg_error_t error;                  /* ERROR */
    int all;                               /* BROADCAST: every agent */
    char fpr[CF_MSG_FPR_HEX + 1];          /* REPORT: certificate in use, "" none */
    char text[CF_MSG_TEXT_MAX + 1];        /* version, reason or error text */
    unsigned char *job;                    /* JOB: signed job bytes (owned) */
    size_t job_len;                        /* bytes in job */
    char (*targets)[CF_MSG_AGENT_MAX + 1]; /* BROADCAST: agent ids (owned) */
    size_t n_targets;                      /* entries in targets */
} cf_msg_t;

/* A received frame, borrowed (zmq_msg_data / zmq_msg_size). */
typedef struct {
    const unsigned char *data; /* frame bytes; may be NULL when len is 0 */
    size_t len;                /* frame length */
} cf_msg_frame_t;

/* Encoded frames, owned: free with cf_msg_frames_clear. A caller may take a buffer (for
   zmq_msg_init_data with a cf_mem_free callback) by setting data[i] to NULL. */
typedef struct {
    unsigned char *data[CF_MSG_FRAMES]; /* frame bytes (owned, cf_mem_free) */
    size_t len[CF_MSG_FRAMES];          /* frame lengths */
    size_t n;                           /* frames used */
} cf_msg_frames_t;

/* Zero *m and set its type. */
void cf_msg_init(cf_msg_t *m, cf_msg_type_t type);
/* Free what *m owns and zero it (type included); safe to repeat. */
void cf_msg_clear(cf_msg_t *m);
/* Copy len bytes (1..CF_MSG_MAX_JOB) into m->job, replacing any previous job.
   Errors: CF_ERR_INVALID (NULL, len 0), CF_ERR_TOOBIG, CF_ERR_NOMEM (m unchanged). */
CF_MUST_USE cf_err_t cf_msg_set_job(cf_msg_t *m, const void *job, size_t len);
/* Append an agent id to m->targets. Errors: CF_ERR_INVALID (not an agent id),
   CF_ERR_TOOBIG (already CF_MSG_MAX_TARGETS), CF_ERR_NOMEM (m unchanged). */
CF_MUST_USE cf_err_t cf_msg_add_target(cf_msg_t *m, const char *agent);

/* Encode m into out (CF_MSG_FRAMES frames, owned by out; out is overwritten, not freed
   first). Every field the type uses is checked as the decoder checks it, so whatever
   encodes also decodes to the same message. Errors: CF_ERR_INVALID (a field, with why),
   CF_ERR_TOOBIG, CF_ERR_NOMEM; out is then empty. why may be NULL. */
CF_MUST_USE cf_err_t cf_msg_encode(const cf_msg_t *m, cf_msg_frames_t *out, cf_why_t *why);

/* CF_OK if every field m's type uses is as the grammar allows (the check cf_msg_encode and
   cf_msg_decode apply); CF_ERR_INVALID with the field named in why (may be NULL). */
CF_MUST_USE cf_err_t cf_msg_check(const cf_msg_t *m, cf_why_t *why);

/* Decode n frames (untrusted) into *m, which is overwritten (cf_msg_clear it afterwards).
   The decoder is strict: every length is checked against what is left, nothing may
   follow the last field, reserved bits are zero, so encode(decode(frames)) gives the same
   bytes back. Errors, with a reason in why (may be NULL):
     CF_ERR_TOOBIG      frames together over CF_MSG_MAX_WIRE
     CF_ERR_UNSUPPORTED a header with our magic and a version other than CF_MSG_VERSION:
                        log and drop (and answer CF_MSG_ERR_VERSION if you like)
     CF_ERR_CORRUPT     anything else that is not a valid message
     CF_ERR_NOMEM
   On failure *m is zeroed and owns nothing. */
CF_MUST_USE cf_err_t cf_msg_decode(const cf_msg_frame_t *frames, size_t n, cf_msg_t *m,
                                   cf_why_t *why);

/* Borrowed views of encoded frames, for cf_msg_decode; returns frames->n. */
size_t cf_msg_frames_view(const cf_msg_frames_t *frames, cf_msg_frame_t view[CF_MSG_FRAMES]);
/* Free the buffers still held and zero *frames; safe to repeat. */
void cf_msg_frames_clear(cf_msg_frames_t *frames);

/* "HELLO", "JOB", ...; "UNKNOWN" out of range. */
const char *cf_msg_type_name(cf_msg_type_t type);
/* "version", "malformed", "toobig", "denied", "offline", "internal"; "unknown" else. */
const char *cf_msg_error_name(cf_msg_error_t error);

#endif
