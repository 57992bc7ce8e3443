/*
 * emulator_battery.c: a battery inverter on Modbus TCP, made of flexbed's
 * battery model (models/battery.h) behind the SunSpec map of sunspec.h.
 *
 * `flexbed emulate battery --port 1502` answers any Modbus TCP client
 * (flexbed's own hil_modbus_battery component, mbpoll, a SCADA) so that the
 * HIL path is exercised without hardware. One thread serves every
 * connection with poll(2) and libmodbus (modbus_receive / modbus_reply on a
 * holding-register mapping that starts at the SunS marker). The model runs
 * on device time, the wall clock times --speed since start, and is advanced
 * before every answer, so what a client reads is the battery "now".
 *
 * Writes are checked before they land (libmodbus' own reply would accept
 * anything): read-only points answer ILLEGAL DATA ADDRESS, out-of-range
 * values (a rate beyond +-100 %, an unknown StorCtl_Mod bit) ILLEGAL DATA
 * VALUE, and nothing of a refused request is written. Accepted control
 * writes become a model command at once (the model applies its latency
 * and ramp). InOutWRte_RvrtTms is honoured: without a fresh rate write
 * within that many device seconds the device reverts to idle.
 *
 * Tests switch faults on and off from another thread (hil.h): mute, drop
 * every connection, refuse writes, report an impossible SoC.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <modbus/modbus.h>

#include "../models/battery.h"
#include "hil.h"
#include "sunspec.h"

#define EMU_MAX_CLIENTS 16
#define EMU_MAX_EV 8

struct hil_emu_battery {
    struct hil_emu_battery_cfg cfg;
    char bind[64];
    char serial[40];
    modbus_t *mb;
    modbus_mapping_t *map;
    int listen_fd;
    int port;
    int client[EMU_MAX_CLIENTS];
    int nclients;
    struct suns_layout lay;
    struct suns_nameplate np;
    mdl_sto *m;
    struct timespec mono0;
    sim_time_us t0;
    pthread_mutex_t lock;
    atomic_int mute, refuse, bad_soc, drop, stop;
    atomic_ulong requests;
    /* control state derived from the writable points */
    double cmd_w;
    sim_time_us t_rate_write; /* device time of the last rate write */
    double e_out_wh;
    uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
};

static void emu_log(hil_emu_battery *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emu_log(hil_emu_battery *e, const char *fmt, ...)
{
    if (!e->cfg.log)
        return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    e->cfg.log(e->cfg.log_ctx, msg);
}

void hil_emu_battery_defaults(struct hil_emu_battery_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->bind = "127.0.0.1";
    c->port = 1502;
    c->unit = 1;
    c->base = SUNS_BASE_DEFAULT;
    c->speed = 1.0;
    mdl_battery_params_default(&c->p);
    c->p.capacity_kwh = 20;
    c->p.p_charge_max_kw = 10;
    c->p.p_discharge_max_kw = 10;
    c->soc0 = 0.5;
    c->v_nom = 400;
    c->serial = "FLEXBED-EMU-0001";
}

/* Device time: t0 plus the wall time since start times speed. */
static sim_time_us device_now(const hil_emu_battery *e)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double wall_us =
        (double)(ts.tv_sec - e->mono0.tv_sec) * 1e6 + (double)(ts.tv_nsec - e->mono0.tv_nsec) / 1e3;
    return e->t0 + (sim_time_us)(wall_us * e->cfg.speed);
}

#define REGP(model, off) (&e->map->tab_registers[(model)-e->lay.base + (off)])

