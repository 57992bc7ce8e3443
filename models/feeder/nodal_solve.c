/*
 * nodal_solve.c: the nodal power flow, OpenDSS's "normal" current-
 * injection iteration on a sparse admittance matrix factored by KLU.
 *
 * The system matrix holds every element's primitive admittance plus each
 * consuming load's admittance at its nominal demand and voltage; a solve
 * is then V = Y^-1 (I_source + sum of the loads' compensation currents
 * Y_load V - I_load(V)), repeated from the last voltages until the largest
 * change is below the tolerance (pu of each bus's base). Constant-
 * impedance loads and capacitors cost nothing in that loop. The matrix is
 * analysed and factored once when the solver is made, and refactored (same
 * pattern, same pivots) only when a regulator moves a tap. Nothing here
 * allocates after fdr_nsolve_new().
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <suitesparse/klu.h>

#include "nodal.h"

struct fdr_nsolve {
    klu_common common;
    klu_symbolic *sym;
    klu_numeric *num;
    double complex *ax;   /* nnz values of the system matrix */
    double complex *x;    /* right-hand side, then solution */
    double complex *isrc; /* the source's Norton current per node */
    double complex *y;    /* the primitives, as the taps now are */
    double complex *yeq;  /* per load element: its admittance in the matrix */
    double (*tap)[3];     /* per transformer and winding */
};

void fdr_nsolve_free(struct fdr_nsolve *ns)
{
    if (!ns)
        return;
    if (ns->num)
        klu_z_free_numeric(&ns->num, &ns->common);
    if (ns->sym)
        klu_free_symbolic(&ns->sym, &ns->common);
    free(ns->ax);
    free(ns->x);
    free(ns->isrc);
    free(ns->y);
    free(ns->yeq);
    free(ns->tap);
    free(ns);
}

static void assemble(const fdr_circuit *c, struct fdr_nsolve *ns)
{
    const struct fdr_nodal *n = c->nod;
    memset(ns->ax, 0, sizeof *ns->ax * (size_t)n->nnz);
    for (int q = 0; q < n->ny; q++)
        if (n->pos[q] >= 0)
            ns->ax[n->pos[q]] += ns->y[q];
    for (int k = 0; k < c->nlel; k++) {
        double complex y = ns->yeq[k];
        if (y == 0)
            continue;
        const int *p = n->lpos[k];
        if (p[0] >= 0)
            ns->ax[p[0]] += y;
        if (p[1] >= 0)
            ns->ax[p[1]] -= y;
        if (p[2] >= 0)
            ns->ax[p[2]] -= y;
        if (p[3] >= 0)
            ns->ax[p[3]] += y;
    }
}

/* The bus named by KLU's singular column, for the message. */
static int singular(const fdr_circuit *c, const struct fdr_nsolve *ns, struct sim_err *err)
{
    const struct fdr_nodal *n = c->nod;
    long col = ns->common.singular_col;
    if (col >= 0 && col < n->nn)
        return sim_errf(err, SIM_EINVAL,
                        "feeder: the admittance matrix is singular at bus %s node %d (a node "
                        "with no path to ground or to the source)",
                        c->buses[n->node_bus[col]].name, n->node_slot[col] + 1);
    return sim_errf(err, SIM_EINVAL,
                    "feeder: the admittance matrix could not be factored (KLU "
                    "status %d)",
                    ns->common.status);
}

