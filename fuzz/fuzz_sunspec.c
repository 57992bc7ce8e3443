/*
 * fuzz_sunspec.c: libFuzzer target for what the Modbus battery client
 * makes of a device's registers (hil/sunspec.c): SunSpec discovery (the
 * "SunS" marker at 40000, 0 or 50000, then the chain of model headers),
 * the choice of models and the decoding of a poll with its scale factors.
 *
 * The input is a register image, big-endian 16-bit words, served from
 * address 40000 (first byte even) or 0 (odd) by a read function that
 * answers with an exception outside it, as a device would. libmodbus
 * itself parses the Modbus TCP frames (its own fuzzing is upstream); this
 * target covers every use of the register values it returns.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "hil/sunspec.h"

struct image {
    int base, n;
    const uint16_t *r;
    long reads;
};

static int read_image(void *ctx, int addr, int n, uint16_t *dst)
{
    struct image *im = ctx;
    if (++im->reads > 10000)
        abort(); /* discovery must end on its own */
    if (n < 1 || n > 125)
        abort(); /* a Modbus read holds 1 to 125 registers */
    if (addr < im->base || addr + n > im->base + im->n)
        return 1; /* ILLEGAL DATA ADDRESS */
    memcpy(dst, im->r + (addr - im->base), (size_t)n * sizeof *dst);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 2 * 4096 + 1)
        return 0;
    struct image im = {.base = data[0] & 1 ? 0 : SUNS_BASE_DEFAULT, .n = (int)((size - 1) / 2)};
    uint16_t *regs = calloc((size_t)im.n + 1, sizeof *regs);
    if (!regs)
        return 0;
    for (int i = 0; i < im.n; i++)
        regs[i] = (uint16_t)(data[1 + 2 * i] << 8 | data[2 + 2 * i]);
    im.r = regs;

    struct suns_device dev;
    char why[256];
    if (suns_discover(read_image, &im, -1, &dev, why, sizeof why) == 0) {
        struct suns_battery_map m;
        if (!suns_battery_choose(&dev, &m)) {
            uint16_t id[2 + SUNS_M1_LEN], r124[2 + SUNS_M124_LEN], r802[2 + SUNS_M802_LEN],
                rac[SUNS_AC_READ_MAX];
            char mn[40];
            if (read_image(&im, m.a1, 2 + SUNS_M1_LEN, id) == 0)
                suns_get_string(&id[SUNS_M1_MN], 16, mn, sizeof mn);
            if (read_image(&im, m.a124, 2 + SUNS_M124_LEN, r124) == 0 &&
                (m.a802 < 0 || read_image(&im, m.a802, 2 + SUNS_M802_LEN, r802) == 0) &&
                (m.a_ac < 0 || read_image(&im, m.a_ac, m.ac_len, rac) == 0)) {
                struct suns_battery_reading r;
                if (suns_battery_decode(&m, r124, r802, rac, &r, why, sizeof why) == 0) {
                    /* What the client relies on from a reading it takes. */
                    if (!(r.wbase_w > 0 && r.wcha_w > 0 && r.wdis_w > 0) ||
                        !(r.soc >= 0 && r.soc <= 1) || !(r.floor >= 0 && r.floor <= 1) ||
                        !isfinite(r.p_ac_w))
                        abort();
                    double in, out;
                    suns_rates_for_power(-r.p_ac_w, r.wbase_w, &in, &out);
                    if (!(fabs(in) <= 100 && fabs(out) <= 100))
                        abort(); /* rates are percentages of WChaMax */
                }
            }
        }
    }
    free(regs);
    return 0;
}
