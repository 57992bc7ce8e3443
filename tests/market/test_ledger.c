/*
 * test_ledger.c: blocks, verification, tampering and replay.
 *
 * A market runs the demo-like flow over several blocks (some transactions
 * left pending). Its ledger must verify and replay to the same wallets.
 * Then copies of the database are tampered with, one change each: a
 * transaction's JSON (with and without a re-computed hash), a signature
 * (a flipped byte, and the EIP-2 high-s twin), a block's link, a Merkle
 * root, a transaction deleted. Each must be caught, naming the block and
 * transaction. Finally a block or an action that fails half-way leaves
 * nothing behind (atomicity).
 */
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"

/* Build the market on disk: 4 blocks + pending transactions. */
static void build(struct fx *f)
{
    struct mkt_params p;
    mkt_params_default(&p);
    p.tx_fee_ueur = 3000;
    p.settle_fee_ppm = 34000;
    fx_open(f, &p, 5 * FX_EUR, 1);
    struct sim_err err;
    int64_t h, t = f->t0, w0 = f->t0 + 60 * FX_MIN, w1 = w0 + 45 * FX_MIN, rid;
    CHECK_INT(mkt_seal(f->e, &f->op, t, &h, &err), 0);
    CHECK_INT(h, 0);
    int64_t bat = fx_asset(f, &f->fsp1, MKT_ASSET_BATTERY, "battery", "Eskisehir", 10000);
    int64_t v2g = fx_asset(f, &f->fsp2, MKT_ASSET_EV, "v2g", "Eskisehir", 10000);
    CHECK_INT(fx_offer(f, &f->fsp1, bat, w0, w1, -10000, 100000, NULL, &err), 0);
    CHECK_INT(fx_offer(f, &f->fsp2, v2g, w0, w1, -10000, 100000, NULL, &err), 0);
    CHECK_INT(fx_request(f, "Eskisehir", w0, w1, -20000, 210000, &rid, &err), 0);
    CHECK_INT(mkt_seal(f->e, &f->op, t + FX_MIN, &h, &err), 0);
    CHECK_INT(h, 1);
    CHECK_INT(mkt_seal(f->e, &f->op, t + FX_MIN, &h, &err), 0);
    CHECK_INT(h, -1); /* nothing pending */
    CHECK_INT(mkt_do_match(f->e, &f->dso, rid, t + 2 * FX_MIN, NULL, &err), 0);
    CHECK_INT(mkt_do_purchase(f->e, &f->dso, rid, t + 3 * FX_MIN, NULL, &err), 0);
    /* measurement data (every state table has rows): a prognosis before
     * the window, a meter reading after it */
    CHECK_INT(mkt_do_prognosis(f->e, &f->fsp2, v2g, w0, w1, 7000, t + 3 * FX_MIN, &err), 0);
    CHECK_INT(mkt_seal(f->e, &f->op, t + 3 * FX_MIN, &h, &err), 0);
    CHECK_INT(h, 2);
    struct mkt_match m[2];
    size_t n;
    mkt_matches_of_request(f->e, rid, m, 2, &n, &err);
    CHECK_INT(mkt_do_meter(f->e, &f->op, bat, w0, w1, -7210, w1, &err), 0);
    CHECK_INT(mkt_do_delivery(f->e, &f->dso, m[0].id, 7210, w1, &err), 0);
    CHECK_INT(mkt_do_delivery(f->e, &f->op, m[1].id, 6970, w1, &err), 0);
    CHECK_INT(mkt_do_settle(f->e, &f->dso, rid, w1 + FX_MIN, NULL, &err), 0);
    CHECK_INT(mkt_seal(f->e, &f->op, w1 + FX_MIN, &h, &err), 0);
    CHECK_INT(h, 3);
    /* Only the operator seals; time does not go backwards. */
    CHECK_INT(mkt_seal(f->e, &f->dso, w1 + 2 * FX_MIN, &h, &err), SIM_ESTATE);
    CHECK_INT(mkt_seal(f->e, &f->op, t, &h, &err), SIM_EINVAL);
    /* Pending transactions after the last block. */
    char json[96];
    snprintf(json, sizeof json, "{\"action\":\"withdraw\",\"amount_ueur\":%d}", 100000);
    CHECK_INT(mkt_sign_submit(f->e, &f->fsp1, json, w1 + 2 * FX_MIN, NULL, &err), 0);
    CHECK_INT(mkt_do_deposit(f->e, &f->op, f->a_fsp2, 250000, w1 + 2 * FX_MIN, &err), 0);
}

