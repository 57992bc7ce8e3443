/*
 * test_ledger_cli.c: `flexbed ledger verify DB` and `flexbed ledger replay
 * DB` as a user meets them. Builds a market ledger of several blocks (and
 * a pending transaction) with the engine, then runs the real binary on
 * copies of it: untouched (exit 0), with a stored transaction, a signature
 * and a block link tampered with (exit 1, naming the block and the
 * transaction), with a wallet edited in the state tables (verify passes,
 * replay fails), and on files that are no ledger at all (exit 2).
 */
#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "check.h"
#include "market/market.h"
#include "proc.h"

static char tmp[128];

static void die(const char *what, const struct sim_err *err)
{
    fprintf(stderr, "setup: %s: %s\n", what, err->msg);
    exit(1);
}

/* A market with 4 blocks and 1 pending transaction. */
static void build_ledger(const char *path)
{
    sqlite3 *db = NULL;
    mkt_engine *e = NULL;
    struct sim_err err = {"(none)"};
    if (sqlite3_open(path, &db) != SQLITE_OK || mkt_engine_new(db, &e, &err))
        die("open", &err);
    struct mkt_key op, dso, fsp;
    uint8_t a_dso[20], a_fsp[20];
    mkt_key_derive(3, "operator", &op, &err);
    mkt_key_derive(3, "dso", &dso, &err);
    mkt_key_derive(3, "fsp", &fsp, &err);
    mkt_key_address(&dso, a_dso, &err);
    mkt_key_address(&fsp, a_fsp, &err);
    sim_time_us t = INT64_C(1696248000000000);
    struct mkt_params p;
    mkt_params_default(&p);
    int64_t h;
    if (mkt_do_genesis(e, &op, &p, t, &err) ||
        mkt_do_participant_add(e, &op, a_dso, MKT_ROLE_DSO, "DSO", t, &err) ||
        mkt_do_participant_add(e, &op, a_fsp, MKT_ROLE_FSP, "FSP", t, &err) ||
        mkt_seal(e, &op, t, &h, &err)) /* block 0: seq 1-3 */
        die("genesis", &err);
    if (mkt_do_deposit(e, &op, a_dso, 5000000, t + 1, &err) ||
        mkt_do_deposit(e, &op, a_fsp, 1000000, t + 1, &err) ||
        mkt_seal(e, &op, t + 1, &h, &err)) /* block 1: seq 4-5 */
        die("deposit", &err);
    for (int i = 0; i < 3; i++) { /* block 2: seq 6-8 */
        struct mkt_asset a = {
            .type = MKT_ASSET_BATTERY, .p_min_w = -10000, .p_max_w = 10000, .soc_max_ppm = 1000000};
        snprintf(a.name, sizeof a.name, "battery %d", i);
        snprintf(a.location, sizeof a.location, "bus-%d", i);
        int64_t id;
        if (mkt_do_asset_add(e, &fsp, &a, t + 2, &id, &err))
            die("asset", &err);
    }
    if (mkt_seal(e, &op, t + 2, &h, &err))
        die("seal 2", &err);
    if (mkt_sign_submit(e, &dso, "{\"action\":\"withdraw\",\"amount_ueur\":1000}", t + 3, NULL,
                        &err) ||
        mkt_seal(e, &op, t + 3, &h, &err)) /* block 3: seq 9 */
        die("withdraw", &err);
    if (mkt_sign_submit(e, &fsp, "{\"action\":\"withdraw\",\"amount_ueur\":500}", t + 4, NULL,
                        &err)) /* pending: seq 10 */
        die("pending", &err);
    mkt_engine_free(e);
    sqlite3_close(db);
}

/* A copy of src at dst with sql applied. */
static void tampered(const char *src, const char *dst, const char *sql)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", src, dst);
    CHECK_INT(system(cmd), 0);
    sqlite3 *db = NULL;
    char *msg = NULL;
    CHECK(sqlite3_open(dst, &db) == SQLITE_OK, "open %s", dst);
    if (sql)
        CHECK(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK, "%s: %s", sql, msg ? msg : "");
    sqlite3_free(msg);
    sqlite3_close(db);
}

