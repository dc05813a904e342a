/*  cf_sim_state - the simulator's --state-dir: each agent's CURVE keypair and certificate
    pair under <dir>/<id>/, written as it enrolls and once a job's pair passed its install
    check, read back at start so a restarted simulator's agents are the same agents
    (enrolled ids keep their keys, and present only certificates that passed)  */
#include <stdio.h>
#include <string.h>

#include "cf_cert.h"
#include "cf_file.h"
#include "cf_log.h"
#include "cf_mem.h"
#include "cf_sim_int.h"

#define S_CURVE_FILE "curve.key" /* + "_secret": written at enrollment */

/* <state_dir>/<id>[/name] into buf. */
static cf_err_t s_path(const cf_sim_t *sim, size_t a, const char *name, char *buf, size_t len,
                       cf_why_t *why)
{
    char id[CF_MSG_AGENT_MAX + 1];
    cf_sim_agent_id(sim, a, id);
    int n = snprintf(buf, len, "%s/%s%s%s", sim->state_dir, id, name ? "/" : "", name ? name : "");
    if (n < 0 || (size_t) n >= len)
        return cf_why(why, CF_ERR_TOOBIG, "state directory path too long");
    return CF_OK;
}

cf_err_t cf_sim_state_write_pair(cf_sim_t *sim, size_t a, const char *cert, const char *key,
                                 cf_why_t *why)
{
    char dir[CF_AGENT_STATE_PATH_MAX], path[CF_AGENT_STATE_PATH_MAX];
    CF_TRY(s_path(sim, a, NULL, dir, sizeof(dir), why));
    CF_TRY(cf_file_mkdirs(dir, 0700, why));
    CF_TRY(s_path(sim, a, CF_AGENT_CERT_FILE, path, sizeof(path), why));
    CF_TRY(cf_file_write_atomic(path, cert, strlen(cert), 0600, why));
    CF_TRY(s_path(sim, a, CF_AGENT_KEY_FILE, path, sizeof(path), why));
    return cf_file_write_atomic(path, key, strlen(key), 0600, why);
}

cf_err_t cf_sim_state_save_curve(cf_sim_t *sim, size_t a, cf_why_t *why)
{
    char dir[CF_AGENT_STATE_PATH_MAX], path[CF_AGENT_STATE_PATH_MAX];
    cf_curve_keypair_t kp;
    CF_TRY(s_path(sim, a, NULL, dir, sizeof(dir), why));
    CF_TRY(cf_file_mkdirs(dir, 0700, why));
    CF_TRY(s_path(sim, a, S_CURVE_FILE, path, sizeof(path), why));
    CF_TRY(cf_fleet_keypair(sim->fleet, a, &kp));
    cf_err_t rc = cf_curve_keypair_save(&kp, path, why);
    cf_curve_keypair_wipe(&kp);
    return rc == CF_ERR_EXISTS ? CF_OK : rc; /* restored: the same key is there */
}

/* The pair of a restored agent, when both files are there. */
static cf_err_t s_load_pair(cf_sim_t *sim, size_t a, cf_why_t *why)
{
    char path[CF_AGENT_STATE_PATH_MAX], *cert = NULL, *key = NULL;
    size_t clen = 0, klen = 0;
    cf_cert_t *leaf = NULL;
    CF_TRY(s_path(sim, a, CF_AGENT_CERT_FILE, path, sizeof(path), why));
    cf_err_t rc = cf_file_read(path, CF_CERT_MAX_INPUT, &cert, &clen, why);
    if (rc == CF_ERR_NOTFOUND)
        return CF_OK; /* push mode, no install yet */
    if (rc == CF_OK)
        rc = s_path(sim, a, CF_AGENT_KEY_FILE, path, sizeof(path), why);
    if (rc == CF_OK)
        rc = cf_file_read_ex(path, CF_CERT_MAX_INPUT, CF_FILE_PRIVATE | CF_FILE_SECRET, &key, &klen,
                             why);
    if (rc == CF_OK)
        rc = cf_cert_parse(cert, clen, &leaf);
    if (rc == CF_OK)
        rc = cf_sim_agent_install(sim, a, cert, key, leaf, 0, why);
    cf_cert_destroy(&leaf);
    cf_mem_free(cert);
    cf_mem_free_secret_str(key);
    return rc;
}

/* Agent a: its saved keypair into *kp (it was enrolled: it comes back enrolled, with its
   pair) or a fresh one. */
static cf_err_t s_restore_one(cf_sim_t *sim, size_t a, cf_curve_keypair_t *kp, int64_t now,
                              cf_why_t *why)
{
    char path[CF_AGENT_STATE_PATH_MAX + 8];
    CF_TRY(s_path(sim, a, S_CURVE_FILE "_secret", path, sizeof(path), why));
    cf_err_t rc = cf_curve_keypair_load(path, kp, why);
    if (rc == CF_ERR_NOTFOUND)
        return cf_curve_keypair_new(kp);
    CF_TRY(rc);
    CF_TRY(s_load_pair(sim, a, why));
    cf_sim_agent_t *ag = &sim->agents[a];
    ag->phase = CF_SIM_ENROLLED;
    ag->online_ms = now; /* its key is known already */
    sim->n_online_due++;
    atomic_store(&ag->due, 1);
    return CF_OK;
}

cf_err_t cf_sim_state_restore(cf_sim_t *sim, cf_curve_keypair_t *kps, size_t *restored,
                              cf_why_t *why)
{
    int64_t now = cf_sim_now_ms();
    *restored = 0;
    CF_TRY(cf_file_mkdirs(sim->state_dir, 0700, why));
    for (size_t a = 0; a < sim->o.count; a++) {
        cf_err_t rc = s_restore_one(sim, a, &kps[a], now, why);
        if (rc != CF_OK) {
            char id[CF_MSG_AGENT_MAX + 1];
            cf_sim_agent_id(sim, a, id);
            cf_why_t inner = {""};
            if (why)
                inner = *why;
            return cf_why(why, rc, "state of %s: %s", id, cf_why_text(&inner, rc));
        }
        *restored += sim->agents[a].phase == CF_SIM_ENROLLED;
    }
    return CF_OK;
}
