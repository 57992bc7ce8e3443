/*
 * dss_parse.c: the OpenDSS reader's driver: objects (New, Edit, More,
 * BatchEdit, like=), commands (Redirect / Compile, Set, Open / Close, ...),
 * files and the public entry points fdr_load_dss / fdr_load_dss_string.
 * The tokenizer and typed values are in dss_lex.c, the classes' property
 * tables and setters in dss_lines.c and dss_elements.c (dss_impl.h).
 * docs/models.md lists the subset of OpenDSS taken.
 *
 * The rule that keeps results honest: a command or property that only
 * shapes output (monitors, meters, plots, reports, solution mode) is
 * skipped with one warning; anything else we do not model is an error
 * naming file and line, never silently ignored. Commands and property
 * names match OpenDSS's way: case-insensitive, exact name or unique prefix;
 * properties may also be positional in OpenDSS's property order.
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

static const char *const *class_props(int cl)
{
    switch (cl) {
    case CL_CIRCUIT:
    case CL_VSOURCE:
        return dss_vsrc_props;
    case CL_LINECODE:
        return dss_code_props;
    case CL_LINE:
        return dss_line_props;
    case CL_LOAD:
        return dss_load_props;
    case CL_SHAPE:
        return dss_shape_props;
    case CL_XFMR:
        return dss_xfmr_props;
    case CL_REACTOR:
        return dss_reactor_props;
    case CL_WIRE:
        return dss_wire_props;
    case CL_CN:
        return dss_cn_props;
    case CL_SPACING:
        return dss_spacing_props;
    case CL_TS:
        return dss_ts_props;
    case CL_GEOM:
        return dss_geom_props;
    case CL_CAP:
        return dss_cap_props;
    case CL_REG:
        return dss_reg_props;
    case CL_XFCODE:
        return dss_xfcode_props;
    case CL_CAPCTRL:
        return dss_capctrl_props;
    case CL_SWT:
        return dss_swt_props;
    case CL_GEN:
        return dss_gen_props;
    case CL_PV:
        return dss_pv_props;
    case CL_STOR:
        return dss_stor_props;
    default:
        return NULL;
    }
}

static const char *class_name(int cl)
{
    static const char *const n[] = {
        "",          "",           "Circuit",     "Vsource",     "LineCode",   "Line",
        "Load",      "LoadShape",  "Transformer", "Reactor",     "WireData",   "LineGeometry",
        "Capacitor", "RegControl", "XfmrCode",    "CapControl",  "SwtControl", "Generator",
        "PVSystem",  "Storage",    "CNData",      "LineSpacing", "TSData"};
    return n[cl];
}

/* Class of "Line.name" prefixes. Output-only classes give CL_SKIP. */
static int class_of(const char *cls)
{
    static const struct {
        const char *name;
        int cl;
    } map[] = {{"circuit", CL_CIRCUIT},   {"vsource", CL_VSOURCE},     {"linecode", CL_LINECODE},
               {"line", CL_LINE},         {"load", CL_LOAD},           {"loadshape", CL_SHAPE},
               {"transformer", CL_XFMR},  {"monitor", CL_SKIP},        {"energymeter", CL_SKIP},
               {"sensor", CL_SKIP},       {"reactor", CL_REACTOR},     {"wiredata", CL_WIRE},
               {"linegeometry", CL_GEOM}, {"capacitor", CL_CAP},       {"regcontrol", CL_REG},
               {"xfmrcode", CL_XFCODE},   {"capcontrol", CL_CAPCTRL},  {"swtcontrol", CL_SWT},
               {"fuse", CL_SKIP},         {"recloser", CL_SKIP},       {"relay", CL_SKIP},
               {"generator", CL_GEN},     {"pvsystem", CL_PV},         {"storage", CL_STOR},
               {"cndata", CL_CN},         {"linespacing", CL_SPACING}, {"tsdata", CL_TS}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcasecmp(cls, map[i].name))
            return map[i].cl;
    return CL_NONE;
}

/* like=NAME: the element becomes a copy of NAME of the same class (its
 * own name and location kept); the properties after it edit the copy. */
