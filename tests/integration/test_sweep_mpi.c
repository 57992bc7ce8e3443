/*
 * test_sweep_mpi.c: `mpirun -np N flexbed sweep` on localhost. A 2x2 sweep
 * (DSO threshold x seed, the demo-threshold variant cut at 21:00) run by
 * 2 and by 3 ranks writes every run's database and a summary.csv that is
 * byte-identical to the same sweep's with -j 2; a bad sweep file under MPI
 * is exit status 2 with its message once (rank 0 checks, the others stop
 * quietly); -j under MPI is refused.
 *
 * The ranks run with ASan's leak check off: Open MPI's own allocations in
 * plugins it unloads at exit cannot be attributed, let alone suppressed.
 * The run path the ranks fork is the one test_sweep checks for leaks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "proc.h"

#define SCN FLEXBED_SOURCE_DIR "/scenarios/variants/demo-threshold.json"

static void mpirun(const char *tmp, int np, struct proc_result *r, const char *const *args)
{
    char nps[16];
    snprintf(nps, sizeof nps, "%d", np);
    char *argv[32] = {(char *)FLEXBED_MPIEXEC, "-np", nps, "--oversubscribe",
                      (char *)FLEXBED_BINARY};
    int n = 5;
    for (; *args && n < 31; args++)
        argv[n++] = (char *)*args;
    argv[n] = NULL;
    pid_t pid = proc_start(tmp, argv);
    proc_wait(tmp, pid, 180, r);
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

int main(void)
{
    char tmpl[] = "/tmp/flexbed-mpi-XXXXXX";
    char *tmp = mkdtemp(tmpl);
    CHECK(tmp != NULL, "mkdtemp");
    if (!tmp)
        return check_done("test_sweep_mpi");
    /* root in a container, CI's usual case; shared-memory transport
     * without cross-process memory access; no leak check (above) */
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 1);
    setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 1);
    char asan[512];
    const char *old = getenv("ASAN_OPTIONS");
    snprintf(asan, sizeof asan, "%s%sdetect_leaks=0", old ? old : "", old && *old ? ":" : "");

    char sweep[512], out[512], path[600], sj[600], sm[600];
    struct proc_result r;
    snprintf(sweep, sizeof sweep, "%s/grid.json", tmp);
    check_write_file(sweep,
               "{\"name\": \"grid\", \"scenario\": \"" SCN "\",\n"
               " \"parameters\": [\n"
               "   {\"path\": \"components[name=oedas].threshold.limit_kw\", \"values\": [120, "
               "150]},\n"
               "   {\"path\": \"end\", \"values\": [\"2023-10-02T21:00:00+03:00\"]},\n"
               "   {\"path\": \"seed\", \"values\": [1, 2]}],\n"
               " \"outputs\": [\n"
               "   {\"name\": \"peak_kw\", \"signal\": \"transformer.p_kw\", \"stat\": \"max\"},\n"
               "   {\"name\": \"window_start\", \"report\": \"transformer.window_start\"},\n"
               "   {\"name\": \"delivered_kwh\", \"report\": \"total.delivered_kwh\"}]}\n");

    /* the reference: two local workers */
    snprintf(out, sizeof out, "%s/j2", tmp);
    flexbed_run(tmp, 120, &r, "sweep", sweep, "-j", "2", "--out", out, NULL);
    CHECK(r.exit_code == 0, "sweep -j 2: exit %d: %s", r.exit_code, r.errs);
    snprintf(sj, sizeof sj, "%s/summary.csv", out);
    const char *want = proc_slurp(sj);
    CHECK(strstr(want, "completed") != NULL, "-j 2 summary: %s", want);

    setenv("ASAN_OPTIONS", asan, 1);
    for (int np = 2; np <= 3; np++) {
        snprintf(out, sizeof out, "%s/mpi%d", tmp, np);
        const char *args[] = {"sweep", sweep, "--out", out, NULL};
        double t0 = proc_now();
        mpirun(tmp, np, &r, args);
        printf("mpirun -np %d: exit %d, %.1f s\n", np, r.exit_code, proc_now() - t0);
        CHECK(r.exit_code == 0, "mpirun -np %d: exit %d: %s", np, r.exit_code, r.errs);
        CHECK_STR_CONTAINS(r.out, "grid: 4 of 4 runs completed");
        for (int i = 1; i <= 4; i++) {
            snprintf(path, sizeof path, "%s/run-%04d.db", out, i);
            CHECK(file_exists(path), "%s missing", path);
        }
        snprintf(sm, sizeof sm, "%s/summary.csv", out);
        const char *got = proc_slurp(sm);
        CHECK(!strcmp(got, want), "np %d: summary.csv differs from -j 2's:\n%s\nvs\n%s", np, got,
              want);
    }

    /* a bad sweep file: rank 0 says so once, every rank stops with 2 */
    snprintf(path, sizeof path, "%s/bad.json", tmp);
    check_write_file(path, "{\"name\": \"bad\"}\n");
    snprintf(out, sizeof out, "%s/bad", tmp);
    const char *bad[] = {"sweep", path, "--out", out, NULL};
    mpirun(tmp, 2, &r, bad);
    CHECK_INT(r.exit_code, 2);
    CHECK_INT(count(r.errs, "scenario: expected the path of a scenario file"), 1);
    const char *jobs[] = {"sweep", sweep, "-j", "2", "--out", out, NULL};
    mpirun(tmp, 2, &r, jobs);
    CHECK_INT(r.exit_code, 2);
    CHECK_STR_CONTAINS(r.errs, "under MPI every rank runs one run at a time");
    if (old)
        setenv("ASAN_OPTIONS", old, 1);
    else
        unsetenv("ASAN_OPTIONS");
    rm_tree(tmp);
    return check_done("test_sweep_mpi");
}
