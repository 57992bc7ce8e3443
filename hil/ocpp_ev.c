/*
 * ocpp_ev.c: an EV asset on OCPP, the "ev" component with "backend": "ocpp".
 *
 * The car is real (or the emulator of ocpp_cp_ev.c) and reaches flexbed as
 * a charge point connected to flexbed's central system. Every step the
 * component reads the charge point's latest state and MeterValues and
 * publishes the signals the EV model publishes (connected, p_kw,
 * setpoint_kw, soc, e_kwh, loss_kwh, e_in_kwh, e_out_kwh,
 * available_discharge_kw) plus `stale` and `failed`, the Modbus battery's
 * device flags; and it turns its setpoint signal into charging profiles:
 * a non-zero setpoint becomes SetChargingProfile with limit setpoint * 1000 W
 * (negative: discharge, docs/hil.md), a zero setpoint ClearChargingProfile,
 * which hands the car back to its own charging, as the EV model's "auto"
 * policy does with a zero setpoint.
 *
 * Devices fail, the run must not. No MeterValues for `timeout` (wall time)
 * or no connection marks the samples stale (last values held); stale for
 * `lost_after` makes the asset failed: "device_lost" alarm, p_kw = 0, its
 * delivery counts as nothing until "device_back". A profile the charge
 * point rejects, answers with an error or never answers is logged
 * ("profile_failed") and sent again after 10 s; one it accepts but does
 * not follow within `follow_grace` is logged once ("profile_ignored").
 *
 * All OCPP assets of a kernel share one central system: the first creates
 * the "ocpp_cs" component (type "hil_ocpp_cs"), which owns it, listens and
 * serves it in its own thread from init to destroy, and forwards its wire
 * events (connections, malformed frames, rejected calls ...) to the
 * kernel's log under the asset of the charge point concerned, kind
 * "ocpp_<event>".
 *
 * Record and replay (docs/hil.md): every step journals, as IN, each
 * published device value that changed (connected, p_kw, soc, e_in_kwh,
 * e_out_kwh, stale, failed; all of them at the first step), and every
 * profile sent as OUT setpoint_kw. When the kernel replays a journal the
 * central system is not even started: each asset publishes the journal's
 * last value of each channel at or before the step, and checks that the
 * replay commands what the recorded run commanded ("replay_diverged").
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hil_ocpp.h"

#define OCPP_CS_NAME "ocpp_cs"
#define OCPP_CS_TYPE "hil_ocpp_cs"
#define OCPP_MAX_ASSETS 256
#define RETRY_US (10 * INT64_C(1000000))

static int64_t wall_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ------------------------------------------------------------------ */
/* The shared central system component                                 */
/* ------------------------------------------------------------------ */

struct shared {
    sim_kernel *k;
    int id;
    hil_ocpp_cs *cs;
    char host[64], password[128];
    int port;
    struct {
        char cp_id[HIL_OCPP_CP_ID_MAX + 1];
        int comp;
    } asset[OCPP_MAX_ASSETS];
    int n;
};

static void shared_destroy(void *self)
{
    struct shared *s = self;
    if (!s)
        return;
    hil_ocpp_cs_free(s->cs); /* stops the thread first */
    free(s);
}

/* Listen and serve, unless the run replays a journal: then no device is
 * contacted and no port is taken. */
static int shared_init(void *self, sim_kernel *k, struct sim_err *err)
{
    struct shared *s = self;
    if (sim_kernel_replaying(k))
        return 0;
    struct hil_ocpp_cs_config c;
    hil_ocpp_cs_config_default(&c);
    c.host = s->host;
    c.port = s->port;
    c.auth_password = s->password[0] ? s->password : NULL;
    struct sim_err inner = {{0}};
    int rc = hil_ocpp_cs_new(&c, &s->cs, &inner);
    if (!rc)
        rc = hil_ocpp_cs_start(s->cs, &inner);
    if (rc)
        return sim_errf(err, rc, "%s: %s", OCPP_CS_NAME, inner.msg);
    s->port = hil_ocpp_cs_port(s->cs);
    return 0;
}

