/*
 * feeder_component.c: the "feeder" scenario component, the LV feeder power
 * flow (models/feeder/) on the kernel.
 *
 * At create time it reads the circuit from its OpenDSS Master.dss and, for
 * every scenario connection, adds one constant-power load element to it at
 * the connection point (a bus and phases, or the bus and phases of a named
 * load): the circuit is read twice, once to learn the buses' voltage bases
 * and the loads' points, then again from a generated text that redirects to
 * the Master file and appends those elements. Everything the solver needs
 * is allocated then. At each scenario step it sets the circuit's own loads
 * from their LoadShapes (optional), sets each connection element to its
 * component's "<name>.p_kw" (and "<name>.q_kvar" when that component
 * publishes one), solves, and publishes the transformer's per-phase and
 * total power, loading, losses, voltage extremes, the worst line loading
 * and the voltages of the buses the scenario records. Limit crossings are
 * logged as events (see docs/models.md, "Feeder component").
 *
 * The step never allocates. A solve that fails is an alarm, not a failed
 * run: the published values stay those of the last solution, `converged`
 * goes to 0 and `iterations` to -1. Only if the failed iterate is no longer
 * finite (the next solve could not recover from it) is the solver rebuilt
 * from a flat start, the one allocation after set-up, on that path only.
 *
 * The transformer's rating and the loads' connection points are not in the
 * public feeder API (feeder.h); they are read from the library's private
 * definitions (feeder/feeder_impl.h), read-only and at create time only.
 */
#include <complex.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gsl/gsl_rng.h>

#include "feeder/feeder.h"
#include "feeder/feeder_impl.h"
#include "models.h"

#define ORIGIN_MAX (SCN_PATH_MAX + 600)
#define EVENTS_PER_STEP 10 /* named limit events per kind and step, then one summary */
#define CONN_PREFIX "flexbed_conn_"

static const char phase_letter[4] = {'?', 'a', 'b', 'c'};

/* One scenario connection: a component's power at a point of the circuit. */
struct conn {
    char comp[SCN_PATH_MAX]; /* component name, or a full p signal name (has a dot) */
    int p_ref;               /* read reference of the p signal */
    int q_sig;               /* "<comp>.q_kvar", -1 when not published (resolved at init) */
    int load;                /* the load element added for it */
    int warned;              /* non-finite input already reported */
    /* connection point, as parsed */
    int bus;         /* bus index in the first circuit, or -1 */
    int src_load;    /* load index in the first circuit, or -1 */
    int replaces;    /* src_load is a Generator / PVSystem / Storage it stands in for */
    unsigned phases; /* bit p-1: phase p (bus connections) */
};

/* One recorded bus-phase voltage. */
struct vrec {
    int bus, phase, sig;
};

struct feeder {
    sim_kernel *k;
    int id;
    /* loadshape_diversity: per-load shape shifts and scales drawn at init
     * from this component's random stream */
    sim_time_us div_shift;
    double div_scale;
    fdr_circuit *c;
    fdr_solver *s;
    struct fdr_warnings warn;
    sim_time_us start;
    int use_shapes;
    /* The load shapes' calendar: a daily shape by the time of day, a
     * yearly one by the time since 1 January 00:00 of the run's year, on
     * the scenario's local clock (or UTC), less shape_day_start. */
    struct sim_tz tz;
    long long year;
    sim_time_us shape_day_start;
    double tol;
    int max_iter;
    int time_controls; /* "controls": "time": fdr_solve_time at the step's time */
    int xf;            /* transformer index */
    double i_rated;    /* LV rated current, A */
    double v_lo, v_hi; /* voltage limits, pu */
    double line_limit_pct;
    double *line_inv_r2;      /* per line: 1 / rating^2, A^-2 */
    unsigned char *line_over; /* per line: above the loading limit */
    unsigned char *line_nph;  /* per line: its phases (read every step: kept
                                 compact, not in the circuit's line records) */
    signed char *vstate;      /* per bus and phase: -1 low, 0 normal, 1 high */
    int nconn;
    struct conn *conn;
    int nrec;
    struct vrec *rec;
    int nlrec;      /* recorded lines */
    int *lrec_line; /* line index of each */
    int *lrec_sig;  /* 4 signals each: i_a, i_b, i_c (A), loading (%) */
    int sig_p[3], sig_q[3], sig_pt, sig_qt, sig_s, sig_loading, sig_loss, sig_phv, sig_loads,
        sig_it, sig_conv, sig_vmin, sig_vmax, sig_line;
    int nreg, ncc;    /* regulators (RegControl) and capacitor controls */
    int *reg_sig;     /* per regulator: tap_<name>_pu */
    double *reg_last; /* ... its tap at the last published step */
    int *cc_sig;      /* per CapControl: cap_<name>_steps */
    int *cc_last;     /* ... its steps in service then */
    int failing;      /* steps failed in a row */
    int told;         /* parser warnings logged (first step: hooks are set after init) */
    int xfmr_over;    /* transformer above 100 % */
};

static void feeder_destroy(void *self)
{
    struct feeder *f = self;
    if (!f)
        return;
    fdr_solver_free(f->s);
    fdr_circuit_free(f->c);
    fdr_warnings_free(&f->warn);
    sim_tz_clear(&f->tz);
    free(f->line_inv_r2);
    free(f->line_over);
    free(f->line_nph);
    free(f->vstate);
    free(f->conn);
    free(f->rec);
    free(f->lrec_line);
    free(f->lrec_sig);
    free(f->reg_sig);
    free(f->reg_last);
    free(f->cc_sig);
    free(f->cc_last);
    free(f);
}

/* ------------------------------------------------------------------ */
/* Results of one solve                                                */
/* ------------------------------------------------------------------ */

static double cabs2(double complex z)
{
    return creal(z) * creal(z) + cimag(z) * cimag(z);
}

/* Limit events of one kind in one step: logged by name, then only counted. */
struct evcount {
    int logged, more;
};

