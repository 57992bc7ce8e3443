/*
 * store.c: the market's SQLite tables and the small helpers that read and
 * write them.
 *
 * Every table is prefixed mkt_ so the market can share a run's result
 * database; docs/market.md documents each one. Addresses are stored as
 * their EIP-55 text, hashes and signatures as BLOBs, money as INTEGER
 * micro-euros. State tables (participants, assets, offers, ...) are a
 * cache of the ledger (mkt_tx, mkt_blocks): mkt_ledger_replay rebuilds
 * them from it.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS mkt_participants("
    " address TEXT PRIMARY KEY, role INTEGER NOT NULL, name TEXT NOT NULL,"
    " balance_ueur INTEGER NOT NULL DEFAULT 0, nonce INTEGER NOT NULL DEFAULT 0,"
    " seq INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS mkt_assets("
    " id INTEGER PRIMARY KEY, owner TEXT NOT NULL, type INTEGER NOT NULL, name TEXT NOT NULL,"
    " location TEXT NOT NULL, p_min_w INTEGER NOT NULL, p_max_w INTEGER NOT NULL,"
    " soc_min_ppm INTEGER NOT NULL, soc_max_ppm INTEGER NOT NULL,"
    " removed INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS mkt_offers("
    " id INTEGER PRIMARY KEY, asset_id INTEGER NOT NULL, fsp TEXT NOT NULL,"
    " location TEXT NOT NULL, start_us INTEGER NOT NULL, end_us INTEGER NOT NULL,"
    " valid_until_us INTEGER NOT NULL, p_w INTEGER NOT NULL,"
    " price_ueur_per_kwh INTEGER NOT NULL, remaining_w INTEGER NOT NULL,"
    " state INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " availability_ueur_per_kw_h INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS mkt_offers_merit ON mkt_offers(state, location,"
    " price_ueur_per_kwh, seq);"
    "CREATE TABLE IF NOT EXISTS mkt_requests("
    " id INTEGER PRIMARY KEY, dso TEXT NOT NULL, location TEXT NOT NULL,"
    " start_us INTEGER NOT NULL, end_us INTEGER NOT NULL, p_w INTEGER NOT NULL,"
    " max_price_ueur_per_kwh INTEGER NOT NULL, unmet_w INTEGER NOT NULL,"
    " state INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " max_availability_ueur_per_kw_h INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS mkt_matches("
    " id INTEGER PRIMARY KEY, request_id INTEGER NOT NULL, offer_id INTEGER NOT NULL,"
    " asset_id INTEGER NOT NULL, fsp TEXT NOT NULL, dso TEXT NOT NULL,"
    " start_us INTEGER NOT NULL, end_us INTEGER NOT NULL, p_w INTEGER NOT NULL,"
    " price_ueur_per_kwh INTEGER NOT NULL, amount_ueur INTEGER NOT NULL,"
    " state INTEGER NOT NULL, delivered_wh INTEGER NOT NULL DEFAULT -1,"
    " rate_ppm INTEGER NOT NULL DEFAULT 0, payout_ueur INTEGER NOT NULL DEFAULT 0,"
    " settle_fee_ueur INTEGER NOT NULL DEFAULT 0, refund_ueur INTEGER NOT NULL DEFAULT 0,"
    " merit INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " availability_ueur_per_kw_h INTEGER NOT NULL DEFAULT 0,"
    " availability_ueur INTEGER NOT NULL DEFAULT 0,"
    " availability_paid_ueur INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS mkt_matches_request ON mkt_matches(request_id);"
    "CREATE TABLE IF NOT EXISTS mkt_purchases("
    " id INTEGER PRIMARY KEY, request_id INTEGER NOT NULL UNIQUE, dso TEXT NOT NULL,"
    " amount_ueur INTEGER NOT NULL, escrow_ueur INTEGER NOT NULL, seq INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS mkt_dispatch("
    " id INTEGER PRIMARY KEY, match_id INTEGER NOT NULL, asset_id INTEGER NOT NULL,"
    " start_us INTEGER NOT NULL, end_us INTEGER NOT NULL, p_w INTEGER NOT NULL,"
    " seq INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS mkt_deliveries("
    " id INTEGER PRIMARY KEY, match_id INTEGER NOT NULL UNIQUE, e_wh INTEGER NOT NULL,"
    " rate_ppm INTEGER NOT NULL, reporter TEXT NOT NULL, seq INTEGER NOT NULL,"
    " baseline_wh INTEGER, measured_wh INTEGER);"
    "CREATE TABLE IF NOT EXISTS mkt_meter("
    " id INTEGER PRIMARY KEY, asset_id INTEGER NOT NULL, start_us INTEGER NOT NULL,"
    " end_us INTEGER NOT NULL, e_wh INTEGER NOT NULL, reporter TEXT NOT NULL,"
    " seq INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS mkt_meter_asset ON mkt_meter(asset_id, start_us);"
    "CREATE TABLE IF NOT EXISTS mkt_prognoses("
    " id INTEGER PRIMARY KEY, asset_id INTEGER NOT NULL, start_us INTEGER NOT NULL,"
    " end_us INTEGER NOT NULL, p_w INTEGER NOT NULL, fsp TEXT NOT NULL, seq INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS mkt_prognoses_asset ON mkt_prognoses(asset_id, start_us);"
    "CREATE TABLE IF NOT EXISTS mkt_settlements("
    " id INTEGER PRIMARY KEY, request_id INTEGER NOT NULL, match_id INTEGER NOT NULL,"
    " fsp TEXT NOT NULL, payout_ueur INTEGER NOT NULL, fee_ueur INTEGER NOT NULL,"
    " refund_ueur INTEGER NOT NULL, seq INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS mkt_totals("
    " id INTEGER PRIMARY KEY CHECK (id = 1), deposited_ueur INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO mkt_totals(id, deposited_ueur) VALUES (1, 0);"
    "CREATE TABLE IF NOT EXISTS mkt_tx("
    " seq INTEGER PRIMARY KEY, block_height INTEGER, idx INTEGER, t_us INTEGER NOT NULL,"
    " sender TEXT NOT NULL, action TEXT NOT NULL, nonce INTEGER NOT NULL,"
    " json TEXT NOT NULL, sig BLOB NOT NULL, hash BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS mkt_tx_block ON mkt_tx(block_height, idx);"
    "CREATE TABLE IF NOT EXISTS mkt_blocks("
    " height INTEGER PRIMARY KEY, t_us INTEGER NOT NULL, prev_hash BLOB NOT NULL,"
    " merkle_root BLOB NOT NULL, n_tx INTEGER NOT NULL, sealer TEXT NOT NULL,"
    " header TEXT NOT NULL, sig BLOB NOT NULL, hash BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS mkt_refusals("
    " id INTEGER PRIMARY KEY, t_us INTEGER NOT NULL, sender TEXT, action TEXT,"
    " code INTEGER NOT NULL, reason TEXT NOT NULL, json TEXT);";

int mkt__exec(sqlite3 *db, const char *sql, struct sim_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = sim_errf(err, SIM_EIO, "market database: %s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return rc;
    }
    return 0;
}

/*
 * Prepared statements are kept for reuse on the connections of live
 * engines (mkt__cache_open / mkt__cache_close from mkt_engine_new / _free):
 * preparing is most of an action's SQL cost. A statement is found by its
 * connection and its text (never the caller's pointer alone: a buffer may
 * be reused for another query), handed out once at a time (a nested use of
 * the same text gets a fresh one) and given back by mkt__finish, which
 * resets it. On any other connection mkt__prepare prepares and
 * mkt__finish finalizes, as before. Each engine is used from one thread at
 * a time, but two engines may live in two threads (`flexbed run --serve`:
 * the run's and the dashboard's), so the cache's bookkeeping is under a
 * mutex (uncontended but for that case).
 */
