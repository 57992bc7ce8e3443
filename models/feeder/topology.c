/*
 * topology.c: turns the parsed element definitions into the radial network
 * the sweep solver walks, and answers questions about it.
 *
 * Buses are collected from element bus specs ("name.1.2.3"); a breadth-
 * first search from the source bus orients every line and transformer
 * (loops and islands are errors naming the element). Each bus has three
 * phase slots; node 0 is the perfect ground every wye neutral is tied to.
 * Line impedances are built here (sequence data -> phase frame, Kron
 * reduction, length units), as are the source's Thevenin impedance, the
 * transformers' ratio / leakage impedance / delta wiring, the loads' phase
 * elements and every bus's voltage base.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "feeder_impl.h"

/* ------------------------------------------------------------------ */
/* Reset and free                                                      */
/* ------------------------------------------------------------------ */

void fdr_free_compiled(fdr_circuit *c)
{
    free(c->buses);
    free(c->br);
    free(c->line_br);
    free(c->xfmr_br);
    free(c->xfmr_c0);
    free(c->regc);
    c->regc = NULL;
    c->nregc = 0;
    free(c->lel);
    free(c->load_el0);
    free(c->load_nel);
    free(c->load_ncond);
    free(c->gnd_bus);
    fdr_nodal_free(c->nod);
    c->nod = NULL;
    fdr_names_free(&c->bus_ix);
    c->buses = NULL;
    c->br = NULL;
    c->line_br = c->xfmr_br = c->xfmr_c0 = NULL;
    c->lel = NULL;
    c->load_el0 = c->load_nel = c->load_ncond = NULL;
    c->gnd_bus = NULL;
    c->nbuses = c->buses_cap = c->nbr = c->nlel = c->ngnd = c->has_neutral = 0;
}

void fdr_circuit_reset(fdr_circuit *c)
{
    fdr_free_compiled(c);
    for (int i = 0; i < c->nshapes; i++) {
        free(c->shapes[i].mult);
        free(c->shapes[i].qmult);
    }
    c->ncodes = c->nlines = c->nloads = c->nshapes = c->nxfmrs = c->nreactors = 0;
    c->nwires = c->ngeoms = c->nregs = c->nxfcodes = c->ncapctrls = c->nswts = 0;
    fdr_names_free(&c->swt_ix);
    fdr_names_free(&c->gen_ix);
    fdr_names_free(&c->cn_ix);
    fdr_names_free(&c->spacing_ix);
    fdr_names_free(&c->ts_ix);
    c->nspacings = 0;
    fdr_names_free(&c->xfcode_ix);
    fdr_names_free(&c->capctrl_ix);
    c->earth_model = FDR_EARTH_DERI;
    fdr_names_free(&c->reactor_ix);
    fdr_names_free(&c->wire_ix);
    fdr_names_free(&c->geom_ix);
    fdr_names_free(&c->cap_ix);
    fdr_names_free(&c->reg_ix);
    fdr_names_free(&c->code_ix);
    fdr_names_free(&c->line_ix);
    fdr_names_free(&c->load_ix);
    fdr_names_free(&c->shape_ix);
    fdr_names_free(&c->xfmr_ix);
    memset(&c->src, 0, sizeof c->src);
    c->have_circuit = 0;
    c->nvbases = 0;
    c->base_freq = 60.0;
    c->loadmult = 1.0;
    c->controls_off = 0;
    c->max_control_iter = 0;
}

void fdr_circuit_free(fdr_circuit *c)
{
    if (!c)
        return;
    fdr_circuit_reset(c);
    free(c->codes);
    free(c->lines);
    free(c->loads);
    free(c->shapes);
    free(c->xfmrs);
    free(c->reactors);
    free(c->wires);
    free(c->geoms);
    free(c->spacings);
    free(c->regs);
    free(c->xfcodes);
    free(c->capctrls);
    free(c->swts);
    for (int i = 0; i < c->nfiles; i++)
        free(c->files[i]);
    free(c->files);
    free(c);
}

const char *fdr_file_name(const fdr_circuit *c, struct fdr_loc at)
{
    return at.file >= 0 && at.file < c->nfiles ? c->files[at.file] : "?";
}

double fdr_unit_m(int units)
{
    static const double m[] = {0, 1609.344, 304.8, 1000.0, 1.0, 0.3048, 0.0254, 0.01, 0.001};
    return units >= 0 && units <= FDR_U_MM ? m[units] : 0;
}

/* ------------------------------------------------------------------ */
/* Bus specs                                                           */
/* ------------------------------------------------------------------ */

int fdr_err_at(const fdr_circuit *c, struct sim_err *err, struct fdr_loc at, const char *fmt,
               const char *a, const char *b)
{
    char buf[400];
    snprintf(buf, sizeof buf, fmt, a, b);
    return sim_errf(err, SIM_EINVAL, "%s:%d: %s", fdr_file_name(c, at), at.line, buf);
}

/* Parse "name.n1.n2..." and find or create the bus (find only: t->bus is
 * -1 for an unknown bus). */
int fdr_term_parse_opt(fdr_circuit *c, const char *spec, struct fdr_term *t, struct fdr_loc at,
                       int create, struct sim_err *err)
{
    char name[FDR_BUSSPEC_MAX];
    const char *dot = strchr(spec, '.');
    size_t len = dot ? (size_t)(dot - spec) : strlen(spec);
    if (len == 0)
        return fdr_err_at(c, err, at, "empty bus name in '%s'%s", spec, "");
    if (len >= FDR_NAME_MAX)
        return fdr_err_at(c, err, at, "bus name in '%s' is too long%s", spec, "");
    memcpy(name, spec, len);
    name[len] = '\0';
    t->nn = 0;
    while (dot) {
        const char *s = dot + 1;
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || (*end && *end != '.') || v < 0 || v > 1000)
            return fdr_err_at(c, err, at, "bad node list in bus '%s'%s", spec, "");
        if (t->nn == FDR_TERM_NODES)
            return fdr_err_at(c, err, at, "too many nodes in bus '%s'%s", spec, "");
        t->node[t->nn++] = (int)v;
        dot = *end ? end : NULL;
    }
    int b = fdr_names_get(&c->bus_ix, name);
    if (b < 0 && !create) {
        t->bus = -1;
        return 0;
    }
    if (b < 0) {
        if (c->nbuses == c->buses_cap) {
            int ncap = c->buses_cap ? c->buses_cap * 2 : 256;
            struct fdr_bus *nb = realloc(c->buses, (size_t)ncap * sizeof *nb);
            if (!nb)
                return sim_errf(err, SIM_ENOMEM, "out of memory");
            c->buses = nb;
            c->buses_cap = ncap;
        }
        b = c->nbuses++;
        struct fdr_bus *bus = &c->buses[b];
        memset(bus, 0, sizeof *bus);
        strcpy(bus->name, name);
        bus->parent = -1;
        bus->nroot = -1;
        if (fdr_names_put(&c->bus_ix, name, b))
            return sim_errf(err, SIM_ENOMEM, "out of memory");
    }
    t->bus = b;
    return 0;
}

static int term_parse(fdr_circuit *c, const char *spec, struct fdr_term *t, struct fdr_loc at,
                      struct sim_err *err)
{
    return fdr_term_parse_opt(c, spec, t, at, 1, err);
}

/* Phase nodes of an element terminal with `np` phase conductors: the spec's
 * first np nodes, or 1..np. Node 0 (ground) or a node above 3 on a phase
 * conductor is refused. With has_neutral, a written neutral must be 0, or
 * 4 where the caller passes nslot (then *nslot = 3, else -1). */