/* A private in-memory copy of db. */
static sqlite3 *copy_of(sqlite3 *db)
{
    sqlite3 *mem;
    sqlite3_open(":memory:", &mem);
    sqlite3_backup *b = sqlite3_backup_init(mem, "main", db, "main");
    sqlite3_backup_step(b, -1);
    sqlite3_backup_finish(b);
    return mem;
}

static void exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    CHECK(rc == SQLITE_OK, "%s: %s", sql, msg ? msg : "");
    sqlite3_free(msg);
}

static int64_t int_of(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    int64_t v = -1;
    sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Recompute and store a transaction's hash, as a forger would. */
static void rehash(sqlite3 *db, int64_t seq)
{
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT json, sig, t_us FROM mkt_tx WHERE seq=?", -1, &st, NULL);
    sqlite3_bind_int64(st, 1, seq);
    CHECK(sqlite3_step(st) == SQLITE_ROW, "tx %lld", (long long)seq);
    const char *json = (const char *)sqlite3_column_text(st, 0);
    size_t n = strlen(json);
    uint8_t buf[4096], h[32];
    memcpy(buf, json, n);
    memcpy(buf + n, sqlite3_column_blob(st, 1), 65);
    uint64_t t = (uint64_t)sqlite3_column_int64(st, 2);
    for (int i = 0; i < 8; i++)
        buf[n + 65 + i] = (uint8_t)(t >> (56 - 8 * i));
    mkt_keccak256(buf, n + 73, h);
    sqlite3_finalize(st);
    sqlite3_prepare_v2(db, "UPDATE mkt_tx SET hash=? WHERE seq=?", -1, &st, NULL);
    sqlite3_bind_blob(st, 1, h, 32, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, seq);
    sqlite3_step(st);
    sqlite3_finalize(st);
}

/* XOR one byte of a stored signature with 0x5a. */
static void flip_sig_byte(sqlite3 *db, int64_t seq, int at)
{
    sqlite3_stmt *st;
    uint8_t sig[65];
    sqlite3_prepare_v2(db, "SELECT sig FROM mkt_tx WHERE seq=?", -1, &st, NULL);
    sqlite3_bind_int64(st, 1, seq);
    CHECK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 65, "sig of %lld",
          (long long)seq);
    memcpy(sig, sqlite3_column_blob(st, 0), 65);
    sqlite3_finalize(st);
    sig[at] ^= 0x5a;
    sqlite3_prepare_v2(db, "UPDATE mkt_tx SET sig=? WHERE seq=?", -1, &st, NULL);
    sqlite3_bind_blob(st, 1, sig, 65, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, seq);
    CHECK(sqlite3_step(st) == SQLITE_DONE, "update sig");
    sqlite3_finalize(st);
}

/* Verify a tampered copy: must fail at (height, seq) with reason containing why. */
static void expect_bad(sqlite3 *db, int64_t height, int64_t seq, const char *why, const char *what)
{
    struct mkt_verify_report rep;
    struct sim_err err;
    CHECK_INT(mkt_ledger_verify(db, &rep, &err), 0);
    CHECK(!rep.ok, "%s: tampering not detected", what);
    CHECK(rep.bad_height == height, "%s: bad_height %lld, expected %lld (%s)", what,
          (long long)rep.bad_height, (long long)height, rep.reason);
    CHECK(rep.bad_tx_seq == seq, "%s: bad_tx_seq %lld, expected %lld (%s)", what,
          (long long)rep.bad_tx_seq, (long long)seq, rep.reason);
    CHECK(strstr(rep.reason, why) != NULL, "%s: reason \"%s\" lacks \"%s\"", what, rep.reason, why);
    printf("%-34s -> block %lld tx %lld: %s\n", what, (long long)rep.bad_height,
           (long long)rep.bad_tx_seq, rep.reason);
}

