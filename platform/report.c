/*
 * report.c: the flexibility report and figures of a run with a market:
 * the paper's Table III (accepted power, delivered energy, delivery rate,
 * final payment per asset and in total) computed from the run's market
 * tables, the transformer's load reduction measured against the
 * counterfactual run, the ledger's verdict, and the paper's Fig. 10 and 11
 * drawn with gnuplot.
 *
 * What to compare with (the published figures) and which signals to use
 * come from the scenario's "report" section, read back from the scenario
 * text stored in the runs table, so a database is self-describing. The
 * published figures are only printed beside ours; nothing here computes
 * from them.
 */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "platform.h"

/* Does table have column? (0 when it cannot tell) */
static int has_column(sqlite3 *db, const char *table, const char *column)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pragma_table_info('%s') WHERE name='%s'",
             table, column);
    sqlite3_stmt *st;
    int n = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n > 0;
}

struct row {
    char name[PLT_NAME_MAX];
    int64_t match_id;
    double accepted_kw, accepted_kwh, delivered_kwh, rate, payout_eur, price;
    int delivered; /* a delivery was recorded */
    int settled;
    /* measured against a baseline (NaN: the metered rule) */
    double baseline_kwh, measured_kwh;
    double availability_eur; /* the part of the gross paid for availability */
};

/* What a DSO reads of one run: time and energy above its threshold, and
 * the peaks of the load signal inside and outside the bought window. NaN
 * where unknown (no threshold, no samples, no window). */
struct dso_run {
    double minutes_above, kwh_above, peak_kw, peak_in_kw, peak_out_kw;
};

struct flex {
    int64_t main_run, cf_run;
    char dso_signal[160]; /* the DSO policy's threshold signal, else the load signal */
    double limit_kw;      /* its threshold, NaN without one */
    struct dso_run d_main, d_cf;
    double cost_eur; /* what the DSO spent on flexibility (escrow less refunds) */
    int utc_offset_s;
    cJSON *scenario;  /* parsed scenario text of the main run */
    const cJSON *rep; /* its "report" section, may be NULL */
    char load_signal[160];
    struct row *r; /* every purchased match (malloc'd) */
    int n, cap;
    sim_time_us w0, w1;
    double load_main, load_cf; /* NaN when unknown */
    struct mkt_verify_report ledger;
    int ledger_read;
};

static int has_table(sqlite3 *db, const char *name)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", -1, &st,
                           NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int yes = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return yes;
}

static int64_t run_of(sqlite3 *db, const char *variant, int *offset, char **text)
{
    sqlite3_stmt *st;
    int64_t id = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT id, utc_offset_s, scenario_text FROM runs WHERE variant = ? "
                           "ORDER BY id LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, variant, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        id = sqlite3_column_int64(st, 0);
        if (offset)
            *offset = sqlite3_column_int(st, 1);
        if (text) {
            const unsigned char *t = sqlite3_column_text(st, 2);
            *text = t ? strdup((const char *)t) : NULL;
        }
    }
    sqlite3_finalize(st);
    return id;
}

static double window_mean(sqlite3 *db, int64_t run, const char *signal, sim_time_us a,
                          sim_time_us b)
{
    sqlite3_stmt *st;
    double v = NAN;
    if (!run || sqlite3_prepare_v2(db,
                                   "SELECT avg(s.value), count(*) FROM samples s JOIN signals g ON "
                                   "g.id = s.signal_id WHERE g.run_id = ? AND g.name = ? AND "
                                   "s.t_us >= ? AND s.t_us < ?",
                                   -1, &st, NULL) != SQLITE_OK)
        return v;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_text(st, 2, signal, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, a);
    sqlite3_bind_int64(st, 4, b);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 1) > 0)
        v = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void dso_unknown(struct dso_run *d)
{
    d->minutes_above = d->kwh_above = d->peak_kw = d->peak_in_kw = d->peak_out_kw = NAN;
}

/* The DSO's figures of one run from the samples of f->dso_signal; each
 * sample holds until the next (the last for the record period before). */
