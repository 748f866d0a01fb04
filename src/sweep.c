/*
 * sweep.c - `nnc sweep`: train a model over a grid of architectures and
 * hyperparameters, with repeats, and tabulate the results (docs/sweep.md).
 *
 *   nnc sweep model.nn -D depth=0..3 -D width=1..3 --set lr=1e-2,1e-3
 *             --repeat 5 --jobs 2 [--out DIR] [--metric NAME] [-- trainer flags]
 *
 * Every combination of the -D values is an architecture, compiled once:
 * in this process by the LLVM JIT (cg_jit_compile), the runs then in
 * forked workers that inherit the compiled code and call the trainer's
 * command line, one run after another (no exec, no cc); or, with
 * --backend c or without LLVM, by `nnc build` (a child process) into
 * DIR/bin/, each run an exec of the trainer.
 * Every --set value is a trainer flag, so hyperparameters change without
 * recompiling.  Each configuration (architecture x hyperparameters) is
 * trained --repeat times with seeds 1..N, at most --jobs at a time, each
 * logging to DIR/runs/CONFIG/seedK/.  The final row of each run's
 * metrics.csv is its result; per configuration the sweep writes the mean
 * and standard deviation of every column over the repeats, with the
 * parameter count (from the compiler's IR), as results.csv, results.json
 * and a table on stdout (results.txt), every run in runs.csv, and two
 * gnuplot figures: a parallel-coordinates plot of all configurations and a
 * heat map of the metric over two swept axes.
 *
 * sweep_main's steps, at the end of the file, in order: sweep_open (the
 * command line, the model), plan_configs, choose_backend, plan_archs (one
 * IR, and with the C backend one build, per architecture), plan_runs, then
 * run_c (builds and runs in one pool of processes) or run_jit (its loop:
 * compilations in threads, runs in forked workers, poll() in between), and
 * write_outputs (the tables and plots).
 *
 * Started by mpirun with several ranks (docs/distributed.md), every rank
 * plans the same sweep, then run_mpi replaces run_c and run_jit: rank 0
 * hands the runs out one at a time, to the ranks as they finish one (and
 * to itself), each rank compiling an architecture when it first needs it
 * (through the compile cache), and rank 0 alone writes the outputs.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "ast.h"
#include "sema.h"
#include "ad.h"
#include "codegen.h"
#include "nnrt_internal.h"
#include "nnrt_board.h"
#include "sweep.h"

#define MAXAXES 16
#define MAXVALS 64
#define MAXCOLS 32

/* A swept variable: a const of the model (-D, one build per value) or a
 * trainer flag (--set). */
typedef struct Axis {
    char name[64];
    int is_define;
    int n;
    char *val[MAXVALS];    /* as written: "2", "1e-3", "adam(lr = 0.01)" */
    int numeric;           /* every value is a number */
} Axis;

typedef struct Sweep {
    const char *model, *out, *metric, *dtype, *backend;
    char name[100];        /* the model file's stem, for titles */
    char self[PATH_MAX];
    Axis ax[MAXAXES];
    int nax;
    int repeat, jobs, plots;
    int resume;            /* --resume: runs that finished before are not run again */
    int mpi;               /* --mpi: must run as ranks of an MPI job */
    char **extra;
    int nextra;
} Sweep;

/* One configuration: an index into each axis's values. */
typedef struct Config {
    int idx[MAXAXES];
    int arch;              /* which build */
    char id[200];          /* directory name */
    long long params;
    int nruns, nfailed;
    double *vals;          /* [repeat][ncols] final values, NAN when missing */
    int *ok;               /* [repeat] */
} Config;

/* An architecture: one combination of -D values, compiled once. */
typedef struct Arch {
    char exe[PATH_MAX];    /* the trainer (C backend), argv[0] of its runs */
    char log[PATH_MAX + 8];
    int config;            /* its first configuration */
    Program *ast;
    IrProgram *ir;         /* kept for the JIT */
    char **flags;          /* the trainer flags after --, for the JIT */
    int nflags;
    double work;           /* the FLOPs of its runs (cg_jit_work), -1 if unknown */
    CgJit *jit;
    pthread_t thread;      /* compiling it */
    int compiling;         /* the thread runs */
    int compiled;          /* the thread is done (atomic) */
    double cpu;            /* seconds of CPU the compilation took */
} Arch;

typedef struct Job {
    char **argv;
    char log[PATH_MAX + 300];
    int config, seed;      /* training runs; config < 0 for builds */
    CgJit *jit;            /* run in a forked child from this compiled model */
    int ready;             /* may start (its model is compiled): > 0; for the JIT's
                            * runs, the number of models compiled by then (Worker) */
    int started;
    int skip;              /* finished by an earlier sweep (--resume): done at once */
    pid_t pid;             /* the process running it (spawn's child, or its worker) */
    int status;
} Job;

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("nnc sweep: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return -1;
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: nnc sweep MODEL.nn [-D NAME=VALUES]... [--set KEY=VALUES]... [--repeat N]\n"
        "                 [--jobs J] [--out DIR] [--metric NAME] [--plots] [--dtype f32|f64]\n"
        "                 [--backend jit|c] [--mpi] [-- TRAINER FLAGS]\n"
        "\n"
        "  -D NAME=VALUES   a const of the model: 0..3 (integers 0 to 3), 1,2,4, or one value;\n"
        "                   each combination is compiled once\n"
        "  --set KEY=VALUES a trainer flag (lr, batch, optimizer, ...): values separated by\n"
        "                   commas outside parentheses, e.g. --set 'optimizer=sgd(0.1),adam'\n"
        "  --repeat N       train every configuration N times, with seeds 1..N (default 1)\n"
        "  --jobs J         run at most J trainers at a time (default: the number of CPUs)\n"
        "  --out DIR        where builds, runs and results go (default sweeps/MODEL)\n"
        "  --metric NAME    the column the plots show (default test_accuracy, else test_loss,\n"
        "                   else accuracy, else loss)\n"
        "  --plots          let every run draw its own plots (default: only the sweep's)\n"
        "  --backend jit|c  compile each architecture in memory with the LLVM JIT and\n"
        "                   fork its runs (the default where nnc has it), or build a\n"
        "                   trainer with cc (nnc build) into DIR/bin/ and run it\n"
        "  --resume         the sweep in DIR again, running only the runs that have not\n"
        "                   finished (after Ctrl-C, say)\n"
        "  --mpi            hand the runs out over the ranks of an MPI job (which is what\n"
        "                   mpirun -np N nnc sweep does anyway); an error when not started\n"
        "                   by mpirun or srun with several ranks (docs/distributed.md)\n"
        "  -- FLAGS         passed to every trainer, e.g. -- --epochs 20\n"
        "\n"
        "Writes DIR/results.csv, results.json, results.txt (also printed), runs.csv,\n"
        "parallel.gp and heatmap.gp with their PNG and PDF.  See docs/sweep.md.\n");
}

/* ---- parsing the command line ---- */

static int is_number(const char *s)
{
    char *end;
    if (!*s)
        return 0;
    double x = strtod(s, &end);
    return *end == '\0' && isfinite(x);   /* not "nan", "inf" or 1e999 */
}

/* Splits VALUES at commas outside parentheses, brackets and quotes. */
static int split_values(Axis *a, const char *s)
{
    int depth = 0, quote = 0;
    const char *start = s;
    for (const char *p = s;; p++) {
        if (*p == '"')
            quote = !quote;
        else if (!quote && (*p == '(' || *p == '['))
            depth++;
        else if (!quote && (*p == ')' || *p == ']'))
            depth--;
        if (*p == '\0' || (*p == ',' && depth == 0 && !quote)) {
            if (a->n == MAXVALS)
                return fail("%s: more than %d values", a->name, MAXVALS);
            size_t n = (size_t)(p - start);
            while (n && isspace((unsigned char)start[n - 1]))
                n--;
            while (n && isspace((unsigned char)*start))
                start++, n--;
            if (n == 0)
                return fail("%s: an empty value in '%s'", a->name, s);
            a->val[a->n++] = strndup(start, n);
            start = p + 1;
        }
        if (*p == '\0')
            break;
    }
    return 0;
}

/* NAME=VALUES; for a const, VALUES may be a range A..B of integers. */
static int parse_axis(Sweep *s, const char *arg, int is_define)
{
    const char *eq = strchr(arg, '=');
    const char *flag = is_define ? "-D" : "--set";
    if (!eq || eq == arg || !eq[1])
        return fail("%s expects NAME=VALUES, got '%s'", flag, arg);
    if (s->nax == MAXAXES)
        return fail("more than %d swept variables", MAXAXES);
    Axis *a = &s->ax[s->nax];
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "%.*s", (int)(eq - arg), arg);
    if (!is_define && a->name[0] == '-')
        return fail("--set %s: write the flag without dashes, as in --set lr=0.1,0.01", arg);
    if (!is_define && strcmp(a->name, "seed") == 0)
        return fail("--set seed: seeds come from --repeat N (seeds 1..N)");
    for (int i = 0; i < s->nax; i++)
        if (strcmp(s->ax[i].name, a->name) == 0)
            return fail("%s is swept twice", a->name);
    a->is_define = is_define;
    const char *v = eq + 1, *dots = strstr(v, "..");
    if (is_define && dots) {
        char *e1, *e2;
        long lo = strtol(v, &e1, 10), hi = strtol(dots + 2, &e2, 10);
        if (e1 != dots || *e2 || dots == v || lo > hi)
            return fail("-D %s: a range is two integers A..B with A <= B, as in depth=0..3", arg);
        if (hi - lo >= MAXVALS)
            return fail("-D %s: more than %d values", arg, MAXVALS);
        for (long k = lo; k <= hi; k++) {
            char buf[32];
            snprintf(buf, sizeof buf, "%ld", k);
            a->val[a->n++] = strdup(buf);
        }
    } else if (split_values(a, v) != 0) {
        return -1;
    }
    a->numeric = 1;
    for (int i = 0; i < a->n; i++) {
        a->numeric &= is_number(a->val[i]);
        if (is_define && !is_number(a->val[i]))
            return fail("-D %s: '%s' is not a finite number", a->name, a->val[i]);
    }
    s->nax++;
    return 0;
}

static int parse_int(const char *flag, const char *v, int lo, int *out)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (*end || end == v || x < lo || x > 100000)
        return fail("%s expects an integer >= %d, got '%s'", flag, lo, v);
    *out = (int)x;
    return 0;
}

/* A --metric that no run can have is a mistake to report before the runs
 * (one that these runs do not have, accuracy without `metrics = accuracy`
 * say, is reported once they have run: write_plots). */
static int check_metric(const char *metric)
{
    char all[256] = "";
    for (int k = 0; k < nnrt_metric_ncolumns; k++) {
        if (strcmp(metric, nnrt_metric_columns[k]) == 0)
            return 0;
        size_t n = strlen(all);
        snprintf(all + n, sizeof all - n, "%s%s", k ? ", " : "", nnrt_metric_columns[k]);
    }
    const char *near = diag_closest(metric, nnrt_metric_columns, nnrt_metric_ncolumns);
    return fail("--metric %s: no run's metrics.csv has such a column%s%s%s; the columns are %s",
                metric, near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "", all);
}