/* Forward the central system's events to the kernel's log. */
static int drain(struct shared *s, struct sim_err *err)
{
    struct hil_ocpp_event e;
    while (s->cs && hil_ocpp_cs_next_event(s->cs, &e)) {
        int comp = s->id;
        for (int i = 0; i < s->n; i++)
            if (!strcmp(s->asset[i].cp_id, e.cp_id))
                comp = s->asset[i].comp;
        char kind[40];
        snprintf(kind, sizeof kind, "ocpp_%s", e.kind);
        if (sim_log(s->k, comp, kind, (enum sim_severity)e.severity, 0, "%s%s%s", e.cp_id,
                    e.cp_id[0] ? ": " : "", e.text))
            return sim_errf(err, SIM_EIO, "%s: the event hook failed", OCPP_CS_NAME);
    }
    return 0;
}

static int shared_step(void *self, sim_kernel *k, sim_time_us now, struct sim_err *err)
{
    (void)k;
    (void)now;
    return drain(self, err);
}

static int shared_finish(void *self, sim_kernel *k, sim_time_us now, struct sim_err *err)
{
    (void)k;
    (void)now;
    return drain(self, err);
}

static const struct sim_component_ops shared_ops = {
    .type = OCPP_CS_TYPE,
    .init = shared_init,
    .step = shared_step,
    .finish = shared_finish,
    .destroy = shared_destroy,
};

/* The kernel's central system, created by the first OCPP asset; later ones
 * must name the same host, port and password. */
static int get_shared(struct scn_ctx *ctx, struct scn_obj *cfg, const char *host, int port,
                      const char *password, struct shared **out, struct sim_err *err)
{
    sim_kernel *k = ctx->kernel;
    int id = sim_kernel_find(k, OCPP_CS_NAME);
    if (id >= 0) {
        if (strcmp(sim_kernel_component_type(k, id), OCPP_CS_TYPE) != 0)
            return scn_errf(cfg, NULL, err,
                            "the component name \"%s\" is reserved for the OCPP central system",
                            OCPP_CS_NAME);
        struct shared *s = sim_kernel_component_self(k, id);
        if (port != 0 && s->port != port)
            return scn_errf(cfg, "ocpp_port", err,
                            "all OCPP assets share one central system: expected %d as before, "
                            "got %d",
                            s->port, port);
        if (strcmp(s->host, host) != 0)
            return scn_errf(cfg, "ocpp_host", err,
                            "all OCPP assets share one central system: expected \"%s\", got "
                            "\"%s\"",
                            s->host, host);
        if (strcmp(s->password, password ? password : "") != 0)
            return scn_errf(cfg, "ocpp_password", err,
                            "all OCPP assets share one central system and its password");
        *out = s;
        return 0;
    }
    struct shared *s = calloc(1, sizeof *s);
    if (!s)
        return sim_errf(err, SIM_ENOMEM, "%s: out of memory", ctx->file);
    snprintf(s->host, sizeof s->host, "%s", host);
    snprintf(s->password, sizeof s->password, "%s", password ? password : "");
    s->port = port;
    s->k = k;
    int rc;
    if ((rc = sim_kernel_add(k, OCPP_CS_NAME, &shared_ops, s, ctx->scenario->step, &s->id, err)) !=
        0)
        return rc; /* the kernel destroyed s */
    *out = s;
    return 0;
}

/* ------------------------------------------------------------------ */
/* The EV asset                                                        */
/* ------------------------------------------------------------------ */

