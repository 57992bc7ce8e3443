/*
 * sunspec.h: the SunSpec register map flexbed's Modbus battery speaks, on
 * both sides (the client in modbus_battery.c, the emulator in
 * emulator_battery.c), without any socket code.
 *
 * A SunSpec device holds, in Modbus holding registers from a base address
 * (40000, else 0 or 50000), the marker "SunS" (0x5375 0x6e53), then a chain
 * of models, each an id register, a length register L (registers after the
 * length) and L registers of points, closed by id 0xFFFF. The point offsets
 * below count from a model's id register and follow the SunSpec JSON model
 * definitions (sunspec/models, Apache-2.0; tests/hil checks them against the
 * copies in tests/data/hil/sunspec).
 *
 * flexbed's battery inverter exposes:
 *   model 1   common (manufacturer, model, serial)
 *   model 103 three-phase inverter: AC power W (positive = delivered to the
 *             grid, i.e. discharging), lifetime AC energy WH, state St
 *   model 124 basic storage controls: WChaMax, StorCtl_Mod, InWRte/OutWRte
 *             (the power setpoint, see below), ChaState (SoC), ChaSt
 *   model 802 battery base: nameplate energy and rates, SoC, reserves,
 *             DC power and current, battery state
 * The client also accepts inverter models 101/102 (same offsets as 103) or
 * 701 for AC power, and 124's ChaState when a device has no model 802.
 *
 * Setpoint convention (model 124). Both rates are percentages of 124's
 * WChaMax, which this map sets to the inverter's largest battery power
 * (the larger of the charge and discharge ratings; model 802 gives each
 * direction's own rating), as several hybrid inverters do since model 124
 * has no discharge base of its own. With StorCtl_Mod bits CHARGE (0) and
 * DISCHARGE (1) set, the grid-side power P (W, positive = charging) is held
 * in the window [-OutWRte% * WChaMax, InWRte% * WChaMax]; a cleared bit
 * leaves that side open. A negative InWRte forces a discharge, a negative
 * OutWRte forces a charge. The device runs at the point of the window
 * nearest to zero (it has no other goal), the lower bound winning when the
 * window is empty, and within its own ratings. To command P exactly the
 * client writes InWRte = P / WChaMax and OutWRte = -P / WChaMax (percent),
 * which collapses the window onto P. Rates lie in [-100, 100] %; anything
 * else is refused with ILLEGAL DATA VALUE.
 */
#ifndef FLEXBED_HIL_SUNSPEC_H
#define FLEXBED_HIL_SUNSPEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SUNS_MARKER_0 0x5375u /* "Su" */
#define SUNS_MARKER_1 0x6e53u /* "nS" */
#define SUNS_END_ID 0xFFFFu
#define SUNS_BASE_DEFAULT 40000

/* "Not implemented" values per point type. */
#define SUNS_NI_U16 0xFFFFu
#define SUNS_NI_I16 0x8000u
#define SUNS_NI_SF 0x8000u
#define SUNS_NI_ACC32 0u
#define SUNS_NI_U32 0xFFFFFFFFu

/* Model 1: common. */
#define SUNS_M1_LEN 66
#define SUNS_M1_MN 2   /* string, 16 registers */
#define SUNS_M1_MD 18  /* string, 16 */
#define SUNS_M1_OPT 34 /* string, 8 */
#define SUNS_M1_VR 42  /* string, 8 */
#define SUNS_M1_SN 50  /* string, 16 */
#define SUNS_M1_DA 66  /* uint16, RW */

/* Models 101, 102, 103: single-, split-, three-phase inverter (same map). */
#define SUNS_M103_LEN 50
#define SUNS_M103_A 2
#define SUNS_M103_APHA 3
#define SUNS_M103_A_SF 6
#define SUNS_M103_PHVPHA 10
#define SUNS_M103_V_SF 13
#define SUNS_M103_W 14 /* int16, W_SF: positive = to the grid */
#define SUNS_M103_W_SF 15
#define SUNS_M103_HZ 16
#define SUNS_M103_HZ_SF 17
#define SUNS_M103_VA 18
#define SUNS_M103_VA_SF 19
#define SUNS_M103_VAR 20
#define SUNS_M103_VAR_SF 21
#define SUNS_M103_PF 22
#define SUNS_M103_PF_SF 23
#define SUNS_M103_WH 24 /* acc32, WH_SF */
#define SUNS_M103_WH_SF 26
#define SUNS_M103_DCA 27
#define SUNS_M103_DCA_SF 28
#define SUNS_M103_DCV 29
#define SUNS_M103_DCV_SF 30
#define SUNS_M103_DCW 31
#define SUNS_M103_DCW_SF 32
#define SUNS_M103_TMPCAB 33
#define SUNS_M103_TMP_SF 37
#define SUNS_M103_ST 38 /* enum16: 1 OFF ... 4 MPPT, 7 FAULT, 8 STANDBY */
#define SUNS_M103_EVT1 40

