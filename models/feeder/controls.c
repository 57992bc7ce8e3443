/*
 * controls.c: regulators and capacitor controls in OpenDSS's static
 * control mode, around either power flow (the sweep or the nodal one).
 *
 * After a converged power flow every control samples what it monitors and
 * decides whether it wants to act. As OpenDSS's static mode does, only the
 * controls whose delay is the shortest among those that want to act do so
 * (time does not advance: a control armed with delay d acts at time d), the
 * power flow runs again, and the loop ends when no control wants to act or
 * the control iterations (Set maxcontroliter, default 10) run out.
 *
 *  - RegControl: the relay reads its monitored winding's voltage through
 *    the PT plus line-drop compensation ((R + jX) times the winding's
 *    current through the CT); out of half the band from vreg it takes 70 %
 *    of the rounded steps to vreg (at least one, at most maxtapchange,
 *    within the tap range) - fdr_reg_step.
 *  - CapControl (types current, voltage, kvar): an open capacitor closes a
 *    step when the monitored quantity passes ONsetting (above it for
 *    current and kvar, below it for voltage), a closed one opens a step
 *    past OFFsetting (and closes another while steps remain and ON holds);
 *    with VoltOverride, the PT voltage below Vmin closes and above Vmax
 *    opens whatever the type says. Delay / DelayOFF order the actions.
 *
 * Time mode (fdr_solve_time, OpenDSS's controlmode=time): the controls
 * keep a queue of actions stamped with the simulation time they are due.
 * After each power flow every control samples: a regulator out of band
 * computes the whole rounded change to vreg and, if not armed and its tap
 * can move that way, queues an action Delay seconds on; back in band it
 * drops its pending change and its queued action. A capacitor control
 * wanting to switch queues one Delay (or DelayOFF; a close within DeadTime
 * of its last opening waits for the dead time) on, and drops it when the
 * condition goes away. Then every action due by now runs: a regulator moves
 * one tap towards its pending change and, while some remains, queues the
 * next tap TapDelay on; a capacitor switches one step. The power flow runs
 * again while actions ran (at most maxcontroliter times per call). Like
 * OpenDSS, a regulator's next-tap action is not the one its reset drops, so
 * it can still act after a reset.
 */
#include <math.h>

#include "solver_impl.h"

/* Tolerance of the power flows between control actions (pu): OpenDSS's own,
 * so that a decision on the edge of a band goes the way OpenDSS's does. */
#define CTL_TOL 1e-4

/* A CapControl's measurement over the monitored terminal's phases. */
static double cc_select(const double *v, int n, int sel)
{
    if (sel >= 1)
        return sel <= n ? v[sel - 1] : 0;
    double acc = sel == -2 ? INFINITY : 0;
    for (int k = 0; k < n; k++) {
        if (sel == 0)
            acc += v[k];
        else if (sel == -1)
            acc = fmax(acc, v[k]);
        else
            acc = fmin(acc, v[k]);
    }
    return sel == 0 && n > 0 ? acc / n : acc;
}

static int cc_phases(const fdr_circuit *c, const struct fdr_capctrldef *d)
{
    return d->line >= 0 ? c->lines[d->line].phases : c->xfmrs[d->xfmr].phases;
}

static double complex cc_v(const fdr_solver *s, const struct fdr_capctrldef *d, int k)
{
    return d->line >= 0 ? fdr_line_v(s, d->line, d->terminal, k)
                        : fdr_xfmr_v(s, d->xfmr, d->terminal, k);
}

static double complex cc_i(const fdr_solver *s, const struct fdr_capctrldef *d, int k)
{
    return d->line >= 0 ? fdr_line_i(s, d->line, d->terminal, k)
                        : fdr_xfmr_i(s, d->xfmr, d->terminal, k);
}

