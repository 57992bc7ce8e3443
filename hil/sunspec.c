/*
 * sunspec.c: SunSpec values, the setpoint convention, the emulator's
 * battery map and model discovery (see sunspec.h). No sockets here: the
 * client and the emulator bring the transport, so this file is tested on
 * plain arrays.
 */
#include "sunspec.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Values and scale factors                                           */
/* ------------------------------------------------------------------ */

int suns_sf_ok(uint16_t sf_raw)
{
    int sf = (int16_t)sf_raw;
    return sf_raw != SUNS_NI_SF && sf >= -10 && sf <= 10;
}

double suns_get_i16(uint16_t raw, uint16_t sf_raw)
{
    if (raw == SUNS_NI_I16 || !suns_sf_ok(sf_raw))
        return NAN;
    return (double)(int16_t)raw * pow(10.0, (int16_t)sf_raw);
}

double suns_get_u16(uint16_t raw, uint16_t sf_raw)
{
    if (raw == SUNS_NI_U16 || !suns_sf_ok(sf_raw))
        return NAN;
    return (double)raw * pow(10.0, (int16_t)sf_raw);
}

/* Round v / 10^sf to an integer in [lo, hi]; -1 when it does not fit. */
static int put_int(double v, int sf, long lo, long hi, long *out)
{
    if (!isfinite(v)) {
        *out = 0;
        return -1;
    }
    double x = nearbyint(v / pow(10.0, sf));
    if (x < (double)lo) {
        *out = lo;
        return -1;
    }
    if (x > (double)hi) {
        *out = hi;
        return -1;
    }
    *out = (long)x;
    return 0;
}

int suns_put_i16(double v, int sf, uint16_t *out)
{
    long x;
    int rc = put_int(v, sf, -32767, 32767, &x);
    *out = (uint16_t)(int16_t)x;
    return rc;
}

int suns_put_u16(double v, int sf, uint16_t *out)
{
    long x;
    int rc = put_int(v, sf, 0, 65534, &x);
    *out = (uint16_t)x;
    return rc;
}

int suns_pick_sf(double max_abs, int is_signed, int min_sf)
{
    double limit = is_signed ? 32767 : 65534;
    int sf = min_sf;
    while (sf < 10 && fabs(max_abs) / pow(10.0, sf) > limit)
        sf++;
    return sf;
}

void suns_put_string(uint16_t *regs, int nregs, const char *s)
{
    size_t len = s ? strlen(s) : 0;
    for (int i = 0; i < nregs; i++) {
        size_t a = 2 * (size_t)i, b = a + 1;
        unsigned hi = a < len ? (unsigned char)s[a] : 0, lo = b < len ? (unsigned char)s[b] : 0;
        regs[i] = (uint16_t)(hi << 8 | lo);
    }
}

void suns_get_string(const uint16_t *regs, int nregs, char *out, size_t n)
{
    size_t k = 0;
    for (int i = 0; i < nregs && k + 1 < n; i++) {
        char c[2] = {(char)(regs[i] >> 8), (char)(regs[i] & 0xFF)};
        for (int j = 0; j < 2 && k + 1 < n; j++) {
            if (!c[j])
                goto done;
            /* Keep messages printable whatever the device holds. */
            out[k++] = (c[j] >= 0x20 && c[j] < 0x7f) ? c[j] : '?';
        }
    }
done:
    if (n)
        out[k] = '\0';
}

void suns_put_u32(uint16_t *regs, uint32_t v)
{
    regs[0] = (uint16_t)(v >> 16);
    regs[1] = (uint16_t)(v & 0xFFFF);
}

uint32_t suns_get_u32(const uint16_t *regs)
{
    return (uint32_t)regs[0] << 16 | regs[1];
}

/* ------------------------------------------------------------------ */
/* The setpoint convention                                             */
/* ------------------------------------------------------------------ */

