/*
 * ocpp_cp.c: the OCPP 1.6J charge point client (see ocpp_cp.h).
 *
 * Each charge point is a small state machine driven by two things: the
 * pool's timer (connect and reconnect, sample the device, queue
 * MeterValues and Heartbeats, re-evaluate charging schedules, give up on
 * unanswered calls) and the WebSocket callbacks (answers to our CALLs and
 * the central system's CALLs). Our CALLs leave one at a time from a FIFO;
 * while the charge point is not booted on the current connection only
 * BootNotification may leave. Payloads are built when queued, except the
 * transactionId of MeterValues and StopTransaction, which is filled in when
 * sent, because the StartTransaction that assigns it may still be in the
 * queue ahead of them.
 */
#include "ocpp_cp.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libwebsockets.h>

#include "ocpp_frame.h"
#include "ocpp_schema.h"

#define CP_CALLQ 32       /* queued CALLs per charge point */
#define CP_MAX_PROFILES 8 /* installed charging profiles */
#define CP_MAX_PERIODS 16 /* periods per schedule */
#define CP_RX_MAX (256 * 1024)
#define CP_MAX_REPLIES 64
#define CP_CONNECTORS 1 /* connectors of an emulated charge point */

enum { OFFLINE = 0, CONNECTING, ONLINE };
enum { P_MAX = 0, P_TX_DEFAULT, P_TX };
enum { K_ABSOLUTE = 0, K_RECURRING, K_RELATIVE };

struct omsg {
    struct omsg *next;
    int64_t due; /* monotonic us: not before (answer_delay_ms) */
    size_t len;
    unsigned char buf[];
};

struct qcall {
    char action[40];
    cJSON *payload;
    int fill_tx; /* add transactionId when sent */
};

struct period {
    int start_s;
    double limit;
    int phases;
};

struct profile {
    int used;
    int id, purpose, stack, connector, tx_id, kind, weekly, amps;
    int64_t valid_from, valid_to, start; /* device clock us; 0: none */
    int duration_s;                      /* -1: none */
    int64_t installed;
    int nper;
    struct period per[CP_MAX_PERIODS];
};

struct hil_ocpp_cp {
    hil_ocpp_cp_pool *pool;
    int index;
    char id[HIL_OCPP_CP_ID_MAX + 1];
    char host[128], path[256], password[128];
    char vendor[21], model[21], serial[26], id_tag[21];
    int port;
    struct hil_ocpp_cp_config cfg;
    struct hil_ocpp_cp_device dev;

    int state;
    struct lws *wsi;
    int64_t next_connect, backoff_ms;
    int booted, boot_inflight;
    int64_t next_boot, next_heartbeat, next_meter;
    int heartbeat_s, meter_ms;

    int plugged, tx_id, tx_pending, tx_blocked, last_started_tx;
    int64_t tx_start_clock;
    char status[24];

    struct qcall q[CP_CALLQ];
    int qh, qn;
    char inflight_id[HIL_OCPP_ID_MAX + 1];
    char inflight_action[40];
    struct qcall inflight_q; /* a transaction message, kept to resend */
    int64_t inflight_sent;
    uint32_t msg_seq;

    struct omsg *rq_head, *rq_tail;
    int rq_n;
    int want_close;
    char *rx;
    size_t rx_len, rx_cap;
    int rx_bad;

    struct profile prof[CP_MAX_PROFILES];
    int has_limit;
    double limit_w;
    struct hil_ocpp_meter meter;

    uint64_t n_connects, n_meter_values, n_calls, n_errors_in;
    char last_error[160], last_connect_error[160];
};

struct hil_ocpp_cp_pool {
    struct hil_ocpp_cp_pool_config cfg;
    struct lws_context *ctx;
    struct lws_protocols protocols[2];
    lws_sorted_usec_list_t tick;
    hil_ocpp_schemas *schemas;
    hil_ocpp_cp **cps;
    int n, cap;
    int connects_left; /* this tick */
    struct hil_ocpp_event *ev;
    int ev_head, ev_n;
    struct hil_ocpp_cp_pool_stats stats;
    int64_t *lat;
    size_t lat_n;
    int dev_rc;
    struct sim_err dev_err;
    int ticked;
};

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static int64_t clock_us(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t mono_us(void)
{
    return clock_us(CLOCK_MONOTONIC);
}

static int64_t dev_clock(const hil_ocpp_cp *cp, int64_t mono)
{
    if (cp->dev.clock)
        return cp->dev.clock(cp->dev.self, mono);
    return clock_us(CLOCK_REALTIME);
}

static void iso(int64_t t, char *buf, size_t n)
{
    sim_time_format(t - t % 1000, 0, buf, n);
}

static void event(hil_ocpp_cp_pool *pool, int sev, const char *cp, const char *kind,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void event(hil_ocpp_cp_pool *pool, int sev, const char *cp, const char *kind,
                  const char *fmt, ...)
{
    int cap = pool->cfg.event_capacity, i;
    if (pool->ev_n == cap) {
        i = pool->ev_head;
        pool->ev_head = (pool->ev_head + 1) % cap;
    } else {
        i = (pool->ev_head + pool->ev_n) % cap;
        pool->ev_n++;
    }
    struct hil_ocpp_event *e = &pool->ev[i];
    e->wall_us = clock_us(CLOCK_REALTIME);
    e->severity = sev;
    snprintf(e->cp_id, sizeof e->cp_id, "%s", cp ? cp : "");
    snprintf(e->kind, sizeof e->kind, "%s", kind);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->text, sizeof e->text, fmt, ap);
    va_end(ap);
}

static const char *get_str(const cJSON *o, const char *k, const char *def)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(x) ? x->valuestring : def;
}

static int get_int(const cJSON *o, const char *k, int def)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(x) ? (int)x->valuedouble : def;
}

static int64_t get_time(const cJSON *o, const char *k)
{
    sim_time_us t;
    const char *s = get_str(o, k, NULL);
    return s && sim_time_parse(s, &t, NULL) == 0 ? t : 0;
}

static int has_output(const hil_ocpp_cp *cp)
{
    if (cp->want_close || (cp->rq_head && cp->rq_head->due <= mono_us()))
        return 1;
    if (cp->inflight_id[0])
        return 0;
    if (!cp->booted)
        return !cp->boot_inflight && mono_us() >= cp->next_boot;
    return cp->qn > 0;
}

static void kick(hil_ocpp_cp *cp)
{
    if (cp->state == ONLINE && cp->wsi && has_output(cp))
        lws_callback_on_writable(cp->wsi);
}

static void push_reply(hil_ocpp_cp *cp, char *text, int delay_ms)
{
    if (!text)
        return;
    size_t len = strlen(text);
    struct omsg *m = cp->rq_n < CP_MAX_REPLIES ? malloc(sizeof *m + LWS_PRE + len) : NULL;
    if (m) {
        m->next = NULL;
        m->due = mono_us() + (int64_t)delay_ms * 1000;
        m->len = len;
        memcpy(m->buf + LWS_PRE, text, len);
        if (cp->rq_tail)
            cp->rq_tail->next = m;
        else
            cp->rq_head = m;
        cp->rq_tail = m;
        cp->rq_n++;
    }
    free(text);
    kick(cp);
}

static void free_replies(hil_ocpp_cp *cp)
{
    while (cp->rq_head) {
        struct omsg *m = cp->rq_head;
        cp->rq_head = m->next;
        free(m);
    }
    cp->rq_tail = NULL;
    cp->rq_n = 0;
}

/* Queue a CALL (takes payload). front: ahead of everything else. */
static int enqueue(hil_ocpp_cp *cp, const char *action, cJSON *payload, int fill_tx, int front)
{
    if (!payload)
        return -1;
    if (cp->qn >= CP_CALLQ) {
        cp->pool->stats.dropped++;
        event(cp->pool, SIM_WARNING, cp->id, "dropped", "call queue full: %s dropped", action);
        cJSON_Delete(payload);
        return -1;
    }
    int i;
    if (front) {
        cp->qh = (cp->qh + CP_CALLQ - 1) % CP_CALLQ;
        i = cp->qh;
    } else {
        i = (cp->qh + cp->qn) % CP_CALLQ;
    }
    cp->qn++;
    snprintf(cp->q[i].action, sizeof cp->q[i].action, "%s", action);
    cp->q[i].payload = payload;
    cp->q[i].fill_tx = fill_tx;
    kick(cp);
    return 0;
}

