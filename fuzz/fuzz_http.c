/*
 * fuzz_http.c: libFuzzer target for the market's HTTP API request path
 * (market/api.c: routing, query arguments, bodies, signed transactions,
 * seal requests, the JSON answers), driven through mkt_api_request, so no
 * request goes through a socket (the server only holds its loopback
 * listener). The market is tests/market/fixture.h's (operator, DSO, two
 * FSPs, funded) with an asset, an offer and a request; the server holds
 * the operator key, as `flexbed serve --key` does.
 *
 * The input is "METHOD TARGET" on its first line, then the body. Every
 * answer must be a JSON object with a status from 200 to 599 (but a 200
 * with one of the dashboard's files, outside /api/); after any
 * answer no money may have been created or lost. The market is rebuilt
 * every 2000 inputs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fuzz/fuzz.h"
#include "market/api.h"
#include "tests/market/fixture.h"

static struct fx f;
static mkt_api *api;
static long inputs;

static sim_time_us fixed_clock(void *ctx)
{
    (void)ctx;
    return FX_T0 + 30 * FX_MIN;
}

static void setup(void)
{
    fx_open(&f, NULL, 100 * FX_EUR, 0);
    int64_t asset, oid, rid;
    struct sim_err err;
    if (fx_objects(&f, &asset, &oid, &rid, &err))
        abort();
    struct mkt_api_config c = {.port = 0, .operator_key = &f.op, .clock = fixed_clock};
    if (mkt_api_new(f.e, &c, &api, &err))
        abort(); /* the harness itself is broken */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 17)
        return 0;
    if (!api)
        setup();
    char *text = fuzz_text(data, size);
    if (!text)
        return 0;
    char *nl = memchr(text, '\n', size);
    const char *body = NULL;
    size_t body_len = 0;
    if (nl) {
        *nl = '\0';
        body = nl + 1;
        body_len = size - (size_t)(nl + 1 - text);
    }
    char *sp = strchr(text, ' ');
    const char *method = "GET", *target = text;
    if (sp) {
        *sp = '\0';
        method = text;
        target = sp + 1;
    }
    int status;
    char *answer = NULL;
    if (strlen(target) < 8192 && mkt_api_request(api, method, target, body, body_len, &status,
                                                 &answer) == 0) {
        cJSON *o = cJSON_Parse(answer);
        /* every answer is a JSON object, but the dashboard's files */
        int page = status == 200 && answer[0] != '{' && strncmp(target, "/api/", 5) != 0;
        if ((!cJSON_IsObject(o) && !page) || status < 200 || status > 599)
            abort();
        cJSON_Delete(o);
        int64_t w, e, d;
        struct sim_err err;
        if (mkt_money_totals(f.e, &w, &e, &d, &err) || w + e != d)
            abort(); /* money created or lost */
    }
    free(answer);
    free(text);
    if (++inputs % 2000 == 0) {
        mkt_api_free(api);
        api = NULL;
        fx_close(&f);
    }
    return 0;
}
