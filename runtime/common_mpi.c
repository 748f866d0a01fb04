/*
 * common_mpi.c - data-parallel runs on MPI (docs/distributed.md): which
 * rank this process is, each rank's share of a batch, and sums across the
 * ranks that come out the same, bit for bit, on every rank and every run.
 *
 * MPI itself is in a plugin, RT_DIR/nnrt-mpi.so (nnrt-mpi.c), loaded with
 * dlopen only when a launcher started the process with more than one rank
 * (mpirun sets OMPI_COMM_WORLD_SIZE; srun sets PMI_SIZE, or PMIX_RANK and
 * SLURM_NTASKS).  Everywhere else nnrt_mpi_start does nothing and the
 * process is rank 0 of 1: a trainer does not load libmpi at start-up, and
 * runs where MPI is not installed.  The plugin's path is baked in at build
 * time (NNRT_MPI_PLUGIN, beside libnnrt.a), NNRT_MPI_PLUGIN overrides it.
 *
 * Sums in a fixed order: an MPI_Allreduce may add the ranks' values in any
 * order (its algorithm depends on the message size and the library), so
 * the result could change from run to run in the last bits.  Instead the
 * vector is cut into one slice per rank; every rank sends each slice to
 * its owner (MPI_Alltoallv), the owner adds the ranks' values of its slice
 * in rank order, 0 first, and every rank receives every sum
 * (MPI_Allgatherv).  Each value crosses the network twice, as in a ring
 * allreduce, and every rank ends with the same bits.
 */
#include "nnrt_internal.h"

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef NNRT_MPI_PLUGIN
#define NNRT_MPI_PLUGIN ""   /* built without MPI */
#endif

static int rank, size = 1;

/* NNRT_MPI_STATS=1: rank 0 says at the end what the sums cost */
static struct {
    double start, seconds, bytes;
    long long calls;
} stats;

/* the plugin's functions (nnrt-mpi.c) */
static struct {
    int (*init)(int *, int *, char *, size_t);
    void (*alltoallv)(const void *, const int *, const int *, void *, const int *, const int *);
    void (*allgatherv)(void *, const int *, const int *);
    void (*send)(const void *, int, int);
    int (*recv)(void *, int, int);
    int (*probe)(void);
    void (*finalize)(void);
    void (*abort)(int);
} mpi;

/* The launcher's variables that say how many ranks there are. */
static const char *const launcher_vars[] = { "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK" };

int nnrt_mpi_launched(void)
{
    const char *n = getenv("OMPI_COMM_WORLD_SIZE");
    if (!n)
        n = getenv("PMI_SIZE");
    if (!n && getenv("PMIX_RANK"))
        n = getenv("SLURM_NTASKS");
    return n && atoi(n) > 1;
}

void nnrt_mpi_forget(void)
{
    for (size_t i = 0; i < sizeof launcher_vars / sizeof launcher_vars[0]; i++)
        unsetenv(launcher_vars[i]);
}

int nnrt_mpi_start(NnrtErr *e)
{
    if (size > 1 || !nnrt_mpi_launched())
        return 0;
    const char *path = getenv("NNRT_MPI_PLUGIN");
    if (!path || !*path)
        path = NNRT_MPI_PLUGIN;
    if (!*path)
        return nnrt_err(e, "started by mpirun (or srun) with several ranks, but this runtime was "
                        "built without MPI: install Open MPI (libopenmpi-dev, scripts/deps.sh) "
                        "and rebuild nnc and the trainer");
    /* RTLD_GLOBAL: Open MPI's own components, which libmpi loads, look
     * for libmpi's symbols in the process */
    void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (!h)
        return nnrt_err(e, "started by mpirun (or srun) with several ranks, but the MPI plugin "
                        "cannot be loaded: %s (it is built by `make` beside libnnrt.a where "
                        "mpicc is found; NNRT_MPI_PLUGIN names another)", dlerror());
#define PLUGIN_FN(field, name)                                                         \
    if (!(*(void **)&mpi.field = dlsym(h, "nnrt_mpi_plugin_" name)))                   \
        return nnrt_err(e, "%s: no nnrt_mpi_plugin_%s (an MPI plugin of another nnc?)", path, name)
    PLUGIN_FN(init, "init");
    PLUGIN_FN(alltoallv, "alltoallv");
    PLUGIN_FN(allgatherv, "allgatherv");
    PLUGIN_FN(send, "send");
    PLUGIN_FN(recv, "recv");
    PLUGIN_FN(probe, "probe");
    PLUGIN_FN(finalize, "finalize");
    PLUGIN_FN(abort, "abort");
#undef PLUGIN_FN
    char why[512];
    if (mpi.init(&rank, &size, why, sizeof why) != 0)
        return nnrt_err(e, "%s", why);
    stats.start = nnrt_now();
    return 0;
}

int nnrt_mpi_end(int rc)
{
    if (size == 1)
        return rc;
    fflush(NULL);
    const char *want = getenv("NNRT_MPI_STATS");
    if (want && *want && strcmp(want, "0") != 0) {
        double wall = nnrt_now() - stats.start;
        if (rank == 0)
            fprintf(stderr, "mpi: rank 0 of %d: %lld sums across the ranks, %.3g MB each way, "
                    "took %.3f s of %.3f s (%.1f%%)\n", size, stats.calls, stats.bytes / 1e6,
                    stats.seconds, wall, wall > 0 ? 100 * stats.seconds / wall : 0.0);
        /* every rank: what it read of the data files (a share, where it can) */
        fprintf(stderr, "mpi: rank %d of %d read %lld bytes of data files\n", rank, size,
                (long long)nnrt_bytes_read);
    }
    /* a rank that fails ends the whole job: the others would otherwise wait
     * for it in their next sum, for ever */
    if (rc != 0)
        mpi.abort(rc);
    mpi.finalize();
    size = 1;
    rank = 0;
    return rc;
}

