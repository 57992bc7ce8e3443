/*
 * run_serve.h: `flexbed run SCENARIO --serve PORT [--accept-tx]`, the
 * dashboard on a run's database from a thread of its own.
 *
 * The server opens the database a second time and watches it (market/api.h,
 * watch). With --accept-tx it also takes signed transactions (POST /api/tx)
 * for the run's market: the server thread leaves each one in an inbox and
 * waits; the kernel's thread takes it between two instants (the progress
 * hook, run_inbox_drain), submits it to the run's engine at the
 * simulation's current time and commits, so the engine stays
 * single-threaded and a DSO's request posted from the page reaches the
 * simulated assets through the run's dispatch. When the run is over the
 * server takes transactions on its own connection, at the run's end time.
 */
#ifndef FLEXBED_CLI_RUN_SERVE_H
#define FLEXBED_CLI_RUN_SERVE_H

#include <pthread.h>
#include <stdatomic.h>

#include "../market/api.h"
#include "../results/results.h"

/* One transaction in flight between the server's thread and the kernel's. */
struct run_inbox {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const char *json;  /* the transaction waiting, or NULL */
    const uint8_t *sig;
    int done, result;  /* taken: result 0 or a SIM_E* code */
    struct mkt_receipt rc;
    struct sim_err err;
    int closed;        /* no run takes transactions any more */
    mkt_engine **engine; /* where the run keeps its engine (NULL: no run) */
    res_store *store;  /* committed after each transaction */
    _Atomic sim_time_us now; /* the simulation's clock, for the server */
};

struct run_server {
    sqlite3 *db; /* its own connection: the run writes through the store's */
    mkt_engine *e;
    mkt_api *api;
    pthread_t th;
    int running;
    struct run_inbox inbox;
    int accept_tx;
};

/* Open the database at path a second time and serve it on 127.0.0.1:port
 * (0: a free one) from a new thread; accept_tx: take transactions through
 * the inbox. Prints the address, or the error. Returns 0 or an exit code. */
int run_serve_start(const char *path, int port, int accept_tx, sim_time_us start,
                    struct run_server *s);
/* Stop the server and free everything (also after a failed start). */
void run_serve_stop(struct run_server *s);

/* Before the run: where its engine will be (the market creates it at the
 * run's start) and the store to commit. After it: NULL, and the server
 * submits to its own engine from then on. */
void run_inbox_attach(struct run_inbox *in, mkt_engine **engine, res_store *store);
/* In the kernel's thread, between instants: take the waiting transaction,
 * if any, at simulated time now. */
void run_inbox_drain(struct run_inbox *in, sim_time_us now);

#endif
