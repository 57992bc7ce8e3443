/*
 * ocpp_cp_ev.c: the V2G EV model behind an emulated OCPP charge point, and
 * the `flexbed emulate charger` command that runs it.
 *
 * The device maps the charge point's monotonic clock to model time
 * (start + speed * elapsed wall time), plugs the car in and out at its
 * arrival and departure, integrates it with the EV model (models/ev.h:
 * CVODE, limits, quantisation, V2G floor) and answers the charge point's
 * limit changes: no limit lets the EV's policy charge to its target; a
 * limit is followed as a signed setpoint (negative: discharge), which is
 * exactly what the "ev" component does with a non-zero setpoint in a
 * simulated run, so an asset behaves alike on both backends.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hil_ocpp.h"

struct hil_ocpp_ev_device {
    struct hil_ocpp_ev_params p;
    mdl_ev *m;
    int started, connected, arrived;
    int64_t mono0;
    int has_limit;
    double limit_w;
};

void hil_ocpp_ev_params_default(struct hil_ocpp_ev_params *p)
{
    memset(p, 0, sizeof *p);
    mdl_ev_params_default(&p->ev);
    p->ev.sto.capacity_kwh = 60;
    p->ev.sto.p_charge_max_kw = 11;
    p->ev.sto.p_discharge_max_kw = 11;
    p->ev.sto.soc_min = 0.2;
    p->speed = 1;
    p->arrival = INT64_MIN;
    p->departure = SIM_TIME_NEVER;
    p->soc_arrival = 0.5;
}

int hil_ocpp_ev_device_new(const struct hil_ocpp_ev_params *p, hil_ocpp_ev_device **out,
                           struct sim_err *err)
{
    *out = NULL;
    if (!(p->speed > 0) || !(p->soc_arrival >= 0 && p->soc_arrival <= 1) ||
        p->departure <= p->arrival)
        return sim_errf(err, SIM_EINVAL, "ev: speed, soc_arrival or departure out of range");
    hil_ocpp_ev_device *d = calloc(1, sizeof *d);
    if (!d)
        return sim_errf(err, SIM_ENOMEM, "ev: out of memory");
    d->p = *p;
    if (!d->p.start) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        d->p.start = (int64_t)ts.tv_sec * SIM_US_PER_S;
    }
    /* Limits change rarely (a profile per market decision); 64 pending
     * commands cover any latency the scenario may give. */
    int rc = mdl_ev_new(&d->p.ev, d->p.start, 64, &d->m, err);
    if (rc) {
        free(d);
        return rc;
    }
    *out = d;
    return 0;
}

void hil_ocpp_ev_device_free(hil_ocpp_ev_device *d)
{
    if (!d)
        return;
    mdl_ev_free(d->m);
    free(d);
}

void hil_ocpp_ev_device_state(const hil_ocpp_ev_device *d, struct mdl_sto_state *st)
{
    mdl_ev_state(d->m, st);
}

static sim_time_us model_time(const hil_ocpp_ev_device *d, int64_t mono)
{
    return d->p.start + (sim_time_us)((double)(mono - d->mono0) * d->p.speed);
}

static int64_t ev_clock(void *self, int64_t mono)
{
    hil_ocpp_ev_device *d = self;
    return d->started ? model_time(d, mono) : d->p.start;
}

static int command(hil_ocpp_ev_device *d, struct sim_err *err)
{
    /* A zero limit must pause: the AUTO policy would read a zero setpoint
     * as "charge on your own account", so ask for a vanishing power that
     * quantisation turns into 0 W. */
    double kw = d->limit_w / 1000.0;
    if (d->has_limit && kw == 0)
        kw = 1e-9;
    return mdl_ev_command(d->m, d->has_limit, d->has_limit ? kw : 0.0, err);
}

