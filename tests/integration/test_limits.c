/*
 * test_limits.c: runs without bounds are refused before they write, and a
 * disk that fills during a run ends it cleanly, marked failed.
 *
 *  - an end in year 9999, a step of 1 us, and a run recording more samples
 *    than --max-samples: exit 2 saying what the run would write and how to
 *    allow it, no database written;
 *  - a run whose estimated database does not fit in its file system's free
 *    space (a 300 kB tmpfs): exit 2;
 *  - a disk filled while the run writes (an 8 MB tmpfs, filled by the test
 *    a second into a paced run): exit 1, the run marked "failed" with the
 *    reason, the database intact (PRAGMA integrity_check), `flexbed report`
 *    saying "failed".
 * The tmpfs cases need root and mount(2) (skipped with a message where the
 * machine does not allow them).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "check.h"
#include "proc.h"

#define EU FLEXBED_SOURCE_DIR "/scenarios/eu-lv-feeder.json"
#define DEMO FLEXBED_SOURCE_DIR "/scenarios/demo-2023-10-02.json"

static void write_scenario(const char *path, const char *start, const char *end, const char *step)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    fprintf(f,
            "{\"name\": \"big\", \"start\": \"%s\", \"end\": \"%s\", \"step\": \"%s\",\n"
            " \"components\": []}\n",
            start, end, step);
    fclose(f);
}

static const char *status_of(const char *db, char *msg, size_t n)
{
    static char st[32];
    st[0] = msg[0] = '\0';
    sqlite3 *h;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        return st;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(h, "SELECT status, message FROM runs ORDER BY id LIMIT 1", -1, &q,
                           NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW) {
        snprintf(st, sizeof st, "%s", (const char *)sqlite3_column_text(q, 0));
        snprintf(msg, n, "%s",
                 sqlite3_column_text(q, 1) ? (const char *)sqlite3_column_text(q, 1) : "");
    }
    sqlite3_finalize(q);
    if (sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        CHECK(!strcmp((const char *)sqlite3_column_text(q, 0), "ok"), "integrity_check: %s",
              (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    sqlite3_close(h);
    return st;
}

int main(void)
{
    char tmp[] = "/tmp/flexbed-limits-XXXXXX";
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    char scn[PATH_MAX], db[PATH_MAX], mnt[1024];
    snprintf(scn, sizeof scn, "%s/big.json", tmp);
    snprintf(db, sizeof db, "%s/big.db", tmp);
    struct proc_result r;

    /* the same scenario at a sane size runs */
    write_scenario(scn, "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", "1min");
    flexbed_run(tmp, 60, &r, "run", scn, "--out", db, "--quiet", NULL);
    CHECK(r.exit_code == 0, "a day: exit %d: %s", r.exit_code, r.errs);
    unlink(db);

    write_scenario(scn, "2024-01-01T00:00:00Z", "9999-01-01T00:00:00Z", "1min");
    flexbed_run(tmp, 60, &r, "run", scn, "--out", db, NULL);
    CHECK_INT(r.exit_code, 2);
    CHECK_STR_CONTAINS(r.errs, "steps of 1min from start to end, more than the limit");
    CHECK_STR_CONTAINS(r.errs, "--max-steps");
    CHECK(!file_exists(db), "a refused run wrote %s", db);

    write_scenario(scn, "2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z", "1us");
    flexbed_run(tmp, 60, &r, "run", scn, "--out", db, NULL);
    CHECK_INT(r.exit_code, 2);
    CHECK_STR_CONTAINS(r.errs, "3600000000 steps of 1us");
    CHECK(!file_exists(db), "a refused run wrote %s", db);

    flexbed_run(tmp, 60, &r, "run", DEMO, "--out", db, "--max-samples", "1000", NULL);
    CHECK_INT(r.exit_code, 2);
    CHECK_STR_CONTAINS(r.errs, "main and counterfactual runs");
    CHECK_STR_CONTAINS(r.errs, "--max-samples N");
    CHECK(!file_exists(db), "a refused run wrote %s", db);
    flexbed_run(tmp, 60, &r, "run", DEMO, "--out", db, "--max-samples", "lots", NULL);
    CHECK_INT(r.exit_code, 2);

    /* Absurd asset parameters: outside their physical ranges, exit 2
     * naming the field (they ran, reporting inf and 1e297 kW of losses). */
    static const struct {
        const char *key, *value, *msg;
    } absurd[] = {
        {"\"capacity_kwh\": 30", "\"capacity_kwh\": 1e308",
         "].capacity_kwh: expected a number in [0, 1000000], got 1e+308"},
        {"\"rating_kva\": 250", "\"rating_kva\": 1e300",
         "].rating_kva: expected a number in [0, 1000000], got 1e+300"},
        {"\"p_charge_max_kw\": 10", "\"p_charge_max_kw\": 1e12", "].p_charge_max_kw"},
    };
    char *demo = NULL;
    {
        FILE *f = fopen(DEMO, "r");
        CHECK(f != NULL, "open %s", DEMO);
        if (f) {
            demo = calloc(1, 1 << 20);
            size_t n = fread(demo, 1, (1 << 20) - 1, f);
            demo[n] = 0;
            fclose(f);
        }
    }
    for (size_t i = 0; demo && i < sizeof absurd / sizeof absurd[0]; i++) {
        char *at = strstr(demo, absurd[i].key);
        CHECK(at != NULL, "the demo has no %s", absurd[i].key);
        if (!at)
            continue;
        FILE *f = fopen(scn, "w");
        if (!f)
            break;
        /* the demo with one value replaced and its data file made absolute */
        for (const char *p = demo; *p;) {
            if (p == at) {
                fputs(absurd[i].value, f);
                p += strlen(absurd[i].key);
            } else if (!strncmp(p, "\"data/", 6)) {
                fputs("\"" FLEXBED_SOURCE_DIR "/scenarios/data/", f);
                p += 6;
            } else {
                fputc(*p++, f);
            }
        }
        fclose(f);
        flexbed_run(tmp, 60, &r, "run", scn, "--out", db, NULL);
        CHECK_INT(r.exit_code, 2);
        CHECK_STR_CONTAINS(r.errs, absurd[i].msg);
        CHECK(!file_exists(db), "a refused run wrote %s", db);
    }
    free(demo);

    /* Small file systems: a tmpfs, where the machine allows mounting one. */
    snprintf(mnt, sizeof mnt, "%s/fs", tmp);
    mkdir(mnt, 0700);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=300k") != 0) {
        printf("SKIPPED: cannot mount a tmpfs here (%s): the disk-space cases are not run\n",
               strerror(errno));
        rm_tree(tmp);
        return check_done("test_limits");
    }
    snprintf(db, sizeof db, "%s/eu.db", mnt);
    flexbed_run(tmp, 60, &r, "run", EU, "--out", db, NULL);
    CHECK_INT(r.exit_code, 2);
    CHECK_STR_CONTAINS(r.errs, "free");
    CHECK(!file_exists(db), "a refused run wrote %s", db);
    umount(mnt);

    /* The disk fills while the run writes. */
    CHECK_INT(mount("tmpfs", mnt, "tmpfs", 0, "size=8m"), 0);
    char *argv[] = {
        (char *)FLEXBED_BINARY, "run", EU, "--out", db, "--quiet", "--speed", "20000", NULL};
    pid_t pid = proc_start(tmp, argv);
    struct timespec ts = {1, 0};
    nanosleep(&ts, NULL);
    char fill[1200];
    snprintf(fill, sizeof fill, "dd if=/dev/zero of='%s/filler' bs=64k 2>/dev/null", mnt);
    CHECK(system(fill) != 0, "the filler should end on a full disk");
    proc_wait(tmp, pid, 60, &r);
    CHECK_INT(r.exit_code, 1);
    char msg[512];
    const char *st = status_of(db, msg, sizeof msg);
    CHECK(!strcmp(st, "failed"), "a run on a full disk is marked \"%s\" (%s)", st, msg);
    CHECK_STR_CONTAINS(msg, "full");
    flexbed_run(tmp, 60, &r, "report", db, NULL);
    CHECK_STR_CONTAINS(r.out, "failed");
    printf("full disk: exit 1, run marked %s: %s\n", st, msg);
    umount(mnt);
    rm_tree(tmp);
    return check_done("test_limits");
}
