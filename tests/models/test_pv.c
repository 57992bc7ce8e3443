/*
 * test_pv.c: the PV component against hand-computed outputs: the NOCT
 * temperature derating, the system derate and inverter efficiency, clipping
 * at the AC rating, a per-unit profile, generation as negative p_kw, and a
 * bad key named by its JSON path.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "models/models.h"

static char dir[64];

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    check_write_file(path, text);
}

static double last_p[8];
static int nsamp;
static int psig = -1;

static int on_sample(void *ctx, sim_time_us t, const double *values, int n)
{
    (void)ctx;
    (void)t;
    if (psig >= 0 && psig < n && nsamp < 8)
        last_p[nsamp++] = values[psig];
    return 0;
}

/* Run the one-component scenario `pv_json` (the component object) over
 * three minutes of the irradiance file; returns 0 or the load error. */
static int run(const char *pv_json, struct sim_err *err)
{
    char text[2048], path[256];
    snprintf(text, sizeof text,
             "{\"name\": \"pv\", \"start\": \"2023-06-01T12:00:00+00:00\","
             " \"end\": \"2023-06-01T12:03:00+00:00\", \"step\": \"1min\","
             " \"components\": [%s]}",
             pv_json);
    write_file("pv.json", text);
    snprintf(path, sizeof path, "%s/pv.json", dir);
    struct scn_type types[1] = {mdl_pv_type};
    struct scn_registry reg = {types, 1, NULL, 0};
    sim_kernel *k = NULL;
    struct scn_scenario sc = {0};
    int rc = scn_load(path, &reg, NULL, NULL, &k, &sc, err);
    if (!rc)
        rc = sim_kernel_init(k, err);
    if (!rc) {
        psig = sim_bus_find(k, "roof.p_kw");
        nsamp = 0;
        struct sim_hooks h = {.sample = on_sample};
        sim_kernel_set_hooks(k, &h);
        rc = sim_kernel_run(k, err);
    }
    sim_kernel_free(k);
    scn_scenario_clear(&sc);
    return rc;
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/flexbed-pv-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    /* 0, 1000 and 500 W/m2 at the three minutes, held. */
    write_file("g.csv", "time,g\n2023-06-01T12:00:00+00:00,0\n2023-06-01T12:01:00+00:00,1000\n"
                        "2023-06-01T12:02:00+00:00,500\n");
    write_file("pu.csv", "time,pu\n2023-06-01T12:00:00+00:00,0.5\n"
                         "2023-06-01T12:02:00+00:00,0.25\n");
    struct sim_err err;

    CHECK_INT(run("{\"name\": \"roof\", \"type\": \"pv\", \"peak_kw\": 10, \"series\": "
                  "{\"file\": \"g.csv\", \"value_column\": \"g\", \"mode\": \"hold\"}}",
                  &err),
              0);
    CHECK_INT(nsamp, 3);
    /* G = 1000: T_cell = 20 + 25/800*1000 = 51.25 degC;
     * P = 10 * 1 * (1 - 0.004 * 26.25) * 0.9 * 0.96 = 7.7328 kW. */
    CHECK_NEAR(last_p[0], 0, 1e-12);
    CHECK_NEAR(last_p[1], -7.7328, 1e-9);
    /* G = 500: T_cell = 35.625; 10 * 0.5 * (1 - 0.0425) * 0.864 = 4.1364. */
    CHECK_NEAR(last_p[2], -4.1364, 1e-9);

    /* Clipped at a 5 kW inverter. */
    CHECK_INT(run("{\"name\": \"roof\", \"type\": \"pv\", \"peak_kw\": 10, \"ac_max_kw\": 5, "
                  "\"series\": {\"file\": \"g.csv\", \"value_column\": \"g\", \"mode\": \"hold\"}}",
                  &err),
              0);
    CHECK_NEAR(last_p[1], -5, 1e-12);
    CHECK_NEAR(last_p[2], -4.1364, 1e-9);

    /* A per-unit profile, interpolated: 0.5, 0.375, 0.25 of 8 kW. */
    CHECK_INT(run("{\"name\": \"roof\", \"type\": \"pv\", \"peak_kw\": 8, \"per_unit\": true, "
                  "\"series\": {\"file\": \"pu.csv\", \"value_column\": \"pu\"}}",
                  &err),
              0);
    CHECK_NEAR(last_p[0], -4, 1e-12);
    CHECK_NEAR(last_p[1], -3, 1e-12);
    CHECK_NEAR(last_p[2], -2, 1e-12);

    /* Bad input names the path. */
    CHECK_INT(run("{\"name\": \"roof\", \"type\": \"pv\", \"peak_kw\": \"ten\", \"series\": "
                  "{\"file\": \"g.csv\", \"value_column\": \"g\"}}",
                  &err),
              SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "components[0].peak_kw");
    CHECK_INT(run("{\"name\": \"roof\", \"type\": \"pv\", \"peak_kw\": 8, \"per_unit\": true, "
                  "\"noct_degc\": 45, \"series\": {\"file\": \"pu.csv\", \"value_column\": \"pu\"}}",
                  &err),
              SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "components[0].noct_degc");

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_done("test_pv");
}
