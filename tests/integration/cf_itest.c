/*  cf_itest - child processes (spawn, kill by PID, clean-up net) and loopback ports  */
#define _GNU_SOURCE /* close_range, syscall(SYS_gettid) */
#include "cf_itest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Test-only globals: the children still alive, for the exit-time safety net. */
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t s_children[CF_ITEST_MAX_CHILDREN];
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static void s_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_kill_all(void)
{
    pthread_mutex_lock(&s_lock);
    for (int i = 0; i < CF_ITEST_MAX_CHILDREN; i++) {
        if (s_children[i] > 0) {
            kill(s_children[i], SIGKILL);
            waitpid(s_children[i], NULL, 0);
            s_children[i] = 0;
        }
    }
    pthread_mutex_unlock(&s_lock);
}

static void s_install_net(void)
{
    atexit(s_kill_all);
}

static int s_remember(pid_t pid)
{
    int ok = 0;
    pthread_mutex_lock(&s_lock);
    for (int i = 0; i < CF_ITEST_MAX_CHILDREN && !ok; i++) {
        if (s_children[i] == 0) {
            s_children[i] = pid;
            ok = 1;
        }
    }
    pthread_mutex_unlock(&s_lock);
    return ok;
}

/* Forget pid; 1 if it was ours. */
static int s_forget(pid_t pid)
{
    int found = 0;
    pthread_mutex_lock(&s_lock);
    for (int i = 0; i < CF_ITEST_MAX_CHILDREN; i++) {
        if (s_children[i] == pid) {
            s_children[i] = 0;
            found = 1;
        }
    }
    pthread_mutex_unlock(&s_lock);
    return found;
}

static int s_known(pid_t pid)
{
    int found = 0;
    pthread_mutex_lock(&s_lock);
    for (int i = 0; i < CF_ITEST_MAX_CHILDREN; i++)
        found |= s_children[i] == pid;
    pthread_mutex_unlock(&s_lock);
    return found;
}

/* Ports this process handed out lately: never the same one twice in a row of calls. */
static pthread_mutex_t s_port_lock = PTHREAD_MUTEX_INITIALIZER;
static int s_ports[64];
static size_t s_n_ports;

/* The low end of the kernel's ephemeral range (what connect and bind-to-0 take). */
static int s_ephemeral_low(void)
{
    int lo = 32768, hi = 60999;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%d %d", &lo, &hi) != 2)
            lo = 32768;
        fclose(f);
    }
    return lo;
}

static int s_bindable(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t) port);
    int ok = bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

/* A random port below the ephemeral range, free now and not handed out lately. Not from
   the kernel (bind to port 0): it may give the port it just gave again (two servers on
   one port), and any outgoing connection (Redis, HTTP, ZeroMQ clients of every parallel
   test) may take an ephemeral port between this call and the server's bind. */
int cf_itest_free_port(void)
{
    int lo = 10000, hi = s_ephemeral_low();
    if (hi < lo + 1000)
        hi = 32768;
    int port = -1;
    pthread_mutex_lock(&s_port_lock);
    for (int tries = 0; port < 0 && tries < 1000; tries++) {
        unsigned r = 0;
        if (getrandom(&r, sizeof(r), 0) != (ssize_t) sizeof(r))
            r = (unsigned) rand();
        int p = lo + (int) (r % (unsigned) (hi - lo));
        int given = 0;
        for (size_t i = 0; i < s_n_ports && i < 64; i++)
            given |= s_ports[i] == p;
        if (!given && s_bindable(p))
            port = p;
    }
    if (port > 0)
        s_ports[s_n_ports++ % 64] = port;
    pthread_mutex_unlock(&s_port_lock);
    return port;
}

