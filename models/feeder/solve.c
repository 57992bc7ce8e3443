/*
 * solve.c: backward/forward sweep power flow on the compiled radial
 * network, and the accessors for its results.
 *
 * One sweep: (1) every load element's current from the present voltages
 * (ZIP, constant impedance below vminpu); (2) backward, leaves to root,
 * each branch carries what its downstream bus draws (line shunts add Y V,
 * a transformer maps its secondary currents through the turns ratio and,
 * for a delta primary, the winding-to-line incidence); (3) the source bus
 * is E - Zs J; (4) forward, root to leaves, V_child = V_parent - Z I for a
 * line and ratio * (winding voltage) - Z_leak I for a transformer. The
 * largest voltage change of step (3)-(4), in pu of each bus's base, is
 * the convergence measure. A final load/backward pass leaves currents
 * consistent with the returned voltages.
 *
 * All buffers are sized in fdr_solver_new(); nothing here allocates after
 * that. The previous solution is the next solve's starting point.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "solver_impl.h"

fdr_solver *fdr_solver_new(const fdr_circuit *c, struct sim_err *err)
{
    fdr_solver *s = calloc(1, sizeof *s);
    if (!s)
        goto oom;
    s->c = c;
    s->tol = 1e-9;
    s->max_iter = 100;
    size_t nb = (size_t)c->nbuses, nbr = (size_t)c->nbr, ne = (size_t)c->nlel,
           nl = (size_t)c->nloads;
    s->v = calloc(nb + 1, sizeof *s->v);
    s->j = calloc(nb + 1, sizeof *s->j);
    s->is = calloc(nbr + 1, sizeof *s->is);
    s->s0 = calloc(ne + 1, sizeof *s->s0);
    s->iel = calloc(ne + 1, sizeof *s->iel);
    s->p_kw = calloc(nl + 1, sizeof *s->p_kw);
    s->q_kvar = calloc(nl + 1, sizeof *s->q_kvar);
    s->zip = calloc(nl + 1, sizeof *s->zip);
    s->inv_vbase = calloc(nb + 1, sizeof *s->inv_vbase);
    s->rat = calloc(nbr + 1, sizeof *s->rat);
    s->zw = calloc(nbr + 1, sizeof *s->zw);
    s->tap = calloc((size_t)c->nregc + 1, sizeof *s->tap);
    s->cap_steps = calloc((size_t)c->ncapctrls + 1, sizeof *s->cap_steps);
    s->cap_dir = calloc((size_t)c->ncapctrls + 1, sizeof *s->cap_dir);
    s->reg_want = calloc((size_t)c->nregc + 1, sizeof *s->reg_want);
    s->reg_nt = calloc((size_t)c->nregc + 1, sizeof *s->reg_nt);
    /* each control has at most a few actions queued (a regulator's
     * next-tap chain can outlive its reset): room for 8 each */
    s->qcap = 8 * (c->nregc + c->ncapctrls) + 8;
    s->q = calloc((size_t)s->qcap, sizeof *s->q);
    s->reg_pending = calloc((size_t)c->nregc + 1, sizeof *s->reg_pending);
    s->reg_armed = calloc((size_t)c->nregc + 1, sizeof *s->reg_armed);
    s->reg_handle = calloc((size_t)c->nregc + 1, sizeof *s->reg_handle);
    s->cap_armed = calloc((size_t)c->ncapctrls + 1, sizeof *s->cap_armed);
    s->cap_handle = calloc((size_t)c->ncapctrls + 1, sizeof *s->cap_handle);
    s->cap_last_open = calloc((size_t)c->ncapctrls + 1, sizeof *s->cap_last_open);
    if (!s->v || !s->j || !s->is || !s->s0 || !s->iel || !s->p_kw || !s->q_kvar || !s->zip ||
        !s->inv_vbase || !s->rat || !s->zw || !s->tap || !s->cap_steps || !s->cap_dir ||
        !s->reg_want || !s->reg_nt)
        goto oom;
    for (size_t k = 0; k < nbr; k++)
        for (int m = 0; m < 3; m++) {
            s->rat[k][m] = c->br[k].rat[m];
            s->zw[k][m] = c->br[k].zw[m];
        }
    for (int r = 0; r < c->nregc; r++) {
        const struct fdr_regc *g = &c->regc[r];
        s->tap[r] = c->regs[g->reg].tapwinding == 1 ? g->tap1 : g->tap2;
    }
    for (int k = 0; k < c->ncapctrls; k++)
        s->cap_last_open[k] = -1e30; /* never opened */
    for (int k = 0; k < c->ncapctrls; k++) {
        /* steps in service as defined (switched in order) */
        const struct fdr_loaddef *cap = &c->loads[c->capctrls[k].cap];
        for (int j = 0; j < cap->cap_nsteps; j++)
            s->cap_steps[k] += cap->cap_state[j] != 0;
    }
    for (size_t b = 0; b < nb; b++)
        s->inv_vbase[b] = c->buses[b].vbase > 0 ? 1.0 / c->buses[b].vbase : 0;
    for (int i = 0; i < c->nloads; i++) {
        const struct fdr_loaddef *l = &c->loads[i];
        struct zip *z = &s->zip[i];
        switch (l->model) {
        case 2:
            z->zp = z->zq = 1;
            break;
        case 3:
        case 7:
            z->pp = 1;
            z->zq = 1;
            break;
        case 4:
            z->exponential = 1;
            z->ep = l->cvrwatts;
            z->eq = l->cvrvars;
            break;
        case 5:
            z->ip = z->iq = 1;
            break;
        case 8:
            z->zp = l->zipv[0];
            z->ip = l->zipv[1];
            z->pp = l->zipv[2];
            z->zq = l->zipv[3];
            z->iq = l->zipv[4];
            z->pq = l->zipv[5];
            z->cutoff = l->zipv[6];
            break;
        default:
            z->pp = z->pq = 1;
            break; /* 1, 6: constant P and Q */
        }
        z->vmin = l->vminpu > 0 ? l->vminpu : 0;
        z->vmax = l->vmaxpu > 0 ? l->vmaxpu : 0;
        z->const_pq = !z->exponential && z->pp == 1 && z->pq == 1 && z->zp == 0 && z->ip == 0 &&
                      z->zq == 0 && z->iq == 0 && z->cutoff == 0;
        z->pure_z = l->model == 2 || l->capacitor;
        z->limits_as_p = l->model == 3 || l->model == 4 || l->model == 7;
        double p, q;
        fdr_load_nominal(c, i, &p, &q);
        fdr_set_load(s, i, p * c->loadmult, q * c->loadmult);
    }
    /* flat start: the source voltage carried through the network unloaded */
    for (int k = 0; k < 3; k++)
        s->v[c->root][k] = c->e[k];
    for (int k = 0; k < c->nbr; k++) {
        const struct fdr_branch *br = &c->br[k];
        const double complex *vp = s->v[br->from];
        double complex *vc = s->v[br->to];
        for (int m = 0; m < br->nc; m++) {
            if (br->kind == FDR_BR_LINE)
                vc[br->tnode[m]] = vp[br->fnode[m]];
            else if (br->delta1)
                vc[br->tnode[m]] = s->rat[k][m] * (vp[br->fnode[m]] - vp[br->fnode[br->dother[m]]]);
            else
                vc[br->tnode[m]] = s->rat[k][m] * vp[br->fnode[m]];
        }
    }
    if (c->nod && fdr_nsolve_new(s, err)) {
        fdr_solver_free(s);
        return NULL;
    }
    return s;