/* +1: close a step, -1: open one, 0: nothing. */
static int cc_sample(const fdr_solver *s, int k)
{
    const fdr_circuit *c = s->c;
    const struct fdr_capctrldef *d = &c->capctrls[k];
    int steps = s->cap_steps[k], nsteps = c->loads[d->cap].cap_nsteps;
    int closed = steps > 0, avail = steps < nsteps;
    int np = cc_phases(c, d);
    double v[4] = {0}, im[4] = {0};
    for (int j = 0; j < np && j < 4; j++) {
        v[j] = cabs(cc_v(s, d, j + 1));
        im[j] = cabs(cc_i(s, d, j + 1));
    }
    double vtest = cc_select(v, np, d->ptphase) / d->ptratio;
    if (d->voltoverride && d->type != FDR_CC_VOLTAGE) {
        if (!closed && vtest < d->vmin)
            return 1;
        if (closed && vtest > d->vmax)
            return -1;
    }
    double x;
    int high_on = 1; /* current and kvar close above ON; voltage below */
    switch (d->type) {
    case FDR_CC_VOLTAGE:
        x = vtest;
        high_on = 0;
        break;
    case FDR_CC_KVAR: {
        double complex sp = 0;
        for (int j = 1; j <= np; j++)
            sp += cc_v(s, d, j) * conj(cc_i(s, d, j));
        x = cimag(sp) / 1000.0;
        break;
    }
    default:
        x = cc_select(im, np, d->ctphase) / d->ctratio;
        break;
    }
    int on = high_on ? x > d->on : x < d->on;
    int off = high_on ? x < d->off : x > d->off;
    if (!closed)
        return on ? 1 : 0;
    if (off)
        return -1;
    return avail && on ? 1 : 0;
}

static void cc_apply(fdr_solver *s, int k, int dir)
{
    const fdr_circuit *c = s->c;
    const struct fdr_capctrldef *d = &c->capctrls[k];
    const struct fdr_loaddef *cap = &c->loads[d->cap];
    int n = s->cap_steps[k] + dir;
    if (n < 0 || n > cap->cap_nsteps)
        return;
    s->cap_steps[k] = n;
    double kvar = 0;
    for (int j = 0; j < n; j++)
        kvar += cap->cap_kvar[j];
    fdr_set_load(s, d->cap, 0, -kvar);
}

/* What regulator r's relay reads: the monitored winding's voltage vw
 * through the PT, plus line-drop compensation (R + jX) times the winding's
 * current through the CT (OpenDSS: the current into the terminal, so this
 * is V - Z I_out). */
static double complex relay_voltage(const fdr_solver *s, int r)
{
    const fdr_circuit *c = s->c;
    const struct fdr_regc *g = &c->regc[r];
    const struct fdr_regdef *rd = &c->regs[g->reg];
    double complex vw = s->ns ? fdr_nsolve_winding_v(s, r) : fdr_sweep_winding_v(s, r);
    double complex vc = vw / rd->ptratio;
    if (rd->r != 0 || rd->x != 0)
        vc += (rd->r + I * rd->x) * fdr_xfmr_i(s, g->xf, rd->winding, 1) / rd->ctprim;
    return vc;
}

/* Does the regulator want to move? *pending: the whole rounded change,
 * signed for its tapped winding (OpenDSS's PendingTapChange). */
static int reg_out_of_band(const fdr_circuit *c, int r, double va, double *pending)
{
    const struct fdr_regc *g = &c->regc[r];
    const struct fdr_regdef *rd = &c->regs[g->reg];
    *pending = 0;
    if (!(fabs(rd->vreg - va) > rd->band / 2.0))
        return 0;
    double boost = (rd->vreg - va) * rd->ptratio / g->basev;
    double pend = round(boost / g->inc) * g->inc;
    if (rd->tapwinding != rd->winding)
        pend = -pend;
    *pending = pend;
    return 1;
}

static int q_push(fdr_solver *s, double t, int who)
{
    if (s->nq == s->qcap)
        return 0; /* full: bounded by the controls' count (see fdr_solver_new) */
    struct fdr_ctl_action *a = &s->q[s->nq++];
    a->t = t;
    a->who = who;
    a->handle = ++s->qhandle;
    return a->handle;
}

static void q_delete(fdr_solver *s, int handle)
{
    for (int i = 0; i < s->nq; i++)
        if (s->q[i].handle == handle) {
            s->q[i] = s->q[--s->nq];
            return;
        }
}

