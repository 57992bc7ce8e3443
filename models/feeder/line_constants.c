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

int fdr_line_constants(int nc, int np, const struct fdr_lc_cond *cd, double rho, double freq,
                       int model, double complex *zout, double *c_nf_out, char *why, size_t nwhy)
{
    if (nc < 1 || nc > FDR_LC_MAX || np < 1 || np > nc) {
        snprintf(why, nwhy, "%d conductors, %d phases: 1 to %d conductors supported", nc, np,
                 FDR_LC_MAX);
        return -1;
    }
    for (int i = 0; i < nc; i++) {
        if (!(cd[i].h_m > 0)) {
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

    for (int i = 0; i < nc; i++)
        for (int j = 0; j <= i; j++) {
            double dx = cd[i].x_m - cd[j].x_m, hi = cd[i].h_m, hj = cd[j].h_m;
            double complex ze;
            switch (model) {
            case FDR_EARTH_CARSON:
                ze = w * MU0 / 8.0 + I * (w * MU0 / TWO_PI) * log(658.5 * sqrt(rho / freq));
                break;
            case FDR_EARTH_FULLCARSON: {
                double d = i == j ? 2.0 * hi : hypot(hi + hj, dx);
                double theta = i == j ? 0.0 : acos((hi + hj) / d);
                ze = full_carson(d, theta, freq, rho) * (w * MU0 / M_PI);
                break;
            }
            default: /* Deri */
                ze = i == j ? lf * clog(2.0 * (hi + 1.0 / me))
                            : lf * clog(csqrt(cpow(hi + hj + 2.0 / me, 2) + dx * dx));
                break;
            }
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
                p[i * nc + i] = log(2.0 * hi / cd[i].radius_m);
            } else {
                double dij = hypot(dx, hi - hj), dimg = hypot(dx, hi + hj);
                v = lf * log(1.0 / dij) + ze;
                p[i * nc + j] = p[j * nc + i] = log(dimg / dij);
            }
            z[i * nc + j] = z[j * nc + i] = v;
        }

    /* Kron: Z_pp - Z_pn Z_nn^-1 Z_np */
    int nn = nc - np;
    if (nn > 0) {
        double complex zn[FDR_LC_MAX * FDR_LC_MAX];
        for (int a = 0; a < nn; a++)
            for (int b = 0; b < nn; b++)
                zn[a * nn + b] = z[(np + a) * nc + np + b];
        if (cinvert(zn, nn)) {
            snprintf(why, nwhy, "the neutrals' impedance matrix is singular");
            return -1;
        }
        for (int i = 0; i < np; i++)
            for (int j = 0; j < np; j++) {
                double complex s = 0;
                for (int a = 0; a < nn; a++)
                    for (int b = 0; b < nn; b++)
                        s += z[i * nc + np + a] * zn[a * nn + b] * z[(np + b) * nc + j];
                zout[i * np + j] = z[i * nc + j] - s;
            }
    } else {
        for (int i = 0; i < np * np; i++)
            zout[i] = z[i];
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
