/*
 * internal.h: what the market's source files share and nobody else sees.
 */
#ifndef FLEXBED_MARKET_INTERNAL_H
#define FLEXBED_MARKET_INTERNAL_H

#include <cjson/cJSON.h>

#include "market.h"

/* 128-bit intermediates for money arithmetic (W x us x ueur/kWh overflows
 * 64 bits); GCC and Clang both provide the type. */
__extension__ typedef __int128 mkt_i128;

/* The value of hex digit c, or -1. */
int mkt__hexval(int c);

/* Round num/den to the nearest integer, ties away from zero; den > 0. */
int64_t mkt__div_round(mkt_i128 num, mkt_i128 den);

/* Canonical text of a cJSON tree (see mkt_canonical_json). */
int mkt__canon_print(const cJSON *item, char **out, struct sim_err *err);

/* A dynamic string buffer. */
struct mkt_buf {
    char *p;
    size_t n, cap;
    int oom;
};
void mkt__buf_put(struct mkt_buf *b, const char *s, size_t n);

/* The engine's state; sqlite statements are prepared on first use. */
struct mkt_engine {
    sqlite3 *db;
    struct mkt_params params;
    int has_genesis;
    uint8_t operator_addr[20];
    int64_t last_seq; /* highest transaction seq written */
    /* Refusals are recorded at a bounded rate (a token bucket on the
     * action's time): a client repeating a bad request cannot grow
     * mkt_refusals without end. The rest are only counted. */
    double refusal_tokens;
    sim_time_us refusal_last_us;
    int64_t refusals_unrecorded;     /* since the engine was opened */
    int64_t refusals_unrecorded_new; /* since the last recorded refusal */
    int batch;                       /* in a group commit (mkt_batch_begin) */
    int batch_owned;                 /* ... whose transaction this engine began */
};

/* Execute SQL with no result; returns 0 or SIM_EIO with err. */
int mkt__exec(sqlite3 *db, const char *sql, struct sim_err *err);
/* Prepare; returns 0 or SIM_EIO with err. Give the statement back with
 * mkt__finish (never sqlite3_finalize): on an engine's connection it is
 * kept for reuse. */
int mkt__prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, struct sim_err *err);
void mkt__finish(sqlite3_stmt *st);
/* Statement reuse on db, from mkt_engine_new to mkt_engine_free. */
void mkt__cache_open(sqlite3 *db);
void mkt__cache_close(sqlite3 *db);
int mkt__schema(sqlite3 *db, struct sim_err *err);
/* Prepare sql and bind its parameters from fmt: 'i' int64_t, 's' const char *
 * (copied), 'b' const void *, int length (copied). */
int mkt__stmt(sqlite3 *db, sqlite3_stmt **st, struct sim_err *err, const char *sql,
              const char *fmt, ...);
/* Prepare, bind and run to completion. */
int mkt__sql(sqlite3 *db, struct sim_err *err, const char *sql, const char *fmt, ...);
/* First column of the first row into *v; SIM_ENOENT (err untouched) when
 * there is no row. */
int mkt__sql_int(sqlite3 *db, int64_t *v, struct sim_err *err, const char *sql, const char *fmt,
                 ...);

/* Per-transaction context passed to the action handlers. */
struct mkt_txctx {
    mkt_engine *e;
    const cJSON *root;
    enum mkt_action action;
    uint8_t from[20];
    enum mkt_role role;
    sim_time_us now;
    int64_t seq;
    struct mkt_receipt *rc;
};

/* Money moves: each checks funds and fails with SIM_ESTATE if short. */
int mkt__wallet_add(mkt_engine *e, const uint8_t addr[20], int64_t delta_ueur,
                    struct sim_err *err);
int mkt__wallet_get(mkt_engine *e, const uint8_t addr[20], int64_t *ueur, struct sim_err *err);

/* JSON member access with clear errors naming the member. */
int mkt__get_int(const cJSON *o, const char *name, int64_t *v, struct sim_err *err);
int mkt__get_int_opt(const cJSON *o, const char *name, int64_t *v, int *present,
                     struct sim_err *err);
int mkt__get_str(const cJSON *o, const char *name, const char **v, struct sim_err *err);
int mkt__get_addr(const cJSON *o, const char *name, uint8_t addr[20], struct sim_err *err);

/* Action handlers (match.c, settle.c, engine.c). */
int mkt__act_match(struct mkt_txctx *c, struct sim_err *err);
int mkt__act_purchase(struct mkt_txctx *c, struct sim_err *err);
int mkt__act_delivery(struct mkt_txctx *c, struct sim_err *err);
int mkt__act_settle(struct mkt_txctx *c, struct sim_err *err);
/* Gate closure for a window starting at start: 0 or SIM_ESTATE. */
int mkt__gate_open(const mkt_engine *e, sim_time_us now, sim_time_us start, const char *what,
                   struct sim_err *err);
int mkt__act_meter(struct mkt_txctx *c, struct sim_err *err);
int mkt__act_prognosis(struct mkt_txctx *c, struct sim_err *err);
/* The delivered energy of match m under the market's baseline rule (not
 * metered), with the baseline and measured net energies (Wh). */
int mkt__baseline_delivery(mkt_engine *e, const struct mkt_match *m, sim_time_us now,
                           int64_t *delivered_wh, int64_t *baseline_wh, int64_t *measured_wh,
                           struct sim_err *err);
/* Release the proposed (not purchased) matches of a request back to their
 * offers. */
int mkt__release_matches(mkt_engine *e, int64_t request_id, struct sim_err *err);

/* Ledger rows (ledger.c). */
void mkt__tx_hash(const char *json, size_t n, const uint8_t sig[MKT_SIG_LEN], sim_time_us t,
                  uint8_t out[32]);
int mkt__tx_insert(mkt_engine *e, int64_t seq, sim_time_us t, const uint8_t from[20],
                   enum mkt_action a, int64_t nonce, const char *json, const uint8_t sig[65],
                   const uint8_t hash[32], struct sim_err *err);

#endif