/* The earliest action due by t (the first queued of equal times), or -1. */
static int q_due(const fdr_solver *s, double t)
{
    int best = -1;
    for (int i = 0; i < s->nq; i++)
        if (s->q[i].t <= t + 1e-9 &&
            (best < 0 || s->q[i].t < s->q[best].t ||
             (s->q[i].t == s->q[best].t && s->q[i].handle < s->q[best].handle)))
            best = i;
    return best;
}

static void set_tap(fdr_solver *s, int r, double nt)
{
    if (s->ns)
        fdr_nsolve_set_tap(s, r, nt);
    else
        fdr_sweep_set_tap(s, r, nt);
}

int fdr_solve_time(fdr_solver *s, double t, int *iterations, struct sim_err *err)
{
    const fdr_circuit *c = s->c;
    int total = 0, it = 0, rc;
    s->control_iterations = 0;
    int max_ci = c->max_control_iter > 0 ? c->max_control_iter : 10;
    /* (no loose tolerance here: most steps have no action, and one solve
     * to the tolerance is cheaper than a loose one and a second) */
    int ctl = !c->controls_off && (c->nregc > 0 || c->ncapctrls > 0);
    for (int ci = 1;; ci++) {
        rc = s->ns ? fdr_nsolve_power_flow(s, &it, err) : fdr_sweep_power_flow(s, &it, err);
        total += it;
        s->control_iterations = ci;
        if (rc || !ctl || ci >= max_ci)
            break;
        /* sample */
        for (int r = 0; r < c->nregc; r++) {
            const struct fdr_regc *g = &c->regc[r];
            const struct fdr_regdef *rd = &c->regs[g->reg];
            double complex vc = relay_voltage(s, r);
            double pend;
            if (reg_out_of_band(c, r, cabs(vc), &pend)) {
                s->reg_pending[r] = pend;
                int room = pend > 0 ? s->tap[r] < g->maxtap - 1e-12 : s->tap[r] > g->mintap + 1e-12;
                if (pend != 0 && !s->reg_armed[r] && room) {
                    s->reg_handle[r] = q_push(s, t + rd->delay, r);
                    s->reg_armed[r] = 1;
                }
            } else {
                s->reg_pending[r] = 0;
                if (s->reg_armed[r]) {
                    q_delete(s, s->reg_handle[r]);
                    s->reg_armed[r] = 0;
                }
            }
        }
        for (int k = 0; k < c->ncapctrls; k++) {
            const struct fdr_capctrldef *d = &c->capctrls[k];
            int dir = s->cap_dir[k] = cc_sample(s, k);
            if (dir && !s->cap_armed[k]) {
                double delay = d->delayoff;
                if (dir > 0) {
                    double since = t - s->cap_last_open[k];
                    delay = since < d->deadtime ? fmax(d->delay, d->deadtime + d->delay - since)
                                                : d->delay;
                }
                s->cap_handle[k] = q_push(s, t + delay, c->nregc + k);
                s->cap_armed[k] = 1;
            } else if (!dir && s->cap_armed[k]) {
                q_delete(s, s->cap_handle[k]);
                s->cap_armed[k] = 0;
            }
        }
        /* every action due by now */
        int acted = 0, moved = 0, i;
        while ((i = q_due(s, t)) >= 0) {
            int who = s->q[i].who;
            s->q[i] = s->q[--s->nq];
            acted = 1;
            if (who < c->nregc) {
                int r = who;
                const struct fdr_regc *g = &c->regc[r];
                double pend = s->reg_pending[r];
                if (pend == 0) {
                    s->reg_armed[r] = 0;
                    continue;
                }
                double step = pend > 0 ? g->inc : -g->inc;
                pend -= step;
                if (fabs(pend) < 0.9 * g->inc)
                    pend = 0;
                s->reg_pending[r] = pend;
                double nt = s->tap[r] + step;
                nt = g->mintap + round((nt - g->mintap) / g->inc) * g->inc;
                nt = fmin(fmax(nt, g->mintap), g->maxtap);
                if (fabs(nt - s->tap[r]) > 1e-12) {
                    set_tap(s, r, nt);
                    s->tap_changes++;
                    moved = 1;
                }
                if (pend != 0)
                    q_push(s, t + c->regs[g->reg].tapdelay, r);
                else
                    s->reg_armed[r] = 0;
            } else {
                int k = who - c->nregc;
                int dir = s->cap_dir[k];
                int before = s->cap_steps[k];
                if (dir)
                    cc_apply(s, k, dir);
                if (s->cap_steps[k] != before) {
                    s->cap_switchings++;
                    if (dir < 0)
                        s->cap_last_open[k] = t;
                }
                s->cap_armed[k] = 0;
            }
        }
        if (moved && s->ns && (rc = fdr_nsolve_refactor(s, err)))
            break;
        if (!acted)
            break;
    }
    if (iterations)
        *iterations = total;
    return rc;
}

