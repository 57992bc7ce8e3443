/*
 * dss_lines.c: the OpenDSS classes that make line impedances: LineCode,
 * WireData, CNData, TSData, LineSpacing, LineGeometry and Line. Their
 * property tables (OpenDSS's order) and setters; the line constants
 * themselves are computed in line_constants.c.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "dss_impl.h"

void dss_zdef_default(struct fdr_zdef *z)
{
    /* OpenDSS's default line: per kft, 336 MCM ACSR-like. */
    memset(z, 0, sizeof *z);
    z->nph = 3;
    z->units = FDR_U_NONE;
    z->r1 = 0.058;
    z->x1 = 0.1206;
    z->r0 = 0.1784;
    z->x0 = 0.4047;
    z->c1_nf = 3.4;
    z->c0_nf = 1.6;
}

const char *const dss_code_props[] = {
    "nphases", "r1",      "x1",       "r0",       "x0",       "c1",        "c0",        "units",
    "rmatrix", "xmatrix", "cmatrix",  "basefreq", "normamps", "emergamps", "faultrate", "pctperm",
    "repair",  "kron",    "rg",       "xg",       "rho",      "neutral",   "b1",        "b0",
    "seasons", "ratings", "linetype", "like",     NULL};
enum {
    LC_NPH,
    LC_R1,
    LC_X1,
    LC_R0,
    LC_X0,
    LC_C1,
    LC_C0,
    LC_UNITS,
    LC_RM,
    LC_XM,
    LC_CM,
    LC_BASEFREQ,
    LC_NORMAMPS,
    LC_EMERGAMPS,
    LC_FAULTRATE,
    LC_PCTPERM,
    LC_REPAIR,
    LC_KRON,
    LC_RG,
    LC_XG,
    LC_RHO,
    LC_NEUTRAL,
    LC_B1,
    LC_B0,
    LC_SEASONS,
    LC_RATINGS,
    LC_LINETYPE,
    LC_LIKE
};

const char *const dss_line_props[] = {
    "bus1",     "bus2",       "linecode", "length",    "phases",    "r1",      "x1",
    "r0",       "x0",         "c1",       "c0",        "rmatrix",   "xmatrix", "cmatrix",
    "switch",   "rg",         "xg",       "rho",       "geometry",  "units",   "spacing",
    "wires",    "earthmodel", "cncables", "tscables",  "b1",        "b0",      "seasons",
    "ratings",  "linetype",   "normamps", "emergamps", "faultrate", "pctperm", "repair",
    "basefreq", "enabled",    "like",     NULL};
enum {
    LN_BUS1,
    LN_BUS2,
    LN_CODE,
    LN_LENGTH,
    LN_PHASES,
    LN_R1,
    LN_X1,
    LN_R0,
    LN_X0,
    LN_C1,
    LN_C0,
    LN_RM,
    LN_XM,
    LN_CM,
    LN_SWITCH,
    LN_RG,
    LN_XG,
    LN_RHO,
    LN_GEOMETRY,
    LN_UNITS,
    LN_SPACING,
    LN_WIRES,
    LN_EARTHMODEL,
    LN_CNCABLES,
    LN_TSCABLES,
    LN_B1,
    LN_B0,
    LN_SEASONS,
    LN_RATINGS,
    LN_LINETYPE,
    LN_NORMAMPS,
    LN_EMERGAMPS,
    LN_FAULTRATE,
    LN_PCTPERM,
    LN_REPAIR,
    LN_BASEFREQ,
    LN_ENABLED,
    LN_LIKE
};

const char *const dss_wire_props[] = {"rdc",     "rac",      "runits",    "gmrac",     "gmrunits",
                                      "radius",  "radunits", "normamps",  "emergamps", "diam",
                                      "seasons", "ratings",  "capradius", "like",      NULL};
enum {
    WD_RDC,
    WD_RAC,
    WD_RUNITS,
    WD_GMR,
    WD_GMRUNITS,
    WD_RADIUS,
    WD_RADUNITS,
    WD_NORMAMPS,
    WD_EMERGAMPS,
    WD_DIAM,
    WD_SEASONS,
    WD_RATINGS,
    WD_CAPRADIUS,
    WD_LIKE
};

