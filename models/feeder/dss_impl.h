/*
 * dss_impl.h: what the files of the OpenDSS reader share; private to
 * models/feeder/dss_*.c.
 *
 *  - dss_lex.c: errors and warnings with file:line, the tokenizer, inline
 *    RPN math, typed values (numbers, lists, units, connections), names
 *    and paths;
 *  - dss_lines.c: line codes, wires (WireData, CNData, TSData), spacings,
 *    geometries and lines: their properties and setters;
 *  - dss_elements.c: the other classes (Vsource, Load, LoadShape,
 *    Transformer / XfmrCode, Reactor, Capacitor, RegControl, CapControl,
 *    SwtControl, Generator / PVSystem / Storage): properties and setters;
 *  - dss_parse.c: objects (New / Edit / like=), commands, files, and the
 *    public entry points.
 *
 * A class's property table lists OpenDSS's property names in OpenDSS's
 * order (positional values follow it); its setter takes a property's index
 * in that table.
 */
#ifndef FLEXBED_FEEDER_DSS_IMPL_H
#define FLEXBED_FEEDER_DSS_IMPL_H

#include <limits.h>
#include <stddef.h>

#include "feeder_impl.h"

#define MAX_TOKENS 256
#define MAX_DEPTH 16

enum {
    CL_NONE,
    CL_SKIP,
    CL_CIRCUIT,
    CL_VSOURCE,
    CL_LINECODE,
    CL_LINE,
    CL_LOAD,
    CL_SHAPE,
    CL_XFMR,
    CL_REACTOR,
    CL_WIRE,
    CL_GEOM,
    CL_CAP,
    CL_REG,
    CL_XFCODE,
    CL_CAPCTRL,
    CL_SWT,
    CL_GEN, /* Generator, PVSystem, Storage: fixed injections in loads */
    CL_PV,
    CL_STOR,
    CL_CN,      /* CNData: concentric-neutral cables, kept in wires */
    CL_SPACING, /* LineSpacing: positions only, kept in geoms */
    CL_TS       /* TSData: tape-shielded cables, kept in wires */
};

struct tok {
    char *name; /* NULL for a positional value */
    char *value;
};

struct pctx {
    fdr_circuit *c;
    struct fdr_warnings *warn;
    struct sim_err *err;
    int depth;
    int file, line;
    char dir[PATH_MAX];     /* folder of the file being read, for relative names */
    int act_class, act_idx; /* object that '~' / More edits */
    int act_lastprop;       /* for positional properties */
};

/* dss_lex.c */
int dss_add_file(fdr_circuit *c, const char *path);
int dss_check_enabled(struct pctx *p, const char *cls, const char *prop, const char *v);
int dss_copy_name(struct pctx *p, char *dst, size_t n, const char *src, const char *what);
int dss_get_bool(struct pctx *p, const char *prop, const char *v, int *out);
int dss_get_conn(struct pctx *p, const char *prop, const char *v, int *out);
int dss_get_int(struct pctx *p, const char *prop, const char *v, int *out);
int dss_get_num(struct pctx *p, const char *prop, const char *v, double *out);
int dss_get_nums(struct pctx *p, const char *prop, const char *v, double *out, int max, int *n);
int dss_get_units(struct pctx *p, const char *prop, const char *v, int *out);
int dss_grow(void **arr, int *cap, int need, size_t elem);
int dss_match_name(const char *const *list, const char *name);
int dss_not_modelled(struct pctx *p, const char *cls, const char *prop);
int dss_perr(struct pctx *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void dss_pwarn(struct pctx *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int dss_resolve_path(struct pctx *p, const char *rel, char *out, size_t n);
int dss_split_list(char *v, char **items, int max);
int dss_tokenize(struct pctx *p, char *s, struct tok *t, int max, int *n);

/* dss_lines.c */
extern const char *const dss_cn_props[];
extern const char *const dss_code_props[];
extern const char *const dss_geom_props[];
int dss_get_earth_model(struct pctx *p, const char *prop, const char *v, int *out);
extern const char *const dss_line_props[];
int dss_set_cn(struct pctx *p, struct fdr_wire *w, int id, const char *pn, const char *val);
int dss_set_geometry(struct pctx *p, struct fdr_geometry *g, int id, const char *pn,
                     const char *val);
int dss_set_line(struct pctx *p, struct fdr_linedef *l, int id, const char *pn, const char *val);
int dss_set_linecode(struct pctx *p, struct fdr_linecode *lc, int id, const char *pn,
                     const char *val);
int dss_set_spacing(struct pctx *p, struct fdr_geometry *g, int id, const char *pn,
                    const char *val);
int dss_set_ts(struct pctx *p, struct fdr_wire *w, int id, const char *pn, const char *val);
int dss_set_wire(struct pctx *p, struct fdr_wire *w, int id, const char *pn, const char *val);
extern const char *const dss_spacing_props[];
extern const char *const dss_ts_props[];
extern const char *const dss_wire_props[];
void dss_zdef_default(struct fdr_zdef *z);

/* dss_elements.c */
extern const char *const dss_cap_props[];
extern const char *const dss_capctrl_props[];
extern const char *const dss_gen_props[];
void dss_gen_update(struct fdr_loaddef *l);
void dss_load_default(struct fdr_loaddef *l);
extern const char *const dss_load_props[];
extern const char *const dss_pv_props[];
extern const char *const dss_reactor_props[];
extern const char *const dss_reg_props[];
int dss_set_cap(struct pctx *p, struct fdr_loaddef *l, int id, const char *pn, const char *val);
int dss_set_capctrl(struct pctx *p, struct fdr_capctrldef *d, int id, const char *pn,
                    const char *val);
int dss_set_gen(struct pctx *p, int cl, struct fdr_loaddef *l, int id, const char *pn,
                const char *val);
int dss_set_load(struct pctx *p, struct fdr_loaddef *l, int id, const char *pn, const char *val);
int dss_set_reactor(struct pctx *p, struct fdr_reactordef *r, int id, const char *pn,
                    const char *val);
int dss_set_reg(struct pctx *p, struct fdr_regdef *r, int id, const char *pn, const char *val);
int dss_set_shape(struct pctx *p, struct fdr_shape *sh, int id, const char *pn, const char *val);
int dss_set_swt(struct pctx *p, struct fdr_swtdef *d, int id, const char *pn, const char *val);
int dss_set_vsource(struct pctx *p, struct fdr_vsource *v, int id, const char *pn, const char *val);
int dss_set_xfmr(struct pctx *p, struct fdr_xfmrdef *x, int id, const char *pn, const char *val);
extern const char *const dss_shape_props[];
extern const char *const dss_stor_props[];
extern const char *const dss_swt_props[];
void dss_vsource_default(struct fdr_vsource *v, const char *name);
extern const char *const dss_vsrc_props[];
extern const char *const dss_xfcode_props[];
void dss_xfmr_default(struct fdr_xfmrdef *x);
extern const char *const dss_xfmr_props[];

/* dss_parse.c */
int dss_object(struct pctx *p, int cl, const char *name, int create, int *idx);

#endif /* FLEXBED_FEEDER_DSS_IMPL_H */
