/*
 * report.c: `flexbed report`, a summary of every run in a result database
 * as text (for people), JSON (stable keys, for scripts and CI) or CSV (one
 * row per signal, for spreadsheets).
 *
 * All three formats are computed from the same reads: the runs rows
 * (res_runs_load), per-signal statistics aggregated by SQLite over the
 * samples index (res_signals_load) and the events table. Only simulated
 * times appear in JSON and CSV, so the report of a deterministic run is
 * itself byte-identical from one run to the next; the text report adds the
 * wall-clock times the run started and finished. Times are printed in the
 * scenario's local time (runs.utc_offset_s) as ISO 8601 with the offset.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "internal.h"

/* Events listed per run in the text report (JSON lists them all). */
#define TEXT_EVENTS 20

struct ev_counts {
    int64_t n[3]; /* by severity: info, warning, alarm */
    int64_t total;
};

static int report_db_fail(res_store *s, const char *what, struct sim_err *err)
{
    return sim_errf(err, SIM_EIO, "%s: %s: %s", res_store_path(s), what,
                    sqlite3_errmsg(res_store_db(s)));
}

static int count_events(res_store *s, int64_t run_id, struct ev_counts *c, struct sim_err *err)
{
    memset(c, 0, sizeof *c);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(res_store_db(s),
                           "SELECT severity, count(*) FROM events WHERE run_id = ?1"
                           " GROUP BY severity",
                           -1, &st, NULL) != SQLITE_OK)
        return report_db_fail(s, "read events", err);
    sqlite3_bind_int64(st, 1, run_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int sev = sqlite3_column_int(st, 0);
        int64_t k = sqlite3_column_int64(st, 1);
        if (sev >= 0 && sev <= 2)
            c->n[sev] += k;
        c->total += k;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return report_db_fail(s, "read events", err);
    return 0;
}

/* The events of a run in time order, at most `limit` (-1: all). */
static int events_stmt(res_store *s, int64_t run_id, int limit, sqlite3_stmt **st,
                       struct sim_err *err)
{
    if (sqlite3_prepare_v2(res_store_db(s),
                           "SELECT t_us, component, kind, severity, value, message FROM events"
                           " WHERE run_id = ?1 ORDER BY t_us, id LIMIT ?2",
                           -1, st, NULL) != SQLITE_OK)
        return report_db_fail(s, "read events", err);
    sqlite3_bind_int64(*st, 1, run_id);
    sqlite3_bind_int(*st, 2, limit);
    return 0;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *v = sqlite3_column_text(st, i);
    return v ? (const char *)v : NULL;
}

static int64_t total_samples(const struct res_signal_row *sig, int n)
{
    int64_t k = 0;
    for (int i = 0; i < n; i++)
        k += sig[i].samples;
    return k;
}

/* ------------------------------------------------------------------ */
/* Text                                                                 */
/* ------------------------------------------------------------------ */

static void text_num(FILE *out, double v, int width)
{
    if (isnan(v))
        fprintf(out, " %*s", width, "-");
    else
        fprintf(out, " %*.6g", width, v);
}

