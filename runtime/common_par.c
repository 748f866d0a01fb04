/*
 * common_par.c - nnrt_parallel: a loop over [0, n) shared by the calling
 * thread and helper threads, for the runtime's element-by-element passes
 * over every parameter (the optimizer's update, zeroing the gradient), the
 * gather of a shuffled batch and the parts of large matrix products
 * (nnrt_gemm.c; OpenBLAS itself then runs on one thread, so that one pool
 * of threads serves the whole step).
 *
 * The range is cut into chunks of a fixed size, the same whatever the
 * number of threads; threads take chunks from a shared counter, so a
 * helper that starts late (a busy machine) simply takes fewer.  Each
 * element is computed by one thread, by the same code, so the result does
 * not depend on who computed what: the same bits as a single thread.
 *
 * The helpers (one fewer than the threads wanted: NNRT_THREADS, else
 * OPENBLAS_NUM_THREADS or OMP_NUM_THREADS, else the cores; at most
 * PAR_MAX_HELPERS) start on first use and sleep on a condition variable
 * between loops; they poll (giving way with sched_yield) for a while after
 * a loop, since the next loop of a training step follows within tens of
 * microseconds, and after nnrt_parallel_wake, which the trainer calls
 * shortly before the optimizer's update, since waking a sleeping thread
 * takes longer than the update itself.  The caller never sleeps: it works
 * through the chunks itself and waits only for chunks a helper is still
 * computing.
 * New threads inherit the caller's floating-point environment, so
 * nnrt_set_ftz stops the helpers (nnrt_parallel_stop) to have them
 * restarted with the new one; a forked child starts its own.
 */
#include "nnrt_internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#define PAR_MAX_HELPERS 7

typedef struct Job {
    NnrtParFn fn;
    void *ctx;
    int64_t n, chunk, nchunks;
} Job;

/* How long a helper stays awake polling for the next loop: after a loop
 * (in a training step the next one, a matrix product's part or the
 * gradient's zeroing, follows within tens of microseconds), and after
 * nnrt_parallel_wake (which announces a loop a little ahead, since waking a
 * sleeping thread takes tens of microseconds on a virtual machine).
 * Polling gives the core away to any other thread that wants it. */
#define PAR_SPIN_AFTER_LOOP 200e-6
#define PAR_SPIN_AFTER_WAKE 300e-6

static struct {
    pthread_mutex_t mu;
    pthread_cond_t wake;
    int started, nhelpers;
    atomic_int stopping;
    pthread_t thread[PAR_MAX_HELPERS];
    Job job;                    /* the open loop, while `open` */
    int open;
    atomic_uint_fast64_t gen;   /* loops opened so far */
    uint64_t wakes;             /* nnrt_parallel_wake calls */
    atomic_int_fast64_t next;   /* the next chunk to take */
    atomic_int_fast64_t done;   /* chunks finished */
    atomic_int active;          /* helpers inside the open loop */
} par = { .mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER };

/* Polling gives way to any other thread that wants this core (OpenBLAS's
 * workers spin the same way). */
static void relax(void)
{
    sched_yield();
}

/* Set while a thread computes a chunk: a loop opened inside one (a matrix
 * product inside a half of a pass, nnrt_train.c's pass_halves) runs on that
 * thread alone. */
static _Thread_local int in_chunk;

static void run_chunks(const Job *j)
{
    for (;;) {
        int64_t c = atomic_fetch_add(&par.next, 1);
        if (c >= j->nchunks)
            return;
        int64_t lo = c * j->chunk, hi = lo + j->chunk < j->n ? lo + j->chunk : j->n;
        in_chunk = 1;
        j->fn(j->ctx, lo, hi);
        in_chunk = 0;
        atomic_fetch_add(&par.done, 1);
    }
}

/* A helper: joins each loop it sees open, polls for a while after a loop
 * or a wake-up call, sleeps otherwise.  par.mu is held except while
 * polling and computing. */
static void *helper(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&par.mu);
    uint64_t seen = atomic_load(&par.gen), woken = par.wakes;
    double spin = 0;
    for (;;) {
        if (spin > 0) {
            pthread_mutex_unlock(&par.mu);
            double until = nnrt_now() + spin;
            while (atomic_load(&par.gen) == seen && !atomic_load(&par.stopping) &&
                   nnrt_now() < until)
                relax();
            pthread_mutex_lock(&par.mu);
        }
        if (!par.open)
            seen = atomic_load(&par.gen);   /* loops closed meanwhile */
        while (!atomic_load(&par.stopping) && (!par.open || atomic_load(&par.gen) == seen) &&
               par.wakes == woken)
            pthread_cond_wait(&par.wake, &par.mu);
        if (atomic_load(&par.stopping))
            break;
        if (par.open && atomic_load(&par.gen) != seen) {
            seen = atomic_load(&par.gen);
            Job j = par.job;
            atomic_fetch_add(&par.active, 1);
            pthread_mutex_unlock(&par.mu);
            run_chunks(&j);
            atomic_fetch_sub(&par.active, 1);
            pthread_mutex_lock(&par.mu);
            spin = PAR_SPIN_AFTER_LOOP;
        } else {
            spin = par.wakes != woken ? PAR_SPIN_AFTER_WAKE : 0;
        }
        woken = par.wakes;
    }
    pthread_mutex_unlock(&par.mu);
    return NULL;
}