int fdr_nsolve_new(fdr_solver *s, struct sim_err *err)
{
    const fdr_circuit *c = s->c;
    const struct fdr_nodal *n = c->nod;
    struct fdr_nsolve *ns = calloc(1, sizeof *ns);
    if (!ns)
        return sim_errf(err, SIM_ENOMEM, "out of memory");
    s->ns = ns;
    klu_defaults(&ns->common);
    ns->ax = calloc((size_t)n->nnz + 1, sizeof *ns->ax);
    ns->x = calloc((size_t)n->nn + 1, sizeof *ns->x);
    ns->isrc = calloc((size_t)n->nn + 1, sizeof *ns->isrc);
    ns->y = malloc(((size_t)n->ny + 1) * sizeof *ns->y);
    ns->yeq = calloc((size_t)c->nlel + 1, sizeof *ns->yeq);
    ns->tap = calloc((size_t)c->nxfmrs + 1, sizeof *ns->tap);
    if (!ns->ax || !ns->x || !ns->isrc || !ns->y || !ns->yeq || !ns->tap)
        return sim_errf(err, SIM_ENOMEM, "out of memory");
    memcpy(ns->y, n->y, sizeof *ns->y * (size_t)n->ny);
    for (int x = 0; x < c->nxfmrs; x++)
        for (int w = 0; w < 3; w++)
            ns->tap[x][w] = c->xfmrs[x].w[w].tap;
    for (int k = 0; k < c->nlel; k++) {
        /* a consuming load (or a capacitor) at its nominal demand */
        double complex s0 = s->s0[k];
        double vb = c->lel[k].vbase;
        if (creal(s0) >= 0 && vb > 0)
            ns->yeq[k] = conj(s0) / (vb * vb);
    }
    const struct fdr_nelem *se = &n->el[n->src_el];
    for (int i = 0; i < 3; i++) {
        double complex sum = 0;
        for (int j = 0; j < 3; j++)
            sum += n->y[se->y0 + i * 3 + j] * c->e[j];
        int node = n->cnode[se->c0 + i];
        if (node >= 0)
            ns->isrc[node] += sum;
    }
    assemble(c, ns);
    ns->sym = klu_analyze(n->nn, n->ap, n->ai, &ns->common);
    if (!ns->sym)
        return sim_errf(err, SIM_ENOMEM, "feeder: KLU could not analyse the admittance matrix");
    ns->num = klu_z_factor(n->ap, n->ai, (double *)ns->ax, ns->sym, &ns->common);
    if (!ns->num || ns->common.status != KLU_OK)
        return singular(c, ns, err);
    /* start from the voltages with every load as its nominal admittance */
    for (int b = 0; b < c->nbuses; b++)
        for (int k = 0; k < 4; k++)
            s->v[b][k] = 0;
    return 0;
}

static inline double complex node_v(const fdr_solver *s, int node)
{
    const struct fdr_nodal *n = s->c->nod;
    return node >= 0 ? s->v[n->node_bus[node]][n->node_slot[node]] : 0;
}

/* Current into element el at its conductor k. */
static double complex elem_i(const fdr_solver *s, const struct fdr_nelem *el, int k)
{
    const struct fdr_nodal *n = s->c->nod;
    const double complex *y = s->ns->y + el->y0 + k * el->nt;
    const int *cn = n->cnode + el->c0;
    double complex sum = 0;
    for (int j = 0; j < el->nt; j++)
        if (cn[j] >= 0)
            sum += y[j] * node_v(s, cn[j]);
    return sum;
}

static void load_currents(fdr_solver *s, double complex *rhs)
{
    const fdr_circuit *c = s->c;
    const struct fdr_nodal *n = c->nod;
    for (int k = 0; k < c->nlel; k++) {
        const struct fdr_lelem *el = &c->lel[k];
        const double complex *v = s->v[el->bus];
        double complex vab = el->b >= 0 ? v[el->a] - v[el->b] : v[el->a];
        double complex i = fdr_load_current(&s->zip[el->load], s->s0[k], vab, el->vbase);
        s->iel[k] = i;
        if (rhs) {
            double complex comp = s->ns->yeq[k] * vab - i;
            if (n->lnode[k][0] >= 0)
                rhs[n->lnode[k][0]] += comp;
            if (n->lnode[k][1] >= 0)
                rhs[n->lnode[k][1]] -= comp;
        }
    }
}

