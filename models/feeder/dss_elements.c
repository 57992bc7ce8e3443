/*
 * dss_elements.c: the OpenDSS classes other than the line family:
 * Vsource / Circuit, Load, LoadShape, Transformer and XfmrCode, Reactor,
 * Capacitor, RegControl, CapControl, SwtControl, Generator, PVSystem and
 * Storage. Their defaults, property tables (OpenDSS's order) and setters.
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

void dss_vsource_default(struct fdr_vsource *v, const char *name)
{
    memset(v, 0, sizeof *v);
    snprintf(v->name, sizeof v->name, "%s", name);
    strcpy(v->bus, "sourcebus");
    v->phases = 3;
    v->zspec = 1;
    v->basekv = 115.0;
    v->pu = 1.0;
    v->mvasc3 = 2000.0;
    v->mvasc1 = 2100.0;
    v->isc3 = 10000.0;
    v->isc1 = 10500.0;
    v->x1r1 = 4.0;
    v->x0r0 = 3.0;
    v->r1 = 1.65;
    v->x1 = 6.6;
    v->r0 = 1.9;
    v->x0 = 5.7;
}

void dss_load_default(struct fdr_loaddef *l)
{
    memset(l, 0, sizeof *l);
    l->phases = 3;
    l->conn = FDR_WYE;
    l->model = 1;
    l->kv = 12.47;
    l->kw = 10.0;
    l->pf = 0.88;
    l->q_from_pf = 1;
    l->vminpu = 0.95;
    l->vmaxpu = 1.05; /* OpenDSS's default */
    l->yearly = l->daily = -1;
    l->cvrwatts = 1.0; /* model 4's exponents, OpenDSS's defaults */
    l->cvrvars = 2.0;
}

void dss_xfmr_default(struct fdr_xfmrdef *x)
{
    memset(x, 0, sizeof *x);
    x->phases = 3;
    x->nw = 2;
    x->xhl_pct = 7.0;
    x->xht_pct = 35.0; /* OpenDSS's defaults */
    x->xlt_pct = 30.0;
    x->ppm = 1.0;
    for (int i = 0; i < 3; i++) {
        x->w[i].conn = FDR_WYE;
        x->w[i].kv = 12.47;
        x->w[i].kva = 1000.0;
        x->w[i].r_pct = 0.2;
        x->w[i].tap = 1.0;
        x->w[i].maxtap = 1.1;
        x->w[i].mintap = 0.9;
        x->w[i].numtaps = 32;
    }
}

const char *const dss_vsrc_props[] = {
    "bus1",     "basekv",   "pu",     "angle", "frequency", "phases", "mvasc3",   "mvasc1",
    "x1r1",     "x0r0",     "isc3",   "isc1",  "r1",        "x1",     "r0",       "x0",
    "scantype", "sequence", "bus2",   "z1",    "z0",        "z2",     "puz1",     "puz0",
    "puz2",     "basemva",  "yearly", "daily", "duty",      "model",  "puzideal", "spectrum",
    "basefreq", "enabled",  "like",   NULL};
enum {
    VS_BUS1,
    VS_BASEKV,
    VS_PU,
    VS_ANGLE,
    VS_FREQ,
    VS_PHASES,
    VS_MVASC3,
    VS_MVASC1,
    VS_X1R1,
    VS_X0R0,
    VS_ISC3,
    VS_ISC1,
    VS_R1,
    VS_X1,
    VS_R0,
    VS_X0,
    VS_SCANTYPE,
    VS_SEQUENCE,
    VS_BUS2,
    VS_SPECTRUM = 31,
    VS_BASEFREQ,
    VS_ENABLED,
    VS_LIKE
};

const char *const dss_load_props[] = {"bus1",      "phases",
                                      "kv",        "kw",
                                      "pf",        "model",
                                      "yearly",    "daily",
                                      "duty",      "growth",
                                      "conn",      "kvar",
                                      "rneut",     "xneut",
                                      "status",    "class",
                                      "vminpu",    "vmaxpu",
                                      "vminnorm",  "vminemerg",
                                      "xfkva",     "allocationfactor",
                                      "kva",       "%mean",
                                      "%stddev",   "cvrwatts",
                                      "cvrvars",   "kwh",
                                      "kwhdays",   "cfactor",
                                      "cvrcurve",  "numcust",
                                      "zipv",      "%seriesrl",
                                      "relweight", "vlowpu",
                                      "puxharm",   "xrharm",
                                      "spectrum",  "basefreq",
                                      "enabled",   "like",
                                      NULL};
enum {
    LD_BUS1,
    LD_PHASES,
    LD_KV,
    LD_KW,
    LD_PF,
    LD_MODEL,
    LD_YEARLY,
    LD_DAILY,
    LD_DUTY,
    LD_GROWTH,
    LD_CONN,
    LD_KVAR,
    LD_RNEUT,
    LD_XNEUT,
    LD_STATUS,
    LD_CLASS,
    LD_VMINPU,
    LD_VMAXPU,
    LD_VMINNORM,
    LD_VMINEMERG,
    LD_XFKVA,
    LD_ALLOC,
    LD_KVA,
    LD_MEAN,
    LD_STDDEV,
    LD_CVRW,
    LD_CVRV,
    LD_KWH,
    LD_KWHDAYS,
    LD_CFACTOR,
    LD_CVRCURVE,
    LD_NUMCUST,
    LD_ZIPV,
    LD_SERIESRL,
    LD_RELWEIGHT,
    LD_VLOWPU,
    LD_PUXHARM,
    LD_XRHARM,
    LD_SPECTRUM,
    LD_BASEFREQ,
    LD_ENABLED,
    LD_LIKE
};

const char *const dss_shape_props[] = {
    "npts",    "interval",  "mult",          "hour",      "mean",  "stddev",
    "csvfile", "sngfile",   "dblfile",       "action",    "qmult", "useactual",
    "pmax",    "qmax",      "sinterval",     "minterval", "pbase", "qbase",
    "pmult",   "pqcsvfile", "memorymapping", "like",      NULL};
enum {
    SH_NPTS,
    SH_INTERVAL,
    SH_MULT,
    SH_HOUR,
    SH_MEAN,
    SH_STDDEV,
    SH_CSVFILE,
    SH_SNGFILE,
    SH_DBLFILE,
    SH_ACTION,
    SH_QMULT,
    SH_USEACTUAL,
    SH_PMAX,
    SH_QMAX,
    SH_SINTERVAL,
    SH_MINTERVAL,
    SH_PBASE,
    SH_QBASE,
    SH_PMULT,
    SH_PQCSVFILE,
    SH_MEMMAP,
    SH_LIKE
};

const char *const dss_xfmr_props[] = {
    "phases",   "windings",  "wdg",         "bus",       "conn",      "kv",
    "kva",      "tap",       "%r",          "rneut",     "xneut",     "buses",
    "conns",    "kvs",       "kvas",        "taps",      "xhl",       "xht",
    "xlt",      "xscarray",  "thermal",     "n",         "m",         "flrise",
    "hsrise",   "%loadloss", "%noloadloss", "normhkva",  "emerghkva", "sub",
    "maxtap",   "mintap",    "numtaps",     "subname",   "%imag",     "ppm_antifloat",
    "%rs",      "bank",      "xfmrcode",    "xrconst",   "x12",       "x13",
    "x23",      "leadlag",   "wdgcurrents", "core",      "rdcohms",   "seasons",
    "ratings",  "normamps",  "emergamps",   "faultrate", "pctperm",   "repair",
    "basefreq", "enabled",   "like",        NULL};
