/*
 * sweep_mpi.h: the MPI transport of `flexbed sweep` (cli/sweep_mpi.c).
 * cmd_sweep.c decides what a run is; this moves run indices and results
 * between rank 0 and the other ranks.
 */
#ifndef FLEXBED_SWEEP_MPI_H
#define FLEXBED_SWEEP_MPI_H

/* 1 when the process was started by an MPI launcher (mpirun, srun). */
int swmpi_launched(void);

/* MPI_Init; 0 with this process's rank and the world's size, or -1. */
int swmpi_init(int *rank, int *size);
void swmpi_finalize(void);

/* Rank 0's v, on every rank. */
int swmpi_bcast_int(int v);

struct swmpi_calls {
    void *ctx;
    /* rank 0: the next run to hand out, or -1 when there is none */
    long (*next)(void *ctx);
    /* rank 0: run r ended with exit code `code`; values: its output values,
     * one per line */
    void (*result)(void *ctx, long r, int code, const char *values);
    /* other ranks: do run r; *values: its output values, one per line
     * (malloc'd, may stay NULL); returns the run's exit code */
    int (*run)(void *ctx, long r, char **values);
};

/* Rank 0: serve the size-1 other ranks until each was told to stop. */
int swmpi_serve(const struct swmpi_calls *k, int size);

/* Any other rank: ask, run, report, until told to stop. */
int swmpi_work(const struct swmpi_calls *k);

#endif