#define STMT_CACHE 128
#define CACHE_DBS 16
static struct {
    sqlite3 *db;
    const char *sql; /* the pointer it was last asked for: tried first */
    sqlite3_stmt *st;
    int in_use;
} cache[STMT_CACHE];
static sqlite3 *cache_dbs[CACHE_DBS];
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;

void mkt__cache_open(sqlite3 *db)
{
    pthread_mutex_lock(&cache_mu);
    for (int i = 0; i < CACHE_DBS; i++)
        if (!cache_dbs[i]) {
            cache_dbs[i] = db;
            break;
        }
    pthread_mutex_unlock(&cache_mu);
}

void mkt__cache_close(sqlite3 *db)
{
    pthread_mutex_lock(&cache_mu);
    for (int i = 0; i < STMT_CACHE; i++)
        if (cache[i].db == db) {
            sqlite3_finalize(cache[i].st);
            memset(&cache[i], 0, sizeof cache[i]);
        }
    for (int i = 0; i < CACHE_DBS; i++)
        if (cache_dbs[i] == db)
            cache_dbs[i] = NULL;
    pthread_mutex_unlock(&cache_mu);
}

static int cached_db(sqlite3 *db)
{
    for (int i = 0; i < CACHE_DBS; i++)
        if (cache_dbs[i] == db)
            return 1;
    return 0;
}