/* Advance the model to model time t, plugging in and out on the way. */
static int advance(hil_ocpp_ev_device *d, sim_time_us t, struct sim_err *err)
{
    for (;;) {
        struct mdl_sto_state st;
        mdl_ev_state(d->m, &st);
        if (!d->arrived && d->p.arrival <= st.t) {
            mdl_ev_arrive(d->m, d->p.soc_arrival);
            d->arrived = d->connected = 1;
            int rc = command(d, err);
            if (rc)
                return rc;
            continue;
        }
        if (d->connected && d->p.departure <= st.t) {
            mdl_ev_depart(d->m);
            d->connected = 0;
            continue;
        }
        if (st.t >= t)
            return 0;
        sim_time_us change = !d->arrived    ? d->p.arrival
                             : d->connected ? d->p.departure
                                            : SIM_TIME_NEVER;
        sim_time_us to = change < t ? change : t;
        struct mdl_sto_event ev[8];
        int n = 0, rc = mdl_ev_advance(d->m, to, ev, 8, &n, err);
        if (rc)
            return rc;
    }
}

static int ev_sample(void *self, int64_t mono, struct hil_ocpp_meter *m, struct sim_err *err)
{
    hil_ocpp_ev_device *d = self;
    if (!d->started) {
        d->started = 1;
        d->mono0 = mono;
    }
    int rc = advance(d, model_time(d, mono), err);
    if (rc)
        return rc;
    struct mdl_sto_state st;
    mdl_ev_state(d->m, &st);
    m->plugged = d->connected;
    m->p_w = st.p_kw * 1000.0;
    m->e_import_wh = st.e_in_kwh * 1000.0;
    m->e_export_wh = st.e_out_kwh * 1000.0;
    m->soc_pct = d->connected ? 100.0 * st.soc : NAN;
    return 0;
}

static int ev_set_limit(void *self, int64_t mono, int has_limit, double limit_w,
                        struct sim_err *err)
{
    hil_ocpp_ev_device *d = self;
    if (d->started) {
        int rc = advance(d, model_time(d, mono), err);
        if (rc)
            return rc;
    }
    d->has_limit = has_limit;
    d->limit_w = has_limit ? limit_w : 0;
    return command(d, err);
}

void hil_ocpp_ev_device_ops(hil_ocpp_ev_device *d, struct hil_ocpp_cp_device *ops)
{
    memset(ops, 0, sizeof *ops);
    ops->self = d;
    ops->sample = ev_sample;
    ops->set_limit = ev_set_limit;
    ops->clock = ev_clock;
}

/* ------------------------------------------------------------------ */
/* flexbed emulate charger                                             */
/* ------------------------------------------------------------------ */

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void usage(FILE *f)
{
    fputs("usage: flexbed emulate charger --url ws://HOST:PORT/ocpp/ID [options]\n"
          "\n"
          "Runs flexbed's V2G EV model as an OCPP 1.6J charge point: boots, reports\n"
          "status, starts a transaction when the car is plugged in, sends MeterValues,\n"
          "obeys charging profiles (a negative limit in W discharges), reconnects.\n"
          "\n"
          "connection:\n"
          "  --url URL               central system, last path segment = charge point id\n"
          "  --password P            Basic authentication (security profile 1), user = id\n"
          "  --meter-interval DUR    MeterValueSampleInterval, wall time (10s)\n"
          "  --heartbeat DUR         heartbeat until the central system sets one (300s)\n"
          "  --vendor S --model S --id-tag S\n"
          "  --ignore-profiles       accept charging profiles but never apply them\n"
          "car and charger (models/ev.h):\n"
          "  --capacity-kwh X (60)   --p-charge-max-kw X (11)   --p-discharge-max-kw X (11)\n"
          "  --soc X (0.5, on arrival)  --soc-target X (0.8)  --soc-min-discharge X (0.2)\n"
          "  --soc-max X (1)  --efficiency X (0.92)  --phases 1|3 (3)  --voltage-v X (230)\n"
          "  --granularity watts|amps (watts)  --min-current-a X (6)\n"
          "  --ramp-kw-per-s X (0)   --latency DUR (0s)\n"
          "time:\n"
          "  --start TIME            model time at start, ISO 8601 with offset (now)\n"
          "  --speed X               model seconds per wall second (1)\n"
          "  --arrival TIME          car plugs in (at start)\n"
          "  --departure TIME        car leaves (never)\n"
          "  --duration DUR          stop after this much wall time (run until Ctrl-C)\n"
          "  --quiet                 print nothing but errors\n",
          f);
}

