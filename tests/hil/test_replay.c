/*
 * test_replay.c: record and replay of a hardware-in-the-loop session.
 *
 * First the pieces: the in-memory recording (last value at or before a
 * time, every entry in order, asking back in time, counts), the kernel's
 * journal hook and replay source, and a scenario loaded from text.
 *
 * Then the round trip the feature exists for. The Modbus battery emulator
 * runs in a thread of this process on an ephemeral 127.0.0.1 port at 60x;
 * a scenario (given as text, as a replay reads it back) puts a
 * hil_modbus_battery on it, driven by a test component that commands
 * -8 kW, then +6 kW, and mutes the emulator for a while so the journal
 * also holds timeouts and stale samples. Four simulated minutes are run
 * paced at 60x through the real result store (res_* API) into a temporary
 * database, with the journal. The emulator is then stopped and freed, so a
 * connection attempt can only fail, and the database is replayed as pure
 * simulation into a second database. Checks: every recorded signal equals
 * the replayed one sample for sample (same times, same doubles), the
 * replay logged no Modbus event but its "replay" event, its journal equals
 * the recorded one, and it was not paced. Last, a replay of a changed
 * scenario reports that it diverged from the recording.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "check.h"
#include "hil/hil.h"
#include "results/results.h"
#include "sim/scenario.h"

#define T0 INT64_C(1696251600000000) /* 2023-10-02T13:00:00Z */

static char tmpdir[256];

static void rm_tmpdir(void)
{
    DIR *dp = opendir(tmpdir);
    if (!dp)
        return;
    struct dirent *e;
    char p[600];
    while ((e = readdir(dp))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        unlink(p);
    }
    closedir(dp);
    rmdir(tmpdir);
}

/* ------------------------------------------------------------------ */
/* The recording                                                       */
/* ------------------------------------------------------------------ */

