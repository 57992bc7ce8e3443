/*
 * faultproxy.h: a TCP proxy on 127.0.0.1 that puts link faults between a
 * client and a server, for the link-fault tests: delay and jitter on every
 * chunk of bytes, stalls (what a lost segment costs TCP before its
 * retransmission: 0.2-1 s), a partition (nothing passes either way, and
 * the sockets' buffers fill up as on a cable that is cut, for as long as
 * it lasts) and resets (every connection torn down with an RST).
 *
 * It runs in a thread of its own; the faults are changed at any time from
 * the test's thread. Byte order is kept per direction (a chunk is never
 * released before the one read before it). Header-only, like proc.h.
 * Everything stays on loopback; it needs no privileges, so the tests run
 * on any machine (a kernel qdisc such as netem is not needed).
 */
#ifndef FLEXBED_TEST_FAULTPROXY_H
#define FLEXBED_TEST_FAULTPROXY_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FP_MAX_LINKS 16
#define FP_CHUNK 16384

struct fp_chunk {
    struct fp_chunk *next;
    double release; /* monotonic s: not before */
    size_t len, off;
    unsigned char buf[];
};

struct fp_link {
    int fd[2]; /* 0: the client's side, 1: the server's; -1 when closed */
    struct fp_chunk *head[2], *tail[2]; /* head[d]: bytes read from fd[d], for fd[1-d] */
    double last_release[2];
};

struct fproxy {
    int lfd, port, upstream_port;
    pthread_t th;
    atomic_int stop;
    /* faults, read by the proxy's thread */
    atomic_int delay_ms, jitter_ms, stall_permille, partitioned, reset_gen;
    /* counters */
    atomic_llong accepted, refused, bytes, stalls, resets;
    struct fp_link link[FP_MAX_LINKS];
    int nlinks;
    unsigned rng;
    int seen_reset_gen;
};

static inline double fp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline double fp_rand(struct fproxy *p) /* [0, 1) */
{
    p->rng = p->rng * 1103515245u + 12345u;
    return (double)(p->rng >> 8) / (double)(1u << 24);
}

static inline void fp_link_close(struct fproxy *p, struct fp_link *l, int rst)
{
    for (int d = 0; d < 2; d++) {
        if (l->fd[d] >= 0) {
            if (rst) {
                struct linger lg = {1, 0};
                setsockopt(l->fd[d], SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            }
            close(l->fd[d]);
            l->fd[d] = -1;
        }
        while (l->head[d]) {
            struct fp_chunk *c = l->head[d];
            l->head[d] = c->next;
            free(c);
        }
        l->tail[d] = NULL;
    }
    (void)p;
}

static inline void fp_accept(struct fproxy *p)
{
    int c = accept(p->lfd, NULL, NULL);
    if (c < 0)
        return;
    int slot = -1;
    for (int i = 0; i < FP_MAX_LINKS && slot < 0; i++)
        if (p->link[i].fd[0] < 0 && p->link[i].fd[1] < 0)
            slot = i;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)p->upstream_port);
    if (slot < 0 || s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        /* the server is not there (or too many links): refused, as it would be */
        struct linger lg = {1, 0};
        setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(c);
        if (s >= 0)
            close(s);
        atomic_fetch_add(&p->refused, 1);
        return;
    }
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct fp_link *l = &p->link[slot];
    memset(l, 0, sizeof *l);
    l->fd[0] = c;
    l->fd[1] = s;
    atomic_fetch_add(&p->accepted, 1);
}

/* Read what fd[d] has into a chunk queued for the other side. 0, or -1 when
 * that side closed (the link is then torn down). */
static inline int fp_read(struct fproxy *p, struct fp_link *l, int d)
{
    struct fp_chunk *c = malloc(sizeof *c + FP_CHUNK);
    if (!c)
        return -1;
    ssize_t n = recv(l->fd[d], c->buf, FP_CHUNK, MSG_DONTWAIT);
    if (n <= 0) {
        free(c);
        return n < 0 && (errno == EAGAIN || errno == EINTR) ? 0 : -1;
    }
    double now = fp_now();
    double t = now + (atomic_load(&p->delay_ms) + fp_rand(p) * atomic_load(&p->jitter_ms)) / 1e3;
    if (fp_rand(p) * 1000 < atomic_load(&p->stall_permille)) {
        t += 0.2 + 0.8 * fp_rand(p); /* a lost segment waits for its retransmission */
        atomic_fetch_add(&p->stalls, 1);
    }
    if (t < l->last_release[d])
        t = l->last_release[d];
    l->last_release[d] = t;
    c->next = NULL;
    c->release = t;
    c->len = (size_t)n;
    c->off = 0;
    if (l->tail[d])
        l->tail[d]->next = c;
    else
        l->head[d] = c;
    l->tail[d] = c;
    return 0;
}

