/*
 * nodal.c: the nodal network, for circuits the radial sweep cannot take
 * (meshes, delta and line-to-line secondaries, three-winding units, a
 * magnetising branch, series reactors).
 *
 * Every element becomes a primitive admittance matrix over its terminal
 * conductors, and every conductor a node index: (bus, node 1..4) is an
 * unknown, node 0 is the perfect ground and drops out. The system matrix
 * is the sum of the primitives, stored in compressed columns for KLU
 * (nodal_solve.c); each primitive entry keeps its place in that pattern so
 * that a tap change re-stamps one element without searching.
 *
 * Transformers follow the textbook n-winding model OpenDSS also uses: the
 * short-circuit impedances between winding 1 and each other winding (and
 * between those) on winding 1's kVA, in ohms on a one-volt base, inverted
 * and expanded to the windings by the incidence of winding 1 against the
 * rest; the magnetising branch across winding 2; then each winding's
 * (tapped) voltage scales it to its two terminal conductors: line to
 * neutral for wye, phase p to the next phase for delta (the previous one
 * where the connection makes the low-voltage side lead, see DeltaDirection
 * in docs/models.md), conductor 1 to conductor 2 for a single-phase unit.
 * A small susceptance on both ends of each winding (ppm_antifloat, one part
 * per million by default) keeps an ungrounded delta from floating.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nodal.h"

void fdr_nodal_free(struct fdr_nodal *n)
{
    if (!n)
        return;
    free(n->bnode);
    free(n->node_bus);
    free(n->node_slot);
    free(n->el);
    free(n->cnode);
    free(n->y);
    free(n->pos);
    free(n->line_el);
    free(n->xfmr_el);
    free(n->reactor_el);
    free(n->ap);
    free(n->ai);
    free(n->lnode);
    free(n->lpos);
    free(n->dead);
    free(n);
}

/* Node index of (bus, node number), created on first use; -1 for ground. */
static int node_of(fdr_circuit *c, struct fdr_nodal *n, int bus, int num, struct fdr_loc at,
                   struct sim_err *err, int *out)
{
    if (num == 0) {
        *out = -1;
        return 0;
    }
    if (n->dead && n->dead[bus] && num >= 1 && num <= 4) {
        /* behind an open switch: the node is there, at 0 V, not solved for */
        c->buses[bus].mask |= 1u << (num - 1);
        *out = -1;
        return 0;
    }
    if (num < 1 || num > 4) {
        char b[16];
        snprintf(b, sizeof b, "%d", num);
        return fdr_err_at(c, err, at, "bus %s: node %s: nodes 1-4 are supported (4: neutral)",
                          c->buses[bus].name, b);
    }
    int *slot = &n->bnode[bus][num - 1];
    if (*slot < 0) {
        *slot = n->nn;
        n->node_bus[n->nn] = bus;
        n->node_slot[n->nn] = num - 1;
        n->nn++;
        c->buses[bus].mask |= 1u << (num - 1);
    }
    *out = *slot;
    return 0;
}

/* Node of conductor k (0-based) of a terminal with ncond conductors: the
 * spec's node, else k + 1, except that an unwritten last conductor that is
 * a neutral goes to ground (OpenDSS's defaults). */
static int cond_node(fdr_circuit *c, struct fdr_nodal *n, const struct fdr_term *t, int k,
                     int ncond, int neutral_last, struct fdr_loc at, const char *spec,
                     struct sim_err *err, int *out)
{
    if (t->nn > ncond)
        return fdr_err_at(c, err, at, "bus '%s' names more nodes than the element has conductors%s",
                          spec, "");
    int num = k < t->nn ? t->node[k] : (neutral_last && k == ncond - 1 ? 0 : k + 1);
    return node_of(c, n, t->bus, num, at, err, out);
}

/* Room for one more element of nt conductors. */
static int add_elem(struct fdr_nodal *n, int kind, int elem, int nt, int *cap_el, int *cap_c,
                    int *cap_y)
{
    if (n->nel == *cap_el) {
        int nc = *cap_el ? 2 * *cap_el : 256;
        void *p = realloc(n->el, (size_t)nc * sizeof *n->el);
        if (!p)
            return -1;
        n->el = p;
        *cap_el = nc;
    }
    while (n->ncnode + nt > *cap_c) {
        int nc = *cap_c ? 2 * *cap_c : 1024;
        void *p = realloc(n->cnode, (size_t)nc * sizeof *n->cnode);
        if (!p)
            return -1;
        n->cnode = p;
        *cap_c = nc;
    }
    while (n->ny + nt * nt > *cap_y) {
        int nc = *cap_y ? 2 * *cap_y : 4096;
        void *p = realloc(n->y, (size_t)nc * sizeof *n->y);
        if (!p)
            return -1;
        n->y = p;
        *cap_y = nc;
    }
    struct fdr_nelem *e = &n->el[n->nel++];
    e->kind = kind;
    e->elem = elem;
    e->nt = nt;
    e->c0 = n->ncnode;
    e->y0 = n->ny;
    n->ncnode += nt;
    n->ny += nt * nt;
    memset(n->y + e->y0, 0, sizeof *n->y * (size_t)(nt * nt));
    return 0;
}

