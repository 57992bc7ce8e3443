/*
 * line_constants.c: series impedance and shunt capacitance per metre of an
 * overhead line from its conductors' positions and wire data (OpenDSS's
 * LineGeometry + WireData), with Carson's earth return and Kron reduction
 * of the neutrals.
 *
 * The physics, for conductors i, j at (x, h) with resistance R, GMR and
 * radius r, angular frequency w and earth resistivity rho:
 *   Z_ii = Zint_i + j w mu0/(2 pi) ln(1/GMR_i) + Ze_ii
 *   Z_ij =          j w mu0/(2 pi) ln(1/D_ij)  + Ze_ij
 * At power frequencies (40 Hz < f < 1 kHz) the internal reactance is left
 * out, as the GMR already accounts for it (so results match published
 * conductor tables); Zint is then the AC resistance, or with Deri's model
 * the real part of the round-conductor skin-effect impedance from Rdc.
 * Earth return Ze, by the earth model (OpenDSS `Set EarthModel=`):
 *   carson      Carson's equations with the first terms only (Kersting's
 *               "modified Carson"): Ze = w mu0/8 + j w mu0/(2 pi)
 *               ln(658.5 sqrt(rho/f)), the same for every pair;
 *   fullcarson  Carson's series to the fourth order (Tleis' notation);
 *   deri        Deri's complex depth of return, p = 1/sqrt(j w mu0/rho):
 *               Ze_ii = j w mu0/(2 pi) ln(2 (h_i + p)),
 *               Ze_ij = j w mu0/(2 pi) ln(sqrt((h_i + h_j + 2p)^2 + dx^2)).
 * Capacitance: potential coefficients P_ii = ln(2 h_i / r_i), P_ij =
 * ln(D'_ij / D_ij) (D' to the image of j), C = 2 pi e0 P^-1. Reduction:
 * Z_pp - Z_pn Z_nn^-1 Z_np for the series matrix; the phase block of C
 * (the neutrals held at earth potential) for the shunt.
 * Concentric-neutral cables (CNData): each phase core's k neutral strands
 * are one more conductor, of resistance R_strand / k and GMR
 * (GMR_strand k R^(k-1))^(1/k) on the circle of radius R = (D_cable -
 * D_strand) / 2, at R from its own core, (D^k - R^k)^(1/k) from other
 * cables' cores and bare conductors and D from other cables' neutrals;
 * all are Kron-reduced; each phase's capacitance is to its own screen
 * only, 2 pi e0 er / ln(r_out / r_in) over its insulation (Kersting ch. 4
 * and 5; OpenDSS's CNLineConstants treat them alike). Buried conductors
 * have h < 0.
 * Constants as OpenDSS uses them (mu0 = 12.56637e-7 H/m, e0 = 8.854e-12
 * F/m, 658.5), so the computed matrices agree with its own.
 */
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_complex.h>
#include <gsl/gsl_complex_math.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_permutation.h>

#include "feeder_impl.h"

#define MU0 12.56637e-7
#define E0 8.854e-12
#define TWO_PI 6.283185307

/* Round-conductor I0(z)/I1(z) for complex z by their power series (GSL has
 * no complex-argument Bessel functions); above |z| = 35 the ratio is 1 to
 * double precision, as OpenDSS takes it. */
static double complex i0_over_i1(double complex z)
{
    if (cabs(z) > 35.0)
        return 1.0;
    double complex q = z * z / 4.0, t0 = 1.0, t1 = z / 2.0, s0 = 0, s1 = 0;
    for (int k = 0; k < 200; k++) {
        s0 += t0;
        s1 += t1;
        t0 *= q / ((double)(k + 1) * (k + 1));
        t1 *= q / ((double)(k + 1) * (k + 2));
        if (cabs(t0) < 1e-17 * cabs(s0) && cabs(t1) < 1e-17 * cabs(s1))
            break;
    }
    return s0 / s1;
}

