/*
 * fuzz_dss.c: libFuzzer target for the OpenDSS reader (models/feeder/dss_*.c):
 * an input is a DSS script; a circuit it defines is compiled, given a
 * solver and solved once (few iterations: the point is the code's
 * robustness, not convergence). Relative file names resolve against a
 * directory that does not exist.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "models/feeder/feeder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 18)
        return 0;
    char *text = fuzz_text(data, size);
    if (!text)
        return 0;
    struct sim_err err;
    struct fdr_warnings warn = {0};
    fdr_circuit *c = fdr_load_dss_string(text, "fuzz.dss", "/nonexistent-fuzz-dir", &warn, &err);
    fdr_warnings_free(&warn);
    if (c && fdr_bus_count(c) < 2000) {
        fdr_solver *s = fdr_solver_new(c, &err);
        if (s) {
            fdr_solver_set_tolerance(s, 1e-6, 20);
            fdr_solve(s, NULL, &err);
            fdr_solver_free(s);
        }
    }
    fdr_circuit_free(c);
    free(text);
    return 0;
}
