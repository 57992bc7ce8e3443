/*
 * test_modbus.c: the Modbus TCP battery path on loopback.
 *
 * Without an argument: the SunSpec helpers (values, scale factors, the
 * setpoint convention, the map's offsets against the SunSpec JSON models
 * in tests/data/hil/sunspec), the emulator answering a plain libmodbus
 * client (marker, chain, exceptions, revert), and a round trip: the
 * hil_modbus_battery component in a kernel paced at 60x drives the
 * emulator (also 60x) at -10 kW for five simulated minutes and the SoC it
 * reads falls as the battery model says.
 *
 * With an argument, one fault, each a separate ctest test (see
 * CMakeLists.txt): timeout, exception, drop, range, lost. The emulator runs
 * in a thread of this process on an ephemeral 127.0.0.1 port; a test
 * component switches the fault on at 10 s and off at 20 s of simulated
 * time (20x pacing, 1 s polls, 200 ms timeouts), and the checks are that
 * the client logged the right events, marked samples stale while holding
 * its values, recovered, and that the run itself succeeded.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <modbus/modbus.h>

#include "check.h"
#include "hil/hil.h"
#include "hil/sunspec.h"
#include "models/battery.h"
#include "sim/scenario.h"

/* ------------------------------------------------------------------ */
/* SunSpec helpers                                                     */
/* ------------------------------------------------------------------ */

static void test_values(void)
{
    uint16_t r;
    CHECK_NEAR(suns_get_i16((uint16_t)-1234, (uint16_t)-2), -12.34, 1e-12);
    CHECK_NEAR(suns_get_u16(5000, 1), 50000, 1e-9);
    CHECK(isnan(suns_get_i16(SUNS_NI_I16, 0)), "int16 NI must read NaN");
    CHECK(isnan(suns_get_u16(SUNS_NI_U16, 0)), "uint16 NI must read NaN");
    CHECK(isnan(suns_get_u16(10, SUNS_NI_SF)), "NI scale factor must read NaN");
    CHECK(isnan(suns_get_u16(10, 11)), "scale factor 11 is out of range");
    CHECK_INT(suns_put_i16(-10000.4, 0, &r), 0);
    CHECK_INT((int16_t)r, -10000);
    CHECK_INT(suns_put_i16(99.995, -2, &r), 0);
    CHECK_INT((int16_t)r, 10000); /* rounds to nearest */
    CHECK_INT(suns_put_u16(70000, 0, &r), -1);
    CHECK_INT(r, 65534);
    CHECK_INT(suns_put_u16(-1, 0, &r), -1);
    CHECK_INT(suns_pick_sf(10000, 1, 0), 0);
    CHECK_INT(suns_pick_sf(100000, 1, 0), 1);
    CHECK_INT(suns_pick_sf(50, 0, -2), -2);
    CHECK_INT(suns_pick_sf(5000, 0, -2), -1);
    CHECK_INT(suns_pick_sf(50000, 0, -2), 0);

    uint16_t s[4];
    char out[16];
    suns_put_string(s, 4, "abcde");
    CHECK_INT(s[0], 0x6162);
    CHECK_INT(s[2], 0x6500);
    CHECK_INT(s[3], 0);
    suns_get_string(s, 4, out, sizeof out);
    CHECK(!strcmp(out, "abcde"), "string round trip gave \"%s\"", out);
    suns_get_string(s, 4, out, 3);
    CHECK(!strcmp(out, "ab"), "truncated string gave \"%s\"", out);
    suns_put_u32(s, 0x12345678u);
    CHECK_INT(suns_get_u32(s), 0x12345678);

    /* The setpoint convention, both ways. */
    const double ps[] = {-12000, -8000, -2500, 0, 1, 3000, 10000, 15000};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        double in, out_pct;
        suns_rates_for_power(ps[i], 10000, &in, &out_pct);
        CHECK(fabs(in) <= 100 + 1e-9 && fabs(out_pct) <= 100 + 1e-9, "rates %g %g", in, out_pct);
        double want = ps[i] > 10000 ? 10000 : ps[i] < -10000 ? -10000 : ps[i];
        CHECK_NEAR(suns_power_for_rates(3, in, out_pct, 10000), want, 1e-9);
    }
    /* never over 100 %, not even by rounding: 100 x 3000 / 2995.6000000000004
     * was -100.00000000000001 (fuzz_sunspec) */
    {
        double in, out_pct;
        suns_rates_for_power(-3000, 2995.6000000000004, &in, &out_pct);
        CHECK(in == -100.0 && out_pct == 100.0, "rates %.17g %.17g", in, out_pct);
    }
    CHECK_NEAR(suns_power_for_rates(0, -50, -50, 10000), 0, 0);
    CHECK_NEAR(suns_power_for_rates(SUNS_STORCTL_CHARGE, 50, 0, 10000), 0, 0);
    CHECK_NEAR(suns_power_for_rates(SUNS_STORCTL_CHARGE, -20, 0, 10000), -2000, 1e-9);
    CHECK_NEAR(suns_power_for_rates(SUNS_STORCTL_DISCHARGE, 0, -30, 10000), 3000, 1e-9);
    CHECK_NEAR(suns_power_for_rates(3, -20, 30, 10000), -2000, 1e-9); /* [-3000, -2000] */
}

