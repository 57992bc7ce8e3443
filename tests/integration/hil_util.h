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

static inline char *slurp(const char *path)
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

/* The HIL scenario with the devices on the test's ports. */
static inline int write_variant(const char *path, int modbus_port, int ocpp_port)
{
    char *text = slurp(HIL);
    cJSON *d = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!d)
        return -1;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(d, "components"))
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
        if (!cJSON_IsString(name))
            continue;
        if (!strcmp(name->valuestring, "battery"))
            cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "port"), modbus_port);
        if (!strcmp(name->valuestring, "ev"))
            cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "ocpp_port"), ocpp_port);
    }
    char *out = cJSON_Print(d);
    cJSON_Delete(d);
    FILE *f = fopen(path, "w");
    if (!f || !out) {
        if (f)
            fclose(f);
        free(out);
        return -1;
    }
    fputs(out, f);
    fclose(f);
    free(out);
    return 0;
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