/* Publish the solution; with `events`, log the limit crossings too. */
static void publish(struct feeder *f, int iterations, int events)
{
    sim_kernel *k = f->k;
    const fdr_circuit *c = f->c;
    const fdr_solver *s = f->s;

    /* Transformer, LV side: power delivered into the feeder per phase. */
    double pt = 0, qt = 0, imax2 = 0;
    for (int ph = 1; ph <= 3; ph++) {
        double p, q;
        fdr_xfmr_pq(s, f->xf, 2, ph, &p, &q);
        sim_bus_set(k, f->sig_p[ph - 1], -p);
        sim_bus_set(k, f->sig_q[ph - 1], -q);
        pt -= p;
        qt -= q;
        double i2 = cabs2(fdr_xfmr_i(s, f->xf, 2, ph));
        if (i2 > imax2)
            imax2 = i2;
    }
    double loading = 100.0 * sqrt(imax2) / f->i_rated;
    double php = 0;
    for (int ph = 1; ph <= 3; ph++) {
        double p;
        fdr_xfmr_pq(s, f->xf, 1, ph, &p, NULL);
        php += p;
    }
    double loads = 0;
    for (int i = 0; i < fdr_load_count(c); i++) {
        double p;
        fdr_load_pq(s, i, &p, NULL);
        loads += p;
    }
    struct fdr_losses lo;
    fdr_losses(s, &lo);
    sim_bus_set(k, f->sig_pt, pt);
    sim_bus_set(k, f->sig_qt, qt);
    sim_bus_set(k, f->sig_s, hypot(pt, qt));
    sim_bus_set(k, f->sig_loading, loading);
    sim_bus_set(k, f->sig_loss, lo.total_kw);
    sim_bus_set(k, f->sig_phv, php);
    sim_bus_set(k, f->sig_loads, loads);
    sim_bus_set(k, f->sig_it, iterations);
    sim_bus_set(k, f->sig_conv, 1);

    /* regulator taps and switched capacitors: signals, and an event per
     * change (tap changes and switchings inside a time series) */
    for (int r = 0; r < f->nreg; r++) {
        double tap = fdr_regulator_tap(s, r);
        sim_bus_set(k, f->reg_sig[r], tap);
        if (events && tap != f->reg_last[r] && !isnan(f->reg_last[r]))
            sim_log(k, f->id, "tap_change", SIM_INFO, tap, "regulator %s: tap %.5f -> %.5f",
                    fdr_regulator_name(c, r), f->reg_last[r], tap);
        f->reg_last[r] = tap;
    }
    for (int i = 0; i < f->ncc; i++) {
        int st = fdr_capcontrol_steps(s, i);
        sim_bus_set(k, f->cc_sig[i], st);
        if (events && st != f->cc_last[i] && f->cc_last[i] >= 0)
            sim_log(k, f->id, "cap_switch", SIM_INFO, st,
                    "capacitor control %s: %d -> %d steps in service", fdr_capcontrol_name(c, i),
                    f->cc_last[i], st);
        f->cc_last[i] = st;
    }

    if (events) {
        if (loading > 100.0 && !f->xfmr_over)
            sim_log(k, f->id, "xfmr_overload", SIM_WARNING, loading,
                    "transformer %s loaded to %.1f %% of its rated current (%.0f A)",
                    fdr_xfmr_name(c, f->xf), loading, f->i_rated);
        f->xfmr_over = loading > 100.0;
    }

    /* Every bus phase: extremes and EN 50160-style limit crossings. */
    double vmin2 = HUGE_VAL, vmax2 = 0;
    const double lo2 = f->v_lo * f->v_lo, hi2 = f->v_hi * f->v_hi;
    struct evcount low = {0, 0}, high = {0, 0};
    for (int b = 0; b < fdr_bus_count(c); b++) {
        /* a dead bus (behind an open switch) is not a voltage problem */
        unsigned mask = fdr_bus_energised(c, b) ? fdr_bus_phases(c, b) : 0u;
        for (int ph = 1; ph <= 3; ph++) {
            if (!(mask & (1u << (ph - 1))))
                continue;
            double v2 = cabs2(fdr_bus_v_pu(s, b, ph));
            if (v2 < vmin2)
                vmin2 = v2;
            if (v2 > vmax2)
                vmax2 = v2;
            if (!events)
                continue;
            signed char st = v2 < lo2 ? -1 : v2 > hi2 ? 1 : 0;
            signed char *old = &f->vstate[3 * b + ph - 1];
            if (st != 0 && st != *old) {
                struct evcount *ec = st < 0 ? &low : &high;
                if (ec->logged < EVENTS_PER_STEP) {
                    double v = sqrt(v2);
                    sim_log(k, f->id, st < 0 ? "voltage_low" : "voltage_high", SIM_WARNING, v,
                            "bus %s phase %c: %.4f pu, %s the limit %.3f pu", fdr_bus_name(c, b),
                            phase_letter[ph], v, st < 0 ? "below" : "above",
                            st < 0 ? f->v_lo : f->v_hi);
                    ec->logged++;
                } else {
                    ec->more++;
                }
            }
            *old = st;
        }
    }
    if (low.more)
        sim_log(k, f->id, "voltage_low", SIM_WARNING, low.more,
                "and %d more bus phases went below %.3f pu in this step", low.more, f->v_lo);
    if (high.more)
        sim_log(k, f->id, "voltage_high", SIM_WARNING, high.more,
                "and %d more bus phases went above %.3f pu in this step", high.more, f->v_hi);
    sim_bus_set(k, f->sig_vmin, vmin2 == HUGE_VAL ? 0 : sqrt(vmin2));
    sim_bus_set(k, f->sig_vmax, sqrt(vmax2));

    /* Lines: the largest conductor current at terminal 1 over the rating. */
    double worst2 = 0;
    const double lim = f->line_limit_pct / 100.0, lim2 = lim * lim;
    struct evcount over = {0, 0};
    for (int l = 0; l < fdr_line_count(c); l++) {
        double i2 = 0;
        for (int m = 1, nph = f->line_nph[l]; m <= nph; m++) {
            double a = cabs2(fdr_line_i(s, l, 1, m));
            if (a > i2)
                i2 = a;
        }
        double r2 = i2 * f->line_inv_r2[l]; /* (loading as a fraction)^2 */
        if (r2 > worst2)
            worst2 = r2;
        if (!events)
            continue;
        int is_over = r2 > lim2;
        if (is_over && !f->line_over[l]) {
            if (over.logged < EVENTS_PER_STEP) {
                double pct = 100.0 * sqrt(r2);
                sim_log(k, f->id, "line_overload", SIM_WARNING, pct,
                        "line %s at %.1f %% of its rating (%.0f A), limit %.0f %%",
                        fdr_line_name(c, l), pct, 1.0 / sqrt(f->line_inv_r2[l]), f->line_limit_pct);
                over.logged++;
            } else {
                over.more++;
            }
        }
        f->line_over[l] = (unsigned char)is_over;
    }
    if (over.more)
        sim_log(k, f->id, "line_overload", SIM_WARNING, over.more,
                "and %d more lines went above %.0f %% of their rating in this step", over.more,
                f->line_limit_pct);
    sim_bus_set(k, f->sig_line, 100.0 * sqrt(worst2));

    for (int i = 0; i < f->nrec; i++)
        sim_bus_set(k, f->rec[i].sig, sqrt(cabs2(fdr_bus_v_pu(s, f->rec[i].bus, f->rec[i].phase))));
    for (int i = 0; i < f->nlrec; i++) {
        int l = f->lrec_line[i];
        double i2max = 0;
        for (int m = 1; m <= 3; m++) {
            double a2 = m <= f->line_nph[l] ? cabs2(fdr_line_i(s, l, 1, m)) : 0;
            if (a2 > i2max)
                i2max = a2;
            sim_bus_set(k, f->lrec_sig[4 * i + m - 1], sqrt(a2));
        }
        sim_bus_set(k, f->lrec_sig[4 * i + 3], 100.0 * sqrt(i2max * f->line_inv_r2[l]));
    }
}