struct oev {
    sim_kernel *k;
    int id;
    struct shared *sh; /* borrowed: owned by the "ocpp_cs" component */
    char cp_id[HIL_OCPP_CP_ID_MAX + 1];
    int connector;
    struct mdl_ev_params p;
    sim_time_us timeout, lost_after, grace;
    int sp_ref;
    /* what we told the charge point */
    int sent;       /* a profile of ours may be in force */
    double sent_kw; /* its setpoint */
    int sent_tx;
    uint64_t sent_connects;
    uint32_t call; /* pending SetChargingProfile / ClearChargingProfile */
    int64_t retry_wall, accepted_wall;
    int ignored_logged;
    /* what the charge point told us */
    int have_regs;
    double last_imp_wh, last_exp_wh, e_in_kwh, e_out_kwh;
    double p_kw, soc;
    int64_t stale_since;
    int stale, lost, plugged;
    /* journal and replay */
    double j_last[7]; /* NJ: last journaled value, NaN: never */
    int replay, replay_told, diverged;
    int h_in[7], h_sp;
    int sig_conn, sig_p, sig_sp, sig_soc, sig_e, sig_loss, sig_in, sig_out, sig_avail, sig_stale,
        sig_failed;
};

/* The published device values, journaled as IN channels. */
enum { J_CONN, J_P, J_SOC, J_IN, J_OUT, J_STALE, J_FAILED, NJ };
static const char *const j_name[NJ] = {"connected", "p_kw",  "soc",   "e_in_kwh",
                                       "e_out_kwh", "stale", "failed"};

static void oev_destroy(void *self)
{
    free(self);
}

static const char *oname(const struct oev *e)
{
    return sim_kernel_component_name(e->k, e->id);
}

static int logf_(struct oev *e, const char *kind, enum sim_severity sev, double value,
                 struct sim_err *err, const char *msg)
{
    if (sim_log(e->k, e->id, kind, sev, value, "%s: %s", e->cp_id, msg))
        return sim_errf(err, SIM_EIO, "%s: the event hook failed", oname(e));
    return 0;
}

static int plugged_status(const char *s)
{
    static const char *const on[] = {"Preparing",     "Charging",  "SuspendedEV",
                                     "SuspendedEVSE", "Finishing", NULL};
    for (int i = 0; on[i]; i++)
        if (!strcmp(s, on[i]))
            return 1;
    return 0;
}

/* Take the new MeterValues into the published totals. Registers only grow;
 * a register that goes back (a meter reset, a replaced charger) restarts
 * the deltas instead of subtracting energy. */
static void take_meter(struct oev *e, const struct hil_ocpp_connector_state *c)
{
    if (isfinite(c->e_import_wh) && isfinite(c->e_export_wh)) {
        if (e->have_regs) {
            if (c->e_import_wh >= e->last_imp_wh)
                e->e_in_kwh += (c->e_import_wh - e->last_imp_wh) / 1000.0;
            if (c->e_export_wh >= e->last_exp_wh)
                e->e_out_kwh += (c->e_export_wh - e->last_exp_wh) / 1000.0;
        }
        e->last_imp_wh = c->e_import_wh;
        e->last_exp_wh = c->e_export_wh;
        e->have_regs = 1;
    }
    double pi = isfinite(c->p_import_w) ? c->p_import_w : 0;
    double pe = isfinite(c->p_export_w) ? c->p_export_w : 0;
    e->p_kw = (pi - pe) / 1000.0;
    if (isfinite(c->soc_pct))
        e->soc = c->soc_pct / 100.0;
}

/* Send the setpoint when it changed, a transaction started or the charge
 * point reconnected; check the answer of the previous one. */
