/*
 * test_ev.c: the V2G EV against hand computations.
 *
 * Pure-model cases (ev.h, no kernel): the charger's granularity (whole
 * amperes per phase or watts, minimum current); a disconnected EV has zero
 * power whatever it is told; the charge policy stops at the target SoC at
 * the analytic time; a discharge stops at the V2G floor at the analytic
 * time; what the EV could offer; the books across a trip; GSL draws of
 * sessions reproducible with a fixed seed and with the right moments.
 * Then the "ev" component in scenarios (written to a temporary directory):
 * the demo-like evening with arrival, a -10 kW dispatch and departure at
 * exact times, and drawn arrivals reproducible by seed.
 */
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "models/ev.h"
#include "models/models.h"

#define KWS (1.0 / 3600.0)
#define SIM_US_PER_D_TEST (24 * SIM_US_PER_H)

static sim_time_us T0;

static sim_time_us at_s(double s)
{
    return T0 + llround(s * (double)SIM_US_PER_S);
}

/* The demo-like car: 40 kWh, 11 kW charge, 10 kW V2G down to 30 %. */
static void car(struct mdl_ev_params *p)
{
    mdl_ev_params_default(p);
    p->sto.capacity_kwh = 40;
    p->sto.p_charge_max_kw = 11;
    p->sto.p_discharge_max_kw = 10;
    p->sto.soc_min = 0.3;
    p->sto.eta_charge = p->sto.eta_discharge = 0.9;
    p->soc_target = 0.8;
    p->granularity = MDL_EV_AMPS;
}

static mdl_ev *make(const struct mdl_ev_params *p)
{
    struct sim_err err = {{0}};
    mdl_ev *m = NULL;
    int rc = mdl_ev_new(p, T0, 8, &m, &err);
    CHECK(rc == 0 && m, "mdl_ev_new: %s", err.msg);
    return m;
}

static struct mdl_sto_state state(const mdl_ev *m)
{
    struct mdl_sto_state st;
    mdl_ev_state(m, &st);
    return st;
}

/* Run from `from` to `to` seconds in 60 s steps, commanding each step. */
static int run(mdl_ev *m, double from, double to, int has_sp, double sp, struct mdl_sto_event *ev,
               int max)
{
    int total = 0;
    for (double t = from; t < to; t += 60) {
        struct sim_err err = {{0}};
        CHECK_INT(mdl_ev_command(m, has_sp, sp, &err), 0);
        int n = 0;
        double next = t + 60 < to ? t + 60 : to;
        CHECK_INT(mdl_ev_advance(m, at_s(next), ev ? ev + total : NULL, max - total, &n, &err), 0);
        total += n;
    }
    return total;
}