static int tx_related(const char *action)
{
    return !strcmp(action, "StartTransaction") || !strcmp(action, "StopTransaction") ||
           !strcmp(action, "MeterValues");
}

/* ------------------------------------------------------------------ */
/* Messages we send                                                    */
/* ------------------------------------------------------------------ */

static cJSON *boot_payload(const hil_ocpp_cp *cp)
{
    cJSON *p = cJSON_CreateObject();
    if (p &&
        (!cJSON_AddStringToObject(p, "chargePointVendor", cp->vendor) ||
         !cJSON_AddStringToObject(p, "chargePointModel", cp->model) ||
         (cp->serial[0] && !cJSON_AddStringToObject(p, "chargePointSerialNumber", cp->serial)) ||
         !cJSON_AddStringToObject(p, "firmwareVersion", FLEXBED_VERSION))) {
        cJSON_Delete(p);
        return NULL;
    }
    return p;
}

static void queue_status(hil_ocpp_cp *cp, int connector, const char *status_in, int front)
{
    char status[24]; /* status_in may be cp->status itself */
    snprintf(status, sizeof status, "%s", status_in);
    if (connector > 0)
        snprintf(cp->status, sizeof cp->status, "%s", status);
    cJSON *p = cJSON_CreateObject();
    char t[48];
    iso(dev_clock(cp, mono_us()), t, sizeof t);
    if (p && (!cJSON_AddNumberToObject(p, "connectorId", connector) ||
              !cJSON_AddStringToObject(p, "errorCode", "NoError") ||
              !cJSON_AddStringToObject(p, "status", status) ||
              !cJSON_AddStringToObject(p, "timestamp", t))) {
        cJSON_Delete(p);
        p = NULL;
    }
    enqueue(cp, "StatusNotification", p, 0, front);
}

static int add_sample(cJSON *arr, const char *measurand, const char *unit, double v,
                      const char *context, const char *location)
{
    cJSON *s = cJSON_CreateObject();
    char buf[48];
    snprintf(buf, sizeof buf, "%.3f", v);
    if (!s || !cJSON_AddItemToArray(arr, s)) {
        cJSON_Delete(s);
        return -1;
    }
    if (!cJSON_AddStringToObject(s, "value", buf) ||
        !cJSON_AddStringToObject(s, "context", context) ||
        !cJSON_AddStringToObject(s, "measurand", measurand) ||
        (location && !cJSON_AddStringToObject(s, "location", location)) ||
        !cJSON_AddStringToObject(s, "unit", unit))
        return -1;
    return 0;
}

static cJSON *meter_payload(hil_ocpp_cp *cp, const char *context)
{
    const struct hil_ocpp_meter *m = &cp->meter;
    cJSON *p = cJSON_CreateObject();
    cJSON *mvs = p ? cJSON_AddArrayToObject(p, "meterValue") : NULL;
    cJSON *mv = cJSON_CreateObject();
    if (!mvs || !mv || !cJSON_AddItemToArray(mvs, mv)) {
        cJSON_Delete(mv);
        cJSON_Delete(p);
        return NULL;
    }
    char t[48];
    iso(dev_clock(cp, mono_us()), t, sizeof t);
    cJSON *sv = cJSON_AddArrayToObject(mv, "sampledValue");
    int bad =
        !cJSON_AddNumberToObject(p, "connectorId", 1) ||
        !cJSON_AddStringToObject(mv, "timestamp", t) || !sv ||
        add_sample(sv, "Energy.Active.Import.Register", "Wh", m->e_import_wh, context, NULL) ||
        add_sample(sv, "Energy.Active.Export.Register", "Wh", m->e_export_wh, context, NULL) ||
        add_sample(sv, "Power.Active.Import", "W", m->p_w > 0 ? m->p_w : 0, context, NULL) ||
        add_sample(sv, "Power.Active.Export", "W", m->p_w < 0 ? -m->p_w : 0, context, NULL) ||
        (isfinite(m->soc_pct) && add_sample(sv, "SoC", "Percent", m->soc_pct, context, "EV"));
    if (bad) {
        cJSON_Delete(p);
        return NULL;
    }
    return p;
}

static void queue_meter(hil_ocpp_cp *cp, const char *context)
{
    cJSON *p = meter_payload(cp, context);
    if (p && enqueue(cp, "MeterValues", p, 1, 0) == 0)
        cp->n_meter_values++;
}

static void queue_start(hil_ocpp_cp *cp, const char *id_tag)
{
    cJSON *p = cJSON_CreateObject();
    char t[48];
    iso(dev_clock(cp, mono_us()), t, sizeof t);
    if (p && (!cJSON_AddNumberToObject(p, "connectorId", 1) ||
              !cJSON_AddStringToObject(p, "idTag", id_tag) ||
              !cJSON_AddNumberToObject(p, "meterStart", floor(cp->meter.e_import_wh)) ||
              !cJSON_AddStringToObject(p, "timestamp", t))) {
        cJSON_Delete(p);
        p = NULL;
    }
    if (enqueue(cp, "StartTransaction", p, 0, 0) == 0)
        cp->tx_pending = 1;
}

static void queue_stop(hil_ocpp_cp *cp, const char *reason)
{
    cJSON *p = cJSON_CreateObject();
    char t[48];
    iso(dev_clock(cp, mono_us()), t, sizeof t);
    if (p && (!cJSON_AddNumberToObject(p, "meterStop", floor(cp->meter.e_import_wh)) ||
              !cJSON_AddStringToObject(p, "timestamp", t) ||
              !cJSON_AddStringToObject(p, "reason", reason) ||
              (cp->tx_id && !cJSON_AddNumberToObject(p, "transactionId", cp->tx_id)))) {
        cJSON_Delete(p);
        p = NULL;
    }
    enqueue(cp, "StopTransaction", p, cp->tx_id == 0, 0);
    event(cp->pool, SIM_INFO, cp->id, "tx_stop", "transaction %d stopping (%s)", cp->tx_id, reason);
    cp->tx_id = 0;
    cp->tx_pending = 0;
    /* A TxProfile ends with its transaction. */
    for (int i = 0; i < CP_MAX_PROFILES; i++)
        if (cp->prof[i].used && cp->prof[i].purpose == P_TX)
            cp->prof[i].used = 0;
}

/* ------------------------------------------------------------------ */
/* Charging profiles                                                   */
/* ------------------------------------------------------------------ */

/* The limit of profile p at device time now, in W; 0 when not in force. */
static int profile_limit(const hil_ocpp_cp *cp, const struct profile *p, int64_t now, double *w)
{
    if ((p->valid_from && now < p->valid_from) || (p->valid_to && now >= p->valid_to))
        return 0;
    int64_t start = p->installed;
    if (p->kind == K_ABSOLUTE && p->start)
        start = p->start;
    if (p->kind == K_RELATIVE && p->purpose != P_MAX && cp->tx_id)
        start = cp->tx_start_clock;
    int64_t el = now - start;
    if (p->kind == K_RECURRING) {
        int64_t per = (p->weekly ? 7 : 1) * INT64_C(86400000000);
        if (now < p->start)
            return 0;
        el = (now - p->start) % per;
    }
    if (el < 0)
        return 0;
    double el_s = (double)el / 1e6;
    if (p->duration_s >= 0 && el_s >= p->duration_s)
        return 0;
    int k = -1;
    for (int i = 0; i < p->nper; i++)
        if (p->per[i].start_s <= el_s)
            k = i;
    if (k < 0)
        return 0;
    double lim = p->per[k].limit;
    if (p->amps)
        lim *= (p->per[k].phases > 0 ? p->per[k].phases : cp->cfg.phases) * cp->cfg.voltage_v;
    *w = lim;
    return 1;
}