static void test_recording(void)
{
    sim_recording *r = sim_recording_new();
    CHECK(r != NULL, "no recording");
    const sim_time_us s = SIM_US_PER_S;
    /* Interleaved channels, as a journal comes. */
    CHECK_INT(sim_recording_add(r, 10 * s, "bat", SIM_JOURNAL_IN, "soc", 0.5, NULL), 0);
    CHECK_INT(sim_recording_add(r, 10 * s, "bat", SIM_JOURNAL_OUT, "soc", -1, "cmd"), 0);
    CHECK_INT(sim_recording_add(r, 20 * s, "bat", SIM_JOURNAL_IN, "soc", 0.6, NULL), 0);
    CHECK_INT(sim_recording_add(r, 20 * s, "ev", SIM_JOURNAL_IN, "soc", 0.9, NULL), 0);
    CHECK_INT(sim_recording_add(r, 20 * s, "bat", SIM_JOURNAL_IN, "soc", 0.65, "last at 20"), 0);
    CHECK_INT(sim_recording_add(r, 40 * s, "bat", SIM_JOURNAL_IN, "soc", 0.7, NULL), 0);
    CHECK_INT(sim_recording_add(r, 40 * s, "", SIM_JOURNAL_IN, "soc", 0.7, NULL), SIM_EINVAL);
    CHECK_INT(sim_recording_size(r), 6);

    struct sim_replay_ops ops;
    CHECK_INT(sim_recording_replay(r, &ops), 0);
    int h = ops.find(ops.ctx, "bat", SIM_JOURNAL_IN, "soc");
    int ho = ops.find(ops.ctx, "bat", SIM_JOURNAL_OUT, "soc");
    CHECK(h >= 0 && ho >= 0 && h != ho, "handles %d %d", h, ho);
    CHECK_INT(ops.find(ops.ctx, "bat", SIM_JOURNAL_IN, "p_kw"), SIM_ENOENT);
    CHECK_INT(ops.count(ops.ctx, "bat"), 5);
    CHECK_INT(ops.count(ops.ctx, "ev"), 1);
    CHECK_INT(ops.count(ops.ctx, "pv"), 0);

    double v = 0;
    const char *text = NULL;
    CHECK_INT(ops.at(ops.ctx, h, 5 * s, &v, &text), SIM_ENOENT);
    CHECK_INT(ops.at(ops.ctx, h, 10 * s, &v, &text), 0);
    CHECK_NEAR(v, 0.5, 0);
    CHECK_INT(ops.at(ops.ctx, h, 15 * s, &v, NULL), 0);
    CHECK_NEAR(v, 0.5, 0);
    CHECK_INT(ops.at(ops.ctx, h, 20 * s, &v, &text), 0); /* the last of equal times */
    CHECK_NEAR(v, 0.65, 0);
    CHECK(text && !strcmp(text, "last at 20"), "text %s", text ? text : "(null)");
    CHECK_INT(ops.at(ops.ctx, h, 100 * s, &v, NULL), 0);
    CHECK_NEAR(v, 0.7, 0);
    CHECK_INT(ops.at(ops.ctx, h, 12 * s, &v, NULL), 0); /* back in time */
    CHECK_NEAR(v, 0.5, 0);
    CHECK_INT(ops.at(ops.ctx, h, 9 * s, &v, NULL), SIM_ENOENT);
    CHECK_INT(ops.at(ops.ctx, h, 39 * s, &v, NULL), 0);
    CHECK_NEAR(v, 0.65, 0);

    /* next: every entry once, none ahead of t. */
    sim_time_us te = 0;
    CHECK_INT(ops.next(ops.ctx, ho, 9 * s, &te, &v, &text), SIM_ENOENT);
    CHECK_INT(ops.next(ops.ctx, ho, 10 * s, &te, &v, &text), 0);
    CHECK_INT(te, 10 * s);
    CHECK(text && !strcmp(text, "cmd"), "OUT text");
    CHECK_INT(ops.next(ops.ctx, ho, 100 * s, &te, &v, &text), SIM_ENOENT);
    sim_recording_rewind(r);
    CHECK_INT(ops.next(ops.ctx, ho, 10 * s, &te, &v, NULL), 0);

    /* Through a kernel: a component's handles, the journal hook. */
    sim_kernel *k = sim_kernel_new(&(struct sim_config){0, 100 * s, 1});
    int id;
    struct sim_err err;
    static const struct sim_component_ops nop = {.type = "t"};
    CHECK_INT(sim_kernel_add(k, "bat", &nop, NULL, 0, &id, &err), 0);
    int hk = 7;
    CHECK_INT(sim_kernel_replaying(k), 0);
    CHECK_INT(sim_replay_find(k, id, SIM_JOURNAL_IN, "soc", &hk), SIM_ESTATE);
    CHECK_INT(hk, -1);
    CHECK_INT(sim_replay_count(k, id), 0);
    sim_kernel_set_replay(k, &ops);
    CHECK_INT(sim_kernel_replaying(k), 1);
    CHECK_INT(sim_replay_find(k, id, SIM_JOURNAL_IN, "soc", &hk), 0);
    CHECK_INT(sim_replay_find(k, id, SIM_JOURNAL_IN, "nothing", &h), SIM_ENOENT);
    CHECK_INT(sim_replay_at(k, h, 100 * s, &v, NULL), SIM_ENOENT); /* h = -1 */
    CHECK_INT(sim_replay_at(k, hk, 100 * s, &v, NULL), 0);
    CHECK_NEAR(v, 0.7, 0);
    CHECK_INT(sim_replay_count(k, id), 5);
    CHECK_INT(sim_journal(k, id, SIM_JOURNAL_IN, "soc", 1, NULL), 0); /* no hook: nothing */
    sim_kernel_set_replay(k, NULL);
    CHECK_INT(sim_kernel_replaying(k), 0);
    sim_kernel_free(k);
    sim_recording_free(r);
}

/* ------------------------------------------------------------------ */
/* A setpoint source that also switches the emulator's fault           */
/* ------------------------------------------------------------------ */

struct emu {
    hil_emu_battery *e;
    pthread_t th;
    int running;
};