void suns_rates_for_power(double p_w, double wbase_w, double *in_pct, double *out_pct)
{
    if (!(wbase_w > 0)) {
        *in_pct = *out_pct = 0.0;
        return;
    }
    /* clamped after the division: 100 x p / wbase with p = wbase can round
     * to 100.00000000000001 (found by fuzz_sunspec: 3000 W on a 2995.6 W
     * base), which a device may refuse as over 100 % */
    double r = 100.0 * p_w / wbase_w;
    if (r > 100.0)
        r = 100.0;
    if (r < -100.0)
        r = -100.0;
    *in_pct = r;
    *out_pct = -r;
}

double suns_power_for_rates(unsigned mod, double in_pct, double out_pct, double wbase_w)
{
    double hi = (mod & SUNS_STORCTL_CHARGE) ? in_pct / 100.0 * wbase_w : HUGE_VAL;
    double lo = (mod & SUNS_STORCTL_DISCHARGE) ? -out_pct / 100.0 * wbase_w : -HUGE_VAL;
    /* Nearest point to zero of [lo, hi]; the lower bound wins when empty. */
    if (lo > 0)
        return lo;
    if (hi < 0)
        return lo > hi ? lo : hi;
    return 0.0;
}

/* ------------------------------------------------------------------ */
/* The battery map                                                     */
/* ------------------------------------------------------------------ */

int suns_layout_battery(int base, struct suns_layout *l)
{
    if (base != 0 && base != 40000 && base != 50000)
        return -1;
    l->base = base;
    l->m1 = base + 2;
    l->m103 = l->m1 + 2 + SUNS_M1_LEN;
    l->m124 = l->m103 + 2 + SUNS_M103_LEN;
    l->m802 = l->m124 + 2 + SUNS_M124_LEN;
    l->end = l->m802 + 2 + SUNS_M802_LEN;
    l->nregs = l->end - base + 2;
    return 0;
}

/* Register `off` of the model whose id register is at absolute `model`. */
#define REG(model, off) regs[(model)-l->base + (off)]

/* Per-device scale factors, derived from the nameplate the same way on
 * every call so that fill and update agree. */
struct sfs {
    int w, a, dca, wmax, wh, ah, amax, aval;
};

static void pick_sfs(const struct suns_nameplate *np, struct sfs *s)
{
    double pmax = fmax(np->wcha_max_w, np->wdis_max_w);
    double v = np->v_nom > 0 ? np->v_nom : 400;
    s->w = suns_pick_sf(2 * pmax, 1, 0); /* headroom for a device that overshoots */
    s->a = suns_pick_sf(2 * pmax / v, 1, -2);
    s->dca = suns_pick_sf(2 * pmax / v, 0, -2);
    s->wmax = suns_pick_sf(pmax, 0, 0);
    s->wh = suns_pick_sf(np->capacity_wh, 0, 0);
    s->ah = suns_pick_sf(np->capacity_wh / v, 0, -2);
    s->amax = suns_pick_sf(pmax / v, 0, -2);
    s->aval = s->ah;
}

static uint16_t sfreg(int sf)
{
    return (uint16_t)(int16_t)sf;
}

static uint16_t u16(double v, int sf)
{
    uint16_t r;
    suns_put_u16(v, sf, &r);
    return r;
}

static uint16_t i16(double v, int sf)
{
    uint16_t r;
    suns_put_i16(v, sf, &r);
    return r;
}