/* ------------------------------------------------------------------ */
/* Kernel callbacks                                                    */
/* ------------------------------------------------------------------ */

/* Set every demand for time now: the circuit's shapes, then the assets. */
static void set_demands(struct feeder *f, sim_time_us now)
{
    if (f->use_shapes) {
        double mod, moy;
        sim_tz_minutes(&f->tz, now - f->shape_day_start, f->year, &mod, &moy);
        fdr_apply_loadshapes(f->s, moy, mod);
    }
    for (int i = 0; i < f->nconn; i++) {
        struct conn *cn = &f->conn[i];
        double p = sim_bus_get_ref(f->k, cn->p_ref);
        double q = cn->q_sig >= 0 ? sim_bus_get(f->k, cn->q_sig) : 0.0;
        if (!isfinite(p) || !isfinite(q)) {
            if (!cn->warned)
                sim_log(f->k, f->id, "bad_input", SIM_WARNING, 0,
                        "%s: power is not a number (p %g kW, q %g kvar); taken as 0 while it "
                        "lasts",
                        cn->comp, p, q);
            cn->warned = 1;
            p = q = 0;
        }
        fdr_set_load(f->s, cn->load, p, q);
    }
}

/* After a failed solve: is the iterate still a usable starting point? */
static int solver_finite(const struct feeder *f)
{
    for (int b = 0; b < fdr_bus_count(f->c); b++)
        for (int ph = 1; ph <= 3; ph++)
            if (!isfinite(cabs2(fdr_bus_v(f->s, b, ph))))
                return 0;
    return 1;
}

static int feeder_step(void *self, sim_kernel *k, sim_time_us now, struct sim_err *err)
{
    struct feeder *f = self;
    if (!f->told) {
        for (size_t i = 0; i < f->warn.count; i++)
            sim_log(k, f->id, "dss_skipped", SIM_INFO, 0, "%s", f->warn.msg[i]);
        f->told = 1;
    }
    set_demands(f, now);
    int it = 0;
    struct sim_err serr = {{0}};
    int rc = f->time_controls
                 ? fdr_solve_time(f->s, (double)(now - f->start) / SIM_US_PER_S, &it, &serr)
                 : fdr_solve(f->s, &it, &serr);
    if (rc == 0) {
        if (f->failing)
            sim_log(k, f->id, "converged", SIM_INFO, f->failing,
                    "power flow converged again (%d sweeps) after %d failed steps", it, f->failing);
        f->failing = 0;
        publish(f, it, 1);
        return 0;
    }
    /* Not converged: hold the last solution's values, flag the step. */
    if (!f->failing)
        sim_log(k, f->id, "no_convergence", SIM_ALARM, it,
                "%s; the values of the last solution are held", serr.msg);
    f->failing++;
    sim_bus_set(k, f->sig_it, -1);
    sim_bus_set(k, f->sig_conv, 0);
    if (!solver_finite(f)) {
        fdr_solver_free(f->s);
        f->s = fdr_solver_new(f->c, err);
        if (!f->s)
            return SIM_ENOMEM;
        fdr_solver_set_tolerance(f->s, f->tol, f->max_iter);
    }
    return 0;
}