oom:
    fdr_solver_free(s);
    sim_errf(err, SIM_ENOMEM, "out of memory");
    return NULL;
}

void fdr_solver_free(fdr_solver *s)
{
    if (!s)
        return;
    free(s->div_shift_min);
    free(s->div_scale);
    free(s->v);
    free(s->j);
    free(s->is);
    free(s->s0);
    free(s->iel);
    free(s->p_kw);
    free(s->q_kvar);
    free(s->zip);
    free(s->inv_vbase);
    free(s->rat);
    free(s->zw);
    free(s->tap);
    free(s->cap_steps);
    free(s->cap_dir);
    free(s->reg_want);
    free(s->reg_nt);
    free(s->q);
    free(s->reg_pending);
    free(s->reg_armed);
    free(s->reg_handle);
    free(s->cap_armed);
    free(s->cap_handle);
    free(s->cap_last_open);
    fdr_nsolve_free(s->ns);
    free(s);
}

void fdr_solver_set_tolerance(fdr_solver *s, double tol_pu, int max_iter)
{
    if (tol_pu > 0)
        s->tol = tol_pu;
    if (max_iter > 0)
        s->max_iter = max_iter;
}

int fdr_set_load(fdr_solver *s, int load, double p_kw, double q_kvar)
{
    const fdr_circuit *c = s->c;
    if (load < 0 || load >= c->nloads)
        return SIM_ERANGE;
    s->p_kw[load] = p_kw;
    s->q_kvar[load] = q_kvar;
    int n = c->load_nel[load];
    double complex se = (p_kw + I * q_kvar) * 1000.0 / n;
    for (int e = c->load_el0[load]; e < c->load_el0[load] + n; e++)
        s->s0[e] = se;
    return 0;
}