const char *const dss_geom_props[] = {
    "nconds",   "nphases",   "cond",    "wire",    "x",        "h",       "units",
    "normamps", "emergamps", "reduce",  "spacing", "wires",    "cncable", "tscable",
    "cncables", "tscables",  "seasons", "ratings", "linetype", "like",    NULL};
enum {
    LG_NCONDS,
    LG_NPHASES,
    LG_COND,
    LG_WIRE,
    LG_X,
    LG_H,
    LG_UNITS,
    LG_NORMAMPS,
    LG_EMERGAMPS,
    LG_REDUCE,
    LG_SPACING,
    LG_WIRES,
    LG_CNCABLE,
    LG_TSCABLE,
    LG_CNCABLES,
    LG_TSCABLES,
    LG_SEASONS,
    LG_RATINGS,
    LG_LINETYPE,
    LG_LIKE
};

/* Fill an n x n row-major matrix from a full or lower-triangular list. */
static int get_matrix(struct pctx *p, const char *pn, const char *val, int n, double *m)
{
    double vals[64];
    int k = 0;
    if (n < 1 || n > 4)
        return dss_perr(p, "%s: nphases %d not supported (1..4)", pn, n);
    int rc = dss_get_nums(p, pn, val, vals, 64, &k);
    if (rc)
        return rc;
    if (k == n * n) {
        memcpy(m, vals, sizeof(double) * (size_t)(n * n));
        return 0;
    }
    if (k != n * (n + 1) / 2)
        return dss_perr(p, "%s: %d values for a %dx%d matrix", pn, k, n, n);
    int q = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++) {
            m[i * n + j] = vals[q];
            m[j * n + i] = vals[q];
            q++;
        }
    return 0;
}

/* Properties a line and a line code share (impedance data). Returns 1 if
 * `name` was not one of them. */
static int set_zdef(struct pctx *p, struct fdr_zdef *z, const char *pn, const char *val,
                    int *handled)
{
    double d = 0;
    int rc = 0;
    *handled = 1;
    if (!strcasecmp(pn, "r1") || !strcasecmp(pn, "x1") || !strcasecmp(pn, "r0") ||
        !strcasecmp(pn, "x0") || !strcasecmp(pn, "c1") || !strcasecmp(pn, "c0") ||
        !strcasecmp(pn, "b1") || !strcasecmp(pn, "b0")) {
        if ((rc = dss_get_num(p, pn, val, &d)))
            return rc;
        if (z->matrix) {
            /* switching back to sequence data: OpenDSS recomputes from the
             * current sequence values, so start from them */
            z->matrix = 0;
        }
        double w = 2.0 * M_PI * (p->c->base_freq > 0 ? p->c->base_freq : 60.0);
        switch (tolower((unsigned char)pn[0])) {
        case 'r':
            *(pn[1] == '1' ? &z->r1 : &z->r0) = d;
            break;
        case 'x':
            *(pn[1] == '1' ? &z->x1 : &z->x0) = d;
            break;
        case 'c':
            *(pn[1] == '1' ? &z->c1_nf : &z->c0_nf) = d;
            break;
        default:
            *(pn[1] == '1' ? &z->c1_nf : &z->c0_nf) = d / w * 1e3;
            break; /* uS -> nF */
        }
        return 0;
    }
    if (!strcasecmp(pn, "rmatrix") || !strcasecmp(pn, "xmatrix") || !strcasecmp(pn, "cmatrix")) {
        double *m = pn[0] == 'r' || pn[0] == 'R'   ? z->rm
                    : pn[0] == 'x' || pn[0] == 'X' ? z->xm
                                                   : z->cm;
        if (!z->matrix) {
            /* first matrix property: the others start at zero */
            memset(z->rm, 0, sizeof z->rm);
            memset(z->xm, 0, sizeof z->xm);
            memset(z->cm, 0, sizeof z->cm);
            z->matrix = 1;
        }
        return get_matrix(p, pn, val, z->nph, m);
    }
    *handled = 0;
    return 0;
}