static void dso_stats(sqlite3 *db, const struct flex *f, int64_t run, struct dso_run *d)
{
    dso_unknown(d);
    sqlite3_stmt *st;
    if (!run || sqlite3_prepare_v2(db,
                                   "SELECT s.t_us, s.value FROM samples s JOIN signals g ON "
                                   "g.id = s.signal_id WHERE g.run_id = ? AND g.name = ? AND "
                                   "s.value IS NOT NULL ORDER BY s.t_us",
                                   -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_text(st, 2, f->dso_signal, -1, SQLITE_STATIC);
    double above_min = 0, above_kwh = 0, peak = -INFINITY, pin = -INFINITY, pout = -INFINITY;
    sim_time_us t_prev = 0, dt = 0;
    double v_prev = 0;
    int n = 0;
    for (;;) {
        int row = sqlite3_step(st) == SQLITE_ROW;
        sim_time_us t = row ? sqlite3_column_int64(st, 0) : t_prev + dt;
        if (n > 0) {
            dt = t - t_prev;
            double h = (double)dt / 3.6e9;
            if (!isnan(f->limit_kw) && v_prev > f->limit_kw) {
                above_min += h * 60;
                above_kwh += (v_prev - f->limit_kw) * h;
            }
        }
        if (!row)
            break;
        double v = sqlite3_column_double(st, 1);
        peak = fmax(peak, v);
        if (f->n > 0 && t >= f->w0 && t < f->w1)
            pin = fmax(pin, v);
        else
            pout = fmax(pout, v);
        t_prev = t;
        v_prev = v;
        n++;
    }
    sqlite3_finalize(st);
    if (n == 0)
        return;
    if (!isnan(f->limit_kw)) {
        d->minutes_above = above_min;
        d->kwh_above = above_kwh;
    }
    d->peak_kw = peak;
    d->peak_in_kw = isinf(pin) ? NAN : pin;
    d->peak_out_kw = isinf(pout) ? NAN : pout;
}

/* The first DSO policy with a threshold or a forecast in the scenario: its
 * signal and limit (else the report's load signal and no limit). */
static void dso_threshold(struct flex *f)
{
    snprintf(f->dso_signal, sizeof f->dso_signal, "%s", f->load_signal);
    f->limit_kw = NAN;
    const cJSON *comps =
        f->scenario ? cJSON_GetObjectItemCaseSensitive(f->scenario, "components") : NULL;
    const cJSON *c;
    cJSON_ArrayForEach(c, comps)
    {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(c, "type");
        const cJSON *thr = cJSON_GetObjectItemCaseSensitive(c, "threshold");
        if (!cJSON_IsObject(thr))
            thr = cJSON_GetObjectItemCaseSensitive(c, "forecast");
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "dso") || !cJSON_IsObject(thr))
            continue;
        const cJSON *sig = cJSON_GetObjectItemCaseSensitive(thr, "signal");
        const cJSON *lim = cJSON_GetObjectItemCaseSensitive(thr, "limit_kw");
        if (cJSON_IsString(sig))
            snprintf(f->dso_signal, sizeof f->dso_signal, "%s", sig->valuestring);
        if (cJSON_IsNumber(lim))
            f->limit_kw = lim->valuedouble;
        return;
    }
}

/* with_ledger: also verify the ledger (the report says whether it holds;
 * the figures do not need it, and verifying re-checks every signature). */