static int command(struct oev *e, const struct hil_ocpp_cp_state *st, double sp, int64_t wall,
                   struct sim_err *err)
{
    const struct hil_ocpp_connector_state *c = &st->conn[e->connector];
    char why[256];
    if (e->call) {
        int s = hil_ocpp_cs_call_status(e->sh->cs, e->call, NULL, why, sizeof why);
        if (s == HIL_OCPP_CALL_QUEUED || s == HIL_OCPP_CALL_SENT)
            return 0;
        cJSON *r = NULL;
        s = hil_ocpp_cs_call_status(e->sh->cs, e->call, &r, why, sizeof why);
        const cJSON *status = cJSON_GetObjectItemCaseSensitive(r, "status");
        int ok = s == HIL_OCPP_CALL_DONE && cJSON_IsString(status) &&
                 (!strcmp(status->valuestring, "Accepted") ||
                  (e->sent_kw == 0 && !strcmp(status->valuestring, "Unknown")));
        char msg[320];
        snprintf(msg, sizeof msg, "%s of %.1f kW %s%s%s", e->sent_kw ? "profile" : "clearing",
                 e->sent_kw, s == HIL_OCPP_CALL_DONE ? "answered " : "failed: ",
                 s == HIL_OCPP_CALL_DONE && cJSON_IsString(status) ? status->valuestring : "",
                 s == HIL_OCPP_CALL_DONE ? "" : why);
        cJSON_Delete(r);
        e->call = 0;
        if (ok) {
            e->accepted_wall = wall;
        } else {
            e->sent = -1; /* unknown: send again after the retry delay */
            e->retry_wall = wall + RETRY_US;
            int rc = logf_(e, "profile_failed", SIM_WARNING, e->sent_kw, err, msg);
            if (rc)
                return rc;
        }
    }
    if (!st->connected || !st->booted || !c->tx_id || wall < e->retry_wall)
        return 0;
    if (c->tx_id != e->sent_tx && e->sent == 1)
        e->sent = 0; /* our TxProfile ended with its transaction */
    /* A reconnected charger may have rebooted and forgotten its profiles:
     * tell it again. */
    int changed = e->sent == -1 ||
                  (e->sent == 1 && (sp != e->sent_kw || st->n_connects != e->sent_connects)) ||
                  (e->sent == 0 && sp != 0);
    if (!changed)
        return 0;
    struct sim_err ce = {{0}};
    int rc = sp != 0 ? hil_ocpp_cs_set_limit(e->sh->cs, e->cp_id, e->connector, sp * 1000.0,
                                             &e->call, &ce)
                     : hil_ocpp_cs_clear_limit(e->sh->cs, e->cp_id, e->connector, &e->call, &ce);
    if (rc) {
        e->retry_wall = wall + RETRY_US;
        return logf_(e, "profile_failed", SIM_WARNING, sp, err, ce.msg);
    }
    if (sim_journal(e->k, e->id, SIM_JOURNAL_OUT, "setpoint_kw", sp, NULL))
        return sim_errf(err, SIM_EIO, "%s: the journal hook failed", oname(e));
    e->sent = sp != 0;
    e->sent_kw = sp;
    e->sent_tx = c->tx_id;
    e->sent_connects = st->n_connects;
    e->accepted_wall = 0;
    e->ignored_logged = 0;
    return 0;
}

/* A profile accepted long enough ago that the power should follow it. */
static int check_follow(struct oev *e, const struct hil_ocpp_connector_state *c, int64_t wall,
                        struct sim_err *err)
{
    if (e->sent != 1 || !e->accepted_wall || e->ignored_logged || e->stale ||
        wall - e->accepted_wall < e->grace || c->meter_wall_us < e->accepted_wall + e->grace)
        return 0;
    double want = mdl_ev_quantize_kw(&e->p, e->sent_kw);
    /* The car may stop at its own limits: that is not disobedience. */
    if ((want < 0 && e->soc <= e->p.sto.soc_min + 0.01) ||
        (want > 0 && e->soc >= e->p.sto.soc_max - 0.01))
        return 0;
    if (fabs(e->p_kw - want) <= fmax(0.5, 0.1 * fabs(want)))
        return 0;
    e->ignored_logged = 1;
    char msg[200];
    snprintf(msg, sizeof msg, "accepted a %.1f kW profile but draws %.2f kW after %.0f s",
             e->sent_kw, e->p_kw, (double)(wall - e->accepted_wall) / 1e6);
    return logf_(e, "profile_ignored", SIM_WARNING, e->p_kw - want, err, msg);
}

/* Journal what changed (IN) and publish the signals; v holds the device
 * values in j_name order. */
