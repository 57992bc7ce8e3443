/*
 * test_generate.c: `flexbed generate city`. Two feeders with the default
 * shares give 2 feeder components on the EU LV circuit, 40 EVs whose
 * sessions are real ones (each EV's plug-in time of day and duration are
 * those of a session in the data), 10 batteries each with its meter and
 * FSP, 2 DSOs and a market of 1 + 2 + 10 participants; the same options
 * give the same bytes and another seed another file; the scenario runs,
 * its DSOs buy flexibility and its ledger verifies. Bad options are exit 2.
 */
#include <cjson/cJSON.h>
#include <math.h>

#include "check.h"
#include "proc.h"

#define SESSIONS FLEXBED_SOURCE_DIR "/scenarios/data/ev-sessions/ev-charging-reports.csv"

static int count_type(const cJSON *comps, const char *type)
{
    int n = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, comps)
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "type");
        n += cJSON_IsString(t) && !strcmp(t->valuestring, type);
    }
    return n;
}

/* Whether the data has a session plugged in at hh:mm lasting dur_s (to
 * the rounding of its hours to seconds). */
static int in_data(int hh, int mm, double dur_s)
{
    FILE *f = fopen(SESSIONS, "r");
    char line[512];
    int found = 0;
    while (f && !found && fgets(line, sizeof line, f)) {
        char *field[16];
        int nf = 0;
        for (char *p = line, *t; nf < 16 && (t = strsep(&p, ";")) != NULL;)
            field[nf++] = t;
        int d, mo, y, h, mi;
        if (nf < 11 || sscanf(field[5], "%d.%d.%d %d:%d", &d, &mo, &y, &h, &mi) != 5)
            continue;
        for (char *p = field[10]; *p; p++)
            if (*p == ',')
                *p = '.';
        if (h == hh && mi == mm && fabs(atof(field[10]) * 3600.0 - dur_s) <= 1.0)
            found = 1;
    }
    if (f)
        fclose(f);
    return found;
}

