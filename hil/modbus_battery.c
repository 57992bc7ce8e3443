/*
 * modbus_battery.c: the "hil_modbus_battery" component, a real (or
 * emulated) battery inverter on Modbus TCP in place of the battery model.
 *
 * Every poll period it reads its setpoint signal, writes it to the device
 * through the SunSpec storage controls (model 124, convention in
 * sunspec.h), reads back AC power, SoC, limits and reserve, applies the
 * scale factors and publishes the same signals as the "battery" model,
 * plus `stale` and `failed`. The map is discovered at every (re)connection
 * from the SunS marker by walking the model chain, so any SunSpec inverter
 * with models 1, 124 and 101-103/701 (and optionally 802) works.
 *
 * Devices fail, the run must not: a timeout, an exception response, a
 * dropped connection or a value out of range marks the sample stale (the
 * last values are held, stale = 1), logs an event ("modbus_timeout",
 * "modbus_exception", "modbus_disconnect", "modbus_range", "sunspec_map")
 * and schedules the next attempt after an exponential backoff in wall
 * time; transport failures close the connection and the next attempt
 * reconnects ("modbus_reconnect"). After `retries` failed attempts in a row
 * the device is lost: "device_lost" alarm, failed = 1 and p_kw = 0 (its
 * delivery counts as nothing) until it answers again ("device_back").
 *
 * The poll blocks the kernel for at most the response timeout per
 * request; the kernel's pacing reports the lag when that matters.
 *
 * Record and replay (docs/hil.md): every fresh poll journals what the
 * device said (IN p_kw and soc), the slower device state (ratings,
 * capacity, reserve, online, stale, failed) is journaled at the first
 * step and whenever it changes, and every write is journaled as OUT
 * (setpoint_kw, storctl_mod, revert_s, rates_pct). When the kernel
 * replays a journal the component opens no connection: at each step it
 * takes the journal's last value of each channel at or before the step and
 * publishes exactly what the recorded run published, and it checks that
 * the replay commands what the recorded run commanded ("replay_diverged").
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <modbus/modbus.h>

#include "../models/models.h"
#include "hil.h"
#include "sunspec.h"

/* The device state journaled when it changes (IN), in this order. */
enum { J_CAP, J_WCHA, J_WDIS, J_FLOOR, J_ONLINE, J_STALE, J_FAILED, NJ };
static const char *const j_name[NJ] = {"capacity_wh", "p_charge_max_w", "p_discharge_max_w",
                                       "soc_reserve", "online",         "stale",
                                       "failed"};
/* The commands (OUT). */
enum { O_SETPOINT, O_STORCTL, O_REVERT, O_RATES, NO };
static const char *const o_name[NO] = {"setpoint_kw", "storctl_mod", "revert_s", "rates_pct"};