static int num_arg(const char *opt, const char *v, double lo, double hi, double *out)
{
    char *end = NULL;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || errno || !(x >= lo && x <= hi)) {
        fprintf(stderr, "flexbed emulate charger: %s: expected a number in [%g, %g], got \"%s\"\n",
                opt, lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

static int time_arg(const char *opt, const char *v, sim_time_us *out)
{
    if (sim_time_parse(v, out, NULL) != 0) {
        fprintf(stderr,
                "flexbed emulate charger: %s: expected an ISO 8601 time with offset, got \"%s\"\n",
                opt, v);
        return -1;
    }
    return 0;
}

static int dur_arg(const char *opt, const char *v, sim_time_us *out)
{
    if (sim_duration_parse(v, out) != 0) {
        fprintf(stderr, "flexbed emulate charger: %s: expected a duration (\"10s\"), got \"%s\"\n",
                opt, v);
        return -1;
    }
    return 0;
}

static void print_event(const struct hil_ocpp_event *e)
{
    char t[48];
    sim_time_format(e->wall_us - e->wall_us % 1000, 0, t, sizeof t);
    printf("%s %s %s: %s\n", t, e->cp_id, e->kind, e->text);
}

int hil_emulate_charger(int argc, char **argv)
{
    struct hil_ocpp_ev_params ep;
    hil_ocpp_ev_params_default(&ep);
    struct hil_ocpp_cp_config cc;
    hil_ocpp_cp_config_default(&cc);
    sim_time_us duration = 0, arrival = INT64_MIN;
    int quiet = 0, have_arrival = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(o, "--ignore-profiles")) {
            cc.ignore_profiles = 1;
            continue;
        }
        if (!strcmp(o, "--quiet")) {
            quiet = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "flexbed emulate charger: %s: missing value (or unknown option)\n", o);
            usage(stderr);
            return 2;
        }
        const char *v = argv[++i];
        double x = 0;
        sim_time_us d = 0;
        int bad = 0;
        struct mdl_sto_params *s = &ep.ev.sto;
        if (!strcmp(o, "--url"))
            cc.url = v;
        else if (!strcmp(o, "--password"))
            cc.password = v;
        else if (!strcmp(o, "--vendor"))
            cc.vendor = v;
        else if (!strcmp(o, "--model"))
            cc.model = v;
        else if (!strcmp(o, "--id-tag"))
            cc.id_tag = v;
        else if (!strcmp(o, "--meter-interval")) {
            bad = dur_arg(o, v, &d);
            cc.meter_interval_ms = (int)(d / 1000);
        } else if (!strcmp(o, "--heartbeat")) {
            bad = dur_arg(o, v, &d);
            if (!bad && d < SIM_US_PER_S)
                bad = 1;
            cc.heartbeat_interval_s = (int)(d / SIM_US_PER_S);
        } else if (!strcmp(o, "--duration"))
            bad = dur_arg(o, v, &duration);
        else if (!strcmp(o, "--start"))
            bad = time_arg(o, v, &ep.start);
        else if (!strcmp(o, "--arrival")) {
            bad = time_arg(o, v, &arrival);
            have_arrival = 1;
        } else if (!strcmp(o, "--departure"))
            bad = time_arg(o, v, &ep.departure);
        else if (!strcmp(o, "--latency"))
            bad = dur_arg(o, v, &s->latency_us);
        else if (!strcmp(o, "--speed"))
            bad = num_arg(o, v, 1e-3, 1e6, &ep.speed);
        else if (!strcmp(o, "--capacity-kwh"))
            bad = num_arg(o, v, 0.1, 1e4, &s->capacity_kwh);
        else if (!strcmp(o, "--p-charge-max-kw"))
            bad = num_arg(o, v, 0, 1e4, &s->p_charge_max_kw);
        else if (!strcmp(o, "--p-discharge-max-kw"))
            bad = num_arg(o, v, 0, 1e4, &s->p_discharge_max_kw);
        else if (!strcmp(o, "--soc"))
            bad = num_arg(o, v, 0, 1, &ep.soc_arrival);
        else if (!strcmp(o, "--soc-target"))
            bad = num_arg(o, v, 0, 1, &ep.ev.soc_target);
        else if (!strcmp(o, "--soc-min-discharge"))
            bad = num_arg(o, v, 0, 1, &s->soc_min);
        else if (!strcmp(o, "--soc-max"))
            bad = num_arg(o, v, 0, 1, &s->soc_max);
        else if (!strcmp(o, "--efficiency")) {
            bad = num_arg(o, v, 0.01, 1, &x);
            s->eta_charge = s->eta_discharge = x;
        } else if (!strcmp(o, "--phases")) {
            bad = num_arg(o, v, 1, 3, &x);
            if (!bad && x != 1 && x != 3)
                bad = 1;
            ep.ev.phases = cc.phases = (int)x;
        } else if (!strcmp(o, "--voltage-v")) {
            bad = num_arg(o, v, 1, 1000, &ep.ev.voltage_v);
            cc.voltage_v = ep.ev.voltage_v;
        } else if (!strcmp(o, "--min-current-a"))
            bad = num_arg(o, v, 0, 1000, &ep.ev.min_current_a);
        else if (!strcmp(o, "--ramp-kw-per-s"))
            bad = num_arg(o, v, 0, 1e6, &s->ramp_kw_per_s);
        else if (!strcmp(o, "--granularity")) {
            if (!strcmp(v, "watts"))
                ep.ev.granularity = MDL_EV_WATTS;
            else if (!strcmp(v, "amps"))
                ep.ev.granularity = MDL_EV_AMPS;
            else
                bad = 1;
        } else {
            fprintf(stderr, "flexbed emulate charger: unknown option %s\n", o);
            usage(stderr);
            return 2;
        }
        /* bad < 0: the helper said why already. */
        if (bad > 0)
            fprintf(stderr, "flexbed emulate charger: %s: bad value \"%s\"\n", o, v);
        if (bad)
            return 2;
    }
    if (!cc.url) {
        fprintf(stderr, "flexbed emulate charger: --url is required\n");
        usage(stderr);
        return 2;
    }
    if (have_arrival)
        ep.arrival = arrival;
    const char *bad = mdl_ev_params_invalid(&ep.ev);
    if (bad) {
        fprintf(stderr, "flexbed emulate charger: %s out of range\n", bad);
        return 2;
    }
    struct sim_err err = {{0}};
    hil_ocpp_ev_device *dev = NULL;
    hil_ocpp_cp_pool *pool = NULL;
    struct hil_ocpp_cp_device ops;
    int rc = hil_ocpp_ev_device_new(&ep, &dev, &err);
    if (!rc)
        rc = hil_ocpp_cp_pool_new(NULL, &pool, &err);
    if (!rc) {
        hil_ocpp_ev_device_ops(dev, &ops);
        rc = hil_ocpp_cp_add(pool, &cc, &ops, NULL, &err);
    }
    if (rc) {
        fprintf(stderr, "flexbed emulate charger: %s\n", err.msg);
        hil_ocpp_cp_pool_free(pool);
        hil_ocpp_ev_device_free(dev);
        return rc == SIM_EINVAL ? 2 : 1;
    }
    if (!quiet)
        printf("emulating charge point at %s (speed %gx); Ctrl-C stops\n", cc.url, ep.speed);
    fflush(stdout);
    stop_flag = 0;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int status = 0;
    while (!stop_flag) {
        if (hil_ocpp_cp_pool_service(pool, &err) != 0) {
            fprintf(stderr, "flexbed emulate charger: %s\n", err.msg);
            status = 1;
            break;
        }
        struct hil_ocpp_event e;
        while (hil_ocpp_cp_next_event(pool, &e))
            if (!quiet)
                print_event(&e);
        fflush(stdout);
        clock_gettime(CLOCK_MONOTONIC, &t);
        int64_t el =
            (int64_t)(t.tv_sec - t0.tv_sec) * SIM_US_PER_S + (t.tv_nsec - t0.tv_nsec) / 1000;
        if (duration > 0 && el >= duration)
            break;
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (!quiet) {
        struct mdl_sto_state st;
        hil_ocpp_ev_device_state(dev, &st);
        printf("stopped: SoC %.1f %%, charged %.3f kWh, discharged %.3f kWh\n", 100 * st.soc,
               st.e_in_kwh, st.e_out_kwh);
    }
    hil_ocpp_cp_pool_free(pool);
    hil_ocpp_ev_device_free(dev);
    return status;
}
