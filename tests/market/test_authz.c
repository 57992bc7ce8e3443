/*
 * test_authz.c: the authorisation matrix (issue 10), every action x every
 * signer: the FSP, the DSO, the operator and a stranger (a valid key that
 * is no participant). The expectation is Table II of docs/market.md,
 * written out here on its own (not read from the engine): a role the table
 * refuses gets SIM_ESTATE "not allowed for the <role> role" and changes
 * nothing (not even its nonce); a stranger is refused as "not a
 * participant"; a role the table allows is never refused for its role
 * (the action may still fail on its content or state, which other tests
 * cover). Then the signature rules: a flipped signature byte, the high-s
 * twin of a valid signature, a replayed and an out-of-order nonce, and a
 * "from" that is not the signer are each refused and change nothing.
 */
#include "fixture.h"

enum { FSP, DSO, OP, STRANGER, NSIGNERS };
static const char *const signer_name[NSIGNERS] = {"FSP", "DSO", "operator", "stranger"};

/* Table II: which roles may perform each action. */
static const struct {
    const char *action;
    int may[3]; /* FSP, DSO, operator */
} table2[] = {
    {"participant_add", {0, 0, 1}}, {"deposit", {0, 0, 1}},      {"withdraw", {1, 1, 1}},
    {"asset_add", {1, 1, 0}},       {"asset_edit", {1, 1, 0}},   {"asset_remove", {1, 1, 0}},
    {"offer_add", {1, 0, 0}},       {"offer_edit", {1, 0, 0}},   {"offer_withdraw", {1, 0, 0}},
    {"request_add", {0, 1, 0}},     {"request_edit", {0, 1, 0}}, {"request_withdraw", {0, 1, 0}},
    {"match", {0, 1, 0}},           {"purchase", {0, 1, 0}},     {"delivery", {0, 1, 1}},
    {"settle", {0, 1, 0}},
};