/* In the child between fork and exec: async-signal-safe calls only. */
static void s_child(char *const argv[], int logfd, int pdeathsig, pid_t parent)
{
    if (pdeathsig && prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        _exit(126);
    if (pdeathsig && getppid() != parent)
        _exit(126); /* the parent died before prctl took effect */
    int nullfd = open("/dev/null", O_RDONLY);
    if (nullfd < 0 || dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
        _exit(126);
    close_range(3, ~0U, 0); /* no test socket may live on in a server */
    execv(argv[0], argv);
    _exit(127);
}

cf_err_t cf_itest_spawn(char *const argv[], const char *logfile, pid_t *pid_out)
{
    if (!argv || !argv[0] || argv[0][0] != '/' || !pid_out)
        return CF_ERR_INVALID;
    pthread_once(&s_once, s_install_net);
    int logfd =
        open(logfile ? logfile : "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (logfd < 0)
        return CF_ERR_IO;
    /* PDEATHSIG fires when the forking *thread* ends: only safe from the main thread */
    pid_t parent = getpid();
    int pdeathsig = (pid_t) syscall(SYS_gettid) == parent;
    pid_t pid = fork();
    if (pid == 0)
        s_child(argv, logfd, pdeathsig, parent);
    close(logfd);
    if (pid < 0)
        return CF_ERR_IO;
    if (!s_remember(pid)) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return CF_ERR_TOOBIG;
    }
    *pid_out = pid;
    return CF_OK;
}

int cf_itest_exited(pid_t pid)
{
    if (pid <= 0 || !s_known(pid))
        return 1;
    pid_t got = waitpid(pid, NULL, WNOHANG);
    if (got == pid || (got < 0 && errno == ECHILD)) {
        s_forget(pid);
        return 1;
    }
    return 0;
}

int cf_itest_exit_code(pid_t pid, int timeout_ms)
{
    if (pid <= 0 || !s_known(pid))
        return -1;
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        int status = 0;
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid) {
            s_forget(pid);
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        if (got < 0) {
            s_forget(pid);
            return -1;
        }
        struct timespec tick = {0, 10 * 1000 * 1000};
        nanosleep(&tick, NULL);
    }
    return -1;
}

cf_err_t cf_itest_kill(pid_t pid, int sig)
{
    if (pid <= 0 || !s_known(pid))
        return CF_ERR_NOTFOUND;
    kill(pid, sig);
    long deadline = s_now_ms() + 5000;
    while (!cf_itest_exited(pid)) {
        if (s_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            s_forget(pid);
            break;
        }
        s_sleep_ms(2);
    }
    return CF_OK;
}

static int s_connect(const char *host, int port)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t) port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

cf_err_t cf_itest_wait_port(const char *host, int port, int timeout_ms)
{
    long deadline = s_now_ms() + timeout_ms;
    for (;;) {
        int fd = s_connect(host, port);
        if (fd >= 0) {
            close(fd);
            return CF_OK;
        }
        if (s_now_ms() > deadline)
            return CF_ERR_IO;
        s_sleep_ms(10);
    }
}

/* One PING on a fresh connection; 1 when the server answered +PONG or -NOAUTH. */
static int s_ping_once(int port)
{
    int fd = s_connect("127.0.0.1", port);
    if (fd < 0)
        return 0;
    char buf[64] = {0};
    ssize_t n = -1;
    struct timeval tv = {0, 500000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (send(fd, "PING\r\n", 6, MSG_NOSIGNAL) == 6)
        n = recv(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    return n > 0 && (strncmp(buf, "+PONG", 5) == 0 || strncmp(buf, "-NOAUTH", 7) == 0);
}

cf_err_t cf_itest_redis_wait_ping(int port, pid_t pid, int timeout_ms)
{
    long deadline = s_now_ms() + timeout_ms;
    for (;;) {
        if (s_ping_once(port))
            return CF_OK;
        if (pid > 0 && cf_itest_exited(pid))
            return CF_ERR_IO;
        if (s_now_ms() > deadline)
            return CF_ERR_IO;
        s_sleep_ms(5);
    }
}
