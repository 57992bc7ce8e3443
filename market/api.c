/*
 * api.c: the market's HTTP/JSON and websocket service over libwebsockets
 * (lws 4.1): the server behind `flexbed serve`, documented in docs/api.md.
 *
 * One lws context with one explicit vhost, bound to 127.0.0.1 by default,
 * with two protocols: "http" (every HTTP request; protocol 0 of the vhost)
 * and "flexbed-notify" (the websocket channel at /ws). The service is
 * single-threaded, so the engine and its SQLite connection are only ever
 * touched from lws callbacks.
 *
 * HTTP: a GET is answered from the LWS_CALLBACK_HTTP callback; a POST
 * gathers its body (LWS_CALLBACK_HTTP_BODY, at most max_body bytes kept,
 * more are read and dropped so the 413 answer reaches the client) and is
 * answered at LWS_CALLBACK_HTTP_BODY_COMPLETION. Either way the whole
 * answer is built first as one JSON text with Content-Length, then written
 * in chunks from LWS_CALLBACK_HTTP_WRITEABLE. Every answer, errors
 * included, is a JSON object; errors are {"error": "<member>: <reason>"}.
 *
 * Websocket: accepted transactions and sealed blocks append JSON texts to a
 * fixed ring of notifications; each client keeps the sequence number of
 * the next one it must receive, and writes one per writeable callback. A
 * client more than a ring behind skips what it lost (it is sent
 * {"event":"lost","count":N} first), so a stalled client costs bounded
 * memory.
 *
 * A periodic timer (lws_sul) wakes the loop every 200 ms so that
 * mkt_api_stop(), which only sets an atomic flag, takes effect promptly,
 * and drives the optional seal timer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <libwebsockets.h>

#include "api.h"
#include "internal.h"

#define RING 256                          /* notifications kept for slow clients */
#define TICK_US (200 * LWS_US_PER_MS)     /* stop-flag and seal-timer poll */
#define CHUNK 8192                        /* body bytes per HTTP write */
#define HARD_BODY_LIMIT (64u << 20)       /* declared bodies above this: drop the connection */
#define LIST_MAX 1000                     /* most rows one GET returns */
#define SEAL_SKEW_US (300 * SIM_US_PER_S) /* a seal request's t_us vs. now */

struct note {
    unsigned char *buf; /* LWS_PRE headroom, then len bytes of JSON */
    size_t len;
};

struct mkt_api {
    mkt_engine *e;
    struct mkt_api_config cfg;
    struct lws_context *ctx;
    struct lws_vhost *vh;
    struct lws_protocols protocols[3];
    int port;
    atomic_int stop;
    lws_sorted_usec_list_t tick;
    struct timespec last_seal; /* monotonic, for --seal-every */
    struct note ring[RING];
    uint64_t head; /* sequence number of the next notification */
    struct mkt_api_stats st;
    /* The log is rate-limited (token bucket on the monotonic clock): a
     * flood of requests cannot fill the disk through stderr. */
    double log_tokens;
    double log_last_s;
    long long log_suppressed;
    /* Group commit: the transactions accepted in one turn of the event loop
     * share one SQLite transaction (mkt_batch_begin); their answers and
     * websocket events wait until it is committed (flush_batch), so a 200
     * always means stored. */
    int batch;
    int64_t data_version; /* watch: the database's last PRAGMA data_version */
    struct pending *pend;
    int npend, cap_pend;
};

/* An accepted transaction whose answer waits for the batch's commit. */
struct pending {
    struct lws *wsi; /* NULL when its connection closed meanwhile */
    struct http_sess *s;
    struct mkt_receipt rc;
    char action[32];
    char from[MKT_ADDR_STRLEN];
};

#define LOG_BURST 200.0 /* log lines back to back ... */
#define LOG_RATE 20.0   /* ... then this many per second */

/* One HTTP connection (lws allocates and zeroes it; we free what it points
 * to). It is reused by the next request on a kept-alive connection. */
struct http_sess {
    char path[160];
    char method[8];
    char query[1024]; /* URL arguments, decoded, each NUL-terminated */
    size_t query_len;
    int query_too_long;
    int is_post;
    char *body;
    size_t body_len, body_cap;
    int too_big;
    unsigned char *resp; /* LWS_PRE headroom, then resp_len bytes */
    const char *ctype;   /* the answer's Content-Type; NULL: JSON */
    size_t resp_len, resp_off;
    int status;
    int headers_sent;
    int close_after;
    int answered; /* the answer to this request is made: later body events are not ours */
    int deferred; /* the answer waits for the batch's commit */
};

/* One websocket client. */
struct ws_sess {
    uint64_t next;  /* next notification to send */
    long long lost; /* skipped because it fell more than RING behind */
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

static sim_time_us api_now(const struct mkt_api *a)
{
    if (a->cfg.clock)
        return a->cfg.clock(a->cfg.clock_ctx);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (sim_time_us)ts.tv_sec * SIM_US_PER_S + ts.tv_nsec / 1000;
}

static void api_log(struct mkt_api *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void api_log(struct mkt_api *a, const char *fmt, ...)
{
    if (!a->cfg.log)
        return;
    struct mkt_api *m = a;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double now = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    if (m->log_last_s > 0)
        m->log_tokens += (now - m->log_last_s) * LOG_RATE;
    else
        m->log_tokens = LOG_BURST;
    m->log_last_s = now;
    if (m->log_tokens > LOG_BURST)
        m->log_tokens = LOG_BURST;
    if (m->log_tokens < 1) {
        m->log_suppressed++;
        return;
    }
    m->log_tokens -= 1;
    char line[512];
    int n = 0;
    if (m->log_suppressed) {
        n = snprintf(line, sizeof line, "(%lld log lines suppressed: rate limit) ",
                     m->log_suppressed);
        m->log_suppressed = 0;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    a->cfg.log(a->cfg.log_ctx, line);
}

static void hex_str(const uint8_t *b, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    *out++ = '0';
    *out++ = 'x';
    for (size_t i = 0; i < n; i++) {
        *out++ = d[b[i] >> 4];
        *out++ = d[b[i] & 15];
    }
    *out = 0;
}

/* cJSON keeps numbers as doubles and prints large integers in exponent
 * form; micro-second times and micro-euros must print as plain decimals. */
static void add_i64(cJSON *o, const char *name, int64_t v)
{
    char t[24];
    snprintf(t, sizeof t, "%" PRId64, v);
    cJSON_AddRawToObject(o, name, t);
}

static void add_addr(cJSON *o, const char *name, const uint8_t addr[20])
{
    char t[MKT_ADDR_STRLEN];
    cJSON_AddStringToObject(o, name, mkt_address_format(addr, t));
}

static void add_hex(cJSON *o, const char *name, const uint8_t *b, size_t n)
{
    char t[2 * 65 + 3];
    if (n > 65)
        n = 65;
    hex_str(b, n, t);
    cJSON_AddStringToObject(o, name, t);
}

/* Each row of st (stepped to the end) as an object keyed by column name:
 * integers as integers, text as strings, blobs as 0x-hex, NULL as null. */
static int rows_json(sqlite3_stmt *st, cJSON *arr)
{
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
            return SIM_ENOMEM;
        cJSON_AddItemToArray(arr, o);
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            const char *name = sqlite3_column_name(st, i);
            switch (sqlite3_column_type(st, i)) {
            case SQLITE_INTEGER:
                add_i64(o, name, sqlite3_column_int64(st, i));
                break;
            case SQLITE_FLOAT:
                cJSON_AddNumberToObject(o, name, sqlite3_column_double(st, i));
                break;
            case SQLITE_TEXT:
                cJSON_AddStringToObject(o, name, (const char *)sqlite3_column_text(st, i));
                break;
            case SQLITE_BLOB: {
                int n = sqlite3_column_bytes(st, i);
                char *t = malloc(2 * (size_t)n + 3);
                if (!t)
                    return SIM_ENOMEM;
                hex_str(sqlite3_column_blob(st, i), (size_t)n, t);
                cJSON_AddStringToObject(o, name, t);
                free(t);
                break;
            }
            default:
                cJSON_AddNullToObject(o, name);
                break;
            }
        }
    }
    return r == SQLITE_DONE ? 0 : SIM_EIO;
}

/* Run sql with up to three int64 parameters (nargs of them) and return its
 * rows as a new array, or NULL (err filled) on failure. */
static cJSON *query_json(sqlite3 *db, const char *sql, int nargs, int64_t a1, int64_t a2,
                         int64_t a3, struct sim_err *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        sim_errf(err, SIM_EIO, "market database: %s", sqlite3_errmsg(db));
        return NULL;
    }
    const int64_t args[3] = {a1, a2, a3};
    for (int i = 0; i < nargs && i < 3; i++)
        sqlite3_bind_int64(st, i + 1, args[i]);
    cJSON *arr = cJSON_CreateArray();
    int rc = arr ? rows_json(st, arr) : SIM_ENOMEM;
    if (rc) {
        sim_errf(err, rc, "market database: %s",
                 rc == SIM_ENOMEM ? "out of memory" : sqlite3_errmsg(db));
        cJSON_Delete(arr);
        arr = NULL;
    }
    sqlite3_finalize(st);
    return arr;
}