static void test_granularity(void)
{
    struct mdl_ev_params p;
    car(&p);
    p.sto.p_charge_max_kw = 22;
    /* 10 kW, 3 x 230 V: 14.49 A -> 14 A -> 9.66 kW, either direction. */
    CHECK_NEAR(mdl_ev_quantize_kw(&p, 10), 9.66, 1e-12);
    CHECK_NEAR(mdl_ev_quantize_kw(&p, -10), -9.66, 1e-12);
    /* Limits first: -12 kW is -10 kW, i.e. 14 A. */
    CHECK_NEAR(mdl_ev_quantize_kw(&p, -12), -9.66, 1e-12);
    /* Exactly 6 A stays 6 A; below the 6 A minimum is nothing. */
    CHECK_NEAR(mdl_ev_quantize_kw(&p, 4.14), 4.14, 1e-12);
    CHECK_NEAR(mdl_ev_quantize_kw(&p, 4.13), 0, 0);
    CHECK_NEAR(mdl_ev_quantize_kw(&p, 0), 0, 0);
    /* Single phase, 7.4 kW: 32.17 A -> 32 A -> 7.36 kW. */
    p.phases = 1;
    CHECK_NEAR(mdl_ev_quantize_kw(&p, 7.4), 7.36, 1e-12);
    CHECK_NEAR(mdl_ev_quantize_kw(&p, 1.3), 0, 0); /* 5.65 A */
    /* Watts: toward zero to whole watts; the minimum still applies. */
    p.phases = 3;
    p.granularity = MDL_EV_WATTS;
    CHECK_NEAR(mdl_ev_quantize_kw(&p, 9.9997), 9.999, 1e-12);
    CHECK_NEAR(mdl_ev_quantize_kw(&p, -9.9997), -9.999, 1e-12);
    CHECK_NEAR(mdl_ev_quantize_kw(&p, 4.1), 0, 0);
    p.min_current_a = 0;
    CHECK_NEAR(mdl_ev_quantize_kw(&p, 0.0017), 0.001, 1e-15);
    /* Policies. */
    double kw, ceil;
    p.policy = MDL_EV_AUTO;
    mdl_ev_resolve(&p, 1, -10, &kw, &ceil);
    CHECK(kw == -10 && ceil == 1.0, "auto follows a non-zero setpoint (%g, %g)", kw, ceil);
    mdl_ev_resolve(&p, 1, 0, &kw, &ceil);
    CHECK(kw == 22 && ceil == 0.8, "auto charges to target at 0 (%g, %g)", kw, ceil);
    mdl_ev_resolve(&p, 0, 0, &kw, &ceil);
    CHECK(kw == 22 && ceil == 0.8, "auto charges without setpoint (%g, %g)", kw, ceil);
    p.policy = MDL_EV_SETPOINT;
    mdl_ev_resolve(&p, 1, 0, &kw, &ceil);
    CHECK(kw == 0 && ceil == 1.0, "setpoint policy idles at 0 (%g, %g)", kw, ceil);
    p.policy = MDL_EV_CHARGE;
    mdl_ev_resolve(&p, 1, -10, &kw, &ceil);
    CHECK(kw == 22 && ceil == 0.8, "charge policy ignores the setpoint (%g, %g)", kw, ceil);
    p.phases = 2;
    CHECK(mdl_ev_params_invalid(&p) && strcmp(mdl_ev_params_invalid(&p), "phases") == 0,
          "two phases refused");
}

static void test_not_connected(void)
{
    struct mdl_ev_params p;
    car(&p);
    mdl_ev *m = make(&p);
    struct sim_err err = {{0}};
    CHECK_INT(mdl_ev_command(m, 1, -10, &err), 0);
    CHECK_INT(run(m, 0, 3600, 1, -10, NULL, 0), 0);
    struct mdl_sto_state st = state(m);
    CHECK(!st.online, "not connected");
    CHECK_NEAR(st.p_kw, 0, 0);
    CHECK_NEAR(st.e_in_kwh, 0, 0);
    CHECK_NEAR(st.e_out_kwh, 0, 0);
    CHECK_NEAR(mdl_ev_available_discharge_kw(m), 0, 0);

    /* Connected, discharging, then it leaves: zero at once. */
    mdl_ev_arrive(m, 0.6);
    CHECK_NEAR(mdl_ev_available_discharge_kw(m), 9.66, 1e-12);
    run(m, 3600, 3900, 1, -10, NULL, 0);
    CHECK_NEAR(state(m).p_kw, -9.66, 1e-12);
    CHECK_NEAR(state(m).e_out_kwh, 9.66 * 300 * KWS, 1e-9);
    mdl_ev_depart(m);
    CHECK_NEAR(state(m).p_kw, 0, 0);
    CHECK_NEAR(mdl_ev_available_discharge_kw(m), 0, 0);
    run(m, 3900, 7200, 1, -10, NULL, 0);
    CHECK_NEAR(state(m).e_out_kwh, 9.66 * 300 * KWS, 1e-9);
    /* Books across trips: it comes back at 50 %; the trip is external. */
    double e_left = state(m).e_kwh;
    mdl_ev_arrive(m, 0.5);
    struct mdl_sto_state st2 = state(m);
    CHECK_NEAR(st2.e_external_kwh, 0.6 * 40 + (20 - e_left), 1e-12);
    CHECK_NEAR(st2.e_in_kwh - st2.e_out_kwh - (st2.e_kwh - 0 - st2.e_external_kwh) - st2.loss_kwh,
               0, 1e-9);
    mdl_ev_free(m);
}