int fdr_set_load_diversity(fdr_solver *s, const double *shift_min, const double *scale)
{
    int n = s->c->nloads;
    double *sh = n ? malloc((size_t)n * sizeof *sh) : NULL, *sc = n ? malloc((size_t)n * sizeof *sc) : NULL;
    if (n && (!sh || !sc)) {
        free(sh);
        free(sc);
        return SIM_ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        sh[i] = shift_min ? shift_min[i] : 0;
        sc[i] = scale ? scale[i] : 1;
    }
    free(s->div_shift_min);
    free(s->div_scale);
    s->div_shift_min = sh;
    s->div_scale = sc;
    return 0;
}

int fdr_apply_loadshapes(fdr_solver *s, double minute_of_year, double minute_of_day)
{
    const fdr_circuit *c = s->c;
    for (int i = 0; i < c->nloads; i++) {
        const struct fdr_loaddef *l = &c->loads[i];
        int k = l->yearly >= 0 ? l->yearly : l->daily;
        if (k < 0 || l->fixed)
            continue;
        const struct fdr_shape *sh = &c->shapes[k];
        if (!sh->mult || sh->npts < 1)
            continue;
        /* OpenDSS's LoadShape lookup: point round(h / interval), 1-based,
         * wrapping around the shape, point 0 being the last. */
        double shift = s->div_shift_min ? s->div_shift_min[i] : 0;
        double hr = ((l->yearly >= 0 ? minute_of_year : minute_of_day) + shift) / 60.0;
        /* rounded half to even, as Pascal's Round (OpenDSS): minute 30 of an
         * hourly shape is point 0 (the last), minute 90 point 2 */
        long idx = (long)rint(hr / sh->interval_h) % sh->npts;
        if (idx <= 0)
            idx += sh->npts;
        double m = sh->mult[idx - 1];
        double qm = sh->qmult ? sh->qmult[idx - 1] : m;
        double p0, q0;
        fdr_load_nominal(c, i, &p0, &q0);
        double p, q;
        if (sh->useactual) {
            p = m;
            q = sh->qmult ? qm : (p0 != 0 ? m * q0 / p0 : 0);
        } else {
            p = p0 * m * c->loadmult;
            q = q0 * qm * c->loadmult;
        }
        if (s->div_scale) {
            p *= s->div_scale[i];
            q *= s->div_scale[i];
        }
        fdr_set_load(s, i, p, q);
    }
    return 0;
}

/* Current of one load element for the voltage across it. */
double complex fdr_load_current(const struct zip *z, double complex s0, double complex vab,
                                double vbase)
{
    double vm2 = cabs2(vab);
    if (vm2 == 0)
        return 0;
    if (z->const_pq) {
        /* the common case: no square root unless near a voltage limit */
        double lo = z->vmin * vbase, hi = z->vmax * vbase;
        if (vm2 > lo * lo && vm2 > 0.25 * vbase * vbase && (z->vmax == 0 || vm2 <= hi * hi))
            return conj_div(s0, vab);
    }
    double v = sqrt(vm2) / vbase;
    /* the admittance drawing the nominal power at 1 pu */
    double complex yeq = CMPLX(creal(s0), -cimag(s0)) / (vbase * vbase);
    if (z->pure_z)
        return cmul(yeq, vab);
    double complex i;
    if (v <= FDR_VLOW_PU) {
        /* OpenDSS's rules for every load model but constant Z: below vlow
         * (0.5 pu) the nominal admittance; between vlow and vminpu, and
         * above vmaxpu, each part of the load becomes an admittance: the
         * constant-power part's current runs linearly in |V| from vlow to
         * the nominal power's current at vminpu and draws the nominal power
         * at vmaxpu, the constant-current part's likewise to its nominal
         * current at either limit, the constant-impedance part stays */
        i = cmul(yeq, vab);
    } else if (v <= z->vmin || (z->vmax > 0 && v > z->vmax)) {
        double complex yp, yi;
        if (v <= z->vmin) {
            double vm = v * vbase, vl = FDR_VLOW_PU * vbase;
            double complex ilow = yeq * vl;
            double complex m95 =
                (yeq * (vbase / z->vmin) - ilow) / ((z->vmin - FDR_VLOW_PU) * vbase);
            double complex m95i = (yeq * vbase - ilow) / ((z->vmin - FDR_VLOW_PU) * vbase);
            yp = (ilow + m95 * (vm - vl)) / vm;
            yi = (ilow + m95i * (vm - vl)) / vm;
        } else {
            yp = yeq / (z->vmax * z->vmax);
            yi = yeq / z->vmax;
        }
        double complex y = yp;
        if (!z->limits_as_p)
            y = CMPLX(creal(yeq) * z->zp + creal(yi) * z->ip + creal(yp) * z->pp,
                      cimag(yeq) * z->zq + cimag(yi) * z->iq + cimag(yp) * z->pq);
        i = cmul(y, vab);
    } else {
        double fp = z->exponential ? pow(v, z->ep) : z->zp * v * v + z->ip * v + z->pp;
        double fq = z->exponential ? pow(v, z->eq) : z->zq * v * v + z->iq * v + z->pq;
        i = conj_div(CMPLX(creal(s0) * fp, cimag(s0) * fq), vab);
    }
    if (z->cutoff > 0) {
        /* model 8's drop-out: a steep logistic step at the cut-off */
        double yv = 0.5 * (1.0 + tanh(500.0 * (v - z->cutoff)));
        i *= yv;
    }
    return i;
}

