/*
 * test_battery.c: the stationary battery against hand computations.
 *
 * Pure-model cases (battery.h / storage.h, no kernel): a constant discharge
 * with efficiency and standby loss; latency shifting the response exactly;
 * ramps delivering trapezoid areas, including a ramp through zero where the
 * loss changes with the sign; the SoC floor and ceiling found at their
 * analytic times; the energy books over a long irregular run; bad input.
 * Then the "battery" component in a scenario (written to a temporary
 * directory) following a dispatch profile like the 2 October 2023 demo's,
 * checking the soc_min event's kernel time and the delivered energy.
 */
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "models/battery.h"
#include "models/models.h"

#define KWS (1.0 / 3600.0) /* one kW for one second, in kWh */

static sim_time_us T0;

static sim_time_us at_s(double s)
{
    return T0 + llround(s * (double)SIM_US_PER_S);
}

static void base_params(struct mdl_sto_params *p)
{
    mdl_battery_params_default(p);
    p->capacity_kwh = 20;
    p->p_charge_max_kw = 10;
    p->p_discharge_max_kw = 10;
    p->eta_charge = 1;
    p->eta_discharge = 1;
}

static mdl_sto *make(const struct mdl_sto_params *p, double soc0)
{
    struct sim_err err = {{0}};
    mdl_sto *m = NULL;
    int rc = mdl_battery_new(p, soc0, T0, 16, &m, &err);
    CHECK(rc == 0 && m, "mdl_battery_new: %s", err.msg);
    return m;
}

static void cmd(mdl_sto *m, double p_kw)
{
    struct sim_err err = {{0}};
    int rc = mdl_sto_command(m, p_kw, 1.0, &err);
    CHECK(rc == 0, "command %g kW: %s", p_kw, err.msg);
}

/* Advance and return the number of limit events. */
static int adv(mdl_sto *m, double s, struct mdl_sto_event *ev, int max)
{
    struct sim_err err = {{0}};
    int n = 0, rc = mdl_sto_advance(m, at_s(s), ev, max, &n, &err);
    CHECK(rc == 0, "advance to %g s: %s", s, err.msg);
    return n;
}

static struct mdl_sto_state state(const mdl_sto *m)
{
    struct mdl_sto_state st;
    mdl_sto_state(m, &st);
    return st;
}

/* e_in - e_out = stored change - external + losses. */
static double imbalance(const mdl_sto *m, double e0)
{
    struct mdl_sto_state st = state(m);
    return st.e_in_kwh - st.e_out_kwh - (st.e_kwh - e0 - st.e_external_kwh) - st.loss_kwh;
}

static void test_constant_discharge(void)
{
    struct mdl_sto_params p;
    base_params(&p);
    p.eta_charge = 0.95;
    p.eta_discharge = 0.9;
    p.standby_loss_kw = 0.1;
    mdl_sto *m = make(&p, 0.8);
    cmd(m, -10);
    CHECK_NEAR(state(m).p_kw, -10, 0);
    CHECK_INT(adv(m, 1800, NULL, 0), 0);
    struct mdl_sto_state st = state(m);
    /* Half an hour at 10 kW out of the grid connection: 5 kWh delivered;
     * the cells gave 5 / 0.9 kWh and the standby loss took 0.05 kWh. */
    CHECK_NEAR(st.e_out_kwh, 5.0, 1e-9);
    CHECK_NEAR(st.e_in_kwh, 0.0, 0);
    CHECK_NEAR(st.e_kwh, 16.0 - 5.0 / 0.9 - 0.05, 1e-9);
    CHECK_NEAR(st.loss_kwh, 5.0 / 0.9 - 5.0 + 0.05, 1e-9);
    CHECK_NEAR(st.soc, (16.0 - 5.0 / 0.9 - 0.05) / 20.0, 1e-10);
    CHECK_NEAR(st.p_kw, -10, 1e-12);
    /* Limits: a 15 kW request is held at the 10 kW converter limit. */
    cmd(m, 15);
    CHECK_NEAR(state(m).p_kw, 10, 0);
    CHECK_NEAR(state(m).command_kw, 10, 0);
    long steps = 0, f = 0;
    mdl_sto_stats(m, &steps, &f);
    CHECK(steps > 0 && f > 0, "CVODE did the integration (%ld steps, %ld rhs)", steps, f);
    mdl_sto_free(m);
}

/* A battery with latency L follows a command sequence exactly L later than
 * the same battery without latency. */