/* The genesis operator's address; 0 if found, SIM_ENOENT before genesis. */
static int operator_addr(mkt_engine *e, uint8_t addr[20])
{
    sqlite3_stmt *st = NULL;
    int rc = SIM_ENOENT;
    if (sqlite3_prepare_v2(mkt_engine_db(e),
                           "SELECT address FROM mkt_participants WHERE role=0 ORDER BY seq LIMIT 1",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW &&
        mkt_address_parse((const char *)sqlite3_column_text(st, 0), addr, NULL) == 0)
        rc = 0;
    sqlite3_finalize(st);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Notifications                                                       */
/* ------------------------------------------------------------------ */

/* Append one notification (takes the text, NUL-terminated, and frees it)
 * and wake every websocket client. */
static void notify_text(struct mkt_api *a, char *text)
{
    if (!text)
        return;
    size_t n = strlen(text);
    unsigned char *buf = malloc(LWS_PRE + n);
    if (buf) {
        memcpy(buf + LWS_PRE, text, n);
        struct note *slot = &a->ring[a->head % RING];
        free(slot->buf);
        slot->buf = buf;
        slot->len = n;
        a->head++;
        a->st.notifications++;
        if (a->ctx)
            lws_callback_on_writable_all_protocol(a->ctx, &a->protocols[1]);
    }
    cJSON_free(text);
}

static void notify_obj(struct mkt_api *a, cJSON *o)
{
    if (!o)
        return;
    notify_text(a, cJSON_PrintUnformatted(o));
    cJSON_Delete(o);
}

/* Notify every row of sql (one int64 parameter) as its own event. */
static void notify_rows(struct mkt_api *a, const char *sql, int64_t arg)
{
    struct sim_err err;
    cJSON *arr = query_json(mkt_engine_db(a->e), sql, 1, arg, 0, 0, &err);
    if (!arr) {
        api_log(a, "notification query failed: %s", err.msg);
        return;
    }
    cJSON *it;
    cJSON_ArrayForEach(it, arr) notify_text(a, cJSON_PrintUnformatted(it));
    cJSON_Delete(arr);
}

static cJSON *receipt_json(const struct mkt_receipt *rc, const char *action, const char *from)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    add_i64(o, "seq", rc->tx_seq);
    if (action)
        cJSON_AddStringToObject(o, "action", action);
    if (from)
        cJSON_AddStringToObject(o, "from", from);
    add_i64(o, "id", rc->id);
    add_i64(o, "fee_ueur", rc->fee_ueur);
    add_hex(o, "hash", rc->hash, 32);
    if (action && !strcmp(action, "match")) {
        add_i64(o, "n_matches", rc->n_matches);
        add_i64(o, "matched_w", rc->matched_w);
        add_i64(o, "unmet_w", rc->unmet_w);
    }
    if (action && (!strcmp(action, "purchase") || !strcmp(action, "settle") ||
                   !strcmp(action, "deposit") || !strcmp(action, "withdraw")))
        add_i64(o, "amount_ueur", rc->amount_ueur);
    return o;
}

/* The events of one accepted transaction: "tx" always, then one "match",
 * "dispatch" or "settlement" per row the transaction created. */
static void notify_tx(struct mkt_api *a, const struct mkt_receipt *rc, const char *action,
                      const char *from)
{
    cJSON *o = receipt_json(rc, action, from);
    if (o)
        cJSON_AddStringToObject(o, "event", "tx");
    notify_obj(a, o);
    if (!action)
        return;
    if (!strcmp(action, "match"))
        notify_rows(a,
                    "SELECT 'match' AS event, request_id AS request, id AS match,"
                    " offer_id AS offer, asset_id AS asset, fsp, dso, start_us, end_us, p_w,"
                    " price_ueur_per_kwh, amount_ueur FROM mkt_matches WHERE seq=?"
                    " ORDER BY request_id, merit, id",
                    rc->tx_seq);
    else if (!strcmp(action, "purchase"))
        notify_rows(a,
                    "SELECT 'dispatch' AS event, d.id AS dispatch, d.match_id AS match,"
                    " m.request_id AS request, d.asset_id AS asset, m.fsp AS fsp,"
                    " d.start_us, d.end_us, d.p_w FROM mkt_dispatch d"
                    " JOIN mkt_matches m ON m.id = d.match_id WHERE d.seq=? ORDER BY d.id",
                    rc->tx_seq);
    else if (!strcmp(action, "settle"))
        notify_rows(a,
                    "SELECT 'settlement' AS event, request_id AS request, match_id AS match,"
                    " fsp, payout_ueur, fee_ueur, refund_ueur FROM mkt_settlements"
                    " WHERE seq=? ORDER BY id",
                    rc->tx_seq);
}

/* ------------------------------------------------------------------ */
/* Answers                                                             */
/* ------------------------------------------------------------------ */

static void sess_reset(struct http_sess *s)
{
    free(s->body);
    free(s->resp);
    memset(s, 0, sizeof *s);
}

/* Make text (NUL-terminated, borrowed) the answer. */
static void respond_text(struct http_sess *s, int status, const char *text)
{
    static const char oom[] = "{\"error\":\"server: out of memory\"}";
    size_t n = strlen(text);
    free(s->resp);
    s->resp = malloc(LWS_PRE + n);
    if (!s->resp) {
        /* a static answer that needs no allocation */
        status = 500;
        text = oom;
        n = sizeof oom - 1;
        s->resp = malloc(LWS_PRE + n);
        if (!s->resp) {
            s->close_after = 1;
            n = 0;
        }
    }
    if (s->resp)
        memcpy(s->resp + LWS_PRE, text, n);
    s->resp_len = n;
    s->resp_off = 0;
    s->status = status;
    s->headers_sent = 0;
    s->ctype = NULL;
}

/* Make o (taken) the answer. */
static void respond_json(struct http_sess *s, int status, cJSON *o)
{
    char *t = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!t) {
        respond_text(s, 500, "{\"error\":\"server: out of memory\"}");
        return;
    }
    respond_text(s, status, t);
    cJSON_free(t);
}

static void respond_error(struct http_sess *s, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void respond_error(struct http_sess *s, int status, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    if (o)
        cJSON_AddStringToObject(o, "error", msg);
    respond_json(s, status, o);
}

/* HTTP status for an engine error code. */
static int http_status(int rc)
{
    switch (rc) {
    case SIM_EINVAL:
    case SIM_ERANGE:
        return 400;
    case SIM_ESTATE:
        return 403;
    case SIM_ENOENT:
        return 404;
    default:
        return 500;
    }
}

/* ------------------------------------------------------------------ */
/* GET endpoints                                                       */
/* ------------------------------------------------------------------ */

/* The value of query argument `name` (the first fragment "name=value"),
 * or NULL. The fragments are kept decoded, each NUL-terminated. */
static const char *q_arg(const struct http_sess *s, const char *name)
{
    size_t nl = strlen(name);
    for (size_t off = 0; off < s->query_len;) {
        const char *f = s->query + off;
        size_t fl = strlen(f);
        if (fl > nl && !strncmp(f, name, nl) && f[nl] == '=')
            return f + nl + 1;
        off += fl + 1;
    }
    return NULL;
}

/* Keep one decoded query fragment; 0, or -1 when the arguments are longer
 * than the session keeps. */
static int q_keep(struct http_sess *s, const char *frag, size_t n)
{
    if (s->query_len + n + 1 > sizeof s->query)
        return -1;
    memcpy(s->query + s->query_len, frag, n);
    s->query[s->query_len + n] = '\0';
    s->query_len += n + 1;
    return 0;
}

/* An integer query argument: *v = def when absent; 0 or -1 (answer set). */
static int q_int(struct http_sess *s, const char *name, int64_t def, int64_t min, int64_t max,
                 int64_t *v)
{
    const char *p = q_arg(s, name);
    *v = def;
    if (!p)
        return 0;
    char *end;
    errno = 0;
    long long x = strtoll(p, &end, 10);
    if (errno || !*p || *end || x < min || x > max) {
        respond_error(s, 400, "%s: expected an integer from %lld to %lld, got \"%s\"", name,
                      (long long)min, (long long)max, p);
        return -1;
    }
    *v = x;
    return 0;
}

/* The paging arguments every list takes: after (exclusive) and limit. */
static int q_page(struct http_sess *s, int64_t after_def, int64_t *after,
                  int64_t *limit)
{
    if (q_int(s, "after", after_def, INT64_MIN + 1, INT64_MAX, after) ||
        q_int(s, "limit", 100, 1, LIST_MAX, limit))
        return -1;
    return 0;
}

static cJSON *asset_json(const struct mkt_asset *x)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    add_i64(o, "id", x->id);
    add_addr(o, "owner", x->owner);
    cJSON_AddStringToObject(o, "type", mkt_asset_type_name(x->type));
    cJSON_AddStringToObject(o, "name", x->name);
    cJSON_AddStringToObject(o, "location", x->location);
    add_i64(o, "p_min_w", x->p_min_w);
    add_i64(o, "p_max_w", x->p_max_w);
    add_i64(o, "soc_min_ppm", x->soc_min_ppm);
    add_i64(o, "soc_max_ppm", x->soc_max_ppm);
    cJSON_AddBoolToObject(o, "removed", x->removed);
    return o;
}