/* Model 701: DER AC measurement (client side: AC power only). */
#define SUNS_M701_W 10
#define SUNS_M701_W_SF 116

/* Model 124: basic storage controls. */
#define SUNS_M124_LEN 24
#define SUNS_M124_WCHAMAX 2 /* uint16 RW, WChaMax_SF */
#define SUNS_M124_WCHAGRA 3
#define SUNS_M124_WDISCHAGRA 4
#define SUNS_M124_STORCTL_MOD 5 /* bitfield16 RW */
#define SUNS_M124_VACHAMAX 6
#define SUNS_M124_MINRSVPCT 7 /* uint16 RW, MinRsvPct_SF */
#define SUNS_M124_CHASTATE 8  /* uint16, ChaState_SF: SoC in % */
#define SUNS_M124_STORAVAL 9
#define SUNS_M124_INBATV 10
#define SUNS_M124_CHAST 11   /* enum16 */
#define SUNS_M124_OUTWRTE 12 /* int16 RW, InOutWRte_SF */
#define SUNS_M124_INWRTE 13  /* int16 RW, InOutWRte_SF */
#define SUNS_M124_WINTMS 14
#define SUNS_M124_RVRTTMS 15 /* uint16 RW, seconds, 0 = never revert */
#define SUNS_M124_RMPTMS 16
#define SUNS_M124_CHAGRISET 17
#define SUNS_M124_WCHAMAX_SF 18
#define SUNS_M124_WCHADISCHAGRA_SF 19
#define SUNS_M124_VACHAMAX_SF 20
#define SUNS_M124_MINRSVPCT_SF 21
#define SUNS_M124_CHASTATE_SF 22
#define SUNS_M124_STORAVAL_SF 23
#define SUNS_M124_INBATV_SF 24
#define SUNS_M124_INOUTWRTE_SF 25
#define SUNS_STORCTL_CHARGE 0x1u
#define SUNS_STORCTL_DISCHARGE 0x2u

/* ChaSt values (models 124 and 802). */
enum suns_chast {
    SUNS_CHAST_OFF = 1,
    SUNS_CHAST_EMPTY = 2,
    SUNS_CHAST_DISCHARGING = 3,
    SUNS_CHAST_CHARGING = 4,
    SUNS_CHAST_FULL = 5,
    SUNS_CHAST_HOLDING = 6,
};

/* Model 802: battery base. */
#define SUNS_M802_LEN 62
#define SUNS_M802_AHRTG 2
#define SUNS_M802_WHRTG 3      /* uint16, WHRtg_SF */
#define SUNS_M802_WCHARTEMAX 4 /* uint16, WChaDisChaMax_SF */
#define SUNS_M802_WDISCHARTEMAX 5
#define SUNS_M802_DISCHARTE 6
#define SUNS_M802_SOCMAX 7 /* uint16, SoC_SF */
#define SUNS_M802_SOCMIN 8
#define SUNS_M802_SOCRSVMAX 9  /* RW */
#define SUNS_M802_SOCRSVMIN 10 /* RW */
#define SUNS_M802_SOC 11
#define SUNS_M802_DOD 12
#define SUNS_M802_SOH 13
#define SUNS_M802_NCYC 14 /* uint32 */
#define SUNS_M802_CHAST 16
#define SUNS_M802_LOCREMCTL 17 /* 0 REMOTE, 1 LOCAL */
#define SUNS_M802_HB 18
#define SUNS_M802_CTRLHB 19 /* RW */
#define SUNS_M802_ALMRST 20 /* RW */
#define SUNS_M802_TYP 21
#define SUNS_M802_STATE 22
#define SUNS_M802_STATEVND 23
#define SUNS_M802_WARRDT 24 /* uint32 */
#define SUNS_M802_EVT1 26
#define SUNS_M802_EVT2 28
#define SUNS_M802_EVTVND1 30
#define SUNS_M802_EVTVND2 32
#define SUNS_M802_V 34
#define SUNS_M802_VMAX 35
#define SUNS_M802_VMIN 36
#define SUNS_M802_CELLVMAX 37
#define SUNS_M802_CELLVAVG 43
#define SUNS_M802_A 44 /* int16, A_SF: positive = discharging */
#define SUNS_M802_ACHAMAX 45
#define SUNS_M802_ADISCHAMAX 46
#define SUNS_M802_W 47 /* int16, W_SF: DC power, positive = discharging */
#define SUNS_M802_REQINVSTATE 48
#define SUNS_M802_REQW 49
#define SUNS_M802_SETOP 50       /* RW: 1 CONNECT, 2 DISCONNECT */
#define SUNS_M802_SETINVSTATE 51 /* RW: 1 STOPPED, 2 STANDBY, 3 STARTED */
#define SUNS_M802_AHRTG_SF 52
#define SUNS_M802_WHRTG_SF 53
#define SUNS_M802_WCHADISCHAMAX_SF 54
#define SUNS_M802_DISCHARTE_SF 55
#define SUNS_M802_SOC_SF 56
#define SUNS_M802_DOD_SF 57
#define SUNS_M802_SOH_SF 58
#define SUNS_M802_V_SF 59
#define SUNS_M802_CELLV_SF 60
#define SUNS_M802_A_SF 61
#define SUNS_M802_AMAX_SF 62
#define SUNS_M802_W_SF 63
#define SUNS_802_STATE_DISCONNECTED 1
#define SUNS_802_STATE_CONNECTED 3
#define SUNS_802_STATE_SOC_PROTECTION 5
#define SUNS_802_EVT1_UNDER_SOC_MIN_WARNING (1u << 14)
#define SUNS_802_EVT1_OVER_SOC_MAX_WARNING (1u << 16)