static int parse_args(Sweep *s, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = strcmp(a, "-D") == 0 || strcmp(a, "--set") == 0 || strcmp(a, "--repeat") == 0
                    || strcmp(a, "--jobs") == 0 || strcmp(a, "--out") == 0
                    || strcmp(a, "--metric") == 0 || strcmp(a, "--dtype") == 0
                    || strcmp(a, "--backend") == 0;
        if (takes && !v)
            return fail("%s needs a value", a);
        if (strcmp(a, "--") == 0) {
            s->extra = argv + i + 1;
            s->nextra = argc - i - 1;
            break;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "-D") == 0 || strcmp(a, "--set") == 0) {
            if (parse_axis(s, v, a[1] == 'D') != 0)
                return -1;
            i++;
        } else if (strncmp(a, "-D", 2) == 0) {
            if (parse_axis(s, a + 2, 1) != 0)
                return -1;
        } else if (strcmp(a, "--repeat") == 0) {
            if (parse_int(a, argv[++i], 1, &s->repeat) != 0)
                return -1;
        } else if (strcmp(a, "--jobs") == 0) {
            if (parse_int(a, argv[++i], 1, &s->jobs) != 0)
                return -1;
        } else if (strcmp(a, "--out") == 0) {
            s->out = argv[++i];
        } else if (strcmp(a, "--metric") == 0) {
            s->metric = argv[++i];
            if (check_metric(s->metric) != 0)
                return -1;
        } else if (strcmp(a, "--dtype") == 0) {
            s->dtype = argv[++i];
        } else if (strcmp(a, "--backend") == 0) {
            s->backend = argv[++i];
        } else if (strcmp(a, "--plots") == 0) {
            s->plots = 1;
        } else if (strcmp(a, "--resume") == 0) {
            s->resume = 1;
        } else if (strcmp(a, "--mpi") == 0) {
            s->mpi = 1;
        } else if (a[0] == '-') {
            static const char *const flags[] = {"-D", "--set", "--repeat", "--jobs", "--out",
                                                "--metric", "--plots", "--dtype", "--backend",
                                                "--help", "--resume", "--mpi"};
            const char *near = diag_closest(a, flags, 12);
            return fail("unknown option '%s'%s%s%s (trainer flags go after --, as in -- "
                        "--epochs 20)", a, near ? " (did you mean '" : "", near ? near : "",
                        near ? "'?)" : "");
        } else if (!s->model) {
            s->model = a;
        } else {
            return fail("more than one model file ('%s' and '%s')", s->model, a);
        }
    }
    if (!s->model) {
        usage(stderr);
        return -1;
    }
    return 0;
}

/* ---- child processes ---- */

/* The number of arguments in a NULL-terminated argv. */
static int argv_count(char *const *argv)
{
    int n = 0;
    while (argv[n])
        n++;
    return n;
}

/* This process's standard output and error into the job's log. */
static void output_to_log(const Job *job)
{
    int fd = open(job->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
}

/* The compiled model's trainer command line argv, run in this process (a
 * forked child or a run worker, which inherited the compiled code): its
 * exit status, as _exit would pass it on. */
static int run_here(const Job *job)
{
    output_to_log(job);
    int rc = cg_jit_main(job->jit, argv_count(job->argv), job->argv);
    fflush(NULL);
    return rc & 0xff;
}

/* A child with its output in log: it runs argv (exec), or, with jit set,
 * the compiled model's trainer command line (run_here: no exec). */
static pid_t spawn(const Job *job)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    if (job->jit) {
        signal(SIGCHLD, SIG_DFL);   /* the trainer's children are its own */
        _exit(run_here(job));
    }
    output_to_log(job);
    execv(job->argv[0], job->argv);
    fprintf(stderr, "nnc sweep: cannot run %s: %s\n", job->argv[0], strerror(errno));
    _exit(127);
}

typedef void (*JobDone)(Job *job, int k, int ndone, void *ctx);

/* A run worker (the JIT's runs): a process forked from the sweep that runs
 * one run after another, each as spawn's child would, instead of a fork
 * per run.  A fork costs milliseconds (page tables of a process with
 * LLVM's heap mapped, then copy-on-write faults), as much as a short
 * run's training.  The sweep sends it a run's index over a socket, it
 * answers with the run's exit status; closing the socket ends it.  It has
 * the code of the architectures compiled before it was forked, so it
 * takes the runs with ready <= known. */
typedef struct Worker {
    pid_t pid;             /* 0 once it has exited */
    int fd;                /* the sweep's end of the socket; -1 once told to exit */
    int known;             /* the architectures compiled when it was forked */
    int job;               /* the run it is doing, -1 when idle */
} Worker;

typedef struct Workers {
    Worker *w;             /* every worker forked: at most one per run */
    int n;
    int compiled;          /* architectures compiled so far: a run's ready is its number */
} Workers;

/* Jobs start in order among those ready (a run whose model is compiled)
 * while fewer than the pool's limit are running; next is the first job
 * not started.  Each job is a process (spawn), or with workers set (the
 * JIT's runs) is sent to a worker. */
typedef struct Pool {
    Job *jobs;
    int n, next, running, ndone;
    JobDone done;
    void *ctx;
    Workers *workers;
    int forks;             /* processes forked for the jobs */
} Pool;

/* ---- run workers: the JIT's runs, several in one forked process ---- */

/* The worker's life: run after run until the sweep closes the socket (or
 * is gone).  A run that calls exit() or crashes ends the worker; the sweep
 * then has the run's status from waitpid(), as from spawn's child. */
static void worker_main(const Job *jobs, int fd)
{
    signal(SIGCHLD, SIG_DFL);   /* the trainer's children are its own */
    int k;
    while (recv(fd, &k, sizeof k, MSG_WAITALL) == sizeof k) {
        int status = run_here(&jobs[k]);
        if (send(fd, &status, sizeof status, MSG_NOSIGNAL) != sizeof status)
            break;
    }
    _exit(0);
}

/* A new worker, knowing the architectures compiled so far; NULL if it
 * cannot be made. */
static Worker *worker_fork(Pool *p)
{
    Workers *ws = p->workers;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        for (int i = 0; i < ws->n; i++)
            if (ws->w[i].fd >= 0)
                close(ws->w[i].fd);   /* the others end when the sweep closes theirs */
        worker_main(p->jobs, sv[1]);
    }
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        return NULL;
    }
    p->forks++;
    Worker *w = &ws->w[ws->n++];
    *w = (Worker){pid, sv[0], ws->compiled, -1};
    return w;
}

/* Tells the worker to exit once idle (it is reaped by workers_reap). */
static void worker_end(Worker *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
}

static int worker_send(Worker *w, int k)
{
    if (send(w->fd, &k, sizeof k, MSG_NOSIGNAL) != sizeof k)
        return -1;
    w->job = k;
    return 0;
}

/* Job k to an idle worker that has its code, else to a new worker, which
 * replaces an idle one without the code (so at most --jobs stay).  The
 * worker's pid, or -1. */
static pid_t worker_start(Pool *p, int k)
{
    Workers *ws = p->workers;
    Worker *stale = NULL;
    for (int i = 0; i < ws->n; i++) {
        Worker *w = &ws->w[i];
        if (w->fd < 0 || w->job >= 0)
            continue;
        if (w->known >= p->jobs[k].ready && worker_send(w, k) == 0)
            return w->pid;
        if (w->known >= p->jobs[k].ready)
            worker_end(w);   /* it died meanwhile */
        else if (!stale)
            stale = w;
    }
    if (stale)
        worker_end(stale);
    Worker *w = worker_fork(p);
    if (!w)
        return -1;
    if (worker_send(w, k) != 0) {
        worker_end(w);
        return -1;
    }
    return w->pid;
}

/* The run w was doing is over, with this status. */
static void worker_done(Pool *p, Worker *w, int status)
{
    int k = w->job;
    Job *j = &p->jobs[k];
    w->job = -1;
    j->status = status;
    j->pid = 0;
    p->running--;
    p->done(j, k, ++p->ndone, p->ctx);
}

/* Collects the statuses the workers have sent, and the workers that have
 * exited: one that was doing a run ends it with its own status.  With
 * block, waits for the workers to exit (told to exit first: the sweep's
 * end).  0 when nothing happened. */
static int workers_reap(Pool *p, int block)
{
    Workers *ws = p->workers;
    int got = 0, status;
    for (int i = 0; i < ws->n; i++) {
        Worker *w = &ws->w[i];
        if (block)
            worker_end(w);
        if (w->pid == 0 || (w->fd >= 0 && w->job < 0))
            continue;
        if (w->job >= 0 && recv(w->fd, &status, sizeof status, MSG_DONTWAIT) == sizeof status) {
            worker_done(p, w, status);
            got = 1;
        }
        if (waitpid(w->pid, &status, block ? 0 : WNOHANG) == w->pid) {
            int sent;
            w->pid = 0;
            if (w->job >= 0 && recv(w->fd, &sent, sizeof sent, MSG_DONTWAIT) == sizeof sent)
                worker_done(p, w, sent);   /* it answered, then died */
            else if (w->job >= 0)
                worker_done(p, w, WIFEXITED(status) ? WEXITSTATUS(status)
                                                    : 128 + WTERMSIG(status));
            worker_end(w);
            got = 1;
        }
    }
    return got;
}

/* ---- the pool: jobs in order, at most --jobs at a time ---- */

/* Ctrl-C (SIGINT, which the trainers get too, and stop at their next
 * step): no job starts from then on; those running end, and the sweep
 * writes the table of the runs that finished. */
static volatile sig_atomic_t interrupted;
static void wake(void);

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
    wake();
}

/* Start ready jobs while fewer than maxjobs run (none once interrupted). */
static void pool_fill(Pool *p, int maxjobs)
{
    for (int k = p->next; k < p->n && p->running < maxjobs && !interrupted; k++) {
        Job *j = &p->jobs[k];
        if (j->started || !j->ready)
            continue;
        j->started = 1;
        if (j->skip) {   /* finished before: its results are read as if it had just run */
            j->status = 0;
            p->done(j, k, ++p->ndone, p->ctx);
            continue;
        }
        if (p->workers) {
            j->pid = worker_start(p, k);
        } else {
            j->pid = spawn(j);
            p->forks += j->pid > 0;
        }
        if (j->pid < 0) {
            j->status = 127;
            p->done(j, k, ++p->ndone, p->ctx);
        } else {
            p->running++;
        }
    }
    while (p->next < p->n && p->jobs[p->next].started)
        p->next++;
    for (int i = 0; p->workers && p->next == p->n && i < p->workers->n; i++)
        if (p->workers->w[i].job < 0)
            worker_end(&p->workers->w[i]);   /* no run left for it */
}

/* Collect finished children; with block, wait for at least one.  0 when
 * there is nothing to wait for. */
static int pool_reap(Pool *p, int block)
{
    int status, got = 0;
    pid_t pid;
    while (p->running > 0 && (pid = waitpid(-1, &status, block && !got ? 0 : WNOHANG)) > 0) {
        got = 1;
        for (int k = 0; k < p->n; k++)
            if (p->jobs[k].pid == pid) {
                Job *j = &p->jobs[k];
                j->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                j->pid = 0;
                p->running--;
                p->done(j, k, ++p->ndone, p->ctx);
            }
    }
    return got;
}

/* ---- architectures: one build per combination of -D values ---- */

static int mkdirs(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return fail("cannot create %s: %s", buf, strerror(errno));
            *p = '/';
        }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return fail("cannot create %s: %s", buf, strerror(errno));
    return 0;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0, got;
    char *buf = malloc(cap);
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 >= cap)
            buf = realloc(buf, cap *= 2);
    }
    int failed = ferror(f);   /* a directory opens, and its first read fails (EISDIR) */
    fclose(f);
    if (failed) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* The model with these -D values: its IR, differentiated when ad is set
 * (for the JIT), and in *ast its syntax tree, which the IR refers to.
 * Messages (warnings, errors) go to msgs.  NULL after errors. */
static IrProgram *arch_ir(const Sweep *s, const char *src, const int *idx, int ad, FILE *msgs,
                          Program **ast)
{
    Define defs[MAXAXES];
    int nd = 0;
    for (int a = 0; a < s->nax; a++)
        if (s->ax[a].is_define) {
            defs[nd].name = s->ax[a].name;
            defs[nd].value = strtod(s->ax[a].val[idx[a]], NULL);
            defs[nd].used = 0;
            nd++;
        }
    diag_set_stream(msgs);
    int errors = diag_error_count();
    *ast = ast_parse(s->model, src);
    SemaOptions so = {defs, nd, s->dtype && strcmp(s->dtype, "f64") == 0 ? DT_F64 : DT_F32};
    IrProgram *p = *ast && diag_error_count() == errors ? sema_lower(*ast, src, &so) : NULL;
    if (p && ad)
        ad_differentiate(p);
    diag_set_stream(stderr);
    return p;
}