/* Advance the model to the device time and write its state into the map. */
static void refresh(hil_emu_battery *e)
{
    struct mdl_sto_event ev[EMU_MAX_EV];
    struct mdl_sto_state st;
    struct sim_err err;
    int nev = 0;
    sim_time_us now = device_now(e);
    mdl_sto_state(e->m, &st);
    if (now > st.t) {
        double e_out0 = st.e_out_kwh;
        if (mdl_sto_advance(e->m, now, ev, EMU_MAX_EV, &nev, &err) != 0)
            emu_log(e, "model: %s", err.msg);
        for (int i = 0; i < nev && i < EMU_MAX_EV; i++)
            emu_log(e, "SoC %.2f %% reached the %s", 100 * ev[i].soc,
                    ev[i].kind == MDL_STO_SOC_MIN ? "floor: discharge stopped"
                                                  : "ceiling: charge stopped");
        mdl_sto_state(e->m, &st);
        e->e_out_wh += 1000 * (st.e_out_kwh - e_out0);
    }
    /* Revert to idle when the rates were not refreshed in time. */
    uint16_t *mod = REGP(e->lay.m124, SUNS_M124_STORCTL_MOD);
    uint16_t rvrt = *REGP(e->lay.m124, SUNS_M124_RVRTTMS);
    if (*mod && rvrt && now - e->t_rate_write > (sim_time_us)rvrt * SIM_US_PER_S) {
        *mod = 0;
        suns_put_i16(100.0, -2, REGP(e->lay.m124, SUNS_M124_INWRTE));
        suns_put_i16(100.0, -2, REGP(e->lay.m124, SUNS_M124_OUTWRTE));
        if (e->cmd_w != 0 && mdl_sto_command(e->m, 0.0, 1.0, &err) == 0)
            e->cmd_w = 0;
        emu_log(e, "no rate write for %u s: reverted to idle", rvrt);
        mdl_sto_state(e->m, &st);
    }
    double p_w = 1000 * st.p_kw;
    const struct mdl_sto_params *p = mdl_sto_params_of(e->m);
    struct suns_battery_values v = {
        .p_ac_w = p_w,
        .p_dc_w = p_w >= 0 ? p_w * p->eta_charge : p_w / p->eta_discharge,
        .soc = st.soc,
        .e_out_wh = e->e_out_wh,
        .soc_rsv_min = p->soc_min,
        .online = st.online,
        .at_floor = st.at_floor,
        .at_ceiling = st.at_ceiling,
        .heartbeat = (uint16_t)(((now - e->t0) / SIM_US_PER_S) & 0xFFFF),
    };
    suns_update_battery(e->map->tab_registers, &e->lay, &e->np, &v);
    *REGP(e->lay.m802, SUNS_M802_LOCREMCTL) = atomic_load(&e->refuse) ? 1 : 0;
    if (atomic_load(&e->bad_soc)) {
        suns_put_u16(150.0, -2, REGP(e->lay.m124, SUNS_M124_CHASTATE));
        suns_put_u16(150.0, -2, REGP(e->lay.m802, SUNS_M802_SOC));
    }
}

/* ------------------------------------------------------------------ */
/* Writes                                                              */
/* ------------------------------------------------------------------ */

static int in_model(int addr, int model, int off)
{
    return addr == model + off;
}

/* Check one register write; 0 or a Modbus exception code. */
static int check_reg(const hil_emu_battery *e, int addr, uint16_t v)
{
    const struct suns_layout *l = &e->lay;
    const uint16_t *m124 = REGP(l->m124, 0), *m802 = REGP(l->m802, 0);
    double pct;
    if (in_model(addr, l->m1, SUNS_M1_DA))
        return v >= 1 && v <= 247 ? 0 : MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
    if (in_model(addr, l->m124, SUNS_M124_WCHAMAX)) {
        double w = suns_get_u16(v, m124[SUNS_M124_WCHAMAX_SF]);
        /* The rates' base: positive, at most the inverter's largest rating. */
        return w > 0 && w <= fmax(e->np.wcha_max_w, e->np.wdis_max_w)
                   ? 0
                   : MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
    }
    if (in_model(addr, l->m124, SUNS_M124_WCHAGRA) ||
        in_model(addr, l->m124, SUNS_M124_WDISCHAGRA) ||
        in_model(addr, l->m124, SUNS_M124_WINTMS) || in_model(addr, l->m124, SUNS_M124_RVRTTMS) ||
        in_model(addr, l->m124, SUNS_M124_RMPTMS) || in_model(addr, l->m802, SUNS_M802_CTRLHB))
        return 0;
    if (in_model(addr, l->m124, SUNS_M124_STORCTL_MOD))
        return v & ~(SUNS_STORCTL_CHARGE | SUNS_STORCTL_DISCHARGE)
                   ? MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE
                   : 0;
    if (in_model(addr, l->m124, SUNS_M124_OUTWRTE) || in_model(addr, l->m124, SUNS_M124_INWRTE)) {
        pct = suns_get_i16(v, m124[SUNS_M124_INOUTWRTE_SF]);
        return isfinite(pct) && fabs(pct) <= 100.0 ? 0 : MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
    }
    if (in_model(addr, l->m124, SUNS_M124_MINRSVPCT) ||
        in_model(addr, l->m802, SUNS_M802_SOCRSVMIN)) {
        /* The reserve lies between the nameplate floor and ceiling. */
        pct = suns_get_u16(v, (uint16_t)-2);
        return isfinite(pct) && pct >= 100 * e->np.soc_min - 1e-9 && pct < 100 * e->np.soc_max
                   ? 0
                   : MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
    }
    if (in_model(addr, l->m802, SUNS_M802_SOCRSVMAX)) {
        pct = suns_get_u16(v, m802[SUNS_M802_SOC_SF]);
        return isfinite(pct) && pct <= 100 * e->np.soc_max + 1e-9 && pct > 100 * e->np.soc_min
                   ? 0
                   : MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
    }
    if (in_model(addr, l->m124, SUNS_M124_CHAGRISET) || in_model(addr, l->m802, SUNS_M802_ALMRST))
        return v <= 1 ? 0 : MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
    if (in_model(addr, l->m802, SUNS_M802_SETOP))
        return v == 1 || v == 2 ? 0 : MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
    if (in_model(addr, l->m802, SUNS_M802_SETINVSTATE))
        return v >= 1 && v <= 3 ? 0 : MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
    return MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS; /* read-only or padding */
}