/* Offset of point `name` in a SunSpec JSON model, or -1. */
static int json_offset(const cJSON *model, const char *name, int *total)
{
    const cJSON *pts = cJSON_GetObjectItem(cJSON_GetObjectItem(model, "group"), "points");
    int off = 0, found = -1;
    const cJSON *p;
    cJSON_ArrayForEach(p, pts)
    {
        const char *n = cJSON_GetStringValue(cJSON_GetObjectItem(p, "name"));
        if (n && !strcmp(n, name))
            found = off;
        off += (int)cJSON_GetNumberValue(cJSON_GetObjectItem(p, "size"));
    }
    if (total)
        *total = off;
    return found;
}

static cJSON *load_model(int id)
{
    char path[512];
    snprintf(path, sizeof path, "%s/hil/sunspec/model_%d.json", FLEXBED_TEST_DATA, id);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL, "cannot open %s", path);
    if (!f)
        return NULL;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    cJSON *j = cJSON_Parse(buf);
    CHECK(j != NULL, "%s does not parse", path);
    return j;
}

static void test_offsets(void)
{
    static const struct {
        int model;
        const char *name;
        int off;
    } pts[] = {
        {1, "Mn", SUNS_M1_MN},
        {1, "Md", SUNS_M1_MD},
        {1, "Opt", SUNS_M1_OPT},
        {1, "Vr", SUNS_M1_VR},
        {1, "SN", SUNS_M1_SN},
        {1, "DA", SUNS_M1_DA},
        {103, "A", SUNS_M103_A},
        {103, "AphA", SUNS_M103_APHA},
        {103, "A_SF", SUNS_M103_A_SF},
        {103, "PhVphA", SUNS_M103_PHVPHA},
        {103, "V_SF", SUNS_M103_V_SF},
        {103, "W", SUNS_M103_W},
        {103, "W_SF", SUNS_M103_W_SF},
        {103, "Hz", SUNS_M103_HZ},
        {103, "Hz_SF", SUNS_M103_HZ_SF},
        {103, "VA", SUNS_M103_VA},
        {103, "VA_SF", SUNS_M103_VA_SF},
        {103, "VAr", SUNS_M103_VAR},
        {103, "VAr_SF", SUNS_M103_VAR_SF},
        {103, "PF", SUNS_M103_PF},
        {103, "PF_SF", SUNS_M103_PF_SF},
        {103, "WH", SUNS_M103_WH},
        {103, "WH_SF", SUNS_M103_WH_SF},
        {103, "DCA", SUNS_M103_DCA},
        {103, "DCA_SF", SUNS_M103_DCA_SF},
        {103, "DCV", SUNS_M103_DCV},
        {103, "DCV_SF", SUNS_M103_DCV_SF},
        {103, "DCW", SUNS_M103_DCW},
        {103, "DCW_SF", SUNS_M103_DCW_SF},
        {103, "TmpCab", SUNS_M103_TMPCAB},
        {103, "Tmp_SF", SUNS_M103_TMP_SF},
        {103, "St", SUNS_M103_ST},
        {103, "Evt1", SUNS_M103_EVT1},
        {701, "W", SUNS_M701_W},
        {701, "W_SF", SUNS_M701_W_SF},
        {124, "WChaMax", SUNS_M124_WCHAMAX},
        {124, "WChaGra", SUNS_M124_WCHAGRA},
        {124, "WDisChaGra", SUNS_M124_WDISCHAGRA},
        {124, "StorCtl_Mod", SUNS_M124_STORCTL_MOD},
        {124, "VAChaMax", SUNS_M124_VACHAMAX},
        {124, "MinRsvPct", SUNS_M124_MINRSVPCT},
        {124, "ChaState", SUNS_M124_CHASTATE},
        {124, "StorAval", SUNS_M124_STORAVAL},
        {124, "InBatV", SUNS_M124_INBATV},
        {124, "ChaSt", SUNS_M124_CHAST},
        {124, "OutWRte", SUNS_M124_OUTWRTE},
        {124, "InWRte", SUNS_M124_INWRTE},
        {124, "InOutWRte_WinTms", SUNS_M124_WINTMS},
        {124, "InOutWRte_RvrtTms", SUNS_M124_RVRTTMS},
        {124, "InOutWRte_RmpTms", SUNS_M124_RMPTMS},
        {124, "ChaGriSet", SUNS_M124_CHAGRISET},
        {124, "WChaMax_SF", SUNS_M124_WCHAMAX_SF},
        {124, "WChaDisChaGra_SF", SUNS_M124_WCHADISCHAGRA_SF},
        {124, "VAChaMax_SF", SUNS_M124_VACHAMAX_SF},
        {124, "MinRsvPct_SF", SUNS_M124_MINRSVPCT_SF},
        {124, "ChaState_SF", SUNS_M124_CHASTATE_SF},
        {124, "StorAval_SF", SUNS_M124_STORAVAL_SF},
        {124, "InBatV_SF", SUNS_M124_INBATV_SF},
        {124, "InOutWRte_SF", SUNS_M124_INOUTWRTE_SF},
        {802, "AHRtg", SUNS_M802_AHRTG},
        {802, "WHRtg", SUNS_M802_WHRTG},
        {802, "WChaRteMax", SUNS_M802_WCHARTEMAX},
        {802, "WDisChaRteMax", SUNS_M802_WDISCHARTEMAX},
        {802, "DisChaRte", SUNS_M802_DISCHARTE},
        {802, "SoCMax", SUNS_M802_SOCMAX},
        {802, "SoCMin", SUNS_M802_SOCMIN},
        {802, "SocRsvMax", SUNS_M802_SOCRSVMAX},
        {802, "SoCRsvMin", SUNS_M802_SOCRSVMIN},
        {802, "SoC", SUNS_M802_SOC},
        {802, "DoD", SUNS_M802_DOD},
        {802, "SoH", SUNS_M802_SOH},
        {802, "NCyc", SUNS_M802_NCYC},
        {802, "ChaSt", SUNS_M802_CHAST},
        {802, "LocRemCtl", SUNS_M802_LOCREMCTL},
        {802, "Hb", SUNS_M802_HB},
        {802, "CtrlHb", SUNS_M802_CTRLHB},
        {802, "AlmRst", SUNS_M802_ALMRST},
        {802, "Typ", SUNS_M802_TYP},
        {802, "State", SUNS_M802_STATE},
        {802, "StateVnd", SUNS_M802_STATEVND},
        {802, "WarrDt", SUNS_M802_WARRDT},
        {802, "Evt1", SUNS_M802_EVT1},
        {802, "Evt2", SUNS_M802_EVT2},
        {802, "EvtVnd1", SUNS_M802_EVTVND1},
        {802, "EvtVnd2", SUNS_M802_EVTVND2},
        {802, "V", SUNS_M802_V},
        {802, "VMax", SUNS_M802_VMAX},
        {802, "VMin", SUNS_M802_VMIN},
        {802, "CellVMax", SUNS_M802_CELLVMAX},
        {802, "CellVAvg", SUNS_M802_CELLVAVG},
        {802, "A", SUNS_M802_A},
        {802, "AChaMax", SUNS_M802_ACHAMAX},
        {802, "ADisChaMax", SUNS_M802_ADISCHAMAX},
        {802, "W", SUNS_M802_W},
        {802, "ReqInvState", SUNS_M802_REQINVSTATE},
        {802, "ReqW", SUNS_M802_REQW},
        {802, "SetOp", SUNS_M802_SETOP},
        {802, "SetInvState", SUNS_M802_SETINVSTATE},
        {802, "AHRtg_SF", SUNS_M802_AHRTG_SF},
        {802, "WHRtg_SF", SUNS_M802_WHRTG_SF},
        {802, "WChaDisChaMax_SF", SUNS_M802_WCHADISCHAMAX_SF},
        {802, "DisChaRte_SF", SUNS_M802_DISCHARTE_SF},
        {802, "SoC_SF", SUNS_M802_SOC_SF},
        {802, "DoD_SF", SUNS_M802_DOD_SF},
        {802, "SoH_SF", SUNS_M802_SOH_SF},
        {802, "V_SF", SUNS_M802_V_SF},
        {802, "CellV_SF", SUNS_M802_CELLV_SF},
        {802, "A_SF", SUNS_M802_A_SF},
        {802, "AMax_SF", SUNS_M802_AMAX_SF},
        {802, "W_SF", SUNS_M802_W_SF},
    };
    static const struct {
        int id, len;
    } lens[] = {{1, SUNS_M1_LEN}, {103, SUNS_M103_LEN}, {124, SUNS_M124_LEN}, {802, SUNS_M802_LEN}};
    cJSON *m[5] = {0};
    const int ids[5] = {1, 103, 124, 701, 802};
    for (int i = 0; i < 5; i++)
        m[i] = load_model(ids[i]);
    for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++) {
        int j = 0;
        while (ids[j] != pts[i].model)
            j++;
        if (!m[j])
            continue;
        int off = json_offset(m[j], pts[i].name, NULL);
        CHECK(off == pts[i].off, "model %d point %s: JSON offset %d, sunspec.h %d", pts[i].model,
              pts[i].name, off, pts[i].off);
    }
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        int j = 0, total = 0;
        while (ids[j] != lens[i].id)
            j++;
        if (!m[j])
            continue;
        json_offset(m[j], "ID", &total);
        int len = total - 2;
        CHECK(len == lens[i].len, "model %d: length %d from JSON, %d in sunspec.h", lens[i].id, len,
              lens[i].len);
    }
    for (int i = 0; i < 5; i++)
        cJSON_Delete(m[i]);
}