enum {
    TR_PHASES,
    TR_WINDINGS,
    TR_WDG,
    TR_BUS,
    TR_CONN,
    TR_KV,
    TR_KVA,
    TR_TAP,
    TR_R,
    TR_RNEUT,
    TR_XNEUT,
    TR_BUSES,
    TR_CONNS,
    TR_KVS,
    TR_KVAS,
    TR_TAPS,
    TR_XHL,
    TR_XHT,
    TR_XLT,
    TR_XSCARRAY,
    TR_THERMAL,
    TR_N,
    TR_M,
    TR_FLRISE,
    TR_HSRISE,
    TR_LOADLOSS,
    TR_NOLOADLOSS,
    TR_NORMHKVA,
    TR_EMERGHKVA,
    TR_SUB,
    TR_MAXTAP,
    TR_MINTAP,
    TR_NUMTAPS,
    TR_SUBNAME,
    TR_IMAG,
    TR_PPM,
    TR_RS,
    TR_BANK,
    TR_XFMRCODE,
    TR_XRCONST,
    TR_X12,
    TR_X13,
    TR_X23,
    TR_LEADLAG,
    TR_WDGCURRENTS,
    TR_CORE,
    TR_RDCOHMS,
    TR_SEASONS,
    TR_RATINGS,
    TR_NORMAMPS,
    TR_EMERGAMPS,
    TR_FAULTRATE,
    TR_PCTPERM,
    TR_REPAIR,
    TR_BASEFREQ,
    TR_ENABLED,
    TR_LIKE
};

const char *const dss_reactor_props[] = {
    "bus1",     "bus2",   "kv",       "kvar",    "conn",     "rmatrix",   "xmatrix",
    "parallel", "r",      "x",        "rp",      "z1",       "z2",        "z0",
    "z",        "rcurve", "lcurve",   "lmh",     "normamps", "emergamps", "faultrate",
    "pctperm",  "repair", "basefreq", "enabled", "like",     "phases",    NULL};
enum {
    RX_BUS1,
    RX_BUS2,
    RX_R = 8,
    RX_X = 9,
    RX_NORMAMPS = 18,
    RX_EMERGAMPS,
    RX_FAULTRATE,
    RX_PCTPERM,
    RX_REPAIR,
    RX_BASEFREQ,
    RX_ENABLED,
    RX_LIKE,
    RX_PHASES
};

const char *const dss_cap_props[] = {
    "bus1",      "bus2",      "phases",  "kvar",     "kv",       "conn",   "cmatrix",
    "cuf",       "r",         "xl",      "harm",     "numsteps", "states", "normamps",
    "emergamps", "faultrate", "pctperm", "basefreq", "enabled",  "like",   NULL};
enum {
    CP_BUS1,
    CP_BUS2,
    CP_PHASES,
    CP_KVAR,
    CP_KV,
    CP_CONN,
    CP_CMATRIX,
    CP_CUF,
    CP_R,
    CP_XL,
    CP_HARM,
    CP_NUMSTEPS,
    CP_STATES,
    CP_NORMAMPS,
    CP_EMERGAMPS,
    CP_FAULTRATE,
    CP_PCTPERM,
    CP_BASEFREQ,
    CP_ENABLED,
    CP_LIKE
};

const char *const dss_reg_props[] = {
    "transformer", "winding",    "vreg",          "band",     "ptratio",      "ctprim",
    "r",           "x",          "bus",           "delay",    "reversible",   "revvreg",
    "revband",     "revr",       "revx",          "tapdelay", "debugtrace",   "maxtapchange",
    "inversetime", "tapwinding", "vlimit",        "ptphase",  "revthreshold", "revdelay",
    "revneutral",  "eventlog",   "remoteptratio", "tapnum",   "reset",        "ldc_z",
    "rev_z",       "cogen",      "basefreq",      "enabled",  "like",         NULL};
enum {
    RG_XFMR,
    RG_WINDING,
    RG_VREG,
    RG_BAND,
    RG_PTRATIO,
    RG_CTPRIM,
    RG_R,
    RG_X,
    RG_BUS,
    RG_DELAY,
    RG_REVERSIBLE,
    RG_REVVREG,
    RG_REVBAND,
    RG_REVR,
    RG_REVX,
    RG_TAPDELAY,
    RG_DEBUGTRACE,
    RG_MAXTAPCHANGE,
    RG_INVERSETIME,
    RG_TAPWINDING,
    RG_VLIMIT,
    RG_PTPHASE,
    RG_REVTHRESHOLD,
    RG_REVDELAY,
    RG_REVNEUTRAL,
    RG_EVENTLOG,
    RG_REMOTEPTRATIO,
    RG_TAPNUM,
    RG_RESET,
    RG_LDCZ,
    RG_REVZ,
    RG_COGEN,
    RG_BASEFREQ,
    RG_ENABLED,
    RG_LIKE
};

int dss_set_vsource(struct pctx *p, struct fdr_vsource *v, int id, const char *pn, const char *val)
{
    switch (id) {
    case VS_BUS1:
        return dss_copy_name(p, v->bus, sizeof v->bus, val, "bus");
    case VS_BASEKV:
        return dss_get_num(p, pn, val, &v->basekv);
    case VS_PU:
        return dss_get_num(p, pn, val, &v->pu);
    case VS_ANGLE:
        return dss_get_num(p, pn, val, &v->angle_deg);
    case VS_FREQ: {
        double f = 0;
        return dss_get_num(p, pn, val, &f); /* impedances are given at base frequency */
    }
    case VS_PHASES:
        return dss_get_int(p, pn, val, &v->phases);
    case VS_MVASC3:
        v->zspec = 1;
        return dss_get_num(p, pn, val, &v->mvasc3);
    case VS_MVASC1:
        v->zspec = 1;
        return dss_get_num(p, pn, val, &v->mvasc1);
    case VS_X1R1:
        return dss_get_num(p, pn, val, &v->x1r1);
    case VS_X0R0:
        return dss_get_num(p, pn, val, &v->x0r0);
    case VS_ISC3:
        v->zspec = 2;
        return dss_get_num(p, pn, val, &v->isc3);
    case VS_ISC1:
        v->zspec = 2;
        return dss_get_num(p, pn, val, &v->isc1);
    case VS_R1:
        v->zspec = 3;
        return dss_get_num(p, pn, val, &v->r1);
    case VS_X1:
        v->zspec = 3;
        return dss_get_num(p, pn, val, &v->x1);
    case VS_R0:
        v->zspec = 3;
        return dss_get_num(p, pn, val, &v->r0);
    case VS_X0:
        v->zspec = 3;
        return dss_get_num(p, pn, val, &v->x0);
    case VS_SCANTYPE:
    case VS_SEQUENCE:
    case VS_SPECTRUM:
    case VS_BASEFREQ:
        return 0; /* harmonics / display only */
    case VS_BUS2: {
        const char *dot = strchr(val, '.');
        for (const char *q = dot; q && *q; q++)
            if (*q != '.' && *q != '0')
                return dss_not_modelled(p, "Vsource", "bus2 (ungrounded source)");
        if (!dot)
            return dss_not_modelled(p, "Vsource", "bus2 (ungrounded source)");
        return 0;
    }
    case VS_ENABLED:
        return dss_check_enabled(p, "Vsource", pn, val);
    default:
        return dss_not_modelled(p, "Vsource", pn);
    }
}

