/*
 * ocpp_cs.c: the OCPP 1.6J central system (see ocpp_cs.h for the contract).
 *
 * Structure. One libwebsockets context with one vhost and one protocol,
 * "ocpp1.6". The handshake filter checks the path (/ocpp/<id>), the
 * subprotocol and, when configured, Basic credentials. Each charge point id
 * has a record (struct cs_cp) that outlives its connections, so a charge
 * point that reconnects finds its transactions, meter values and queued
 * calls again; a second connection with the same id replaces the first.
 *
 * Traffic. Incoming text is reassembled from WebSocket fragments, parsed
 * (ocpp_frame.c) and validated (ocpp_schema.c). Answers to a charge point's
 * CALLs go to a per-connection reply queue that is always writable; our
 * own CALLs sit in a per-charge-point queue and leave one at a time, the
 * next one only after the previous was answered, failed or timed out
 * (OCPP-J 4.1.1). Calls live in a fixed table indexed by a sequence number
 * that is also the message id ("cs-<seq>"), so a late answer is recognised
 * in O(1).
 *
 * Threads. Everything below runs under cs->mu, a recursive mutex: the
 * libwebsockets callbacks take it, and so does every public function.
 * Public functions never touch a socket: they queue and wake the service
 * loop (lws_cancel_service), whose EVENT_WAIT_CANCELLED callback asks for
 * the writable callbacks.
 */
#include "ocpp_cs.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libwebsockets.h>

#include "ocpp_frame.h"
#include "ocpp_schema.h"

#define CS_CALLQ 32             /* queued CALLs per charge point */
#define CS_MAX_REPLIES 64       /* unsent answers per connection before we drop */
#define CS_RX_MAX (256 * 1024)  /* largest message we accept */
#define CS_TICK_US 100000       /* timer resolution: call timeouts */
#define CS_CALL_SLOTS 4096      /* power of two */
#define CS_VENDOR "org.flexbed" /* DataTransfer vendorId we accept */

/* One outgoing message with libwebsockets' headroom in front. */
struct omsg {
    struct omsg *next;
    size_t len;
    unsigned char buf[]; /* LWS_PRE + len */
};

struct cs_call {
    uint32_t seq; /* 0: free */
    int status;   /* enum hil_ocpp_call_status */
    int cp;       /* index in cs->cps */
    char action[HIL_OCPP_ACTION_MAX + 1];
    struct omsg *msg; /* the frame while queued or in flight */
    cJSON *result;
    char why[256];
    int64_t sent_mono_us;
};

struct cs_cp {
    char id[HIL_OCPP_CP_ID_MAX + 1];
    int index;
    struct lws *wsi; /* current connection, NULL when offline */
    struct hil_ocpp_cp_state st;
    /* answers to the charge point's CALLs, always sendable */
    struct omsg *rq_head, *rq_tail;
    int rq_n;
    /* our CALLs: a ring of sequence numbers, and the one in flight */
    uint32_t callq[CS_CALLQ];
    int cq_head, cq_n;
    uint32_t inflight;
    int want_write, want_close;
    /* the last CALL id received and our answer, for duplicates */
    char last_id[HIL_OCPP_ID_MAX + 1];
    char *last_reply;
    size_t last_reply_len;
};

/* Per-connection data, allocated (zeroed) by libwebsockets. */
struct cs_pss {
    struct cs_cp *cp; /* NULL until established, or when replaced */
    char id[HIL_OCPP_CP_ID_MAX + 1];
    char *rx;
    size_t rx_len, rx_cap;
    int rx_bad; /* current message too large or binary: drop its rest */
};