/* n - s for the secp256k1 order, in place (big-endian). */
static void negate_s(uint8_t s[32])
{
    static const uint8_t n[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
                                  0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
    int borrow = 0;
    for (int i = 31; i >= 0; i--) {
        int d = n[i] - s[i] - borrow;
        borrow = d < 0;
        s[i] = (uint8_t)(d + (borrow ? 256 : 0));
    }
}

static void test_tampering(sqlite3 *db)
{
    /* The deposit to the DSO: sealed in block 0. */
    int64_t dep = int_of(db, "SELECT seq FROM mkt_tx WHERE action='deposit' ORDER BY seq LIMIT 1");
    int64_t dep_h =
        int_of(db, "SELECT block_height FROM mkt_tx WHERE action='deposit' ORDER BY seq LIMIT 1");
    CHECK_INT(dep_h, 0);
    char sql[512];

    /* 1. Transaction JSON changed: its stored hash no longer matches. */
    sqlite3 *c = copy_of(db);
    snprintf(sql, sizeof sql,
             "UPDATE mkt_tx SET json=replace(json, '\"amount_ueur\":5000000',"
             " '\"amount_ueur\":9000000') WHERE seq=%lld",
             (long long)dep);
    exec(c, sql);
    CHECK_INT(sqlite3_changes(c), 1);
    expect_bad(c, 0, dep, "hash", "tx json changed");
    struct mkt_replay_report rr;
    struct sim_err err;
    CHECK_INT(mkt_ledger_replay(c, &rr, &err), 0);
    CHECK(!rr.ok, "replay of a forged deposit must fail");
    CHECK_STR_CONTAINS(rr.reason, "refused on replay");
    /* ... and with the hash recomputed: the signature gives it away. */
    rehash(c, dep);
    expect_bad(c, 0, dep, "signature recovers", "tx json changed + rehashed");
    sqlite3_close(c);

    /* 2. A signature byte flipped (the settlement, block 3). */
    int64_t st_seq = int_of(db, "SELECT seq FROM mkt_tx WHERE action='settle'");
    c = copy_of(db);
    flip_sig_byte(c, st_seq, 10);
    rehash(c, st_seq);
    expect_bad(c, 3, st_seq, "signature", "signature byte changed");
    sqlite3_close(c);
    /* Without the rehash the hash check fires first. */
    c = copy_of(db);
    flip_sig_byte(c, st_seq, 40);
    expect_bad(c, 3, st_seq, "hash", "signature changed, not rehashed");
    sqlite3_close(c);

    /* 3. The EIP-2 twin of a valid signature: same ECDSA validity, high s. */
    c = copy_of(db);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(c, "SELECT sig FROM mkt_tx WHERE seq=?", -1, &st, NULL);
    sqlite3_bind_int64(st, 1, st_seq);
    sqlite3_step(st);
    uint8_t sig[65];
    memcpy(sig, sqlite3_column_blob(st, 0), 65);
    sqlite3_finalize(st);
    negate_s(sig + 32);
    sig[64] = (uint8_t)(55 - sig[64]); /* 27 <-> 28 */
    sqlite3_prepare_v2(c, "UPDATE mkt_tx SET sig=? WHERE seq=?", -1, &st, NULL);
    sqlite3_bind_blob(st, 1, sig, 65, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, st_seq);
    sqlite3_step(st);
    sqlite3_finalize(st);
    rehash(c, st_seq);
    expect_bad(c, 3, st_seq, "high s", "high-s signature");
    sqlite3_close(c);

    /* 4. A block's link broken. */
    c = copy_of(db);
    exec(c, "UPDATE mkt_blocks SET prev_hash=zeroblob(32) WHERE height=2");
    expect_bad(c, 2, -1, "prev_hash", "block link changed");
    sqlite3_close(c);
    /* ... or the previous block's hash rewritten: block 1 itself is caught. */
    c = copy_of(db);
    exec(c, "UPDATE mkt_blocks SET hash=zeroblob(32) WHERE height=1");
    expect_bad(c, 1, -1, "block hash", "block hash changed");
    sqlite3_close(c);

    /* 5. A Merkle root changed, and the header rewritten to match: the
     * operator's signature no longer covers it. */
    c = copy_of(db);
    exec(c, "UPDATE mkt_blocks SET merkle_root=zeroblob(32) WHERE height=1");
    expect_bad(c, 1, -1, "merkle_root", "merkle root changed");
    sqlite3_close(c);

    /* 6. A transaction removed from a block. */
    c = copy_of(db);
    int64_t victim = int_of(db, "SELECT seq FROM mkt_tx WHERE block_height=1 AND idx=2");
    snprintf(sql, sizeof sql,
             "DELETE FROM mkt_tx WHERE seq=%lld;"
             " UPDATE mkt_tx SET idx=idx-1 WHERE block_height=1 AND idx>2",
             (long long)victim);
    exec(c, sql);
    expect_bad(c, 1, victim + 1, "sequence", "transaction deleted");
    sqlite3_close(c);

    /* 7. A pending transaction tampered. */
    c = copy_of(db);
    int64_t last = int_of(db, "SELECT max(seq) FROM mkt_tx");
    snprintf(sql, sizeof sql,
             "UPDATE mkt_tx SET json=replace(json, '250000', '950000') WHERE seq=%lld",
             (long long)last);
    exec(c, sql);
    rehash(c, last);
    expect_bad(c, -1, last, "signature", "pending transaction changed");
    sqlite3_close(c);

    /* 8. A wallet balance edited in the state tables: the chain is intact,
     * but the state is not what the ledger makes it. */
    c = copy_of(db);
    exec(c, "UPDATE mkt_participants SET balance_ueur = balance_ueur + 1 WHERE role=2");
    struct mkt_verify_report rep;
    CHECK_INT(mkt_ledger_verify(c, &rep, &err), 0);
    CHECK(!rep.ok && !rep.state_ok, "an edited wallet verified");
    CHECK_STR_CONTAINS(rep.reason, "stored");
    CHECK_INT(mkt_ledger_replay(c, &rr, &err), 0);
    CHECK(!rr.ok, "replay must see the edited balance");
    CHECK_STR_CONTAINS(rr.reason, "stored");
    sqlite3_close(c);
}

/* XOR the first byte of a BLOB column of one row with 0x5a. */
static void flip_blob(sqlite3 *db, const char *table, const char *col, const char *key, int64_t k)
{
    char sql[256];
    sqlite3_stmt *st;
    snprintf(sql, sizeof sql, "SELECT %s FROM %s WHERE %s=%lld", col, table, key, (long long)k);
    CHECK_INT(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    uint8_t b[512];
    int n = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_bytes(st, 0);
        if (n > (int)sizeof b)
            n = (int)sizeof b;
        memcpy(b, sqlite3_column_blob(st, 0), (size_t)n);
    }
    sqlite3_finalize(st);
    CHECK(n > 0, "%s.%s of %lld is no blob", table, col, (long long)k);
    b[0] ^= 0x5a;
    snprintf(sql, sizeof sql, "UPDATE %s SET %s=? WHERE %s=%lld", table, col, key, (long long)k);
    sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    sqlite3_bind_blob(st, 1, b, n, SQLITE_TRANSIENT);
    CHECK_INT(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
}

/* One tampered copy: verify must fail and name the row (by its key, or
 * for a changed key by the key that went missing). */
static int check_named(sqlite3 *c, const char *table, const char *col, int64_t k, const char *how)
{
    struct mkt_verify_report rep;
    struct sim_err err;
    CHECK_INT(mkt_ledger_verify(c, &rep, &err), 0);
    int is_tx = !strcmp(table, "mkt_tx");
    int is_key = !strcmp(col, is_tx ? "seq" : "height");
    char missing[48];
    snprintf(missing, sizeof missing, "where %lld was expected", (long long)k);
    int named = is_key ? strstr(rep.reason, missing) != NULL
                       : (is_tx ? rep.bad_tx_seq : rep.bad_height) == k;
    CHECK(!rep.ok, "%s.%s of row %lld (%s): tampering not detected", table, col, (long long)k, how);
    CHECK(named, "%s.%s of row %lld (%s): verify named block %lld tx %lld: %s", table, col,
          (long long)k, how, (long long)rep.bad_height, (long long)rep.bad_tx_seq, rep.reason);
    return !rep.ok && named;
}

/*
 * Every stored column of every ledger table, tampered in turn, one row at
 * a time: with another row's value (a plausible forgery) and with a
 * perturbed value of its own (+1, another case, a flipped byte, a block
 * position for a pending transaction). The columns come from the schema,
 * so a column added later is covered without editing this test.
 */
static void test_every_column(sqlite3 *db)
{
    struct {
        const char *table, *key;
        int64_t k;
    } rows[] = {
        {"mkt_tx", "seq", int_of(db, "SELECT seq FROM mkt_tx WHERE block_height=1 AND idx=1")},
        {"mkt_tx", "seq", int_of(db, "SELECT max(seq) FROM mkt_tx")}, /* pending */
        {"mkt_tx", "seq", 1},                                         /* genesis */
        {"mkt_blocks", "height", 1},
        {"mkt_blocks", "height", int_of(db, "SELECT max(height) FROM mkt_blocks")},
    };
    int tried = 0, caught = 0;
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        const char *t = rows[r].table, *key = rows[r].key;
        int64_t k = rows[r].k;
        char sql[512];
        snprintf(sql, sizeof sql, "SELECT name, type FROM pragma_table_info('%s')", t);
        sqlite3_stmt *cols;
        CHECK_INT(sqlite3_prepare_v2(db, sql, -1, &cols, NULL), SQLITE_OK);
        while (sqlite3_step(cols) == SQLITE_ROW) {
            char col[64], type[16];
            snprintf(col, sizeof col, "%s", (const char *)sqlite3_column_text(cols, 0));
            snprintf(type, sizeof type, "%s", (const char *)sqlite3_column_text(cols, 1));
            int is_key = !strcmp(col, key);

            /* Another row's value, where one differs (not for the key). */
            snprintf(sql, sizeof sql,
                     "SELECT count(*) FROM %s WHERE %s IS NOT (SELECT %s FROM %s WHERE %s=%lld)", t,
                     col, col, t, key, (long long)k);
            if (!is_key && int_of(db, sql) > 0) {
                sqlite3 *c = copy_of(db);
                snprintf(sql, sizeof sql,
                         "UPDATE %s SET %s=(SELECT %s FROM %s WHERE %s IS NOT"
                         " (SELECT %s FROM %s WHERE %s=%lld) ORDER BY %s LIMIT 1) WHERE %s=%lld",
                         t, col, col, t, col, col, t, key, (long long)k, key, key, (long long)k);
                exec(c, sql);
                tried++;
                caught += check_named(c, t, col, k, "another row's value");
                sqlite3_close(c);
            }

            /* A perturbation of its own value. */
            sqlite3 *c = copy_of(db);
            snprintf(sql, sizeof sql, "SELECT typeof(%s) FROM %s WHERE %s=%lld", col, t, key,
                     (long long)k);
            sqlite3_stmt *ty;
            sqlite3_prepare_v2(c, sql, -1, &ty, NULL);
            char vt[16] = "";
            if (sqlite3_step(ty) == SQLITE_ROW)
                snprintf(vt, sizeof vt, "%s", (const char *)sqlite3_column_text(ty, 0));
            sqlite3_finalize(ty);
            const char *how = vt;
            if (!strcmp(vt, "blob")) {
                flip_blob(c, t, col, key, k);
                how = "a flipped byte";
            } else {
                const char *expr = !strcmp(vt, "null")   ? "0"
                                   : is_key              ? "%s+1000"
                                   : !strcmp(vt, "text") ? "CASE WHEN lower(%s) != %s THEN"
                                                           " lower(%s) ELSE %s||' ' END"
                                                         : "%s+1";
                char e[160];
                snprintf(e, sizeof e, expr, col, col, col, col);
                snprintf(sql, sizeof sql, "UPDATE %s SET %s=%s WHERE %s=%lld", t, col, e, key,
                         (long long)k);
                exec(c, sql);
                CHECK_INT(sqlite3_changes(c), 1);
                how = !strcmp(vt, "null")   ? "0 for NULL"
                      : !strcmp(vt, "text") ? "another case or a space"
                                            : "+1";
            }
            tried++;
            caught += check_named(c, t, col, k, how);
            sqlite3_close(c);
            (void)type;
        }
        sqlite3_finalize(cols);
    }
    printf("every ledger column: %d tamperings, %d caught and named (%.0f %%)\n", tried, caught,
           tried ? 100.0 * caught / tried : 0.0);
    CHECK(tried >= 50, "only %d tamperings tried", tried);
    CHECK_INT(caught, tried);
}

/*
 * Every column of every market state table (the tables the verifier
 * rebuilds, read from the schema), tampered in the first row: verify must
 * fail, naming the table and the column (or, for the key, the row).
 */
static void test_every_state_column(sqlite3 *db)
{
    sqlite3_stmt *tabs;
    CHECK_INT(sqlite3_prepare_v2(db,
                                 "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE"
                                 " 'mkt%' AND name NOT IN ('mkt_tx','mkt_blocks','mkt_refusals')"
                                 " ORDER BY name",
                                 -1, &tabs, NULL),
              SQLITE_OK);
    int tables = 0, tried = 0, caught = 0;
    while (sqlite3_step(tabs) == SQLITE_ROW) {
        char t[64], sql[1024];
        snprintf(t, sizeof t, "%s", (const char *)sqlite3_column_text(tabs, 0));
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", t);
        CHECK(int_of(db, sql) > 0, "state table %s is empty in the test market", t);
        tables++;
        sqlite3_stmt *cols;
        snprintf(sql, sizeof sql, "SELECT name FROM pragma_table_info('%s') ORDER BY cid", t);
        sqlite3_prepare_v2(db, sql, -1, &cols, NULL);
        char key[64] = "";
        while (sqlite3_step(cols) == SQLITE_ROW) {
            char col[64];
            snprintf(col, sizeof col, "%s", (const char *)sqlite3_column_text(cols, 0));
            if (!key[0])
                snprintf(key, sizeof key, "%s", col);
            int is_key = !strcmp(col, key);
            /* the first row by key; text gets another case or a trailing
             * space, numbers +1 (the key +1000, clear of other rows; a
             * unique column that +1 would collide with, +100000) */
            sqlite3 *c = NULL;
            int deltas[2] = {is_key ? 1000 : 1, 100000}, ok = 0;
            for (int di = 0; di < 2 && !ok; di++) {
                if (c)
                    sqlite3_close(c);
                c = copy_of(db);
                snprintf(sql, sizeof sql,
                         "UPDATE %s SET %s = CASE typeof(%s) WHEN 'text' THEN CASE WHEN lower(%s)"
                         " != %s THEN lower(%s) ELSE %s||' ' END WHEN 'null' THEN 0 ELSE %s + %d"
                         " END WHERE %s = (SELECT min(%s) FROM %s)",
                         t, col, col, col, col, col, col, col, deltas[di], key, key, t);
                ok = sqlite3_exec(c, sql, NULL, NULL, NULL) == SQLITE_OK;
            }
            if (!ok) {
                printf("%s.%s: the schema itself refuses the change (%s)\n", t, col,
                       sqlite3_errmsg(c));
                sqlite3_close(c);
                continue;
            }
            CHECK(sqlite3_changes(c) == 1, "%s.%s: no row changed", t, col);
            struct mkt_verify_report rep;
            struct sim_err err;
            CHECK_INT(mkt_ledger_verify(c, &rep, &err), 0);
            int named = strstr(rep.reason, t) && (is_key || strstr(rep.reason, col));
            tried++;
            caught += !rep.ok && named;
            CHECK(!rep.ok, "%s.%s tampered: verify passed", t, col);
            CHECK(named, "%s.%s tampered: reason \"%s\" does not name it", t, col, rep.reason);
            sqlite3_close(c);
        }
        sqlite3_finalize(cols);
    }
    sqlite3_finalize(tabs);
    printf("every state column: %d tables, %d tamperings, %d caught and named\n", tables, tried,
           caught);
    CHECK(tables >= 10, "only %d state tables", tables);
    CHECK_INT(caught, tried);
}

/* A block or an action that fails part-way leaves nothing. */
static void test_atomic(void)
{
    struct fx f;
    fx_open(&f, NULL, FX_EUR, 0);
    struct sim_err err;
    int64_t h;
    CHECK(int_of(f.db, "SELECT count(*) FROM mkt_tx WHERE block_height IS NULL") >= 3,
          "pending transactions");
    /* The third transaction's assignment to the block fails. */
    exec(f.db, "CREATE TEMP TRIGGER fail_seal BEFORE UPDATE OF block_height ON mkt_tx"
               " WHEN NEW.idx = 2 BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
    CHECK(mkt_seal(f.e, &f.op, f.t0, &h, &err) != 0, "seal must fail");
    CHECK_INT(h, -1);
    CHECK_INT(int_of(f.db, "SELECT count(*) FROM mkt_blocks"), 0);
    CHECK_INT(int_of(f.db, "SELECT count(*) FROM mkt_tx WHERE block_height IS NOT NULL"), 0);
    exec(f.db, "DROP TRIGGER fail_seal");
    CHECK_INT(mkt_seal(f.e, &f.op, f.t0, &h, &err), 0);
    CHECK_INT(h, 0);

    /* An action whose ledger row cannot be written changes no state. */
    exec(f.db, "CREATE TEMP TRIGGER fail_tx BEFORE INSERT ON mkt_tx"
               " BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
    int64_t before = fx_balance(&f, f.a_fsp1), n0 = mkt_refusal_count(f.e);
    CHECK(mkt_do_deposit(f.e, &f.op, f.a_fsp1, 777, f.t0, &err) != 0, "deposit must fail");
    CHECK_INT(fx_balance(&f, f.a_fsp1), before);
    CHECK_INT(mkt_refusal_count(f.e), n0 + 1);
    exec(f.db, "DROP TRIGGER fail_tx");
    CHECK_INT(mkt_do_deposit(f.e, &f.op, f.a_fsp1, 777, f.t0, &err), 0); /* same nonce works */
    CHECK_INT(fx_balance(&f, f.a_fsp1), before + 777);
    struct mkt_verify_report rep;
    CHECK_INT(mkt_ledger_verify(f.db, &rep, &err), 0);
    CHECK(rep.ok, "%s", rep.reason);
    fx_close(&f);
}

/* Group commit (mkt_batch_begin / mkt_batch_end): a batch with a refused
 * action keeps the others and verifies; one open when the process dies is
 * lost whole (the reopened database and a new engine on it have none of
 * it, and the same actions then go through); a batch inside a transaction
 * someone else holds commits nothing itself; a failed commit rolls the
 * batch back and the engine forgets it. */
static void test_batch(void)
{
    struct fx f;
    fx_open(&f, NULL, FX_EUR, 1);
    struct sim_err err;
    int64_t n0 = int_of(f.db, "SELECT count(*) FROM mkt_tx");
    int64_t b0 = fx_balance(&f, f.a_fsp1);
    CHECK_INT(mkt_batch_begin(f.e, &err), 0);
    CHECK_INT(mkt_batch_begin(f.e, &err), SIM_ESTATE); /* one at a time */
    CHECK_INT(mkt_do_deposit(f.e, &f.op, f.a_fsp1, 100, f.t0, &err), 0);
    CHECK(mkt_do_deposit(f.e, &f.dso, f.a_fsp1, 100, f.t0, &err) != 0, "a DSO may not deposit");
    CHECK_INT(mkt_do_deposit(f.e, &f.op, f.a_fsp1, 200, f.t0, &err), 0);
    CHECK(!sqlite3_get_autocommit(f.db), "the batch holds a transaction");
    CHECK_INT(mkt_batch_end(f.e, &err), 0);
    CHECK(sqlite3_get_autocommit(f.db), "the batch committed");
    CHECK_INT(mkt_batch_end(f.e, &err), SIM_ESTATE);
    CHECK_INT(int_of(f.db, "SELECT count(*) FROM mkt_tx"), n0 + 2);
    CHECK_INT(fx_balance(&f, f.a_fsp1), b0 + 300);
    struct mkt_verify_report rep;
    CHECK_INT(mkt_ledger_verify(f.db, &rep, &err), 0);
    CHECK(rep.ok, "%s", rep.reason);

    /* a process dies with a batch open: nothing of it is on disk */
    mkt_engine_free(f.e);
    sqlite3_close(f.db);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        sqlite3 *db;
        mkt_engine *e;
        if (sqlite3_open(f.path, &db) != SQLITE_OK || mkt_engine_new(db, &e, &err) ||
            mkt_batch_begin(e, &err) || mkt_do_deposit(e, &f.op, f.a_fsp1, 1000, f.t0, &err) ||
            mkt_do_deposit(e, &f.op, f.a_fsp2, 1000, f.t0, &err))
            _exit(1);
        _exit(0); /* killed before mkt_batch_end */
    }
    int status = -1;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: status %d", status);
    CHECK_INT(sqlite3_open(f.path, &f.db), SQLITE_OK);
    CHECK_INT(mkt_engine_new(f.db, &f.e, &err), 0);
    CHECK_INT(int_of(f.db, "SELECT count(*) FROM mkt_tx"), n0 + 2);
    CHECK_INT(fx_balance(&f, f.a_fsp1), b0 + 300);
    CHECK_INT(mkt_do_deposit(f.e, &f.op, f.a_fsp1, 1000, f.t0, &err), 0); /* its nonce again */
    CHECK_INT(mkt_ledger_verify(f.db, &rep, &err), 0);
    CHECK(rep.ok, "%s", rep.reason);

    /* inside someone else's transaction: the batch commits nothing */
    exec(f.db, "BEGIN");
    CHECK_INT(mkt_batch_begin(f.e, &err), 0);
    CHECK_INT(mkt_do_deposit(f.e, &f.op, f.a_fsp2, 5, f.t0, &err), 0);
    CHECK_INT(mkt_batch_end(f.e, &err), 0);
    CHECK(!sqlite3_get_autocommit(f.db), "the outer transaction is still open");
    exec(f.db, "COMMIT");
    CHECK_INT(int_of(f.db, "SELECT count(*) FROM mkt_tx"), n0 + 4);

    /* a commit that fails (a deferred constraint) loses the batch, and the
     * engine's idea of the ledger follows the database */
    int64_t seq0 = int_of(f.db, "SELECT max(seq) FROM mkt_tx");
    exec(f.db, "CREATE TABLE t_parent(id INTEGER PRIMARY KEY)");
    exec(f.db,
         "CREATE TABLE t_fk(x INTEGER REFERENCES t_parent(id) DEFERRABLE INITIALLY DEFERRED)");
    exec(f.db, "PRAGMA foreign_keys=ON");
    CHECK_INT(mkt_batch_begin(f.e, &err), 0);
    CHECK_INT(mkt_do_deposit(f.e, &f.op, f.a_fsp2, 7, f.t0, &err), 0);
    exec(f.db, "INSERT INTO t_fk VALUES (1)");
    CHECK_INT(mkt_batch_end(f.e, &err), SIM_EIO);
    CHECK_STR_CONTAINS(err.msg, "the batch is lost");
    exec(f.db, "PRAGMA foreign_keys=OFF");
    CHECK_INT(int_of(f.db, "SELECT max(seq) FROM mkt_tx"), seq0);
    CHECK_INT(mkt_do_deposit(f.e, &f.op, f.a_fsp2, 7, f.t0, &err), 0);
    CHECK_INT(int_of(f.db, "SELECT max(seq) FROM mkt_tx"), seq0 + 1);
    CHECK_INT(mkt_ledger_verify(f.db, &rep, &err), 0);
    CHECK(rep.ok, "%s", rep.reason);
    fx_close(&f);
}

int main(void)
{
    struct fx f;
    build(&f);
    struct mkt_verify_report rep;
    struct sim_err err;
    CHECK_INT(mkt_ledger_verify(f.db, &rep, &err), 0);
    CHECK(rep.ok, "clean ledger must verify: block %lld tx %lld: %s", (long long)rep.bad_height,
          (long long)rep.bad_tx_seq, rep.reason);
    CHECK_INT(rep.blocks, 4);
    CHECK_INT(rep.pending, 2);
    CHECK_INT(rep.txs, int_of(f.db, "SELECT count(*) FROM mkt_tx"));
    struct mkt_replay_report rr;
    CHECK_INT(mkt_ledger_replay(f.db, &rr, &err), 0);
    CHECK(rr.ok, "replay: %s", rr.reason);
    CHECK_INT(rr.txs, rep.txs);
    CHECK_INT(rr.participants, 4);
    /* Blocks link: each prev_hash is the hash of the one before. */
    CHECK_INT(int_of(f.db, "SELECT count(*) FROM mkt_blocks b JOIN mkt_blocks p"
                           " ON p.height = b.height - 1 WHERE b.prev_hash = p.hash"),
              3);

    test_tampering(f.db);
    test_every_column(f.db);
    test_every_state_column(f.db);

    /* Reopen the file with a new engine: the chain goes on and verifies. */
    mkt_engine_free(f.e);
    sqlite3_close(f.db);
    CHECK_INT(sqlite3_open(f.path, &f.db), SQLITE_OK);
    CHECK_INT(mkt_engine_new(f.db, &f.e, &err), 0);
    int64_t h;
    CHECK_INT(mkt_seal(f.e, &f.op, f.t0 + 200 * FX_MIN, &h, &err), 0);
    CHECK_INT(h, 4);
    CHECK_INT(mkt_do_deposit(f.e, &f.op, f.a_dso, 1, f.t0 + 201 * FX_MIN, &err), 0);
    CHECK_INT(mkt_ledger_verify(f.db, &rep, &err), 0);
    CHECK(rep.ok, "after reopen: %s", rep.reason);
    CHECK_INT(rep.blocks, 5);
    CHECK_INT(rep.pending, 1);
    CHECK_INT(mkt_ledger_replay(f.db, &rr, &err), 0);
    CHECK(rr.ok, "replay after reopen: %s", rr.reason);
    fx_close(&f);

    /* A database without a market ledger. */
    sqlite3 *empty;
    sqlite3_open(":memory:", &empty);
    CHECK(mkt_ledger_verify(empty, &rep, &err) < 0, "no ledger is an error");
    sqlite3_close(empty);

    test_atomic();
    test_batch();
    return check_done("test_ledger");
}