static void backward(fdr_solver *s)
{
    const fdr_circuit *c = s->c;
    memset(s->j, 0, sizeof *s->j * (size_t)c->nbuses);
    /* earth current of each neutral earthed through a reactor: a shunt
     * injection from the present neutral voltage */
    for (int g = 0; g < c->ngnd; g++) {
        int b = c->gnd_bus[g];
        s->j[b][3] += cmul(c->buses[b].yg, s->v[b][3]);
    }
    for (int e = 0; e < c->nlel; e++) {
        const struct fdr_lelem *el = &c->lel[e];
        const double complex *v = s->v[el->bus];
        double complex vab = el->b >= 0 ? v[el->a] - v[el->b] : v[el->a];
        double complex i = fdr_load_current(&s->zip[el->load], s->s0[e], vab, el->vbase);
        s->iel[e] = i;
        s->j[el->bus][el->a] += i;
        if (el->b >= 0)
            s->j[el->bus][el->b] -= i;
    }
    for (int k = c->nbr - 1; k >= 0; k--) {
        const struct fdr_branch *br = &c->br[k];
        const double complex *jc = s->j[br->to];
        double complex *jp = s->j[br->from];
        double complex *is = s->is[k];
        int nc = br->nc;
        for (int m = 0; m < nc; m++)
            is[m] = jc[br->tnode[m]];
        if (br->kind == FDR_BR_LINE) {
            if (br->has_y) {
                const double complex *vc = s->v[br->to], *vp = s->v[br->from];
                for (int m = 0; m < nc; m++) {
                    double complex ic = 0, ip = 0;
                    for (int n = 0; n < nc; n++) {
                        ic += cmul(br->yh[m][n], vc[br->tnode[n]]);
                        ip += cmul(br->yh[m][n], vp[br->fnode[n]]);
                    }
                    is[m] += ic;
                    jp[br->fnode[m]] += ip;
                }
            }
            for (int m = 0; m < nc; m++)
                jp[br->fnode[m]] += is[m];
        } else {
            for (int m = 0; m < nc; m++) {
                double complex ih = s->rat[k][m] * is[m];
                jp[br->fnode[m]] += ih;
                if (br->delta1)
                    jp[br->fnode[br->dother[m]]] -= ih;
            }
        }
    }
}