static int text_run(res_store *s, const struct res_run_row *r, FILE *out, struct sim_err *err)
{
    struct res_signal_row *sig = NULL;
    int nsig = 0;
    int rc = res_signals_load(s, r->id, 1, &sig, &nsig, err);
    if (rc)
        return rc;
    struct ev_counts ec;
    if ((rc = count_events(s, r->id, &ec, err)))
        goto done;

    char a[64], b[64], d[32];
    fprintf(out, "run %" PRId64 ": %s", r->id, r->scenario_name);
    if (strcmp(r->variant, "main"))
        fprintf(out, " (%s)", r->variant);
    fputc('\n', out);
    const char *note = res_variant_note(r->variant);
    if (note)
        fprintf(out, "  variant     %s\n", note);
    if (r->scenario_path)
        fprintf(out, "  scenario    %s\n", r->scenario_path);
    fprintf(out, "  seed        %" PRIu64 "\n", r->seed);
    if (!strcmp(r->status, "running"))
        /* no process marks a killed run: the figures are what it stored */
        fprintf(out, "  status      running, or stopped without finishing (killed, crashed): "
                     "the figures below are partial\n");
    else
        fprintf(out, "  status      %s\n", r->status);
    if (r->message && *r->message)
        fprintf(out, "  message     %s\n", r->message);
    fprintf(out, "  simulated   %s .. %s",
            sim_time_format(r->sim_start, r->utc_offset_s, a, sizeof a),
            sim_time_format(r->sim_end, r->utc_offset_s, b, sizeof b));
    fprintf(out, " (step %s)\n", sim_duration_format(r->step, d, sizeof d));
    if (r->sim_reached != SIM_TIME_NEVER)
        fprintf(out, "  reached     %s\n",
                sim_time_format(r->sim_reached, r->utc_offset_s, a, sizeof a));
    fprintf(out, "  samples     %" PRId64 " in %d signal%s\n", total_samples(sig, nsig), nsig,
            nsig == 1 ? "" : "s");
    fprintf(out, "  flexbed     %s, wall clock %s .. %s\n", r->version, r->started_at,
            r->finished_at ? r->finished_at : "(not finished)");

    if (nsig > 0) {
        int wn = (int)strlen("signal"), wu = (int)strlen("unit");
        for (int i = 0; i < nsig; i++) {
            int ln = (int)strlen(sig[i].name), lu = (int)strlen(sig[i].unit);
            wn = ln > wn ? ln : wn;
            wu = lu > wu ? lu : wu;
        }
        fprintf(out, "\n  %-*s  %-*s %10s %12s %12s %12s\n", wn, "signal", wu, "unit", "samples",
                "min", "mean", "max");
        for (int i = 0; i < nsig; i++) {
            fprintf(out, "  %-*s  %-*s %10" PRId64, wn, sig[i].name, wu, sig[i].unit,
                    sig[i].samples);
            text_num(out, sig[i].min, 12);
            text_num(out, sig[i].mean, 12);
            text_num(out, sig[i].max, 12);
            fputc('\n', out);
        }
    }

    fprintf(out,
            "\n  events      %" PRId64 " (info %" PRId64 ", warning %" PRId64 ", alarm %" PRId64
            ")\n",
            ec.total, ec.n[0], ec.n[1], ec.n[2]);
    if (ec.total > 0) {
        sqlite3_stmt *st = NULL;
        if ((rc = events_stmt(s, r->id, TEXT_EVENTS, &st, err)))
            goto done;
        int src;
        while ((src = sqlite3_step(st)) == SQLITE_ROW) {
            const char *comp = col_text(st, 1), *msg = col_text(st, 5);
            fprintf(out, "    %s  %-7s  %s  %s",
                    sim_time_format(sqlite3_column_int64(st, 0), r->utc_offset_s, a, sizeof a),
                    res_severity_name(sqlite3_column_int(st, 3)), comp ? comp : "-",
                    col_text(st, 2));
            if (sqlite3_column_type(st, 4) != SQLITE_NULL)
                fprintf(out, " %.6g", sqlite3_column_double(st, 4));
            if (msg && *msg)
                fprintf(out, ": %s", msg);
            fputc('\n', out);
        }
        sqlite3_finalize(st);
        if (src != SQLITE_DONE) {
            rc = report_db_fail(s, "read events", err);
            goto done;
        }
        if (ec.total > TEXT_EVENTS)
            fprintf(out, "    ... %" PRId64 " more (flexbed report --format json lists all)\n",
                    ec.total - TEXT_EVENTS);
    }
done:
    res_signals_free(sig, nsig);
    return rc;
}

/* ------------------------------------------------------------------ */
/* JSON                                                                 */
/* ------------------------------------------------------------------ */

/* NaN (no values) becomes null, like cJSON prints non-finite numbers. */
static cJSON *json_num(double v)
{
    return isnan(v) ? cJSON_CreateNull() : cJSON_CreateNumber(v);
}

static cJSON *json_str(const char *v)
{
    return v ? cJSON_CreateString(v) : cJSON_CreateNull();
}

static cJSON *json_time(sim_time_us t, int offset_s)
{
    char buf[64];
    if (t == SIM_TIME_NEVER)
        return cJSON_CreateNull();
    return cJSON_CreateString(sim_time_format(t, offset_s, buf, sizeof buf));
}

/* Adds item to obj under key; a NULL item (out of memory) marks *ok = 0. */
static void put(cJSON *obj, const char *key, cJSON *item, int *ok)
{
    if (!item || !cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        *ok = 0;
    }
}

static void push(cJSON *arr, cJSON *item, int *ok)
{
    if (!item || !cJSON_AddItemToArray(arr, item)) {
        cJSON_Delete(item);
        *ok = 0;
    }
}

const char *res_variant_note(const char *variant)
{
    static const struct {
        const char *v, *note;
    } notes[] = {
        {"counterfactual", "counterfactual: the same scenario with the market switched off, the "
                           "base the load reduction is measured against"},
        {"market-off", "market-off: the scenario run with its market switched off (--no-market)"},
        {"replay", "replay: a recorded session with devices repeated from its journal"},
    };
    if (!variant || !strcmp(variant, "main"))
        return NULL;
    for (size_t i = 0; i < sizeof notes / sizeof notes[0]; i++)
        if (!strcmp(variant, notes[i].v))
            return notes[i].note;
    return variant;
}