int main(void)
{
    char tmpl[] = "/tmp/flexbed-gen-XXXXXX";
    char *tmp = mkdtemp(tmpl);
    CHECK(tmp != NULL, "mkdtemp");
    if (!tmp)
        return check_done("test_generate");
    char a[512], b[512], c[512], db[512];
    snprintf(a, sizeof a, "%s/a.json", tmp);
    snprintf(b, sizeof b, "%s/b.json", tmp);
    snprintf(c, sizeof c, "%s/c.json", tmp);
    snprintf(db, sizeof db, "%s/city.db", tmp);
    struct proc_result r;
    flexbed_run(tmp, 30, &r, "generate", "city", "--feeders", "2", "--seed", "3", "--out", a, NULL);
    CHECK(r.exit_code == 0, "generate: exit %d: %s", r.exit_code, r.errs);
    CHECK_STR_CONTAINS(r.out, "2 feeders, 110 households, 40 EVs, 10 batteries and FSPs, 2 DSOs");
    flexbed_run(tmp, 30, &r, "generate", "city", "--feeders", "2", "--seed", "3", "--out", b, NULL);
    flexbed_run(tmp, 30, &r, "generate", "city", "--feeders", "2", "--seed", "4", "--out", c, NULL);
    const char *ta = proc_slurp(a), *tb = proc_slurp(b), *tc = proc_slurp(c);
    CHECK(*ta && !strcmp(ta, tb), "the same options gave different files");
    CHECK(strcmp(ta, tc), "another seed gave the same file");

    cJSON *root = cJSON_Parse(ta);
    CHECK(root != NULL, "not JSON");
    const cJSON *comps = cJSON_GetObjectItemCaseSensitive(root, "components");
    CHECK_INT(count_type(comps, "feeder"), 2);
    CHECK_INT(count_type(comps, "ev"), 40);
    CHECK_INT(count_type(comps, "battery"), 10);
    CHECK_INT(count_type(comps, "meter"), 10);
    CHECK_INT(count_type(comps, "fsp"), 10);
    CHECK_INT(count_type(comps, "dso"), 2);
    CHECK_INT(count_type(comps, "dispatch"), 2);
    CHECK_INT(count_type(comps, "transformer"), 2);
    const cJSON *parts = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "market"), "participants");
    CHECK_INT(cJSON_GetArraySize(parts), 13);
    /* every EV's session is one of the data's */
    int evs = 0, real = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, comps)
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "type");
        if (!cJSON_IsString(t) || strcmp(t->valuestring, "ev"))
            continue;
        const char *arr = cJSON_GetObjectItemCaseSensitive(e, "arrival")->valuestring;
        const char *dep = cJSON_GetObjectItemCaseSensitive(e, "departure")->valuestring;
        double soc = cJSON_GetObjectItemCaseSensitive(e, "soc_arrival")->valuedouble;
        int d1, h1, m1, s1, d2, h2, m2, s2;
        if (sscanf(arr, "2024-01-%dT%d:%d:%d", &d1, &h1, &m1, &s1) == 4 &&
            sscanf(dep, "2024-01-%dT%d:%d:%d", &d2, &h2, &m2, &s2) == 4) {
            double dur = (d2 - d1) * 86400.0 + (h2 - h1) * 3600.0 + (m2 - m1) * 60.0 + (s2 - s1);
            CHECK(d1 == 15 && s1 == 0, "arrival %s", arr);
            real += in_data(h1, m1, dur);
        }
        CHECK(soc >= 0.05 && soc <= 0.9, "soc_arrival %g", soc);
        evs++;
    }
    CHECK_INT(evs, 40);
    CHECK_INT(real, 40);
    cJSON_Delete(root);

    /* it runs: the DSOs buy, the ledger verifies */
    flexbed_run(tmp, 240, &r, "run", a, "--out", db, NULL);
    CHECK(r.exit_code == 0, "run: exit %d: %s", r.exit_code, r.errs);
    flexbed_run(tmp, 60, &r, "report", db, "--brief", NULL);
    CHECK_INT(r.exit_code, 0);
    CHECK_STR_CONTAINS(r.out, "ledger verified");
    CHECK(strstr(r.out, "flexibility delivered, ") != NULL, "nothing bought: %s", r.out);

    /* two dispatch platforms may not both control one asset */
    root = cJSON_Parse(ta);
    comps = cJSON_GetObjectItemCaseSensitive(root, "components");
    cJSON *twin = NULL;
    cJSON_ArrayForEach(e, comps)
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "type");
        if (cJSON_IsString(t) && !strcmp(t->valuestring, "dispatch") && !twin)
            twin = cJSON_Duplicate(e, 1);
    }
    if (twin) {
        cJSON_ReplaceItemInObject(twin, "name", cJSON_CreateString("twin_dispatch"));
        cJSON_AddItemToArray((cJSON *)comps, twin);
    }
    char *text = cJSON_Print(root);
    snprintf(b, sizeof b, "%s/twin.json", tmp);
    FILE *f = fopen(b, "w");
    if (f && text) {
        fputs(text, f);
        fclose(f);
    }
    cJSON_free(text);
    cJSON_Delete(root);
    snprintf(db, sizeof db, "%s/twin.db", tmp);
    flexbed_run(tmp, 60, &r, "run", b, "--out", db, NULL);
    CHECK_INT(r.exit_code, 2);
    CHECK(!file_exists(db), "a scenario refused at start left %s", db);
    CHECK_STR_CONTAINS(r.errs, "already controlled by f001_dispatch");

    /* bad options: exit 2, nothing written */
    snprintf(c, sizeof c, "%s/bad.json", tmp);
    flexbed_run(tmp, 10, &r, "generate", "city", "--feeders", "0", "--out", c, NULL);
    CHECK_INT(r.exit_code, 2);
    CHECK_STR_CONTAINS(r.errs, "--feeders 0");
    flexbed_run(tmp, 10, &r, "generate", "city", NULL);
    CHECK_INT(r.exit_code, 2);
    CHECK_STR_CONTAINS(r.errs, "--out FILE is required");
    flexbed_run(tmp, 10, &r, "generate", "town", "--out", c, NULL);
    CHECK_INT(r.exit_code, 2);
    flexbed_run(tmp, 10, &r, "generate", "city", "--out", "/nonexistent-dir/x.json", NULL);
    CHECK_INT(r.exit_code, 2);
    CHECK_STR_CONTAINS(r.errs, "--out /nonexistent-dir/x.json");
    flexbed_run(tmp, 10, &r, "generate", "city", "--sessions", a, "--out", c, NULL);
    CHECK_INT(r.exit_code, 2);
    CHECK_STR_CONTAINS(r.errs, "expected the columns Start_plugin");
    CHECK(!file_exists(c), "a failed generate left %s", c);
    flexbed_run(tmp, 10, &r, "generate", "--help", NULL);
    CHECK_INT(r.exit_code, 0);
    CHECK_STR_CONTAINS(r.out, "usage: flexbed generate city");
    rm_tree(tmp);
    return check_done("test_generate");
}