int nnrt_mpi_rank(void)
{
    return rank;
}

int nnrt_mpi_size(void)
{
    return size;
}

void nnrt_mpi_share_of(int64_t n, int r, int64_t *lo, int64_t *hi)
{
    *lo = n * r / size;
    *hi = n * (r + 1) / size;
}

void nnrt_mpi_share(int64_t n, int64_t *lo, int64_t *hi)
{
    nnrt_mpi_share_of(n, rank, lo, hi);
}

/* Sums x[0..n) (values of `es` bytes, float or double) over the ranks, in
 * rank order; see the top of the file. */
static void sum_ranks(void *x, int64_t n, size_t es)
{
    static int *counts;          /* [4][size]: send, sdispl, recv, rdispl */
    static char *parts;          /* size x this rank's slice */
    static size_t have;
    double t0 = nnrt_now();
    if (!counts && !(counts = malloc(4 * (size_t)size * sizeof *counts)))
        mpi.abort(1);
    int64_t lo, hi;
    nnrt_mpi_share(n, &lo, &hi);
    size_t mine = (size_t)(hi - lo) * es, need = (size_t)size * mine;
    if (need > have) {
        free(parts);
        if (!(parts = malloc(need))) {
            fprintf(stderr, "error: out of memory for the sums across the ranks\n");
            mpi.abort(1);
        }
        have = need;
    }
    int *sc = counts, *sd = counts + size, *rc = counts + 2 * size, *rd = counts + 3 * size;
    for (int j = 0; j < size; j++) {
        int64_t jlo, jhi;
        nnrt_mpi_share_of(n, j, &jlo, &jhi);
        sc[j] = (int)((size_t)(jhi - jlo) * es);
        sd[j] = (int)((size_t)jlo * es);
        rc[j] = (int)mine;
        rd[j] = (int)((size_t)j * mine);
    }
    mpi.alltoallv(x, sc, sd, parts, rc, rd);
    int64_t m = hi - lo;
    if (es == sizeof(float)) {
        float *out = (float *)x + lo;
        const float *p = (const float *)parts;
        for (int64_t i = 0; i < m; i++) {
            float s = p[i];
            for (int j = 1; j < size; j++)
                s += p[(int64_t)j * m + i];
            out[i] = s;
        }
    } else {
        double *out = (double *)x + lo;
        const double *p = (const double *)parts;
        for (int64_t i = 0; i < m; i++) {
            double s = p[i];
            for (int j = 1; j < size; j++)
                s += p[(int64_t)j * m + i];
            out[i] = s;
        }
    }
    mpi.allgatherv(x, sc, sd);   /* each rank's slice: what it sent to rank j */
    stats.calls++;
    stats.bytes += (double)n * (double)es * (double)(size - 1) / size;
    stats.seconds += nnrt_now() - t0;
}

void nnrt_mpi_sum_f32(float *x, int64_t n)
{
    if (size > 1)
        sum_ranks(x, n, sizeof *x);
}

void nnrt_mpi_sum_f64(double *x, int64_t n)
{
    if (size > 1)
        sum_ranks(x, n, sizeof *x);
}

void nnrt_mpi_gather_f64(double *all, int64_t n)
{
    static int *counts;          /* [2][size]: counts, displacements */
    if (size == 1)
        return;
    double t0 = nnrt_now();
    if (!counts && !(counts = malloc(2 * (size_t)size * sizeof *counts)))
        mpi.abort(1);
    for (int j = 0; j < size; j++) {
        counts[j] = (int)((size_t)n * sizeof *all);
        counts[size + j] = (int)((size_t)j * (size_t)n * sizeof *all);
    }
    mpi.allgatherv(all, counts, counts + size);
    stats.calls++;
    stats.bytes += (double)n * sizeof *all * (double)(size - 1);
    stats.seconds += nnrt_now() - t0;
}

int nnrt_mpi_same(uint64_t v, const char *what, NnrtErr *e)
{
    if (size == 1)
        return 0;
    uint64_t *all = malloc((size_t)size * sizeof *all);
    int *counts = malloc(2 * (size_t)size * sizeof *counts);
    if (!all || !counts) {
        fprintf(stderr, "error: out of memory\n");
        mpi.abort(1);
    }
    for (int j = 0; j < size; j++) {
        counts[j] = (int)sizeof *all;
        counts[size + j] = j * (int)sizeof *all;
    }
    all[rank] = v;
    mpi.allgatherv(all, counts, counts + size);
    int differ = -1;
    for (int j = 0; j < size && differ < 0; j++)
        if (all[j] != all[0])
            differ = j;
    free(all);
    free(counts);
    if (differ >= 0)
        return nnrt_err(e, "rank %d of %d has other %s than rank 0: every rank must be started "
                        "with the same command line and see the same files", differ, size, what);
    return 0;
}

void nnrt_mpi_send(const void *buf, int bytes, int to)
{
    mpi.send(buf, bytes, to);
}

int nnrt_mpi_recv(void *buf, int bytes, int from)
{
    return mpi.recv(buf, bytes, from);
}

int nnrt_mpi_probe(void)
{
    return mpi.probe();
}
