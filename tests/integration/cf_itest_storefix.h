/*  cf_itest_storefix - the cmocka group fixture of the cf_store tests: one redis-server a test
    file shares, handed to every test as its state  */
#ifndef CF_ITEST_STOREFIX_H_INCLUDED
#define CF_ITEST_STOREFIX_H_INCLUDED

/* Group setup for cmocka_run_group_tests: ignores SIGPIPE (as every certfleet main does: a
   dead peer is an error code, not a signal) and starts a redis-server on loopback. *state is
   then that server, a cf_itest_redis_t which each test of the group gets as its *state
   (borrowed: cf_itest_storefix_teardown stops and frees it). Returns 0, or -1 when the server
   did not start. */
int cf_itest_storefix_setup(void **state);

/* Group teardown: stops and frees the server of cf_itest_storefix_setup; NULLs *state.
   Returns 0. */
int cf_itest_storefix_teardown(void **state);

#endif