static int make_like(struct pctx *p, int cl, int idx, const char *other)
{
    fdr_circuit *c = p->c;
    const struct fdr_names *ix = cl == CL_LINECODE  ? &c->code_ix
                                 : cl == CL_LINE    ? &c->line_ix
                                 : cl == CL_LOAD    ? &c->load_ix
                                 : cl == CL_SHAPE   ? &c->shape_ix
                                 : cl == CL_XFMR    ? &c->xfmr_ix
                                 : cl == CL_REACTOR ? &c->reactor_ix
                                 : cl == CL_WIRE    ? &c->wire_ix
                                 : cl == CL_GEOM    ? &c->geom_ix
                                 : cl == CL_CAP     ? &c->cap_ix
                                 : cl == CL_XFCODE  ? &c->xfcode_ix
                                 : cl == CL_CAPCTRL ? &c->capctrl_ix
                                 : cl == CL_SWT     ? &c->swt_ix
                                 : cl == CL_CN      ? &c->cn_ix
                                 : cl == CL_SPACING ? &c->spacing_ix
                                 : cl == CL_TS      ? &c->ts_ix
                                 : cl >= CL_GEN     ? &c->gen_ix
                                                    : &c->reg_ix;
    char full[2 * FDR_NAME_MAX];
    if (cl == CL_GEN || cl == CL_PV ||
        cl == CL_STOR) { /* kept under Class.NAME (loads hold several classes) */
        snprintf(full, sizeof full, "%s.%s", class_name(cl), other);
        other = full;
    }
    int k = fdr_names_get(ix, other);
    if (k < 0)
        return dss_perr(p, "like=%s: %s.%s is not defined", other, class_name(cl), other);
    if (k == idx)
        return 0;
#define LIKE(arr)                                                                                  \
    do {                                                                                           \
        char name[FDR_NAME_MAX];                                                                   \
        struct fdr_loc at = c->arr[idx].at;                                                        \
        memcpy(name, c->arr[idx].name, sizeof name);                                               \
        c->arr[idx] = c->arr[k];                                                                   \
        memcpy(c->arr[idx].name, name, sizeof name);                                               \
        c->arr[idx].at = at;                                                                       \
    } while (0)
    switch (cl) {
    case CL_LINECODE:
        LIKE(codes);
        break;
    case CL_LINE:
        LIKE(lines);
        break;
    case CL_LOAD:
        LIKE(loads);
        break;
    case CL_XFMR:
        LIKE(xfmrs);
        break;
    case CL_REACTOR:
        LIKE(reactors);
        break;
    case CL_WIRE:
    case CL_CN:
    case CL_TS:
        LIKE(wires);
        break;
    case CL_SPACING:
        LIKE(spacings);
        break;
    case CL_GEOM:
        LIKE(geoms);
        break;
    case CL_CAP:
    case CL_GEN:
    case CL_PV:
    case CL_STOR:
        LIKE(loads);
        break;
    case CL_REG:
        LIKE(regs);
        break;
    case CL_XFCODE:
        LIKE(xfcodes);
        break;
    case CL_CAPCTRL:
        LIKE(capctrls);
        break;
    case CL_SWT:
        LIKE(swts);
        break;
    case CL_SHAPE: {
        /* the multipliers are owned: copy them */
        struct fdr_shape *d = &c->shapes[idx];
        const struct fdr_shape *src = &c->shapes[k];
        double *m = NULL, *q = NULL;
        if (src->mult && !(m = malloc((size_t)src->npts * sizeof *m)))
            return sim_errf(p->err, SIM_ENOMEM, "out of memory");
        if (src->qmult && !(q = malloc((size_t)src->npts * sizeof *q))) {
            free(m);
            return sim_errf(p->err, SIM_ENOMEM, "out of memory");
        }
        if (m)
            memcpy(m, src->mult, (size_t)src->npts * sizeof *m);
        if (q)
            memcpy(q, src->qmult, (size_t)src->npts * sizeof *q);
        free(d->mult);
        free(d->qmult);
        LIKE(shapes);
        d->mult = m;
        d->qmult = q;
        break;
    }
    default:
        return dss_perr(p, "like= is not supported for %s", class_name(cl));
    }
#undef LIKE
    return 0;
}