/*
 * A shunt Capacitor is a constant-impedance element that draws -kvar at its
 * rated kV (the sum of its steps in state 1), wye to earth or delta: kept
 * as a load element (capacitor = 1, fixed, never driven by shapes).
 */
static void cap_update(struct fdr_loaddef *l)
{
    double q = 0;
    for (int i = 0; i < l->cap_nsteps; i++)
        q += l->cap_state[i] ? l->cap_kvar[i] : 0;
    l->kvar = -q;
}

int dss_set_cap(struct pctx *p, struct fdr_loaddef *l, int id, const char *pn, const char *val)
{
    int rc;
    double d = 0;
    switch (id) {
    case CP_BUS1:
        return dss_copy_name(p, l->bus, sizeof l->bus, val, "bus");
    case CP_BUS2: {
        /* only the earth end of a wye bank: bus1's name with nodes .0 */
        const char *dot = strchr(val, '.');
        size_t n = dot ? (size_t)(dot - val) : strlen(val);
        const char *b1 = l->bus, *d1 = strchr(b1, '.');
        size_t n1 = d1 ? (size_t)(d1 - b1) : strlen(b1);
        int earth = dot != NULL;
        for (const char *q = dot; earth && q && *q; q++)
            earth = *q == '.' || *q == '0';
        if (n == n1 && !strncasecmp(val, b1, n) && earth)
            return 0;
        return dss_perr(p,
                        "%s: bus2=%s: series and ungrounded capacitors are not supported (bus2 may "
                        "only be bus1's nodes .0)",
                        l->name, val);
    }
    case CP_PHASES:
        if ((rc = dss_get_int(p, pn, val, &l->phases)))
            return rc;
        return l->phases >= 1 && l->phases <= 3 ? 0 : dss_perr(p, "phases=%d: 1 to 3", l->phases);
    case CP_KVAR: {
        double k[16];
        int n = 0;
        if ((rc = dss_get_nums(p, pn, val, k, 16, &n)))
            return rc;
        for (int i = 0; i < n; i++)
            l->cap_kvar[i] = k[i];
        for (int i = l->cap_nsteps; i < n; i++)
            l->cap_state[i] = 1;
        l->cap_nsteps = n;
        cap_update(l);
        return 0;
    }
    case CP_STATES: {
        double st[16];
        int n = 0;
        if ((rc = dss_get_nums(p, pn, val, st, 16, &n)))
            return rc;
        for (int i = 0; i < n && i < 16; i++)
            l->cap_state[i] = st[i] != 0;
        cap_update(l);
        return 0;
    }
    case CP_NUMSTEPS: {
        int n = 0;
        if ((rc = dss_get_int(p, pn, val, &n)))
            return rc;
        if (n < 1 || n > 16)
            return dss_perr(p, "numsteps=%d: 1 to 16", n);
        /* OpenDSS splits the kvar given so far equally over the steps */
        double total = 0;
        for (int i = 0; i < l->cap_nsteps; i++)
            total += l->cap_kvar[i];
        for (int i = 0; i < n; i++) {
            l->cap_kvar[i] = total / n;
            l->cap_state[i] = 1;
        }
        l->cap_nsteps = n;
        cap_update(l);
        return 0;
    }
    case CP_KV:
        if ((rc = dss_get_num(p, pn, val, &l->kv)))
            return rc;
        return l->kv > 0 ? 0 : dss_perr(p, "kv must be > 0");
    case CP_CONN:
        return dss_get_conn(p, pn, val, &l->conn);
    case CP_R:
    case CP_XL:
        if ((rc = dss_get_num(p, pn, val, &d)))
            return rc;
        return d == 0 ? 0 : dss_not_modelled(p, "Capacitor", pn);
    case CP_HARM:
    case CP_NORMAMPS:
    case CP_EMERGAMPS:
    case CP_FAULTRATE:
    case CP_PCTPERM:
    case CP_BASEFREQ:
        return 0;
    case CP_ENABLED:
        if ((rc = dss_get_bool(p, pn, val, &l->disabled)))
            return rc;
        l->disabled = !l->disabled;
        return 0;
    default:
        return dss_not_modelled(p, "Capacitor", pn);
    }
}

int dss_set_reg(struct pctx *p, struct fdr_regdef *r, int id, const char *pn, const char *val)
{
    int rc, b = 0;
    double d = 0;
    switch (id) {
    case RG_XFMR:
        return dss_copy_name(p, r->xfmr, sizeof r->xfmr, val, "transformer");
    case RG_WINDING:
    case RG_TAPWINDING: {
        int w = 0;
        if ((rc = dss_get_int(p, pn, val, &w)))
            return rc;
        if (w < 1 || w > 2)
            return dss_perr(p, "%s=%d: windings 1 and 2 only", pn, w);
        if (id == RG_WINDING)
            r->winding = r->tapwinding = w; /* OpenDSS: tapwinding follows winding */
        else
            r->tapwinding = w;
        return 0;
    }
    case RG_VREG:
    case RG_BAND:
    case RG_PTRATIO:
    case RG_CTPRIM:
        if ((rc = dss_get_num(p, pn, val, &d)))
            return rc;
        if (!(d > 0))
            return dss_perr(p, "%s must be > 0", pn);
        *(id == RG_VREG      ? &r->vreg
          : id == RG_BAND    ? &r->band
          : id == RG_PTRATIO ? &r->ptratio
                             : &r->ctprim) = d;
        return 0;
    case RG_R:
        return dss_get_num(p, pn, val, &r->r);
    case RG_X:
        return dss_get_num(p, pn, val, &r->x);
    case RG_MAXTAPCHANGE:
        if ((rc = dss_get_int(p, pn, val, &r->maxtapchange)))
            return rc;
        return r->maxtapchange >= 0 ? 0 : dss_perr(p, "maxtapchange must be >= 0");
    case RG_BUS:
        return *val ? dss_not_modelled(p, "RegControl", "bus (a remote regulated bus)") : 0;
    case RG_REVERSIBLE:
    case RG_INVERSETIME:
    case RG_COGEN:
        if ((rc = dss_get_bool(p, pn, val, &b)))
            return rc;
        return b ? dss_not_modelled(p, "RegControl", pn) : 0;
    case RG_VLIMIT:
        if ((rc = dss_get_num(p, pn, val, &d)))
            return rc;
        return d > 0 ? dss_not_modelled(p, "RegControl", "vlimit") : 0;
    case RG_PTPHASE: {
        int ph = 0;
        if ((rc = dss_get_int(p, pn, val, &ph)))
            return rc;
        return ph == 1 ? 0 : dss_not_modelled(p, "RegControl", "ptphase other than 1");
    }
    case RG_DELAY:
        return dss_get_num(p, pn, val, &r->delay);
    case RG_TAPDELAY:
        return dss_get_num(p, pn, val, &r->tapdelay);
    case RG_REVVREG:
    case RG_REVBAND:
    case RG_REVR:
    case RG_REVX:
    case RG_DEBUGTRACE:
    case RG_REVTHRESHOLD:
    case RG_REVDELAY:
    case RG_REVNEUTRAL:
    case RG_EVENTLOG:
    case RG_REMOTEPTRATIO:
    case RG_BASEFREQ:
        return 0; /* time constants and reverse-mode settings: static control ignores them */
    case RG_ENABLED:
        return dss_check_enabled(p, "RegControl", pn, val);
    default:
        return dss_not_modelled(p, "RegControl", pn);
    }
}