int fdr_nsolve_power_flow(fdr_solver *s, int *iterations, struct sim_err *err)
{
    const fdr_circuit *c = s->c;
    const struct fdr_nodal *n = c->nod;
    struct fdr_nsolve *ns = s->ns;
    double dv = 0;
    for (int it = 1; it <= s->max_iter; it++) {
        memcpy(ns->x, ns->isrc, sizeof *ns->x * (size_t)n->nn);
        load_currents(s, ns->x);
        if (!klu_z_solve(ns->sym, ns->num, n->nn, 1, (double *)ns->x, &ns->common))
            return sim_errf(err, SIM_EFAIL, "feeder: KLU solve failed (status %d)",
                            ns->common.status);
        double d2 = 0;
        for (int k = 0; k < n->nn; k++) {
            double complex *v = &s->v[n->node_bus[k]][n->node_slot[k]];
            double ib = s->inv_vbase[n->node_bus[k]];
            double complex dd = ns->x[k] - *v;
            double d = (creal(dd) * creal(dd) + cimag(dd) * cimag(dd)) * ib * ib;
            if (!(d <= d2))
                d2 = d; /* also catches NaN */
            *v = ns->x[k];
        }
        dv = sqrt(d2);
        if (!(dv < 1e3)) {
            if (iterations)
                *iterations = it;
            return sim_errf(err, SIM_EFAIL,
                            "feeder power flow diverged at iteration %d (voltage change %g pu)", it,
                            dv);
        }
        if (dv < s->tol) {
            load_currents(s, NULL);
            if (iterations)
                *iterations = it;
            return 0;
        }
    }
    if (iterations)
        *iterations = s->max_iter;
    return sim_errf(err, SIM_EFAIL,
                    "feeder power flow did not converge in %d iterations (last change %.3g pu, "
                    "tolerance %.3g pu)",
                    s->max_iter, dv, s->tol);
}

/* Winding w's voltage on phase 1 (its two ends' difference). */
static double complex winding_v(const fdr_solver *s, int x, int w)
{
    const fdr_circuit *c = s->c;
    const struct fdr_nodal *n = c->nod;
    const struct fdr_xfmrdef *xd = &c->xfmrs[x];
    const struct fdr_nelem *el = &n->el[n->xfmr_el[x]];
    int nc = xd->phases + 1, a, b;
    /* ends as the primitive wires them (see nodal.c) */
    a = 0;
    if (xd->phases == 1) {
        b = 1;
    } else if (xd->w[w].conn == FDR_WYE) {
        b = xd->phases;
    } else {
        int dir = 1;
        if (xd->w[0].conn != xd->w[1].conn)
            dir = (xd->w[0].conn == FDR_WYE) == !xd->lead ? 1 : -1;
        b = (dir + xd->phases) % xd->phases;
    }
    const int *cn = n->cnode + el->c0 + w * nc;
    return node_v(s, cn[a]) - node_v(s, cn[b]);
}

double complex fdr_nsolve_winding_v(const fdr_solver *s, int r)
{
    const fdr_circuit *c = s->c;
    const struct fdr_regc *g = &c->regc[r];
    return winding_v(s, g->xf, c->regs[g->reg].winding - 1);
}

void fdr_nsolve_set_tap(fdr_solver *s, int r, double nt)
{
    const fdr_circuit *c = s->c;
    struct fdr_nsolve *ns = s->ns;
    const struct fdr_regc *g = &c->regc[r];
    s->tap[r] = nt;
    ns->tap[g->xf][c->regs[g->reg].tapwinding - 1] = nt;
    const struct fdr_nelem *el = &c->nod->el[c->nod->xfmr_el[g->xf]];
    fdr_nodal_xfmr_y(c, g->xf, ns->tap[g->xf], ns->y + el->y0);
}

int fdr_nsolve_refactor(fdr_solver *s, struct sim_err *err)
{
    const fdr_circuit *c = s->c;
    struct fdr_nsolve *ns = s->ns;
    assemble(c, ns);
    if (!klu_z_refactor(c->nod->ap, c->nod->ai, (double *)ns->ax, ns->sym, ns->num, &ns->common) ||
        ns->common.status != KLU_OK)
        return singular(c, ns, err);
    return 0;
}

double complex fdr_nsolve_line_v(const fdr_solver *s, int line, int terminal, int cond)
{
    const fdr_circuit *c = s->c;
    if (line < 0 || line >= c->nlines || terminal < 1 || terminal > 2 || c->nod->line_el[line] < 0)
        return 0;
    const struct fdr_nelem *el = &c->nod->el[c->nod->line_el[line]];
    int nc = el->nt / 2;
    if (cond < 1 || cond > nc)
        return 0;
    return node_v(s, c->nod->cnode[el->c0 + (terminal - 1) * nc + cond - 1]);
}

/* ------------------------------------------------------------------ */
/* Results                                                             */
/* ------------------------------------------------------------------ */

