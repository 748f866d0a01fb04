/*
 * nnrt_train.c - nnrt_main, the generated trainer's command line: train,
 * init, grad, eval, check and predict (docs/trainer.md describes each for
 * users).
 *
 * Settings come from the model's train block first, then from the flags in
 * the order given; both go through nnrt_config_set, so a flag is spelt and
 * checked exactly like the train-block key it overrides.
 *
 * Everything is measured with one objective, the batch objective of
 * docs/trainer.md: over a batch of B samples,
 *
 *     f = (1/B) sum_b loss_b + penalty     (reduce = mean)
 *     f =       sum_b loss_b + penalty     (reduce = sum)
 *
 * and its gradient is accumulated chunk by chunk: the model's workspace
 * holds `cap` samples, so a batch is run as forward/backward over chunks of
 * at most cap samples (for a tiny model at most NnrtModel.tile, which keeps
 * a chunk in the cache), each backward adding w * d(sum loss)/dparams with
 * w = 1/B or 1, then the penalty's gradient once.  The training step
 * allocates nothing: shuffled mini-batches are gathered into buffers made
 * once, and contiguous ones are handed to the model in place.
 */
#include "nnrt_internal.h"
#include "nnrt_board.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef NNRT_F64
#define DIGITS 17
#define PRINT_DIGITS 10
#define CHECK_TOL 1e-6
#define CHECK_EPS 1e-6
#else
#define DIGITS 9
#define PRINT_DIGITS 6
#define CHECK_TOL 1e-2
#define CHECK_EPS 1e-3
#endif

#define CHECK_ENTRIES 2000   /* check: at most this many entries of each parameter */

/* Data-parallel training on MPI (docs/distributed.md): each rank runs its
 * share of every batch (nnrt_mpi_share) and the ranks' partial sums are
 * added in rank order (combine), so every rank takes the same step. */
#ifdef NNRT_F64
#define sum_ranks nnrt_mpi_sum_f64
#else
#define sum_ranks nnrt_mpi_sum_f32
#endif

#define CHUNK_MIN 1024      /* chunk at least this many samples when evaluating */
#define CHUNK_MAX NNRT_PASS_MAX   /* and at most this many in one forward pass */
#define HALVES_MIN 32       /* NnrtModel.halves: a pass of this many samples is cut */
#define HALVES_ALIGN 8      /* ... and its first half is a multiple of this many */

static const char *const commands[] = { "train", "init", "grad", "eval", "check", "predict" };
#define NCOMMANDS ((int)(sizeof commands / sizeof commands[0]))

/* Flags that are not settings, and the commands that take them. */
typedef struct ExtraFlag {
    const char *name;
    int takes_value;
    const char *cmds;
} ExtraFlag;

static const ExtraFlag extra_flags[] = {
    { "init", 1, "train" },
    { "save", 1, "train" },
    { "quiet", 0, "train init grad eval check predict" },
    { "out", 1, "init grad predict" },
    { "outputs", 1, "predict" },
    { "sample", 1, "grad" },
    { "params", 1, "grad eval check predict" },
    { "eps", 1, "check" },
    { "entries", 1, "check" },
    { "print", 2, "grad check" },   /* --print, --print W1,b1 or --print=all: the value is optional */
    { "no-ftz", 0, "train init grad eval check predict" },
    { "trap-nan", 0, "train" },
    { "resume", 1, "train" },
    { "overwrite", 0, "train" },
    { "stop-after", 1, "train" },
    { "no-plots", 0, "train" },
    { "recon-max", 1, "train" },
    { "mode", 1, "grad eval check predict" },
    { "help", 0, "train init grad eval check predict" },
};
#define NEXTRA ((int)(sizeof extra_flags / sizeof extra_flags[0]))

typedef struct Run {
    const NnrtModel *m;
    const char *prog, *cmd;
    NnrtConfig cfg;
    /* extra flags */
    const char *init, *save, *out, *params_file;
    const char *outputs;         /* predict --outputs NAME,NAME */
    int64_t recon_max;           /* train --recon-max N|all (-1), 0: the default */
    long long sample;            /* grad --sample K, or -1 */
    double eps;
    int64_t entries;             /* check --entries N: at most N per parameter */
    int have_eps, quiet, no_ftz, no_plots, data_flag, batch_flag;
    int overwrite;               /* --overwrite: --log may replace a run */
    int keep;                    /* predict --outputs of values: every step stored */
    const char *print;           /* grad/check --print: "" (all) or "W1,b1", else NULL */
    int trap_nan;                /* --trap-nan: find where a non-finite value appeared */
    int hold;                    /* check of a model with a stop_gradient (NnrtModel.holds):
                                  * every sample in one pass, whose values it holds */
    int mode_train;              /* the passes of a gradient (batch_gradient) in train mode:
                                  * `train`, or --mode train */
    int eval_train;              /* ... and those of evaluate(): --mode train only */
    const char *resume;          /* --resume DIR */
    int64_t stop_after;          /* --stop-after N: epochs of this invocation (0 = all) */
    int argc;                    /* the command line, for config.json */
    char **argv;
    char nan_where[700];         /* what --trap-nan found first ("" = nothing yet) */
    double last_penalty;         /* what penalty() computed last */
    /* state */
    nnrt_real *params, *grads, *loss;
    void *work;
    int cap;
    void *work2;                 /* NnrtModel.halves: the second half's workspace, */
    const nnrt_real **ptr2;      /* what its forward reads, */
    nnrt_real *grads2;           /* and its gradient (pass_halves) */
    const nnrt_real **ptr;       /* per slot, then per draw: what forward reads */
    nnrt_real **draw;            /* per draw (NnrtModel.draws): cap samples */
    int draw_means;              /* the draw buffers hold eval mode's means for this many */
    uint64_t draw_step;          /* the training step the draws are keyed by (0 but in train) */
    int64_t draw_first;          /* the first sample's index in its data set (grad --sample) */
    nnrt_real **gather;          /* per slot: a shuffled chunk, cap samples */
    const int64_t *ready_idx;    /* the gather buffers hold ready_n samples */
    int64_t ready, ready_n;      /* ready_idx[ready..] (batch_gradient), ready -1: none */
} Run;