static cJSON *offer_json(const struct mkt_offer *x)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    add_i64(o, "id", x->id);
    add_i64(o, "asset_id", x->asset_id);
    add_addr(o, "fsp", x->fsp);
    cJSON_AddStringToObject(o, "location", x->location);
    add_i64(o, "start_us", x->start);
    add_i64(o, "end_us", x->end);
    add_i64(o, "valid_until_us", x->valid_until);
    add_i64(o, "p_w", x->p_w);
    add_i64(o, "price_ueur_per_kwh", x->price_ueur_per_kwh);
    add_i64(o, "availability_ueur_per_kw_h", x->availability_ueur_per_kw_h);
    add_i64(o, "remaining_w", x->remaining_w);
    cJSON_AddStringToObject(o, "state", mkt_state_name(x->state));
    add_i64(o, "seq", x->seq);
    return o;
}

static cJSON *request_json(const struct mkt_request *x)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    add_i64(o, "id", x->id);
    add_addr(o, "dso", x->dso);
    cJSON_AddStringToObject(o, "location", x->location);
    add_i64(o, "start_us", x->start);
    add_i64(o, "end_us", x->end);
    add_i64(o, "p_w", x->p_w);
    add_i64(o, "max_price_ueur_per_kwh", x->max_price_ueur_per_kwh);
    add_i64(o, "max_availability_ueur_per_kw_h", x->max_availability_ueur_per_kw_h);
    add_i64(o, "unmet_w", x->unmet_w);
    cJSON_AddStringToObject(o, "state", mkt_state_name(x->state));
    add_i64(o, "seq", x->seq);
    return o;
}

static cJSON *match_json(const struct mkt_match *x)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    add_i64(o, "id", x->id);
    add_i64(o, "request_id", x->request_id);
    add_i64(o, "offer_id", x->offer_id);
    add_i64(o, "asset_id", x->asset_id);
    add_addr(o, "fsp", x->fsp);
    add_addr(o, "dso", x->dso);
    add_i64(o, "start_us", x->start);
    add_i64(o, "end_us", x->end);
    add_i64(o, "p_w", x->p_w);
    add_i64(o, "price_ueur_per_kwh", x->price_ueur_per_kwh);
    add_i64(o, "amount_ueur", x->amount_ueur);
    cJSON_AddStringToObject(o, "state", mkt_state_name(x->state));
    if (x->delivered_wh >= 0)
        add_i64(o, "delivered_wh", x->delivered_wh);
    else
        cJSON_AddNullToObject(o, "delivered_wh");
    add_i64(o, "rate_ppm", x->rate_ppm);
    add_i64(o, "payout_ueur", x->payout_ueur);
    add_i64(o, "settle_fee_ueur", x->settle_fee_ueur);
    add_i64(o, "refund_ueur", x->refund_ueur);
    add_i64(o, "merit", x->merit);
    add_i64(o, "availability_ueur_per_kw_h", x->availability_ueur_per_kw_h);
    add_i64(o, "availability_ueur", x->availability_ueur);
    add_i64(o, "availability_paid_ueur", x->availability_paid_ueur);
    return o;
}

static cJSON *dispatch_json(const struct mkt_dispatch *x)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    add_i64(o, "id", x->id);
    add_i64(o, "match_id", x->match_id);
    add_i64(o, "asset_id", x->asset_id);
    add_i64(o, "start_us", x->start);
    add_i64(o, "end_us", x->end);
    add_i64(o, "p_w", x->p_w);
    return o;
}

enum list_kind { LIST_ASSETS, LIST_OFFERS, LIST_REQUESTS };

/* Assets, offers or requests, as the operator sees them: the market's
 * state is public (so is the ledger it is a function of). */
static void get_list(struct mkt_api *a, struct http_sess *s, enum list_kind k)
{
    static const char *const names[] = {"assets", "offers", "requests"};
    static const size_t sizes[] = {sizeof(struct mkt_asset), sizeof(struct mkt_offer),
                                   sizeof(struct mkt_request)};
    int64_t after, limit;
    if (q_page(s, 0, &after, &limit))
        return;
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, names[k]);
    uint8_t op[20];
    if (!arr || operator_addr(a->e, op)) { /* no genesis yet: nothing to list */
        respond_json(s, 200, o);
        return;
    }
    void *rows = calloc((size_t)limit, sizes[k]);
    if (!rows) {
        cJSON_Delete(o);
        respond_error(s, 500, "server: out of memory");
        return;
    }
    size_t n = 0;
    struct sim_err err;
    sim_time_us now = api_now(a);
    int rc;
    if (k == LIST_ASSETS)
        rc = mkt_asset_list(a->e, op, after, rows, (size_t)limit, &n, now, &err);
    else if (k == LIST_OFFERS)
        rc = mkt_offer_list(a->e, op, after, rows, (size_t)limit, &n, now, &err);
    else
        rc = mkt_request_list(a->e, op, after, rows, (size_t)limit, &n, now, &err);
    if (rc) {
        free(rows);
        cJSON_Delete(o);
        respond_error(s, http_status(rc), "%s", err.msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        cJSON *it = k == LIST_ASSETS   ? asset_json((struct mkt_asset *)rows + i)
                    : k == LIST_OFFERS ? offer_json((struct mkt_offer *)rows + i)
                                       : request_json((struct mkt_request *)rows + i);
        if (it)
            cJSON_AddItemToArray(arr, it);
    }
    free(rows);
    respond_json(s, 200, o);
}

static void get_matches(struct mkt_api *a, struct http_sess *s)
{
    int64_t rid;
    if (q_int(s, "request", -1, 1, INT64_MAX, &rid))
        return;
    struct sim_err err;
    if (rid < 0) { /* every match, paging by id */
        int64_t after, limit;
        if (q_page(s, 0, &after, &limit))
            return;
        sqlite3 *db = mkt_engine_db(a->e);
        sqlite3_stmt *st = NULL;
        cJSON *o = cJSON_CreateObject();
        cJSON *arr = o ? cJSON_AddArrayToObject(o, "matches") : NULL;
        int rc = arr ? 0 : SIM_ENOMEM;
        if (!rc && sqlite3_prepare_v2(db, "SELECT id FROM mkt_matches WHERE id>? ORDER BY id LIMIT ?",
                                      -1, &st, NULL) != SQLITE_OK)
            rc = sim_errf(&err, SIM_EIO, "market database: %s", sqlite3_errmsg(db));
        if (!rc) {
            sqlite3_bind_int64(st, 1, after);
            sqlite3_bind_int64(st, 2, limit);
        }
        while (!rc && sqlite3_step(st) == SQLITE_ROW) {
            struct mkt_match m;
            cJSON *it = NULL;
            if (!(rc = mkt_match_get(a->e, sqlite3_column_int64(st, 0), &m, &err)) &&
                !(it = match_json(&m)))
                rc = sim_errf(&err, SIM_ENOMEM, "server: out of memory");
            if (it)
                cJSON_AddItemToArray(arr, it);
        }
        sqlite3_finalize(st);
        if (rc) {
            cJSON_Delete(o);
            respond_error(s, 500, "matches: %s", arr ? err.msg : "server: out of memory");
            return;
        }
        respond_json(s, 200, o);
        return;
    }
    struct mkt_request r;
    if (mkt_request_get(a->e, rid, &r, &err)) {
        respond_error(s, 404, "request: no request %lld", (long long)rid);
        return;
    }
    size_t n = 0;
    int rc = mkt_matches_of_request(a->e, rid, NULL, 0, &n, &err);
    struct mkt_match *m = NULL;
    if (!rc && n > 0) {
        m = calloc(n, sizeof *m);
        if (!m) {
            respond_error(s, 500, "server: out of memory");
            return;
        }
        rc = mkt_matches_of_request(a->e, rid, m, n, &n, &err);
    }
    if (rc) {
        free(m);
        respond_error(s, http_status(rc), "%s", err.msg);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *req = request_json(&r);
    if (req)
        cJSON_AddItemToObject(o, "request", req);
    cJSON *arr = cJSON_AddArrayToObject(o, "matches");
    for (size_t i = 0; arr && i < n; i++) {
        cJSON *it = match_json(&m[i]);
        if (it)
            cJSON_AddItemToArray(arr, it);
    }
    free(m);
    respond_json(s, 200, o);
}

static void get_dispatch(struct mkt_api *a, struct http_sess *s)
{
    int64_t after, limit;
    if (q_page(s, 0, &after, &limit))
        return;
    struct mkt_dispatch *d = calloc((size_t)limit, sizeof *d);
    if (!d) {
        respond_error(s, 500, "server: out of memory");
        return;
    }
    size_t n = 0;
    struct sim_err err;
    int rc = mkt_dispatch_list(a->e, after, d, (size_t)limit, &n, &err);
    if (rc) {
        free(d);
        respond_error(s, http_status(rc), "%s", err.msg);
        return;
    }
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "dispatch");
    for (size_t i = 0; arr && i < n; i++) {
        cJSON *it = dispatch_json(&d[i]);
        if (it)
            cJSON_AddItemToArray(arr, it);
    }
    free(d);
    respond_json(s, 200, o);
}

