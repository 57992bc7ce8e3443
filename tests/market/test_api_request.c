/*
 * test_api_request.c: the HTTP API's request path without a socket
 * (mkt_api_request, what fuzz/fuzz_http.c drives): routing, methods,
 * percent-decoding of path and arguments, argument checks, the limits on
 * query and body, and that every answer is a JSON object; and a server
 * watching a run, which refuses transactions unless it hands them to the
 * run (mkt_api_config.forward, `flexbed run --accept-tx`).
 */
#include <cjson/cJSON.h>
#include <libwebsockets.h>

#include "fixture.h"
#include "market/api.h"

static mkt_api *api;

static int req(const char *method, const char *target, const char *body, char **answer)
{
    int status = 0;
    *answer = NULL;
    CHECK_INT(mkt_api_request(api, method, target, body, body ? strlen(body) : 0, &status, answer),
              0);
    cJSON *o = cJSON_Parse(*answer ? *answer : "");
    CHECK(cJSON_IsObject(o), "%s %s: answer is not a JSON object: %s", method, target, *answer);
    cJSON_Delete(o);
    return status;
}

static void expect(const char *method, const char *target, const char *body, int status,
                   const char *has)
{
    char *a;
    int st = req(method, target, body, &a);
    CHECK(st == status && (!has || (a && strstr(a, has))), "%s %s: %d %s, expected %d with %s",
          method, target, st, a, status, has ? has : "-");
    free(a);
}

/* A watched market's owner, as `flexbed run --accept-tx` is one: takes the
 * transaction (mode 0), has gone (1) or does not answer in time (2). */
struct owner {
    mkt_engine *e;
    int mode, calls;
    sim_time_us now;
};

static int owner_take(void *ctx, const char *json, const uint8_t sig[MKT_SIG_LEN],
                      struct mkt_receipt *rc, struct sim_err *err)
{
    struct owner *w = ctx;
    w->calls++;
    if (w->mode == 1)
        return 1;
    if (w->mode == 2)
        return sim_errf(err, SIM_EIO, "tx: the run did not take the transaction within 30 s");
    return mkt_submit(w->e, json, sig, w->now, rc, err);
}

static sim_time_us fixed_now(void *ctx)
{
    return *(const sim_time_us *)ctx;
}

/* A server watching a run: POSTs refused without an owner to hand them
 * to; with one, /api/tx goes to it and its verdict is the answer. */
static void test_watch_forward(struct fx *f)
{
    struct sim_err err;
    sim_time_us now = f->t0;
    int64_t w0 = f->t0 + 60 * FX_MIN;
    char action[256];
    snprintf(action, sizeof action,
             "{\"action\":\"request_add\",\"location\":\"bus-1\",\"start_us\":%lld,"
             "\"end_us\":%lld,\"p_w\":-1000,\"max_price_ueur_per_kwh\":210000}",
             (long long)w0, (long long)(w0 + 45 * FX_MIN));
    char *b0 = fx_signed_body(&f->dso, action, 0), *b1 = fx_signed_body(&f->dso, action, 1);
    CHECK(b0 && b1, "signed bodies");

    struct mkt_api_config watch = {.port = 0, .watch = 1, .clock = fixed_now, .clock_ctx = &now};
    CHECK_INT(mkt_api_new(f->e, &watch, &api, &err), 0);
    expect("POST", "/api/tx", b0, 403, "watches a run");
    mkt_api_free(api);

    struct owner w = {.e = f->e, .now = f->t0};
    watch.forward = owner_take;
    watch.forward_ctx = &w;
    CHECK_INT(mkt_api_new(f->e, &watch, &api, &err), 0);
    expect("POST", "/api/tx", b0, 200, "\"action\":\"request_add\"");
    CHECK_INT(w.calls, 1);
    expect("GET", "/api/requests", NULL, 200, "\"p_w\":-1000");
    /* the owner's refusal is the answer: a replayed nonce */
    expect("POST", "/api/tx", b0, 400, "nonce");
    w.mode = 2;
    expect("POST", "/api/tx", b1, 500, "did not take");
    /* the owner has gone (the run is over): the server takes it itself */
    w.mode = 1;
    expect("POST", "/api/tx", b1, 200, "\"action\":\"request_add\"");
    CHECK_INT(w.calls, 4);
    char *a;
    CHECK_INT(req("GET", "/api/requests", NULL, &a), 200);
    cJSON *o = cJSON_Parse(a);
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(o, "requests")), 2);
    cJSON_Delete(o);
    free(a);
    /* only transactions are handed over: the run seals its own blocks */
    expect("POST", "/api/seal", "{}", 403, "watches a run");
    mkt_api_free(api);
    api = NULL;
    free(b0);
    free(b1);
}