struct hil_ocpp_cs {
    struct hil_ocpp_cs_config cfg;
    char host[64], password[128], user[HIL_OCPP_CP_ID_MAX + 1];
    hil_ocpp_schemas *schemas;
    struct lws_context *ctx;
    struct lws_protocols protocols[2];
    lws_retry_bo_t retry;
    lws_sorted_usec_list_t tick;
    int port;
    pthread_mutex_t mu;
    pthread_t thread;
    int thread_running;
    atomic_int stop; /* written by hil_ocpp_cs_stop, read by the service thread */
    struct cs_cp **cps;
    int ncp, cap_cp;
    struct cs_call *calls;
    uint32_t next_seq;
    int next_tx;
    struct hil_ocpp_event *ev;
    int ev_head, ev_n;
    struct hil_ocpp_cs_stats stats;
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

static int64_t clock_us(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t wall_us(void)
{
    return clock_us(CLOCK_REALTIME);
}

static int64_t mono_us(void)
{
    return clock_us(CLOCK_MONOTONIC);
}

/* Current UTC time as OCPP dateTime, to the millisecond. */
static void now_iso(char *buf, size_t n)
{
    int64_t t = wall_us();
    sim_time_format(t - t % 1000, 0, buf, n);
}

static void lock(hil_ocpp_cs *cs)
{
    pthread_mutex_lock(&cs->mu);
}

static void unlock(hil_ocpp_cs *cs)
{
    pthread_mutex_unlock(&cs->mu);
}

static void event(hil_ocpp_cs *cs, int sev, const char *cp, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Record an event; the oldest is overwritten when the ring is full. */
static void event(hil_ocpp_cs *cs, int sev, const char *cp, const char *kind, const char *fmt, ...)
{
    int cap = cs->cfg.event_capacity;
    int i;
    if (cs->ev_n == cap) {
        i = cs->ev_head;
        cs->ev_head = (cs->ev_head + 1) % cap;
        cs->stats.events_dropped++;
    } else {
        i = (cs->ev_head + cs->ev_n) % cap;
        cs->ev_n++;
    }
    struct hil_ocpp_event *e = &cs->ev[i];
    e->wall_us = wall_us();
    e->severity = sev;
    snprintf(e->cp_id, sizeof e->cp_id, "%s", cp ? cp : "");
    snprintf(e->kind, sizeof e->kind, "%s", kind);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->text, sizeof e->text, fmt, ap);
    va_end(ap);
}

static struct omsg *omsg_new(const char *text, size_t len)
{
    struct omsg *m = malloc(sizeof *m + LWS_PRE + len);
    if (!m)
        return NULL;
    m->next = NULL;
    m->len = len;
    memcpy(m->buf + LWS_PRE, text, len);
    return m;
}

static void free_replies(struct cs_cp *cp)
{
    while (cp->rq_head) {
        struct omsg *m = cp->rq_head;
        cp->rq_head = m->next;
        free(m);
    }
    cp->rq_tail = NULL;
    cp->rq_n = 0;
}

static struct cs_cp *find_cp(hil_ocpp_cs *cs, const char *id)
{
    for (int i = 0; i < cs->ncp; i++)
        if (!strcmp(cs->cps[i]->id, id))
            return cs->cps[i];
    return NULL;
}

static struct cs_cp *get_cp(hil_ocpp_cs *cs, const char *id)
{
    struct cs_cp *cp = find_cp(cs, id);
    if (cp || cs->ncp >= cs->cfg.max_charge_points)
        return cp;
    if (cs->ncp == cs->cap_cp) {
        int cap = cs->cap_cp ? 2 * cs->cap_cp : 64;
        struct cs_cp **n = realloc(cs->cps, (size_t)cap * sizeof *n);
        if (!n)
            return NULL;
        cs->cps = n;
        cs->cap_cp = cap;
    }
    cp = calloc(1, sizeof *cp);
    if (!cp)
        return NULL;
    snprintf(cp->id, sizeof cp->id, "%s", id);
    for (int c = 0; c < HIL_OCPP_MAX_CONNECTORS; c++) {
        struct hil_ocpp_connector_state *k = &cp->st.conn[c];
        k->e_import_wh = k->e_export_wh = k->p_import_w = k->p_export_w = k->soc_pct = NAN;
    }
    cp->index = cs->ncp;
    cs->cps[cs->ncp++] = cp;
    return cp;
}

static struct cs_call *call_of(hil_ocpp_cs *cs, uint32_t seq)
{
    if (!seq)
        return NULL;
    struct cs_call *c = &cs->calls[seq & (CS_CALL_SLOTS - 1)];
    return c->seq == seq ? c : NULL;
}

static void call_finish(hil_ocpp_cs *cs, struct cs_call *c, int status, cJSON *result,
                        const char *why)
{
    (void)cs;
    c->status = status;
    free(c->msg);
    c->msg = NULL;
    cJSON_Delete(c->result);
    c->result = result;
    snprintf(c->why, sizeof c->why, "%.255s", why ? why : ""); /* truncated on purpose */
}

/* Mark the charge point writable on the service thread. */
static void kick(hil_ocpp_cs *cs, struct cs_cp *cp)
{
    if (cp->wsi)
        lws_callback_on_writable(cp->wsi);
    (void)cs;
}

static int has_output(const struct cs_cp *cp)
{
    return cp->rq_head || cp->want_close || (!cp->inflight && cp->cq_n > 0);
}

/* Queue an answer (text is copied) and ask for a writable callback. */
static void queue_reply(hil_ocpp_cs *cs, struct cs_cp *cp, const char *text, size_t len)
{
    if (cp->rq_n >= CS_MAX_REPLIES) {
        event(cs, SIM_WARNING, cp->id, "internal", "reply queue full: answer dropped");
        return;
    }
    struct omsg *m = omsg_new(text, len);
    if (!m) {
        event(cs, SIM_WARNING, cp->id, "internal", "out of memory: answer dropped");
        return;
    }
    if (cp->rq_tail)
        cp->rq_tail->next = m;
    else
        cp->rq_head = m;
    cp->rq_tail = m;
    cp->rq_n++;
    kick(cs, cp);
}

static void send_error(hil_ocpp_cs *cs, struct cs_cp *cp, const char *id, int code,
                       const char *desc)
{
    char d[256];
    snprintf(d, sizeof d, "%.255s", desc); /* a description, not the whole story */
    char *t = hil_ocpp_frame_error(id && *id ? id : HIL_OCPP_UNKNOWN_ID, code, d, NULL);
    if (!t)
        return;
    cs->stats.errors_out++;
    queue_reply(cs, cp, t, strlen(t));
    free(t);
}

/* The in-flight call failed (timeout, disconnect): free the slot for the
 * next one. */
static void fail_inflight(hil_ocpp_cs *cs, struct cs_cp *cp, const char *why)
{
    struct cs_call *c = call_of(cs, cp->inflight);
    cp->inflight = 0;
    if (!c || c->status != HIL_OCPP_CALL_SENT)
        return;
    call_finish(cs, c, HIL_OCPP_CALL_FAILED, NULL, why);
    event(cs, SIM_WARNING, cp->id, "call_failed", "%s cs-%u: %s", c->action, c->seq, why);
}

/* ------------------------------------------------------------------ */
/* Handlers of the charge point's CALLs                                */
/* ------------------------------------------------------------------ */

static int get_int(const cJSON *o, const char *k, int def)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(x) ? (int)x->valuedouble : def;
}

static const char *get_str(const cJSON *o, const char *k, const char *def)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(x) ? x->valuestring : def;
}

static struct hil_ocpp_connector_state *connector(struct cs_cp *cp, int c)
{
    return c >= 0 && c < HIL_OCPP_MAX_CONNECTORS ? &cp->st.conn[c] : NULL;
}

static cJSON *id_tag_info_accepted(void)
{
    cJSON *i = cJSON_CreateObject();
    if (i && !cJSON_AddStringToObject(i, "status", "Accepted")) {
        cJSON_Delete(i);
        return NULL;
    }
    return i;
}