/* The command the control points ask for, in W. */
static double wanted_w(hil_emu_battery *e)
{
    const uint16_t *m124 = REGP(e->lay.m124, 0);
    double wcha = suns_get_u16(m124[SUNS_M124_WCHAMAX], m124[SUNS_M124_WCHAMAX_SF]);
    double in = suns_get_i16(m124[SUNS_M124_INWRTE], m124[SUNS_M124_INOUTWRTE_SF]);
    double out = suns_get_i16(m124[SUNS_M124_OUTWRTE], m124[SUNS_M124_INOUTWRTE_SF]);
    if (!isfinite(wcha))
        wcha = fmax(e->np.wcha_max_w, e->np.wdis_max_w);
    double w = suns_power_for_rates(m124[SUNS_M124_STORCTL_MOD], isfinite(in) ? in : 100,
                                    isfinite(out) ? out : 100, wcha);
    /* Within the ratings (the model clamps too; this keeps cmd_w honest). */
    return fmax(-e->np.wdis_max_w, fmin(e->np.wcha_max_w, w));
}

/* Apply the map's control points to the model; 0 or an exception code. */
static int apply_controls(hil_emu_battery *e, int rates_written)
{
    struct sim_err err;
    const uint16_t *m802 = REGP(e->lay.m802, 0);
    int online = m802[SUNS_M802_SETOP] == 1 && m802[SUNS_M802_SETINVSTATE] != 1;
    struct mdl_sto_state st;
    mdl_sto_state(e->m, &st);
    if (online != st.online) {
        mdl_sto_set_online(e->m, online);
        e->cmd_w = 0; /* connecting clears the model's commands */
        emu_log(e, "battery %s", online ? "connected" : "disconnected");
    }
    double floor = suns_get_u16(m802[SUNS_M802_SOCRSVMIN], m802[SUNS_M802_SOC_SF]) / 100.0;
    if (isfinite(floor) && fabs(floor - mdl_sto_params_of(e->m)->soc_min) > 1e-9)
        mdl_sto_set_soc_min(e->m, floor);
    double w = wanted_w(e);
    if (rates_written)
        e->t_rate_write = device_now(e);
    if (w != e->cmd_w || (online && !st.online)) {
        int rc = mdl_sto_command(e->m, w / 1000.0, 1.0, &err);
        if (rc) {
            emu_log(e, "command %.0f W refused: %s", w, err.msg);
            return MODBUS_EXCEPTION_SLAVE_OR_SERVER_BUSY;
        }
        emu_log(e, "setpoint %.0f W", w);
        e->cmd_w = w;
    }
    return 0;
}

/* A write request (function 6 or 16): check everything, write it to the
 * map, apply it; roll back on failure. Returns 0 (then modbus_reply echoes
 * it) or an exception code. */