int fdr_solve(fdr_solver *s, int *iterations, struct sim_err *err)
{
    const fdr_circuit *c = s->c;
    int total = 0, it = 0, rc;
    s->control_iterations = 0;
    int max_ci = c->max_control_iter > 0 ? c->max_control_iter : 10;
    /* while controls may still act, the power flow stops at CTL_TOL, as
     * OpenDSS's does; the last solve goes on to the solver's own tolerance
     * from there */
    const double tol = s->tol;
    int ctl = !c->controls_off && (c->nregc > 0 || c->ncapctrls > 0);
    if (ctl && tol < CTL_TOL)
        s->tol = CTL_TOL;
    for (int ci = 1;; ci++) {
        rc = s->ns ? fdr_nsolve_power_flow(s, &it, err) : fdr_sweep_power_flow(s, &it, err);
        total += it;
        s->control_iterations = ci;
        if (rc || !ctl || ci >= max_ci)
            break;
        /* every control samples the same solution; the ones with the
         * shortest delay among those that want to act do so */
        double tmin = INFINITY;
        for (int r = 0; r < c->nregc; r++) {
            double complex vc = relay_voltage(s, r);
            s->reg_want[r] = fdr_reg_step(c, r, cabs(vc), s->tap[r], &s->reg_nt[r]);
            if (s->reg_want[r])
                tmin = fmin(tmin, c->regs[c->regc[r].reg].delay);
        }
        for (int k = 0; k < c->ncapctrls; k++) {
            int dir = s->cap_dir[k] = cc_sample(s, k);
            if (dir)
                tmin = fmin(tmin, dir > 0 ? c->capctrls[k].delay : c->capctrls[k].delayoff);
        }
        if (isinf(tmin))
            break;
        int moved = 0;
        for (int r = 0; r < c->nregc; r++) {
            if (!s->reg_want[r] || c->regs[c->regc[r].reg].delay != tmin)
                continue;
            set_tap(s, r, s->reg_nt[r]);
            s->tap_changes++;
            moved = 1;
        }
        for (int k = 0; k < c->ncapctrls; k++) {
            const struct fdr_capctrldef *d = &c->capctrls[k];
            int dir = s->cap_dir[k];
            if (dir && (dir > 0 ? d->delay : d->delayoff) == tmin) {
                int before = s->cap_steps[k];
                cc_apply(s, k, dir);
                s->cap_switchings += s->cap_steps[k] != before;
            }
        }
        if (moved && s->ns && (rc = fdr_nsolve_refactor(s, err)))
            break;
    }
    if (s->tol != tol) {
        s->tol = tol;
        if (!rc) {
            rc = s->ns ? fdr_nsolve_power_flow(s, &it, err) : fdr_sweep_power_flow(s, &it, err);
            total += it;
        }
    }
    if (iterations)
        *iterations = total;
    return rc;
}

long fdr_solver_tap_changes(const fdr_solver *s)
{
    return s->tap_changes;
}

long fdr_solver_cap_switchings(const fdr_solver *s)
{
    return s->cap_switchings;
}

int fdr_capcontrol_count(const fdr_circuit *c)
{
    return c->ncapctrls;
}

const char *fdr_capcontrol_name(const fdr_circuit *c, int k)
{
    return k >= 0 && k < c->ncapctrls ? c->capctrls[k].name : NULL;
}

int fdr_capcontrol_steps(const fdr_solver *s, int k)
{
    return k >= 0 && k < s->c->ncapctrls ? s->cap_steps[k] : -1;
}