int fdr_term_phases_n(const fdr_circuit *c, const struct fdr_term *t, int np, int has_neutral,
                      int *slot, int *nslot, struct fdr_loc at, const char *spec,
                      struct sim_err *err)
{
    if (nslot)
        *nslot = -1;
    if (t->nn != 0 && t->nn < np)
        return fdr_err_at(c, err, at, "bus '%s' names fewer nodes than the element has phases%s",
                          spec, "");
    if (t->nn > np + (has_neutral ? 1 : 0))
        return fdr_err_at(c, err, at, "bus '%s' names more nodes than the element has conductors%s",
                          spec, "");
    for (int k = 0; k < np; k++) {
        int nd = t->nn ? t->node[k] : k + 1;
        if (nd < 1 || nd > 3)
            return fdr_err_at(c, err, at,
                              "bus '%s': phase conductors must be on nodes 1-3 (node 4 is the "
                              "neutral)%s",
                              spec, "");
        for (int j = 0; j < k; j++)
            if (slot[j] == nd - 1)
                return fdr_err_at(c, err, at, "bus '%s' repeats a node%s", spec, "");
        slot[k] = nd - 1;
    }
    if (has_neutral && t->nn == np + 1 && nslot && t->node[np] == 4) {
        *nslot = 3;
        return 0;
    }
    if (has_neutral && t->nn == np + 1 && t->node[np] != 0)
        return fdr_err_at(c, err, at,
                          "bus '%s': the neutral must be node 0 (ground) or, where an explicit "
                          "neutral is supported, node 4%s",
                          spec, "");
    return 0;
}

static int term_phases(const fdr_circuit *c, const struct fdr_term *t, int np, int has_neutral,
                       int *slot, struct fdr_loc at, const char *spec, struct sim_err *err)
{
    return fdr_term_phases_n(c, t, np, has_neutral, slot, NULL, at, spec, err);
}

/* ------------------------------------------------------------------ */
/* Impedances                                                          */
/* ------------------------------------------------------------------ */

/* Invert a small complex matrix in place (Gauss-Jordan, partial pivoting).
 * Returns 0, or -1 if singular. */
int fdr_cinv(double complex *a, int n)
{
    double complex inv[16];
    for (int i = 0; i < n * n; i++)
        inv[i] = 0;
    for (int i = 0; i < n; i++)
        inv[i * n + i] = 1;
    for (int col = 0; col < n; col++) {
        int piv = col;
        for (int r = col + 1; r < n; r++)
            if (cabs(a[r * n + col]) > cabs(a[piv * n + col]))
                piv = r;
        if (cabs(a[piv * n + col]) == 0)
            return -1;
        for (int k = 0; k < n; k++) {
            double complex t = a[col * n + k];
            a[col * n + k] = a[piv * n + k];
            a[piv * n + k] = t;
            t = inv[col * n + k];
            inv[col * n + k] = inv[piv * n + k];
            inv[piv * n + k] = t;
        }
        double complex d = a[col * n + col];
        for (int k = 0; k < n; k++) {
            a[col * n + k] /= d;
            inv[col * n + k] /= d;
        }
        for (int r = 0; r < n; r++) {
            if (r == col)
                continue;
            double complex f = a[r * n + col];
            for (int k = 0; k < n; k++) {
                a[r * n + k] -= f * a[col * n + k];
                inv[r * n + k] -= f * inv[col * n + k];
            }
        }
    }
    memcpy(a, inv, sizeof(double complex) * (size_t)(n * n));
    return 0;
}

/* Kron-reduce the last conductor of an n x n matrix (n -> n-1):
 * Z' = Zpp - Zpn Znn^-1 Znp. */
static void kron(double complex *z, int n)
{
    int m = n - 1;
    double complex out[16];
    double complex znn = z[m * n + m];
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++)
            out[i * m + j] = z[i * n + j] - z[i * n + m] * z[m * n + j] / znn;
    memcpy(z, out, sizeof(double complex) * (size_t)(m * m));
}

/* Series impedance (ohm) and half shunt admittance (S) of a line; with
 * `neutral` the last of np + 1 conductors is an explicit neutral. */
int fdr_line_matrices(const fdr_circuit *c, const struct fdr_linedef *l, int neutral,
                      double complex z[4][4], double complex yh[4][4], int *has_y,
                      struct sim_err *err)
{
    const struct fdr_zdef *d = &l->z;
    int np = l->phases + neutral;
    double complex zm[16], cm[16];
    int n;
    if (d->matrix) {
        n = d->nph;
        for (int i = 0; i < n * n; i++) {
            zm[i] = d->rm[i] + I * d->xm[i];
            cm[i] = d->cm[i];
        }
        if (d->kron) {
            if (cabs(zm[(n - 1) * n + n - 1]) == 0)
                return fdr_err_at(c, err, l->at, "Line.%s: neutral self impedance is zero%s",
                                  l->name, "");
            kron(zm, n);
            /* capacitance: reduce the potential-coefficient matrix, i.e.
             * invert, drop the neutral, invert back */
            int any = 0;
            for (int i = 0; i < n * n; i++)
                any |= cm[i] != 0;
            if (any) {
                double complex pm[16];
                memcpy(pm, cm, sizeof pm);
                if (fdr_cinv(pm, n))
                    return fdr_err_at(c, err, l->at, "Line.%s: singular cmatrix%s", l->name, "");
                double complex pr[9];
                for (int i = 0; i < n - 1; i++)
                    for (int j = 0; j < n - 1; j++)
                        pr[i * (n - 1) + j] = pm[i * n + j];
                if (fdr_cinv(pr, n - 1))
                    return fdr_err_at(c, err, l->at, "Line.%s: singular cmatrix%s", l->name, "");
                memcpy(cm, pr, sizeof(double complex) * (size_t)((n - 1) * (n - 1)));
            } else {
                for (int i = 0; i < (n - 1) * (n - 1); i++)
                    cm[i] = 0;
            }
            n--;
        }
        if (n != np) {
            char buf[64];
            snprintf(buf, sizeof buf, "%d", n);
            return fdr_err_at(c, err, l->at,
                              "Line.%s: impedance matrix has %s conductors, not the line's phases",
                              l->name, buf);
        }
    } else {
        n = np;
        double complex z1 = d->r1 + I * d->x1, z0 = d->r0 + I * d->x0;
        double complex zs = (2.0 * z1 + z0) / 3.0, zmu = (z0 - z1) / 3.0;
        double cs = (2.0 * d->c1_nf + d->c0_nf) / 3.0, cmu = (d->c0_nf - d->c1_nf) / 3.0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                zm[i * n + j] = i == j ? zs : zmu;
                cm[i * n + j] = i == j ? cs : cmu;
            }
    }
    double f = l->length;
    double um = fdr_unit_m(l->len_units), zu = fdr_unit_m(d->units);
    if (um > 0 && zu > 0)
        f *= um / zu;
    double w = 2.0 * M_PI * c->base_freq;
    *has_y = 0;
    memset(z, 0, sizeof(double complex) * 16);
    memset(yh, 0, sizeof(double complex) * 16);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            z[i][j] = zm[i * n + j] * f;
            yh[i][j] = I * w * creal(cm[i * n + j]) * 1e-9 * f / 2.0;
            if (yh[i][j] != 0)
                *has_y = 1;
        }
    return 0;
}

