/*
 * nnrt-mpi.c - the runtime's MPI plugin, RT_DIR/nnrt-mpi.so, built with
 * mpicc where MPI is found (the Makefile's MPI switch).
 *
 * A trainer (or `nnc sweep`) never links MPI: common_mpi.c loads this
 * object with dlopen only when the process was started by mpirun or srun,
 * so the thousands of trainers a sweep starts, and `nnc run`, pay nothing
 * for MPI, and the same trainer binary runs on a machine without it.  The
 * object is the few MPI calls the runtime makes, behind a plain C interface
 * (no MPI types): common_mpi.c does the rest (shares, sums in rank order).
 * Every call is on MPI_COMM_WORLD, whose default error handler ends the
 * whole job on a failure, so nothing here returns an error after init.
 */
#include <mpi.h>
#include <stddef.h>
#include <stdio.h>

int nnrt_mpi_plugin_init(int *rank, int *size, char *err, size_t errlen)
{
    int argc = 0;
    char **argv = NULL;
    int rc = MPI_Init(&argc, &argv);
    if (rc != MPI_SUCCESS) {
        char msg[MPI_MAX_ERROR_STRING];
        int len = 0;
        MPI_Error_string(rc, msg, &len);
        snprintf(err, errlen, "MPI_Init failed: %.*s", len, msg);
        return -1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    return 0;
}

/* Every rank sends sendcounts[j] bytes from send + sdispls[j] to rank j and
 * receives recvcounts[i] bytes from rank i at recv + rdispls[i]. */
void nnrt_mpi_plugin_alltoallv(const void *send, const int *sendcounts, const int *sdispls,
                               void *recv, const int *recvcounts, const int *rdispls)
{
    MPI_Alltoallv(send, sendcounts, sdispls, MPI_BYTE, recv, recvcounts, rdispls, MPI_BYTE,
                  MPI_COMM_WORLD);
}

/* Rank j's counts[j] bytes at buf + displs[j], on every rank. */
void nnrt_mpi_plugin_allgatherv(void *buf, const int *counts, const int *displs)
{
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_BYTE, buf, counts, displs, MPI_BYTE, MPI_COMM_WORLD);
}

void nnrt_mpi_plugin_send(const void *buf, int bytes, int to)
{
    MPI_Send(buf, bytes, MPI_BYTE, to, 0, MPI_COMM_WORLD);
}

/* Receives from rank `from` (-1: any); returns the sender. */
int nnrt_mpi_plugin_recv(void *buf, int bytes, int from)
{
    MPI_Status st;
    MPI_Recv(buf, bytes, MPI_BYTE, from < 0 ? MPI_ANY_SOURCE : from, 0, MPI_COMM_WORLD, &st);
    return st.MPI_SOURCE;
}

/* 1 when a message waits to be received. */
int nnrt_mpi_plugin_probe(void)
{
    int flag = 0;
    MPI_Iprobe(MPI_ANY_SOURCE, 0, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
    return flag;
}

void nnrt_mpi_plugin_finalize(void)
{
    MPI_Finalize();
}

void nnrt_mpi_plugin_abort(int rc)
{
    MPI_Abort(MPI_COMM_WORLD, rc);
}