static void test_latency(void)
{
    struct mdl_sto_params p;
    base_params(&p);
    p.eta_discharge = 0.92;
    p.eta_charge = 0.96;
    p.latency_us = 2500 * 1000; /* 2.5 s, off the command grid */
    mdl_sto *lat = make(&p, 0.5);
    p.latency_us = 0;
    mdl_sto *ref = make(&p, 0.5);

    cmd(lat, -10);
    CHECK_NEAR(state(lat).p_kw, 0, 0); /* not yet */
    adv(lat, 2.4, NULL, 0);
    CHECK_NEAR(state(lat).p_kw, 0, 0);
    CHECK_NEAR(state(lat).e_out_kwh, 0, 0);
    adv(lat, 2.5, NULL, 0);
    CHECK_NEAR(state(lat).p_kw, -10, 0);
    adv(lat, 60, NULL, 0);
    CHECK_NEAR(state(lat).e_out_kwh, 10 * 57.5 * KWS, 1e-12);

    /* A sequence every 10 s on both; compare lat at t + L with ref at t. */
    static const double seq[] = {-10, -4, 0, 7, 10, -2.5, -10, 3};
    mdl_sto_free(lat);
    p.latency_us = 2500 * 1000;
    lat = make(&p, 0.5);
    for (int i = 0; i < 8; i++) {
        double t = 10.0 * i;
        adv(ref, t, NULL, 0);
        adv(lat, t, NULL, 0);
        cmd(ref, seq[i]);
        cmd(lat, seq[i]);
        for (double dt = 1; dt < 10; dt += 3) {
            adv(ref, t + dt, NULL, 0);
            adv(lat, t + dt + 2.5, NULL, 0);
            struct mdl_sto_state a = state(ref), b = state(lat);
            CHECK_NEAR(b.e_kwh, a.e_kwh, 1e-10);
            CHECK_NEAR(b.e_out_kwh, a.e_out_kwh, 1e-10);
            CHECK_NEAR(b.e_in_kwh, a.e_in_kwh, 1e-10);
            CHECK_NEAR(b.p_kw, a.p_kw, 0);
        }
    }
    mdl_sto_free(lat);
    mdl_sto_free(ref);

    /* Queue full: more distinct commands pending than the ring holds. */
    p.latency_us = 10 * SIM_US_PER_S;
    struct sim_err err = {{0}};
    mdl_sto *q = NULL;
    CHECK_INT(mdl_battery_new(&p, 0.5, T0, 2, &q, &err), 0);
    CHECK_INT(mdl_sto_command(q, -1, 1, &err), 0);
    CHECK_INT(mdl_sto_command(q, -1, 1, &err), 0); /* a repeat costs nothing */
    CHECK_INT(mdl_sto_command(q, -2, 1, &err), 0);
    CHECK_INT(mdl_sto_command(q, -3, 1, &err), SIM_ERANGE);
    CHECK_STR_CONTAINS(err.msg, "queue full");
    mdl_sto_free(q);
}

static void test_ramp(void)
{
    struct mdl_sto_params p;
    base_params(&p);
    p.ramp_kw_per_s = 1;
    mdl_sto *m = make(&p, 0.5);
    cmd(m, -10);
    adv(m, 4, NULL, 0);
    CHECK_NEAR(state(m).p_kw, -4, 1e-12);
    adv(m, 60, NULL, 0);
    /* 10 s ramp (area 50 kWs) then 50 s at 10 kW. */
    CHECK_NEAR(state(m).e_out_kwh, (50 + 500) * KWS, 1e-9);
    CHECK_NEAR(state(m).p_kw, -10, 0);
    cmd(m, 0);
    adv(m, 100, NULL, 0);
    CHECK_NEAR(state(m).e_out_kwh, 600 * KWS, 1e-9);
    CHECK_NEAR(state(m).p_kw, 0, 0);
    mdl_sto_free(m);

    /* Through zero: +5 -> -5 at 1 kW/s, with different efficiencies each
     * way. A step average would book the crossing at one efficiency. */
    p.eta_charge = 0.9;
    p.eta_discharge = 0.8;
    m = make(&p, 0.5);
    cmd(m, 5);
    adv(m, 10, NULL, 0); /* ramp 0 -> 5 in 5 s (12.5 kWs), then 5 s at 5 kW */
    cmd(m, -5);
    adv(m, 30, NULL, 0); /* 10-15 s: 5 -> 0 (12.5 kWs in); 15-20 s: 0 -> -5 (12.5 out) */
    double in = (12.5 + 25 + 12.5) * KWS, out = (12.5 + 50) * KWS;
    struct mdl_sto_state st = state(m);
    CHECK_NEAR(st.e_in_kwh, in, 1e-9);
    CHECK_NEAR(st.e_out_kwh, out, 1e-9);
    CHECK_NEAR(st.e_kwh, 10 + 0.9 * in - out / 0.8, 1e-9);
    CHECK_NEAR(st.loss_kwh, 0.1 * in + out * (1 / 0.8 - 1), 1e-9);
    mdl_sto_free(m);
}