static int prepare_locked(sqlite3 *db, const char *sql, sqlite3_stmt **st, struct sim_err *err);

int mkt__prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, struct sim_err *err)
{
    pthread_mutex_lock(&cache_mu);
    int rc = prepare_locked(db, sql, st, err);
    pthread_mutex_unlock(&cache_mu);
    return rc;
}

static int prepare_locked(sqlite3 *db, const char *sql, sqlite3_stmt **st, struct sim_err *err)
{
    int keep = cached_db(db), free_slot = -1;
    /* the same call site again: its pointer, confirmed by the text */
    for (int i = 0; keep && i < STMT_CACHE; i++)
        if (cache[i].sql == sql && cache[i].db == db && !cache[i].in_use &&
            !strcmp(sqlite3_sql(cache[i].st), sql)) {
            cache[i].in_use = 1;
            *st = cache[i].st;
            return 0;
        }
    for (int i = 0; keep && i < STMT_CACHE; i++) {
        if (!cache[i].db) {
            if (free_slot < 0)
                free_slot = i;
            continue;
        }
        if (cache[i].db == db && !cache[i].in_use && !strcmp(sqlite3_sql(cache[i].st), sql)) {
            cache[i].sql = sql;
            cache[i].in_use = 1;
            *st = cache[i].st;
            return 0;
        }
    }
    if (sqlite3_prepare_v3(db, sql, -1, keep && free_slot >= 0 ? SQLITE_PREPARE_PERSISTENT : 0, st,
                           NULL) != SQLITE_OK)
        return sim_errf(err, SIM_EIO, "market database: %s", sqlite3_errmsg(db));
    if (keep && free_slot >= 0) {
        cache[free_slot].db = db;
        cache[free_slot].sql = sql;
        cache[free_slot].st = *st;
        cache[free_slot].in_use = 1;
    }
    return 0;
}

void mkt__finish(sqlite3_stmt *st)
{
    if (!st)
        return;
    pthread_mutex_lock(&cache_mu);
    for (int i = 0; i < STMT_CACHE; i++)
        if (cache[i].st == st && cache[i].db) {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            cache[i].in_use = 0;
            pthread_mutex_unlock(&cache_mu);
            return;
        }
    pthread_mutex_unlock(&cache_mu);
    sqlite3_finalize(st);
}