static void test_charge_to_target(void)
{
    struct mdl_ev_params p;
    car(&p); /* 11 kW -> 15 A -> 10.35 kW */
    mdl_ev *m = make(&p);
    mdl_ev_arrive(m, 0.2);
    struct mdl_sto_event ev[4];
    int n = run(m, 0, 5 * 3600, 0, 0, ev, 4);
    double t_full = 0.6 * 40 / (10.35 * 0.9) * 3600;
    CHECK_INT(n, 1);
    CHECK_INT(ev[0].kind, MDL_STO_SOC_MAX);
    CHECK_NEAR(ev[0].ceiling_soc, 0.8, 1e-12);
    CHECK_NEAR(ev[0].t_s, t_full, 1e-3);
    struct mdl_sto_state st = state(m);
    CHECK_NEAR(st.soc, 0.8, 1e-9);
    CHECK_NEAR(st.p_kw, 0, 0);
    CHECK_NEAR(st.e_in_kwh, 10.35 * t_full * KWS, 1e-7);
    CHECK_NEAR(st.loss_kwh, 0.1 * st.e_in_kwh, 1e-9);
    mdl_ev_free(m);
}

static void test_v2g_floor(void)
{
    struct mdl_ev_params p;
    car(&p);
    p.sto.ramp_kw_per_s = 2;
    p.sto.latency_us = 2 * SIM_US_PER_S;
    mdl_ev *m = make(&p);
    mdl_ev_arrive(m, 0.5);
    /* -10 kW asked, -9.66 kW possible; effect at 2 s, ramp 4.83 s. 8 kWh of
     * cells above the floor at 9.66 / 0.9 kW. */
    struct mdl_sto_event ev[4];
    int n = run(m, 0, 2 * 3600, 1, -10, ev, 4);
    double ramp_s = 9.66 / 2, ramp_cells = 9.66 * ramp_s / 2 / 0.9;
    double t_floor = 2 + ramp_s + (8 * 3600 - ramp_cells) / (9.66 / 0.9);
    CHECK_INT(n, 1);
    CHECK_INT(ev[0].kind, MDL_STO_SOC_MIN);
    CHECK_NEAR(ev[0].t_s, t_floor, 1e-3);
    struct mdl_sto_state st = state(m);
    CHECK_NEAR(st.soc, 0.3, 1e-9);
    CHECK_NEAR(st.p_kw, 0, 0);
    CHECK(st.at_floor, "at the V2G floor");
    CHECK_NEAR(mdl_ev_available_discharge_kw(m), 0, 0);
    CHECK_NEAR(st.e_out_kwh, 8 * 0.9, 1e-7); /* all of it, ramp included */
    /* Auto policy at setpoint 0: charge again (after the latency, ramping). */
    run(m, 7200, 7260, 1, 0, NULL, 0);
    CHECK_NEAR(state(m).p_kw, 10.35, 1e-12);
    CHECK(!state(m).at_floor, "left the floor");
    CHECK_NEAR(mdl_ev_available_discharge_kw(m), 9.66, 1e-12);
    mdl_ev_free(m);

    /* Arriving below the floor: no discharge, no event. */
    m = make(&p);
    mdl_ev_arrive(m, 0.25);
    CHECK_NEAR(mdl_ev_available_discharge_kw(m), 0, 0);
    CHECK_INT(run(m, 0, 600, 1, -10, ev, 4), 0);
    CHECK_NEAR(state(m).e_out_kwh, 0, 0);
    CHECK_NEAR(state(m).soc, 0.25, 1e-12);
    mdl_ev_free(m);
}

