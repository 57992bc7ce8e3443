/*
 * run_serve.c: the dashboard of `flexbed run --serve` and the inbox through
 * which, with --accept-tx, the run's market takes transactions from it
 * (run_serve.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../hil/ocpp_cs.h"
#include "cli.h"
#include "run_serve.h"

/* How long a POST waits for the run to take its transaction. */
#define INBOX_WAIT_S 30

void run_inbox_attach(struct run_inbox *in, mkt_engine **engine, res_store *store)
{
    pthread_mutex_lock(&in->mu);
    in->engine = engine;
    in->store = store;
    in->closed = engine == NULL;
    pthread_cond_broadcast(&in->cv);
    pthread_mutex_unlock(&in->mu);
}

void run_inbox_drain(struct run_inbox *in, sim_time_us now)
{
    atomic_store(&in->now, now);
    pthread_mutex_lock(&in->mu);
    /* before the market's opening event there is no engine: wait */
    if (in->json && !in->done && in->engine && *in->engine) {
        in->result = mkt_submit(*in->engine, in->json, in->sig, now, &in->rc, &in->err);
        struct sim_err ferr;
        /* the server reads it on its own connection: commit now */
        if (!in->result && in->store && res_flush(in->store, &ferr))
            in->result = sim_errf(&in->err, SIM_EIO, "storing the transaction: %s", ferr.msg);
        in->done = 1;
        pthread_cond_broadcast(&in->cv);
    }
    pthread_mutex_unlock(&in->mu);
}

/* mkt_api_config.forward, in the server's thread. */
static int inbox_forward(void *ctx, const char *json, const uint8_t sig[MKT_SIG_LEN],
                         struct mkt_receipt *rc, struct sim_err *err)
{
    struct run_inbox *in = ctx;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += INBOX_WAIT_S;
    int ret = 1, timed_out = 0;
    pthread_mutex_lock(&in->mu);
    if (!in->closed) {
        in->json = json;
        in->sig = sig;
        in->done = 0;
        while (!in->done && !in->closed && !timed_out)
            timed_out = pthread_cond_timedwait(&in->cv, &in->mu, &until) == ETIMEDOUT;
        if (in->done) {
            ret = in->result;
            *rc = in->rc;
            *err = in->err;
        } else if (!in->closed) {
            ret = sim_errf(err, SIM_EIO,
                           "tx: the run did not take the transaction within %d s (is it "
                           "stalled?)",
                           INBOX_WAIT_S);
        }
        in->json = NULL; /* closed and not taken: ret stays 1, the server takes it */
        in->sig = NULL;
        in->done = 0;
    }
    pthread_mutex_unlock(&in->mu);
    return ret;
}

static sim_time_us inbox_clock(void *ctx)
{
    struct run_inbox *in = ctx;
    return atomic_load(&in->now);
}

static void *serve_main(void *arg)
{
    struct run_server *s = arg;
    struct sim_err err;
    if (mkt_api_run(s->api, &err))
        fprintf(stderr, "flexbed run: dashboard: %s\n", err.msg);
    return NULL;
}

void run_serve_stop(struct run_server *s)
{
    if (s->running) {
        mkt_api_stop(s->api);
        pthread_join(s->th, NULL);
        s->running = 0;
    }
    mkt_api_free(s->api);
    mkt_engine_free(s->e);
    sqlite3_close(s->db);
    if (s->accept_tx) {
        pthread_cond_destroy(&s->inbox.cv);
        pthread_mutex_destroy(&s->inbox.mu);
    }
    memset(s, 0, sizeof *s);
}

int run_serve_start(const char *path, int port, int accept_tx, sim_time_us start,
                    struct run_server *s)
{
    struct sim_err err = {{0}};
    memset(s, 0, sizeof *s);
    if (accept_tx) {
        pthread_mutex_init(&s->inbox.mu, NULL);
        pthread_cond_init(&s->inbox.cv, NULL);
        s->inbox.closed = 1; /* until the run attaches its engine */
        atomic_store(&s->inbox.now, start);
        s->accept_tx = 1;
    }
    hil_ocpp_lws_quiet();
    int rc = SIM_EIO;
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        sim_errf(&err, SIM_EIO, "%.300s: %.200s", path, sqlite3_errmsg(s->db));
    else if (sqlite3_busy_timeout(s->db, 5000), (rc = mkt_engine_new(s->db, &s->e, &err)) == 0) {
        struct mkt_api_config c = {.port = port, .watch = 1};
        if (accept_tx) {
            c.forward = inbox_forward;
            c.forward_ctx = &s->inbox;
            c.clock = inbox_clock;
            c.clock_ctx = &s->inbox;
        }
        rc = mkt_api_new(s->e, &c, &s->api, &err);
    }
    if (!rc && pthread_create(&s->th, NULL, serve_main, s) != 0)
        rc = sim_errf(&err, SIM_EIO, "cannot start a thread");
    if (rc) {
        fprintf(stderr, "flexbed run: --serve: %s\n", err.msg);
        run_serve_stop(s);
        return rc == SIM_EINVAL ? CLI_USAGE : CLI_FAIL;
    }
    s->running = 1;
    printf("flexbed run: dashboard on http://127.0.0.1:%d/ (docs/dashboard.md)%s\n",
           mkt_api_port(s->api),
           accept_tx ? "; the run's market takes transactions from it" : "");
    fflush(stdout);
    return 0;
}