/* Flip one byte of transaction seq's stored signature. */
static void flip_sig_byte(const char *path, int seq, int at)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    uint8_t sig[MKT_SIG_LEN];
    int ok = 0;
    if (sqlite3_open(path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT sig FROM mkt_tx WHERE seq=?", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int(st, 1, seq);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == MKT_SIG_LEN) {
            memcpy(sig, sqlite3_column_blob(st, 0), MKT_SIG_LEN);
            ok = 1;
        }
    }
    sqlite3_finalize(st);
    st = NULL;
    if (ok) {
        sig[at] ^= 0x5a;
        ok = sqlite3_prepare_v2(db, "UPDATE mkt_tx SET sig=? WHERE seq=?", -1, &st, NULL) ==
             SQLITE_OK;
        if (ok) {
            sqlite3_bind_blob(st, 1, sig, MKT_SIG_LEN, SQLITE_STATIC);
            sqlite3_bind_int(st, 2, seq);
            ok = sqlite3_step(st) == SQLITE_DONE;
        }
        sqlite3_finalize(st);
    }
    CHECK(ok, "could not tamper with the signature of transaction %d", seq);
    sqlite3_close(db);
}

/* Replace transaction seq's JSON and recompute its stored hash (the
 * forger's move): keccak256(json || sig || t_us big-endian). */
static void forge_json(const char *path, int seq, const char *json)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    uint8_t buf[4096], hash[32];
    size_t n = strlen(json);
    int ok = 0;
    if (n + MKT_SIG_LEN + 8 <= sizeof buf && sqlite3_open(path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT sig, t_us FROM mkt_tx WHERE seq=?", -1, &st, NULL) ==
            SQLITE_OK) {
        sqlite3_bind_int(st, 1, seq);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == MKT_SIG_LEN) {
            memcpy(buf, json, n);
            memcpy(buf + n, sqlite3_column_blob(st, 0), MKT_SIG_LEN);
            uint64_t t = (uint64_t)sqlite3_column_int64(st, 1);
            for (int i = 0; i < 8; i++)
                buf[n + MKT_SIG_LEN + (size_t)i] = (uint8_t)(t >> (56 - 8 * i));
            mkt_keccak256(buf, n + MKT_SIG_LEN + 8, hash);
            ok = 1;
        }
    }
    sqlite3_finalize(st);
    st = NULL;
    if (ok) {
        ok = sqlite3_prepare_v2(db, "UPDATE mkt_tx SET json=?, hash=? WHERE seq=?", -1, &st,
                                NULL) == SQLITE_OK;
        if (ok) {
            sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
            sqlite3_bind_blob(st, 2, hash, 32, SQLITE_STATIC);
            sqlite3_bind_int(st, 3, seq);
            ok = sqlite3_step(st) == SQLITE_DONE;
        }
        sqlite3_finalize(st);
    }
    CHECK(ok, "could not forge transaction %d", seq);
    sqlite3_close(db);
}