/* ------------------------------------------------------------------ */
/* Values and scale factors                                           */
/* ------------------------------------------------------------------ */

/* A scale factor register is usable when it is implemented and in
 * [-10, 10] (the SunSpec range). */
int suns_sf_ok(uint16_t sf_raw);

/* raw * 10^sf for a signed (int16) or unsigned (uint16) point. Returns NaN
 * when the point or the scale factor reads "not implemented" or the scale
 * factor is out of range. */
double suns_get_i16(uint16_t raw, uint16_t sf_raw);
double suns_get_u16(uint16_t raw, uint16_t sf_raw);

/* The register for value v at scale factor sf (rounded to nearest).
 * Returns 0, or -1 when v is not finite or does not fit (then *out is the
 * nearest representable value short of the "not implemented" marker). */
int suns_put_i16(double v, int sf, uint16_t *out);
int suns_put_u16(double v, int sf, uint16_t *out);

/* The smallest scale factor >= min_sf at which magnitudes up to max_abs fit
 * a signed (is_signed) or unsigned 16-bit point. */
int suns_pick_sf(double max_abs, int is_signed, int min_sf);

/* Strings: registers hold two characters each, high byte first, padded
 * with NUL. put writes exactly nregs registers; get writes at most n - 1
 * characters and a NUL. */
void suns_put_string(uint16_t *regs, int nregs, const char *s);
void suns_get_string(const uint16_t *regs, int nregs, char *out, size_t n);

/* 32-bit points: high word first. */
void suns_put_u32(uint16_t *regs, uint32_t v);
uint32_t suns_get_u32(const uint16_t *regs);

/* ------------------------------------------------------------------ */
/* The setpoint convention (see the top of this file)                  */
/* ------------------------------------------------------------------ */

/* The rates (percent, as doubles) that command grid-side power p_w
 * (positive = charging) on a device whose 124 WChaMax is wbase_w (> 0).
 * p_w is clamped to [-wbase_w, wbase_w] first. */
void suns_rates_for_power(double p_w, double wbase_w, double *in_pct, double *out_pct);

/* The grid-side power (W) a device runs at for StorCtl_Mod `mod` and rates
 * in_pct, out_pct (ignored when their bit is clear), before its ratings. */
double suns_power_for_rates(unsigned mod, double in_pct, double out_pct, double wbase_w);

/* ------------------------------------------------------------------ */
/* The battery map served by the emulator                              */
/* ------------------------------------------------------------------ */

/* Absolute register addresses of the models in the emulator's map. */
struct suns_layout {
    int base;                 /* "SunS" */
    int m1, m103, m124, m802; /* each model's id register */
    int end;                  /* the 0xFFFF end id */
    int nregs;                /* registers from base through the end block's length */
};

/* Lay out SunS, 1, 103, 124, 802, end from `base` (0, 40000 or 50000).
 * Returns 0 or -1 when base is not one of those. */
int suns_layout_battery(int base, struct suns_layout *l);

/* Identity written into model 1. */
struct suns_identity {
    const char *manufacturer, *model, *options, *version, *serial;
    uint16_t device_address;
};

/* The battery's fixed data: nameplate, scale factors chosen for it. */
struct suns_nameplate {
    double capacity_wh;
    double wcha_max_w, wdis_max_w; /* ratings; 124 WChaMax is the larger */
    double soc_min, soc_max;       /* fractions */
    double ramp_w_per_s;           /* 0: none */
    double v_nom;                  /* nominal DC voltage (V) */
};