/* Write what is due from direction d. 0, or -1 when the other side is gone. */
static inline int fp_write(struct fproxy *p, struct fp_link *l, int d)
{
    double now = fp_now();
    while (l->head[d] && l->head[d]->release <= now) {
        struct fp_chunk *c = l->head[d];
        ssize_t n = send(l->fd[1 - d], c->buf + c->off, c->len - c->off,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        atomic_fetch_add(&p->bytes, n);
        c->off += (size_t)n;
        if (c->off < c->len)
            return 0;
        l->head[d] = c->next;
        if (!l->head[d])
            l->tail[d] = NULL;
        free(c);
    }
    return 0;
}

static inline void *fp_main(void *arg)
{
    struct fproxy *p = arg;
    while (!atomic_load(&p->stop)) {
        int gen = atomic_load(&p->reset_gen);
        if (gen != p->seen_reset_gen) {
            p->seen_reset_gen = gen;
            for (int i = 0; i < FP_MAX_LINKS; i++)
                if (p->link[i].fd[0] >= 0) {
                    fp_link_close(p, &p->link[i], 1);
                    atomic_fetch_add(&p->resets, 1);
                }
        }
        int cut = atomic_load(&p->partitioned);
        struct pollfd pf[1 + 2 * FP_MAX_LINKS];
        int who[1 + 2 * FP_MAX_LINKS];
        int n = 0;
        pf[n] = (struct pollfd){.fd = p->lfd, .events = cut ? 0 : POLLIN};
        who[n++] = -1;
        for (int i = 0; i < FP_MAX_LINKS; i++)
            for (int d = 0; d < 2; d++)
                if (p->link[i].fd[d] >= 0) {
                    /* cut: nothing read, so the senders' buffers fill up */
                    pf[n] = (struct pollfd){.fd = p->link[i].fd[d], .events = cut ? 0 : POLLIN};
                    who[n++] = 2 * i + d;
                }
        poll(pf, (nfds_t)n, 2);
        if (!cut && (pf[0].revents & POLLIN))
            fp_accept(p);
        for (int k = 1; k < n; k++) {
            struct fp_link *l = &p->link[who[k] / 2];
            int d = who[k] % 2;
            if (l->fd[d] >= 0 && (pf[k].revents & (POLLIN | POLLHUP | POLLERR)) && !cut &&
                fp_read(p, l, d))
                fp_link_close(p, l, 0);
        }
        if (!cut)
            for (int i = 0; i < FP_MAX_LINKS; i++)
                for (int d = 0; d < 2; d++)
                    if (p->link[i].fd[0] >= 0 && p->link[i].fd[1] >= 0 &&
                        fp_write(p, &p->link[i], d))
                        fp_link_close(p, &p->link[i], 0);
    }
    for (int i = 0; i < FP_MAX_LINKS; i++)
        fp_link_close(p, &p->link[i], 0);
    return NULL;
}

/* Listen on an ephemeral 127.0.0.1 port for upstream_port; 0 or -1. */
static inline int fp_start(struct fproxy *p, int upstream_port, unsigned seed)
{
    memset(p, 0, sizeof *p);
    for (int i = 0; i < FP_MAX_LINKS; i++)
        p->link[i].fd[0] = p->link[i].fd[1] = -1;
    p->upstream_port = upstream_port;
    p->rng = seed;
    p->lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(p->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    socklen_t al = sizeof a;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (p->lfd < 0 || bind(p->lfd, (struct sockaddr *)&a, sizeof a) || listen(p->lfd, 16) ||
        getsockname(p->lfd, (struct sockaddr *)&a, &al))
        return -1;
    p->port = ntohs(a.sin_port);
    return pthread_create(&p->th, NULL, fp_main, p) ? -1 : 0;
}

static inline void fp_stop(struct fproxy *p)
{
    atomic_store(&p->stop, 1);
    pthread_join(p->th, NULL);
    close(p->lfd);
}

static inline void fp_set(struct fproxy *p, int delay_ms, int jitter_ms, int stall_permille)
{
    atomic_store(&p->delay_ms, delay_ms);
    atomic_store(&p->jitter_ms, jitter_ms);
    atomic_store(&p->stall_permille, stall_permille);
}

static inline void fp_partition(struct fproxy *p, int on)
{
    atomic_store(&p->partitioned, on);
}

static inline void fp_reset(struct fproxy *p)
{
    atomic_fetch_add(&p->reset_gen, 1);
}

#endif