void suns_fill_battery(uint16_t *regs, const struct suns_layout *l, const struct suns_identity *id,
                       const struct suns_nameplate *np)
{
    struct sfs s;
    pick_sfs(np, &s);
    double v = np->v_nom > 0 ? np->v_nom : 400;
    memset(regs, 0, sizeof *regs * (size_t)l->nregs);
    regs[0] = SUNS_MARKER_0;
    regs[1] = SUNS_MARKER_1;

    /* Model 1 */
    REG(l->m1, 0) = 1;
    REG(l->m1, 1) = SUNS_M1_LEN;
    suns_put_string(&REG(l->m1, SUNS_M1_MN), 16, id->manufacturer);
    suns_put_string(&REG(l->m1, SUNS_M1_MD), 16, id->model);
    suns_put_string(&REG(l->m1, SUNS_M1_OPT), 8, id->options);
    suns_put_string(&REG(l->m1, SUNS_M1_VR), 8, id->version);
    suns_put_string(&REG(l->m1, SUNS_M1_SN), 16, id->serial);
    REG(l->m1, SUNS_M1_DA) = id->device_address;
    REG(l->m1, SUNS_M1_DA + 1) = 0x8000; /* pad */

    /* Model 103 */
    REG(l->m103, 0) = 103;
    REG(l->m103, 1) = SUNS_M103_LEN;
    REG(l->m103, SUNS_M103_A_SF) = sfreg(s.dca);
    for (int i = 0; i < 3; i++) {
        REG(l->m103, 7 + i) = u16(400.0, -1);                /* PPVphAB.. */
        REG(l->m103, SUNS_M103_PHVPHA + i) = u16(230.0, -1); /* PhVphA.. */
    }
    REG(l->m103, SUNS_M103_V_SF) = sfreg(-1);
    REG(l->m103, SUNS_M103_W_SF) = sfreg(s.w);
    REG(l->m103, SUNS_M103_HZ) = u16(50.0, -2);
    REG(l->m103, SUNS_M103_HZ_SF) = sfreg(-2);
    REG(l->m103, SUNS_M103_VA_SF) = sfreg(s.w);
    REG(l->m103, SUNS_M103_VAR_SF) = sfreg(s.w);
    REG(l->m103, SUNS_M103_PF) = i16(100.0, 0);
    REG(l->m103, SUNS_M103_PF_SF) = sfreg(0);
    REG(l->m103, SUNS_M103_WH_SF) = sfreg(0);
    REG(l->m103, SUNS_M103_DCA_SF) = sfreg(s.dca);
    REG(l->m103, SUNS_M103_DCV) = u16(v, -1);
    REG(l->m103, SUNS_M103_DCV_SF) = sfreg(-1);
    REG(l->m103, SUNS_M103_DCW_SF) = sfreg(s.w);
    REG(l->m103, SUNS_M103_TMPCAB) = i16(25.0, -1);
    for (int i = 1; i <= 3; i++)
        REG(l->m103, SUNS_M103_TMPCAB + i) = SUNS_NI_I16;
    REG(l->m103, SUNS_M103_TMP_SF) = sfreg(-1);
    REG(l->m103, SUNS_M103_ST + 1) = SUNS_NI_U16; /* StVnd */

    /* Model 124 */
    REG(l->m124, 0) = 124;
    REG(l->m124, 1) = SUNS_M124_LEN;
    REG(l->m124, SUNS_M124_WCHAMAX) = u16(fmax(np->wcha_max_w, np->wdis_max_w), s.wmax);
    if (np->ramp_w_per_s > 0 && np->wcha_max_w > 0) {
        /* % WChaMax per s */
        double g = 100.0 * np->ramp_w_per_s / fmax(np->wcha_max_w, np->wdis_max_w);
        int sf = suns_pick_sf(g, 0, -2);
        REG(l->m124, SUNS_M124_WCHAGRA) = u16(g, sf);
        REG(l->m124, SUNS_M124_WDISCHAGRA) = u16(g, sf);
        REG(l->m124, SUNS_M124_WCHADISCHAGRA_SF) = sfreg(sf);
    } else { /* no gradient limit */
        REG(l->m124, SUNS_M124_WCHAGRA) = SUNS_NI_U16;
        REG(l->m124, SUNS_M124_WDISCHAGRA) = SUNS_NI_U16;
        REG(l->m124, SUNS_M124_WCHADISCHAGRA_SF) = sfreg(0);
    }
    REG(l->m124, SUNS_M124_STORCTL_MOD) = 0;
    REG(l->m124, SUNS_M124_VACHAMAX) = SUNS_NI_U16;
    REG(l->m124, SUNS_M124_MINRSVPCT) = u16(100.0 * np->soc_min, -2);
    REG(l->m124, SUNS_M124_INBATV) = u16(v, -1);
    REG(l->m124, SUNS_M124_OUTWRTE) = i16(100.0, -2);
    REG(l->m124, SUNS_M124_INWRTE) = i16(100.0, -2);
    REG(l->m124, SUNS_M124_CHAGRISET) = 1; /* GRID: charging from the grid allowed */
    REG(l->m124, SUNS_M124_WCHAMAX_SF) = sfreg(s.wmax);
    REG(l->m124, SUNS_M124_VACHAMAX_SF) = SUNS_NI_SF;
    REG(l->m124, SUNS_M124_MINRSVPCT_SF) = sfreg(-2);
    REG(l->m124, SUNS_M124_CHASTATE_SF) = sfreg(-2);
    REG(l->m124, SUNS_M124_STORAVAL_SF) = sfreg(s.aval);
    REG(l->m124, SUNS_M124_INBATV_SF) = sfreg(-1);
    REG(l->m124, SUNS_M124_INOUTWRTE_SF) = sfreg(-2);

    /* Model 802 */
    REG(l->m802, 0) = 802;
    REG(l->m802, 1) = SUNS_M802_LEN;
    REG(l->m802, SUNS_M802_AHRTG) = u16(np->capacity_wh / v, s.ah);
    REG(l->m802, SUNS_M802_WHRTG) = u16(np->capacity_wh, s.wh);
    REG(l->m802, SUNS_M802_WCHARTEMAX) = u16(np->wcha_max_w, s.wmax);
    REG(l->m802, SUNS_M802_WDISCHARTEMAX) = u16(np->wdis_max_w, s.wmax);
    REG(l->m802, SUNS_M802_DISCHARTE) = SUNS_NI_U16;
    REG(l->m802, SUNS_M802_SOCMAX) = u16(100.0 * np->soc_max, -2);
    REG(l->m802, SUNS_M802_SOCMIN) = u16(100.0 * np->soc_min, -2);
    REG(l->m802, SUNS_M802_SOCRSVMAX) = u16(100.0 * np->soc_max, -2);
    REG(l->m802, SUNS_M802_SOCRSVMIN) = u16(100.0 * np->soc_min, -2);
    REG(l->m802, SUNS_M802_SOH) = u16(100.0, 0);
    REG(l->m802, SUNS_M802_LOCREMCTL) = 0; /* REMOTE */
    REG(l->m802, SUNS_M802_TYP) = 4;       /* LITHIUM_ION */
    REG(l->m802, SUNS_M802_STATE) = SUNS_802_STATE_CONNECTED;
    REG(l->m802, SUNS_M802_STATEVND) = SUNS_NI_U16;
    suns_put_u32(&REG(l->m802, SUNS_M802_WARRDT), SUNS_NI_U32);
    REG(l->m802, SUNS_M802_V) = u16(v, -1);
    REG(l->m802, SUNS_M802_VMAX) = u16(1.1 * v, -1);
    REG(l->m802, SUNS_M802_VMIN) = u16(0.9 * v, -1);
    for (int off = SUNS_M802_CELLVMAX; off <= SUNS_M802_CELLVAVG; off++)
        REG(l->m802, off) = SUNS_NI_U16; /* no cell data */
    REG(l->m802, SUNS_M802_ACHAMAX) = u16(np->wcha_max_w / v, s.amax);
    REG(l->m802, SUNS_M802_ADISCHAMAX) = u16(np->wdis_max_w / v, s.amax);
    REG(l->m802, SUNS_M802_REQW) = SUNS_NI_I16;
    REG(l->m802, SUNS_M802_SETOP) = 1;       /* CONNECT */
    REG(l->m802, SUNS_M802_SETINVSTATE) = 3; /* INVERTER_STARTED */
    REG(l->m802, SUNS_M802_AHRTG_SF) = sfreg(s.ah);
    REG(l->m802, SUNS_M802_WHRTG_SF) = sfreg(s.wh);
    REG(l->m802, SUNS_M802_WCHADISCHAMAX_SF) = sfreg(s.wmax);
    REG(l->m802, SUNS_M802_DISCHARTE_SF) = SUNS_NI_SF;
    REG(l->m802, SUNS_M802_SOC_SF) = sfreg(-2);
    REG(l->m802, SUNS_M802_DOD_SF) = sfreg(-2);
    REG(l->m802, SUNS_M802_SOH_SF) = sfreg(0);
    REG(l->m802, SUNS_M802_V_SF) = sfreg(-1);
    REG(l->m802, SUNS_M802_CELLV_SF) = sfreg(-3);
    REG(l->m802, SUNS_M802_A_SF) = sfreg(s.a);
    REG(l->m802, SUNS_M802_AMAX_SF) = sfreg(s.amax);
    REG(l->m802, SUNS_M802_W_SF) = sfreg(s.w);

    REG(l->end, 0) = SUNS_END_ID;
    REG(l->end, 1) = 0;
}