static int handle_write(hil_emu_battery *e, int fc, const uint8_t *q, int len, int h)
{
    int addr = q[h + 1] << 8 | q[h + 2];
    int n;
    uint16_t v[123], old[123];
    if (fc == MODBUS_FC_WRITE_SINGLE_REGISTER) {
        if (len < h + 5)
            return MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
        n = 1;
        v[0] = (uint16_t)(q[h + 3] << 8 | q[h + 4]);
    } else {
        n = q[h + 3] << 8 | q[h + 4];
        if (n < 1 || n > 123 || q[h + 5] != 2 * n || len < h + 6 + 2 * n)
            return MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
        for (int i = 0; i < n; i++)
            v[i] = (uint16_t)(q[h + 6 + 2 * i] << 8 | q[h + 7 + 2 * i]);
    }
    if (addr < e->lay.base || addr + n > e->lay.base + e->lay.nregs)
        return MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS;
    for (int i = 0; i < n; i++) {
        int x = check_reg(e, addr + i, v[i]);
        if (x)
            return x;
    }
    if (atomic_load(&e->refuse))
        return MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
    int rates = 0, rsv124 = -1, rsv802 = -1;
    for (int i = 0; i < n; i++) {
        int a = addr + i;
        old[i] = *REGP(a, 0);
        *REGP(a, 0) = v[i];
        rates |= a == e->lay.m124 + SUNS_M124_INWRTE || a == e->lay.m124 + SUNS_M124_OUTWRTE ||
                 a == e->lay.m124 + SUNS_M124_STORCTL_MOD;
        if (a == e->lay.m124 + SUNS_M124_MINRSVPCT)
            rsv124 = v[i];
        if (a == e->lay.m802 + SUNS_M802_SOCRSVMIN)
            rsv802 = v[i];
    }
    /* The two reserve points are one setting (both at SF -2). */
    uint16_t old124 = *REGP(e->lay.m124, SUNS_M124_MINRSVPCT);
    uint16_t old802 = *REGP(e->lay.m802, SUNS_M802_SOCRSVMIN);
    if (rsv124 >= 0 && rsv802 < 0)
        *REGP(e->lay.m802, SUNS_M802_SOCRSVMIN) = (uint16_t)rsv124;
    if (rsv802 >= 0)
        *REGP(e->lay.m124, SUNS_M124_MINRSVPCT) = (uint16_t)rsv802;
    int x = apply_controls(e, rates);
    if (x) {
        for (int i = n - 1; i >= 0; i--)
            *REGP(addr + i, 0) = old[i];
        *REGP(e->lay.m124, SUNS_M124_MINRSVPCT) = old124;
        *REGP(e->lay.m802, SUNS_M802_SOCRSVMIN) = old802;
        apply_controls(e, 0);
    }
    return x;
}