/* Discovery over an array standing for a device. */
struct fake {
    int start;
    uint16_t r[600];
};

static int fake_read(void *ctx, int addr, int n, uint16_t *dst)
{
    struct fake *f = ctx;
    if (addr < f->start || addr + n > f->start + 600)
        return 1; /* ILLEGAL DATA ADDRESS */
    memcpy(dst, &f->r[addr - f->start], sizeof *dst * (size_t)n);
    return 0;
}

static void test_discover(void)
{
    struct suns_layout l;
    struct suns_device dev;
    char why[200];
    CHECK_INT(suns_layout_battery(40000, &l), 0);
    CHECK_INT(l.m1, 40002);
    CHECK_INT(l.m103, 40070);
    CHECK_INT(l.m124, 40122);
    CHECK_INT(l.m802, 40148);
    CHECK_INT(l.end, 40212);
    CHECK_INT(l.nregs, 214);
    CHECK_INT(suns_layout_battery(123, &l), -1);

    /* The emulator's own map at base 0, found by the automatic search. */
    static struct fake f;
    struct suns_identity id = {"flexbed", "test", "", "1", "SN1", 1};
    struct suns_nameplate np = {20000, 10000, 8000, 0.1, 0.9, 0, 400};
    suns_layout_battery(0, &l);
    f.start = 0;
    suns_fill_battery(f.r, &l, &id, &np);
    CHECK_INT(suns_discover(fake_read, &f, -1, &dev, why, sizeof why), 0);
    CHECK_INT(dev.base, 0);
    CHECK_INT(dev.n, 4);
    CHECK_INT(dev.model[1].id, 103);
    CHECK_INT(dev.model[3].id, 802);
    CHECK_INT(dev.model[3].addr, l.m802);
    CHECK(suns_find(&dev, 124) && suns_find(&dev, 124)->addr == l.m124, "model 124 not found");
    CHECK(suns_find(&dev, 701) == NULL, "model 701 found in a map without it");
    struct suns_battery_values v = {
        .p_ac_w = -5000, .p_dc_w = -5263, .soc = 0.4567, .online = 1, .soc_rsv_min = 0.1};
    suns_update_battery(f.r, &l, &np, &v);
    CHECK_NEAR(suns_get_i16(f.r[l.m103 + SUNS_M103_W], f.r[l.m103 + SUNS_M103_W_SF]), 5000, 1e-9);
    CHECK_NEAR(suns_get_u16(f.r[l.m802 + SUNS_M802_SOC], f.r[l.m802 + SUNS_M802_SOC_SF]), 45.67,
               1e-9);
    CHECK_NEAR(suns_get_u16(f.r[l.m802 + SUNS_M802_WDISCHARTEMAX],
                            f.r[l.m802 + SUNS_M802_WCHADISCHAMAX_SF]),
               8000, 1e-9);
    CHECK_INT(f.r[l.m124 + SUNS_M124_CHAST], SUNS_CHAST_DISCHARGING);

    /* What the client takes from this map (suns_battery_choose/_decode). */
    struct suns_battery_map m;
    struct suns_battery_reading rd;
    CHECK(suns_battery_choose(&dev, &m) == NULL, "the emulator's map refused");
    CHECK_INT(m.a124, l.m124);
    CHECK_INT(m.a802, l.m802);
    CHECK_INT(m.a_ac, l.m103);
    CHECK_INT(m.ac_id, 103);
    CHECK_INT(suns_battery_decode(&m, &f.r[m.a124], &f.r[m.a802], &f.r[m.a_ac], &rd, why,
                                  sizeof why),
              0);
    CHECK_NEAR(rd.p_ac_w, 5000, 1e-9);
    CHECK_NEAR(rd.soc, 0.4567, 1e-9);
    CHECK_NEAR(rd.floor, 0.1, 1e-9);
    CHECK_NEAR(rd.wcha_w, 10000, 1e-9);
    CHECK_NEAR(rd.wdis_w, 8000, 1e-9);
    CHECK_NEAR(rd.cap_wh, 20000, 1e-9);
    CHECK_INT(rd.online, 1);
    /* values a device may send that the client must not take */
    uint16_t keep = f.r[l.m802 + SUNS_M802_SOCRSVMIN];
    f.r[l.m802 + SUNS_M802_SOCRSVMIN] = 20000; /* 200 % at SF -2 */
    CHECK_INT(suns_battery_decode(&m, &f.r[m.a124], &f.r[m.a802], &f.r[m.a_ac], &rd, why,
                                  sizeof why),
              -1);
    CHECK_STR_CONTAINS(why, "reserve");
    f.r[l.m802 + SUNS_M802_SOCRSVMIN] = keep;
    keep = f.r[l.m802 + SUNS_M802_SOC];
    f.r[l.m802 + SUNS_M802_SOC] = SUNS_NI_U16;
    CHECK_INT(suns_battery_decode(&m, &f.r[m.a124], &f.r[m.a802], &f.r[m.a_ac], &rd, why,
                                  sizeof why),
              -1);
    CHECK_STR_CONTAINS(why, "SoC");
    f.r[l.m802 + SUNS_M802_SOC] = keep;
    keep = f.r[l.m103 + SUNS_M103_W];
    f.r[l.m103 + SUNS_M103_W] = 0x7fff; /* 32767 x 10^SF W: far beyond the ratings */
    CHECK_INT(suns_battery_decode(&m, &f.r[m.a124], &f.r[m.a802], &f.r[m.a_ac], &rd, why,
                                  sizeof why),
              -1);
    CHECK_STR_CONTAINS(why, "power");
    f.r[l.m103 + SUNS_M103_W] = keep;
    struct suns_device no124 = dev;
    no124.model[2].id = 125;
    CHECK_STR_CONTAINS(suns_battery_choose(&no124, &m), "model 124");

    /* Not SunSpec; then a chain that does not start with model 1. */
    f.r[0] = 0;
    CHECK_INT(suns_discover(fake_read, &f, -1, &dev, why, sizeof why), SUNS_ENOMARK);
    CHECK_STR_CONTAINS(why, "no SunS marker");
    f.r[0] = SUNS_MARKER_0;
    f.r[2] = 7;
    CHECK_INT(suns_discover(fake_read, &f, 0, &dev, why, sizeof why), SUNS_ENOTCOMMON);
}

