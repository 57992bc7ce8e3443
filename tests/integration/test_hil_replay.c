/*
 * test_hil_replay.c: the demo's battery on Modbus, recorded and replayed.
 *
 * The 2 October 2023 demo (scenarios/demo-2023-10-02.json) is cut to the
 * flexibility window, 15:56-16:48 local time (offers and the request are
 * posted and matched in the first minutes, the 16:00-16:45 delivery, the
 * report a minute after and the settlement two minutes after), and its
 * battery is put on Modbus ("backend": "modbus") against `flexbed emulate
 * battery` on an ephemeral 127.0.0.1 port, the emulator holding the demo
 * battery's parameters. The run is paced at 60x (about 52 s). Then the
 * emulator is stopped and `flexbed run --replay` repeats the recorded
 * database as pure simulation. Checks: the replay's settlement equals the
 * recorded one (every match's delivered_wh and payout), no Modbus event in
 * the replay, and the device run's delivered energies are within 2 % of
 * the pure simulation of the same window.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "proc.h"

#define DEMO FLEXBED_SOURCE_DIR "/scenarios/demo-2023-10-02.json"
#define BASE_LOAD FLEXBED_SOURCE_DIR "/scenarios/data/demo-base-load.csv"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf)
        buf[n] = '\0';
    fclose(f);
    return buf;
}

static void set_str(cJSON *o, const char *key, const char *v)
{
    cJSON_DeleteItemFromObjectCaseSensitive(o, key);
    cJSON_AddStringToObject(o, key, v);
}

/* The demo cut to the window; port > 0 puts the battery on Modbus. */
static int write_variant(const char *path, int port)
{
    char *text = slurp(DEMO);
    cJSON *d = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!d)
        return -1;
    set_str(d, "start", "2023-10-02T15:56:00+03:00");
    set_str(d, "end", "2023-10-02T16:48:00+03:00");
    cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(d, "components"))
    {
        const char *type = cJSON_GetObjectItemCaseSensitive(c, "type")->valuestring;
        const char *name = cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring;
        cJSON *x;
        if (!strcmp(name, "battery") && port > 0) {
            set_str(c, "backend", "modbus");
            set_str(c, "host", "127.0.0.1");
            cJSON_AddNumberToObject(c, "port", port);
            set_str(c, "timeout", "1s");
        } else if (!strcmp(type, "fsp")) {
            cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(c, "offers"))
                set_str(x, "post_at", "2023-10-02T15:56:00+03:00");
        } else if (!strcmp(type, "dso")) {
            cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(c, "requests"))
            {
                set_str(x, "post_at", "2023-10-02T15:57:00+03:00");
                set_str(x, "match_at", "2023-10-02T15:58:00+03:00");
            }
            set_str(c, "settle_after", "2min");
        } else if (!strcmp(type, "dispatch")) {
            set_str(c, "report_delay", "1min");
        }
    }
    char *out = cJSON_Print(d);
    cJSON_Delete(d);
    FILE *f = out ? fopen(path, "w") : NULL;
    int rc = f && fputs(out, f) >= 0 ? 0 : -1;
    if (f)
        fclose(f);
    free(out);
    return rc;
}

/* delivered_wh and payout of every match, in id order, as text. */
static void settlement(const char *db, char *out, size_t n)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    out[0] = '\0';
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(h,
                           "SELECT id, asset_id, state, delivered_wh, payout_ueur FROM "
                           "mkt_matches ORDER BY id",
                           -1, &st, NULL) == SQLITE_OK) {
        size_t used = 0;
        while (sqlite3_step(st) == SQLITE_ROW && used + 80 < n)
            used += (size_t)snprintf(
                out + used, n - used, "match %lld asset %lld state %d: %lld Wh, %lld ueur\n",
                (long long)sqlite3_column_int64(st, 0), (long long)sqlite3_column_int64(st, 1),
                sqlite3_column_int(st, 2), (long long)sqlite3_column_int64(st, 3),
                (long long)sqlite3_column_int64(st, 4));
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
}