/* The highest-stack profile in force of a purpose; 1 when one is. */
static int best_limit(const hil_ocpp_cp *cp, int purpose, int64_t now, double *w)
{
    int best = -1;
    for (int i = 0; i < CP_MAX_PROFILES; i++) {
        const struct profile *p = &cp->prof[i];
        double l;
        if (!p->used || p->purpose != purpose)
            continue;
        if (purpose == P_TX && p->tx_id && p->tx_id != cp->tx_id)
            continue;
        if (p->stack > best && profile_limit(cp, p, now, &l)) {
            best = p->stack;
            *w = l;
        }
    }
    return best >= 0;
}

/* What the charge point should do now: OCPP 1.6 3.13.2 with our signed
 * convention. A TxProfile beats a TxDefaultProfile; a ChargePointMaxProfile
 * caps the charging side only (it limits what is drawn from the grid). */
static int effective_limit(const hil_ocpp_cp *cp, int64_t now, double *w)
{
    double l = 0, m = 0;
    int has = 0;
    if (cp->tx_id)
        has = best_limit(cp, P_TX, now, &l) || best_limit(cp, P_TX_DEFAULT, now, &l);
    if (cp->tx_id && best_limit(cp, P_MAX, now, &m)) {
        if (!has) {
            l = m;
            has = 1;
        } else if (l > m) {
            l = m;
        }
    }
    *w = has ? l : 0;
    return has;
}

static int apply_limit(hil_ocpp_cp *cp, int64_t mono, struct sim_err *err)
{
    double w = 0;
    int has = effective_limit(cp, dev_clock(cp, mono), &w);
    if (cp->cfg.ignore_profiles)
        has = 0, w = 0;
    if (has == cp->has_limit && (!has || fabs(w - cp->limit_w) < 0.05))
        return 0;
    cp->has_limit = has;
    cp->limit_w = w;
    if (has)
        event(cp->pool, SIM_INFO, cp->id, "limit", "limit %.1f W in force", w);
    else
        event(cp->pool, SIM_INFO, cp->id, "limit", "no limit in force");
    return cp->dev.set_limit ? cp->dev.set_limit(cp->dev.self, mono, has, w, err) : 0;
}

/* Install a csChargingProfiles object. Returns the status to answer. */
static const char *install_profile(hil_ocpp_cp *cp, int connector, const cJSON *j, int64_t now)
{
    struct profile p;
    memset(&p, 0, sizeof p);
    const char *purpose = get_str(j, "chargingProfilePurpose", "");
    const char *kind = get_str(j, "chargingProfileKind", "");
    p.purpose = !strcmp(purpose, "TxProfile")          ? P_TX
                : !strcmp(purpose, "TxDefaultProfile") ? P_TX_DEFAULT
                                                       : P_MAX;
    p.kind = !strcmp(kind, "Absolute")    ? K_ABSOLUTE
             : !strcmp(kind, "Recurring") ? K_RECURRING
                                          : K_RELATIVE;
    p.id = get_int(j, "chargingProfileId", 0);
    p.stack = get_int(j, "stackLevel", 0);
    p.connector = connector;
    p.tx_id = get_int(j, "transactionId", 0);
    p.weekly = !strcmp(get_str(j, "recurrencyKind", "Daily"), "Weekly");
    p.valid_from = get_time(j, "validFrom");
    p.valid_to = get_time(j, "validTo");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "chargingSchedule");
    p.start = get_time(s, "startSchedule");
    p.duration_s = get_int(s, "duration", -1);
    p.amps = !strcmp(get_str(s, "chargingRateUnit", "W"), "A");
    p.installed = now;
    if (connector < 0 || connector > CP_CONNECTORS || p.stack < 0 ||
        (p.purpose == P_MAX && connector != 0))
        return "Rejected";
    if (p.purpose == P_TX && (!cp->tx_id || (p.tx_id && p.tx_id != cp->tx_id)))
        return "Rejected"; /* 1.6: a TxProfile needs its transaction */
    if (p.kind == K_RECURRING && !p.start)
        return "Rejected";
    const cJSON *per;
    cJSON_ArrayForEach(per, cJSON_GetObjectItemCaseSensitive(s, "chargingSchedulePeriod"))
    {
        if (p.nper == CP_MAX_PERIODS)
            return "Rejected";
        p.per[p.nper].start_s = get_int(per, "startPeriod", 0);
        p.per[p.nper].limit = cJSON_GetObjectItemCaseSensitive(per, "limit")->valuedouble;
        p.per[p.nper].phases = get_int(per, "numberPhases", 0);
        if (p.nper && p.per[p.nper].start_s <= p.per[p.nper - 1].start_s)
            return "Rejected"; /* periods must be in increasing order */
        p.nper++;
    }
    if (p.nper == 0 || p.per[0].start_s != 0)
        return "Rejected";
    p.used = 1;
    /* Same id, or same purpose and stack level: replaced. */
    int slot = -1;
    for (int i = 0; i < CP_MAX_PROFILES && slot < 0; i++)
        if (cp->prof[i].used && (cp->prof[i].id == p.id || (cp->prof[i].purpose == p.purpose &&
                                                            cp->prof[i].stack == p.stack &&
                                                            cp->prof[i].connector == connector)))
            slot = i;
    for (int i = 0; i < CP_MAX_PROFILES && slot < 0; i++)
        if (!cp->prof[i].used)
            slot = i;
    if (slot < 0)
        return "Rejected";
    cp->prof[slot] = p;
    event(cp->pool, SIM_INFO, cp->id, "profile_set", "profile %d (%s, stack %d): %g %s from %d s",
          p.id, purpose, p.stack, p.per[0].limit, p.amps ? "A" : "W", p.per[0].start_s);
    return "Accepted";
}

/* ------------------------------------------------------------------ */
/* The central system's CALLs                                          */
/* ------------------------------------------------------------------ */

struct cfg_key {
    const char *key;
    int writable;
};

static const struct cfg_key cfg_keys[] = {
    {"HeartbeatInterval", 1},          {"MeterValueSampleInterval", 1},
    {"MeterValuesSampledData", 0},     {"NumberOfConnectors", 0},
    {"ChargeProfileMaxStackLevel", 0}, {"ChargingScheduleAllowedChargingRateUnit", 0},
    {"ChargingScheduleMaxPeriods", 0}, {"MaxChargingProfilesInstalled", 0},
    {"SupportedFeatureProfiles", 0},   {NULL, 0},
};

static void cfg_value(const hil_ocpp_cp *cp, const char *key, char *v, size_t n)
{
    if (!strcmp(key, "HeartbeatInterval"))
        snprintf(v, n, "%d", cp->heartbeat_s);
    else if (!strcmp(key, "MeterValueSampleInterval"))
        snprintf(v, n, "%d", (cp->meter_ms + 999) / 1000);
    else if (!strcmp(key, "MeterValuesSampledData"))
        snprintf(v, n,
                 "Energy.Active.Import.Register,Energy.Active.Export.Register,"
                 "Power.Active.Import,Power.Active.Export,SoC");
    else if (!strcmp(key, "NumberOfConnectors"))
        snprintf(v, n, "%d", CP_CONNECTORS);
    else if (!strcmp(key, "ChargeProfileMaxStackLevel"))
        snprintf(v, n, "%d", CP_MAX_PROFILES);
    else if (!strcmp(key, "ChargingScheduleAllowedChargingRateUnit"))
        snprintf(v, n, "Current,Power");
    else if (!strcmp(key, "ChargingScheduleMaxPeriods"))
        snprintf(v, n, "%d", CP_MAX_PERIODS);
    else if (!strcmp(key, "MaxChargingProfilesInstalled"))
        snprintf(v, n, "%d", CP_MAX_PROFILES);
    else
        snprintf(v, n, "Core,SmartCharging,RemoteTrigger");
}

static const struct cfg_key *find_key(const char *k)
{
    for (int i = 0; cfg_keys[i].key; i++)
        if (!strcmp(cfg_keys[i].key, k))
            return &cfg_keys[i];
    return NULL;
}

