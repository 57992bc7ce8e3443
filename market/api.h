/*
 * api.h: the market's HTTP/JSON and websocket service (`flexbed serve`).
 *
 * A thin shell over the engine (market.h): GET endpoints read the state,
 * POST /api/tx hands a signed action to mkt_submit, POST /api/seal seals
 * the pending transactions with the operator key the server holds, and a
 * websocket channel (/ws, subprotocol "flexbed-notify") pushes one JSON
 * notification per event to every connected client (the paper e-mailed
 * FSPs when matched). docs/api.md documents every endpoint.
 *
 * The server is single-threaded: mkt_api_run() services libwebsockets
 * until mkt_api_stop() is called (from a signal handler or another
 * thread). Unlike the engine it reads the wall clock for `now`, unless the
 * caller supplies a clock (tests do). It never prints: log lines go to the
 * caller's callback. It listens on 127.0.0.1 unless told otherwise.
 */
#ifndef FLEXBED_MARKET_API_H
#define FLEXBED_MARKET_API_H

#include <stddef.h>

#include "market.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default and hard limits. */
#define MKT_API_MAX_BODY_DEFAULT ((size_t)64 * 1024)
#define MKT_API_WS_SUBPROTOCOL "flexbed-notify"

struct mkt_api_config {
    const char *bind; /* interface address; NULL = "127.0.0.1" */
    int port;         /* TCP port; 0 = an ephemeral one (see mkt_api_port) */
    size_t max_body;  /* request bodies above this get 413; 0 = 64 KiB */
    /* The operator key (borrowed, must outlive the server), or NULL. With
     * it POST /api/seal and the seal timer work, and a genesis must be
     * signed by this key. */
    const struct mkt_key *operator_key;
    sim_time_us seal_every; /* seal pending transactions this often; 0 = never */
    /* The time source for `now`; NULL = the wall clock (CLOCK_REALTIME). */
    sim_time_us (*clock)(void *ctx);
    void *clock_ctx;
    /* Watch a database another process or thread writes (`flexbed run
     * --serve`): transactions are refused (403: the run's own market takes
     * none from here), and when the database changes (PRAGMA data_version,
     * polled every 200 ms) the engine is reloaded and the websocket
     * announces {"event": "changed"} so that pages redraw. */
    int watch;
    /* With watch: hand POST /api/tx to the thread that owns the watched
     * market (a run's, `flexbed run --serve PORT --accept-tx`) instead of
     * refusing it with 403. Called in the server's thread, it blocks until
     * the owner has taken or refused the transaction and committed it, and
     * returns 0 with *rc filled (accepted), a negative SIM_E* code with err
     * (refused), or 1: the owner has gone (the run is over), so the server
     * submits to its own engine. Other POSTs stay refused. NULL = none. */
    int (*forward)(void *ctx, const char *json, const uint8_t sig[MKT_SIG_LEN],
                   struct mkt_receipt *rc, struct sim_err *err);
    void *forward_ctx;
    /* One line per request and per notable event ("POST /api/tx 200 ...");
     * NULL = silent. */
    void (*log)(void *ctx, const char *line);
    void *log_ctx;
};

typedef struct mkt_api mkt_api;

/* Create the server on engine e (borrowed, must outlive the server) and
 * bind its listening socket. Returns 0, SIM_EINVAL (bad config, e.g. an
 * operator key that is not the market's operator) or SIM_EIO (cannot
 * listen). */
int mkt_api_new(mkt_engine *e, const struct mkt_api_config *cfg, mkt_api **out,
                struct sim_err *err);
/* The port actually listened on. */
int mkt_api_port(const mkt_api *a);
/* Serve until mkt_api_stop(); returns 0, or SIM_EIO if the event loop
 * failed. May be called again after a stop. */
int mkt_api_run(mkt_api *a, struct sim_err *err);
/* Ask mkt_api_run to return (within ~0.2 s). Async-signal-safe and
 * thread-safe: it only sets an atomic flag. */
void mkt_api_stop(mkt_api *a);
/* Close every connection and free the server (not the engine). */
void mkt_api_free(mkt_api *a);

/* Answer one HTTP request without a socket, exactly as the server answers
 * it on the wire: method ("GET", "POST", ...), target (the path with an
 * optional "?query", percent-encoded as sent), body (NULL or body_len
 * bytes). *answer gets the JSON text (malloc'd; the caller frees) and
 * *status its HTTP status. An accepted transaction is stored (committed)
 * before this returns. For fuzzing and tests; never while mkt_api_run runs
 * in another thread. Returns 0, or SIM_ENOMEM (then *answer is NULL). */
int mkt_api_request(mkt_api *a, const char *method, const char *target, const char *body,
                    size_t body_len, int *status, char **answer);

/* Counters, for tests and the shutdown summary. */
struct mkt_api_stats {
    long long requests;      /* HTTP requests answered */
    long long accepted_tx;   /* transactions accepted through POST /api/tx */
    long long refused_tx;    /* refused ones */
    long long notifications; /* websocket notifications queued */
    long long blocks;        /* blocks sealed by the server */
    int ws_clients;          /* websocket clients connected now */
};
void mkt_api_stats(const mkt_api *a, struct mkt_api_stats *s);

#ifdef __cplusplus
}
#endif

#endif