/* Returns the square of the largest voltage change, pu. */
static double forward(fdr_solver *s)
{
    const fdr_circuit *c = s->c;
    double dv = 0;
    {
        double complex *vr = s->v[c->root];
        const double complex *jr = s->j[c->root];
        double ib = s->inv_vbase[c->root] * s->inv_vbase[c->root];
        for (int m = 0; m < 3; m++) {
            double complex vn = c->e[m] - (cmul(c->zs[m][0], jr[0]) + cmul(c->zs[m][1], jr[1]) +
                                           cmul(c->zs[m][2], jr[2]));
            double d = cabs2(vn - vr[m]) * ib;
            if (!(d <= dv))
                dv = d; /* also catches NaN */
            vr[m] = vn;
        }
    }
    for (int k = 0; k < c->nbr; k++) {
        const struct fdr_branch *br = &c->br[k];
        const double complex *vp = s->v[br->from];
        double complex *vc = s->v[br->to];
        const double complex *is = s->is[k];
        double ib = s->inv_vbase[br->to] * s->inv_vbase[br->to];
        int nc = br->nc;
        if (br->sym) {
            double complex sum = 0;
            for (int n = 0; n < nc; n++)
                sum += is[n];
            double complex common = cmul(br->zo, sum);
            for (int m = 0; m < nc; m++) {
                double complex vn = vp[br->fnode[m]] - cmul(br->zd, is[m]) - common;
                double d = cabs2(vn - vc[br->tnode[m]]) * ib;
                if (!(d <= dv))
                    dv = d;
                vc[br->tnode[m]] = vn;
            }
            continue;
        }
        double complex vstar = 0;
        if (br->star_n) {
            /* LV star point on node 4. Solid: 0 V. Otherwise shift it so the
             * earth currents of its neutral balance (sum of the currents the
             * bus draws = -Y_t V_star), a Newton step on the common mode
             * over all earthing admittances ytot of the neutral. */
            double complex vo = vc[3];
            if (!br->solid) {
                const double complex *jc = s->j[br->to];
                double complex r = cmul(br->yt, vo) + jc[0] + jc[1] + jc[2] + jc[3];
                vstar = vo - r / br->ytot;
            }
            double d = cabs2(vstar - vo) * ib;
            if (!(d <= dv))
                dv = d;
            vc[3] = vstar;
        }
        for (int m = 0; m < nc; m++) {
            double complex vn;
            if (br->kind == FDR_BR_LINE) {
                vn = vp[br->fnode[m]];
                for (int n = 0; n < nc; n++)
                    vn -= cmul(br->z[m][n], is[n]);
            } else {
                double complex w =
                    br->delta1 ? vp[br->fnode[m]] - vp[br->fnode[br->dother[m]]] : vp[br->fnode[m]];
                vn = s->rat[k][m] * w - cmul(s->zw[k][m], is[m]);
                if (br->star_n)
                    vn += vstar;
            }
            double d = cabs2(vn - vc[br->tnode[m]]) * ib;
            if (!(d <= dv))
                dv = d;
            vc[br->tnode[m]] = vn;
        }
    }
    return dv;
}

/*
 * Regulators in OpenDSS's static control mode: after a converged power
 * flow each regulator reads its monitored winding's voltage through the PT
 * (plus line-drop compensation, (R + jX) times the winding's current
 * through the CT), and when it is more than half the band from vreg takes
 * the rounded number of steps that would bring it to vreg and, as OpenDSS's
 * static mode does, moves 70 % of them (truncated; at least one, at most
 * maxtapchange, within the tap range); the power flow runs again until no
 * regulator moves or the control iterations run out.
 */
int fdr_reg_step(const fdr_circuit *c, int r, double va, double tap, double *nt_out)
{
    const struct fdr_regc *g = &c->regc[r];
    const struct fdr_regdef *rd = &c->regs[g->reg];
    if (!(fabs(rd->vreg - va) > rd->band / 2.0))
        return 0;
    double boost = (rd->vreg - va) * rd->ptratio / g->basev;
    double pending = round(boost / g->inc) * g->inc;
    if (rd->tapwinding != rd->winding)
        pending = -pending;
    if (pending == 0)
        return 0; /* out of band by less than half a step */
    /* 70 % of the way, at least one step, at most maxtapchange */
    int steps = (int)(0.7 * fabs(pending) / g->inc);
    if (steps < 1)
        steps = 1;
    if (rd->maxtapchange > 0 && steps > rd->maxtapchange)
        steps = rd->maxtapchange;
    double change = (pending > 0 ? 1 : -1) * steps * g->inc;
    double nt = tap + change;
    nt = g->mintap + round((nt - g->mintap) / g->inc) * g->inc;
    if (nt > g->maxtap + 1e-12)
        nt = g->maxtap;
    if (nt < g->mintap - 1e-12)
        nt = g->mintap;
    if (fabs(nt - tap) < 1e-12)
        return 0; /* at the end of its range */
    *nt_out = nt;
    return 1;
}

/* The sweep's side of the regulators (controls.c): the monitored
 * winding's voltage and a new tap. */
double complex fdr_sweep_winding_v(const fdr_solver *s, int r)
{
    const fdr_circuit *c = s->c;
    const struct fdr_regc *g = &c->regc[r];
    const struct fdr_branch *br = &c->br[g->br];
    return c->regs[g->reg].winding == 1 ? s->v[br->from][br->fnode[g->m]]
                                        : s->v[br->to][br->tnode[g->m]];
}

