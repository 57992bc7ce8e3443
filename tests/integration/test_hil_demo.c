/*
 * test_hil_demo.c: the demo on emulated hardware, recorded and replayed.
 *
 * scenarios/hil/demo-hil.json is the 2 October 2023 demo with its battery
 * on Modbus TCP and its V2G charger on OCPP 1.6J. Here it runs against
 * `flexbed emulate battery` and `flexbed emulate charger` on ephemeral
 * 127.0.0.1 ports (the emulators carry the demo's asset parameters, as
 * scripts/hil-demo.sh starts them), paced at 60x (about 65 s). Checks: both
 * assets deliver within 2 % of the pure simulation of the demo, the market
 * settles, and `flexbed run --replay` with the emulators gone repeats the
 * recorded session as pure simulation with the same settlement and without
 * a single device event.
 */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "hil_util.h"
#include "proc.h"


int main(void)
{
    char tmp[] = "/tmp/flexbed-hil-demo-XXXXXX";
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    char bat_dir[64], chg_dir[64], hil_dir[64], data_dir[64], cmd[1024], scn[256], rec[256],
        rep[256], sim[256], url[128];
    snprintf(bat_dir, sizeof bat_dir, "%s/bat", tmp);
    snprintf(chg_dir, sizeof chg_dir, "%s/chg", tmp);
    snprintf(hil_dir, sizeof hil_dir, "%s/hil", tmp);
    snprintf(data_dir, sizeof data_dir, "%s/data", tmp);
    snprintf(scn, sizeof scn, "%s/demo-hil.json", hil_dir);
    snprintf(rec, sizeof rec, "%s/hil.db", tmp);
    snprintf(rep, sizeof rep, "%s/hil-replay.db", tmp);
    snprintf(sim, sizeof sim, "%s/sim.db", tmp);
    mkdir(bat_dir, 0700);
    mkdir(chg_dir, 0700);
    mkdir(hil_dir, 0700);
    mkdir(data_dir, 0700);
    /* The scenario's "../data/demo-base-load.csv" resolves next to the copy. */
    snprintf(cmd, sizeof cmd, "cp '%s' '%s/'", BASE_LOAD, data_dir);
    CHECK_INT(system(cmd), 0);

    /* scripts/hil-demo.sh fails when a device does: an emulator that
     * cannot start (here: a speed it refuses) is exit status 1 at once,
     * not a demo that settles a battery that never delivered. */
    {
        char *sh_argv[] = {"/bin/sh",
                           FLEXBED_SOURCE_DIR "/scripts/hil-demo.sh",
                           (char *)FLEXBED_BINARY,
                           "not-a-speed",
                           rec,
                           NULL};
        struct proc_result sr;
        pid_t sp = proc_start(tmp, sh_argv);
        proc_wait(tmp, sp, 60, &sr);
        CHECK_INT(sr.exit_code, 1);
        CHECK_STR_CONTAINS(sr.errs, "hil-demo: the battery emulator did not start");
        CHECK(!file_exists(rec), "a failed hil-demo.sh wrote %s", rec);
    }

    /* The demo in pure simulation: what the devices must reproduce. */
    struct proc_result r;
    flexbed_run(tmp, 60, &r, "run", DEMO, "--out", sim, "--quiet", "--no-counterfactual", NULL);
    CHECK(r.exit_code == 0, "simulation: exit %d: %s", r.exit_code, r.errs);

    /* The emulators, as scripts/hil-demo.sh starts them. */
    pid_t bat = start_battery_emulator(bat_dir, "150s"), chg = -1;
    int mport = listening_port(bat_dir), oport = free_port();
    CHECK(mport > 0 && oport > 0, "ports: modbus %d, ocpp %d", mport, oport);
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/ocpp/CP1", oport);
    if (mport > 0 && oport > 0 && write_variant(scn, mport, oport) == 0) {
        chg = start_charger_emulator(chg_dir, url, "150s");
        double t0 = proc_now();
        flexbed_run(tmp, 150, &r, "run", scn, "--speed", "60", "--out", rec, "--quiet",
                    "--no-counterfactual", NULL);
        double wall = proc_now() - t0;
        CHECK(r.exit_code == 0, "recorded run: exit %d: %s", r.exit_code, r.errs);
        printf("recorded run (60x, %.1f s):\n%s", wall, r.out);
        stop(&bat);
        stop(&chg);

        char s_rec[2048], s_rep[2048], s_sim[2048];
        settlement(rec, s_rec, sizeof s_rec);
        settlement(sim, s_sim, sizeof s_sim);
        printf("on the devices:\n%spure simulation:\n%s", s_rec, s_sim);
        CHECK_INT(q_int(rec, "SELECT count(*) FROM mkt_matches WHERE state = 4"), 2);
        for (int a = 1; a <= 2; a++) {
            char sql[160];
            snprintf(sql, sizeof sql, "SELECT delivered_wh FROM mkt_matches WHERE asset_id = %d",
                     a);
            double d_hil = (double)q_int(rec, sql), d_sim = (double)q_int(sim, sql);
            CHECK(d_sim > 0 && fabs(d_hil - d_sim) <= 0.02 * d_sim,
                  "asset %d delivered %.0f Wh on the device, %.0f Wh simulated", a, d_hil, d_sim);
        }
        CHECK(q_int(rec, "SELECT count(*) FROM journal") > 100, "journal too short");
        CHECK(q_int(rec, "SELECT count(*) FROM events WHERE kind = 'device_lost'") == 0,
              "a device was lost");

        /* Replay with nothing listening. */
        flexbed_run(tmp, 60, &r, "run", "--replay", rec, "--quiet", NULL);
        CHECK(r.exit_code == 0, "replay: exit %d: %s", r.exit_code, r.errs);
        CHECK_STR_CONTAINS(r.out, "replayed");
        settlement(rep, s_rep, sizeof s_rep);
        CHECK(s_rec[0] != '\0', "no settlement recorded");
        CHECK(!strcmp(s_rec, s_rep), "the replay settled differently:\n%s", s_rep);
        CHECK_INT(q_int(rep, "SELECT count(*) FROM events WHERE kind LIKE 'modbus%' OR kind LIKE "
                             "'ocpp%'"),
                  0);
        CHECK_INT(q_int(rep, "SELECT count(*) FROM events WHERE kind = 'replay_diverged'"), 0);
        CHECK_INT(q_int(rep, "SELECT count(*) FROM runs WHERE variant = 'replay'"), 1);
    }
    stop(&bat);
    stop(&chg);
    rm_tree(tmp);
    return check_done("test_hil_demo");
}