/* What changes: a snapshot of the device. */
struct suns_battery_values {
    double p_ac_w;      /* grid-side power, positive = charging */
    double p_dc_w;      /* battery-side power, positive = charging */
    double soc;         /* fraction */
    double e_out_wh;    /* lifetime AC energy delivered to the grid */
    double soc_rsv_min; /* fraction, the discharge floor in force */
    int online;
    int at_floor, at_ceiling;
    uint16_t heartbeat;
};

/* Fill regs[0 .. l->nregs-1] (register l->base is regs[0]) with the marker,
 * model headers, identity, nameplate, scale factors and defaults of the
 * writable points (StorCtl_Mod 0, rates 100 %, reserve at soc_min).
 * Points the emulator does not implement read "not implemented". */
void suns_fill_battery(uint16_t *regs, const struct suns_layout *l, const struct suns_identity *id,
                       const struct suns_nameplate *np);

/* Write the measured points of a snapshot (AC and DC power, SoC, energy,
 * states) into a map filled by suns_fill_battery. */
void suns_update_battery(uint16_t *regs, const struct suns_layout *l,
                         const struct suns_nameplate *np, const struct suns_battery_values *v);

/* ------------------------------------------------------------------ */
/* Discovery                                                           */
/* ------------------------------------------------------------------ */

#define SUNS_MAX_MODELS 32

struct suns_model_ref {
    uint16_t id, len;
    int addr; /* the model's id register */
};

struct suns_device {
    int base;
    int n;
    struct suns_model_ref model[SUNS_MAX_MODELS];
};

/* Read n holding registers at addr into dst. Returns 0 on success, a
 * positive value when the device answered with an exception (nothing
 * there), a negative value on a transport failure (passed back unchanged
 * by suns_discover). */
typedef int (*suns_read_fn)(void *ctx, int addr, int n, uint16_t *dst);

enum {
    SUNS_ENOMARK = -100,    /* no "SunS" at any base tried */
    SUNS_EBADCHAIN = -101,  /* a model header runs past the address space, or no end */
    SUNS_ENOTCOMMON = -102, /* the first model is not model 1 */
};

/* Find the marker at `base` (or, when base < 0, at 40000, 0 and 50000 in
 * that order) and walk the model chain. Returns 0, a negative value from
 * read (transport failure: stop), or a SUNS_E* code. On a SUNS_E* failure
 * `why` (if n > 0) gets a human sentence. */
int suns_discover(suns_read_fn read, void *ctx, int base, struct suns_device *dev, char *why,
                  size_t n);

/* The first model with id `id`, or NULL. */
const struct suns_model_ref *suns_find(const struct suns_device *dev, uint16_t id);

/* ------------------------------------------------------------------ */
/* The client's view of a battery inverter (modbus_battery.c)          */
/* ------------------------------------------------------------------ */

/* Which models of a discovered device the client reads. */
struct suns_battery_map {
    int a1;     /* model 1's id register */
    int a124;   /* model 124's */
    int a802;   /* model 802's, -1 when absent */
    int a_ac;   /* the AC power model's (103, 102, 101 or 701), -1 when absent */
    int ac_id;  /* that model's id, 0 when absent */
    int ac_len; /* registers read from a_ac per poll, id and length included
                   (at most SUNS_AC_READ_MAX) */
};
#define SUNS_AC_READ_MAX (SUNS_M701_W_SF + 1)

/* Choose the models from dev: 1 and 124 required, AC power from 103, 102,
 * 101 or 701 or else 802, each long enough for the points used. Returns
 * NULL, or a sentence saying what is missing. */
const char *suns_battery_choose(const struct suns_device *dev, struct suns_battery_map *m);

/* What one poll says, decoded with its scale factors. */
struct suns_battery_reading {
    double wbase_w;        /* 124 WChaMax: the base of the rates */
    double wcha_w, wdis_w; /* charge and discharge ratings (802, else WChaMax) */
    double cap_wh;         /* 802 WHRtg; NaN without 802 */
    double soc;            /* fraction */
    double floor;          /* discharge floor (reserve), fraction; 0 when not implemented */
    double p_ac_w;         /* AC power, W, positive = to the grid (as on the wire) */
    int online;
};

/* Decode registers read from the device: r124 holds 2 + SUNS_M124_LEN
 * registers from 124's id, r802 2 + SUNS_M802_LEN from 802's (unused
 * without 802), rac m->ac_len from the AC model's (unused without one).
 * Any register value is accepted: a rating that is not positive, a SoC
 * outside [0, 100] %, a power beyond 1.5 times the ratings or a point
 * "not implemented" that is needed gives -1 with why (n > 0) saying which;
 * else 0. */
int suns_battery_decode(const struct suns_battery_map *m, const uint16_t *r124,
                        const uint16_t *r802, const uint16_t *rac,
                        struct suns_battery_reading *out, char *why, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* FLEXBED_HIL_SUNSPEC_H */