static void test_draws(void)
{
    struct mdl_ev_sessions s = {
        .arrival = {MDL_DIST_NORMAL, T0, 30 * SIM_US_PER_MIN},
        .departure = {MDL_DIST_UNIFORM, T0 + 2 * SIM_US_PER_H, SIM_US_PER_H},
        .soc = {MDL_DIST_NORMAL, 0.5, 0.1, 0.0, 1.0},
        .repeat = 24 * SIM_US_PER_H,
    };
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    struct mdl_ev_session a[5], b;
    gsl_rng_set(r, 42);
    for (int k = 0; k < 5; k++)
        mdl_ev_session_draw(&s, k, r, &a[k]);
    gsl_rng_set(r, 42);
    int same = 1;
    for (int k = 0; k < 5; k++) {
        mdl_ev_session_draw(&s, k, r, &b);
        same &= b.arrival == a[k].arrival && b.departure == a[k].departure && b.soc == a[k].soc;
    }
    CHECK(same, "same seed, same sessions");
    gsl_rng_set(r, 43);
    mdl_ev_session_draw(&s, 0, r, &b);
    CHECK(b.arrival != a[0].arrival, "another seed, another arrival");
    CHECK(a[3].arrival - T0 > 2 * SIM_US_PER_D_TEST && a[3].arrival - T0 < 4 * SIM_US_PER_D_TEST,
          "session 3 is three days on");

    /* Moments and bounds over many draws. */
    gsl_rng_set(r, 7);
    const int n = 4000;
    double sum = 0, sum2 = 0;
    int whole = 1, inside = 1;
    for (int i = 0; i < n; i++) {
        mdl_ev_session_draw(&s, 0, r, &b);
        double x = (double)(b.arrival - T0) / 1e6;
        sum += x;
        sum2 += x * x;
        whole &= (b.arrival - T0) % SIM_US_PER_S == 0;
        inside &= b.departure >= T0 + 2 * SIM_US_PER_H && b.departure <= T0 + 3 * SIM_US_PER_H &&
                  b.soc >= 0 && b.soc <= 1;
    }
    double mean = sum / n, sd = sqrt(sum2 / n - mean * mean);
    CHECK(fabs(mean) < 4 * 1800 / sqrt(n), "mean arrival %+.1f s from the mean", mean);
    CHECK(fabs(sd - 1800) < 0.05 * 1800, "sd %.1f s, expected 1800 s", sd);
    CHECK(whole, "draws are whole seconds");
    CHECK(inside, "uniform departures and clamped SoCs stay in bounds");
    gsl_rng_free(r);
}

/* ------------------------------------------------------------------ */
/* The component in scenarios                                          */
/* ------------------------------------------------------------------ */

#define MAX_SEEN 32

struct seen {
    int n;
    sim_time_us t[MAX_SEEN];
    char kind[MAX_SEEN][24];
    double value[MAX_SEEN];
};

static int on_event(void *ctx, sim_time_us t, const char *component, const char *kind,
                    enum sim_severity sev, double value, const char *message)
{
    (void)sev;
    (void)message;
    struct seen *s = ctx;
    if (strcmp(component, "car") == 0 && s->n < MAX_SEEN) {
        s->t[s->n] = t;
        snprintf(s->kind[s->n], sizeof s->kind[0], "%s", kind);
        s->value[s->n++] = value;
    }
    return 0;
}

static int find(const struct seen *s, const char *kind, int nth)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->kind[i], kind) == 0 && nth-- == 0)
            return i;
    return -1;
}

static char dir[] = "/tmp/flexbed-test-ev-XXXXXX";

/* Load and run `json` (the car's object) behind a -10 kW dispatch from
 * 16:00 to 16:45; fill *seen and the car's final e_out_kwh. */