struct drv {
    sim_kernel *k;
    int id, sig;
    double p1, p2;
    sim_time_us t_switch, mute_on, mute_off;
    struct emu *emu; /* NULL in a replay */
};

static int drv_step(void *self, sim_kernel *k, sim_time_us now, struct sim_err *err)
{
    (void)err;
    struct drv *d = self;
    sim_bus_set(k, d->sig, now - T0 < d->t_switch ? d->p1 : d->p2);
    if (d->emu && d->emu->e && now - T0 == d->mute_on)
        hil_emu_battery_fault(d->emu->e, HIL_EMU_MUTE, 1);
    if (d->emu && d->emu->e && now - T0 == d->mute_off)
        hil_emu_battery_fault(d->emu->e, HIL_EMU_MUTE, 0);
    return 0;
}

static void drv_destroy(void *self)
{
    free(self);
}

static const struct sim_component_ops drv_ops = {
    .type = "test_driver", .step = drv_step, .destroy = drv_destroy};

static int drv_create(struct scn_ctx *ctx, struct scn_obj *cfg, const char *name,
                      struct sim_err *err)
{
    struct drv *d = calloc(1, sizeof *d);
    if (!d)
        return SIM_ENOMEM;
    int rc;
    if ((rc = scn_number(cfg, "p1_kw", 1, 0, -100, 100, &d->p1, err)) ||
        (rc = scn_number(cfg, "p2_kw", 1, 0, -100, 100, &d->p2, err)) ||
        (rc = scn_duration(cfg, "switch", 1, 0, 0, INT64_MAX, &d->t_switch, err)) ||
        (rc = scn_duration(cfg, "mute_on", 1, 0, 0, INT64_MAX, &d->mute_on, err)) ||
        (rc = scn_duration(cfg, "mute_off", 1, 0, 0, INT64_MAX, &d->mute_off, err)) ||
        (rc = scn_obj_finish(cfg, err))) {
        free(d);
        return rc;
    }
    d->emu = ctx->user;
    d->k = ctx->kernel;
    if ((rc = sim_kernel_add(ctx->kernel, name, &drv_ops, d, ctx->scenario->step, &d->id, err)))
        return rc;
    return sim_bus_publish(ctx->kernel, d->id, "sp", "kW", SIM_SIG_RECORD, d->p1, &d->sig, err);
}

static const struct scn_type drv_type = {.type = "test_driver", .create = drv_create};

/* ------------------------------------------------------------------ */
/* A run into the store, as `flexbed run` wires it                     */
/* ------------------------------------------------------------------ */

struct run {
    res_store *s;
    int64_t run_id, jseq;
    int nrec, rec_sig[64];
    int64_t rec_id[64];
    double val[64];
    int modbus_events, replay_events, diverged_events, stale_samples;
    int s_stale;
};

static int on_sample(void *ctx, sim_time_us t, const double *v, int n)
{
    (void)n;
    struct run *r = ctx;
    for (int i = 0; i < r->nrec; i++)
        r->val[i] = v[r->rec_sig[i]];
    r->stale_samples += v[r->s_stale] != 0;
    return res_samples(r->s, t, r->rec_id, r->val, r->nrec, NULL);
}

static int on_event(void *ctx, sim_time_us t, const char *comp, const char *kind,
                    enum sim_severity sev, double value, const char *msg)
{
    struct run *r = ctx;
    fprintf(stderr, "  [event %6.1f s] %s %s: %s\n", (double)(t - T0) / 1e6, comp, kind, msg);
    r->modbus_events += !strncmp(kind, "modbus_", 7) || !strncmp(kind, "device_", 7);
    r->replay_events += !strcmp(kind, "replay");
    r->diverged_events += !strcmp(kind, "replay_diverged");
    return res_event(r->s, r->run_id, t, comp, kind, (int)sev, value, msg, NULL);
}

