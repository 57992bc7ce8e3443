/*
 * fuzz_csv.c: libFuzzer target for CSV time series (sim/series.c), the
 * load shapes, prices and EV sessions a scenario names: the input's first
 * byte picks interpolation or hold and a repeat period, the rest is the
 * file, read through scn_series_read_csv (the code behind every "series"
 * of a scenario) with columns "time" and "value". A series that loads is
 * then sampled across and beyond its span: every value must be finite.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz/fuzz.h"
#include "sim/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 1 << 16)
        return 0;
    static const sim_time_us repeats[4] = {0, SIM_US_PER_H, 24 * SIM_US_PER_H,
                                           7 * 24 * SIM_US_PER_H};
    enum scn_series_mode mode = data[0] & 1 ? SCN_SERIES_HOLD : SCN_SERIES_INTERPOLATE;
    sim_time_us repeat = repeats[(data[0] >> 1) & 3];
    FILE *f = size > 1 ? fmemopen((void *)(data + 1), size - 1, "r") : NULL;
    if (!f)
        return 0;
    struct scn_series *s = NULL;
    struct sim_err err;
    if (scn_series_read_csv(f, "fuzz.csv", "time", "value", mode, 1.0, repeat, &s, &err) == 0) {
        /* 2023-10-02T00:00:00Z, a day either side in 7-minute steps */
        const sim_time_us t0 = INT64_C(1696204800000000);
        for (sim_time_us t = t0 - 24 * SIM_US_PER_H; t <= t0 + 48 * SIM_US_PER_H;
             t += 7 * SIM_US_PER_MIN)
            if (!isfinite(scn_series_at(s, t)))
                abort();
        scn_series_free(s);
    }
    fclose(f);
    return 0;
}