static long long q_int(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

/* Start the emulator with the demo battery; its port, or -1. */
static int start_emulator(const char *dir, pid_t *pid)
{
    char *argv[] = {(char *)FLEXBED_BINARY,
                    "emulate",
                    "battery",
                    "--port",
                    "0",
                    "--speed",
                    "60",
                    "--start",
                    "2023-10-02T15:56:00+03:00",
                    "--capacity-kwh",
                    "30",
                    "--p-charge-max-kw",
                    "10",
                    "--p-discharge-max-kw",
                    "10",
                    "--soc",
                    "0.6",
                    "--soc-min",
                    "0.2",
                    "--soc-max",
                    "0.95",
                    "--round-trip",
                    "0.92",
                    "--ramp-kw-per-s",
                    "0.5",
                    "--latency",
                    "35s",
                    "--duration",
                    "150s",
                    "--quiet",
                    NULL};
    *pid = proc_start(dir, argv);
    if (*pid < 0)
        return -1;
    char path[512], buf[4096];
    snprintf(path, sizeof path, "%s/.stdout", dir);
    for (double t0 = proc_now(); proc_now() - t0 < 10;) {
        proc_slurp(path, buf, sizeof buf);
        const char *p = strstr(buf, "listening on 127.0.0.1:");
        if (p)
            return atoi(p + strlen("listening on 127.0.0.1:"));
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

int main(void)
{
    char tmp[] = "/tmp/flexbed-hil-replay-XXXXXX";
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    char emu_dir[256], data_dir[256], cmd[1024], scn[256], scn_sim[256], rec[256], rep[256],
        sim[256];
    snprintf(emu_dir, sizeof emu_dir, "%s/emu", tmp);
    snprintf(data_dir, sizeof data_dir, "%s/data", tmp);
    snprintf(scn, sizeof scn, "%s/demo-hil.json", tmp);
    snprintf(scn_sim, sizeof scn_sim, "%s/demo-sim.json", tmp);
    snprintf(rec, sizeof rec, "%s/hil.db", tmp);
    snprintf(rep, sizeof rep, "%s/hil-replay.db", tmp);
    snprintf(sim, sizeof sim, "%s/sim.db", tmp);
    mkdir(emu_dir, 0700);
    mkdir(data_dir, 0700);
    /* The scenario's relative series path resolves next to the copy. */
    snprintf(cmd, sizeof cmd, "cp '%s' '%s/'", BASE_LOAD, data_dir);
    CHECK_INT(system(cmd), 0);

    pid_t emu = -1;
    int port = start_emulator(emu_dir, &emu);
    CHECK(port > 0, "the emulator did not start");
    struct proc_result r;
    if (port > 0 && write_variant(scn, port) == 0 && write_variant(scn_sim, 0) == 0) {
        double t0 = proc_now();
        flexbed_run(tmp, 150, &r, "run", scn, "--speed", "60", "--out", rec, "--quiet",
                    "--no-counterfactual", NULL);
        double wall = proc_now() - t0;
        CHECK(r.exit_code == 0, "recorded run: exit %d: %s", r.exit_code, r.errs);
        printf("recorded run (60x, %.1f s):\n%s", wall, r.out);
        kill(emu, SIGTERM);
        waitpid(emu, NULL, 0);
        emu = -1;

        /* Replay with nothing listening. */
        flexbed_run(tmp, 60, &r, "run", "--replay", rec, "--quiet", NULL);
        CHECK(r.exit_code == 0, "replay: exit %d: %s", r.exit_code, r.errs);
        CHECK_STR_CONTAINS(r.out, "replayed");
        CHECK(file_exists(rep), "no %s", rep);

        char s_rec[2048], s_rep[2048], s_sim[2048];
        settlement(rec, s_rec, sizeof s_rec);
        settlement(rep, s_rep, sizeof s_rep);
        printf("recorded settlement:\n%sreplayed settlement:\n%s", s_rec, s_rep);
        CHECK(s_rec[0] != '\0', "no settlement recorded");
        CHECK(!strcmp(s_rec, s_rep), "the replay settled differently");
        CHECK_INT(q_int(rec, "SELECT count(*) FROM mkt_matches WHERE delivered_wh > 0"), 2);
        CHECK(q_int(rec, "SELECT count(*) FROM journal") > 50, "journal too short");
        CHECK_INT(q_int(rep, "SELECT count(*) FROM events WHERE kind LIKE 'modbus%'"), 0);
        CHECK_INT(q_int(rep, "SELECT count(*) FROM events WHERE kind = 'replay'"), 1);
        CHECK_INT(q_int(rep, "SELECT count(*) FROM events WHERE kind = 'replay_diverged'"), 0);
        CHECK_INT(q_int(rep, "SELECT count(*) FROM runs WHERE variant = 'replay'"), 1);

        /* The same window in pure simulation: within 2 %. */
        flexbed_run(tmp, 60, &r, "run", scn_sim, "--out", sim, "--quiet", "--no-counterfactual",
                    NULL);
        CHECK(r.exit_code == 0, "simulation: exit %d: %s", r.exit_code, r.errs);
        settlement(sim, s_sim, sizeof s_sim);
        printf("pure simulation:\n%s", s_sim);
        for (int a = 1; a <= 2; a++) {
            char sql[160];
            snprintf(sql, sizeof sql, "SELECT delivered_wh FROM mkt_matches WHERE asset_id = %d",
                     a);
            double d_hil = (double)q_int(rec, sql), d_sim = (double)q_int(sim, sql);
            CHECK(d_sim > 0 && fabs(d_hil - d_sim) <= 0.02 * d_sim,
                  "asset %d delivered %.0f Wh on the device, %.0f Wh simulated", a, d_hil, d_sim);
        }
    }
    if (emu > 0) {
        kill(emu, SIGTERM);
        waitpid(emu, NULL, 0);
    }
    rm_tree(tmp);
    return check_done("test_hil_replay");
}
