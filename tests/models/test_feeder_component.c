/*
 * test_feeder_component.c: the "feeder" scenario component on the kernel.
 *
 * A small circuit (11/0.416 kV Dyn transformer, two cable sections, three
 * constant-power loads, one with a load shape) runs 16 one-minute steps
 * with three profile "assets" connected to it: a generator on bus b2 phase
 * c, a charger on bus b2 phase a and a load-point connection at load H2
 * (with a power factor, so its q is read too). Checked:
 *  - the component's results equal a direct library solve of the same
 *    demands (the asset elements are where the scenario says);
 *  - injecting 4 kW changes the transformer's phase-c power by 4 kW (less
 *    the change in losses) and the total by exactly that;
 *  - energy balance at every step: HV transformer power = sum of the loads
 *    (which are the scheduled demands: constant power) + losses;
 *  - a voltage below the limit is logged once per crossing, naming bus and
 *    phase, with the recorded voltage below the limit;
 *  - a demand beyond the transfer limit: one no_convergence alarm, the run
 *    goes on, the step holds the last values with converged = 0 and
 *    iterations = -1, and the next step is right again;
 *  - bad scenario input names its JSON path.
 */
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "models/feeder/feeder.h"
#include "models/models.h"

#define NSTEP 16

static const char master_dss[] =
    "Clear\n"
    "New Circuit.small basekv=11 pu=1.0 isc3=3000 isc1=5\n"
    "New Transformer.TX phases=3 windings=2 buses=[sourcebus lv] conns=[delta wye]\n"
    "~ kVs=[11 0.416] kVAs=[100 100] XHL=4 %Rs=[0.5 0.5]\n"
    "New Linecode.cable nphases=3 r1=0.3 x1=0.08 r0=1.2 x0=0.1 c1=0 c0=0 units=km\n"
    "New Line.L1 bus1=lv bus2=b1 linecode=cable length=200 units=m\n"
    "New Line.L2 bus1=b1 bus2=b2 linecode=cable length=200 units=m\n"
    "New LoadShape.s1 npts=4 minterval=1 mult=[1 2 1 1]\n"
    "New Load.H1 bus1=b1.1 phases=1 kV=0.23 kW=5 kvar=1 vminpu=0.5 vmaxpu=2 yearly=s1\n"
    "New Load.H2 bus1=b2.2 phases=1 kV=0.23 kW=3 kvar=1 vminpu=0.5 vmaxpu=2\n"
    "New Load.H3 bus1=b2 phases=3 kV=0.416 kW=6 kvar=2 vminpu=0.5 vmaxpu=2\n"
    "Set voltagebases=[11 0.416]\n"
    "Calcv\n"
    "Solve\n";