static int add_key(cJSON *arr, const hil_ocpp_cp *cp, const struct cfg_key *k)
{
    char v[160];
    cfg_value(cp, k->key, v, sizeof v);
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(arr, o)) {
        cJSON_Delete(o);
        return -1;
    }
    return !cJSON_AddStringToObject(o, "key", k->key) ||
                   !cJSON_AddBoolToObject(o, "readonly", !k->writable) ||
                   !cJSON_AddStringToObject(o, "value", v)
               ? -1
               : 0;
}

static cJSON *status_only(const char *status)
{
    cJSON *r = cJSON_CreateObject();
    if (r && !cJSON_AddStringToObject(r, "status", status)) {
        cJSON_Delete(r);
        return NULL;
    }
    return r;
}

/* Answer a CALL whose payload passed its schema; NULL with *code set when
 * the answer is a CALLERROR. */
static cJSON *handle_call(hil_ocpp_cp *cp, const char *action, const cJSON *p, int *code)
{
    int64_t mono = mono_us(), now = dev_clock(cp, mono);
    *code = HIL_OCPP_E_INTERNAL_ERROR;
    if (!strcmp(action, "SetChargingProfile")) {
        const char *st =
            install_profile(cp, get_int(p, "connectorId", -1),
                            cJSON_GetObjectItemCaseSensitive(p, "csChargingProfiles"), now);
        if (strcmp(st, "Accepted"))
            event(cp->pool, SIM_WARNING, cp->id, "profile_rejected", "SetChargingProfile %s", st);
        return status_only(st);
    }
    if (!strcmp(action, "ClearChargingProfile")) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(p, "id");
        const char *purpose = get_str(p, "chargingProfilePurpose", NULL);
        int conn = get_int(p, "connectorId", -1), stack = get_int(p, "stackLevel", -1), n = 0;
        for (int i = 0; i < CP_MAX_PROFILES; i++) {
            struct profile *q = &cp->prof[i];
            if (!q->used)
                continue;
            int match;
            if (id)
                match = q->id == (int)id->valuedouble;
            else
                match = (conn < 0 || q->connector == conn) && (stack < 0 || q->stack == stack) &&
                        (!purpose ||
                         q->purpose == (!strcmp(purpose, "TxProfile")          ? P_TX
                                        : !strcmp(purpose, "TxDefaultProfile") ? P_TX_DEFAULT
                                                                               : P_MAX));
            if (match) {
                q->used = 0;
                n++;
            }
        }
        event(cp->pool, SIM_INFO, cp->id, "profile_cleared", "%d profile(s) cleared", n);
        return status_only(n ? "Accepted" : "Unknown");
    }
    if (!strcmp(action, "RemoteStartTransaction")) {
        if (!cp->plugged || cp->tx_id || cp->tx_pending)
            return status_only("Rejected");
        cp->tx_blocked = 0;
        queue_start(cp, get_str(p, "idTag", cp->id_tag));
        const cJSON *prof = cJSON_GetObjectItemCaseSensitive(p, "chargingProfile");
        if (prof) {
            /* Installed for the coming transaction: a TxProfile without a
             * transaction id applies to whichever starts next. */
            struct profile *q = NULL;
            for (int i = 0; i < CP_MAX_PROFILES && !q; i++)
                if (!cp->prof[i].used)
                    q = &cp->prof[i];
            if (q) {
                int saved = cp->tx_id;
                cp->tx_id = -1; /* let install_profile accept a TxProfile */
                install_profile(cp, 1, prof, now);
                cp->tx_id = saved;
            }
        }
        event(cp->pool, SIM_INFO, cp->id, "remote_start", "remote start, idTag %s",
              get_str(p, "idTag", ""));
        return status_only("Accepted");
    }
    if (!strcmp(action, "RemoteStopTransaction")) {
        if (!cp->tx_id || get_int(p, "transactionId", 0) != cp->tx_id)
            return status_only("Rejected");
        event(cp->pool, SIM_INFO, cp->id, "remote_stop", "remote stop of %d", cp->tx_id);
        queue_stop(cp, "Remote");
        cp->tx_blocked = 1; /* no new transaction until the car is replugged */
        queue_status(cp, 1, "Finishing", 0);
        return status_only("Accepted");
    }
    if (!strcmp(action, "GetConfiguration")) {
        cJSON *r = cJSON_CreateObject();
        cJSON *known = r ? cJSON_AddArrayToObject(r, "configurationKey") : NULL;
        cJSON *unknown = cJSON_CreateArray();
        const cJSON *want = cJSON_GetObjectItemCaseSensitive(p, "key"), *k;
        int bad = !known || !unknown;
        if (!bad && cJSON_GetArraySize(want) > 0) {
            cJSON_ArrayForEach(k, want)
            {
                const struct cfg_key *ck = find_key(k->valuestring);
                if (ck)
                    bad |= add_key(known, cp, ck);
                else
                    bad |= !cJSON_AddItemToArray(unknown, cJSON_CreateString(k->valuestring));
            }
        } else if (!bad) {
            for (int i = 0; cfg_keys[i].key; i++)
                bad |= add_key(known, cp, &cfg_keys[i]);
        }
        if (!bad && cJSON_GetArraySize(unknown) > 0) {
            bad = !cJSON_AddItemToObject(r, "unknownKey", unknown);
            if (!bad)
                unknown = NULL;
        }
        cJSON_Delete(unknown);
        if (bad) {
            cJSON_Delete(r);
            return NULL;
        }
        return r;
    }
    if (!strcmp(action, "ChangeConfiguration")) {
        const char *key = get_str(p, "key", ""), *val = get_str(p, "value", "");
        const struct cfg_key *ck = find_key(key);
        if (!ck)
            return status_only("NotSupported");
        if (!ck->writable)
            return status_only("Rejected");
        char *end = NULL;
        long v = strtol(val, &end, 10);
        if (end == val || *end || v < 0 || v > 86400 ||
            (v == 0 && !strcmp(key, "HeartbeatInterval")))
            return status_only("Rejected");
        if (!strcmp(key, "HeartbeatInterval")) {
            cp->heartbeat_s = (int)v;
            cp->next_heartbeat = mono + v * 1000000;
        } else {
            cp->meter_ms = (int)v * 1000;
            cp->next_meter = mono + (int64_t)cp->meter_ms * 1000;
        }
        event(cp->pool, SIM_INFO, cp->id, "config_changed", "%s = %ld", key, v);
        return status_only("Accepted");
    }
    if (!strcmp(action, "TriggerMessage")) {
        const char *what = get_str(p, "requestedMessage", "");
        const char *st = "Accepted";
        /* Queued now, sent after our answer (replies leave first). */
        if (!strcmp(what, "BootNotification"))
            enqueue(cp, "BootNotification", boot_payload(cp), 0, 0);
        else if (!strcmp(what, "Heartbeat"))
            enqueue(cp, "Heartbeat", cJSON_CreateObject(), 0, 0);
        else if (!strcmp(what, "MeterValues"))
            queue_meter(cp, "Trigger");
        else if (!strcmp(what, "StatusNotification"))
            queue_status(cp, get_int(p, "connectorId", 1),
                         get_int(p, "connectorId", 1) == 0 ? "Available" : cp->status, 0);
        else
            st = "NotImplemented";
        event(cp->pool, SIM_INFO, cp->id, "trigger", "TriggerMessage %s: %s", what, st);
        return status_only(st);
    }
    *code = HIL_OCPP_E_NOT_SUPPORTED;
    return NULL;
}

