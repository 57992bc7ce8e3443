/*
 * nodal.h: the nodal network (nodal.c) and its solver's state
 * (nodal_solve.c); private to models/feeder/.
 */
#ifndef FLEXBED_FEEDER_NODAL_H
#define FLEXBED_FEEDER_NODAL_H

#include "solver_impl.h"

enum { FDR_NE_SRC, FDR_NE_LINE, FDR_NE_XFMR, FDR_NE_REACTOR };

/* One element: its terminal conductors' nodes (cnode[c0 ..], -1: ground)
 * and its nt x nt primitive admittance (y[y0 ..], row-major, S), whose
 * entries add into the system matrix at pos[y0 ..] (-1: ground). The
 * conductors are terminal by terminal (a transformer: winding by winding,
 * phases then neutral). */
struct fdr_nelem {
    int kind, elem;
    int nt, c0, y0;
};

struct fdr_nodal {
    int nn;          /* unknowns: (bus, node) pairs */
    int (*bnode)[4]; /* per bus: index of node 1..4, -1 */
    int *node_bus, *node_slot;
    struct fdr_nelem *el;
    int nel;
    int *cnode;
    int ncnode;
    double complex *y;
    int *pos;
    int ny;
    int src_el;
    int *line_el, *xfmr_el, *reactor_el; /* element index of each */
    int (*lnode)[2];                     /* per load element: nodes a, b (-1: ground) */
    int (*lpos)[4];                      /* ... and its 2 x 2 stamp's places */
    int nnz;
    int *ap, *ai; /* compressed columns */
    char *dead;   /* per bus: behind an open switch (NULL: none open) */
};

/* Primitive admittance of transformer xi with taps tap[0..nw-1] into y
 * (nt x nt). Returns 0, or -1 if its short-circuit impedances are
 * singular. */
int fdr_nodal_xfmr_y(const fdr_circuit *c, int xi, const double *tap, double complex *y);

#endif /* FLEXBED_FEEDER_NODAL_H */
