/*
 * hil_util.h: what the tests that run the demo on emulated hardware share
 * (test_hil_demo.c, test_link_faults.c): the HIL scenario rewritten for
 * the test's ports, ports, queries of the result database, and waiting
 * for an emulator to listen. Header-only, after proc.h.
 */
#ifndef FLEXBED_TEST_HIL_UTIL_H
#define FLEXBED_TEST_HIL_UTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "proc.h"

#define HIL FLEXBED_SOURCE_DIR "/scenarios/hil/demo-hil.json"
#define DEMO FLEXBED_SOURCE_DIR "/scenarios/demo-2023-10-02.json"
#define BASE_LOAD FLEXBED_SOURCE_DIR "/scenarios/data/demo-base-load.csv"
#define START "2023-10-02T15:50:00+03:00"

/* A free loopback TCP port (bound, read back, released). */
static inline int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    socklen_t n = sizeof a;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int port = -1;
    if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(s, (struct sockaddr *)&a, &n) == 0)
        port = ntohs(a.sin_port);
    if (s >= 0)
        close(s);
    return port;
}

/* Copy the scenario at path_in to path_out (may be the same) with member
 * key of the component named `component` set to value (taken). 0 or -1. */
static inline int scenario_set(const char *path_in, const char *path_out, const char *component,
                               const char *key, cJSON *value)
{
    cJSON *d = cJSON_Parse(proc_slurp(path_in));
    int found = 0;
    cJSON *c, *components = cJSON_GetObjectItemCaseSensitive(d, "components");
    cJSON_ArrayForEach(c, components)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
        if (!found && value && cJSON_IsString(name) && !strcmp(name->valuestring, component)) {
            cJSON_DeleteItemFromObjectCaseSensitive(c, key);
            cJSON_AddItemToObject(c, key, value);
            found = 1;
        }
    }
    char *out = found ? cJSON_Print(d) : NULL;
    cJSON_Delete(d);
    if (!found)
        cJSON_Delete(value);
    FILE *f = out ? fopen(path_out, "w") : NULL;
    int rc = f && fputs(out, f) >= 0 ? 0 : -1;
    if (f && fclose(f))
        rc = -1;
    free(out);
    return rc;
}

/* The HIL scenario with the devices on the test's ports. */
static inline int write_variant(const char *path, int modbus_port, int ocpp_port)
{
    return scenario_set(HIL, path, "battery", "port", cJSON_CreateNumber(modbus_port)) ||
                   scenario_set(path, path, "ev", "ocpp_port", cJSON_CreateNumber(ocpp_port))
               ? -1
               : 0;
}

/* `flexbed emulate battery` with the demo's battery, as scripts/hil-demo.sh
 * starts it, paced at 60x, on an ephemeral port (see listening_port). */
static inline pid_t start_battery_emulator(const char *dir, const char *duration)
{
    char *argv[] = {(char *)FLEXBED_BINARY,
                    "emulate",
                    "battery",
                    "--port",
                    "0",
                    "--speed",
                    "60",
                    "--start",
                    START,
                    "--capacity-kwh",
                    "30",
                    "--soc",
                    "0.6",
                    "--soc-min",
                    "0.2",
                    "--soc-max",
                    "0.95",
                    "--round-trip",
                    "0.92",
                    "--p-charge-max-kw",
                    "10",
                    "--p-discharge-max-kw",
                    "10",
                    "--ramp-kw-per-s",
                    "0.5",
                    "--latency",
                    "35s",
                    "--duration",
                    (char *)duration,
                    NULL};
    return proc_start(dir, argv);
}

/* `flexbed emulate charger` with the demo's V2G car, connecting to url. */
static inline pid_t start_charger_emulator(const char *dir, const char *url, const char *duration)
{
    char *argv[] = {(char *)FLEXBED_BINARY,
                    "emulate",
                    "charger",
                    "--url",
                    (char *)url,
                    "--start",
                    START,
                    "--speed",
                    "60",
                    "--quiet",
                    "--capacity-kwh",
                    "40",
                    "--soc",
                    "0.7",
                    "--soc-target",
                    "0.5",
                    "--soc-min-discharge",
                    "0.3",
                    "--p-charge-max-kw",
                    "11",
                    "--p-discharge-max-kw",
                    "10",
                    "--granularity",
                    "amps",
                    "--min-current-a",
                    "6",
                    "--ramp-kw-per-s",
                    "0.5",
                    "--latency",
                    "33s",
                    "--efficiency",
                    "0.93",
                    "--meter-interval",
                    "0.2s",
                    "--duration",
                    (char *)duration,
                    NULL};
    return proc_start(dir, argv);
}

/* delivered_wh and payout of every match, in id order, as text. */
static inline void settlement(const char *db, char *out, size_t n)
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

static inline long long q_int(const char *db, const char *sql)
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

/* Wait for "listening on 127.0.0.1:PORT" in an emulator's stdout. */
static inline int listening_port(const char *dir)
{
    char path[512], buf[4096];
    snprintf(path, sizeof path, "%s/.stdout", dir);
    for (double t0 = proc_now(); proc_now() - t0 < 10;) {
        proc_read_head(path, buf, sizeof buf);
        const char *p = strstr(buf, "listening on 127.0.0.1:");
        if (p)
            return atoi(p + strlen("listening on 127.0.0.1:"));
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

static inline void stop(pid_t *pid)
{
    if (*pid > 0) {
        kill(*pid, SIGTERM);
        waitpid(*pid, NULL, 0);
    }
    *pid = -1;
}

#endif
