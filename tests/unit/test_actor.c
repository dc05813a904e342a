/*  test_actor - an actor's request is sent and its answer waited for through signals:
    requests made while a signal arrives every few microseconds all get their own answer,
    none is lost or read by the next request, and no out argument is written after its
    caller returned  */
#include "cf_test.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "cf_actor.h"
#include "cf_ca.h"
#include "cf_fleet.h"

/* An echo actor: "ECHO" n -> n + 1 after a short pause (the caller waits on its pipe). */
static void s_echo(zsock_t *pipe, void *args)
{
    (void) args;
    zsock_signal(pipe, 0);
    for (;;) {
        char *cmd = NULL;
        int n = 0;
        if (zsock_recv(pipe, "si", &cmd, &n) != 0 || !cmd || streq(cmd, "$TERM")) {
            zstr_free(&cmd);
            break;
        }
        zstr_free(&cmd);
        for (volatile int spin = 0; spin < 2000; spin++) {
        }
        zsock_send(pipe, "i", n + 1);
    }
}

typedef struct {
    pthread_t target; /* the thread signalled */
    volatile int stop;
} s_pester_t;

static void s_on_usr1(int sig)
{
    (void) sig;
}

/* Signal the target every ~20 us until told to stop. */
static void *s_pester(void *arg)
{
    s_pester_t *p = arg;
    while (!p->stop) {
        pthread_kill(p->target, SIGUSR1);
        struct timespec ts = {0, 20000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

/* A handler without SA_RESTART: a blocking zmq receive returns EINTR. */
static s_pester_t *s_pester_start(pthread_t *t)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = s_on_usr1;
    assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
    static s_pester_t p;
    p.target = pthread_self();
    p.stop = 0;
    assert_int_equal(pthread_create(t, NULL, s_pester, &p), 0);
    return &p;
}

static void s_pester_stop(s_pester_t *p, pthread_t t)
{
    p->stop = 1;
    pthread_join(t, NULL);
    signal(SIGUSR1, SIG_DFL);
}

static void test_usage(void **state)
{
    (void) state;
    zactor_t *echo = zactor_new(s_echo, NULL);
    assert_non_null(echo);
    pthread_t t;
    s_pester_t *p = s_pester_start(&t);
    for (int i = 0; i < 3000; i++) { /* each answer is its own request's */
        assert_int_equal(cf_actor_request(echo, "si", "ECHO", i), 0);
        int got = -1;
        assert_int_equal(cf_actor_answer(echo, "i", &got), 0);
        assert_int_equal(got, i + 1);
    }
    s_pester_stop(p, t);
    zactor_destroy(&echo);
}

/* The fleet's requests (out arguments into this stack) under the same signals: every one
   answered with its own agent's data. */
static void test_fleet_requests(void **state)
{
    (void) state;
    cf_ca_t *ca = NULL;
    assert_int_equal(cf_ca_create(NULL, &ca), CF_OK);
    cf_curve_broker_t broker; /* nothing listens there: links stay down */
    memset(&broker, 0, sizeof(broker));
    snprintf(broker.endpoint, sizeof(broker.endpoint), "tcp://127.0.0.1:9");
    memset(broker.pub, 7, sizeof(broker.pub));
    cf_fleet_cfg_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.count = 4;
    cfg.ca = cf_ca_cert(ca);
    cfg.brokers = &broker;
    cfg.n_brokers = 1;
    cfg.id_prefix = "sig-";
    cf_fleet_t *fleet = NULL;
    assert_int_equal(cf_fleet_new(&cfg, &fleet, NULL), CF_OK);
    pthread_t t;
    s_pester_t *p = s_pester_start(&t);
    for (int i = 0; i < 2000; i++) {
        cf_fleet_agent_info_t info;
        memset(&info, 0, sizeof(info));
        assert_int_equal(cf_fleet_agent_info(fleet, (size_t) i % 4, &info), CF_OK);
        char want[16];
        snprintf(want, sizeof(want), "sig-%d", i % 4);
        assert_string_equal(info.id, want);
    }
    s_pester_stop(p, t);
    cf_fleet_destroy(&fleet);
    cf_ca_destroy(&ca);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_fleet_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