/* Thevenin impedance of the source, OpenDSS's Vsource conventions. */
int fdr_source_matrices(fdr_circuit *c, struct sim_err *err)
{
    struct fdr_vsource *v = &c->src;
    if (v->phases != 3)
        return fdr_err_at(c, err, v->at, "Vsource: only three-phase sources are supported%s%s", "",
                          "");
    if (v->basekv <= 0)
        return fdr_err_at(c, err, v->at, "Vsource: basekv must be > 0%s%s", "", "");
    double kv = v->basekv, r1, x1, r0, x0;
    if (v->zspec == 3) {
        r1 = v->r1;
        x1 = v->x1;
        r0 = v->r0;
        x0 = v->x0;
    } else {
        double isc3 = v->isc3, isc1 = v->isc1, mva3 = v->mvasc3;
        if (v->zspec == 1) {
            isc3 = v->mvasc3 * 1000.0 / (FDR_SQRT3 * kv);
            isc1 = v->mvasc1 * 1000.0 / (FDR_SQRT3 * kv);
        } else {
            mva3 = FDR_SQRT3 * kv * isc3 / 1000.0;
        }
        if (mva3 <= 0 || isc1 <= 0 || v->x1r1 <= 0 || v->x0r0 <= 0)
            return fdr_err_at(c, err, v->at, "Vsource: short-circuit data must be > 0%s%s", "", "");
        x1 = kv * kv / mva3 / sqrt(1.0 + 1.0 / (v->x1r1 * v->x1r1));
        r1 = x1 / v->x1r1;
        /* |2 Z1 + Z0| = 3 V_LN / Isc1 with X0 = R0 * x0r0 */
        double a = 1.0 + v->x0r0 * v->x0r0;
        double b = 4.0 * (r1 + x1 * v->x0r0);
        double k = 3.0 * kv * 1000.0 / FDR_SQRT3 / isc1;
        double cc = 4.0 * (r1 * r1 + x1 * x1) - k * k;
        double disc = b * b - 4.0 * a * cc;
        if (disc < 0)
            return fdr_err_at(c, err, v->at, "Vsource: inconsistent ISC1/ISC3 data%s%s", "", "");
        r0 = (-b + sqrt(disc)) / (2.0 * a);
        if (r0 < 0)
            return fdr_err_at(c, err, v->at,
                              "Vsource: single-phase short-circuit current too high for ISC3%s%s",
                              "", "");
        x0 = r0 * v->x0r0;
    }
    double complex z1 = r1 + I * x1, z0 = r0 + I * x0;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            c->zs[i][j] = i == j ? (2.0 * z1 + z0) / 3.0 : (z0 - z1) / 3.0;
    double vln = v->pu * kv * 1000.0 / FDR_SQRT3;
    for (int k = 0; k < 3; k++)
        c->e[k] = vln * cexp(I * (v->angle_deg - 120.0 * k) * M_PI / 180.0);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Compile                                                             */
/* ------------------------------------------------------------------ */

int fdr_nomem(struct sim_err *err)
{
    return sim_errf(err, SIM_ENOMEM, "out of memory");
}

/* Neutral earthing: every Reactor must be bus1=b.4 bus2=b.0 on a bus with a
 * neutral. Its admittance joins the star point's yt at a transformer's bus,
 * else the list of earthed buses the sweep injects into; ytot sums all the
 * earthing a star point's neutral has. Runs after the branches. */
static int compile_earthing(fdr_circuit *c, struct sim_err *err)
{
    const char *form = "only a neutral earthing impedance from node 4 to ground "
                       "(bus1=b.4 bus2=b.0 R=.. X=..) is supported";
    for (int i = 0; i < c->nreactors; i++) {
        const struct fdr_reactordef *r = &c->reactors[i];
        struct fdr_term t1, t2;
        int rc;
        if ((rc = fdr_term_parse_opt(c, r->bus[0], &t1, r->at, 0, err)))
            return rc;
        t2.bus = t1.bus;
        t2.nn = 1;
        t2.node[0] = 0;
        if (r->bus[1][0] && (rc = fdr_term_parse_opt(c, r->bus[1], &t2, r->at, 0, err)))
            return rc;
        if (!r->bus[0][0] || t1.bus < 0 || t1.nn != 1 || t1.node[0] != 4 || t2.bus != t1.bus ||
            t2.nn < 1) {
            c->need_nodal = 1;
            return fdr_err_at(c, err, r->at, "New Reactor.%s: %s", r->name, form);
        }
        for (int k = 0; k < t2.nn; k++)
            if (t2.node[k] != 0) {
                c->need_nodal = 1;
                return fdr_err_at(c, err, r->at, "New Reactor.%s: %s", r->name, form);
            }
        struct fdr_bus *b = &c->buses[t1.bus];
        if (!(b->mask & 8u))
            return fdr_err_at(c, err, r->at, "New Reactor.%s: bus %s has no neutral (node 4)",
                              r->name, b->name);
        if (r->r == 0 && r->x == 0)
            return fdr_err_at(c, err, r->at,
                              "New Reactor.%s: R and X are both 0 (a solid earth away from the "
                              "transformer is not modelled; Kron-reduce the neutral instead)%s",
                              r->name, "");
        if (r->r < 0)
            return fdr_err_at(c, err, r->at, "New Reactor.%s: R must be >= 0%s", r->name, "");
        b->yg += 1.0 / (r->r + I * r->x);
    }
    int ng = 0;
    for (int b = 0; b < c->nbuses; b++)
        if (c->buses[b].yg != 0 && c->buses[b].nroot != b)
            ng++;
    c->gnd_bus = calloc((size_t)ng + 1, sizeof *c->gnd_bus);
    if (!c->gnd_bus)
        return fdr_nomem(err);
    for (int b = 0; b < c->nbuses; b++)
        if (c->buses[b].yg != 0 && c->buses[b].nroot != b)
            c->gnd_bus[c->ngnd++] = b;
    for (int k = 0; k < c->nbr; k++) {
        struct fdr_branch *br = &c->br[k];
        if (!br->star_n)
            continue;
        br->yt += c->buses[br->to].yg;
        br->ytot = br->yt;
        for (int g = 0; g < c->ngnd; g++)
            if (c->buses[c->gnd_bus[g]].nroot == br->to)
                br->ytot += c->buses[c->gnd_bus[g]].yg;
        if (!br->solid && br->ytot == 0) {
            const struct fdr_xfmrdef *x = &c->xfmrs[br->elem];
            return fdr_err_at(c, err, x->at,
                              "Transformer.%s: the neutral at bus %s is earthed nowhere (rneut < 0 "
                              "and no earthing Reactor on it)",
                              x->name, c->buses[br->to].name);
        }
    }
    return 0;
}

/* One single-phase wye-wye unit as the next conductor of branch br: its
 * own ratio (winding kV are the units' own voltages) and leakage impedance
 * on side 2. */
static int single_phase_unit(fdr_circuit *c, struct fdr_branch *br, int x, const struct fdr_term *t,
                             struct sim_err *err)
{
    const struct fdr_xfmrdef *xd = &c->xfmrs[x]; /* wye-wye: checked before the walk */
    for (int w = 0; w < 2; w++)
        if (xd->w[w].kv <= 0 || xd->w[w].kva <= 0 || xd->w[w].tap <= 0)
            return fdr_err_at(c, err, xd->at, "Transformer.%s: kV, kVA and tap must be > 0%s",
                              xd->name, "");
    if (xd->w[0].rneut > 0 || xd->w[0].xneut != 0 || xd->w[1].rneut > 0 || xd->w[1].xneut != 0) {
        c->need_nodal = 1;
        return fdr_err_at(c, err, xd->at,
                          "Transformer.%s: rneut/xneut are not supported on single-phase units%s",
                          xd->name, "");
    }
    c->need_nodal = br->nc >= 3;
    if (br->nc >= 3)
        return fdr_err_at(c, err, xd->at, "Transformer.%s: a bank of more than three units%s",
                          xd->name, "");
    int s1[1] = {0}, s2[1] = {0}, rc;
    if ((rc = term_phases(c, &t[0], 1, 1, s1, xd->at, xd->w[0].bus, err)) ||
        (rc = term_phases(c, &t[1], 1, 1, s2, xd->at, xd->w[1].bus, err)))
        return rc;
    for (int m = 0; m < br->nc; m++)
        if (br->fnode[m] == s1[0] || br->tnode[m] == s2[0])
            return fdr_err_at(c, err, xd->at,
                              "Transformer.%s: a unit of this bank is already on that phase%s",
                              xd->name, "");
    int m = br->nc++;
    br->fnode[m] = s1[0];
    br->tnode[m] = s2[0];
    br->rat[m] = (xd->w[1].kv * xd->w[1].tap) / (xd->w[0].kv * xd->w[0].tap);
    double kva1 = xd->w[0].kva;
    double complex zpu = xd->w[0].r_pct / 100.0 + xd->w[1].r_pct / 100.0 + I * xd->xhl_pct / 100.0;
    /* on winding 2's tapped voltage, as OpenDSS's one-volt-base model */
    double v2 = xd->w[1].kv * xd->w[1].tap;
    br->zw[m] = zpu * (v2 * v2 * 1000.0 / kva1);
    br->xf[m] = x;
    br->ratio = br->rat[0];
    br->z[0][0] = br->zw[0];
    c->xfmr_c0[x] = m;
    return 0;
}

/* A WireData value converted to SI: length units to m (none: m). */
static double wire_len_m(double v, int units)
{
    double f = fdr_unit_m(units);
    return v * (f > 0 ? f : 1.0);
}

/* The impedances of a line defined by a LineGeometry, as a matrix zdef
 * per metre (ohm/m, nF/m): OpenDSS's defaults for wires given half (Rac
 * from Rdc x 1.02 and back, GMR 0.7788 of the radius and back). */
static int geometry_zdef(const fdr_circuit *c, struct fdr_linedef *l, struct sim_err *err)
{
    struct fdr_geometry sp;
    const struct fdr_geometry *g;
    if (l->spacing >= 0) {
        /* a LineSpacing with the line's wires: a geometry whose neutrals
         * (the conductors beyond nphases) are Kron-reduced */
        sp = c->spacings[l->spacing];
        if (l->nwire < sp.nconds)
            return fdr_err_at(c, err, l->at,
                              "Line.%s: its spacing has more conductors than wires= / "
                              "cncables= give%s",
                              l->name, "");
        for (int i = 0; i < sp.nconds; i++)
            sp.wire[i] = l->wire[i];
        sp.reduce = 1;
        g = &sp;
    } else {
        g = &c->geoms[l->geometry];
    }
    struct fdr_lc_cond cd[FDR_LC_MAX];
    for (int i = 0; i < g->nconds; i++) {
        if (g->wire[i] < 0)
            return fdr_err_at(c, err, g->at, "LineGeometry.%s: conductor %s has no wire", g->name,
                              i == 0   ? "1"
                              : i == 1 ? "2"
                              : i == 2 ? "3"
                                       : "4 or above");
        const struct fdr_wire *w = &c->wires[g->wire[i]];
        /* resistance per unit length: ohm per (unit) -> ohm/m */
        double ru = fdr_unit_m(w->r_units) > 0 ? fdr_unit_m(w->r_units) : 1.0;
        double rdc = w->rdc >= 0 ? w->rdc / ru : -1, rac = w->rac >= 0 ? w->rac / ru : -1;
        if (rac < 0 && rdc >= 0)
            rac = 1.02 * rdc;
        if (rdc < 0 && rac >= 0)
            rdc = rac / 1.02;
        double gmr = w->gmr >= 0 ? wire_len_m(w->gmr, w->gmr_units) : -1;
        double rad = w->radius >= 0 ? wire_len_m(w->radius, w->rad_units) : -1;
        if (gmr < 0 && rad >= 0)
            gmr = 0.7788 * rad;
        if (rad < 0 && gmr >= 0)
            rad = gmr / 0.7788;
        double um = fdr_unit_m(g->units[i]) > 0 ? fdr_unit_m(g->units[i]) : 1.0;
        cd[i] = (struct fdr_lc_cond){.x_m = g->x[i] * um,
                                     .h_m = g->h[i] * um,
                                     .rdc = rdc,
                                     .rac = rac,
                                     .gmr_m = gmr,
                                     .radius_m = rad};
        if (w->ts) {
            if (w->dia_shield < 0 || w->tape_layer < 0 || w->dia_ins < 0 || w->ins_layer < 0)
                return fdr_err_at(c, err, w->at,
                                  "TSData.%s: DiaShield, TapeLayer, DiaIns and InsLayer must all "
                                  "be given%s",
                                  w->name, "");
            if (i >= g->nphases)
                return fdr_err_at(c, err, g->at,
                                  "LineGeometry.%s: a tape-shielded cable must be a phase "
                                  "conductor (1 to nphases)%s",
                                  g->name, "");
            double ds = wire_len_m(w->dia_shield, w->rad_units);
            double tl = wire_len_m(w->tape_layer, w->rad_units);
            double ri = wire_len_m(w->dia_ins, w->rad_units) / 2.0;
            /* copper tape (rho 2.3718e-8 ohm m): R = rho / (pi Ds T sqrt(50 / (100 - lap))),
             * GMR to the middle of the tape */
            cd[i].cn = 1;
            cd[i].ts = 1;
            cd[i].k = 1;
            cd[i].r_strand = 2.3718e-8 / (M_PI * ds * tl * sqrt(50.0 / (100.0 - w->tape_lap)));
            cd[i].gmr_strand_m = cd[i].rad_cn_m = 0.5 * (ds - tl);
            cd[i].epsr = w->epsr;
            cd[i].r_out_m = ri;
            cd[i].r_in_m = ri - wire_len_m(w->ins_layer, w->rad_units);
            if (!(cd[i].r_in_m > 0) || !(cd[i].rad_cn_m > 0))
                return fdr_err_at(c, err, w->at,
                                  "TSData.%s: the insulation or the shield is thinner than its "
                                  "layers%s",
                                  w->name, "");
        } else if (w->cn) {
            if (w->dia_strand < 0 || w->r_strand < 0 || w->dia_cable < 0 || w->dia_ins < 0 ||
                w->ins_layer < 0)
                return fdr_err_at(c, err, w->at,
                                  "CNData.%s: k, DiaStrand, Rstrand, DiaCable, DiaIns and "
                                  "InsLayer must all be given%s",
                                  w->name, "");
            if (i >= g->nphases)
                return fdr_err_at(c, err, g->at,
                                  "LineGeometry.%s: a concentric-neutral cable must be a phase "
                                  "conductor (1 to nphases)%s",
                                  g->name, "");
            double ds = wire_len_m(w->dia_strand, w->rad_units);
            double dc = wire_len_m(w->dia_cable, w->rad_units);
            double ri = wire_len_m(w->dia_ins, w->rad_units) / 2.0;
            cd[i].cn = 1;
            cd[i].k = w->k;
            cd[i].r_strand = w->r_strand / ru;
            cd[i].gmr_strand_m =
                w->gmr_strand > 0 ? wire_len_m(w->gmr_strand, w->gmr_units) : 0.7788 * 0.5 * ds;
            cd[i].rad_cn_m = 0.5 * (dc - ds);
            cd[i].epsr = w->epsr;
            cd[i].r_out_m = ri;
            cd[i].r_in_m = ri - wire_len_m(w->ins_layer, w->rad_units);
            if (!(cd[i].r_in_m > 0) || !(cd[i].rad_cn_m > 0))
                return fdr_err_at(c, err, w->at,
                                  "CNData.%s: the insulation or the cable is thinner than its "
                                  "layers%s",
                                  w->name, "");
        }
    }
    int np = g->reduce ? g->nphases : g->nconds;
    if (np > 3)
        return fdr_err_at(c, err, g->at,
                          "LineGeometry.%s: %s conductors left after reduction; up to 3 phases are "
                          "supported (reduce=yes Kron-reduces the neutrals)",
                          g->name, g->reduce ? "more than 3" : "all");
    double complex z[9];
    double cnf[9];
    char why[160];
    if (fdr_line_constants(g->nconds, np, cd, l->rho, c->base_freq, l->earth, z, cnf, why,
                           sizeof why))
        return fdr_err_at(c, err, g->at, "LineGeometry.%s: %s", g->name, why);
    struct fdr_zdef *d = &l->z;
    memset(d, 0, sizeof *d);
    d->nph = np;
    d->matrix = 1;
    d->units = FDR_U_M;
    for (int i = 0; i < np * np; i++) {
        d->rm[i] = creal(z[i]);
        d->xm[i] = cimag(z[i]);
        d->cm[i] = cnf[i];
    }
    l->phases = np;
    return 0;
}

static int compile_radial(fdr_circuit *c, struct sim_err *err)
{
    for (int i = 0; i < c->nlines; i++)
        if (c->lines[i].open_term) {
            c->need_nodal = 1; /* an open switch: the nodal solver leaves its far side dead */
            return fdr_err_at(c, err, c->lines[i].at, "Line.%s is open%s", c->lines[i].name, "");
        }
    for (int i = 0; i < c->nlines; i++)
        if (c->lines[i].geometry >= 0 || c->lines[i].spacing >= 0) {
            int grc = geometry_zdef(c, &c->lines[i], err);
            if (grc)
                return grc;
        }
    int rc = 0;
    int nl = c->nlines, nx = c->nxfmrs, ne = nl + nx;
    struct fdr_term *lt = NULL, *xt = NULL, *ldt = NULL, src;
    int *deg = NULL, *adj = NULL, *start = NULL, *queue = NULL, *seen = NULL, *used = NULL;
    int *bank = NULL; /* transformer -> branch of the bank it joins, -1 */
    fdr_free_compiled(c);

    lt = calloc((size_t)(2 * nl + 1), sizeof *lt);
    xt = calloc((size_t)(2 * nx + 1), sizeof *xt);
    ldt = calloc((size_t)(c->nloads + 1), sizeof *ldt);
    if (!lt || !xt || !ldt) {
        rc = fdr_nomem(err);
        goto done;
    }

    /* buses, in order of first appearance (source first) */
    if ((rc = term_parse(c, c->src.bus, &src, c->src.at, err)))
        goto done;
    for (int i = 0; i < nl; i++) {
        struct fdr_linedef *l = &c->lines[i];
        for (int e = 0; e < 2; e++) {
            if (!l->bus[e][0]) {
                rc = fdr_err_at(c, err, l->at, "Line.%s: bus%s is not given", l->name,
                                e ? "2" : "1");
                goto done;
            }
            if ((rc = term_parse(c, l->bus[e], &lt[2 * i + e], l->at, err)))
                goto done;
        }
        if (lt[2 * i].bus == lt[2 * i + 1].bus) {
            rc = fdr_err_at(c, err, l->at, "Line.%s connects bus %s to itself", l->name, l->bus[0]);
            goto done;
        }
    }
    for (int i = 0; i < nx; i++) {
        struct fdr_xfmrdef *x = &c->xfmrs[i];
        if (x->nw != 2 || x->imag_pct != 0 || x->noloadloss_pct != 0) {
            c->need_nodal = 1; /* three windings, magnetising branch */
            rc = fdr_err_at(c, err, x->at, "Transformer.%s: %s needs the nodal solver", x->name,
                            x->nw != 2 ? "a third winding" : "the magnetising branch");
            goto done;
        }
        for (int e = 0; e < 2; e++) {
            if (!x->w[e].bus[0]) {
                rc = fdr_err_at(c, err, x->at, "Transformer.%s: winding %s has no bus", x->name,
                                e ? "2" : "1");
                goto done;
            }
            if ((rc = term_parse(c, x->w[e].bus, &xt[2 * i + e], x->at, err)))
                goto done;
        }
        /* checked before the walk: an open-delta unit beside its jumper
         * (IEEE 37's regulator) would otherwise look like a loop */
        if (x->phases == 1 && (x->w[0].conn != FDR_WYE || x->w[1].conn != FDR_WYE)) {
            c->need_nodal = 1;
            rc = fdr_err_at(c, err, x->at,
                            "Transformer.%s: single-phase units must be wye-wye (line-to-neutral); "
                            "line-to-line units (open-delta banks) are not supported yet%s",
                            x->name, "");
            goto done;
        }
    }
    for (int i = 0; i < c->nloads; i++) {
        struct fdr_loaddef *l = &c->loads[i];
        if (!l->bus[0]) {
            rc = fdr_err_at(c, err, l->at, "Load.%s: bus1 is not given%s", l->name, "");
            goto done;
        }
        if ((rc = term_parse(c, l->bus, &ldt[i], l->at, err)))
            goto done;
    }
    int nb = c->nbuses;

    /* adjacency (CSR): edge e < nl is a line, else a transformer */
    deg = calloc((size_t)nb + 1, sizeof *deg);
    start = calloc((size_t)nb + 1, sizeof *start);
    adj = calloc((size_t)(2 * ne + 1), sizeof *adj);
    queue = calloc((size_t)nb + 1, sizeof *queue);
    seen = calloc((size_t)nb + 1, sizeof *seen);
    used = calloc((size_t)ne + 1, sizeof *used);
    c->br = calloc((size_t)ne + 1, sizeof *c->br);
    c->line_br = calloc((size_t)nl + 1, sizeof *c->line_br);
    c->xfmr_br = calloc((size_t)nx + 1, sizeof *c->xfmr_br);
    c->xfmr_c0 = calloc((size_t)nx + 1, sizeof *c->xfmr_c0);
    bank = malloc(((size_t)nx + 1) * sizeof *bank);
    if (!deg || !start || !adj || !queue || !seen || !used || !c->br || !c->line_br ||
        !c->xfmr_br || !c->xfmr_c0 || !bank) {
        rc = fdr_nomem(err);
        goto done;
    }
    for (int x = 0; x < nx; x++)
        bank[x] = -1;
    for (int e = 0; e < ne; e++) {
        struct fdr_term *t = e < nl ? &lt[2 * e] : &xt[2 * (e - nl)];
        deg[t[0].bus]++;
        deg[t[1].bus]++;
    }
    for (int b = 0; b < nb; b++)
        start[b + 1] = start[b] + deg[b];
    memset(deg, 0, sizeof *deg * (size_t)nb);
    for (int e = 0; e < ne; e++) {
        struct fdr_term *t = e < nl ? &lt[2 * e] : &xt[2 * (e - nl)];
        adj[start[t[0].bus] + deg[t[0].bus]++] = e;
        adj[start[t[1].bus] + deg[t[1].bus]++] = e;
    }

    /* breadth-first from the source: orient branches, refuse loops */
    c->root = src.bus;
    int qh = 0, qt = 0;
    queue[qt++] = c->root;
    seen[c->root] = 1;
    c->nbr = 0;
    while (qh < qt) {
        int u = queue[qh++];
        for (int k = start[u]; k < start[u + 1]; k++) {
            int e = adj[k];
            if (used[e])
                continue;
            used[e] = 1;
            struct fdr_term *t = e < nl ? &lt[2 * e] : &xt[2 * (e - nl)];
            int side = t[0].bus == u ? 0 : 1;
            int v = t[1 - side].bus;
            if (seen[v] && e >= nl && side == 0 && c->xfmrs[e - nl].phases == 1 &&
                c->buses[v].parent >= 0) {
                /* a single-phase unit beside another between the same two
                 * buses: one bank, one branch */
                const struct fdr_branch *pbr = &c->br[c->buses[v].parent];
                if (pbr->kind == FDR_BR_XFMR && pbr->from == u && c->xfmrs[pbr->elem].phases == 1) {
                    bank[e - nl] = c->buses[v].parent;
                    c->xfmr_br[e - nl] = c->buses[v].parent;
                    continue;
                }
            }
            if (seen[v]) {
                c->need_nodal = 1;
                if (e < nl)
                    rc = fdr_err_at(c, err, c->lines[e].at,
                                    "Line.%s closes a loop at bus %s: only radial feeders are "
                                    "supported",
                                    c->lines[e].name, c->buses[v].name);
                else
                    rc = fdr_err_at(c, err, c->xfmrs[e - nl].at,
                                    "Transformer.%s closes a loop at bus %s: only radial feeders "
                                    "are supported",
                                    c->xfmrs[e - nl].name, c->buses[v].name);
                goto done;
            }
            seen[v] = 1;
            queue[qt++] = v;
            struct fdr_branch *br = &c->br[c->nbr];
            memset(br, 0, sizeof *br);
            br->from = u;
            br->to = v;
            br->reversed = side;
            if (e < nl) {
                br->kind = FDR_BR_LINE;
                br->elem = e;
                c->line_br[e] = c->nbr;
            } else {
                br->kind = FDR_BR_XFMR;
                br->elem = e - nl;
                c->xfmr_br[e - nl] = c->nbr;
                if (side != 0) {
                    c->need_nodal = 1;
                    rc = fdr_err_at(c, err, c->xfmrs[e - nl].at,
                                    "Transformer.%s is fed from winding 2: winding 1 must face the "
                                    "source%s",
                                    c->xfmrs[e - nl].name, "");
                    goto done;
                }
            }
            c->buses[v].parent = c->nbr;
            c->nbr++;
        }
    }
    for (int b = 0; b < nb; b++) {
        if (seen[b])
            continue;
        for (int i = 0; i < c->nloads; i++)
            if (ldt[i].bus == b) {
                rc = fdr_err_at(c, err, c->loads[i].at,
                                "Load.%s: bus %s is not connected to the source", c->loads[i].name,
                                c->buses[b].name);
                goto done;
            }
        for (int e = 0; e < ne; e++) {
            struct fdr_term *t = e < nl ? &lt[2 * e] : &xt[2 * (e - nl)];
            if (t[0].bus == b || t[1].bus == b) {
                struct fdr_loc at = e < nl ? c->lines[e].at : c->xfmrs[e - nl].at;
                rc =
                    fdr_err_at(c, err, at, "%s: bus %s is not connected to the source",
                               e < nl ? c->lines[e].name : c->xfmrs[e - nl].name, c->buses[b].name);
                goto done;
            }
        }
    }

    /* source and root */
    if ((rc = fdr_source_matrices(c, err)))
        goto done;
    if ((rc = fdr_compile_regulators(c, err)))
        goto done;
    for (int r = 0; r < c->nregs; r++) {
        const struct fdr_xfmrdef *xd = &c->xfmrs[c->regc[r].xf];
        if (xd->phases == 3 && xd->w[c->regs[r].winding - 1].conn != FDR_WYE) {
            c->need_nodal = 1;
            rc = fdr_err_at(c, err, c->regs[r].at,
                            "RegControl.%s: a delta monitored winding (Transformer.%s) is not "
                            "supported yet",
                            c->regs[r].name, xd->name);
            goto done;
        }
    }
    {
        int slot[3];
        if ((rc = term_phases(c, &src, 3, 0, slot, c->src.at, c->src.bus, err)))
            goto done;
        if (slot[0] != 0 || slot[1] != 1 || slot[2] != 2) {
            rc = fdr_err_at(c, err, c->src.at, "Vsource bus '%s' must be on nodes 1.2.3%s",
                            c->src.bus, "");
            goto done;
        }
    }
    c->buses[c->root].mask = 7;
    c->buses[c->root].kv_nominal = c->src.basekv;

    /* branches: conductors, impedances, phase masks, nominal voltages */
    for (int k = 0; k < c->nbr; k++) {
        struct fdr_branch *br = &c->br[k];
        struct fdr_bus *pb = &c->buses[br->from], *cb = &c->buses[br->to];
        if (br->kind == FDR_BR_LINE) {
            struct fdr_linedef *l = &c->lines[br->elem];
            struct fdr_term *t = &lt[2 * br->elem];
            int s1[4], s2[4], n1 = -1, n2 = -1;
            /* four conductors without Kron reduction: phases + neutral */
            int neutral = !l->z.kron && l->z.nph == 4 && l->phases == 3;
            br->nc = l->phases;
            if ((rc = fdr_term_phases_n(c, &t[0], l->phases, neutral, s1, neutral ? &n1 : NULL,
                                        l->at, l->bus[0], err)) ||
                (rc = fdr_term_phases_n(c, &t[1], l->phases, neutral, s2, neutral ? &n2 : NULL,
                                        l->at, l->bus[1], err)))
                goto done;
            if (neutral && (n1 != 3 || n2 != 3)) {
                c->need_nodal = 1;
                rc = fdr_err_at(c, err, l->at,
                                "LineCode %s has 4 conductors: give it kron=yes, or connect its "
                                "neutral to node 4 at both ends (bus.1.2.3.4) of Line.%s",
                                l->code, l->name);
                goto done;
            }
            if (neutral) {
                s1[3] = s2[3] = 3;
                br->nc = 4;
            }
            for (int j = 0; j < br->nc; j++) {
                br->fnode[j] = br->reversed ? s2[j] : s1[j];
                br->tnode[j] = br->reversed ? s1[j] : s2[j];
            }
            if (neutral) {
                if (!(pb->mask & 8u)) {
                    c->need_nodal = 1;
                    rc = fdr_err_at(c, err, l->at,
                                    "Line.%s: bus %s has no neutral (node 4) to feed it; a neutral "
                                    "starts at a transformer's star point (bus.1.2.3.4)",
                                    l->name, pb->name);
                    goto done;
                }
                cb->nroot = pb->nroot;
            }
            if ((rc = fdr_line_matrices(c, l, neutral, br->z, br->yh, &br->has_y, err)))
                goto done;
            br->sym = 1;
            for (int i = 0; i < br->nc; i++)
                for (int j = 0; j < br->nc; j++)
                    if (br->z[i][j] != (i == j ? br->z[0][0] : br->z[0][br->nc > 1 ? 1 : 0]))
                        br->sym = 0;
            if (br->sym) {
                br->zo = br->nc > 1 ? br->z[0][1] : 0;
                br->zd = br->z[0][0] - br->zo;
            }
            cb->kv_nominal = pb->kv_nominal;
        } else {
            struct fdr_xfmrdef *x = &c->xfmrs[br->elem];
            struct fdr_term *t = &xt[2 * br->elem];
            if (x->phases == 1) {
                /* a single-phase unit, and the units banked with it */
                br->nc = 0;
                for (int u = 0; u < nx && !rc; u++)
                    if (u == br->elem || bank[u] == k)
                        rc = single_phase_unit(c, br, u, &xt[2 * u], err);
                if (rc)
                    goto done;
                cb->kv_nominal = pb->kv_nominal * x->w[1].kv / x->w[0].kv;
                goto phases_check;
            }
            if (x->phases != 3) {
                c->need_nodal = 1;
                rc = fdr_err_at(c, err, x->at,
                                "Transformer.%s: transformers of 1 or 3 phases are "
                                "supported%s",
                                x->name, "");
                goto done;
            }
            if (x->w[1].conn != FDR_WYE) {
                c->need_nodal = 1;
                rc = fdr_err_at(c, err, x->at,
                                "Transformer.%s: the downstream winding must be "
                                "grounded wye (delta secondaries are not modelled)%s",
                                x->name, "");
                goto done;
            }
            for (int w = 0; w < 2; w++)
                if (x->w[w].kv <= 0 || x->w[w].kva <= 0 || x->w[w].tap <= 0) {
                    rc = fdr_err_at(c, err, x->at, "Transformer.%s: kV, kVA and tap must be > 0%s",
                                    x->name, "");
                    goto done;
                }
            int s1[3], s2[3], ns = -1;
            if ((rc = term_phases(c, &t[0], 3, x->w[0].conn == FDR_WYE, s1, x->at, x->w[0].bus,
                                  err)) ||
                (rc = fdr_term_phases_n(c, &t[1], 3, 1, s2, &ns, x->at, x->w[1].bus, err)))
                goto done;
            if (x->w[0].rneut > 0 || x->w[0].xneut != 0) {
                c->need_nodal = 1;
                rc = fdr_err_at(c, err, x->at,
                                "Transformer.%s: only the downstream winding's star point can be "
                                "earthed through rneut/xneut%s",
                                x->name, "");
                goto done;
            }
            br->nc = 3;
            if (ns == 3) {
                /* LV star point on node 4, earthed via rneut + j xneut */
                br->star_n = 1;
                c->has_neutral = 1;
                if (x->w[1].rneut < 0) {
                    br->yt = 0; /* isolated */
                } else if (x->w[1].rneut == 0 && x->w[1].xneut == 0) {
                    br->solid = 1;
                } else {
                    br->yt = 1.0 / (x->w[1].rneut + I * x->w[1].xneut);
                }
                cb->mask |= 8u;
                cb->nroot = br->to;
            } else if (x->w[1].rneut > 0 || x->w[1].xneut != 0) {
                c->need_nodal = 1;
                rc = fdr_err_at(c, err, x->at,
                                "Transformer.%s: rneut/xneut need the star point on node 4 "
                                "(bus.1.2.3.4); on node 0 it is solidly earthed%s",
                                x->name, "");
                goto done;
            }
            for (int j = 0; j < 3; j++) {
                br->fnode[j] = s1[j];
                br->tnode[j] = s2[j];
            }
            double vw1 = x->w[0].kv * 1000.0 / (x->w[0].conn == FDR_WYE ? FDR_SQRT3 : 1.0);
            double vw2 = x->w[1].kv * 1000.0 / FDR_SQRT3;
            br->ratio = (vw2 * x->w[1].tap) / (vw1 * x->w[0].tap);
            /* leakage impedance on winding 1's kVA base, referred to winding 2 */
            double kva1 = x->w[0].kva;
            double complex zpu =
                x->w[0].r_pct / 100.0 + x->w[1].r_pct / 100.0 + I * x->xhl_pct / 100.0;
            double v2 = x->w[1].kv * x->w[1].tap;
            double zbase2 = v2 * v2 * 1000.0 / kva1;
            br->z[0][0] = zpu * zbase2;
            br->delta1 = x->w[0].conn == FDR_DELTA;
            if (br->delta1) {
                /* Winding k spans conductors k and k-1 or k+1; the choice
                 * makes the LV side lag (ANSI, OpenDSS default) or lead
                 * (lead / euro) the HV side by 30 degrees. */
                int w1_is_hv = x->w[0].kv >= x->w[1].kv;
                int lv_lags = !x->lead;
                int back = w1_is_hv ? lv_lags : !lv_lags;
                for (int j = 0; j < 3; j++)
                    br->dother[j] = back ? (j + 2) % 3 : (j + 1) % 3;
            }
            for (int m = 0; m < 3; m++) {
                br->rat[m] = br->ratio;
                br->zw[m] = br->z[0][0];
                br->xf[m] = br->elem;
            }
            c->xfmr_c0[br->elem] = 0;
            cb->kv_nominal = pb->kv_nominal * x->w[1].kv / x->w[0].kv;
        }
    phases_check:
        if (br->star_n && !br->solid && !br->delta1) {
            c->need_nodal = 1;
            rc = fdr_err_at(c, err, c->xfmrs[br->elem].at,
                            "Transformer.%s: a star point earthed through an impedance or isolated "
                            "needs a delta upstream winding%s",
                            c->xfmrs[br->elem].name, "");
            goto done;
        }
        for (int j = 0; j < br->nc; j++) {
            if (!(pb->mask & (1u << br->fnode[j]))) {
                struct fdr_loc at =
                    br->kind == FDR_BR_LINE ? c->lines[br->elem].at : c->xfmrs[br->elem].at;
                char ph[16];
                snprintf(ph, sizeof ph, "%d", br->fnode[j] + 1);
                rc = fdr_err_at(c, err, at, "bus %s has no phase %s to feed this element", pb->name,
                                ph);
                goto done;
            }
            cb->mask |= 1u << br->tnode[j];
        }
    }

    fdr_voltage_bases(c);

    if ((rc = fdr_compile_loads(c, ldt, err)) || (rc = fdr_compile_capctrls(c, err)))
        goto done;

    if ((rc = compile_earthing(c, err)))
        goto done;

    for (int r = 0; !rc && r < c->nregc; r++) {
        c->regc[r].br = c->xfmr_br[c->regc[r].xf];
        c->regc[r].m = c->xfmr_c0[c->regc[r].xf];
    }
done:
    free(bank);
    free(lt);
    free(xt);
    free(ldt);
    free(deg);
    free(start);
    free(adj);
    free(queue);
    free(seen);
    free(used);
    return rc;
}

/* Voltage bases: the nearest of Set voltagebases to the nominal voltage
 * reached from the source, as Calcvoltagebases does. */
void fdr_voltage_bases(fdr_circuit *c)
{
    for (int b = 0; b < c->nbuses; b++) {
        struct fdr_bus *bus = &c->buses[b];
        double kv = bus->kv_nominal;
        if (c->nvbases > 0) {
            double best = c->vbases[0], bd = fabs(kv / best - 1.0);
            for (int i = 1; i < c->nvbases; i++) {
                double d = fabs(kv / c->vbases[i] - 1.0);
                if (d < bd) {
                    bd = d;
                    best = c->vbases[i];
                }
            }
            kv = best;
        }
        bus->kv_ll = kv;
        bus->vbase = kv * 1000.0 / FDR_SQRT3;
    }
}

/* Loads: one element per phase (wye) or per phase pair (delta). */
int fdr_compile_loads(fdr_circuit *c, const struct fdr_term *ldt, struct sim_err *err)
{
    int rc = 0;
    c->load_el0 = calloc((size_t)c->nloads + 1, sizeof *c->load_el0);
    c->load_nel = calloc((size_t)c->nloads + 1, sizeof *c->load_nel);
    c->load_ncond = calloc((size_t)c->nloads + 1, sizeof *c->load_ncond);
    c->lel = calloc((size_t)(3 * c->nloads + 1), sizeof *c->lel);
    if (!c->load_el0 || !c->load_nel || !c->load_ncond || !c->lel) {
        return fdr_nomem(err);
    }
    for (int i = 0; i < c->nloads; i++) {
        struct fdr_loaddef *l = &c->loads[i];
        const struct fdr_term *t = &ldt[i];
        struct fdr_bus *bus = &c->buses[t->bus];
        int np = l->phases, slot[4];
        if (l->kv <= 0) {
            rc = fdr_err_at(c, err, l->at, "Load.%s: kV must be > 0%s", l->name, "");
            return rc;
        }
        c->load_el0[i] = c->nlel;
        if (l->conn == FDR_WYE) {
            int ns = -1; /* star point: ground, or the neutral (slot 3) */
            if ((rc = fdr_term_phases_n(c, t, np, 1, slot, &ns, l->at, l->bus, err)))
                return rc;
            if (ns == 3 && !(bus->mask & 8u)) {
                rc = fdr_err_at(c, err, l->at, "Load.%s: bus %s has no neutral (node 4)", l->name,
                                bus->name);
                return rc;
            }
            double vb = np == 1 ? l->kv * 1000.0 : l->kv * 1000.0 / FDR_SQRT3;
            for (int k = 0; k < np; k++)
                c->lel[c->nlel++] = (struct fdr_lelem){i, t->bus, slot[k], ns, vb};
            c->load_ncond[i] = np + 1;
        } else {
            if (np == 2) {
                c->need_nodal = 1;
                rc = fdr_err_at(c, err, l->at, "Load.%s: two-phase delta loads are not supported%s",
                                l->name, "");
                return rc;
            }
            int nc = np == 1 ? 2 : 3;
            if (np == 1 && (t->nn == 1 || (t->nn == 2 && t->node[1] == 0))) {
                /* OpenDSS connects the conductors a bus name leaves out to
                 * ground: "bus.1" (or "bus.1.0") puts the single-phase delta
                 * load between node 1 and ground, still on its rated kV. */
                if ((rc = term_phases(c, t, 1, 1, slot, l->at, l->bus, err)))
                    return rc;
                c->lel[c->nlel++] = (struct fdr_lelem){i, t->bus, slot[0], -1, l->kv * 1000.0};
                c->load_ncond[i] = 2;
            } else {
                if ((rc = term_phases(c, t, nc, 0, slot, l->at, l->bus, err)))
                    return rc;
                for (int k = 0; k < np; k++)
                    c->lel[c->nlel++] =
                        (struct fdr_lelem){i, t->bus, slot[k], slot[(k + 1) % nc], l->kv * 1000.0};
                c->load_ncond[i] = nc;
            }
        }
        c->load_nel[i] = c->nlel - c->load_el0[i];
        for (int k = c->load_el0[i]; k < c->nlel; k++) {
            int a = c->lel[k].a, b = c->lel[k].b;
            if (!(bus->mask & (1u << a)) || (b >= 0 && !(bus->mask & (1u << b)))) {
                rc = fdr_err_at(c, err, l->at, "Load.%s: bus %s lacks a phase the load uses",
                                l->name, bus->name);
                return rc;
            }
        }
    }

    return rc;
}

int fdr_compile_capctrls(fdr_circuit *c, struct sim_err *err)
{
    for (int k = 0; k < c->ncapctrls; k++) {
        struct fdr_capctrldef *d = &c->capctrls[k];
        d->cap = fdr_names_get(&c->cap_ix, d->capacitor);
        if (!d->capacitor[0] || d->cap < 0)
            return fdr_err_at(c, err, d->at, "CapControl.%s: capacitor '%s' is not defined",
                              d->name, d->capacitor);
        d->line = d->xfmr = -1;
        const char *dot = strchr(d->element, '.');
        int nterm = 0;
        if (dot && !strncasecmp(d->element, "line.", 5)) {
            d->line = fdr_names_get(&c->line_ix, dot + 1);
            nterm = 2;
        } else if (dot && !strncasecmp(d->element, "transformer.", 12)) {
            d->xfmr = fdr_names_get(&c->xfmr_ix, dot + 1);
            nterm = d->xfmr >= 0 ? c->xfmrs[d->xfmr].nw : 0;
        }
        if (d->line < 0 && d->xfmr < 0)
            return fdr_err_at(c, err, d->at,
                              "CapControl.%s: element '%s' is not a defined Line or Transformer",
                              d->name, d->element);
        if (d->terminal < 1 || d->terminal > nterm)
            return fdr_err_at(c, err, d->at, "CapControl.%s: %s has no such terminal", d->name,
                              d->element);
    }
    return 0;
}

/* Regulators: each controls one transformer (a unit, or a ganged
 * three-phase regulator sensing phase 1). */
int fdr_compile_regulators(fdr_circuit *c, struct sim_err *err)
{
    int rc = 0;
    if (c->nregs) {
        c->regc = calloc((size_t)c->nregs, sizeof *c->regc);
        if (!c->regc) {
            return fdr_nomem(err);
        }
    }
    for (int r = 0; r < c->nregs; r++) {
        const struct fdr_regdef *rd = &c->regs[r];
        int x = fdr_names_get(&c->xfmr_ix, rd->xfmr);
        if (!rd->xfmr[0] || x < 0) {
            rc = fdr_err_at(c, err, rd->at, "RegControl.%s: transformer '%s' is not defined",
                            rd->name, rd->xfmr);
            return rc;
        }
        const struct fdr_xfmrdef *xd = &c->xfmrs[x];
        if (rd->winding > xd->nw || rd->tapwinding > xd->nw) {
            rc = fdr_err_at(c, err, rd->at, "RegControl.%s: Transformer.%s has no such winding",
                            rd->name, xd->name);
            return rc;
        }
        const struct fdr_wdg *mw = &xd->w[rd->winding - 1];
        const struct fdr_wdg *tw = &xd->w[rd->tapwinding - 1];
        struct fdr_regc *g = &c->regc[c->nregc++];
        g->reg = r;
        g->xf = x;
        g->nc = xd->phases == 3 ? 3 : 1; /* a three-phase regulator is ganged, sensing phase 1 */
        g->basev = mw->kv * 1000.0 / (xd->phases > 1 && mw->conn == FDR_WYE ? FDR_SQRT3 : 1.0);
        g->mintap = tw->mintap;
        g->maxtap = tw->maxtap;
        g->inc = (tw->maxtap - tw->mintap) / (tw->numtaps > 0 ? tw->numtaps : 32);
        g->tap1 = xd->w[0].tap;
        g->tap2 = xd->w[1].tap;
        if (!(g->inc > 0)) {
            rc = fdr_err_at(c, err, rd->at, "RegControl.%s: Transformer.%s has no tap range",
                            rd->name, xd->name);
            return rc;
        }
    }
    return rc;
}

const char *fdr_circuit_method(const fdr_circuit *c)
{
    return c->nod ? "nodal" : "sweep";
}

int fdr_circuit_use_nodal(fdr_circuit *c, struct sim_err *err)
{
    return fdr_compile_nodal(c, err);
}

/* SwtControls set their line's terminal open or closed (their State, else
 * Action, else Normal; closed if none). */
static int apply_switches(fdr_circuit *c, struct sim_err *err)
{
    for (int k = 0; k < c->nswts; k++) {
        const struct fdr_swtdef *d = &c->swts[k];
        const char *dot = strchr(d->obj, '.');
        int line =
            dot && !strncasecmp(d->obj, "line.", 5) ? fdr_names_get(&c->line_ix, dot + 1) : -1;
        if (line < 0)
            return fdr_err_at(c, err, d->at,
                              "SwtControl.%s: SwitchedObj '%s' is not a defined Line", d->name,
                              d->obj);
        if (d->term < 1 || d->term > 2)
            return fdr_err_at(c, err, d->at, "SwtControl.%s: SwitchedTerm must be 1 or 2%s",
                              d->name, "");
        int open = d->state >= 0 ? d->state : d->action >= 0 ? d->action : d->normal > 0;
        if (open)
            c->lines[line].open_term |= 1 << (d->term - 1);
        else
            c->lines[line].open_term &= ~(1 << (d->term - 1));
    }
    return 0;
}

int fdr_compile(fdr_circuit *c, struct sim_err *err)
{
    int src = apply_switches(c, err);
    if (src)
        return src;
    c->need_nodal = 0;
    int rc = compile_radial(c, err);
    if (rc && c->need_nodal) {
        /* the sweep's refusal is no longer the answer */
        rc = fdr_compile_nodal(c, err);
        if (!rc && err)
            err->msg[0] = '\0';
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* Circuit accessors                                                   */
/* ------------------------------------------------------------------ */

int fdr_bus_count(const fdr_circuit *c)
{
    return c->nbuses;
}

const char *fdr_bus_name(const fdr_circuit *c, int bus)
{
    return bus >= 0 && bus < c->nbuses ? c->buses[bus].name : NULL;
}

int fdr_bus_find(const fdr_circuit *c, const char *name)
{
    return fdr_names_get(&c->bus_ix, name);
}

double fdr_bus_kv_base(const fdr_circuit *c, int bus)
{
    return bus >= 0 && bus < c->nbuses ? c->buses[bus].kv_ll : 0;
}

unsigned fdr_bus_phases(const fdr_circuit *c, int bus)
{
    return bus >= 0 && bus < c->nbuses ? c->buses[bus].mask & 7u : 0;
}

int fdr_bus_has_neutral(const fdr_circuit *c, int bus)
{
    return bus >= 0 && bus < c->nbuses && (c->buses[bus].mask & 8u) ? 1 : 0;
}

int fdr_line_count(const fdr_circuit *c)
{
    return c->nlines;
}

const char *fdr_line_name(const fdr_circuit *c, int line)
{
    return line >= 0 && line < c->nlines ? c->lines[line].name : NULL;
}

int fdr_line_find(const fdr_circuit *c, const char *name)
{
    return fdr_names_get(&c->line_ix, name);
}

int fdr_line_phases(const fdr_circuit *c, int line)
{
    return line >= 0 && line < c->nlines ? c->lines[line].phases : 0;
}

int fdr_regulator_count(const fdr_circuit *c)
{
    return c->nregs;
}

const char *fdr_regulator_name(const fdr_circuit *c, int reg)
{
    return reg >= 0 && reg < c->nregs ? c->regs[reg].name : NULL;
}

int fdr_xfmr_count(const fdr_circuit *c)
{
    return c->nxfmrs;
}

const char *fdr_xfmr_name(const fdr_circuit *c, int x)
{
    return x >= 0 && x < c->nxfmrs ? c->xfmrs[x].name : NULL;
}

int fdr_xfmr_find(const fdr_circuit *c, const char *name)
{
    return fdr_names_get(&c->xfmr_ix, name);
}

int fdr_load_count(const fdr_circuit *c)
{
    return c->nloads;
}

const char *fdr_load_name(const fdr_circuit *c, int load)
{
    return load >= 0 && load < c->nloads ? c->loads[load].name : NULL;
}

int fdr_load_find(const fdr_circuit *c, const char *name)
{
    return fdr_names_get(&c->load_ix, name);
}

int fdr_load_bus(const fdr_circuit *c, int load)
{
    return load >= 0 && load < c->nloads && c->nlel ? c->lel[c->load_el0[load]].bus : -1;
}

void fdr_load_nominal(const fdr_circuit *c, int load, double *p_kw, double *q_kvar)
{
    double p = 0, q = 0;
    if (load >= 0 && load < c->nloads) {
        const struct fdr_loaddef *l = &c->loads[load];
        p = l->kw;
        if (l->q_from_pf) {
            double pf = fabs(l->pf);
            q = p * sqrt(1.0 - pf * pf) / pf;
            if (l->pf < 0)
                q = -q;
        } else {
            q = l->kvar;
        }
    }
    if (p_kw)
        *p_kw = p;
    if (q_kvar)
        *q_kvar = q;
}