static int on_journal(void *ctx, sim_time_us t, const char *comp, enum sim_journal_dir dir,
                      const char *channel, double value, const char *text)
{
    struct run *r = ctx;
    return res_journal(r->s, r->run_id, ++r->jseq, t, comp, dir, channel, value, text, NULL);
}

static const struct scn_type *const types_list[] = {&hil_modbus_battery_type, &drv_type};

/* Load `text`, replay `rec` if non-NULL, run into a new database at `db`
 * (speed 0: not paced). Returns 0 or the first error; *wall gets the run's
 * wall time. */
static int run_into(const char *text, const char *db, sim_recording *rec, struct emu *emu,
                    double speed, struct run *r, double *wall)
{
    struct scn_type types[2] = {*types_list[0], *types_list[1]};
    struct scn_registry reg = {.types = types, .ntypes = 2};
    struct scn_scenario sc;
    sim_kernel *k = NULL;
    struct sim_err err = {{0}};
    memset(r, 0, sizeof *r);
    int rc = scn_load_text(text, "replay-test.json", tmpdir, &reg, NULL, emu, &k, &sc, &err);
    CHECK(rc == 0, "load: %s", err.msg);
    if (rc)
        return rc;
    struct sim_replay_ops ops;
    if (rec) {
        CHECK_INT(hil_kernel_replayable(k, NULL, 0), 1);
        CHECK_INT(sim_recording_replay(rec, &ops), 0);
        sim_kernel_set_replay(k, &ops);
    }
    if ((rc = sim_kernel_init(k, &err)) != 0) {
        sim_kernel_free(k);
        scn_scenario_clear(&sc);
        return rc;
    }
    rc = res_store_open(db, RES_OPEN_CREATE, &r->s, &err);
    CHECK(rc == 0, "open %s: %s", db, err.msg);
    struct res_run_info info = {.scenario_name = sc.name,
                                .scenario_path = sc.path,
                                .scenario_text = sc.text,
                                .seed = sc.seed,
                                .sim_start = sc.start,
                                .sim_end = sc.end,
                                .step = sc.step,
                                .variant = rec ? "replay" : "main"};
    if (!rc)
        rc = res_run_begin(r->s, &info, &r->run_id, &err);
    for (int s = 0; !rc && s < sim_bus_count(k) && r->nrec < 64; s++) {
        if (!(sim_bus_flags(k, s) & SIM_SIG_RECORD))
            continue;
        rc = res_signal_add(r->s, r->run_id, sim_bus_name(k, s), sim_bus_unit(k, s), NULL,
                            &r->rec_id[r->nrec], &err);
        r->rec_sig[r->nrec++] = s;
    }
    r->s_stale = sim_bus_find(k, "bat.stale");
    if (!rc) {
        struct sim_hooks h = {
            .ctx = r, .sample = on_sample, .event = on_event, .journal = on_journal};
        sim_kernel_set_hooks(k, &h);
        sim_kernel_set_speed(k, speed);
        rc = sim_kernel_run(k, &err);
        CHECK(rc == 0, "run: %s", err.msg);
        struct sim_stats st;
        sim_kernel_stats(k, &st);
        *wall = st.wall_s;
        CHECK_INT(res_run_end(r->s, r->run_id, rc ? RES_FAILED : RES_COMPLETED, sim_kernel_now(k),
                              NULL, &err),
                  0);
    }
    res_store_close(r->s);
    r->s = NULL;
    sim_kernel_free(k);
    scn_scenario_clear(&sc);
    return rc;
}

/* ------------------------------------------------------------------ */
/* The round trip                                                      */
/* ------------------------------------------------------------------ */

static void *emu_main(void *arg)
{
    struct emu *x = arg;
    struct sim_err err;
    if (hil_emu_battery_run(x->e, NULL, &err))
        fprintf(stderr, "emulator: %s\n", err.msg);
    return NULL;
}

static long long q_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    else
        fprintf(stderr, "query failed: %s: %s\n", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return v;
}