/* Carson's series to the fourth order for a pair at distance d to the
 * image, angle theta from the vertical; returns the earth term in the
 * same frame as the simplified model (per unit w mu0 / pi, less ln d). */
static double complex full_carson(double d, double theta, double f, double rho)
{
    const double b1 = 1.0 / (3.0 * sqrt(2.0)), b2 = 1.0 / 16.0, b3 = b1 / 15.0, b4 = b2 / 24.0,
                 d2 = b2 * M_PI / 4.0, d4 = b4 * M_PI / 4.0, c2 = 1.3659315,
                 c4 = c2 + 1.0 / 4.0 + 1.0 / 6.0;
    double m = 2.8099e-3 * d * sqrt(f / rho), m2 = m * m, m3 = m2 * m, m4 = m3 * m;
    double re = M_PI / 8.0 - b1 * m * cos(theta) +
                b2 * m2 * ((c2 - log(m)) * cos(2 * theta) + theta * sin(2 * theta)) +
                b3 * m3 * cos(3 * theta) - d4 * m4 * cos(4 * theta);
    double im = 0.5 * log(1.85138 / m) + b1 * m * cos(theta) - d2 * m2 * cos(2 * theta) +
                b3 * m3 * cos(3 * theta) -
                b4 * m4 * ((c4 - log(m)) * cos(4 * theta) + theta * sin(4 * theta)) + 0.5 * log(d);
    return re + I * im;
}

/* Invert the n x n complex matrix a (row-major) in place with GSL's LU. */
static int cinvert(double complex *a, int n)
{
    gsl_matrix_complex *m = gsl_matrix_complex_alloc((size_t)n, (size_t)n);
    gsl_matrix_complex *inv = gsl_matrix_complex_alloc((size_t)n, (size_t)n);
    gsl_permutation *perm = gsl_permutation_alloc((size_t)n);
    int rc = !m || !inv || !perm;
    if (!rc) {
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                gsl_matrix_complex_set(m, (size_t)i, (size_t)j,
                                       gsl_complex_rect(creal(a[i * n + j]), cimag(a[i * n + j])));
        int sign;
        gsl_error_handler_t *old = gsl_set_error_handler_off();
        rc = gsl_linalg_complex_LU_decomp(m, perm, &sign) ||
             gsl_linalg_complex_LU_invert(m, perm, inv);
        gsl_set_error_handler(old);
        for (int i = 0; !rc && i < n; i++)
            for (int j = 0; j < n; j++) {
                gsl_complex v = gsl_matrix_complex_get(inv, (size_t)i, (size_t)j);
                a[i * n + j] = GSL_REAL(v) + I * GSL_IMAG(v);
                if (!isfinite(creal(a[i * n + j])) || !isfinite(cimag(a[i * n + j])))
                    rc = 1;
            }
    }
    gsl_matrix_complex_free(m);
    gsl_matrix_complex_free(inv);
    gsl_permutation_free(perm);
    return rc;
}

/* The earth-return term Ze between conductors a and b (self: same). */
static double complex earth(int model, double w, double freq, double rho, double complex me,
                            double complex lf, const struct fdr_lc_cond *a,
                            const struct fdr_lc_cond *b, int self)
{
    double dx = a->x_m - b->x_m, hi = a->h_m, hj = b->h_m;
    if (model == FDR_EARTH_FULLCARSON) { /* images: buried conductors by their depth */
        hi = fabs(hi);
        hj = fabs(hj);
    }
    switch (model) {
    case FDR_EARTH_CARSON:
        return w * MU0 / 8.0 + I * (w * MU0 / TWO_PI) * log(658.5 * sqrt(rho / freq));
    case FDR_EARTH_FULLCARSON: {
        double d = self ? 2.0 * hi : hypot(hi + hj, dx);
        double theta = self ? 0.0 : acos((hi + hj) / d);
        return full_carson(d, theta, freq, rho) * (w * MU0 / M_PI);
    }
    default: /* Deri */
        return self ? lf * clog(2.0 * (hi + 1.0 / me))
                    : lf * clog(csqrt(cpow(hi + hj + 2.0 / me, 2) + dx * dx));
    }
}