/* OpenDSS defines LoadShape.default in every circuit (its Executive creates
 * it after each Clear): 24 hourly points. Made here when first named and
 * not defined by the file itself. */
static int default_shape(struct pctx *p, int *out)
{
    static const double mult[24] = {0.677, 0.6256, 0.6087, 0.5833, 0.58028, 0.6025, 0.657,  0.7477,
                                    0.832, 0.88,   0.94,   0.989,  0.985,   0.98,   0.9898, 0.999,
                                    1,     0.958,  0.936,  0.913,  0.876,   0.876,  0.828,  0.756};
    int k, rc = dss_object(p, CL_SHAPE, "default", 1, &k);
    if (rc)
        return rc;
    struct fdr_shape *sh = &p->c->shapes[k];
    sh->mult = malloc(sizeof mult);
    if (!sh->mult)
        return sim_errf(p->err, SIM_ENOMEM, "out of memory");
    memcpy(sh->mult, mult, sizeof mult);
    sh->npts = 24;
    sh->interval_h = 1.0;
    *out = k;
    return 0;
}

static int get_shape_ref(struct pctx *p, const char *val, int *out)
{
    if (!*val || !strcasecmp(val, "none")) {
        *out = -1;
        return 0;
    }
    int k = fdr_names_get(&p->c->shape_ix, val);
    if (k < 0 && !strcasecmp(val, "default"))
        return default_shape(p, out);
    if (k < 0)
        return dss_perr(p, "LoadShape '%s' is not defined", val);
    *out = k;
    return 0;
}

int dss_set_load(struct pctx *p, struct fdr_loaddef *l, int id, const char *pn, const char *val)
{
    int rc, n = 0;
    double d = 0;
    switch (id) {
    case LD_BUS1:
        return dss_copy_name(p, l->bus, sizeof l->bus, val, "bus");
    case LD_PHASES:
        if ((rc = dss_get_int(p, pn, val, &l->phases)))
            return rc;
        if (l->phases < 1 || l->phases > 3)
            return dss_perr(p, "phases=%d: loads of 1 to 3 phases supported", l->phases);
        return 0;
    case LD_KV:
        return dss_get_num(p, pn, val, &l->kv);
    case LD_KW:
        return dss_get_num(p, pn, val, &l->kw);
    case LD_PF:
        if ((rc = dss_get_num(p, pn, val, &l->pf)))
            return rc;
        if (l->pf == 0.0 || fabs(l->pf) > 1.0)
            return dss_perr(p, "pf=%g: must be in [-1, 1] and not 0", l->pf);
        l->q_from_pf = 1;
        return 0;
    case LD_KVAR:
        l->q_from_pf = 0;
        return dss_get_num(p, pn, val, &l->kvar);
    case LD_KVA:
        if ((rc = dss_get_num(p, pn, val, &d)))
            return rc;
        l->kw = d * fabs(l->pf);
        l->q_from_pf = 1;
        return 0;
    case LD_MODEL:
        if ((rc = dss_get_int(p, pn, val, &l->model)))
            return rc;
        if (l->model < 1 || l->model > 8)
            return dss_perr(p, "model=%d is not supported (1 to 8 are)", l->model);
        return 0;
    case LD_CVRW:
        return dss_get_num(p, pn, val, &l->cvrwatts);
    case LD_CVRV:
        return dss_get_num(p, pn, val, &l->cvrvars);
    case LD_YEARLY:
        return get_shape_ref(p, val, &l->yearly);
    case LD_DAILY:
        return get_shape_ref(p, val, &l->daily);
    case LD_DUTY:
        return 0; /* duty cycle mode is not a mode we run */
    case LD_CONN:
        return dss_get_conn(p, pn, val, &l->conn);
    case LD_RNEUT:
    case LD_XNEUT:
        if ((rc = dss_get_num(p, pn, val, &d)))
            return rc;
        return d > 0 ? dss_not_modelled(p, "Load", pn) : 0; /* < 0: none, 0: solid */
    case LD_STATUS:
        if (!strncasecmp(val, "fixed", 1)) {
            l->fixed = 1;
            return 0;
        }
        if (!strncasecmp(val, "variable", 1)) {
            l->fixed = 0;
            return 0;
        }
        return dss_not_modelled(p, "Load", "status=exempt");
    case LD_VMINPU:
        return dss_get_num(p, pn, val, &l->vminpu);
    case LD_VMAXPU:
        return dss_get_num(p, pn, val, &l->vmaxpu);
    case LD_ZIPV:
        if ((rc = dss_get_nums(p, pn, val, l->zipv, 7, &n)))
            return rc;
        if (n != 7)
            return dss_perr(p, "zipv needs 7 values, got %d", n);
        return 0;
    case LD_GROWTH:
    case LD_CLASS:
    case LD_VMINNORM:
    case LD_VMINEMERG:
    case LD_XFKVA:
    case LD_ALLOC:
    case LD_MEAN:
    case LD_STDDEV:
    case LD_KWH:
    case LD_KWHDAYS:
    case LD_CFACTOR:
    case LD_CVRCURVE:
    case LD_NUMCUST:
    case LD_SERIESRL:
    case LD_RELWEIGHT:
    case LD_VLOWPU:
    case LD_PUXHARM:
    case LD_XRHARM:
    case LD_SPECTRUM:
    case LD_BASEFREQ:
        return 0; /* allocation, reliability, harmonics, CVR (model 4 only) */
    case LD_ENABLED:
        if ((rc = dss_get_bool(p, pn, val, &l->disabled)))
            return rc;
        l->disabled = !l->disabled;
        return 0;
    default:
        return dss_not_modelled(p, "Load", pn);
    }
}

/* Read multipliers from a file, one value per line (first field). */
static int read_mult_file(struct pctx *p, const char *rel, int npts_spec, double **out, int *n)
{
    char path[PATH_MAX];
    int rc = dss_resolve_path(p, rel, path, sizeof path);
    if (rc)
        return rc;
    FILE *f = fopen(path, "r");
    if (!f)
        return dss_perr(p, "cannot open load shape file '%s': %s", path, strerror(errno));
    int cap = npts_spec > 0 ? npts_spec : 1024, k = 0;
    double *v = malloc((size_t)cap * sizeof *v);
    char *buf = NULL; /* lines of any length (a CSV row may be long) */
    size_t bufcap = 0;
    if (!v) {
        fclose(f);
        return sim_errf(p->err, SIM_ENOMEM, "out of memory");
    }
    int ln = 0;
    while (getline(&buf, &bufcap, f) != -1) {
        ln++;
        char *s = buf;
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s || *s == '\n' || *s == '\r')
            continue;
        if (npts_spec > 0 && k == npts_spec)
            break;
        char *end;
        double d = strtod(s, &end);
        if (end == s) {
            free(v);
            free(buf);
            fclose(f);
            return dss_perr(p, "%s:%d: not a number", path, ln);
        }
        if (k == cap) {
            cap *= 2;
            double *nv = realloc(v, (size_t)cap * sizeof *nv);
            if (!nv) {
                free(v);
                free(buf);
                fclose(f);
                return sim_errf(p->err, SIM_ENOMEM, "out of memory");
            }
            v = nv;
        }
        v[k++] = d;
    }
    free(buf);
    fclose(f);
    if (npts_spec > 0 && k < npts_spec) {
        free(v);
        return dss_perr(p, "load shape file '%s' has %d values, npts=%d", path, k, npts_spec);
    }
    *out = v;
    *n = k;
    return 0;
}