int dss_set_linecode(struct pctx *p, struct fdr_linecode *lc, int id, const char *pn,
                     const char *val)
{
    struct fdr_zdef *z = &lc->z;
    int handled, rc;
    switch (id) {
    case LC_NPH:
        if ((rc = dss_get_int(p, pn, val, &z->nph)))
            return rc;
        if (z->nph < 1 || z->nph > 4)
            return dss_perr(p, "nphases=%d: 1 to 4 supported", z->nph);
        z->matrix = 0;
        return 0;
    case LC_UNITS:
        return dss_get_units(p, pn, val, &z->units);
    case LC_KRON:
        return dss_get_bool(p, pn, val, &z->kron);
    case LC_NEUTRAL: {
        int nn = 0;
        if ((rc = dss_get_int(p, pn, val, &nn)))
            return rc;
        if (nn != z->nph)
            return dss_perr(p, "neutral=%d: only the last conductor can be the neutral", nn);
        return 0;
    }
    case LC_BASEFREQ:
    case LC_NORMAMPS:
    case LC_EMERGAMPS:
    case LC_FAULTRATE:
    case LC_PCTPERM:
    case LC_REPAIR:
    case LC_RG:
    case LC_XG:
    case LC_RHO:
    case LC_SEASONS:
    case LC_RATINGS:
    case LC_LINETYPE:
        return 0; /* ratings, reliability, frequency scaling: no effect at base frequency */
    case LC_LIKE:
        return dss_not_modelled(p, "LineCode", pn);
    default:
        rc = set_zdef(p, z, dss_code_props[id], val, &handled);
        if (!handled)
            return dss_not_modelled(p, "LineCode", pn);
        return rc;
    }
}

int dss_get_earth_model(struct pctx *p, const char *prop, const char *v, int *out)
{
    if (!strcasecmp(v, "carson"))
        *out = FDR_EARTH_CARSON;
    else if (!strcasecmp(v, "fullcarson"))
        *out = FDR_EARTH_FULLCARSON;
    else if (!strcasecmp(v, "deri"))
        *out = FDR_EARTH_DERI;
    else
        return dss_perr(p, "%s: expected Carson, FullCarson or Deri, got '%s'", prop, v);
    return 0;
}

int dss_set_wire(struct pctx *p, struct fdr_wire *w, int id, const char *pn, const char *val)
{
    int rc;
    double d = 0;
    switch (id) {
    case WD_RDC:
    case WD_RAC:
    case WD_GMR:
    case WD_RADIUS:
    case WD_DIAM:
        if ((rc = dss_get_num(p, pn, val, &d)))
            return rc;
        if (!(d > 0))
            return dss_perr(p, "WireData.%s: %s must be > 0", w->name, pn);
        *(id == WD_RDC   ? &w->rdc
          : id == WD_RAC ? &w->rac
          : id == WD_GMR ? &w->gmr
                         : &w->radius) = id == WD_DIAM ? d / 2.0 : d;
        return 0;
    case WD_RUNITS:
        return dss_get_units(p, pn, val, &w->r_units);
    case WD_GMRUNITS:
        return dss_get_units(p, pn, val, &w->gmr_units);
    case WD_RADUNITS:
        return dss_get_units(p, pn, val, &w->rad_units);
    case WD_NORMAMPS:
    case WD_EMERGAMPS:
    case WD_SEASONS:
    case WD_RATINGS:
    case WD_CAPRADIUS: /* only for insulated cables */
        return 0;
    default:
        return dss_not_modelled(p, "WireData", pn);
    }
}

const char *const dss_spacing_props[] = {"nconds", "nphases", "x", "h", "units", "like", NULL};