static void get_balance(struct mkt_api *a, struct http_sess *s, const char *addr_text)
{
    uint8_t addr[20];
    struct sim_err err;
    if (mkt_address_parse(addr_text, addr, &err)) {
        respond_error(s, 400, "address: %s", err.msg);
        return;
    }
    int64_t b = 0;
    int rc = mkt_balance(a->e, addr, &b, &err);
    if (rc) {
        respond_error(s, http_status(rc), "address: %s", err.msg);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    add_addr(o, "address", addr);
    add_i64(o, "balance_ueur", b);
    respond_json(s, 200, o);
}

/* A list read straight from a table (one paging query). */
static void get_query(struct mkt_api *a, struct http_sess *s, const char *member,
                      const char *sql, int64_t after_def)
{
    int64_t after, limit;
    if (q_page(s, after_def, &after, &limit))
        return;
    struct sim_err err;
    cJSON *arr = query_json(mkt_engine_db(a->e), sql, 2, after, limit, 0, &err);
    if (!arr) {
        respond_error(s, 500, "%s", err.msg);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    if (o)
        cJSON_AddItemToObject(o, member, arr);
    else
        cJSON_Delete(arr);
    respond_json(s, 200, o);
}

static int64_t count_of(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void get_ledger(struct mkt_api *a, struct http_sess *s)
{
    int64_t after, limit;
    if (q_page(s, -1, &after, &limit))
        return;
    sqlite3 *db = mkt_engine_db(a->e);
    struct sim_err err;
    cJSON *arr = query_json(db,
                            "SELECT height, t_us, prev_hash, merkle_root, n_tx, sealer, hash, sig"
                            " FROM mkt_blocks WHERE height>? ORDER BY height LIMIT ?",
                            2, after, limit, 0, &err);
    if (!arr) {
        respond_error(s, 500, "%s", err.msg);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    add_i64(o, "height", count_of(db, "SELECT coalesce(max(height), -1) FROM mkt_blocks"));
    add_i64(o, "transactions", count_of(db, "SELECT count(*) FROM mkt_tx"));
    add_i64(o, "pending", count_of(db, "SELECT count(*) FROM mkt_tx WHERE block_height IS NULL"));
    cJSON_AddItemToObject(o, "blocks", arr);
    respond_json(s, 200, o);
}

static void get_verify(struct mkt_api *a, struct http_sess *s)
{
    struct mkt_verify_report rep;
    struct sim_err err;
    int rc = mkt_ledger_verify(mkt_engine_db(a->e), &rep, &err);
    if (rc) {
        respond_error(s, rc == SIM_EINVAL ? 404 : 500, "ledger: %s", err.msg);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", rep.ok);
    add_i64(o, "blocks", rep.blocks);
    add_i64(o, "transactions", rep.txs);
    add_i64(o, "pending", rep.pending);
    if (!rep.ok) {
        add_i64(o, "bad_height", rep.bad_height);
        add_i64(o, "bad_tx_seq", rep.bad_tx_seq);
        add_i64(o, "bad_tx_index", rep.bad_tx_index);
        cJSON_AddStringToObject(o, "reason", rep.reason);
    }
    respond_json(s, 200, o);
}

static void get_market(struct mkt_api *a, struct http_sess *s)
{
    sqlite3 *db = mkt_engine_db(a->e);
    cJSON *o = cJSON_CreateObject();
    uint8_t op[20];
    if (operator_addr(a->e, op) == 0)
        add_addr(o, "operator", op);
    else
        cJSON_AddNullToObject(o, "operator");
    cJSON *pj = mkt_params_json(mkt_engine_params(a->e), 1);
    if (pj)
        cJSON_AddItemToObject(o, "params", pj);
    int64_t w = 0, esc = 0, dep = 0;
    struct sim_err err;
    if (mkt_money_totals(a->e, &w, &esc, &dep, &err) == 0) {
        add_i64(o, "wallets_ueur", w);
        add_i64(o, "escrow_ueur", esc);
        add_i64(o, "deposited_ueur", dep);
    }
    add_i64(o, "height", count_of(db, "SELECT coalesce(max(height), -1) FROM mkt_blocks"));
    add_i64(o, "pending", count_of(db, "SELECT count(*) FROM mkt_tx WHERE block_height IS NULL"));
    add_i64(o, "refusals", mkt_refusal_count(a->e));
    cJSON_AddBoolToObject(o, "sealing", a->cfg.operator_key != NULL);
    add_i64(o, "now_us", api_now(a));
    respond_json(s, 200, o);
}

/* ------------------------------------------------------------------ */
/* POST endpoints                                                      */
/* ------------------------------------------------------------------ */

/* Parse a body {"tx": ..., "sig": "0x..."}: *canon gets the canonical text
 * of the action (malloc'd), sig its signature. "tx" may be the canonical
 * text as a string (what is signed) or, for convenience, the action
 * object itself, which is then canonicalised here. 0, or -1 with the
 * answer set. */
static int parse_signed(struct http_sess *s, char **canon, uint8_t sig[MKT_SIG_LEN])
{
    *canon = NULL;
    if (s->body_len == 0) {
        respond_error(s, 400,
                      "body: empty; expected {\"tx\": \"<canonical JSON>\", \"sig\": \"0x...\"}");
        return -1;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(s->body, s->body_len, &end, 0);
    if (!root) {
        const char *at = end ? end : cJSON_GetErrorPtr();
        size_t off =
            at && at >= s->body && at <= s->body + s->body_len ? (size_t)(at - s->body) : 0;
        respond_error(s, 400, "body: malformed JSON at byte %zu", off);
        return -1;
    }
    int ret = -1;
    struct sim_err err;
    const cJSON *tx = cJSON_GetObjectItemCaseSensitive(root, "tx");
    const cJSON *sg = cJSON_GetObjectItemCaseSensitive(root, "sig");
    if (!cJSON_IsObject(root)) {
        respond_error(s, 400, "body: expected a JSON object with members tx and sig");
    } else if (!tx) {
        respond_error(s, 400, "tx: missing");
    } else if (!cJSON_IsString(sg)) {
        respond_error(s, 400, "sig: missing or not a string (0x + 130 hex digits)");
    } else if (mkt_sig_parse(sg->valuestring, sig, &err)) {
        respond_error(s, 400, "sig: %s", err.msg);
    } else if (cJSON_IsString(tx)) {
        *canon = strdup(tx->valuestring);
        if (!*canon)
            respond_error(s, 500, "server: out of memory");
        else
            ret = 0;
    } else if (cJSON_IsObject(tx)) {
        char *t = cJSON_PrintUnformatted(tx);
        int rc =
            t ? mkt_canonical_json(t, canon, &err) : sim_errf(&err, SIM_ENOMEM, "out of memory");
        cJSON_free(t);
        if (rc)
            respond_error(s, http_status(rc), "tx: %s", err.msg);
        else
            ret = 0;
    } else {
        respond_error(s, 400, "tx: expected the canonical JSON text of the action (a string)");
    }
    cJSON_Delete(root);
    return ret;
}

static void watch_poll(struct mkt_api *a);

static void post_tx(struct mkt_api *a, struct lws *wsi, struct http_sess *s)
{
    char *json = NULL;
    uint8_t sig[MKT_SIG_LEN];
    if (parse_signed(s, &json, sig))
        return;
    /* What the action says it is, for the answer, the log and the rule
     * that a server holding the operator key takes genesis only from it. */
    char action[32] = "", from[MKT_ADDR_STRLEN] = "";
    cJSON *root = cJSON_Parse(json);
    if (root) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(root, "action");
        if (cJSON_IsString(x))
            snprintf(action, sizeof action, "%s", x->valuestring);
        x = cJSON_GetObjectItemCaseSensitive(root, "from");
        if (cJSON_IsString(x))
            snprintf(from, sizeof from, "%s", x->valuestring);
        cJSON_Delete(root);
    }
    if (a->cfg.operator_key && !strcmp(action, "genesis")) {
        uint8_t op[20], signer[20];
        char opt[MKT_ADDR_STRLEN];
        struct sim_err err;
        if (mkt_key_address(a->cfg.operator_key, op, &err) == 0 &&
            (mkt_recover_signer(json, strlen(json), sig, signer, &err) || memcmp(signer, op, 20))) {
            respond_error(s, 403,
                          "genesis: this server's operator is %s; sign the genesis "
                          "with its key",
                          mkt_address_format(op, opt));
            a->st.refused_tx++;
            free(json);
            return;
        }
    }
    struct mkt_receipt rc;
    struct sim_err err;
    if (a->cfg.forward) {
        int r = a->cfg.forward(a->cfg.forward_ctx, json, sig, &rc, &err);
        if (r <= 0) {
            free(json);
            if (r) {
                a->st.refused_tx++;
                api_log(a, "refused %s from %s: %s", action[0] ? action : "?",
                        from[0] ? from : "?", err.msg);
                respond_error(s, http_status(r), "%s", err.msg);
                return;
            }
            /* committed by the owner: read it before answering, so that
             * the next GET (a nonce, a list) already shows it */
            watch_poll(a);
            a->st.accepted_tx++;
            respond_json(s, 200, receipt_json(&rc, action, from));
            notify_tx(a, &rc, action, from);
            return;
        }
        /* r == 1: the owner has gone; this server's own engine takes it */
    }
    if (!a->batch && wsi && mkt_batch_begin(a->e, &err) == 0)
        a->batch = 1; /* (no wsi: mkt_api_request, which answers once stored) */
    if (a->npend == a->cap_pend) {
        int nc = a->cap_pend ? 2 * a->cap_pend : 64;
        struct pending *np = realloc(a->pend, (size_t)nc * sizeof *np);
        if (!np) {
            free(json);
            respond_error(s, 503, "server: out of memory");
            return;
        }
        a->pend = np;
        a->cap_pend = nc;
    }
    int r = mkt_submit(a->e, json, sig, api_now(a), &rc, &err);
    free(json);
    if (r) {
        a->st.refused_tx++;
        api_log(a, "refused %s from %s: %s", action[0] ? action : "?", from[0] ? from : "?",
                err.msg);
        respond_error(s, http_status(r), "%s", err.msg);
        return;
    }
    respond_json(s, 200, receipt_json(&rc, action, from));
    if (!a->batch) { /* no batch could be opened: stored already */
        a->st.accepted_tx++;
        notify_tx(a, &rc, action, from);
        return;
    }
    struct pending *pd = &a->pend[a->npend++];
    pd->wsi = wsi;
    pd->s = s;
    pd->rc = rc;
    snprintf(pd->action, sizeof pd->action, "%s", action);
    snprintf(pd->from, sizeof pd->from, "%s", from);
    s->deferred = 1;
}

/* Seal the pending transactions with the operator key and announce the
 * block. 0 (then *height is the new block's height, or -1 when nothing was
 * pending) or the engine's error code. */
static int do_seal(struct mkt_api *a, int64_t *height, struct sim_err *err)
{
    int rc = mkt_seal(a->e, a->cfg.operator_key, api_now(a), height, err);
    if (rc)
        return rc;
    if (*height >= 0) {
        a->st.blocks++;
        api_log(a, "sealed block %lld", (long long)*height);
        notify_rows(a,
                    "SELECT 'block' AS event, height, t_us, n_tx, hash FROM mkt_blocks"
                    " WHERE height=?",
                    *height);
    }
    return 0;
}

static void post_seal(struct mkt_api *a, struct http_sess *s)
{
    char *json = NULL;
    uint8_t sig[MKT_SIG_LEN];
    if (parse_signed(s, &json, sig))
        return;
    struct sim_err err;
    char *canon = NULL;
    cJSON *root = NULL;
    uint8_t signer[20], op[20];
    char t1[MKT_ADDR_STRLEN];
    sim_time_us now = api_now(a);
    if (!a->cfg.operator_key) {
        respond_error(s, 403,
                      "seal: this server holds no operator key (start it with "
                      "--operator-key PATH)");
        goto out;
    }
    if (mkt_canonical_json(json, &canon, &err) || strcmp(canon, json)) {
        respond_error(s, 400, "tx: not canonical JSON%s%s", canon ? "" : ": ",
                      canon ? "" : err.msg);
        goto out;
    }
    root = cJSON_Parse(json);
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(root, "action");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "t_us");
    if (!cJSON_IsString(act) || strcmp(act->valuestring, "seal")) {
        respond_error(s, 400, "action: expected \"seal\"");
        goto out;
    }
    if (!cJSON_IsNumber(t)) {
        respond_error(s, 400, "t_us: missing (the request's time, microseconds since 1970)");
        goto out;
    }
    double dt = t->valuedouble - (double)now;
    if (dt > (double)SEAL_SKEW_US || dt < -(double)SEAL_SKEW_US) {
        respond_error(s, 400, "t_us: more than 300 s away from the server's time %lld",
                      (long long)now);
        goto out;
    }
    if (mkt_recover_signer(json, strlen(json), sig, signer, &err)) {
        respond_error(s, 400, "sig: %s", err.msg);
        goto out;
    }
    if (mkt_key_address(a->cfg.operator_key, op, &err) || memcmp(signer, op, 20)) {
        respond_error(s, 403, "seal: signed by %s; only the operator may seal",
                      mkt_address_format(signer, t1));
        goto out;
    }
    int64_t height = -1;
    int rc = do_seal(a, &height, &err);
    if (rc) {
        respond_error(s, http_status(rc), "seal: %s", err.msg);
        goto out;
    }
    cJSON *o = cJSON_CreateObject();
    add_i64(o, "height", height);
    if (height >= 0) {
        sqlite3 *db = mkt_engine_db(a->e);
        cJSON *arr = query_json(db, "SELECT n_tx, hash FROM mkt_blocks WHERE height=?", 1, height,
                                0, 0, &err);
        cJSON *row = arr ? cJSON_GetArrayItem(arr, 0) : NULL;
        if (row) {
            cJSON_AddItemReferenceToObject(o, "n_tx", cJSON_GetObjectItem(row, "n_tx"));
            cJSON_AddItemReferenceToObject(o, "hash", cJSON_GetObjectItem(row, "hash"));
        }
        char *txt = cJSON_PrintUnformatted(o); /* print while the references live */
        cJSON_Delete(o);
        cJSON_Delete(arr);
        if (txt)
            respond_text(s, 200, txt);
        else
            respond_error(s, 500, "server: out of memory");
        cJSON_free(txt);
    } else {
        respond_json(s, 200, o);
    }
out:
    cJSON_Delete(root);
    free(canon);
    free(json);
}

/* ------------------------------------------------------------------ */
/* The dashboard and the run's recorded signals                        */
/* ------------------------------------------------------------------ */

/* web/ embedded at build time (web/embed.cmake); type is the extension. */
struct mkt_web_file {
    const char *path, *type, *text;
};
extern const struct mkt_web_file mkt_web_files[];
extern const size_t mkt_web_file_count;

/* The embedded file at path ("/" is index.html), or NULL. */
static const struct mkt_web_file *web_file(const char *path)
{
    if (!strcmp(path, "/"))
        path = "/index.html";
    for (size_t i = 0; i < mkt_web_file_count; i++)
        if (!strcmp(path, mkt_web_files[i].path))
            return &mkt_web_files[i];
    return NULL;
}

/* Whether the served database holds a results store (flexbed run --out). */
static int has_results(sqlite3 *db)
{
    return count_of(db, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN "
                        "('runs','signals','samples')") == 3;
}

static void get_runs(struct mkt_api *a, struct http_sess *s)
{
    sqlite3 *db = mkt_engine_db(a->e);
    struct sim_err err;
    cJSON *arr = has_results(db)
                     ? query_json(db,
                                  "SELECT id, scenario_name, variant, status, sim_start_us,"
                                  " sim_end_us, step_us, utc_offset_s FROM runs ORDER BY id",
                                  0, 0, 0, 0, &err)
                     : cJSON_CreateArray();
    if (!arr) {
        respond_error(s, 500, "%s", err.msg);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    if (o)
        cJSON_AddItemToObject(o, "runs", arr);
    else
        cJSON_Delete(arr);
    respond_json(s, 200, o);
}

static void get_signals(struct mkt_api *a, struct http_sess *s)
{
    int64_t run;
    if (q_int(s, "run", -1, 1, INT64_MAX, &run))
        return;
    if (run < 0) {
        respond_error(s, 400, "run: missing (GET /api/runs lists them)");
        return;
    }
    sqlite3 *db = mkt_engine_db(a->e);
    if (!has_results(db)) {
        respond_error(s, 404, "run: this database holds no recorded runs");
        return;
    }
    struct sim_err err;
    cJSON *arr = query_json(db,
                            "SELECT id, name, unit, component FROM signals WHERE run_id=?"
                            " ORDER BY name",
                            1, run, 0, 0, &err);
    if (!arr) {
        respond_error(s, 500, "%s", err.msg);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    if (o)
        cJSON_AddItemToObject(o, "signals", arr);
    else
        cJSON_Delete(arr);
    respond_json(s, 200, o);
}

#define SERIES_MAX 200000 /* points one GET /api/series returns */

/* One signal's samples as two arrays: {"signal", "name", "unit", "t_us": [...], "v": [...]}
 * (NaN as null), from after (exclusive) on, at most limit points. */
static void get_series(struct mkt_api *a, struct http_sess *s)
{
    int64_t sig, after, limit;
    if (q_int(s, "signal", -1, 1, INT64_MAX, &sig) ||
        q_int(s, "after", INT64_MIN + 1, INT64_MIN + 1, INT64_MAX, &after) ||
        q_int(s, "limit", SERIES_MAX, 1, SERIES_MAX, &limit))
        return;
    if (sig < 0) {
        respond_error(s, 400, "signal: missing (GET /api/signals?run=ID lists them)");
        return;
    }
    sqlite3 *db = mkt_engine_db(a->e);
    if (!has_results(db)) {
        respond_error(s, 404, "signal: this database holds no recorded runs");
        return;
    }
    sqlite3_stmt *st = NULL;
    cJSON *o = cJSON_CreateObject(), *t = cJSON_CreateArray(), *v = cJSON_CreateArray();
    int rc = o && t && v ? 0 : SIM_ENOMEM;
    if (!rc && sqlite3_prepare_v2(db, "SELECT name, unit FROM signals WHERE id=?", -1, &st, NULL))
        rc = SIM_EIO;
    if (!rc) {
        sqlite3_bind_int64(st, 1, sig);
        if (sqlite3_step(st) != SQLITE_ROW) {
            sqlite3_finalize(st);
            cJSON_Delete(o);
            cJSON_Delete(t);
            cJSON_Delete(v);
            respond_error(s, 404, "signal: no signal %lld", (long long)sig);
            return;
        }
        add_i64(o, "signal", sig);
        cJSON_AddStringToObject(o, "name", (const char *)sqlite3_column_text(st, 0));
        cJSON_AddStringToObject(o, "unit", (const char *)sqlite3_column_text(st, 1));
        sqlite3_finalize(st);
        st = NULL;
        if (sqlite3_prepare_v2(db,
                               "SELECT t_us, value FROM samples WHERE signal_id=? AND t_us>?"
                               " ORDER BY t_us LIMIT ?",
                               -1, &st, NULL))
            rc = SIM_EIO;
    }
    if (!rc) {
        sqlite3_bind_int64(st, 1, sig);
        sqlite3_bind_int64(st, 2, after);
        sqlite3_bind_int64(st, 3, limit);
        int r;
        while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
            cJSON *tv = cJSON_CreateNumber((double)sqlite3_column_int64(st, 0));
            cJSON *vv = sqlite3_column_type(st, 1) == SQLITE_NULL
                            ? cJSON_CreateNull()
                            : cJSON_CreateNumber(sqlite3_column_double(st, 1));
            if (!tv || !vv) {
                cJSON_Delete(tv);
                cJSON_Delete(vv);
                rc = SIM_ENOMEM;
                break;
            }
            cJSON_AddItemToArray(t, tv);
            cJSON_AddItemToArray(v, vv);
        }
        if (!rc && r != SQLITE_DONE)
            rc = SIM_EIO;
    }
    sqlite3_finalize(st);
    if (rc) {
        cJSON_Delete(o);
        cJSON_Delete(t);
        cJSON_Delete(v);
        respond_error(s, 500, "series: %s",
                      rc == SIM_ENOMEM ? "server: out of memory" : sqlite3_errmsg(db));
        return;
    }
    cJSON_AddItemToObject(o, "t_us", t);
    cJSON_AddItemToObject(o, "v", v);
    respond_json(s, 200, o);
}

/* ------------------------------------------------------------------ */
/* Routing                                                             */
/* ------------------------------------------------------------------ */

static void route(struct mkt_api *a, struct lws *wsi, struct http_sess *s)
{
    const char *p = s->path;
    if (s->query_too_long) {
        respond_error(s, 414, "query: the URL arguments are longer than %zu bytes",
                      sizeof s->query - 1);
        return;
    }
    static const struct {
        const char *path;
        int post;
    } known[] = {
        {"/api/market", 0},        {"/api/participants", 0},  {"/api/assets", 0},
        {"/api/offers", 0},        {"/api/requests", 0},      {"/api/matches", 0},
        {"/api/dispatch", 0},      {"/api/purchases", 0},     {"/api/deliveries", 0},
        {"/api/settlements", 0},   {"/api/ledger", 0},        {"/api/ledger/tx", 0},
        {"/api/ledger/verify", 0}, {"/api/ledger/replay", 0}, {"/api/tx", 1},
        {"/api/seal", 1},          {"/api/runs", 0},          {"/api/signals", 0},
        {"/api/series", 0},        {"/api/meter", 0},         {"/api/prognoses", 0},
    };
    const struct mkt_web_file *wf = strncmp(p, "/api/", 5) ? web_file(p) : NULL;
    if (wf) {
        if (strcmp(s->method, "GET")) {
            respond_error(s, 405, "method: %s %s is not allowed; use GET", s->method, p);
            return;
        }
        static const struct {
            const char *ext, *ctype;
        } types[] = {
            {"html", "text/html; charset=utf-8"},
            {"js", "text/javascript; charset=utf-8"},
            {"css", "text/css; charset=utf-8"},
            {"svg", "image/svg+xml"},
        };
        respond_text(s, 200, wf->text);
        s->ctype = "application/octet-stream";
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (!strcmp(wf->type, types[i].ext))
                s->ctype = types[i].ctype;
        return;
    }
    int found = -1;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(p, known[i].path))
            found = (int)i;
    int is_balance = !strncmp(p, "/api/balances/", 14) && p[14];
    if (found < 0 && !is_balance) {
        respond_error(s, 404, "path: no endpoint %s (see docs/api.md)", p);
        return;
    }
    int want_post = found >= 0 ? known[found].post : 0;
    if (strcmp(s->method, want_post ? "POST" : "GET")) {
        respond_error(s, 405, "method: %s %s is not allowed; use %s", s->method, p,
                      want_post ? "POST" : "GET");
        return;
    }
    if (want_post && a->cfg.watch && !(a->cfg.forward && !strcmp(p, "/api/tx"))) {
        respond_error(s, 403,
                      "%s: this server watches a run; its market takes no transactions from here",
                      p);
        return;
    }
    if (is_balance)
        get_balance(a, s, p + 14);
    else if (!strcmp(p, "/api/tx"))
        post_tx(a, wsi, s);
    else if (!strcmp(p, "/api/seal"))
        post_seal(a, s);
    else if (!strcmp(p, "/api/market"))
        get_market(a, s);
    else if (!strcmp(p, "/api/runs"))
        get_runs(a, s);
    else if (!strcmp(p, "/api/signals"))
        get_signals(a, s);
    else if (!strcmp(p, "/api/series"))
        get_series(a, s);
    else if (!strcmp(p, "/api/participants"))
        get_query(a, s, "participants",
                  "SELECT address, CASE role WHEN 0 THEN 'operator' WHEN 1 THEN 'DSO'"
                  " ELSE 'FSP' END AS role, name, balance_ueur, nonce, seq FROM mkt_participants"
                  " WHERE seq>? ORDER BY seq LIMIT ?",
                  0);
    else if (!strcmp(p, "/api/assets"))
        get_list(a, s, LIST_ASSETS);
    else if (!strcmp(p, "/api/offers"))
        get_list(a, s, LIST_OFFERS);
    else if (!strcmp(p, "/api/requests"))
        get_list(a, s, LIST_REQUESTS);
    else if (!strcmp(p, "/api/matches"))
        get_matches(a, s);
    else if (!strcmp(p, "/api/dispatch"))
        get_dispatch(a, s);
    else if (!strcmp(p, "/api/purchases"))
        get_query(a, s, "purchases",
                  "SELECT id, request_id, dso, amount_ueur, escrow_ueur, seq FROM mkt_purchases"
                  " WHERE id>? ORDER BY id LIMIT ?",
                  0);
    else if (!strcmp(p, "/api/deliveries"))
        get_query(a, s, "deliveries",
                  "SELECT id, match_id, e_wh, rate_ppm, reporter, seq, baseline_wh, measured_wh"
                  " FROM mkt_deliveries WHERE id>? ORDER BY id LIMIT ?",
                  0);
    else if (!strcmp(p, "/api/meter"))
        get_query(a, s, "meter",
                  "SELECT id, asset_id, start_us, end_us, e_wh, reporter, seq FROM mkt_meter"
                  " WHERE id>? ORDER BY id LIMIT ?",
                  0);
    else if (!strcmp(p, "/api/prognoses"))
        get_query(a, s, "prognoses",
                  "SELECT id, asset_id, start_us, end_us, p_w, fsp, seq FROM mkt_prognoses"
                  " WHERE id>? ORDER BY id LIMIT ?",
                  0);
    else if (!strcmp(p, "/api/settlements"))
        get_query(a, s, "settlements",
                  "SELECT id, request_id, match_id, fsp, payout_ueur, fee_ueur, refund_ueur, seq"
                  " FROM mkt_settlements WHERE id>? ORDER BY id LIMIT ?",
                  0);
    else if (!strcmp(p, "/api/ledger"))
        get_ledger(a, s);
    else if (!strcmp(p, "/api/ledger/tx"))
        get_query(a, s, "transactions",
                  "SELECT seq, block_height, idx, t_us, sender, action, nonce, json, sig, hash"
                  " FROM mkt_tx WHERE seq>? ORDER BY seq LIMIT ?",
                  0);
    else if (!strcmp(p, "/api/ledger/verify"))
        get_verify(a, s);
    else {
        struct mkt_replay_report rep;
        struct sim_err err;
        int rc = mkt_ledger_replay(mkt_engine_db(a->e), &rep, &err);
        if (rc) {
            respond_error(s, 500, "ledger: %s", err.msg);
            return;
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "ok", rep.ok);
        add_i64(o, "transactions", rep.txs);
        add_i64(o, "participants", rep.participants);
        if (!rep.ok)
            cJSON_AddStringToObject(o, "reason", rep.reason);
        respond_json(s, 200, o);
    }
}

/* ------------------------------------------------------------------ */
/* lws callbacks                                                       */
/* ------------------------------------------------------------------ */

static struct mkt_api *api_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

/* The answer is ready: have it written. */
static void answer(struct mkt_api *a, struct lws *wsi, struct http_sess *s)
{
    s->answered = 1;
    a->st.requests++;
    api_log(a, "%s %s %d %zu", s->method, s->path, s->status, s->resp_len);
    lws_callback_on_writable(wsi);
}

static int write_some(struct lws *wsi, struct http_sess *s)
{
    if (!s->headers_sent) {
        unsigned char hdr[LWS_PRE + 512];
        unsigned char *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof hdr - 1;
        if (lws_add_http_common_headers(wsi, (unsigned)s->status,
                                        s->ctype ? s->ctype : "application/json",
                                        (lws_filepos_t)s->resp_len, &p, end))
            return -1;
        if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                         (const unsigned char *)"no-store", 8, &p, end))
            return -1;
        if (s->close_after &&
            lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close",
                                         5, &p, end))
            return -1;
        if (lws_finalize_write_http_header(wsi, start, &p, end))
            return -1;
        s->headers_sent = 1;
        if (s->resp_len > 0) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    }
    size_t left = s->resp_len - s->resp_off;
    size_t n = left > CHUNK ? CHUNK : left;
    int final = n == left;
    if (n > 0) {
        /* The LWS_PRE bytes before this chunk were already sent (or are the
         * headroom), so lws may use them. */
        unsigned char *at = s->resp + LWS_PRE + s->resp_off;
        if (lws_write(wsi, at, n, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
            return -1;
        s->resp_off += n;
    }
    if (!final) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    int close_after = s->close_after;
    sess_reset(s);
    if (close_after)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int cb_http(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
    struct http_sess *s = user;
    struct mkt_api *a = api_of(wsi);
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return -1; /* websockets only with the flexbed-notify subprotocol */

    case LWS_CALLBACK_HTTP: {
        sess_reset(s);
        snprintf(s->path, sizeof s->path, "%s", in ? (const char *)in : "");
        for (int i = 0; i < 64; i++) { /* the URL arguments, decoded by lws */
            char frag[512];
            int fl = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
            if (fl <= 0)
                break;
            if (fl >= (int)sizeof frag ||
                lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i) != fl ||
                q_keep(s, frag, (size_t)fl)) {
                s->query_too_long = 1;
                break;
            }
        }
        static const struct {
            enum lws_token_indexes tok;
            const char *name;
        } methods[] = {
            {WSI_TOKEN_GET_URI, "GET"},     {WSI_TOKEN_POST_URI, "POST"},
            {WSI_TOKEN_PUT_URI, "PUT"},     {WSI_TOKEN_DELETE_URI, "DELETE"},
            {WSI_TOKEN_PATCH_URI, "PATCH"}, {WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
            {WSI_TOKEN_HEAD_URI, "HEAD"},
        };
        snprintf(s->method, sizeof s->method, "?");
        for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
            if (lws_hdr_total_length(wsi, methods[i].tok) > 0) {
                snprintf(s->method, sizeof s->method, "%s", methods[i].name);
                break;
            }
        s->is_post = !strcmp(s->method, "POST");
        char cl[32] = "";
        long long want = -1;
        if (lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) {
            char *end;
            want = strtoll(cl, &end, 10);
            if (*end || want < 0)
                want = -1;
        }
        if (want > (long long)HARD_BODY_LIMIT)
            return -1; /* not worth reading to answer */
        if (want <= 0) {
            /* No body: lws sends no body callbacks, so answer now. */
            if (s->is_post && want < 0 &&
                lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
                respond_error(s, 411, "body: send a Content-Length");
                s->close_after = 1;
            } else {
                route(a, wsi, s);
            }
            answer(a, wsi, s);
            return 0;
        }
        /* A body follows (whatever the method): answer once it is read. */
        if ((size_t)want > a->cfg.max_body) {
            s->too_big = 1;
        } else {
            s->body = malloc((size_t)want + 1);
            if (!s->body)
                return -1;
            s->body_cap = (size_t)want + 1;
        }
        return 0;
    }

    case LWS_CALLBACK_HTTP_BODY:
        if (s->answered || s->too_big || !len)
            return 0;
        if (s->body_len + len + 1 > s->body_cap) {
            if (s->body_len + len > a->cfg.max_body) {
                s->too_big = 1;
                free(s->body);
                s->body = NULL;
                s->body_len = s->body_cap = 0;
                return 0;
            }
            char *nb = realloc(s->body, s->body_len + len + 1);
            if (!nb)
                return -1;
            s->body = nb;
            s->body_cap = s->body_len + len + 1;
        }
        memcpy(s->body + s->body_len, in, len);
        s->body_len += len;
        s->body[s->body_len] = 0;
        return 0;

    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        /* lws 4.1 repeats this callback while a pipelined request waits in
         * its buffer behind the body; the request is answered once. */
        if (s->answered)
            return 0;
        if (s->too_big) {
            respond_error(s, 413, "body: larger than %zu bytes", a->cfg.max_body);
            s->close_after = 1;
        } else {
            route(a, wsi, s);
        }
        if (!s->deferred)
            answer(a, wsi, s);
        else
            s->answered = 1; /* made, if not yet sent: a repeated completion is not a new request */
        return 0;

    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!s || !s->resp)
            return s && s->close_after ? -1 : 0;
        return write_some(wsi, s);

    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        if (s) {
            for (int i = 0; i < a->npend; i++)
                if (a->pend[i].s == s)
                    a->pend[i].wsi = NULL; /* stored, but nobody to tell */
            sess_reset(s);
        }
        break;

    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static int cb_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                 size_t len)
{
    struct ws_sess *w = user;
    struct mkt_api *a = api_of(wsi);
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        char uri[64] = "";
        lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
        return strcmp(uri, "/ws") ? -1 : 0;
    }
    case LWS_CALLBACK_ESTABLISHED:
        w->next = a->head; /* only what happens from now on */
        w->lost = 0;
        a->st.ws_clients++;
        api_log(a, "websocket client connected (%d)", a->st.ws_clients);
        return 0;
    case LWS_CALLBACK_CLOSED:
        a->st.ws_clients--;
        api_log(a, "websocket client left (%d)", a->st.ws_clients);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        return 0; /* clients only listen */
    case LWS_CALLBACK_SERVER_WRITEABLE: {
        if (w->next >= a->head)
            return 0;
        if (a->head - w->next > RING) {
            w->lost += (long long)(a->head - RING - w->next);
            w->next = a->head - RING;
        }
        if (w->lost > 0) { /* tell the client what it missed, then go on */
            unsigned char msg[LWS_PRE + 64];
            int n =
                snprintf((char *)msg + LWS_PRE, 64, "{\"event\":\"lost\",\"count\":%lld}", w->lost);
            if (lws_write(wsi, msg + LWS_PRE, (size_t)n, LWS_WRITE_TEXT) < n)
                return -1;
            w->lost = 0;
            lws_callback_on_writable(wsi);
            return 0;
        }
        struct note *m = &a->ring[w->next % RING];
        if (lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT) < (int)m->len)
            return -1;
        w->next++;
        if (w->next < a->head)
            lws_callback_on_writable(wsi);
        return 0;
    }
    default:
        break;
    }
    (void)in;
    (void)len;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                          */
/* ------------------------------------------------------------------ */

static double mono_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) * 1e-9;
}

