/*
 * sweep_mpi.c: `flexbed sweep` across machines, with Open MPI as the
 * engine (`mpirun -np N flexbed sweep SWEEP.json`, or srun under Slurm).
 *
 * Rank 0 hands out runs one at a time as ranks ask for them (dynamic, so a
 * slow run holds up nobody) and gathers what each run gave; every other
 * rank asks, runs the run it was given exactly as `flexbed sweep -j` runs
 * one (a child process writing its own database), sends back its exit code
 * and output values, and asks again. The summary is then written by rank 0
 * from the same table as a -j sweep, so the two are byte-identical.
 *
 * Only this file talks MPI. One message kind each way:
 *   worker -> 0: "R CODE\n" then the run's output values, one per line
 *                (R = -1 on the first request: no result yet);
 *   0 -> worker: the next run's index as a long, or -1: no more work.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep_mpi.h"

enum { TAG_RESULT = 1, TAG_WORK = 2 };

static int mpi_up;

int swmpi_launched(void)
{
    /* what Open MPI's mpirun, PMIx (srun --mpi=pmix) and PMI-1/2 set */
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", NULL};
    for (int i = 0; vars[i]; i++)
        if (getenv(vars[i]))
            return 1;
    return 0;
}

int swmpi_init(int *rank, int *size)
{
    int argc = 0;
    char **argv = NULL;
    if (MPI_Init(&argc, &argv) != MPI_SUCCESS)
        return -1;
    mpi_up = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    return 0;
}

void swmpi_finalize(void)
{
    if (mpi_up)
        MPI_Finalize();
    mpi_up = 0;
}

int swmpi_bcast_int(int v)
{
    MPI_Bcast(&v, 1, MPI_INT, 0, MPI_COMM_WORLD);
    return v;
}

int swmpi_serve(const struct swmpi_calls *k, int size)
{
    int active = size - 1;
    char *buf = NULL;
    int cap = 0;
    while (active > 0) {
        MPI_Status st;
        int n = 0;
        if (MPI_Probe(MPI_ANY_SOURCE, TAG_RESULT, MPI_COMM_WORLD, &st) != MPI_SUCCESS ||
            MPI_Get_count(&st, MPI_CHAR, &n) != MPI_SUCCESS)
            return -1;
        if (n + 1 > cap) {
            char *nb = realloc(buf, (size_t)n + 1);
            if (!nb) {
                free(buf);
                return -1;
            }
            buf = nb;
            cap = n + 1;
        }
        MPI_Recv(buf, n, MPI_CHAR, st.MPI_SOURCE, TAG_RESULT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        buf[n] = '\0';
        long r = -1;
        int code = 0, used = 0;
        if (sscanf(buf, "%ld %d\n%n", &r, &code, &used) >= 2 && r >= 0)
            k->result(k->ctx, r, code, buf + used);
        long next = k->next(k->ctx);
        MPI_Send(&next, 1, MPI_LONG, st.MPI_SOURCE, TAG_WORK, MPI_COMM_WORLD);
        if (next < 0)
            active--;
    }
    free(buf);
    return 0;
}

int swmpi_work(const struct swmpi_calls *k)
{
    long r = -1;
    int code = 0;
    char *values = NULL;
    for (;;) {
        char head[64];
        int hn = snprintf(head, sizeof head, "%ld %d\n", r, code);
        size_t vn = values ? strlen(values) : 0;
        char *msg = malloc((size_t)hn + vn + 1);
        if (!msg) {
            free(values);
            return -1;
        }
        memcpy(msg, head, (size_t)hn);
        if (vn)
            memcpy(msg + hn, values, vn);
        MPI_Send(msg, (int)((size_t)hn + vn), MPI_CHAR, 0, TAG_RESULT, MPI_COMM_WORLD);
        free(msg);
        free(values);
        values = NULL;
        long next = -1;
        MPI_Recv(&next, 1, MPI_LONG, 0, TAG_WORK, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (next < 0)
            return 0;
        r = next;
        code = k->run(k->ctx, r, &values);
    }
}