static void on_call(hil_ocpp_cp *cp, struct hil_ocpp_frame *f)
{
    hil_ocpp_cp_pool *pool = cp->pool;
    struct sim_err e = {{0}};
    int code = 0;
    pool->stats.calls_in++;
    int rc = hil_ocpp_validate(pool->schemas, f->action, 0, f->payload, &code, &e);
    if (rc) {
        event(pool, SIM_WARNING, cp->id, rc == SIM_ENOENT ? "not_implemented" : "invalid_call",
              "%s", e.msg);
        push_reply(cp, hil_ocpp_frame_error(f->id, code, e.msg, NULL), cp->cfg.answer_delay_ms);
        return;
    }
    cJSON *r = handle_call(cp, f->action, f->payload, &code);
    if (r && hil_ocpp_validate(pool->schemas, f->action, 1, r, &code, &e) != 0) {
        event(pool, SIM_ALARM, cp->id, "internal", "our answer failed its schema: %s", e.msg);
        cJSON_Delete(r);
        r = NULL;
        code = HIL_OCPP_E_INTERNAL_ERROR;
    }
    if (!r) {
        if (code == HIL_OCPP_E_NOT_SUPPORTED)
            event(pool, SIM_INFO, cp->id, "not_supported", "%s not supported", f->action);
        push_reply(cp,
                   hil_ocpp_frame_error(f->id, code,
                                        code == HIL_OCPP_E_NOT_SUPPORTED
                                            ? "not supported by this charge point"
                                            : "internal error",
                                        NULL),
                   cp->cfg.answer_delay_ms);
        return;
    }
    push_reply(cp, hil_ocpp_frame_result(f->id, r), cp->cfg.answer_delay_ms);
    cJSON_Delete(r);
}

/* An answer to our in-flight CALL. */
static void on_result(hil_ocpp_cp *cp, struct hil_ocpp_frame *f)
{
    hil_ocpp_cp_pool *pool = cp->pool;
    int64_t now = mono_us();
    if (f->type == HIL_OCPP_CALLERROR) {
        /* Kept even for an answer we did not wait for (tests send raw). */
        snprintf(cp->last_error, sizeof cp->last_error, "%.30s: %.120s", f->error_name,
                 f->error_desc);
        cp->n_errors_in++;
        pool->stats.errors_in++;
    }
    if (!cp->inflight_id[0] || strcmp(f->id, cp->inflight_id) != 0) {
        pool->stats.late_results++;
        event(pool, SIM_WARNING, cp->id, "late_result", "answer to %s: not in flight, ignored",
              f->id);
        return;
    }
    char action[40];
    snprintf(action, sizeof action, "%s", cp->inflight_action);
    cp->inflight_id[0] = 0;
    cJSON_Delete(cp->inflight_q.payload);
    cp->inflight_q.payload = NULL;
    if (pool->lat && pool->lat_n < pool->cfg.latency_capacity)
        pool->lat[pool->lat_n++] = now - cp->inflight_sent;
    if (f->type == HIL_OCPP_CALLERROR) {
        event(pool, SIM_WARNING, cp->id, "call_error", "%s answered %s", action, cp->last_error);
        if (!strcmp(action, "BootNotification")) {
            cp->boot_inflight = 0;
            cp->next_boot = now + 10 * INT64_C(1000000);
        } else if (!strcmp(action, "StartTransaction")) {
            cp->tx_pending = 0;
            cp->tx_blocked = 1;
        }
        kick(cp);
        return;
    }
    pool->stats.results_in++;
    struct sim_err e = {{0}};
    if (hil_ocpp_validate(pool->schemas, action, 1, f->payload, NULL, &e) != 0) {
        event(pool, SIM_WARNING, cp->id, "invalid_result", "%s", e.msg);
        if (!strcmp(action, "BootNotification")) {
            cp->boot_inflight = 0;
            cp->next_boot = now + 10 * INT64_C(1000000);
        }
        kick(cp);
        return;
    }
    if (!strcmp(action, "BootNotification")) {
        const char *st = get_str(f->payload, "status", "");
        int interval = get_int(f->payload, "interval", 0);
        cp->boot_inflight = 0;
        if (!strcmp(st, "Accepted")) {
            if (!cp->booted) {
                cp->booted = 1;
                cp->backoff_ms = cp->cfg.reconnect_min_ms;
                if (interval > 0)
                    cp->heartbeat_s = interval;
                cp->next_heartbeat = now + (int64_t)cp->heartbeat_s * 1000000;
                event(pool, SIM_INFO, cp->id, "boot", "boot accepted, heartbeat %d s",
                      cp->heartbeat_s);
                /* Status first, then whatever waited (transactions),
                 * unless a status is already waiting. */
                int queued = 0;
                for (int i = 0; i < cp->qn; i++)
                    queued |= !strcmp(cp->q[(cp->qh + i) % CP_CALLQ].action, "StatusNotification");
                if (!queued)
                    queue_status(cp, 1, cp->status, 1);
            }
        } else {
            cp->next_boot = now + (int64_t)(interval > 0 ? interval : 10) * 1000000;
            event(pool, SIM_WARNING, cp->id, "boot_rejected", "boot %s, retry in %d s", st,
                  interval > 0 ? interval : 10);
        }
    } else if (!strcmp(action, "StartTransaction")) {
        int tx = get_int(f->payload, "transactionId", 0);
        const char *st =
            get_str(cJSON_GetObjectItemCaseSensitive(f->payload, "idTagInfo"), "status", "");
        cp->tx_pending = 0;
        cp->last_started_tx = tx;
        if (!cp->plugged) {
            /* The car left while the start was in flight: the queued stop
             * takes the id from last_started_tx. */
        } else if (!strcmp(st, "Accepted")) {
            cp->tx_id = tx;
            cp->tx_start_clock = dev_clock(cp, now);
            cp->next_meter = now + (int64_t)cp->meter_ms * 1000;
            for (int i = 0; i < CP_MAX_PROFILES; i++)
                if (cp->prof[i].used && cp->prof[i].purpose == P_TX && cp->prof[i].tx_id == 0)
                    cp->prof[i].tx_id = tx;
            event(pool, SIM_INFO, cp->id, "tx_start", "transaction %d started", tx);
            queue_status(cp, 1, "Charging", 0);
        } else {
            cp->tx_id = tx;
            event(pool, SIM_WARNING, cp->id, "tx_refused", "idTag %s: stopping %d", st, tx);
            queue_stop(cp, "DeAuthorized");
            cp->tx_blocked = 1;
        }
    }
    kick(cp);
}

static void on_message(hil_ocpp_cp *cp, const char *text, size_t len)
{
    hil_ocpp_cp_pool *pool = cp->pool;
    pool->stats.msgs_in++;
    struct hil_ocpp_frame f;
    struct sim_err e = {{0}};
    int reply = 0;
    int rc = hil_ocpp_frame_parse(text, len, &f, &reply, &e);
    if (rc) {
        event(pool, SIM_WARNING, cp->id, "malformed", "%s", e.msg);
        if (f.type != HIL_OCPP_CALLRESULT && f.type != HIL_OCPP_CALLERROR)
            push_reply(cp,
                       hil_ocpp_frame_error(f.id[0] ? f.id : HIL_OCPP_UNKNOWN_ID,
                                            reply ? reply : HIL_OCPP_E_FORMATION_VIOLATION, e.msg,
                                            NULL),
                       0);
    } else if (f.type == HIL_OCPP_CALL) {
        on_call(cp, &f);
    } else {
        on_result(cp, &f);
    }
    hil_ocpp_frame_clear(&f);
}

/* ------------------------------------------------------------------ */
/* Connection                                                          */
/* ------------------------------------------------------------------ */

