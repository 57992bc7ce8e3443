/*
 * test_api_authz.c: the authorisation matrix through the HTTP API (issue
 * 10): every action x every signer (an FSP, the DSO, the operator, a
 * stranger) x the states a request and its offer go through (open,
 * matched, bought, window over, delivered, settled, and open with the
 * window over), each submitted as a signed POST /api/tx (mkt_api_request:
 * the server's own request path, without a socket).
 *
 * The expectations are written out here from Table II and the action
 * table of docs/market.md, not read from the engine: 'r' the role may not
 * (403, "not allowed for the <role> role"), 'n' the role may but not in
 * this state or on this object (a 4xx that is not a role refusal), 'y'
 * accepted (200). A stranger is always refused as no participant. A
 * refusal changes nothing: no transaction, no nonce, no money. Every cell
 * starts from a market built afresh, so no answer depends on another.
 */
#include <cjson/cJSON.h>
#include <libwebsockets.h>

#include "fixture.h"
#include "market/api.h"

enum { FSP, DSO, OP, STRANGER, NSIGNERS };
static const char *const signer_name[NSIGNERS] = {"FSP", "DSO", "operator", "stranger"};

enum { S_OPEN, S_MATCHED, S_BOUGHT, S_OVER, S_DELIVERED, S_SETTLED, S_EXPIRED, NSTATES };
static const char *const state_name[NSTATES] = {
    "open", "matched", "bought", "window over", "delivered", "settled", "open, window over"};

/* Per action, per signer (FSP, DSO, operator), per state in the order
 * above. The FSP owns the asset and the offer, the DSO the request. */
static const struct {
    const char *action;
    const char *exp[3];
} table[] = {
    {"participant_add", {"rrrrrrr", "rrrrrrr", "yyyyyyy"}},
    {"deposit", {"rrrrrrr", "rrrrrrr", "yyyyyyy"}},
    /* the operator's wallet is empty: no fees in these rules */
    {"withdraw", {"yyyyyyy", "yyyyyyy", "nnnnnnn"}},
    {"asset_add", {"yyyyyyy", "yyyyyyy", "rrrrrrr"}},
    /* the DSO does not own the asset */
    {"asset_edit", {"yyyyyyy", "nnnnnnn", "rrrrrrr"}},
    /* refused while the asset has open offers */
    {"asset_remove", {"nyyyyyn", "nnnnnnn", "rrrrrrr"}},
    {"offer_add", {"yyyyyyy", "rrrrrrr", "rrrrrrr"}},
    /* only while untouched by any match, and a window must end after now */
    {"offer_edit", {"ynnnnnn", "rrrrrrr", "rrrrrrr"}},
    /* the unmatched remainder: nothing left once fully taken */
    {"offer_withdraw", {"ynnnnny", "rrrrrrr", "rrrrrrr"}},
    {"request_add", {"rrrrrrr", "yyyyyyy", "rrrrrrr"}},
    /* only while unmatched, and a window must end after now */
    {"request_edit", {"rrrrrrr", "ynnnnnn", "rrrrrrr"}},
    /* open or matched, not bought */
    {"request_withdraw", {"rrrrrrr", "yynnnny", "rrrrrrr"}},
    /* an open request whose offers are still valid; a matched one not yet
     * bought is matched again (its proposals released first) */
    {"match", {"rrrrrrr", "yynnnnn", "rrrrrrr"}},
    {"purchase", {"rrrrrrr", "nynnnnn", "rrrrrrr"}},
    /* after the window's end, once per bought match */
    {"delivery", {"rrrrrrr", "nnnynnn", "nnnynnn"}},
    /* every match delivered */
    {"settle", {"rrrrrrr", "nnnnynn", "rrrrrrr"}},
    /* a meter reading of the window: only once it is over */
    {"meter", {"rrrrrrr", "nnnyyyy", "nnnyyyy"}},
    /* the owner's nominated baseline for a later span */
    {"prognosis", {"yyyyyyy", "rrrrrrr", "rrrrrrr"}},
};

static struct fx f;
static struct mkt_key stranger;
static sim_time_us now;
static int64_t asset, oid, rid, w0, w1;

static sim_time_us api_clock(void *ctx)
{
    (void)ctx;
    return now;
}