/* The number of parameters, as `nnc --report` counts them. */
static long long count_params(const IrProgram *p)
{
    long long n = 0;
    for (int i = 0; i < p->nparams; i++)
        n += shape_numel(&p->params[i].shape);
    return n;
}

static void sanitize(char *out, size_t len, const char *s)
{
    size_t k = strlen(out);
    for (; *s && k + 1 < len; s++)
        if (isalnum((unsigned char)*s) || *s == '.' || *s == '-')
            out[k++] = *s;
        else if (k > 0 && out[k - 1] != '_')
            out[k++] = '_';
    out[k] = '\0';
}

/* The JIT's loop sleeps until a run exits or a compilation ends: each
 * writes a byte to this pipe (the SIGCHLD handler, compile_thread), and
 * the loop waits in poll() on its other end, rather than waking every
 * half millisecond to look (which took CPU from the compilations and
 * left a core idle until the next look). */
static int wake_pipe[2] = {-1, -1};

static void wake(void)
{
    int saved = errno;
    ssize_t n = write(wake_pipe[1], "", 1);   /* non-blocking: a full pipe wakes the loop anyway */
    (void)n;
    errno = saved;
}

static void on_sigchld(int sig)
{
    (void)sig;
    wake();
}

/* The JIT compiles an architecture in a thread, so that the main thread
 * keeps starting runs meanwhile (and up to --jobs architectures compile
 * at a time); arch->compiled says when it is done. */
static void *compile_thread(void *arg)
{
    Arch *ar = arg;
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &chld, NULL);   /* runs' exits are the main thread's */
    struct timespec t0, t1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    ar->jit = cg_jit_compile(ar->ir, ar->nflags, ar->flags, ar->work);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
    ar->cpu = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    __atomic_store_n(&ar->compiled, 1, __ATOMIC_RELEASE);
    wake();
    return NULL;
}

static int start_compile(Arch *ar)
{
    int err = pthread_create(&ar->thread, NULL, compile_thread, ar);
    if (err)
        return fail("cannot start a thread: %s", strerror(err));
    ar->compiling = 1;
    return 0;
}

/* ---- reading results ---- */

/* The header and the last row of a run's metrics.csv. */
static int last_row(const char *path, char names[MAXCOLS][32], int *ncols, double *vals)
{
    FILE *f = fopen(path, "r");
    char line[4096], last[4096] = "";
    if (!f)
        return -1;
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return -1;
    }
    *ncols = 0;
    for (char *t = strtok(line, ",\r\n"); t && *ncols < MAXCOLS; t = strtok(NULL, ",\r\n"))
        snprintf(names[(*ncols)++], 32, "%s", t);
    while (fgets(line, sizeof line, f))
        if (line[0] && line[0] != '\n')
            snprintf(last, sizeof last, "%s", line);
    fclose(f);
    if (!last[0])
        return -1;
    char *p = last;
    for (int c = 0; c < *ncols; c++) {
        char *end;
        vals[c] = strtod(p, &end);
        if (end == p)
            vals[c] = NAN;
        p = *end == ',' ? end + 1 : end;
    }
    return 0;
}

/* ---- the whole sweep ---- */

/* Everything one sweep plans and collects (sweep_main's steps, at the end). */
typedef struct State {
    Sweep *s;
    char *src;             /* the model's text */
    char bindir[PATH_MAX - 400];   /* DIR/bin: the C backend's trainers, the builds' logs */
    int use_jit;
    Config *cfg;           /* every configuration, the last axis varying fastest */
    int ncfg, total;       /* total = ncfg x repeat runs */
    Arch *arch;            /* the architectures, in order of their first configuration */
    int narch;
    Job *builds;           /* the C backend's: one `nnc build` per architecture */
    Job *all;              /* every job: the builds, then the runs (C); the runs (JIT) */
    Job *runs;             /* the runs: configuration by configuration, seeds 1..repeat */
    char cols[MAXCOLS][32];   /* metrics.csv's columns, from the first run done */
    int ncols;
    int nfinished;         /* runs done */
    double t0;
    int nran;              /* runs done by this sweep (not --resume's earlier ones) */
} State;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int col_index(const State *st, const char *name)
{
    for (int c = 0; c < st->ncols; c++)
        if (strcmp(st->cols[c], name) == 0)
            return c;
    return -1;
}

/* Aggregated columns: everything but the counters. */
static int aggregated(const char *name)
{
    return strcmp(name, "epoch") != 0 && strcmp(name, "step") != 0 && strcmp(name, "lr") != 0;
}

static void describe(const Sweep *s, const Config *c, char *buf, size_t len)
{
    buf[0] = '\0';
    for (int a = 0; a < s->nax; a++) {
        size_t k = strlen(buf);
        snprintf(buf + k, len - k, "%s%s=%s", a ? " " : "", s->ax[a].name, s->ax[a].val[c->idx[a]]);
    }
}

static void run_done(Job *job, int k, int ndone, void *ctx)
{
    State *st = ctx;
    (void)k;
    (void)ndone;
    Config *c = &st->cfg[job->config];
    char path[PATH_MAX], what[600], names[MAXCOLS][32];
    double vals[MAXCOLS];
    int ncols = 0;
    snprintf(path, sizeof path, "%s/runs/%s/seed%d/metrics.csv", st->s->out, c->id, job->seed);
    int have = last_row(path, names, &ncols, vals) == 0;
    if (have && st->ncols == 0) {
        memcpy(st->cols, names, sizeof st->cols);
        st->ncols = ncols;
    }
    double *row = c->vals + (size_t)(job->seed - 1) * MAXCOLS;
    for (int i = 0; i < MAXCOLS; i++)
        row[i] = NAN;
    for (int i = 0; have && i < ncols; i++) {
        int at = col_index(st, names[i]);
        if (at >= 0)
            row[at] = vals[i];
    }
    c->ok[job->seed - 1] = job->status == 0 && have;
    c->nruns++;
    c->nfailed += !c->ok[job->seed - 1];
    describe(st->s, c, what, sizeof what);
    fprintf(stderr, "[%d/%d] %s seed %d: ", ++st->nfinished, st->total, what, job->seed);
    if (c->ok[job->seed - 1]) {
        int m = col_index(st, st->s->metric ? st->s->metric : "test_loss");
        if (m < 0)
            m = col_index(st, "loss");
        if (m >= 0)
            fprintf(stderr, "%s %.4g", st->cols[m], row[m]);
        if (job->skip)
            fprintf(stderr, " (finished before)");
        /* at a terminal, the time left for the sweep at its pace so far
         * (runs run earlier, --resume, aside) */
        st->nran += !job->skip;
        int left = st->total - st->nfinished;
        if (isatty(STDERR_FILENO) && left > 0 && st->nran > 0) {
            long t = lround((now() - st->t0) * left / st->nran);
            fprintf(stderr, "  (%ld:%02ld left)", t / 60, t % 60);
        }
        fprintf(stderr, "\n");
    } else if (interrupted && job->status == 130) {
        fprintf(stderr, "interrupted (Ctrl-C)\n");
    } else {
        fprintf(stderr, "FAILED (exit %d; see %s/runs/%s/seed%d/train.log)\n", job->status,
                st->s->out, c->id, job->seed);
    }
    if (nnrt_board_due())   /* the live board, docs/board.md */
        nnrt_board_live(st->s->out, 1, 1);
}

static void build_done(Job *job, int k, int ndone, void *ctx)
{
    (void)k;
    (void)ndone;
    int *failed = ctx;
    if (job->status != 0) {
        fprintf(stderr, "nnc sweep: error: building failed (exit %d); its messages, from %s:\n",
                job->status, job->log);
        char *text = slurp(job->log);
        if (text)
            fputs(text, stderr);
        free(text);
        *failed = 1;
    }
}

/* The C backend's jobs: narch builds (seed: the architecture), then the runs. */
typedef struct Builds {
    State *st;
    Job *jobs;
    int narch, failed;
} Builds;

static void build_or_run_done(Job *job, int k, int ndone, void *ctx)
{
    Builds *b = ctx;
    if (job->config >= 0) {
        run_done(job, k, ndone, b->st);
        return;
    }
    build_done(job, k, ndone, &b->failed);
    for (int j = b->narch; job->status == 0 && j < b->narch + b->st->total; j++)
        if (b->st->cfg[b->jobs[j].config].arch == job->seed)
            b->jobs[j].ready = 1;
}

/* mean and sample standard deviation of column col over the config's
 * successful runs; n = how many had a value */