static int json_run(res_store *s, const struct res_run_row *r, int brief, cJSON **out,
                    struct sim_err *err)
{
    *out = NULL;
    struct res_signal_row *sig = NULL;
    int nsig = 0;
    int rc = res_signals_load(s, r->id, 1, &sig, &nsig, err);
    if (rc)
        return rc;
    struct ev_counts ec;
    sqlite3_stmt *st = NULL;
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL;
    if ((rc = count_events(s, r->id, &ec, err)))
        goto done;

    /* The seed is a uint64: written as exact decimal digits, not through a
     * double that would round seeds above 2^53. */
    char seed[24];
    snprintf(seed, sizeof seed, "%" PRIu64, r->seed);
    put(o, "id", cJSON_CreateNumber((double)r->id), &ok);
    put(o, "scenario", json_str(r->scenario_name), &ok);
    put(o, "variant", json_str(r->variant), &ok);
    put(o, "scenario_path", json_str(r->scenario_path), &ok);
    put(o, "seed", cJSON_CreateRaw(seed), &ok);
    put(o, "status", json_str(r->status), &ok);
    put(o, "message", json_str(r->message), &ok);
    put(o, "version", json_str(r->version), &ok);
    put(o, "utc_offset_s", cJSON_CreateNumber(r->utc_offset_s), &ok);
    put(o, "start", json_time(r->sim_start, r->utc_offset_s), &ok);
    put(o, "end", json_time(r->sim_end, r->utc_offset_s), &ok);
    put(o, "step_s", cJSON_CreateNumber((double)r->step / (double)SIM_US_PER_S), &ok);
    put(o, "reached", json_time(r->sim_reached, r->utc_offset_s), &ok);
    put(o, "samples", cJSON_CreateNumber((double)total_samples(sig, nsig)), &ok);

    put(o, "signal_count", cJSON_CreateNumber(nsig), &ok);
    cJSON *sigs = brief ? NULL : cJSON_CreateArray();
    if (!brief)
        put(o, "signals", sigs, &ok);
    for (int i = 0; ok && !brief && i < nsig; i++) {
        cJSON *g = cJSON_CreateObject();
        push(sigs, g, &ok);
        if (!ok)
            break;
        put(g, "name", json_str(sig[i].name), &ok);
        put(g, "unit", json_str(sig[i].unit), &ok);
        put(g, "component", json_str(sig[i].component), &ok);
        put(g, "samples", cJSON_CreateNumber((double)sig[i].samples), &ok);
        put(g, "min", json_num(sig[i].min), &ok);
        put(g, "mean", json_num(sig[i].mean), &ok);
        put(g, "max", json_num(sig[i].max), &ok);
    }

    cJSON *counts = cJSON_CreateObject();
    put(o, "event_counts", counts, &ok);
    if (ok) {
        put(counts, "info", cJSON_CreateNumber((double)ec.n[0]), &ok);
        put(counts, "warning", cJSON_CreateNumber((double)ec.n[1]), &ok);
        put(counts, "alarm", cJSON_CreateNumber((double)ec.n[2]), &ok);
    }

