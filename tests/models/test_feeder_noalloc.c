/*
 * test_feeder_noalloc.c: the power-flow steps allocate nothing.
 *
 * The test is linked with -Wl,--wrap=malloc,calloc,realloc (see
 * tests/models/CMakeLists.txt), so every allocation of flexbed's own code
 * passes through the counters below, and it points SuiteSparse's memory
 * functions (which KLU uses) at the same counters. Each circuit is loaded,
 * its solver set up and its snapshot and first step solved; then every
 * further step of a day (load shapes applied, controls acting: regulator
 * taps re-stamp and refactor the nodal matrix, capacitors switch) must
 * allocate nothing. The steps must have moved taps or capacitors, so the
 * refactoring path is among what was counted.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <suitesparse/SuiteSparse_config.h>

#include "check.h"
#include "models/feeder/feeder.h"

#define DATA FLEXBED_TEST_DATA "/feeder"

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);

static long allocations;

void *__wrap_malloc(size_t n)
{
    allocations++;
    return __real_malloc(n);
}

void *__wrap_calloc(size_t k, size_t n)
{
    allocations++;
    return __real_calloc(k, n);
}

void *__wrap_realloc(void *p, size_t n)
{
    allocations++;
    return __real_realloc(p, n);
}

/* Step a circuit through a day of step_min-minute steps; count what the
 * steps after the first allocate. */
static void run(const char *dss, double step_min, int time_mode, int want_controls)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, DATA "/%s", dss);
    struct sim_err err = {{0}};
    long before = allocations;
    fdr_circuit *c = fdr_load_dss(path, NULL, &err);
    CHECK(c != NULL, "%s: %s", dss, err.msg);
    if (!c)
        return;
    fdr_solver *s = fdr_solver_new(c, &err);
    CHECK(s != NULL, "%s: %s", dss, err.msg);
    CHECK(allocations > before, "%s: loading allocated nothing: the counters are not wired", dss);
    if (!s) {
        fdr_circuit_free(c);
        return;
    }
    CHECK_INT(fdr_solve(s, NULL, &err), 0);
    int steps = (int)(1440 / step_min);
    long counted = 0, ctl0 = 0;
    for (int k = 1; k <= steps; k++) {
        double minute = k * step_min;
        if (k == 2) {
            before = allocations;
            ctl0 = fdr_solver_tap_changes(s) + fdr_solver_cap_switchings(s);
        }
        fdr_apply_loadshapes(s, minute, fmod(minute, 1440.0));
        int rc =
            time_mode ? fdr_solve_time(s, minute * 60.0, NULL, &err) : fdr_solve(s, NULL, &err);
        if (rc) {
            CHECK(0, "%s step %d: %s", dss, k, err.msg);
            break;
        }
    }
    counted = allocations - before;
    long ctl = fdr_solver_tap_changes(s) + fdr_solver_cap_switchings(s) - ctl0;
    printf("%s (%s, %g-minute steps, %s controls): %d steps, %ld tap changes and capacitor "
           "switchings, %ld allocations\n",
           dss, fdr_circuit_method(c), step_min, time_mode ? "time" : "static", steps - 1, ctl,
           counted);
    CHECK(counted == 0, "%s: %ld allocations in %d steps", dss, counted, steps - 1);
    if (want_controls)
        CHECK(ctl > 0, "%s: no control acted, the refactoring path was not counted", dss);
    fdr_solver_free(s);
    fdr_circuit_free(c);
}

int main(void)
{
    SuiteSparse_config.malloc_func = __wrap_malloc;
    SuiteSparse_config.calloc_func = __wrap_calloc;
    SuiteSparse_config.realloc_func = __wrap_realloc;
    /* KLU takes its memory through SuiteSparse_malloc: that is counted */
    long a0 = allocations;
    void *p = SuiteSparse_malloc(4, sizeof(double));
    CHECK(p != NULL && allocations == a0 + 1, "SuiteSparse's allocations are not counted");
    SuiteSparse_free(p);
    /* the European LV feeder: the radial sweep, 1-minute load shapes */
    run("opendss/Master.dss", 1, 0, 0);
    /* IEEE 123 and 8500 with a daily shape: the nodal solver, taps and
     * capacitors in time mode and in static mode */
    run("ieee-dist/123Bus/daily-opendss-run.dss", 1, 1, 1);
    run("ieee-dist/123Bus/daily-opendss-run.dss", 15, 0, 1);
    run("ieee-8500/daily-opendss-run.dss", 15, 1, 1);
    run("ieee-8500/daily-opendss-run.dss", 60, 0, 1);
    return check_done("test_feeder_noalloc");
}