static int set_mult(struct pctx *p, struct fdr_shape *sh, const char *pn, const char *val,
                    double **dst, int is_file)
{
    double *v = NULL;
    int n = 0, rc;
    while (*val == ' ')
        val++;
    if (is_file || !strncasecmp(val, "file=", 5)) {
        rc = read_mult_file(p, is_file ? val : val + 5, sh->npts, &v, &n);
        if (rc)
            return rc;
    } else if (!strncasecmp(val, "sngfile=", 8) || !strncasecmp(val, "dblfile=", 8)) {
        return dss_not_modelled(p, "LoadShape", "binary mult files");
    } else {
        size_t len = strlen(val);
        char *buf = malloc(len + 1);
        char **items = malloc((len / 2 + 2) * sizeof *items);
        if (!buf || !items) {
            free(buf);
            free(items);
            return sim_errf(p->err, SIM_ENOMEM, "out of memory");
        }
        strcpy(buf, val);
        n = dss_split_list(buf, items, (int)(len / 2 + 2));
        v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
        rc = v ? 0 : SIM_ENOMEM;
        for (int i = 0; i < n && !rc; i++)
            rc = dss_get_num(p, pn, items[i], &v[i]);
        free(buf);
        free(items);
        if (rc) {
            free(v);
            return rc == SIM_ENOMEM ? sim_errf(p->err, rc, "out of memory") : rc;
        }
        if (sh->npts > 0 && n > sh->npts)
            n = sh->npts;
        if (sh->npts > 0 && n < sh->npts) {
            free(v);
            return dss_perr(p, "%s: %d values, npts=%d", pn, n, sh->npts);
        }
    }
    if (n == 0) {
        free(v);
        return dss_perr(p, "%s: no values", pn);
    }
    free(*dst);
    *dst = v;
    if (dst == &sh->mult)
        sh->npts = n;
    else if (n != sh->npts) {
        return dss_perr(p, "%s: %d values but mult has %d", pn, n, sh->npts);
    }
    return 0;
}

int dss_set_shape(struct pctx *p, struct fdr_shape *sh, int id, const char *pn, const char *val)
{
    int rc;
    double d = 0;
    switch (id) {
    case SH_NPTS: {
        int n = 0;
        if ((rc = dss_get_int(p, pn, val, &n)))
            return rc;
        if (n < 1)
            return dss_perr(p, "npts=%d", n);
        if (sh->mult && n != sh->npts)
            return dss_perr(p, "npts=%d after mult with %d values", n, sh->npts);
        sh->npts = n;
        return 0;
    }
    case SH_INTERVAL:
        if ((rc = dss_get_num(p, pn, val, &d)))
            return rc;
        if (d <= 0)
            return dss_not_modelled(p, "LoadShape", "interval=0 (hour= arrays)");
        sh->interval_h = d;
        return 0;
    case SH_MINTERVAL:
    case SH_SINTERVAL:
        if ((rc = dss_get_num(p, pn, val, &d)))
            return rc;
        if (d <= 0)
            return dss_perr(p, "%s must be > 0", pn);
        sh->interval_h = id == SH_MINTERVAL ? d / 60.0 : d / 3600.0;
        return 0;
    case SH_MULT:
    case SH_PMULT:
        return set_mult(p, sh, pn, val, &sh->mult, 0);
    case SH_CSVFILE:
        return set_mult(p, sh, pn, val, &sh->mult, 1);
    case SH_QMULT:
        return set_mult(p, sh, pn, val, &sh->qmult, 0);
    case SH_USEACTUAL:
        return dss_get_bool(p, pn, val, &sh->useactual);
    case SH_ACTION:
        if (!strncasecmp(val, "normalize", 1)) {
            double mx = 0;
            for (int i = 0; sh->mult && i < sh->npts; i++)
                mx = fmax(mx, fabs(sh->mult[i]));
            for (int i = 0; mx > 0 && i < sh->npts; i++)
                sh->mult[i] /= mx;
            return 0;
        }
        return dss_not_modelled(p, "LoadShape", "action");
    case SH_PMAX:
    case SH_QMAX:
    case SH_PBASE:
    case SH_QBASE:
    case SH_MEAN:
    case SH_STDDEV:
    case SH_MEMMAP:
        return 0;
    default:
        return dss_not_modelled(p, "LoadShape", pn);
    }
}