static void test_soc_limits(void)
{
    struct mdl_sto_params p;
    base_params(&p);
    p.capacity_kwh = 10;
    p.soc_min = 0.2;
    p.soc_max = 0.95;
    p.eta_charge = 0.95;
    p.eta_discharge = 0.95;
    p.standby_loss_kw = 0.05;
    mdl_sto *m = make(&p, 0.5);
    /* 3 kWh above the floor, drained at 10 / 0.95 + 0.05 kW. */
    double rate = 10 / 0.95 + 0.05, t_floor = 3.0 / rate * 3600;
    struct mdl_sto_event ev[4];
    int nev = 0;
    for (int k = 0; k < 60; k++) {
        cmd(m, -10);
        int n = adv(m, 60.0 * (k + 1), ev + nev, 4 - nev);
        nev += n;
    }
    CHECK_INT(nev, 1);
    CHECK_INT(ev[0].kind, MDL_STO_SOC_MIN);
    CHECK_NEAR(ev[0].t_s, t_floor, 1e-3);
    CHECK_NEAR((double)(ev[0].t - T0) / 1e6, t_floor, 1e-6);
    CHECK_NEAR(ev[0].soc, 0.2, 1e-9);
    struct mdl_sto_state st = state(m);
    CHECK(st.at_floor, "at the floor");
    CHECK_NEAR(st.soc, 0.2, 1e-9);
    /* At the floor the standby loss comes from the grid. */
    CHECK_NEAR(st.p_kw, 0.05 / 0.95, 1e-12);
    CHECK_NEAR(st.e_out_kwh, 10 * t_floor * KWS, 1e-7);
    CHECK_NEAR(mdl_battery_available_discharge_kw(m), 0, 0);
    CHECK_NEAR(imbalance(m, 5), 0, 1e-9);

    /* Charging leaves the floor; a new discharge reaches it again. */
    cmd(m, 5);
    adv(m, 3660, NULL, 0);
    CHECK(!state(m).at_floor, "left the floor");
    CHECK_NEAR(mdl_battery_available_discharge_kw(m), 10, 0);
    cmd(m, -10);
    CHECK_INT(adv(m, 3720, ev, 4), 1);
    CHECK_INT(ev[0].kind, MDL_STO_SOC_MIN);
    /* Back up: charged 60 s at 5 kW: 60*5*0.95 - 60*0.05 kWs stored, then
     * drained at `rate`. */
    double back = (60 * 5 * 0.95 - 60 * 0.05) * KWS;
    CHECK_NEAR(ev[0].t_s, 3660 + back / rate * 3600, 1e-3);
    mdl_sto_free(m);

    /* Ceiling: from 90 % to 95 % of 10 kWh at 10 kW x 0.95 - 0.05. */
    m = make(&p, 0.9);
    cmd(m, 10);
    CHECK_INT(adv(m, 600, ev, 4), 1);
    CHECK_INT(ev[0].kind, MDL_STO_SOC_MAX);
    CHECK_NEAR(ev[0].t_s, 0.5 / (9.5 - 0.05) * 3600, 1e-3);
    CHECK_NEAR(state(m).soc, 0.95, 1e-9);
    CHECK_NEAR(state(m).p_kw, 0.05 / 0.95, 1e-12); /* float charge */
    CHECK(state(m).at_ceiling, "at the ceiling");
    cmd(m, -3); /* discharge is still allowed at the ceiling */
    adv(m, 660, NULL, 0);
    CHECK_NEAR(state(m).p_kw, -3, 0);
    CHECK(!state(m).at_ceiling, "left the ceiling");
    CHECK_NEAR(imbalance(m, 9), 0, 1e-9);
    mdl_sto_free(m);
}

/* Six hours of irregular commands with latency, ramp, standby and both
 * limits reached: the books close. */