int main(void)
{
    struct fx f;
    struct sim_err err;
    lws_set_log_level(LLL_ERR, NULL);
    fx_open(&f, NULL, 100 * FX_EUR, 0);
    int64_t w0 = f.t0 + 60 * FX_MIN, id;
    int64_t asset = fx_asset(&f, &f.fsp1, MKT_ASSET_BATTERY, "battery", "bus-1", 10000);
    for (int i = 0; i < 3; i++)
        CHECK_INT(fx_offer(&f, &f.fsp1, asset, w0, w0 + 45 * FX_MIN, -1000 * (i + 1), 100000, &id,
                           &err),
                  0);
    struct mkt_api_config c = {.port = 0, .max_body = 1000};
    CHECK_INT(mkt_api_new(f.e, &c, &api, &err), 0);

    expect("GET", "/api/market", NULL, 200, "\"operator\"");
    expect("GET", "/api/offers", NULL, 200, "\"offers\"");
    /* arguments: decoded ("%32" is "2"), checked, named when wrong */
    char *a;
    CHECK_INT(req("GET", "/api/offers?limit=%32", NULL, &a), 200);
    cJSON *o = cJSON_Parse(a);
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(o, "offers")), 2);
    cJSON_Delete(o);
    free(a);
    CHECK_INT(req("GET", "/api/offers?after=1&limit=100", NULL, &a), 200);
    o = cJSON_Parse(a);
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(o, "offers")), 2);
    cJSON_Delete(o);
    free(a);
    expect("GET", "/api/offers?limit=abc", NULL, 400, "limit: expected an integer");
    expect("GET", "/api/offers?limit=0", NULL, 400, "limit");
    expect("GET", "/api/offers?limit=1001", NULL, 400, "limit");
    expect("GET", "/api/offers?limit=", NULL, 400, "limit");
    expect("GET", "/api/matches?request=-5", NULL, 400, "request");
    /* a path is decoded before routing */
    expect("GET", "/api/%6Darket", NULL, 200, "\"operator\"");
    /* the dashboard's files, and the monitoring endpoints on a database
     * without runs */
    {
        int st = 0;
        char *page = NULL;
        CHECK_INT(mkt_api_request(api, "GET", "/", NULL, 0, &st, &page), 0);
        CHECK(st == 200 && page && strstr(page, "<script src=\"/app.js\">"), "GET /: %d", st);
        free(page);
        CHECK_INT(mkt_api_request(api, "GET", "/app.js", NULL, 0, &st, &page), 0);
        CHECK(st == 200 && page && strstr(page, "/api/market"), "GET /app.js: %d", st);
        free(page);
        CHECK_INT(mkt_api_request(api, "POST", "/app.js", "x", 1, &st, &page), 0);
        CHECK_INT(st, 405);
        free(page);
    }
    expect("GET", "/nothing.js", NULL, 404, "no endpoint");
    expect("GET", "/api/runs", NULL, 200, "{\"runs\":[]}");
    expect("GET", "/api/signals?run=1", NULL, 404, "no recorded runs");
    expect("GET", "/api/signals", NULL, 400, "run: missing");
    expect("GET", "/api/series?signal=1", NULL, 404, "no recorded runs");
    /* routing and methods */
    expect("GET", "/api/nothing", NULL, 404, "no endpoint /api/nothing");
    expect("DELETE", "/api/offers", NULL, 405, "use GET");
    expect("GET", "/api/tx", NULL, 405, "use POST");
    /* limits: a query longer than the server keeps, a body over max_body */
    char longq[2200];
    snprintf(longq, sizeof longq, "/api/offers?");
    for (size_t n = strlen(longq); n < sizeof longq - 8; n += 6)
        memcpy(longq + n, "x=123&", 7);
    expect("GET", longq, NULL, 414, "query");
    char big[1200];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    expect("POST", "/api/tx", big, 413, "larger than 1000 bytes");
    /* bodies */
    expect("POST", "/api/tx", NULL, 400, "body: empty");
    expect("POST", "/api/tx", "{\"tx\":", 400, "malformed JSON at byte");
    expect("POST", "/api/tx", "[1]", 400, "expected a JSON object");
    expect("POST", "/api/tx", "{\"tx\":\"{}\",\"sig\":\"0x12\"}", 400, "sig");
    expect("POST", "/api/seal", "{}", 400, "tx: missing"); /* a seal request is signed too */

    struct mkt_api_stats st;
    mkt_api_stats(api, &st);
    CHECK(st.requests >= 20, "requests counted: %lld", st.requests);
    mkt_api_free(api);
    test_watch_forward(&f);
    fx_close(&f);
    return check_done("test_api_request");
}