/* Answer one request on the current socket (lock held). */
static void handle_request(hil_emu_battery *e, int len)
{
    const uint8_t *q = e->query;
    int h = modbus_get_header_length(e->mb);
    if (len <= h)
        return;
    if (atomic_load(&e->mute))
        return; /* swallowed: the client times out */
    int unit = q[h - 1], fc = q[h];
    int x = 0;
    refresh(e);
    if (unit != e->cfg.unit && unit != 0 && unit != 0xFF) {
        x = MODBUS_EXCEPTION_GATEWAY_TARGET;
    } else if (fc == MODBUS_FC_WRITE_SINGLE_REGISTER || fc == MODBUS_FC_WRITE_MULTIPLE_REGISTERS) {
        x = handle_write(e, fc, q, len, h);
        if (!x)
            refresh(e);
    } else if (fc != MODBUS_FC_READ_HOLDING_REGISTERS) {
        x = MODBUS_EXCEPTION_ILLEGAL_FUNCTION; /* SunSpec is holding registers only */
    }
    int rc =
        x ? modbus_reply_exception(e->mb, q, (unsigned)x) : modbus_reply(e->mb, q, len, e->map);
    if (rc >= 0)
        atomic_fetch_add(&e->requests, 1);
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                          */
/* ------------------------------------------------------------------ */

int hil_emu_battery_new(const struct hil_emu_battery_cfg *c, hil_emu_battery **out,
                        struct sim_err *err)
{
    *out = NULL;
    struct suns_layout lay;
    if (suns_layout_battery(c->base, &lay))
        return sim_errf(err, SIM_EINVAL, "emulate battery: base %d: expected 40000, 0 or 50000",
                        c->base);
    if (c->port < 0 || c->port > 65535)
        return sim_errf(err, SIM_EINVAL, "emulate battery: port %d out of range", c->port);
    if (c->unit < 1 || c->unit > 247)
        return sim_errf(err, SIM_EINVAL, "emulate battery: unit %d: expected 1 to 247", c->unit);
    if (!(c->speed > 0 && c->speed <= 1e6))
        return sim_errf(err, SIM_EINVAL, "emulate battery: speed %g: expected > 0", c->speed);
    if (!(c->soc0 >= 0 && c->soc0 <= 1))
        return sim_errf(err, SIM_EINVAL, "emulate battery: soc %g: expected [0, 1]", c->soc0);
    const char *bad = mdl_sto_params_invalid(&c->p);
    if (bad)
        return sim_errf(err, SIM_EINVAL, "emulate battery: %s: value out of range", bad);
    if (!(c->p.p_charge_max_kw > 0 && c->p.p_discharge_max_kw > 0))
        return sim_errf(err, SIM_EINVAL,
                        "emulate battery: the charge and discharge limits must be > 0");

    hil_emu_battery *e = calloc(1, sizeof *e);
    if (!e)
        return sim_errf(err, SIM_ENOMEM, "emulate battery: out of memory");
    e->cfg = *c;
    snprintf(e->bind, sizeof e->bind, "%s", c->bind ? c->bind : "127.0.0.1");
    snprintf(e->serial, sizeof e->serial, "%s", c->serial ? c->serial : "FLEXBED-EMU");
    e->cfg.bind = e->bind;
    e->cfg.serial = e->serial;
    e->listen_fd = -1;
    e->lay = lay;
    pthread_mutex_init(&e->lock, NULL);
    clock_gettime(CLOCK_MONOTONIC, &e->mono0);
    if (c->t0) {
        e->t0 = c->t0;
    } else {
        struct timespec rt;
        clock_gettime(CLOCK_REALTIME, &rt);
        e->t0 = (sim_time_us)rt.tv_sec * SIM_US_PER_S + rt.tv_nsec / 1000;
    }
    e->np = (struct suns_nameplate){
        .capacity_wh = 1000 * c->p.capacity_kwh,
        .wcha_max_w = 1000 * c->p.p_charge_max_kw,
        .wdis_max_w = 1000 * c->p.p_discharge_max_kw,
        .soc_min = c->p.soc_min,
        .soc_max = c->p.soc_max,
        .ramp_w_per_s = 1000 * c->p.ramp_kw_per_s,
        .v_nom = c->v_nom > 0 ? c->v_nom : 400,
    };
    int rc;
    /* Commands may come at any rate; room for one every 100 ms of device
     * time within the latency is plenty for a polling client. */
    size_t qlen = mdl_sto_queue_len(c->p.latency_us, 100 * 1000, 16);
    if ((rc = mdl_battery_new(&c->p, c->soc0, e->t0, qlen, &e->m, err)) != 0)
        goto fail;
    e->map =
        modbus_mapping_new_start_address(0, 0, 0, 0, (unsigned)lay.base, (unsigned)lay.nregs, 0, 0);
    if (!e->map) {
        rc = sim_errf(err, SIM_ENOMEM, "emulate battery: out of memory");
        goto fail;
    }
    struct suns_identity id = {
        .manufacturer = "flexbed",
        .model = "battery emulator",
        .options = "mdl_sto",
        .version = FLEXBED_VERSION,
        .serial = e->serial,
        .device_address = (uint16_t)c->unit,
    };
    suns_fill_battery(e->map->tab_registers, &lay, &id, &e->np);
    e->mb = modbus_new_tcp(e->bind, c->port);
    if (!e->mb) {
        rc = sim_errf(err, SIM_EINVAL, "emulate battery: %s:%d: %s", e->bind, c->port,
                      modbus_strerror(errno));
        goto fail;
    }
    e->listen_fd = modbus_tcp_listen(e->mb, EMU_MAX_CLIENTS);
    if (e->listen_fd < 0) {
        rc = sim_errf(err, SIM_EIO, "emulate battery: cannot listen on %s:%d: %s", e->bind, c->port,
                      modbus_strerror(errno));
        goto fail;
    }
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    if (getsockname(e->listen_fd, (struct sockaddr *)&sa, &sl) == 0)
        e->port = ntohs(sa.sin_port);
    else
        e->port = c->port;
    refresh(e);
    *out = e;
    return 0;
fail:
    hil_emu_battery_free(e);
    return rc;
}

int hil_emu_battery_port(const hil_emu_battery *e)
{
    return e->port;
}

static void close_client(hil_emu_battery *e, int i)
{
    close(e->client[i]);
    emu_log(e, "connection %d closed", e->client[i]);
    e->client[i] = e->client[--e->nclients];
}

int hil_emu_battery_poll(hil_emu_battery *e, int timeout_ms, struct sim_err *err)
{
    struct pollfd pfd[1 + EMU_MAX_CLIENTS];
    pthread_mutex_lock(&e->lock);
    if (atomic_exchange(&e->drop, 0))
        while (e->nclients)
            close_client(e, e->nclients - 1);
    int n = 0;
    pfd[n++] = (struct pollfd){.fd = e->listen_fd, .events = POLLIN};
    for (int i = 0; i < e->nclients; i++)
        pfd[n++] = (struct pollfd){.fd = e->client[i], .events = POLLIN};
    pthread_mutex_unlock(&e->lock);

    int r = poll(pfd, (nfds_t)n, timeout_ms);
    if (r < 0 && errno != EINTR)
        return sim_errf(err, SIM_EIO, "emulate battery: poll: %s", strerror(errno));

    pthread_mutex_lock(&e->lock);
    refresh(e);
    if (r > 0) {
        /* Clients first (their indices match pfd), then new connections. */
        for (int i = n - 1; i >= 1; i--) {
            if (!pfd[i].revents)
                continue;
            modbus_set_socket(e->mb, pfd[i].fd);
            int len = modbus_receive(e->mb, e->query);
            int k = i - 1; /* client index; unchanged by closes at higher i */
            if (len < 0)
                close_client(e, k);
            else if (len > 0)
                handle_request(e, len);
        }
        if (pfd[0].revents & POLLIN) {
            struct sockaddr_in peer;
            socklen_t pl = sizeof peer;
            int fd = accept(e->listen_fd, (struct sockaddr *)&peer, &pl);
            if (fd >= 0 && e->nclients == EMU_MAX_CLIENTS) {
                close(fd);
                emu_log(e, "connection refused: %d clients already", EMU_MAX_CLIENTS);
            } else if (fd >= 0) {
                char ip[INET_ADDRSTRLEN] = "?";
                inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
                e->client[e->nclients++] = fd;
                emu_log(e, "connection %d from %s:%d", fd, ip, ntohs(peer.sin_port));
            }
        }
    }
    modbus_set_socket(e->mb, -1);
    pthread_mutex_unlock(&e->lock);
    return 0;
}

int hil_emu_battery_run(hil_emu_battery *e, const volatile int *stop_flag, struct sim_err *err)
{
    while (!atomic_load(&e->stop) && !(stop_flag && *stop_flag)) {
        int rc = hil_emu_battery_poll(e, 20, err);
        if (rc)
            return rc;
    }
    return 0;
}

void hil_emu_battery_stop(hil_emu_battery *e)
{
    atomic_store(&e->stop, 1);
}

void hil_emu_battery_fault(hil_emu_battery *e, enum hil_emu_fault f, int on)
{
    switch (f) {
    case HIL_EMU_MUTE:
        atomic_store(&e->mute, on);
        break;
    case HIL_EMU_DROP:
        atomic_store(&e->drop, on);
        break;
    case HIL_EMU_REFUSE:
        atomic_store(&e->refuse, on);
        break;
    case HIL_EMU_BAD_SOC:
        atomic_store(&e->bad_soc, on);
        break;
    }
}

void hil_emu_battery_state(hil_emu_battery *e, struct mdl_sto_state *st)
{
    pthread_mutex_lock(&e->lock);
    mdl_sto_state(e->m, st);
    pthread_mutex_unlock(&e->lock);
}

unsigned long hil_emu_battery_requests(hil_emu_battery *e)
{
    return atomic_load(&e->requests);
}

void hil_emu_battery_free(hil_emu_battery *e)
{
    if (!e)
        return;
    for (int i = 0; i < e->nclients; i++)
        close(e->client[i]);
    if (e->listen_fd >= 0)
        close(e->listen_fd);
    if (e->mb) {
        modbus_set_socket(e->mb, -1);
        modbus_free(e->mb);
    }
    if (e->map)
        modbus_mapping_free(e->map);
    mdl_sto_free(e->m);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

/* ------------------------------------------------------------------ */
/* flexbed emulate battery                                             */
/* ------------------------------------------------------------------ */

static volatile int emu_signalled;

static void on_signal(int sig)
{
    (void)sig;
    emu_signalled = 1;
}

static void print_log(void *ctx, const char *msg)
{
    hil_emu_battery *e = *(hil_emu_battery **)ctx;
    char ts[48] = "";
    if (e) {
        struct mdl_sto_state st;
        mdl_sto_state(e->m, &st);
        sim_time_format(st.t - st.t % SIM_US_PER_S, 0, ts, sizeof ts);
    }
    fprintf(stderr, "[%s] %s\n", ts, msg);
}

static void usage(FILE *f)
{
    fputs("usage: flexbed emulate battery [--port N] [--bind ADDR] [--unit N] [OPTIONS]\n"
          "\n"
          "Serve flexbed's battery model as a SunSpec battery inverter on Modbus TCP\n"
          "(models 1, 103, 124, 802 from the SunS marker; see docs/hil.md).\n"
          "\n"
          "  --port N               TCP port (default 1502; 0 picks a free one)\n"
          "  --bind ADDR            IPv4 address to listen on (default 127.0.0.1)\n"
          "  --unit N               Modbus unit id answered (default 1)\n"
          "  --base N               SunS marker address: 40000 (default), 0 or 50000\n"
          "  --capacity-kwh X       usable energy (default 20)\n"
          "  --p-charge-max-kw X    charge limit (default 10)\n"
          "  --p-discharge-max-kw X discharge limit (default 10)\n"
          "  --soc X                initial SoC, fraction (default 0.5)\n"
          "  --soc-min X, --soc-max X   SoC window (default 0, 1)\n"
          "  --eta-charge X, --eta-discharge X   efficiencies (default 0.95)\n"
          "  --round-trip X         round-trip efficiency instead of the two above\n"
          "  --standby-loss-kw X    standby loss (default 0)\n"
          "  --ramp-kw-per-s X      ramp limit (default 0: none)\n"
          "  --latency DURATION     command latency, e.g. 2s (default 0s)\n"
          "  --speed X              device time runs X times the wall clock (default 1);\n"
          "                         match the run's --speed\n"
          "  --start TIME           device time at start, ISO 8601 (default now)\n"
          "  --duration DURATION    stop after this wall time (default: until Ctrl-C)\n"
          "  --serial S             serial number in model 1\n"
          "  --quiet                print only the listening line\n",
          f);
}

static int num_arg(const char *opt, const char *s, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= min && v <= max)) {
        fprintf(stderr, "flexbed emulate battery: %s: expected a number in [%g, %g], got \"%s\"\n",
                opt, min, max, s);
        return -1;
    }
    *out = v;
    return 0;
}