/* ------------------------------------------------------------------ */
/* The emulator in a thread                                            */
/* ------------------------------------------------------------------ */

struct emu {
    hil_emu_battery *e;
    pthread_t th;
    int running;
};

static void *emu_main(void *arg)
{
    struct emu *x = arg;
    struct sim_err err;
    if (hil_emu_battery_run(x->e, NULL, &err))
        fprintf(stderr, "emulator: %s\n", err.msg);
    return NULL;
}

static void emu_log(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "  [emulator] %s\n", msg);
}

static int emu_start(struct emu *x, struct hil_emu_battery_cfg *c)
{
    struct sim_err err;
    memset(x, 0, sizeof *x);
    c->log = emu_log;
    int rc = hil_emu_battery_new(c, &x->e, &err);
    CHECK(rc == 0, "emulator: %s", err.msg);
    if (rc)
        return rc;
    if (pthread_create(&x->th, NULL, emu_main, x)) {
        hil_emu_battery_free(x->e);
        x->e = NULL;
        return -1;
    }
    x->running = 1;
    return 0;
}

static void emu_stop(struct emu *x)
{
    if (x->running) {
        hil_emu_battery_stop(x->e);
        pthread_join(x->th, NULL);
        x->running = 0;
    }
    hil_emu_battery_free(x->e);
    x->e = NULL;
}