static int64_t count(const char *sql)
{
    sqlite3_stmt *st;
    int64_t v = -1;
    if (sqlite3_prepare_v2(f.db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int64_t nonce_of(const struct mkt_key *k)
{
    uint8_t a[20];
    char t[MKT_ADDR_STRLEN];
    struct sim_err err;
    mkt_key_address(k, a, &err);
    mkt_address_format(a, t);
    sqlite3_stmt *st;
    int64_t v = 0;
    if (sqlite3_prepare_v2(f.db, "SELECT nonce FROM mkt_participants WHERE lower(address)=lower(?)",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, t, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return v;
}

/* A fresh market in state s (the clock is set to the state's time). */
static void build(int s)
{
    struct sim_err err;
    fx_open(&f, NULL, 100 * FX_EUR, 0);
    w0 = f.t0 + 60 * FX_MIN;
    w1 = w0 + 45 * FX_MIN;
    now = f.t0;
    CHECK_INT(fx_objects(&f, &asset, &oid, &rid, &err), 0);
    char json[160];
    if (s == S_MATCHED || s == S_BOUGHT || s == S_OVER || s == S_DELIVERED || s == S_SETTLED) {
        snprintf(json, sizeof json, "{\"action\":\"match\",\"request_id\":%lld}", (long long)rid);
        CHECK_INT(mkt_sign_submit(f.e, &f.dso, json, now, NULL, &err), 0);
    }
    if (s == S_BOUGHT || s == S_OVER || s == S_DELIVERED || s == S_SETTLED) {
        snprintf(json, sizeof json, "{\"action\":\"purchase\",\"request_id\":%lld}",
                 (long long)rid);
        CHECK_INT(mkt_sign_submit(f.e, &f.dso, json, now, NULL, &err), 0);
    }
    if (s == S_OVER || s == S_DELIVERED || s == S_SETTLED || s == S_EXPIRED)
        now = w1 + FX_MIN;
    if (s == S_DELIVERED || s == S_SETTLED) {
        CHECK_INT(mkt_sign_submit(f.e, &f.dso, "{\"action\":\"delivery\",\"match_id\":1,\"e_wh\":7500}",
                                  now, NULL, &err),
                  0);
    }
    if (s == S_SETTLED) {
        snprintf(json, sizeof json, "{\"action\":\"settle\",\"request_id\":%lld}", (long long)rid);
        CHECK_INT(mkt_sign_submit(f.e, &f.dso, json, now, NULL, &err), 0);
    }
}

/* The action's JSON (no from, no nonce). */
static void action_json(const char *action, char *out, size_t n)
{
    char fsp2[MKT_ADDR_STRLEN], newcomer[MKT_ADDR_STRLEN];
    uint8_t a[20];
    struct sim_err err;
    struct mkt_key k;
    mkt_address_format(f.a_fsp2, fsp2);
    mkt_key_derive(7, "newcomer", &k, &err);
    mkt_key_address(&k, a, &err);
    mkt_address_format(a, newcomer);
    long long l0 = w1 + 60 * FX_MIN, l1 = l0 + 45 * FX_MIN;
    const char *asset_fields = "\"location\":\"bus-1\",\"name\":\"b2\",\"p_max_w\":5000,"
                               "\"p_min_w\":-5000,\"soc_max_ppm\":1000000,\"soc_min_ppm\":0,"
                               "\"type\":\"battery\"";
    if (!strcmp(action, "participant_add"))
        snprintf(out, n, "{\"action\":\"%s\",\"address\":\"%s\",\"name\":\"new\",\"role\":\"FSP\"}",
                 action, newcomer);
    else if (!strcmp(action, "deposit"))
        snprintf(out, n, "{\"action\":\"%s\",\"address\":\"%s\",\"amount_ueur\":1}", action, fsp2);
    else if (!strcmp(action, "withdraw"))
        snprintf(out, n, "{\"action\":\"%s\",\"amount_ueur\":1}", action);
    else if (!strcmp(action, "asset_add"))
        snprintf(out, n, "{\"action\":\"%s\",%s}", action, asset_fields);
    else if (!strcmp(action, "asset_edit"))
        snprintf(out, n, "{\"action\":\"%s\",\"id\":%lld,%s}", action, (long long)asset,
                 asset_fields);
    else if (!strcmp(action, "asset_remove"))
        snprintf(out, n, "{\"action\":\"%s\",\"id\":%lld}", action, (long long)asset);
    else if (!strcmp(action, "offer_add"))
        snprintf(out, n,
                 "{\"action\":\"%s\",\"asset_id\":%lld,\"end_us\":%lld,\"p_w\":-5000,"
                 "\"price_ueur_per_kwh\":90000,\"start_us\":%lld}",
                 action, (long long)asset, l1, l0);
    else if (!strcmp(action, "offer_edit"))
        snprintf(out, n,
                 "{\"action\":\"%s\",\"asset_id\":%lld,\"end_us\":%lld,\"id\":%lld,\"p_w\":-8000,"
                 "\"price_ueur_per_kwh\":95000,\"start_us\":%lld}",
                 action, (long long)asset, (long long)w1, (long long)oid, (long long)w0);
    else if (!strcmp(action, "offer_withdraw"))
        snprintf(out, n, "{\"action\":\"%s\",\"id\":%lld}", action, (long long)oid);
    else if (!strcmp(action, "request_add"))
        snprintf(out, n,
                 "{\"action\":\"%s\",\"end_us\":%lld,\"location\":\"bus-1\","
                 "\"max_price_ueur_per_kwh\":200000,\"p_w\":-5000,\"start_us\":%lld}",
                 action, l1, l0);
    else if (!strcmp(action, "request_edit"))
        snprintf(out, n,
                 "{\"action\":\"%s\",\"end_us\":%lld,\"id\":%lld,\"location\":\"bus-1\","
                 "\"max_price_ueur_per_kwh\":200000,\"p_w\":-8000,\"start_us\":%lld}",
                 action, (long long)w1, (long long)rid, (long long)w0);
    else if (!strcmp(action, "request_withdraw"))
        snprintf(out, n, "{\"action\":\"%s\",\"id\":%lld}", action, (long long)rid);
    else if (!strcmp(action, "match") || !strcmp(action, "purchase") ||
             !strcmp(action, "settle"))
        snprintf(out, n, "{\"action\":\"%s\",\"request_id\":%lld}", action, (long long)rid);
    else if (!strcmp(action, "meter"))
        snprintf(out, n,
                 "{\"action\":\"%s\",\"asset_id\":%lld,\"e_wh\":-7500,\"end_us\":%lld,"
                 "\"start_us\":%lld}",
                 action, (long long)asset, (long long)w1, (long long)w0);
    else if (!strcmp(action, "prognosis"))
        snprintf(out, n,
                 "{\"action\":\"%s\",\"asset_id\":%lld,\"end_us\":%lld,\"p_w\":3000,"
                 "\"start_us\":%lld}",
                 action, (long long)asset, l1, l0);
    else
        snprintf(out, n, "{\"action\":\"%s\",\"e_wh\":7500,\"match_id\":1}", action);
}

int main(void)
{
    struct sim_err err;
    lws_set_log_level(LLL_ERR, NULL);
    mkt_key_derive(7, "stranger", &stranger, &err);
    int cells = 0, accepted = 0, refused_role = 0, refused_state = 0, refused_stranger = 0;
    for (size_t a = 0; a < sizeof table / sizeof table[0]; a++) {
        for (int s = 0; s < NSTATES; s++) {
            for (int who = 0; who < NSIGNERS; who++) {
                build(s);
                const struct mkt_key *key[NSIGNERS] = {&f.fsp1, &f.dso, &f.op, &stranger};
                struct mkt_api_config c = {.port = 0, .operator_key = &f.op, .clock = api_clock};
                mkt_api *api = NULL;
                CHECK_INT(mkt_api_new(f.e, &c, &api, &err), 0);
                char json[512];
                action_json(table[a].action, json, sizeof json);
                char *body = fx_signed_body(key[who], json, nonce_of(key[who]));
                int64_t tx0 = count("SELECT count(*) FROM mkt_tx"),
                        ref0 = count("SELECT count(*) FROM mkt_refusals"),
                        money0 = count("SELECT sum(balance_ueur) FROM mkt_participants");
                int status = 0;
                char *answer = NULL;
                CHECK_INT(mkt_api_request(api, "POST", "/api/tx", body, strlen(body), &status,
                                          &answer),
                          0);
                char want = who == STRANGER ? 's' : table[a].exp[who][s];
                int role_refusal = status == 403 && answer && strstr(answer, "not allowed for the");
                const char *what = table[a].action;
                switch (want) {
                case 'y':
                    CHECK(status == 200, "%s by the %s, %s: %d %s", what, signer_name[who],
                          state_name[s], status, answer);
                    CHECK_INT(count("SELECT count(*) FROM mkt_tx"), tx0 + 1);
                    accepted++;
                    break;
                case 'r':
                    CHECK(role_refusal, "%s by the %s, %s: expected a role refusal, got %d %s",
                          what, signer_name[who], state_name[s], status, answer);
                    refused_role++;
                    break;
                case 'n':
                    CHECK(status >= 400 && status < 500 && !role_refusal,
                          "%s by the %s, %s: expected a refusal for the state or object, got %d "
                          "%s",
                          what, signer_name[who], state_name[s], status, answer);
                    refused_state++;
                    break;
                default:
                    CHECK(status == 403 && answer && strstr(answer, "is not a participant"),
                          "%s by a stranger, %s: %d %s", what, state_name[s], status, answer);
                    refused_stranger++;
                }
                if (want != 'y') { /* nothing changed but the refusal's own row */
                    CHECK_INT(count("SELECT count(*) FROM mkt_tx"), tx0);
                    CHECK_INT(count("SELECT count(*) FROM mkt_refusals"), ref0 + 1);
                    CHECK_INT(count("SELECT sum(balance_ueur) FROM mkt_participants"), money0);
                }
                fx_check_conserved(&f, what);
                struct mkt_verify_report rep;
                CHECK_INT(mkt_ledger_verify(f.db, &rep, &err), 0);
                CHECK(rep.ok, "%s by the %s, %s: ledger: %s", what, signer_name[who],
                      state_name[s], rep.reason);
                cells++;
                free(answer);
                free(body);
                mkt_api_free(api);
                fx_close(&f);
            }
        }
    }
    printf("test_api_authz: %d cells (18 actions x 7 states x 4 signers): %d accepted, %d role "
           "refusals, %d state/object refusals, %d stranger refusals\n",
           cells, accepted, refused_role, refused_state, refused_stranger);
    CHECK_INT(cells, 18 * NSTATES * NSIGNERS);
    return check_done("test_api_authz");
}