static void test_energy_balance(void)
{
    struct mdl_sto_params p;
    base_params(&p);
    p.capacity_kwh = 5;
    p.soc_min = 0.1;
    p.soc_max = 0.9;
    p.eta_charge = 0.93;
    p.eta_discharge = 0.91;
    p.standby_loss_kw = 0.2;
    p.ramp_kw_per_s = 0.5;
    p.latency_us = 3 * SIM_US_PER_S;
    mdl_sto *m = make(&p, 0.5);
    struct mdl_sto_event ev[8];
    int nmin = 0, nmax = 0;
    double lo = 1, hi = 0;
    for (int k = 0; k < 360; k++) {
        double c = 10 * sin(2 * M_PI * k / 37.0) + ((k / 50) % 2 ? 6 : -6);
        cmd(m, c);
        int n = adv(m, 60.0 * (k + 1), ev, 8);
        for (int i = 0; i < n && i < 8; i++)
            ev[i].kind == MDL_STO_SOC_MIN ? nmin++ : nmax++;
        struct mdl_sto_state st = state(m);
        lo = st.soc < lo ? st.soc : lo;
        hi = st.soc > hi ? st.soc : hi;
    }
    struct mdl_sto_state st = state(m);
    CHECK(nmin > 0 && nmax > 0, "both limits reached (%d floor, %d ceiling)", nmin, nmax);
    CHECK(lo >= 0.1 - 1e-9 && hi <= 0.9 + 1e-9, "SoC stayed in [%.12f, %.12f]", lo, hi);
    CHECK(st.e_in_kwh > 10 && st.e_out_kwh > 10, "energy moved (%g in, %g out)", st.e_in_kwh,
          st.e_out_kwh);
    CHECK_NEAR(imbalance(m, 2.5), 0, 1e-6);
    CHECK_NEAR(imbalance(m, 2.5), 0, 1e-9); /* in fact to round-off */
    mdl_sto_free(m);
}

static void test_bad_input(void)
{
    struct mdl_sto_params p;
    base_params(&p);
    p.soc_min = 0.5;
    p.soc_max = 0.4;
    struct sim_err err = {{0}};
    mdl_sto *m = NULL;
    CHECK_INT(mdl_battery_new(&p, 0.5, T0, 4, &m, &err), SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "soc_max");
    CHECK(m == NULL, "nothing returned");
    base_params(&p);
    CHECK_INT(mdl_battery_round_trip(0.81, &p), 0);
    CHECK_NEAR(p.eta_charge, 0.9, 1e-12);
    CHECK_INT(mdl_battery_round_trip(1.2, &p), SIM_EINVAL);
    m = make(&p, 0.5);
    adv(m, 10, NULL, 0);
    CHECK_INT(mdl_sto_advance(m, at_s(5), NULL, 0, NULL, &err), SIM_EINVAL);
    CHECK_INT(mdl_sto_command(m, NAN, 1, &err), SIM_EINVAL);
    mdl_sto_free(m);
}

/* ------------------------------------------------------------------ */
/* The component in a scenario                                         */
/* ------------------------------------------------------------------ */

struct seen {
    int sig_avg;     /* bess.p_avg_kw */
    sim_time_us t16; /* 16:01 sample checked on its own */
    double avg_1601, sum_avg_kwh;
    int n_min;
    sim_time_us t_min;
    double v_min;
    enum sim_severity sev;
    char msg[256];
};

static int on_event(void *ctx, sim_time_us t, const char *component, const char *kind,
                    enum sim_severity sev, double value, const char *message)
{
    struct seen *s = ctx;
    if (strcmp(component, "bess") == 0 && strcmp(kind, "soc_min") == 0) {
        s->n_min++;
        s->t_min = t;
        s->v_min = value;
        s->sev = sev;
        snprintf(s->msg, sizeof s->msg, "%s", message);
    }
    return 0;
}