static int load_flex(sqlite3 *db, struct flex *f, int with_ledger, struct sim_err *err)
{
    memset(f, 0, sizeof *f);
    f->load_main = f->load_cf = NAN;
    if (!has_table(db, "mkt_matches") || !has_table(db, "runs"))
        return SIM_ENOENT;
    char *text = NULL;
    /* The run with the market: as written, or its replay (flexbed run
     * --replay writes variant "replay"). */
    f->main_run = run_of(db, "main", &f->utc_offset_s, &text);
    if (!f->main_run)
        f->main_run = run_of(db, "replay", &f->utc_offset_s, &text);
    f->cf_run = run_of(db, "counterfactual", NULL, NULL);
    f->scenario = text ? cJSON_Parse(text) : NULL;
    free(text);
    f->rep = f->scenario ? cJSON_GetObjectItemCaseSensitive(f->scenario, "report") : NULL;
    const cJSON *ls = f->rep ? cJSON_GetObjectItemCaseSensitive(f->rep, "load_signal") : NULL;
    snprintf(f->load_signal, sizeof f->load_signal, "%s",
             cJSON_IsString(ls) ? ls->valuestring : "transformer.p_kw");

    /* A database written before baselines and availability payments has
     * neither column: read them as absent (the report opens read-only and
     * does not add them). */
    int has_base = has_column(db, "mkt_deliveries", "baseline_wh"),
        has_avail = has_column(db, "mkt_matches", "availability_paid_ueur");
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT m.id, a.name, m.p_w, m.start_us, m.end_us, m.delivered_wh, "
             "m.rate_ppm, m.payout_ueur, m.settle_fee_ueur, m.state, m.price_ueur_per_kwh, %s, "
             "%s, %s FROM mkt_matches m JOIN mkt_assets a ON a.id = m.asset_id LEFT JOIN "
             "mkt_deliveries d ON d.match_id = m.id WHERE m.state >= ? ORDER BY m.id",
             has_base ? "d.baseline_wh" : "NULL", has_base ? "d.measured_wh" : "NULL",
             has_avail ? "m.availability_paid_ueur" : "0");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql,
                           -1, &st, NULL) != SQLITE_OK)
        return sim_errf(err, SIM_EIO, "report: %s", sqlite3_errmsg(db));
    sqlite3_bind_int(st, 1, MKT_PURCHASED);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (f->n == f->cap) {
            int nc = f->cap ? 2 * f->cap : 16;
            struct row *nr = realloc(f->r, (size_t)nc * sizeof *nr);
            if (!nr) {
                sqlite3_finalize(st);
                return sim_errf(err, SIM_ENOMEM, "report: out of memory");
            }
            f->r = nr;
            f->cap = nc;
        }
        struct row *r = &f->r[f->n++];
        memset(r, 0, sizeof *r);
        r->match_id = sqlite3_column_int64(st, 0);
        snprintf(r->name, sizeof r->name, "%s", (const char *)sqlite3_column_text(st, 1));
        int64_t p_w = sqlite3_column_int64(st, 2);
        sim_time_us a = sqlite3_column_int64(st, 3), b = sqlite3_column_int64(st, 4);
        int64_t dwh = sqlite3_column_int64(st, 5);
        r->accepted_kw = (double)p_w / 1e3;
        r->accepted_kwh = fabs(r->accepted_kw) * (double)(b - a) / 3.6e9;
        r->delivered = dwh >= 0;
        r->delivered_kwh = dwh >= 0 ? (double)dwh / 1e3 : NAN;
        r->rate = dwh >= 0 ? (double)sqlite3_column_int64(st, 6) / 1e6 : NAN;
        r->settled = sqlite3_column_int(st, 9) == MKT_SETTLED;
        r->payout_eur =
            r->settled ? (double)(sqlite3_column_int64(st, 7) - sqlite3_column_int64(st, 8)) / 1e6
                       : NAN;
        r->price = (double)sqlite3_column_int64(st, 10) / 1e6;
        r->baseline_kwh = sqlite3_column_type(st, 11) == SQLITE_NULL
                              ? NAN
                              : (double)sqlite3_column_int64(st, 11) / 1e3;
        r->measured_kwh = sqlite3_column_type(st, 12) == SQLITE_NULL
                              ? NAN
                              : (double)sqlite3_column_int64(st, 12) / 1e3;
        r->availability_eur =
            r->settled ? (double)sqlite3_column_int64(st, 13) / 1e6 : NAN;
        if (f->n == 1 || a < f->w0)
            f->w0 = a;
        if (f->n == 1 || b > f->w1)
            f->w1 = b;
    }
    sqlite3_finalize(st);
    if (f->n > 0) {
        f->load_main = window_mean(db, f->main_run, f->load_signal, f->w0, f->w1);
        f->load_cf = window_mean(db, f->cf_run, f->load_signal, f->w0, f->w1);
    }
    dso_threshold(f);
    dso_stats(db, f, f->main_run, &f->d_main);
    dso_stats(db, f, f->cf_run, &f->d_cf);
    f->cost_eur = NAN;
    if (sqlite3_prepare_v2(db,
                           "SELECT (SELECT coalesce(sum(amount_ueur), 0) FROM mkt_purchases) - "
                           "(SELECT coalesce(sum(refund_ueur), 0) FROM mkt_settlements)",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        f->cost_eur = (double)sqlite3_column_int64(st, 0) / 1e6;
    sqlite3_finalize(st);
    if (!with_ledger)
        return SIM_OK;
    struct sim_err verr;
    f->ledger_read = mkt_ledger_verify(db, &f->ledger, &verr) == 0;
    if (!f->ledger_read)
        snprintf(f->ledger.reason, sizeof f->ledger.reason, "%.200s", verr.msg);
    return SIM_OK;
}

/* The published figures for an asset (by name) or the total, if given. */
static const cJSON *ref_of(const struct flex *f, const char *name)
{
    const cJSON *ref = f->rep ? cJSON_GetObjectItemCaseSensitive(f->rep, "reference") : NULL;
    if (!ref)
        return NULL;
    if (!name)
        return cJSON_GetObjectItemCaseSensitive(ref, "total");
    const cJSON *assets = cJSON_GetObjectItemCaseSensitive(ref, "assets");
    const cJSON *a;
    cJSON_ArrayForEach(a, assets)
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(a, "name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
            return a;
    }
    return NULL;
}

static double ref_num(const cJSON *o, const char *key)
{
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

struct totals {
    double accepted_kw, accepted_kwh, delivered_kwh, rate, payout_eur;
};

static void totals_of(const struct flex *f, struct totals *t)
{
    memset(t, 0, sizeof *t);
    int all_delivered = 1, all_settled = 1;
    for (int i = 0; i < f->n; i++) {
        t->accepted_kw += f->r[i].accepted_kw;
        t->accepted_kwh += f->r[i].accepted_kwh;
        if (f->r[i].delivered)
            t->delivered_kwh += f->r[i].delivered_kwh;
        else
            all_delivered = 0;
        if (f->r[i].settled)
            t->payout_eur += f->r[i].payout_eur;
        else
            all_settled = 0;
    }
    if (!all_delivered)
        t->delivered_kwh = NAN;
    if (!all_settled)
        t->payout_eur = NAN;
    t->rate = t->accepted_kwh > 0 ? t->delivered_kwh / t->accepted_kwh : NAN;
}

static void cell(FILE *out, const char *fmt, double v, int width)
{
    char buf[64];
    if (isnan(v))
        snprintf(buf, sizeof buf, "-");
    else
        snprintf(buf, sizeof buf, fmt, v);
    fprintf(out, "%*s", width, buf);
}

static void text_line(FILE *out, const char *name, double akw, double akwh, double dkwh,
                      double rate, double pay, const cJSON *ref, int with_ref)
{
    fprintf(out, "  %-18s", name);
    cell(out, "%.1f kW", akw, 10);
    cell(out, "%.2f kWh", akwh, 11);
    cell(out, "%.2f kWh", dkwh, 11);
    cell(out, "%.0f %%", rate * 100, 7);
    cell(out, "%.2f", pay, 8);
    if (!with_ref) {
        fputc('\n', out);
        return;
    }
    fputs("  |", out);
    cell(out, "%.2f kWh", ref_num(ref, "delivered_kwh"), 11);
    cell(out, "%.0f %%", ref_num(ref, "delivery_rate") * 100, 7);
    cell(out, "%.2f", ref_num(ref, "payout_eur"), 8);
    fputc('\n', out);
}

/* The DSO's view: time and energy above its threshold, peaks, cost. */
static void text_dso(const struct flex *f, FILE *out)
{
    const struct dso_run *m = &f->d_main, *c = &f->d_cf;
    if (isnan(m->peak_kw))
        return;
    if (!isnan(f->limit_kw)) {
        fprintf(out, "  DSO threshold %.1f kW on %s: above it", f->limit_kw, f->dso_signal);
        if (f->cf_run && !isnan(c->minutes_above))
            fprintf(out, " %.0f min / %.2f kWh without the market,", c->minutes_above,
                    c->kwh_above);
        fprintf(out, " %.0f min / %.2f kWh with it\n", m->minutes_above, m->kwh_above);
    }
    fprintf(out, "  peak of %s: %.1f kW", f->dso_signal, m->peak_kw);
    if (f->cf_run && !isnan(c->peak_kw))
        fprintf(out, " (%.1f kW without the market)", c->peak_kw);
    if (!isnan(m->peak_in_kw))
        fprintf(out, "; in the window %.1f kW, outside it %.1f kW", m->peak_in_kw, m->peak_out_kw);
    fputc('\n', out);
    if (!isnan(f->cost_eur) && f->n > 0) {
        fprintf(out, "  flexibility cost EUR %.2f", f->cost_eur);
        double avoided = c->kwh_above - m->kwh_above;
        if (f->cf_run && !isnan(avoided) && avoided > 1e-9)
            fprintf(out, ": %.2f kWh above the threshold avoided, EUR %.2f per kWh avoided",
                    avoided, f->cost_eur / avoided);
        fputc('\n', out);
    }
}

static void text_report(const struct flex *f, FILE *out)
{
    char t0[48], t1[48];
    sim_time_format(f->w0, f->utc_offset_s, t0, sizeof t0);
    sim_time_format(f->w1, f->utc_offset_s, t1, sizeof t1);
    const cJSON *note = f->rep ? cJSON_GetObjectItemCaseSensitive(f->rep, "note") : NULL;
    if (cJSON_IsString(note))
        fprintf(out, "%s\n\n", note->valuestring);
    if (f->n == 0) {
        /* no window: nothing was bought (a threshold above the peak, a run
         * stopped before the purchase) */
        fputs("flexibility delivered: none (no purchased matches)\n", out);
        text_dso(f, out);
        fputc('\n', out);
        return;
    }
    fprintf(out, "flexibility delivered, %s .. %s\n", t0, t1);
    int with_ref = f->rep && cJSON_GetObjectItemCaseSensitive(f->rep, "reference");
    fprintf(out, "  %-18s%10s%11s%11s%7s%8s", "", "accepted", "", "delivered", "rate", "EUR");
    fprintf(out, with_ref ? "  |%11s%7s%8s\n" : "\n", "paper", "rate", "EUR");
    for (int i = 0; i < f->n; i++) {
        const struct row *r = &f->r[i];
        text_line(out, r->name, r->accepted_kw, r->accepted_kwh, r->delivered_kwh, r->rate,
                  r->payout_eur, ref_of(f, r->name), with_ref);
    }
    struct totals t;
    totals_of(f, &t);
    text_line(out, "total", t.accepted_kw, t.accepted_kwh, t.delivered_kwh, t.rate, t.payout_eur,
              ref_of(f, NULL), with_ref);
    /* why a delivery is what it is, when the market measured it against a
     * baseline, and what of a payout was for availability */
    for (int i = 0; i < f->n; i++) {
        const struct row *r = &f->r[i];
        if (!isnan(r->baseline_kwh))
            fprintf(out,
                    "  %s: delivered = baseline %.2f kWh - metered %.2f kWh (net import over "
                    "the window)\n",
                    r->name, r->baseline_kwh, r->measured_kwh);
        if (r->availability_eur > 0)
            fprintf(out, "  %s: EUR %.2f of its gross payout for availability\n", r->name,
                    r->availability_eur);
    }
    const cJSON *ref = f->rep ? cJSON_GetObjectItemCaseSensitive(f->rep, "reference") : NULL;
    double ref_pct = ref_num(ref, "load_reduction_pct");
    if (f->cf_run && !isnan(f->load_main)) {
        double red = f->load_cf - f->load_main;
        fprintf(out,
                "  %s over the window: %.1f kW without the market (counterfactual run), %.1f kW "
                "with it:\n  load reduction %.1f kW = %.1f %%",
                f->load_signal, f->load_cf, f->load_main, red, 100.0 * red / f->load_cf);
        if (!isnan(ref_pct))
            fprintf(out, "  | paper %.0f %%", ref_pct);
        fputc('\n', out);
    } else if (!isnan(f->load_main)) {
        fprintf(out, "  %s over the window: %.1f kW; no counterfactual run in this database\n",
                f->load_signal, f->load_main);
    }
    text_dso(f, out);
    if (f->ledger_read && f->ledger.ok)
        fprintf(out, "  ledger verified: %" PRId64 " blocks, %" PRId64 " transactions\n\n",
                f->ledger.blocks, f->ledger.txs);
    else
        fprintf(out, "  ledger NOT verified: %s\n\n", f->ledger.reason);
}

static cJSON *num_or_null(double v)
{
    return isnan(v) ? cJSON_CreateNull() : cJSON_CreateNumber(v);
}

static void add_row(cJSON *o, double akw, double akwh, double dkwh, double rate, double pay)
{
    cJSON_AddItemToObject(o, "accepted_kw", num_or_null(akw));
    cJSON_AddItemToObject(o, "accepted_kwh", num_or_null(akwh));
    cJSON_AddItemToObject(o, "delivered_kwh", num_or_null(dkwh));
    cJSON_AddItemToObject(o, "delivery_rate", num_or_null(rate));
    cJSON_AddItemToObject(o, "payout_eur", num_or_null(pay));
}

static char *json_members(const struct flex *f)
{
    cJSON *root = cJSON_CreateObject();
    const cJSON *note = f->rep ? cJSON_GetObjectItemCaseSensitive(f->rep, "note") : NULL;
    if (cJSON_IsString(note))
        cJSON_AddStringToObject(root, "note", note->valuestring);
    cJSON *assets = cJSON_AddArrayToObject(root, "assets");
    for (int i = 0; i < f->n; i++) {
        const struct row *r = &f->r[i];
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "name", r->name);
        cJSON_AddNumberToObject(a, "match_id", (double)r->match_id);
        cJSON_AddNumberToObject(a, "price_eur_per_kwh", r->price);
        add_row(a, r->accepted_kw, r->accepted_kwh, r->delivered_kwh, r->rate, r->payout_eur);
        cJSON_AddItemToObject(a, "baseline_kwh", num_or_null(r->baseline_kwh));
        cJSON_AddItemToObject(a, "measured_kwh", num_or_null(r->measured_kwh));
        cJSON_AddItemToObject(a, "availability_eur", num_or_null(r->availability_eur));
        cJSON_AddItemToArray(assets, a);
    }
    struct totals t;
    totals_of(f, &t);
    cJSON *tot = cJSON_AddObjectToObject(root, "total");
    add_row(tot, t.accepted_kw, t.accepted_kwh, t.delivered_kwh, t.rate, t.payout_eur);
    cJSON *tr = cJSON_AddObjectToObject(root, "transformer");
    char buf[48];
    cJSON_AddStringToObject(tr, "signal", f->load_signal);
    /* Absent values are null (docs/results.md): no window when nothing
     * was bought. */
    if (f->n > 0) {
        cJSON_AddStringToObject(tr, "window_start",
                                sim_time_format(f->w0, f->utc_offset_s, buf, sizeof buf));
        cJSON_AddStringToObject(tr, "window_end",
                                sim_time_format(f->w1, f->utc_offset_s, buf, sizeof buf));
    } else {
        cJSON_AddNullToObject(tr, "window_start");
        cJSON_AddNullToObject(tr, "window_end");
    }
    cJSON_AddItemToObject(tr, "base_load_kw", num_or_null(f->load_cf));
    cJSON_AddItemToObject(tr, "load_kw", num_or_null(f->load_main));
    cJSON_AddItemToObject(tr, "load_reduction_kw", num_or_null(f->load_cf - f->load_main));
    cJSON_AddItemToObject(tr, "load_reduction_pct",
                          num_or_null(100.0 * (f->load_cf - f->load_main) / f->load_cf));
    cJSON *dso = cJSON_AddObjectToObject(root, "dso");
    cJSON_AddStringToObject(dso, "signal", f->dso_signal);
    cJSON_AddItemToObject(dso, "limit_kw", num_or_null(f->limit_kw));
    cJSON_AddItemToObject(dso, "cost_eur", num_or_null(f->n > 0 ? f->cost_eur : NAN));
    double avoided = f->cf_run ? f->d_cf.kwh_above - f->d_main.kwh_above : NAN;
    cJSON_AddItemToObject(dso, "kwh_above_avoided", num_or_null(avoided));
    cJSON_AddItemToObject(dso, "eur_per_kwh_avoided",
                          num_or_null(f->n > 0 && avoided > 1e-9 ? f->cost_eur / avoided : NAN));
    static const char *const dname[2] = {"main", "counterfactual"};
    for (int i = 0; i < 2; i++) {
        const struct dso_run *d = i ? &f->d_cf : &f->d_main;
        cJSON *o = cJSON_AddObjectToObject(dso, dname[i]);
        cJSON_AddItemToObject(o, "minutes_above", num_or_null(d->minutes_above));
        cJSON_AddItemToObject(o, "kwh_above", num_or_null(d->kwh_above));
        cJSON_AddItemToObject(o, "peak_kw", num_or_null(d->peak_kw));
        cJSON_AddItemToObject(o, "peak_in_window_kw", num_or_null(d->peak_in_kw));
        cJSON_AddItemToObject(o, "peak_outside_window_kw", num_or_null(d->peak_out_kw));
    }
    cJSON *lg = cJSON_AddObjectToObject(root, "ledger");
    cJSON_AddBoolToObject(lg, "verified", f->ledger_read && f->ledger.ok);
    cJSON_AddNumberToObject(lg, "blocks", (double)f->ledger.blocks);
    cJSON_AddNumberToObject(lg, "transactions", (double)f->ledger.txs);
    if (!(f->ledger_read && f->ledger.ok))
        cJSON_AddStringToObject(lg, "reason", f->ledger.reason);
    const cJSON *ref = f->rep ? cJSON_GetObjectItemCaseSensitive(f->rep, "reference") : NULL;
    if (ref)
        cJSON_AddItemToObject(root, "reference", cJSON_Duplicate(ref, 1));
    char *txt = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!txt)
        return NULL;
    /* Strip the outer braces: the caller splices the members in. */
    size_t n = strlen(txt);
    if (n >= 2) {
        memmove(txt, txt + 1, n - 2);
        txt[n - 2] = '\0';
    }
    return txt;
}

