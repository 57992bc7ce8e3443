/*
 * bench_opendss.c: OpenDSS beside `flexbed bench powerflow`, in the same
 * run on the same machine, for the ratio the README reports.
 *
 * flexbed neither ships nor builds OpenDSS. The user points --opendss at a
 * DSS C-API shared library they have (dss-extensions' libdss_capi.so, the
 * OpenDSS engine with a C interface); it is loaded with dlopen and driven
 * through six of its documented functions: DSS_Start, DSS_Get_Version,
 * Text_Set_Command, Solution_Solve, Error_Get_Number and
 * Error_Get_Description. For each repetition the circuit is compiled
 * (untimed) and OpenDSS's first solve is timed (snapshot, static controls,
 * what flexbed's "snapshot" line times); then, with steps, the same number
 * of one-minute steps in yearly mode (a load's yearly shape, else its daily
 * one, as flexbed reads them), with controlmode static or time as flexbed
 * ran them. OpenDSS keeps its own tolerance (1e-4) unless the user edits it
 * in the circuit; flexbed's --tolerance 1e-4 makes the comparison like for
 * like.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bench.h"

struct odss {
    void *h;
    uint16_t (*start)(int32_t);
    const char *(*version)(void);
    void (*cmd)(const char *);
    void (*solve)(void);
    int32_t (*errnum)(void);
    const char *(*errdesc)(void);
};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int bench_opendss_open(const char *lib, struct odss **out, char *why, size_t nwhy)
{
    static struct odss o;
    memset(&o, 0, sizeof o);
    o.h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!o.h) {
        snprintf(why, nwhy, "cannot load %s: %s", lib, dlerror());
        return -1;
    }
    /* POSIX: function pointers from dlsym go through a void * copy */
    void *p[6];
    static const char *const names[6] = {"DSS_Start",        "DSS_Get_Version",
                                         "Text_Set_Command", "Solution_Solve",
                                         "Error_Get_Number", "Error_Get_Description"};
    for (int i = 0; i < 6; i++) {
        p[i] = dlsym(o.h, names[i]);
        if (!p[i]) {
            snprintf(why, nwhy, "%s is not a DSS C-API library (no %s)", lib, names[i]);
            dlclose(o.h);
            return -1;
        }
    }
    memcpy(&o.start, &p[0], sizeof o.start);
    memcpy(&o.version, &p[1], sizeof o.version);
    memcpy(&o.cmd, &p[2], sizeof o.cmd);
    memcpy(&o.solve, &p[3], sizeof o.solve);
    memcpy(&o.errnum, &p[4], sizeof o.errnum);
    memcpy(&o.errdesc, &p[5], sizeof o.errdesc);
    o.start(0);
    *out = &o;
    return 0;
}

const char *bench_opendss_version(struct odss *o)
{
    return o->version();
}

/* One command; an OpenDSS error becomes ours. */
static int run(struct odss *o, const char *c, char *why, size_t nwhy)
{
    o->cmd(c);
    if (o->errnum()) {
        snprintf(why, nwhy, "OpenDSS: %s: %s", c, o->errdesc());
        return -1;
    }
    return 0;
}

int bench_opendss_time(struct odss *o, const char *circuit, long long steps, int time_mode,
                       double *snap_s, double *steps_s, char *why, size_t nwhy)
{
    char c[4200];
    snprintf(c, sizeof c, "compile [%s]", circuit);
    /* a circuit file may solve, plot or show things: only an error counts */
    o->cmd(c);
    if (o->errnum()) {
        /* (the description is read once: reading it may clear it) */
        snprintf(why, nwhy, "OpenDSS: %s", o->errdesc());
        /* output-only trouble (a missing bus-coordinate file) is not fatal */
        if (!strstr(why, "Coordinate"))
            return -1;
    }
    if (run(o, "set mode=snapshot", why, nwhy) || run(o, "set controlmode=static", why, nwhy))
        return -1;
    double t0 = now_s();
    o->solve();
    *snap_s = now_s() - t0;
    if (o->errnum()) {
        snprintf(why, nwhy, "OpenDSS: solve: %s", o->errdesc());
        return -1;
    }
    *steps_s = 0;
    if (steps > 0) {
        snprintf(c, sizeof c, "set mode=yearly stepsize=1m number=%lld", steps);
        if (run(o, c, why, nwhy) ||
            run(o, time_mode ? "set controlmode=time" : "set controlmode=static", why, nwhy))
            return -1;
        t0 = now_s();
        o->solve();
        *steps_s = now_s() - t0;
        if (o->errnum()) {
            snprintf(why, nwhy, "OpenDSS: yearly solve: %s", o->errdesc());
            return -1;
        }
    }
    return 0;
}