static void test_emulator_raw(void)
{
    struct hil_emu_battery_cfg c;
    struct emu x;
    hil_emu_battery_defaults(&c);
    c.port = 0;
    c.speed = 20;
    c.p.p_discharge_max_kw = 8;
    if (emu_start(&x, &c))
        return;
    int port = hil_emu_battery_port(x.e);
    CHECK(port > 0, "port %d", port);
    modbus_t *mb = modbus_new_tcp("127.0.0.1", port);
    modbus_set_response_timeout(mb, 1, 0);
    CHECK_INT(modbus_connect(mb), 0);
    modbus_set_slave(mb, 1);
    uint16_t r[128];
    CHECK_INT(modbus_read_registers(mb, 40000, 4, r), 4);
    CHECK_INT(r[0], 0x5375);
    CHECK_INT(r[1], 0x6e53);
    CHECK_INT(r[2], 1);
    CHECK_INT(r[3], 66);
    CHECK_INT(modbus_read_registers(mb, 40002, 68, r), 68);
    char s[40];
    suns_get_string(&r[SUNS_M1_MN], 16, s, sizeof s);
    CHECK(!strcmp(s, "flexbed"), "manufacturer \"%s\"", s);
    CHECK_INT(modbus_read_registers(mb, 40212, 2, r), 2);
    CHECK_INT(r[0], 0xFFFF);

    struct suns_layout l;
    suns_layout_battery(40000, &l);
    const int m124 = l.m124;
    /* Exceptions: out-of-range rate, read-only point, bad bits, outside
     * the map, other unit, other function. */
    errno = 0;
    CHECK_INT(modbus_write_register(mb, m124 + SUNS_M124_INWRTE, 15000), -1);
    CHECK_INT(errno, EMBXILVAL);
    CHECK_INT(modbus_write_register(mb, l.m802 + SUNS_M802_SOC, 100), -1);
    CHECK_INT(errno, EMBXILADD);
    CHECK_INT(modbus_write_register(mb, m124 + SUNS_M124_STORCTL_MOD, 4), -1);
    CHECK_INT(errno, EMBXILVAL);
    CHECK_INT(modbus_read_registers(mb, 40213, 2, r), -1);
    CHECK_INT(errno, EMBXILADD);
    CHECK_INT(modbus_read_input_registers(mb, 40000, 2, r), -1);
    CHECK_INT(errno, EMBXILFUN);
    modbus_set_slave(mb, 7);
    CHECK_INT(modbus_read_registers(mb, 40000, 2, r), -1);
    CHECK_INT(errno, EMBXGTAR);
    modbus_set_slave(mb, 1);
    /* A multiple write with one bad register writes nothing. */
    uint16_t w3[3] = {3, 0, 0};
    CHECK_INT(modbus_write_registers(mb, m124 + SUNS_M124_STORCTL_MOD, 3, w3), -1);
    CHECK_INT(errno, EMBXILADD); /* VAChaMax is not implemented */
    CHECK_INT(modbus_read_registers(mb, m124 + SUNS_M124_STORCTL_MOD, 1, r), 1);
    CHECK_INT(r[0], 0);

    /* Command a 5 kW discharge through the rates. */
    double in, out;
    uint16_t rates[2];
    suns_rates_for_power(-5000, 10000, &in, &out);
    suns_put_i16(out, -2, &rates[0]);
    suns_put_i16(in, -2, &rates[1]);
    CHECK_INT(modbus_write_register(mb, m124 + SUNS_M124_STORCTL_MOD, 3), 1);
    CHECK_INT(modbus_write_registers(mb, m124 + SUNS_M124_OUTWRTE, 2, rates), 2);
    CHECK_INT(modbus_read_registers(mb, l.m103, 52, r), 52);
    CHECK_NEAR(suns_get_i16(r[SUNS_M103_W], r[SUNS_M103_W_SF]), 5000, 0.5);
    CHECK_INT(modbus_read_registers(mb, l.m802, 64, r), 64);
    CHECK_INT(r[SUNS_M802_CHAST], SUNS_CHAST_DISCHARGING);
    CHECK(suns_get_i16(r[SUNS_M802_W], r[SUNS_M802_W_SF]) > 5000, "DC power must exceed AC");
    CHECK_INT(r[SUNS_M802_LOCREMCTL], 0);

    /* Revert: 2 device seconds without a rate write (0.1 s wall at 20x). */
    CHECK_INT(modbus_write_register(mb, m124 + SUNS_M124_RVRTTMS, 2), 1);
    CHECK_INT(modbus_write_registers(mb, m124 + SUNS_M124_OUTWRTE, 2, rates), 2);
    usleep(300 * 1000);
    CHECK_INT(modbus_read_registers(mb, l.m103, 52, r), 52);
    CHECK_NEAR(suns_get_i16(r[SUNS_M103_W], r[SUNS_M103_W_SF]), 0, 0.5);
    CHECK_INT(modbus_read_registers(mb, m124, 26, r), 26);
    CHECK_INT(r[SUNS_M124_STORCTL_MOD], 0);

    /* Refusal fault: writes get ILLEGAL DATA VALUE, LocRemCtl reads LOCAL. */
    hil_emu_battery_fault(x.e, HIL_EMU_REFUSE, 1);
    CHECK_INT(modbus_write_register(mb, m124 + SUNS_M124_STORCTL_MOD, 3), -1);
    CHECK_INT(errno, EMBXILVAL);
    CHECK_INT(modbus_read_registers(mb, l.m802 + SUNS_M802_LOCREMCTL, 1, r), 1);
    CHECK_INT(r[0], 1);
    hil_emu_battery_fault(x.e, HIL_EMU_REFUSE, 0);
    modbus_close(mb);
    modbus_free(mb);
    emu_stop(&x);
}