static void go_offline(hil_ocpp_cp *cp, const char *why, int failed_connect)
{
    hil_ocpp_cp_pool *pool = cp->pool;
    int was_online = cp->state == ONLINE;
    cp->state = OFFLINE;
    cp->wsi = NULL;
    cp->booted = 0;
    cp->boot_inflight = 0;
    cp->want_close = 0;
    free_replies(cp);
    free(cp->rx);
    cp->rx = NULL;
    cp->rx_len = cp->rx_cap = 0;
    cp->rx_bad = 0;
    /* Only transaction messages survive a disconnect (OCPP 1.6 3.16: they
     * must reach the central system), the one in flight included: its
     * answer is lost with the connection, so it goes again, first. */
    int n = cp->qn, kept = 0;
    struct qcall tmp[CP_CALLQ];
    for (int i = 0; i < n; i++) {
        struct qcall *q = &cp->q[(cp->qh + i) % CP_CALLQ];
        if (tx_related(q->action))
            tmp[kept++] = *q;
        else
            cJSON_Delete(q->payload);
    }
    int off = 0;
    if (cp->inflight_id[0] && cp->inflight_q.payload) {
        cp->q[0] = cp->inflight_q;
        cp->inflight_q.payload = NULL;
        off = 1;
    }
    cp->inflight_id[0] = 0;
    for (int i = 0; i < kept && i + off < CP_CALLQ; i++)
        cp->q[i + off] = tmp[i];
    for (int i = CP_CALLQ - off; i < kept; i++)
        cJSON_Delete(tmp[i].payload);
    cp->qh = 0;
    cp->qn = kept + off < CP_CALLQ ? kept + off : CP_CALLQ;
    int64_t now = mono_us();
    cp->next_connect = now + cp->backoff_ms * 1000;
    cp->next_boot = 0;
    cp->backoff_ms = cp->backoff_ms * 2 > cp->cfg.reconnect_max_ms ? cp->cfg.reconnect_max_ms
                                                                   : cp->backoff_ms * 2;
    if (failed_connect) {
        pool->stats.connect_failures++;
        snprintf(cp->last_connect_error, sizeof cp->last_connect_error, "%s", why);
        event(pool, SIM_WARNING, cp->id, "connect_failed", "%s", why);
    } else if (was_online) {
        pool->stats.disconnects++;
        event(pool, SIM_WARNING, cp->id, "disconnected", "%s", why);
    }
}

static int start_connect(hil_ocpp_cp *cp)
{
    hil_ocpp_cp_pool *pool = cp->pool;
    struct lws_client_connect_info i;
    memset(&i, 0, sizeof i);
    i.context = pool->ctx;
    i.address = cp->host;
    i.port = cp->port;
    i.path = cp->path;
    i.host = cp->host;
    i.origin = cp->host;
    i.protocol = HIL_OCPP_SUBPROTOCOL;
    i.local_protocol_name = HIL_OCPP_SUBPROTOCOL;
    i.userdata = cp;
    cp->state = CONNECTING;
    cp->wsi = NULL;
    struct lws *w = lws_client_connect_via_info(&i);
    if (cp->state != CONNECTING)
        return 0; /* failed synchronously, already handled */
    if (!w) {
        go_offline(cp, "cannot start a connection", 1);
        return -1;
    }
    cp->wsi = w;
    return 0;
}

/* Send one message on a writable connection; -1 closes it. */
static int on_writable(hil_ocpp_cp *cp)
{
    hil_ocpp_cp_pool *pool = cp->pool;
    if (cp->want_close) {
        cp->want_close = 0;
        return -1;
    }
    int64_t now = mono_us();
    if (cp->rq_head && cp->rq_head->due <= now) {
        struct omsg *m = cp->rq_head;
        cp->rq_head = m->next;
        if (!cp->rq_head)
            cp->rq_tail = NULL;
        cp->rq_n--;
        int n = lws_write(cp->wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
        int bad = n < (int)m->len;
        free(m);
        pool->stats.msgs_out++;
        if (bad)
            return -1;
        kick(cp);
        return 0;
    }
    if (cp->inflight_id[0])
        return 0;
    const char *action;
    cJSON *payload = NULL;
    struct qcall q = {{0}};
    if (!cp->booted) {
        if (cp->boot_inflight || now < cp->next_boot)
            return 0;
        payload = boot_payload(cp);
        action = "BootNotification";
        cp->boot_inflight = 1;
    } else {
        if (cp->qn == 0)
            return 0;
        q = cp->q[cp->qh];
        cp->qh = (cp->qh + 1) % CP_CALLQ;
        cp->qn--;
        action = q.action;
        payload = q.payload;
        if (q.fill_tx && !cJSON_GetObjectItemCaseSensitive(payload, "transactionId")) {
            int tx = cp->tx_id ? cp->tx_id : cp->last_started_tx;
            if (!strcmp(action, "StopTransaction") && tx == 0) {
                event(pool, SIM_WARNING, cp->id, "dropped",
                      "StopTransaction without a transaction id dropped");
                cJSON_Delete(payload);
                kick(cp);
                return 0;
            }
            if (tx && (!strcmp(action, "StopTransaction") || cp->tx_id))
                cJSON_AddNumberToObject(payload, "transactionId", tx);
        }
    }
    if (!payload)
        return 0;
    struct sim_err e = {{0}};
    if (hil_ocpp_validate(pool->schemas, action, 0, payload, NULL, &e) != 0) {
        event(pool, SIM_ALARM, cp->id, "internal", "our call failed its schema: %s", e.msg);
        cJSON_Delete(payload);
        if (!strcmp(action, "BootNotification"))
            cp->boot_inflight = 0;
        return 0;
    }
    char id[24];
    snprintf(id, sizeof id, "%u", ++cp->msg_seq);
    char *t = hil_ocpp_frame_call(id, action, payload);
    cJSON_Delete(cp->inflight_q.payload);
    cp->inflight_q.payload = NULL;
    if (tx_related(action)) {
        snprintf(cp->inflight_q.action, sizeof cp->inflight_q.action, "%s", action);
        cp->inflight_q.payload = payload;
        cp->inflight_q.fill_tx = 0;
    } else {
        cJSON_Delete(payload);
    }
    if (!t)
        return 0;
    size_t len = strlen(t);
    unsigned char *buf = malloc(LWS_PRE + len);
    if (!buf) {
        free(t);
        return 0;
    }
    memcpy(buf + LWS_PRE, t, len);
    free(t);
    int n = lws_write(cp->wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT);
    free(buf);
    if (n < (int)len)
        return -1;
    pool->stats.msgs_out++;
    pool->stats.calls_out++;
    cp->n_calls++;
    snprintf(cp->inflight_id, sizeof cp->inflight_id, "%s", id);
    snprintf(cp->inflight_action, sizeof cp->inflight_action, "%s", action);
    cp->inflight_sent = now;
    return 0;
}

static int on_receive(hil_ocpp_cp *cp, struct lws *wsi, const void *in, size_t len)
{
    if (lws_frame_is_binary(wsi) || cp->rx_len + len > CP_RX_MAX) {
        cp->rx_bad = 1;
    } else if (!cp->rx_bad &&
               hil_ocpp_rx_append(&cp->rx, &cp->rx_len, &cp->rx_cap, in, len) != 0) {
        return -1;
    }
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
        return 0;
    if (cp->rx_bad)
        event(cp->pool, SIM_WARNING, cp->id, "malformed", "binary or oversized message dropped");
    else
        on_message(cp, cp->rx, cp->rx_len);
    cp->rx_len = 0;
    cp->rx_bad = 0;
    return 0;
}

static int cp_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    /* Our charge point is the connection's user data (userdata at
     * connect); some reasons pass user NULL, so ask the wsi. */
    hil_ocpp_cp *cp = user ? user : (wsi ? lws_wsi_user(wsi) : NULL);
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        if (cp && cp->password[0]) {
            unsigned char **p = (unsigned char **)in, *end = (*p) + len;
            char plain[HIL_OCPP_CP_ID_MAX + 130], b64[400], hdr[420];
            int n = snprintf(plain, sizeof plain, "%s:%s", cp->id, cp->password);
            if (lws_b64_encode_string(plain, n, b64, sizeof b64) < 0)
                return -1;
            n = snprintf(hdr, sizeof hdr, "Basic %s", b64);
            memset(plain, 0, sizeof plain);
            if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
                                             (unsigned char *)hdr, n, p, end))
                return -1;
        }
        return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (!cp)
            return -1;
        cp->wsi = wsi;
        cp->state = ONLINE;
        cp->booted = 0;
        cp->boot_inflight = 0;
        cp->next_boot = 0;
        cp->n_connects++;
        cp->pool->stats.connects++;
        event(cp->pool, SIM_INFO, cp->id, "connected", "connected (%llu)",
              (unsigned long long)cp->n_connects);
        kick(cp);
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (cp && cp->state == CONNECTING && (!cp->wsi || cp->wsi == wsi)) {
            char why[160];
            snprintf(why, sizeof why, "%.*s", in ? (int)(len < 150 ? len : 150) : 7,
                     in ? (const char *)in : "refused");
            go_offline(cp, why, 1);
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
    case LWS_CALLBACK_WSI_DESTROY:
        if (cp && cp->wsi == wsi && cp->state != OFFLINE)
            go_offline(cp, "connection closed", cp->state == CONNECTING);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        return cp && cp->wsi == wsi ? on_receive(cp, wsi, in, len) : -1;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return cp && cp->wsi == wsi && cp->state == ONLINE ? on_writable(cp) : -1;
    default:
        return 0;
    }
}