static int apply_props(struct pctx *p, int cl, int idx, struct tok *t, int n)
{
    const char *const *props = class_props(cl);
    fdr_circuit *c = p->c;
    for (int i = 0; i < n; i++) {
        int id;
        const char *pn;
        if (t[i].name) {
            id = dss_match_name(props, t[i].name);
            if (id == -2)
                return dss_perr(p, "%s property '%s' is ambiguous", class_name(cl), t[i].name);
            if (id < 0)
                return dss_perr(p, "%s has no property '%s'", class_name(cl), t[i].name);
            pn = t[i].name;
        } else {
            id = p->act_lastprop + 1;
            if (!props[id])
                return dss_perr(p, "too many positional values for %s", class_name(cl));
            pn = props[id];
        }
        p->act_lastprop = id;
        int rc;
        if (!strcmp(props[id], "like") && cl != CL_CIRCUIT && cl != CL_VSOURCE) {
            if ((rc = make_like(p, cl, idx, t[i].value)))
                return rc;
            continue;
        }
        switch (cl) {
        case CL_CIRCUIT:
        case CL_VSOURCE:
            rc = dss_set_vsource(p, &c->src, id, pn, t[i].value);
            break;
        case CL_LINECODE:
            rc = dss_set_linecode(p, &c->codes[idx], id, pn, t[i].value);
            break;
        case CL_LINE:
            rc = dss_set_line(p, &c->lines[idx], id, pn, t[i].value);
            break;
        case CL_LOAD:
            rc = dss_set_load(p, &c->loads[idx], id, pn, t[i].value);
            break;
        case CL_SHAPE:
            rc = dss_set_shape(p, &c->shapes[idx], id, pn, t[i].value);
            break;
        case CL_REACTOR:
            rc = dss_set_reactor(p, &c->reactors[idx], id, pn, t[i].value);
            break;
        case CL_WIRE:
            rc = dss_set_wire(p, &c->wires[idx], id, pn, t[i].value);
            break;
        case CL_CN:
            rc = dss_set_cn(p, &c->wires[idx], id, pn, t[i].value);
            break;
        case CL_SPACING:
            rc = dss_set_spacing(p, &c->spacings[idx], id, pn, t[i].value);
            break;
        case CL_TS:
            rc = dss_set_ts(p, &c->wires[idx], id, pn, t[i].value);
            break;
        case CL_GEOM:
            rc = dss_set_geometry(p, &c->geoms[idx], id, pn, t[i].value);
            break;
        case CL_CAP:
            rc = dss_set_cap(p, &c->loads[idx], id, pn, t[i].value);
            break;
        case CL_GEN:
        case CL_PV:
        case CL_STOR:
            rc = dss_set_gen(p, cl, &c->loads[idx], id, pn, t[i].value);
            break;
        case CL_REG:
            rc = dss_set_reg(p, &c->regs[idx], id, pn, t[i].value);
            break;
        case CL_XFCODE:
            rc = dss_set_xfmr(p, &c->xfcodes[idx], dss_match_name(dss_xfmr_props, props[id]), pn,
                              t[i].value);
            break;
        case CL_CAPCTRL:
            rc = dss_set_capctrl(p, &c->capctrls[idx], id, pn, t[i].value);
            break;
        case CL_SWT:
            rc = dss_set_swt(p, &c->swts[idx], id, pn, t[i].value);
            break;
        default:
            rc = dss_set_xfmr(p, &c->xfmrs[idx], id, pn, t[i].value);
            break;
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* Find (create=0) or create (create=1) an object. Returns index or <0. */
int dss_object(struct pctx *p, int cl, const char *name, int create, int *idx)
{
    fdr_circuit *c = p->c;
    struct fdr_names *ix;
    struct fdr_loc at = {p->file, p->line};
    switch (cl) {
    case CL_LINECODE:
        ix = &c->code_ix;
        break;
    case CL_LINE:
        ix = &c->line_ix;
        break;
    case CL_LOAD:
        ix = &c->load_ix;
        break;
    case CL_SHAPE:
        ix = &c->shape_ix;
        break;
    case CL_XFMR:
        ix = &c->xfmr_ix;
        break;
    case CL_REACTOR:
        ix = &c->reactor_ix;
        break;
    case CL_WIRE:
        ix = &c->wire_ix;
        break;
    case CL_CN:
        ix = &c->cn_ix;
        break;
    case CL_SPACING:
        ix = &c->spacing_ix;
        break;
    case CL_TS:
        ix = &c->ts_ix;
        break;
    case CL_GEOM:
        ix = &c->geom_ix;
        break;
    case CL_CAP:
        ix = &c->cap_ix;
        break;
    case CL_GEN:
    case CL_PV:
    case CL_STOR:
        ix = &c->gen_ix;
        break;
    case CL_REG:
        ix = &c->reg_ix;
        break;
    case CL_XFCODE:
        ix = &c->xfcode_ix;
        break;
    case CL_CAPCTRL:
        ix = &c->capctrl_ix;
        break;
    case CL_SWT:
        ix = &c->swt_ix;
        break;
    default: {
        /* the circuit's Vsource */
        if (!c->have_circuit)
            return dss_perr(p, "no circuit defined yet (New Circuit.name first)");
        if (cl == CL_VSOURCE && strcasecmp(name, c->src.name))
            return dss_perr(p, "Vsource.%s: only the circuit's source (Vsource.%s) is supported",
                            name, c->src.name);
        *idx = 0;
        return 0;
    }
    }
    if (strlen(name) >= FDR_NAME_MAX)
        return dss_perr(p, "name '%s' is too long", name);
    if (!*name)
        return dss_perr(p, "%s without a name", class_name(cl));
    char full[FDR_NAME_MAX];
    const char *key = name;
    if (cl == CL_GEN || cl == CL_PV || cl == CL_STOR) {
        /* an element of loads, named and indexed as Class.NAME */
        int w = snprintf(full, sizeof full, "%s.%s", class_name(cl), name);
        if (w < 0 || (size_t)w >= sizeof full)
            return dss_perr(p, "name '%s' is too long", name);
        key = full;
    }
    int k = fdr_names_get(ix, key);
    if (k >= 0) {
        if (create)
            dss_pwarn(p, "%s.%s defined again: editing the existing one", class_name(cl), name);
        *idx = k;
        return 0;
    }
    if (!create)
        return dss_perr(p, "%s.%s is not defined", class_name(cl), name);
    if (!c->have_circuit)
        return dss_perr(p, "no circuit defined yet (New Circuit.name first)");
    int rc = 0;
    switch (cl) {
    case CL_LINECODE:
        rc = dss_grow((void **)&c->codes, &c->codes_cap, c->ncodes + 1, sizeof *c->codes);
        if (!rc) {
            k = c->ncodes++;
            struct fdr_linecode *lc = &c->codes[k];
            memset(lc, 0, sizeof *lc);
            strcpy(lc->name, name);
            dss_zdef_default(&lc->z);
            lc->at = at;
        }
        break;
    case CL_LINE:
        rc = dss_grow((void **)&c->lines, &c->lines_cap, c->nlines + 1, sizeof *c->lines);
        if (!rc) {
            k = c->nlines++;
            struct fdr_linedef *l = &c->lines[k];
            memset(l, 0, sizeof *l);
            strcpy(l->name, name);
            dss_zdef_default(&l->z);
            l->phases = 3;
            l->length = 1.0;
            l->geometry = l->spacing = -1;
            l->rho = 100.0;
            l->earth = c->earth_model;
            l->at = at;
        }
        break;
    case CL_LOAD:
        rc = dss_grow((void **)&c->loads, &c->loads_cap, c->nloads + 1, sizeof *c->loads);
        if (!rc) {
            k = c->nloads++;
            dss_load_default(&c->loads[k]);
            strcpy(c->loads[k].name, name);
            c->loads[k].at = at;
        }
        break;
    case CL_SHAPE:
        rc = dss_grow((void **)&c->shapes, &c->shapes_cap, c->nshapes + 1, sizeof *c->shapes);
        if (!rc) {
            k = c->nshapes++;
            struct fdr_shape *sh = &c->shapes[k];
            memset(sh, 0, sizeof *sh);
            strcpy(sh->name, name);
            sh->interval_h = 1.0;
            sh->at = at;
        }
        break;
    case CL_REACTOR:
        rc = dss_grow((void **)&c->reactors, &c->reactors_cap, c->nreactors + 1,
                      sizeof *c->reactors);
        if (!rc) {
            k = c->nreactors++;
            struct fdr_reactordef *r = &c->reactors[k];
            memset(r, 0, sizeof *r);
            strcpy(r->name, name);
            r->phases = 3; /* OpenDSS's default */
            r->at = at;
        }
        break;
    case CL_WIRE:
    case CL_CN:
    case CL_TS:
        rc = dss_grow((void **)&c->wires, &c->wires_cap, c->nwires + 1, sizeof *c->wires);
        if (!rc) {
            k = c->nwires++;
            struct fdr_wire *w = &c->wires[k];
            memset(w, 0, sizeof *w);
            strcpy(w->name, name);
            w->rdc = w->rac = w->gmr = w->radius = -1;
            w->cn = cl == CL_CN;
            w->ts = cl == CL_TS;
            w->tape_lap = 20; /* OpenDSS's default, % */
            w->dia_shield = w->tape_layer = -1;
            w->k = 2; /* OpenDSS's defaults */
            w->epsr = 2.3;
            w->dia_strand = w->gmr_strand = w->r_strand = w->ins_layer = w->dia_ins = w->dia_cable =
                -1;
            w->at = at;
        }
        break;
    case CL_GEN:
    case CL_PV:
    case CL_STOR:
        rc = dss_grow((void **)&c->loads, &c->loads_cap, c->nloads + 1, sizeof *c->loads);
        if (!rc) {
            k = c->nloads++;
            struct fdr_loaddef *l = &c->loads[k];
            dss_load_default(l);
            snprintf(l->name, sizeof l->name, "%s", key);
            l->gen_kind = cl == CL_GEN ? 1 : cl == CL_PV ? 2 : 3;
            /* OpenDSS's defaults */
            l->vminpu = 0.9;
            l->vmaxpu = 1.1;
            l->g_kw = 1000;
            l->pf = cl == CL_GEN ? 0.8 : 1.0;
            l->q_from_pf = 1;
            l->g_irr = 1;
            l->g_pmpp = 500;
            l->g_pct = 100;
            l->g_kva = cl == CL_PV ? 500 : 25;
            l->g_kwrated = 25;
            l->g_pctdis = l->g_pctch = 100;
            dss_gen_update(l);
            l->at = at;
        }
        break;
    case CL_CAP:
        /* an element of loads, named Capacitor.NAME (OpenDSS keeps
         * classes apart: a Load may have the same name) */
        if (strlen(name) + 10 >= FDR_NAME_MAX)
            return dss_perr(p, "name '%s' is too long", name);
        rc = dss_grow((void **)&c->loads, &c->loads_cap, c->nloads + 1, sizeof *c->loads);
        if (!rc) {
            k = c->nloads++;
            struct fdr_loaddef *l = &c->loads[k];
            dss_load_default(l);
            snprintf(l->name, sizeof l->name, "Capacitor.%s", name);
            l->capacitor = 1;
            l->fixed = 1;
            l->model = 2; /* constant impedance */
            l->kw = 0;
            l->q_from_pf = 0;
            l->vminpu = 0;
            l->cap_kvar[0] = 1200; /* OpenDSS's default */
            l->cap_state[0] = 1;
            l->cap_nsteps = 1;
            l->kvar = -1200;
            l->at = at;
        }
        break;
    case CL_REG:
        rc = dss_grow((void **)&c->regs, &c->regs_cap, c->nregs + 1, sizeof *c->regs);
        if (!rc) {
            k = c->nregs++;
            struct fdr_regdef *r = &c->regs[k];
            memset(r, 0, sizeof *r);
            strcpy(r->name, name);
            /* OpenDSS's defaults */
            r->winding = r->tapwinding = 1;
            r->vreg = 120;
            r->band = 3;
            r->ptratio = 60;
            r->ctprim = 300;
            r->maxtapchange = 16;
            r->delay = 15;
            r->tapdelay = 2;
            r->at = at;
        }
        break;
    case CL_SPACING:
        rc = dss_grow((void **)&c->spacings, &c->spacings_cap, c->nspacings + 1,
                      sizeof *c->spacings);
        if (!rc) {
            k = c->nspacings++;
            struct fdr_geometry *g = &c->spacings[k];
            memset(g, 0, sizeof *g);
            strcpy(g->name, name);
            g->nconds = g->nphases = 3;
            g->reduce = 1;
            for (int j = 0; j < FDR_LC_MAX; j++) {
                g->wire[j] = -1;
                g->units[j] = FDR_U_FT;
            }
            g->at = at;
        }
        break;
    case CL_GEOM:
        rc = dss_grow((void **)&c->geoms, &c->geoms_cap, c->ngeoms + 1, sizeof *c->geoms);
        if (!rc) {
            k = c->ngeoms++;
            struct fdr_geometry *g = &c->geoms[k];
            memset(g, 0, sizeof *g);
            strcpy(g->name, name);
            g->nconds = g->nphases = 3;
            for (int j = 0; j < FDR_LC_MAX; j++) {
                g->wire[j] = -1;
                g->units[j] = FDR_U_FT; /* OpenDSS's initial default */
            }
            g->at = at;
        }
        break;
    case CL_SWT:
        rc = dss_grow((void **)&c->swts, &c->swts_cap, c->nswts + 1, sizeof *c->swts);
        if (!rc) {
            k = c->nswts++;
            struct fdr_swtdef *d = &c->swts[k];
            memset(d, 0, sizeof *d);
            strcpy(d->name, name);
            d->term = 1;
            d->action = d->normal = d->state = -1;
            d->at = at;
        }
        break;
    case CL_CAPCTRL:
        rc = dss_grow((void **)&c->capctrls, &c->capctrls_cap, c->ncapctrls + 1,
                      sizeof *c->capctrls);
        if (!rc) {
            k = c->ncapctrls++;
            struct fdr_capctrldef *d = &c->capctrls[k];
            memset(d, 0, sizeof *d);
            strcpy(d->name, name);
            /* OpenDSS's defaults */
            d->terminal = 1;
            d->type = FDR_CC_CURRENT;
            d->ptratio = d->ctratio = 60;
            d->on = 300;
            d->off = 200;
            d->delay = d->delayoff = 15;
            d->deadtime = 300;
            d->vmax = 126;
            d->vmin = 115;
            d->ptphase = d->ctphase = 1;
            d->at = at;
        }
        break;
    case CL_XFCODE:
        rc = dss_grow((void **)&c->xfcodes, &c->xfcodes_cap, c->nxfcodes + 1, sizeof *c->xfcodes);
        if (!rc) {
            k = c->nxfcodes++;
            dss_xfmr_default(&c->xfcodes[k]);
            strcpy(c->xfcodes[k].name, name);
            c->xfcodes[k].at = at;
        }
        break;
    default:
        rc = dss_grow((void **)&c->xfmrs, &c->xfmrs_cap, c->nxfmrs + 1, sizeof *c->xfmrs);
        if (!rc) {
            k = c->nxfmrs++;
            dss_xfmr_default(&c->xfmrs[k]);
            strcpy(c->xfmrs[k].name, name);
            c->xfmrs[k].at = at;
        }
        break;
    }
    if (rc || fdr_names_put(ix, key, k))
        return sim_errf(p->err, SIM_ENOMEM, "out of memory");
    *idx = k;
    return 0;
}

/* Split "Class.name" in place. */
static int split_object(struct pctx *p, char *spec, char **cls, char **name)
{
    char *dot = strchr(spec, '.');
    if (!dot)
        return dss_perr(p, "'%s': expected Class.name", spec);
    *dot = '\0';
    *cls = spec;
    *name = dot + 1;
    return 0;
}

/* New / Edit: tokens after the verb. */
static int cmd_new_edit(struct pctx *p, struct tok *t, int n, int create, const char *verb)
{
    if (n < 1)
        return dss_perr(p, "%s: missing Class.name", verb);
    int first = 0;
    char *spec = t[0].value;
    if (t[0].name) {
        if (strcasecmp(t[0].name, "object"))
            return dss_perr(p, "%s: expected Class.name, got '%s='", verb, t[0].name);
    }
    first = 1;
    char specbuf[256];
    snprintf(specbuf, sizeof specbuf, "%s", spec);
    char *cls = NULL, *name = NULL;
    int rc = split_object(p, specbuf, &cls, &name);
    if (rc)
        return rc;
    int cl = class_of(cls);
    if (cl == CL_NONE)
        return dss_perr(p, "%s %s.%s: element class '%s' is not supported", verb, cls, name, cls);
    if (cl == CL_SKIP) {
        if (!strcasecmp(cls, "fuse") || !strcasecmp(cls, "recloser") || !strcasecmp(cls, "relay"))
            dss_pwarn(p,
                      "skipped '%s %s.%s' (a protective device: closed, no faults are simulated)",
                      verb, cls, name);
        else
            dss_pwarn(p, "skipped '%s %s.%s' (output only)", verb, cls, name);
        p->act_class = CL_SKIP;
        return 0;
    }
    int idx = 0;
    p->act_lastprop = -1;
    if (cl == CL_CIRCUIT) {
        if (!create)
            cl = CL_VSOURCE;
        else {
            if (p->c->have_circuit)
                return dss_perr(p, "a second circuit (use Clear first)");
            if (strlen(name) >= FDR_NAME_MAX)
                return dss_perr(p, "name '%s' is too long", name);
            p->c->have_circuit = 1;
            dss_vsource_default(&p->c->src, "source");
            p->c->src.at.file = p->file;
            p->c->src.at.line = p->line;
        }
    } else if (cl == CL_VSOURCE && create) {
        return dss_perr(p, "New Vsource.%s: only the circuit's own source is supported", name);
    }
    if (cl != CL_CIRCUIT && (rc = dss_object(p, cl, name, create, &idx)))
        return rc;
    p->act_class = cl;
    p->act_idx = idx;
    return apply_props(p, cl, idx, t + first, n - first);
}

static int cmd_more(struct pctx *p, struct tok *t, int n)
{
    if (p->act_class == CL_SKIP)
        return 0; /* continuation of a skipped object: warned already */
    if (p->act_class == CL_NONE)
        return dss_perr(p, "'~' / More without an object to continue");
    return apply_props(p, p->act_class, p->act_idx, t, n);
}

static int cmd_batchedit(struct pctx *p, struct tok *t, int n)
{
    if (n < 1 || t[0].name)
        return dss_perr(p, "BatchEdit: missing Class.pattern");
    char specbuf[256];
    snprintf(specbuf, sizeof specbuf, "%s", t[0].value);
    char *cls = NULL, *pat = NULL;
    int rc = split_object(p, specbuf, &cls, &pat);
    if (rc)
        return rc;
    int cl = class_of(cls);
    if (cl == CL_SKIP) {
        dss_pwarn(p, "skipped 'BatchEdit %s.%s' (output only)", cls, pat);
        return 0;
    }
    if (cl == CL_NONE || cl == CL_CIRCUIT || cl == CL_VSOURCE || cl == CL_REACTOR)
        return dss_perr(p, "BatchEdit of class '%s' is not supported", cls);
    regex_t re;
    if (regcomp(&re, pat, REG_EXTENDED | REG_ICASE | REG_NOSUB))
        return dss_perr(p, "BatchEdit: bad pattern '%s'", pat);
    fdr_circuit *c = p->c;
    int count = cl == CL_LINECODE ? c->ncodes
                : cl == CL_LINE   ? c->nlines
                : cl == CL_LOAD   ? c->nloads
                : cl == CL_SHAPE  ? c->nshapes
                                  : c->nxfmrs;
    for (int i = 0; i < count && !rc; i++) {
        const char *nm = cl == CL_LINECODE ? c->codes[i].name
                         : cl == CL_LINE   ? c->lines[i].name
                         : cl == CL_LOAD   ? c->loads[i].name
                         : cl == CL_SHAPE  ? c->shapes[i].name
                                           : c->xfmrs[i].name;
        if (regexec(&re, nm, 0, NULL, 0))
            continue;
        /* tokenizing wrote terminators in place; values stay valid */
        p->act_lastprop = -1;
        rc = apply_props(p, cl, i, t + 1, n - 1);
    }
    regfree(&re);
    return rc;
}

static int cmd_set(struct pctx *p, struct tok *t, int n)
{
    static const char *const opts[] = {
        "voltagebases", "defaultbasefrequency", "basefrequency", "loadmult",
        /* solution / output options we skip */
        "mode", "number", "stepsize", "year", "hour", "sec", "time", "h", "m", "s", "demand",
        "diverbose", "overloadreport", "voltexcept", "casename", "datapath", "editor", "log",
        "trace", "markercode", "nodewidth", "showexport", "keeplist", "normvminpu", "normvmaxpu",
        "emergvminpu", "emergvmaxpu", "lossweight", "ueweight", "lossregs", "ueregs", "controlmode",
        "maxcontroliter", "algorithm", "random", "allowduplicates", "zonelock", "markswitches",
        "marktransformers", "tolerance", "maxiterations", "miniterations", "loadmodel", "totaltime",
        "stepsizeh", "stepsizem", "capkvar", "genkw", "genpf", "genmult", "cktmodel", "addtype",
        "allocationfactors", "autobuslist", "earthmodel", "recorder", "voltexceptionreport",
        "sampleenergymeters", "returnresults", "terminal", "bus", "class", "element", "object",
        "pricesignal", "pricecurve", "defaultdaily", "defaultyearly", "ldcurve", "%growth", "%mean",
        "%stddev", "pvmult", NULL};
    char skipped[512] = "";
    for (int i = 0; i < n; i++) {
        if (!t[i].name)
            return dss_perr(p, "Set: '%s' without a value", t[i].value);
        size_t nl = strlen(t[i].name);
        if (!strncasecmp(t[i].name, "mark", 4) ||
            (nl > 10 && !strcasecmp(t[i].name + nl - 10, "markersize")) ||
            (nl > 10 && !strcasecmp(t[i].name + nl - 10, "markercode"))) {
            /* plot markers (markCapacitors, CapMarkerSize, ...): output only */
            size_t len = strlen(skipped);
            snprintf(skipped + len, sizeof skipped - len, "%s%s=%s", len ? " " : "", t[i].name,
                     t[i].value);
            continue;
        }
        int id = dss_match_name(opts, t[i].name);
        if (id < 0)
            return dss_perr(p, "Set %s: option is %s", t[i].name,
                            id == -2 ? "ambiguous" : "not supported");
        const char *on = opts[id];
        int rc;
        if (!strcmp(on, "controlmode")) {
            /* OFF disables the controls; the others are the caller's choice
             * (fdr_solve: static, fdr_solve_time: time) */
            p->c->controls_off = !strcasecmp(t[i].value, "off");
            if (p->c->controls_off)
                continue;
        }
        if (!strcmp(on, "voltagebases")) {
            if ((rc = dss_get_nums(p, on, t[i].value, p->c->vbases, 16, &p->c->nvbases)))
                return rc;
            for (int k = 0; k < p->c->nvbases; k++)
                if (p->c->vbases[k] <= 0)
                    return dss_perr(p, "voltagebases: %g is not > 0", p->c->vbases[k]);
        } else if (!strcmp(on, "defaultbasefrequency") || !strcmp(on, "basefrequency")) {
            if ((rc = dss_get_num(p, on, t[i].value, &p->c->base_freq)))
                return rc;
        } else if (!strcmp(on, "loadmult")) {
            if ((rc = dss_get_num(p, on, t[i].value, &p->c->loadmult)))
                return rc;
        } else if (!strcmp(on, "maxcontroliter")) {
            double d = 0;
            if ((rc = dss_get_num(p, on, t[i].value, &d)))
                return rc;
            if (d < 1 || d > 1000)
                return dss_perr(p, "maxcontroliter: 1 to 1000");
            p->c->max_control_iter = (int)d;
        } else if (!strcmp(on, "earthmodel")) {
            if ((rc = dss_get_earth_model(p, on, t[i].value, &p->c->earth_model)))
                return rc;
        } else if (!strcmp(on, "loadmodel") || !strcmp(on, "cktmodel") ||
                   !strcmp(on, "defaultdaily") || !strcmp(on, "defaultyearly") ||
                   !strcmp(on, "allocationfactors") || !strcmp(on, "capkvar") ||
                   !strcmp(on, "%growth")) {
            return dss_perr(p, "Set %s: option is not supported (it would change the circuit)", on);
        } else {
            size_t len = strlen(skipped);
            snprintf(skipped + len, sizeof skipped - len, "%s%s=%s", len ? " " : "", t[i].name,
                     t[i].value);
        }
    }
    if (skipped[0])
        dss_pwarn(p, "skipped 'Set %s' (solution/output option)", skipped);
    return 0;
}

static int run_file(struct pctx *p, const char *path);

static int cmd_redirect(struct pctx *p, struct tok *t, int n, const char *verb)
{
    if (n < 1)
        return dss_perr(p, "%s: missing file name", verb);
    char path[PATH_MAX];
    int rc = dss_resolve_path(p, t[0].value, path, sizeof path);
    if (rc)
        return rc;
    if (p->depth >= MAX_DEPTH)
        return dss_perr(p, "%s: nested more than %d deep", verb, MAX_DEPTH);
    return run_file(p, path);
}

enum {
    CMD_NEW,
    CMD_EDIT,
    CMD_MORE,
    CMD_CLEAR,
    CMD_CLEARALL,
    CMD_SET,
    CMD_REDIRECT,
    CMD_COMPILE,
    CMD_CALCV,
    CMD_SOLVE,
    CMD_BATCHEDIT,
    CMD_OPEN,
    CMD_CLOSE,
    CMD_FIRST_SKIP, /* the rest only shape outputs */
};

/* Open / Close Line.name [term=]N [cond]: the line's terminal N (default
 * 1) opened or closed; all its conductors (a single conductor is not
 * modelled). */
static int line_switch(struct pctx *p, const char *obj, int term, int open)
{
    const char *dot = strchr(obj, '.');
    if (!dot || (size_t)(dot - obj) != 4 || strncasecmp(obj, "line", 4))
        return dss_perr(p, "%s: only lines can be opened or closed (Line.name)", obj);
    int k = fdr_names_get(&p->c->line_ix, dot + 1);
    if (k < 0)
        return dss_perr(p, "%s is not defined", obj);
    if (term < 1 || term > 2)
        return dss_perr(p, "%s: terminal %d (1 or 2)", obj, term);
    if (open)
        p->c->lines[k].open_term |= 1 << (term - 1);
    else
        p->c->lines[k].open_term &= ~(1 << (term - 1));
    return 0;
}

static int cmd_open_close(struct pctx *p, struct tok *t, int n, int open)
{
    const char *obj = NULL;
    int term = 1, rc;
    for (int i = 0; i < n; i++) {
        if (!t[i].name || !strcasecmp(t[i].name, "object")) {
            if (!obj) {
                obj = t[i].value;
                continue;
            }
            if (i == 1) {
                if ((rc = dss_get_int(p, "terminal", t[i].value, &term)))
                    return rc;
                continue;
            }
            if (strcmp(t[i].value, "0"))
                return dss_perr(p, "%s: opening single conductors is not supported", obj);
        } else if (!strncasecmp(t[i].name, "term", 4)) {
            if ((rc = dss_get_int(p, "terminal", t[i].value, &term)))
                return rc;
        } else if (!strncasecmp(t[i].name, "cond", 4)) {
            if (strcmp(t[i].value, "0"))
                return dss_perr(p, "%s: opening single conductors is not supported",
                                obj ? obj : "");
        } else {
            return dss_perr(p, "%s: unknown parameter '%s'", open ? "Open" : "Close", t[i].name);
        }
    }
    if (!obj)
        return dss_perr(p, "%s: which element?", open ? "Open" : "Close");
    return line_switch(p, obj, term, open);
}

static const char *const commands[] = {"new",         "edit",          "more",
                                       "clear",       "clearall",      "set",
                                       "redirect",    "compile",       "calcvoltagebases",
                                       "solve",       "batchedit",     "open",
                                       "close",       "show",          "plot",
                                       "export",      "buscoords",     "closedi",
                                       "sample",      "visualize",     "summary",
                                       "help",        "totals",        "dump",
                                       "fileedit",    "get",           "guids",
                                       "cleanup",     "reset",         "interpolate",
                                       "lossexpl",    "makebuslist",   "currents",
                                       "voltages",    "powers",        "losses",
                                       "phaselosses", "capacity",      "setbusxy",
                                       "var",         "updatestorage", "zsc",
                                       "zsc10",       "zscrefresh",    "ysc",
                                       "seqcurrents", "seqpowers",     "seqvoltages",
                                       "vdiffs",      "celldetails",   NULL};

static int run_command(struct pctx *p, char *line)
{
    struct tok t[MAX_TOKENS];
    int n = 0, rc;
    char *s = line;
    int more = 0;
    if (*s == '~') {
        more = 1;
        s++;
    }
    if ((rc = dss_tokenize(p, s, t, MAX_TOKENS, &n)))
        return rc;
    if (more)
        return cmd_more(p, t, n);
    if (n == 0)
        return 0;
    if (t[0].name) {
        /* Class.name.property=value ... : OpenDSS's implicit Edit */
        char *last = strrchr(t[0].name, '.');
        if (!last || last == strchr(t[0].name, '.'))
            return dss_perr(p, "'%s=%s': a command was expected", t[0].name, t[0].value);
        if (n + 1 > MAX_TOKENS)
            return dss_perr(p, "too many parameters on one command (max %d)", MAX_TOKENS - 1);
        *last = '\0';
        struct tok e[MAX_TOKENS];
        e[0] = (struct tok){.name = NULL, .value = t[0].name};
        e[1] = (struct tok){.name = last + 1, .value = t[0].value};
        for (int i = 1; i < n; i++)
            e[i + 1] = t[i];
        return cmd_new_edit(p, e, n + 1, 0, "Edit");
    }
    const char *verb = t[0].value;
    int id = dss_match_name(commands, verb);
    if (id == -2)
        return dss_perr(p, "command '%s' is ambiguous", verb);
    if (id < 0)
        return dss_perr(p, "command '%s' is not supported", verb);
    struct tok *args = t + 1;
    int na = n - 1;
    switch (id) {
    case CMD_NEW:
        return cmd_new_edit(p, args, na, 1, "New");
    case CMD_EDIT:
        return cmd_new_edit(p, args, na, 0, "Edit");
    case CMD_MORE:
        return cmd_more(p, args, na);
    case CMD_CLEAR:
    case CMD_CLEARALL:
        fdr_circuit_reset(p->c);
        p->act_class = CL_NONE;
        return 0;
    case CMD_SET:
        return cmd_set(p, args, na);
    case CMD_REDIRECT:
        return cmd_redirect(p, args, na, "Redirect");
    case CMD_COMPILE:
        return cmd_redirect(p, args, na, "Compile");
    case CMD_CALCV: /* voltage bases are assigned when the topology is built */
    case CMD_SOLVE: /* the caller solves; Solve marks a solution point only */
        return 0;
    case CMD_BATCHEDIT:
        return cmd_batchedit(p, args, na);
    case CMD_OPEN:
    case CMD_CLOSE:
        return cmd_open_close(p, args, na, id == CMD_OPEN);
    default:
        dss_pwarn(p, "skipped '%s' (output only)", commands[id]);
        return 0;
    }
}

/* Strip a '!' or '//' comment outside quotes. */
static void strip_comment(char *s)
{
    char q = 0;
    for (; *s; s++) {
        if (q) {
            if (*s == q)
                q = 0;
            continue;
        }
        if (*s == '"' || *s == '\'') {
            q = *s;
            continue;
        }
        if (*s == '!' || (s[0] == '/' && s[1] == '/')) {
            *s = '\0';
            return;
        }
    }
}

static int run_text(struct pctx *p, char *text)
{
    int in_block = 0;
    char *s = text;
    p->line = 0;
    while (s && *s) {
        char *nl = strchr(s, '\n');
        if (nl)
            *nl = '\0';
        p->line++;
        size_t len = strlen(s);
        while (len && (s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t'))
            s[--len] = '\0';
        char *q = s;
        while (*q == ' ' || *q == '\t')
            q++;
        if (in_block) {
            if (strstr(q, "*/"))
                in_block = 0;
        } else if (q[0] == '/' && q[1] == '*') {
            if (!strstr(q + 2, "*/"))
                in_block = 1;
        } else {
            strip_comment(q);
            int rc = run_command(p, q);
            if (rc)
                return rc;
        }
        s = nl ? nl + 1 : NULL;
    }
    return 0;
}

static int run_file(struct pctx *p, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (p->depth == 0)
            return sim_errf(p->err, SIM_EIO, "%s: cannot open: %s", path, strerror(errno));
        return dss_perr(p, "cannot open '%s': %s", path, strerror(errno));
    }
    /* a device or a pipe (/dev/zero, a FIFO) could be read forever */
    struct stat st;
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
        fclose(f);
        if (p->depth == 0)
            return sim_errf(p->err, SIM_EINVAL, "%s: not a regular file", path);
        return dss_perr(p, "'%s' is not a regular file", path);
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return sim_errf(p->err, SIM_ENOMEM, "out of memory");
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0)
            break;
    }
    int ioerr = ferror(f);
    fclose(f);
    if (ioerr) {
        free(buf);
        return sim_errf(p->err, SIM_EIO, "%s: read error", path);
    }
    buf[len] = '\0';

    int fi = dss_add_file(p->c, path);
    if (fi < 0) {
        free(buf);
        return sim_errf(p->err, SIM_ENOMEM, "out of memory");
    }
    struct pctx saved = *p;
    p->file = fi;
    p->depth++;
    const char *slash = strrchr(path, '/');
    if (slash && (size_t)(slash - path) >= sizeof p->dir) {
        free(buf);
        return sim_errf(p->err, SIM_EINVAL, "%s: path too long", path);
    }
    if (slash)
        snprintf(p->dir, sizeof p->dir, "%.*s", (int)(slash - path), path);
    else
        p->dir[0] = '\0';
    int rc = run_text(p, buf);
    free(buf);
    if (rc)
        return rc;
    p->file = saved.file;
    p->line = saved.line;
    p->depth = saved.depth;
    memcpy(p->dir, saved.dir, sizeof p->dir);
    return 0;
}

static fdr_circuit *new_circuit(void)
{
    fdr_circuit *c = calloc(1, sizeof *c);
    if (c) {
        c->base_freq = 60.0;
        c->loadmult = 1.0;
    }
    return c;
}

/* Drop the lines and loads defined with enabled=false (OpenDSS leaves
 * them out of the circuit) and index the rest again. */
static int drop_disabled(fdr_circuit *c)
{
    int n = 0, changed = 0;
    for (int i = 0; i < c->nlines; i++) {
        if (c->lines[i].disabled) {
            changed = 1;
            continue;
        }
        c->lines[n++] = c->lines[i];
    }
    c->nlines = n;
    if (changed) {
        fdr_names_free(&c->line_ix);
        for (int i = 0; i < c->nlines; i++)
            if (fdr_names_put(&c->line_ix, c->lines[i].name, i))
                return SIM_ENOMEM;
    }
    n = changed = 0;
    for (int i = 0; i < c->nloads; i++) {
        if (c->loads[i].disabled) {
            changed = 1;
            continue;
        }
        c->loads[n++] = c->loads[i];
    }
    c->nloads = n;
    if (changed) {
        fdr_names_free(&c->load_ix);
        fdr_names_free(&c->cap_ix);
        fdr_names_free(&c->gen_ix);
        for (int i = 0; i < c->nloads; i++) {
            const char *name = c->loads[i].name;
            int rc = c->loads[i].capacitor
                         ? fdr_names_put(&c->cap_ix, name + strlen("Capacitor."), i)
                     : c->loads[i].gen_kind ? fdr_names_put(&c->gen_ix, name, i)
                                            : fdr_names_put(&c->load_ix, name, i);
            if (rc)
                return SIM_ENOMEM;
        }
    }
    return 0;
}

static fdr_circuit *finish(fdr_circuit *c, int rc, struct sim_err *err)
{
    if (!rc && drop_disabled(c))
        rc = sim_errf(err, SIM_ENOMEM, "out of memory");
    if (!rc && !c->have_circuit)
        rc = sim_errf(err, SIM_EINVAL, "%s: no circuit defined (New Circuit.name)",
                      c->nfiles ? c->files[0] : "input");
    if (!rc)
        rc = fdr_compile(c, err);
    if (rc) {
        fdr_circuit_free(c);
        return NULL;
    }
    return c;
}

fdr_circuit *fdr_load_dss(const char *master_path, struct fdr_warnings *warn, struct sim_err *err)
{
    fdr_circuit *c = new_circuit();
    if (!c) {
        sim_errf(err, SIM_ENOMEM, "out of memory");
        return NULL;
    }
    struct pctx p = {.c = c, .warn = warn, .err = err, .file = -1};
    int rc = run_file(&p, master_path);
    return finish(c, rc, err);
}

fdr_circuit *fdr_load_dss_string(const char *text, const char *name, const char *base_dir,
                                 struct fdr_warnings *warn, struct sim_err *err)
{
    fdr_circuit *c = new_circuit();
    char *buf = strdup(text);
    int fi = c && buf ? dss_add_file(c, name ? name : "<string>") : -1;
    if (fi < 0) {
        free(buf);
        fdr_circuit_free(c);
        sim_errf(err, SIM_ENOMEM, "out of memory");
        return NULL;
    }
    struct pctx p = {.c = c, .warn = warn, .err = err, .file = fi, .depth = 1};
    snprintf(p.dir, sizeof p.dir, "%s", base_dir ? base_dir : "");
    int rc = run_text(&p, buf);
    free(buf);
    return finish(c, rc, err);
}