static int chast(const struct suns_battery_values *b)
{
    if (!b->online)
        return SUNS_CHAST_OFF;
    if (b->p_ac_w > 0.5)
        return SUNS_CHAST_CHARGING;
    if (b->p_ac_w < -0.5)
        return SUNS_CHAST_DISCHARGING;
    if (b->at_floor)
        return SUNS_CHAST_EMPTY;
    if (b->at_ceiling)
        return SUNS_CHAST_FULL;
    return SUNS_CHAST_HOLDING;
}

void suns_update_battery(uint16_t *regs, const struct suns_layout *l,
                         const struct suns_nameplate *np, const struct suns_battery_values *b)
{
    struct sfs s;
    pick_sfs(np, &s);
    double v = np->v_nom > 0 ? np->v_nom : 400;
    double soc_pct = 100.0 * b->soc;
    int cs = chast(b);

    /* 103: generator convention, positive = delivered to the grid. */
    double iph = fabs(b->p_ac_w) / (3 * 230.0);
    REG(l->m103, SUNS_M103_A) = u16(3 * iph, s.dca);
    for (int i = 0; i < 3; i++)
        REG(l->m103, SUNS_M103_APHA + i) = u16(iph, s.dca);
    REG(l->m103, SUNS_M103_W) = i16(-b->p_ac_w, s.w);
    REG(l->m103, SUNS_M103_VA) = i16(fabs(b->p_ac_w), s.w);
    REG(l->m103, SUNS_M103_VAR) = i16(0, s.w);
    double wh = fmod(fmax(b->e_out_wh, 0), 4294967296.0); /* acc32 rolls over */
    suns_put_u32(&REG(l->m103, SUNS_M103_WH), (uint32_t)wh);
    REG(l->m103, SUNS_M103_DCA) = u16(fabs(b->p_dc_w) / v, s.dca);
    REG(l->m103, SUNS_M103_DCW) = i16(-b->p_dc_w, s.w);
    REG(l->m103, SUNS_M103_ST) = !b->online ? 1 : fabs(b->p_ac_w) < 0.5 ? 8 : 4;

    /* 124 */
    REG(l->m124, SUNS_M124_CHASTATE) = u16(soc_pct, -2);
    REG(l->m124, SUNS_M124_STORAVAL) =
        u16(fmax(0, b->soc - b->soc_rsv_min) * np->capacity_wh / v, s.aval);
    REG(l->m124, SUNS_M124_CHAST) = (uint16_t)cs;

    /* 802: DC side, positive = discharging. */
    REG(l->m802, SUNS_M802_SOC) = u16(soc_pct, -2);
    REG(l->m802, SUNS_M802_DOD) = u16(100.0 - soc_pct, -2);
    double cycles = np->capacity_wh > 0 ? b->e_out_wh / np->capacity_wh : 0;
    suns_put_u32(&REG(l->m802, SUNS_M802_NCYC), (uint32_t)fmin(cycles, 4294967294.0));
    REG(l->m802, SUNS_M802_CHAST) = (uint16_t)cs;
    REG(l->m802, SUNS_M802_HB) = b->heartbeat;
    REG(l->m802, SUNS_M802_STATE) =
        b->online ? SUNS_802_STATE_CONNECTED : SUNS_802_STATE_DISCONNECTED;
    uint32_t evt = (b->at_floor ? SUNS_802_EVT1_UNDER_SOC_MIN_WARNING : 0) |
                   (b->at_ceiling ? SUNS_802_EVT1_OVER_SOC_MAX_WARNING : 0);
    suns_put_u32(&REG(l->m802, SUNS_M802_EVT1), evt);
    REG(l->m802, SUNS_M802_A) = i16(-b->p_dc_w / v, s.a);
    REG(l->m802, SUNS_M802_W) = i16(-b->p_dc_w, s.w);
}

