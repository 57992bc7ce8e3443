/*
 * cmd_powerflow.c: `flexbed powerflow FILE`, a planner's first look at an
 * OpenDSS circuit: load it (what is not taken is an error naming file:line
 * and the element), solve the snapshot with its regulators and capacitor
 * controls acting, and print what came out: size, solver, iterations, the
 * source's power, losses, the voltage extremes and where, every regulator's
 * tap and every controlled capacitor's state. --csv writes every bus-node
 * voltage in the column layout of OpenDSS's own exports, so the two can be
 * compared line by line.
 */
#include <complex.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../models/feeder/feeder.h"
#include "cli.h"

static void usage(FILE *f)
{
    fputs("usage: flexbed powerflow FILE [--csv OUT] [--tolerance PU] [--nodal]\n"
          "                         [--controls static|off] [--quiet]\n"
          "\n"
          "Load an OpenDSS circuit (its Master.dss: Redirect / Compile, New / Edit,\n"
          "line codes and geometries, transformers, regulators, capacitors, switches,\n"
          "loads and DER; docs/models.md lists the subset) and solve its snapshot\n"
          "power flow (unbalanced three-phase; the radial sweep where it applies,\n"
          "else the sparse nodal solver). Prints the circuit's size and solver,\n"
          "iterations, the source's power, losses, the lowest and highest voltage\n"
          "and where, and the regulators' taps and controlled capacitors' states.\n"
          "\n"
          "  --csv OUT        write every bus-node voltage to OUT:\n"
          "                   bus,node,kVbase_LN,Vmag_V,Vang_deg,Vmag_pu,Vre_V,Vim_V\n"
          "                   (OpenDSS's export columns; dead buses at 0 V)\n"
          "  --tolerance PU   convergence: largest voltage change of an iteration, pu\n"
          "                   (default 1e-9; OpenDSS's default is 1e-4)\n"
          "  --nodal          use the nodal solver even where the sweep applies\n"
          "  --controls MODE  static (default): regulators and capacitor controls act\n"
          "                   as in OpenDSS's static mode; off: as loaded\n"
          "  --quiet          no warnings about skipped output-only commands\n"
          "\n"
          "Exit status: 0 solved, 1 the solution did not converge, 2 bad input.\n",
          f);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Every bus-node voltage as OpenDSS's export writes them, into f (a
 * temporary file beside the output, renamed over it when complete). */
static int write_csv(FILE *f, const fdr_circuit *c, const fdr_solver *s)
{
    fputs("bus,node,kVbase_LN,Vmag_V,Vang_deg,Vmag_pu,Vre_V,Vim_V\n", f);
    for (int b = 0; b < fdr_bus_count(c); b++) {
        double kv = fdr_bus_kv_base(c, b) / sqrt(3.0);
        unsigned ph = fdr_bus_phases(c, b);
        for (int p = 1; p <= 3; p++) {
            if (!(ph & (1u << (p - 1))))
                continue;
            double complex v = fdr_bus_v(s, b, p);
            fprintf(f, "%s,%d,%.9g,%.9g,%.6f,%.9g,%.9g,%.9g\n", fdr_bus_name(c, b), p, kv, cabs(v),
                    carg(v) * 180.0 / M_PI, kv > 0 ? cabs(v) / (kv * 1000.0) : 0.0, creal(v),
                    cimag(v));
        }
    }
    return ferror(f) ? -1 : 0;
}

static void drop_tmp(FILE *f, const char *tmp)
{
    if (f) {
        fclose(f);
        remove(tmp);
    }
}