static int publish(struct oev *e, double sp, const double *v, struct sim_err *err)
{
    sim_kernel *k = e->k;
    for (int i = 0; i < NJ; i++) {
        if (v[i] == e->j_last[i])
            continue;
        if (sim_journal(k, e->id, SIM_JOURNAL_IN, j_name[i], v[i], NULL))
            return sim_errf(err, SIM_EIO, "%s: the journal hook failed", oname(e));
        e->j_last[i] = v[i];
    }
    int conn = v[J_CONN] != 0;
    double avail = conn && v[J_SOC] > e->p.sto.soc_min
                       ? -mdl_ev_quantize_kw(&e->p, -e->p.sto.p_discharge_max_kw)
                       : 0.0;
    sim_bus_set(k, e->sig_conn, conn ? 1.0 : 0.0);
    sim_bus_set(k, e->sig_p, v[J_P]);
    sim_bus_set(k, e->sig_sp, sp);
    sim_bus_set(k, e->sig_soc, v[J_SOC]);
    sim_bus_set(k, e->sig_e, v[J_SOC] * e->p.sto.capacity_kwh);
    sim_bus_set(k, e->sig_loss, 0.0); /* the charger's losses are not reported */
    sim_bus_set(k, e->sig_in, v[J_IN]);
    sim_bus_set(k, e->sig_out, v[J_OUT]);
    sim_bus_set(k, e->sig_avail, avail);
    sim_bus_set(k, e->sig_stale, v[J_STALE]);
    sim_bus_set(k, e->sig_failed, v[J_FAILED]);
    return 0;
}

static int replay_step(struct oev *e, sim_time_us now, double sp, struct sim_err *err);

static int oev_step(void *self, sim_kernel *k, sim_time_us now, struct sim_err *err)
{
    struct oev *e = self;
    double sp = e->sp_ref >= 0 ? sim_bus_get_ref(k, e->sp_ref) : 0.0;
    if (!isfinite(sp))
        return sim_errf(err, SIM_EFAIL, "%s: setpoint is not a number (%g)", oname(e), sp);
    /* What the car can do at all; the charger quantises further. */
    if (sp > e->p.sto.p_charge_max_kw)
        sp = e->p.sto.p_charge_max_kw;
    if (sp < -e->p.sto.p_discharge_max_kw)
        sp = -e->p.sto.p_discharge_max_kw;
    if (e->replay)
        return replay_step(e, now, sp, err);
    int64_t wall = wall_now_us();
    struct hil_ocpp_cp_state st;
    int known = hil_ocpp_cs_cp_state(e->sh->cs, e->cp_id, &st) == 0;
    if (!known)
        memset(&st, 0, sizeof st);
    const struct hil_ocpp_connector_state *c = &st.conn[e->connector];
    int fresh = known && st.connected && c->meter_wall_us && wall - c->meter_wall_us <= e->timeout;
    /* Between transactions a charge point sends no MeterValues: connected
     * and idle is not stale. */
    int idle = known && st.connected && st.booted && !c->tx_id;
    int stale = !(fresh || idle);
    int rc;
    if (fresh)
        take_meter(e, c);
    if (idle) {
        e->p_kw = 0;
        take_meter(e, c); /* registers may still have moved */
        e->p_kw = 0;
    }
    e->plugged = known && st.connected && (c->tx_id || plugged_status(c->status));
    if (stale && !e->stale)
        e->stale_since = wall;
    e->stale = stale;
    if (stale && !e->lost && wall - e->stale_since >= e->lost_after) {
        e->lost = 1;
        char msg[200];
        snprintf(msg, sizeof msg, "no %s for %.0f s: asset failed, its delivery counts as nothing",
                 known && st.connected ? "MeterValues" : "connection",
                 (double)(wall - e->stale_since) / 1e6);
        if ((rc = logf_(e, "device_lost", SIM_ALARM, 0, err, msg)) != 0)
            return rc;
    } else if (!stale && e->lost) {
        e->lost = 0;
        if ((rc = logf_(e, "device_back", SIM_INFO, 0, err, "reporting again")) != 0)
            return rc;
    }
    if (known && (rc = command(e, &st, sp, wall, err)) != 0)
        return rc;
    if ((rc = check_follow(e, c, wall, err)) != 0)
        return rc;
    double v[NJ] = {e->plugged && !e->lost,
                    e->lost ? 0.0 : e->p_kw,
                    e->soc,
                    e->e_in_kwh,
                    e->e_out_kwh,
                    e->stale,
                    e->lost};
    return publish(e, sp, v, err);
}