static int feeder_init(void *self, sim_kernel *k, struct sim_err *err)
{
    struct feeder *f = self;
    /* q of a connected component: read only if that component publishes
     * it. It has the p signal's owner, so the p read's ordering edge
     * already makes it written before this component steps. */
    for (int i = 0; i < f->nconn; i++) {
        struct conn *cn = &f->conn[i];
        cn->q_sig = -1;
        if (strchr(cn->comp, '.'))
            continue;
        char name[SCN_PATH_MAX + 16];
        snprintf(name, sizeof name, "%s.q_kvar", cn->comp);
        int qs = sim_bus_find(k, name);
        int ps = sim_bus_ref_signal(k, cn->p_ref);
        if (qs >= 0 && ps >= 0 && sim_bus_owner(k, qs) == sim_bus_owner(k, ps))
            cn->q_sig = qs;
    }
    /* Copies of one circuit in one run (a city of feeders) should not have
     * the same households: each load's shape is shifted by up to
     * div_shift and scaled within 1 +- div_scale, drawn from this
     * component's own stream (reproducible, different per feeder). */
    if (f->use_shapes && (f->div_shift > 0 || f->div_scale > 0)) {
        gsl_rng *r = sim_kernel_rng(k, f->id);
        int n = f->c->nloads;
        double *sh = calloc((size_t)(n ? n : 1), sizeof *sh), *sc = calloc((size_t)(n ? n : 1), sizeof *sc);
        int rc = sh && sc ? 0 : SIM_ENOMEM;
        double span = (double)f->div_shift / (double)SIM_US_PER_MIN;
        for (int i = 0; !rc && i < n; i++) {
            sh[i] = rint((2 * gsl_rng_uniform(r) - 1) * span);
            sc[i] = 1 + (2 * gsl_rng_uniform(r) - 1) * f->div_scale;
        }
        if (!rc)
            rc = fdr_set_load_diversity(f->s, sh, sc);
        free(sh);
        free(sc);
        if (rc)
            return sim_errf(err, rc, "%s: out of memory", sim_kernel_component_name(k, f->id));
    }
    /* Warm-up solve at the start: initial values and a warm start. */
    set_demands(f, f->start);
    int it = 0;
    if (fdr_solve(f->s, &it, NULL) == 0)
        publish(f, it, 0);
    return 0;
}

static const struct sim_component_ops feeder_ops = {
    .type = "feeder",
    .init = feeder_init,
    .step = feeder_step,
    .destroy = feeder_destroy,
};

/* ------------------------------------------------------------------ */
/* Scenario                                                            */
/* ------------------------------------------------------------------ */

/* Phases a load's bus spec names ("614.3" -> phase 3); without nodes,
 * 1..phases as OpenDSS defaults. */
static unsigned load_phase_mask(const fdr_circuit *c, int load)
{
    const struct fdr_loaddef *l = &c->loads[load];
    const char *dot = strchr(l->bus, '.');
    unsigned m = 0;
    if (!dot) {
        for (int p = 1; p <= l->phases && p <= 3; p++)
            m |= 1u << (p - 1);
        return m;
    }
    while (dot) {
        long n = strtol(dot + 1, NULL, 10);
        if (n >= 1 && n <= 3)
            m |= 1u << (n - 1);
        dot = strchr(dot + 1, '.');
    }
    return m;
}

/* Append printf output to a growing buffer. */
struct sbuf {
    char *p;
    size_t len, cap;
};

static int sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sb_printf(struct sbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (w < 0)
            return SIM_EINVAL;
        if (b->p && b->len + (size_t)w < b->cap) {
            b->len += (size_t)w;
            return 0;
        }
        size_t ncap = b->cap ? b->cap * 2 : 1024;
        while (ncap < b->len + (size_t)w + 1)
            ncap *= 2;
        char *np = realloc(b->p, ncap);
        if (!np)
            return SIM_ENOMEM;
        b->p = np;
        b->cap = ncap;
    }
}