/* Watch mode: when another connection has changed the database, reload
 * the engine and tell the pages to redraw. */
static void watch_poll(struct mkt_api *a)
{
    int64_t v = count_of(mkt_engine_db(a->e), "PRAGMA data_version");
    if (v == a->data_version)
        return;
    struct sim_err err;
    a->data_version = v;
    if (mkt_engine_reload(a->e, &err))
        api_log(a, "reloading the market failed: %s", err.msg);
    cJSON *o = cJSON_CreateObject();
    if (o && cJSON_AddStringToObject(o, "event", "changed"))
        notify_obj(a, o);
    else
        cJSON_Delete(o);
}

static void on_tick(lws_sorted_usec_list_t *sul)
{
    struct mkt_api *a = lws_container_of(sul, struct mkt_api, tick);
    uint8_t op[20];
    if (a->cfg.seal_every > 0 && a->cfg.operator_key &&
        mono_since(&a->last_seal) * 1e6 >= (double)a->cfg.seal_every &&
        operator_addr(a->e, op) == 0) { /* nothing to seal before genesis */
        clock_gettime(CLOCK_MONOTONIC, &a->last_seal);
        int64_t h;
        struct sim_err err;
        if (do_seal(a, &h, &err))
            api_log(a, "timed seal failed: %s", err.msg);
    }
    if (a->cfg.watch)
        watch_poll(a);
    lws_sul_schedule(a->ctx, 0, &a->tick, on_tick, TICK_US);
}