double complex fdr_nsolve_line_i(const fdr_solver *s, int line, int terminal, int cond)
{
    const fdr_circuit *c = s->c;
    if (line < 0 || line >= c->nlines || terminal < 1 || terminal > 2)
        return 0;
    if (c->nod->line_el[line] < 0)
        return 0; /* open */
    const struct fdr_nelem *el = &c->nod->el[c->nod->line_el[line]];
    int nc = el->nt / 2;
    if (cond == 0) {
        double complex sum = 0;
        for (int k = 0; k < nc; k++)
            sum += elem_i(s, el, (terminal - 1) * nc + k);
        return sum;
    }
    if (cond < 1 || cond > nc)
        return 0;
    return elem_i(s, el, (terminal - 1) * nc + cond - 1);
}

/* Conductor index within transformer x's primitive, -1 if none. */
static int xfmr_cond(const fdr_circuit *c, int x, int winding, int cond)
{
    if (x < 0 || x >= c->nxfmrs)
        return -1;
    const struct fdr_xfmrdef *xd = &c->xfmrs[x];
    int np = xd->phases;
    if (winding < 1 || winding > xd->nw || cond < 1 || cond > 4)
        return -1;
    int k;
    if (cond <= np)
        k = cond - 1;
    else if (cond == 4 || cond == np + 1)
        k = np;
    else
        return -1;
    return (winding - 1) * (np + 1) + k;
}

double complex fdr_nsolve_xfmr_i(const fdr_solver *s, int x, int winding, int cond)
{
    int k = xfmr_cond(s->c, x, winding, cond);
    if (k < 0)
        return 0;
    return elem_i(s, &s->c->nod->el[s->c->nod->xfmr_el[x]], k);
}

double complex fdr_nsolve_xfmr_v(const fdr_solver *s, int x, int winding, int cond)
{
    int k = xfmr_cond(s->c, x, winding, cond);
    if (k < 0)
        return 0;
    const struct fdr_nodal *n = s->c->nod;
    return node_v(s, n->cnode[n->el[n->xfmr_el[x]].c0 + k]);
}

double complex fdr_nsolve_source_i(const fdr_solver *s, int phase)
{
    const struct fdr_nodal *n = s->c->nod;
    const struct fdr_nelem *el = &n->el[n->src_el];
    int node = n->cnode[el->c0 + phase - 1];
    return (node >= 0 ? s->ns->isrc[node] : 0) - elem_i(s, el, phase - 1);
}

double complex fdr_nsolve_earth_i(const fdr_solver *s, int bus)
{
    const fdr_circuit *c = s->c;
    const struct fdr_nodal *n = c->nod;
    if (bus < 0 || bus >= c->nbuses || n->bnode[bus][3] < 0)
        return 0;
    int node = n->bnode[bus][3];
    double complex sum = 0;
    /* reactors from the neutral to ground */
    for (int r = 0; r < c->nreactors; r++) {
        const struct fdr_nelem *el = &n->el[n->reactor_el[r]];
        int np = el->nt / 2;
        for (int k = 0; k < np; k++)
            if (n->cnode[el->c0 + k] == node && n->cnode[el->c0 + np + k] < 0)
                sum += elem_i(s, el, k);
    }
    return sum;
}

void fdr_nsolve_losses(const fdr_solver *s, struct fdr_losses *out)
{
    const struct fdr_nodal *n = s->c->nod;
    double complex sl = 0, sx = 0;
    for (int e = 0; e < n->nel; e++) {
        const struct fdr_nelem *el = &n->el[e];
        if (el->kind == FDR_NE_SRC)
            continue;
        double complex sum = 0;
        for (int k = 0; k < el->nt; k++) {
            int node = n->cnode[el->c0 + k];
            if (node >= 0)
                sum += node_v(s, node) * conj(elem_i(s, el, k));
        }
        if (el->kind == FDR_NE_XFMR)
            sx += sum;
        else
            sl += sum;
    }
    out->lines_kw = creal(sl) / 1000.0;
    out->lines_kvar = cimag(sl) / 1000.0;
    out->xfmr_kw = creal(sx) / 1000.0;
    out->xfmr_kvar = cimag(sx) / 1000.0;
    out->total_kw = out->lines_kw + out->xfmr_kw;
    out->total_kvar = out->lines_kvar + out->xfmr_kvar;
}