/* "x" -> "x" with every character a signal name cannot hold made '_'. */
static void sanitize(char *out, size_t n, const char *in)
{
    size_t i = 0;
    for (; in[i] && i + 1 < n; i++) {
        char ch = in[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '_' || ch == '-';
        out[i] = ok ? ch : '_';
    }
    out[i] = '\0';
}

/* Read connections[i] into cn, checking its point against circuit c. */
static int read_connection(struct scn_ctx *ctx, struct scn_obj *cfg, int i, const cJSON *item,
                           const fdr_circuit *c, struct conn *cn, struct sim_err *err)
{
    char key[32], path[SCN_PATH_MAX];
    snprintf(key, sizeof key, "connections[%d]", i);
    scn_path_join(path, sizeof path, cfg->path, key);
    struct scn_obj o;
    int rc;
    if ((rc = scn_obj_init(&o, ctx->file, path, item, err)) != 0)
        return rc;
    const char *comp = NULL, *bus = NULL, *load = NULL, *elem = NULL;
    const cJSON *phases = NULL;
    if ((rc = scn_string(&o, "component", 1, NULL, &comp, err)) != 0 ||
        (rc = scn_string(&o, "bus", 0, NULL, &bus, err)) != 0 ||
        (rc = scn_string(&o, "load", 0, NULL, &load, err)) != 0 ||
        (rc = scn_string(&o, "element", 0, NULL, &elem, err)) != 0 ||
        (rc = scn_array(&o, "phases", 0, &phases, err)) != 0)
        return rc;
    if (strlen(comp) >= sizeof cn->comp || !comp[0])
        return scn_errf(&o, "component", err, "expected a component name");
    snprintf(cn->comp, sizeof cn->comp, "%s", comp);
    cn->bus = cn->src_load = -1;
    if (!!bus + !!load + !!elem != 1)
        return scn_errf(&o, NULL, err,
                        "give one of \"bus\" (with \"phases\"), \"load\" or \"element\"");
    if (elem) {
        /* a Generator, PVSystem or Storage of the circuit: the component
         * takes its place (its bus, phases and kV; the element is left out) */
        if (phases)
            return scn_errf(&o, "phases", err, "an element connection takes its own phases");
        for (int k = 0; k < c->nloads && cn->src_load < 0; k++)
            if (c->loads[k].gen_kind && !strcasecmp(c->loads[k].name, elem))
                cn->src_load = k;
        if (cn->src_load < 0)
            return scn_errf(&o, "element", err,
                            "the circuit has no Generator, PVSystem or Storage \"%s\" (give "
                            "Class.name)",
                            elem);
        cn->replaces = 1;
    } else if (load) {
        if (phases)
            return scn_errf(&o, "phases", err,
                            "a load connection takes the load's own phases; give \"phases\" "
                            "only with \"bus\"");
        cn->src_load = fdr_load_find(c, load);
        if (cn->src_load < 0)
            return scn_errf(&o, "load", err, "the circuit has no load named \"%s\"", load);
    } else {
        cn->bus = fdr_bus_find(c, bus);
        if (cn->bus < 0)
            return scn_errf(&o, "bus", err, "the circuit has no bus named \"%s\"", bus);
        unsigned have = fdr_bus_phases(c, cn->bus);
        if (!phases) {
            cn->phases = have;
        } else {
            int j = 0;
            for (const cJSON *e = phases->child; e; e = e->next, j++) {
                if (!cJSON_IsNumber(e) || e->valuedouble != floor(e->valuedouble) ||
                    e->valuedouble < 1 || e->valuedouble > 3)
                    return scn_errf(&o, "phases", err, "[%d]: expected a phase 1, 2 or 3", j);
                unsigned bit = 1u << ((int)e->valuedouble - 1);
                if (cn->phases & bit)
                    return scn_errf(&o, "phases", err, "[%d]: phase %d given twice", j,
                                    (int)e->valuedouble);
                if (!(have & bit))
                    return scn_errf(&o, "phases", err, "[%d]: bus %s has no phase %d", j, bus,
                                    (int)e->valuedouble);
                cn->phases |= bit;
            }
            if (!cn->phases)
                return scn_errf(&o, "phases", err, "expected at least one phase");
        }
    }
    return scn_obj_finish(&o, err);
}

/* The DSS line that adds connection i's element to the circuit. */
static int conn_dss(struct sbuf *b, const fdr_circuit *c, const struct conn *cn, int i)
{
    /* Constant P and Q at any voltage above 0.5 pu (model=1, vminpu=0,
     * vmaxpu=100, where OpenDSS's default 1.05 would make it an impedance):
     * an inverter delivers its setpoint; no load shape touches it
     * (status=fixed). */
    static const char tail[] = "kW=0 kvar=0 model=1 vminpu=0 vmaxpu=100 status=fixed";
    if (cn->src_load >= 0) {
        const struct fdr_loaddef *l = &c->loads[cn->src_load];
        int rc =
            sb_printf(b, "New Load.%s%d bus1=%s phases=%d conn=%s kV=%.17g %s\n", CONN_PREFIX, i,
                      l->bus, l->phases, l->conn == FDR_DELTA ? "delta" : "wye", l->kv, tail);
        if (!rc && cn->replaces)
            rc = sb_printf(b, "Edit %s enabled=no\n", l->name);
        return rc;
    }
    int n = 0;
    char nodes[16] = "";
    for (int p = 1; p <= 3; p++)
        if (cn->phases & (1u << (p - 1))) {
            size_t len = strlen(nodes);
            snprintf(nodes + len, sizeof nodes - len, ".%d", p);
            n++;
        }
    double kv = fdr_bus_kv_base(c, cn->bus);
    if (n == 1)
        kv /= FDR_SQRT3; /* one phase to ground: line-to-neutral */
    return sb_printf(b, "New Load.%s%d bus1=%s%s phases=%d conn=wye kV=%.17g %s\n", CONN_PREFIX, i,
                     fdr_bus_name(c, cn->bus), nodes, n, kv, tail);
}

/* Numbers in [lo, hi] of a two-element array key. */
static int read_limits(struct scn_obj *cfg, double *lo, double *hi, struct sim_err *err)
{
    const cJSON *a = NULL;
    int rc = scn_array(cfg, "v_limits_pu", 0, &a, err);
    if (rc || !a)
        return rc;
    const cJSON *x = a->child, *y = x ? x->next : NULL;
    if (!x || !y || y->next || !cJSON_IsNumber(x) || !cJSON_IsNumber(y))
        return scn_errf(cfg, "v_limits_pu", err, "expected [low, high] in pu, e.g. [0.9, 1.1]");
    if (!(x->valuedouble > 0 && x->valuedouble < y->valuedouble && y->valuedouble < 10))
        return scn_errf(cfg, "v_limits_pu", err, "expected 0 < low < high < 10, got [%g, %g]",
                        x->valuedouble, y->valuedouble);
    *lo = x->valuedouble;
    *hi = y->valuedouble;
    return 0;
}

static void add_vrec(struct feeder *f, int bus, unsigned mask)
{
    for (int p = 1; p <= 3; p++) {
        if (!(mask & (1u << (p - 1))))
            continue;
        f->rec[f->nrec].bus = bus;
        f->rec[f->nrec].phase = p;
        f->rec[f->nrec].sig = -1;
        f->nrec++;
    }
}

static int publish_sig(struct feeder *f, const char *local, const char *unit, double init, int *sig,
                       struct sim_err *err)
{
    return sim_bus_publish(f->k, f->id, local, unit, SIM_SIG_RECORD, init, sig, err);
}

static int feeder_create(struct scn_ctx *ctx, struct scn_obj *cfg, const char *name,
                         struct sim_err *err)
{
    struct feeder *f = calloc(1, sizeof *f);
    if (!f)
        return sim_errf(err, SIM_ENOMEM, "%s: %s: out of memory", ctx->file, cfg->path);
    char master[PATH_MAX], where[SCN_PATH_MAX];
    struct sim_err e2 = {{0}};
    struct sbuf dss = {0};
    fdr_circuit *c1 = NULL;
    const cJSON *conns = NULL, *recs = NULL;
    const char *xname = NULL;
    double rating_a = 400, tol = 1e-9;
    long long max_iter = 100;
    char **rec_label = NULL;
    int rc;

    f->start = ctx->scenario->start;
    f->v_lo = 0.9;
    f->v_hi = 1.1;
    scn_path_join(where, sizeof where, cfg->path, "circuit");
    if ((rc = scn_file(cfg, ctx->dir, "circuit", 1, master, sizeof master, err)) != 0)
        goto fail;
    c1 = fdr_load_dss(master, &f->warn, &e2);
    if (!c1) {
        rc = sim_errf(err, SIM_EINVAL, "%s: %s: %s", ctx->file, where, e2.msg);
        goto fail;
    }
    const char *clock = NULL;
    const char *controls = NULL;
    if ((rc = scn_string(cfg, "controls", 0, "static", &controls, err)) != 0)
        goto fail;
    if (!strcmp(controls, "time")) {
        f->time_controls = 1;
    } else if (strcmp(controls, "static")) {
        rc =
            scn_errf(cfg, "controls", err, "expected \"static\" or \"time\", got \"%s\"", controls);
        goto fail;
    }
    if ((rc = scn_string(cfg, "loadshape_clock", 0, "local", &clock, err)) != 0 ||
        (rc = scn_duration(cfg, "loadshape_day_start", 0, 0, 0, 366 * 24 * SIM_US_PER_H,
                           &f->shape_day_start, err)) != 0)
        goto fail;
    if (!strcmp(clock, "utc")) {
        rc = sim_tz_fixed(&f->tz, 0, err);
    } else if (!strcmp(clock, "local")) {
        rc = sim_tz_copy(&f->tz, &ctx->scenario->tz, err);
    } else {
        rc = scn_errf(cfg, "loadshape_clock", err, "expected \"local\" or \"utc\", got \"%s\"",
                      clock);
    }
    if (rc)
        goto fail;
    f->year = sim_tz_year(&f->tz, f->start - f->shape_day_start);
    struct scn_obj dv;
    int has_div = 0;
    if ((rc = scn_child(cfg, "loadshape_diversity", 0, &dv, &has_div, err)) != 0)
        goto fail;
    if (has_div &&
        ((rc = scn_duration(&dv, "shift", 0, 0, 0, 12 * SIM_US_PER_H, &f->div_shift, err)) != 0 ||
         (rc = scn_number(&dv, "scale", 0, 0, 0, 0.9, &f->div_scale, err)) != 0 ||
         (rc = scn_obj_finish(&dv, err)) != 0))
        goto fail;
    if ((rc = scn_bool(cfg, "use_loadshapes", 0, 1, &f->use_shapes, err)) != 0 ||
        (rc = scn_number(cfg, "tolerance", 0, 1e-9, 1e-15, 0.1, &tol, err)) != 0 ||
        (rc = scn_int(cfg, "max_iterations", 0, 100, 1, 100000, &max_iter, err)) != 0 ||
        (rc = scn_string(cfg, "transformer", 0, NULL, &xname, err)) != 0 ||
        (rc = read_limits(cfg, &f->v_lo, &f->v_hi, err)) != 0 ||
        (rc = scn_number(cfg, "line_loading_limit_pct", 0, 100, 1e-6, 1e6, &f->line_limit_pct,
                         err)) != 0 ||
        (rc = scn_number(cfg, "line_rating_a", 0, 400, 1e-6, 1e9, &rating_a, err)) != 0 ||
        (rc = scn_array(cfg, "connections", 0, &conns, err)) != 0)
        goto fail;
    /* "record_buses" and "record_lines": a list of names, or "all". */
    int all_buses = 0, all_lines = 0;
    const cJSON *rb = cJSON_GetObjectItemCaseSensitive(cfg->json, "record_buses");
    const cJSON *rl = cJSON_GetObjectItemCaseSensitive(cfg->json, "record_lines");
    const cJSON *lrecs = NULL;
    if (cJSON_IsString(rb) && !strcmp(rb->valuestring, "all")) {
        all_buses = 1;
        scn_take(cfg, "record_buses");
    } else if ((rc = scn_array(cfg, "record_buses", 0, &recs, err)) != 0) {
        goto fail;
    }
    if (cJSON_IsString(rl) && !strcmp(rl->valuestring, "all")) {
        all_lines = 1;
        scn_take(cfg, "record_lines");
    } else if ((rc = scn_array(cfg, "record_lines", 0, &lrecs, err)) != 0) {
        goto fail;
    }
    f->tol = tol;
    f->max_iter = (int)max_iter;

    /* Connections: checked against the circuit as read, then added to it. */
    f->nconn = conns ? cJSON_GetArraySize(conns) : 0;
    if (f->nconn) {
        f->conn = calloc((size_t)f->nconn, sizeof *f->conn);
        if (!f->conn) {
            rc = sim_errf(err, SIM_ENOMEM, "out of memory");
            goto fail;
        }
        char lname[64];
        /* Redirect to the Master file from its own directory. */
        const char *slash = strrchr(master, '/');
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - master) : 1, slash ? master : ".");
        if ((rc = sb_printf(&dss, "Redirect \"%s\"\n", slash ? slash + 1 : master)) != 0)
            goto oom;
        int i = 0;
        for (const cJSON *e = conns->child; e; e = e->next, i++) {
            if ((rc = read_connection(ctx, cfg, i, e, c1, &f->conn[i], err)) != 0)
                goto fail;
            snprintf(lname, sizeof lname, "%s%d", CONN_PREFIX, i);
            if (fdr_load_find(c1, lname) >= 0) {
                rc =
                    scn_errf(cfg, "circuit", err, "the circuit already has a load named %s", lname);
                goto fail;
            }
            if ((rc = conn_dss(&dss, c1, &f->conn[i], i)) != 0)
                goto oom;
        }
        /* its messages say "connection elements:N:", N = connection + 2 */
        fdr_warnings_free(&f->warn);
        f->c = fdr_load_dss_string(dss.p, "connection elements", dir, &f->warn, &e2);
        if (!f->c) {
            rc = sim_errf(err, SIM_EINVAL, "%s: %s.connections: %s", ctx->file, cfg->path, e2.msg);
            goto fail;
        }
        fdr_circuit_free(c1);
        c1 = NULL;
        for (i = 0; i < f->nconn; i++) {
            snprintf(lname, sizeof lname, "%s%d", CONN_PREFIX, i);
            f->conn[i].load = fdr_load_find(f->c, lname);
        }
    } else {
        f->c = c1;
        c1 = NULL;
    }
    const fdr_circuit *c = f->c;

    /* The transformer and its LV rated current. */
    if (xname) {
        f->xf = fdr_xfmr_find(c, xname);
        if (f->xf < 0) {
            rc = scn_errf(cfg, "transformer", err, "the circuit has no transformer \"%s\"", xname);
            goto fail;
        }
    } else if (fdr_xfmr_count(c) == 1) {
        f->xf = 0;
    } else {
        if (fdr_xfmr_count(c))
            rc = scn_errf(cfg, "transformer", err,
                          "the circuit has %d transformers: name the one to report",
                          fdr_xfmr_count(c));
        else
            rc = scn_errf(cfg, "circuit", err,
                          "the circuit has no transformer (the component reports one)");
        goto fail;
    }
    {
        const struct fdr_wdg *w = &c->xfmrs[f->xf].w[1];
        if (!(w->kva > 0 && w->kv > 0)) {
            rc = scn_errf(cfg, "circuit", err, "transformer %s has no kVA / kV rating",
                          fdr_xfmr_name(c, f->xf));
            goto fail;
        }
        f->i_rated = w->kva / (FDR_SQRT3 * w->kv);
    }

    /* Line ratings: one for all, then per line. */
    int nl = fdr_line_count(c), nb = fdr_bus_count(c);
    f->line_inv_r2 = calloc((size_t)nl + 1, sizeof *f->line_inv_r2);
    f->line_over = calloc((size_t)nl + 1, 1);
    f->line_nph = calloc((size_t)nl + 1, 1);
    f->vstate = calloc(3 * (size_t)nb + 1, 1);
    if (!f->line_inv_r2 || !f->line_over || !f->line_nph || !f->vstate)
        goto oom;
    for (int l = 0; l < nl; l++) {
        f->line_inv_r2[l] = 1.0 / (rating_a * rating_a);
        f->line_nph[l] = (unsigned char)fdr_line_phases(c, l);
    }
    {
        struct scn_obj ro;
        int present = 0;
        if ((rc = scn_child(cfg, "line_ratings_a", 0, &ro, &present, err)) != 0)
            goto fail;
        if (present) {
            for (const cJSON *e = ro.json->child; e; e = e->next) {
                double a;
                if ((rc = scn_number(&ro, e->string, 1, 0, 1e-6, 1e9, &a, err)) != 0)
                    goto fail;
                int l = fdr_line_find(c, e->string);
                if (l < 0) {
                    rc = scn_errf(&ro, e->string, err, "the circuit has no line named \"%s\"",
                                  e->string);
                    goto fail;
                }
                f->line_inv_r2[l] = 1.0 / (a * a);
            }
            if ((rc = scn_obj_finish(&ro, err)) != 0)
                goto fail;
        }
    }

    /* Recorded voltages: a bus (its phases) or a load (its bus, its phases). */
    int nr = all_buses ? fdr_bus_count(c) : recs ? cJSON_GetArraySize(recs) : 0;
    f->rec = calloc(3 * (size_t)nr + 1, sizeof *f->rec);
    rec_label = calloc(3 * (size_t)nr + 1, sizeof *rec_label);
    if (!f->rec || !rec_label)
        goto oom;
    for (int b = 0; all_buses && b < fdr_bus_count(c); b++) {
        int first = f->nrec;
        add_vrec(f, b, fdr_bus_phases(c, b));
        for (int j = first; j < f->nrec; j++)
            rec_label[j] = (char *)fdr_bus_name(c, b);
    }
    {
        int nl = all_lines ? fdr_line_count(c) : lrecs ? cJSON_GetArraySize(lrecs) : 0;
        f->lrec_line = calloc((size_t)nl + 1, sizeof *f->lrec_line);
        f->lrec_sig = calloc(4 * (size_t)nl + 1, sizeof *f->lrec_sig);
        if (!f->lrec_line || !f->lrec_sig)
            goto oom;
        for (int l = 0; all_lines && l < nl; l++)
            f->lrec_line[f->nlrec++] = l;
        int i = 0;
        for (const cJSON *e = lrecs ? lrecs->child : NULL; e; e = e->next, i++) {
            char key[48];
            snprintf(key, sizeof key, "record_lines[%d]", i);
            int l = cJSON_IsString(e) ? fdr_line_find(c, e->valuestring) : -1;
            if (l < 0) {
                rc = scn_errf(cfg, key, err, "expected the name of a line of the circuit");
                goto fail;
            }
            f->lrec_line[f->nlrec++] = l;
        }
    }
    {
        int i = 0;
        for (const cJSON *e = recs ? recs->child : NULL; e; e = e->next, i++) {
            char key[48];
            snprintf(key, sizeof key, "record_buses[%d]", i);
            if (!cJSON_IsString(e) || !e->valuestring[0]) {
                rc = scn_errf(cfg, key, err, "expected a bus or load name");
                goto fail;
            }
            int b = fdr_bus_find(c, e->valuestring), ld = -1;
            unsigned mask = 0;
            if (b >= 0) {
                mask = fdr_bus_phases(c, b);
            } else if ((ld = fdr_load_find(c, e->valuestring)) >= 0) {
                b = fdr_load_bus(c, ld);
                mask = load_phase_mask(c, ld) & fdr_bus_phases(c, b);
            } else {
                rc = scn_errf(cfg, key, err, "the circuit has no bus or load named \"%s\"",
                              e->valuestring);
                goto fail;
            }
            int first = f->nrec;
            add_vrec(f, b, mask);
            for (int j = first; j < f->nrec; j++)
                rec_label[j] = e->valuestring;
        }
    }
    if ((rc = scn_obj_finish(cfg, err)) != 0)
        goto fail;

    f->s = fdr_solver_new(c, &e2);
    if (!f->s)
        goto oom;
    fdr_solver_set_tolerance(f->s, f->tol, f->max_iter);
    free(dss.p);
    dss.p = NULL;

    /* From here on the kernel owns f (it destroys it even on failure). */
    f->k = ctx->kernel;
    if ((rc = sim_kernel_add(ctx->kernel, name, &feeder_ops, f, ctx->scenario->step, &f->id,
                             err)) != 0) {
        free(rec_label);
        return rc;
    }
    static const char *const pl[3] = {"p_a_kw", "p_b_kw", "p_c_kw"};
    static const char *const ql[3] = {"q_a_kvar", "q_b_kvar", "q_c_kvar"};
    for (int p = 0; p < 3 && !rc; p++)
        if ((rc = publish_sig(f, pl[p], "kW", 0, &f->sig_p[p], err)) == 0)
            rc = publish_sig(f, ql[p], "kvar", 0, &f->sig_q[p], err);
    struct {
        const char *local, *unit;
        int *sig;
    } outs[] = {
        {"p_kw", "kW", &f->sig_pt},        {"q_kvar", "kvar", &f->sig_qt},
        {"s_kva", "kVA", &f->sig_s},       {"loading_pct", "%", &f->sig_loading},
        {"losses_kw", "kW", &f->sig_loss}, {"p_hv_kw", "kW", &f->sig_phv},
        {"loads_kw", "kW", &f->sig_loads}, {"iterations", "1", &f->sig_it},
        {"converged", "1", &f->sig_conv},  {"v_min_pu", "pu", &f->sig_vmin},
        {"v_max_pu", "pu", &f->sig_vmax},  {"line_loading_max_pct", "%", &f->sig_line},
    };
    for (size_t i = 0; i < sizeof outs / sizeof outs[0] && !rc; i++)
        rc = publish_sig(f, outs[i].local, outs[i].unit, 0, outs[i].sig, err);
    f->nreg = fdr_regulator_count(c);
    f->ncc = fdr_capcontrol_count(c);
    f->reg_sig = calloc((size_t)f->nreg + 1, sizeof *f->reg_sig);
    f->reg_last = calloc((size_t)f->nreg + 1, sizeof *f->reg_last);
    f->cc_sig = calloc((size_t)f->ncc + 1, sizeof *f->cc_sig);
    f->cc_last = calloc((size_t)f->ncc + 1, sizeof *f->cc_last);
    if (!rc && (!f->reg_sig || !f->reg_last || !f->cc_sig || !f->cc_last))
        rc = sim_errf(err, SIM_ENOMEM, "out of memory");
    for (int r = 0; r < f->nreg && !rc; r++) {
        char clean[80], local[128];
        sanitize(clean, sizeof clean, fdr_regulator_name(c, r));
        snprintf(local, sizeof local, "tap_%s_pu", clean);
        f->reg_last[r] = NAN;
        rc = publish_sig(f, local, "pu", 1, &f->reg_sig[r], err);
    }
    for (int i = 0; i < f->ncc && !rc; i++) {
        char clean[80], local[128];
        sanitize(clean, sizeof clean, fdr_capcontrol_name(c, i));
        snprintf(local, sizeof local, "cap_%s_steps", clean);
        f->cc_last[i] = -1;
        rc = publish_sig(f, local, "1", 0, &f->cc_sig[i], err);
    }
    for (int i = 0; i < f->nrec && !rc; i++) {
        char clean[80], local[128];
        sanitize(clean, sizeof clean, rec_label[i]);
        snprintf(local, sizeof local, "v_%s_%c_pu", clean, phase_letter[f->rec[i].phase]);
        rc = publish_sig(f, local, "pu", 0, &f->rec[i].sig, err);
        if (rc == SIM_EEXIST)
            rc = scn_errf(cfg, "record_buses", err, "\"%s\" is recorded twice (signal %s)",
                          rec_label[i], local);
    }
    free(rec_label);
    rec_label = NULL;
    for (int i = 0; i < f->nlrec && !rc; i++) {
        char clean[80], local[128];
        sanitize(clean, sizeof clean, fdr_line_name(c, f->lrec_line[i]));
        for (int m = 0; m < 4 && !rc; m++) {
            if (m < 3)
                snprintf(local, sizeof local, "i_%s_%c", clean, "abc"[m]);
            else
                snprintf(local, sizeof local, "loading_%s_pct", clean);
            rc = publish_sig(f, local, m < 3 ? "A" : "%", 0, &f->lrec_sig[4 * i + m], err);
            if (rc == SIM_EEXIST)
                rc = scn_errf(cfg, "record_lines", err, "\"%s\" is recorded twice",
                              fdr_line_name(c, f->lrec_line[i]));
        }
    }
    if (rc) {
        /* a publish error names the signal; add where it came from */
        if (!strstr(err->msg, ctx->file)) {
            struct sim_err tmp = *err;
            sim_errf(err, rc, "%s: %s: %s", ctx->file, cfg->path, tmp.msg);
        }
        return rc;
    }
    for (int i = 0; i < f->nconn; i++) {
        struct conn *cn = &f->conn[i];
        char sig[SCN_PATH_MAX + 16], path[SCN_PATH_MAX], origin[ORIGIN_MAX], key[48];
        snprintf(key, sizeof key, "connections[%d].component", i);
        scn_path_join(path, sizeof path, cfg->path, key);
        snprintf(origin, sizeof origin, "%s: %s", ctx->file, path);
        scn_signal_name(cn->comp, "p_kw", sig, sizeof sig);
        if ((rc = sim_bus_read(ctx->kernel, f->id, sig, SIM_READ_NOW, origin, &cn->p_ref, err)) !=
            0)
            return rc;
    }
    return 0;
oom:
    rc = sim_errf(err, SIM_ENOMEM, "%s: %s: out of memory", ctx->file, cfg->path);
fail:
    free(dss.p);
    free(rec_label);
    fdr_circuit_free(c1);
    feeder_destroy(f);
    return rc;
}

const struct scn_type mdl_feeder_type = {
    .type = "feeder",
    .summary = "three-phase LV feeder power flow from OpenDSS files, with assets connected to it",
    .create = feeder_create,
};