/* Replay: the device values at now from the journal, and the recorded
 * commands due by now checked against what this replay would send. */
static int replay_step(struct oev *e, sim_time_us now, double sp, struct sim_err *err)
{
    int rc;
    if (!e->replay_told) {
        e->replay_told = 1;
        char msg[160];
        snprintf(msg, sizeof msg, "replaying %ld journal entries in place of the charge point",
                 sim_replay_count(e->k, e->id));
        if ((rc = logf_(e, "replay", SIM_INFO, (double)sim_replay_count(e->k, e->id), err, msg)) !=
            0)
            return rc;
    }
    double v[NJ];
    for (int i = 0; i < NJ; i++) {
        double x;
        /* Before a channel's first entry: a recorded run's initial state. */
        v[i] = isnan(e->j_last[i]) ? (i == J_STALE ? 1.0 : 0.0) : e->j_last[i];
        if (sim_replay_at(e->k, e->h_in[i], now, &x, NULL) == 0)
            v[i] = x;
    }
    sim_time_us te;
    double rec;
    while (sim_replay_next(e->k, e->h_sp, now, &te, &rec, NULL) == 0) {
        if (!(fabs(sp - rec) <= 1e-9 * fmax(1.0, fabs(rec))) && e->diverged++ == 0) {
            char msg[240];
            snprintf(msg, sizeof msg,
                     "the replay commands %.6g kW where the recorded run sent %.6g kW: from "
                     "here on the device's recorded answers belong to other commands",
                     sp, rec);
            if ((rc = logf_(e, "replay_diverged", SIM_WARNING, sp - rec, err, msg)) != 0)
                return rc;
        }
        if (sim_journal(e->k, e->id, SIM_JOURNAL_OUT, "setpoint_kw", sp, NULL))
            return sim_errf(err, SIM_EIO, "%s: the journal hook failed", oname(e));
    }
    return publish(e, sp, v, err);
}

static int oev_init(void *self, sim_kernel *k, struct sim_err *err)
{
    struct oev *e = self;
    for (int i = 0; i < NJ; i++)
        e->j_last[i] = NAN;
    if (sim_kernel_replaying(k)) {
        if (sim_replay_count(k, e->id) <= 0)
            return sim_errf(err, SIM_ENOENT,
                            "%s: the replayed journal has nothing from this charge point (the "
                            "run was recorded without it, or before journaling)",
                            oname(e));
        e->replay = 1;
        for (int i = 0; i < NJ; i++)
            sim_replay_find(k, e->id, SIM_JOURNAL_IN, j_name[i], &e->h_in[i]);
        sim_replay_find(k, e->id, SIM_JOURNAL_OUT, "setpoint_kw", &e->h_sp);
        return 0;
    }
    e->stale_since = wall_now_us(); /* the device's grace starts with the run */
    return 0;
}

static int oev_finish(void *self, sim_kernel *k, sim_time_us now, struct sim_err *err)
{
    (void)k;
    (void)now;
    struct oev *e = self;
    if (!e->replay || e->diverged <= 1)
        return 0;
    char msg[120];
    snprintf(msg, sizeof msg, "the replay diverged from the recorded commands %d times",
             e->diverged);
    return logf_(e, "replay_diverged", SIM_WARNING, e->diverged, err, msg);
}

static const struct sim_component_ops oev_ops = {
    .type = "hil_ocpp_ev",
    .init = oev_init,
    .step = oev_step,
    .finish = oev_finish,
    .destroy = oev_destroy,
};