/* Winding k's voltage base, volts: line to neutral for a wye winding of
 * two or three phases, else the winding's own rating. */
static double wdg_vbase(const struct fdr_xfmrdef *x, int k)
{
    return x->w[k].kv * 1000.0 / (x->phases > 1 && x->w[k].conn == FDR_WYE ? FDR_SQRT3 : 1.0);
}

/* Conductor indices (0-based within a winding's terminal) of the two ends
 * of winding k on phase p. */
static void wdg_ends(const struct fdr_xfmrdef *x, int k, int p, int *a, int *b)
{
    int np = x->phases;
    *a = p;
    if (np == 1) {
        *b = 1;
    } else if (x->w[k].conn == FDR_WYE) {
        *b = np;
    } else {
        int dir = 1;
        if (x->w[0].conn != x->w[1].conn)
            dir = (x->w[0].conn == FDR_WYE) == !x->lead ? 1 : -1;
        *b = (p + dir + np) % np;
    }
}

int fdr_nodal_xfmr_y(const fdr_circuit *c, int xi, const double *tap, double complex *y)
{
    const struct fdr_xfmrdef *x = &c->xfmrs[xi];
    int np = x->phases, nw = x->nw, nc = np + 1, nt = nw * nc;
    if (nw < 2 || nw > 3 || np < 1)
        return -1;
    double va = x->w[0].kva * 1000.0 / np; /* per phase */
    double zb = 1.0 / va;                  /* ohms on a one-volt base */
    double xs[3][3] = {
        {0, x->xhl_pct, x->xht_pct}, {x->xhl_pct, 0, x->xlt_pct}, {x->xht_pct, x->xlt_pct, 0}};
    double complex zbm[4] = {0}, y1[9] = {0};
    int m = nw - 1;
    for (int i = 0; i < m; i++)
        zbm[i * m + i] = (x->w[0].r_pct + x->w[i + 1].r_pct + I * xs[0][i + 1]) / 100.0 * zb;
    for (int i = 0; i < m; i++)
        for (int j = i + 1; j < m; j++) {
            double complex zij =
                (x->w[i + 1].r_pct + x->w[j + 1].r_pct + I * xs[i + 1][j + 1]) / 100.0 * zb;
            zbm[i * m + j] = zbm[j * m + i] = 0.5 * (zbm[i * m + i] + zbm[j * m + j] - zij);
        }
    if (fdr_cinv(zbm, m))
        return -1;
    /* Y1 = A' Yb A with A[k][0] = -1, A[k][k+1] = 1 */
    for (int i = 0; i < nw; i++)
        for (int j = 0; j < nw; j++) {
            double complex sum = 0;
            for (int k = 0; k < m; k++)
                for (int l = 0; l < m; l++) {
                    double aki = i == 0 ? -1.0 : (i == k + 1 ? 1.0 : 0.0);
                    double alj = j == 0 ? -1.0 : (j == l + 1 ? 1.0 : 0.0);
                    sum += aki * zbm[k * m + l] * alj;
                }
            y1[i * nw + j] = sum;
        }
    y1[1 * nw + 1] += (x->noloadloss_pct - I * x->imag_pct) / 100.0 / zb;
    double nv[3], yppm[3];
    for (int k = 0; k < nw; k++) {
        double vb = wdg_vbase(x, k);
        double t = tap[k] != 0 ? tap[k] : 1e-4;
        nv[k] = vb * t;
        yppm[k] = -x->ppm * 1e-6 / (vb * vb / va) / 2.0;
    }
    memset(y, 0, sizeof *y * (size_t)(nt * nt));
    for (int p = 0; p < np; p++) {
        int e[3][2];
        for (int k = 0; k < nw; k++) {
            int a, b;
            wdg_ends(x, k, p, &a, &b);
            e[k][0] = k * nc + a;
            e[k][1] = k * nc + b;
        }
        for (int i = 0; i < nw; i++)
            for (int j = 0; j < nw; j++) {
                double complex v = y1[i * nw + j] / (nv[i] * nv[j]);
                y[e[i][0] * nt + e[j][0]] += v;
                y[e[i][0] * nt + e[j][1]] -= v;
                y[e[i][1] * nt + e[j][0]] -= v;
                y[e[i][1] * nt + e[j][1]] += v;
            }
        for (int k = 0; k < nw; k++) {
            y[e[k][0] * nt + e[k][0]] += I * yppm[k];
            y[e[k][1] * nt + e[k][1]] += I * yppm[k];
        }
    }
    /* a wye winding's neutral: earthed through rneut + j xneut (0, 0:
     * solidly), or floating with the anti-float susceptance */
    for (int k = 0; k < nw && np > 1; k++) {
        if (x->w[k].conn != FDR_WYE)
            continue;
        int j = k * nc + np;
        if (x->w[k].rneut >= 0)
            y[j * nt + j] += x->w[k].rneut == 0 && x->w[k].xneut == 0
                                 ? 1e6
                                 : 1.0 / (x->w[k].rneut + I * x->w[k].xneut);
        else
            y[j * nt + j] += I * yppm[k];
    }
    return 0;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Place of (row, col) in the pattern. */
static int find_pos(const struct fdr_nodal *n, int row, int col)
{
    int lo = n->ap[col], hi = n->ap[col + 1] - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (n->ai[mid] == row)
            return mid;
        if (n->ai[mid] < row)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

static int uf_find(int *up, int a)
{
    while (up[a] != a) {
        up[a] = up[up[a]];
        a = up[a];
    }
    return a;
}

/* Every node must reach ground or the source through some admittance
 * (KLU would otherwise meet an exactly or nearly singular matrix): a
 * floating neutral or an island is named here. */
static int check_floating(fdr_circuit *c, struct fdr_nodal *n, struct sim_err *err)
{
    int nn = n->nn, rc = 0;
    int *up = malloc(((size_t)nn + 1) * sizeof *up);
    char *gnd = calloc((size_t)nn + 1, 1);
    if (!up || !gnd) {
        free(up);
        free(gnd);
        return fdr_nomem(err);
    }
    for (int k = 0; k < nn; k++)
        up[k] = k;
    for (int e = 0; e < n->nel; e++) {
        const struct fdr_nelem *el = &n->el[e];
        const int *cn = n->cnode + el->c0;
        const double complex *y = n->y + el->y0;
        for (int i = 0; i < el->nt; i++)
            for (int j = 0; j < el->nt; j++) {
                if (i == j && el->kind != FDR_NE_SRC)
                    continue;
                if (y[i * el->nt + j] == 0 || cn[i] < 0)
                    continue;
                if (i == j || cn[j] < 0)
                    gnd[cn[i]] = 1; /* the source's Norton branch, or a path to ground */
                else
                    up[uf_find(up, cn[i])] = uf_find(up, cn[j]);
            }
    }
    for (int k = 0; k < c->nlel; k++) {
        int a = n->lnode[k][0], b = n->lnode[k][1];
        if (a < 0 && b < 0)
            continue; /* on a de-energised bus */
        if (a < 0 || b < 0)
            gnd[a < 0 ? b : a] = 1;
        else
            up[uf_find(up, a)] = uf_find(up, b);
    }
    for (int k = 0; k < nn; k++)
        if (gnd[k])
            gnd[uf_find(up, k)] = 1;
    for (int k = 0; k < nn && !rc; k++)
        if (!gnd[uf_find(up, k)]) {
            char nd[16];
            snprintf(nd, sizeof nd, "%d", n->node_slot[k] + 1);
            rc = sim_errf(err, SIM_EINVAL,
                          "feeder: bus %s node %s has no path to ground or to the source (a "
                          "floating neutral or an island: earth it, or connect it to node 0)",
                          c->buses[n->node_bus[k]].name, nd);
        }
    free(up);
    free(gnd);
    return rc;
}

/* The compressed-column pattern of every stamp, and each stamp's place. */
static int build_pattern(fdr_circuit *c, struct fdr_nodal *n, struct sim_err *err)
{
    int nn = n->nn;
    /* per column, the rows it gets (with repeats), then sorted and unique */
    int *cnt = calloc((size_t)nn + 1, sizeof *cnt);
    if (!cnt)
        return fdr_nomem(err);
    for (int e = 0; e < n->nel; e++) {
        const struct fdr_nelem *el = &n->el[e];
        const int *cn = n->cnode + el->c0;
        for (int j = 0; j < el->nt; j++)
            if (cn[j] >= 0)
                for (int i = 0; i < el->nt; i++)
                    if (cn[i] >= 0)
                        cnt[cn[j]]++;
    }
    for (int k = 0; k < c->nlel; k++) {
        const int *q = n->lnode[k];
        for (int j = 0; j < 2; j++)
            if (q[j] >= 0)
                for (int i = 0; i < 2; i++)
                    if (q[i] >= 0)
                        cnt[q[j]]++;
    }
    for (int j = 0; j < nn; j++)
        cnt[j]++; /* the diagonal */
    int *start = malloc(((size_t)nn + 1) * sizeof *start);
    if (!start) {
        free(cnt);
        return fdr_nomem(err);
    }
    start[0] = 0;
    for (int j = 0; j < nn; j++)
        start[j + 1] = start[j] + cnt[j];
    int total = start[nn];
    int *rows = malloc(((size_t)total + 1) * sizeof *rows);
    if (!rows) {
        free(cnt);
        free(start);
        return fdr_nomem(err);
    }
    memset(cnt, 0, sizeof *cnt * (size_t)nn);
#define PUT(r, col) rows[start[(col)] + cnt[(col)]++] = (r)
    for (int e = 0; e < n->nel; e++) {
        const struct fdr_nelem *el = &n->el[e];
        const int *cn = n->cnode + el->c0;
        for (int j = 0; j < el->nt; j++)
            if (cn[j] >= 0)
                for (int i = 0; i < el->nt; i++)
                    if (cn[i] >= 0)
                        PUT(cn[i], cn[j]);
    }
    for (int k = 0; k < c->nlel; k++) {
        const int *q = n->lnode[k];
        for (int j = 0; j < 2; j++)
            if (q[j] >= 0)
                for (int i = 0; i < 2; i++)
                    if (q[i] >= 0)
                        PUT(q[i], q[j]);
    }
    for (int j = 0; j < nn; j++)
        PUT(j, j);
#undef PUT
    n->ap = malloc(((size_t)nn + 1) * sizeof *n->ap);
    n->ai = malloc(((size_t)total + 1) * sizeof *n->ai);
    if (!n->ap || !n->ai) {
        free(cnt);
        free(start);
        free(rows);
        return fdr_nomem(err);
    }
    int nz = 0;
    for (int j = 0; j < nn; j++) {
        n->ap[j] = nz;
        int *r = rows + start[j];
        qsort(r, (size_t)cnt[j], sizeof *r, cmp_int);
        for (int k = 0; k < cnt[j]; k++)
            if (k == 0 || r[k] != r[k - 1])
                n->ai[nz++] = r[k];
    }
    n->ap[nn] = nz;
    n->nnz = nz;
    free(cnt);
    free(start);
    free(rows);
    n->pos = malloc(((size_t)n->ny + 1) * sizeof *n->pos);
    n->lpos = malloc(((size_t)c->nlel + 1) * sizeof *n->lpos);
    if (!n->pos || !n->lpos)
        return fdr_nomem(err);
    for (int e = 0; e < n->nel; e++) {
        const struct fdr_nelem *el = &n->el[e];
        const int *cn = n->cnode + el->c0;
        for (int i = 0; i < el->nt; i++)
            for (int j = 0; j < el->nt; j++)
                n->pos[el->y0 + i * el->nt + j] =
                    cn[i] >= 0 && cn[j] >= 0 ? find_pos(n, cn[i], cn[j]) : -1;
    }
    for (int k = 0; k < c->nlel; k++) {
        const int *q = n->lnode[k];
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++)
                n->lpos[k][i * 2 + j] = q[i] >= 0 && q[j] >= 0 ? find_pos(n, q[i], q[j]) : -1;
    }
    return 0;
}

/* Nominal voltages: breadth-first from the source, lines and reactors
 * keep it, a transformer scales it by its windings' ratings. */
static int nominal_voltages(fdr_circuit *c, const struct fdr_term *lt, const struct fdr_term *xt,
                            const struct fdr_term *rt, const struct fdr_term *ldt,
                            struct sim_err *err)
{
    int nb = c->nbuses, nl = c->nlines, nx = c->nxfmrs, nr = c->nreactors;
    /* edges: lines, reactors with a second bus, each transformer winding 2.. to winding 1 */
    int ne = nl + nr + 2 * nx;
    int *deg = calloc((size_t)nb + 1, sizeof *deg),
        *adj = malloc((2 * (size_t)ne + 1) * sizeof *adj);
    int *eu = malloc(((size_t)ne + 1) * sizeof *eu), *ev = malloc(((size_t)ne + 1) * sizeof *ev);
    double *ef = malloc(((size_t)ne + 1) * sizeof *ef);
    int *start = calloc((size_t)nb + 2, sizeof *start),
        *queue = malloc(((size_t)nb + 1) * sizeof *queue);
    char *seen = calloc((size_t)nb + 1, 1);
    int rc = 0, m = 0;
    if (!deg || !adj || !eu || !ev || !ef || !start || !queue || !seen) {
        rc = fdr_nomem(err);
        goto done;
    }
    for (int i = 0; i < nl; i++) {
        eu[m] = lt[2 * i].bus;
        ev[m] = lt[2 * i + 1].bus;
        ef[m++] = 1.0;
    }
    for (int i = 0; i < nr; i++)
        if (rt[2 * i + 1].bus >= 0 && rt[2 * i + 1].bus != rt[2 * i].bus) {
            eu[m] = rt[2 * i].bus;
            ev[m] = rt[2 * i + 1].bus;
            ef[m++] = 1.0;
        }
    for (int i = 0; i < nx; i++) {
        const struct fdr_xfmrdef *x = &c->xfmrs[i];
        double ll[3];
        for (int k = 0; k < x->nw; k++)
            ll[k] = x->w[k].kv * (x->phases == 1 && x->w[k].conn == FDR_WYE ? FDR_SQRT3 : 1.0);
        for (int k = 1; k < x->nw; k++) {
            eu[m] = xt[3 * i].bus;
            ev[m] = xt[3 * i + k].bus;
            ef[m++] = ll[k] / ll[0];
        }
    }
    for (int e = 0; e < m; e++) {
        deg[eu[e]]++;
        deg[ev[e]]++;
    }
    for (int b = 0; b < nb; b++)
        start[b + 1] = start[b] + deg[b];
    memset(deg, 0, sizeof *deg * (size_t)nb);
    for (int e = 0; e < m; e++) {
        adj[start[eu[e]] + deg[eu[e]]++] = e;
        adj[start[ev[e]] + deg[ev[e]]++] = e;
    }
    int qh = 0, qt = 0;
    queue[qt++] = c->root;
    seen[c->root] = 1;
    c->buses[c->root].kv_nominal = c->src.basekv;
    while (qh < qt) {
        int u = queue[qh++];
        for (int k = start[u]; k < start[u + 1]; k++) {
            int e = adj[k];
            int v = eu[e] == u ? ev[e] : eu[e];
            if (seen[v])
                continue;
            seen[v] = 1;
            queue[qt++] = v;
            double f = eu[e] == u ? ef[e] : 1.0 / ef[e];
            c->buses[v].kv_nominal = c->buses[u].kv_nominal * f;
        }
    }
    for (int b = 0; b < nb && !rc; b++)
        if (!seen[b]) {
            char what[FDR_NAME_MAX + 32] = "";
            struct fdr_loc at = c->src.at;
            for (int i = 0; i < nl && !what[0]; i++)
                if (lt[2 * i].bus == b || lt[2 * i + 1].bus == b) {
                    snprintf(what, sizeof what, "Line.%s", c->lines[i].name);
                    at = c->lines[i].at;
                }
            for (int i = 0; i < nx && !what[0]; i++)
                for (int k = 0; k < c->xfmrs[i].nw; k++)
                    if (xt[3 * i + k].bus == b && !what[0]) {
                        snprintf(what, sizeof what, "Transformer.%s", c->xfmrs[i].name);
                        at = c->xfmrs[i].at;
                    }
            for (int i = 0; i < c->nloads && !what[0]; i++)
                if (ldt[i].bus == b) {
                    snprintf(what, sizeof what, "Load.%s", c->loads[i].name);
                    at = c->loads[i].at;
                }
            rc = fdr_err_at(c, err, at, "%s: bus %s is not connected to the source",
                            what[0] ? what : "element", c->buses[b].name);
        }
done:
    free(deg);
    free(adj);
    free(eu);
    free(ev);
    free(ef);
    free(start);
    free(queue);
    free(seen);
    return rc;
}

/* Buses the source reaches through closed lines, transformers and series
 * reactors; the others (behind an open switch) are de-energised: n->dead. */
static int energised(fdr_circuit *c, struct fdr_nodal *n, const struct fdr_term *lt,
                     const struct fdr_term *xt, const struct fdr_term *rt, struct sim_err *err)
{
    int nb = c->nbuses, any_open = 0;
    for (int i = 0; i < c->nlines; i++)
        any_open |= c->lines[i].open_term != 0;
    if (!any_open)
        return 0;
    n->dead = malloc((size_t)nb + 1);
    char *on = calloc((size_t)nb + 1, 1);
    if (!n->dead || !on) {
        free(on);
        return fdr_nomem(err);
    }
    on[c->root] = 1;
    /* relax until nothing changes (open switches are rare; circuits small
     * enough that a few passes over the elements cost nothing) */
    for (int changed = 1; changed;) {
        changed = 0;
        for (int i = 0; i < c->nlines; i++) {
            if (c->lines[i].open_term)
                continue;
            int a = lt[2 * i].bus, b = lt[2 * i + 1].bus;
            if (on[a] != on[b])
                on[a] = on[b] = changed = 1;
        }
        for (int i = 0; i < c->nxfmrs; i++)
            for (int k = 1; k < c->xfmrs[i].nw; k++) {
                int a = xt[3 * i].bus, b = xt[3 * i + k].bus;
                if (on[a] != on[b])
                    on[a] = on[b] = changed = 1;
            }
        for (int i = 0; i < c->nreactors; i++) {
            int a = rt[2 * i].bus, b = rt[2 * i + 1].bus;
            if (b >= 0 && on[a] != on[b])
                on[a] = on[b] = changed = 1;
        }
    }
    for (int b = 0; b < nb; b++)
        n->dead[b] = !on[b];
    free(on);
    return 0;
}

int fdr_compile_nodal(fdr_circuit *c, struct sim_err *err)
{
    int rc = 0;
    int nl = c->nlines, nx = c->nxfmrs, nr = c->nreactors;
    struct fdr_term *lt = NULL, *xt = NULL, *rt = NULL, *ldt = NULL, src;
    struct fdr_nodal *n = NULL;
    int cap_el = 0, cap_c = 0, cap_y = 0;
    fdr_free_compiled(c);

    lt = calloc((size_t)(2 * nl + 1), sizeof *lt);
    xt = calloc((size_t)(3 * nx + 1), sizeof *xt);
    rt = calloc((size_t)(2 * nr + 1), sizeof *rt);
    ldt = calloc((size_t)(c->nloads + 1), sizeof *ldt);
    n = calloc(1, sizeof *n);
    c->nod = n;
    if (!lt || !xt || !rt || !ldt || !n) {
        rc = fdr_nomem(err);
        goto done;
    }
    /* buses, in order of first appearance (source first), as the sweep */
    if ((rc = fdr_term_parse_opt(c, c->src.bus, &src, c->src.at, 1, err)))
        goto done;
    for (int i = 0; i < nl; i++) {
        const struct fdr_linedef *l = &c->lines[i];
        for (int e = 0; e < 2; e++) {
            if (!l->bus[e][0]) {
                rc = fdr_err_at(c, err, l->at, "Line.%s: bus%s is not given", l->name,
                                e ? "2" : "1");
                goto done;
            }
            if ((rc = fdr_term_parse_opt(c, l->bus[e], &lt[2 * i + e], l->at, 1, err)))
                goto done;
        }
    }
    for (int i = 0; i < nx; i++) {
        const struct fdr_xfmrdef *x = &c->xfmrs[i];
        for (int e = 0; e < x->nw; e++) {
            if (!x->w[e].bus[0]) {
                char k[16];
                snprintf(k, sizeof k, "%d", e + 1);
                rc = fdr_err_at(c, err, x->at, "Transformer.%s: winding %s has no bus", x->name, k);
                goto done;
            }
            if ((rc = fdr_term_parse_opt(c, x->w[e].bus, &xt[3 * i + e], x->at, 1, err)))
                goto done;
        }
    }
    for (int i = 0; i < nr; i++) {
        const struct fdr_reactordef *r = &c->reactors[i];
        if (!r->bus[0][0]) {
            rc = fdr_err_at(c, err, r->at, "Reactor.%s: bus1 is not given%s", r->name, "");
            goto done;
        }
        if ((rc = fdr_term_parse_opt(c, r->bus[0], &rt[2 * i], r->at, 1, err)))
            goto done;
        rt[2 * i + 1].bus = -1;
        if (r->bus[1][0] && (rc = fdr_term_parse_opt(c, r->bus[1], &rt[2 * i + 1], r->at, 1, err)))
            goto done;
    }
    for (int i = 0; i < c->nloads; i++) {
        const struct fdr_loaddef *l = &c->loads[i];
        if (!l->bus[0]) {
            rc = fdr_err_at(c, err, l->at, "Load.%s: bus1 is not given%s", l->name, "");
            goto done;
        }
        if ((rc = fdr_term_parse_opt(c, l->bus, &ldt[i], l->at, 1, err)))
            goto done;
    }
    int nb = c->nbuses;
    c->root = src.bus;
    if ((rc = energised(c, n, lt, xt, rt, err)))
        goto done;
    n->bnode = malloc(((size_t)nb + 1) * sizeof *n->bnode);
    n->node_bus = malloc((4 * (size_t)nb + 1) * sizeof *n->node_bus);
    n->node_slot = malloc((4 * (size_t)nb + 1) * sizeof *n->node_slot);
    n->line_el = malloc(((size_t)nl + 1) * sizeof *n->line_el);
    n->xfmr_el = malloc(((size_t)nx + 1) * sizeof *n->xfmr_el);
    n->reactor_el = malloc(((size_t)nr + 1) * sizeof *n->reactor_el);
    if (!n->bnode || !n->node_bus || !n->node_slot || !n->line_el || !n->xfmr_el ||
        !n->reactor_el) {
        rc = fdr_nomem(err);
        goto done;
    }
    for (int b = 0; b < nb; b++) {
        for (int k = 0; k < 4; k++)
            n->bnode[b][k] = -1;
        c->buses[b].mask = 0;
        c->buses[b].parent = -1;
        c->buses[b].nroot = -1;
        c->buses[b].kv_nominal = 0;
    }

    /* the source: a Norton equivalent on nodes 1.2.3 */
    if ((rc = fdr_source_matrices(c, err)))
        goto done;
    if (src.nn != 0 && (src.nn < 3 || src.node[0] != 1 || src.node[1] != 2 || src.node[2] != 3)) {
        rc = fdr_err_at(c, err, c->src.at, "Vsource bus '%s' must be on nodes 1.2.3%s", c->src.bus,
                        "");
        goto done;
    }
    if (add_elem(n, FDR_NE_SRC, 0, 3, &cap_el, &cap_c, &cap_y)) {
        rc = fdr_nomem(err);
        goto done;
    }
    n->src_el = 0;
    {
        struct fdr_nelem *el = &n->el[0];
        double complex ys[9];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                ys[i * 3 + j] = c->zs[i][j];
        if (fdr_cinv(ys, 3)) {
            /* an ideal source (zero impedance): a stiff Norton equivalent,
             * 1e-8 ohm per phase, whose drop is far below any tolerance */
            for (int i = 0; i < 9; i++)
                ys[i] = i % 4 == 0 ? 1e8 : 0;
        }
        for (int k = 0; k < 3; k++)
            if ((rc = node_of(c, n, src.bus, k + 1, c->src.at, err, &n->cnode[el->c0 + k])))
                goto done;
        memcpy(n->y + el->y0, ys, sizeof ys);
    }

    /* lines */
    for (int i = 0; i < nl; i++) {
        const struct fdr_linedef *l = &c->lines[i];
        int neutral = !l->z.kron && l->z.nph == 4 && l->phases == 3;
        int nc = l->phases + neutral;
        double complex z[4][4], yh[4][4], ys[16];
        int has_y;
        if (nc < 1 || nc > 4) {
            rc = fdr_err_at(c, err, l->at, "Line.%s: one to four conductors are supported%s",
                            l->name, "");
            goto done;
        }
        if (neutral && (lt[2 * i].nn != nc || lt[2 * i + 1].nn != nc)) {
            rc = fdr_err_at(c, err, l->at,
                            "LineCode %s has 4 conductors: give it kron=yes, or connect its "
                            "neutral to node 4 at both ends (bus.1.2.3.4) of Line.%s",
                            l->code, l->name);
            goto done;
        }
        if ((rc = fdr_line_matrices(c, l, neutral, z, yh, &has_y, err)))
            goto done;
        for (int a = 0; a < nc; a++)
            for (int b = 0; b < nc; b++)
                ys[a * nc + b] = z[a][b];
        if (fdr_cinv(ys, nc)) {
            rc = fdr_err_at(c, err, l->at,
                            "Line.%s: its impedance matrix is singular (zero "
                            "length or impedance?)%s",
                            l->name, "");
            goto done;
        }
        if (l->open_term) {
            /* an open switch (or line): no path, no charging; a dead bus
             * beyond it still has the phases it names (at 0 V) */
            n->line_el[i] = -1;
            for (int e = 0; e < 2; e++)
                for (int k = 0; k < nc; k++) {
                    int nd, bus = lt[2 * i + e].bus;
                    if (n->dead && n->dead[bus] &&
                        (rc =
                             cond_node(c, n, &lt[2 * i + e], k, nc, 0, l->at, l->bus[e], err, &nd)))
                        goto done;
                }
            continue;
        }
        n->line_el[i] = n->nel;
        if (add_elem(n, FDR_NE_LINE, i, 2 * nc, &cap_el, &cap_c, &cap_y)) {
            rc = fdr_nomem(err);
            goto done;
        }
        struct fdr_nelem *el = &n->el[n->nel - 1];
        int nt = 2 * nc;
        for (int e = 0; e < 2; e++)
            for (int k = 0; k < nc; k++)
                if ((rc = cond_node(c, n, &lt[2 * i + e], k, nc, 0, l->at, l->bus[e], err,
                                    &n->cnode[el->c0 + e * nc + k])))
                    goto done;
        double complex *y = n->y + el->y0;
        for (int a = 0; a < nc; a++)
            for (int b = 0; b < nc; b++) {
                double complex v = ys[a * nc + b];
                y[a * nt + b] = v + yh[a][b];
                y[(nc + a) * nt + nc + b] = v + yh[a][b];
                y[a * nt + nc + b] = -v;
                y[(nc + a) * nt + b] = -v;
            }
    }

    /* transformers */
    for (int i = 0; i < nx; i++) {
        const struct fdr_xfmrdef *x = &c->xfmrs[i];
        int np = x->phases, nc = np + 1;
        if (np != 1 && np != 3) {
            rc = fdr_err_at(c, err, x->at,
                            "Transformer.%s: transformers of 1 or 3 phases are supported%s",
                            x->name, "");
            goto done;
        }
        for (int w = 0; w < x->nw; w++)
            if (x->w[w].kv <= 0 || x->w[w].kva <= 0 || x->w[w].tap <= 0) {
                rc = fdr_err_at(c, err, x->at, "Transformer.%s: kV, kVA and tap must be > 0%s",
                                x->name, "");
                goto done;
            }
        n->xfmr_el[i] = n->nel;
        if (add_elem(n, FDR_NE_XFMR, i, x->nw * nc, &cap_el, &cap_c, &cap_y)) {
            rc = fdr_nomem(err);
            goto done;
        }
        struct fdr_nelem *el = &n->el[n->nel - 1];
        for (int w = 0; w < x->nw; w++)
            for (int k = 0; k < nc; k++)
                if ((rc = cond_node(c, n, &xt[3 * i + w], k, nc, 1, x->at, x->w[w].bus, err,
                                    &n->cnode[el->c0 + w * nc + k])))
                    goto done;
        double tap[3] = {x->w[0].tap, x->w[1].tap, x->w[2].tap};
        if (fdr_nodal_xfmr_y(c, i, tap, n->y + el->y0)) {
            rc = fdr_err_at(c, err, x->at, "Transformer.%s: singular short-circuit impedances%s",
                            x->name, "");
            goto done;
        }
    }

    /* reactors: per phase r + j x, in series between two buses or from
     * bus1 to ground */
    for (int i = 0; i < nr; i++) {
        const struct fdr_reactordef *r = &c->reactors[i];
        int np = r->phases, nt = 2 * np;
        if (r->r == 0 && r->x == 0) {
            rc = fdr_err_at(c, err, r->at, "Reactor.%s: R and X are both 0%s", r->name, "");
            goto done;
        }
        n->reactor_el[i] = n->nel;
        if (add_elem(n, FDR_NE_REACTOR, i, nt, &cap_el, &cap_c, &cap_y)) {
            rc = fdr_nomem(err);
            goto done;
        }
        struct fdr_nelem *el = &n->el[n->nel - 1];
        for (int k = 0; k < np; k++) {
            if ((rc = cond_node(c, n, &rt[2 * i], k, np, 0, r->at, r->bus[0], err,
                                &n->cnode[el->c0 + k])))
                goto done;
            if (rt[2 * i + 1].bus < 0)
                n->cnode[el->c0 + np + k] = -1;
            else if ((rc = cond_node(c, n, &rt[2 * i + 1], k, np, 0, r->at, r->bus[1], err,
                                     &n->cnode[el->c0 + np + k])))
                goto done;
        }
        double complex yr = 1.0 / (r->r + I * r->x);
        double complex *y = n->y + el->y0;
        for (int k = 0; k < np; k++) {
            y[k * nt + k] = yr;
            y[(np + k) * nt + np + k] = yr;
            y[k * nt + np + k] = -yr;
            y[(np + k) * nt + k] = -yr;
        }
    }

    if ((rc = nominal_voltages(c, lt, xt, rt, ldt, err)))
        goto done;
    fdr_voltage_bases(c);
    if ((rc = fdr_compile_loads(c, ldt, err)))
        goto done;
    n->lnode = malloc(((size_t)c->nlel + 1) * sizeof *n->lnode);
    if (!n->lnode) {
        rc = fdr_nomem(err);
        goto done;
    }
    for (int k = 0; k < c->nlel; k++) {
        const struct fdr_lelem *le = &c->lel[k];
        n->lnode[k][0] = n->bnode[le->bus][le->a];
        n->lnode[k][1] = le->b >= 0 ? n->bnode[le->bus][le->b] : -1;
    }
    if ((rc = fdr_compile_regulators(c, err)) || (rc = fdr_compile_capctrls(c, err)))
        goto done;
    for (int r = 0; r < c->nregc; r++) {
        c->regc[r].br = -1;
        c->regc[r].m = 0;
    }
    c->gnd_bus = calloc(1, sizeof *c->gnd_bus);
    if (!c->gnd_bus) {
        rc = fdr_nomem(err);
        goto done;
    }
    for (int b = 0; b < nb; b++)
        if (c->buses[b].mask & 8u)
            c->has_neutral = 1;
    if ((rc = check_floating(c, n, err)))
        goto done;
    rc = build_pattern(c, n, err);
done:
    free(lt);
    free(xt);
    free(rt);
    free(ldt);
    return rc;
}

int fdr_bus_energised(const fdr_circuit *c, int bus)
{
    if (bus < 0 || bus >= c->nbuses)
        return 0;
    return !(c->nod && c->nod->dead && c->nod->dead[bus]);
}