/* ------------------------------------------------------------------ */
/* The client in a kernel                                              */
/* ------------------------------------------------------------------ */

#define T0 INT64_C(1696251600000000) /* 2023-10-02T13:00:00Z */
#define MAX_SAMPLES 4096
#define MAX_EVENTS 256

/* The test's director: publishes the setpoint and switches a fault. */
struct ctl {
    int sig;
    double sp;
    struct emu *emu;
    struct hil_emu_battery_cfg *cfg;
    enum hil_emu_fault fault; /* 0: none; HIL_EMU_DROP fires once */
    sim_time_us on, off;      /* relative to T0 */
    int lose;                 /* 1: stop the emulator at `on`, restart at `off` */
};

static int ctl_step(void *self, sim_kernel *k, sim_time_us now, struct sim_err *err)
{
    (void)err;
    struct ctl *c = self;
    sim_bus_set(k, c->sig, c->sp);
    sim_time_us t = now - T0;
    if (c->lose) {
        if (t == c->on) {
            fprintf(stderr, "  [test] stopping the emulator at %lld s\n", (long long)(t / 1000000));
            emu_stop(c->emu);
        } else if (t == c->off) {
            fprintf(stderr, "  [test] restarting the emulator at %lld s\n",
                    (long long)(t / 1000000));
            emu_start(c->emu, c->cfg);
        }
    } else if (c->fault && t == c->on) {
        hil_emu_battery_fault(c->emu->e, c->fault, 1);
    } else if (c->fault && c->fault != HIL_EMU_DROP && t == c->off) {
        hil_emu_battery_fault(c->emu->e, c->fault, 0);
    }
    return 0;
}

static const struct sim_component_ops ctl_ops = {.type = "test_ctl", .step = ctl_step};

struct rec {
    int s_stale, s_soc, s_p, s_failed, s_eout;
    int n;
    sim_time_us t[MAX_SAMPLES];
    double stale[MAX_SAMPLES], soc[MAX_SAMPLES], p[MAX_SAMPLES], failed[MAX_SAMPLES],
        eout[MAX_SAMPLES];
    int nev;
    char kind[MAX_EVENTS][32];
    double value[MAX_EVENTS];
    enum sim_severity sev[MAX_EVENTS];
};

static int on_sample(void *ctx, sim_time_us t, const double *v, int n)
{
    (void)n;
    struct rec *r = ctx;
    if (r->n < MAX_SAMPLES) {
        r->t[r->n] = t;
        r->stale[r->n] = v[r->s_stale];
        r->soc[r->n] = v[r->s_soc];
        r->p[r->n] = v[r->s_p];
        r->failed[r->n] = v[r->s_failed];
        r->eout[r->n] = v[r->s_eout];
        r->n++;
    }
    return 0;
}

static int on_event(void *ctx, sim_time_us t, const char *comp, const char *kind,
                    enum sim_severity sev, double value, const char *msg)
{
    struct rec *r = ctx;
    fprintf(stderr, "  [event %6.1f s] %s %s (%g): %s\n", (double)(t - T0) / 1e6, comp, kind, value,
            msg);
    if (r->nev < MAX_EVENTS) {
        snprintf(r->kind[r->nev], sizeof r->kind[0], "%s", kind);
        r->value[r->nev] = value;
        r->sev[r->nev] = sev;
        r->nev++;
    }
    return 0;
}

static int count(const struct rec *r, const char *kind)
{
    int n = 0;
    for (int i = 0; i < r->nev; i++)
        n += !strcmp(r->kind[i], kind);
    return n;
}