void fdr_sweep_set_tap(fdr_solver *s, int r, double nt)
{
    const fdr_circuit *c = s->c;
    const struct fdr_regc *g = &c->regc[r];
    const struct fdr_regdef *rd = &c->regs[g->reg];
    s->tap[r] = nt;
    /* the ratio as compiled, scaled by the tapped winding's change */
    double f = rd->tapwinding == 2 ? nt / g->tap2 : g->tap1 / nt;
    /* the leakage impedance is on winding 2's tapped voltage */
    double fz = rd->tapwinding == 2 ? (nt / g->tap2) * (nt / g->tap2) : 1.0;
    for (int j = 0; j < g->nc; j++) {
        s->rat[g->br][g->m + j] = c->br[g->br].rat[g->m + j] * f;
        s->zw[g->br][g->m + j] = c->br[g->br].zw[g->m + j] * fz;
    }
}

int fdr_solver_control_iterations(const fdr_solver *s)
{
    return s->control_iterations;
}

double fdr_regulator_tap(const fdr_solver *s, int reg)
{
    const fdr_circuit *c = s->c;
    for (int r = 0; r < c->nregc; r++)
        if (c->regc[r].reg == reg)
            return s->tap[r];
    return NAN;
}

int fdr_sweep_power_flow(fdr_solver *s, int *iterations, struct sim_err *err)
{
    double dv = 0;
    for (int it = 1; it <= s->max_iter; it++) {
        backward(s);
        dv = sqrt(forward(s));
        if (!(dv < 1e3)) {
            if (iterations)
                *iterations = it;
            return sim_errf(err, SIM_EFAIL,
                            "feeder power flow diverged at sweep %d (voltage change %g pu)", it,
                            dv);
        }
        if (dv < s->tol) {
            backward(s);
            if (iterations)
                *iterations = it;
            return 0;
        }
    }
    if (iterations)
        *iterations = s->max_iter;
    return sim_errf(err, SIM_EFAIL,
                    "feeder power flow did not converge in %d sweeps (last change %.3g pu, "
                    "tolerance %.3g pu)",
                    s->max_iter, dv, s->tol);
}

/* ------------------------------------------------------------------ */
/* Results                                                             */
/* ------------------------------------------------------------------ */

double complex fdr_bus_v(const fdr_solver *s, int bus, int phase)
{
    const fdr_circuit *c = s->c;
    if (bus < 0 || bus >= c->nbuses || phase < 1 || phase > 4 ||
        !(c->buses[bus].mask & (1u << (phase - 1))))
        return 0;
    return s->v[bus][phase - 1];
}

double complex fdr_bus_earth_i(const fdr_solver *s, int bus)
{
    const fdr_circuit *c = s->c;
    if (s->ns)
        return fdr_nsolve_earth_i(s, bus);
    if (bus < 0 || bus >= c->nbuses || !(c->buses[bus].mask & 8u))
        return 0;
    if (c->buses[bus].nroot == bus) {
        const struct fdr_branch *br = &c->br[c->buses[bus].parent];
        const double complex *j = s->j[bus];
        /* KCL at the star point: what the bus draws returns through earth */
        if (br->solid)
            return -(j[0] + j[1] + j[2] + j[3]);
        return br->yt * s->v[bus][3];
    }
    return c->buses[bus].yg * s->v[bus][3];
}

double complex fdr_bus_v_pu(const fdr_solver *s, int bus, int phase)
{
    double complex v = fdr_bus_v(s, bus, phase);
    return v == 0 ? 0 : v * s->inv_vbase[bus];
}

/* Line current into the end at bus `at` (from side: 0, to side: 1). */
static double complex line_end_i(const fdr_solver *s, int k, int to_side, int m)
{
    const struct fdr_branch *br = &s->c->br[k];
    double complex i = to_side ? -s->is[k][m] : s->is[k][m];
    if (br->has_y) {
        const double complex *v = s->v[to_side ? br->to : br->from];
        const int *nd = to_side ? br->tnode : br->fnode;
        for (int n = 0; n < br->nc; n++)
            i += br->yh[m][n] * v[nd[n]];
    }
    return i;
}