static const char scenario_fmt[] =
    "{\"name\": \"replay-test\", \"start\": \"2023-10-02T16:00:00+03:00\",\n"
    " \"end\": \"2023-10-02T16:04:00+03:00\", \"step\": \"5s\", \"seed\": 7,\n"
    " \"components\": [\n"
    "  {\"name\": \"drv\", \"type\": \"test_driver\", \"p1_kw\": %g, \"p2_kw\": 6,\n"
    "   \"switch\": \"100s\", \"mute_on\": \"150s\", \"mute_off\": \"180s\"},\n"
    "  {\"name\": \"bat\", \"type\": \"hil_modbus_battery\", \"port\": %d,\n"
    "   \"timeout\": \"150ms\", \"retries\": 1, \"backoff\": \"100ms\", \"backoff_max\": "
    "\"200ms\",\n"
    "   \"setpoint\": \"drv.sp\", \"capacity_kwh\": 20, \"soc_initial\": 0.5}]}\n";

static void test_roundtrip(void)
{
    char rec_db[400], rep_db[400], rep2_db[400], text[2048], changed[2048];
    snprintf(rec_db, sizeof rec_db, "%s/rec.db", tmpdir);
    snprintf(rep_db, sizeof rep_db, "%s/rep.db", tmpdir);
    snprintf(rep2_db, sizeof rep2_db, "%s/rep2.db", tmpdir);

    struct hil_emu_battery_cfg c;
    hil_emu_battery_defaults(&c);
    c.port = 0;
    c.speed = 60;
    c.t0 = T0;
    struct emu x = {0};
    struct sim_err err;
    int rc = hil_emu_battery_new(&c, &x.e, &err);
    CHECK(rc == 0, "emulator: %s", err.msg);
    if (rc)
        return;
    if (pthread_create(&x.th, NULL, emu_main, &x)) {
        hil_emu_battery_free(x.e);
        CHECK(0, "no emulator thread");
        return;
    }
    int port = hil_emu_battery_port(x.e);
    snprintf(text, sizeof text, scenario_fmt, -8.0, port);

    /* Record: paced at 60x against the emulator. */
    static struct run rec, rep;
    double wall_rec = 0, wall_rep = 0;
    rc = run_into(text, rec_db, NULL, &x, 60, &rec, &wall_rec);
    hil_emu_battery_stop(x.e);
    pthread_join(x.th, NULL);
    unsigned long served = hil_emu_battery_requests(x.e);
    hil_emu_battery_free(x.e); /* from here on nobody answers on port */
    x.e = NULL;
    CHECK(rc == 0, "recording failed");
    CHECK(served > 40, "the emulator answered only %lu requests", served);
    CHECK(rec.modbus_events >= 2, "no timeouts while muted (%d Modbus events)", rec.modbus_events);
    CHECK(rec.stale_samples > 0, "no stale samples while muted");
    CHECK(rec.jseq > 40, "only %lld journal entries", (long long)rec.jseq);

    /* Replay from the database alone, as `flexbed run --replay` does. */
    res_store *src = NULL;
    struct res_recorded_run rr;
    sim_recording *recd = sim_recording_new();
    long nj = 0;
    CHECK_INT(res_store_open(rec_db, RES_OPEN_READ, &src, &err), 0);
    CHECK_INT(res_recorded_run(src, &rr, &err), 0);
    CHECK_INT(rr.journal_rows, rec.jseq);
    CHECK(!strcmp(rr.variant, "main") && !strcmp(rr.status, "completed"), "run %s %s", rr.variant,
          rr.status);
    CHECK_INT(res_journal_load(src, rr.id, recd, &nj, &err), 0);
    CHECK_INT(nj, rec.jseq);
    res_store_close(src);
    rc = run_into(rr.scenario_text, rep_db, recd, NULL, 0, &rep, &wall_rep);
    CHECK(rc == 0, "replay failed");
    CHECK_INT(rep.modbus_events, 0);
    CHECK_INT(rep.replay_events, 1);
    CHECK_INT(rep.diverged_events, 0);
    CHECK_INT(rep.stale_samples, rec.stale_samples);
    CHECK(wall_rep < wall_rec / 4, "replay took %.2f s, recording %.2f s: paced?", wall_rep,
          wall_rec);
    fprintf(stderr, "  recorded %lld journal entries in %.2f s, replayed in %.3f s\n",
            (long long)rec.jseq, wall_rec, wall_rep);

    /* Sample for sample: same signals, times and doubles (NaN and NULL
     * compare equal in EXCEPT). */
    sqlite3 *db = NULL;
    char sql[1024];
    CHECK_INT(sqlite3_open_v2(rec_db, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    snprintf(sql, sizeof sql, "ATTACH '%s' AS r", rep_db);
    CHECK_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    static const char rec_q[] = "SELECT g.name, s.t_us, s.value FROM main.samples s"
                                " JOIN main.signals g ON g.id = s.signal_id";
    static const char rep_q[] = "SELECT g.name, s.t_us, s.value FROM r.samples s"
                                " JOIN r.signals g ON g.id = s.signal_id";
    long long n_rec = q_int(db, "SELECT count(*) FROM main.samples");
    CHECK(n_rec >= 48 * 11, "only %lld samples recorded", n_rec);
    CHECK_INT(q_int(db, "SELECT count(*) FROM r.samples"), n_rec);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM (%s EXCEPT %s)", rec_q, rep_q);
    CHECK_INT(q_int(db, sql), 0);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM (%s EXCEPT %s)", rep_q, rec_q);
    CHECK_INT(q_int(db, sql), 0);
    /* The battery did follow the setpoints: charge and discharge. */
    CHECK(q_int(db, "SELECT count(*) FROM main.samples s JOIN main.signals g ON g.id = "
                    "s.signal_id WHERE g.name = 'bat.p_kw' AND s.value < -7.9") > 5,
          "never discharged at 8 kW");
    CHECK(q_int(db, "SELECT count(*) FROM main.samples s JOIN main.signals g ON g.id = "
                    "s.signal_id WHERE g.name = 'bat.p_kw' AND s.value > 5.9") > 3,
          "never charged at 6 kW");
    /* The replay's journal is the recorded one. */
    static const char jrec[] = "SELECT t_us, component, direction, channel, value"
                               " FROM main.journal";
    static const char jrep[] = "SELECT t_us, component, direction, channel, value"
                               " FROM r.journal";
    CHECK_INT(q_int(db, "SELECT count(*) FROM r.journal"), rec.jseq);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM (%s EXCEPT %s)", jrec, jrep);
    CHECK_INT(q_int(db, sql), 0);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM (%s EXCEPT %s)", jrep, jrec);
    CHECK_INT(q_int(db, sql), 0);
    CHECK(q_int(db, "SELECT count(*) FROM main.journal WHERE direction = 'out' AND channel = "
                    "'setpoint_kw'") > 20,
          "setpoint writes not journaled");
    CHECK_INT(q_int(db, "SELECT variant = 'replay' FROM r.runs"), 1);
    sqlite3_close(db);

    /* A changed scenario: the replay notices its commands are not the
     * recorded ones. */
    snprintf(changed, sizeof changed, scenario_fmt, -5.0, port);
    sim_recording_rewind(recd);
    static struct run rep2;
    rc = run_into(changed, rep2_db, recd, NULL, 0, &rep2, &wall_rep);
    CHECK(rc == 0, "changed replay failed");
    CHECK(rep2.diverged_events >= 1, "divergence not reported");
    CHECK_INT(rep2.modbus_events, 0);

    /* A journal without this device: a clear error at init. */
    sim_recording *empty = sim_recording_new();
    static struct run rep3;
    rc = run_into(text, rep2_db, empty, NULL, 0, &rep3, &wall_rep);
    CHECK_INT(rc, SIM_ENOENT);
    sim_recording_free(empty);

    sim_recording_free(recd);
    res_recorded_run_clear(&rr);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/flexbed-replay-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_recording();
    test_roundtrip();
    rm_tmpdir();
    return check_done("test_replay");
}