int hil_ocpp_ev_create(struct scn_ctx *ctx, struct scn_obj *cfg, const char *name,
                       struct sim_err *err)
{
    struct oev *e = calloc(1, sizeof *e);
    if (!e)
        return sim_errf(err, SIM_ENOMEM, "%s: %s: out of memory", ctx->file, cfg->path);
    e->sp_ref = -1;
    struct mdl_ev_params *p = &e->p;
    mdl_ev_params_default(p);
    const char *setpoint = NULL, *cp_id = NULL, *host = NULL, *password = NULL;
    const char *backend = NULL;
    long long connector = 1, port = 8887, phases = 3;
    static const char *const grains[] = {"watts", "amps", NULL};
    int rc;
    if ((rc = scn_string(cfg, "backend", 0, "ocpp", &backend, err)) != 0)
        goto fail;
    if (strcmp(backend, "ocpp") != 0) {
        rc = scn_errf(cfg, "backend", err, "expected \"ocpp\" here, got \"%s\"", backend);
        goto fail;
    }
    if ((rc = scn_string(cfg, "charge_point_id", 1, NULL, &cp_id, err)) != 0 ||
        (rc = scn_int(cfg, "connector", 0, 1, 1, HIL_OCPP_MAX_CONNECTORS - 1, &connector, err)) !=
            0 ||
        (rc = scn_string(cfg, "ocpp_host", 0, "127.0.0.1", &host, err)) != 0 ||
        (rc = scn_int(cfg, "ocpp_port", 0, 8887, 0, 65535, &port, err)) != 0 ||
        (rc = scn_string(cfg, "ocpp_password", 0, NULL, &password, err)) != 0 ||
        (rc = scn_duration(cfg, "timeout", 0, 30 * SIM_US_PER_S, SIM_US_PER_S, SIM_US_PER_H,
                           &e->timeout, err)) != 0 ||
        (rc = scn_duration(cfg, "lost_after", 0, 120 * SIM_US_PER_S, 0, 24 * SIM_US_PER_H,
                           &e->lost_after, err)) != 0 ||
        (rc = scn_duration(cfg, "follow_grace", 0, 30 * SIM_US_PER_S, SIM_US_PER_S, SIM_US_PER_H,
                           &e->grace, err)) != 0)
        goto fail;
    size_t idl = strlen(cp_id);
    if (idl == 0 || idl > HIL_OCPP_CP_ID_MAX || strpbrk(cp_id, "/?#% ")) {
        rc = scn_errf(cfg, "charge_point_id", err,
                      "expected 1-%d characters without '/', '?', '#', '%%' or spaces",
                      HIL_OCPP_CP_ID_MAX);
        goto fail;
    }
    /* The EV model's keys: the car's limits and charger clamp and check
     * setpoints; its sessions are the real car's business (accepted so
     * that a scenario switches backend by one key). */
    if ((rc = mdl_sto_read_common(cfg, &p->sto, &setpoint, err)) != 0 ||
        (rc = scn_number(cfg, "soc_max", 0, 1.0, 0, 1, &p->sto.soc_max, err)) != 0 ||
        (rc = scn_number(cfg, "soc_min_discharge", 0, 0, 0, 1, &p->sto.soc_min, err)) != 0 ||
        (rc = scn_int(cfg, "phases", 0, 3, 1, 3, &phases, err)) != 0 ||
        (rc = scn_number(cfg, "voltage_v", 0, 230, 1, 1000, &p->voltage_v, err)) != 0 ||
        (rc = scn_enum(cfg, "granularity", 0, grains, MDL_EV_WATTS, &p->granularity, err)) != 0 ||
        (rc = scn_number(cfg, "min_current_a", 0, 6, 0, 1000, &p->min_current_a, err)) != 0)
        goto fail;
    if (phases == 2) {
        rc = scn_errf(cfg, "phases", err, "expected 1 or 3, got 2");
        goto fail;
    }
    p->phases = (int)phases;
    static const char *const car_keys[] = {"arrival",    "departure",  "repeat", "soc_arrival",
                                           "soc_target", "efficiency", "policy", NULL};
    for (int i = 0; car_keys[i]; i++)
        scn_take(cfg, car_keys[i]);
    if ((rc = scn_obj_finish(cfg, err)) != 0)
        goto fail;
    snprintf(e->cp_id, sizeof e->cp_id, "%s", cp_id);
    e->connector = (int)connector;
    struct shared *sh = NULL;
    if ((rc = get_shared(ctx, cfg, host, (int)port, password, &sh, err)) != 0)
        goto fail;
    for (int i = 0; i < sh->n; i++)
        if (!strcmp(sh->asset[i].cp_id, cp_id)) {
            rc = scn_errf(cfg, "charge_point_id", err, "\"%s\" is already the charge point of %s",
                          cp_id, sim_kernel_component_name(ctx->kernel, sh->asset[i].comp));
            goto fail;
        }
    if (sh->n == OCPP_MAX_ASSETS) {
        rc = scn_errf(cfg, NULL, err, "more than %d OCPP assets", OCPP_MAX_ASSETS);
        goto fail;
    }
    e->sh = sh;
    e->k = ctx->kernel;
    sim_kernel *k = ctx->kernel;
    /* From here on the kernel owns e. */
    if ((rc = sim_kernel_add(k, name, &oev_ops, e, ctx->scenario->step, &e->id, err)) != 0)
        return rc;
    snprintf(sh->asset[sh->n].cp_id, sizeof sh->asset[sh->n].cp_id, "%s", cp_id);
    sh->asset[sh->n++].comp = e->id;
    const unsigned R = SIM_SIG_RECORD, RS = SIM_SIG_RECORD | SIM_SIG_STATE;
    if ((rc = sim_bus_publish(k, e->id, "connected", "1", RS, 0, &e->sig_conn, err)) != 0 ||
        (rc = sim_bus_publish(k, e->id, "p_kw", "kW", R, 0, &e->sig_p, err)) != 0 ||
        (rc = sim_bus_publish(k, e->id, "setpoint_kw", "kW", R, 0, &e->sig_sp, err)) != 0 ||
        (rc = sim_bus_publish(k, e->id, "soc", "1", RS, 0, &e->sig_soc, err)) != 0 ||
        (rc = sim_bus_publish(k, e->id, "e_kwh", "kWh", RS, 0, &e->sig_e, err)) != 0 ||
        (rc = sim_bus_publish(k, e->id, "loss_kwh", "kWh", RS, 0, &e->sig_loss, err)) != 0 ||
        (rc = sim_bus_publish(k, e->id, "e_in_kwh", "kWh", RS, 0, &e->sig_in, err)) != 0 ||
        (rc = sim_bus_publish(k, e->id, "e_out_kwh", "kWh", RS, 0, &e->sig_out, err)) != 0 ||
        (rc = sim_bus_publish(k, e->id, "available_discharge_kw", "kW", R, 0, &e->sig_avail,
                              err)) != 0 ||
        (rc = sim_bus_publish(k, e->id, "stale", "1", RS, 1, &e->sig_stale, err)) != 0 ||
        (rc = sim_bus_publish(k, e->id, "failed", "1", RS, 0, &e->sig_failed, err)) != 0)
        return rc;
    e->stale = 1;
    if (setpoint) {
        char path[SCN_PATH_MAX], origin[SCN_PATH_MAX + 256];
        scn_path_join(path, sizeof path, cfg->path, "setpoint");
        snprintf(origin, sizeof origin, "%s: %s", ctx->file, path);
        if ((rc = sim_bus_read(k, e->id, setpoint, SIM_READ_NOW, origin, &e->sp_ref, err)) != 0)
            return rc;
    }
    return 0;
fail:
    oev_destroy(e);
    return rc;
}

int hil_ocpp_kernel_cs_port(const sim_kernel *k)
{
    int id = sim_kernel_find(k, OCPP_CS_NAME);
    if (id < 0 || strcmp(sim_kernel_component_type(k, id), OCPP_CS_TYPE) != 0)
        return -1;
    const struct shared *s = sim_kernel_component_self(k, id);
    return s->cs ? s->port : -1;
}