double complex fdr_line_i(const fdr_solver *s, int line, int terminal, int cond)
{
    const fdr_circuit *c = s->c;
    if (s->ns)
        return fdr_nsolve_line_i(s, line, terminal, cond);
    if (line < 0 || line >= c->nlines || terminal < 1 || terminal > 2)
        return 0;
    int k = c->line_br[line];
    const struct fdr_branch *br = &c->br[k];
    int to_side = (terminal == 2) != br->reversed;
    if (cond == 0) {
        double complex sum = 0;
        for (int m = 0; m < br->nc; m++)
            sum += line_end_i(s, k, to_side, m);
        return sum;
    }
    if (cond < 1 || cond > br->nc)
        return 0;
    return line_end_i(s, k, to_side, cond - 1);
}

double complex fdr_xfmr_i(const fdr_solver *s, int x, int winding, int cond)
{
    const fdr_circuit *c = s->c;
    if (s->ns)
        return fdr_nsolve_xfmr_i(s, x, winding, cond);
    if (x < 0 || x >= c->nxfmrs || winding < 1 || winding > 2 || cond < 1 || cond > 4)
        return 0;
    int k = c->xfmr_br[x];
    const struct fdr_branch *br = &c->br[k];
    const double complex *is = s->is[k];
    int np = c->xfmrs[x].phases, m0 = c->xfmr_c0[x];
    if (cond <= 3 && cond > np)
        return 0;
    if (np == 1) { /* a unit of a bank: its own conductor; the neutral returns it */
        double complex i2 = is[m0], i1 = s->rat[k][m0] * is[m0];
        if (winding == 2)
            return cond == 4 ? i2 : -i2;
        return cond == 4 ? -i1 : i1;
    }
    if (winding == 2) {
        if (cond == 4)
            return is[0] + is[1] + is[2];
        return -is[cond - 1];
    }
    if (cond == 4)
        return br->delta1 ? 0 : -br->ratio * (is[0] + is[1] + is[2]);
    int m = cond - 1;
    double complex i = br->ratio * is[m];
    if (br->delta1)
        for (int n = 0; n < 3; n++)
            if (br->dother[n] == m)
                i -= br->ratio * is[n];
    return i;
}

double complex fdr_xfmr_v(const fdr_solver *s, int x, int winding, int cond)
{
    const fdr_circuit *c = s->c;
    if (s->ns)
        return fdr_nsolve_xfmr_v(s, x, winding, cond);
    if (x < 0 || x >= c->nxfmrs || cond < 1 || cond > 3 || winding < 1 || winding > 2)
        return 0;
    const struct fdr_branch *br = &c->br[c->xfmr_br[x]];
    int m = c->xfmr_c0[x] + cond - 1;
    return m >= br->nc    ? 0
           : winding == 1 ? s->v[br->from][br->fnode[m]]
                          : s->v[br->to][br->tnode[m]];
}

double complex fdr_line_v(const fdr_solver *s, int line, int terminal, int cond)
{
    const fdr_circuit *c = s->c;
    if (s->ns)
        return fdr_nsolve_line_v(s, line, terminal, cond);
    if (line < 0 || line >= c->nlines || terminal < 1 || terminal > 2)
        return 0;
    const struct fdr_branch *br = &c->br[c->line_br[line]];
    if (cond < 1 || cond > br->nc)
        return 0;
    int to_side = (terminal == 2) != br->reversed;
    return to_side ? s->v[br->to][br->tnode[cond - 1]] : s->v[br->from][br->fnode[cond - 1]];
}

void fdr_xfmr_pq(const fdr_solver *s, int x, int winding, int cond, double *p_kw, double *q_kvar)
{
    double complex sv =
        fdr_xfmr_v(s, x, winding, cond) * conj(fdr_xfmr_i(s, x, winding, cond)) / 1000.0;
    if (p_kw)
        *p_kw = creal(sv);
    if (q_kvar)
        *q_kvar = cimag(sv);
}

double complex fdr_load_i(const fdr_solver *s, int load, int cond)
{
    const fdr_circuit *c = s->c;
    if (load < 0 || load >= c->nloads || cond < 1 || cond > c->load_ncond[load])
        return 0;
    const struct fdr_loaddef *l = &c->loads[load];
    int e0 = c->load_el0[load], n = c->load_nel[load];
    if (l->conn == FDR_WYE) {
        if (cond <= n)
            return s->iel[e0 + cond - 1];
        double complex sum = 0;
        for (int e = 0; e < n; e++)
            sum += s->iel[e0 + e];
        return -sum;
    }
    if (n == 1)
        return cond == 1 ? s->iel[e0] : -s->iel[e0];
    int m = cond - 1;
    return s->iel[e0 + m] - s->iel[e0 + (m + 2) % 3];
}