typedef struct Eval {
    double loss, accuracy;
    double penalty;   /* the part of loss that is the penalty */
} Eval;

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);   /* after the epochs' lines, when both go to one file */
    fputs("error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static void note(const Run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A line on stderr about the run, unless --quiet; stdout's epoch lines
 * first, when both go to one file. */
static void note(const Run *r, const char *fmt, ...)
{
    if (r->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static int fail_err(const NnrtErr *e)
{
    return fail("%s", e->msg);
}

/* ---- help ---- */

static void usage(const Run *r, FILE *f)
{
    const NnrtModel *m = r->m;
    const NnrtConfig *c = &r->cfg;
    char buf[1200];
    fprintf(f, "usage: %s COMMAND [FLAGS]\n", r->prog);
    fprintf(f, "trainer for model '%s' (%s, %s; nnc %s, runtime %s)\n\n", m->name,
            m->source ? m->source : "?", m->dtype ? m->dtype : NNRT_DTYPE_NAME,
            m->nnc_version ? m->nnc_version : "?", NNRT_VERSION);
    fprintf(f,
            "commands:\n"
            "  train [--KEY VALUE ...] [--init P.npz] [--save P.npz] [--log DIR] [--quiet]\n"
            "        [--overwrite] [--resume DIR] [--stop-after N] [--trap-nan]\n"
            "        train, printing one line per epoch (epoch 0 = before any update)\n"
            "  init  --out P.npz [--seed N]\n"
            "        write the initial parameters\n"
            "  grad  [--params P.npz] --data D --out G.npz [--reduce mean|sum]\n"
            "        [--sample K] [--print NAME,NAME|all]\n"
            "        gradient of the batch objective over all samples of D (or sample K\n"
            "        only), written to G.npz and/or printed as numpy prints arrays\n"
            "  eval  [--params P.npz] [--data D]\n"
            "        print `loss: V` (the batch objective over all of D) and each metric\n"
            "  check [--params P.npz] [--data D] [--eps H] [--entries N|all]\n"
            "        finite-difference check of every gradient entry (at most N,\n"
            "        default 2000, chosen at random, of each larger parameter)\n"
            "  predict [--params P.npz] [--data D] --out OUT.npz [--outputs NAME,...]\n"
            "        for every sample of D the named values (default: the prediction),\n"
            "        keyed by name, axis 0 = sample\n\n"
            "settings (train-block keys; a flag overrides the block), current values:\n");
    nnrt_source_describe(&c->data, buf, sizeof buf);
    fprintf(f, "  --data SOURCE       %s\n", buf);
    nnrt_source_describe(&c->test, buf, sizeof buf);
    fprintf(f, "  --test SOURCE       %s\n", buf);
    nnrt_optim_describe(&c->opt, buf, sizeof buf);
    fprintf(f, "  --optimizer OPT     %s\n", buf);
    nnrt_sched_describe(&c->sched, buf, sizeof buf);
    fprintf(f, "  --schedule S        %s\n", buf);
    if (c->batch)
        fprintf(f, "  --batch N|full      %lld\n", (long long)c->batch);
    else
        fprintf(f, "  --batch N|full      full\n");
    fprintf(f, "  --epochs N          %lld\n", (long long)c->epochs);
    if (c->steps)
        fprintf(f, "  --steps N           %lld (overrides epochs)\n", (long long)c->steps);
    else
        fprintf(f, "  --steps N           (unset: use epochs)\n");
    fprintf(f, "  --reduce mean|sum   %s\n", c->reduce_sum ? "sum" : "mean");
    fprintf(f, "  --shuffle BOOL      %s\n", c->shuffle ? "true" : "false");
    fprintf(f, "  --seed N            %llu\n", (unsigned long long)c->seed);
    fprintf(f, "  --metrics M         %s\n", c->accuracy ? "accuracy" : "none");
    fprintf(f, "  --log DIR           %s\n", c->log[0] ? c->log : "(none)");
    if (c->clip > 0)
        fprintf(f, "  --clip X|none       %g (clip the gradient's global norm)\n", c->clip);
    else
        fprintf(f, "  --clip X|none       none (clip the gradient's global norm)\n");
    if (c->patience > 0)
        fprintf(f, "  --patience N|none   %lld (early stopping)\n", (long long)c->patience);
    else
        fprintf(f, "  --patience N|none   none (early stopping)\n");
    fprintf(f, "  --lr X              learning rate of the optimizer\n");
    fprintf(f, "  --momentum X        momentum of sgd or rmsprop\n\n");
    fprintf(f,
            "OPT: sgd(lr, momentum, nesterov, weight_decay)\n"
            "  adam(lr, beta1, beta2, eps, weight_decay)  adamw(lr, beta1, beta2, eps, weight_decay)\n"
            "  rmsprop(lr, alpha, eps, weight_decay, momentum, centered)\n"
            "S: constant  exp_decay(k)  step(every, gamma)  cosine(min), each with an optional\n"
            "  warmup = W (epochs of linear warm-up): cosine(min = 0, warmup = 5)\n\n"
            "other flags:\n"
            "  --resume DIR        continue the run logged in DIR from its last checkpoint\n"
            "  --overwrite         --log DIR may replace the run logged there\n"
            "  --stop-after N      stop after N epochs (resume later with --resume)\n"
            "  --trap-nan          on a NaN or inf, name the model line that produced it\n"
            "  --no-ftz            keep IEEE denormals (default: flush them to zero)\n"
            "  --no-plots          train --log: write no plots (curves.gp, boundary.gp, ...)\n"
            "                      and no board.html\n"
            "  --recon-max N|all   reconstructions.png: the first N test samples (default 16)\n"
            "  --mode train|eval   grad, eval, check, predict: eval (default: dropout off,\n"
            "                      noise at its mean, batchnorm's running statistics) or\n"
            "                      train (draws from --seed and each sample's index)\n"
            "  --help              this text\n\n"
            "SOURCE: a data file (.npz, .npy, .csv, .pkl, IDX, CIFAR-10 batches; arrays bound to\n"
            "  inputs and targets by name), files(x = \"images.gz\" / 255, c = pick(\"f.pkl\", \"y\")),\n"
            "  or a generator:\n"
            "  noisy_xor(n, s, seed)  sine(n, noise, seed)  spirals(n, classes, noise, seed)\n"
            "  moons(n, noise, seed)  ripple(n, noise, seed)  random(n, seed)\n"
            "Flags take `--key value` or `--key=value`; see docs/trainer.md.\n");
}

/* ---- setup ---- */

static int apply_model_settings(Run *r)
{
    const NnrtModel *m = r->m;
    for (int i = 0; i < m->nsettings; i++) {
        char err[1024];
        const NnrtSetting *s = &m->settings[i];
        if (nnrt_config_set(&r->cfg, s->key, s->value, 0, err, sizeof err) != 0) {
            fprintf(stderr, "%s: error: %s = %s: %s\n", s->where ? s->where : "train block",
                    s->key, s->value, err);
            return 1;
        }
    }
    return 0;
}

static int command_takes(const char *cmds, const char *cmd)
{
    size_t n = strlen(cmd);
    for (const char *p = cmds; (p = strstr(p, cmd)) != NULL; p += n)
        if ((p == cmds || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return 1;
    return 0;
}

/* `train --resume DIR` starts from the settings the run was started with
 * (DIR/settings.txt); flags given now still override them.  Returns -1 to
 * go on, else an exit status. */
static int resume_settings(Run *r, int argc, char **argv)
{
    const char *dir = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--resume") == 0 && i + 1 < argc)
            dir = argv[i + 1];
        else if (strncmp(argv[i], "--resume=", 9) == 0)
            dir = argv[i] + 9;
    }
    if (!dir || strcmp(r->cmd, "train") != 0)
        return -1;
    NnrtErr e;
    if (nnrt_read_settings(dir, r->m, &r->cfg, &e) != 0)
        return fail_err(&e);
    return -1;
}

/* Returns -1 to go on, else an exit status. */
static int parse_flags(Run *r, int argc, char **argv)
{
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0) {
            usage(r, stdout);
            return 0;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            fail("unexpected argument '%s' (flags start with --; see %s --help)", a, r->prog);
            return 2;
        }
        char name[64];
        const char *eq = strchr(a + 2, '='), *value = NULL;
        size_t nlen = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (nlen >= sizeof name) {
            fail("unknown flag '%s'", a);
            return 2;
        }
        memcpy(name, a + 2, nlen);
        name[nlen] = '\0';
        if (eq)
            value = eq + 1;
        int ex = -1, key = -1;
        for (int k = 0; k < NEXTRA; k++)
            if (strcmp(extra_flags[k].name, name) == 0)
                ex = k;
        for (int k = 0; k < nnrt_setting_nkeys; k++)
            if (strcmp(nnrt_setting_keys[k], name) == 0)
                key = k;
        if (ex < 0 && key < 0) {
            const char *cands[64];
            int nc = 0;
            char msg[256];
            for (int k = 0; k < nnrt_setting_nkeys; k++)
                cands[nc++] = nnrt_setting_keys[k];
            for (int k = 0; k < NEXTRA; k++)
                cands[nc++] = extra_flags[k].name;
            snprintf(msg, sizeof msg, "unknown flag '--%s'", name);
            const char *c = nnrt_closest(name, cands, nc);
            if (c)
                fail("%s (did you mean '--%s'?); see %s --help", msg, c, r->prog);
            else
                fail("%s; see %s --help", msg, r->prog);
            return 2;
        }
        int takes = ex >= 0 ? extra_flags[ex].takes_value : 1;
        if (takes == 2)              /* an optional value: --flag=VALUE, or --flag VALUE */
            takes = value != NULL || (i + 1 < argc && argv[i + 1][0] != '-');
        if (ex >= 0 && !command_takes(extra_flags[ex].cmds, r->cmd)) {
            fail("'%s' does not take --%s (it is a flag of: %s)", r->cmd, name, extra_flags[ex].cmds);
            return 2;
        }
        if (takes && !value) {
            if (i + 1 >= argc) {
                fail("--%s needs a value", name);
                return 2;
            }
            value = argv[++i];
        } else if (!takes && value) {
            fail("--%s takes no value", name);
            return 2;
        }
        if (key >= 0) {
            char err[1024];
            if (nnrt_config_set(&r->cfg, name, value, 1, err, sizeof err) != 0) {
                fail("--%s %s: %s", name, value, err);
                return 2;
            }
            if (key == 0)
                r->data_flag = 1;
            if (strcmp(name, "batch") == 0)
                r->batch_flag = 1;
            continue;
        }
        if (strcmp(name, "help") == 0) {
            usage(r, stdout);
            return 0;
        } else if (strcmp(name, "init") == 0) {
            r->init = value;
        } else if (strcmp(name, "save") == 0) {
            r->save = value;
        } else if (strcmp(name, "out") == 0) {
            r->out = value;
        } else if (strcmp(name, "params") == 0) {
            r->params_file = value;
        } else if (strcmp(name, "outputs") == 0) {
            r->outputs = value;
        } else if (strcmp(name, "quiet") == 0) {
            r->quiet = 1;
        } else if (strcmp(name, "no-ftz") == 0) {
            r->no_ftz = 1;
        } else if (strcmp(name, "print") == 0) {
            r->print = value && strcmp(value, "all") != 0 ? value : "";
        } else if (strcmp(name, "trap-nan") == 0) {
            r->trap_nan = 1;
        } else if (strcmp(name, "resume") == 0) {
            r->resume = value;
        } else if (strcmp(name, "stop-after") == 0) {
            char *end;
            long long k = strtoll(value, &end, 10);
            if (*end != '\0' || k < 1) {
                fail("--stop-after %s: expected a positive number of epochs", value);
                return 2;
            }
            r->stop_after = k;
        } else if (strcmp(name, "sample") == 0) {
            char *end;
            r->sample = strtoll(value, &end, 10);
            if (*end != '\0' || end == value || r->sample < 0) {
                fail("--sample %s: expected a sample's index (0 is the first)", value);
                return 2;
            }
        } else if (strcmp(name, "entries") == 0) {
            char *end = NULL;
            r->entries = strcmp(value, "all") == 0 ? INT64_MAX : strtoll(value, &end, 10);
            if (strcmp(value, "all") != 0 && (*end != '\0' || end == value || r->entries < 1)) {
                fail("--entries %s: expected how many entries of each parameter to check "
                     "(a positive number, or all)", value);
                return 2;
            }
        } else if (strcmp(name, "no-plots") == 0) {
            r->no_plots = 1;
        } else if (strcmp(name, "recon-max") == 0) {
            char *end = NULL;
            r->recon_max = strcmp(value, "all") == 0 ? -1 : strtoll(value, &end, 10);
            if (end && (*end != '\0' || end == value || r->recon_max < 1)) {
                fail("--recon-max %s: expected how many samples reconstructions.png shows (a "
                     "positive number, or all)", value);
                return 2;
            }
        } else if (strcmp(name, "mode") == 0) {
            if (strcmp(value, "train") != 0 && strcmp(value, "eval") != 0) {
                fail("--mode %s: expected train or eval", value);
                return 2;
            }
            r->mode_train = r->eval_train = strcmp(value, "train") == 0;
        } else if (strcmp(name, "overwrite") == 0) {
            r->overwrite = 1;
        } else if (strcmp(name, "eps") == 0) {
            char *end;
            r->eps = strtod(value, &end);
            if (*end != '\0' || !(r->eps > 0) || r->eps > 1) {
                fail("--eps %s: expected a step such as 1e-6 (a number in (0, 1])", value);
                return 2;
            }
            r->have_eps = 1;
        }
        if (value && value[0] == '\0') {
            fail("--%s needs a value", name);
            return 2;
        }
    }
    return -1;
}

static int setup_params(Run *r, const char *file)
{
    const NnrtModel *m = r->m;
    NnrtErr e;
    size_t n = m->nparam_total > 0 ? (size_t)m->nparam_total : 1;
    r->params = calloc(n, sizeof *r->params);
    r->grads = calloc(n, sizeof *r->grads);
    if (!r->params || !r->grads)
        return fail("out of memory for %lld parameters", (long long)m->nparam_total);
    int rc = file ? nnrt_params_load(m, r->params, file, &e)
                  : nnrt_params_init(m, r->params, r->cfg.seed, &e);
    return rc != 0 ? fail_err(&e) : 0;
}

/* A model with a tensor of sample_max values per sample (nnrt.h) runs at
 * most INT_MAX / sample_max samples in one pass: passes of the batch when
 * it fits (a pass larger than the batch only evaluates faster, and such a
 * workspace is large), else an error that says the largest batch, before
 * the workspace (gigabytes at such sizes) is allocated. */
static int check_pass(Run *r, int64_t *cap)
{
    const NnrtModel *m = r->m;
    int64_t fit = INT_MAX / m->sample_max, batch = r->cfg.batch > 0 ? r->cfg.batch : *cap;
    if (batch <= fit) {
        *cap = batch;
        return 0;
    }
    const char *name = NULL;
    for (int k = 0; k < m->nvalues && !name; k++)
        if (m->values[k].batched && m->values[k].size == m->sample_max)
            name = m->values[k].name;
    for (int s = 0; s < m->nslots && !name; s++)
        if (m->slots[s].size == m->sample_max)
            name = m->slots[s].name;
    char what[160];
    if (name)
        snprintf(what, sizeof what, "'%.100s' holds", name);   /* an identifier */
    else
        snprintf(what, sizeof what, "a tensor of the model holds");
    return fail("%s %lld values per sample: a batch of %lld would index it past INT_MAX "
                "(the generated code indexes n samples as i * n + b in an int); the largest "
                "batch that fits is %lld (--batch %lld)", what, (long long)m->sample_max,
                (long long)batch, (long long)fit, (long long)fit);
}

/* A workspace for cap samples plus the per-slot pointers (and, when
 * gathering shuffled batches, the per-slot gather buffers). */
static int setup_work(Run *r, int64_t cap, int gather)
{
    const NnrtModel *m = r->m;
    if (cap < 1)
        cap = 1;
    /* batch norm in train mode: a batch is one pass, its statistics the
     * batch's (the last, shorter batch's its own) */
    int whole = (m->batchnorm && r->mode_train) || r->hold;
    if (cap > CHUNK_MAX && !whole)
        cap = CHUNK_MAX;
    if (m->tile > 0 && cap > m->tile && !whole)
        cap = m->tile;   /* a tiny model: chunks that stay in the cache */
    if (m->sample_max > 0 && cap > INT_MAX / m->sample_max && check_pass(r, &cap) != 0)
        return 1;
    r->cap = (int)cap;
    r->work = m->create(r->cap);
    if (r->work && (r->trap_nan || r->keep) && m->keep_all)
        m->keep_all(r->work);
    if (m->halves && !whole && !r->trap_nan && !r->keep && cap >= HALVES_MIN) {
        /* the second half of a pass over nb <= cap samples has at most nb / 2 */
        r->work2 = m->create(r->cap / 2);
        r->ptr2 = calloc((size_t)(m->nslots + m->ndraws + 1), sizeof *r->ptr2);
        r->grads2 = malloc((size_t)m->nparam_total * sizeof *r->grads2);
        if (!r->work2 || !r->ptr2 || !r->grads2)
            return fail("out of memory for a workspace of %d samples", r->cap / 2);
    }
    r->loss = malloc((size_t)cap * sizeof *r->loss);
    r->ptr = calloc((size_t)(m->nslots + m->ndraws + 1), sizeof *r->ptr);
    if (!r->work || !r->loss || !r->ptr)
        return fail("out of memory for a workspace of %d samples", r->cap);
    if (m->ndraws > 0 && !(r->draw = calloc((size_t)m->ndraws, sizeof *r->draw)))
        return fail("out of memory");
    for (int k = 0; k < m->ndraws; k++) {
        r->draw[k] = malloc((size_t)cap * (size_t)m->draws[k].size * sizeof(nnrt_real));
        if (!r->draw[k])
            return fail("out of memory for the draws of %d samples", r->cap);
        r->ptr[m->nslots + k] = r->draw[k];
    }
    if (gather) {
        r->gather = calloc(m->nslots > 0 ? (size_t)m->nslots : 1, sizeof *r->gather);
        if (!r->gather)
            return fail("out of memory");
        for (int s = 0; s < m->nslots; s++) {
            r->gather[s] = malloc((size_t)cap * (size_t)m->slots[s].size * sizeof(nnrt_real));
            if (!r->gather[s])
                return fail("out of memory for batch buffers");
        }
    }
    return 0;
}

static void run_free(Run *r)
{
    if (r->work)
        r->m->destroy(r->work);
    if (r->work2)
        r->m->destroy(r->work2);
    free(r->ptr2);
    free(r->grads2);
    if (r->gather)
        for (int s = 0; s < r->m->nslots; s++)
            free(r->gather[s]);
    free(r->gather);
    if (r->draw)
        for (int k = 0; k < r->m->ndraws; k++)
            free(r->draw[k]);
    free(r->draw);
    free(r->ptr);
    free(r->loss);
    free(r->params);
    free(r->grads);
}

/* Accuracy needs a classifier's prediction.  A regression model asking for
 * it (tests/e2e/models/design.nn does) gets a note, and no accuracy column,
 * rather than a failed run; nnc warns about it at compile time too. */
static int check_metrics(Run *r)
{
    const NnrtModel *m = r->m;
    if (!r->cfg.accuracy)
        return 0;
    if (m->out_slot < 0 || m->out_slot >= m->nslots || m->out_size < 1 || !m->output
        || m->out_value) {
        fprintf(stderr, "note: metrics = accuracy is not reported: the model has no classifier "
                "output (a loss with cross_entropy or bce_with_logits)\n");
        r->cfg.accuracy = 0;
        return 0;
    }
    const NnrtSlot *s = &m->slots[m->out_slot];
    if (s->nclass == 0 && s->size != 1 && s->size != m->out_size)
        return fail("metrics = accuracy: the prediction has %lld values, target %s has %lld",
                    (long long)m->out_size, s->name, (long long)s->size);
    return 0;
}

/* ---- the objective, its gradient, accuracy ---- */

static int64_t argmax(const nnrt_real *v, int64_t n)
{
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

/* Correct predictions among the last forward's nb samples (see out_slot in
 * nnrt.h): argmax of logits for a class target (one logit: class 1 when
 * > 0); for a real target of size 1 the prediction is a logit, class 1 when
 * > 0, the target is 1 when > 0.5; for a real target of size K (one-hot),
 * argmax against argmax. */
static int64_t count_correct_in(const Run *r, void *work, const nnrt_real *t, int nb)
{
    const NnrtModel *m = r->m;
    const NnrtSlot *s = &m->slots[m->out_slot];
    const nnrt_real *out = m->output(work);
    int64_t K = m->out_size, correct = 0;
    for (int b = 0; b < nb; b++) {
        const nnrt_real *p = out + (int64_t)b * K;
        if (s->nclass > 0) {
            int64_t pred = K == 1 ? (p[0] > 0) : argmax(p, K);
            correct += pred == (int64_t)t[b];
        } else if (s->size == 1) {
            correct += (p[0] > 0) == (t[b] > (nnrt_real)0.5);
        } else {
            correct += argmax(p, K) == argmax(t + (int64_t)b * s->size, s->size);
        }
    }
    return correct;
}

static int64_t count_correct(const Run *r, int nb)
{
    return count_correct_in(r, r->work, r->ptr[r->m->out_slot], nb);
}

/* The penalty at the parameters (kept in r->last_penalty for the logs). */
static double penalty(Run *r, nnrt_real *grads)
{
    r->last_penalty = r->m->penalty ? (double)r->m->penalty(r->work, r->params, grads) : 0.0;
    return r->last_penalty;
}

static void point_at(Run *r, const NnrtData *d, int64_t first)
{
    for (int s = 0; s < r->m->nslots; s++)
        r->ptr[s] = d->slot[s] + first * r->m->slots[s].size;
}

int nnrt_finite(const nnrt_real *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

/* --trap-nan, after a forward pass over nb samples whose losses are not
 * all finite (adjoint = 0) or a backward pass that left a non-finite
 * gradient (adjoint = 1): records in r->nan_where the first thing that went
 * non-finite: a parameter, else the model's first statement holding one. */
static void trap_nonfinite(Run *r, int nb, int adjoint)
{
    const NnrtModel *m = r->m;
    if (r->nan_where[0])
        return;
    for (int k = 0; k < m->nparams; k++)
        if (!nnrt_finite(r->params + m->params[k].offset, (size_t)m->params[k].size)) {
            snprintf(r->nan_where, sizeof r->nan_where, "parameter %s (%s) holds a non-finite "
                     "value", m->params[k].name, m->params[k].where ? m->params[k].where : "?");
            return;
        }
    const char *w = m->nonfinite ? m->nonfinite(r->work, nb, adjoint) : NULL;
    if (w)
        snprintf(r->nan_where, sizeof r->nan_where, "first non-finite value at %s", w);
    else if (adjoint)
        snprintf(r->nan_where, sizeof r->nan_where, "the gradient (of the penalty or a "
                 "parameter) is non-finite");
    else
        snprintf(r->nan_where, sizeof r->nan_where, "the loss");
}

static void trap_forward(Run *r, int nb)
{
    if (r->trap_nan && !nnrt_finite(r->loss, (size_t)nb))
        trap_nonfinite(r, nb, 0);
}

/* Under MPI, the ranks' sums over their shares of a batch: the gradient
 * (grads, unless NULL), the loss and the right predictions, the same on
 * every rank.  Nothing in one process. */
static volatile sig_atomic_t interrupted;   /* Ctrl-C (on_sigint, below) */
static int interrupted_all;                   /* under MPI: Ctrl-C on any rank, as of the last sum */

static void combine(const Run *r, nnrt_real *grads, double *sum, int64_t *correct)
{
    if (nnrt_mpi_size() == 1)
        return;
    double v[3] = { *sum, (double)*correct, interrupted };
    if (grads)
        sum_ranks(grads, r->m->nparam_total);
    nnrt_mpi_sum_f64(v, 3);
    *sum = v[0];
    *correct = (int64_t)v[1];
    interrupted_all = v[2] > 0;
}

/* Stop for a Ctrl-C?  Under MPI every rank stops at the same step: when
 * one saw it by the last sum (a signal read directly could arrive on one
 * rank between the sum and this test). */
static int stop_requested(void)
{
    return nnrt_mpi_size() > 1 ? interrupted_all : interrupted;
}

/* ---- the draws: noise and dropout's masks ---- */

/* The mode of the pass under way, for the model's batch norm (nnrt.h).
 * Here, beside nnrt_main, and not in nnrt_batchnorm.c: nnc links the
 * kernel (for explain) but not the trainer, so the JIT's code, which finds
 * its runtime functions by name in the process (nnc first), finds this
 * one in nnc-jit.so, the copy the trainer sets. */
static int pass_train;

int nnrt_pass_train(void)
{
    return pass_train;
}

void nnrt_set_pass_train(int train)
{
    pass_train = train;
}

/* check's finite differences hold the stop_gradient values (nnrt.h); here
 * for the same reason. */
static int held;

int nnrt_held(void)
{
    return held;
}

void nnrt_set_held(int h)
{
    held = h;
}

/* Does train mode differ from eval mode for this model? */
static int nnrt_model_stochastic(const NnrtModel *m)
{
    return m->ndraws > 0 || m->batchnorm;
}

typedef struct Draws {
    Run *r;
    const int64_t *idx;   /* the pass's samples' indices, or NULL: first + b */
    int64_t first;
    int train;
} Draws;

/* Samples [lo, hi) of the pass: every draw's numbers. */
static void draw_range(void *ctx, int64_t lo, int64_t hi)
{
    const Draws *g = ctx;
    const NnrtModel *m = g->r->m;
    for (int k = 0; k < m->ndraws; k++) {
        const NnrtDraw *d = &m->draws[k];
        for (int64_t b = lo; b < hi; b++) {
            uint64_t sample = (uint64_t)(g->idx ? g->idx[g->first + b] : g->first + b);
            uint64_t key = nnrt_draw_key(g->r->cfg.seed, g->r->draw_step, sample, k);
            nnrt_real *dst = g->r->draw[k] + b * d->size;
            for (int64_t i = 0; i < d->size; i++)
                dst[i] = (nnrt_real)nnrt_draw_at(d, g->train, key, i);
        }
    }
}

/* The mode of a forward pass over nb samples (and of the backward pass
 * after it), NNRT_PASS_* (nnrt.h), and before it, the k-th of which is sample
 * idx[first + k] of its data set (idx NULL: first + k): the draws of train
 * mode or their means.  Nothing for a model without draws. */
static void draw_pass(Run *r, const int64_t *idx, int64_t first, int nb, int mode)
{
    const NnrtModel *m = r->m;
    int train = mode != NNRT_PASS_EVAL;
    nnrt_set_pass_train(mode);   /* for batch norm (nnrt_batchnorm) */
    if (m->ndraws == 0)
        return;
    if (!train && nb <= r->draw_means)
        return;   /* the means are in place */
    Draws g = { r, idx, idx ? first : first + r->draw_first, train };
    int64_t per = 0;
    for (int k = 0; k < m->ndraws; k++)
        per += m->draws[k].size;
    nnrt_parallel(draw_range, &g, nb, per >= 4096 ? 1 : 4096 / per);
    r->draw_means = train ? 0 : nb;
}

/* The mode of a pass over this rank's share of a batch (batch_gradient)
 * or data set (evaluate) in train mode or not: under MPI, batch norm's
 * statistics are then the whole batch's, exchanged by the ranks in the
 * pass (nnrt_batchnorm).  Every rank must then run its pass, one per
 * batch, even over an empty share (one_pass). */
static int share_mode(const Run *r, int train)
{
    return !train ? NNRT_PASS_EVAL
           : r->m->batchnorm && nnrt_mpi_size() > 1 ? NNRT_PASS_TRAIN_SHARE : NNRT_PASS_TRAIN;
}

/* Is `at`, in a loop over the passes of a share starting at lo, a pass
 * to run even when the share is empty (share_mode)? */
static int one_pass(int mode, int64_t at, int64_t lo)
{
    return mode == NNRT_PASS_TRAIN_SHARE && at == lo;
}

/* ---- a pass in two halves (NnrtModel.halves) ----
 * A model with rolled loops runs many short steps one after the other, each
 * of whose products is too small to be cut between threads (nnrt_gemm.c's
 * GEMM_SPLIT_MIN), and cutting every step would cost a wait between the
 * threads at each one.  So the samples are cut instead: a pass over nb
 * samples runs as two passes, the first over `cut` samples in r->work, the
 * second over the rest in r->work2, computed side by side by the runtime's
 * threads; each sample's values are those of the whole pass.  The second
 * half's gradient goes to r->grads2 and is added to r->grads after the
 * first's, so the sums are the same whatever the number of threads (the cut
 * depends on nb alone). */

/* The first half's samples of a pass over nb, or 0: one pass. */
static int half_cut(const Run *r, int nb)
{
    if (!r->work2 || nb < HALVES_MIN)
        return 0;
    return ((nb + 1) / 2 + HALVES_ALIGN - 1) / HALVES_ALIGN * HALVES_ALIGN;
}

typedef struct Halves {
    Run *r;
    int nb, cut, accuracy;
    const nnrt_real *w;   /* the backward pass's weight, NULL: forward only */
    int64_t right[2];     /* each half's right predictions */
} Halves;

static void half_range(void *ctx, int64_t lo, int64_t hi)
{
    Halves *h = ctx;
    Run *r = h->r;
    const NnrtModel *m = r->m;
    for (int64_t k = lo; k < hi; k++) {
        void *work = k ? r->work2 : r->work;
        const nnrt_real **ptr = k ? r->ptr2 : r->ptr;
        int n = k ? h->nb - h->cut : h->cut;
        m->forward(work, r->params, n, ptr, r->loss + (k ? h->cut : 0));
        if (h->accuracy)
            h->right[k] = count_correct_in(r, work, ptr[m->out_slot], n);
        if (h->w)
            m->backward(work, r->params, n, *h->w, k ? r->grads2 : r->grads);
    }
}

/* The forward pass over the nb samples at r->ptr (and the backward pass
 * with weight *w, unless w is NULL) in halves; the right predictions when
 * `accuracy`. */
static int64_t pass_halves(Run *r, int nb, int cut, const nnrt_real *w, int accuracy)
{
    const NnrtModel *m = r->m;
    for (int s = 0; s < m->nslots; s++)
        r->ptr2[s] = r->ptr[s] + (int64_t)cut * m->slots[s].size;
    for (int k = 0; k < m->ndraws; k++)
        r->ptr2[m->nslots + k] = r->ptr[m->nslots + k] + (int64_t)cut * m->draws[k].size;
    if (w)
        memset(r->grads2, 0, (size_t)m->nparam_total * sizeof *r->grads2);
    Halves h = { r, nb, cut, accuracy, w, {0, 0} };
    nnrt_parallel(half_range, &h, 2, 1);
    if (w)
        for (int64_t i = 0; i < m->nparam_total; i++)
            r->grads[i] += r->grads2[i];
    return h.right[0] + h.right[1];
}

/* The batch objective over all of d (forward only), and accuracy. */
static void evaluate(Run *r, const NnrtData *d, int accuracy, Eval *ev)
{
    double sum = 0;
    int64_t correct = 0, lo, hi;
    int mode = share_mode(r, r->eval_train);
    nnrt_mpi_share(d->n, &lo, &hi);
    for (int64_t i0 = lo; i0 < hi || one_pass(mode, i0, lo); i0 += r->cap) {
        int nb = (int)(hi - i0 < r->cap ? hi - i0 : r->cap);
        point_at(r, d, i0);
        draw_pass(r, NULL, i0, nb, mode);
        int cut = half_cut(r, nb);
        if (cut)
            correct += pass_halves(r, nb, cut, NULL, accuracy);
        else
            r->m->forward(r->work, r->params, nb, r->ptr, r->loss);
        trap_forward(r, nb);
        for (int b = 0; b < nb; b++)
            sum += r->loss[b];
        if (accuracy && !cut)
            correct += count_correct(r, nb);
    }
    combine(r, NULL, &sum, &correct);
    ev->loss = (r->cfg.reduce_sum ? sum : sum / (double)d->n) + penalty(r, NULL);
    ev->penalty = r->last_penalty;
    ev->accuracy = (double)correct / (double)d->n;
}

static void zero_range(void *ctx, int64_t lo, int64_t hi)
{
    memset((nnrt_real *)ctx + lo, 0, (size_t)(hi - lo) * sizeof(nnrt_real));
}

typedef struct Gather {
    Run *r;
    const NnrtData *d;
    const int64_t *idx;   /* the chunk's first sample's index */
} Gather;

/* Copies samples idx[lo..hi) of every slot into the gather buffers. */
static void gather_range(void *ctx, int64_t lo, int64_t hi)
{
    const Gather *g = ctx;
    for (int s = 0; s < g->r->m->nslots; s++) {
        int64_t size = g->r->m->slots[s].size;
        for (int64_t b = lo; b < hi; b++)
            memcpy(g->r->gather[s] + b * size, g->d->slot[s] + g->idx[b] * size,
                   (size_t)size * sizeof(nnrt_real));
    }
}

/* Samples per chunk of a parallel gather: about 16 KiB (rows of the data
 * set lie anywhere in memory, so a gather waits on memory more than it
 * computes); small samples make one chunk, copied by the calling thread. */
static int64_t gather_chunk(const NnrtModel *m)
{
    int64_t bytes = 0;
    for (int s = 0; s < m->nslots; s++)
        bytes += m->slots[s].size * (int64_t)sizeof(nnrt_real);
    return bytes >= 16384 ? 1 : 16384 / (bytes > 0 ? bytes : 1);
}

/* grads = gradient of the objective over the B samples idx[start..start+B)
 * of d (idx NULL: samples start..start+B in order); returns the objective
 * and, when `correct` is not NULL, adds the number of right predictions.
 * next >= 0: the next batch starts at idx[next], and when both batches fit
 * in one chunk, its samples are gathered while the penalty is computed
 * (the helpers are idle then; forward() and backward() are done with the
 * gather buffers), for the next call to find them in place.  Under MPI
 * this rank does its share of the batch, and gathers its share of the
 * next. */
static double batch_gradient(Run *r, const NnrtData *d, const int64_t *idx, int64_t start,
                             int64_t B, int64_t *correct, int64_t next)
{
    const NnrtModel *m = r->m;
    double sum = 0;
    int64_t right = 0, lo, hi;
    nnrt_real w = r->cfg.reduce_sum ? 1 : (nnrt_real)(1.0 / (double)B);
    int mode = share_mode(r, r->mode_train);
    nnrt_parallel(zero_range, r->grads, m->nparam_total, 16384);
    nnrt_mpi_share(B, &lo, &hi);
    for (int64_t c0 = lo; c0 < hi || one_pass(mode, c0, lo); c0 += r->cap) {
        int nb = (int)(hi - c0 < r->cap ? hi - c0 : r->cap);
        if (idx) {
            if (r->ready_idx != idx || r->ready != start + c0 || r->ready_n != nb) {
                Gather g = { r, d, idx + start + c0 };
                nnrt_parallel(gather_range, &g, nb, gather_chunk(m));
            }
            r->ready = -1;
            for (int s = 0; s < m->nslots; s++)
                r->ptr[s] = r->gather[s];
        } else {
            point_at(r, d, start + c0);
        }
        draw_pass(r, idx, start + c0, nb, mode);
        int cut = half_cut(r, nb);
        if (cut)   /* forward and backward */
            right += pass_halves(r, nb, cut, &w, correct != NULL);
        else
            m->forward(r->work, r->params, nb, r->ptr, r->loss);
        trap_forward(r, nb);
        for (int b = 0; b < nb; b++)
            sum += r->loss[b];
        if (correct && !cut)
            right += count_correct(r, nb);
        if (!cut)
            m->backward(r->work, r->params, nb, w, r->grads);
        if (r->trap_nan && !nnrt_finite(r->grads, (size_t)m->nparam_total))
            trap_nonfinite(r, nb, 1);
    }
    int64_t nb_next = 0, lo_next = 0, hi_next;
    if (next >= 0 && idx && hi - lo <= r->cap) {
        /* the batch size; the last batch may be shorter */
        nnrt_mpi_share(d->n - next < B ? d->n - next : B, &lo_next, &hi_next);
        nb_next = hi_next - lo_next <= r->cap ? hi_next - lo_next : 0;
    }
    Gather g = { r, d, idx ? idx + next + lo_next : NULL };
    if (nb_next > 0)
        nnrt_parallel_begin(gather_range, &g, nb_next, gather_chunk(m));
    else
        nnrt_parallel_wake();   /* for the update that follows */
    combine(r, r->grads, &sum, &right);
    if (correct)
        *correct += right;
    double f = (r->cfg.reduce_sum ? sum : sum / (double)B) + penalty(r, r->grads);
    if (nb_next > 0) {
        nnrt_parallel_end();
        r->ready_idx = idx;
        r->ready = next + lo_next;
        r->ready_n = nb_next;
    }
    return f;
}

/* evaluate() for a full batch, leaving the batch's gradient in r->grads. */
static void full_batch_eval(Run *r, const NnrtData *d, Eval *ev)
{
    int64_t correct = 0;
    ev->loss = batch_gradient(r, d, NULL, 0, d->n, r->cfg.accuracy ? &correct : NULL, -1);
    ev->penalty = r->last_penalty;
    ev->accuracy = (double)correct / (double)d->n;
}

/* share: the data is only evaluated, so under MPI this rank needs its
 * share of the samples only (evaluate), and reads no others where the
 * format allows (nnrt_data_load_share). */
static int load_source(const Run *r, NnrtData *d, const NnrtSource *src, const char *what,
                       int share)
{
    NnrtErr e;
    if (src->kind == NNRT_SRC_NONE) {
        fail("no data: pass --%s FILE.npz (or a generator such as noisy_xor(n = 1000)), or set "
             "`%s` in the train block", what, what);
        return 2;
    }
    if (nnrt_data_load_share(d, r->m, src, share, &e) != 0)
        return fail_err(&e);
    return 0;
}

/* ---- train ---- */

/* load_source, with a line for a person at a terminal (loading a large
 * data set takes seconds): what is loaded, then how many samples in how
 * long.  Nothing in a pipe or a file, where the logs stay as they were. */
static int load_source_said(const Run *r, NnrtData *d, const NnrtSource *src, const char *what,
                            int share)
{
    int said = !r->quiet && isatty(STDERR_FILENO) && src->kind != NNRT_SRC_NONE;
    char desc[1200];
    double t0 = nnrt_now();
    if (said) {
        nnrt_source_describe(src, desc, sizeof desc);
        fprintf(stderr, "%s: loading %s ...\n", what, desc);   /* an error would follow it */
    }
    int rc = load_source(r, d, src, what, share);
    if (said && rc == 0)   /* the line again, up one line (ESC [ A), completed */
        fprintf(stderr, "\033[A\r\033[K%s: %s, %lld samples (%.1f s)\n", what, desc,
                (long long)d->n, nnrt_now() - t0);
    return rc;
}

/* Four significant digits, keeping trailing zeros: 0.4420, 12.30, 1.500e-05. */
static const char *sig4(char *buf, size_t len, double v)
{
    snprintf(buf, len, "%#.4g", v);
    size_t n = strlen(buf);
    if (n > 0 && buf[n - 1] == '.')
        buf[n - 1] = '\0';
    return buf;
}

/* The epoch's line on stdout:
 * `epoch 3  loss 0.4312  test_loss 0.4420  accuracy 0.861  lr 9.0e-04` */
static void print_row(const Run *r, const NnrtRow *w, int has_test)
{
    if (r->quiet)
        return;
    char b[40];
    printf("epoch %lld  loss %s", (long long)w->epoch, sig4(b, sizeof b, w->loss));
    if (has_test)
        printf("  test_loss %s", sig4(b, sizeof b, w->test_loss));
    if (r->cfg.accuracy) {
        printf("  accuracy %.3f", w->accuracy);
        if (has_test)
            printf("  test_accuracy %.3f", w->test_accuracy);
    }
    printf("  lr %.1e\n", w->lr);
}

/* Feedback for a person at a terminal (stderr is a tty), never in logs or
 * pipes: a progress bar over the whole run, with the epoch, the batches of
 * the epoch (or "evaluating" during the evaluation after it) and the time
 * left, measured over this invocation so far; it appears once the run has
 * taken a second, and is erased before each epoch's line. */
typedef struct Progress {
    int on, drawn;
    double start, last;       /* this invocation's start, the last drawing */
    int64_t first, epochs;    /* this invocation trains epochs first..epochs */
} Progress;

static void progress_begin(Progress *p, const Run *r, int64_t first, int64_t epochs)
{
    p->on = !r->quiet && isatty(STDERR_FILENO);
    p->drawn = 0;
    p->start = nnrt_now();
    p->last = 0;
    p->first = first;
    p->epochs = epochs;
}

/* "42 s", "3:07", "1:02:03" */
static const char *duration_text(char *buf, size_t len, double s)
{
    long t = (long)(s + 0.5);
    if (t < 60)
        snprintf(buf, len, "%ld s", t);
    else if (t < 3600)
        snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
    else
        snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    return buf;
}

/* During epoch `epoch`: frac of its updates done (1: evaluating). */
static void progress_update(Progress *p, int64_t epoch, int64_t done, int64_t nbatch)
{
    if (!p->on)
        return;
    int evaluating = done >= nbatch;
    double now = nnrt_now();
    if (now - p->start < 1.0 || (now - p->last < 0.1 && !evaluating))
        return;
    p->last = now;
    enum { WIDTH = 24 };
    static const char bar[] = "========================";
    double frac = (double)done / (double)nbatch;
    double ran = (double)(epoch - p->first) + frac, left = (double)(p->epochs - p->first + 1) - ran;
    int fill = (int)(WIDTH * ((double)(epoch - 1) + frac) / (double)p->epochs);
    char what[64], eta[32];
    if (evaluating)
        snprintf(what, sizeof what, "evaluating");
    else
        snprintf(what, sizeof what, "batch %lld/%lld", (long long)done, (long long)nbatch);
    fprintf(stderr, "\r\033[K  epoch %lld/%lld [%.*s%*s] %s, %s left", (long long)epoch,
            (long long)p->epochs, fill, bar, WIDTH - fill, "", what,
            ran > 0 ? duration_text(eta, sizeof eta, (now - p->start) * left / ran) : "?");
    fflush(stderr);
    p->drawn = 1;
}

static void progress_end(Progress *p)
{
    if (p->drawn)
        fputs("\r\033[K", stderr);
    p->drawn = 0;
}

/* A non-finite loss (or, with --trap-nan, gradient) stops the run: the
 * message goes to stderr and into msg (for summary.json). */
static int nonfinite(const Run *r, double loss, int64_t epoch, int64_t step, char *msg,
                     size_t len)
{
    if (isfinite(loss))
        snprintf(msg, len, "the gradient became non-finite at epoch %lld, step %lld",
                 (long long)epoch, (long long)step);
    else
        snprintf(msg, len, "loss became %s at epoch %lld, step %lld", isnan(loss) ? "nan" : "inf",
                 (long long)epoch, (long long)step);
    fail("%s", msg);
    if (r->nan_where[0]) {
        fprintf(stderr, "  %s\n", r->nan_where);
        size_t used = strlen(msg);
        snprintf(msg + used, len - used, "; %s", r->nan_where);
    } else if (!r->trap_nan) {
        fprintf(stderr, "  (run again with --trap-nan to find the model line where it first "
                "went non-finite)\n");
    }
    return 1;
}

/* Everything one `train` needs besides the Run. */
typedef struct Train {
    NnrtData data, test;
    NnrtOptim opt;
    NnrtRunLog log;
    int logging, has_test, shuffling, full;
    int64_t N, B, epochs;
    int64_t *perm;
    NnrtTrainState st;        /* what a checkpoint holds besides params and optimizer */
    double t0, seconds0;      /* this invocation's start; the run's seconds before it */
    double saved;             /* when the last checkpoint was written */
    double train_seconds;     /* the last epoch's updates, without its evaluation */
    double flushed;           /* the row's seconds when stdout was last flushed */
    Progress pg;              /* the bar at a terminal */
    NnrtRow row;              /* the last epoch's */
    int have_row;
    char msg[1200];           /* why the run stopped early, for summary.json */
    /* the state at the start of the epoch (with --log and mini-batches), for
     * the checkpoint of a run interrupted within an epoch */
    nnrt_real *snap, *snap_buf[3];
    int64_t snap_t;
    NnrtTrainState snap_st;
} Train;

/* Ctrl-C (SIGINT) during `train`: the run stops after the update under
 * way and ends as a stop should (checkpoint, summary.json, a message);
 * a second Ctrl-C kills it (SA_RESETHAND).  The flag, `interrupted`, is
 * declared above combine(), which shares it among MPI's ranks. */

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

enum { EXIT_INTERRUPTED = 130 };   /* 128 + SIGINT, the shell's convention */

/* The optimizer's buffers: m, v, a (those it has). */
static nnrt_real **optim_buffer(NnrtOptim *o, int i)
{
    return i == 0 ? &o->m : i == 1 ? &o->v : &o->a;
}

/* Keeps (save = 1) or puts back (save = 0) the parameters, the optimizer's
 * state and the training state: an epoch cut short by Ctrl-C is undone, so
 * that its checkpoint is the one of the epoch before, and --resume redoes
 * the epoch exactly.  A copy per epoch of every parameter three or four
 * times: nothing beside the epoch's updates of them. */
static int snapshot(const Run *r, Train *t, int save)
{
    size_t n = (size_t)(r->m->nparam_total > 0 ? r->m->nparam_total : 1) * sizeof(nnrt_real);
    if (!t->snap && !(t->snap = malloc(n)))
        return fail("out of memory");
    memcpy(save ? t->snap : r->params, save ? r->params : t->snap, n);
    for (int i = 0; i < 3; i++) {
        nnrt_real *b = *optim_buffer(&t->opt, i);
        if (!b)
            continue;
        if (!t->snap_buf[i] && !(t->snap_buf[i] = malloc(n)))
            return fail("out of memory");
        memcpy(save ? t->snap_buf[i] : b, save ? b : t->snap_buf[i], n);
    }
    if (save) {
        t->snap_t = t->opt.t;
        t->snap_st = t->st;
    } else {
        t->opt.t = t->snap_t;
        t->st = t->snap_st;
    }
    return 0;
}

static NnrtRow make_row(const Train *t, int64_t epoch, double lr, const Eval *tr, const Eval *te)
{
    NnrtRow w;
    w.epoch = epoch;
    w.step = t->st.step;
    w.lr = lr;
    w.loss = tr->loss;
    w.accuracy = tr->accuracy;
    w.test_loss = t->has_test ? te->loss : NAN;
    w.test_accuracy = t->has_test ? te->accuracy : NAN;
    w.seconds = t->seconds0 + nnrt_now() - t->t0;
    w.train_seconds = epoch > 0 ? t->train_seconds : 0;
    w.penalty = tr->penalty;
    return w;
}

/* Prints and logs an epoch's row, then updates early stopping's record:
 * the monitored loss is test_loss with a test set, else the loss.  Returns
 * 0, or 1 when a log file cannot be written (a full disk): the run stops. */
static int record(const Run *r, Train *t, const NnrtRow *w)
{
    NnrtErr e;
    progress_end(&t->pg);
    print_row(r, w, t->has_test);
    /* A terminal sees each line at once (stdout is line-buffered there); a
     * pipe or a file gets them at most NNRT_LOG_FLUSH_SECONDS late, not with a write
     * per epoch (W1's 2000 tiny epochs spent a tenth of their time so). */
    if (w->seconds - t->flushed >= NNRT_LOG_FLUSH_SECONDS) {
        fflush(stdout);
        t->flushed = w->seconds;
    }
    if (t->logging && nnrt_runlog_row(&t->log, w, &e) != 0)
        return fail_err(&e);
    /* the live board, docs/board.md: the rows so far, then the page */
    if (t->logging && !r->no_plots && nnrt_board_due()) {
        if (nnrt_runlog_flush(&t->log, &e) != 0)
            return fail_err(&e);
        nnrt_board_live(r->cfg.log, 1, r->quiet);
    }
    t->row = *w;
    t->have_row = 1;
    double now = t->has_test ? w->test_loss : w->loss;
    double best = t->has_test ? t->st.best.test_loss : t->st.best.loss;
    if (w->epoch == 0 || now < best) {
        t->st.best = *w;
        t->st.best_epoch = w->epoch;
        t->st.wait = 0;
    } else {
        t->st.wait++;
    }
    return 0;
}

enum { CHECKPOINT_SECONDS = 2 };

static int save_checkpoint(const Run *r, Train *t)
{
    NnrtErr e;
    char path[1100];
    if (!t->logging)
        return 0;
    if (nnrt_runlog_flush(&t->log, &e) != 0)   /* a resumed run keeps the rows up to it */
        return fail_err(&e);
    t->saved = nnrt_now();
    t->st.seconds = t->seconds0 + t->saved - t->t0;
    snprintf(path, sizeof path, "%s/checkpoint.npz", r->cfg.log);
    return nnrt_checkpoint_save(path, r->m, r->params, &t->opt, &t->st, &e) != 0 ? fail_err(&e)
                                                                                  : 0;
}

/* Fisher-Yates over the identity, so each epoch's order depends only on
 * the RNG's state (the seed and the epochs before). */
static void shuffle(Train *t)
{
    for (int64_t i = 0; i < t->N; i++)
        t->perm[i] = i;
    for (int64_t i = t->N - 1; i > 0; i--) {
        int64_t j = (int64_t)nnrt_rng_below(&t->st.rng, (uint64_t)i + 1);
        int64_t x = t->perm[i];
        t->perm[i] = t->perm[j];
        t->perm[j] = x;
    }
}

static void update(Run *r, Train *t, double lr)
{
    if (r->cfg.clip > 0)
        nnrt_clip_grad_norm(r->m, r->grads, r->cfg.clip);
    nnrt_optim_step(&t->opt, r->params, r->grads, lr);
    t->st.step++;
}

/* One epoch of updates, then its evaluation; returns 0 or an exit status
 * (a non-finite loss, or EXIT_INTERRUPTED: Ctrl-C within the epoch). */
static int run_epoch(Run *r, Train *t, int64_t ep, double lr, Eval *tr, Eval *te)
{
    NnrtConfig *c = &r->cfg;
    double t0 = nnrt_now();
    r->ready = -1;   /* a new order: nothing gathered ahead holds */
    if (t->shuffling)
        shuffle(t);
    if (t->full) {
        update(r, t, lr);   /* with the gradient of the last evaluation */
    } else {
        Progress *pg = &t->pg;
        int64_t nbatch = (t->N + t->B - 1) / t->B;
        for (int64_t start = 0, k = 0; start < t->N; start += t->B, k++) {
            if (c->steps > 0 && t->st.step >= c->steps)
                break;
            int64_t nb = t->N - start < t->B ? t->N - start : t->B;
            int64_t next = start + t->B < t->N && !(c->steps > 0 && t->st.step + 1 >= c->steps)
                           ? start + t->B : -1;
            r->draw_step = (uint64_t)t->st.step;
            double f = batch_gradient(r, &t->data, t->shuffling ? t->perm : NULL, start, nb,
                                      NULL, next);
            if (!isfinite(f) || r->nan_where[0]) {
                progress_end(pg);
                return nonfinite(r, f, ep, t->st.step + 1, t->msg, sizeof t->msg);
            }
            update(r, t, lr);
            if (t->logging)
                nnrt_runlog_step(&t->log, ep, t->st.step, f, lr);
            if (stop_requested() && start + t->B < t->N) {
                progress_end(pg);
                return EXIT_INTERRUPTED;
            }
            if (start + t->B < t->N)
                progress_update(pg, ep, k + 1, nbatch);
        }
    }
    progress_update(&t->pg, ep, 1, 1);   /* the evaluation's pause, marked */
    t->train_seconds = nnrt_now() - t0;
    if (t->full)
        full_batch_eval(r, &t->data, tr);
    else
        evaluate(r, &t->data, c->accuracy, tr);
    if (t->has_test)
        evaluate(r, &t->test, c->accuracy, te);
    if (!isfinite(tr->loss))
        return nonfinite(r, tr->loss, ep, t->st.step, t->msg, sizeof t->msg);
    return 0;
}

/* --save is written when training ends: a path that cannot be written is
 * refused before the run, not after it (with the message the write gives). */
static int check_save_path(const char *path)
{
    char dir[4096];
    NnrtErr e;
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    if (nnrt_output_check(path, &e) != 0)
        return fail_err(&e);
    if (access(dir, W_OK | X_OK) != 0)
        return fail("%s: cannot write (%s)", path, strerror(errno));
    return 0;
}

static int train_setup(Run *r, Train *t)
{
    const NnrtModel *m = r->m;
    NnrtConfig *c = &r->cfg;
    NnrtErr e;
    if (r->save && check_save_path(r->save) != 0)
        return 1;
    if (c->log[0] && !r->resume && nnrt_rundir_claim(c->log, r->overwrite, &e) != 0)
        return fail_err(&e);
    int rc = load_source_said(r, &t->data, &c->data, "data", 0);
    /* the test set is only evaluated, in shares, but rank 0's plots of
     * --log DIR draw its points: then rank 0 reads all of it */
    int test_share = nnrt_mpi_rank() > 0 || !c->log[0] || r->no_plots;
    if (rc == 0 && c->test.kind != NNRT_SRC_NONE)
        rc = load_source_said(r, &t->test, &c->test, "test", test_share);
    if (rc == 0)
        rc = check_metrics(r);
    if (rc != 0)
        return rc;
    t->has_test = c->test.kind != NNRT_SRC_NONE;
    t->N = t->data.n;
    t->B = c->batch == 0 || c->batch > t->N ? t->N : c->batch;
    int64_t per_epoch = (t->N + t->B - 1) / t->B;
    t->epochs = c->steps > 0 ? (c->steps + per_epoch - 1) / per_epoch : c->epochs;
    t->shuffling = c->shuffle && t->B < t->N;
    /* With full batches the objective at the end of an epoch is the
     * objective of the next epoch's one batch, in the same order, so one
     * forward pass serves both: the gradient is computed right away and kept
     * for the next update (it costs one unused backward at the very end). */
    t->full = t->B == t->N && !nnrt_model_stochastic(m);
    int64_t cap = t->B > CHUNK_MIN ? t->B : CHUNK_MIN;
    if (cap > t->N)
        cap = t->N;
    if ((rc = setup_params(r, r->init)) != 0 || (rc = setup_work(r, cap, t->shuffling)) != 0)
        return rc;
    if (t->shuffling && !(t->perm = malloc((size_t)t->N * sizeof *t->perm)))
        return fail("out of memory");
    if (nnrt_optim_init(&t->opt, &c->opt, m) != 0)
        return fail("out of memory for the optimizer's state");
    nnrt_rng_seed(&t->st.rng, c->seed ^ 0x53485546464c45ull);   /* "SHUFFLE": its own stream */
    if (r->resume) {
        char path[1100];
        snprintf(path, sizeof path, "%s/checkpoint.npz", r->resume);
        if (access(path, F_OK) != 0 && errno == ENOENT) {
            /* stopped before its first checkpoint (cmd_train): started from
             * its initialisers, so training it again is the same run */
            note(r, "%s has no checkpoint (the run stopped within its first %d seconds): "
                 "training it again from the start", r->resume, CHECKPOINT_SECONDS);
            r->resume = NULL;
        } else if (nnrt_checkpoint_load(path, m, r->params, &t->opt, &t->st, &e) != 0) {
            return fail_err(&e);
        } else if (t->st.ranks != nnrt_mpi_size()) {
            /* other shares add up in another order: not the same run */
            return fail("%s was trained by %lld process%s; resume it with as many (mpirun -np "
                        "%lld, docs/distributed.md), not %d", r->resume, (long long)t->st.ranks,
                        t->st.ranks == 1 ? "" : "es", (long long)t->st.ranks, nnrt_mpi_size());
        } else {
            t->seconds0 = t->st.seconds;
        }
    }
    t->st.ranks = nnrt_mpi_size();
    /* under MPI, the ranks must agree on what they train (else they would
     * wait for each other in different steps); rank 0 alone writes files */
    uint64_t what = nnrt_hash_name(r->m->source_hash ? r->m->source_hash : "") ^
                    (uint64_t)t->N * 0x9e3779b97f4a7c15ull ^ (uint64_t)t->B << 20 ^
                    (uint64_t)t->epochs << 40 ^ (uint64_t)t->test.n << 8 ^
                    (uint64_t)t->st.step << 30 ^ c->seed;
    if (nnrt_mpi_same(what, "settings or data", &e) != 0)
        return fail_err(&e);
    t->logging = c->log[0] != '\0' && nnrt_mpi_rank() == 0;
    if (t->logging) {
        if (nnrt_write_config(c->log, m, c, r->argc, r->argv, &e) != 0 ||
            nnrt_runlog_open(&t->log, c->log, t->has_test, c->accuracy, m->has_penalty, DIGITS,
                             r->resume ? t->st.epoch : -1, &e) != 0 ||
            (!t->full && nnrt_runlog_open_steps(&t->log, r->resume ? t->st.epoch : -1, &e) != 0))
            return fail_err(&e);
    }
    return 0;
}

/* Has the run in dir written the files of its end?  summary.json is the
 * last, and a run removes it when it starts training. */
static int run_complete(const char *dir)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/params.npz", dir);
    if (access(path, F_OK) != 0)
        return 0;
    snprintf(path, sizeof path, "%s/summary.json", dir);
    return access(path, F_OK) == 0;
}

static int write_summary(const Run *r, Train *t, const char *status, const char *message,
                         int has_params)
{
    NnrtErr e;
    NnrtSummary s;
    if (!t->logging)
        return 0;
    memset(&s, 0, sizeof s);
    s.status = status;
    s.message = message;
    s.monitor = t->has_test ? "test_loss" : "loss";
    s.has_final = t->have_row;
    s.has_params = has_params;
    s.final = t->row;
    s.best = t->st.best;
    s.wall_seconds = t->seconds0 + nnrt_now() - t->t0;
    if (nnrt_write_summary(&t->log, &s, &e) != 0)
        return fail_err(&e);
    (void)r;
    return 0;
}

/* The end of a run that went well, on stderr unless --quiet: how long,
 * the final and the best metrics, where the files are.  stdout keeps the
 * epochs' lines only. */
static void end_summary(const Run *r, const Train *t, const char *status)
{
    if (r->quiet || !t->have_row)
        return;
    const NnrtRow *w = &t->row, *b = &t->st.best;
    char num[40], took[32];
    fflush(stdout);
    fprintf(stderr, "%s %lld epoch%s in %s: loss %s",
            strcmp(status, "finished") == 0 ? "trained" : "stopped after",
            (long long)w->epoch, w->epoch == 1 ? "" : "s",
            duration_text(took, sizeof took, t->seconds0 + nnrt_now() - t->t0),
            sig4(num, sizeof num, w->loss));
    if (t->has_test)
        fprintf(stderr, "  test_loss %s", sig4(num, sizeof num, w->test_loss));
    if (r->cfg.accuracy) {
        fprintf(stderr, "  accuracy %.3f", w->accuracy);
        if (t->has_test)
            fprintf(stderr, "  test_accuracy %.3f", w->test_accuracy);
    }
    fprintf(stderr, "\n  best %s %s at epoch %lld", t->has_test ? "test_loss" : "loss",
            sig4(num, sizeof num, t->has_test ? b->test_loss : b->loss), (long long)b->epoch);
    if (r->cfg.accuracy)
        fprintf(stderr, " (%saccuracy %.3f)", t->has_test ? "test_" : "",
                t->has_test ? b->test_accuracy : b->accuracy);
    fputc('\n', stderr);
    if (t->logging)
        fprintf(stderr, "  run files in %s: metrics.csv, summary.json, params.npz, checkpoint.npz\n",
                r->cfg.log);
    if (r->save)
        fprintf(stderr, "  parameters in %s\n", r->save);
}

/* The message of a run stopped by Ctrl-C during epoch ep at update step
 * (step < 0: after the epoch): how to go on.  Returns EXIT_INTERRUPTED. */
static int interrupt(const Run *r, Train *t, int64_t ep, int64_t step)
{
    char where[100];
    if (step < 0)
        snprintf(where, sizeof where, "after epoch %lld", (long long)ep);
    else
        snprintf(where, sizeof where, "during epoch %lld, after update %lld", (long long)ep,
                 (long long)step);
    if (t->logging)
        snprintf(t->msg, sizeof t->msg, "interrupted (Ctrl-C) %s; the checkpoint holds epoch "
                 "%lld: continue with %.400s train --resume %.600s", where, (long long)t->st.epoch,
                 r->prog, r->cfg.log);
    else
        snprintf(t->msg, sizeof t->msg, "interrupted (Ctrl-C) %s; nothing was saved (a run "
                 "with --log DIR can be continued with --resume DIR)", where);
    progress_end(&t->pg);
    fflush(stdout);
    fprintf(stderr, "%s\n", t->msg);   /* even with --quiet: the run did not finish */
    return EXIT_INTERRUPTED;
}

static int cmd_train(Run *r)
{
    const NnrtModel *m = r->m;
    NnrtConfig *c = &r->cfg;
    Train t;
    NnrtErr e;
    Eval tr = { 0, 0, 0 }, te = { 0, 0, 0 };
    const char *status = "finished";
    int complete = 0;   /* --resume of a run that has all its files: leave them be */
    struct sigaction old_int;
    memset(&t, 0, sizeof t);
    sigaction(SIGINT, NULL, &old_int);
    int rc = train_setup(r, &t);
    if (rc != 0)
        goto done;
    struct sigaction on_int;
    memset(&on_int, 0, sizeof on_int);
    on_int.sa_handler = on_sigint;
    on_int.sa_flags = SA_RESETHAND;
    sigemptyset(&on_int.sa_mask);
    interrupted = 0;
    if (old_int.sa_handler != SIG_IGN)   /* ignored (nohup, a script's `&`): left so */
        sigaction(SIGINT, &on_int, NULL);
    nnrt_set_ftz(!r->no_ftz);
    t.t0 = nnrt_now();
    progress_begin(&t.pg, r, t.st.epoch + 1, t.epochs);
    double lr0 = c->opt.lr;
    if (!r->resume) {
        if (t.full)
            full_batch_eval(r, &t.data, &tr);
        else
            evaluate(r, &t.data, c->accuracy, &tr);
        if (t.has_test)
            evaluate(r, &t.test, c->accuracy, &te);
        if (!isfinite(tr.loss)) {
            rc = nonfinite(r, tr.loss, 0, 0, t.msg, sizeof t.msg);
            status = "diverged";
            goto done;
        }
        NnrtRow w = make_row(&t, 0, nnrt_schedule_lr(&c->sched, lr0, 0, t.epochs), &tr, &te);
        if ((rc = record(r, &t, &w)) != 0)
            goto done;
        /* The first checkpoint comes after CHECKPOINT_SECONDS (below), not
         * now: a short run writes one file less, and replaces none (on ext4
         * without a journal every file deleted slows down the next files
         * created, docs/performance.md).  A run stopped before it is trained
         * again from the start on --resume (train_setup), which gives the
         * same run, unless its parameters came from --init: then at once. */
        t.saved = t.t0;
        if (r->init && (rc = save_checkpoint(r, &t)) != 0)
            goto done;
    } else {
        if (t.full)   /* the gradient the next update uses */
            full_batch_eval(r, &t.data, &tr);
        note(r, "resuming %s after epoch %lld (step %lld)", r->resume, (long long)t.st.epoch,
             (long long)t.st.step);
        if (t.st.epoch >= t.epochs) {
            if (run_complete(c->log)) {
                note(r, "nothing to do: the run has done its %lld epochs", (long long)t.epochs);
                complete = 1;
                goto done;
            }
            /* Killed after its last checkpoint, before params.npz or
             * summary.json: the checkpoint holds the final parameters, and
             * evaluating them gives the final row again. */
            note(r, "the run has done its %lld epochs but was stopped before writing all its "
                 "files: writing them now", (long long)t.epochs);
            if (!t.full)
                evaluate(r, &t.data, c->accuracy, &tr);
            if (t.has_test)
                evaluate(r, &t.test, c->accuracy, &te);
            t.row = make_row(&t, t.st.epoch,
                             nnrt_schedule_lr(&c->sched, lr0, t.st.epoch - 1, t.epochs), &tr, &te);
            t.have_row = 1;
        }
    }
    if (t.logging) {
        /* A summary.json says the run's files are complete (run_complete):
         * one left by --stop-after would say so while this part runs. */
        char path[1100];
        snprintf(path, sizeof path, "%s/summary.json", c->log);
        remove(path);
    }
    if (r->nan_where[0]) {   /* --trap-nan: the gradient for the first update */
        rc = nonfinite(r, tr.loss, t.st.epoch + 1, t.st.step + 1, t.msg, sizeof t.msg);
        status = "diverged";
        goto done;
    }
    for (int64_t ep = t.st.epoch + 1, ran = 1; ep <= t.epochs; ep++, ran++) {
        double lr = nnrt_schedule_lr(&c->sched, lr0, ep - 1, t.epochs);
        if (t.logging && !t.full && (rc = snapshot(r, &t, 1)) != 0)
            goto done;
        if ((rc = run_epoch(r, &t, ep, lr, &tr, &te)) == EXIT_INTERRUPTED) {
            int64_t step = t.st.step;
            if (t.logging && ((rc = snapshot(r, &t, 0)) != 0 || (rc = save_checkpoint(r, &t)) != 0))
                goto done;
            rc = interrupt(r, &t, ep, step);
            status = "interrupted";
            goto done;
        }
        if (rc != 0) {
            status = "diverged";
            goto done;
        }
        NnrtRow w = make_row(&t, ep, lr, &tr, &te);
        if ((rc = record(r, &t, &w)) != 0)
            goto done;
        t.st.epoch = ep;
        int early = c->patience > 0 && t.st.wait >= c->patience && ep < t.epochs;
        int halt = r->stop_after > 0 && ran >= r->stop_after && ep < t.epochs;
        int stop = stop_requested() && ep < t.epochs;   /* Ctrl-C during the epoch's evaluation */
        /* A checkpoint after every epoch would dominate a tiny model's
         * epochs (W1's 2000 took 8x longer): one at most every
         * CHECKPOINT_SECONDS and always at the end.  --resume truncates the
         * logs to the checkpoint's epoch and redoes the rest exactly. */
        if ((ep == t.epochs || early || halt || stop ||
             nnrt_now() - t.saved >= CHECKPOINT_SECONDS) &&
            (rc = save_checkpoint(r, &t)) != 0)
            goto done;
        if (r->nan_where[0]) {   /* full batch: the gradient for the next update */
            rc = nonfinite(r, tr.loss, ep + 1, t.st.step + 1, t.msg, sizeof t.msg);
            status = "diverged";
            goto done;
        }
        if (early) {
            snprintf(t.msg, sizeof t.msg, "early stop after epoch %lld: %s has not improved for "
                     "%lld epoch%s (best %.*g at epoch %lld)", (long long)ep,
                     t.has_test ? "test_loss" : "loss", (long long)c->patience,
                     c->patience == 1 ? "" : "s", DIGITS,
                     t.has_test ? t.st.best.test_loss : t.st.best.loss,
                     (long long)t.st.best_epoch);
            note(r, "%s", t.msg);
            status = "early_stopped";
            break;
        }
        if (stop) {
            rc = interrupt(r, &t, ep, -1);
            status = "interrupted";
            goto done;
        }
        if (halt) {
            snprintf(t.msg, sizeof t.msg, "stopped after epoch %lld (--stop-after %lld); "
                     "continue with --resume %s", (long long)ep, (long long)r->stop_after,
                     c->log);
            note(r, "%s", t.msg);
            status = "stopped";
            break;
        }
    }
    if (r->save && nnrt_mpi_rank() == 0 && nnrt_params_save(m, r->params, r->save, 0, &e) != 0) {
        rc = fail_err(&e);
        goto done;
    }
    if (t.logging) {
        char path[1100];
        snprintf(path, sizeof path, "%s/params.npz", c->log);
        if (nnrt_params_save(m, r->params, path, 0, &e) != 0) {
            rc = fail_err(&e);
            goto done;
        }
    }
    end_summary(r, &t, status);
done:
    progress_end(&t.pg);
    sigaction(SIGINT, &old_int, NULL);
    if (t.logging && t.log.csv && !complete) {
        if (rc == 0 || strcmp(status, "diverged") == 0 || strcmp(status, "interrupted") == 0) {
            int sr = write_summary(r, &t, status, t.msg[0] ? t.msg : NULL, rc == 0);
            rc = rc ? rc : sr;
        }
        nnrt_runlog_close(&t.log);
        if (!r->no_plots) {
            NnrtPlotRun pr = { m, rc == 0 ? r->params : NULL, r->work, r->cap, &t.data,
                               t.test.n > 0 ? &t.test : NULL, c->log, r->quiet, r->recon_max,
                               c };
            nnrt_plot_run(&pr);
            nnrt_board_live(c->log, 0, r->quiet);
        }
    }
    free(t.perm);
    free(t.snap);
    for (int i = 0; i < 3; i++)
        free(t.snap_buf[i]);
    nnrt_optim_free(&t.opt);
    nnrt_data_free(&t.data);
    nnrt_data_free(&t.test);
    return rc;
}

/* ---- init, grad, eval ---- */

static int cmd_init(Run *r)
{
    NnrtErr e;
    if (!r->out) {
        fail("init needs --out P.npz");
        return 2;
    }
    int rc = setup_params(r, NULL);
    if (rc == 0 && nnrt_mpi_rank() == 0 && nnrt_params_save(r->m, r->params, r->out, 0, &e) != 0)
        rc = fail_err(&e);
    return rc;
}

/* grad --print W1,b1 (or all): each gradient as numpy prints an array. */
static int check_print_wanted(const char *list, const char *name);
static int check_print_names(const NnrtModel *m, const char *list);

/* grad --print W1,b1 (or all): each gradient as numpy prints an array. */
static int print_grads(const Run *r, const char *data, double f)
{
    const NnrtModel *m = r->m;
    printf("# gradients of the batch objective f over %s (reduce = %s)\n", data,
           r->cfg.reduce_sum ? "sum" : "mean");
    printf("# at the parameters %s; f = %.*g\n",
           r->params_file ? r->params_file : "of the initialisers", DIGITS, f);
    for (int k = 0; k < m->nparams; k++) {
        const NnrtParam *p = &m->params[k];
        if (p->frozen || !check_print_wanted(r->print, p->name))
            continue;
        char dims[64];
        nnrt_format_dims(dims, sizeof dims, p->rank, p->dim);
        printf("\ndL/d%s %s\n", p->name, dims);
        double *x = malloc((size_t)(p->size > 0 ? p->size : 1) * sizeof *x);
        if (!x)
            return fail("out of memory");
        for (int64_t i = 0; i < p->size; i++)
            x[i] = (double)r->grads[p->offset + i];
        nnrt_print_array(stdout, x, p->rank, p->dim, PRINT_DIGITS);
        free(x);
    }
    return 0;
}

static int cmd_grad(Run *r)
{
    NnrtData d = { 0 }, one = { 0 };
    NnrtErr e;
    if (!r->out && !r->print) {
        fail("grad needs --out G.npz, or --print NAMES to print gradients");
        return 2;
    }
    int rc = r->print ? check_print_names(r->m, r->print) : 0;
    if (rc == 0)
        rc = load_source_said(r, &d, &r->cfg.data, "data", 0);
    const NnrtData *use = &d;
    char from[1200];
    snprintf(from, sizeof from, "all %lld samples of %s", (long long)d.n, d.name);
    if (rc == 0 && r->sample >= 0) {
        /* one sample: a view of d */
        if (r->sample >= d.n) {
            rc = fail("--sample %lld: %s has %lld samples (0 to %lld)", r->sample, d.name,
                      (long long)d.n, (long long)d.n - 1);
        } else if (!(one.slot = malloc((size_t)(d.nslots > 0 ? d.nslots : 1) * sizeof *one.slot))) {
            rc = fail("out of memory");
        } else {
            one.n = 1;
            one.nslots = d.nslots;
            for (int s = 0; s < d.nslots; s++)
                one.slot[s] = d.slot[s] + r->sample * r->m->slots[s].size;
            snprintf(one.name, sizeof one.name, "%s", d.name);
            snprintf(from, sizeof from, "sample %lld of %s", r->sample, d.name);
            use = &one;
            r->draw_first = r->sample;   /* its draws, as in the whole data set */
        }
    }
    if (rc == 0)
        rc = setup_params(r, r->params_file);
    if (rc == 0)
        rc = setup_work(r, use->n, 0);
    if (rc == 0) {
        nnrt_set_ftz(!r->no_ftz);
        double f = batch_gradient(r, use, NULL, 0, use->n, NULL, -1);
        if (!isfinite(f))
            fprintf(stderr, "warning: the objective is %s at these parameters\n",
                    isnan(f) ? "nan" : "inf");
        if (r->out && nnrt_mpi_rank() == 0 && nnrt_params_save(r->m, r->grads, r->out, 1, &e) != 0)
            rc = fail_err(&e);
        if (rc == 0 && r->print)
            rc = print_grads(r, from, f);
    }
    free(one.slot);
    nnrt_data_free(&d);
    return rc;
}

static int cmd_eval(Run *r)
{
    NnrtData d = { 0 };
    int rc = load_source_said(r, &d, &r->cfg.data, "data", 1);
    if (rc == 0)
        rc = check_metrics(r);
    if (rc == 0)
        rc = setup_params(r, r->params_file);
    if (rc == 0)
        rc = setup_work(r, d.n, 0);
    /* the defaults, said: an untrained model or the training set, taken by
     * a forgotten flag, would otherwise pass for the numbers wanted */
    if (rc == 0 && !r->params_file)
        note(r, "eval: at the initial parameters (no --params)");
    if (rc == 0 && !r->data_flag)
        note(r, "eval: on the train block's data, %s (no --data)", d.name);
    if (rc == 0) {
        Eval ev;
        nnrt_set_ftz(!r->no_ftz);
        evaluate(r, &d, r->cfg.accuracy, &ev);
        char buf[40];
        printf("loss: %s\n", nnrt_num_text(buf, sizeof buf, ev.loss, DIGITS));
        if (r->cfg.accuracy)
            printf("accuracy: %s\n", nnrt_num_text(buf, sizeof buf, ev.accuracy, DIGITS));
    }
    nnrt_data_free(&d);
    return rc;
}

/* ---- check: finite differences against the analytic gradient ---- */

/* Is `name` in the comma-separated list (empty list: every parameter)? */
static int check_print_wanted(const char *list, const char *name)
{
    if (!*list)
        return 1;
    size_t n = strlen(name);
    for (const char *s = list; *s;) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        if (len == n && strncmp(s, name, n) == 0)
            return 1;
        s += len + (comma != NULL);
    }
    return 0;
}

/* Every name of --print=W1,b1 must be a trainable parameter. */
static int check_print_names(const NnrtModel *m, const char *list)
{
    for (const char *s = list; *s;) {
        const char *comma = strchr(s, ',');
        int len = comma ? (int)(comma - s) : (int)strlen(s);
        int found = 0;
        for (int k = 0; k < m->nparams; k++)
            if ((int)strlen(m->params[k].name) == len && strncmp(s, m->params[k].name, len) == 0)
                found = 1 + !m->params[k].frozen;
        if (found != 2) {
            char names[1024] = "";
            for (int k = 0; k < m->nparams; k++)
                if (!m->params[k].frozen && strlen(names) + strlen(m->params[k].name) + 3 < sizeof names)
                    strcat(strcat(names, *names ? ", " : ""), m->params[k].name);
            return fail("--print: '%.*s' is %s; the trainable parameters are %s", len, s,
                        found ? "frozen (it has no gradient)" : "no parameter of the model", names);
        }
        s += len + (comma != NULL);
    }
    return 0;
}

/* check --print: the analytic and the numeric gradient of one parameter
 * side by side, numpy-style. */
/* check --print: the analytic and the numeric gradient with the digits
 * where they may differ (float64's central differences agree to about 10
 * significant digits, float32's to 3 or 4: 10 and 7 shown), and each
 * entry's relative error as the table defines it. */
static void print_side_by_side(const NnrtParam *p, const nnrt_real *ana, const double *num)
{
    char dims[64];
    nnrt_format_dims(dims, sizeof dims, p->rank, p->dim);
    size_t n = (size_t)(p->size ? p->size : 1);
    double *a = malloc(n * sizeof *a), *rel = malloc(n * sizeof *rel);
    if (!a || !rel) {
        free(a);
        free(rel);
        return;
    }
    for (int64_t i = 0; i < p->size; i++) {
        double sum = fabs((double)ana[i]) + fabs(num[i]);
        a[i] = ana[i];
        rel[i] = fabs(a[i] - num[i]) / (sum > 1e-12 ? sum : 1e-12);
    }
    printf("\ndL/d%s %s\n", p->name, dims);
    const double *const cols[] = { a, num, rel };
#ifdef NNRT_F64
    const int digits[] = { 9, 9, 1 };
#else
    const int digits[] = { 6, 6, 1 };
#endif
    const char *const titles[] = { "analytic (backward pass)", "numeric (central differences)",
                                   "rel err" };
    nnrt_print_side_by_side(stdout, 3, cols, digits, titles, p->rank, p->dim);
    free(a);
    free(rel);
}

static int cmp_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* check --entries N: which N of a parameter's n entries to check, chosen
 * at random (the same every run) by a partial Fisher-Yates shuffle, in
 * increasing order.  NULL when out of memory. */
static int64_t *check_sample(int64_t n, int64_t want, uint64_t seed)
{
    int64_t *idx = malloc((size_t)n * sizeof *idx);
    if (!idx)
        return NULL;
    for (int64_t i = 0; i < n; i++)
        idx[i] = i;
    NnrtRng rng;
    nnrt_rng_seed(&rng, seed);
    for (int64_t t = 0; t < want; t++) {
        int64_t j = t + (int64_t)nnrt_rng_below(&rng, (uint64_t)(n - t)), x = idx[t];
        idx[t] = idx[j];
        idx[j] = x;
    }
    qsort(idx, (size_t)want, sizeof *idx, cmp_int64);
    return idx;
}

static int cmd_check(Run *r)
{
    const NnrtModel *m = r->m;
    NnrtData d = { 0 };
    NnrtErr e;
    char from[1300];
    int rc = 0;
    if (r->data_flag) {
        rc = load_source(r, &d, &r->cfg.data, "data", 0);
        snprintf(from, sizeof from, "%s", d.name);
    } else if (m->example) {
        if (nnrt_data_example(&d, m, &e) != 0)
            rc = fail_err(&e);
        snprintf(from, sizeof from, "the example block");
    } else if (r->cfg.data.kind != NNRT_SRC_NONE) {
        rc = load_source(r, &d, &r->cfg.data, "data", 0);
        if (d.n > 16)
            d.n = 16;
        snprintf(from, sizeof from, "the first samples of %s", d.name);
    } else {
        NnrtSource src = { 0 };
        src.kind = NNRT_SRC_GEN;
        src.gen = NNRT_GEN_RANDOM;
        src.n = 4;
        src.seed = r->cfg.seed;
        rc = load_source(r, &d, &src, "data", 0);
        snprintf(from, sizeof from, "%s (no example block, no data)", d.name);
    }
    if (rc == 0 && r->batch_flag && r->cfg.batch > 0 && d.n > r->cfg.batch) {
        char what[1300];
        snprintf(what, sizeof what, "%.1200s (its first %lld, --batch)", from,
                 (long long)r->cfg.batch);
        snprintf(from, sizeof from, "%s", what);
        d.n = r->cfg.batch;
    }
    if (rc == 0 && r->print && *r->print)
        rc = check_print_names(m, r->print);
    if (rc == 0)
        rc = setup_params(r, r->params_file);
    r->hold = m->holds;
    if (rc == 0)
        rc = setup_work(r, d.n, 0);
    size_t total = (size_t)(m->nparam_total > 0 ? m->nparam_total : 1);
    nnrt_real *ana = NULL;
    double *numeric = NULL;
    if (rc == 0 && (!(ana = malloc(total * sizeof *ana)) ||
                    !(numeric = calloc(total, sizeof *numeric))))
        rc = fail("out of memory");
    if (rc != 0) {
        free(ana);
        nnrt_data_free(&d);
        return rc;
    }
    nnrt_set_ftz(!r->no_ftz);
    double h = r->have_eps ? r->eps : CHECK_EPS, tol = CHECK_TOL;
    batch_gradient(r, &d, NULL, 0, d.n, NULL, -1);
    memcpy(ana, r->grads, (size_t)m->nparam_total * sizeof *ana);

    printf("gradient check of '%s' (%s): %lld sample%s from %s, reduce = %s\n", m->name,
           NNRT_DTYPE_NAME, (long long)d.n, d.n == 1 ? "" : "s", from,
           r->cfg.reduce_sum ? "sum" : "mean");
    printf("  f = batch objective (%s over the samples of loss, + penalty)\n",
           r->cfg.reduce_sum ? "sum" : "mean");
    printf("  numeric n = (f(p + h) - f(p - h)) / 2h with h = %g; analytic a = backward pass\n", h);
    printf("  an entry passes when |a - n| <= %g * max(1, |a| + |n|)\n", tol);
    printf("  rel err = |a - n| / max(|a| + |n|, 1e-12), over entries with |a| + |n| > 1e-8\n");
#ifndef NNRT_F64
    printf("  note: this trainer computes in float32, where finite differences are accurate to\n"
           "  about 1e-3 at best; the check is meaningful in float64 (nnc --dtype f64), so the\n"
           "  threshold here is the loose %g\n", tol);
#endif
    printf("\n%-20s %-14s %9s %12s %12s  %s\n", "parameter", "shape", "entries", "max abs err",
           "max rel err", "result");
    fflush(stdout);
    int nfail = 0, nchecked = 0, nsampled = 0;
    /* f(p +- h) with each stop_gradient's values of f(p), the backward
     * pass's function: the pass of batch_gradient above wrote them */
    nnrt_set_held(m->holds);
    for (int k = 0; k < m->nparams; k++) {
        const NnrtParam *p = &m->params[k];
        char dims[64];
        nnrt_format_dims(dims, sizeof dims, p->rank, p->dim);
        if (p->frozen) {
            printf("%-20s %-14s %9lld %12s %12s  frozen\n", p->name, dims, (long long)p->size,
                   "-", "-");
            continue;
        }
        double maxabs = 0, maxrel = 0;
        int ok = 1;
        /* a large parameter: a sample of its entries, unless --print shows them all */
        int64_t n = p->size, *pick = NULL;
        int sampled = n > r->entries && !(r->print && check_print_wanted(r->print, p->name));
        if (sampled) {
            n = r->entries;
            if (!(pick = check_sample(p->size, n, r->cfg.seed ^ (uint64_t)k))) {
                free(ana);
                free(numeric);
                nnrt_data_free(&d);
                return fail("out of memory");
            }
            nsampled++;
        }
        for (int64_t t = 0; t < n; t++) {
            int64_t i = pick ? pick[t] : t;
            nnrt_real *w = &r->params[p->offset + i], saved = *w;
            Eval fp, fm;
            *w = (nnrt_real)(saved + h);
            double up = *w;
            evaluate(r, &d, 0, &fp);
            *w = (nnrt_real)(saved - h);
            double down = *w;
            evaluate(r, &d, 0, &fm);
            *w = saved;
            /* Divide by the step actually taken (p +- h rounded to nnrt_real). */
            double num = (fp.loss - fm.loss) / (up - down);
            double a = ana[p->offset + i];
            numeric[p->offset + i] = num;
            double abserr = fabs(a - num), sum = fabs(a) + fabs(num);
            if (!(abserr <= tol * (sum > 1 ? sum : 1)))
                ok = 0;
            if (abserr > maxabs || isnan(abserr))
                maxabs = abserr;
            if (sum > 1e-8) {
                double rel = abserr / (sum > 1e-12 ? sum : 1e-12);
                if (rel > maxrel || isnan(rel))
                    maxrel = rel;
            }
        }
        free(pick);
        nchecked++;
        nfail += !ok;
        printf("%-20s %-14s %*lld%s %12.3e %12.3e  %s\n", p->name, dims, sampled ? 8 : 9,
               (long long)n, sampled ? "*" : "", maxabs, maxrel, ok ? "PASS" : "FAIL");
        fflush(stdout);   /* a row as soon as it is known: large models take a while */
    }
    nnrt_set_held(0);
    if (nsampled)
        printf("\n* %lld of the parameter's entries, chosen at random (--entries N sets how "
               "many, --entries all checks every one)\n", (long long)r->entries);
    if (r->print) {
        for (int k = 0; k < m->nparams; k++)
            if (!m->params[k].frozen && check_print_wanted(r->print, m->params[k].name))
                print_side_by_side(&m->params[k], ana + m->params[k].offset,
                                   numeric + m->params[k].offset);
    }
    if (nfail)
        printf("\nFAIL: %d of %d parameters\n", nfail, nchecked);
    else
        printf("\nPASS: all %d parameters\n", nchecked);
    free(ana);
    free(numeric);
    nnrt_data_free(&d);
    return nfail ? 1 : 0;
}

/* ---- predict: the model's values for every sample of a data set ---- */

/* One array of predict's output: a value of the model, [N, shape...]. */
typedef struct Wanted {
    char name[256];
    int slot;                 /* a data slot (an input or target), -1: the prediction,
                               * -3 - k: the model's named value k (NnrtModel.values) */
    int rank;
    int64_t dim[NNRT_MAXRANK + 1];   /* [N, the value's shape] */
    int64_t size;             /* values per sample */
    nnrt_real *buf;           /* N x size */
} Wanted;

static const char *prediction_name(const NnrtModel *m)
{
    return m->out_name ? m->out_name : "prediction";
}

/* The names predict can write, for messages. */
static void predict_names(const NnrtModel *m, char *buf, size_t len)
{
    snprintf(buf, len, "%s", m->out_slot >= 0 && m->output ? prediction_name(m) : "");
    for (int s = 0; s < m->nslots; s++) {
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%s%s", used ? ", " : "", m->slots[s].name);
    }
    for (int k = 0; k < m->nvalues; k++) {
        size_t used = strlen(buf);
        if (!(m->out_name && strcmp(m->values[k].name, m->out_name) == 0))
            snprintf(buf + used, len - used, "%s%s", used ? ", " : "", m->values[k].name);
    }
}

/* Fills want[nwant] for the name (len bytes at s), the value's shape and
 * its buffer for n samples; returns 0, else an exit status. */
static int predict_want(const Run *r, Wanted *want, int nwant, const char *s, int len, int64_t n)
{
    const NnrtModel *m = r->m;
    Wanted *w = &want[nwant];
    char names[1200];
    memset(w, 0, sizeof *w);
    snprintf(w->name, sizeof w->name, "%.*s", len, s);
    w->slot = -2;
    if (m->out_slot >= 0 && m->output && strcmp(w->name, prediction_name(m)) == 0)
        w->slot = -1;
    for (int k = 0; k < m->nslots && w->slot == -2; k++)
        if (strcmp(w->name, m->slots[k].name) == 0)
            w->slot = k;
    for (int k = 0; k < m->nvalues && w->slot == -2; k++)
        if (strcmp(w->name, m->values[k].name) == 0)
            w->slot = -3 - k;
    for (int k = 0; k < nwant; k++)
        if (strcmp(want[k].name, w->name) == 0)
            return fail("--outputs: '%s' is named twice", w->name);
    if (w->slot == -2) {
        predict_names(m, names, sizeof names);
        return fail("--outputs: the model has no value '%s' that predict can write; it can "
                    "write %s", w->name, names);
    }
    /* the prediction has its target's shape (a regression, a reconstruction),
     * or is K logits of a class target */
    const NnrtSlot *sl = &m->slots[w->slot >= 0 ? w->slot : m->out_slot >= 0 ? m->out_slot : 0];
    w->dim[0] = n;
    if (w->slot <= -3) {
        const NnrtValue *v = &m->values[-3 - w->slot];
        w->rank = v->rank + 1;
        for (int d = 0; d < v->rank; d++)
            w->dim[d + 1] = v->dim[d];
        w->size = v->size;
    } else if (w->slot >= 0 || sl->size == m->out_size) {
        w->rank = sl->rank + 1;
        for (int d = 0; d < sl->rank; d++)
            w->dim[d + 1] = sl->dim[d];
        w->size = sl->size;
    } else {
        w->rank = 2;
        w->dim[1] = w->size = m->out_size;
    }
    if (!(w->buf = malloc((size_t)(n > 0 ? n : 1) * (size_t)w->size * sizeof(nnrt_real))))
        return fail("out of memory for %lld values of '%s'", (long long)(n * w->size), w->name);
    return 0;
}

static int cmd_predict(Run *r)
{
    const NnrtModel *m = r->m;
    NnrtData d = { 0 };
    NnrtErr e;
    Wanted *want = NULL;
    int nwant = 0, rc = 0;
    if (!r->out) {
        fail("predict needs --out OUT.npz");
        return 2;
    }
    const char *list = r->outputs;
    if (!list && (m->out_slot < 0 || !m->output)) {
        char names[1200];
        predict_names(m, names, sizeof names);
        return fail("predict: the model has no prediction (a loss comparing a value with a "
                    "target, docs/trainer.md); name the values to write with --outputs (%s)",
                    names);
    }
    if (!list)
        list = prediction_name(m);
    if (nnrt_output_check(r->out, &e) != 0)
        return fail_err(&e);
    rc = load_source_said(r, &d, &r->cfg.data, "data", 0);
    for (const char *s = list; rc == 0 && *s;) {
        const char *comma = strchr(s, ',');
        int len = comma ? (int)(comma - s) : (int)strlen(s);
        Wanted *grown = realloc(want, (size_t)(nwant + 1) * sizeof *want);
        if (!grown) {
            rc = fail("out of memory");
            break;
        }
        want = grown;
        if ((rc = predict_want(r, want, nwant, s, len, d.n)) == 0)
            r->keep |= want[nwant++].slot <= -3;
        s += len + (comma != NULL);
    }
    if (rc == 0)
        rc = setup_params(r, r->params_file);
    if (rc == 0)
        rc = setup_work(r, d.n, 0);
    if (rc == 0 && !r->params_file)
        note(r, "predict: at the initial parameters (no --params)");
    if (rc == 0 && !r->data_flag)
        note(r, "predict: on the train block's data, %s (no --data)", d.name);
    if (rc == 0) {
        nnrt_set_ftz(!r->no_ftz);
        for (int64_t i0 = 0; i0 < d.n; i0 += r->cap) {
            int nb = (int)(d.n - i0 < r->cap ? d.n - i0 : r->cap);
            point_at(r, &d, i0);
            draw_pass(r, NULL, i0, nb, r->mode_train ? NNRT_PASS_TRAIN : NNRT_PASS_EVAL);
            m->forward(r->work, r->params, nb, r->ptr, r->loss);
            for (int k = 0; k < nwant; k++) {
                Wanted *w = &want[k];
                nnrt_real *dst = w->buf + i0 * w->size;
                if (w->slot <= -3)
                    m->value(r->work, -3 - w->slot, nb, dst);
                if (w->slot <= -3 && !m->values[-3 - w->slot].batched)   /* one for all */
                    for (int b = 1; b < nb; b++)
                        memcpy(dst + (int64_t)b * w->size, dst,
                               (size_t)w->size * sizeof(nnrt_real));
                else if (w->slot > -3)
                    memcpy(dst, w->slot >= 0 ? r->ptr[w->slot] : m->output(r->work),
                           (size_t)nb * (size_t)w->size * sizeof(nnrt_real));
            }
        }
        char descr[8];
        NnrtNpzWriter *w;
        nnrt_native_descr(descr, sizeof descr, 'f', (int)sizeof(nnrt_real));
        if (nnrt_mpi_rank() > 0) {
            /* under MPI, rank 0 writes the file */
        } else if (nnrt_npz_create(&w, r->out, &e) != 0) {
            rc = fail_err(&e);
        } else {
            for (int k = 0; k < nwant && rc == 0; k++)
                if (nnrt_npz_add(w, want[k].name, descr, 0, want[k].rank, want[k].dim,
                                 want[k].buf, &e) != 0)
                    rc = fail_err(&e);
            if (rc != 0)
                nnrt_npz_abandon(w);
            else if (nnrt_npz_finish(w, &e) != 0)
                rc = fail_err(&e);
        }
    }
    for (int k = 0; k < nwant; k++)
        free(want[k].buf);
    free(want);
    nnrt_data_free(&d);
    return rc;
}

/* ---- entry point ---- */

int nnrt_main(const NnrtModel *model, int argc, char **argv)
{
    Run r;
    memset(&r, 0, sizeof r);
    r.sample = -1;
    r.entries = CHECK_ENTRIES;
    r.ready = -1;
    r.m = model;
    r.prog = argc > 0 && argv[0] ? argv[0] : model->name;
    nnrt_config_default(&r.cfg);
    if (model->dtype && strcmp(model->dtype, NNRT_DTYPE_NAME) != 0)
        return fail("%s was compiled for %s but linked with the %s runtime", r.prog, model->dtype,
                    NNRT_DTYPE_NAME);
    if (apply_model_settings(&r) != 0)
        return 1;
    const char *cmd = argc > 1 ? argv[1] : NULL;
    if (!cmd) {
        usage(&r, stderr);
        return 2;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(&r, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("%s: model %s, nnc %s, runtime %s (%s)\n", r.prog, model->name,
               model->nnc_version ? model->nnc_version : "?", NNRT_VERSION, NNRT_DTYPE_NAME);
        return 0;
    }
    int ci = -1;
    for (int i = 0; i < NCOMMANDS; i++)
        if (strcmp(cmd, commands[i]) == 0)
            ci = i;
    if (ci < 0) {
        const char *c = nnrt_closest(cmd, commands, NCOMMANDS);
        if (cmd[0] == '-')
            fail("expected a command (train, init, grad, eval, check, predict) before '%s'", cmd);
        else if (c)
            fail("unknown command '%s' (did you mean '%s'?); commands: train, init, grad, eval, "
                 "check, predict", cmd, c);
        else
            fail("unknown command '%s'; commands: train, init, grad, eval, check, predict", cmd);
        return 2;
    }
    r.cmd = cmd;
    r.argc = argc;
    r.argv = argv;
    int rc = resume_settings(&r, argc, argv);
    if (rc < 0)
        rc = parse_flags(&r, argc, argv);
    if (rc >= 0)
        return rc;
    if (r.resume) {
        if (r.init)
            return fail("--resume continues from the run's checkpoint; it cannot take --init");
        snprintf(r.cfg.log, sizeof r.cfg.log, "%s", r.resume);
    }
    /* under mpirun: one rank of a data-parallel run; the others say nothing
     * on stdout, and only errors on stderr */
    NnrtErr e;
    if (nnrt_mpi_start(&e) != 0)
        return fail_err(&e);
    if (nnrt_mpi_rank() > 0) {
        r.quiet = 1;
        if (!freopen("/dev/null", "w", stdout))
            return nnrt_mpi_end(fail("cannot open /dev/null: %s", strerror(errno)));
    }
    if (ci == 0)
        r.mode_train = 1;   /* train's steps; its evaluations in eval mode */
    switch (ci) {
    case 0: rc = cmd_train(&r); break;
    case 1: rc = cmd_init(&r); break;
    case 2: rc = cmd_grad(&r); break;
    case 3: rc = cmd_eval(&r); break;
    case 4: rc = cmd_check(&r); break;
    default: rc = cmd_predict(&r); break;
    }
    run_free(&r);
    fflush(stdout);
    /* Ctrl-C stops every rank at the same step (stop_requested): they
     * leave MPI together, while any other failure ends the job */
    return rc == EXIT_INTERRUPTED ? nnrt_mpi_end(0), rc : nnrt_mpi_end(rc);
}