/* Per-winding array properties ("Buses=[a b]"). */
static int xfmr_array(struct pctx *p, struct fdr_xfmrdef *x, int id, const char *pn,
                      const char *val)
{
    char buf[1024];
    char *items[8];
    if (strlen(val) >= sizeof buf)
        return dss_perr(p, "%s: list too long", pn);
    strcpy(buf, val);
    int n = dss_split_list(buf, items, 8);
    if (n < 0 || n > x->nw)
        return dss_perr(p, "%s: more values than windings (%d)", pn, x->nw);
    for (int i = 0; i < n; i++) {
        struct fdr_wdg *w = &x->w[i];
        int rc = 0;
        switch (id) {
        case TR_BUSES:
            rc = dss_copy_name(p, w->bus, sizeof w->bus, items[i], "bus");
            break;
        case TR_CONNS:
            rc = dss_get_conn(p, pn, items[i], &w->conn);
            break;
        case TR_KVS:
            rc = dss_get_num(p, pn, items[i], &w->kv);
            break;
        case TR_KVAS:
            rc = dss_get_num(p, pn, items[i], &w->kva);
            break;
        case TR_TAPS:
            rc = dss_get_num(p, pn, items[i], &w->tap);
            break;
        default:
            rc = dss_get_num(p, pn, items[i], &w->r_pct);
            break; /* %Rs */
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* XscArray: the short-circuit reactances 1-2 (1-3, 2-3), %. */
static int xfmr_xsc(struct pctx *p, struct fdr_xfmrdef *x, const char *pn, const char *val)
{
    char buf[1024];
    char *items[8];
    if (strlen(val) >= sizeof buf)
        return dss_perr(p, "%s: list too long", pn);
    strcpy(buf, val);
    int n = dss_split_list(buf, items, 8);
    if (n < 0 || n > (x->nw == 3 ? 3 : 1))
        return dss_perr(p, "%s: more values than winding pairs", pn);
    double *dst[3] = {&x->xhl_pct, &x->xht_pct, &x->xlt_pct};
    for (int i = 0; i < n; i++) {
        int rc = dss_get_num(p, pn, items[i], dst[i]);
        if (rc)
            return rc;
    }
    return 0;
}

const char *const dss_capctrl_props[] = {
    "element",    "terminal", "capacitor",    "type",     "ptratio",   "ctratio",  "onsetting",
    "offsetting", "delay",    "voltoverride", "vmax",     "vmin",      "delayoff", "deadtime",
    "ctphase",    "ptphase",  "vbus",         "eventlog", "usermodel", "userdata", "pctminkvar",
    "reset",      "basefreq", "enabled",      "like",     NULL};
enum {
    CC_ELEMENT,
    CC_TERMINAL,
    CC_CAPACITOR,
    CC_TYPE,
    CC_PTRATIO,
    CC_CTRATIO,
    CC_ON,
    CC_OFF,
    CC_DELAY,
    CC_VOLTOVERRIDE,
    CC_VMAX,
    CC_VMIN,
    CC_DELAYOFF,
    CC_DEADTIME,
    CC_CTPHASE,
    CC_PTPHASE,
    CC_VBUS,
    CC_EVENTLOG,
    CC_USERMODEL,
    CC_USERDATA,
    CC_PCTMINKVAR,
    CC_RESET,
    CC_BASEFREQ,
    CC_ENABLED
};

/* ctphase / ptphase: a conductor number, or AVG, MAX, MIN */
static int get_phase_sel(struct pctx *p, const char *pn, const char *val, int *out)
{
    if (!strcasecmp(val, "avg"))
        *out = 0;
    else if (!strcasecmp(val, "max"))
        *out = -1;
    else if (!strcasecmp(val, "min"))
        *out = -2;
    else {
        int rc = dss_get_int(p, pn, val, out);
        if (rc)
            return rc;
        if (*out < 1 || *out > 3)
            return dss_perr(p, "%s=%d: 1 to 3, AVG, MAX or MIN", pn, *out);
    }
    return 0;
}

int dss_set_capctrl(struct pctx *p, struct fdr_capctrldef *d, int id, const char *pn,
                    const char *val)
{
    int b = 0;
    switch (id) {
    case CC_ELEMENT:
        return dss_copy_name(p, d->element, sizeof d->element, val, "element");
    case CC_CAPACITOR:
        return dss_copy_name(p, d->capacitor, sizeof d->capacitor, val, "capacitor");
    case CC_TERMINAL:
        return dss_get_int(p, pn, val, &d->terminal);
    case CC_TYPE:
        if (!strncasecmp(val, "current", 1))
            d->type = FDR_CC_CURRENT;
        else if (!strncasecmp(val, "voltage", 1))
            d->type = FDR_CC_VOLTAGE;
        else if (!strncasecmp(val, "kvar", 1))
            d->type = FDR_CC_KVAR;
        else
            return dss_perr(
                p, "CapControl type=%s is not supported (current, voltage and kvar are)", val);
        return 0;
    case CC_PTRATIO:
        return dss_get_num(p, pn, val, &d->ptratio);
    case CC_CTRATIO:
        return dss_get_num(p, pn, val, &d->ctratio);
    case CC_ON:
        return dss_get_num(p, pn, val, &d->on);
    case CC_OFF:
        return dss_get_num(p, pn, val, &d->off);
    case CC_DELAY:
        return dss_get_num(p, pn, val, &d->delay);
    case CC_DELAYOFF:
        return dss_get_num(p, pn, val, &d->delayoff);
    case CC_VOLTOVERRIDE: {
        int rc = dss_get_bool(p, pn, val, &b);
        d->voltoverride = b;
        return rc;
    }
    case CC_VMAX:
        return dss_get_num(p, pn, val, &d->vmax);
    case CC_VMIN:
        return dss_get_num(p, pn, val, &d->vmin);
    case CC_CTPHASE:
        return get_phase_sel(p, pn, val, &d->ctphase);
    case CC_PTPHASE:
        return get_phase_sel(p, pn, val, &d->ptphase);
    case CC_VBUS:
        return *val ? dss_not_modelled(p, "CapControl", "vbus (a remote voltage bus)") : 0;
    case CC_USERMODEL:
    case CC_USERDATA:
        return *val ? dss_not_modelled(p, "CapControl", pn) : 0;
    case CC_DEADTIME:
        return dss_get_num(p, pn, val, &d->deadtime);
    case CC_EVENTLOG:
    case CC_PCTMINKVAR:
    case CC_RESET:
    case CC_BASEFREQ:
        return 0; /* time-mode and logging settings: static control ignores them */
    case CC_ENABLED:
        return dss_check_enabled(p, "CapControl", pn, val);
    default:
        return dss_not_modelled(p, "CapControl", pn);
    }
}

const char *const dss_swt_props[] = {"switchedobj", "switchedterm", "action", "lock",
                                     "delay",       "normal",       "state",  "reset",
                                     "basefreq",    "enabled",      "like",   NULL};
enum {
    SW_OBJ,
    SW_TERM,
    SW_ACTION,
    SW_LOCK,
    SW_DELAY,
    SW_NORMAL,
    SW_STATE,
    SW_RESET,
    SW_BASEFREQ,
    SW_ENABLED
};

/* open / o / close / c as 1 / 0 */
static int get_open(struct pctx *p, const char *pn, const char *val, int *out)
{
    if (!strncasecmp(val, "o", 1))
        *out = 1;
    else if (!strncasecmp(val, "c", 1))
        *out = 0;
    else
        return dss_perr(p, "%s: '%s' (open or close)", pn, val);
    return 0;
}

int dss_set_swt(struct pctx *p, struct fdr_swtdef *d, int id, const char *pn, const char *val)
{
    switch (id) {
    case SW_OBJ:
        return dss_copy_name(p, d->obj, sizeof d->obj, val, "switchedobj");
    case SW_TERM:
        return dss_get_int(p, pn, val, &d->term);
    case SW_ACTION:
        return get_open(p, pn, val, &d->action);
    case SW_NORMAL:
        return get_open(p, pn, val, &d->normal);
    case SW_STATE:
        return get_open(p, pn, val, &d->state);
    case SW_LOCK:
    case SW_DELAY:
    case SW_RESET:
    case SW_BASEFREQ:
        return 0; /* time-mode behaviour: the switch keeps its state here */
    case SW_ENABLED:
        return dss_check_enabled(p, "SwtControl", pn, val);
    default:
        return dss_not_modelled(p, "SwtControl", pn);
    }
}

/* Generator, PVSystem and Storage: fixed injections, kept as elements of
 * loads with a negative demand (p_kw < 0 injects), named Class.NAME. Only
 * the properties that set the injection are read; the ones for dynamics,
 * harmonics, fuel and inverter controls are accepted and ignored;
 * anything that would change the steady-state injection and is not
 * modelled is an error. */
/* clang-format off */
const char *const dss_gen_props[] = {
    "phases", "bus1", "kv", "kw", "pf", "kvar", "model", "vminpu", "vmaxpu", "yearly", "daily",
    "duty", "dispmode", "dispvalue", "conn", "rneut", "xneut", "status", "class", "vpu",
    "maxkvar", "minkvar", "pvfactor", "forceon", "kva", "mva", "xd", "xdp", "xdpp", "h", "d",
    "usermodel", "userdata", "shaftmodel", "shaftdata", "dutystart", "debugtrace", "balanced",
    "xrdp", "usefuel", "fuelkwh", "%fuel", "%reserve", "refuel", "spectrum", "basefreq",
    "enabled", "like", NULL};
/* clang-format on */
/* clang-format off */
const char *const dss_pv_props[] = {
    "phases", "bus1", "kv", "irradiance", "pmpp", "%pmpp", "temperature", "pf", "conn", "kvar",
    "kva", "%cutin", "%cutout", "effcurve", "p-tcurve", "%r", "%x", "model", "vminpu", "vmaxpu",
    "balanced", "limitcurrent", "yearly", "daily", "duty", "tyearly", "tdaily", "tduty", "class",
    "usermodel", "userdata", "debugtrace", "varfollowinverter", "dutystart", "wattpriority",
    "pfpriority", "%pminnovars", "%pminkvarmax", "kvarmax", "kvarmaxabs", "kvdc", "kp", "pitol",
    "safevoltage", "safemode", "dynamiceq", "dynout", "controlmode", "amplimit", "amplimitgain",
    "spectrum", "basefreq", "enabled", "like", NULL};
/* clang-format on */
/* clang-format off */
const char *const dss_stor_props[] = {
    "phases", "bus1", "kv", "conn", "kw", "kvar", "pf", "kva", "%cutin", "%cutout", "effcurve",
    "varfollowinverter", "kvarmax", "kvarmaxabs", "wattpriority", "pfpriority", "%pminnovars",
    "%pminkvarmax", "kwrated", "%kwrated", "kwhrated", "kwhstored", "%stored", "%reserve",
    "state", "%discharge", "%charge", "%effcharge", "%effdischarge", "%idlingkw", "%idlingkvar",
    "%r", "%x", "model", "vminpu", "vmaxpu", "balanced", "limitcurrent", "yearly", "daily",
    "duty", "dispmode", "dischargetrigger", "chargetrigger", "timechargetrig", "class", "dynadll",
    "dynadata", "usermodel", "userdata", "debugtrace", "kvdc", "kp", "pitol", "safevoltage",
    "safemode", "dynamiceq", "dynout", "controlmode", "amplimit", "amplimitgain", "spectrum",
    "basefreq", "enabled", "like", NULL};
/* clang-format on */

/* The injection a Generator / PVSystem / Storage's properties set. */
void dss_gen_update(struct fdr_loaddef *l)
{
    double p = 0;
    switch (l->gen_kind) {
    case 1:
        p = l->g_kw;
        break;
    case 2:
        p = l->g_pmpp * l->g_pct / 100.0 * l->g_irr;
        if (l->g_kva > 0 && p > l->g_kva)
            p = l->g_kva;
        break;
    default: /* storage: idling 0, discharging +, charging - (as an output) */
        if (l->g_state > 0)
            p = l->g_kw_given ? fabs(l->g_kw) : l->g_kwrated * l->g_pctdis / 100.0;
        else if (l->g_state < 0)
            p = -(l->g_kw_given ? fabs(l->g_kw) : l->g_kwrated * l->g_pctch / 100.0);
        break;
    }
    l->kw = -p; /* as a load: negative = injection */
    if (!l->q_from_pf)
        l->kvar = -l->g_kvar;
}

int dss_set_gen(struct pctx *p, int cl, struct fdr_loaddef *l, int id, const char *pn,
                const char *val)
{
    const char *const *props = cl == CL_GEN  ? dss_gen_props
                               : cl == CL_PV ? dss_pv_props
                                             : dss_stor_props;
    const char *nm = props[id];
    const char *cls = cl == CL_GEN ? "Generator" : cl == CL_PV ? "PVSystem" : "Storage";
    int rc = 0, b = 0;
    if (!strcmp(nm, "phases")) {
        if ((rc = dss_get_int(p, pn, val, &l->phases)))
            return rc;
        return l->phases >= 1 && l->phases <= 3 ? 0 : dss_perr(p, "phases=%d: 1 to 3", l->phases);
    }
    if (!strcmp(nm, "bus1"))
        return dss_copy_name(p, l->bus, sizeof l->bus, val, "bus");
    if (!strcmp(nm, "kv")) {
        if ((rc = dss_get_num(p, pn, val, &l->kv)))
            return rc;
        return l->kv > 0 ? 0 : dss_perr(p, "kv must be > 0");
    }
    if (!strcmp(nm, "conn"))
        return dss_get_conn(p, pn, val, &l->conn);
    if (!strcmp(nm, "vminpu"))
        return dss_get_num(p, pn, val, &l->vminpu);
    if (!strcmp(nm, "vmaxpu"))
        return dss_get_num(p, pn, val, &l->vmaxpu);
    if (!strcmp(nm, "yearly"))
        return get_shape_ref(p, val, &l->yearly);
    if (!strcmp(nm, "daily"))
        return get_shape_ref(p, val, &l->daily);
    if (!strcmp(nm, "pf")) {
        if ((rc = dss_get_num(p, pn, val, &l->pf)))
            return rc;
        if (l->pf == 0 || fabs(l->pf) > 1)
            return dss_perr(p, "pf=%g: expected 0 < |pf| <= 1", l->pf);
        l->q_from_pf = 1;
        dss_gen_update(l);
        return 0;
    }
    if (!strcmp(nm, "kvar")) {
        if ((rc = dss_get_num(p, pn, val, &l->g_kvar)))
            return rc;
        l->q_from_pf = 0;
        dss_gen_update(l);
        return 0;
    }
    if (!strcmp(nm, "model")) {
        int m = 0;
        if ((rc = dss_get_int(p, pn, val, &m)))
            return rc;
        return m == 1 ? 0
                      : dss_perr(p, "%s model=%d: only model 1 (constant P and Q) is supported",
                                 cls, m);
    }
    if (!strcmp(nm, "enabled")) {
        if ((rc = dss_get_bool(p, pn, val, &b)))
            return rc;
        l->disabled = !b;
        return 0;
    }
    if (!strcmp(nm, "status")) {
        l->fixed = !strncasecmp(val, "fixed", 1);
        return 0;
    }
    if (!strcmp(nm, "usermodel") || !strcmp(nm, "effcurve") || !strcmp(nm, "p-tcurve") ||
        !strcmp(nm, "dynadll") || !strcmp(nm, "shaftmodel"))
        return *val ? dss_not_modelled(p, cls, pn) : 0;
    double *dst = NULL;
    if (cl == CL_GEN && !strcmp(nm, "kw"))
        dst = &l->g_kw;
    else if (cl == CL_PV && !strcmp(nm, "irradiance"))
        dst = &l->g_irr;
    else if (cl == CL_PV && !strcmp(nm, "pmpp"))
        dst = &l->g_pmpp;
    else if (cl == CL_PV && !strcmp(nm, "%pmpp"))
        dst = &l->g_pct;
    else if (cl != CL_GEN && !strcmp(nm, "kva"))
        dst = &l->g_kva;
    else if (cl == CL_STOR && !strcmp(nm, "kwrated"))
        dst = &l->g_kwrated;
    else if (cl == CL_STOR && !strcmp(nm, "%discharge"))
        dst = &l->g_pctdis;
    else if (cl == CL_STOR && !strcmp(nm, "%charge"))
        dst = &l->g_pctch;
    else if (cl == CL_STOR && !strcmp(nm, "kw")) {
        dst = &l->g_kw;
        l->g_kw_given = 1;
    }
    if (dst) {
        if ((rc = dss_get_num(p, pn, val, dst)))
            return rc;
        dss_gen_update(l);
        return 0;
    }
    if (cl == CL_STOR && !strcmp(nm, "state")) {
        if (!strncasecmp(val, "idl", 3))
            l->g_state = 0;
        else if (!strncasecmp(val, "dis", 3))
            l->g_state = 1;
        else if (!strncasecmp(val, "cha", 3))
            l->g_state = -1;
        else
            return dss_perr(p, "state=%s: idling, charging or discharging", val);
        dss_gen_update(l);
        return 0;
    }
    if (cl == CL_STOR && !strcmp(nm, "dispmode") && strncasecmp(val, "default", 3))
        return dss_perr(p,
                        "Storage dispmode=%s: only the fixed State dispatch is modelled (bind the "
                        "element to a flexbed battery for anything else)",
                        val);
    return 0; /* duty cycles, temperatures, ratings, dynamics, harmonics, fuel, inverter */
}

/* XfmrCode's properties, in OpenDSS's order (the same names as
 * Transformer's, which set_xfmr handles). */
const char *const dss_xfcode_props[] = {
    "phases", "windings", "wdg",       "conn",          "kv",       "kva",       "tap",
    "%r",     "rneut",    "xneut",     "conns",         "kvs",      "kvas",      "taps",
    "xhl",    "xht",      "xlt",       "xscarray",      "thermal",  "n",         "m",
    "flrise", "hsrise",   "%loadloss", "%noloadloss",   "normhkva", "emerghkva", "maxtap",
    "mintap", "numtaps",  "%imag",     "ppm_antifloat", "%rs",      "x12",       "x13",
    "x23",    "rdcohms",  "seasons",   "ratings",       "like",     NULL};

int dss_set_xfmr(struct pctx *p, struct fdr_xfmrdef *x, int id, const char *pn, const char *val)
{
    int rc, n = 0;
    double d = 0;
    struct fdr_wdg *w = &x->w[x->active];
    switch (id) {
    case TR_XFMRCODE: {
        /* the code's ratings and impedances; the buses stay */
        int k = fdr_names_get(&p->c->xfcode_ix, val);
        if (k < 0)
            return dss_perr(p, "XfmrCode '%s' is not defined", val);
        const struct fdr_xfmrdef *code = &p->c->xfcodes[k];
        char bus[3][FDR_BUSSPEC_MAX];
        for (int i = 0; i < 3; i++)
            memcpy(bus[i], x->w[i].bus, sizeof bus[i]);
        x->phases = code->phases;
        x->nw = code->nw;
        memcpy(x->w, code->w, sizeof x->w);
        for (int i = 0; i < 3; i++)
            memcpy(x->w[i].bus, bus[i], sizeof bus[i]);
        x->xhl_pct = code->xhl_pct;
        x->xht_pct = code->xht_pct;
        x->xlt_pct = code->xlt_pct;
        x->imag_pct = code->imag_pct;
        x->noloadloss_pct = code->noloadloss_pct;
        x->ppm = code->ppm;
        x->lead = code->lead;
        if (x->active >= x->nw)
            x->active = 0;
        return 0;
    }
    case TR_PHASES:
        return dss_get_int(p, pn, val, &x->phases);
    case TR_WINDINGS:
        if ((rc = dss_get_int(p, pn, val, &n)))
            return rc;
        if (n != 2 && n != 3)
            return dss_perr(p, "windings=%d: transformers of two or three windings are supported",
                            n);
        x->nw = n;
        if (x->active >= n)
            x->active = 0;
        return 0;
    case TR_WDG:
        if ((rc = dss_get_int(p, pn, val, &n)))
            return rc;
        if (n < 1 || n > x->nw)
            return dss_perr(p, "wdg=%d: transformer has %d windings", n, x->nw);
        x->active = n - 1;
        return 0;
    case TR_BUS:
        return dss_copy_name(p, w->bus, sizeof w->bus, val, "bus");
    case TR_CONN:
        return dss_get_conn(p, pn, val, &w->conn);
    case TR_KV:
        return dss_get_num(p, pn, val, &w->kv);
    case TR_KVA:
        return dss_get_num(p, pn, val, &w->kva);
    case TR_TAP:
        return dss_get_num(p, pn, val, &w->tap);
    case TR_R:
        return dss_get_num(p, pn, val, &w->r_pct);
    case TR_RNEUT:
        return dss_get_num(p, pn, val, &w->rneut); /* used for a star point on node 4 only */
    case TR_XNEUT:
        return dss_get_num(p, pn, val, &w->xneut);
    case TR_BUSES:
    case TR_CONNS:
    case TR_KVS:
    case TR_KVAS:
    case TR_TAPS:
    case TR_RS:
        return xfmr_array(p, x, id, pn, val);
    case TR_XHL:
    case TR_X12:
        return dss_get_num(p, pn, val, &x->xhl_pct);
    case TR_LOADLOSS:
        if ((rc = dss_get_num(p, pn, val, &d)))
            return rc;
        x->w[0].r_pct = x->w[1].r_pct = d / 2.0;
        return 0;
    case TR_NOLOADLOSS:
        return dss_get_num(p, pn, val, &x->noloadloss_pct);
    case TR_IMAG:
        return dss_get_num(p, pn, val, &x->imag_pct);
    case TR_PPM:
        return dss_get_num(p, pn, val, &x->ppm);
    case TR_XHT:
    case TR_X13:
        return dss_get_num(p, pn, val, &x->xht_pct);
    case TR_XLT:
    case TR_X23:
        return dss_get_num(p, pn, val, &x->xlt_pct);
    case TR_XSCARRAY:
        return xfmr_xsc(p, x, pn, val);
    case TR_LEADLAG:
        if (!strcasecmp(val, "lag") || !strcasecmp(val, "ansi"))
            x->lead = 0;
        else if (!strcasecmp(val, "lead") || !strcasecmp(val, "euro"))
            x->lead = 1;
        else
            return dss_perr(p, "leadlag: '%s' (lead, lag, ansi or euro)", val);
        return 0;
    case TR_THERMAL:
    case TR_N:
    case TR_M:
    case TR_FLRISE:
    case TR_HSRISE:
    case TR_NORMHKVA:
    case TR_EMERGHKVA:
    case TR_MAXTAP:
        return dss_get_num(p, pn, val, &w->maxtap);
    case TR_MINTAP:
        return dss_get_num(p, pn, val, &w->mintap);
    case TR_NUMTAPS:
        if ((rc = dss_get_int(p, pn, val, &w->numtaps)))
            return rc;
        return w->numtaps >= 1 ? 0 : dss_perr(p, "numtaps must be >= 1");
    case TR_SUB:
    case TR_SUBNAME:
    case TR_BANK:
    case TR_XRCONST:
    case TR_WDGCURRENTS:
    case TR_SEASONS:
    case TR_RATINGS:
    case TR_NORMAMPS:
    case TR_EMERGAMPS:
    case TR_FAULTRATE:
    case TR_PCTPERM:
    case TR_REPAIR:
    case TR_BASEFREQ:
        return 0; /* thermal data, bank and substation names, ratings */
    case TR_ENABLED:
        return dss_check_enabled(p, "Transformer", pn, val);
    default:
        return dss_not_modelled(p, "Transformer", pn);
    }
}

/* Reactor: only a neutral earthing impedance (topology.c checks the buses). */
int dss_set_reactor(struct pctx *p, struct fdr_reactordef *r, int id, const char *pn,
                    const char *val)
{
    int rc;
    switch (id) {
    case RX_BUS1:
        return dss_copy_name(p, r->bus[0], sizeof r->bus[0], val, "bus");
    case RX_BUS2:
        return dss_copy_name(p, r->bus[1], sizeof r->bus[1], val, "bus");
    case RX_R:
        return dss_get_num(p, pn, val, &r->r);
    case RX_X:
        return dss_get_num(p, pn, val, &r->x);
    case RX_PHASES:
        if ((rc = dss_get_int(p, pn, val, &r->phases)))
            return rc;
        return r->phases >= 1 && r->phases <= 3
                   ? 0
                   : dss_perr(p, "Reactor phases=%d: one to three phases are supported", r->phases);
    case RX_NORMAMPS:
    case RX_EMERGAMPS:
    case RX_FAULTRATE:
    case RX_PCTPERM:
    case RX_REPAIR:
    case RX_BASEFREQ:
        return 0; /* ratings, reliability */
    case RX_ENABLED:
        return dss_check_enabled(p, "Reactor", pn, val);
    default:
        return dss_not_modelled(p, "Reactor", pn);
    }
}