/* Every step's 1-minute mean power, summed as energy. */
static int on_sample(void *ctx, sim_time_us t, const double *values, int n)
{
    struct seen *s = ctx;
    if (s->sig_avg < 0 || s->sig_avg >= n)
        return 0;
    s->sum_avg_kwh += values[s->sig_avg] / 60.0;
    if (t == s->t16 + SIM_US_PER_MIN)
        s->avg_1601 = values[s->sig_avg];
    return 0;
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

static void test_component(void)
{
    char dir[] = "/tmp/flexbed-test-battery-XXXXXX", scn[128], csv[128];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(scn, sizeof scn, "%s/bat.json", dir);
    snprintf(csv, sizeof csv, "%s/dispatch.csv", dir);
    /* The demo's setpoint: -10 kW from 16:00 to 16:45 local time. */
    write_file(csv, "time,p_kw\n"
                    "2023-10-02T15:00:00+03:00,0\n"
                    "2023-10-02T16:00:00+03:00,-10\n"
                    "2023-10-02T16:45:00+03:00,0\n");
    write_file(scn, "{\"name\": \"bat\", \"start\": \"2023-10-02T15:50:00+03:00\",\n"
                    " \"end\": \"2023-10-02T17:00:00+03:00\", \"step\": \"1min\",\n"
                    " \"components\": [\n"
                    "  {\"name\": \"dispatch\", \"type\": \"profile\",\n"
                    "   \"series\": {\"file\": \"dispatch.csv\", \"value_column\": \"p_kw\",\n"
                    "              \"mode\": \"hold\"}},\n"
                    "  {\"name\": \"bess\", \"type\": \"battery\", \"capacity_kwh\": 10,\n"
                    "   \"p_charge_max_kw\": 10, \"p_discharge_max_kw\": 10,\n"
                    "   \"soc_initial\": 0.5, \"soc_min\": 0.2, \"eta_charge\": 0.95,\n"
                    "   \"eta_discharge\": 0.95, \"latency\": \"2s\", \"ramp_kw_per_s\": 1,\n"
                    "   \"setpoint\": \"dispatch.p_kw\"}]}\n");
    struct scn_type reg_types[2] = {mdl_profile_type, mdl_battery_type};
    struct scn_registry reg = {reg_types, 2, NULL, 0};
    sim_kernel *k = NULL;
    struct scn_scenario sc = {0};
    struct sim_err err = {{0}};
    int rc = scn_load(scn, &reg, NULL, NULL, &k, &sc, &err);
    CHECK(rc == 0, "scn_load: %s", err.msg);
    if (rc == 0) {
        struct seen seen = {0};
        struct sim_hooks hooks = {.ctx = &seen, .event = on_event, .sample = on_sample};
        sim_time_us t16;
        sim_time_parse("2023-10-02T16:00:00+03:00", &t16, NULL);
        seen.t16 = t16;
        sim_kernel_set_hooks(k, &hooks);
        rc = sim_kernel_init(k, &err);
        CHECK(rc == 0, "init: %s", err.msg);
        seen.sig_avg = sim_bus_find(k, "bess.p_avg_kw");
        CHECK(seen.sig_avg >= 0, "p_avg_kw published");
        rc = rc ? rc : sim_kernel_run(k, &err);
        CHECK(rc == 0, "run: %s", err.msg);
        /* Effect at 16:00:02, ramp to -10 kW by 16:00:12 (50 kWs), then
         * 3 kWh of cells at 10 / 0.95 kW: (10800 * 0.95 - 50) / 10 s more. */
        sim_time_us expect = t16 + (12 + 1021) * SIM_US_PER_S;
        CHECK_INT(seen.n_min, 1);
        CHECK(llabs(seen.t_min - expect) <= 1, "soc_min event at %+lld us from the analytic time",
              (long long)(seen.t_min - expect));
        CHECK_INT(seen.sev, SIM_WARNING);
        CHECK_NEAR(seen.v_min, 0.2, 1e-9);
        CHECK_STR_CONTAINS(seen.msg, "16:17:13");
        int sig_out = sim_bus_find(k, "bess.e_out_kwh"), sig_soc = sim_bus_find(k, "bess.soc");
        int sig_sp = sim_bus_find(k, "bess.setpoint_kw");
        CHECK(sig_out >= 0 && sig_soc >= 0 && sig_sp >= 0, "signals published");
        CHECK_NEAR(sim_bus_get(k, sig_out), 10260 * KWS, 1e-7);
        CHECK_NEAR(sim_bus_get(k, sig_soc), 0.2, 1e-9);
        /* The 16:00-16:01 mean: 2 s idle, the 10 s ramp, 48 s at 10 kW. */
        CHECK_NEAR(seen.avg_1601, -(50 + 480) / 60.0, 1e-6);
        CHECK_NEAR(seen.sum_avg_kwh, -10260 * KWS, 1e-7);
        CHECK_NEAR(sim_bus_get(k, sig_sp), 0, 0);
        CHECK(strcmp(sim_bus_unit(k, sig_soc), "1") == 0, "soc is a fraction");
    }
    sim_kernel_free(k);
    scn_scenario_clear(&sc);
    unlink(scn);
    unlink(csv);
    rmdir(dir);
}

int main(void)
{
    sim_time_parse("2023-10-02T16:00:00+03:00", &T0, NULL);
    test_constant_discharge();
    test_latency();
    test_ramp();
    test_soc_limits();
    test_energy_balance();
    test_bad_input();
    test_component();
    return check_done("test_battery");
}