/* LineSpacing: the conductors' positions (x=[...] h=[...]), no wires. */
int dss_set_spacing(struct pctx *p, struct fdr_geometry *g, int id, const char *pn, const char *val)
{
    int rc;
    switch (id) {
    case 0:
    case 1: {
        int n = 0;
        if ((rc = dss_get_int(p, pn, val, &n)))
            return rc;
        if (n < 1 || n > FDR_LC_MAX)
            return dss_perr(p, "%s=%d: 1 to %d conductors supported", pn, n, FDR_LC_MAX);
        *(id == 0 ? &g->nconds : &g->nphases) = n;
        return 0;
    }
    case 2:
    case 3: {
        double v[FDR_LC_MAX];
        int n = 0;
        if ((rc = dss_get_nums(p, pn, val, v, FDR_LC_MAX, &n)))
            return rc;
        if (n > g->nconds)
            return dss_perr(p, "%s: %d values for nconds=%d", pn, n, g->nconds);
        for (int k = 0; k < n; k++)
            (id == 2 ? g->x : g->h)[k] = v[k];
        return 0;
    }
    case 4:
        if ((rc = dss_get_units(p, pn, val, &g->units[0])))
            return rc;
        for (int k = 1; k < FDR_LC_MAX; k++)
            g->units[k] = g->units[0];
        return 0;
    default:
        return dss_not_modelled(p, "LineSpacing", pn);
    }
}

/* Line wires=[...] / cncables=[...]: the wires of its spacing's conductors
 * (cable phases first, then the bare wires). */
static int line_wires(struct pctx *p, struct fdr_linedef *l, int cn, const char *pn,
                      const char *val)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", val);
    int n = cn ? 0 : l->ncn, k = 0;
    for (char *tok = strtok(buf, "[](){}\"' ,\t"); tok; tok = strtok(NULL, "[](){}\"' ,\t")) {
        if (n >= FDR_LC_MAX)
            return dss_perr(p, "%s: more than %d conductors", pn, FDR_LC_MAX);
        int w = fdr_names_get(cn ? &p->c->cn_ix : &p->c->wire_ix, tok);
        if (w < 0)
            return dss_perr(p, "%s '%s' is not defined", cn ? "CNData" : "WireData", tok);
        l->wire[n++] = w;
        k++;
    }
    if (cn)
        l->ncn = k;
    l->nwire = n > l->nwire ? n : l->nwire;
    return 0;
}

/* TSData: WireData's properties plus the tape shield's and the insulation's
 * (OpenDSS's order). */
/* clang-format off */
const char *const dss_ts_props[] = {
    "diashield", "tapelayer", "tapelap", "epsr", "inslayer", "diains", "diacable", "rdc", "rac",
    "runits", "gmrac", "gmrunits", "radius", "radunits", "normamps", "emergamps", "diam",
    "seasons", "ratings", "capradius", "like", NULL};
/* clang-format on */

int dss_set_ts(struct pctx *p, struct fdr_wire *w, int id, const char *pn, const char *val)
{
    int rc;
    double d = 0;
    if (id >= 7)
        return dss_set_wire(p, w, dss_match_name(dss_wire_props, dss_ts_props[id]), pn, val);
    if ((rc = dss_get_num(p, pn, val, &d)))
        return rc;
    if (id == 2) {
        if (d < 0 || d >= 100)
            return dss_perr(p, "TSData.%s: TapeLap=%g: 0 to 100 %%", w->name, d);
        w->tape_lap = d;
        return 0;
    }
    if (!(d > 0))
        return dss_perr(p, "TSData.%s: %s must be > 0", w->name, pn);
    double *dst[7] = {&w->dia_shield, &w->tape_layer, NULL,         &w->epsr,
                      &w->ins_layer,  &w->dia_ins,    &w->dia_cable};
    *dst[id] = d;
    return 0;
}

/* CNData: WireData's properties plus the concentric neutral's and the
 * insulation's (OpenDSS's order). */
/* clang-format off */
const char *const dss_cn_props[] = {
    "k", "diastrand", "gmrstrand", "rstrand", "epsr", "inslayer", "diains", "diacable", "rdc",
    "rac", "runits", "gmrac", "gmrunits", "radius", "radunits", "normamps", "emergamps", "diam",
    "seasons", "ratings", "capradius", "like", NULL};
/* clang-format on */

int dss_set_cn(struct pctx *p, struct fdr_wire *w, int id, const char *pn, const char *val)
{
    int rc;
    double d = 0;
    if (id >= 8) /* the WireData part */
        return dss_set_wire(p, w, dss_match_name(dss_wire_props, dss_cn_props[id]), pn, val);
    if (id == 0) {
        if ((rc = dss_get_int(p, pn, val, &w->k)))
            return rc;
        return w->k >= 1 ? 0 : dss_perr(p, "CNData.%s: k must be >= 1", w->name);
    }
    if ((rc = dss_get_num(p, pn, val, &d)))
        return rc;
    if (!(d > 0))
        return dss_perr(p, "CNData.%s: %s must be > 0", w->name, pn);
    double *dst[8] = {NULL,     &w->dia_strand, &w->gmr_strand, &w->r_strand,
                      &w->epsr, &w->ins_layer,  &w->dia_ins,    &w->dia_cable};
    *dst[id] = d;
    return 0;
}