static int run_scenario(const char *car_json, const uint64_t *seed, struct seen *seen,
                        double *e_out, char *errmsg)
{
    char scn[128], text[4096];
    snprintf(scn, sizeof scn, "%s/ev.json", dir);
    snprintf(text, sizeof text,
             "{\"name\": \"ev\", \"start\": \"2023-10-02T14:50:00+03:00\",\n"
             " \"end\": \"2023-10-02T18:30:00+03:00\", \"step\": \"1min\", \"seed\": 42,\n"
             " \"components\": [\n"
             "  {\"name\": \"dispatch\", \"type\": \"profile\",\n"
             "   \"series\": {\"file\": \"dispatch.csv\", \"value_column\": \"p_kw\",\n"
             "              \"mode\": \"hold\"}},\n"
             "  {\"name\": \"car\", \"type\": \"ev\", %s}]}\n",
             car_json);
    check_write_file(scn, text);
    struct scn_type reg_types[2] = {mdl_profile_type, mdl_ev_type};
    struct scn_registry reg = {reg_types, 2, NULL, 0};
    sim_kernel *k = NULL;
    struct scn_scenario sc = {0};
    struct sim_err err = {{0}};
    memset(seen, 0, sizeof *seen);
    int rc = scn_load(scn, &reg, seed, NULL, &k, &sc, &err);
    if (rc == 0) {
        struct sim_hooks hooks = {.ctx = seen, .event = on_event};
        sim_kernel_set_hooks(k, &hooks);
        rc = sim_kernel_init(k, &err);
        rc = rc ? rc : sim_kernel_run(k, &err);
        *e_out = sim_bus_get(k, sim_bus_find(k, "car.e_out_kwh"));
    }
    snprintf(errmsg, sizeof err.msg, "%s", err.msg);
    sim_kernel_free(k);
    scn_scenario_clear(&sc);
    unlink(scn);
    return rc;
}