/* A forked child has none of the parent's threads. */
static void forget_helpers(void)
{
    par.started = 0;
    par.nhelpers = 0;
    par.open = 0;
    pthread_mutex_init(&par.mu, NULL);
    pthread_cond_init(&par.wake, NULL);
}

/* Threads in all: NNRT_THREADS, else what the BLAS or OpenMP was told
 * (one core each for jobs run side by side), else the cores. */
static int helpers_wanted(void)
{
    static const char *const vars[] = { "NNRT_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS" };
    long n = 0;
    for (int i = 0; i < 3 && n == 0; i++) {
        const char *e = getenv(vars[i]);
        n = e && *e ? strtol(e, NULL, 10) : 0;
    }
    if (n <= 0)
        n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    return n - 1 < PAR_MAX_HELPERS ? (int)n - 1 : PAR_MAX_HELPERS;
}

int nnrt_parallel_threads(void)
{
    return helpers_wanted() + 1;
}

static void start(void)
{
    static int atfork;
    if (!atfork) {
        pthread_atfork(NULL, NULL, forget_helpers);
        atfork = 1;
    }
    par.started = 1;
    atomic_store(&par.stopping, 0);
    int want = helpers_wanted();
    for (par.nhelpers = 0; par.nhelpers < want; par.nhelpers++)
        if (pthread_create(&par.thread[par.nhelpers], NULL, helper, NULL) != 0)
            break;   /* fewer helpers; the caller does the rest */
}

void nnrt_parallel_wake(void)
{
    if (!par.started || par.nhelpers == 0)
        return;
    pthread_mutex_lock(&par.mu);
    par.wakes++;
    pthread_cond_broadcast(&par.wake);
    pthread_mutex_unlock(&par.mu);
}

void nnrt_parallel_stop(void)
{
    pthread_mutex_lock(&par.mu);
    int n = par.started ? par.nhelpers : 0;
    atomic_store(&par.stopping, 1);
    pthread_cond_broadcast(&par.wake);
    pthread_mutex_unlock(&par.mu);
    for (int i = 0; i < n; i++)
        pthread_join(par.thread[i], NULL);
    par.started = 0;
    par.nhelpers = 0;
}

/* The loop between nnrt_parallel_begin and nnrt_parallel_end (n = 0: none);
 * `inline_`: no helpers take part, the caller runs it all at the end. */
static Job mine;
static int inline_;

void nnrt_parallel_begin(NnrtParFn fn, void *ctx, int64_t n, int64_t chunk)
{
    if (mine.n > 0)
        nnrt_parallel_end();   /* one loop at a time: a begun one is finished first */
    mine = (Job){ .fn = fn, .ctx = ctx, .n = n > 0 ? n : 0, .chunk = chunk,
                  .nchunks = n > 0 ? (n + chunk - 1) / chunk : 0 };
    if (mine.nchunks >= 2 && !par.started)
        start();
    inline_ = mine.nchunks < 2 || par.nhelpers == 0;
    if (inline_ || mine.n == 0)
        return;
    pthread_mutex_lock(&par.mu);
    par.job = mine;
    atomic_store(&par.next, 0);
    atomic_store(&par.done, 0);
    par.open = 1;
    atomic_fetch_add(&par.gen, 1);
    pthread_cond_broadcast(&par.wake);
    pthread_mutex_unlock(&par.mu);
}

void nnrt_parallel_end(void)
{
    Job j = mine;
    mine.n = 0;
    if (j.n == 0)
        return;
    if (inline_) {
        j.fn(j.ctx, 0, j.n);
        return;
    }
    run_chunks(&j);   /* the chunks no helper has taken yet */
    /* no helper joins after this; wait for the chunks they took */
    pthread_mutex_lock(&par.mu);
    par.open = 0;
    pthread_mutex_unlock(&par.mu);
    while (atomic_load(&par.done) < j.nchunks || atomic_load(&par.active) > 0)
        sched_yield();   /* a busy machine may run the helper on this core */
}

void nnrt_parallel(NnrtParFn fn, void *ctx, int64_t n, int64_t chunk)
{
    if (in_chunk) {
        if (n > 0)
            fn(ctx, 0, n);
        return;
    }
    nnrt_parallel_begin(fn, ctx, n, chunk);
    nnrt_parallel_end();
}