/* Asset schedules, kW by step (hold between samples). */
static double pv_kw(int k)
{
    return k >= 2 && k < 4 ? -4.0 : 0.0;
}
static double ev_kw(int k)
{
    if ((k >= 6 && k < 9) || k == 10)
        return 20.0;
    return k == 12 ? 1000.0 : 0.0;
}
static double ev2_kw(int k)
{
    return k >= 4 && k < 6 ? 3.0 : 0.0;
}
static const double ev2_tan = 0.48432210483785254; /* tan(acos(0.9)) */
static double h1_kw(int k)
{
    return k % 4 == 2 ? 10.0 : 5.0;
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

/* ------------------------------------------------------------------ */
/* Capturing a run                                                     */
/* ------------------------------------------------------------------ */

enum {
    S_PA,
    S_PB,
    S_PC,
    S_QA,
    S_QB,
    S_QC,
    S_P,
    S_Q,
    S_S,
    S_LOADING,
    S_LOSS,
    S_PHV,
    S_LOADS,
    S_IT,
    S_CONV,
    S_VMIN,
    S_VMAX,
    S_LINE,
    S_VB2A,
    S_VB2B,
    S_VB2C,
    S_VH1,
    NSIG
};
static const char *const sig_names[NSIG] = {
    "fdr.p_a_kw",      "fdr.p_b_kw",     "fdr.p_c_kw",
    "fdr.q_a_kvar",    "fdr.q_b_kvar",   "fdr.q_c_kvar",
    "fdr.p_kw",        "fdr.q_kvar",     "fdr.s_kva",
    "fdr.loading_pct", "fdr.losses_kw",  "fdr.p_hv_kw",
    "fdr.loads_kw",    "fdr.iterations", "fdr.converged",
    "fdr.v_min_pu",    "fdr.v_max_pu",   "fdr.line_loading_max_pct",
    "fdr.v_b2_a_pu",   "fdr.v_b2_b_pu",  "fdr.v_b2_c_pu",
    "fdr.v_H1_a_pu",
};

struct run {
    sim_time_us t0;
    int sig[NSIG];
    double v[NSTEP][NSIG];
    int nsamples;
    int n_low_b2a, n_alarm, n_conv_again, n_other_alarm;
    sim_time_us t_low_b2a[4];
    double low_value;
    char alarm_msg[512];
};

static int on_sample(void *ctx, sim_time_us t, const double *values, int n)
{
    struct run *r = ctx;
    long k = (long)((t - r->t0) / SIM_US_PER_MIN);
    if (k < 0 || k >= NSTEP)
        return 0;
    r->nsamples++;
    for (int i = 0; i < NSIG; i++)
        r->v[k][i] = r->sig[i] >= 0 && r->sig[i] < n ? values[r->sig[i]] : NAN;
    return 0;
}

static int on_event(void *ctx, sim_time_us t, const char *component, const char *kind,
                    enum sim_severity sev, double value, const char *message)
{
    struct run *r = ctx;
    if (strcmp(component, "fdr") != 0)
        return 0;
    if (!strcmp(kind, "voltage_low") && strstr(message, "bus b2 phase a:")) {
        if (r->n_low_b2a < 4)
            r->t_low_b2a[r->n_low_b2a] = t;
        r->n_low_b2a++;
        r->low_value = value;
        CHECK_INT(sev, SIM_WARNING);
    } else if (!strcmp(kind, "no_convergence")) {
        r->n_alarm++;
        CHECK_INT(sev, SIM_ALARM);
        CHECK_INT(t, r->t0 + 12 * SIM_US_PER_MIN);
        snprintf(r->alarm_msg, sizeof r->alarm_msg, "%s", message);
    } else if (!strcmp(kind, "converged")) {
        r->n_conv_again++;
        CHECK_INT(t, r->t0 + 13 * SIM_US_PER_MIN);
    } else if (sev == SIM_ALARM) {
        r->n_other_alarm++;
    }
    return 0;
}

static const char scenario_head[] =
    "{\"name\": \"fdr\", \"start\": \"2024-01-15T00:00:00+01:00\",\n"
    " \"end\": \"2024-01-15T00:16:00+01:00\", \"step\": \"1min\",\n"
    " \"components\": [\n"
    "  {\"name\": \"pv\", \"type\": \"profile\", \"power_factor\": 1,\n"
    "   \"series\": {\"file\": \"pv.csv\", \"value_column\": \"p_kw\", \"mode\": \"hold\"}},\n"
    "  {\"name\": \"ev\", \"type\": \"profile\",\n"
    "   \"series\": {\"file\": \"ev.csv\", \"value_column\": \"p_kw\", \"mode\": \"hold\"}},\n"
    "  {\"name\": \"ev2\", \"type\": \"profile\", \"power_factor\": 0.9,\n"
    "   \"series\": {\"file\": \"ev2.csv\", \"value_column\": \"p_kw\", \"mode\": \"hold\"}},\n";

/* Series CSV of a schedule at one-minute resolution. */
static void write_series(const char *dir, const char *name, double (*fn)(int))
{
    char path[256], buf[4096];
    size_t len = 0;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    len += (size_t)snprintf(buf + len, sizeof buf - len, "time,p_kw\n");
    for (int k = 0; k < NSTEP; k++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "2024-01-15T00:%02d:00+01:00,%g\n", k,
                                fn(k));
    write_file(path, buf);
}

static int load_scenario(const char *dir, const char *feeder_json, sim_kernel **k,
                         struct scn_scenario *sc, struct sim_err *err)
{
    char path[256], text[8192];
    snprintf(path, sizeof path, "%s/s.json", dir);
    snprintf(text, sizeof text, "%s%s]}\n", scenario_head, feeder_json);
    write_file(path, text);
    struct scn_type types[2] = {mdl_profile_type, mdl_feeder_type};
    struct scn_registry reg = {types, 2, NULL, 0};
    return scn_load(path, &reg, NULL, NULL, k, sc, err);
}

/* ------------------------------------------------------------------ */
/* The library on its own, for the same demands                        */
/* ------------------------------------------------------------------ */

static void direct_solve(const char *dir, int k, struct run *r)
{
    char path[256];
    snprintf(path, sizeof path, "%s/check.dss", dir);
    write_file(path, "Redirect master.dss\n"
                     "New Load.pv bus1=b2.3 phases=1 kV=0.23 kW=0 kvar=0 vminpu=0 vmaxpu=100\n"
                     "New Load.ev bus1=b2.1 phases=1 kV=0.23 kW=0 kvar=0 vminpu=0 vmaxpu=100\n"
                     "New Load.ev2 bus1=b2.2 phases=1 kV=0.23 kW=0 kvar=0 vminpu=0 vmaxpu=100\n");
    struct sim_err err = {{0}};
    fdr_circuit *c = fdr_load_dss(path, NULL, &err);
    CHECK(c != NULL, "check circuit: %s", err.msg);
    if (!c)
        return;
    fdr_solver *s = fdr_solver_new(c, &err);
    fdr_apply_loadshapes(s, k, k);
    fdr_set_load(s, fdr_load_find(c, "pv"), pv_kw(k), 0);
    fdr_set_load(s, fdr_load_find(c, "ev"), ev_kw(k), 0);
    fdr_set_load(s, fdr_load_find(c, "ev2"), ev2_kw(k), ev2_kw(k) * ev2_tan);
    CHECK_INT(fdr_solve(s, NULL, &err), 0);
    for (int ph = 1; ph <= 3; ph++) {
        double p, q;
        fdr_xfmr_pq(s, 0, 2, ph, &p, &q);
        CHECK_NEAR(r->v[k][S_PA + ph - 1], -p, 1e-6);
        CHECK_NEAR(r->v[k][S_QA + ph - 1], -q, 1e-6);
        CHECK_NEAR(r->v[k][S_VB2A + ph - 1], cabs(fdr_bus_v_pu(s, fdr_bus_find(c, "b2"), ph)),
                   1e-8);
    }
    CHECK_NEAR(r->v[k][S_VH1], cabs(fdr_bus_v_pu(s, fdr_bus_find(c, "b1"), 1)), 1e-8);
    struct fdr_losses lo;
    fdr_losses(s, &lo);
    CHECK_NEAR(r->v[k][S_LOSS], lo.total_kw, 1e-6);
    /* loading: the largest LV current over 100 kVA / (sqrt 3 x 0.416 kV) */
    double imax = 0;
    for (int ph = 1; ph <= 3; ph++)
        imax = fmax(imax, cabs(fdr_xfmr_i(s, 0, 2, ph)));
    CHECK_NEAR(r->v[k][S_LOADING], 100 * imax / (100 / (sqrt(3) * 0.416)), 1e-6);
    /* worst line: L1 carries everything, rating 400 A (the default) */
    double il = 0;
    for (int m = 1; m <= 3; m++)
        il = fmax(il, cabs(fdr_line_i(s, fdr_line_find(c, "L1"), 1, m)));
    CHECK_NEAR(r->v[k][S_LINE], 100 * il / 400, 1e-6);
    fdr_solver_free(s);
    fdr_circuit_free(c);
}

/* ------------------------------------------------------------------ */
/* The run                                                             */
/* ------------------------------------------------------------------ */

static void test_run(const char *dir)
{
    write_series(dir, "pv.csv", pv_kw);
    write_series(dir, "ev.csv", ev_kw);
    write_series(dir, "ev2.csv", ev2_kw);
    sim_kernel *k = NULL;
    struct scn_scenario sc = {0};
    struct sim_err err = {{0}};
    int rc =
        load_scenario(dir,
                      "  {\"name\": \"fdr\", \"type\": \"feeder\", \"circuit\": \"master.dss\",\n"
                      "   \"v_limits_pu\": [0.95, 1.05], \"max_iterations\": 50,\n"
                      "   \"connections\": [\n"
                      "     {\"component\": \"pv\", \"bus\": \"b2\", \"phases\": [3]},\n"
                      "     {\"component\": \"ev\", \"bus\": \"B2\", \"phases\": [1]},\n"
                      "     {\"component\": \"ev2\", \"load\": \"h2\"}],\n"
                      "   \"record_buses\": [\"b2\", \"H1\"]}\n",
                      &k, &sc, &err);
    CHECK(rc == 0, "scn_load: %s", err.msg);
    static struct run r;
    memset(&r, 0, sizeof r);
    if (rc == 0) {
        r.t0 = sc.start;
        struct sim_hooks hooks = {.ctx = &r, .sample = on_sample, .event = on_event};
        sim_kernel_set_hooks(k, &hooks);
        rc = sim_kernel_init(k, &err);
        CHECK(rc == 0, "init: %s", err.msg);
        for (int i = 0; i < NSIG; i++) {
            r.sig[i] = sim_bus_find(k, sig_names[i]);
            CHECK(r.sig[i] >= 0, "%s is published", sig_names[i]);
            if (r.sig[i] >= 0)
                CHECK(sim_bus_flags(k, r.sig[i]) & SIM_SIG_RECORD, "%s recorded", sig_names[i]);
        }
        CHECK(sim_bus_find(k, "fdr.v_H1_b_pu") < 0, "a one-phase load records its phase only");
        rc = rc ? rc : sim_kernel_run(k, &err);
        CHECK(rc == 0, "run: %s", err.msg);
    }
    sim_kernel_free(k);
    scn_scenario_clear(&sc);
    if (rc)
        return;
    CHECK_INT(r.nsamples, NSTEP);

    /* the component = the library, at steps with each asset active */
    direct_solve(dir, 1, &r);
    direct_solve(dir, 3, &r);
    direct_solve(dir, 5, &r);
    direct_solve(dir, 7, &r);

    /* 4 kW injected on phase c at step 3, vs step 1 (same house demand) */
    double dpc = r.v[3][S_PC] - r.v[1][S_PC], dp = r.v[3][S_P] - r.v[1][S_P];
    double dloss = r.v[3][S_LOSS] - r.v[1][S_LOSS];
    printf("pv -4 kW on b2.c: dP_c %.5f kW, dP %.5f kW, d losses %.5f kW\n", dpc, dp, dloss);
    CHECK(fabs(dpc + 4) < 0.15, "phase c changed by %.4f kW", dpc);
    CHECK(fabs(r.v[3][S_PA] - r.v[1][S_PA]) < 0.15, "phase a nearly unchanged");
    CHECK_NEAR(r.v[3][S_PHV] - r.v[1][S_PHV], -4 + dloss, 1e-6);
    /* ev2 at load H2 (phase b): 3 kW at pf 0.9 */
    CHECK(fabs(r.v[5][S_PB] - r.v[1][S_PB] - 3) < 0.25, "phase b +3 kW: %.4f",
          r.v[5][S_PB] - r.v[1][S_PB]);
    CHECK_NEAR(r.v[5][S_PHV] - r.v[1][S_PHV], 3 + r.v[5][S_LOSS] - r.v[1][S_LOSS], 1e-6);
    CHECK(fabs(r.v[5][S_QB] - r.v[1][S_QB] - 3 * ev2_tan) < 0.05, "phase b q: %.4f",
          r.v[5][S_QB] - r.v[1][S_QB]);

    /* energy balance and bookkeeping at every solved step */
    for (int s = 0; s < NSTEP; s++) {
        if (s == 12)
            continue;
        double demand = h1_kw(s) + 3 + 6 + pv_kw(s) + ev_kw(s) + ev2_kw(s);
        CHECK_NEAR(r.v[s][S_LOADS], demand, 1e-6);
        CHECK_NEAR(r.v[s][S_PHV], r.v[s][S_LOADS] + r.v[s][S_LOSS], 1e-6);
        CHECK(r.v[s][S_P] < r.v[s][S_PHV] && r.v[s][S_LOSS] > 0, "step %d: losses positive", s);
        CHECK_NEAR(r.v[s][S_P], r.v[s][S_PA] + r.v[s][S_PB] + r.v[s][S_PC], 1e-9);
        CHECK_NEAR(r.v[s][S_S], hypot(r.v[s][S_P], r.v[s][S_Q]), 1e-9);
        CHECK_INT(r.v[s][S_CONV], 1);
        CHECK(r.v[s][S_IT] >= 1 && r.v[s][S_IT] <= 50, "step %d: %g sweeps", s, r.v[s][S_IT]);
        CHECK(r.v[s][S_VMIN] <= r.v[s][S_VB2A] && r.v[s][S_VMAX] >= r.v[s][S_VB2A],
              "step %d: extremes bracket", s);
    }
    printf("b2 phase a: %.4f pu without the charger, %.4f pu with 20 kW\n", r.v[5][S_VB2A],
           r.v[7][S_VB2A]);

    /* voltage_low at b2.a: once at 6 (not again at 7, 8), again at 10 */
    CHECK(r.v[5][S_VB2A] > 0.95 && r.v[7][S_VB2A] < 0.95, "b2.a crosses the limit");
    CHECK_INT(r.n_low_b2a, 2);
    CHECK_INT(r.t_low_b2a[0], r.t0 + 6 * SIM_US_PER_MIN);
    CHECK_INT(r.t_low_b2a[1], r.t0 + 10 * SIM_US_PER_MIN);
    CHECK(r.low_value < 0.95 && r.low_value > 0.5, "event value %g pu", r.low_value);

    /* no convergence at 12: one alarm, held values, then back at 13 */
    CHECK_INT(r.n_alarm, 1);
    CHECK_INT(r.n_other_alarm, 0);
    CHECK_STR_CONTAINS(r.alarm_msg, "held");
    CHECK_INT(r.v[12][S_CONV], 0);
    CHECK_INT(r.v[12][S_IT], -1);
    for (int i = 0; i < NSIG; i++)
        if (i != S_CONV && i != S_IT)
            CHECK(r.v[12][i] == r.v[11][i], "%s held: %g vs %g", sig_names[i], r.v[12][i],
                  r.v[11][i]);
    CHECK_INT(r.n_conv_again, 1);
    CHECK_INT(r.v[13][S_CONV], 1);
    CHECK_NEAR(r.v[13][S_P], r.v[1][S_P], 1e-6);
    CHECK_NEAR(r.v[13][S_VB2A], r.v[1][S_VB2A], 1e-8);
}

/* ------------------------------------------------------------------ */
/* Bad input                                                           */
/* ------------------------------------------------------------------ */

static void expect_error(const char *dir, const char *feeder_json, const char *needle, int at_init)
{
    sim_kernel *k = NULL;
    struct scn_scenario sc = {0};
    struct sim_err err = {{0}};
    int rc = load_scenario(dir, feeder_json, &k, &sc, &err);
    if (at_init) {
        CHECK(rc == 0, "scn_load: %s", err.msg);
        if (rc == 0)
            rc = sim_kernel_init(k, &err);
    }
    CHECK(rc != 0, "expected an error containing \"%s\"", needle);
    CHECK_STR_CONTAINS(err.msg, needle);
    sim_kernel_free(k);
    scn_scenario_clear(&sc);
}

/* "record_buses": "all" and "record_lines": every bus phase and line
 * current is published, and a line's loading is its largest phase current
 * over its rating. */
static void test_record_all(const char *dir)
{
    sim_kernel *k = NULL;
    struct scn_scenario sc = {0};
    struct sim_err err = {{0}};
    int rc = load_scenario(dir,
                           "  {\"name\": \"fdr\", \"type\": \"feeder\", \"circuit\": "
                           "\"master.dss\",\n"
                           "   \"line_ratings_a\": {\"L1\": 200},\n"
                           "   \"record_buses\": \"all\", \"record_lines\": [\"L1\", \"L2\"]}\n",
                           &k, &sc, &err);
    CHECK(rc == 0, "scn_load: %s", err.msg);
    if (rc == 0)
        rc = sim_kernel_init(k, &err);
    CHECK(rc == 0, "init: %s", err.msg);
    if (rc == 0) {
        int nv = 0;
        for (int i = 0; i < sim_bus_count(k); i++)
            nv += strncmp(sim_bus_name(k, i), "fdr.v_", 6) == 0;
        /* lv, b1, b2 three-phase, h1 and h2 one phase each, at least */
        CHECK(nv >= 11, "only %d bus-phase voltages recorded", nv);
        CHECK(sim_bus_find(k, "fdr.v_b2_c_pu") >= 0, "b2.c not recorded");
        int ia = sim_bus_find(k, "fdr.i_L1_a"), ib = sim_bus_find(k, "fdr.i_L1_b"),
            ic = sim_bus_find(k, "fdr.i_L1_c"), ld = sim_bus_find(k, "fdr.loading_L1_pct");
        CHECK(ia >= 0 && ib >= 0 && ic >= 0 && ld >= 0, "L1 currents not published");
        CHECK(sim_bus_find(k, "fdr.i_L2_a") >= 0, "L2 not recorded");
        rc = sim_kernel_run(k, &err);
        CHECK(rc == 0, "run: %s", err.msg);
        if (rc == 0 && ia >= 0 && ib >= 0 && ic >= 0 && ld >= 0) {
            double a = sim_bus_get(k, ia), b = sim_bus_get(k, ib), c = sim_bus_get(k, ic);
            double m = fmax(a, fmax(b, c));
            CHECK(m > 1, "L1 carries %g A", m);
            CHECK_NEAR(sim_bus_get(k, ld), 100.0 * m / 200.0, 1e-9);
        }
    }
    sim_kernel_free(k);
    scn_scenario_clear(&sc);
    expect_error(dir,
                 "  {\"name\": \"fdr\", \"type\": \"feeder\", \"circuit\": \"master.dss\", "
                 "\"record_lines\": [\"L9\"]}\n",
                 "record_lines[0]", 0);
}

/* A component standing in for an OpenDSS Storage element ("element":
 * "Storage.st"): the element's own 10 kW discharge is gone and the
 * component's power is drawn at its bus instead. */
static void test_element_binding(const char *dir)
{
    char path[256], text[4096];
    snprintf(path, sizeof path, "%s/master-st.dss", dir);
    snprintf(text, sizeof text,
             "%sNew Storage.st bus1=b2 phases=3 kV=0.416 kwrated=10 state=discharging "
             "vmaxpu=2 vminpu=0.5\n",
             master_dss);
    write_file(path, text);
    for (int bound = 0; bound < 2; bound++) {
        sim_kernel *k = NULL;
        struct scn_scenario sc = {0};
        struct sim_err err = {{0}};
        int rc = load_scenario(
            dir,
            bound ? "  {\"name\": \"fdr\", \"type\": \"feeder\", \"circuit\": \"master-st.dss\",\n"
                    "   \"connections\": [{\"component\": \"ev\", \"element\": \"storage.ST\"}]}\n"
                  : "  {\"name\": \"fdr\", \"type\": \"feeder\", \"circuit\": \"master-st.dss\"}\n",
            &k, &sc, &err);
        CHECK(rc == 0, "scn_load: %s", err.msg);
        if (rc == 0)
            rc = sim_kernel_init(k, &err);
        CHECK(rc == 0, "init: %s", err.msg);
        int il = rc == 0 ? sim_bus_find(k, "fdr.loads_kw") : -1;
        if (rc == 0)
            rc = sim_kernel_run(k, &err);
        CHECK(rc == 0, "run: %s", err.msg);
        if (rc == 0 && il >= 0) {
            /* the last step: H1 at its shape's point, H2 3 kW, H3 6 kW */
            int last = NSTEP - 1;
            double want = h1_kw(last) + 3 + 6 + (bound ? ev_kw(last) : -10.0);
            printf("storage %s: loads_kw %.6f kW (want %.6f)\n", bound ? "bound to ev" : "fixed",
                   sim_bus_get(k, il), want);
            CHECK_NEAR(sim_bus_get(k, il), want, 1e-6);
        }
        sim_kernel_free(k);
        scn_scenario_clear(&sc);
    }
    expect_error(dir,
                 "  {\"name\": \"fdr\", \"type\": \"feeder\", \"circuit\": \"master-st.dss\",\n"
                 "   \"connections\": [{\"component\": \"ev\", \"element\": \"Storage.nope\"}]}\n",
                 "connections[0].element: the circuit has no Generator, PVSystem or Storage", 0);
    expect_error(dir,
                 "  {\"name\": \"fdr\", \"type\": \"feeder\", \"circuit\": \"master-st.dss\",\n"
                 "   \"connections\": [{\"component\": \"ev\", \"element\": \"Storage.st\", "
                 "\"bus\": \"b2\"}]}\n",
                 "give one of", 0);
}

/* A bus behind an open switch is dead: it is left out of the voltage
 * extremes and events (it is not a voltage problem). */
static void test_dead_bus(const char *dir)
{
    char path[256], text[4096];
    snprintf(path, sizeof path, "%s/master-open.dss", dir);
    snprintf(text, sizeof text,
             "%sNew Line.sw bus1=b2 bus2=far switch=yes\n"
             "New Load.F bus1=far.1 phases=1 kV=0.23 kW=1\nOpen Line.sw term=1\n",
             master_dss);
    write_file(path, text);
    sim_kernel *k = NULL;
    struct scn_scenario sc = {0};
    struct sim_err err = {{0}};
    int rc = load_scenario(dir,
                           "  {\"name\": \"fdr\", \"type\": \"feeder\", \"circuit\": "
                           "\"master-open.dss\", \"record_buses\": [\"far\"]}\n",
                           &k, &sc, &err);
    CHECK(rc == 0, "scn_load: %s", err.msg);
    if (rc == 0)
        rc = sim_kernel_init(k, &err);
    CHECK(rc == 0, "init: %s", err.msg);
    int ivmin = rc == 0 ? sim_bus_find(k, "fdr.v_min_pu") : -1;
    int ifar = rc == 0 ? sim_bus_find(k, "fdr.v_far_a_pu") : -1;
    if (rc == 0)
        rc = sim_kernel_run(k, &err);
    CHECK(rc == 0, "run: %s", err.msg);
    if (rc == 0 && ivmin >= 0 && ifar >= 0) {
        printf("open switch: dead bus far at %.3f pu, v_min of the live feeder %.4f pu\n",
               sim_bus_get(k, ifar), sim_bus_get(k, ivmin));
        CHECK(sim_bus_get(k, ifar) == 0, "the dead bus reads 0 pu");
        CHECK(sim_bus_get(k, ivmin) > 0.8, "v_min %.4f counts the dead bus", sim_bus_get(k, ivmin));
    }
    sim_kernel_free(k);
    scn_scenario_clear(&sc);
}

static void test_bad_input(const char *dir)
{
#define FD "  {\"name\": \"fdr\", \"type\": \"feeder\", \"circuit\": \"master.dss\", "
    expect_error(dir, FD "\"connections\": [{\"component\": \"pv\", \"bus\": \"b9\"}]}\n",
                 "components[3].connections[0].bus: the circuit has no bus named \"b9\"", 0);
    expect_error(dir,
                 FD "\"connections\": [{\"component\": \"pv\", \"bus\": \"b2\", "
                    "\"phases\": [4]}]}\n",
                 "connections[0].phases", 0);
    expect_error(dir,
                 FD "\"connections\": [{\"component\": \"pv\", \"bus\": \"b2\", "
                    "\"load\": \"H1\"}]}\n",
                 "give one of \"bus\"", 0);
    expect_error(dir, FD "\"connections\": [{\"component\": \"pv\", \"load\": \"H7\"}]}\n",
                 "connections[0].load: the circuit has no load named \"H7\"", 0);
    expect_error(dir,
                 FD "\"connections\": [{\"component\": \"pv\", \"bus\": \"b2\", "
                    "\"colour\": 1}]}\n",
                 "connections[0].colour", 0);
    expect_error(dir, FD "\"record_buses\": [\"nowhere\"]}\n",
                 "record_buses[0]: the circuit has no bus or load named", 0);
    expect_error(dir, FD "\"v_limits_pu\": [1.1, 0.9]}\n", "v_limits_pu", 0);
    expect_error(dir, FD "\"line_ratings_a\": {\"L9\": 100}}\n", "line_ratings_a.L9", 0);
    expect_error(dir, FD "\"transformer\": \"T9\"}\n", "no transformer \"T9\"", 0);
    expect_error(dir, FD "\"tolerance\": \"tight\"}\n", "components[3].tolerance", 0);
    expect_error(dir, "  {\"name\": \"fdr\", \"type\": \"feeder\", \"circuit\": \"missing.dss\"}\n",
                 "components[3].circuit", 0);
    char bad[256];
    snprintf(bad, sizeof bad, "%s/bad.dss", dir);
    write_file(bad, "Clear\nNew Circuit.x basekv=11\nNew CapControl.r1 capacitor=c1\n");
    expect_error(dir, "  {\"name\": \"fdr\", \"type\": \"feeder\", \"circuit\": \"bad.dss\"}\n",
                 "bad.dss:3", 0);
    /* a dangling component is reported where it was written, at init */
    expect_error(dir, FD "\"connections\": [{\"component\": \"nobody\", \"bus\": \"b2\"}]}\n",
                 "components[3].connections[0].component", 1);
    unlink(bad);
#undef FD
}

int main(void)
{
    char dir[] = "/tmp/flexbed-test-feeder-comp-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char path[256];
    snprintf(path, sizeof path, "%s/master.dss", dir);
    write_file(path, master_dss);
    test_run(dir);
    test_record_all(dir);
    test_bad_input(dir);
    test_element_binding(dir);
    test_dead_bus(dir);
    static const char *const files[] = {"master.dss", "check.dss", "pv.csv",
                                        "ev.csv",     "ev2.csv",   "s.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
    return check_done("test_feeder_component");
}