/* libwebsockets, told to listen on an address it cannot bind, logs and
 * retries later instead of failing; so try the address first. Only IP
 * literals are accepted (lws would also take an interface name). */
static int probe_bind(const char *addr, int port, struct sim_err *err)
{
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
    struct sockaddr *sa;
    socklen_t len;
    memset(&v4, 0, sizeof v4);
    memset(&v6, 0, sizeof v6);
    if (inet_pton(AF_INET, addr, &v4.sin_addr) == 1) {
        v4.sin_family = AF_INET;
        v4.sin_port = htons((uint16_t)port);
        sa = (struct sockaddr *)&v4;
        len = sizeof v4;
    } else if (inet_pton(AF_INET6, addr, &v6.sin6_addr) == 1) {
        v6.sin6_family = AF_INET6;
        v6.sin6_port = htons((uint16_t)port);
        sa = (struct sockaddr *)&v6;
        len = sizeof v6;
    } else {
        return sim_errf(err, SIM_EINVAL, "bind: \"%s\" is not an IPv4 or IPv6 address", addr);
    }
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return sim_errf(err, SIM_EIO, "bind: socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int rc = 0;
    if (bind(fd, sa, len) != 0)
        rc = sim_errf(err, SIM_EIO, "bind: cannot listen on %s port %d: %s", addr, port,
                      strerror(errno));
    close(fd);
    return rc;
}

int mkt_api_new(mkt_engine *e, const struct mkt_api_config *cfg, mkt_api **out, struct sim_err *err)
{
    *out = NULL;
    if (!e || !cfg)
        return sim_errf(err, SIM_EINVAL, "serve: no engine or configuration");
    if (cfg->port < 0 || cfg->port > 65535)
        return sim_errf(err, SIM_EINVAL, "port: %d is not a TCP port", cfg->port);
    mkt_api *a = calloc(1, sizeof *a);
    if (!a)
        return sim_errf(err, SIM_ENOMEM, "out of memory");
    a->e = e;
    a->cfg = *cfg;
    if (!a->cfg.bind || !*a->cfg.bind || !strcmp(a->cfg.bind, "localhost"))
        a->cfg.bind = "127.0.0.1";
    int prc = probe_bind(a->cfg.bind, cfg->port, err);
    if (prc) {
        free(a);
        return prc;
    }
    if (!a->cfg.max_body)
        a->cfg.max_body = MKT_API_MAX_BODY_DEFAULT;
    atomic_init(&a->stop, 0);
    clock_gettime(CLOCK_MONOTONIC, &a->last_seal);

    /* A server holding an operator key must hold the market's one. */
    uint8_t op[20], mine[20];
    if (cfg->operator_key) {
        int rc = mkt_key_address(cfg->operator_key, mine, err);
        if (rc) {
            free(a);
            return rc;
        }
        if (operator_addr(e, op) == 0 && memcmp(op, mine, 20)) {
            char t1[MKT_ADDR_STRLEN], t2[MKT_ADDR_STRLEN];
            free(a);
            return sim_errf(err, SIM_EINVAL,
                            "operator key: its address %s is not the market's operator %s",
                            mkt_address_format(mine, t1), mkt_address_format(op, t2));
        }
    }

    a->protocols[0] = (struct lws_protocols){
        .name = "http",
        .callback = cb_http,
        .per_session_data_size = sizeof(struct http_sess),
    };
    a->protocols[1] = (struct lws_protocols){
        .name = MKT_API_WS_SUBPROTOCOL,
        .callback = cb_ws,
        .per_session_data_size = sizeof(struct ws_sess),
        .rx_buffer_size = 1024,
    };

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.max_http_header_data = 4096; /* room for a long query string */
    info.gid = -1;
    info.uid = -1;
    info.user = a;
    info.protocols = a->protocols;
    a->ctx = lws_create_context(&info);
    if (!a->ctx) {
        free(a);
        return sim_errf(err, SIM_EIO, "serve: libwebsockets could not create its context");
    }

    memset(&info, 0, sizeof info);
    info.port = cfg->port;
    info.iface = a->cfg.bind;
    info.protocols = a->protocols;
    info.vhost_name = "flexbed";
    info.server_string = "flexbed/" FLEXBED_VERSION;
    if (!strchr(a->cfg.bind, ':'))
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    a->vh = lws_create_vhost(a->ctx, &info);
    a->port = a->vh ? lws_get_vhost_listen_port(a->vh) : 0;
    if (a->port <= 0) {
        int rc =
            sim_errf(err, SIM_EIO, "serve: cannot listen on %s port %d", a->cfg.bind, cfg->port);
        lws_context_destroy(a->ctx);
        free(a);
        return rc;
    }
    lws_sul_schedule(a->ctx, 0, &a->tick, on_tick, TICK_US);
    *out = a;
    return 0;
}

/* Percent-decode n bytes of src into dst (room for n + 1), '+' as a space
 * when plus: what lws does to a request's path and arguments. */
static size_t url_decode(const char *src, size_t n, char *dst, int plus)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (src[i] == '%' && i + 2 < n &&
            (hi = mkt__hexval(src[i + 1])) >= 0 && (lo = mkt__hexval(src[i + 2])) >= 0) {
            dst[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            dst[o++] = plus && src[i] == '+' ? ' ' : src[i];
        }
    }
    dst[o] = '\0';
    return o;
}