static cJSON *with_time(cJSON *o)
{
    char t[48];
    now_iso(t, sizeof t);
    if (o && !cJSON_AddStringToObject(o, "currentTime", t)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* Unit factor of a sampled value to Wh / W / percent; 0 when the unit does
 * not fit the measurand. */
static double unit_factor(const char *measurand, const char *unit)
{
    if (!strncmp(measurand, "Energy.Active.", 14)) {
        if (!unit || !strcmp(unit, "Wh"))
            return 1;
        return !strcmp(unit, "kWh") ? 1000 : 0;
    }
    if (!strncmp(measurand, "Power.Active.", 13)) {
        if (!unit || !strcmp(unit, "W"))
            return 1;
        return !strcmp(unit, "kW") ? 1000 : 0;
    }
    if (!strcmp(measurand, "SoC"))
        return !unit || !strcmp(unit, "Percent") ? 1 : 0;
    return 0;
}

enum { M_EIMP, M_EEXP, M_PIMP, M_PEXP, M_SOC, M_COUNT };

static int measurand_index(const char *m)
{
    static const char *const names[M_COUNT] = {"Energy.Active.Import.Register",
                                               "Energy.Active.Export.Register",
                                               "Power.Active.Import", "Power.Active.Export", "SoC"};
    for (int i = 0; i < M_COUNT; i++)
        if (!strcmp(m, names[i]))
            return i;
    return -1;
}

/* Apply one meterValue element: totals win over per-phase sums. */
static void apply_meter_value(hil_ocpp_cs *cs, struct cs_cp *cp, struct hil_ocpp_connector_state *k,
                              const cJSON *mv)
{
    double total[M_COUNT], phase[M_COUNT];
    int has_total[M_COUNT] = {0}, has_phase[M_COUNT] = {0};
    for (int i = 0; i < M_COUNT; i++)
        total[i] = phase[i] = 0;
    const cJSON *sv;
    cJSON_ArrayForEach(sv, cJSON_GetObjectItemCaseSensitive(mv, "sampledValue"))
    {
        const char *meas = get_str(sv, "measurand", "Energy.Active.Import.Register");
        int mi = measurand_index(meas);
        if (mi < 0)
            continue; /* other measurands are valid but not ours */
        const char *unit = get_str(sv, "unit", NULL);
        double f = unit_factor(meas, unit);
        const char *val = get_str(sv, "value", "");
        char *end = NULL;
        double v = strtod(val, &end);
        if (f == 0 || end == val || *end || !isfinite(v)) {
            event(cs, SIM_WARNING, cp->id, "bad_value", "%s = \"%.40s\" %s: ignored", meas, val,
                  unit ? unit : "");
            continue;
        }
        if (cJSON_GetObjectItemCaseSensitive(sv, "phase")) {
            phase[mi] += v * f;
            has_phase[mi] = 1;
        } else {
            total[mi] = v * f;
            has_total[mi] = 1;
        }
    }
    double *dst[M_COUNT] = {&k->e_import_wh, &k->e_export_wh, &k->p_import_w, &k->p_export_w,
                            &k->soc_pct};
    for (int i = 0; i < M_COUNT; i++) {
        if (has_total[i])
            *dst[i] = total[i];
        else if (has_phase[i])
            *dst[i] = phase[i];
    }
    sim_time_us ts;
    if (sim_time_parse(get_str(mv, "timestamp", ""), &ts, NULL) == 0)
        k->meter_ts_us = ts;
}

/* Answer one CALL whose payload passed its schema. Returns the response
 * payload, or NULL with *code set (NotSupported, InternalError). */
static cJSON *handle_call(hil_ocpp_cs *cs, struct cs_cp *cp, const char *action, const cJSON *p,
                          int *code)
{
    *code = HIL_OCPP_E_INTERNAL_ERROR;
    cJSON *r = cJSON_CreateObject();
    if (!r)
        return NULL;
    if (!strcmp(action, "BootNotification")) {
        snprintf(cp->st.vendor, sizeof cp->st.vendor, "%s", get_str(p, "chargePointVendor", ""));
        snprintf(cp->st.model, sizeof cp->st.model, "%s", get_str(p, "chargePointModel", ""));
        cp->st.booted = 1;
        event(cs, SIM_INFO, cp->id, "boot", "%s %s booted", cp->st.vendor, cp->st.model);
        if (!cJSON_AddStringToObject(r, "status", "Accepted") ||
            !cJSON_AddNumberToObject(r, "interval", cs->cfg.heartbeat_interval_s))
            goto oom;
        return with_time(r);
    }
    if (!strcmp(action, "Heartbeat"))
        return with_time(r);
    if (!strcmp(action, "StatusNotification")) {
        int c = get_int(p, "connectorId", 0);
        struct hil_ocpp_connector_state *k = connector(cp, c);
        const char *status = get_str(p, "status", ""), *ec = get_str(p, "errorCode", "");
        if (k) {
            snprintf(k->status, sizeof k->status, "%s", status);
            snprintf(k->error_code, sizeof k->error_code, "%s", ec);
        }
        event(cs, strcmp(ec, "NoError") ? SIM_WARNING : SIM_INFO, cp->id, "status",
              "connector %d %s (%s)", c, status, ec);
        return r;
    }
    if (!strcmp(action, "Authorize")) {
        cJSON *i = id_tag_info_accepted();
        if (!i || !cJSON_AddItemToObject(r, "idTagInfo", i)) {
            cJSON_Delete(i);
            goto oom;
        }
        return r;
    }
    if (!strcmp(action, "StartTransaction")) {
        int c = get_int(p, "connectorId", 0);
        struct hil_ocpp_connector_state *k = connector(cp, c);
        int tx = ++cs->next_tx;
        if (k) {
            k->tx_id = tx;
            snprintf(k->id_tag, sizeof k->id_tag, "%s", get_str(p, "idTag", ""));
            k->meter_start_wh = get_int(p, "meterStart", 0);
        }
        event(cs, SIM_INFO, cp->id, "tx_start", "transaction %d on connector %d, idTag %s", tx, c,
              get_str(p, "idTag", ""));
        cJSON *i = id_tag_info_accepted();
        if (!i || !cJSON_AddItemToObject(r, "idTagInfo", i)) {
            cJSON_Delete(i);
            goto oom;
        }
        if (!cJSON_AddNumberToObject(r, "transactionId", tx))
            goto oom;
        return r;
    }
    if (!strcmp(action, "StopTransaction")) {
        int tx = get_int(p, "transactionId", 0), found = 0;
        for (int c = 0; c < HIL_OCPP_MAX_CONNECTORS; c++)
            if (tx && cp->st.conn[c].tx_id == tx) {
                cp->st.conn[c].tx_id = 0;
                found = 1;
            }
        event(cs, found ? SIM_INFO : SIM_WARNING, cp->id, "tx_stop",
              "transaction %d stopped (%s), meterStop %d Wh%s", tx, get_str(p, "reason", "Local"),
              get_int(p, "meterStop", 0), found ? "" : ": unknown transaction");
        if (cJSON_GetObjectItemCaseSensitive(p, "idTag")) {
            cJSON *i = id_tag_info_accepted();
            if (!i || !cJSON_AddItemToObject(r, "idTagInfo", i)) {
                cJSON_Delete(i);
                goto oom;
            }
        }
        return r;
    }
    if (!strcmp(action, "MeterValues")) {
        int c = get_int(p, "connectorId", 0);
        struct hil_ocpp_connector_state *k = connector(cp, c);
        if (k) {
            const cJSON *mv;
            cJSON_ArrayForEach(mv, cJSON_GetObjectItemCaseSensitive(p, "meterValue"))
                apply_meter_value(cs, cp, k, mv);
            k->meter_wall_us = wall_us();
            k->n_meter++;
        }
        return r;
    }
    if (!strcmp(action, "DataTransfer")) {
        const char *vendor = get_str(p, "vendorId", "");
        int ours = !strcmp(vendor, CS_VENDOR);
        event(cs, SIM_INFO, cp->id, "data_transfer", "vendor %s message %s: %.80s", vendor,
              get_str(p, "messageId", "-"), get_str(p, "data", ""));
        if (!cJSON_AddStringToObject(r, "status", ours ? "Accepted" : "UnknownVendorId"))
            goto oom;
        return r;
    }
    /* Notifications we only log; their confirmations are empty. */
    static const char *const notes[] = {
        "DiagnosticsStatusNotification", "FirmwareStatusNotification",
        "SecurityEventNotification",     "SignedFirmwareStatusNotification",
        "LogStatusNotification",         NULL};
    for (int i = 0; notes[i]; i++)
        if (!strcmp(action, notes[i])) {
            event(cs, SIM_INFO, cp->id, "notification", "%s %.60s", action,
                  get_str(p, "status", get_str(p, "type", "")));
            return r;
        }
    cJSON_Delete(r);
    *code = HIL_OCPP_E_NOT_SUPPORTED;
    return NULL;
oom:
    cJSON_Delete(r);
    return NULL;
}

static void on_call(hil_ocpp_cs *cs, struct cs_cp *cp, struct hil_ocpp_frame *f)
{
    cs->stats.calls_in++;
    if (cp->last_reply && !strcmp(f->id, cp->last_id)) {
        /* A retried CALL: same answer, no second transaction. */
        event(cs, SIM_INFO, cp->id, "duplicate_call", "%s %s repeated: answered again", f->action,
              f->id);
        queue_reply(cs, cp, cp->last_reply, cp->last_reply_len);
        return;
    }
    struct sim_err e = {{0}};
    int code = HIL_OCPP_E_NONE;
    int rc = hil_ocpp_validate(cs->schemas, f->action, 0, f->payload, &code, &e);
    if (rc == SIM_ENOENT) {
        event(cs, SIM_WARNING, cp->id, "not_implemented", "unknown action %s", f->action);
        send_error(cs, cp, f->id, HIL_OCPP_E_NOT_IMPLEMENTED, "unknown action");
        return;
    }
    if (rc) {
        event(cs, SIM_WARNING, cp->id, "invalid_call", "%s", e.msg);
        send_error(cs, cp, f->id, code, e.msg);
        return;
    }
    cJSON *resp = handle_call(cs, cp, f->action, f->payload, &code);
    if (!resp) {
        if (code == HIL_OCPP_E_NOT_SUPPORTED)
            event(cs, SIM_WARNING, cp->id, "not_supported", "%s is not a charge point request",
                  f->action);
        send_error(cs, cp, f->id, code,
                   code == HIL_OCPP_E_NOT_SUPPORTED ? "not supported by this central system"
                                                    : "out of memory");
        return;
    }
    /* Both directions are validated: a bug of ours must not reach the wire. */
    if (hil_ocpp_validate(cs->schemas, f->action, 1, resp, &code, &e) != 0) {
        event(cs, SIM_ALARM, cp->id, "internal", "our answer failed its schema: %s", e.msg);
        cJSON_Delete(resp);
        send_error(cs, cp, f->id, HIL_OCPP_E_INTERNAL_ERROR, "invalid response");
        return;
    }
    char *t = hil_ocpp_frame_result(f->id, resp);
    cJSON_Delete(resp);
    if (!t) {
        send_error(cs, cp, f->id, HIL_OCPP_E_INTERNAL_ERROR, "out of memory");
        return;
    }
    size_t len = strlen(t);
    queue_reply(cs, cp, t, len);
    free(cp->last_reply);
    cp->last_reply = t;
    cp->last_reply_len = len;
    snprintf(cp->last_id, sizeof cp->last_id, "%s", f->id);
}

/* A CALLRESULT or CALLERROR (f may be malformed: bad != 0). */
static void on_answer(hil_ocpp_cs *cs, struct cs_cp *cp, struct hil_ocpp_frame *f, int bad,
                      const char *why)
{
    struct cs_call *c = call_of(cs, cp->inflight);
    if (!c || strcmp(f->id, "") == 0 || strncmp(f->id, "cs-", 3) != 0 ||
        strtoul(f->id + 3, NULL, 10) != c->seq) {
        /* Not the answer we wait for: late (after a timeout), repeated, or
         * made up. OCPP-J has nothing to answer it with. */
        uint32_t seq = !strncmp(f->id, "cs-", 3) ? (uint32_t)strtoul(f->id + 3, NULL, 10) : 0;
        struct cs_call *old = call_of(cs, seq);
        cs->stats.late_results++;
        if (old && old->cp == cp->index)
            event(cs, SIM_WARNING, cp->id, "late_result",
                  "answer to %s %s arrived after it was %s: ignored", old->action, f->id,
                  old->status == HIL_OCPP_CALL_FAILED ? "given up" : "answered");
        else
            event(cs, SIM_WARNING, cp->id, "unknown_result",
                  "answer to unknown call \"%s\": ignored", f->id);
        return;
    }
    cp->inflight = 0;
    if (bad) {
        call_finish(cs, c, HIL_OCPP_CALL_FAILED, NULL, why);
        event(cs, SIM_WARNING, cp->id, "invalid_result", "%s %s: malformed answer: %s", c->action,
              f->id, why);
    } else if (f->type == HIL_OCPP_CALLERROR) {
        char w[256];
        snprintf(w, sizeof w, "%.47s: %.200s", f->error_name, f->error_desc);
        cs->stats.errors_in++;
        call_finish(cs, c, HIL_OCPP_CALL_ERROR, cJSON_Duplicate(f->payload, 1), w);
        event(cs, SIM_WARNING, cp->id, "call_error", "%s %s answered %s", c->action, f->id, w);
    } else {
        struct sim_err e = {{0}};
        cs->stats.results_in++;
        if (hil_ocpp_validate(cs->schemas, c->action, 1, f->payload, NULL, &e) != 0) {
            call_finish(cs, c, HIL_OCPP_CALL_FAILED, NULL, e.msg);
            event(cs, SIM_WARNING, cp->id, "invalid_result", "%s", e.msg);
        } else {
            const char *status = get_str(f->payload, "status", "");
            /* A ClearChargingProfile answered "Unknown" only found nothing
             * to clear. */
            if (!strcmp(c->action, "SetChargingProfile") && strcmp(status, "Accepted") != 0)
                event(cs, SIM_WARNING, cp->id, "profile_rejected", "%s %s: %s", c->action, f->id,
                      status);
            call_finish(cs, c, HIL_OCPP_CALL_DONE, cJSON_Duplicate(f->payload, 1), NULL);
        }
    }
    if (has_output(cp))
        kick(cs, cp);
}

static void on_message(hil_ocpp_cs *cs, struct cs_cp *cp, const char *text, size_t len)
{
    cs->stats.msgs_in++;
    cp->st.n_msgs_in++;
    cp->st.last_seen_wall_us = wall_us();
    struct hil_ocpp_frame f;
    struct sim_err e = {{0}};
    int reply = 0;
    int rc = hil_ocpp_frame_parse(text, len, &f, &reply, &e);
    if (rc && (f.type == HIL_OCPP_CALLRESULT || f.type == HIL_OCPP_CALLERROR)) {
        on_answer(cs, cp, &f, 1, e.msg);
    } else if (rc) {
        event(cs, SIM_WARNING, cp->id, "malformed", "%s: answered %s", e.msg,
              hil_ocpp_error_name(reply ? reply : HIL_OCPP_E_FORMATION_VIOLATION));
        send_error(cs, cp, f.id, reply ? reply : HIL_OCPP_E_FORMATION_VIOLATION, e.msg);
    } else if (f.type == HIL_OCPP_CALL) {
        on_call(cs, cp, &f);
    } else {
        on_answer(cs, cp, &f, 0, NULL);
    }
    hil_ocpp_frame_clear(&f);
}

/* ------------------------------------------------------------------ */
/* libwebsockets                                                       */
/* ------------------------------------------------------------------ */

/* Charge point id from "/ocpp/<id>"; 0 when the path is not one. */
static int parse_path(const char *uri, char *id, size_t n)
{
    size_t pl = strlen(HIL_OCPP_PATH_PREFIX);
    if (strncmp(uri, HIL_OCPP_PATH_PREFIX, pl) != 0)
        return 0;
    const char *s = uri + pl;
    size_t l = strlen(s);
    if (l == 0 || l > HIL_OCPP_CP_ID_MAX || l >= n)
        return 0;
    for (size_t i = 0; i < l; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c >= 127 || c == '/' || c == '?' || c == '#' || c == '%')
            return 0;
    }
    memcpy(id, s, l + 1);
    return 1;
}

/* Does the comma-separated list hold the token? */
static int has_token(const char *list, const char *tok)
{
    size_t tl = strlen(tok);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ')
            e++;
        if ((size_t)(e - p) == tl && !strncmp(p, tok, tl))
            return 1;
        p = e;
    }
    return 0;
}