static void stats(const State *st, const Config *c, int col, double *mean, double *sd, int *n)
{
    double sum = 0, sq = 0;
    *n = 0;
    for (int r = 0; r < st->s->repeat; r++) {
        double v = c->vals[(size_t)r * MAXCOLS + col];
        if (c->ok[r] && isfinite(v)) {
            sum += v;
            (*n)++;
        }
    }
    *mean = *n ? sum / *n : NAN;
    for (int r = 0; r < st->s->repeat; r++) {
        double v = c->vals[(size_t)r * MAXCOLS + col];
        if (c->ok[r] && isfinite(v))
            sq += (v - *mean) * (v - *mean);
    }
    *sd = *n > 1 ? sqrt(sq / (*n - 1)) : (*n == 1 ? 0 : NAN);
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

static void json_number(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.9g", v);
    else
        fprintf(f, "null");
}

/* A value of an axis as a CSV field: quoted when it holds a comma or quote. */
static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* results.json and sweep.json begin alike: the model, the repeats, and
 * for each configuration its id and its swept values. */
static void json_head(FILE *f, const Sweep *s)
{
    fprintf(f, "{\n  \"model\": ");
    json_string(f, s->model);
    fprintf(f, ",\n  \"repeat\": %d,\n  \"configs\": [\n", s->repeat);
}

static void json_config(FILE *f, const Sweep *s, const Config *c)
{
    fprintf(f, "    {\"config\": ");
    json_string(f, c->id);
    fprintf(f, ", \"values\": {");
    for (int a = 0; a < s->nax; a++) {
        fprintf(f, "%s", a ? ", " : "");
        json_string(f, s->ax[a].name);
        fprintf(f, ": ");
        if (s->ax[a].numeric)
            json_number(f, strtod(s->ax[a].val[c->idx[a]], NULL));
        else
            json_string(f, s->ax[a].val[c->idx[a]]);
    }
}

static int write_results(State *st)
{
    Sweep *s = st->s;
    char path[PATH_MAX];
    int agg[MAXCOLS], nagg = 0;
    for (int c = 0; c < st->ncols; c++)
        if (aggregated(st->cols[c]))
            agg[nagg++] = c;

    snprintf(path, sizeof path, "%s/runs.csv", s->out);
    FILE *f = fopen(path, "w");
    if (!f)
        return fail("cannot write %s: %s", path, strerror(errno));
    fprintf(f, "config");
    for (int a = 0; a < s->nax; a++)
        fprintf(f, ",%s", s->ax[a].name);
    fprintf(f, ",seed,params,ok");
    for (int c = 0; c < st->ncols; c++) {   /* the last row's lr beside a swept lr: final_lr */
        int clash = 0;
        for (int a = 0; a < s->nax; a++)
            clash |= strcmp(s->ax[a].name, st->cols[c]) == 0;
        fprintf(f, ",%s%s", clash ? "final_" : "", st->cols[c]);
    }
    fprintf(f, "\n");
    for (int i = 0; i < st->ncfg; i++) {
        Config *c = &st->cfg[i];
        for (int r = 0; r < s->repeat; r++) {
            fprintf(f, "%s", c->id);
            for (int a = 0; a < s->nax; a++) {
                fputc(',', f);
                csv_field(f, s->ax[a].val[c->idx[a]]);
            }
            fprintf(f, ",%d,%lld,%d", r + 1, c->params, c->ok[r]);
            for (int k = 0; k < st->ncols; k++)
                fprintf(f, ",%.9g", c->vals[(size_t)r * MAXCOLS + k]);
            fprintf(f, "\n");
        }
    }
    fclose(f);

    snprintf(path, sizeof path, "%s/results.csv", s->out);
    f = fopen(path, "w");
    if (!f)
        return fail("cannot write %s: %s", path, strerror(errno));
    fprintf(f, "config");
    for (int a = 0; a < s->nax; a++)
        fprintf(f, ",%s", s->ax[a].name);
    fprintf(f, ",params,runs,failed");
    for (int k = 0; k < nagg; k++)
        fprintf(f, ",%s_mean,%s_std", st->cols[agg[k]], st->cols[agg[k]]);
    fprintf(f, "\n");
    for (int i = 0; i < st->ncfg; i++) {
        Config *c = &st->cfg[i];
        fprintf(f, "%s", c->id);
        for (int a = 0; a < s->nax; a++) {
            fputc(',', f);
            csv_field(f, s->ax[a].val[c->idx[a]]);
        }
        fprintf(f, ",%lld,%d,%d", c->params, c->nruns - c->nfailed, c->nfailed);
        for (int k = 0; k < nagg; k++) {
            double m, sd;
            int n;
            stats(st, c, agg[k], &m, &sd, &n);
            fprintf(f, ",%.9g,%.9g", m, sd);
        }
        fprintf(f, "\n");
    }
    fclose(f);

    snprintf(path, sizeof path, "%s/results.json", s->out);
    f = fopen(path, "w");
    if (!f)
        return fail("cannot write %s: %s", path, strerror(errno));
    json_head(f, s);
    for (int i = 0; i < st->ncfg; i++) {
        Config *c = &st->cfg[i];
        json_config(f, s, c);
        fprintf(f, "}, \"params\": %lld, \"runs\": %d, \"failed\": %d,\n     \"metrics\": {",
                c->params, c->nruns - c->nfailed, c->nfailed);
        for (int k = 0; k < nagg; k++) {
            double m, sd;
            int n;
            stats(st, c, agg[k], &m, &sd, &n);
            fprintf(f, "%s\n       ", k ? "," : "");
            json_string(f, st->cols[agg[k]]);
            fprintf(f, ": {\"mean\": ");
            json_number(f, m);
            fprintf(f, ", \"std\": ");
            json_number(f, sd);
            fprintf(f, ", \"values\": [");
            for (int r = 0, first = 1; r < s->repeat; r++) {
                if (!c->ok[r])
                    continue;
                fprintf(f, "%s", first ? "" : ", ");
                json_number(f, c->vals[(size_t)r * MAXCOLS + agg[k]]);
                first = 0;
            }
            fprintf(f, "]}");
        }
        fprintf(f, "}}%s\n", i + 1 < st->ncfg ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    fclose(f);
    return 0;
}

/* sweep.json, the plan, written before any run: what results.json will
 * hold but the metrics, so the live board (docs/board.md) knows every
 * configuration's values while its runs train.  The live board's clock
 * starts here: a sweep shorter than NNRT_BOARD_SECONDS gets only the final
 * board. */
static int write_plan(State *st)
{
    Sweep *s = st->s;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/sweep.json", s->out);
    FILE *f = fopen(path, "w");
    if (!f)
        return fail("cannot write %s: %s", path, strerror(errno));
    json_head(f, s);
    for (int i = 0; i < st->ncfg; i++) {
        Config *c = &st->cfg[i];
        json_config(f, s, c);
        fprintf(f, "}, \"params\": %lld}%s\n", c->params, i + 1 < st->ncfg ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    if (fclose(f) != 0)
        return fail("cannot write %s: %s", path, strerror(errno));
    nnrt_board_due();
    return 0;
}

/* The readable table: swept values, params, then mean +- std of the
 * columns that matter (losses and accuracies), to stdout and results.txt. */
static void print_table(State *st, FILE *f)
{
    Sweep *s = st->s;
    static const char *const shown[] = {"loss", "test_loss", "accuracy", "test_accuracy"};
    int cols[4], nc = 0;
    for (int k = 0; k < 4; k++)
        if (col_index(st, shown[k]) >= 0)
            cols[nc++] = col_index(st, shown[k]);
    int w[MAXAXES];
    for (int a = 0; a < s->nax; a++) {
        w[a] = (int)strlen(s->ax[a].name);
        for (int v = 0; v < s->ax[a].n; v++)
            w[a] = (int)strlen(s->ax[a].val[v]) > w[a] ? (int)strlen(s->ax[a].val[v]) : w[a];
        fprintf(f, "%-*s  ", w[a], s->ax[a].name);
    }
    fprintf(f, "%8s  %4s", "params", "runs");
    for (int k = 0; k < nc; k++)
        fprintf(f, k + 1 < nc ? "  %-22s" : "  %s", st->cols[cols[k]]);
    fprintf(f, "\n");
    for (int i = 0; i < st->ncfg; i++) {
        Config *c = &st->cfg[i];
        for (int a = 0; a < s->nax; a++)
            fprintf(f, "%-*s  ", w[a], s->ax[a].val[c->idx[a]]);
        char runs[32];
        snprintf(runs, sizeof runs, "%d%s", c->nruns - c->nfailed, c->nfailed ? "!" : "");
        fprintf(f, "%8lld  %4s", c->params, runs);
        for (int k = 0; k < nc; k++) {
            double m, sd;
            int n;
            char cell[64];
            stats(st, c, cols[k], &m, &sd, &n);
            if (n)
                snprintf(cell, sizeof cell, "%.4f +- %.4f", m, sd);
            else
                snprintf(cell, sizeof cell, "-");
            fprintf(f, k + 1 < nc ? "  %-22s" : "  %s", cell);
        }
        fprintf(f, "\n");
    }
    fprintf(f, "\nmean +- sample standard deviation over %d repeat%s (seeds 1..%d) of the final "
            "epoch's values\n", s->repeat, s->repeat == 1 ? "" : "s", s->repeat);
    int failed = 0;
    for (int i = 0; i < st->ncfg; i++)
        failed += st->cfg[i].nfailed;
    if (failed)
        fprintf(f, "%d run%s failed (runs column marked !); their logs are train.log in each run "
                "directory\n", failed, failed == 1 ? "" : "s");
}

/* ---- plots ---- */

/* A numeric axis of positive values spanning a decade or more (lr = 0.1,
 * 0.01, 0.001) is drawn on a log scale: linearly, 0.01 and 0.001 would lie
 * on top of each other. */
static int axis_log(const Axis *a)
{
    double lo = INFINITY, hi = 0;
    for (int v = 0; a->numeric && v < a->n; v++) {
        double x = strtod(a->val[v], NULL);
        lo = fmin(lo, x);
        hi = fmax(hi, x);
    }
    return a->numeric && lo > 0 && hi / lo >= 10;
}

/* The position of a value on an axis's plot scale: the number itself (its
 * log10 on a log axis), or its index for names (with the names as tic
 * labels). */
static double axis_pos(const Axis *a, int v)
{
    double x = a->numeric ? strtod(a->val[v], NULL) : v;
    return axis_log(a) ? log10(x) : x;
}

static void axis_tics(FILE *f, const Axis *a, const char *cmd)
{
    fprintf(f, "%s (", cmd);
    for (int v = 0; v < a->n; v++) {
        fprintf(f, "%s\"", v ? ", " : "");
        for (const char *p = a->val[v]; *p; p++)
            fputc(*p == '"' ? '\'' : *p, f);
        fprintf(f, "\" %g", axis_pos(a, v));
    }
    fprintf(f, ")\n");
}

static void gp_header(FILE *f, const char *name, const char *what)
{
    fprintf(f, "# %s.gp - %s.\n# Written by nnc sweep; restyle freely, then run `gnuplot "
               "%s.gp` in this directory.\n\n"
               "cairo = strstrt(GPVAL_TERMINALS, \" pngcairo \") > 0\n"
               "pdf = strstrt(GPVAL_TERMINALS, \" pdfcairo \") > 0\n", name, what, name);
}

static void gp_formats(FILE *f, const char *name, int w, int h)
{
    nnrt_plot_formats(f, name, w, h);
}

/* The axes with more than one value, into var; returns how many. */
static int varying_axes(const Sweep *s, int *var)
{
    int nv = 0;
    for (int a = 0; a < s->nax; a++)
        if (s->ax[a].n > 1)
            var[nv++] = a;
    return nv;
}

/* Writes parallel.gp and (with two varying axes) heatmap.gp with their
 * data; which[0..*nw) = the scripts written (0 parallel, 1 heatmap). */
static int write_plots(State *st, const char *metric, int *which, int *nw)
{
    Sweep *s = st->s;
    int mc = col_index(st, metric);
    char path[PATH_MAX];
    *nw = 0;
    if (mc < 0) {
        char have[MAXCOLS * 34] = "";
        for (int c = 0; c < st->ncols; c++)
            if (aggregated(st->cols[c]))
                snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s",
                         have[0] ? ", " : "", st->cols[c]);
        return fail("--metric %s: the runs have no such column (they have %s)", metric, have);
    }
    int var[MAXAXES], nv = varying_axes(s, var);

    /* parallel coordinates: one line per configuration (the mean over its
     * repeats) through each swept axis, the parameter count and the metric.
     * An axis of one value would cut every line (gnuplot draws a line only
     * between axes where it has a place): the parameter count is left out
     * when every configuration has the same (a --set-only sweep). */
    long long p0 = -1;
    int params_vary = 0;
    double plo = INFINITY, phi = 0;
    for (int i = 0; i < st->ncfg; i++) {
        double m, sd;
        int n;
        stats(st, &st->cfg[i], mc, &m, &sd, &n);
        if (!n)
            continue;
        params_vary |= p0 >= 0 && st->cfg[i].params != p0;
        p0 = st->cfg[i].params;
        plo = fmin(plo, (double)p0);
        phi = fmax(phi, (double)p0);
    }
    int with_params = params_vary || nv == 0, params_log = plo > 0 && phi / plo >= 10;
    snprintf(path, sizeof path, "%s/parallel.dat", s->out);
    FILE *f = fopen(path, "w");
    if (!f)
        return fail("cannot write %s", path);
    fprintf(f, "#");
    for (int k = 0; k < nv; k++)
        fprintf(f, " %s%s", s->ax[var[k]].name, axis_log(&s->ax[var[k]]) ? "(log10)" : "");
    fprintf(f, "%s %s_mean\n", with_params ? params_log ? " params(log10)" : " params" : "",
            metric);
    for (int i = 0; i < st->ncfg; i++) {
        double m, sd;
        int n;
        stats(st, &st->cfg[i], mc, &m, &sd, &n);
        if (!n)
            continue;
        for (int k = 0; k < nv; k++)
            fprintf(f, "%.9g ", axis_pos(&s->ax[var[k]], st->cfg[i].idx[var[k]]));
        if (with_params)
            fprintf(f, "%.9g ", params_log ? log10((double)st->cfg[i].params)
                                           : (double)st->cfg[i].params);
        fprintf(f, "%.9g\n", m);
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/parallel.gp", s->out);
    f = fopen(path, "w");
    if (!f)
        return fail("cannot write %s", path);
    gp_header(f, "parallel", "parallel coordinates: one line per configuration");
    char title[300];
    snprintf(title, sizeof title, "%s: %s, mean over %d repeat%s", s->name, metric, s->repeat,
             s->repeat == 1 ? "" : "s");
    fprintf(f, "set title \"%s\"\n", title);
    fprintf(f, "unset key\nunset ytics\nset border 0\nset xtics (");
    int naxes = nv + with_params + 1;
    /* values are written right of their axis, the axes' names under them:
     * the axes stand as far apart as the longest needs (in characters) */
    size_t longest = strlen(metric) > 10 ? strlen(metric) : 10;
    if (with_params)
        longest = longest > 16 ? longest : 16;   /* "parameters (log)" */
    for (int k = 0; k < nv; k++) {
        size_t n = strlen(s->ax[var[k]].name) + 6;
        longest = n > longest ? n : longest;
        for (int v = 0; v < s->ax[var[k]].n; v++) {
            n = strlen(s->ax[var[k]].val[v]) + 5;
            longest = n > longest ? n : longest;
        }
    }
    for (int k = 0; k < nv; k++)
        fprintf(f, "\"%s%s\" %d, ", s->ax[var[k]].name, axis_log(&s->ax[var[k]]) ? " (log)" : "",
                k + 1);
    if (with_params)
        fprintf(f, "\"parameters%s\" %d, ", params_log ? " (log)" : "", nv + 1);
    fprintf(f, "\"%s\" %d) scale 0 nomirror\n", metric, naxes);
    fprintf(f, "set style parallel lw 2\n");
    for (int k = 0; k < naxes; k++) {
        if (k >= nv) {
            fprintf(f, "set paxis %d tics left offset 4\n", k + 1);
            if (k == nv && with_params && params_log) {
                /* the counts themselves at 1, 2 and 5 times powers of ten */
                fprintf(f, "set paxis %d tics (", k + 1);
                int first = 1;
                for (double d = floor(log10(plo)); d <= ceil(log10(phi)); d++)
                    for (int m = 1; m <= 5; m += m == 1 ? 1 : 3) {
                        double v = m * pow(10, d);
                        if (v < plo || v > phi)
                            continue;
                        fprintf(f, "%s\"%.0f\" %g", first ? "" : ", ", v, log10(v));
                        first = 0;
                    }
                fprintf(f, ")\nset paxis %d range [%g:%g]\n", k + 1, log10(plo) - 0.05,
                        log10(phi) + 0.05);
            }
            continue;
        }
        /* a swept axis: tics at its values only, a little room at the ends */
        const Axis *a = &s->ax[var[k]];
        double lo = INFINITY, hi = -INFINITY;
        for (int v = 0; v < a->n; v++) {
            lo = fmin(lo, axis_pos(a, v));
            hi = fmax(hi, axis_pos(a, v));
        }
        char cmd[64];
        snprintf(cmd, sizeof cmd, "set paxis %d tics", k + 1);
        axis_tics(f, a, cmd);
        fprintf(f, "set paxis %d tics left offset 4\nset paxis %d range [%g:%g]\n", k + 1, k + 1,
                lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo));
    }
    /* the lines' colour is the metric, whose axis is the last: no colour bar */
    fprintf(f, "set palette defined (0 '#440154', 0.25 '#3b528b', 0.5 '#21918c', "
               "0.75 '#5ec962', 1 '#fde725')\nunset colorbox\n");
    /* (a character of the PDF's 12-point text is about 13 of its pixels) */
    int pw = 160 + naxes * (13 * (int)longest + 20), tw = 13 * (int)strlen(title) + 80;
    gp_formats(f, "parallel", pw > tw ? pw : tw, 540);
    /* gnuplot 5.4: one `using` per axis, the colour from the last column */
    fprintf(f, "    plot for [col = 1:%d] 'parallel.dat' using col:", naxes);
    fprintf(f, "%d with parallelaxes lc palette lw 2\n    set output\n}\n", naxes);
    fclose(f);
    which[(*nw)++] = 0;

    /* heat map over the first two varying axes, averaged over the others */
    if (nv < 2)
        return 0;
    const Axis *ax = &s->ax[var[0]], *ay = &s->ax[var[1]];
    snprintf(path, sizeof path, "%s/heatmap.dat", s->out);
    f = fopen(path, "w");
    if (!f)
        return fail("cannot write %s", path);
    fprintf(f, "# %s %s %s_mean %s_std runs (x, y: values or indices of names)\n", ax->name,
            ay->name, metric, metric);
    for (int vy = 0; vy < ay->n; vy++) {
        for (int vx = 0; vx < ax->n; vx++) {
            double sum = 0, sq = 0;
            int n = 0;
            for (int i = 0; i < st->ncfg; i++) {
                Config *c = &st->cfg[i];
                if (c->idx[var[0]] != vx || c->idx[var[1]] != vy)
                    continue;
                for (int r = 0; r < s->repeat; r++) {
                    double v = c->vals[(size_t)r * MAXCOLS + mc];
                    if (c->ok[r] && isfinite(v))
                        sum += v, sq += v * v, n++;
                }
            }
            double m = n ? sum / n : NAN;
            double var_ = n > 1 ? (sq - n * m * m) / (n - 1) : 0;
            fprintf(f, "%d %d %.9g %.9g %d\n", vx, vy, m, var_ > 0 ? sqrt(var_) : 0.0, n);
        }
        fputc('\n', f);
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/heatmap.gp", s->out);
    f = fopen(path, "w");
    if (!f)
        return fail("cannot write %s", path);
    gp_header(f, "heatmap", "the metric over two swept axes, mean +- std in each cell");
    /* the title in short lines, and a figure wide enough for them and the
     * colour bar's label at the PDF's text size (nnrt_plot_formats; a
     * character is about 13 of its pixels) */
    char htitle[3][200];
    snprintf(htitle[0], sizeof htitle[0], "%s: %s", s->name, metric);
    snprintf(htitle[1], sizeof htitle[1], "mean +- std over %d repeat%s", s->repeat,
             s->repeat == 1 ? "" : "s");
    snprintf(htitle[2], sizeof htitle[2], "%s", nv > 2 ? "and the other swept values" : "");
    fprintf(f, "set title \"%s\\n%s%s%s\"\n", htitle[0], htitle[1], nv > 2 ? "\\n" : "", htitle[2]);
    size_t tl = strlen(htitle[0]) > strlen(htitle[1]) ? strlen(htitle[0]) : strlen(htitle[1]);
    tl = strlen(htitle[2]) > tl ? strlen(htitle[2]) : tl;
    int hw = 13 * (int)tl + 80 > 300 + 110 * ax->n ? 13 * (int)tl + 80 : 300 + 110 * ax->n;
    fprintf(f, "set xlabel \"%s\"\nset ylabel \"%s\"\nunset key\nset tics scale 0\n", ax->name,
            ay->name);
    fprintf(f, "set xrange [-0.5:%d.5]\nset yrange [-0.5:%d.5]\n", ax->n - 1, ay->n - 1);
    fprintf(f, "set xtics (");
    for (int v = 0; v < ax->n; v++)
        fprintf(f, "%s\"%s\" %d", v ? ", " : "", ax->val[v], v);
    fprintf(f, ")\nset ytics (");
    for (int v = 0; v < ay->n; v++)
        fprintf(f, "%s\"%s\" %d", v ? ", " : "", ay->val[v], v);
    fprintf(f, ")\nset palette defined (0 '#440154', 0.25 '#3b528b', 0.5 '#21918c', "
               "0.75 '#5ec962', 1 '#fde725')\nset cblabel \"%s\"\n", metric);
    gp_formats(f, "heatmap", hw, 180 + 70 * ay->n < 480 ? 480 : 180 + 70 * ay->n);
    /* labels dark on the light (high) end of the palette, white elsewhere */
    fprintf(f, "    stats 'heatmap.dat' using 3 nooutput\n"
               "    light(v) = STATS_max > STATS_min && v - STATS_min > 0.6 * (STATS_max - STATS_min)\n"
               "    cell(m, s) = sprintf(\"%%.3g\\n+- %%.2g\", m, s)\n");
    fprintf(f, "    plot 'heatmap.dat' using 1:2:3 with image, \\\n"
               "         '' using 1:(light($3) ? $2 : NaN):(cell($3, $4)) with labels tc rgb '#202020' "
               "font \",9\", \\\n"
               "         '' using 1:(light($3) ? NaN : $2):(cell($3, $4)) with labels tc rgb 'white' "
               "font \",9\"\n    set output\n}\n");
    fclose(f);
    which[(*nw)++] = 1;
    return 0;
}

/* The sweep's gnuplot processes, started with the sweep and waiting on a
 * pipe for their script: starting gnuplot (exec, linking its libraries)
 * takes about a third of a plot's time, and would otherwise come after
 * the last run.  Its first drawing with cairo (fontconfig, the fonts,
 * pango) takes another sixth: plotter_warm has each draw a small plot
 * to /dev/null with the terminals and fonts of gp_formats once every run
 * has started and a core is free (earlier, it would take a core from the
 * JIT's loading or the compilations).  At the end each gets `load
 * "NAME.gp"` and end of input.  The warm-up changes only the terminal and
 * the output, which the scripts set themselves, so the pictures are those
 * of `gnuplot NAME.gp`. */
typedef struct Plotter {
    char exe[PATH_MAX];       /* "" when gnuplot is not on PATH */
    char log[PATH_MAX];       /* DIR/plots.log, removed when empty */
    pid_t pid[2];             /* parallel.gp's and heatmap.gp's; 0 when not started */
    int fd[2];                /* their standard input */
    int warm;                 /* the warm-up was sent */
} Plotter;

/* gnuplot i, reading its commands from a pipe; pid 0 when it cannot start. */
static void plotter_spawn(Plotter *pl, const char *dir, int i)
{
    int io[2];
    if (!pl->exe[0] || pipe(io) != 0)
        return;
    fcntl(io[1], F_SETFD, FD_CLOEXEC);   /* not for builds, trainers or the other gnuplot */
    fflush(NULL);
    pl->pid[i] = fork();
    if (pl->pid[i] == 0) {
        int fd = open(pl->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd < 0 || chdir(dir) != 0)
            _exit(126);
        dup2(io[0], 0);
        dup2(fd, 1);
        dup2(fd, 2);
        close(io[0]);
        close(fd);
        setpgid(0, 0);   /* out of the terminal's Ctrl-C: the sweep still draws what finished */
        execl(pl->exe, "gnuplot", (char *)NULL);
        _exit(127);
    }
    close(io[0]);
    if (pl->pid[i] < 0) {
        close(io[1]);
        pl->pid[i] = 0;
    } else {
        pl->fd[i] = io[1];
    }
}

/* Sends the started gnuplots the warm-up, once. */
static void plotter_warm(Plotter *pl)
{
    static const char warmup[] =
        "if (strstrt(GPVAL_TERMINALS, \" pngcairo \") > 0) {\n"
        "    set terminal pngcairo noenhanced size 200,150 font \"sans,11\"\n"
        "    set output \"/dev/null\"\n"
        "    plot [0:1] [0:1] 0.5 notitle\n"
        "}\n"
        "if (strstrt(GPVAL_TERMINALS, \" pdfcairo \") > 0) {\n"
        "    set terminal pdfcairo noenhanced size 2in,1.5in font \"sans,9\"\n"
        "    set output \"/dev/null\"\n"
        "    plot [0:1] [0:1] 0.5 notitle\n"
        "}\n"
        "set output\n";
    if (pl->warm)
        return;
    pl->warm = 1;
    /* far below a pipe's buffer: never blocks; a gnuplot that died is
     * reported by plotter_draw */
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < 2; i++)
        if (pl->pid[i]) {
            ssize_t sent = write(pl->fd[i], warmup, sizeof warmup - 1);
            (void)sent;
        }
    signal(SIGPIPE, old);
}

static void plotter_start(Plotter *pl, const char *dir, int nplots)
{
    memset(pl, 0, sizeof *pl);
    const char *path = getenv("PATH");
    for (const char *p = path; p && *p;) {
        size_t k = strcspn(p, ":");
        snprintf(pl->exe, sizeof pl->exe, "%.*s/gnuplot", (int)k, p);
        if (access(pl->exe, X_OK) == 0)
            break;
        pl->exe[0] = '\0';
        p += k + (p[k] == ':');
    }
    snprintf(pl->log, sizeof pl->log, "%s/plots.log", dir);
    for (int i = 0; i < nplots && i < 2; i++)
        plotter_spawn(pl, dir, i);
}

/* Draws the plots which[0..n) (0 parallel, 1 heatmap), by the processes
 * started or, where there are none, new ones; ends the others. */
static void plotter_draw(Plotter *pl, const char *dir, const int *which, int n)
{
    static const char *const names[] = {"parallel", "heatmap"};
    if (!pl->exe[0] && n > 0)
        fprintf(stderr, "note: gnuplot is not installed, so %s has the plot scripts (*.gp) and "
                "data but no pictures: apt-get install gnuplot-nox, then run gnuplot on each "
                "script there\n", dir);
    for (int i = 0; i < n; i++)
        if (!pl->pid[i])
            plotter_spawn(pl, dir, i);   /* not started early, or that failed */
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);   /* a gnuplot that died is reported below */
    for (int i = 0; i < 2; i++) {
        if (!pl->pid[i])
            continue;
        if (i < n) {
            char cmd[64];
            int len = snprintf(cmd, sizeof cmd, "load \"%s.gp\"\n", names[which[i]]);
            if (write(pl->fd[i], cmd, (size_t)len) != len)
                fprintf(stderr, "warning: could not send %s.gp to gnuplot\n", names[which[i]]);
        }
        close(pl->fd[i]);   /* end of input: gnuplot draws and exits */
    }
    signal(SIGPIPE, old);
    /* the plots are independent and drawn at once; wait for each */
    for (int i = 0; i < 2; i++) {
        int status = 1;
        if (!pl->pid[i])
            continue;
        if ((waitpid(pl->pid[i], &status, 0) < 0 || !WIFEXITED(status)
             || WEXITSTATUS(status) != 0) && i < n)
            fprintf(stderr, "warning: gnuplot failed on %s/%s.gp (see %s)\n", dir,
                    names[which[i]], pl->log);
        pl->pid[i] = 0;
    }
    struct stat st;
    if (stat(pl->log, &st) == 0 && st.st_size == 0)
        remove(pl->log);
}

/* ---- sweep_main's steps: open, plan, run, report ---- */

/* The command line, the threads per run, nnc's own path and the model's
 * text; 0, or sweep_main's exit status. */
static int sweep_open(Sweep *s, int argc, char **argv, char *outbuf, size_t outlen, char **src)
{
    memset(s, 0, sizeof *s);
    s->repeat = 1;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    s->jobs = ncpu > 0 ? (int)ncpu : 1;
    if (parse_args(s, argc, argv) != 0)
        return 2;
    /* --jobs trainers at a time share the cores: each gets cores / jobs
     * threads (OpenBLAS's and the runtime's, docs/sweep.md), unless the
     * user chose.  Set before the JIT (and its OpenBLAS) is loaded, so
     * forked runs have it too. */
    if (s->jobs > 1 && !getenv("NNRT_THREADS") && !getenv("OPENBLAS_NUM_THREADS")
        && !getenv("OMP_NUM_THREADS")) {
        char t[24];
        snprintf(t, sizeof t, "%ld", ncpu / s->jobs > 1 ? ncpu / s->jobs : 1);
        setenv("OPENBLAS_NUM_THREADS", t, 1);
        setenv("NNRT_THREADS", t, 1);
    }
    ssize_t len = readlink("/proc/self/exe", s->self, sizeof s->self - 1);
    if (len <= 0)
        return fail("cannot find nnc's own executable"), 1;
    s->self[len] = '\0';
    *src = slurp(s->model);
    if (!*src)
        return fail("cannot read '%s': %s", s->model, strerror(errno)), 1;
    diag_add_source(s->model, *src);
    const char *base = strrchr(s->model, '/');
    base = base ? base + 1 : s->model;
    snprintf(s->name, sizeof s->name, "%.*s", (int)strcspn(base, "."), base);
    if (!s->out) {
        snprintf(outbuf, outlen, "sweeps/%s", s->name);
        s->out = outbuf;
    }
    return 0;
}

/* ---- the output directory: one sweep at a time, and one sweep's ---- */

static char lock_path[PATH_MAX];

static void unlock_out(void)
{
    if (lock_path[0])
        unlink(lock_path);
}

/* The settings that decide a sweep's runs, as one line of DIR/sweep.txt. */
static void sweep_identity(const Sweep *s, char *buf, size_t len)
{
    size_t n = (size_t)snprintf(buf, len, "%s", s->model);
    for (int a = 0; a < s->nax && n < len; a++) {
        n += (size_t)snprintf(buf + n, len - n, " %s %s=", s->ax[a].is_define ? "-D" : "--set",
                              s->ax[a].name);
        for (int v = 0; v < s->ax[a].n && n < len; v++)
            n += (size_t)snprintf(buf + n, len - n, "%s%s", v ? "," : "", s->ax[a].val[v]);
    }
    if (n < len)
        n += (size_t)snprintf(buf + n, len - n, " --repeat %d --dtype %s --", s->repeat,
                              s->dtype ? s->dtype : "f32");
    for (int k = 0; k < s->nextra && n < len; k++)
        n += (size_t)snprintf(buf + n, len - n, " %s", s->extra[k]);
}

/* Claims DIR for this sweep: a lock (DIR/sweep.lock, holding the pid) that
 * a second sweep into DIR at the same time is refused by, and DIR/sweep.txt
 * naming the settings, so that a sweep of other settings does not mix its
 * runs and tables with these.  The same sweep again replaces its runs
 * (their --log gets --overwrite), or with --resume keeps those finished. */
static int claim_out(const Sweep *s)
{
    char path[PATH_MAX], line[8192], was[8192] = "";
    snprintf(lock_path, sizeof lock_path, "%s/sweep.lock", s->out);
    for (int tries = 0;; tries++) {
        int fd = open(lock_path, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd >= 0) {
            dprintf(fd, "%ld\n", (long)getpid());
            close(fd);
            atexit(unlock_out);
            break;
        }
        long pid = 0;
        FILE *f = fopen(lock_path, "r");
        if (f) {
            if (fscanf(f, "%ld", &pid) != 1)
                pid = 0;
            fclose(f);
        }
        if (errno != EEXIST && !f) {
            lock_path[0] = '\0';
            return fail("cannot create %s/sweep.lock: %s", s->out, strerror(errno));
        }
        if (tries > 0 || (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM))) {
            lock_path[0] = '\0';
            return fail("%s is in use by another nnc sweep (process %ld); give this one another "
                        "--out", s->out, pid);
        }
        unlink(lock_path);   /* left by a sweep that was killed */
    }
    sweep_identity(s, line, sizeof line);
    snprintf(path, sizeof path, "%s/sweep.txt", s->out);
    FILE *f = fopen(path, "r");
    if (f) {
        if (!fgets(was, sizeof was, f))
            was[0] = '\0';
        was[strcspn(was, "\n")] = '\0';
        fclose(f);
    }
    if (was[0] && strcmp(was, line) != 0)
        return fail("%s holds a sweep of other settings (%s/sweep.txt: %s); give this one another "
                    "--out, or remove %s", s->out, s->out, was, s->out);
    if (s->resume && !was[0])
        return fail("--resume: %s holds no sweep to continue (no sweep.txt)", s->out);
    if (!(f = fopen(path, "w")))
        return fail("cannot write %s: %s", path, strerror(errno));
    fprintf(f, "%s\n", line);
    fclose(f);
    return 0;
}

/* Did the run in dir finish (summary.json), so that --resume keeps it? */
static int run_finished(const char *dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    char *text = slurp(path);
    int done = text && (strstr(text, "\"status\": \"finished\"") ||
                        strstr(text, "\"status\": \"early_stopped\""));
    free(text);
    return done;
}

/* Every combination of the axes' values, and DIR/bin (claimed, claim_out). */
static int plan_configs(State *st)
{
    const Sweep *s = st->s;
    st->ncfg = 1;
    for (int a = 0; a < s->nax; a++)
        st->ncfg *= s->ax[a].n;
    if ((long)st->ncfg * s->repeat > 100000)
        return fail("%d configurations x %d repeats is too many runs", st->ncfg, s->repeat), 1;
    st->total = st->ncfg * s->repeat;
    st->cfg = calloc((size_t)st->ncfg, sizeof *st->cfg);
    st->builds = calloc((size_t)st->ncfg, sizeof *st->builds);
    st->arch = calloc((size_t)st->ncfg, sizeof *st->arch);
    snprintf(st->bindir, sizeof st->bindir, "%s/bin", s->out);
    if (nnrt_mpi_size() > 1)   /* each rank builds what it runs */
        snprintf(st->bindir, sizeof st->bindir, "%s/bin/rank%d", s->out, nnrt_mpi_rank());
    /* under MPI, rank 0 claims DIR for the whole sweep */
    return mkdirs(st->bindir) != 0 || (nnrt_mpi_rank() == 0 && claim_out(s) != 0);
}

/* The JIT, unless --backend c or nnc has no LLVM; 0, or an exit status. */
static int choose_backend(State *st)
{
    const char *b = st->s->backend;
    if (b && strcmp(b, "c") != 0 && strcmp(b, "jit") != 0)
        return fail("--backend is jit or c, not '%s'", b), 2;
    if (b && strcmp(b, "jit") == 0 && !cg_jit_available())
        return fail("--backend jit: this nnc has no LLVM JIT (install llvm-dev, or "
                    "scripts/deps.sh, and rebuild; or use --backend c)"), 1;
    st->use_jit = b ? strcmp(b, "jit") == 0 : cg_jit_available();
    return 0;
}

/* Configuration i's axis values and its directory name; its architecture
 * when an earlier configuration has the same -D values, else -1. */
static void config_init(State *st, int i)
{
    const Sweep *s = st->s;
    Config *c = &st->cfg[i];
    for (int a = s->nax - 1, r = i; a >= 0; a--) {
        c->idx[a] = r % s->ax[a].n;
        r /= s->ax[a].n;
    }
    c->arch = -1;
    for (int j = 0; j < i && c->arch < 0; j++) {
        int same = 1;
        for (int a = 0; a < s->nax; a++)
            same &= !s->ax[a].is_define || st->cfg[j].idx[a] == c->idx[a];
        if (same) {
            c->arch = st->cfg[j].arch;
            c->params = st->cfg[j].params;
        }
    }
    snprintf(c->id, sizeof c->id, "c%02d", i);
    for (int a = 0; a < s->nax; a++) {
        size_t k = strlen(c->id);
        snprintf(c->id + k, sizeof c->id - k, "_%s", s->ax[a].name);
        sanitize(c->id, sizeof c->id, s->ax[a].val[c->idx[a]]);
    }
    c->vals = calloc((size_t)s->repeat * MAXCOLS, sizeof *c->vals);
    c->ok = calloc((size_t)s->repeat, sizeof *c->ok);
}

/* The C backend's build of architecture k: `nnc build MODEL -o EXE -D ...`. */
static void build_job(State *st, int k)
{
    const Sweep *s = st->s;
    const Config *c = &st->cfg[st->arch[k].config];
    Job *b = &st->builds[k];
    b->argv = calloc((size_t)(2 * s->nax + 10), sizeof *b->argv);
    int n = 0;
    b->argv[n++] = (char *)s->self;
    b->argv[n++] = "build";
    b->argv[n++] = (char *)s->model;
    b->argv[n++] = "-o";
    b->argv[n++] = st->arch[k].exe;
    for (int a = 0; a < s->nax; a++)
        if (s->ax[a].is_define) {
            char d[200];
            snprintf(d, sizeof d, "%s=%s", s->ax[a].name, s->ax[a].val[c->idx[a]]);
            b->argv[n++] = "-D";
            b->argv[n++] = strdup(d);
        }
    if (s->dtype) {
        b->argv[n++] = "--dtype";
        b->argv[n++] = (char *)s->dtype;
    }
    snprintf(b->log, sizeof b->log, "%s", st->arch[k].log);
    b->config = -1;
}

/* A new architecture for configuration i: its IR (kept for the JIT, which
 * compiles it later; the C backend gets a build job) and its parameter
 * count.  Its messages go to its log, which is printed if it does not
 * compile. */
static int arch_init(State *st, int i)
{
    const Sweep *s = st->s;
    Config *c = &st->cfg[i];
    c->arch = st->narch;
    Arch *ar = &st->arch[st->narch++];
    char name[300] = "";
    for (int a = 0; a < s->nax; a++)
        if (s->ax[a].is_define) {
            size_t k = strlen(name);
            snprintf(name + k, sizeof name - k, "%s%s", k ? "_" : "", s->ax[a].name);
            sanitize(name, sizeof name, s->ax[a].val[c->idx[a]]);
        }
    snprintf(ar->exe, sizeof ar->exe, "%s/%s", st->bindir, name[0] ? name : "model");
    snprintf(ar->log, sizeof ar->log, "%s.log", ar->exe);
    ar->config = i;
    ar->flags = s->extra;
    ar->nflags = s->nextra;
    FILE *msgs = fopen(ar->log, "w");
    ar->ir = arch_ir(s, st->src, c->idx, st->use_jit, msgs ? msgs : stderr, &ar->ast);
    if (msgs)
        fclose(msgs);
    if (!ar->ir) {
        char *text = slurp(ar->log);
        if (text)
            fputs(text, stderr);
        free(text);
        return fail("%s does not compile with these values", s->model), 1;
    }
    c->params = count_params(ar->ir);
    if (!st->use_jit) {
        ir_free(ar->ir);
        ast_free(ar->ast);
        ar->ir = NULL;
        ar->ast = NULL;
        build_job(st, st->narch - 1);
    }
    return 0;
}

/* The configurations, each with its architecture: one per combination of
 * -D values. */
static int plan_archs(State *st)
{
    for (int i = 0; i < st->ncfg; i++) {
        config_init(st, i);
        if (st->cfg[i].arch < 0 && arch_init(st, i) != 0)
            return 1;
    }
    const Sweep *s = st->s;
    char jobs[64];
    snprintf(jobs, sizeof jobs, "%d at a time", s->jobs);
    if (nnrt_mpi_size() > 1)
        snprintf(jobs, sizeof jobs, "one per MPI rank, %d ranks", nnrt_mpi_size());
    if (nnrt_mpi_rank() == 0)
        fprintf(stderr, "nnc sweep: %d architecture%s, %d configuration%s x %d repeat%s = %d "
                "runs, %s, in %s (%s)\n", st->narch, st->narch == 1 ? "" : "s", st->ncfg,
                st->ncfg == 1 ? "" : "s", s->repeat, s->repeat == 1 ? "" : "s", st->total, jobs,
                s->out, st->use_jit ? "LLVM JIT, runs forked from the compiled models"
                                    : "nnc build, cc");
    return 0;
}

/* The runs: the trainer's train command, exec'd or in a forked child,
 * each logging to DIR/runs/CONFIG/seedK/; with the C backend they follow
 * the builds in one list of jobs. */
static int plan_runs(State *st)
{
    const Sweep *s = st->s;
    st->all = calloc((size_t)(st->narch + st->total), sizeof *st->all);
    st->runs = st->use_jit ? st->all : st->all + st->narch;
    int nj = 0;
    for (int i = 0; i < st->ncfg; i++)
        for (int r = 1; r <= s->repeat; r++) {
            Config *c = &st->cfg[i];
            Job *j = &st->runs[nj++];
            char dir[PATH_MAX - 300], seed[16];
            snprintf(dir, sizeof dir, "%s/runs/%s/seed%d", s->out, c->id, r);
            if (mkdirs(dir) != 0)
                return 1;
            snprintf(j->log, sizeof j->log, "%s/train.log", dir);
            snprintf(seed, sizeof seed, "%d", r);
            j->argv = calloc((size_t)(2 * s->nax + s->nextra + 12), sizeof *j->argv);
            int n = 0;
            j->argv[n++] = st->arch[c->arch].exe;
            j->argv[n++] = "train";
            j->argv[n++] = "--quiet";
            if (!s->plots)
                j->argv[n++] = "--no-plots";
            j->argv[n++] = "--log";
            j->argv[n++] = strdup(dir);
            j->argv[n++] = "--overwrite";   /* this sweep's run, from an earlier time */
            j->skip = s->resume && run_finished(dir);
            j->argv[n++] = "--seed";
            j->argv[n++] = strdup(seed);
            for (int a = 0; a < s->nax; a++)
                if (!s->ax[a].is_define) {
                    char flag[80];
                    snprintf(flag, sizeof flag, "--%s", s->ax[a].name);
                    j->argv[n++] = strdup(flag);
                    j->argv[n++] = s->ax[a].val[c->idx[a]];
                }
            for (int k = 0; k < s->nextra; k++)
                j->argv[n++] = s->extra[k];
            j->config = i;
            j->seed = r;
        }
    return 0;
}

/* The C backend: builds and runs in one pool, builds first: an
 * architecture's runs start once its trainer is built, while the other
 * builds go on. */
static int run_c(State *st, Plotter *plots)
{
    int jobs = st->s->jobs;
    memcpy(st->all, st->builds, (size_t)st->narch * sizeof *st->all);
    for (int k = 0; k < st->narch; k++) {
        st->all[k].ready = 1;
        st->all[k].seed = k;   /* a build's architecture */
    }
    Builds b = {st, st->all, st->narch, 0};
    Pool pool = {st->all, st->narch + st->total, 0, 0, 0, build_or_run_done, &b, NULL, 0};
    while (pool.ndone < pool.n) {
        if (!b.failed)
            pool_fill(&pool, jobs);
        if (!pool_reap(&pool, 1))
            break;
        if (pool.next == pool.n && pool.running < jobs)
            plotter_warm(plots);   /* the last runs: a core is free */
    }
    return b.failed;
}

/* The JIT's loop: architectures compiling in threads, runs in workers. */
typedef struct JitLoop {
    State *st;
    Pool pool;             /* the runs */
    Workers workers;
    int next;              /* the first architecture not yet compiling */
    int compiling;         /* compilations running */
    int ncached, nshared, nquick;   /* of the compiled: for the summary line */
    double cpu;            /* CPU seconds of the compilations */
    int rc;
} JitLoop;

/* Joins the compilations that have ended; their runs become ready.  Says
 * what the compilations cost once the last has ended. */
static void jit_collect_compiled(JitLoop *L)
{
    State *st = L->st;
    for (int k = 0; k < L->next; k++) {
        Arch *ar = &st->arch[k];
        if (!ar->compiling || !__atomic_load_n(&ar->compiled, __ATOMIC_ACQUIRE))
            continue;
        pthread_join(ar->thread, NULL);
        ar->compiling = 0;
        L->compiling--;
        if (!ar->jit) {
            fail("compiling %s with -D values of %s failed", st->s->model,
                 st->cfg[ar->config].id);
            L->rc = 1;
            continue;
        }
        L->ncached += cg_jit_cached(ar->jit) == 1;
        L->nshared += cg_jit_cached(ar->jit) == 2;
        L->nquick += cg_jit_quick(ar->jit);
        L->cpu += ar->cpu;
        L->workers.compiled++;   /* workers forked from now on have its code */
        for (int j = 0; j < st->total; j++)
            if (st->cfg[st->runs[j].config].arch == k) {
                st->runs[j].jit = ar->jit;
                st->runs[j].ready = L->workers.compiled;
            }
        if (L->next == st->narch && L->compiling == 0) {
            char same[64] = "", quick[64] = "";
            if (L->nshared > 0)
                snprintf(same, sizeof same, ", %d the same code as another", L->nshared);
            if (L->nquick > 0)
                snprintf(quick, sizeof quick, "; %d as quick code for short trainings",
                         L->nquick);
            fprintf(stderr, "nnc sweep: %d architecture%s compiled (%d from the compile "
                    "cache%s) in %.2f s of CPU%s\n", st->narch, st->narch == 1 ? "" : "s",
                    L->ncached, same, L->cpu, quick);
        }
    }
}

/* How long architecture k's runs train, which chooses quick or optimised
 * code. */
static void arch_work(State *st, int k)
{
    Arch *ar = &st->arch[k];
    ar->work = 0;
    for (int j = 0; j < st->total && ar->work >= 0; j++)
        if (st->cfg[st->runs[j].config].arch == k) {
            double w = cg_jit_work(ar->ir, argv_count(st->runs[j].argv) - 1, st->runs[j].argv + 1);
            ar->work = w < 0 ? -1 : ar->work + w;
        }
}

/* Starts compilations while a core is free.  A compilation counts as one
 * of the --jobs, and compilations start first: each unblocks its runs, and
 * once all are compiled every job left is a run, so no core waits at the
 * end. */
static void jit_start_compiles(JitLoop *L)
{
    State *st = L->st;
    while (L->rc == 0 && L->next < st->narch && L->compiling + L->pool.running < st->s->jobs) {
        Arch *ar = &st->arch[L->next];
        arch_work(st, L->next);
        if (start_compile(ar) != 0)
            L->rc = 1;
        else
            L->next++, L->compiling++;
    }
}

/* Sleeps until a run or a compilation ends: SIGCHLD, compile_thread or a
 * worker's answer. */
static void jit_wait(JitLoop *L, struct pollfd *fds)
{
    int nfds = 0;
    fds[nfds++] = (struct pollfd){wake_pipe[0], POLLIN, 0};
    for (int i = 0; i < L->workers.n; i++)
        if (L->workers.w[i].job >= 0)
            fds[nfds++] = (struct pollfd){L->workers.w[i].fd, POLLIN, 0};
    poll(fds, (nfds_t)nfds, -1);
}

/* The JIT: compile the architectures in threads of this process while the
 * runs of those compiled already train in forked workers. */
static int run_jit(State *st, Plotter *plots)
{
    int jobs = st->s->jobs;
    JitLoop L;
    memset(&L, 0, sizeof L);
    L.st = st;
    L.pool = (Pool){st->runs, st->total, 0, 0, 0, run_done, st, NULL, 0};
    L.workers = (Workers){calloc((size_t)st->total, sizeof(Worker)), 0, 0};
    const char *wenv = getenv("NNC_SWEEP_WORKERS");
    if (!wenv || strcmp(wenv, "off") != 0)
        L.pool.workers = &L.workers;   /* off: a fork per run (to compare) */
    struct pollfd *fds = calloc((size_t)jobs + 1, sizeof *fds);   /* the pipe, busy workers */
    if (pipe(wake_pipe) != 0) {
        free(L.workers.w);
        free(fds);
        return fail("cannot make a pipe: %s", strerror(errno)), 1;
    }
    for (int k = 0; k < 2; k++) {
        fcntl(wake_pipe[k], F_SETFD, FD_CLOEXEC);
        fcntl(wake_pipe[k], F_SETFL, O_NONBLOCK);
    }
    struct sigaction chld = {0}, old_chld;
    chld.sa_handler = on_sigchld;
    chld.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigemptyset(&chld.sa_mask);
    sigaction(SIGCHLD, &chld, &old_chld);
    while (L.pool.ndone < st->total) {
        /* empty the pipe first: whatever happens from here on wakes
         * jit_wait's poll() */
        char buf[64];
        while (read(wake_pipe[0], buf, sizeof buf) > 0)
            continue;
        jit_collect_compiled(&L);
        jit_start_compiles(&L);
        if (L.rc == 0)
            pool_fill(&L.pool, jobs - L.compiling);
        if (L.pool.next == st->total && L.compiling + L.pool.running < jobs)
            plotter_warm(plots);   /* the last runs: a core is free */
        int got = L.pool.workers ? workers_reap(&L.pool, 0) : pool_reap(&L.pool, 0);
        if (!got) {
            if (L.compiling == 0 && L.pool.running == 0)
                break;
            jit_wait(&L, fds);
        }
    }
    if (L.pool.workers)
        workers_reap(&L.pool, 1);   /* each has ended its run: they exit */
    if (getenv("NNC_SWEEP_FORKS"))
        fprintf(stderr, "nnc sweep: %d runs in %d forked processes\n", L.pool.ndone,
                L.pool.forks);
    free(L.workers.w);
    free(fds);
    sigaction(SIGCHLD, &old_chld, NULL);
    close(wake_pipe[0]);
    close(wake_pipe[1]);
    return L.rc;
}

/* ---- the runs on MPI's ranks ---- */

static int exit_status(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Architecture k compiled (JIT) or built (C backend) in this rank, the
 * first time one of its runs comes here; 0, or the status its runs fail
 * with. */
static int mpi_arch(State *st, int k)
{
    Arch *ar = &st->arch[k];
    if (st->use_jit) {
        if (!ar->compiled) {
            arch_work(st, k);
            ar->jit = cg_jit_compile(ar->ir, ar->nflags, ar->flags, ar->work);
            ar->compiled = 1;
            if (!ar->jit)
                fail("compiling %s with -D values of %s failed", st->s->model,
                     st->cfg[ar->config].id);
            for (int j = 0; j < st->total; j++)
                if (st->cfg[st->runs[j].config].arch == k)
                    st->runs[j].jit = ar->jit;
        }
        return ar->jit ? 0 : 1;
    }
    Job *b = &st->builds[k];
    if (!b->started) {
        int status;
        b->started = 1;
        pid_t pid = spawn(b);
        b->status = pid > 0 && waitpid(pid, &status, 0) == pid ? exit_status(status) : 127;
        int failed = 0;
        build_done(b, k, 0, &failed);
    }
    return b->status;
}

/* Run k started in a child of this rank: its pid, or -1 with the status
 * of its failure (its architecture does not compile). */
static pid_t mpi_start_run(State *st, int k, int *status)
{
    *status = mpi_arch(st, st->cfg[st->runs[k].config].arch);
    if (*status != 0)
        return -1;
    pid_t pid = spawn(&st->runs[k]);
    *status = 127;
    return pid;
}

/* Rank 0: the next run to hand out, past those finished before (--resume:
 * their results are read at once); -1 when none is left, or after Ctrl-C. */
static int mpi_next(State *st, int *next)
{
    while (*next < st->total && !interrupted) {
        int k = (*next)++;
        Job *j = &st->runs[k];
        if (!j->skip)
            return k;
        j->started = 1;
        j->status = 0;
        run_done(j, k, 0, st);
    }
    return -1;
}

/* A rank but 0: asks rank 0 for a run (telling it how the last one
 * ended), runs it, until rank 0 answers -1. */
static int mpi_worker(State *st)
{
    int msg[2] = {-1, 0}, k;
    for (;;) {
        nnrt_mpi_send(msg, sizeof msg, 0);
        nnrt_mpi_recv(&k, sizeof k, 0);
        if (k < 0 || k >= st->total)
            return 0;
        int status;
        pid_t pid = mpi_start_run(st, k, &status);
        if (pid > 0 && waitpid(pid, &status, 0) == pid)
            status = exit_status(status);
        msg[0] = k;
        msg[1] = status;
    }
}

/* Every run, handed out by rank 0 as the ranks finish theirs: the next run
 * in order to whichever rank asks, and to rank 0 itself, which runs one at
 * a time in a child while it answers; a rank's results are on the shared
 * file system (DIR/runs/), as from a local run, and run_done reads them. */
static int run_mpi(State *st)
{
    if (nnrt_mpi_rank() > 0)
        return mpi_worker(st);
    int next = 0, local = -1, away = 0, stopped = 0, size = nnrt_mpi_size(), status;
    pid_t pid = 0;
    for (;;) {
        int busy = 0;
        if (local < 0 && (local = mpi_next(st, &next)) >= 0) {
            if ((pid = mpi_start_run(st, local, &status)) < 0) {
                st->runs[local].status = status;
                run_done(&st->runs[local], local, 0, st);
                local = -1;
            }
            busy = 1;
        }
        while (nnrt_mpi_probe()) {
            int msg[2];
            int from = nnrt_mpi_recv(msg, sizeof msg, -1);
            if (msg[0] >= 0 && msg[0] < st->total) {
                st->runs[msg[0]].status = msg[1];
                run_done(&st->runs[msg[0]], msg[0], 0, st);
                away--;
            }
            int give = mpi_next(st, &next);
            away += give >= 0;
            stopped += give < 0;
            nnrt_mpi_send(&give, sizeof give, from);
            busy = 1;
        }
        if (local >= 0 && waitpid(pid, &status, WNOHANG) == pid) {
            st->runs[local].status = exit_status(status);
            run_done(&st->runs[local], local, 0, st);
            local = -1;
            busy = 1;
        }
        if (local < 0 && away == 0 && (next >= st->total || interrupted))
            break;
        if (!busy)
            nanosleep(&(struct timespec){0, 1000000}, NULL);   /* a millisecond */
    }
    /* ranks that had not asked yet (rank 0 did every run) */
    for (int msg[2], stop = -1; stopped < size - 1; stopped++)
        nnrt_mpi_send(&stop, sizeof stop, nnrt_mpi_recv(msg, sizeof msg, -1));
    return 0;
}

/* results.csv, .json, .txt (and the table on stdout), runs.csv and the
 * plots; 1 when no run produced results or every run failed. */
static int write_outputs(State *st, Plotter *plots)
{
    const Sweep *s = st->s;
    if (st->ncols == 0 && interrupted) {
        fprintf(stderr, "nnc sweep: interrupted (Ctrl-C) before any run finished\n");
        plotter_draw(plots, s->out, NULL, 0);
        return 130;
    }
    if (st->ncols == 0) {
        fprintf(stderr, "nnc sweep: error: no run produced results; the first run's messages "
                "(%s):\n", st->runs[0].log);
        char *text = slurp(st->runs[0].log);
        if (text)
            fputs(text, stderr);
        free(text);
        plotter_draw(plots, s->out, NULL, 0);
        nnrt_board_live(s->out, 0, 0);
        return 1;
    }
    int rc = 0;
    const char *metric = s->metric;
    static const char *const pref[] = {"test_accuracy", "test_loss", "accuracy", "loss"};
    for (int k = 0; k < 4 && !metric; k++)
        if (col_index(st, pref[k]) >= 0)
            metric = pref[k];
    if (write_results(st) != 0)
        rc = 1;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/results.txt", s->out);
    FILE *t = fopen(path, "w");
    printf("\n");
    print_table(st, stdout);
    if (t) {
        print_table(st, t);
        fclose(t);
    }
    int which[2], nw = 0;
    if (metric && write_plots(st, metric, which, &nw) != 0)
        rc = 1;
    plotter_draw(plots, s->out, which, nw);
    nnrt_board_live(s->out, 0, 0);   /* with the figures */
    printf("\nresults in %s: results.csv results.json results.txt runs.csv%s%s board.html "
           "(%.1f s)\n", s->out, nw ? " parallel.png" : "", nw > 1 ? " heatmap.png" : "",
           now() - st->t0);
    int failed = 0;
    for (int i = 0; i < st->ncfg; i++)
        failed += st->cfg[i].nfailed;
    return failed == st->total ? 1 : rc;
}

static void state_free(State *st)
{
    for (int i = 0; st->cfg && i < st->ncfg; i++) {
        free(st->cfg[i].vals);
        free(st->cfg[i].ok);
    }
    free(st->cfg);
    for (int k = 0; k < st->narch; k++) {
        cg_jit_free(st->arch[k].jit);
        ir_free(st->arch[k].ir);
        ast_free(st->arch[k].ast);
    }
    free(st->arch);
    free(st->builds);
    free(st->all);
    free(st->src);
}

/* The sweep, step by step.  The gnuplot processes start early (Plotter)
 * and are given the scripts, or ended, at the end. */
int sweep_main(int argc, char **argv)
{
    Sweep s;
    State st;
    char outbuf[PATH_MAX];
    memset(&st, 0, sizeof st);
    st.s = &s;
    int rc = sweep_open(&s, argc, argv, outbuf, sizeof outbuf, &st.src);
    /* under mpirun: this process is one rank of the sweep, and the
     * trainers it starts are not ranks themselves */
    NnrtErr e;
    if (rc == 0 && s.mpi && !nnrt_mpi_launched())
        rc = 2, fail("--mpi: not started as ranks of an MPI job; run it as mpirun -np N nnc "
                     "sweep ... (or srun), docs/distributed.md");
    if (rc == 0 && nnrt_mpi_start(&e) != 0)
        rc = 1, fail("%s", e.msg);
    int rank = nnrt_mpi_rank(), dist = nnrt_mpi_size() > 1;
    if (dist)
        nnrt_mpi_forget();
    if (rc == 0) {
        st.t0 = now();
        rc = plan_configs(&st);
    }
    if (rc != 0) {
        state_free(&st);
        return nnrt_mpi_end(rc);
    }
    int var[MAXAXES];
    Plotter plots;   /* as write_plots will: parallel, and heatmap with two varying axes */
    plotter_start(&plots, s.out, rank > 0 ? 0 : varying_axes(&s, var) >= 2 ? 2 : 1);
    int ran = 0;   /* every rank is past its runs: a failure need not end the others */
    struct sigaction on_int = {0};   /* Ctrl-C: the runs stop, the tables of those done */
    on_int.sa_handler = on_sigint;
    on_int.sa_flags = SA_RESTART;   /* run_c's waitpid() goes on waiting for the runs */
    sigemptyset(&on_int.sa_mask);
    sigaction(SIGINT, &on_int, NULL);
    if ((rc = choose_backend(&st)) == 0 && (rc = plan_archs(&st)) == 0 &&
        (rc = plan_runs(&st)) == 0 && (rank != 0 || (rc = write_plan(&st)) == 0) &&
        (rc = dist ? run_mpi(&st) : st.use_jit ? run_jit(&st, &plots) : run_c(&st, &plots)) == 0
        && (ran = 1) && rank == 0)
        rc = write_outputs(&st, &plots);
    else
        plotter_draw(&plots, s.out, NULL, 0);   /* ends them */
    if (interrupted && st.ncols > 0) {
        int finished = 0;
        for (int i = 0; i < st.ncfg; i++)
            for (int r = 0; r < s.repeat; r++)
                finished += st.cfg[i].ok[r];
        fprintf(stderr, "nnc sweep: interrupted (Ctrl-C): %d of %d runs finished, in the tables "
                "above; continue with: nnc", finished, st.total);
        for (int i = 0; i < argc; i++) {   /* the same command, --resume before any -- */
            fprintf(stderr, "%s ", strcmp(argv[i], "--") == 0 && !s.resume ? " --resume" : "");
            if (!argv[i][0] || strpbrk(argv[i], " \t\n\"'\\$`()[]{}*?|&;<>!#~")) {
                fputc('\'', stderr);   /* quoted for the shell: ' as '\'' */
                for (const char *c = argv[i]; *c; c++)
                    fputs(*c == '\'' ? "'\\''" : (char[]){*c, '\0'}, stderr);
                fputc('\'', stderr);
            } else {
                fputs(argv[i], stderr);
            }
        }
        fprintf(stderr, "%s\n", s.extra || s.resume ? "" : " --resume");
        rc = 130;
    }
    state_free(&st);
    return ran ? nnrt_mpi_end(0), rc : nnrt_mpi_end(rc);
}
