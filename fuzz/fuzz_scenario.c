/*
 * fuzz_scenario.c: libFuzzer target for the scenario reader (sim/scenario.c)
 * with every model component type: an input is scenario JSON text; it is
 * loaded (not run) and freed. A bad input must be refused with an error,
 * never crash, leak or read out of bounds. Files it names are resolved
 * against a directory that does not exist.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "models/models.h"
#include "sim/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct scn_type *const all[] = {&mdl_profile_type, &mdl_transformer_type,
                                                 &mdl_battery_type, &mdl_ev_type,
                                                 &mdl_feeder_type,  &mdl_pv_type};
    static struct scn_type types[sizeof all / sizeof all[0]];
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        types[i] = *all[i];
    struct scn_registry reg = {types, sizeof all / sizeof all[0], NULL, 0};
    if (size > 1 << 20)
        return 0;
    char *text = fuzz_text(data, size);
    if (!text)
        return 0;
    sim_kernel *k = NULL;
    struct scn_scenario sc;
    struct sim_err err;
    if (scn_load_text(text, "fuzz.json", "/nonexistent-fuzz-dir", &reg, NULL, NULL, &k, &sc,
                      &err) == 0) {
        sim_kernel_free(k);
        scn_scenario_clear(&sc);
    }
    free(text);
    return 0;
}