char *plt_report_skeleton(void)
{
    struct flex *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->load_main = f->load_cf = f->limit_kw = f->cost_eur = NAN;
    dso_unknown(&f->d_main);
    dso_unknown(&f->d_cf);
    char *m = json_members(f);
    free(f->r);
    free(f);
    return m;
}

int plt_report(sqlite3 *db, enum res_format fmt, FILE *out, char **members, struct sim_err *err)
{
    if (members)
        *members = NULL;
    struct flex *f = calloc(1, sizeof *f);
    if (!f)
        return sim_errf(err, SIM_ENOMEM, "out of memory");
    int rc = load_flex(db, f, 1, err);
    if (!rc) {
        if (fmt == RES_TEXT)
            text_report(f, out);
        else if (fmt == RES_JSON && members && !(*members = json_members(f)))
            rc = sim_errf(err, SIM_ENOMEM, "out of memory");
    }
    cJSON_Delete(f->scenario);
    free(f->r);
    free(f);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Figures                                                             */
/* ------------------------------------------------------------------ */

/* Write "local-time value" lines of one signal of one run in [a, b). */
static int dump(sqlite3 *db, int64_t run, const char *signal, sim_time_us a, sim_time_us b, int off,
                double scale, FILE *fp)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT s.t_us, s.value FROM samples s JOIN signals g ON g.id = "
                           "s.signal_id WHERE g.run_id = ? AND g.name = ? AND s.t_us >= ? AND "
                           "s.t_us < ? ORDER BY s.t_us",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_text(st, 2, signal, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, a);
    sqlite3_bind_int64(st, 4, b);
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        char ts[48];
        sim_time_format(sqlite3_column_int64(st, 0), off, ts, sizeof ts);
        ts[19] = '\0'; /* drop the offset: gnuplot shows local time */
        fprintf(fp, "%s %.6g\n", ts, sqlite3_column_double(st, 1) * scale);
        n++;
    }
    fputs("\n\n", fp);
    sqlite3_finalize(st);
    return n;
}