int hil_emulate_battery(int argc, char **argv)
{
    struct hil_emu_battery_cfg c;
    hil_emu_battery_defaults(&c);
    hil_emu_battery *e = NULL;
    double d, rt = 0;
    int quiet = 0;
    sim_time_us duration = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(o, "--quiet")) {
            quiet = 1;
            continue;
        }
        if (strncmp(o, "--", 2) || i + 1 >= argc) {
            fprintf(stderr, "flexbed emulate battery: %s \"%s\"\n",
                    strncmp(o, "--", 2) ? "unexpected argument" : "missing value for", o);
            usage(stderr);
            return 2;
        }
        const char *v = argv[++i];
        int bad = 0;
        if (!strcmp(o, "--port"))
            bad = num_arg(o, v, 0, 65535, &d) || (c.port = (int)d, d != c.port);
        else if (!strcmp(o, "--bind"))
            c.bind = v;
        else if (!strcmp(o, "--unit"))
            bad = num_arg(o, v, 1, 247, &d) || (c.unit = (int)d, d != c.unit);
        else if (!strcmp(o, "--base"))
            bad = num_arg(o, v, 0, 50000, &d) || (c.base = (int)d, 0);
        else if (!strcmp(o, "--capacity-kwh"))
            bad = num_arg(o, v, 1e-6, 1e6, &c.p.capacity_kwh);
        else if (!strcmp(o, "--p-charge-max-kw"))
            bad = num_arg(o, v, 1e-6, 1e5, &c.p.p_charge_max_kw);
        else if (!strcmp(o, "--p-discharge-max-kw"))
            bad = num_arg(o, v, 1e-6, 1e5, &c.p.p_discharge_max_kw);
        else if (!strcmp(o, "--soc"))
            bad = num_arg(o, v, 0, 1, &c.soc0);
        else if (!strcmp(o, "--soc-min"))
            bad = num_arg(o, v, 0, 1, &c.p.soc_min);
        else if (!strcmp(o, "--soc-max"))
            bad = num_arg(o, v, 0, 1, &c.p.soc_max);
        else if (!strcmp(o, "--eta-charge"))
            bad = num_arg(o, v, 0.01, 1, &c.p.eta_charge);
        else if (!strcmp(o, "--eta-discharge"))
            bad = num_arg(o, v, 0.01, 1, &c.p.eta_discharge);
        else if (!strcmp(o, "--round-trip"))
            bad = num_arg(o, v, 0.01, 1, &rt);
        else if (!strcmp(o, "--standby-loss-kw"))
            bad = num_arg(o, v, 0, 1e5, &c.p.standby_loss_kw);
        else if (!strcmp(o, "--ramp-kw-per-s"))
            bad = num_arg(o, v, 0, 1e6, &c.p.ramp_kw_per_s);
        else if (!strcmp(o, "--speed"))
            bad = num_arg(o, v, 1e-3, 1e6, &c.speed);
        else if (!strcmp(o, "--serial"))
            c.serial = v;
        else if (!strcmp(o, "--latency") || !strcmp(o, "--duration")) {
            sim_time_us t;
            if (sim_duration_parse(v, &t)) {
                fprintf(stderr,
                        "flexbed emulate battery: %s: expected a duration (\"2s\"), got "
                        "\"%s\"\n",
                        o, v);
                bad = 1;
            } else if (!strcmp(o, "--latency")) {
                c.p.latency_us = t;
            } else {
                duration = t;
            }
        } else if (!strcmp(o, "--start")) {
            if (sim_time_parse(v, &c.t0, NULL)) {
                fprintf(stderr,
                        "flexbed emulate battery: --start: expected ISO 8601 with an "
                        "offset, got \"%s\"\n",
                        v);
                bad = 1;
            }
        } else {
            fprintf(stderr, "flexbed emulate battery: unknown option \"%s\"\n", o);
            usage(stderr);
            return 2;
        }
        if (bad)
            return 2;
    }
    if (rt > 0)
        mdl_battery_round_trip(rt, &c.p);
    if (!quiet) {
        c.log = print_log;
        c.log_ctx = &e;
    }
    struct sim_err err;
    int rc = hil_emu_battery_new(&c, &e, &err);
    if (rc) {
        fprintf(stderr, "flexbed: %s\n", err.msg);
        return rc == SIM_EINVAL ? 2 : 1;
    }
    printf("flexbed emulate battery: listening on %s:%d, unit %d, SunSpec at %d (models 1, 103, "
           "124, 802); %.6g kWh, +%.6g/-%.6g kW, SoC %.1f %%, speed %gx\n",
           c.bind, hil_emu_battery_port(e), c.unit, c.base, c.p.capacity_kwh, c.p.p_charge_max_kw,
           c.p.p_discharge_max_kw, 100 * c.soc0, c.speed);
    fflush(stdout);

    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    emu_signalled = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = 0;
    while (!emu_signalled && !rc) {
        rc = hil_emu_battery_poll(e, 50, &err);
        clock_gettime(CLOCK_MONOTONIC, &now);
        sim_time_us el = (sim_time_us)(now.tv_sec - t0.tv_sec) * SIM_US_PER_S +
                         (now.tv_nsec - t0.tv_nsec) / 1000;
        if (duration > 0 && el >= duration)
            break;
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (rc)
        fprintf(stderr, "flexbed: %s\n", err.msg);
    if (!quiet) {
        struct mdl_sto_state st;
        mdl_sto_state(e->m, &st);
        fprintf(stderr, "flexbed emulate battery: stopped at SoC %.2f %%\n", 100 * st.soc);
    }
    hil_emu_battery_free(e);
    return rc ? 1 : 0;
}