#undef REG

/* ------------------------------------------------------------------ */
/* Discovery                                                           */
/* ------------------------------------------------------------------ */

const struct suns_model_ref *suns_find(const struct suns_device *dev, uint16_t id)
{
    for (int i = 0; i < dev->n; i++)
        if (dev->model[i].id == id)
            return &dev->model[i];
    return NULL;
}

static int walk(suns_read_fn read, void *ctx, int base, struct suns_device *dev, char *why,
                size_t n)
{
    uint16_t r[2];
    int addr = base + 2;
    dev->base = base;
    dev->n = 0;
    for (;;) {
        if (addr + 2 > 65536) {
            snprintf(why, n, "the model chain from %d runs past register 65535", base);
            return SUNS_EBADCHAIN;
        }
        int rc = read(ctx, addr, 2, r);
        if (rc < 0)
            return rc;
        /* A device that answers the end of its chain with an exception
         * instead of an end block is common enough to accept. */
        if (rc > 0 || r[0] == SUNS_END_ID)
            break;
        if (dev->n == SUNS_MAX_MODELS) {
            snprintf(why, n, "more than %d models after the SunS marker at %d", SUNS_MAX_MODELS,
                     base);
            return SUNS_EBADCHAIN;
        }
        dev->model[dev->n].id = r[0];
        dev->model[dev->n].len = r[1];
        dev->model[dev->n].addr = addr;
        dev->n++;
        addr += 2 + r[1];
    }
    if (dev->n == 0 || dev->model[0].id != 1) {
        snprintf(why, n, "the first model after the SunS marker at %d is %s, not common model 1",
                 base, dev->n ? "another model" : "missing");
        return SUNS_ENOTCOMMON;
    }
    return 0;
}