/* Run the client against port for `dur` simulated seconds. */
static int run_client(const char *json, struct ctl *ctl, sim_time_us poll, sim_time_us dur,
                      double speed, struct rec *r)
{
    struct sim_config cfg = {.start = T0, .end = T0 + dur, .seed = 1};
    struct sim_err err = {{0}};
    sim_kernel *k = sim_kernel_new(&cfg);
    int id, rc;
    CHECK_INT(sim_kernel_add(k, "ctl", &ctl_ops, ctl, poll, &id, &err), 0);
    CHECK_INT(sim_bus_publish(k, id, "sp", "kW", 0, ctl->sp, &ctl->sig, &err), 0);
    cJSON *j = cJSON_Parse(json);
    CHECK(j != NULL, "bad test JSON");
    struct scn_scenario sc = {.start = T0, .end = T0 + dur, .step = poll};
    struct scn_ctx sctx = {.file = "test.json", .dir = ".", .kernel = k, .scenario = &sc};
    struct scn_obj o;
    CHECK_INT(scn_obj_init(&o, "test.json", "components[1]", j, &err), 0);
    rc = hil_modbus_battery_create(&sctx, &o, "bat", &err);
    CHECK(rc == 0, "create: %s", err.msg);
    if (rc == 0) {
        CHECK_INT(hil_kernel_has_devices(k), 1);
        rc = sim_kernel_init(k, &err);
        CHECK(rc == 0, "init: %s", err.msg);
    }
    if (rc == 0) {
        r->s_stale = sim_bus_find(k, "bat.stale");
        r->s_soc = sim_bus_find(k, "bat.soc");
        r->s_p = sim_bus_find(k, "bat.p_kw");
        r->s_failed = sim_bus_find(k, "bat.failed");
        r->s_eout = sim_bus_find(k, "bat.e_out_kwh");
        struct sim_hooks h = {.ctx = r, .sample = on_sample, .event = on_event};
        sim_kernel_set_hooks(k, &h);
        sim_kernel_set_speed(k, speed);
        rc = sim_kernel_run(k, &err);
        CHECK(rc == 0, "run: %s", err.msg);
    }
    sim_kernel_free(k);
    cJSON_Delete(j);
    return rc;
}

static void test_roundtrip(void)
{
    struct hil_emu_battery_cfg c;
    struct emu x;
    hil_emu_battery_defaults(&c);
    c.port = 0;
    c.speed = 60;
    c.t0 = T0;
    if (emu_start(&x, &c))
        return;
    char json[512];
    snprintf(json, sizeof json,
             "{\"host\": \"127.0.0.1\", \"port\": %d, \"unit_id\": 1, \"poll_period\": \"10s\","
             " \"timeout\": \"500ms\", \"setpoint\": \"ctl.sp\", \"capacity_kwh\": 20,"
             " \"soc_initial\": 0.5}",
             hil_emu_battery_port(x.e));
    struct ctl ctl = {.sp = -10, .emu = &x};
    static struct rec r;
    memset(&r, 0, sizeof r);
    const sim_time_us dur = 5 * SIM_US_PER_MIN;
    run_client(json, &ctl, 10 * SIM_US_PER_S, dur, 60, &r);

    /* What the battery model says: a lone mdl_sto for the same span. */
    struct mdl_sto_params p = c.p;
    mdl_sto *m;
    struct sim_err err;
    struct mdl_sto_state st, emu_st;
    CHECK_INT(mdl_battery_new(&p, 0.5, T0, 4, &m, &err), 0);
    CHECK_INT(mdl_sto_command(m, -10, 1, &err), 0);
    CHECK_INT(mdl_sto_advance(m, T0 + dur - 10 * SIM_US_PER_S, NULL, 0, NULL, &err), 0);
    mdl_sto_state(m, &st);
    double want_last = st.soc; /* the last poll reads the state at 290 s */
    mdl_sto_free(m);

    CHECK(r.n >= 25, "only %d samples", r.n);
    int stale = 0;
    for (int i = 0; i < r.n; i++)
        stale += r.stale[i] != 0;
    CHECK_INT(stale, 0);
    CHECK_INT(count(&r, "modbus_connect"), 1);
    CHECK_INT(count(&r, "device_lost"), 0);
    if (r.n) {
        CHECK_NEAR(r.p[r.n - 1], -10, 0.01);
        /* 0.002 SoC = 40 Wh = 14 device seconds at 10 kW: wall jitter. */
        CHECK_NEAR(r.soc[r.n - 1], want_last, 0.002);
        CHECK(r.soc[r.n - 1] < r.soc[0], "SoC did not fall");
        CHECK_NEAR(r.eout[r.n - 1], 10.0 * 290 / 3600, 0.01);
    }
    hil_emu_battery_state(x.e, &emu_st);
    /* The run ends after its last step (290 s), where the client hands the
     * device back to idle: the device stopped where the model was then. */
    CHECK_NEAR(emu_st.soc, want_last, 0.003);
    CHECK_NEAR(emu_st.p_kw, 0, 1e-9);
    fprintf(stderr, "  round trip: client SoC %.5f, device SoC %.5f, model %.5f at 290 s\n",
            r.n ? r.soc[r.n - 1] : -1, emu_st.soc, want_last);
    emu_stop(&x);
}

/* ------------------------------------------------------------------ */
/* Faults                                                              */
/* ------------------------------------------------------------------ */