void fdr_load_pq(const fdr_solver *s, int load, double *p_kw, double *q_kvar)
{
    const fdr_circuit *c = s->c;
    double complex sv = 0;
    if (load >= 0 && load < c->nloads) {
        for (int e = c->load_el0[load]; e < c->load_el0[load] + c->load_nel[load]; e++) {
            const struct fdr_lelem *el = &c->lel[e];
            const double complex *v = s->v[el->bus];
            double complex vab = el->b >= 0 ? v[el->a] - v[el->b] : v[el->a];
            sv += vab * conj(s->iel[e]);
        }
    }
    if (p_kw)
        *p_kw = creal(sv) / 1000.0;
    if (q_kvar)
        *q_kvar = cimag(sv) / 1000.0;
}

double complex fdr_source_i(const fdr_solver *s, int phase)
{
    if (phase < 1 || phase > 3)
        return 0;
    if (s->ns)
        return fdr_nsolve_source_i(s, phase);
    return s->j[s->c->root][phase - 1];
}

void fdr_source_pq(const fdr_solver *s, double *p_kw, double *q_kvar)
{
    const int r = s->c->root;
    double complex sv = 0;
    for (int m = 0; m < 3; m++)
        sv += s->v[r][m] * conj(fdr_source_i(s, m + 1));
    if (p_kw)
        *p_kw = creal(sv) / 1000.0;
    if (q_kvar)
        *q_kvar = cimag(sv) / 1000.0;
}

void fdr_losses(const fdr_solver *s, struct fdr_losses *out)
{
    const fdr_circuit *c = s->c;
    if (s->ns) {
        fdr_nsolve_losses(s, out);
        return;
    }
    double complex sl = 0, sx = 0;
    for (int k = 0; k < c->nbr; k++) {
        const struct fdr_branch *br = &c->br[k];
        const double complex *vp = s->v[br->from], *vc = s->v[br->to];
        if (br->kind == FDR_BR_LINE) {
            for (int m = 0; m < br->nc; m++)
                sl += vp[br->fnode[m]] * conj(line_end_i(s, k, 0, m)) +
                      vc[br->tnode[m]] * conj(line_end_i(s, k, 1, m));
        } else {
            for (int m = 0; m < br->nc; m++) {
                int x = br->xf[m];
                int cond = m - c->xfmr_c0[x] + 1;
                sx += vp[br->fnode[m]] * conj(fdr_xfmr_i(s, x, 1, cond)) -
                      vc[br->tnode[m]] * conj(s->is[k][m]);
            }
            if (br->star_n) /* the star point takes back the phase currents' sum */
                sx += vc[3] * conj(s->is[k][0] + s->is[k][1] + s->is[k][2]);
        }
    }
    out->lines_kw = creal(sl) / 1000.0;
    out->lines_kvar = cimag(sl) / 1000.0;
    out->xfmr_kw = creal(sx) / 1000.0;
    out->xfmr_kvar = cimag(sx) / 1000.0;
    out->total_kw = out->lines_kw + out->xfmr_kw;
    out->total_kvar = out->lines_kvar + out->xfmr_kvar;
}

/* ------------------------------------------------------------------ */
/* Benchmark                                                           */
/* ------------------------------------------------------------------ */

static double elapsed(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) * 1e-9;
}

int fdr_bench(const char *master_path, int steps, double tol_pu, int time_mode, double *seconds,
              double *first_seconds, const char **method, struct sim_err *err)
{
    if (steps < 1)
        return sim_errf(err, SIM_EINVAL, "bench: steps must be >= 1");
    fdr_circuit *c = fdr_load_dss(master_path, NULL, err);
    if (!c)
        return SIM_EINVAL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fdr_solver *s = fdr_solver_new(c, err);
    if (!s) {
        fdr_circuit_free(c);
        return SIM_ENOMEM;
    }
    if (method)
        *method = fdr_circuit_method(c);
    if (tol_pu > 0)
        fdr_solver_set_tolerance(s, tol_pu, 0);
    /* the snapshot: nominal demand, controls acting */
    int rc = fdr_solve(s, NULL, err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (first_seconds)
        *first_seconds = elapsed(&t0, &t1);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int m = 1; m <= steps && !rc; m++) {
        fdr_apply_loadshapes(s, m, fmod(m, 1440.0));
        rc = time_mode ? fdr_solve_time(s, 60.0 * m, NULL, err) : fdr_solve(s, NULL, err);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (seconds)
        *seconds = elapsed(&t0, &t1);
    fdr_solver_free(s);
    fdr_circuit_free(c);
    return rc;
}