int main(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/flexbed_ledger_XXXXXX");
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    char good[256], bad[256];
    snprintf(good, sizeof good, "%s/market.db", tmp);
    snprintf(bad, sizeof bad, "%s/tampered.db", tmp);
    build_ledger(good);
    static struct proc_result r;

    /* untouched */
    flexbed_run(tmp, 60, &r, "ledger", "verify", good, NULL);
    CHECK_INT(r.exit_code, 0);
    CHECK_STR_CONTAINS(r.out, "ledger OK: 4 blocks and 10 transactions checked (1 pending");
    flexbed_run(tmp, 60, &r, "ledger", "verify", good, "--format", "json", NULL);
    CHECK_INT(r.exit_code, 0);
    cJSON *j = cJSON_Parse(r.out);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "ok")), "json verdict: %s", r.out);
    CHECK_INT(cJSON_GetObjectItem(j, "blocks") ? cJSON_GetObjectItem(j, "blocks")->valueint : -1,
              4);
    cJSON_Delete(j);
    flexbed_run(tmp, 60, &r, "ledger", "replay", good, NULL);
    CHECK_INT(r.exit_code, 0);
    CHECK_STR_CONTAINS(r.out, "replay OK: 10 transactions");

    /* a stored transaction's JSON edited (an asset renamed, in block 2) */
    tampered(good, bad,
             "UPDATE mkt_tx SET json = replace(json, 'battery 1', 'battery 9') WHERE seq = 7");
    flexbed_run(tmp, 60, &r, "ledger", "verify", bad, NULL);
    CHECK_INT(r.exit_code, 1);
    CHECK_STR_CONTAINS(r.out, "FAILED at block 2, transaction 7 (index 1 in the block)");
    flexbed_run(tmp, 60, &r, "ledger", "verify", bad, "--format", "json", NULL);
    CHECK_INT(r.exit_code, 1);
    j = cJSON_Parse(r.out);
    CHECK(j && cJSON_IsFalse(cJSON_GetObjectItem(j, "ok")), "json verdict: %s", r.out);
    CHECK_INT(j ? cJSON_GetObjectItem(j, "bad_height")->valueint : -1, 2);
    CHECK_INT(j ? cJSON_GetObjectItem(j, "bad_tx_seq")->valueint : -1, 7);
    cJSON_Delete(j);

    /* a signature byte flipped (the first deposit, block 1) */
    unlink(bad);
    tampered(good, bad, NULL);
    flip_sig_byte(bad, 4, 10);
    flexbed_run(tmp, 60, &r, "ledger", "verify", bad, NULL);
    CHECK_INT(r.exit_code, 1);
    CHECK_STR_CONTAINS(r.out, "FAILED at block 1, transaction 4");

    /* a forged transaction whose JSON carries printf directives in a
     * duplicate key: verify must report it, not interpret it */
    unlink(bad);
    tampered(good, bad, NULL);
    forge_json(bad, 9, "{\"%n%s%n%s\":1,\"%n%s%n%s\":2}");
    flexbed_run(tmp, 60, &r, "ledger", "verify", bad, NULL);
    CHECK_INT(r.exit_code, 1);
    CHECK_STR_CONTAINS(r.out, "FAILED at block 3, transaction 9");
    CHECK_STR_CONTAINS(r.out, "%n%s%n%s: duplicate key");

    /* a block link broken */
    unlink(bad);
    tampered(good, bad, "UPDATE mkt_blocks SET prev_hash = zeroblob(32) WHERE height = 3");
    flexbed_run(tmp, 60, &r, "ledger", "verify", bad, NULL);
    CHECK_INT(r.exit_code, 1);
    CHECK_STR_CONTAINS(r.out, "FAILED at block 3");

    /* a wallet edited in the state tables: the chain holds, but the
     * state is not what the ledger makes it; verify and replay say so */
    unlink(bad);
    tampered(good, bad,
             "UPDATE mkt_participants SET balance_ueur = balance_ueur + 1 WHERE role = 1");
    flexbed_run(tmp, 60, &r, "ledger", "verify", bad, NULL);
    CHECK_INT(r.exit_code, 1);
    CHECK_STR_CONTAINS(r.out, "mkt_participants row address=");
    CHECK_STR_CONTAINS(r.out, "balance_ueur");
    flexbed_run(tmp, 60, &r, "ledger", "replay", bad, NULL);
    CHECK_INT(r.exit_code, 1);
    CHECK_STR_CONTAINS(r.out, "replay FAILED");
    CHECK_STR_CONTAINS(r.out, "stored");

    /* bad input: no file, not a database, a database without a ledger */
    char path[256];
    snprintf(path, sizeof path, "%s/missing.db", tmp);
    flexbed_run(tmp, 60, &r, "ledger", "verify", path, NULL);
    CHECK_INT(r.exit_code, 2);
    snprintf(path, sizeof path, "%s/text.db", tmp);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("this is not a database, but it is long enough to look like a file header......\n",
              f);
        fclose(f);
    }
    flexbed_run(tmp, 60, &r, "ledger", "verify", path, NULL);
    CHECK_INT(r.exit_code, 2);
    CHECK_STR_CONTAINS(r.errs, "no market ledger");
    flexbed_run(tmp, 60, &r, "ledger", "replay", path, NULL);
    CHECK_INT(r.exit_code, 2);
    snprintf(path, sizeof path, "%s/empty.db", tmp);
    tampered(good, path, "DELETE FROM mkt_tx; DELETE FROM mkt_blocks");
    flexbed_run(tmp, 60, &r, "ledger", "verify", path, NULL);
    CHECK_INT(r.exit_code, 2);
    flexbed_run(tmp, 60, &r, "ledger", "frobnicate", good, NULL);
    CHECK_INT(r.exit_code, 2);
    flexbed_run(tmp, 60, &r, "ledger", "verify", NULL);
    CHECK_INT(r.exit_code, 2);
    flexbed_run(tmp, 60, &r, "ledger", "verify", good, "--format", "xml", NULL);
    CHECK_INT(r.exit_code, 2);

    rm_tree(tmp);
    return check_done("test_ledger_cli");
}