/* Constant-time string comparison for credentials. */
static int same_secret(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = la != lb;
    for (size_t i = 0; i < la && i < lb; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

/* Check the handshake: path, subprotocol, credentials. 0 accepts. */
static int filter(hil_ocpp_cs *cs, struct lws *wsi, struct cs_pss *pss)
{
    char uri[256] = "", proto[128] = "", auth[512] = "";
    lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
    lws_hdr_copy(wsi, proto, sizeof proto, WSI_TOKEN_PROTOCOL);
    if (!parse_path(uri, pss->id, sizeof pss->id)) {
        cs->stats.refused++;
        event(cs, SIM_WARNING, NULL, "refused", "path \"%.60s\" is not %s<chargePointId>", uri,
              HIL_OCPP_PATH_PREFIX);
        return 1;
    }
    if (!has_token(proto, HIL_OCPP_SUBPROTOCOL)) {
        cs->stats.refused++;
        event(cs, SIM_WARNING, pss->id, "refused", "subprotocol \"%.60s\" offered, %s needed",
              proto, HIL_OCPP_SUBPROTOCOL);
        return 1;
    }
    if (!cs->password[0])
        return 0;
    const char *why = NULL;
    char dec[384] = "";
    if (lws_hdr_copy(wsi, auth, sizeof auth, WSI_TOKEN_HTTP_AUTHORIZATION) <= 0) {
        why = "no credentials";
    } else if (strncasecmp(auth, "Basic ", 6) != 0) {
        why = "not Basic authentication";
    } else {
        int n = lws_b64_decode_string(auth + 6, dec, (int)sizeof dec - 1);
        char *colon = n > 0 ? memchr(dec, ':', (size_t)n) : NULL;
        if (!colon) {
            why = "malformed credentials";
        } else {
            dec[n] = 0;
            *colon = 0;
            const char *user = cs->user[0] ? cs->user : pss->id;
            int ok_user = same_secret(dec, user), ok_pass = same_secret(colon + 1, cs->password);
            if (!ok_user)
                why = "wrong user";
            else if (!ok_pass)
                why = "wrong password";
        }
    }
    memset(dec, 0, sizeof dec);
    memset(auth, 0, sizeof auth);
    if (why) {
        cs->stats.refused++;
        event(cs, SIM_WARNING, pss->id, "auth_refused", "Basic authentication failed: %s", why);
        return 1;
    }
    return 0;
}

static void on_established(hil_ocpp_cs *cs, struct lws *wsi, struct cs_pss *pss)
{
    struct cs_cp *cp = get_cp(cs, pss->id);
    if (!cp) {
        event(cs, SIM_WARNING, pss->id, "refused", "too many charge points (%d)",
              cs->cfg.max_charge_points);
        return; /* pss->cp stays NULL: the first receive closes it */
    }
    if (cp->wsi && cp->wsi != wsi) {
        /* The same charge point again: the newer connection wins. */
        struct cs_pss *old = lws_wsi_user(cp->wsi);
        if (old)
            old->cp = NULL;
        lws_set_timeout(cp->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        fail_inflight(cs, cp, "connection replaced");
        free_replies(cp);
        event(cs, SIM_WARNING, cp->id, "replaced", "new connection replaces the open one");
        cs->stats.disconnects++;
    }
    cp->wsi = wsi;
    cp->want_close = 0;
    pss->cp = cp;
    cp->st.connected = 1;
    cp->st.booted = 0;
    cp->st.n_connects++;
    cp->st.last_seen_wall_us = wall_us();
    cs->stats.connects++;
    char peer[64] = "";
    lws_get_peer_simple(wsi, peer, sizeof peer);
    event(cs, SIM_INFO, cp->id, "connected", "from %s (connection %llu)", peer,
          (unsigned long long)cp->st.n_connects);
    if (has_output(cp))
        kick(cs, cp);
}

static void on_closed(hil_ocpp_cs *cs, struct lws *wsi, struct cs_pss *pss)
{
    struct cs_cp *cp = pss->cp;
    free(pss->rx);
    pss->rx = NULL;
    pss->rx_len = pss->rx_cap = 0;
    pss->cp = NULL;
    if (!cp || cp->wsi != wsi)
        return;
    cp->wsi = NULL;
    cp->st.connected = 0;
    cp->st.booted = 0;
    cp->want_close = 0;
    fail_inflight(cs, cp, "connection lost");
    free_replies(cp);
    cs->stats.disconnects++;
    event(cs, SIM_WARNING, cp->id, "disconnected", "connection closed");
}

/* Send one message; returns -1 to close the connection. */
static int on_writable(hil_ocpp_cs *cs, struct lws *wsi, struct cs_pss *pss)
{
    struct cs_cp *cp = pss->cp;
    if (!cp || cp->wsi != wsi)
        return -1;
    if (cp->want_close) {
        cp->want_close = 0;
        return -1;
    }
    struct omsg *m = NULL;
    struct cs_call *c = NULL;
    if (cp->rq_head) {
        m = cp->rq_head;
        cp->rq_head = m->next;
        if (!cp->rq_head)
            cp->rq_tail = NULL;
        cp->rq_n--;
    } else {
        while (!cp->inflight && cp->cq_n > 0 && !c) {
            uint32_t seq = cp->callq[cp->cq_head];
            cp->cq_head = (cp->cq_head + 1) % CS_CALLQ;
            cp->cq_n--;
            c = call_of(cs, seq);
            if (c && (c->status != HIL_OCPP_CALL_QUEUED || !c->msg))
                c = NULL;
        }
    }
    int rc = 0;
    if (m || c) {
        struct omsg *o = m ? m : c->msg;
        int n = lws_write(wsi, o->buf + LWS_PRE, o->len, LWS_WRITE_TEXT);
        if (n < (int)o->len)
            rc = -1;
        cs->stats.msgs_out++;
        cp->st.n_msgs_out++;
        if (c) {
            c->status = HIL_OCPP_CALL_SENT;
            c->sent_mono_us = mono_us();
            cp->inflight = c->seq;
            cs->stats.calls_out++;
        }
        free(m);
    }
    if (!rc && has_output(cp))
        lws_callback_on_writable(wsi);
    return rc;
}

static int on_receive(hil_ocpp_cs *cs, struct lws *wsi, struct cs_pss *pss, const void *in,
                      size_t len)
{
    if (!pss->cp)
        return -1; /* replaced or refused */
    if (lws_frame_is_binary(wsi) || pss->rx_bad) {
        if (!pss->rx_bad)
            event(cs, SIM_WARNING, pss->cp->id, "malformed",
                  "binary frame: OCPP-J uses text frames");
        pss->rx_bad = 1;
    } else if (pss->rx_len + len > CS_RX_MAX) {
        event(cs, SIM_WARNING, pss->cp->id, "malformed", "message over %d bytes dropped",
              CS_RX_MAX);
        pss->rx_bad = 1;
    } else if (hil_ocpp_rx_append(&pss->rx, &pss->rx_len, &pss->rx_cap, in, len) != 0) {
        return -1;
    }
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
        return 0;
    if (pss->rx_bad) {
        struct cs_cp *cp = pss->cp;
        send_error(cs, cp, HIL_OCPP_UNKNOWN_ID, HIL_OCPP_E_FORMATION_VIOLATION,
                   "binary or oversized message");
    } else {
        pss->rx[pss->rx_len] = 0;
        on_message(cs, pss->cp, pss->rx, pss->rx_len);
    }
    pss->rx_len = 0;
    pss->rx_bad = 0;
    return 0;
}

static int cs_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    hil_ocpp_cs *cs = ctx ? lws_context_user(ctx) : NULL;
    struct cs_pss *pss = user;
    int rc = 0;
    if (!cs)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        lock(cs);
        rc = filter(cs, wsi, pss);
        unlock(cs);
        return rc;
    case LWS_CALLBACK_ESTABLISHED:
        lock(cs);
        on_established(cs, wsi, pss);
        unlock(cs);
        return 0;
    case LWS_CALLBACK_CLOSED:
        lock(cs);
        on_closed(cs, wsi, pss);
        unlock(cs);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        lock(cs);
        rc = on_receive(cs, wsi, pss, in, len);
        unlock(cs);
        return rc;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        lock(cs);
        rc = on_writable(cs, wsi, pss);
        unlock(cs);
        return rc;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        /* Public calls queued work: ask for writable callbacks. */
        lock(cs);
        for (int i = 0; i < cs->ncp; i++) {
            struct cs_cp *cp = cs->cps[i];
            if (cp->want_write && cp->wsi)
                lws_callback_on_writable(cp->wsi);
            cp->want_write = 0;
        }
        unlock(cs);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* Timer: calls that waited too long for their answer. */
static void on_tick(lws_sorted_usec_list_t *sul)
{
    hil_ocpp_cs *cs = lws_container_of(sul, hil_ocpp_cs, tick);
    lock(cs);
    int64_t now = mono_us(), limit = (int64_t)cs->cfg.call_timeout_ms * 1000;
    for (int i = 0; i < cs->ncp; i++) {
        struct cs_cp *cp = cs->cps[i];
        struct cs_call *c = call_of(cs, cp->inflight);
        if (c && c->status == HIL_OCPP_CALL_SENT && now - c->sent_mono_us > limit) {
            cs->stats.timeouts++;
            cp->inflight = 0;
            call_finish(cs, c, HIL_OCPP_CALL_FAILED, NULL, "timeout");
            event(cs, SIM_WARNING, cp->id, "call_timeout", "%s cs-%u unanswered after %d ms",
                  c->action, c->seq, cs->cfg.call_timeout_ms);
            if (has_output(cp))
                kick(cs, cp);
        }
    }
    unlock(cs);
    lws_sul_schedule(cs->ctx, 0, &cs->tick, on_tick, CS_TICK_US);
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                          */
/* ------------------------------------------------------------------ */

void hil_ocpp_cs_config_default(struct hil_ocpp_cs_config *c)
{
    memset(c, 0, sizeof *c);
    c->host = "127.0.0.1";
    c->heartbeat_interval_s = 300;
    c->call_timeout_ms = 30000;
    c->ping_interval_s = 60;
    c->max_charge_points = 4096;
    c->event_capacity = 1024;
}

/* libwebsockets logs to stderr; a library must not print. FLEXBED_LWS_LOG
 * (a bit mask of LLL_*) turns its logs back on for debugging. */
void hil_ocpp_lws_quiet(void)
{
    const char *e = getenv("FLEXBED_LWS_LOG");
    lws_set_log_level(e ? atoi(e) : 0, NULL);
}

int hil_ocpp_cs_new(const struct hil_ocpp_cs_config *c, hil_ocpp_cs **out, struct sim_err *err)
{
    *out = NULL;
    struct hil_ocpp_cs_config d;
    hil_ocpp_cs_config_default(&d);
    if (!c)
        c = &d;
    if (c->port < 0 || c->port > 65535)
        return sim_errf(err, SIM_EINVAL, "ocpp: port %d out of range", c->port);
    if (c->heartbeat_interval_s <= 0 || c->call_timeout_ms <= 0 || c->max_charge_points <= 0 ||
        c->event_capacity <= 0 || c->ping_interval_s < 0)
        return sim_errf(err, SIM_EINVAL, "ocpp: heartbeat, timeout and capacities must be > 0");
    const char *host = c->host && *c->host ? c->host : "127.0.0.1";
    if (strlen(host) >= sizeof((hil_ocpp_cs *)0)->host ||
        (c->auth_password && strlen(c->auth_password) >= sizeof((hil_ocpp_cs *)0)->password) ||
        (c->auth_user && strlen(c->auth_user) > HIL_OCPP_CP_ID_MAX))
        return sim_errf(err, SIM_EINVAL, "ocpp: host, user or password too long");
    hil_ocpp_cs *cs = calloc(1, sizeof *cs);
    if (!cs)
        return sim_errf(err, SIM_ENOMEM, "ocpp: out of memory");
    cs->cfg = *c;
    snprintf(cs->host, sizeof cs->host, "%s", host);
    snprintf(cs->password, sizeof cs->password, "%s", c->auth_password ? c->auth_password : "");
    snprintf(cs->user, sizeof cs->user, "%s", c->auth_user ? c->auth_user : "");
    cs->cfg.host = cs->host;
    cs->cfg.auth_password = cs->password;
    cs->cfg.auth_user = cs->user;
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&cs->mu, &ma);
    pthread_mutexattr_destroy(&ma);
    cs->next_seq = 1;
    int rc = hil_ocpp_schemas_new(&cs->schemas, err);
    if (rc)
        goto fail;
    cs->calls = calloc(CS_CALL_SLOTS, sizeof *cs->calls);
    cs->ev = calloc((size_t)c->event_capacity, sizeof *cs->ev);
    if (!cs->calls || !cs->ev) {
        rc = sim_errf(err, SIM_ENOMEM, "ocpp: out of memory");
        goto fail;
    }
    cs->protocols[0].name = HIL_OCPP_SUBPROTOCOL;
    cs->protocols[0].callback = cs_callback;
    cs->protocols[0].per_session_data_size = sizeof(struct cs_pss);
    cs->protocols[0].rx_buffer_size = 0;
    cs->retry.secs_since_valid_ping = (uint16_t)c->ping_interval_s;
    cs->retry.secs_since_valid_hangup =
        (uint16_t)(c->ping_interval_s ? 2 * c->ping_interval_s + 10 : 0);
    hil_ocpp_lws_quiet();
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = c->port;
    /* "0.0.0.0" (or "*"): every interface, for a lab bench's network. */
    info.iface = strcmp(cs->host, "0.0.0.0") && strcmp(cs->host, "*") ? cs->host : NULL;
    info.protocols = cs->protocols;
    info.user = cs;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_DISABLE_IPV6;
    if (c->ping_interval_s)
        info.retry_and_idle_policy = &cs->retry;
    info.timeout_secs = 10;
    cs->ctx = lws_create_context(&info);
    if (!cs->ctx) {
        rc = sim_errf(err, SIM_EIO, "ocpp: cannot listen on %s:%d (port in use or bad address)",
                      cs->host, c->port);
        goto fail;
    }
    struct lws_vhost *vh = lws_get_vhost_by_name(cs->ctx, "default");
    cs->port = vh ? lws_get_vhost_listen_port(vh) : c->port;
    if (cs->port <= 0) {
        rc = sim_errf(err, SIM_EIO, "ocpp: cannot listen on %s:%d", cs->host, c->port);
        goto fail;
    }
    lws_sul_schedule(cs->ctx, 0, &cs->tick, on_tick, CS_TICK_US);
    *out = cs;
    return 0;
fail:
    hil_ocpp_cs_free(cs);
    return rc;
}

int hil_ocpp_cs_port(const hil_ocpp_cs *cs)
{
    return cs->port;
}

static void *service_main(void *arg)
{
    hil_ocpp_cs *cs = arg;
    while (!cs->stop)
        lws_service(cs->ctx, 0);
    return NULL;
}

int hil_ocpp_cs_start(hil_ocpp_cs *cs, struct sim_err *err)
{
    if (cs->thread_running)
        return sim_errf(err, SIM_ESTATE, "ocpp: central system already running");
    cs->stop = 0;
    if (pthread_create(&cs->thread, NULL, service_main, cs) != 0)
        return sim_errf(err, SIM_ENOMEM, "ocpp: cannot start the service thread");
    cs->thread_running = 1;
    return 0;
}

void hil_ocpp_cs_stop(hil_ocpp_cs *cs)
{
    if (!cs || !cs->thread_running)
        return;
    cs->stop = 1;
    lws_cancel_service(cs->ctx);
    pthread_join(cs->thread, NULL);
    cs->thread_running = 0;
}

int hil_ocpp_cs_service(hil_ocpp_cs *cs)
{
    return lws_service(cs->ctx, 0) < 0 ? SIM_EIO : 0;
}

void hil_ocpp_cs_free(hil_ocpp_cs *cs)
{
    if (!cs)
        return;
    hil_ocpp_cs_stop(cs);
    if (cs->ctx) {
        lws_sul_cancel(&cs->tick);
        lws_context_destroy(cs->ctx); /* closes: on_closed runs for each */
    }
    for (int i = 0; i < cs->ncp; i++) {
        free_replies(cs->cps[i]);
        free(cs->cps[i]->last_reply);
        free(cs->cps[i]);
    }
    free(cs->cps);
    if (cs->calls)
        for (int i = 0; i < CS_CALL_SLOTS; i++) {
            free(cs->calls[i].msg);
            cJSON_Delete(cs->calls[i].result);
        }
    free(cs->calls);
    free(cs->ev);
    hil_ocpp_schemas_free(cs->schemas);
    pthread_mutex_destroy(&cs->mu);
    memset(cs->password, 0, sizeof cs->password);
    free(cs);
}

/* ------------------------------------------------------------------ */
/* Public calls                                                        */
/* ------------------------------------------------------------------ */

int hil_ocpp_cs_cp_state(hil_ocpp_cs *cs, const char *cp_id, struct hil_ocpp_cp_state *st)
{
    lock(cs);
    struct cs_cp *cp = find_cp(cs, cp_id);
    if (cp)
        *st = cp->st;
    unlock(cs);
    return cp ? 0 : SIM_ENOENT;
}

int hil_ocpp_cs_receive(hil_ocpp_cs *cs, const char *cp_id, const char *text, size_t len)
{
    lock(cs);
    struct cs_cp *cp = get_cp(cs, cp_id);
    if (cp) {
        on_message(cs, cp, text, len);
        if (!cp->wsi)
            free_replies(cp);
    }
    unlock(cs);
    return cp ? 0 : -1;
}

int hil_ocpp_cs_disconnect(hil_ocpp_cs *cs, const char *cp_id)
{
    lock(cs);
    struct cs_cp *cp = find_cp(cs, cp_id);
    int ok = cp && cp->wsi;
    if (ok) {
        cp->want_close = 1;
        cp->want_write = 1;
    }
    unlock(cs);
    if (ok)
        lws_cancel_service(cs->ctx);
    return ok ? 0 : SIM_ENOENT;
}

int hil_ocpp_cs_call(hil_ocpp_cs *cs, const char *cp_id, const char *action, const cJSON *payload,
                     uint32_t *call, struct sim_err *err)
{
    if (call)
        *call = 0;
    if (!cp_id || !*cp_id || strlen(cp_id) > HIL_OCPP_CP_ID_MAX)
        return sim_errf(err, SIM_EINVAL, "ocpp: bad charge point id");
    cJSON *empty = NULL;
    if (!payload)
        payload = empty = cJSON_CreateObject();
    int rc = hil_ocpp_validate(cs->schemas, action, 0, payload, NULL, err);
    if (rc) {
        cJSON_Delete(empty);
        return rc;
    }
    lock(cs);
    struct cs_cp *cp = get_cp(cs, cp_id);
    uint32_t seq = cs->next_seq;
    struct cs_call *c = &cs->calls[seq & (CS_CALL_SLOTS - 1)];
    if (!cp) {
        rc = sim_errf(err, SIM_ERANGE, "ocpp: %s: too many charge points", cp_id);
    } else if (cp->cq_n >= CS_CALLQ) {
        rc = sim_errf(err, SIM_ERANGE, "ocpp: %s: %d calls already queued", cp_id, CS_CALLQ);
    } else if (c->seq && (c->status == HIL_OCPP_CALL_QUEUED || c->status == HIL_OCPP_CALL_SENT)) {
        rc = sim_errf(err, SIM_ERANGE, "ocpp: %d calls pending", CS_CALL_SLOTS);
    } else {
        char id[24];
        snprintf(id, sizeof id, "cs-%u", seq);
        char *t = hil_ocpp_frame_call(id, action, payload);
        struct omsg *m = t ? omsg_new(t, strlen(t)) : NULL;
        free(t);
        if (!m) {
            rc = sim_errf(err, SIM_ENOMEM, "ocpp: out of memory");
        } else {
            call_finish(cs, c, HIL_OCPP_CALL_QUEUED, NULL, NULL);
            c->msg = m;
            c->seq = seq;
            c->cp = cp->index;
            snprintf(c->action, sizeof c->action, "%s", action);
            cs->next_seq = seq + 1 ? seq + 1 : 1;
            cp->callq[(cp->cq_head + cp->cq_n) % CS_CALLQ] = seq;
            cp->cq_n++;
            cp->want_write = 1;
            if (call)
                *call = seq;
        }
    }
    unlock(cs);
    cJSON_Delete(empty);
    if (!rc)
        lws_cancel_service(cs->ctx);
    return rc;
}

int hil_ocpp_cs_call_json(hil_ocpp_cs *cs, const char *cp_id, const char *action, const char *json,
                          uint32_t *call, struct sim_err *err)
{
    cJSON *p = cJSON_Parse(json ? json : "{}");
    if (!p)
        return sim_errf(err, SIM_EINVAL, "ocpp: %s payload is not JSON", action);
    int rc = hil_ocpp_cs_call(cs, cp_id, action, p, call, err);
    cJSON_Delete(p);
    return rc;
}

int hil_ocpp_cs_call_status(hil_ocpp_cs *cs, uint32_t call, cJSON **result, char *why, size_t why_n)
{
    if (result)
        *result = NULL;
    if (why && why_n)
        why[0] = 0;
    lock(cs);
    struct cs_call *c = call_of(cs, call);
    int st = c ? c->status : HIL_OCPP_CALL_UNKNOWN;
    if (c && result && c->result)
        *result = cJSON_Duplicate(c->result, 1);
    if (c && why && why_n)
        snprintf(why, why_n, "%s", c->why);
    unlock(cs);
    return st;
}

int hil_ocpp_cs_set_limit(hil_ocpp_cs *cs, const char *cp_id, int connector_id, double limit_w,
                          uint32_t *call, struct sim_err *err)
{
    if (connector_id < 1 || connector_id >= HIL_OCPP_MAX_CONNECTORS || !isfinite(limit_w))
        return sim_errf(err, SIM_EINVAL, "ocpp: %s: bad connector %d or limit", cp_id,
                        connector_id);
    int tx = 0;
    lock(cs);
    struct cs_cp *cp = find_cp(cs, cp_id);
    if (cp)
        tx = cp->st.conn[connector_id].tx_id;
    unlock(cs);
    cJSON *p = cJSON_CreateObject();
    cJSON *prof = cJSON_AddObjectToObject(p, "csChargingProfiles");
    cJSON *sched = prof ? cJSON_AddObjectToObject(prof, "chargingSchedule") : NULL;
    cJSON *periods = sched ? cJSON_AddArrayToObject(sched, "chargingSchedulePeriod") : NULL;
    cJSON *per = cJSON_CreateObject();
    int ok = p && prof && sched && periods && per && cJSON_AddItemToArray(periods, per);
    if (!ok)
        cJSON_Delete(per);
    ok = ok && cJSON_AddNumberToObject(p, "connectorId", connector_id) &&
         cJSON_AddNumberToObject(prof, "chargingProfileId", HIL_OCPP_PROFILE_ID + connector_id) &&
         (!tx || cJSON_AddNumberToObject(prof, "transactionId", tx)) &&
         cJSON_AddNumberToObject(prof, "stackLevel", 0) &&
         cJSON_AddStringToObject(prof, "chargingProfilePurpose",
                                 tx ? "TxProfile" : "TxDefaultProfile") &&
         cJSON_AddStringToObject(prof, "chargingProfileKind", "Relative") &&
         cJSON_AddStringToObject(sched, "chargingRateUnit", "W") &&
         cJSON_AddNumberToObject(per, "startPeriod", 0) &&
         cJSON_AddNumberToObject(per, "limit", nearbyint(limit_w));
    int rc = ok ? hil_ocpp_cs_call(cs, cp_id, "SetChargingProfile", p, call, err)
                : sim_errf(err, SIM_ENOMEM, "ocpp: out of memory");
    cJSON_Delete(p);
    return rc;
}

int hil_ocpp_cs_clear_limit(hil_ocpp_cs *cs, const char *cp_id, int connector_id, uint32_t *call,
                            struct sim_err *err)
{
    char json[64];
    snprintf(json, sizeof json, "{\"id\":%d}", HIL_OCPP_PROFILE_ID + connector_id);
    return hil_ocpp_cs_call_json(cs, cp_id, "ClearChargingProfile", json, call, err);
}

int hil_ocpp_cs_next_event(hil_ocpp_cs *cs, struct hil_ocpp_event *ev)
{
    lock(cs);
    int got = cs->ev_n > 0;
    if (got) {
        *ev = cs->ev[cs->ev_head];
        cs->ev_head = (cs->ev_head + 1) % cs->cfg.event_capacity;
        cs->ev_n--;
    }
    unlock(cs);
    return got;
}

void hil_ocpp_cs_stats(hil_ocpp_cs *cs, struct hil_ocpp_cs_stats *st)
{
    lock(cs);
    *st = cs->stats;
    st->charge_points = cs->ncp;
    st->connected = 0;
    for (int i = 0; i < cs->ncp; i++)
        st->connected += cs->cps[i]->wsi != NULL;
    unlock(cs);
}
