/*
 * fuzz_canon.c: libFuzzer target for the market's canonical JSON
 * (market/canon.c), the first thing every signed transaction goes through:
 * an input is JSON text; it is canonicalised, and a canonical text must be
 * its own canonical form (idempotence).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "market/market.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    char *text = fuzz_text(data, size);
    if (!text)
        return 0;
    char *canon = NULL, *again = NULL;
    struct sim_err err;
    if (mkt_canonical_json(text, &canon, &err) == 0) {
        if (mkt_canonical_json(canon, &again, &err) != 0 || strcmp(canon, again))
            abort(); /* a canonical text that is not its own canonical form */
    }
    free(again);
    free(canon);
    free(text);
    return 0;
}