/* ------------------------------------------------------------------ */
/* Timer                                                               */
/* ------------------------------------------------------------------ */

static int cp_tick(hil_ocpp_cp *cp, int64_t now, struct sim_err *err)
{
    hil_ocpp_cp_pool *pool = cp->pool;
    int rc = 0;
    if (cp->state == OFFLINE && now >= cp->next_connect && pool->connects_left > 0) {
        pool->connects_left--;
        start_connect(cp);
    }
    if (cp->dev.sample) {
        struct hil_ocpp_meter m = cp->meter;
        rc = cp->dev.sample(cp->dev.self, now, &m, err);
        if (!rc)
            cp->meter = m;
    }
    /* Plug and unplug drive the transaction. */
    if (cp->meter.plugged && !cp->plugged) {
        cp->plugged = 1;
        event(pool, SIM_INFO, cp->id, "plugged", "car plugged in");
        queue_status(cp, 1, "Preparing", 0);
        if (cp->cfg.auto_start && !cp->tx_blocked)
            queue_start(cp, cp->id_tag);
    } else if (!cp->meter.plugged && cp->plugged) {
        cp->plugged = 0;
        event(pool, SIM_INFO, cp->id, "unplugged", "car left");
        if (cp->tx_id || cp->tx_pending)
            queue_stop(cp, "EVDisconnected");
        cp->tx_blocked = 0;
        queue_status(cp, 1, "Available", 0);
    }
    if (cp->booted && cp->meter_ms > 0 && (cp->tx_id || cp->tx_pending) && now >= cp->next_meter) {
        queue_meter(cp, "Sample.Periodic");
        cp->next_meter += (int64_t)cp->meter_ms * 1000;
        if (cp->next_meter <= now)
            cp->next_meter = now + (int64_t)cp->meter_ms * 1000;
    }
    if (cp->booted && now >= cp->next_heartbeat) {
        enqueue(cp, "Heartbeat", cJSON_CreateObject(), 0, 0);
        cp->next_heartbeat = now + (int64_t)cp->heartbeat_s * 1000000;
    }
    if (cp->inflight_id[0] && now - cp->inflight_sent > (int64_t)cp->cfg.call_timeout_ms * 1000) {
        pool->stats.timeouts++;
        event(pool, SIM_WARNING, cp->id, "call_timeout", "%s %s unanswered", cp->inflight_action,
              cp->inflight_id);
        if (!strcmp(cp->inflight_action, "BootNotification")) {
            cp->boot_inflight = 0;
            cp->next_boot = now + 10 * INT64_C(1000000);
        }
        if (!strcmp(cp->inflight_action, "StartTransaction"))
            cp->tx_pending = 0;
        cp->inflight_id[0] = 0;
        cJSON_Delete(cp->inflight_q.payload);
        cp->inflight_q.payload = NULL;
    }
    int rc2 = apply_limit(cp, now, rc ? NULL : err);
    kick(cp);
    return rc ? rc : rc2;
}

static void on_tick(lws_sorted_usec_list_t *sul)
{
    hil_ocpp_cp_pool *pool = lws_container_of(sul, hil_ocpp_cp_pool, tick);
    int64_t now = mono_us();
    pool->connects_left = pool->cfg.connects_per_tick;
    for (int i = 0; i < pool->n; i++) {
        struct sim_err e = {{0}};
        int rc = cp_tick(pool->cps[i], now, &e);
        if (rc && !pool->dev_rc) {
            pool->dev_rc = rc;
            pool->dev_err = e;
        }
    }
    pool->ticked = 1;
    lws_sul_schedule(pool->ctx, 0, &pool->tick, on_tick, (lws_usec_t)pool->cfg.tick_ms * 1000);
}

/* ------------------------------------------------------------------ */
/* Public                                                              */
/* ------------------------------------------------------------------ */

void hil_ocpp_cp_config_default(struct hil_ocpp_cp_config *c)
{
    memset(c, 0, sizeof *c);
    c->meter_interval_ms = 10000;
    c->heartbeat_interval_s = 300;
    c->reconnect_min_ms = 500;
    c->reconnect_max_ms = 30000;
    c->call_timeout_ms = 30000;
    c->phases = 3;
    c->voltage_v = 230;
    c->auto_start = 1;
}

void hil_ocpp_cp_pool_config_default(struct hil_ocpp_cp_pool_config *c)
{
    memset(c, 0, sizeof *c);
    c->tick_ms = 100;
    c->connects_per_tick = 50;
    c->event_capacity = 1024;
}

int hil_ocpp_cp_pool_new(const struct hil_ocpp_cp_pool_config *c, hil_ocpp_cp_pool **out,
                         struct sim_err *err)
{
    *out = NULL;
    struct hil_ocpp_cp_pool_config d;
    hil_ocpp_cp_pool_config_default(&d);
    if (!c)
        c = &d;
    if (c->tick_ms <= 0 || c->connects_per_tick <= 0 || c->event_capacity <= 0)
        return sim_errf(err, SIM_EINVAL, "ocpp client: tick, connects and events must be > 0");
    hil_ocpp_cp_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return sim_errf(err, SIM_ENOMEM, "ocpp client: out of memory");
    pool->cfg = *c;
    int rc = hil_ocpp_schemas_new(&pool->schemas, err);
    if (rc)
        goto fail;
    pool->ev = calloc((size_t)c->event_capacity, sizeof *pool->ev);
    pool->lat = c->latency_capacity ? malloc(c->latency_capacity * sizeof *pool->lat) : NULL;
    if (!pool->ev || (c->latency_capacity && !pool->lat)) {
        rc = sim_errf(err, SIM_ENOMEM, "ocpp client: out of memory");
        goto fail;
    }
    pool->protocols[0].name = HIL_OCPP_SUBPROTOCOL;
    pool->protocols[0].callback = cp_callback;
    hil_ocpp_lws_quiet();
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = pool->protocols;
    info.user = pool;
    info.timeout_secs = 10;
    info.connect_timeout_secs = 10;
    pool->ctx = lws_create_context(&info);
    if (!pool->ctx) {
        rc = sim_errf(err, SIM_EIO, "ocpp client: cannot create the WebSocket context");
        goto fail;
    }
    lws_sul_schedule(pool->ctx, 0, &pool->tick, on_tick, 1000);
    *out = pool;
    return 0;
fail:
    hil_ocpp_cp_pool_free(pool);
    return rc;
}

/* "ws://host[:port]/path/<id>" into cp's host, port, path, id. */
static int parse_url(hil_ocpp_cp *cp, const char *url, struct sim_err *err)
{
    if (!url || strncmp(url, "ws://", 5) != 0)
        return sim_errf(err, SIM_EINVAL, "%s: expected ws://host[:port]/path/<id> (no TLS)",
                        url ? url : "(no url)");
    const char *h = url + 5, *slash = strchr(h, '/'), *colon = strchr(h, ':');
    if (!slash || slash == h)
        return sim_errf(err, SIM_EINVAL, "%s: no path", url);
    if (colon && colon > slash)
        colon = NULL;
    size_t hl = (size_t)((colon ? colon : slash) - h);
    if (hl == 0 || hl >= sizeof cp->host)
        return sim_errf(err, SIM_EINVAL, "%s: bad host", url);
    memcpy(cp->host, h, hl);
    cp->host[hl] = 0;
    cp->port = 80;
    if (colon) {
        char *end = NULL;
        long p = strtol(colon + 1, &end, 10);
        if (end != slash || p <= 0 || p > 65535)
            return sim_errf(err, SIM_EINVAL, "%s: bad port", url);
        cp->port = (int)p;
    }
    if (strlen(slash) >= sizeof cp->path)
        return sim_errf(err, SIM_EINVAL, "%s: path too long", url);
    snprintf(cp->path, sizeof cp->path, "%s", slash);
    const char *id = strrchr(slash, '/') + 1;
    if (!*id || strlen(id) > HIL_OCPP_CP_ID_MAX || strpbrk(id, "?#% "))
        return sim_errf(err, SIM_EINVAL,
                        "%s: the last path segment must be the charge point id (1-%d characters)",
                        url, HIL_OCPP_CP_ID_MAX);
    snprintf(cp->id, sizeof cp->id, "%s", id);
    return 0;
}