static void offset_text(int off, char *buf, size_t n)
{
    snprintf(buf, n, "UTC%c%02d:%02d", off < 0 ? '-' : '+', abs(off) / 3600, abs(off) % 3600 / 60);
}

static int draw(const char *script_path, struct sim_err *err)
{
    int rc = res_gnuplot_run(script_path, err);
    return rc;
}

int plt_plot(sqlite3 *db, const char *outdir, FILE *written, struct sim_err *err)
{
    struct flex *f = calloc(1, sizeof *f);
    if (!f)
        return sim_errf(err, SIM_ENOMEM, "out of memory");
    int rc = load_flex(db, f, 0, err);
    if (rc || f->n == 0) {
        cJSON_Delete(f->scenario);
        free(f->r);
        free(f);
        return rc ? rc : SIM_ENOENT;
    }
    if ((rc = res_make_dirs(outdir, err))) {
        cJSON_Delete(f->scenario);
        free(f->r);
        free(f);
        return rc;
    }
    char data[PATH_MAX], script[PATH_MAX], tz[32];
    snprintf(data, sizeof data, "%s/.flexbed-figures.dat", outdir);
    snprintf(script, sizeof script, "%s/.flexbed-figures.gp", outdir);
    offset_text(f->utc_offset_s, tz, sizeof tz);
    FILE *dp = fopen(data, "w"), *sp = fopen(script, "w");
    if (!dp || !sp) {
        if (dp)
            fclose(dp);
        if (sp)
            fclose(sp);
        rc = sim_errf(err, SIM_EIO, "%s: cannot write", outdir);
        goto out;
    }
    /* Fig. 11: the afternoon, transformer load with and without the
     * delivered flexibility (blocks 0 and 1). */
    sim_time_us a11 = f->w0 - 4 * SIM_US_PER_H, b11 = f->w1 + 4 * SIM_US_PER_H;
    dump(db, f->main_run, f->load_signal, a11, b11, f->utc_offset_s, 1, dp);
    dump(db, f->cf_run, f->load_signal, a11, b11, f->utc_offset_s, 1, dp);
    /* Fig. 10: each asset's discharge power and SoC around the window:
     * blocks 2 + 2i (power, discharge positive) and 3 + 2i (SoC, %). */
    const cJSON *assets = f->rep ? cJSON_GetObjectItemCaseSensitive(f->rep, "assets") : NULL;
    int na = 0;
    sim_time_us a10 = f->w0 - 15 * SIM_US_PER_MIN, b10 = f->w1 + 15 * SIM_US_PER_MIN;
    const cJSON *it;
    cJSON_ArrayForEach(it, assets)
    {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(it, "power");
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(it, "soc");
        if (!cJSON_IsString(p) || !cJSON_IsString(s))
            continue;
        dump(db, f->main_run, p->valuestring, a10, b10 + 1, f->utc_offset_s, -1, dp);
        dump(db, f->main_run, s->valuestring, a10, b10 + 1, f->utc_offset_s, 100, dp);
        na++;
    }
    fclose(dp);
    char w0[48], w1[48];
    sim_time_format(f->w0, f->utc_offset_s, w0, sizeof w0);
    sim_time_format(f->w1, f->utc_offset_s, w1, sizeof w1);
    w0[19] = w1[19] = '\0';
    static const char *const ext[2] = {"png", "svg"};
    static const char *const term[2] = {"pngcairo size 1000,560 font 'sans,11'",
                                        "svg size 1000,560 font 'sans,11' dynamic"};
    for (int e = 0; e < 2; e++) {
        fprintf(sp,
                "set terminal %s\nset output '%s/fig11-transformer-load.%s'\n"
                "set xdata time\nset timefmt '%%Y-%%m-%%dT%%H:%%M:%%S'\nset format x '%%H:%%M'\n"
                "set xlabel 'local time (%s)'\nset ylabel 'transformer load (kW)'\n"
                "set title 'Transformer load with and without the delivered flexibility'\n"
                "set key top left box opaque\nset grid\n"
                "set object 1 rect from '%s', graph 0 to '%s', graph 1 fc rgb '#dde8f5' "
                "fs solid 0.6 noborder behind\n"
                "plot '%s' index 1 using 1:2 with lines lw 2 lc rgb '#888888' title 'without "
                "flexibility (counterfactual run)', \\\n"
                "     '%s' index 0 using 1:2 with lines lw 2 lc rgb '#c0392b' title 'with "
                "delivered flexibility'\n"
                "unset object 1\n",
                term[e], outdir, ext[e], tz, w0, w1, data, data);
        if (na > 0) {
            fprintf(sp,
                    "set output '%s/fig10-asset-discharge.%s'\nset multiplot layout 2,1 "
                    "title 'Asset discharge power and state of charge'\nset key top left box "
                    "opaque\n"
                    "set object 1 rect from '%s', graph 0 to '%s', graph 1 fc rgb '#dde8f5' "
                    "fs solid 0.6 noborder behind\n"
                    "set offsets 0, 0, graph 0.15, graph 0.05\n"
                    "set title ''\nset ylabel 'discharge power (kW)'\nset xlabel ''\nplot ",
                    outdir, ext[e], w0, w1);
            int i = 0;
            cJSON_ArrayForEach(it, assets)
            {
                const cJSON *l = cJSON_GetObjectItemCaseSensitive(it, "label");
                fprintf(sp, "%s'%s' index %d using 1:2 with steps lw 2 title '%s'", i ? ", " : "",
                        data, 2 + 2 * i, cJSON_IsString(l) ? l->valuestring : "asset");
                i++;
            }
            fprintf(sp,
                    "\nset key bottom left box opaque\n"
                    "set ylabel 'state of charge (%%)'\nset xlabel 'local time (%s)'\n"
                    "plot ",
                    tz);
            i = 0;
            cJSON_ArrayForEach(it, assets)
            {
                const cJSON *l = cJSON_GetObjectItemCaseSensitive(it, "label");
                fprintf(sp, "%s'%s' index %d using 1:2 with lines lw 2 title '%s'", i ? ", " : "",
                        data, 3 + 2 * i, cJSON_IsString(l) ? l->valuestring : "asset");
                i++;
            }
            fputs("\nunset multiplot\nunset object 1\nunset offsets\n", sp);
        }
    }
    fclose(sp);
    rc = draw(script, err);
    if (!rc && written) {
        for (int e = 0; e < 2; e++) {
            fprintf(written, "%s/fig11-transformer-load.%s\n", outdir, ext[e]);
            if (na > 0)
                fprintf(written, "%s/fig10-asset-discharge.%s\n", outdir, ext[e]);
        }
    }
out:
    unlink(data);
    unlink(script);
    cJSON_Delete(f->scenario);
    free(f->r);
    free(f);
    return rc;
}