int suns_discover(suns_read_fn read, void *ctx, int base, struct suns_device *dev, char *why,
                  size_t n)
{
    static const int defaults[] = {40000, 0, 50000};
    char dummy[1];
    if (!why || !n) {
        why = dummy;
        n = sizeof dummy;
    }
    why[0] = '\0';
    int nb = base >= 0 ? 1 : 3;
    for (int i = 0; i < nb; i++) {
        int b = base >= 0 ? base : defaults[i];
        uint16_t r[2] = {0, 0};
        int rc = read(ctx, b, 2, r);
        if (rc < 0)
            return rc;
        if (rc == 0 && r[0] == SUNS_MARKER_0 && r[1] == SUNS_MARKER_1)
            return walk(read, ctx, b, dev, why, n);
    }
    if (base >= 0)
        snprintf(why, n, "no SunS marker at register %d", base);
    else
        snprintf(why, n, "no SunS marker at register 40000, 0 or 50000");
    return SUNS_ENOMARK;
}

/* ------------------------------------------------------------------ */
/* The client's view of a battery inverter                             */
/* ------------------------------------------------------------------ */

const char *suns_battery_choose(const struct suns_device *dev, struct suns_battery_map *m)
{
    const struct suns_model_ref *m1 = suns_find(dev, 1), *m124 = suns_find(dev, 124),
                                *m802 = suns_find(dev, 802), *ac = NULL;
    static const uint16_t ac_ids[] = {103, 102, 101, 701};
    for (size_t i = 0; i < sizeof ac_ids / sizeof ac_ids[0] && !ac; i++)
        ac = suns_find(dev, ac_ids[i]);
    memset(m, 0, sizeof *m);
    if (!m1)
        return "no common model 1";
    if (!m124 || m124->len < SUNS_M124_LEN)
        return "no storage control model 124";
    if (m802 && m802->len < SUNS_M802_LEN)
        return "model 802 is shorter than 62 registers";
    if (ac && ac->id != 701 && ac->len < SUNS_M103_LEN)
        return "the inverter model is shorter than 50 registers";
    if (ac && ac->id == 701 && ac->len < SUNS_M701_W_SF - 1)
        return "model 701 is too short";
    if (!ac && !m802)
        return "no model with the power (101-103, 701 or 802)";
    m->a1 = m1->addr;
    m->a124 = m124->addr;
    m->a802 = m802 ? m802->addr : -1;
    m->a_ac = ac ? ac->addr : -1;
    m->ac_id = ac ? ac->id : 0;
    m->ac_len = ac ? (ac->id == 701 ? SUNS_M701_W_SF + 1 : 2 + SUNS_M103_LEN) : 0;
    return NULL;
}