int dss_set_geometry(struct pctx *p, struct fdr_geometry *g, int id, const char *pn,
                     const char *val)
{
    int rc, k;
    switch (id) {
    case LG_NCONDS:
        if ((rc = dss_get_int(p, pn, val, &g->nconds)))
            return rc;
        if (g->nconds < 1 || g->nconds > FDR_LC_MAX)
            return dss_perr(p, "nconds=%d: 1 to %d conductors supported", g->nconds, FDR_LC_MAX);
        if (g->nphases > g->nconds || g->nphases == 0)
            g->nphases = g->nconds;
        return 0;
    case LG_NPHASES:
        if ((rc = dss_get_int(p, pn, val, &g->nphases)))
            return rc;
        if (g->nphases < 1 || g->nphases > 3)
            return dss_perr(p, "nphases=%d: 1 to 3 phases supported", g->nphases);
        return 0;
    case LG_COND:
        if ((rc = dss_get_int(p, pn, val, &k)))
            return rc;
        if (k < 1 || k > g->nconds)
            return dss_perr(p, "cond=%d: the geometry has %d conductors (give nconds first)", k,
                            g->nconds);
        g->active = k - 1;
        return 0;
    case LG_WIRE:
    case LG_CNCABLE:
    case LG_TSCABLE: {
        const char *what = id == LG_WIRE ? "WireData" : id == LG_CNCABLE ? "CNData" : "TSData";
        int w = fdr_names_get(id == LG_WIRE      ? &p->c->wire_ix
                              : id == LG_CNCABLE ? &p->c->cn_ix
                                                 : &p->c->ts_ix,
                              val);
        if (w < 0)
            return dss_perr(p, "%s '%s' is not defined", what, val);
        g->wire[g->active] = w;
        return 0;
    }
    case LG_WIRES:
    case LG_CNCABLES:
    case LG_TSCABLES: {
        /* wires=[a b c n]: one per conductor (cncables: the first ones) */
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", val);
        int n = 0;
        for (char *tok = strtok(buf, "[](){}\"' ,\t"); tok; tok = strtok(NULL, "[](){}\"' ,\t")) {
            if (n >= g->nconds)
                return dss_perr(p, "wires: more wires than nconds=%d", g->nconds);
            int w = fdr_names_get(id == LG_WIRES      ? &p->c->wire_ix
                                  : id == LG_CNCABLES ? &p->c->cn_ix
                                                      : &p->c->ts_ix,
                                  tok);
            if (w < 0)
                return dss_perr(p, "%s '%s' is not defined",
                                id == LG_WIRES      ? "WireData"
                                : id == LG_CNCABLES ? "CNData"
                                                    : "TSData",
                                tok);
            g->wire[n++] = w;
        }
        return 0;
    }
    case LG_X:
    case LG_H:
        return dss_get_num(p, pn, val, id == LG_X ? &g->x[g->active] : &g->h[g->active]);
    case LG_UNITS:
        /* the active conductor's, and the default of those after it */
        if ((rc = dss_get_units(p, pn, val, &g->units[g->active])))
            return rc;
        for (k = g->active + 1; k < FDR_LC_MAX; k++)
            g->units[k] = g->units[g->active];
        return 0;
    case LG_REDUCE:
        return dss_get_bool(p, pn, val, &g->reduce);
    case LG_NORMAMPS:
    case LG_EMERGAMPS:
    case LG_SEASONS:
    case LG_RATINGS:
    case LG_LINETYPE:
        return 0;
    default:
        return dss_not_modelled(p, "LineGeometry", pn);
    }
}