/* ------------------------------------------------------------------ */
/* The "report" section: checked at load, read back by the report.     */
/* ------------------------------------------------------------------ */

static int check_signal(struct scn_ctx *ctx, struct scn_obj *o, const char *key, int required,
                        struct sim_err *err)
{
    const char *s = NULL;
    int rc = scn_string(o, key, required, NULL, &s, err);
    if (rc || !s)
        return rc;
    if (sim_bus_find(ctx->kernel, s) < 0)
        return scn_errf(o, key, err, "no signal named \"%s\"", s);
    return SIM_OK;
}

static int report_load(struct scn_ctx *ctx, struct scn_obj *sec, struct sim_err *err)
{
    const cJSON *assets = NULL;
    int rc;
    const char *note = NULL;
    if ((rc = check_signal(ctx, sec, "load_signal", 0, err)) ||
        (rc = scn_string(sec, "note", 0, NULL, &note, err)) ||
        (rc = scn_array(sec, "assets", 0, &assets, err)))
        return rc;
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, assets)
    {
        struct scn_obj o;
        const char *label;
        if ((rc = scn_obj_init_item(&o, sec, "assets", i++, it, err)) ||
            (rc = scn_string(&o, "label", 1, NULL, &label, err)) ||
            (rc = check_signal(ctx, &o, "power", 1, err)) ||
            (rc = check_signal(ctx, &o, "soc", 1, err)) || (rc = scn_obj_finish(&o, err)))
            return rc;
    }
    /* The published figures are free-form for printing beside ours; only
     * their shape is checked. */
    struct scn_obj ref;
    int has_ref = 0;
    if ((rc = scn_child(sec, "reference", 0, &ref, &has_ref, err)))
        return rc;
    if (has_ref) {
        scn_take(&ref, "source");
        scn_take(&ref, "assets");
        scn_take(&ref, "total");
        double pct;
        if ((rc = scn_number(&ref, "load_reduction_pct", 0, 0, -100, 100, &pct, err)) ||
            (rc = scn_obj_finish(&ref, err)))
            return rc;
    }
    return scn_obj_finish(sec, err);
}

const struct scn_section plt_report_section = {
    .key = "report",
    .load = report_load,
};
