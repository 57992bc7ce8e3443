/*
 * fuzz_tx.c: libFuzzer target for signed transactions as the market
 * engine parses and applies them (market/engine.c through mkt_submit): a
 * small market (tests/market/fixture.h: operator, DSO, two FSPs, funded,
 * with an asset, an offer and a request) receives the input as an action.
 *
 * The first byte picks the signer (FSP, other FSP, DSO, operator) and the
 * path: even, the rest is a JSON object that is signed by that key and
 * submitted ("from" and "nonce" filled in when absent, as mkt_sign_submit
 * does), so the fuzzer reaches every action's parser and rules; odd, the
 * rest is submitted as it is with a signature made of its last 65 bytes,
 * which reaches the canonical-form and signature checks. After every
 * accepted action no money may have been created or lost (wallets +
 * escrow == deposits). The market is rebuilt every 2000 inputs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "tests/market/fixture.h"

static struct fx f;
static int open_;
static long inputs;

static void setup(void)
{
    fx_open(&f, NULL, 100 * FX_EUR, 0);
    int64_t asset, oid, rid;
    struct sim_err err;
    if (fx_objects(&f, &asset, &oid, &rid, &err))
        abort();
    open_ = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 1 << 14)
        return 0;
    if (!open_)
        setup();
    const struct mkt_key *key[4] = {&f.fsp1, &f.fsp2, &f.dso, &f.op};
    const struct mkt_key *k = key[(data[0] >> 1) & 3];
    struct sim_err err;
    int rc = -1;
    char *text = NULL;
    sim_time_us now = f.t0 + (sim_time_us)(data[0] >> 3) * 5 * FX_MIN;
    if (!(data[0] & 1)) {
        if ((text = fuzz_text(data + 1, size - 1)) != NULL)
            rc = mkt_sign_submit(f.e, k, text, now, NULL, &err);
    } else if (size > 1 + MKT_SIG_LEN) {
        size_t n = size - 1 - MKT_SIG_LEN;
        if ((text = fuzz_text(data + 1, n)) != NULL)
            rc = mkt_submit(f.e, text, data + 1 + n, now, NULL, &err);
    }
    free(text);
    if (rc == 0) {
        int64_t w, e, d;
        if (mkt_money_totals(f.e, &w, &e, &d, &err) || w + e != d)
            abort(); /* money created or lost */
    }
    if (++inputs % 2000 == 0) {
        fx_close(&f);
        open_ = 0;
    }
    return 0;
}
