/*
 * opendss_ref.h: OpenDSS's bus-node voltages as the reference set writes
 * them (bus,node,kVbase_LN,Vmag_V,Vang_deg,Vmag_pu,Vre_V,Vim_V), for the
 * feeder tests. A header of static functions: each test includes it once.
 */
#ifndef FLEXBED_TEST_OPENDSS_REF_H
#define FLEXBED_TEST_OPENDSS_REF_H

#include <complex.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <strings.h>

#include "check.h"

struct ref {
    char bus[64];
    int node;
    double complex v;
};

/* Up to max rows of the CSV at dir/file. */
static int load_ref(const char *dir, const char *file, struct ref *r, int max)
{
    char path[PATH_MAX], line[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "open %s", path);
    int n = 0;
    while (f && fgets(line, sizeof line, f) && n < max) {
        double kv, vm, va, pu, re, im;
        if (sscanf(line, "%63[^,],%d,%lf,%lf,%lf,%lf,%lf,%lf", r[n].bus, &r[n].node, &kv, &vm, &va,
                   &pu, &re, &im) == 8) {
            r[n].v = re + I * im;
            n++;
        }
    }
    if (f)
        fclose(f);
    return n;
}

/* The voltage of bus (any case) / node, NAN if absent. */
static double complex ref_v(const struct ref *r, int n, const char *bus, int node)
{
    for (int i = 0; i < n; i++)
        if (!strcasecmp(r[i].bus, bus) && r[i].node == node)
            return r[i].v;
    return NAN;
}

#endif /* FLEXBED_TEST_OPENDSS_REF_H */