    if (brief) {
        if (!ok)
            rc = sim_errf(err, SIM_ENOMEM, "%s: report: out of memory", res_store_path(s));
        goto done;
    }
    cJSON *evs = cJSON_CreateArray();
    put(o, "events", evs, &ok);
    if (ok && (rc = events_stmt(s, r->id, -1, &st, err)))
        goto done;
    int src = SQLITE_DONE;
    while (ok && (src = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *e = cJSON_CreateObject();
        push(evs, e, &ok);
        if (!ok)
            break;
        put(e, "t", json_time(sqlite3_column_int64(st, 0), r->utc_offset_s), &ok);
        put(e, "component", json_str(col_text(st, 1)), &ok);
        put(e, "kind", json_str(col_text(st, 2)), &ok);
        put(e, "severity", json_str(res_severity_name(sqlite3_column_int(st, 3))), &ok);
        put(e, "value",
            sqlite3_column_type(st, 4) == SQLITE_NULL ? cJSON_CreateNull()
                                                      : json_num(sqlite3_column_double(st, 4)),
            &ok);
        put(e, "message", json_str(col_text(st, 5)), &ok);
    }
    if (ok && src != SQLITE_DONE) {
        rc = report_db_fail(s, "read events", err);
        goto done;
    }
    if (!ok)
        rc = sim_errf(err, SIM_ENOMEM, "%s: report: out of memory", res_store_path(s));
done:
    sqlite3_finalize(st);
    res_signals_free(sig, nsig);
    if (rc)
        cJSON_Delete(o);
    else
        *out = o;
    return rc;
}

/* ------------------------------------------------------------------ */
/* CSV (RFC 4180: fields with a comma, quote or line break are quoted)  */
/* ------------------------------------------------------------------ */

static void csv_field(FILE *out, const char *v)
{
    if (!v)
        return;
    if (!strpbrk(v, ",\"\r\n")) {
        fputs(v, out);
        return;
    }
    fputc('"', out);
    for (const char *p = v; *p; p++) {
        if (*p == '"')
            fputc('"', out);
        fputc(*p, out);
    }
    fputc('"', out);
}

static void csv_num(FILE *out, double v)
{
    char buf[40];
    if (isnan(v))
        return; /* empty field: no values */
    res_fmt_double(v, buf, sizeof buf);
    fputs(buf, out);
}

static int csv_run(res_store *s, const struct res_run_row *r, FILE *out, struct sim_err *err)
{
    struct res_signal_row *sig = NULL;
    int nsig = 0;
    int rc = res_signals_load(s, r->id, 1, &sig, &nsig, err);
    if (rc)
        return rc;
    for (int i = 0; i < nsig; i++) {
        fprintf(out, "%" PRId64 ",", r->id);
        csv_field(out, r->variant);
        fputc(',', out);
        csv_field(out, sig[i].name);
        fputc(',', out);
        csv_field(out, sig[i].unit);
        fprintf(out, ",%" PRId64 ",", sig[i].samples);
        csv_num(out, sig[i].min);
        fputc(',', out);
        csv_num(out, sig[i].mean);
        fputc(',', out);
        csv_num(out, sig[i].max);
        fputc('\n', out);
    }
    res_signals_free(sig, nsig);
    return 0;
}

/* ------------------------------------------------------------------ */

int res_report(res_store *s, enum res_format fmt, FILE *out, struct sim_err *err)
{
    return res_report_ex(s, fmt, out, NULL, err);
}

static int report(res_store *s, enum res_format fmt, FILE *out, const char *members, int brief,
                  struct sim_err *err);

int res_report_ex(res_store *s, enum res_format fmt, FILE *out, const char *members,
                  struct sim_err *err)
{
    return report(s, fmt, out, members, 0, err);
}

int res_report_brief(res_store *s, enum res_format fmt, FILE *out, const char *members,
                     struct sim_err *err)
{
    return report(s, fmt, out, members, 1, err);
}

static int report(res_store *s, enum res_format fmt, FILE *out, const char *members, int brief,
                  struct sim_err *err)
{
    if (!s || !out)
        return sim_errf(err, SIM_EINVAL, "report: no result store or output");
    if (fmt != RES_TEXT && fmt != RES_JSON && fmt != RES_CSV)
        return sim_errf(err, SIM_EINVAL, "%s: report: unknown format %d", res_store_path(s),
                        (int)fmt);
    struct res_run_row *runs = NULL;
    int nruns = 0;
    int rc = res_runs_load(s, &runs, &nruns, err);
    if (rc)
        return rc;

    if (fmt == RES_TEXT && nruns == 0)
        fprintf(out, "%s: no runs\n", res_store_path(s));
    if (fmt == RES_JSON)
        fputs("{\"runs\":[", out);
    if (fmt == RES_CSV)
        fputs("run_id,variant,signal,unit,samples,min,mean,max\n", out);

    for (int i = 0; i < nruns && rc == 0; i++) {
        if (fmt == RES_TEXT) {
            if (i > 0)
                fputc('\n', out);
            rc = text_run(s, &runs[i], out, err);
        } else if (fmt == RES_CSV) {
            rc = csv_run(s, &runs[i], out, err);
        } else {
            /* One run at a time: a sweep's report never holds every run's
             * events in memory at once. */
            cJSON *o = NULL;
            if ((rc = json_run(s, &runs[i], brief, &o, err)))
                break;
            char *txt = cJSON_PrintUnformatted(o);
            cJSON_Delete(o);
            if (!txt) {
                rc = sim_errf(err, SIM_ENOMEM, "%s: report: out of memory", res_store_path(s));
                break;
            }
            fprintf(out, "%s\n%s", i > 0 ? "," : "", txt);
            cJSON_free(txt);
        }
    }
    if (rc == 0 && fmt == RES_JSON)
        fprintf(out, "\n]%s%s}\n", members && *members ? ",\n" : "", members ? members : "");
    res_runs_free(runs, nruns);
    if (rc == 0 && (fflush(out) != 0 || ferror(out)))
        rc = sim_errf(err, SIM_EIO, "%s: report: cannot write the output", res_store_path(s));
    return rc;
}