int mkt_api_request(mkt_api *a, const char *method, const char *target, const char *body,
                    size_t body_len, int *status, char **answer)
{
    *status = 0;
    *answer = NULL;
    struct http_sess *s = calloc(1, sizeof *s);
    if (!s)
        return SIM_ENOMEM;
    snprintf(s->method, sizeof s->method, "%s", method ? method : "?");
    s->is_post = !strcmp(s->method, "POST");
    const char *q = strchr(target, '?');
    size_t pl = q ? (size_t)(q - target) : strlen(target);
    char *tmp = malloc(strlen(target) + 1);
    if (!tmp) {
        free(s);
        return SIM_ENOMEM;
    }
    url_decode(target, pl, tmp, 0);
    snprintf(s->path, sizeof s->path, "%s", tmp);
    for (const char *f = q ? q + 1 : NULL; f && *f;) {
        const char *e = strchr(f, '&');
        size_t fl = e ? (size_t)(e - f) : strlen(f);
        size_t dl = url_decode(f, fl, tmp, 1);
        if (dl > 0 && (dl >= 512 || q_keep(s, tmp, dl))) {
            s->query_too_long = 1;
            break;
        }
        f = e ? e + 1 : NULL;
    }
    free(tmp);
    if (body && body_len > a->cfg.max_body) {
        respond_error(s, 413, "body: larger than %zu bytes", a->cfg.max_body);
    } else {
        if (body && body_len) {
            s->body = malloc(body_len + 1);
            if (!s->body) {
                free(s);
                return SIM_ENOMEM;
            }
            memcpy(s->body, body, body_len);
            s->body[body_len] = '\0';
            s->body_len = body_len;
        }
        route(a, NULL, s);
    }
    a->st.requests++;
    api_log(a, "%s %s %d %zu", s->method, s->path, s->status, s->resp_len);
    int rc = 0;
    if (!s->resp) {
        rc = SIM_ENOMEM;
    } else {
        *answer = malloc(s->resp_len + 1);
        if (*answer) {
            memcpy(*answer, s->resp + LWS_PRE, s->resp_len);
            (*answer)[s->resp_len] = '\0';
            *status = s->status;
        } else {
            rc = SIM_ENOMEM;
        }
    }
    sess_reset(s);
    free(s);
    return rc;
}