int suns_battery_decode(const struct suns_battery_map *m, const uint16_t *r124,
                        const uint16_t *r802, const uint16_t *rac,
                        struct suns_battery_reading *out, char *why, size_t n)
{
    double wbase = suns_get_u16(r124[SUNS_M124_WCHAMAX], r124[SUNS_M124_WCHAMAX_SF]);
    if (!(wbase > 0)) {
        snprintf(why, n, "model 124 WChaMax = %g W (raw %u, SF %d)", wbase,
                 r124[SUNS_M124_WCHAMAX], (int16_t)r124[SUNS_M124_WCHAMAX_SF]);
        return -1;
    }
    double wcha = wbase, wdis = wbase, cap = NAN, floor_pct, soc_pct, w;
    int online;
    if (m->a802 >= 0) {
        wcha = suns_get_u16(r802[SUNS_M802_WCHARTEMAX], r802[SUNS_M802_WCHADISCHAMAX_SF]);
        wdis = suns_get_u16(r802[SUNS_M802_WDISCHARTEMAX], r802[SUNS_M802_WCHADISCHAMAX_SF]);
        if (!(wcha > 0 && wdis > 0)) {
            snprintf(why, n, "model 802 WChaRteMax = %g W, WDisChaRteMax = %g W", wcha, wdis);
            return -1;
        }
        cap = suns_get_u16(r802[SUNS_M802_WHRTG], r802[SUNS_M802_WHRTG_SF]);
        soc_pct = suns_get_u16(r802[SUNS_M802_SOC], r802[SUNS_M802_SOC_SF]);
        floor_pct = suns_get_u16(r802[SUNS_M802_SOCRSVMIN], r802[SUNS_M802_SOC_SF]);
        online = r802[SUNS_M802_STATE] != SUNS_802_STATE_DISCONNECTED;
    } else {
        soc_pct = suns_get_u16(r124[SUNS_M124_CHASTATE], r124[SUNS_M124_CHASTATE_SF]);
        floor_pct = suns_get_u16(r124[SUNS_M124_MINRSVPCT], r124[SUNS_M124_MINRSVPCT_SF]);
        online = r124[SUNS_M124_CHAST] != SUNS_CHAST_OFF;
    }
    if (!(soc_pct >= 0 && soc_pct <= 100)) {
        snprintf(why, n, "SoC %g %% is out of [0, 100] %%", soc_pct);
        return -1;
    }
    if (isfinite(floor_pct) && !(floor_pct >= 0 && floor_pct <= 100)) {
        snprintf(why, n, "reserve %g %% is out of [0, 100] %%", floor_pct);
        return -1;
    }
    if (m->a_ac >= 0 && m->ac_id == 701)
        w = suns_get_i16(rac[SUNS_M701_W], rac[SUNS_M701_W_SF]);
    else if (m->a_ac >= 0)
        w = suns_get_i16(rac[SUNS_M103_W], rac[SUNS_M103_W_SF]);
    else
        w = suns_get_i16(r802[SUNS_M802_W], r802[SUNS_M802_W_SF]);
    double pmax = fmax(wbase, fmax(wcha, wdis));
    if (!(fabs(w) <= 1.5 * pmax + 100)) {
        snprintf(why, n, "power %g W is out of +-%g W (1.5 x the rated power)", w, 1.5 * pmax);
        return -1;
    }
    out->wbase_w = wbase;
    out->wcha_w = wcha;
    out->wdis_w = wdis;
    out->cap_wh = cap;
    out->soc = soc_pct / 100;
    out->floor = isfinite(floor_pct) ? floor_pct / 100 : 0;
    out->p_ac_w = w;
    out->online = online;
    return 0;
}