int mkt__schema(sqlite3 *db, struct sim_err *err)
{
    int rc = mkt__exec(db, schema_sql, err);
    if (rc)
        return rc;
    /* A database from an earlier version gets the columns added since,
     * with the values that mean "as before" (NULL: measured by the metered
     * rule; 0: no availability payment). */
    static const struct {
        const char *table, *column, *decl;
    } added[] = {
        {"mkt_deliveries", "baseline_wh", "INTEGER"},
        {"mkt_deliveries", "measured_wh", "INTEGER"},
        {"mkt_offers", "availability_ueur_per_kw_h", "INTEGER NOT NULL DEFAULT 0"},
        {"mkt_requests", "max_availability_ueur_per_kw_h", "INTEGER NOT NULL DEFAULT 0"},
        {"mkt_matches", "availability_ueur_per_kw_h", "INTEGER NOT NULL DEFAULT 0"},
        {"mkt_matches", "availability_ueur", "INTEGER NOT NULL DEFAULT 0"},
        {"mkt_matches", "availability_paid_ueur", "INTEGER NOT NULL DEFAULT 0"},
    };
    for (size_t i = 0; !rc && i < sizeof added / sizeof added[0]; i++) {
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM pragma_table_info('%s') WHERE name='%s'",
                 added[i].table, added[i].column);
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
            return sim_errf(err, SIM_EIO, "market database: %s", sqlite3_errmsg(db));
        int have = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) > 0;
        sqlite3_finalize(st);
        if (!have) {
            snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s %s", added[i].table,
                     added[i].column, added[i].decl);
            rc = mkt__exec(db, sql, err);
        }
    }
    return rc;
}

int64_t mkt__div_round(mkt_i128 num, mkt_i128 den)
{
    /* Ties away from zero: add half the divisor in the direction of the sign. */
    mkt_i128 q = num >= 0 ? (num + den / 2) / den : -((-num + den / 2) / den);
    return (int64_t)q;
}

int mkt__wallet_get(mkt_engine *e, const uint8_t addr[20], int64_t *ueur, struct sim_err *err)
{
    char a[MKT_ADDR_STRLEN];
    mkt_address_format(addr, a);
    sqlite3_stmt *st;
    int rc =
        mkt__prepare(e->db, "SELECT balance_ueur FROM mkt_participants WHERE address=?", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        *ueur = sqlite3_column_int64(st, 0);
        rc = 0;
    } else {
        rc = sim_errf(err, SIM_ENOENT, "%s is not a participant", a);
    }
    mkt__finish(st);
    return rc;
}

int mkt__wallet_add(mkt_engine *e, const uint8_t addr[20], int64_t delta_ueur, struct sim_err *err)
{
    int64_t bal = 0;
    int rc = mkt__wallet_get(e, addr, &bal, err);
    if (rc)
        return rc;
    char a[MKT_ADDR_STRLEN];
    mkt_address_format(addr, a);
    if (bal + delta_ueur < 0)
        return sim_errf(err, SIM_ESTATE,
                        "insufficient funds: wallet %s holds %lld ueur, %lld ueur needed", a,
                        (long long)bal, (long long)-delta_ueur);
    sqlite3_stmt *st;
    rc =
        mkt__prepare(e->db, "UPDATE mkt_participants SET balance_ueur=? WHERE address=?", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, bal + delta_ueur);
    sqlite3_bind_text(st, 2, a, -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sim_errf(err, SIM_EIO, "%s", sqlite3_errmsg(e->db));
    mkt__finish(st);
    return rc;
}

/* ---- JSON member access ---- */

int mkt__get_int_opt(const cJSON *o, const char *name, int64_t *v, int *present,
                     struct sim_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
    *present = it != NULL;
    if (!it)
        return 0;
    if (cJSON_IsBool(it)) {
        *v = cJSON_IsTrue(it);
        return 0;
    }
    if (!cJSON_IsNumber(it))
        return sim_errf(err, SIM_EINVAL, "%s: must be an integer", name);
    /* The canonical form already guarantees an integer within 2^53. */
    *v = (int64_t)it->valuedouble;
    return 0;
}

int mkt__get_int(const cJSON *o, const char *name, int64_t *v, struct sim_err *err)
{
    int present;
    int rc = mkt__get_int_opt(o, name, v, &present, err);
    if (!rc && !present)
        rc = sim_errf(err, SIM_EINVAL, "%s: missing", name);
    return rc;
}

int mkt__get_str(const cJSON *o, const char *name, const char **v, struct sim_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!it)
        return sim_errf(err, SIM_EINVAL, "%s: missing", name);
    if (!cJSON_IsString(it))
        return sim_errf(err, SIM_EINVAL, "%s: must be a string", name);
    *v = it->valuestring;
    return 0;
}