int mkt_api_port(const mkt_api *a)
{
    return a ? a->port : -1;
}

/* Commit the open batch, then answer its transactions: 200 and their
 * websocket events when it is stored, 503 (submit again) when not. */
static void flush_batch(struct mkt_api *a)
{
    if (!a->batch)
        return;
    a->batch = 0;
    struct sim_err err = {{0}};
    int rc = mkt_batch_end(a->e, &err);
    if (rc)
        api_log(a, "group commit failed, %d transactions not stored: %s", a->npend, err.msg);
    for (int i = 0; i < a->npend; i++) {
        struct pending *p = &a->pend[i];
        if (rc) {
            a->st.refused_tx++;
            if (p->wsi)
                respond_error(p->s, 503, "tx: not stored (%s); submit it again", err.msg);
        } else {
            a->st.accepted_tx++;
            notify_tx(a, &p->rc, p->action, p->from);
        }
        if (p->wsi) {
            p->s->deferred = 0;
            answer(a, p->wsi, p->s);
        }
    }
    a->npend = 0;
}

int mkt_api_run(mkt_api *a, struct sim_err *err)
{
    while (!atomic_load(&a->stop)) {
        if (lws_service(a->ctx, 0) < 0) {
            flush_batch(a);
            return sim_errf(err, SIM_EIO, "serve: the event loop failed");
        }
        flush_batch(a);
    }
    atomic_store(&a->stop, 0);
    return 0;
}

void mkt_api_stop(mkt_api *a)
{
    if (a)
        atomic_store(&a->stop, 1);
}

void mkt_api_stats(const mkt_api *a, struct mkt_api_stats *s)
{
    *s = a->st;
}

void mkt_api_free(mkt_api *a)
{
    if (!a)
        return;
    lws_sul_cancel(&a->tick);
    flush_batch(a);
    lws_context_destroy(a->ctx); /* closes every connection (their callbacks free) */
    a->ctx = NULL;
    for (int i = 0; i < RING; i++)
        free(a->ring[i].buf);
    free(a->pend);
    free(a);
}