static int fault_test(const char *name)
{
    enum hil_emu_fault f = !strcmp(name, "timeout")     ? HIL_EMU_MUTE
                           : !strcmp(name, "exception") ? HIL_EMU_REFUSE
                           : !strcmp(name, "drop")      ? HIL_EMU_DROP
                           : !strcmp(name, "range")     ? HIL_EMU_BAD_SOC
                                                        : 0;
    int lose = !strcmp(name, "lost");
    if (!f && !lose) {
        fprintf(stderr, "test_modbus: unknown test \"%s\"\n", name);
        return 2;
    }
    static struct hil_emu_battery_cfg c;
    static struct emu x;
    hil_emu_battery_defaults(&c);
    c.port = 0;
    c.speed = 20;
    c.t0 = T0;
    if (emu_start(&x, &c))
        return check_done(name);
    c.port = hil_emu_battery_port(x.e); /* a restart reuses it */
    char json[512];
    snprintf(json, sizeof json,
             "{\"port\": %d, \"poll_period\": \"1s\", \"timeout\": \"200ms\", \"retries\": %d,"
             " \"backoff\": \"100ms\", \"backoff_max\": \"400ms\", \"setpoint\": \"ctl.sp\"}",
             c.port, lose ? 2 : 6);
    struct ctl ctl = {.sp = -5,
                      .emu = &x,
                      .cfg = &c,
                      .fault = f,
                      .on = 10 * SIM_US_PER_S,
                      .off = (lose ? 30 : 20) * SIM_US_PER_S,
                      .lose = lose};
    static struct rec r;
    memset(&r, 0, sizeof r);
    struct timespec w0, w1;
    clock_gettime(CLOCK_MONOTONIC, &w0);
    int rc = run_client(json, &ctl, SIM_US_PER_S, (lose ? 50 : 40) * SIM_US_PER_S, 20, &r);
    clock_gettime(CLOCK_MONOTONIC, &w1);
    double wall = (double)(w1.tv_sec - w0.tv_sec) + (w1.tv_nsec - w0.tv_nsec) / 1e9;
    fprintf(stderr, "  %s: %d samples, %d events, %.2f s wall\n", name, r.n, r.nev, wall);
    CHECK_INT(rc, 0); /* the run goes on */
    CHECK(wall < 20, "took %.1f s", wall);

    /* Stale samples exist, only after the fault began; values held. */
    int first_stale = -1, nstale = 0, held = 1;
    for (int i = 0; i < r.n; i++) {
        if (r.stale[i] != 0) {
            nstale++;
            if (first_stale < 0)
                first_stale = i;
            if (i > 0 && r.failed[i] == 0 && r.soc[i] != r.soc[i - 1])
                held = 0;
        }
        CHECK(r.soc[i] >= 0 && r.soc[i] <= 1, "published SoC %g at sample %d", r.soc[i], i);
    }
    CHECK(nstale > 0, "no stale sample");
    CHECK(first_stale < 0 || r.t[first_stale] - T0 >= 10 * SIM_US_PER_S,
          "stale before the fault at %lld us", (long long)(r.t[first_stale] - T0));
    CHECK(held, "a stale sample changed the SoC");
    if (r.n) {
        CHECK_INT(r.stale[r.n - 1], 0); /* recovered */
        CHECK_INT(r.failed[r.n - 1], 0);
        CHECK_NEAR(r.p[r.n - 1], -5, 0.01);
    }

    if (f == HIL_EMU_MUTE) {
        CHECK(count(&r, "modbus_timeout") >= 1, "no modbus_timeout");
        CHECK(count(&r, "modbus_reconnect") >= 1, "no modbus_reconnect");
    } else if (f == HIL_EMU_REFUSE) {
        CHECK(count(&r, "modbus_exception") >= 1, "no modbus_exception");
        for (int i = 0; i < r.nev; i++)
            if (!strcmp(r.kind[i], "modbus_exception"))
                CHECK_INT(r.value[i], MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE);
        CHECK_INT(count(&r, "modbus_reconnect"), 0); /* the connection was fine */
    } else if (f == HIL_EMU_DROP) {
        CHECK(count(&r, "modbus_disconnect") >= 1, "no modbus_disconnect");
        CHECK(count(&r, "modbus_reconnect") >= 1, "no modbus_reconnect");
    } else if (f == HIL_EMU_BAD_SOC) {
        CHECK(count(&r, "modbus_range") >= 1, "no modbus_range");
        CHECK_INT(count(&r, "modbus_reconnect"), 0);
    }
    if (lose) {
        CHECK_INT(count(&r, "device_lost"), 1);
        CHECK_INT(count(&r, "device_back"), 1);
        for (int i = 0; i < r.nev; i++)
            if (!strcmp(r.kind[i], "device_lost"))
                CHECK_INT(r.sev[i], SIM_ALARM);
        int nfailed = 0, p_zero = 1;
        for (int i = 0; i < r.n; i++)
            if (r.failed[i] != 0) {
                nfailed++;
                p_zero &= r.p[i] == 0;
            }
        CHECK(nfailed > 0, "the asset was never marked failed");
        CHECK(p_zero, "a failed asset must publish p_kw = 0");
    } else {
        CHECK_INT(count(&r, "device_lost"), 0);
    }
    emu_stop(&x);
    return check_done(name);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return fault_test(argv[1]);
    test_values();
    test_offsets();
    test_discover();
    test_emulator_raw();
    test_roundtrip();
    return check_done("test_modbus");
}