static void test_component(void)
{
    char csv[128], msg[512];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(csv, sizeof csv, "%s/dispatch.csv", dir);
    check_write_file(csv, "time,p_kw\n"
                    "2023-10-02T14:00:00+03:00,0\n"
                    "2023-10-02T16:00:00+03:00,-10\n"
                    "2023-10-02T16:45:00+03:00,0\n");
    struct seen s;
    double e_out = 0;
    sim_time_us t15, t16, t18;
    sim_time_parse("2023-10-02T15:00:00+03:00", &t15, NULL);
    sim_time_parse("2023-10-02T16:00:00+03:00", &t16, NULL);
    sim_time_parse("2023-10-02T18:00:00+03:00", &t18, NULL);

    const char *demo = "\"capacity_kwh\": 40, \"p_charge_max_kw\": 11, "
                       "\"p_discharge_max_kw\": 10, \"soc_min_discharge\": 0.3, "
                       "\"soc_target\": 0.8, \"efficiency\": 0.9, \"granularity\": \"amps\", "
                       "\"latency\": \"2s\", \"ramp_kw_per_s\": 1, "
                       "\"setpoint\": \"dispatch.p_kw\", \"soc_arrival\": 0.6, "
                       "\"arrival\": \"2023-10-02T15:00:00+03:00\", "
                       "\"departure\": \"2023-10-02T18:00:00+03:00\"";
    int rc = run_scenario(demo, NULL, &s, &e_out, msg);
    CHECK(rc == 0, "demo-like run: %s", msg);
    int ia = find(&s, "arrival", 0), id = find(&s, "departure", 0);
    int it = find(&s, "soc_target", 0), it2 = find(&s, "soc_target", 1);
    CHECK(ia >= 0 && s.t[ia] == t15, "arrival logged at 15:00:00");
    CHECK(ia >= 0 && fabs(s.value[ia] - 0.6) < 1e-12, "arrival SoC");
    CHECK(id >= 0 && s.t[id] == t18, "departure logged at 18:00:00");
    CHECK(find(&s, "target_missed", 0) < 0, "left at its target");
    /* Charging from 60 % at 15 A (10.35 kW) from 15:00:02 with a 1 kW/s
     * ramp; 8 kWh stored = 32000 kWs from the grid. */
    double t_full = 2 + 10.35 + (32000 - 10.35 * 10.35 / 2) / 10.35;
    CHECK(it >= 0 && llabs(s.t[it] - (t15 + llround(t_full * 1e6))) <= 1,
          "soc_target at 15:00 + %.3f s (got %+.6f s)", t_full,
          it >= 0 ? (double)(s.t[it] - t15) / 1e6 : -1.0);
    CHECK(it2 >= 0 && s.t[it2] > t16, "charged to target again after the dispatch");
    CHECK(find(&s, "soc_min", 0) < 0, "the floor was not reached");
    /* -10 kW becomes 14 A = 9.66 kW; the ramps (9.66 s each way) shift but
     * do not change the energy: 9.66 kW x 45 min. */
    CHECK_NEAR(e_out, 9.66 * 0.75, 1e-7);

    /* Drawn arrival: reproducible with the same seed, another with another. */
    const char *drawn = "\"capacity_kwh\": 40, \"p_charge_max_kw\": 11, "
                        "\"soc_arrival\": {\"uniform\": {\"min\": 0.3, \"max\": 0.7}}, "
                        "\"arrival\": {\"normal\": {\"mean\": \"2023-10-02T15:30:00+03:00\", "
                        "\"sd\": \"30min\"}}, "
                        "\"departure\": \"2023-10-02T18:00:00+03:00\"";
    sim_time_us first[3];
    double soc[3];
    uint64_t seeds[3] = {42, 42, 4242};
    for (int i = 0; i < 3; i++) {
        rc = run_scenario(drawn, &seeds[i], &s, &e_out, msg);
        CHECK(rc == 0, "drawn run %d: %s", i, msg);
        int j = find(&s, "arrival", 0);
        first[i] = j >= 0 ? s.t[j] : -1;
        soc[i] = j >= 0 ? s.value[j] : -1;
    }
    CHECK(first[0] == first[1] && soc[0] == soc[1], "same seed, same arrival");
    CHECK(first[0] != first[2], "another seed, another arrival");
    CHECK(first[0] % SIM_US_PER_S == 0, "whole seconds");
    CHECK(soc[0] >= 0.3 && soc[0] <= 0.7, "arrival SoC %g in the uniform range", soc[0]);

    /* Bad input names the JSON path. */
    rc = run_scenario("\"capacity_kwh\": 40, \"p_charge_max_kw\": 11, \"soc_arrival\": 0.5, "
                      "\"arrival\": {\"gamma\": {}}, \"departure\": \"2023-10-02T18:00:00+03:00\"",
                      NULL, &s, &e_out, msg);
    CHECK_INT(rc, SIM_EINVAL);
    CHECK_STR_CONTAINS(msg, "components[1].arrival");
    rc = run_scenario("\"capacity_kwh\": 40, \"p_charge_max_kw\": 11, \"soc_arrival\": 0.5, "
                      "\"phases\": 2, \"arrival\": \"2023-10-02T15:00:00+03:00\", "
                      "\"departure\": \"2023-10-02T18:00:00+03:00\"",
                      NULL, &s, &e_out, msg);
    CHECK_INT(rc, SIM_EINVAL);
    CHECK_STR_CONTAINS(msg, "components[1].phases");
    rc = run_scenario("\"capacity_kwh\": 40, \"p_charge_max_kw\": 11, \"soc_arrival\": 0.5, "
                      "\"policy\": \"charge\", \"setpoint\": \"dispatch.p_kw\", "
                      "\"arrival\": \"2023-10-02T15:00:00+03:00\", "
                      "\"departure\": \"2023-10-02T18:00:00+03:00\"",
                      NULL, &s, &e_out, msg);
    CHECK_INT(rc, SIM_EINVAL);
    CHECK_STR_CONTAINS(msg, "components[1].setpoint");
    unlink(csv);
    rmdir(dir);
}

int main(void)
{
    sim_time_parse("2023-10-02T16:00:00+03:00", &T0, NULL);
    test_granularity();
    test_not_connected();
    test_charge_to_target();
    test_v2g_floor();
    test_draws();
    test_component();
    return check_done("test_ev");
}
