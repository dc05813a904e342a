/*  cf_itest_storefix - the cmocka group fixture of the cf_store tests: one redis-server a test
    file shares, handed to every test as its state  */
#include "cf_itest_storefix.h"

#include <signal.h>
#include <stdlib.h>

#include "cf_itest.h"

int cf_itest_storefix_setup(void **state)
{
    signal(SIGPIPE, SIG_IGN);
    cf_itest_redis_t *redis = calloc(1, sizeof(*redis));
    if (!redis)
        return -1;
    if (cf_itest_redis_start(redis, NULL) != CF_OK) {
        free(redis);
        return -1;
    }
    *state = redis;
    return 0;
}

int cf_itest_storefix_teardown(void **state)
{
    cf_itest_redis_t *redis = *state;
    if (redis) {
        cf_itest_redis_stop(redis);
        free(redis);
    }
    *state = NULL;
    return 0;
}
