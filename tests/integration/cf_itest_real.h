/*  cf_itest_real - the real cf-agent in integration tests: a state directory enrolled
    against the cf_itest_fleet servers, one round of the agent, its files  */
#ifndef CF_ITEST_REAL_H_INCLUDED
#define CF_ITEST_REAL_H_INCLUDED

/* The agent's state directory, <fixture dir>/state-<id> (a static buffer). */
const char *cf_itest_real_dir(const char *id);
/* A state directory as install and enrollment leave it: agent.json (srv-a, and srv-b when it
   runs; broker, may be NULL, as its only broker), ca.pem, the CURVE keypair, and a
   certificate got by enrolling at srv-a with token and a CSR. Fails the test on error. */
void cf_itest_real_enroll(const char *id, const char *token, const char *broker);
/* As cf_itest_real_enroll; push: enroll in push mode (no CSR, no certificate). */
void cf_itest_real_enroll_ex(const char *id, const char *token, const char *broker, int push);
/* cf-agent run --once for id from source address from; its exit code (log: agent-<id>.log). */
int cf_itest_real_run(const char *id, const char *from);
/* A string (or integer as text) of a JSON file of the state directory; "" when missing. */
const char *cf_itest_real_state(const char *id, const char *file, const char *key);
/* The fingerprint of the agent's cert.pem. */
const char *cf_itest_real_fpr(const char *id);

#endif