int cmd_powerflow(int argc, char **argv)
{
    static const struct option opts[] = {{"csv", required_argument, NULL, 'c'},
                                         {"tolerance", required_argument, NULL, 't'},
                                         {"nodal", no_argument, NULL, 'n'},
                                         {"controls", required_argument, NULL, 'm'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *csv = NULL;
    double tol = 0;
    int nodal = 0, controls = 1, quiet = 0, o;
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            csv = optarg;
            break;
        case 't': {
            char *end;
            errno = 0;
            tol = strtod(optarg, &end);
            if (errno || *end || !(tol > 0 && tol < 1)) {
                fprintf(stderr, "flexbed powerflow: --tolerance %s: want a number in (0, 1)\n",
                        optarg);
                return CLI_USAGE;
            }
            break;
        }
        case 'n':
            nodal = 1;
            break;
        case 'm':
            if (!strcmp(optarg, "static"))
                controls = 1;
            else if (!strcmp(optarg, "off"))
                controls = 0;
            else {
                fprintf(stderr, "flexbed powerflow: --controls %s: want static or off\n", optarg);
                return CLI_USAGE;
            }
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return CLI_OK;
        default:
            fprintf(stderr, "flexbed powerflow: unknown option %s\n", argv[optind - 1]);
            usage(stderr);
            return CLI_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "flexbed powerflow: %s\n",
                optind >= argc ? "which circuit? (an OpenDSS Master.dss)" : "one circuit only");
        usage(stderr);
        return CLI_USAGE;
    }
    const char *path = argv[optind];
    /* the output first: a path that cannot be written is bad input, found
     * before any work; an existing file is replaced only by a whole one */
    char tmp[PATH_MAX];
    FILE *cf = NULL;
    if (csv) {
        if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp-%ld", csv, (long)getpid()) >= sizeof tmp ||
            !(cf = fopen(tmp, "w"))) {
            fprintf(stderr, "flexbed powerflow: --csv %s: %s\n", csv,
                    errno ? strerror(errno) : "path too long");
            return CLI_USAGE;
        }
    }
    struct sim_err err = {{0}};
    struct fdr_warnings warn = {0};
    double t0 = now_s();
    fdr_circuit *c;
    if (controls) {
        c = fdr_load_dss(path, &warn, &err);
    } else {
        /* the file as written, then its controls off */
        char text[PATH_MAX + 64];
        const char *slash = strrchr(path, '/');
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
        snprintf(text, sizeof text, "Redirect \"%s\"\nSet controlmode=off\n",
                 slash ? slash + 1 : path);
        c = fdr_load_dss_string(text, path, dir, &warn, &err);
    }
    double t_load = now_s() - t0;
    if (!quiet) {
        size_t shown = warn.count < 5 ? warn.count : 5;
        for (size_t i = 0; i < shown; i++)
            fprintf(stderr, "warning: %s\n", warn.msg[i]);
        if (warn.count > shown)
            fprintf(stderr, "warning: and %zu more of the same kind (--quiet hides them)\n",
                    warn.count - shown);
    }
    fdr_warnings_free(&warn);
    if (!c) {
        fprintf(stderr, "flexbed powerflow: %s\n", err.msg);
        drop_tmp(cf, tmp);
        return CLI_USAGE;
    }
    int nrc;
    if (nodal && (nrc = fdr_circuit_use_nodal(c, &err))) {
        fprintf(stderr, "flexbed powerflow: %s\n", err.msg);
        fdr_circuit_free(c);
        drop_tmp(cf, tmp);
        return cli_exit_code(nrc);
    }
    fdr_solver *s = fdr_solver_new(c, &err);
    if (!s) {
        fprintf(stderr, "flexbed powerflow: %s\n", err.msg);
        fdr_circuit_free(c);
        drop_tmp(cf, tmp);
        return CLI_FAIL;
    }
    if (tol > 0)
        fdr_solver_set_tolerance(s, tol, 0);
    int it = 0;
    t0 = now_s();
    int rc = fdr_solve(s, &it, &err);
    double t_solve = now_s() - t0;

    int nodes = 0, dead = 0, at_lo = -1, at_hi = -1, ph_lo = 0, ph_hi = 0;
    double lo = INFINITY, hi = -INFINITY;
    /* line to line too: on a three-wire delta feeder only those are physical */
    int ll_lo = -1, ll_hi = -1, pp_lo = 0, pp_hi = 0;
    double llo = INFINITY, lhi = -INFINITY;
    for (int b = 0; b < fdr_bus_count(c); b++) {
        unsigned ph = fdr_bus_phases(c, b);
        int live = fdr_bus_energised(c, b);
        dead += !live;
        for (int p = 1; p <= 3; p++) {
            if (!(ph & (1u << (p - 1))))
                continue;
            nodes++;
            if (!live || fdr_bus_kv_base(c, b) <= 0)
                continue;
            double v = cabs(fdr_bus_v_pu(s, b, p));
            if (v < lo)
                lo = v, at_lo = b, ph_lo = p;
            if (v > hi)
                hi = v, at_hi = b, ph_hi = p;
            int q = p % 3 + 1;
            if (!(ph & (1u << (q - 1))))
                continue; /* the pairs 1-2, 2-3 and 3-1 the bus has */
            double vll =
                cabs(fdr_bus_v(s, b, p) - fdr_bus_v(s, b, q)) / (fdr_bus_kv_base(c, b) * 1000.0);
            if (vll < llo)
                llo = vll, ll_lo = b, pp_lo = p * 10 + q;
            if (vll > lhi)
                lhi = vll, ll_hi = b, pp_hi = p * 10 + q;
        }
    }
    printf("%s: %d buses (%d bus-nodes%s), %d lines, %d transformers, %d loads; %s solver\n", path,
           fdr_bus_count(c), nodes, dead ? ", some dead behind open switches" : "",
           fdr_line_count(c), fdr_xfmr_count(c), fdr_load_count(c), fdr_circuit_method(c));
    if (rc) {
        fprintf(stderr, "flexbed powerflow: %s\n", err.msg);
        fdr_solver_free(s);
        fdr_circuit_free(c);
        drop_tmp(cf, tmp);
        return cli_exit_code(rc);
    }
    double p = 0, q = 0;
    fdr_source_pq(s, &p, &q);
    struct fdr_losses l;
    fdr_losses(s, &l);
    printf("solved: %d iterations, %d control iterations; loaded in %.1f ms, solved in %.2f ms\n",
           it, fdr_solver_control_iterations(s), 1e3 * t_load, 1e3 * t_solve);
    printf("source: %.3f kW, %.3f kvar; losses %.3f kW (lines %.3f, transformers %.3f)\n", p, q,
           l.total_kw, l.lines_kw, l.xfmr_kw);
    if (at_lo >= 0)
        printf("phase to ground: lowest %.5f pu at %s.%d, highest %.5f pu at %s.%d\n", lo,
               fdr_bus_name(c, at_lo), ph_lo, hi, fdr_bus_name(c, at_hi), ph_hi);
    if (ll_lo >= 0)
        printf("line to line: lowest %.5f pu at %s.%d.%d, highest %.5f pu at %s.%d.%d\n", llo,
               fdr_bus_name(c, ll_lo), pp_lo / 10, pp_lo % 10, lhi, fdr_bus_name(c, ll_hi),
               pp_hi / 10, pp_hi % 10);
    for (int g = 0; g < fdr_regulator_count(c); g++) {
        printf("regulator %s: tap %.5f\n", fdr_regulator_name(c, g), fdr_regulator_tap(s, g));
    }
    for (int k = 0; k < fdr_capcontrol_count(c); k++)
        printf("capcontrol %s: %d step%s in\n", fdr_capcontrol_name(c, k),
               fdr_capcontrol_steps(s, k), fdr_capcontrol_steps(s, k) == 1 ? "" : "s");
    int out = CLI_OK;
    if (cf) {
        int bad = write_csv(cf, c, s);
        bad |= fclose(cf) != 0;
        if (bad || rename(tmp, csv)) {
            fprintf(stderr, "flexbed powerflow: %s: %s\n", csv, strerror(errno));
            remove(tmp);
            out = CLI_FAIL;
        } else {
            printf("voltages: %s (%d bus-nodes)\n", csv, nodes);
        }
    }
    fdr_solver_free(s);
    fdr_circuit_free(c);
    return out;
}