int dss_set_line(struct pctx *p, struct fdr_linedef *l, int id, const char *pn, const char *val)
{
    int handled, rc;
    switch (id) {
    case LN_BUS1:
        return dss_copy_name(p, l->bus[0], sizeof l->bus[0], val, "bus");
    case LN_BUS2:
        return dss_copy_name(p, l->bus[1], sizeof l->bus[1], val, "bus");
    case LN_CODE: {
        int k = fdr_names_get(&p->c->code_ix, val);
        if (k < 0)
            return dss_perr(p, "LineCode '%s' is not defined", val);
        l->z = p->c->codes[k].z;
        snprintf(l->code, sizeof l->code, "%s", p->c->codes[k].name);
        /* nphases=4 without kron: three phases and an explicit neutral
         * (topology.c checks that both ends connect it to node 4) */
        l->phases = l->z.kron || l->z.nph == 4 ? l->z.nph - 1 : l->z.nph;
        return 0;
    }
    case LN_LENGTH:
        return dss_get_num(p, pn, val, &l->length);
    case LN_PHASES:
        if ((rc = dss_get_int(p, pn, val, &l->phases)))
            return rc;
        if (l->phases < 1 || l->phases > 3)
            return dss_perr(p, "phases=%d: lines of 1 to 3 phases supported", l->phases);
        if (!l->z.matrix)
            l->z.nph = l->phases;
        return 0;
    case LN_UNITS:
        return dss_get_units(p, pn, val, &l->len_units);
    case LN_SWITCH: {
        int b = 0;
        if ((rc = dss_get_bool(p, pn, val, &b)))
            return rc;
        if (!b)
            return 0;
        /* as OpenDSS: a closed switch is a short line of 1 + j1 ohm per
         * unit length (both sequences), c1 1.1 nF, c0 1 nF, 0.001 long,
         * units none; later properties may still change it */
        l->geometry = l->spacing = -1;
        l->code[0] = '\0';
        memset(&l->z, 0, sizeof l->z);
        l->z.nph = l->phases;
        l->z.r1 = l->z.x1 = l->z.r0 = l->z.x0 = 1.0;
        l->z.c1_nf = 1.1;
        l->z.c0_nf = 1.0;
        l->z.units = FDR_U_NONE;
        l->length = 0.001;
        l->len_units = FDR_U_NONE;
        return 0;
    }
    case LN_RHO:
        if ((rc = dss_get_num(p, pn, val, &l->rho)))
            return rc;
        return l->rho > 0 ? 0 : dss_perr(p, "rho: earth resistivity must be > 0");
    case LN_EARTHMODEL:
        return dss_get_earth_model(p, pn, val, &l->earth);
    case LN_GEOMETRY: {
        int k = fdr_names_get(&p->c->geom_ix, val);
        if (k < 0)
            return dss_perr(p, "LineGeometry '%s' is not defined", val);
        const struct fdr_geometry *g = &p->c->geoms[k];
        l->geometry = k;
        l->spacing = -1;
        l->phases = g->reduce ? g->nphases : g->nconds;
        return 0;
    }
    case LN_RG:
    case LN_XG:
    case LN_SEASONS:
    case LN_RATINGS:
    case LN_LINETYPE:
    case LN_NORMAMPS:
    case LN_EMERGAMPS:
    case LN_FAULTRATE:
    case LN_PCTPERM:
    case LN_REPAIR:
    case LN_BASEFREQ:
        return 0;
    case LN_ENABLED:
        if ((rc = dss_get_bool(p, pn, val, &l->disabled)))
            return rc;
        l->disabled = !l->disabled;
        return 0;
    case LN_SPACING: {
        int k = fdr_names_get(&p->c->spacing_ix, val);
        if (k < 0)
            return dss_perr(p, "LineSpacing '%s' is not defined", val);
        l->spacing = k;
        l->geometry = -1;
        l->phases = p->c->spacings[k].nphases;
        return 0;
    }
    case LN_WIRES:
    case LN_CNCABLES:
        return line_wires(p, l, id == LN_CNCABLES, pn, val);
    case LN_TSCABLES:
    case LN_LIKE:
        return dss_not_modelled(p, "Line", pn);
    default:
        rc = set_zdef(p, &l->z, dss_line_props[id], val, &handled);
        if (!handled)
            return dss_not_modelled(p, "Line", pn);
        return rc;
    }
}