int fdr_line_constants(int nc, int np, const struct fdr_lc_cond *cd, double rho, double freq,
                       int model, double complex *zout, double *c_nf_out, char *why, size_t nwhy)
{
    if (nc < 1 || nc > FDR_LC_MAX || np < 1 || np > nc) {
        snprintf(why, nwhy, "%d conductors, %d phases: 1 to %d conductors supported", nc, np,
                 FDR_LC_MAX);
        return -1;
    }
    int ncn = 0; /* concentric neutrals, appended after the conductors */
    for (int i = 0; i < nc; i++)
        ncn += cd[i].cn != 0;
    if (nc + ncn > FDR_LC_MAX) {
        snprintf(why, nwhy, "%d conductors and concentric neutrals: up to %d supported", nc + ncn,
                 FDR_LC_MAX);
        return -1;
    }
    for (int i = 0; i < nc; i++) {
        /* overhead above ground; cables at any depth (h < 0: buried) */
        if (!(cd[i].h_m > 0) && !(ncn > 0 && cd[i].h_m != 0)) {
            snprintf(why, nwhy, "conductor %d: height must be > 0", i + 1);
            return -1;
        }
        if (!(cd[i].gmr_m > 0) || !(cd[i].radius_m > 0)) {
            snprintf(why, nwhy, "conductor %d: its wire has no GMR or radius", i + 1);
            return -1;
        }
        if (model == FDR_EARTH_DERI ? !(cd[i].rdc > 0) : !(cd[i].rac >= 0)) {
            snprintf(why, nwhy, "conductor %d: its wire has no resistance", i + 1);
            return -1;
        }
        for (int j = 0; j < i; j++)
            if (hypot(cd[i].x_m - cd[j].x_m, cd[i].h_m - cd[j].h_m) <
                cd[i].radius_m + cd[j].radius_m) {
                snprintf(why, nwhy, "conductors %d and %d occupy the same space", j + 1, i + 1);
                return -1;
            }
    }
    if (!(rho > 0) || !(freq > 0)) {
        snprintf(why, nwhy, "earth resistivity and frequency must be > 0");
        return -1;
    }
    double w = TWO_PI * freq;
    double complex lf = I * w * MU0 / TWO_PI;
    int power_freq = freq > 40.0 && freq < 1000.0;
    double complex me = csqrt(I * w * MU0 / rho); /* Deri: 1 / complex depth */
    double complex z[FDR_LC_MAX * FDR_LC_MAX];
    double p[FDR_LC_MAX * FDR_LC_MAX];
    const int N = nc + ncn; /* conductors, then the concentric neutrals */
    int cn_of[FDR_LC_MAX];  /* row of a cable's concentric neutral */
    for (int i = 0, m = nc; i < nc; i++)
        cn_of[i] = cd[i].cn ? m++ : -1;

    for (int i = 0; i < nc; i++)
        for (int j = 0; j <= i; j++) {
            double complex ze = earth(model, w, freq, rho, me, lf, &cd[i], &cd[j], i == j);
            double dx = cd[i].x_m - cd[j].x_m, hi = cd[i].h_m, hj = cd[j].h_m;
            double complex v;
            if (i == j) {
                double complex zint;
                if (model == FDR_EARTH_DERI) {
                    double complex alpha = (1.0 + I) * sqrt(freq * MU0 / cd[i].rdc);
                    zint = (1.0 + I) * i0_over_i1(alpha) * sqrt(cd[i].rdc * freq * MU0) / 2.0;
                } else {
                    zint = cd[i].rac + I * w * MU0 / (8.0 * M_PI);
                }
                if (power_freq)
                    v = creal(zint) + lf * log(1.0 / cd[i].gmr_m) + ze;
                else
                    v = zint + lf * log(1.0 / cd[i].radius_m) + ze;
                p[i * nc + i] = log(2.0 * fabs(hi) / cd[i].radius_m);
            } else {
                double dij = hypot(dx, hi - hj), dimg = hypot(dx, hi + hj);
                v = lf * log(1.0 / dij) + ze;
                p[i * nc + j] = p[j * nc + i] = log(dimg / dij);
            }
            z[i * N + j] = z[j * N + i] = v;
        }

    /* the concentric neutrals: k strands of resistance r_strand / k and
     * GMR (GMR_strand k R^(k-1))^(1/k) on the circle of radius R; to their
     * own core at R, to other cables' cores and bare conductors at
     * (D^k - R^k)^(1/k), to each other at the centres' distance */
    for (int i = 0; i < nc; i++) {
        if (!cd[i].cn)
            continue;
        int a = cn_of[i];
        double R = cd[i].rad_cn_m, k = cd[i].k;
        double gmr_cn = pow(cd[i].gmr_strand_m * k * pow(R, k - 1.0), 1.0 / k);
        z[a * N + a] = cd[i].r_strand / k + lf * log(1.0 / gmr_cn) +
                       earth(model, w, freq, rho, me, lf, &cd[i], &cd[i], 1);
        for (int j = 0; j < nc; j++) {
            double complex ze = earth(model, w, freq, rho, me, lf, &cd[i], &cd[j], i == j);
            double d = hypot(cd[i].x_m - cd[j].x_m, cd[i].h_m - cd[j].h_m);
            double dcore = i == j ? R : cd[i].ts ? d : pow(pow(d, k) - pow(R, k), 1.0 / k);
            z[a * N + j] = z[j * N + a] = lf * log(1.0 / dcore) + ze;
            if (cd[j].cn && j != i) {
                int b = cn_of[j];
                z[a * N + b] = z[b * N + a] = lf * log(1.0 / d) + ze;
            }
        }
    }

    /* Kron: Z_pp - Z_pn Z_nn^-1 Z_np */
    int nn = N - np;
    if (nn > 0) {
        double complex zn[FDR_LC_MAX * FDR_LC_MAX];
        for (int a = 0; a < nn; a++)
            for (int b = 0; b < nn; b++)
                zn[a * nn + b] = z[(np + a) * N + np + b];
        if (cinvert(zn, nn)) {
            snprintf(why, nwhy, "the neutrals' impedance matrix is singular");
            return -1;
        }
        for (int i = 0; i < np; i++)
            for (int j = 0; j < np; j++) {
                double complex s = 0;
                for (int a = 0; a < nn; a++)
                    for (int b = 0; b < nn; b++)
                        s += z[i * N + np + a] * zn[a * nn + b] * z[(np + b) * N + j];
                zout[i * np + j] = z[i * N + j] - s;
            }
    } else {
        for (int i = 0; i < np; i++)
            for (int j = 0; j < np; j++)
                zout[i * np + j] = z[i * N + j];
    }

    if (ncn > 0) {
        /* shielded cables: each phase to its own screen only, 2 pi e0 er /
         * ln(r_out / r_in) over its insulation; bare conductors none */
        for (int i = 0; i < np; i++)
            for (int j = 0; j < np; j++)
                c_nf_out[i * np + j] =
                    i == j && cd[i].cn
                        ? TWO_PI * E0 * cd[i].epsr / log(cd[i].r_out_m / cd[i].r_in_m) * 1e9
                        : 0.0;
        return 0;
    }

    /* C = 2 pi e0 P^-1, then its phase block */
    double complex pc[FDR_LC_MAX * FDR_LC_MAX];
    for (int i = 0; i < nc * nc; i++)
        pc[i] = p[i];
    if (cinvert(pc, nc)) {
        snprintf(why, nwhy, "the potential-coefficient matrix is singular");
        return -1;
    }
    for (int i = 0; i < np; i++)
        for (int j = 0; j < np; j++)
            c_nf_out[i * np + j] = TWO_PI * E0 * creal(pc[i * nc + j]) * 1e9;
    return 0;
}