int mkt__get_addr(const cJSON *o, const char *name, uint8_t addr[20], struct sim_err *err)
{
    const char *s = NULL;
    int rc = mkt__get_str(o, name, &s, err);
    if (rc)
        return rc;
    /* Any case is taken (all lower, all upper, or mixed with a valid
     * EIP-55 checksum); the market stores and shows the checksummed form. */
    struct sim_err e2;
    if (mkt_address_parse(s, addr, &e2))
        return sim_errf(err, SIM_EINVAL, "%s: %s", name, e2.msg);
    return 0;
}

/* ---- prepare-and-bind in one call ---- */

static int bind_va(sqlite3_stmt *st, const char *fmt, va_list ap)
{
    for (int i = 0; fmt && fmt[i]; i++) {
        int col = i + 1, r;
        switch (fmt[i]) {
        case 'i':
            r = sqlite3_bind_int64(st, col, va_arg(ap, int64_t));
            break;
        case 's':
            r = sqlite3_bind_text(st, col, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
            break;
        case 'b': {
            const void *p = va_arg(ap, const void *);
            int n = va_arg(ap, int);
            r = sqlite3_bind_blob(st, col, p, n, SQLITE_TRANSIENT);
            break;
        }
        default:
            return SQLITE_MISUSE;
        }
        if (r != SQLITE_OK)
            return r;
    }
    return SQLITE_OK;
}

int mkt__stmt(sqlite3 *db, sqlite3_stmt **st, struct sim_err *err, const char *sql, const char *fmt,
              ...)
{
    int rc = mkt__prepare(db, sql, st, err);
    if (rc)
        return rc;
    va_list ap;
    va_start(ap, fmt);
    int r = bind_va(*st, fmt, ap);
    va_end(ap);
    if (r != SQLITE_OK) {
        mkt__finish(*st);
        *st = NULL;
        return sim_errf(err, SIM_EIO, "market database: bind: %s", sqlite3_errstr(r));
    }
    return 0;
}

int mkt__sql(sqlite3 *db, struct sim_err *err, const char *sql, const char *fmt, ...)
{
    sqlite3_stmt *st;
    int rc = mkt__prepare(db, sql, &st, err);
    if (rc)
        return rc;
    va_list ap;
    va_start(ap, fmt);
    int r = bind_va(st, fmt, ap);
    va_end(ap);
    if (r == SQLITE_OK) {
        do
            r = sqlite3_step(st);
        while (r == SQLITE_ROW);
    }
    if (r != SQLITE_DONE && r != SQLITE_OK)
        rc = sim_errf(err, SIM_EIO, "market database: %s", sqlite3_errmsg(db));
    mkt__finish(st);
    return rc;
}

int mkt__sql_int(sqlite3 *db, int64_t *v, struct sim_err *err, const char *sql, const char *fmt,
                 ...)
{
    sqlite3_stmt *st;
    int rc = mkt__prepare(db, sql, &st, err);
    if (rc)
        return rc;
    va_list ap;
    va_start(ap, fmt);
    int r = bind_va(st, fmt, ap);
    va_end(ap);
    if (r == SQLITE_OK)
        r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        *v = sqlite3_column_int64(st, 0);
    else if (r == SQLITE_DONE)
        rc = SIM_ENOENT;
    else
        rc = sim_errf(err, SIM_EIO, "market database: %s", sqlite3_errmsg(db));
    mkt__finish(st);
    return rc;
}