static int64_t count(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

int main(void)
{
    struct fx f;
    fx_open(&f, NULL, 100 * FX_EUR, 0);
    struct sim_err err;
    struct mkt_key stranger;
    mkt_key_derive(7, "stranger", &stranger, &err);
    const struct mkt_key *key[NSIGNERS] = {&f.fsp1, &f.dso, &f.op, &stranger};

    /* objects every action can name */
    int64_t w0 = f.t0 + 60 * FX_MIN, w1 = w0 + 45 * FX_MIN, rid = 0, oid = 0;
    int64_t asset = 0;
    CHECK_INT(fx_objects(&f, &asset, &oid, &rid, &err), 0);
    char addr[MKT_ADDR_STRLEN];
    mkt_address_format(f.a_fsp2, addr);

    int refused_role = 0, refused_stranger = 0, allowed = 0;
    for (size_t a = 0; a < sizeof table2 / sizeof table2[0]; a++) {
        char json[512];
        snprintf(json, sizeof json,
                 "{\"action\":\"%s\",\"id\":%lld,\"asset_id\":%lld,\"request_id\":%lld,"
                 "\"match_id\":1,\"address\":\"%s\",\"amount_ueur\":1,\"role\":\"FSP\","
                 "\"name\":\"x\",\"type\":\"battery\",\"location\":\"bus-1\",\"p_w\":-1000,"
                 "\"p_min_w\":-1000,\"p_max_w\":1000,\"start_us\":%lld,\"end_us\":%lld,"
                 "\"price_ueur_per_kwh\":1,\"max_price_ueur_per_kwh\":1,\"e_wh\":1}",
                 table2[a].action,
                 (long long)(strstr(table2[a].action, "asset")   ? asset
                             : strstr(table2[a].action, "offer") ? oid
                                                                 : rid),
                 (long long)asset, (long long)rid, addr, (long long)w0, (long long)w1);
        for (int s = 0; s < NSIGNERS; s++) {
            int64_t tx0 = count(f.db, "SELECT count(*) FROM mkt_tx");
            int rc = mkt_sign_submit(f.e, key[s], json, f.t0, NULL, &err);
            int role_refusal = rc == SIM_ESTATE && strstr(err.msg, "not allowed for the");
            if (s == STRANGER) {
                CHECK(rc == SIM_ESTATE && strstr(err.msg, "is not a participant"),
                      "%s by a stranger: %d %s", table2[a].action, rc, err.msg);
                refused_stranger++;
            } else if (!table2[a].may[s]) {
                CHECK(role_refusal, "%s by the %s: want a role refusal, got %d (%s)",
                      table2[a].action, signer_name[s], rc, rc ? err.msg : "accepted");
                refused_role++;
            } else {
                CHECK(!role_refusal, "%s by the %s: refused for its role: %s", table2[a].action,
                      signer_name[s], err.msg);
                allowed++;
            }
            if (rc)
                CHECK_INT(count(f.db, "SELECT count(*) FROM mkt_tx"), tx0);
        }
    }
    printf("authorisation: %d role refusals, %d stranger refusals, %d allowed (Table II)\n",
           refused_role, refused_stranger, allowed);
    CHECK_INT(refused_role + refused_stranger + allowed, 16 * NSIGNERS);

    /* the signature rules, on a withdraw by the FSP */
    char *canon = NULL, json[256], from[MKT_ADDR_STRLEN];
    mkt_address_format(f.a_fsp1, from);
    int64_t n1 = count(f.db, "SELECT nonce FROM mkt_participants WHERE address IN "
                             "(SELECT owner FROM mkt_assets WHERE name='battery')");
    snprintf(json, sizeof json,
             "{\"action\":\"withdraw\",\"amount_ueur\":1,\"from\":\"%s\","
             "\"nonce\":%lld}",
             from, (long long)n1);
    CHECK_INT(mkt_canonical_json(json, &canon, &err), 0);
    uint8_t sig[MKT_SIG_LEN], bad[MKT_SIG_LEN];
    CHECK_INT(mkt_sign_message(&f.fsp1, canon, strlen(canon), sig, &err), 0);
    int64_t tx0 = count(f.db, "SELECT count(*) FROM mkt_tx");
    /* a flipped byte: another signer (or none) */
    memcpy(bad, sig, sizeof bad);
    bad[10] ^= 1;
    CHECK(mkt_submit(f.e, canon, bad, f.t0, NULL, &err) != 0, "a flipped signature byte passed");
    /* the high-s twin: s' = n - s, v flipped, is refused (EIP-2) */
    static const uint8_t order[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
                                      0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b,
                                      0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
    memcpy(bad, sig, sizeof bad);
    int borrow = 0;
    for (int i = 31; i >= 0; i--) {
        int d = order[i] - sig[32 + i] - borrow;
        borrow = d < 0;
        bad[32 + i] = (uint8_t)(d + (borrow ? 256 : 0));
    }
    bad[64] = (uint8_t)(sig[64] == 27 ? 28 : sig[64] == 28 ? 27 : sig[64] ^ 1);
    CHECK(mkt_submit(f.e, canon, bad, f.t0, NULL, &err) != 0, "the high-s twin passed");
    CHECK_INT(count(f.db, "SELECT count(*) FROM mkt_tx"), tx0);
    /* the real one passes once; the same again is a replay */
    CHECK_INT(mkt_submit(f.e, canon, sig, f.t0, NULL, &err), 0);
    CHECK_INT(mkt_submit(f.e, canon, sig, f.t0, NULL, &err), SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "nonce");
    free(canon);
    canon = NULL;
    /* a nonce from the future */
    snprintf(json, sizeof json,
             "{\"action\":\"withdraw\",\"amount_ueur\":1,\"from\":\"%s\","
             "\"nonce\":%lld}",
             from, (long long)n1 + 5);
    CHECK_INT(mkt_canonical_json(json, &canon, &err), 0);
    CHECK_INT(mkt_sign_message(&f.fsp1, canon, strlen(canon), sig, &err), 0);
    CHECK_INT(mkt_submit(f.e, canon, sig, f.t0, NULL, &err), SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "out of order");
    free(canon);
    canon = NULL;
    /* "from" names the FSP, the DSO signs */
    snprintf(json, sizeof json,
             "{\"action\":\"withdraw\",\"amount_ueur\":1,\"from\":\"%s\","
             "\"nonce\":%lld}",
             from, (long long)n1 + 1);
    CHECK_INT(mkt_canonical_json(json, &canon, &err), 0);
    CHECK_INT(mkt_sign_message(&f.dso, canon, strlen(canon), sig, &err), 0);
    CHECK_INT(mkt_submit(f.e, canon, sig, f.t0, NULL, &err), SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "signed by");
    free(canon);
    CHECK_INT(count(f.db, "SELECT count(*) FROM mkt_tx"), tx0 + 1);
    struct mkt_verify_report rep;
    CHECK_INT(mkt_ledger_verify(f.db, &rep, &err), 0);
    CHECK(rep.ok, "%s", rep.reason);
    fx_close(&f);
    return check_done("test_authz");
}