int hil_ocpp_cp_add(hil_ocpp_cp_pool *pool, const struct hil_ocpp_cp_config *c,
                    const struct hil_ocpp_cp_device *dev, hil_ocpp_cp **out, struct sim_err *err)
{
    if (out)
        *out = NULL;
    if (c->meter_interval_ms < 0 || c->heartbeat_interval_s <= 0 || c->reconnect_min_ms <= 0 ||
        c->reconnect_max_ms < c->reconnect_min_ms || c->call_timeout_ms <= 0 ||
        (c->phases != 1 && c->phases != 3) || !(c->voltage_v > 0))
        return sim_errf(err, SIM_EINVAL, "%s: bad charge point settings", c->url);
    if (c->password && strlen(c->password) >= sizeof((hil_ocpp_cp *)0)->password)
        return sim_errf(err, SIM_EINVAL, "%s: password too long", c->url);
    if (pool->n == pool->cap) {
        int cap = pool->cap ? 2 * pool->cap : 16;
        hil_ocpp_cp **n = realloc(pool->cps, (size_t)cap * sizeof *n);
        if (!n)
            return sim_errf(err, SIM_ENOMEM, "ocpp client: out of memory");
        pool->cps = n;
        pool->cap = cap;
    }
    hil_ocpp_cp *cp = calloc(1, sizeof *cp);
    if (!cp)
        return sim_errf(err, SIM_ENOMEM, "ocpp client: out of memory");
    int rc = parse_url(cp, c->url, err);
    if (rc) {
        free(cp);
        return rc;
    }
    cp->pool = pool;
    cp->cfg = *c;
    cp->cfg.url = NULL;
    cp->cfg.password = cp->cfg.vendor = cp->cfg.model = cp->cfg.serial = cp->cfg.id_tag = NULL;
    if (dev)
        cp->dev = *dev;
    snprintf(cp->password, sizeof cp->password, "%s", c->password ? c->password : "");
    snprintf(cp->vendor, sizeof cp->vendor, "%s", c->vendor ? c->vendor : "flexbed");
    snprintf(cp->model, sizeof cp->model, "%s", c->model ? c->model : "V2G emulator");
    snprintf(cp->serial, sizeof cp->serial, "%s", c->serial ? c->serial : "");
    snprintf(cp->id_tag, sizeof cp->id_tag, "%s", c->id_tag ? c->id_tag : "FLEXBED");
    snprintf(cp->status, sizeof cp->status, "Available");
    cp->heartbeat_s = c->heartbeat_interval_s;
    cp->meter_ms = c->meter_interval_ms;
    cp->backoff_ms = c->reconnect_min_ms;
    cp->meter.soc_pct = NAN;
    cp->index = pool->n;
    pool->cps[pool->n++] = cp;
    if (out)
        *out = cp;
    return 0;
}

int hil_ocpp_cp_pool_service(hil_ocpp_cp_pool *pool, struct sim_err *err)
{
    pool->ticked = 0;
    if (lws_service(pool->ctx, 0) < 0)
        return sim_errf(err, SIM_EIO, "ocpp client: event loop failed");
    if (pool->dev_rc) {
        int rc = pool->dev_rc;
        if (err)
            *err = pool->dev_err;
        pool->dev_rc = 0;
        return rc;
    }
    return 0;
}

void hil_ocpp_cp_pool_free(hil_ocpp_cp_pool *pool)
{
    if (!pool)
        return;
    if (pool->ctx) {
        lws_sul_cancel(&pool->tick);
        /* Callbacks during destruction must not reconnect or touch freed
         * charge points: they only see state that is still valid. */
        lws_context_destroy(pool->ctx);
    }
    for (int i = 0; i < pool->n; i++) {
        hil_ocpp_cp *cp = pool->cps[i];
        free_replies(cp);
        free(cp->rx);
        for (int k = 0; k < cp->qn; k++)
            cJSON_Delete(cp->q[(cp->qh + k) % CP_CALLQ].payload);
        cJSON_Delete(cp->inflight_q.payload);
        free(cp);
    }
    free(pool->cps);
    free(pool->ev);
    free(pool->lat);
    hil_ocpp_schemas_free(pool->schemas);
    free(pool);
}

int hil_ocpp_cp_count(const hil_ocpp_cp_pool *pool)
{
    return pool->n;
}

hil_ocpp_cp *hil_ocpp_cp_at(hil_ocpp_cp_pool *pool, int i)
{
    return i >= 0 && i < pool->n ? pool->cps[i] : NULL;
}

void hil_ocpp_cp_info(const hil_ocpp_cp *cp, struct hil_ocpp_cp_info *info)
{
    memset(info, 0, sizeof *info);
    snprintf(info->id, sizeof info->id, "%s", cp->id);
    info->connected = cp->state == ONLINE;
    info->booted = cp->booted;
    info->tx_id = cp->tx_id;
    snprintf(info->status, sizeof info->status, "%s", cp->status);
    info->has_limit = cp->has_limit;
    info->limit_w = cp->limit_w;
    for (int i = 0; i < CP_MAX_PROFILES; i++)
        info->profiles += cp->prof[i].used;
    info->meter_interval_ms = cp->meter_ms;
    info->heartbeat_interval_s = cp->heartbeat_s;
    info->meter = cp->meter;
    info->n_connects = cp->n_connects;
    info->n_meter_values = cp->n_meter_values;
    info->n_calls = cp->n_calls;
    info->n_errors_in = cp->n_errors_in;
    snprintf(info->last_error, sizeof info->last_error, "%s", cp->last_error);
    snprintf(info->last_connect_error, sizeof info->last_connect_error, "%s",
             cp->last_connect_error);
}

void hil_ocpp_cp_drop(hil_ocpp_cp *cp)
{
    if (cp->state == ONLINE && cp->wsi) {
        cp->want_close = 1;
        lws_callback_on_writable(cp->wsi);
    }
}

void hil_ocpp_cp_receive(hil_ocpp_cp *cp, const char *text, size_t len)
{
    on_message(cp, text, len);
    if (!cp->wsi)
        free_replies(cp);
}

int hil_ocpp_cp_send_raw(hil_ocpp_cp *cp, const char *text)
{
    if (cp->state != ONLINE)
        return SIM_ESTATE;
    char *t = strdup(text);
    if (!t)
        return SIM_ENOMEM;
    int n = cp->rq_n;
    push_reply(cp, t, 0);
    return cp->rq_n > n ? 0 : SIM_ERANGE;
}

int hil_ocpp_cp_next_event(hil_ocpp_cp_pool *pool, struct hil_ocpp_event *ev)
{
    if (pool->ev_n == 0)
        return 0;
    *ev = pool->ev[pool->ev_head];
    pool->ev_head = (pool->ev_head + 1) % pool->cfg.event_capacity;
    pool->ev_n--;
    return 1;
}

void hil_ocpp_cp_pool_stats(const hil_ocpp_cp_pool *pool, struct hil_ocpp_cp_pool_stats *st)
{
    *st = pool->stats;
}

void hil_ocpp_cp_pool_latencies(const hil_ocpp_cp_pool *pool, const int64_t **lat, size_t *n)
{
    *lat = pool->lat;
    *n = pool->lat_n;
}

void hil_ocpp_cp_pool_reset_stats(hil_ocpp_cp_pool *pool)
{
    memset(&pool->stats, 0, sizeof pool->stats);
    pool->lat_n = 0;
}