struct mbb {
    sim_kernel *k;
    int id;
    /* configuration */
    char host[256];
    char service[16];
    int port, unit, base;
    sim_time_us poll, timeout, backoff, backoff_max, revert;
    int retries;
    double soc0;
    double np_cap_kwh, np_pcha_kw, np_pdis_kw; /* the scenario's, 0 when absent */
    int sp_ref;
    /* connection */
    modbus_t *mb;
    int connected, ever_connected;
    int last_errno;
    struct suns_device dev;
    struct suns_battery_map map; /* the models read */
    /* device values */
    double wbase_w, wcha_w, wdis_w, cap_wh, floor; /* 124 WChaMax, ratings */
    int dev_online;
    /* fault state */
    int fails, lost;
    double next_try; /* monotonic seconds */
    /* published state */
    double sp, p_kw, soc, e_kwh, e0, e_in, e_out;
    int have_sample;
    sim_time_us t_last;
    int sig_p, sig_sp, sig_soc, sig_e, sig_loss, sig_in, sig_out, sig_avail, sig_stale, sig_failed;
    /* journal */
    double j_last[NJ]; /* last journaled (NaN: never, so the first step writes all) */
    int replay;        /* replaying the kernel's journal: no device */
    int h_p, h_soc, h_in[NJ], h_out[NO]; /* replay handles, -1 when absent */
    double r_stale;                      /* the replayed step's stale */
    long diverged;                       /* replayed steps whose command differs */
    int replay_told;
    uint16_t r124[2 + SUNS_M124_LEN], r802[2 + SUNS_M802_LEN], rac[SUNS_AC_READ_MAX];
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *cname(const struct mbb *b)
{
    return sim_kernel_component_name(b->k, b->id);
}

/* Journal a command sent to the device. */
static int jout(struct mbb *b, int which, double value, struct sim_err *err)
{
    if (sim_journal(b->k, b->id, SIM_JOURNAL_OUT, o_name[which], value, NULL))
        return sim_errf(err, SIM_EIO, "%s: the journal hook failed", cname(b));
    return 0;
}

/* sim_log, turning a failing event hook into a run error. */
static int logf_(struct mbb *b, const char *kind, enum sim_severity sev, double value,
                 struct sim_err *err, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int logf_(struct mbb *b, const char *kind, enum sim_severity sev, double value,
                 struct sim_err *err, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (sim_log(b->k, b->id, kind, sev, value, "%s", msg))
        return sim_errf(err, SIM_EIO, "%s: the event hook failed", cname(b));
    return 0;
}

static int is_exception(int e)
{
    return e > MODBUS_ENOBASE && e <= MODBUS_ENOBASE + MODBUS_EXCEPTION_GATEWAY_TARGET;
}

static const char *exception_name(int code)
{
    switch (code) {
    case MODBUS_EXCEPTION_ILLEGAL_FUNCTION:
        return "ILLEGAL FUNCTION";
    case MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS:
        return "ILLEGAL DATA ADDRESS";
    case MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE:
        return "ILLEGAL DATA VALUE";
    case MODBUS_EXCEPTION_SLAVE_OR_SERVER_FAILURE:
        return "SERVER DEVICE FAILURE";
    case MODBUS_EXCEPTION_ACKNOWLEDGE:
        return "ACKNOWLEDGE";
    case MODBUS_EXCEPTION_SLAVE_OR_SERVER_BUSY:
        return "SERVER DEVICE BUSY";
    case MODBUS_EXCEPTION_NEGATIVE_ACKNOWLEDGE:
        return "NEGATIVE ACKNOWLEDGE";
    case MODBUS_EXCEPTION_MEMORY_PARITY:
        return "MEMORY PARITY ERROR";
    case MODBUS_EXCEPTION_GATEWAY_PATH:
        return "GATEWAY PATH UNAVAILABLE";
    case MODBUS_EXCEPTION_GATEWAY_TARGET:
        return "GATEWAY TARGET FAILED TO RESPOND";
    default:
        return "exception";
    }
}

static void disconnect(struct mbb *b)
{
    if (b->connected)
        modbus_close(b->mb);
    b->connected = 0;
}

/* One failed attempt: log it, count it, back off, maybe declare the device
 * lost. `kind` is the event kind; transport failures disconnect. */
static int attempt_failed(struct mbb *b, const char *kind, double value, int drop,
                          struct sim_err *err, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static int attempt_failed(struct mbb *b, const char *kind, double value, int drop,
                          struct sim_err *err, const char *fmt, ...)
{
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (drop)
        disconnect(b);
    b->fails++;
    double delay = (double)b->backoff / 1e6;
    for (int i = 1; i < b->fails && delay < (double)b->backoff_max / 1e6; i++)
        delay *= 2;
    if (delay > (double)b->backoff_max / 1e6)
        delay = (double)b->backoff_max / 1e6;
    b->next_try = mono_s() + delay;
    int rc = logf_(b, kind, SIM_WARNING, value, err,
                   "%s:%d unit %d: %s (attempt %d failed, next in %.3g s; samples held)", b->host,
                   b->port, b->unit, msg, b->fails, delay);
    if (!rc && !b->lost && b->fails > b->retries) {
        b->lost = 1;
        rc = logf_(b, "device_lost", SIM_ALARM, b->fails, err,
                   "%s:%d unit %d: no valid answer in %d attempts: asset failed, its delivery "
                   "counts as 0 until it is back",
                   b->host, b->port, b->unit, b->fails);
    }
    return rc;
}

/* A libmodbus call failed: classify by errno. */
static int transport_failed(struct mbb *b, const char *what, struct sim_err *err)
{
    int e = b->last_errno ? b->last_errno : errno;
    b->last_errno = 0;
    if (is_exception(e)) {
        int code = e - MODBUS_ENOBASE;
        return attempt_failed(b, "modbus_exception", code, 0, err, "%s: exception %d (%s)", what,
                              code, exception_name(code));
    }
    if (e == ETIMEDOUT || e == EAGAIN || e == EINPROGRESS)
        return attempt_failed(b, "modbus_timeout", (double)b->timeout / 1e6, 1, err,
                              "%s: no answer within %.3g s", what, (double)b->timeout / 1e6);
    return attempt_failed(b, "modbus_disconnect", e, 1, err, "%s: %s", what, modbus_strerror(e));
}

/* suns_read_fn over the connection. */
static int read_regs(void *ctx, int addr, int n, uint16_t *dst)
{
    struct mbb *b = ctx;
    if (modbus_read_registers(b->mb, addr, n, dst) == n)
        return 0;
    b->last_errno = errno ? errno : EMBBADDATA;
    return is_exception(b->last_errno) ? 1 : -1;
}

/* Read a model's first n registers (id and length included). */
static int read_model(struct mbb *b, int addr, int n, uint16_t *dst)
{
    return read_regs(b, addr, n, dst) == 0 ? 0 : -1;
}

/* Pull limits and measurements from the blocks just read; 0, or -1 with
 * why filled when a value is out of range or not implemented. */
static int decode(struct mbb *b, double *p_kw, double *soc, char *why, size_t n)
{
    struct suns_battery_reading r;
    if (suns_battery_decode(&b->map, b->r124, b->r802, b->rac, &r, why, n))
        return -1;
    b->wbase_w = r.wbase_w;
    b->wcha_w = r.wcha_w;
    b->wdis_w = r.wdis_w;
    if (r.cap_wh > 0)
        b->cap_wh = r.cap_wh;
    b->floor = r.floor;
    b->dev_online = r.online;
    *p_kw = -r.p_ac_w / 1000; /* generator convention on the wire */
    *soc = r.soc;
    return 0;
}

/* Read every block the poll needs. */
static int read_blocks(struct mbb *b)
{
    if (read_model(b, b->map.a124, 2 + SUNS_M124_LEN, b->r124))
        return -1;
    if (b->map.a802 >= 0 && read_model(b, b->map.a802, 2 + SUNS_M802_LEN, b->r802))
        return -1;
    if (b->map.a_ac >= 0 && read_model(b, b->map.a_ac, b->map.ac_len, b->rac))
        return -1;
    return 0;
}

/* Check the scenario's nameplate against the device's, once. */
static int check_nameplate(struct mbb *b, struct sim_err *err)
{
    struct {
        const char *key;
        double scn, dev;
    } v[] = {{"capacity_kwh", b->np_cap_kwh, b->cap_wh / 1000},
             {"p_charge_max_kw", b->np_pcha_kw, b->wcha_w / 1000},
             {"p_discharge_max_kw", b->np_pdis_kw, b->wdis_w / 1000}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        if (v[i].scn > 0 && v[i].dev > 0 && fabs(v[i].dev - v[i].scn) > 0.01 * v[i].scn) {
            int rc = logf_(b, "nameplate_mismatch", SIM_INFO, v[i].dev, err,
                           "the scenario's %s is %g, the device's %g: the device rules", v[i].key,
                           v[i].scn, v[i].dev);
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* Connect, discover and take control. 0, 1 (attempt failed and logged) or
 * a run error. */
static int connect_device(struct mbb *b, struct sim_err *err)
{
    char why[256];
    errno = 0;
    if (modbus_connect(b->mb) == -1) {
        b->last_errno = errno;
        modbus_close(b->mb);
        int rc = transport_failed(b, "connect", err);
        return rc ? rc : 1;
    }
    b->connected = 1;
    int rc = suns_discover(read_regs, b, b->base, &b->dev, why, sizeof why);
    if (rc <= SUNS_ENOMARK && rc >= SUNS_ENOTCOMMON) {
        rc = attempt_failed(b, "sunspec_map", rc, 1, err, "%s", why);
        return rc ? rc : 1;
    }
    if (rc) {
        rc = transport_failed(b, "discovery", err);
        return rc ? rc : 1;
    }
    const char *bad = suns_battery_choose(&b->dev, &b->map);
    if (bad) {
        rc = attempt_failed(b, "sunspec_map", 0, 1, err, "%s", bad);
        return rc ? rc : 1;
    }

    /* Identity, for the log. */
    uint16_t id[2 + SUNS_M1_LEN];
    char mn[40] = "?", md[40] = "?", sn[40] = "?";
    if (read_regs(b, b->map.a1, 2 + SUNS_M1_LEN, id) == 0) {
        suns_get_string(&id[SUNS_M1_MN], 16, mn, sizeof mn);
        suns_get_string(&id[SUNS_M1_MD], 16, md, sizeof md);
        suns_get_string(&id[SUNS_M1_SN], 16, sn, sizeof sn);
    }
    /* Limits before the first setpoint; then take control. */
    char range[200];
    double p, soc;
    if (read_blocks(b)) {
        rc = transport_failed(b, "reading the storage models", err);
        return rc ? rc : 1;
    }
    if (decode(b, &p, &soc, range, sizeof range)) {
        rc = attempt_failed(b, "modbus_range", 0, 0, err, "%s", range);
        return rc ? rc : 1;
    }
    uint16_t revert_s = (uint16_t)((b->revert + SIM_US_PER_S - 1) / SIM_US_PER_S);
    if ((b->revert > 0 && (rc = jout(b, O_REVERT, revert_s, err)) != 0) ||
        (rc = jout(b, O_STORCTL, SUNS_STORCTL_CHARGE | SUNS_STORCTL_DISCHARGE, err)) != 0)
        return rc;
    if ((b->revert > 0 &&
         modbus_write_register(b->mb, b->map.a124 + SUNS_M124_RVRTTMS, revert_s) != 1) ||
        modbus_write_register(b->mb, b->map.a124 + SUNS_M124_STORCTL_MOD,
                              SUNS_STORCTL_CHARGE | SUNS_STORCTL_DISCHARGE) != 1) {
        rc = transport_failed(b, "taking control (StorCtl_Mod)", err);
        return rc ? rc : 1;
    }
    char models[160] = "";
    size_t used = 0;
    for (int i = 0; i < b->dev.n && used + 8 < sizeof models; i++)
        used += (size_t)snprintf(models + used, sizeof models - used, "%s%u", i ? ", " : "",
                                 b->dev.model[i].id);
    if (b->ever_connected)
        rc = logf_(b, "modbus_reconnect", SIM_INFO, b->fails, err,
                   "%s:%d unit %d: reconnected after %d failed attempts", b->host, b->port, b->unit,
                   b->fails);
    else
        rc = logf_(b, "modbus_connect", SIM_INFO, b->dev.base, err,
                   "%s:%d unit %d: %s %s (serial %s), SunSpec at %d: models %s", b->host, b->port,
                   b->unit, mn, md, sn, b->dev.base, models);
    if (!rc && !b->ever_connected)
        rc = check_nameplate(b, err);
    b->ever_connected = 1;
    return rc;
}

/* The power to command, W: the setpoint within the device's ratings, as
 * the battery model clamps. */
static double command_w(const struct mbb *b)
{
    return fmax(-b->wdis_w, fmin(b->wcha_w, 1000 * b->sp));
}

/* One attempt: connect if needed, write the setpoint, read back. Returns
 * 0 with fresh values in *p_kw and *soc, 1 when the attempt failed (logged),
 * or a run error. */
static int attempt(struct mbb *b, double *p_kw, double *soc, struct sim_err *err)
{
    int rc;
    if (!b->connected && (rc = connect_device(b, err)) != 0)
        return rc;
    double in, out;
    uint16_t rates[2];
    int sf = (int16_t)b->r124[SUNS_M124_INOUTWRTE_SF];
    if (!suns_sf_ok(b->r124[SUNS_M124_INOUTWRTE_SF])) {
        rc = attempt_failed(b, "modbus_range", 0, 0, err, "model 124 InOutWRte_SF not usable");
        return rc ? rc : 1;
    }
    double p_w = command_w(b);
    suns_rates_for_power(p_w, b->wbase_w, &in, &out);
    suns_put_i16(out, sf, &rates[0]); /* OutWRte, InWRte are adjacent */
    suns_put_i16(in, sf, &rates[1]);
    if ((rc = jout(b, O_SETPOINT, p_w / 1000, err)) != 0)
        return rc;
    errno = 0;
    if (modbus_write_registers(b->mb, b->map.a124 + SUNS_M124_OUTWRTE, 2, rates) != 2) {
        rc = transport_failed(b, "writing the setpoint (InWRte/OutWRte)", err);
        return rc ? rc : 1;
    }
    if (read_blocks(b)) {
        rc = transport_failed(b, "reading the measurements", err);
        return rc ? rc : 1;
    }
    char why[200];
    if (decode(b, p_kw, soc, why, sizeof why)) {
        rc = attempt_failed(b, "modbus_range", 0, 0, err, "%s", why);
        return rc ? rc : 1;
    }
    return 0;
}

static void publish(struct mbb *b, int stale)
{
    sim_kernel *k = b->k;
    double p = b->lost ? 0.0 : b->p_kw;
    sim_bus_set(k, b->sig_sp, b->sp);
    sim_bus_set(k, b->sig_p, p);
    sim_bus_set(k, b->sig_soc, b->soc);
    sim_bus_set(k, b->sig_e, b->e_kwh);
    sim_bus_set(k, b->sig_in, b->e_in);
    sim_bus_set(k, b->sig_out, b->e_out);
    sim_bus_set(k, b->sig_loss, b->have_sample ? b->e_in - b->e_out - (b->e_kwh - b->e0) : 0.0);
    sim_bus_set(k, b->sig_avail,
                !b->lost && b->dev_online && b->soc > b->floor + 5e-5 ? b->wdis_w / 1000 : 0.0);
    sim_bus_set(k, b->sig_stale, stale ? 1.0 : 0.0);
    sim_bus_set(k, b->sig_failed, b->lost ? 1.0 : 0.0);
}

/* Book the energy of the power published at the last step up to now. */
static void integrate(struct mbb *b, sim_time_us now)
{
    if (now > b->t_last) {
        double h = (double)(now - b->t_last) / SIM_US_PER_H;
        double p = b->lost ? 0.0 : b->p_kw;
        if (p > 0)
            b->e_in += p * h;
        else
            b->e_out -= p * h;
        b->t_last = now;
    }
}

/* A fresh answer: take its power and SoC. */
static void take_sample(struct mbb *b, double p, double soc)
{
    b->p_kw = p;
    b->soc = soc;
    b->e_kwh = soc * (b->cap_wh > 0 ? b->cap_wh / 1000 : b->np_cap_kwh);
    if (!b->have_sample) {
        b->e0 = b->e_kwh;
        b->have_sample = 1;
    }
}

static void j_values(const struct mbb *b, double stale, double v[NJ])
{
    v[J_CAP] = b->cap_wh;
    v[J_WCHA] = b->wcha_w;
    v[J_WDIS] = b->wdis_w;
    v[J_FLOOR] = b->floor;
    v[J_ONLINE] = b->dev_online;
    v[J_STALE] = stale;
    v[J_FAILED] = b->lost;
}

/* Journal this step: the fresh answer if there was one, and the device
 * state that changed since the last step (all of it at the first). */
static int journal_step(struct mbb *b, int fresh, int stale, struct sim_err *err)
{
    double v[NJ];
    j_values(b, stale, v);
    for (int i = 0; i < NJ; i++) {
        if (v[i] == b->j_last[i])
            continue;
        if (sim_journal(b->k, b->id, SIM_JOURNAL_IN, j_name[i], v[i], NULL))
            return sim_errf(err, SIM_EIO, "%s: the journal hook failed", cname(b));
        b->j_last[i] = v[i];
    }
    if (fresh && (sim_journal(b->k, b->id, SIM_JOURNAL_IN, "p_kw", b->p_kw, NULL) ||
                  sim_journal(b->k, b->id, SIM_JOURNAL_IN, "soc", b->soc, NULL)))
        return sim_errf(err, SIM_EIO, "%s: the journal hook failed", cname(b));
    return 0;
}

/* Replay: the recorded commands up to now, journaled again, the setpoint
 * as this replay commands it. A setpoint that differs from the recorded
 * one means the replay no longer repeats the recorded run (the scenario
 * or a model changed): the device's recorded answers then belong to
 * other commands. Logged at the first, counted at the end. */
static int replay_commands(struct mbb *b, sim_time_us now, struct sim_err *err)
{
    for (int i = 0; i < NO; i++) {
        sim_time_us te;
        double v;
        while (sim_replay_next(b->k, b->h_out[i], now, &te, &v, NULL) == 0) {
            if (i == O_SETPOINT) {
                double mine = command_w(b) / 1000;
                if (!(fabs(mine - v) <= 1e-9 * fmax(1.0, fabs(v))) && b->diverged++ == 0) {
                    int rc = logf_(b, "replay_diverged", SIM_WARNING, mine - v, err,
                                   "the replay commands %.6g kW where the recorded run commanded "
                                   "%.6g kW: from here on the device's recorded answers belong "
                                   "to other commands",
                                   mine, v);
                    if (rc)
                        return rc;
                }
                v = mine;
            }
            if (sim_journal(b->k, b->id, SIM_JOURNAL_OUT, o_name[i], v, NULL))
                return sim_errf(err, SIM_EIO, "%s: the journal hook failed", cname(b));
        }
    }
    return 0;
}

/* Replay: the device state at now from the journal, then the answer if the
 * recorded step had a fresh one. Returns 0, 1 when the answer is fresh, or
 * a run error. */
static int replay_state(struct mbb *b, sim_time_us now, struct sim_err *err)
{
    double v;
    for (int i = 0; i < NJ; i++) {
        if (sim_replay_at(b->k, b->h_in[i], now, &v, NULL))
            continue;
        switch (i) {
        case J_CAP:
            b->cap_wh = v;
            break;
        case J_WCHA:
            b->wcha_w = v;
            break;
        case J_WDIS:
            b->wdis_w = v;
            break;
        case J_FLOOR:
            b->floor = v;
            break;
        case J_ONLINE:
            b->dev_online = v != 0;
            break;
        case J_STALE:
            b->r_stale = v;
            break;
        case J_FAILED:
            b->lost = v != 0;
            break;
        }
    }
    if (b->r_stale != 0)
        return 0;
    double p, soc;
    if (sim_replay_at(b->k, b->h_p, now, &p, NULL) ||
        sim_replay_at(b->k, b->h_soc, now, &soc, NULL))
        return sim_errf(err, SIM_EINVAL,
                        "%s: the journal has a fresh sample without p_kw and soc at this time",
                        cname(b));
    take_sample(b, p, soc);
    return 1;
}

static int replay_init(struct mbb *b, sim_kernel *k, struct sim_err *err)
{
    if (sim_replay_count(k, b->id) <= 0)
        return sim_errf(err, SIM_ENOENT,
                        "%s: the replayed journal has nothing from this device (the run was "
                        "recorded without it, or before journaling)",
                        cname(b));
    b->replay = 1;
    sim_replay_find(k, b->id, SIM_JOURNAL_IN, "p_kw", &b->h_p);
    sim_replay_find(k, b->id, SIM_JOURNAL_IN, "soc", &b->h_soc);
    for (int i = 0; i < NJ; i++)
        sim_replay_find(k, b->id, SIM_JOURNAL_IN, j_name[i], &b->h_in[i]);
    for (int i = 0; i < NO; i++)
        sim_replay_find(k, b->id, SIM_JOURNAL_OUT, o_name[i], &b->h_out[i]);
    b->t_last = sim_kernel_config(k)->start;
    return 0;
}

static int replay_step(struct mbb *b, sim_time_us now, struct sim_err *err)
{
    int rc;
    if (!b->replay_told) {
        b->replay_told = 1;
        if ((rc = logf_(b, "replay", SIM_INFO, (double)sim_replay_count(b->k, b->id), err,
                        "replaying %ld journal entries in place of %s:%d unit %d (no connection)",
                        sim_replay_count(b->k, b->id), b->host, b->port, b->unit)) != 0)
            return rc;
    }
    int fresh = replay_state(b, now, err);
    if (fresh < 0)
        return fresh;
    if ((rc = replay_commands(b, now, err)) != 0 ||
        (rc = journal_step(b, fresh, b->r_stale != 0, err)) != 0)
        return rc;
    publish(b, b->r_stale != 0);
    return 0;
}

static int mbb_init(void *self, sim_kernel *k, struct sim_err *err)
{
    struct mbb *b = self;
    if (sim_kernel_replaying(k))
        return replay_init(b, k, err);
    b->mb = modbus_new_tcp_pi(b->host, b->service);
    if (!b->mb)
        return sim_errf(err, SIM_EINVAL, "%s: %s:%s: %s", cname(b), b->host, b->service,
                        modbus_strerror(errno));
    modbus_set_slave(b->mb, b->unit);
    uint32_t s = (uint32_t)(b->timeout / SIM_US_PER_S), us = (uint32_t)(b->timeout % SIM_US_PER_S);
    modbus_set_response_timeout(b->mb, s, us);
    modbus_set_byte_timeout(b->mb, s, us);
    modbus_set_error_recovery(b->mb, MODBUS_ERROR_RECOVERY_NONE);
    b->t_last = sim_kernel_config(k)->start;
    b->next_try = 0;
    return 0;
}

static int mbb_step(void *self, sim_kernel *k, sim_time_us now, struct sim_err *err)
{
    struct mbb *b = self;
    double sp = b->sp_ref >= 0 ? sim_bus_get_ref(k, b->sp_ref) : 0.0;
    if (!isfinite(sp))
        return sim_errf(err, SIM_EFAIL, "%s: setpoint is not a number (%g)", cname(b), sp);
    b->sp = sp;
    integrate(b, now);
    if (b->replay)
        return replay_step(b, now, err);
    int stale = 1, rc = 0;
    if (mono_s() >= b->next_try) {
        double p, soc;
        rc = attempt(b, &p, &soc, err);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            stale = 0;
            if (b->lost && (rc = logf_(b, "device_back", SIM_INFO, b->fails, err,
                                       "%s:%d unit %d answers again after %d failed attempts",
                                       b->host, b->port, b->unit, b->fails)) != 0)
                return rc;
            b->lost = 0;
            b->fails = 0;
            take_sample(b, p, soc);
        }
    }
    if ((rc = journal_step(b, !stale, stale, err)) != 0)
        return rc;
    publish(b, stale);
    return 0;
}

static int mbb_finish(void *self, sim_kernel *k, sim_time_us now, struct sim_err *err)
{
    (void)k;
    struct mbb *b = self;
    integrate(b, now);
    int rc = 0;
    if (b->replay) {
        publish(b, b->r_stale != 0);
        rc = replay_commands(b, now, err);
        if (!rc && b->diverged > 1)
            rc = logf_(b, "replay_diverged", SIM_WARNING, (double)b->diverged, err,
                       "%ld replayed commands differed from the recorded ones", b->diverged);
        return rc;
    }
    if (b->mb)
        publish(b, b->fails > 0 || !b->have_sample);
    /* Hand the device back: no limits, which idles it (best effort). */
    if (b->connected) {
        uint16_t full[2];
        int sf = (int16_t)b->r124[SUNS_M124_INOUTWRTE_SF];
        suns_put_i16(100.0, sf, &full[0]);
        suns_put_i16(100.0, sf, &full[1]);
        rc = jout(b, O_STORCTL, 0, err);
        if (!rc && modbus_write_register(b->mb, b->map.a124 + SUNS_M124_STORCTL_MOD, 0) == 1 &&
            !(rc = jout(b, O_RATES, 100, err)))
            modbus_write_registers(b->mb, b->map.a124 + SUNS_M124_OUTWRTE, 2, full);
        disconnect(b);
    }
    return rc;
}

static void mbb_destroy(void *self)
{
    struct mbb *b = self;
    if (!b)
        return;
    if (b->mb) {
        disconnect(b);
        modbus_free(b->mb);
    }
    free(b);
}

static const struct sim_component_ops mbb_ops = {
    .type = "hil_modbus_battery",
    .init = mbb_init,
    .step = mbb_step,
    .finish = mbb_finish,
    .destroy = mbb_destroy,
};

/* ------------------------------------------------------------------ */
/* Factory                                                             */
/* ------------------------------------------------------------------ */

/* The battery model's keys that a device's nameplate replaces. */
static const char *const model_keys[] = {"soc_min",
                                         "soc_max",
                                         "eta_charge",
                                         "eta_discharge",
                                         "round_trip_efficiency",
                                         "standby_loss_kw",
                                         "ramp_kw_per_s",
                                         "latency",
                                         NULL};

int hil_modbus_battery_create(struct scn_ctx *ctx, struct scn_obj *cfg, const char *name,
                              struct sim_err *err)
{
    struct mbb *b = calloc(1, sizeof *b);
    if (!b)
        return sim_errf(err, SIM_ENOMEM, "%s: %s: out of memory", ctx->file, cfg->path);
    const char *host, *setpoint = NULL, *backend = NULL;
    long long port, unit, base, retries;
    int rc;
    b->sp_ref = -1;
    sim_time_us step = ctx->scenario ? ctx->scenario->step : SIM_US_PER_S;
    if ((rc = scn_string(cfg, "backend", 0, "modbus", &backend, err)) != 0)
        goto fail;
    if (strcmp(backend, "modbus")) {
        rc = scn_errf(cfg, "backend", err, "expected \"modbus\", got \"%s\"", backend);
        goto fail;
    }
    if ((rc = scn_string(cfg, "host", 0, "127.0.0.1", &host, err)) != 0 ||
        (rc = scn_int(cfg, "port", 0, 502, 1, 65535, &port, err)) != 0 ||
        (rc = scn_int(cfg, "unit_id", 0, 1, 0, 255, &unit, err)) != 0 ||
        (rc = scn_int(cfg, "base_address", 0, -1, -1, 50000, &base, err)) != 0 ||
        (rc = scn_duration(cfg, "poll_period", 0, step, SIM_US_PER_S / 100, 24 * SIM_US_PER_H,
                           &b->poll, err)) != 0 ||
        (rc = scn_duration(cfg, "timeout", 0, SIM_US_PER_S, 1000, 60 * SIM_US_PER_S, &b->timeout,
                           err)) != 0 ||
        (rc = scn_int(cfg, "retries", 0, 3, 0, 1000000, &retries, err)) != 0 ||
        (rc = scn_duration(cfg, "backoff", 0, SIM_US_PER_S, 0, SIM_US_PER_H, &b->backoff, err)) !=
            0 ||
        (rc = scn_duration(cfg, "backoff_max", 0, 30 * SIM_US_PER_S, 0, SIM_US_PER_H,
                           &b->backoff_max, err)) != 0 ||
        (rc = scn_duration(cfg, "revert", 0, 0, 0, 65535 * SIM_US_PER_S, &b->revert, err)) != 0 ||
        (rc = scn_string(cfg, "setpoint", 0, NULL, &setpoint, err)) != 0 ||
        (rc = scn_number(cfg, "soc_initial", 0, 0, 0, 1, &b->soc0, err)) != 0 ||
        (rc = scn_number(cfg, "capacity_kwh", 0, 0, 0, MDL_MAX_ENERGY_KWH, &b->np_cap_kwh, err)) !=
            0 ||
        (rc = scn_number(cfg, "p_charge_max_kw", 0, 0, 0, MDL_MAX_POWER_KW, &b->np_pcha_kw, err)) !=
            0 ||
        (rc = scn_number(cfg, "p_discharge_max_kw", 0, 0, 0, MDL_MAX_POWER_KW, &b->np_pdis_kw,
                         err)) != 0)
        goto fail;
    if (base != -1 && base != 0 && base != 40000 && base != 50000) {
        rc = scn_errf(cfg, "base_address", err, "expected 40000, 0 or 50000, got %lld", base);
        goto fail;
    }
    if (b->backoff_max < b->backoff) {
        rc = scn_errf(cfg, "backoff_max", err, "expected a duration >= backoff");
        goto fail;
    }
    if (strlen(host) >= sizeof b->host || !*host) {
        rc = scn_errf(cfg, "host", err, "expected a host name or address");
        goto fail;
    }
    for (int i = 0; model_keys[i]; i++)
        scn_take(cfg, model_keys[i]);
    if ((rc = scn_obj_finish(cfg, err)) != 0)
        goto fail;
    snprintf(b->host, sizeof b->host, "%s", host);
    snprintf(b->service, sizeof b->service, "%lld", port);
    b->port = (int)port;
    b->unit = (int)unit;
    b->base = (int)base;
    b->retries = (int)retries;
    b->soc = b->soc0;
    b->e_kwh = b->soc0 * b->np_cap_kwh;
    b->wdis_w = 1000 * b->np_pdis_kw;
    b->dev_online = 1;
    b->k = ctx->kernel;
    b->r_stale = 1;
    b->h_p = b->h_soc = -1;
    for (int i = 0; i < NJ; i++) {
        b->j_last[i] = NAN;
        b->h_in[i] = -1;
    }
    for (int i = 0; i < NO; i++)
        b->h_out[i] = -1;

    /* From here on the kernel owns b. */
    if ((rc = sim_kernel_add(ctx->kernel, name, &mbb_ops, b, b->poll, &b->id, err)) != 0)
        return rc;
    const unsigned R = SIM_SIG_RECORD, RS = SIM_SIG_RECORD | SIM_SIG_STATE;
    sim_kernel *k = ctx->kernel;
    if ((rc = sim_bus_publish(k, b->id, "p_kw", "kW", R, 0, &b->sig_p, err)) != 0 ||
        (rc = sim_bus_publish(k, b->id, "setpoint_kw", "kW", R, 0, &b->sig_sp, err)) != 0 ||
        (rc = sim_bus_publish(k, b->id, "soc", "1", RS, b->soc0, &b->sig_soc, err)) != 0 ||
        (rc = sim_bus_publish(k, b->id, "e_kwh", "kWh", RS, b->e_kwh, &b->sig_e, err)) != 0 ||
        (rc = sim_bus_publish(k, b->id, "loss_kwh", "kWh", RS, 0, &b->sig_loss, err)) != 0 ||
        (rc = sim_bus_publish(k, b->id, "e_in_kwh", "kWh", RS, 0, &b->sig_in, err)) != 0 ||
        (rc = sim_bus_publish(k, b->id, "e_out_kwh", "kWh", RS, 0, &b->sig_out, err)) != 0 ||
        (rc = sim_bus_publish(k, b->id, "available_discharge_kw", "kW", R, 0, &b->sig_avail,
                              err)) != 0 ||
        (rc = sim_bus_publish(k, b->id, "stale", "1", R, 1, &b->sig_stale, err)) != 0 ||
        (rc = sim_bus_publish(k, b->id, "failed", "1", R, 0, &b->sig_failed, err)) != 0)
        return rc;
    if (setpoint) {
        char path[SCN_PATH_MAX], origin[SCN_PATH_MAX + 256];
        scn_path_join(path, sizeof path, cfg->path, "setpoint");
        snprintf(origin, sizeof origin, "%s: %s", ctx->file, path);
        if ((rc = sim_bus_read(k, b->id, setpoint, SIM_READ_NOW, origin, &b->sp_ref, err)) != 0)
            return rc;
    }
    return 0;
fail:
    mbb_destroy(b);
    return rc;
}

const struct scn_type hil_modbus_battery_type = {
    .type = "hil_modbus_battery",
    .summary = "battery inverter on Modbus TCP (SunSpec 1/103/124/802): setpoints out, "
               "power and SoC back, faults survived",
    .create = hil_modbus_battery_create,
};

int hil_kernel_replayable(const sim_kernel *k, char *why, size_t n)
{
    /* Device components that replay their journal (docs/hil.md,
     * "Journaling a device component"). */
    static const char *const replays[] = {"hil_modbus_battery", "hil_ocpp_ev", "hil_ocpp_cs", NULL};
    int nc = sim_kernel_component_count(k);
    for (int i = 0; i < nc; i++) {
        const char *t = sim_kernel_component_type(k, i);
        if (!t || strncmp(t, "hil_", 4))
            continue;
        int ok = 0;
        for (int j = 0; replays[j] && !ok; j++)
            ok = !strcmp(t, replays[j]);
        if (!ok) {
            if (why && n)
                snprintf(why, n, "component %s (%s) cannot replay a journal yet",
                         sim_kernel_component_name(k, i), t);
            return 0;
        }
    }
    return 1;
}

int hil_kernel_has_devices(const sim_kernel *k)
{
    int n = sim_kernel_component_count(k);
    for (int i = 0; i < n; i++) {
        const char *t = sim_kernel_component_type(k, i);
        if (t && !strncmp(t, "hil_", 4))
            return 1;
    }
    return 0;
}
